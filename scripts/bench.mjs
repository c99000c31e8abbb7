#!/usr/bin/env node
// `npm run bench`: speed and memory of `etcd-backup snapshot save` and `snapshot status`
// side by side with etcdctl on the same data. Starts a throwaway 1-member etcd on free
// loopback ports with a temp data dir, fills it to the target database size (default 1 GiB)
// with batched puts, then times each command (best of --rounds) under /usr/bin/time -v for
// wall time and peak RSS. Prints a table with the ratios and PASS/MISS per goal; cleans up.
//
// Options: --size-mb N (default 1024), --rounds N (default 2), --value-kb N (default 32),
//          --keep (keep the temp dir), --etcd PATH, --etcdctl PATH.
// Goals (issue 4): save wall time <= 1.10 x etcdctl's and peak RSS <= 128 MiB;
//                  status wall time <= 1.0 x etcdctl's and peak RSS <= 256 MiB.
// Goals (issue 13): `backup run` (gzip, age, upload to s3rver on loopback) <= 1.5 x etcdctl
//                  snapshot save and peak RSS <= 256 MiB; and no slower than the same steps
//                  scripted by hand (etcdctl snapshot save, then gzip -1 | age | aws s3 cp -); `backup fetch` <= 1.5 x
//                  `aws s3 cp - | age -d | gunzip` (skipped when age or aws is missing).
// Point-in-time recovery (issue 15), run by default after the rest (--no-pitr skips it):
//   scripts/bench-pitr.mjs (`npm run bench:pitr` alone) with --pitr-rate N (default 1000 writes/s)
//   and --pitr-seconds N (default 120): follower peak RSS <= 128 MiB and lag < 2 s under that
//   load, materializing 100,000 events < 30 s. Its rows join the table, prefixed "pitr:".
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const MiB = 1024 * 1024;

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) {
    console.error(`bench: --${name} needs a value.`);
    process.exit(2);
  }
  return v;
}
const sizeMb = Number(option('size-mb', '1024'));
const rounds = Number(option('rounds', '2'));
const valueKb = Number(option('value-kb', '32'));
const keep = process.argv.includes('--keep');
const ETCD = option('etcd', '/usr/bin/etcd');
const ETCDCTL = option('etcdctl', '/usr/bin/etcdctl');
for (const [n, v] of [['size-mb', sizeMb], ['rounds', rounds], ['value-kb', valueKb]]) {
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`bench: --${n} must be a positive number.`);
    process.exit(2);
  }
}
if (!existsSync('/usr/bin/time')) {
  console.error('bench: /usr/bin/time is needed to measure peak RSS (apt-get install time).');
  process.exit(2);
}

const log = (msg) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const t0 = Date.now();

// 1. dist/cli.js.
const cli = join(root, 'dist', 'cli.js');
// Measure what ships: the VSIX and the published CLI are production builds (minified, no
// source maps), so build that, every time (a development build starts slower).
log('building dist for production (node scripts/build.mjs --production)');
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--production'], { cwd: root, stdio: 'inherit' });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Run argv under /usr/bin/time -v: wall seconds, peak RSS in MiB, stdout, exit code. */
function timed(argv) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    execFile('/usr/bin/time', ['-v', ...argv], { maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, wallMs, rssMiB: rss ? Number(rss[1]) / 1024 : NaN, stdout, stderr });
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'etcd-backup-bench-'));
let etcd;
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (etcd && etcd.exitCode === null) {
    try {
      etcd.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  if (!keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

/** Wall time of a pipeline of processes (stdout of each into the next; the last into `out`). */
function timedPipe(argvs, out, env) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const procs = argvs.map((a) => spawn(a[0], a.slice(1), { env, stdio: ['pipe', 'pipe', 'ignore'] }));
    const sink = createWriteStream(out);
    procs.forEach((p, i) => (i + 1 < procs.length ? p.stdout.pipe(procs[i + 1].stdin) : p.stdout.pipe(sink)));
    procs[0].stdin.end();
    // Done when every process exited and the file is written.
    let left = procs.length + 1;
    let code = 0;
    const one = () => {
      if (--left === 0) resolve({ code, wallMs: Number(process.hrtime.bigint() - started) / 1e6 });
    };
    sink.on('finish', one);
    for (const p of procs) {
      p.on('exit', (c) => {
        code = code || (c ?? 1);
        one();
      });
    }
  });
}

/**
 * `backup run` (gzip, age, upload to s3rver on loopback) against etcdctl's save time, and
 * `backup fetch` against `aws s3 cp | age -d | gunzip`. Returns table rows.
 */
async function benchBackup(endpoint, etcdctlSaveMs) {
  if (!existsSync('/usr/bin/age') || !existsSync('/usr/bin/aws')) {
    return [['backup run / fetch', 'n/a', '', 'age or aws missing (apt-get install age awscli)', '<= 1.5', 'SKIP']];
  }
  const dir = join(work, 'backup');
  const s3port = await freePort();
  const s3args = ['-d', join(work, 's3'), '-a', '127.0.0.1', '-p', String(s3port), '--silent', '--configure-bucket', 'bench'];
  const s3 = spawn(process.execPath, [join(root, 'node_modules/s3rver/bin/s3rver.js'), ...s3args], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const key = join(work, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key], { encoding: 'utf8' }).trim();
    const creds = join(work, 's3.credentials');
    writeFileSync(creds, 'AWS_ACCESS_KEY_ID=S3RVER\nAWS_SECRET_ACCESS_KEY=S3RVER\n', { mode: 0o600 });
    const plan = join(work, 'plan.yaml');
    const s3cfg = { endpoint: `http://127.0.0.1:${s3port}`, bucket: 'bench', prefix: 'bench/', credentialsFile: creds };
    const planText = [
      `cluster: { name: bench, endpoints: [${endpoint}] }`,
      `local: { dir: ${dir}, keep: { last: 100 } }`,
      `remote: { s3: ${JSON.stringify(s3cfg)}, keep: { last: 100 } }`,
      'compress: gzip',
      `encrypt: { recipients: [${recipient}] }`,
    ];
    writeFileSync(plan, `${planText.join('\n')}\n`, { mode: 0o600 });
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_DEFAULT_REGION: 'us-east-1' };
    let run;
    let scripted;
    for (let i = 0; i < rounds; i++) {
      const r = await timed([process.execPath, cli, 'backup', 'run', '--config', plan]);
      if (r.code !== 0) throw new Error(`backup run failed (exit ${r.code}): ${r.stderr.split('\n').slice(-12).join('\n')}`);
      log(`backup run: ${(r.wallMs / 1000).toFixed(2)} s, peak RSS ${r.rssMiB.toFixed(0)} MiB`);
      if (!run || r.wallMs < run.wallMs) run = { ...r, rssMiB: Math.max(r.rssMiB, run?.rssMiB ?? 0) };
      // What an operator scripts by hand, in the same run: etcdctl snapshot save, then gzip -1 | age | aws s3 cp -.
      const refDb = join(work, 'scripted.db');
      const save = await timed([ETCDCTL, '--endpoints', endpoint, 'snapshot', 'save', refDb]);
      if (save.code !== 0) throw new Error(`etcdctl snapshot save failed (exit ${save.code})`);
      const upload = ['/usr/bin/aws', '--endpoint-url', s3cfg.endpoint, 's3', 'cp', '-', `s3://bench/scripted/${i}.db.gz.age`];
      const p = await timedPipe([['gzip', '-1', '-c', refDb], ['/usr/bin/age', '-r', recipient], upload], join(work, 'scripted.out'), env);
      if (p.code !== 0) throw new Error(`gzip | age | aws s3 cp failed (exit ${p.code})`);
      rmSync(refDb, { force: true });
      const total = save.wallMs + p.wallMs;
      log(`scripted etcdctl save + gzip|age|aws s3 cp: ${(total / 1000).toFixed(2)} s (upload part ${(p.wallMs / 1000).toFixed(2)} s)`);
      if (!scripted || total < scripted.wallMs) scripted = { wallMs: total, uploadMs: p.wallMs };
    }
    const listed = execFileSync(process.execPath, [cli, 'backup', 'list', '--config', plan, '-w', 'json'], { encoding: 'utf8' });
    const meta = JSON.parse(listed).backups.find((b) => b.where === 'remote');
    let fetch;
    let ref;
    for (let i = 0; i < rounds; i++) {
      const out = join(work, `fetched-${i}.db`);
      const fetchArgs = ['backup', 'fetch', '--config', plan, '--name', meta.name, '--from', 'remote', '-i', key, '-o', out];
      const r = await timed([process.execPath, cli, ...fetchArgs]);
      if (r.code !== 0) throw new Error(`backup fetch failed (exit ${r.code}): ${r.stderr.split('\n').slice(-12).join('\n')}`);
      if (!fetch || r.wallMs < fetch.wallMs) fetch = r;
      const download = ['/usr/bin/aws', '--endpoint-url', s3cfg.endpoint, 's3', 'cp', `s3://bench/bench/${meta.name}.db.gz.age`, '-'];
      const p = await timedPipe([download, ['/usr/bin/age', '-d', '-i', key], ['gunzip']], `${out}.ref`, env);
      if (p.code !== 0) throw new Error(`aws | age -d | gunzip failed (exit ${p.code})`);
      if (!ref || p.wallMs < ref.wallMs) ref = p;
      log(`fetch: ours ${(r.wallMs / 1000).toFixed(2)} s, aws | age -d | gunzip ${(p.wallMs / 1000).toFixed(2)} s`);
      if (!readFileSync(out).equals(readFileSync(`${out}.ref`))) {
        throw new Error('backup fetch and aws | age -d | gunzip gave different files');
      }
      rmSync(out, { force: true });
      rmSync(`${out}.ref`, { force: true });
    }
    const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
    const verdict = (pass) => (pass ? 'PASS' : 'MISS');
    const runRatio = run.wallMs / etcdctlSaveMs;
    const fetchRatio = fetch.wallMs / ref.wallMs;
    const rss = `${run.rssMiB.toFixed(0)} MiB`;
    return [
      ['backup run wall time', s(run.wallMs), `${s(etcdctlSaveMs)} (save)`, `ratio ${runRatio.toFixed(2)}`, '<= 1.5', verdict(runRatio <= 1.5)],
      [
        'backup run vs scripted',
        s(run.wallMs),
        `${s(scripted.wallMs)} (save; gzip|age|aws)`,
        `ratio ${(run.wallMs / scripted.wallMs).toFixed(2)}`,
        '<= 1.0',
        verdict(run.wallMs <= scripted.wallMs),
      ],
      ['backup run peak RSS', rss, '', rss, '<= 256 MiB', verdict(run.rssMiB <= 256)],
      ['backup fetch wall time', s(fetch.wallMs), `${s(ref.wallMs)} (aws|age|gunzip)`, `ratio ${fetchRatio.toFixed(2)}`, '<= 1.5', verdict(fetchRatio <= 1.5)],
    ];
  } finally {
    s3.kill('SIGKILL');
  }
}

async function main() {
  // 2. A 1-member etcd on free loopback ports.
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const quota = Math.min(8 * 1024 * MiB, Math.max(2 * 1024 * MiB, sizeMb * MiB * 2 + 512 * MiB));
  const logFd = openSync(join(work, 'etcd.log'), 'a');
  etcd = spawn(
    ETCD,
    [
      '--name=bench',
      `--data-dir=${join(work, 'data')}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      '--initial-cluster-state=new',
      `--quota-backend-bytes=${quota}`,
      '--max-request-bytes=4194304',
      '--snapshot-count=100000',
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  const { Etcd3 } = require('etcd3');
  const client = new Etcd3({ hosts: [endpoint], dialTimeout: 5000 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.maintenance.status();
      break;
    } catch (err) {
      if (Date.now() > deadline || etcd.exitCode !== null) throw new Error(`etcd did not start: ${err.message} (log: ${join(work, 'etcd.log')})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  log(`etcd ${endpoint} up; filling to ${sizeMb} MiB with ${valueKb} KiB values`);

  // 3. Fill: transactions of ~1 MiB, four at a time, until the db reaches the size.
  const value = Buffer.alloc(valueKb * 1024);
  for (let i = 0; i < value.length; i++) value[i] = (i * 2654435761) >>> 24;
  const perTxn = Math.max(1, Math.min(64, Math.floor(MiB / value.length)));
  let n = 0;
  let dbSize = 0;
  const target = sizeMb * MiB;
  const fillStart = Date.now();
  while (dbSize < target) {
    const txns = [];
    for (let w = 0; w < 4; w++) {
      const ops = [];
      for (let k = 0; k < perTxn; k++, n++) {
        const key = Buffer.from(`/registry/bench/${String(n).padStart(9, '0')}`);
        const v = Buffer.from(value);
        v.writeUInt32BE(n, 0);
        ops.push({ request_put: { key, value: v } });
      }
      txns.push(client.kv.txn({ compare: [], success: ops, failure: [] }));
    }
    await Promise.all(txns);
    if (n % (perTxn * 4 * 4) === 0) {
      dbSize = Number((await client.maintenance.status()).dbSize);
    }
  }
  dbSize = Number((await client.maintenance.status()).dbSize);
  log(`filled: ${n} keys, db ${(dbSize / MiB).toFixed(0)} MiB in ${((Date.now() - fillStart) / 1000).toFixed(0)} s`);
  client.close();

  // 4. save: ours vs etcdctl, alternating, best of `rounds`.
  const ours = join(work, 'ours.db');
  const theirs = join(work, 'etcdctl.db');
  const best = { ours: undefined, etcdctl: undefined };
  const keepBest = (k, r) => {
    if (r.code !== 0) throw new Error(`${k} save failed (exit ${r.code}): ${r.stderr.split('\n').slice(-12).join('\n')}`);
    if (!best[k] || r.wallMs < best[k].wallMs) best[k] = { ...r, rssMiB: Math.max(r.rssMiB, best[k]?.rssMiB ?? 0) };
    else best[k].rssMiB = Math.max(best[k].rssMiB, r.rssMiB);
  };
  for (let i = 0; i < rounds; i++) {
    for (const which of i % 2 ? ['etcdctl', 'ours'] : ['ours', 'etcdctl']) {
      // Remove only the output about to be written (ours is kept for the status runs).
      for (const f of which === 'ours' ? [ours, ours.replace(/\.db$/, '.json')] : [theirs, `${theirs}.part`]) rmSync(f, { force: true });
      const r =
        which === 'ours'
          ? await timed([process.execPath, cli, 'snapshot', 'save', ours, '--endpoints', endpoint])
          : await timed([ETCDCTL, 'snapshot', 'save', theirs, `--endpoints=${endpoint}`]);
      keepBest(which, r);
      log(`save ${which}: ${(r.wallMs / 1000).toFixed(2)} s, peak RSS ${r.rssMiB.toFixed(0)} MiB`);
    }
  }
  const fileSize = statSync(ours).size;

  // 5. status: ours (when the command exists) vs etcdctl on the same file.
  const help = execFileSync(process.execPath, [cli, 'snapshot', '--help'], { encoding: 'utf8' });
  const haveStatus = /snapshot status/.test(help);
  const status = { ours: undefined, etcdctl: undefined };
  let statusAgree;
  if (haveStatus) {
    for (let i = 0; i < rounds; i++) {
      for (const which of ['ours', 'etcdctl']) {
        const r =
          which === 'ours'
            ? await timed([process.execPath, cli, 'snapshot', 'status', ours, '-w', 'json'])
            : await timed([ETCDCTL, 'snapshot', 'status', ours, '-w', 'json']);
        if (r.code !== 0) throw new Error(`${which} status failed (exit ${r.code}): ${r.stderr.split('\n').slice(-12).join('\n')}`);
        if (!status[which] || r.wallMs < status[which].wallMs) status[which] = { ...r, rssMiB: Math.max(r.rssMiB, status[which]?.rssMiB ?? 0) };
        log(`status ${which}: ${(r.wallMs / 1000).toFixed(2)} s, peak RSS ${r.rssMiB.toFixed(0)} MiB`);
      }
    }
    try {
      const a = JSON.parse(status.ours.stdout);
      const b = JSON.parse(status.etcdctl.stdout);
      statusAgree = ['hash', 'revision', 'totalKey', 'totalSize'].every((k) => String(a[k]) === String(b[k]));
    } catch {
      statusAgree = false;
    }
  } else {
    log('`etcd-backup snapshot status` does not exist yet: status rows skipped (hook: step 5 of scripts/bench.mjs)');
  }

  // 6. The table.
  const rows = [];
  const row = (what, oursV, theirsV, value, goal, pass) => rows.push([what, oursV, theirsV, value, goal, pass ? 'PASS' : 'MISS']);
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const m = (x) => `${x.toFixed(0)} MiB`;
  const saveRatio = best.ours.wallMs / best.etcdctl.wallMs;
  row('save wall time', s(best.ours.wallMs), s(best.etcdctl.wallMs), `ratio ${saveRatio.toFixed(2)}`, '<= 1.10', saveRatio <= 1.1);
  row('save peak RSS', m(best.ours.rssMiB), m(best.etcdctl.rssMiB), m(best.ours.rssMiB), '<= 128 MiB', best.ours.rssMiB <= 128);
  if (haveStatus) {
    const statusRatio = status.ours.wallMs / status.etcdctl.wallMs;
    row('status wall time', s(status.ours.wallMs), s(status.etcdctl.wallMs), `ratio ${statusRatio.toFixed(2)}`, '<= 1.0', statusRatio <= 1.0);
    row('status peak RSS', m(status.ours.rssMiB), m(status.etcdctl.rssMiB), m(status.ours.rssMiB), '<= 256 MiB', status.ours.rssMiB <= 256);
    row('status figures = etcdctl', '', '', statusAgree ? 'equal' : 'differ', 'equal', statusAgree);
  } else {
    rows.push(['status', 'n/a', '', 'command not there yet', '<= 1.0, <= 256 MiB', 'SKIP']);
  }
  rows.push(...(await benchBackup(endpoint, best.etcdctl.wallMs)));
  if (!process.argv.includes('--no-pitr')) rows.push(...benchPitr());
  const head = ['', 'etcd-backup', 'etcdctl', 'measured', 'goal', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  const sep = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  console.log(`\nDatabase ${(dbSize / MiB).toFixed(0)} MiB (${n} keys of ${valueKb} KiB), snapshot file ${(fileSize / MiB).toFixed(0)} MiB; best of ${rounds}; etcd ${execFileSync(ETCD, ['--version'], { encoding: 'utf8' }).split('\n')[0].replace(/^etcd Version: /, '')}, node ${process.version}, ${require('node:os').cpus().length} CPUs`);
  console.log([sep, line(head), sep, ...rows.map(line), sep].join('\n'));
  return rows.every((r) => r[5] !== 'MISS') ? 0 : 1;
}

/**
 * The point-in-time section: scripts/bench-pitr.mjs in its own process (its own etcd, follower
 * and load), its `what | measured | PASS (goal)` lines turned into rows of the table.
 */
function benchPitr() {
  const args = [join(root, 'scripts', 'bench-pitr.mjs'), '--no-build'];
  args.push('--rate', option('pitr-rate', '1000'), '--seconds', option('pitr-seconds', '120'));
  log(`point-in-time recovery: node ${args.join(' ')}`);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * MiB });
  if (r.status !== 0) return [['pitr: bench-pitr.mjs', 'failed', '', `exit ${r.status ?? r.signal}`, 'runs', 'MISS']];
  return r.stdout
    .split('\n')
    .filter((l) => l.split(' | ').length === 3)
    .map((l) => {
      const [what, measured, verdict] = l.split(' | ');
      const m = /^(PASS|MISS) \((.+)\)$/.exec(verdict);
      return [`pitr: ${what}`, measured, '', '', m ? m[2] : verdict, m ? m[1] : 'INFO'];
    });
}

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    cleanup();
    process.exit(1);
  },
);
