// UI check: "Welcome: Open Walkthrough..." lists "Back up your first etcd cluster"; it opens with
// its four steps and each step's markdown. Its screenshot is the README's
// (media/screenshots/walkthrough.png, refreshed with --update-screenshots).
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const title = 'the walkthrough "Back up your first etcd cluster" opens with its steps';

export default async function ({ page, assert, runCommand, screenshot, mode, root, updateScreenshots }) {
  await runCommand('Welcome: Open Walkthrough...');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Back up your first etcd cluster' }).first().click({ timeout: 30_000 });
  const editor = page.locator('.gettingStartedContainer').first();
  await editor.locator('.step-title', { hasText: 'Import your cluster from etcd.yaml' }).first().waitFor({ state: 'visible', timeout: 30_000 });
  const steps = (await editor.locator('.getting-started-step .step-title').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  for (const s of ['Import your cluster from etcd.yaml', 'Take a snapshot and verify it', 'Schedule backups', 'Try a trial restore']) {
    assert.ok(steps.includes(s), `walkthrough steps: ${steps.join(' | ')}`);
  }
  await page.mouse.move(5, 5);
  await page.waitForTimeout(1500); // the step's markdown renders in a webview
  const box = await page.locator('.part.editor').first().boundingBox();
  const file = await screenshot('walkthrough', box ? { clip: box } : {});
  if (mode === 'vscode' && updateScreenshots) {
    mkdirSync(join(root, 'media', 'screenshots'), { recursive: true });
    copyFileSync(file, join(root, 'media', 'screenshots', 'walkthrough.png'));
  }
  await runCommand('View: Close All Editors');
}
