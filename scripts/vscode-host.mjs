// The pieces of the real VS Code host (code-server 4.100.3 from npm, Debian's Chromium through
// playwright-core) that the test driver (scripts/test-vscode.mjs) and the demo
// (scripts/demo.ts) share.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { root } from './build-vscode-tests.mjs';

export const hostDir = join(root, '.vscode-test', 'code-server');
export const codeServerBin = join(hostDir, 'node_modules', '.bin', 'code-server');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** User settings that keep a fresh profile quiet (no walkthroughs, updates, telemetry). */
export const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'window.restoreWindows': 'none',
};

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start code-server on 127.0.0.1:<port> in its own process group and wait until it answers.
 * `onLine` sees every line it prints. Returns the child process and its log file.
 */
export async function startCodeServer({ port, userDataDir, extensionsDir, workspace, env, logDir, onLine }) {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'code-server.log');
  const out = createWriteStream(logFile);
  const child = spawn(
    codeServerBin,
    [
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', userDataDir,
      '--extensions-dir', extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      workspace,
    ],
    { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  if (onLine) {
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => String(chunk).split('\n').forEach(onLine));
    }
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`code-server exited with ${child.exitCode ?? child.signalCode} before it listened; see ${logFile}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return { child, logFile };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not listen on 127.0.0.1:${port} within 60 s; see ${logFile}`);
    await sleep(200);
  }
}

/** SIGTERM code-server's process group (extension host and watcher included), then SIGKILL. */
export async function stopCodeServer(child) {
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const deadline = Date.now() + 4000;
    while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await sleep(100);
  }
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The workbench URL for a folder, with development options (extensionDevelopmentPath...). */
export function workbenchUrl(port, workspace, payload = {}) {
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const pairs = Object.entries(payload).map(([k, v]) => [k, remote(v)]);
  const q = new URLSearchParams({ folder: workspace });
  if (pairs.length) q.set('payload', JSON.stringify(pairs));
  return `http://127.0.0.1:${port}/?${q.toString()}`;
}

/** Debian's Chromium, headless, with the flags this closed network needs. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
}
