#!/usr/bin/env node
// Point-in-time recovery bench: the follower's memory and lag under a sustained write load, and
// the time to materialize the recorded events. Starts a throwaway 1-member etcd on loopback,
// takes a full backup with the production CLI (dist/cli.js), runs `backup follow` against it
// while a load generator writes `--rate` puts per second (64 in flight) for `--seconds`, then
// `backup fetch --to-revision <last>` (every recorded event replayed on the backup).
// The follower runs with the NODE_OPTIONS of the systemd unit `backup schedule` writes.
// Lag is per revision: the time the follower received it (recorded in the segment) minus the
// time the write was acknowledged to the load generator. Peak RSS is the kernel's VmHWM.
//
// Options: --rate N (default 1000), --seconds N (default 120), --value-bytes N (default 256),
//          --keep, --no-build.
// Goals (issue 15): follower peak RSS <= 128 MiB, lag < 2 s at 1,000 writes/s for 2 minutes
//                   (or the most etcd sustains here); materializing 100,000 events < 30 s.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const rate = opt('rate', 1000);
const seconds = opt('seconds', 120);
const valueBytes = opt('value-bytes', 256);
const t0 = Date.now();
const log = (m) => process.stderr.write(`[bench-pitr ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

if (!process.argv.includes('--no-build'))
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--production'], { cwd: root, stdio: 'ignore' });
const cli = join(root, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'bench-pitr-'));
const [cp, pp] = [await freePort(), await freePort()];
const client = `http://127.0.0.1:${cp}`;
const peer = `http://127.0.0.1:${pp}`;
const etcd = spawn(
  '/usr/bin/etcd',
  [
    '--name=b',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=b=${peer}`,
    '--quota-backend-bytes=8589934592',
    '--log-level=error',
  ],
  { stdio: 'ignore' },
);
let follower;
const cleanup = () => {
  follower?.kill('SIGKILL');
  etcd.kill('SIGKILL');
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

try {
  const { Etcd3 } = require('etcd3');
  const kv = new Etcd3({ hosts: client });
  for (let i = 0; ; i++) {
    try {
      await kv.put('/bench/start').value('x');
      break;
    } catch (e) {
      if (i > 100) throw e;
      await sleep(100);
    }
  }
  const plan = join(dir, 'plan.yaml');
  writeFileSync(
    plan,
    `cluster:\n  name: bench\n  endpoints: [${client}]\nlocal:\n  dir: ${join(dir, 'local')}\n` +
      'schedule: "*-*-* 00/6:00:00"\nfollow: { enabled: true, segmentSeconds: 60, segmentMiB: 16 }\n',
    { mode: 0o600 },
  );
  execFileSync(process.execPath, [cli, 'backup', 'run', '--config', plan], { stdio: 'ignore' });
  // Started as the service `backup schedule` writes starts it: with the unit's Environment= line
  // (NODE_OPTIONS with the follower's V8 flags), so the measured process is the follower itself.
  const unitText = execFileSync(process.execPath, [cli, 'backup', 'schedule', '--config', plan], { encoding: 'utf8' });
  const unitEnv = /^Environment=(NODE_OPTIONS=.*)$/m.exec(unitText.slice(unitText.indexOf('-follow.service')))?.[1];
  if (!unitEnv) throw new Error("the follower's unit has no NODE_OPTIONS line");
  const nodeOptions = unitEnv.replace(/^"|"$/g, '').slice('NODE_OPTIONS='.length);
  follower = spawn(process.execPath, [cli, 'backup', 'follow', '--config', plan], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${nodeOptions}`.trim() },
  });
  let flog = '';
  follower.stderr.on('data', (b) => (flog += b));
  while (!/Watching/.test(flog)) await sleep(100);
  log(`follower up; writing ${rate} puts/s of ${valueBytes} B for ${seconds} s`);

  // The load: paced puts, 64 in flight, 5,000 distinct keys (so versions and deletes-free history grow).
  const acked = new Map();
  const value = Buffer.alloc(valueBytes, 'v');
  let sent = 0;
  let inflight = 0;
  const start = Date.now();
  const end = start + seconds * 1000;
  let errors = 0;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    while (sent < due && inflight < 64) {
      inflight++;
      const k = `/bench/k/${sent++ % 5000}`;
      kv.put(k)
        .value(value)
        .exec()
        .then(
          (r) => acked.set(Number(r.header.revision), Date.now()),
          () => errors++,
        )
        .finally(() => inflight--);
    }
    await sleep(2);
  }
  while (inflight) await sleep(10);
  const wall = (Date.now() - start) / 1000;
  const lastRev = Math.max(...acked.keys());
  log(
    `wrote ${acked.size} puts in ${wall.toFixed(1)} s (${(acked.size / wall).toFixed(0)}/s achieved, ${errors} errors); ` +
      `last revision ${lastRev}`,
  );
  // Wait until the follower has received everything, then stop it (it stores the open segment).
  const status = join(dir, 'local', 'changelog', 'follow-status.json');
  for (let i = 0; i < 600; i++) {
    try {
      if (JSON.parse(readFileSync(status, 'utf8')).receivedRevision >= lastRev) break;
    } catch {
      // not written yet
    }
    await sleep(100);
  }
  const children = readFileSync(`/proc/${follower.pid}/task/${follower.pid}/children`, 'utf8').trim();
  if (children) throw new Error(`the follower started another process (${children}): its memory would not be measured`);
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${follower.pid}/status`, 'utf8'))[1]) / 1024;
  follower.kill('SIGTERM');
  await new Promise((r) => follower.on('exit', r));
  // Lag per revision from the segments.
  const segDir = join(dir, 'local', 'changelog');
  const lags = [];
  let events = 0;
  for (const f of readdirSync(segDir).filter((n) => /^changes-.*\.log$/.test(n))) {
    for (const line of readFileSync(join(segDir, f), 'utf8').split('\n')) {
      const m = /^\{"r":(\d+),"t":(\d+),"e":\[/.exec(line);
      if (!m) continue;
      events += (line.match(/"o":"/g) ?? []).length;
      const a = acked.get(Number(m[1]));
      if (a) lags.push(Number(m[2]) - a);
    }
  }
  lags.sort((x, y) => x - y);
  const pct = (p) => lags[Math.min(lags.length - 1, Math.floor(lags.length * p))];
  log(
    `follower: peak RSS ${hwm.toFixed(0)} MiB; lag p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ` +
      `max ${lags[lags.length - 1]} ms over ${lags.length} revisions`,
  );
  // Materialize everything that was recorded.
  const out = join(dir, 'at-last.db');
  const m0 = Date.now();
  const fetched = await new Promise((res) =>
    execFile(
      '/usr/bin/time',
      ['-v', process.execPath, cli, 'backup', 'fetch', '--config', plan, '--to-revision', String(lastRev), '-o', out, '-w', 'json'],
      { maxBuffer: 16 << 20 },
      (e, so, se) => res({ e, so, se }),
    ),
  );
  const mSec = (Date.now() - m0) / 1000;
  if (fetched.e) throw new Error(`fetch failed: ${fetched.se}`);
  const fetchRss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(fetched.se)?.[1] ?? 0) / 1024;
  const replayed = JSON.parse(fetched.so).replayed;
  log(
    `materialized revision ${lastRev} (${events} events replayed) in ${mSec.toFixed(1)} s, peak RSS ${fetchRss.toFixed(0)} MiB; ` +
      `the replay itself ${(replayed.ms / 1000).toFixed(1)} s, ${replayed.resent ?? 0} transactions sent again (out of order)`,
  );
  const achieved = acked.size / wall;
  const rows = [
    ['write load sustained', `${achieved.toFixed(0)} puts/s for ${wall.toFixed(0)} s`, `${rate}/s asked`],
    ['follower peak RSS', `${hwm.toFixed(0)} MiB`, hwm <= 128 ? 'PASS (<= 128 MiB)' : 'MISS (<= 128 MiB)'],
    [
      'follower lag p99 / max',
      `${(pct(0.99) / 1000).toFixed(2)} s / ${(lags[lags.length - 1] / 1000).toFixed(2)} s`,
      lags[lags.length - 1] < 2000 ? 'PASS (< 2 s)' : 'MISS (< 2 s)',
    ],
    [
      `materialize ${events} events`,
      `${mSec.toFixed(1)} s (${(events / mSec).toFixed(0)} events/s)`,
      events >= 100000 ? (mSec < 30 ? 'PASS (< 30 s)' : 'MISS (< 30 s)') : 'fewer than 100,000 events',
    ],
  ];
  for (const r of rows) console.log(r.join(' | '));
  kv.close();
} finally {
  cleanup();
}
