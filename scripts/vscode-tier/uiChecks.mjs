// The UI checks of test/ui/*.ui.{mjs,ts}, run with Playwright in the real workbench. Each gets
// the context of test/ui/uiHelpers.ts (its type and implementation live there together).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { printResults } from './results.mjs';

/** A TypeScript module of the repository, through tsx (a CommonJS .ts arrives wrapped in `default`). */
export async function importTs(file) {
  const { tsImport } = await import('tsx/esm/api');
  const mod = await tsImport(pathToFileURL(file).href, import.meta.url);
  return typeof mod.default !== 'function' && mod.default && typeof mod.default === 'object' && !mod.checks ? mod.default : mod;
}

async function loadChecks(root) {
  const dir = join(root, 'test', 'ui');
  if (!existsSync(dir)) return [];
  const checks = [];
  for (const f of readdirSync(dir).filter((n) => /\.ui\.(mjs|ts)$/.test(n)).sort()) {
    const file = join(dir, f);
    const mod = f.endsWith('.ts') ? await importTs(file) : await import(pathToFileURL(file).href);
    const entries = [];
    if (typeof mod.default === 'function') entries.push([mod.title ?? f.replace(/\.ui\.(mjs|ts)$/, ''), mod.default]);
    if (mod.checks && typeof mod.checks === 'object') entries.push(...Object.entries(mod.checks));
    if (entries.length === 0) throw new Error(`${file} exports no UI check: export default async function (ctx) {...} or export const checks = { title: fn }`);
    for (const [title, fn] of entries) checks.push({ file: f, title, fn, vsix: mod.vsix === true });
  }
  return checks;
}

/**
 * Run the UI checks (only those exporting `vsix = true` in VSIX mode; `grep` filters on
 * "UI <file> <title>") in one page of the workbench at `run.url`.
 */
export async function runUiChecks({ root, newPage, failureArtifacts, results, vsix, grep, run }) {
  let checks = await loadChecks(root);
  if (vsix) checks = checks.filter((c) => c.vsix);
  if (grep) checks = checks.filter((c) => new RegExp(grep).test(`UI ${c.file} ${c.title}`));
  if (checks.length === 0) return;
  const { createUiContext } = await importTs(join(root, 'test', 'ui', 'uiHelpers.ts'));
  const page = await newPage('ui');
  await page.goto(run.url);
  await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: 60_000 });
  const tests = [];
  for (const c of checks) {
    const t0 = Date.now();
    const titlePath = ['UI', c.file, c.title];
    try {
      await c.fn(createUiContext(page, run));
      tests.push(results.record('ui', titlePath, 'passed', Date.now() - t0));
    } catch (err) {
      tests.push(results.record('ui', titlePath, 'failed', Date.now() - t0, err.stack ?? String(err)));
      await failureArtifacts(page, `ui-failure-${c.file.replace(/\.ui\.(mjs|ts)$/, '')}-${tests.length}`);
    }
    await page.keyboard.press('Escape').catch(() => undefined);
  }
  printResults('UI checks in the workbench (Playwright)', tests);
  await page.context().close().catch(() => undefined);
}
