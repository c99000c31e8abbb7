// UI check (real workbench, Playwright), against a real 3-member etcd cluster:
// - "etcd: Add Cluster…" from the command palette walks its multi-step input, tests the
//   connection, asks where to save, and the cluster shows in the Clusters view with its summary;
// - expanding it shows its members with their roles;
// - a right-click on the cluster and on a member shows their context menus;
// - "Remove Cluster…" from the cluster's context menu asks (modal) and brings back the welcome.
// Everything goes through the UI, so the workbench is never reloaded (a reload right after
// another leaves code-server's workbench without the extension now and then).
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { answer, UiContext } from './uiHelpers';
import { startCluster } from '../support/etcdRig';

export const title = 'Add Cluster from the palette; the cluster and its members in the tree; context menus; Remove Cluster';



async function menuEntries(page: Page): Promise<string[]> {
  await page.locator('.context-view .monaco-menu').first().waitFor({ state: 'visible', timeout: 10_000 });
  return (await page.locator('.context-view .action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
}

function savedClusters(file: string): { name: string; endpoints: string[] }[] {
  return (JSON.parse(readFileSync(file, 'utf8'))['etcdBackup.clusters'] ?? []) as { name: string; endpoints: string[] }[];
}

/** The side bar alone, saved as test-results/<mode>/<name>.png and, with --update-screenshots, as the README's media/screenshots/<name>.png. */
async function sidebarShot(ctx: UiContext, name: string): Promise<void> {
  const box = await ctx.page.locator('.part.sidebar').first().boundingBox();
  // The rows, not the empty space under them.
  const file = await ctx.screenshot(name, box ? { clip: { ...box, height: Math.min(box.height, 240) } } : {});
  if (ctx.mode === 'vscode' && ctx.updateScreenshots) {
    mkdirSync(join(ctx.root, 'media', 'screenshots'), { recursive: true });
    copyFileSync(file, join(ctx.root, 'media', 'screenshots', `${name}.png`));
  }
}

export default async function (ctx: UiContext): Promise<void> {
  const { page, openActivity, runCommand, setUserSettings, screenshot, userSettingsFile } = ctx;
  const cluster = await startCluster({ members: 3, name: 'ui' });
  const sidebar = page.locator('.sidebar').first();
  let removed = false;
  try {
    await openActivity('etcd Backup & Restore');
    await runCommand('etcd: Add Cluster…');
    await answer(page, '(1/6)', 'ui-members');
    await answer(page, '(2/6)', cluster.endpoints.join(', '));
    await answer(page, '(5/6)', ''); // no user
    await answer(page, '(6/6)', 'No folder');
    // The connection test passed: it asks where to save (a workspace is open).
    await answer(page, 'save where?', 'User settings');
    await page.locator('.notifications-toasts', { hasText: 'Connected to "ui-members"' }).first().waitFor({ state: 'visible', timeout: 20_000 });
    assert.deepEqual(savedClusters(userSettingsFile), [{ name: 'ui-members', endpoints: cluster.endpoints }]);

    const clusterRow = sidebar.locator('.monaco-list-row', { hasText: 'ui-members' }).first();
    await clusterRow.waitFor({ state: 'visible', timeout: 30_000 });
    await sidebar.locator('.monaco-list-row', { hasText: '3/3 healthy' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await clusterRow.click();
    for (const m of cluster.members) {
      await sidebar.locator('.monaco-list-row', { hasText: `${m.name} ` }).first().waitFor({ state: 'visible', timeout: 20_000 });
    }
    assert.equal(await sidebar.locator('.monaco-list-row', { hasText: 'leader · healthy ·' }).count(), 1, 'exactly one member row says "leader · healthy"');
    assert.equal(await sidebar.locator('.monaco-list-row', { hasText: 'follower · healthy ·' }).count(), 2);
    await sidebar.locator('.monaco-list-row', { hasText: 'Snapshots' }).first().waitFor({ state: 'visible' });
    await page.mouse.move(900, 500);
    await screenshot('cluster-members');
    await sidebarShot(ctx, 'cluster-tree');

    await clusterRow.click({ button: 'right' });
    const clusterMenu = await menuEntries(page);
    for (const e of ['Endpoint Health', 'Endpoint Status', 'Copy etcdctl Command', 'Add Member…', 'Compact and Defragment…', 'Edit Cluster…', 'Refresh', 'Remove Cluster…']) {
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
    assert.ok(!memberMenu.includes('Compact and Defragment…'), 'Compact and Defragment… is a cluster entry');
    await page.keyboard.press('Escape');

    // Two of three members down: the row names the lost quorum (the README's screenshot), then they come back.
    const victims = cluster.members.slice(0, 2);
    for (const v of victims) await v.kill();
    try {
      await runCommand('etcd: Refresh');
      await sidebar.locator('.monaco-list-row', { hasText: 'quorum lost (1 of 3 needed 2)' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await page.mouse.move(900, 500);
      await page.waitForTimeout(300);
      await sidebarShot(ctx, 'quorum-lost');
    } finally {
      for (const v of victims) await v.start();
      await cluster.waitHealthy();
    }
    await runCommand('etcd: Refresh');
    await sidebar.locator('.monaco-list-row', { hasText: '3/3 healthy' }).first().waitFor({ state: 'visible', timeout: 30_000 });

    // Remove Cluster… from the context menu: a modal asks; the welcome content comes back.
    await clusterRow.click({ button: 'right' });
    await menuEntries(page);
    await page.waitForTimeout(300); // the menu takes clicks once its opening animation is done
    await page.locator('.context-view .action-label', { hasText: 'Remove Cluster…' }).first().click();
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await dialog.innerText(), /Remove cluster "ui-members" from the settings\? etcd itself is not touched\./);
    await dialog.locator('.monaco-button', { hasText: /^Remove$/ }).first().click();
    await sidebar.locator('.welcome-view-content', { hasText: 'No etcd cluster is configured yet.' }).waitFor({ state: 'visible', timeout: 20_000 });
    assert.deepEqual(savedClusters(userSettingsFile), []);
    removed = true;
  } finally {
    await page.keyboard.press('Escape');
    if (!removed) {
      await setUserSettings({ 'etcdBackup.clusters': [] });
    }
    await cluster.stop();
  }
}
