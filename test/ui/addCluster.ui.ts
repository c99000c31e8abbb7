// UI check (real workbench, Playwright): "etcd: Add Cluster…" from the command palette walks
// its multi-step input (name, endpoints, user, snapshot folder), tests the connection to a real
// etcd cluster, asks where to save, and the new cluster shows in the Clusters view.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { startCluster } from '../support/etcdRig';

export const title = 'Add Cluster from the palette walks its steps, tests the connection and saves';

interface Ctx {
  page: Page;
  openActivity(title: string): Promise<void>;
  runCommand(title: string): Promise<void>;
  setUserSettings(values: Record<string, unknown>): Promise<void>;
  screenshot(name: string): Promise<string>;
  userSettingsFile: string;
}

/** Wait for the quick input to show this step, then type and accept. */
async function answer(page: Page, step: string, text: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: step }).waitFor({ state: 'visible', timeout: 20_000 });
  const input = widget.locator('input.input').first();
  await input.fill(text);
  // Let validation and filtering catch up before accepting.
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

export default async function ({ page, openActivity, runCommand, setUserSettings, screenshot, userSettingsFile }: Ctx): Promise<void> {
  const cluster = await startCluster({ members: 3, name: 'uiadd' });
  await setUserSettings({ 'etcdBackup.clusters': [], 'etcdBackup.refreshIntervalSeconds': 0 });
  try {
    await openActivity('etcd Backup & Restore');
    await runCommand('etcd: Add Cluster…');
    await answer(page, '(1/6)', 'ui-added');
    await answer(page, '(2/6)', cluster.endpoints.join(', '));
    await answer(page, '(5/6)', ''); // no user
    await answer(page, '(6/6)', 'No folder');
    // The connection test passed: it asks where to save (a workspace is open).
    await answer(page, 'save where?', 'User settings');
    const sidebar = page.locator('.sidebar').first();
    await sidebar.locator('.monaco-list-row', { hasText: 'ui-added' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await sidebar.locator('.monaco-list-row', { hasText: '3/3 healthy' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    // The notification says it connected.
    await page.locator('.notifications-toasts', { hasText: 'Connected to "ui-added"' }).first().waitFor({ state: 'visible', timeout: 10_000 });
    await screenshot('add-cluster');
    const saved = JSON.parse(readFileSync(userSettingsFile, 'utf8'))['etcdBackup.clusters'] as { name: string; endpoints: string[] }[];
    assert.deepEqual(saved, [{ name: 'ui-added', endpoints: cluster.endpoints }]);
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
