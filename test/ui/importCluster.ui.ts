// UI check (real workbench, Playwright), against a real one-member TLS etcd cluster whose PKI is
// laid out as kubeadm's, with a static pod manifest for it in the workspace:
// - from the palette, with the manifest in the active editor, "Import Cluster from etcd File…"
//   offers that file first and pre-fills the member's --name; Escape saves nothing;
// - from the Explorer's context menu it walks its three steps, tests the connection and saves the
//   cluster with kubeadm's healthcheck-client pair; the cluster shows in the Clusters view; it is
//   removed again through its context menu (the welcome content comes back for the next check).
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { answer, UiContext } from './uiHelpers';
import { startCluster, testPki } from '../support/etcdRig';
import { kubeadmManifest } from '../support/manifests';

export const title = 'Import Cluster from etcd File from the palette (active editor) and the Explorer context menu; the imported cluster in the tree';



async function clickMenuEntry(page: Page, label: string): Promise<string[]> {
  await page.locator('.context-view .monaco-menu').first().waitFor({ state: 'visible', timeout: 10_000 });
  const entries = (await page.locator('.context-view .action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  await page.waitForTimeout(300); // the menu takes clicks once its opening animation is done
  await page.locator('.context-view .action-label', { hasText: label }).first().click();
  return entries;
}

function savedClusters(file: string): unknown[] {
  return (JSON.parse(readFileSync(file, 'utf8'))['etcdBackup.clusters'] ?? []) as unknown[];
}

export default async function ({ page, openActivity, runCommand, screenshot, setUserSettings, userSettingsFile, workspace }: UiContext): Promise<void> {
  const cluster = await startCluster({ members: 1, tls: true, name: 'uiimp' });
  const pki = await testPki();
  const [m] = cluster.members;
  const file = join(workspace, 'ui-etcd.yaml');
  writeFileSync(file, kubeadmManifest({ name: m.name, clientURL: m.clientURL, pkiDir: pki.dir, dataHostPath: '/var/lib/etcd' }));
  const sidebar = page.locator('.sidebar').first();
  let removed = false;
  try {
    await openActivity('Explorer');
    const row = sidebar.locator('.monaco-list-row', { hasText: 'ui-etcd.yaml' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });

    // From the palette with the file in the active editor: it is offered first, and the name
    // step is pre-filled with the member's --name. Escape there saves nothing.
    await row.click();
    await page.locator('.tabs-container .tab', { hasText: 'ui-etcd.yaml' }).first().waitFor({ state: 'visible', timeout: 20_000 });
    await runCommand('etcd: Import Cluster from etcd File…');
    const widget = page.locator('.quick-input-widget');
    await widget.locator('.quick-input-list .monaco-list-row', { hasText: 'ui-etcd.yaml' }).first().waitFor({ state: 'visible', timeout: 20_000 });
    await page.waitForTimeout(300);
    await page.keyboard.press('Enter');
    await widget.locator('.quick-input-title', { hasText: '(1/3)' }).waitFor({ state: 'visible', timeout: 20_000 });
    assert.equal(await widget.locator('input.input').first().inputValue(), m.name);
    await page.keyboard.press('Escape');
    await page.waitForTimeout(500);
    assert.deepEqual(savedClusters(userSettingsFile), []);

    // From the Explorer's context menu.
    await row.click({ button: 'right' });
    const entries = await clickMenuEntry(page, 'Import Cluster from etcd File…');
    assert.ok(entries.includes('Import Cluster from etcd File…'), entries.join(', '));

    await answer(page, '(1/3)', 'ui-imported');
    await answer(page, '(2/3)', m.clientURL);
    await answer(page, '(3/3)', ''); // no snapshot folder
    await page.locator('.notifications-toasts', { hasText: 'Connected to "ui-imported"' }).first().waitFor({ state: 'visible', timeout: 20_000 });
    assert.deepEqual(savedClusters(userSettingsFile), [
      {
        name: 'ui-imported',
        endpoints: [m.clientURL],
        tls: { caFile: join(pki.dir, 'ca.crt'), certFile: join(pki.dir, 'healthcheck-client.crt'), keyFile: join(pki.dir, 'healthcheck-client.key') },
      },
    ]);

    await openActivity('etcd Backup & Restore');
    const clusterRow = sidebar.locator('.monaco-list-row', { hasText: 'ui-imported' }).first();
    await clusterRow.waitFor({ state: 'visible', timeout: 30_000 });
    await sidebar.locator('.monaco-list-row', { hasText: '1/1 healthy' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await page.mouse.move(900, 500);
    await screenshot('imported-cluster');

    await clusterRow.click({ button: 'right' });
    await clickMenuEntry(page, 'Remove Cluster…');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    await dialog.locator('.monaco-button', { hasText: /^Remove$/ }).first().click();
    await sidebar.locator('.welcome-view-content', { hasText: 'No etcd cluster is configured yet.' }).waitFor({ state: 'visible', timeout: 20_000 });
    assert.deepEqual(savedClusters(userSettingsFile), []);
    removed = true;
  } finally {
    await page.keyboard.press('Escape');
    if (!removed) await setUserSettings({ 'etcdBackup.clusters': [] });
    rmSync(file, { force: true });
    await cluster.stop();
  }
}
