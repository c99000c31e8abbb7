// UI check (real workbench, Playwright): a real 3-member etcd cluster configured in the user
// settings shows in the Clusters view with its summary; expanding it shows its members with
// their roles; a right-click on the cluster and on a member shows their context menus.
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startCluster } from '../support/etcdRig';

export const title = 'a real cluster shows its members in the tree, and its context menus';

interface Ctx {
  page: Page;
  openActivity(title: string): Promise<void>;
  setUserSettings(values: Record<string, unknown>): Promise<void>;
  screenshot(name: string): Promise<string>;
}

async function menuEntries(page: Page): Promise<string[]> {
  const menu = page.locator('.context-view .monaco-menu');
  await menu.first().waitFor({ state: 'visible', timeout: 10_000 });
  return (await page.locator('.context-view .action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
}

export default async function ({ page, openActivity, setUserSettings, screenshot }: Ctx): Promise<void> {
  const cluster = await startCluster({ members: 3, name: 'ui' });
  const names = cluster.members.map((m) => m.name);
  const sidebar = page.locator('.sidebar').first();
  await setUserSettings({ 'etcdBackup.clusters': [{ name: 'ui-members', endpoints: cluster.endpoints }], 'etcdBackup.refreshIntervalSeconds': 0 });
  try {
    await openActivity('etcd Backup & Restore');
    const clusterRow = sidebar.locator('.monaco-list-row', { hasText: 'ui-members' }).first();
    await clusterRow.waitFor({ state: 'visible', timeout: 30_000 });
    await sidebar.locator('.monaco-list-row', { hasText: '3/3 healthy' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await clusterRow.click();
    for (const n of names) {
      await sidebar.locator('.monaco-list-row', { hasText: n }).first().waitFor({ state: 'visible', timeout: 20_000 });
    }
    const leaderRows = await sidebar.locator('.monaco-list-row', { hasText: 'leader · healthy ·' }).count();
    assert.equal(leaderRows, 1, 'exactly one member row says "leader · healthy"');
    assert.equal(await sidebar.locator('.monaco-list-row', { hasText: 'follower · healthy' }).count(), 2);
    await sidebar.locator('.monaco-list-row', { hasText: 'Snapshots' }).first().waitFor({ state: 'visible' });
    await page.mouse.move(900, 500);
    await screenshot('cluster-members');

    await clusterRow.click({ button: 'right' });
    const clusterMenu = await menuEntries(page);
    for (const e of ['Endpoint Health', 'Endpoint Status', 'Copy etcdctl Command', 'Add Member…', 'Edit Cluster…', 'Refresh', 'Remove Cluster…']) {
      assert.ok(clusterMenu.includes(e), `cluster context menu lacks "${e}": ${clusterMenu.join(', ')}`);
    }
    assert.ok(!clusterMenu.includes('Promote Learner'), 'member entries do not show on a cluster');
    await page.keyboard.press('Escape');

    const memberRow = sidebar.locator('.monaco-list-row', { hasText: 'follower · healthy' }).first();
    await memberRow.click({ button: 'right' });
    const memberMenu = await menuEntries(page);
    for (const e of ['Remove Member…', 'Copy Member ID', 'Copy Member URLs']) {
      assert.ok(memberMenu.includes(e), `member context menu lacks "${e}": ${memberMenu.join(', ')}`);
    }
    assert.ok(!memberMenu.includes('Promote Learner'), 'Promote Learner shows only on learners');
    assert.ok(!memberMenu.includes('Add Member…'), 'cluster entries do not show on a member');
    await page.keyboard.press('Escape');
  } finally {
    await page.keyboard.press('Escape');
    await setUserSettings({ 'etcdBackup.clusters': [] });
    // Let the reloaded workbench finish connecting to its extension host (the view shows its
    // welcome content again) before the next check reloads it: a reload during that start-up
    // leaves code-server's workbench without the extension.
    await openActivity('etcd Backup & Restore');
    await page.locator('.sidebar .welcome-view-content', { hasText: 'No etcd cluster is configured yet.' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await cluster.stop();
  }
}
