/**
 * The native snapshot reader against real etcd 3.4: snapshots saved by `etcdctl snapshot save`
 * after deletes, leases, values larger than a page (and than a MiB), many keys (a tree with
 * branch pages), compaction and defragmentation; every figure equals etcdctl's on the same file
 * (`snapshot status -w json`, `member list`), and the full listing of live keys equals
 * `etcdctl get "" --prefix -w json` taken right after the save, byte for byte (keys and values
 * in base64, create and mod revisions, versions, leases): the keys listing, the keyspace by
 * prefix and the diff of two snapshots are all derived from etcdctl's listing, never from
 * constants. The CLI prints what etcdctl prints, and damaged files are refused by status,
 * verify and restore's check alike.
 */
import * as assert from 'assert';
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { checkSnapshotForRestore, snapshotFigures } from '../../src/core/restore/snapshotCheck';
import { inspectSnapshot, listKeys, prefixOf, readSnapshotMembers, SnapshotCorruptError } from '../../src/core/snapshot';
import { snapshotStatus, verifySnapshot } from '../../src/core/snapshot';
import { BoltFile } from '../../src/core/snapshot/bbolt';
import { statusOf } from '../../src/core/snapshot/status';
import { EtcdTestCluster, putKeys, startCluster } from '../support';
import { compactAndDefrag, COUNT_PREFIXES, etcdctlStatus, expectationFor, saveWithEtcdctl, writeMixedHistory } from '../support/snapshotData';

const ROOT = join(__dirname, '..', '..');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const opts = { cwd: ROOT, timeout: 60_000, maxBuffer: 256 << 20 };
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', 'cli.ts'), ...args], opts, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** One live key as `etcdctl get -w json` gives it; `lease` in lowercase hex ('' when none). */
interface EtcdctlKv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

/**
 * `etcdctl get "" --prefix -w json`: every live key with its value (base64), revisions,
 * version and lease, in key order, and the store revision it was read at. Lease ids are int64
 * and may exceed 2^53: they are read as text, not as JS numbers.
 */
async function etcdctlListing(c: EtcdTestCluster): Promise<{ revision: number; kvs: EtcdctlKv[] }> {
  const raw = await c.etcdctlOk(['get', '', '--prefix', '-w', 'json'], { endpoints: [c.endpoints[0]] });
  const out = raw.replace(/"lease":(-?\d+)/g, '"lease":"$1"');
  const j = JSON.parse(out) as {
    header: { revision: number };
    kvs?: { key: string; value?: string; create_revision: number; mod_revision: number; version: number; lease?: string }[];
  };
  const kvs = (j.kvs ?? []).map((k) => ({
    key: k.key,
    value: k.value ?? '',
    createRevision: k.create_revision,
    modRevision: k.mod_revision,
    version: k.version,
    lease: k.lease && k.lease !== '0' ? BigInt.asUintN(64, BigInt(k.lease)).toString(16) : '',
  }));
  return { revision: j.header.revision, kvs };
}

/** What etcdctl listed for each snapshot file (the diff test derives its figures from these). */
const listings = new Map<string, EtcdctlKv[]>();

/** Every figure the reader gives equals what etcdctl says about the same file and cluster. */
async function assertSameAsEtcdctl(c: EtcdTestCluster, file: string): Promise<void> {
  const exp = await expectationFor(c, file);
  const listing = await etcdctlListing(c);
  listings.set(file, listing.kvs);
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
  // The full listing, byte for byte: nothing was written between the save and etcdctl's read.
  // (After a compaction that removed a trailing delete, etcd's revision is one past the file's last key.)
  assert.ok(listing.revision >= s.revision, `etcdctl read at ${listing.revision}, the file is at ${s.revision}`);
  assert.ok(listing.kvs.every((k) => k.modRevision <= s.revision), 'etcdctl read the keys as the snapshot holds them');
  const ours = await listKeys(file, { limit: Number.MAX_SAFE_INTEGER, values: false, base64: true });
  assert.strictEqual(ours.matched, listing.kvs.length);
  const mine = ours.keys.map((k) => ({
    key: k.keyBase64,
    value: k.valueBase64,
    createRevision: k.createRevision,
    modRevision: k.modRevision,
    version: k.version,
    lease: k.lease ?? '',
  }));
  for (let i = 0; i < listing.kvs.length; i++) {
    assert.deepStrictEqual(mine[i], listing.kvs[i], `key #${i} ${Buffer.from(listing.kvs[i].key, 'base64').toString()}`);
  }
  // The keyspace by prefix and in all: live keys and bytes (key + value) as etcdctl's listing sums them.
  const byPrefix = new Map<string, { liveKeys: number; liveBytes: number }>();
  let liveBytes = 0;
  for (const kv of listing.kvs) {
    const key = Buffer.from(kv.key, 'base64');
    const bytes = key.length + Buffer.from(kv.value, 'base64').length;
    const p = byPrefix.get(prefixOf(key.toString('utf8'))) ?? { liveKeys: 0, liveBytes: 0 };
    p.liveKeys++;
    p.liveBytes += bytes;
    byPrefix.set(prefixOf(key.toString('utf8')), p);
    liveBytes += bytes;
  }
  assert.strictEqual(r.keyspace.liveBytes, liveBytes);
  const live = r.keyspace.prefixes
    .filter((p) => p.liveKeys > 0)
    .map((p) => [p.prefix, { liveKeys: p.liveKeys, liveBytes: p.liveBytes }] as const);
  assert.deepStrictEqual(new Map(live), byPrefix);
  assert.strictEqual(r.keyspace.keysWithLease, listing.kvs.filter((k) => k.lease).length);
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
    // Values larger than a page and than a MiB: the exact bytes etcdctl returns, and the text shown is their start.
    const big = (listings.get(file) ?? []).filter((k) => Buffer.from(k.key, 'base64').toString().startsWith('/big/'));
    assert.ok(big.some((k) => Buffer.from(k.value, 'base64').length > 1 << 20), 'a value larger than a MiB is listed');
    const keys = await listKeys(file, { prefix: '/big/', base64: true });
    assert.deepStrictEqual(
      keys.keys.map((k) => [k.keyBase64, k.valueBase64, k.valueSize]),
      big.map((k) => [k.key, k.value, Buffer.from(k.value, 'base64').length]),
    );
    for (const [i, k] of keys.keys.entries()) {
      const text = k.value?.text ?? '';
      assert.ok(text.length > 0 && Buffer.from(big[i].value, 'base64').toString('utf8').startsWith(text), k.key);
    }
    // The CLI's listing is the same, byte for byte.
    const cliKeys = await cli(['snapshot', 'keys', file, '--base64', '--keys-only', '--limit', '1000000', '-w', 'json']);
    assert.strictEqual(cliKeys.code, 0, cliKeys.stderr);
    const listed = (JSON.parse(cliKeys.stdout) as { keys: { keyBase64: string; valueBase64: string; modRevision: number }[] }).keys;
    assert.deepStrictEqual(
      listed.map((k) => [k.keyBase64, k.valueBase64, k.modRevision]),
      (listings.get(file) ?? []).map((k) => [k.key, k.value, k.modRevision]),
    );
  });

  it('equals etcdctl on a tree with branch pages (20,000 keys more)', async () => {
    await putKeys(c, '/many/', 20_000, 300);
    await c.etcdctlOk(['del', '/many/0001', '--prefix']);
    const file = join(dir, 'many.db');
    await saveWithEtcdctl(c, file);
    await assertSameAsEtcdctl(c, file);
    const r = await inspectSnapshot(file);
    const many = (listings.get(file) ?? []).filter((k) => Buffer.from(k.key, 'base64').toString().startsWith('/many/')).length;
    assert.strictEqual(r.keyspace.prefixes.find((p) => p.prefix === '/many')?.liveKeys, many, 'as etcdctl lists them');
    assert.ok(many > 10_000, `a tree with branch pages (${many} keys)`);
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
    const d = JSON.parse(diff.stdout) as { added: number; removed: number; changed: number; unchanged: number };
    // Added, removed, changed and unchanged as etcdctl's two listings say.
    const a = new Map((listings.get(join(dir, 'mixed.db')) ?? []).map((k) => [k.key, k.value]));
    const b = new Map((listings.get(join(dir, 'many.db')) ?? []).map((k) => [k.key, k.value]));
    const added = [...b.keys()].filter((k) => !a.has(k)).length;
    const removed = [...a.keys()].filter((k) => !b.has(k)).length;
    const changed = [...a].filter(([k, v]) => b.has(k) && b.get(k) !== v).length;
    assert.ok(a.size > 0 && b.size > 0);
    assert.deepStrictEqual([d.added, d.removed, d.changed, d.unchanged], [added, removed, changed, a.size - removed - changed]);
  });
});
