/**
 * The snapshot tools against hostile files, on real files (no etcd needed): FIFOs, devices and
 * directories given as snapshots are refused at once (the CLI runs as a child with a timeout,
 * so a hang fails the test instead of stalling the suite); a taken sidecar name stops a save
 * before it connects and is never replaced; one rule for hash checks (a check that could not
 * run is reported as not run); a bbolt file that is not etcd's is not "OK"; every subcommand
 * answers --help; durations beyond a timer's reach are refused with a sentence.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { closeSync, constants as fsConstants, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync } from 'fs';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { manifestCommands } from '../../src/cli/manifest';
import { snapshotCommands } from '../../src/cli/snapshot';
import { parseDuration } from '../../src/cli/snapshotSave';
import { parseCommand } from '../../src/cli/args';
import { CliUsageError, CommandSpec } from '../../src/cli/types';
import { MAX_TIMER_MS, refreshIntervalSeconds, validateCluster } from '../../src/core/config';
import { EtcdBackupError } from '../../src/core/errors';
import { checkSnapshotForRestore } from '../../src/core/restore/snapshotCheck';
import { BoltFile, lastRevisionOf } from '../../src/core/snapshot/bbolt';
import { saveSnapshot } from '../../src/core/snapshot/save';
import { readSidecarFor, SIDECAR_FORMAT, SnapshotSidecar, writeSidecar } from '../../src/core/snapshot/sidecar';
import { snapshotStatus } from '../../src/core/snapshot/status';
import { verifySnapshot } from '../../src/core/snapshot/verify';
import { runCli } from '../support/cliDriver';
import { dbImage, FIXTURE_DIR, writeWithTrailer } from '../support/snapshotData';

const TINY = join(FIXTURE_DIR, 'tiny.db');
const MIXED = join(FIXTURE_DIR, 'mixed.db');

/** Open the FIFO's writing end and close it: a reader stuck in open() (old code) gets unstuck. */
function unblock(fifo: string): void {
  try {
    closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
  } catch {
    // no reader waiting
  }
}

async function rejection(p: Promise<unknown>): Promise<EtcdBackupError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EtcdBackupError, `expected an EtcdBackupError, got ${err instanceof Error ? err.stack : String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** A copy of `src` (image only) whose top-level buckets `from` are renamed `to` (same length, still in order): a bbolt file, not etcd's. */
async function renameBuckets(src: string, out: string, renames: [string, string][]): Promise<void> {
  const db = dbImage(src);
  const f = await BoltFile.open(src);
  const at = f.meta.root * f.pageSize;
  await f.close();
  const count = db.readUInt16LE(at + 10);
  for (let i = 0; i < count; i++) {
    const e = at + 16 + i * 16;
    const kOff = e + db.readUInt32LE(e + 4);
    const kLen = db.readUInt32LE(e + 8);
    const name = db.toString('latin1', kOff, kOff + kLen);
    for (const [from, to] of renames) {
      if (name === from) db.write(to, kOff, 'latin1');
    }
  }
  writeWithTrailer(out, db);
}

describe('snapshot files: non-regular inputs, names never replaced, hash-check rule', function () {
  this.timeout(60_000);
  let dir: string;
  let fifo: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapshot-files-'));
    fifo = join(dir, 'pipe.db');
    execFileSync('mkfifo', [fifo]);
  });
  after(() => {
    unblock(fifo);
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => unblock(fifo));

  it('the CLI refuses a FIFO given as a snapshot at once (status, verify, inspect, keys, diff), with a sentence', async () => {
    const runs = await runCli([
      ['snapshot', 'status', fifo],
      ['snapshot', 'verify', fifo],
      ['snapshot', 'inspect', fifo],
      ['snapshot', 'keys', fifo],
      ['snapshot', 'diff', TINY, fifo],
    ]);
    for (const r of runs) {
      assert.ok(!r.hung, `${r.argv.join(' ')} hung on the FIFO`);
      assert.strictEqual(r.code, 1, r.stderr);
      assert.match(r.stderr, /pipe\.db is a FIFO \(named pipe\), not a regular file: give the snapshot file itself/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('devices and directories are refused too, before any read', async () => {
    for (const p of ['/dev/zero', '/dev/null']) {
      const e = await rejection(snapshotStatus(p));
      assert.strictEqual(e.kind, 'invalidInput', e.message);
      assert.match(e.message, /is a character device, not a regular file/);
    }
    const e = await rejection(snapshotStatus(dir));
    assert.match(e.message, /is a directory: give the snapshot file/);
    const v = await verifySnapshot('/dev/zero');
    assert.strictEqual(v.ok, false);
    assert.strictEqual(v.hashCheck, 'notRun');
    assert.match(v.reason ?? '', /not a regular file/);
  });

  it("the restore's input check and the sidecar reader do not block on a FIFO", async function () {
    this.timeout(10_000);
    const check = await checkSnapshotForRestore(fifo);
    assert.strictEqual(check.ok, false);
    assert.strictEqual(check.kind, 'invalidInput');
    assert.match(check.reason ?? '', /is a FIFO \(named pipe\), not a regular file/);
    // A FIFO where the sidecar would be: read as "no sidecar", at once.
    const snap = join(dir, 'with-fifo-sidecar.db');
    copyFileSync(TINY, snap);
    const side = join(dir, 'with-fifo-sidecar.json');
    execFileSync('mkfifo', [side]);
    try {
      assert.strictEqual(await readSidecarFor(snap), undefined);
    } finally {
      unblock(side);
    }
  });

  it('save refuses an output path that is a FIFO or a taken sidecar name before connecting, and replaces nothing', async () => {
    const cfg = { name: 'c', endpoints: ['http://127.0.0.1:1'], timeoutMs: 500 };
    const e1 = await rejection(saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', file: fifo }));
    assert.strictEqual(e1.kind, 'conflict', e1.message);
    assert.match(e1.message, /pipe\.db already exists \(a FIFO \(named pipe\)\): snapshots never overwrite a file/);

    // b.json is a snapshot saved earlier; b.db's sidecar would be b.json.
    const sub = join(dir, 'taken');
    mkdirSync(sub);
    const first = join(sub, 'b.json');
    copyFileSync(TINY, first);
    const before = readFileSync(first);
    const e2 = await rejection(saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', file: join(sub, 'b.db') }));
    assert.strictEqual(e2.kind, 'conflict', `refused before connecting, not "${e2.kind}": ${e2.message}`);
    assert.match(e2.message, /b\.json already exists, and it is where the sidecar of b\.db would go: snapshots never overwrite a file/);
    assert.ok(readFileSync(first).equals(before), 'the earlier snapshot is untouched');
    assert.deepStrictEqual(readdirSync(sub), ['b.json']);
    // A dangling symlink is a taken name too.
    const sub2 = join(dir, 'dangling');
    mkdirSync(sub2);
    execFileSync('ln', ['-s', join(sub2, 'nowhere'), join(sub2, 'c.json')]);
    const e3 = await rejection(saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', file: join(sub2, 'c.db') }));
    assert.strictEqual(e3.kind, 'conflict', e3.message);
    assert.match(e3.message, /c\.json \(a symbolic link\) already exists/);
  });

  it('writeSidecar never replaces a file (exclusive temp, then link) and leaves no temp behind', async () => {
    const sub = join(dir, 'sidecar');
    mkdirSync(sub);
    const existing = join(sub, 'x.json');
    writeFileSync(existing, 'precious');
    const sample = { format: SIDECAR_FORMAT, version: 1, clusterId: '1', members: [], revision: 1 } as unknown as SnapshotSidecar;
    const e = await rejection(writeSidecar(join(sub, 'x.db'), sample));
    assert.strictEqual(e.kind, 'conflict');
    assert.strictEqual(readFileSync(existing, 'utf8'), 'precious');
    assert.deepStrictEqual(readdirSync(sub), ['x.json']);
    const p = await writeSidecar(join(sub, 'y.db'), sample);
    assert.strictEqual(p, join(sub, 'y.json'));
    assert.deepStrictEqual(readdirSync(sub).sort(), ['x.json', 'y.json']);
  });

  it('verify refuses a bbolt file that is not an etcd snapshot (no "key" or "meta" bucket) instead of "OK, revision 0"', async () => {
    const notEtcd = join(dir, 'not-etcd.db');
    await renameBuckets(TINY, notEtcd, [
      ['key', 'kez'],
      ['meta', 'mzta'],
    ]);
    const r = await verifySnapshot(notEtcd, { requireTrailer: true });
    assert.strictEqual(r.ok, false, r.summary);
    assert.strictEqual(r.kind, 'invalidInput');
    assert.match(r.reason ?? '', /is a bbolt database but not an etcd snapshot: it has no "key" or "meta" bucket \(its buckets are /);
    const [cli] = await runCli([['snapshot', 'verify', notEtcd]]);
    assert.strictEqual(cli.code, 1, cli.stdout);
    assert.doesNotMatch(cli.stdout, /OK/);
    assert.match(cli.stderr, /not an etcd snapshot/);
    // The restore's check refuses it the same way.
    const check = await checkSnapshotForRestore(notEtcd);
    assert.strictEqual(check.ok, false);
    assert.match(check.reason ?? '', /not an etcd snapshot/);
  });

  it('one rule for hash checks: a check that could not run is said, and verify fails without a trailer unless told to skip', async () => {
    const raw = join(dir, 'raw.db');
    writeFileSync(raw, dbImage(MIXED));
    // verify without a trailer: refused, as restore refuses it, with the way out.
    const [v, skipped, withTrailer, st, plain] = await runCli([
      ['snapshot', 'verify', raw],
      ['snapshot', 'verify', raw, '--skip-hash-check'],
      ['snapshot', 'verify', MIXED, '--skip-hash-check', '-w', 'json'],
      ['snapshot', 'status', raw, '--check-hash', '-w', 'json'],
      ['snapshot', 'status', raw],
    ]);
    assert.strictEqual(v.code, 1, v.stdout);
    assert.match(v.stderr, /raw\.db has no SHA-256 trailer, so its integrity could not be checked .*the hash check did not run/);
    assert.match(v.stderr, /To check its structure only, run again with --skip-hash-check\./);
    assert.strictEqual(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /OK\. .*hash check skipped \(no SHA-256 trailer\)/);
    // --skip-hash-check on a file WITH a trailer says it was skipped, not that there is none.
    assert.strictEqual(withTrailer.code, 0, withTrailer.stderr);
    const j = JSON.parse(withTrailer.stdout) as { hashCheck: string; summary: string; hasHashTrailer: boolean };
    assert.strictEqual(j.hashCheck, 'skipped');
    assert.strictEqual(j.hasHashTrailer, true);
    assert.doesNotMatch(j.summary, /no SHA-256 trailer/);
    assert.match(j.summary, /hash check skipped \(the SHA-256 trailer was not compared\)/);
    const checked = await verifySnapshot(MIXED, { requireTrailer: true });
    assert.strictEqual(checked.hashCheck, 'matched');
    assert.match(checked.summary, /SHA-256 trailer matches/);
    // status --check-hash on a file without a trailer: the figures, and exit 1 saying the check did not run.
    assert.strictEqual(st.code, 1, st.stderr);
    assert.strictEqual((JSON.parse(st.stdout) as { revision: number }).revision, (await snapshotStatus(MIXED)).revision);
    assert.match(st.stderr, /the hash check did not run: .*raw\.db has no SHA-256 trailer/);
    assert.strictEqual(plain.code, 0, 'without --check-hash nothing was asked that could not run');
  });

  it('reads the revision of a file from its last key in a few page reads, equal to the full walk', async () => {
    for (const name of ['tiny.db', 'mixed.db', 'compacted.db']) {
      const p = join(FIXTURE_DIR, name);
      const f = await BoltFile.open(p);
      try {
        const r = lastRevisionOf(f);
        assert.strictEqual(r.found, true);
        assert.strictEqual(r.revision, (await snapshotStatus(p)).revision, name);
        assert.ok(f.reads < 10, `${f.reads} reads`);
      } finally {
        await f.close();
      }
    }
    const notEtcd = join(dir, 'no-key.db');
    await renameBuckets(TINY, notEtcd, [['key', 'kez']]);
    const f = await BoltFile.open(notEtcd);
    try {
      assert.deepStrictEqual(lastRevisionOf(f), { found: false, revision: 0 });
    } finally {
      await f.close();
    }
  });
});

describe('CLI: --help on every subcommand, durations within reach', function () {
  this.timeout(120_000);

  it('every subcommand answers --help and -h with its usage on stdout, exit 0 (trial-restore said "unknown flag")', async () => {
    const all = [
      ...Object.keys(snapshotCommands).map((c) => ['snapshot', c]),
      ...Object.keys(manifestCommands).map((c) => ['manifest', c]),
    ];
    const results = await runCli(all.map(([g, c], i) => [g, c, i % 2 ? '-h' : '--help']));
    results.forEach((r, i) => {
      assert.strictEqual(r.code, 0, `${all[i].join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: etcd-backup /, `${all[i].join(' ')}: ${r.stdout}`);
      assert.strictEqual(r.stderr, '', all[i].join(' '));
    });
    const trial = results[all.findIndex(([g, c]) => g === 'snapshot' && c === 'trial-restore')];
    assert.match(trial.stdout, /--skip-hash-check/);
    // In the parser: --help is known to every command; after "--" it is an argument.
    const spec: CommandSpec = { name: 'x', summary: 's', positionals: { usage: '[a]', min: 0, max: 1 }, options: { y: { type: 'boolean', help: 'y' } } };
    assert.strictEqual(parseCommand(spec, ['x', '--help']), undefined);
    assert.strictEqual(parseCommand(spec, ['-h']), undefined);
    assert.deepStrictEqual(parseCommand(spec, ['--', '--help'])?.positionals, ['--help']);
    assert.throws(() => parseCommand(spec, ['--nope']), CliUsageError);
  });

  it('bounds durations at parse time with a sentence: never a false deadline nor a stack trace', async () => {
    assert.strictEqual(parseDuration('596h', 'command-timeout'), 596 * 3_600_000);
    assert.throws(
      () => parseDuration('1000h', 'command-timeout'),
      (e: unknown) => e instanceof CliUsageError && /--command-timeout 1000h is longer than .* 596h 31m/.test(e.message),
    );
    assert.throws(() => parseDuration('99999999999999999999999h', 'stall-timeout'), /--stall-timeout .* is longer than this tool can wait/);
    assert.throws(() => parseDuration(`${'9'.repeat(400)}`, 'stall-timeout'), /is longer than this tool can wait/);
    assert.throws(() => parseDuration('20m', 'dial-timeout', { min: 100, max: 600_000 }), /give at most 10m\./);
    assert.throws(() => parseDuration('0', 'x'), /must be more than zero/);
    assert.ok(MAX_TIMER_MS === 2 ** 31 - 1);
    const never = join(tmpdir(), `never-${process.pid}.db`);
    const [r, huge] = await runCli([
      ['snapshot', 'save', never, '--endpoints', 'http://127.0.0.1:1', '--command-timeout', '1000h'],
      ['snapshot', 'save', never, '--endpoints', 'http://127.0.0.1:1', '--dial-timeout', `${'9'.repeat(30)}h`],
    ]);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stderr, /--command-timeout 1000h is longer than this tool can wait/);
    assert.doesNotMatch(r.stderr, /deadline \(|\n\s+at /);
    assert.ok(!existsSync(never));
    assert.strictEqual(huge.code, 2, huge.stderr);
    assert.doesNotMatch(huge.stderr, /\n\s+at /);
    // Settings: timeoutMs and the refresh interval are bounded in core.
    const v = validateCluster({ name: 'p', endpoints: ['http://a:1'], timeoutMs: 2 ** 31 });
    assert.match(v.problems[0], /"timeoutMs" must be a number of milliseconds between 100 and 600000/);
    assert.strictEqual(refreshIntervalSeconds(1e12), 3600);
    assert.strictEqual(refreshIntervalSeconds(2), 5);
    assert.strictEqual(refreshIntervalSeconds(-1), 0);
    assert.strictEqual(refreshIntervalSeconds(Number.NaN), 0);
    // The core refuses a deadline a timer cannot keep, whoever calls it.
    const cfg = { name: 'c', endpoints: ['http://127.0.0.1:1'] };
    const e = await rejection(saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', dir: tmpdir(), deadlineMs: 2 ** 31 }));
    assert.strictEqual(e.kind, 'invalidInput');
    assert.match(e.message, /cannot be kept/);
  });
});
