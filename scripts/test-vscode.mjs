#!/usr/bin/env node
// Runs the VS Code tier inside a real VS Code 1.100.3: code-server from npm (installed by
// scripts/setup-vscode-host.sh into .vscode-test/code-server) driven by Debian's Chromium
// through playwright-core. See ../shared/docs/real-vscode-tests.md and the README.
//
//   node scripts/test-vscode.mjs            extension under development + suites in test/vscode/suite,
//                                           then the UI checks in test/ui/*.ui.{mjs,ts}
//   node scripts/test-vscode.mjs --vsix     packages the VSIX, installs it, runs test/vscode/vsix
//                                           suites (no extension under development) and the UI
//                                           checks that export `vsix = true`
// Options: --grep <regexp> (suites and UI checks), --suites <dir> (run the *.test.ts of another
//          folder instead of test/vscode/suite or test/vscode/vsix), --no-ui, --no-build, --timeout <seconds>
//          (--update-screenshots lets UI checks refresh the README images in media/)
//          (per phase, default 150), --env KEY=VALUE (to the extension host; repeatable),
//          --setting key=<json> (user setting; repeatable). Env ETCD_BACKUP_VSCODE_SETTINGS
//          (a JSON object) adds user settings too.
//
// Prints spec-style lines and a last line "N passed, N failed"; exits non-zero on a failure,
// crash, timeout or missing results file. Artifacts (screenshots, browser console, code-server
// log) go to test-results/vscode/ (or test-results/vsix/).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as assert from 'node:assert/strict';
import { buildVscodeTests, root } from './build-vscode-tests.mjs';
import { codeServerBin, freePort, hostDir, launchBrowser as launchChromium, QUIET_SETTINGS, startCodeServer as startHost, stopCodeServer, workbenchUrl } from './vscode-host.mjs';

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const opt = { vsix: false, ui: true, build: true, updateScreenshots: false, grep: undefined, timeout: 150, env: {}, settings: {} };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => {
    if (i + 1 >= argv.length) {
      fail(`${a} needs a value`);
    }
    return argv[++i];
  };
  if (a === '--vsix') opt.vsix = true;
  else if (a === '--no-ui') opt.ui = false;
  else if (a === '--no-build') opt.build = false;
  else if (a === '--update-screenshots') opt.updateScreenshots = true;
  else if (a === '--grep') opt.grep = next();
  else if (a === '--suites') opt.suites = resolve(next());
  else if (a === '--timeout') opt.timeout = Number(next());
  else if (a === '--env') {
    const [k, ...v] = next().split('=');
    opt.env[k] = v.join('=');
  } else if (a === '--setting') {
    const [k, ...v] = next().split('=');
    try {
      opt.settings[k] = JSON.parse(v.join('='));
    } catch {
      opt.settings[k] = v.join('=');
    }
  } else fail(`Unknown option ${a}. Options: --vsix --no-ui --no-build --grep <re> --timeout <s> --env K=V --setting key=<json>`);
}
if (process.env.ETCD_BACKUP_VSCODE_SETTINGS) {
  Object.assign(opt.settings, JSON.parse(process.env.ETCD_BACKUP_VSCODE_SETTINGS));
}

function fail(msg) {
  console.error(msg);
  process.exit(2);
}

const mode = opt.vsix ? 'vsix' : 'vscode';
const EXTENSION_ID = 'etcd-backup.etcd-backup';
const artifacts = join(root, 'test-results', mode);
// The bundled suites of this run (inside the repository so that they find node_modules).
const outDir = join(root, 'out', 'test', 'runs', `${mode}-${process.pid}`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${mode} ${elapsed()}] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- results
/** Every result of this run: extension-host tests, VSIX content checks and UI checks. */
const results = [];
let crashed = [];

function printResults(group, tests) {
  console.log(`\n  ${group}`);
  let prev = [];
  for (const t of tests) {
    const suites = t.titlePath.slice(0, -1);
    let i = 0;
    while (i < suites.length && suites[i] === prev[i]) i++;
    for (; i < suites.length; i++) console.log(`${'  '.repeat(i + 2)}${suites[i]}`);
    prev = suites;
    const indent = '  '.repeat(suites.length + 2);
    const ms = t.durationMs >= 75 ? ` (${t.durationMs}ms)` : '';
    if (t.state === 'passed') {
      console.log(`${indent}✔ ${t.title}${ms}`);
    } else {
      console.log(`${indent}✖ ${t.title}${ms}`);
      for (const line of String(t.error ?? '').split('\n').slice(0, 30)) console.log(`${indent}    ${line}`);
    }
  }
}

function record(group, titlePath, state, durationMs, error) {
  const t = { group, title: titlePath[titlePath.length - 1], titlePath, state, durationMs, error };
  results.push(t);
  return t;
}

// ---------------------------------------------------------------- processes and cleanup
let codeServer;
let browser;
let tmpRoot;
let cleaning;

async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    if (browser) {
      await Promise.race([browser.close().catch(() => undefined), sleep(5000)]);
    }
    await stopCodeServer(codeServer);
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping code-server and Chromium`);
    cleanup().finally(() => process.exit(130));
  });
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  }
  return r;
}

// ---------------------------------------------------------------- VSIX helpers
/** Entry names of a zip file (the VSIX), read from its central directory. */
export function zipEntries(file) {
  const buf = readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

function packageVsix(dir) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const vsix = join(dir, `${pkg.name}-${pkg.version}.vsix`);
  log('packaging the VSIX (vsce package --no-dependencies; runs vscode:prepublish)');
  run(join(root, 'node_modules', '.bin', 'vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '--out', vsix]);
  return vsix;
}

function checkVsixContents(vsix) {
  const t0 = Date.now();
  const names = zipEntries(vsix);
  const checks = [
    ['carries dist/proto/rpc.proto where the bundled etcd3 loads it', () => assert.ok(names.includes('extension/dist/proto/rpc.proto'), names.join('\n'))],
    ['carries the hardware CRC-32C binding where the snapshot reader looks for it (dist/native/)', () => {
      const built = readdirSync(join(root, 'dist', 'native')).filter((n) => n.endsWith('.node'));
      assert.ok(built.length > 0, 'npm run build copied no @node-rs/crc32 binding into dist/native');
      for (const f of built) assert.ok(names.includes(`extension/dist/native/${f}`), `extension/dist/native/${f} missing`);
    }],
    ['carries dist/extension.js and dist/cli.js', () => {
      assert.ok(names.includes('extension/dist/extension.js'));
      assert.ok(names.includes('extension/dist/cli.js'));
    }],
    ['carries package.json, README.md, LICENSE and the icon', () => {
      // vsce stores LICENSE as extension/LICENSE.txt.
      for (const f of ['package.json', 'readme.md', 'license(\\.txt)?', 'media/etcd\\.svg']) {
        assert.ok(names.some((n) => new RegExp(`^extension/${f}$`, 'i').test(n)), `extension/${f} missing from: ${names.join(', ')}`);
      }
    }],
    ['ships no sources, tests, node_modules or source maps (allow-list .vscodeignore)', () => {
      const unwanted = names.filter((n) => /^extension\/(src|test|out|node_modules|scripts|\.vscode-test|test-results)\//.test(n) || n.endsWith('.map') || n.endsWith('.ts'));
      assert.deepStrictEqual(unwanted, []);
    }],
  ];
  const tests = checks.map(([title, fn]) => {
    try {
      fn();
      return record('vsix contents', ['VSIX contents', title], 'passed', 0);
    } catch (err) {
      return record('vsix contents', ['VSIX contents', title], 'failed', Date.now() - t0, err.message);
    }
  });
  printResults(`VSIX ${basename(vsix)} (${names.length} files)`, tests);
}

// ---------------------------------------------------------------- code-server
const extensionHostExits = [];
async function startCodeServer({ port, userDataDir, extensionsDir, workspace, env }) {
  const started = await startHost({
    port,
    userDataDir,
    extensionsDir,
    workspace,
    env,
    logDir: artifacts,
    // The extension host exiting before the suites wrote results is a crash.
    onLine: (line) => {
      if (/Extension Host Process exited with code: (\S+), signal: (\S+)/.test(line)) extensionHostExits.push(line.trim());
    },
  });
  codeServer = started.child;
  return started.logFile;
}

// ---------------------------------------------------------------- browser
const consoleLines = [];

async function launchBrowser() {
  browser = await launchChromium();
  return browser;
}

async function newPage(phase) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => consoleLines.push(`[${phase}] [${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[${phase}] [pageerror] ${e.stack ?? e.message}`));
  page.on('crash', () => consoleLines.push(`[${phase}] [crash] the page crashed`));
  return page;
}

async function failureArtifacts(page, name) {
  mkdirSync(artifacts, { recursive: true });
  if (page && !page.isClosed()) {
    const file = join(artifacts, `${name}.png`);
    await page.screenshot({ path: file }).catch(() => undefined);
    console.log(`    screenshot: ${file}`);
  }
}

// ---------------------------------------------------------------- phase 1: suites in the extension host
async function runHostSuites({ port, workspace, resultsFile, payload }) {
  const page = await newPage('host');
  const url = workbenchUrl(port, workspace, payload);
  log(`opening the workbench with the test runner (${opt.vsix ? 'installed VSIX' : 'extension under development'})`);
  await page.goto(url);
  const deadline = Date.now() + opt.timeout * 1000;
  let problem;
  for (;;) {
    if (existsSync(resultsFile)) break;
    if (codeServer.exitCode !== null || codeServer.signalCode !== null) {
      problem = `code-server exited (${codeServer.exitCode ?? codeServer.signalCode}) before the suites wrote their results`;
      break;
    }
    const terminated = extensionHostExits[0] ?? consoleLines.find((l) => /Extension host .*terminated unexpectedly|Extension host .*crashed/i.test(l));
    if (terminated) {
      await sleep(1000); // it may have written the results just before exiting
      if (existsSync(resultsFile)) break;
      problem = `the extension host exited before the suites wrote their results: ${terminated}`;
      break;
    }
    if (Date.now() > deadline) {
      problem = `no results file after ${opt.timeout} s (the extension host never ran the suites, or they hang)`;
      break;
    }
    await sleep(250);
  }
  if (problem) {
    crashed.push(problem);
    record('extension host', ['extension host', 'suites ran and wrote their results'], 'failed', 0, problem);
    console.log(`\n  ✖ ${problem}`);
    await failureArtifacts(page, 'host-failure');
    await page.context().close().catch(() => undefined);
    return;
  }
  const data = JSON.parse(readFileSync(resultsFile, 'utf8'));
  for (const t of data.tests) results.push({ group: 'extension host', ...t });
  if (data.error) {
    record('extension host', ['extension host', 'suites loaded and ran'], 'failed', 0, data.error);
  }
  printResults(`extension host: ${data.files.length} suite file(s) from test/vscode/${data.suites}`, [
    ...data.tests,
    ...(data.error ? [{ title: 'suites loaded and ran', titlePath: ['suites loaded and ran'], state: 'failed', durationMs: 0, error: data.error }] : []),
  ]);
  if (data.failed > 0) await failureArtifacts(page, 'host-failure');
  await page.context().close().catch(() => undefined);
}

// ---------------------------------------------------------------- phase 2: UI checks in the workbench
/** Helpers handed to every UI check. */
function uiHelpers(page, ctxBase) {
  return {
    ...ctxBase,
    page,
    assert,
    /** Show an activity-bar container by its title (clicks its icon unless it is already shown). */
    async openActivity(title) {
      const sidebar = page.locator('.sidebar').first();
      const heading = sidebar.locator('.composite.title').first();
      const shown = async () => (await sidebar.isVisible()) && (await heading.innerText().catch(() => '')).toLowerCase().startsWith(title.toLowerCase());
      if (await shown()) return;
      const item = page.locator(`.activitybar [aria-label^="${title}"]`).first();
      // The development host loads the extension after the workbench paints: allow time.
      await item.waitFor({ state: 'visible', timeout: 60_000 });
      // A click while a reloaded workbench is still restoring its layout can be undone by the
      // restore (or toggle the side bar shut): click again when it has not shown after a while.
      const deadline = Date.now() + 30_000;
      let clicks = 0;
      while (!(await shown())) {
        if (Date.now() > deadline) throw new Error(`clicking the activity-bar item "${title}" (${clicks} times) did not show its side bar`);
        await item.click({ timeout: 10_000 }).catch(() => undefined);
        clicks++;
        const until = Date.now() + 4000;
        while (Date.now() < until && !(await shown())) await sleep(200);
      }
    },
    /** Run a command from the command palette by its title ("etcd: Refresh"). */
    async runCommand(title) {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await input.fill(`>${title}`);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().click({ timeout: 15_000 });
    },
    /** Save a screenshot to test-results/<mode>/<name>.png; returns its path. */
    async screenshot(name, options = {}) {
      mkdirSync(artifacts, { recursive: true });
      const file = join(artifacts, `${name}.png`);
      await page.screenshot({ path: file, ...options });
      return file;
    },
    /**
     * Merge settings into the user settings.json and reload the workbench: code-server's web
     * workbench does not notice outside writes to that file. Open your view again afterwards.
     * (Suites in the extension host use vscode.workspace.getConfiguration().update() instead.)
     */
    async setUserSettings(values) {
      const current = JSON.parse(readFileSync(ctxBase.userSettingsFile, 'utf8'));
      writeFileSync(ctxBase.userSettingsFile, `${JSON.stringify({ ...current, ...values }, null, 2)}\n`);
      await page.reload();
      await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: 60_000 });
    },
  };
}

async function loadUiChecks() {
  const dir = join(root, 'test', 'ui');
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => /\.ui\.(mjs|ts)$/.test(f)).sort();
  const checks = [];
  for (const f of files) {
    const file = join(dir, f);
    let mod;
    if (f.endsWith('.ts')) {
      const { tsImport } = await import('tsx/esm/api');
      mod = await tsImport(pathToFileURL(file).href, import.meta.url);
      // A .ts file in a CommonJS package arrives wrapped: { default: { default, title, ... } }.
      if (typeof mod.default !== 'function' && mod.default && typeof mod.default === 'object' && !mod.checks) mod = mod.default;
    } else {
      mod = await import(pathToFileURL(file).href);
    }
    const inVsix = mod.vsix === true;
    const entries = [];
    if (typeof mod.default === 'function') entries.push([mod.title ?? f.replace(/\.ui\.(mjs|ts)$/, ''), mod.default]);
    if (mod.checks && typeof mod.checks === 'object') entries.push(...Object.entries(mod.checks));
    if (entries.length === 0) throw new Error(`${file} exports no UI check: export default async function (ctx) {...} or export const checks = { title: fn }`);
    for (const [title, fn] of entries) checks.push({ file: f, title, fn, vsix: inVsix });
  }
  return checks;
}

async function runUiChecks({ port, workspace, payload, userSettingsFile, extensionsDir }) {
  let checks = await loadUiChecks();
  if (opt.vsix) checks = checks.filter((c) => c.vsix);
  if (opt.grep) checks = checks.filter((c) => new RegExp(opt.grep).test(`UI ${c.file} ${c.title}`));
  if (checks.length === 0) return;
  const page = await newPage('ui');
  const url = workbenchUrl(port, workspace, payload);
  log(`opening the workbench for ${checks.length} UI check(s)`);
  await page.goto(url);
  await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: 60_000 });
  const tests = [];
  for (const c of checks) {
    const t0 = Date.now();
    const titlePath = ['UI', c.file, c.title];
    const ctx = uiHelpers(page, { mode, workspace, url, port, root, artifacts, userSettingsFile, extensionsDir, extensionId: EXTENSION_ID, updateScreenshots: opt.updateScreenshots });
    try {
      await c.fn(ctx);
      tests.push(record('ui', titlePath, 'passed', Date.now() - t0));
    } catch (err) {
      tests.push(record('ui', titlePath, 'failed', Date.now() - t0, err.stack ?? String(err)));
      await failureArtifacts(page, `ui-failure-${c.file.replace(/\.ui\.(mjs|ts)$/, '')}-${tests.length}`);
    }
    await page.keyboard.press('Escape').catch(() => undefined);
  }
  printResults('UI checks in the workbench (Playwright)', tests);
  await page.context().close().catch(() => undefined);
}

// ---------------------------------------------------------------- main
async function main() {
  if (!existsSync(join(hostDir, '.installed')) || !existsSync(codeServerBin)) {
    log('installing the VS Code test host (code-server) first');
    run('bash', [join(root, 'scripts', 'setup-vscode-host.sh')]);
  }
  if (!existsSync('/usr/bin/chromium')) throw new Error('/usr/bin/chromium is missing: run bash scripts/setup-vscode-host.sh');

  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  tmpRoot = mkdtempSync(join(tmpdir(), `etcd-backup-${mode}-`));

  if (opt.build) {
    log('building the extension (npm run build)');
    run('npm', ['run', '--silent', 'build']);
  }
  await buildVscodeTests(outDir, opt.suites ? { dir: opt.suites, as: opt.vsix ? 'vsix' : 'suite' } : undefined);
  log(`built the test suites into ${outDir}`);

  const userDataDir = join(tmpRoot, 'user-data');
  const extensionsDir = join(tmpRoot, 'extensions');
  const workspace = join(tmpRoot, 'workspace');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  // A copy, so suites may change files without touching the repository's fixtures.
  cpSync(join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
  const baseSettings = {
    ...QUIET_SETTINGS,
    ...opt.settings,
  };
  const userSettingsFile = join(userDataDir, 'User', 'settings.json');
  const writeBaseSettings = () => writeFileSync(userSettingsFile, `${JSON.stringify(baseSettings, null, 2)}\n`);
  writeBaseSettings();

  const resultsFile = join(tmpRoot, 'results.json');
  const env = {
    ...process.env,
    ...opt.env,
    ETCD_BACKUP_VSCODE_RESULTS: resultsFile,
    ETCD_BACKUP_VSCODE_SUITES: opt.vsix ? 'vsix' : 'suite',
    ETCD_BACKUP_VSCODE_EXTENSIONS_DIR: extensionsDir,
    ETCD_BACKUP_VSCODE_WORKSPACE: workspace,
    ETCD_BACKUP_VSCODE_USER_SETTINGS: userSettingsFile,
    ETCD_BACKUP_REPO: root,
  };
  if (opt.grep) env.ETCD_BACKUP_VSCODE_GREP = opt.grep;
  else delete env.ETCD_BACKUP_VSCODE_GREP;

  let payload;
  let uiPayload;
  if (opt.vsix) {
    const vsix = packageVsix(tmpRoot);
    checkVsixContents(vsix);
    log('installing the VSIX into the test host');
    run(codeServerBin, ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix], { stdio: ['ignore', 'pipe', 'inherit'] });
    const installed = readdirSync(extensionsDir).filter((d) => d.startsWith('etcd-backup.etcd-backup-'));
    if (installed.length !== 1) throw new Error(`the VSIX did not install into ${extensionsDir} (found: ${readdirSync(extensionsDir).join(', ')})`);
    // The test runner needs an extension development path; an empty folder adds no extension,
    // so the installed VSIX is the one that runs.
    const emptyDev = join(tmpRoot, 'no-dev-extension');
    mkdirSync(emptyDev);
    payload = { extensionDevelopmentPath: emptyDev, extensionTestsPath: join(outDir, 'index.js') };
    uiPayload = {};
  } else {
    payload = { extensionDevelopmentPath: root, extensionTestsPath: join(outDir, 'index.js') };
    uiPayload = { extensionDevelopmentPath: root };
  }

  const port = await freePort();
  log(`starting code-server on 127.0.0.1:${port}`);
  const codeServerLog = await startCodeServer({ port, userDataDir, extensionsDir, workspace, env });
  await launchBrowser();

  await runHostSuites({ port, workspace, resultsFile, payload });
  if (opt.ui && crashed.length === 0) {
    writeBaseSettings(); // the suites may have changed user settings
    await runUiChecks({ port, workspace, payload: uiPayload, userSettingsFile, extensionsDir });
  }
  writeFileSync(join(artifacts, 'browser-console.log'), `${consoleLines.join('\n')}\n`);
  return codeServerLog;
}

let exitCode = 1;
try {
  const codeServerLog = await main();
  const passed = results.filter((r) => r.state === 'passed').length;
  const failed = results.filter((r) => r.state === 'failed').length;
  if (failed > 0 || crashed.length > 0 || passed === 0) {
    console.log(`\nArtifacts: ${artifacts} (screenshots, browser-console.log, ${basename(codeServerLog)})`);
  }
  console.log(`\n${mode} tier finished in ${elapsed()}`);
  console.log(`${passed} passed, ${failed} failed`);
  exitCode = failed === 0 && passed > 0 ? 0 : 1;
} catch (err) {
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, 'browser-console.log'), `${consoleLines.join('\n')}\n`);
  console.error(`\n${mode} tier could not run: ${err.stack ?? err}`);
  console.log(`\nArtifacts: ${artifacts}`);
  const passed = results.filter((r) => r.state === 'passed').length;
  const failed = results.filter((r) => r.state === 'failed').length + 1;
  console.log(`${passed} passed, ${failed} failed`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
