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
//          folder instead of test/vscode/suite or test/vscode/vsix), --no-ui, --no-build,
//          --timeout <seconds> (per phase, default 900: the suites start real etcd clusters and s3rver), --env KEY=VALUE (to the extension host;
//          repeatable), --setting key=<json> (user setting; repeatable), --update-screenshots
//          (UI checks may refresh the README images in media/). Env ETCD_BACKUP_VSCODE_SETTINGS
//          (a JSON object) adds user settings too.
//
// Prints spec-style lines and a last line "N passed, N failed"; exits non-zero on a failure,
// crash, timeout or missing results file. Artifacts (screenshots, browser console, code-server
// log) go to test-results/vscode/ (or test-results/vsix/).
//
// The pieces: vscode-tier/options.mjs (the command line), vscode-tier/results.mjs (recording
// and printing), vscode-tier/vsix.mjs (package and check the VSIX), vscode-tier/uiChecks.mjs
// (the UI checks, with the context of test/ui/uiHelpers.ts), vscode-host.mjs (code-server and
// Chromium, shared with the demo). Polling uses test/support/waitFor.ts, as every tier does.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildVscodeTests, root } from './build-vscode-tests.mjs';
import { codeServerBin, freePort, hostDir, launchBrowser, QUIET_SETTINGS, startCodeServer, stopCodeServer, workbenchUrl } from './vscode-host.mjs';
import { parseOptions } from './vscode-tier/options.mjs';
import { printResults, Results } from './vscode-tier/results.mjs';
import { importTs, runUiChecks } from './vscode-tier/uiChecks.mjs';
import { checkVsixContents, packageVsix } from './vscode-tier/vsix.mjs';

const opt = parseOptions(process.argv.slice(2));
const mode = opt.vsix ? 'vsix' : 'vscode';
const EXTENSION_ID = 'etcd-backup.etcd-backup';
const artifacts = join(root, 'test-results', mode);
// The bundled suites of this run (inside the repository so that they find node_modules).
const outDir = join(root, 'out', 'test', 'runs', `${mode}-${process.pid}`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${mode} ${elapsed()}] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { waitFor } = await importTs(join(root, 'test', 'support', 'waitFor.ts'));

const results = new Results();
const crashed = [];
const consoleLines = [];
const extensionHostExits = [];

// ---------------------------------------------------------------- processes and cleanup
let codeServer;
let browser;
let tmpRoot;
let cleaning;

async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    if (browser) await Promise.race([browser.close().catch(() => undefined), sleep(5000)]);
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
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return r;
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
/** Wait for the results file; a reason when code-server or the extension host died first, or time ran out. */
async function waitForResults(resultsFile) {
  const outcome = await waitFor(
    async () => {
      if (existsSync(resultsFile)) return { ok: true };
      if (codeServer.exitCode !== null || codeServer.signalCode !== null) {
        return { problem: `code-server exited (${codeServer.exitCode ?? codeServer.signalCode}) before the suites wrote their results` };
      }
      const terminated = extensionHostExits[0] ?? consoleLines.find((l) => /Extension host .*terminated unexpectedly|Extension host .*crashed/i.test(l));
      if (!terminated) return undefined;
      await sleep(1000); // it may have written the results just before exiting
      return existsSync(resultsFile) ? { ok: true } : { problem: `the extension host exited before the suites wrote their results: ${terminated}` };
    },
    opt.timeout * 1000,
    'the results file',
    250,
  ).catch(() => ({ problem: `no results file after ${opt.timeout} s (the extension host never ran the suites, or they hang)` }));
  return outcome.problem;
}

async function runHostSuites({ port, workspace, resultsFile, payload }) {
  const page = await newPage('host');
  log(`opening the workbench with the test runner (${opt.vsix ? 'installed VSIX' : 'extension under development'})`);
  // A loaded machine can take long to serve the workbench: allow more than Playwright's 30 s.
  await page.goto(workbenchUrl(port, workspace, payload), { timeout: 120_000 });
  const problem = await waitForResults(resultsFile);
  if (problem) {
    crashed.push(problem);
    results.record('extension host', ['extension host', 'suites ran and wrote their results'], 'failed', 0, problem);
    console.log(`\n  ✖ ${problem}`);
    await failureArtifacts(page, 'host-failure');
    await page.context().close().catch(() => undefined);
    return;
  }
  const data = JSON.parse(readFileSync(resultsFile, 'utf8'));
  results.add('extension host', data.tests);
  if (data.error) results.record('extension host', ['extension host', 'suites loaded and ran'], 'failed', 0, data.error);
  printResults(`extension host: ${data.files.length} suite file(s) from test/vscode/${data.suites}`, [
    ...data.tests,
    ...(data.error ? [{ title: 'suites loaded and ran', titlePath: ['suites loaded and ran'], state: 'failed', durationMs: 0, error: data.error }] : []),
  ]);
  if (data.failed > 0) await failureArtifacts(page, 'host-failure');
  await page.context().close().catch(() => undefined);
}

// ---------------------------------------------------------------- the host: a profile, a workspace, code-server
function prepareProfile() {
  const userDataDir = join(tmpRoot, 'user-data');
  const extensionsDir = join(tmpRoot, 'extensions');
  const workspace = join(tmpRoot, 'workspace');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  // A copy, so suites may change files without touching the repository's fixtures.
  cpSync(join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
  const userSettingsFile = join(userDataDir, 'User', 'settings.json');
  const writeBaseSettings = () => writeFileSync(userSettingsFile, `${JSON.stringify({ ...QUIET_SETTINGS, ...opt.settings }, null, 2)}\n`);
  writeBaseSettings();
  return { userDataDir, extensionsDir, workspace, userSettingsFile, writeBaseSettings };
}

function hostEnv(profile, resultsFile) {
  const env = {
    ...process.env,
    ...opt.env,
    ETCD_BACKUP_VSCODE_RESULTS: resultsFile,
    ETCD_BACKUP_VSCODE_SUITES: opt.vsix ? 'vsix' : 'suite',
    ETCD_BACKUP_VSCODE_EXTENSIONS_DIR: profile.extensionsDir,
    ETCD_BACKUP_VSCODE_WORKSPACE: profile.workspace,
    ETCD_BACKUP_VSCODE_USER_SETTINGS: profile.userSettingsFile,
    ETCD_BACKUP_REPO: root,
  };
  if (opt.grep) env.ETCD_BACKUP_VSCODE_GREP = opt.grep;
  else delete env.ETCD_BACKUP_VSCODE_GREP;
  return env;
}

/** The extension under development, or the packaged VSIX installed (with an empty development path). */
function extensionPayloads(profile) {
  const tests = join(outDir, 'index.js');
  if (!opt.vsix) return { payload: { extensionDevelopmentPath: root, extensionTestsPath: tests }, uiPayload: { extensionDevelopmentPath: root } };
  const vsix = packageVsix(root, tmpRoot, log);
  checkVsixContents(root, vsix, results);
  log('installing the VSIX into the test host');
  run(codeServerBin, ['--user-data-dir', profile.userDataDir, '--extensions-dir', profile.extensionsDir, '--install-extension', vsix], { stdio: ['ignore', 'pipe', 'inherit'] });
  const installed = readdirSync(profile.extensionsDir).filter((d) => d.startsWith('etcd-backup.etcd-backup-'));
  if (installed.length !== 1) throw new Error(`the VSIX did not install into ${profile.extensionsDir} (found: ${readdirSync(profile.extensionsDir).join(', ')})`);
  // The test runner needs an extension development path; an empty folder adds no extension,
  // so the installed VSIX is the one that runs.
  const emptyDev = join(tmpRoot, 'no-dev-extension');
  mkdirSync(emptyDev);
  return { payload: { extensionDevelopmentPath: emptyDev, extensionTestsPath: tests }, uiPayload: {} };
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

  const profile = prepareProfile();
  const resultsFile = join(tmpRoot, 'results.json');
  const { payload, uiPayload } = extensionPayloads(profile);
  const port = await freePort();
  log(`starting code-server on 127.0.0.1:${port}`);
  const host = await startCodeServer({
    port,
    userDataDir: profile.userDataDir,
    extensionsDir: profile.extensionsDir,
    workspace: profile.workspace,
    env: hostEnv(profile, resultsFile),
    logDir: artifacts,
    // The extension host exiting before the suites wrote results is a crash.
    onLine: (line) => {
      if (/Extension Host Process exited with code: (\S+), signal: (\S+)/.test(line)) extensionHostExits.push(line.trim());
    },
  });
  codeServer = host.child;
  browser = await launchBrowser();

  await runHostSuites({ port, workspace: profile.workspace, resultsFile, payload });
  if (opt.ui && crashed.length === 0) {
    profile.writeBaseSettings(); // the suites may have changed user settings
    const url = workbenchUrl(port, profile.workspace, uiPayload);
    const ui = { mode, workspace: profile.workspace, url, port, root, artifacts, userSettingsFile: profile.userSettingsFile, extensionsDir: profile.extensionsDir };
    log('opening the workbench for the UI checks');
    await runUiChecks({ root, newPage, failureArtifacts, results, vsix: opt.vsix, grep: opt.grep, run: { ...ui, extensionId: EXTENSION_ID, updateScreenshots: opt.updateScreenshots } });
  }
  writeFileSync(join(artifacts, 'browser-console.log'), `${consoleLines.join('\n')}\n`);
  return host.logFile;
}

let exitCode = 1;
try {
  const codeServerLog = await main();
  const { passed, failed } = results;
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
  console.log(`${results.passed} passed, ${results.failed + 1} failed`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
