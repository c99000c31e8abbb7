// Shared by the UI checks (test/ui/*.ui.ts): what the driver (scripts/test-vscode.mjs) hands
// each check, and answering one step of a quick input. Not a check itself (no .ui. in the name).
import type { Page } from 'playwright-core';

/** The helpers scripts/test-vscode.mjs passes to a UI check. */
export interface UiContext {
  page: Page;
  openActivity(title: string): Promise<void>;
  runCommand(title: string): Promise<void>;
  setUserSettings(values: Record<string, unknown>): Promise<void>;
  screenshot(name: string): Promise<string>;
  userSettingsFile: string;
  workspace: string;
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
