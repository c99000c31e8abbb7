// UI check (run by scripts/test-vscode.mjs in the real workbench, through Playwright):
// the activity-bar item opens the Clusters view, which shows its welcome content when no
// cluster is configured. Also runs against the installed VSIX (`vsix = true`).
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

export const title = 'the activity-bar item opens the Clusters view with its welcome content';
export const vsix = true;

export default async function ({ page, assert, openActivity, screenshot, mode, root, updateScreenshots }) {
  await openActivity('etcd Backup & Restore');
  const sidebar = page.locator('.sidebar').first();
  // The side bar's title names the container and its one view; the welcome content comes
  // from package.json viewsWelcome.
  const heading = sidebar.locator('.composite.title').first();
  await heading.waitFor({ state: 'visible', timeout: 30_000 });
  assert.match(await heading.innerText(), /etcd Backup & Restore: Clusters/i);
  const welcome = sidebar.locator('.welcome-view-content', { hasText: 'No etcd cluster is configured yet.' });
  await welcome.waitFor({ state: 'visible', timeout: 60_000 });
  const buttons = await welcome.locator('.monaco-button').allInnerTexts();
  assert.ok(buttons.some((b) => b.includes('Add Cluster')), `welcome buttons: ${buttons.join(', ')}`);
  await page.mouse.move(900, 500); // no tooltip over the view in the screenshot
  await page.waitForTimeout(300);
  const file = await screenshot('welcome');
  if (mode === 'vscode' && updateScreenshots) {
    // npm run test:vscode -- --update-screenshots refreshes the image kept in media/.
    copyFileSync(file, join(root, 'media', 'screenshot-welcome.png'));
  }
}
