// What the VS Code tier's driver (scripts/test-vscode.mjs) hands every UI check, typed and
// implemented here together so the compiler checks one against the other; and answering one
// step of a quick input. Not a check itself (no .ui. in the name).
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { waitFor } from '../support/waitFor';

/** Where and how the checks run (set by the driver). */
export interface UiRun {
  /** `vscode` (extension under development) or `vsix` (the installed package). */
  mode: 'vscode' | 'vsix';
  /** The workspace folder the workbench opened (a temp copy of test/fixtures/workspace). */
  workspace: string;
  url: string;
  port: number;
  /** The repository. */
  root: string;
  /** test-results/<mode>: screenshots and logs. */
  artifacts: string;
  userSettingsFile: string;
  extensionsDir: string;
  extensionId: string;
  /** --update-screenshots: checks may refresh the README images in media/. */
  updateScreenshots: boolean;
}

/** The helpers a UI check gets: `export default async function (ctx: UiContext) {...}`. */
export interface UiContext extends UiRun {
  page: Page;
  assert: typeof assert;
  /** Show an activity-bar container by its title (clicks its icon unless it is already shown). */
  openActivity(title: string): Promise<void>;
  /** Run a command from the command palette by its title ("etcd: Refresh"). */
  runCommand(title: string): Promise<void>;
  /** Save a screenshot to test-results/<mode>/<name>.png; returns its path. */
  screenshot(name: string, options?: Parameters<Page['screenshot']>[0]): Promise<string>;
  /**
   * Merge settings into the user settings.json and reload the workbench: code-server's web
   * workbench does not notice outside writes to that file. Open your view again afterwards.
   * (Suites in the extension host use vscode.workspace.getConfiguration().update() instead.)
   */
  setUserSettings(values: Record<string, unknown>): Promise<void>;
}

async function openActivity(page: Page, title: string): Promise<void> {
  const sidebar = page.locator('.sidebar').first();
  const heading = sidebar.locator('.composite.title').first();
  const shown = async (): Promise<boolean> =>
    (await sidebar.isVisible()) && (await heading.innerText().catch(() => '')).toLowerCase().startsWith(title.toLowerCase());
  if (await shown()) return;
  const item = page.locator(`.activitybar [aria-label^="${title}"]`).first();
  // The development host loads the extension after the workbench paints: allow time.
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  // A click while a reloaded workbench is still restoring its layout can be undone by the
  // restore (or toggle the side bar shut): click again when it has not shown after a while.
  await waitFor(
    async () => {
      await item.click({ timeout: 10_000 }).catch(() => undefined);
      return waitFor(shown, 4000, 'the side bar', 200).catch(() => false);
    },
    30_000,
    `the side bar of "${title}" to show after clicks on its activity-bar item`,
    0,
  );
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().click({ timeout: 15_000 });
}

/** The context of one UI check. */
export function createUiContext(page: Page, run: UiRun): UiContext {
  return {
    ...run,
    page,
    assert,
    openActivity: (title) => openActivity(page, title),
    runCommand: (title) => runCommand(page, title),
    async screenshot(name, options = {}) {
      mkdirSync(run.artifacts, { recursive: true });
      const file = join(run.artifacts, `${name}.png`);
      await page.screenshot({ path: file, ...options });
      return file;
    },
    async setUserSettings(values) {
      const current = JSON.parse(readFileSync(run.userSettingsFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(run.userSettingsFile, `${JSON.stringify({ ...current, ...values }, null, 2)}\n`);
      await page.reload();
      await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: 60_000 });
    },
  };
}

/** Wait for the quick input to show this step, then type and accept. */
export async function answer(page: Page, step: string, text: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: step }).waitFor({ state: 'visible', timeout: 20_000 });
  await widget.locator('input.input').first().fill(text);
  // Let validation and filtering catch up before accepting.
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

/** Drag the side bar's right edge so that it is `width` pixels wide. */
export async function narrowSidebar(page: Page, width: number): Promise<void> {
  const box = await page.locator('.part.sidebar').first().boundingBox();
  if (!box) throw new Error('no side bar');
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width - 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 8 });
  await page.mouse.up();
}

/**
 * `etcdBackup.backupPlans` is machine-scoped: code-server's window is a remote one, which takes
 * machine settings from the server's Machine/settings.json, not from the user settings.
 */
export function setMachineSettings(userSettingsFile: string, values: Record<string, unknown>): void {
  const file = join(userSettingsFile, '..', '..', 'Machine', 'settings.json');
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(values, null, 2)}\n`);
}

/** The repository's built CLI (`dist/cli.js`), as an operator runs it: exit code and all output. */
export function cli(root: string, args: string[]): Promise<{ code: number; text: string }> {
  return new Promise((done) =>
    execFile(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    ),
  );
}

/** With --update-screenshots in the development run: copy a check's screenshots to media/screenshots/ (the README's images). */
export function keepScreenshots(ctx: Pick<UiRun, 'mode' | 'updateScreenshots' | 'root'>, shots: string[]): void {
  if (ctx.mode !== 'vscode' || !ctx.updateScreenshots) return;
  mkdirSync(join(ctx.root, 'media', 'screenshots'), { recursive: true });
  for (const s of shots) copyFileSync(s, join(ctx.root, 'media', 'screenshots', s.split('/').pop() as string));
}
