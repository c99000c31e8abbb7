/**
 * The native snapshot reader against real etcd 3.4: snapshots saved by `etcdctl snapshot save`
 * after deletes, leases, values larger than a page (and than a MiB), many keys (a tree with
 * branch pages), compaction and defragmentation; every figure equals etcdctl's on the same file
 * (`snapshot status -w json`, `member list`, `get --prefix` counts), the CLI prints what
 * etcdctl prints, and damaged files are refused by status, verify and restore's check alike.
 */
import * as assert from 'assert';
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { checkSnapshotForRestore, snapshotFigures } from '../../src/core/restore/snapshotCheck';
import { inspectSnapshot, listKeys, readSnapshotMembers, SnapshotCorruptError, snapshotStatus, verifySnapshot } from '../../src/core/snapshot';
import { BoltFile } from '../../src/core/snapshot/bbolt';
import { statusOf } from '../../src/core/snapshot/status';
import { EtcdTestCluster, putKeys, startCluster } from '../support';
import { compactAndDefrag, COUNT_PREFIXES, etcdctlStatus, expectationFor, saveWithEtcdctl, writeMixedHistory } from '../support/snapshotData';

const ROOT = join(__dirname, '..', '..');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', 'cli.ts'), ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Every figure the reader gives equals what etcdctl says about the same file and cluster. */
async function assertSameAsEtcdctl(c: EtcdTestCluster, file: string): Promise<void> {
  const exp = await expectationFor(c, file);
  const s = await snapshotStatus(file, { checkHash: true });
  assert.deepStrictEqual({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize }, exp.status);
  assert.strictEqual(s.sha256?.ok, true);
  // Large files share the hashing with a worker thread: the same hash either way.
  const f = await BoltFile.open(file);
  try {
    assert.strictEqual((await statusOf(f, { parallel: true })).status.hash, exp.status.hash);
  } finally {
    await f.close();
  }
  const r = await inspectSnapshot(file);
  const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : 1);
  assert.deepStrictEqual([...r.members].sort(byId), [...exp.members].sort(byId));
  assert.deepStrictEqual((await readSnapshotMembers(file)).sort(byId), [...exp.members].sort(byId));
  assert.strictEqual(r.keyspace.liveKeys, exp.liveKeys);
  for (const p of COUNT_PREFIXES) {
    assert.strictEqual((await listKeys(file, { prefix: p, limit: 0 })).matched, exp.counts[p], `count of ${p}`);
  }
  const v = await verifySnapshot(file);
  assert.strictEqual(v.ok, true, v.reason);
  const check = await checkSnapshotForRestore(file);
  assert.deepStrictEqual([check.ok, check.hasHash], [true, true]);
  assert.deepStrictEqual(await snapshotFigures(file), { revision: exp.status.revision, liveKeys: exp.liveKeys, source: 'the snapshot reader' });
  // The CLI prints exactly what etcdctl prints.
  for (const w of ['json', 'table', 'simple']) {
    const ours = await cli(['snapshot', 'status', file, '-w', w]);
    const theirs = await c.etcdctl(['snapshot', 'status', file, '-w', w], { endpoints: [], user: null });
    assert.strictEqual(ours.code, 0, ours.stderr);
    assert.strictEqual(ours.stdout.trim(), theirs.stdout.trim(), `-w ${w}`);
  }
}

describe('snapshot reader on real etcd (integration)', function () {
  this.timeout(300_000);
  let c: EtcdTestCluster;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapshot-reader-it-'));
    c = await startCluster({ members: 3 });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('equals etcdctl after deletes, leases and values larger than a page and than a MiB', async () => {
    await writeMixedHistory(c);
    const file = join(dir, 'mixed.db');
    await saveWithEtcdctl(c, file);
    await assertSameAsEtcdctl(c, file);
    const keys = await listKeys(file, { prefix: '/big/' });
    assert.deepStrictEqual(
      keys.keys.map((k) => [k.key, k.valueSize]),
      [
        ['/big/1200k', 1_200_000],
        ['/big/20k', 21_000],
      ],
    );
    assert.ok(keys.keys[0].value?.text?.startsWith('/big/1200k;'));
  });

  it('equals etcdctl on a tree with branch pages (20,000 keys more)', async () => {
    await putKeys(c, '/many/', 20_000, 300);
    await c.etcdctlOk(['del', '/many/0001', '--prefix']);
    const file = join(dir, 'many.db');
    await saveWithEtcdctl(c, file);
    await assertSameAsEtcdctl(c, file);
    const r = await inspectSnapshot(file);
    assert.strictEqual(r.keyspace.prefixes.find((p) => p.prefix === '/many')?.liveKeys, 19_900, 'keys 000100-000199 deleted');
  });

  it('equals etcdctl after compaction and defragmentation', async () => {
    const rev = await compactAndDefrag(c);
    const file = join(dir, 'compacted.db');
    await saveWithEtcdctl(c, file);
    await assertSameAsEtcdctl(c, file);
    const r = await inspectSnapshot(file);
    assert.strictEqual(r.compactRevision, rev);
    assert.strictEqual(r.keyspace.revisions, r.keyspace.liveKeys, 'no history left after compaction');
  });

  it('refuses damaged files with what is wrong: status, verify and restore alike', async () => {
    const file = join(dir, 'mixed.db');
    const bytes = readFileSync(file);
    // One flipped byte in the middle.
    const flipped = join(dir, 'flipped.db');
    const b = Buffer.from(bytes);
    b[Math.floor(b.length / 2)] ^= 0x5a;
    writeFileSync(flipped, b);
    const v = await verifySnapshot(flipped);
    assert.strictEqual(v.ok, false);
    assert.match(v.reason ?? '', /flipped\.db is corrupt: the SHA-256 of its database .* does not match the trailer/);
    assert.match((await checkSnapshotForRestore(flipped)).reason ?? '', /does not match the trailer/);
    const ver = await cli(['snapshot', 'verify', flipped]);
    assert.strictEqual(ver.code, 1);
    assert.match(ver.stderr, /is corrupt: the SHA-256/);
    const st = await cli(['snapshot', 'status', flipped, '--check-hash']);
    assert.strictEqual(st.code, 1);
    // Truncated.
    const cut = join(dir, 'cut.db');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 3)));
    await assert.rejects(snapshotStatus(cut), (e: Error) => e instanceof SnapshotCorruptError && /cut\.db is truncated: it has \d+ bytes but its database needs \d+/.test(e.message));
    assert.match((await verifySnapshot(cut)).reason ?? '', /is truncated/);
    const check = await checkSnapshotForRestore(cut);
    assert.deepStrictEqual([check.ok, check.kind], [false, 'corrupt']);
    assert.match(check.reason ?? '', /is truncated/);
    const cs = await cli(['snapshot', 'status', cut, '-w', 'json']);
    assert.strictEqual(cs.code, 1);
    assert.strictEqual(cs.stdout, '');
    assert.match(cs.stderr, /^etcd-backup snapshot status: .*cut\.db is truncated/);
    // etcdctl cannot read it either.
    assert.notStrictEqual((await c.etcdctl(['snapshot', 'status', cut, '-w', 'json'], { endpoints: [], user: null })).code, 0);
  });

  it('verifies and inspects from the command line', async () => {
    const file = join(dir, 'compacted.db');
    const ok = await cli(['snapshot', 'verify', file]);
    assert.strictEqual(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK\. .*SHA-256 trailer matches/);
    const ins = await cli(['snapshot', 'inspect', file, '-w', 'json']);
    const r = JSON.parse(ins.stdout) as { status: { revision: number }; members: unknown[] };
    assert.strictEqual(r.status.revision, (await etcdctlStatus(c, file)).revision);
    assert.strictEqual(r.members.length, 3);
    const diff = await cli(['snapshot', 'diff', join(dir, 'mixed.db'), join(dir, 'many.db'), '-w', 'json']);
    const d = JSON.parse(diff.stdout) as { added: number; removed: number };
    assert.deepStrictEqual([d.added, d.removed], [19_900, 0]);
  });
});
