#!/usr/bin/env node
// Runs the suites of test/vscode/suite through @vscode/test-electron: desktop VS Code, which
// test-electron downloads from Microsoft's update service into .vscode-test/. For machines
// that can reach that service; the CI machines here cannot (they reach only the npm registry
// and Debian), so `npm test` uses scripts/test-vscode.mjs (code-server from npm) instead.
//   node scripts/test-electron.mjs [--version 1.100.3] [--grep <regexp>]
import { runTests } from '@vscode/test-electron';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVscodeTests, root } from './build-vscode-tests.mjs';

const argv = process.argv.slice(2);
const arg = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const version = arg('--version') ?? '1.100.3';
const grep = arg('--grep');

const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const outDir = join(root, 'out', 'test', 'runs', `electron-${process.pid}`);
await buildVscodeTests(outDir);

const tmp = mkdtempSync(join(tmpdir(), 'etcd-backup-electron-'));
const workspace = join(tmp, 'workspace');
cpSync(join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
const userDataDir = join(tmp, 'user-data');
mkdirSync(join(userDataDir, 'User'), { recursive: true });
writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'update.mode': 'none' }));
const resultsFile = join(tmp, 'results.json');

let code = 1;
try {
  code = await runTests({
    version,
    extensionDevelopmentPath: root,
    extensionTestsPath: join(outDir, 'index.js'),
    extensionTestsEnv: {
      ETCD_BACKUP_VSCODE_RESULTS: resultsFile,
      ETCD_BACKUP_VSCODE_SUITES: 'suite',
      ETCD_BACKUP_VSCODE_WORKSPACE: workspace,
      ETCD_BACKUP_REPO: root,
      ...(grep ? { ETCD_BACKUP_VSCODE_GREP: grep } : {}),
    },
    launchArgs: [workspace, '--user-data-dir', userDataDir, '--extensions-dir', join(tmp, 'extensions'), '--disable-workspace-trust', '--disable-extensions', '--no-sandbox', '--disable-gpu'],
  });
  if (existsSync(resultsFile)) {
    const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
    for (const t of r.tests) console.log(`${t.state === 'passed' ? '✔' : '✖'} ${t.fullTitle}${t.error ? `\n    ${t.error.split('\n').join('\n    ')}` : ''}`);
    console.log(`${r.passed} passed, ${r.failed} failed`);
    if (r.failed > 0) code = code || 1;
  } else {
    console.log('0 passed, 1 failed (no results file: the suites did not run)');
    code = code || 1;
  }
} catch (err) {
  console.error(`test-electron could not run VS Code ${version}: ${err instanceof Error ? err.message : err}`);
  console.error('It downloads VS Code from update.code.visualstudio.com; where only the npm registry is reachable, use npm run test:vscode.');
  code = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
}
process.exit(code);
