#!/usr/bin/env node
// The extension, for real: a local 3-member etcd cluster (TLS, kubeadm's certificate layout)
// on loopback, filled with a Kubernetes-shaped keyspace and one snapshot, and VS Code
// (code-server 4.100.3 on 127.0.0.1) with the extension under development, the demo cluster
// in the user settings and a sample workspace holding an etcd.yaml and an etcd.env.
// Run through `bash scripts/demo.sh` (it installs and builds first). Ctrl-C stops everything
// and removes the temporary files.
//
//   --port N     code-server's port (default: a free one)
//   --plain      the demo cluster without TLS
//   --smoke      open the printed URL in headless Chromium, check that the activity-bar view
//                shows the demo cluster healthy with its members, save a screenshot in
//                test-results/demo/, stop, and print "N passed, N failed" (used by the tests)
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './build-vscode-tests.mjs';
import { codeServerBin, freePort, launchBrowser, QUIET_SETTINGS, startCodeServer, stopCodeServer, workbenchUrl } from './vscode-host.mjs';

const argv = process.argv.slice(2);
const opt = { port: undefined, tls: true, smoke: false };
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port') opt.port = Number(argv[++i]);
  else if (argv[i] === '--plain') opt.tls = false;
  else if (argv[i] === '--smoke') opt.smoke = true;
  else {
    console.error(`Unknown option ${argv[i]}. Options: --port N, --plain, --smoke`);
    process.exit(2);
  }
}
const say = (msg) => console.log(`[demo] ${msg}`);
if (!existsSync(codeServerBin)) {
  console.error('The VS Code host is not installed: run `bash scripts/demo.sh` (it runs scripts/setup.sh first).');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'extension.js'))) {
  console.error('The extension is not built: run `bash scripts/demo.sh` (it builds first).');
  process.exit(2);
}

// The etcd test rig (TypeScript), loaded through tsx.
const { require: tsxRequire } = await import('tsx/cjs/api');
const rig = tsxRequire(join(root, 'test', 'support', 'index.ts'), import.meta.url);

const tmp = mkdtempSync(join(tmpdir(), 'etcd-backup-demo-'));
let cluster;
let codeServer;
let browser;
let stopping;
async function stop(code) {
  if (stopping) return stopping;
  stopping = (async () => {
    if (browser) await browser.close().catch(() => undefined);
    await stopCodeServer(codeServer);
    if (cluster) await cluster.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(code);
  })();
  return stopping;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.log(`\n[demo] ${sig}: stopping code-server and the demo cluster, removing ${tmp}`);
    void stop(0);
  });
}

try {
  say(`starting a 3-member etcd cluster on loopback (${opt.tls ? 'TLS, kubeadm certificate layout' : 'plain'})`);
  cluster = await rig.startCluster({ members: 3, tls: opt.tls, name: 'demo', dataRoot: tmp });
  const seeded = await rig.seedKubernetes(cluster, { podUpdates: 3, podsPerNamespace: 20, secretsPerNamespace: 10 });
  await rig.putKeys(cluster, '/registry/events/demo/noisy-', 2000, 400);
  say(`wrote ${seeded.keys.length} Kubernetes-shaped keys and 2000 events under /registry`);

  const snapshotDir = join(tmp, 'snapshots');
  mkdirSync(snapshotDir, { mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  const snap = join(snapshotDir, `${stamp}_snapshot.db`);
  await cluster.etcdctlOk(['snapshot', 'save', snap], { endpoints: [cluster.members[0].clientURL] });
  chmodSync(snap, 0o600);
  say(`took a first snapshot: ${snap}`);

  const workspace = join(tmp, 'workspace');
  cpSync(join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = join(tmp, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  const settings = { ...QUIET_SETTINGS, 'etcdBackup.clusters': [{ ...cluster.clusterConfig(), snapshotDir }] };
  writeFileSync(join(userDataDir, 'User', 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);

  const port = opt.port ?? (await freePort());
  say(`starting VS Code (code-server) on 127.0.0.1:${port}`);
  const started = await startCodeServer({ port, userDataDir, extensionsDir, workspace, env: { ...process.env }, logDir: join(tmp, 'logs') });
  codeServer = started.child;
  const url = workbenchUrl(port, workspace, { extensionDevelopmentPath: root });

  if (opt.smoke) {
    process.exit(await smoke(url));
  }
  console.log(`
  etcd Backup & Restore is running.

    Open: ${url}

  The demo cluster "demo" (${cluster.members.map((m) => m.clientURL).join(', ')}) is in the
  etcd Backup & Restore view of the activity bar; its snapshots go to ${snapshotDir}.
  The workspace holds an etcd.yaml and an etcd.env. Press Ctrl-C to stop everything.
`);
  if (process.env.DISPLAY && (await hasCommand('code'))) {
    say('desktop VS Code found: opening it too');
    spawn('code', ['--extensionDevelopmentPath', root, '--user-data-dir', join(tmp, 'desktop-user-data'), workspace], { stdio: 'ignore', detached: true }).unref();
  }
  await new Promise(() => undefined); // until a signal
} catch (err) {
  console.error(`[demo] failed: ${err.stack ?? err}`);
  await stop(1);
}

function hasCommand(name) {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
    p.on('exit', (c) => resolve(c === 0));
    p.on('error', () => resolve(false));
  });
}

/** What a person would do first: open the view and see the cluster. Returns the exit code. */
async function smoke(url) {
  const artifacts = join(root, 'test-results', 'demo');
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser();
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const checks = [];
  const check = async (title, fn) => {
    try {
      await fn();
      checks.push(true);
      console.log(`  ✔ ${title}`);
    } catch (err) {
      checks.push(false);
      console.log(`  ✖ ${title}\n      ${String(err.message ?? err).split('\n').join('\n      ')}`);
      await page.screenshot({ path: join(artifacts, 'demo-failure.png') }).catch(() => undefined);
    }
  };
  console.log('\n  the demo (bash scripts/demo.sh)');
  await check('the printed URL opens the workbench with the sample workspace', async () => {
    await page.goto(url);
    await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'etcd.yaml' }).first().waitFor({ state: 'attached', timeout: 30_000 });
  });
  await check('the activity-bar view shows the demo cluster, healthy, with its three members', async () => {
    const item = page.locator('.activitybar [aria-label^="etcd Backup & Restore"]').first();
    await item.waitFor({ state: 'visible', timeout: 60_000 });
    await item.click();
    const row = page.locator('.sidebar .monaco-list-row', { hasText: 'demo' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    let text = '';
    while (!/3\/3 healthy/.test(text)) {
      if (Date.now() > deadline) throw new Error(`the cluster row says "${text}", not 3/3 healthy`);
      text = await row.innerText().catch(() => '');
      await new Promise((r) => setTimeout(r, 250));
    }
    if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
    for (const m of cluster.members) {
      await page.locator('.sidebar .monaco-list-row', { hasText: m.name }).first().waitFor({ state: 'visible', timeout: 30_000 });
    }
    await page.mouse.move(900, 500);
    await page.screenshot({ path: join(artifacts, 'demo.png') });
  });
  const passed = checks.filter(Boolean).length;
  console.log(`\ndemo: ${passed} passed, ${checks.length - passed} failed`);
  if (browser) await browser.close().catch(() => undefined);
  browser = undefined;
  await stopCodeServer(codeServer);
  codeServer = undefined;
  await cluster.stop().catch(() => undefined);
  cluster = undefined;
  rmSync(tmp, { recursive: true, force: true });
  return passed === checks.length ? 0 : 1;
}
