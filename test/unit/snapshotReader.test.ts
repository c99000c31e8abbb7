/**
 * The native snapshot reader (src/core/snapshot) on snapshots a real etcd 3.4 wrote
 * (test/fixtures/snapshots/, made by scripts/make-snapshot-fixtures.ts with what etcdctl said
 * about them), and on damaged copies made here: truncated, bit-flipped, keys out of order,
 * pages reached twice or out of bounds, bad metas, not a snapshot at all.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { checkSnapshotForRestore, snapshotFigures } from '../../src/core/restore/snapshotCheck';
import { proposeFromSnapshot } from '../../src/core/restore/sources';
import {
  crc32c,
  crc32cUpdate,
  diffSnapshots,
  inspectSnapshot,
  listKeys,
  prefixOf,
  readSnapshotMembers,
  SnapshotCorruptError,
  snapshotStatus,
  verifySnapshot,
} from '../../src/core/snapshot';
import { BoltFile, fnv1a64, walkTree } from '../../src/core/snapshot/bbolt';
import { nativeCrc32cPath, usesNativeCrc32c } from '../../src/core/snapshot/crc32c';
import { crc32cCombine } from '../../src/core/snapshot/hasher';
import { describeValue } from '../../src/core/snapshot/mvcc';
import { statusOf } from '../../src/core/snapshot/status';
import type { SnapshotExpectation } from '../support/snapshotData';
import { dbImage, FIXTURE_DIR, writeWithTrailer } from '../support/snapshotData';

const FIXTURES = ['mixed', 'compacted', 'tiny'];
const fixture = (n: string): string => join(FIXTURE_DIR, `${n}.db`);
const expected = (n: string): SnapshotExpectation => JSON.parse(readFileSync(join(FIXTURE_DIR, `${n}.expected.json`), 'utf8')) as SnapshotExpectation;

/** Pages of a db image: id, flags, count, overflow. */
function pages(db: Buffer): { id: number; flags: number; count: number; off: number }[] {
  const ps = db.readUInt32LE(16 + 8);
  const out: { id: number; flags: number; count: number; off: number }[] = [];
  for (let id = 2; (id + 1) * ps <= db.length; id++) {
    const off = id * ps;
    if (db.readUInt32LE(off) !== id) continue;
    out.push({ id, flags: db.readUInt16LE(off + 8), count: db.readUInt16LE(off + 10), off });
  }
  return out;
}

/** Pages the tree reaches in a db image (a walk of it as a raw file). */
async function reachable(db: Buffer): Promise<(id: number) => boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'snapshot-reach-'));
  try {
    writeFileSync(join(dir, 'db'), db);
    const f = await BoltFile.open(join(dir, 'db'));
    try {
      return (await walkTree(f, () => 'check')).isReached;
    } finally {
      await f.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A reached page of the `key` bucket: a leaf (revision keys of 17 bytes, at least `min`), or a branch. */
async function keyPage(db: Buffer, flags: 1 | 2, min = 2): Promise<{ id: number; off: number; count: number }> {
  const reached = await reachable(db);
  const p = pages(db).find((x) => reached(x.id) && x.flags === flags && x.count >= min && db.readUInt32LE(x.off + 16 + (flags === 2 ? 8 : 4)) === 17);
  assert.ok(p, `a reached ${flags === 2 ? 'leaf' : 'branch'} page of the key bucket`);
  return p;
}

describe('snapshot reader (core/snapshot)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'snapshot-reader-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe('CRC-32C', () => {
    it('gives the Castagnoli check value and continues across pieces at any alignment', () => {
      assert.strictEqual(crc32c(Buffer.from('123456789')).toString(16), 'e3069283');
      assert.strictEqual(crc32c(Buffer.alloc(0)), 0);
      assert.strictEqual(crc32c(Buffer.alloc(32)).toString(16), '8a9136aa');
      const b = Buffer.alloc(1000);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
      const whole = crc32c(b);
      for (const cut of [0, 1, 3, 17, 500, 999]) {
        assert.strictEqual(crc32cUpdate(crc32cUpdate(0, b, 0, cut), b, cut, b.length), whole, `cut at ${cut}`);
      }
      // A view at an odd offset of a larger buffer gives the same as a copy.
      const big = Buffer.alloc(1100);
      b.copy(big, 37);
      assert.strictEqual(crc32cUpdate(0, big.subarray(37, 1037)), whole);
    });

    it('checks bbolt meta checksums with FNV-1a 64', () => {
      assert.strictEqual(fnv1a64(Buffer.from('a'), 0, 1), 0xaf63dc4c8601ec8cn);
    });
  });

  describe('status', () => {
    for (const n of FIXTURES) {
      it(`equals etcdctl snapshot status -w json on ${n}.db`, async () => {
        const s = await snapshotStatus(fixture(n));
        assert.deepStrictEqual({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize }, expected(n).status);
        assert.strictEqual(s.hashHex, expected(n).status.hash.toString(16));
        assert.strictEqual(s.hasHashTrailer, true);
        assert.strictEqual(s.clusterVersion, '3.4.0');
        assert.strictEqual(s.version, undefined, 'no storageVersion before etcd 3.6');
        assert.strictEqual(s.buckets.reduce((a, b) => a + b.keys, 0), s.totalKey);
      });
    }

    it('hashes with the hardware CRC-32C where @node-rs/crc32 has a binding (linux x64 here), giving the plain JS results', () => {
      if (process.platform === 'linux' && process.arch === 'x64') {
        assert.ok(usesNativeCrc32c(), 'npm ci installs the optional @node-rs/crc32 binding for linux x64; it loads');
        assert.ok(nativeCrc32cPath());
      }
      const big = Buffer.alloc((1 << 20) + 13);
      for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
      // Runs under 256 bytes always take the JS path; one run of a MiB takes the native one.
      let js = 0;
      for (let i = 0; i < big.length; i += 200) js = crc32cUpdate(js, big, i, Math.min(i + 200, big.length));
      assert.strictEqual(crc32cUpdate(0, big), js);
      assert.strictEqual(crc32cUpdate(crc32cUpdate(0, big, 0, 1000), big, 1000, big.length), js);
    });

    it('gives etcdctl\'s figures with the plain JS CRC too (ETCD_BACKUP_NATIVE_CRC=0), on one thread and two', () => {
      for (const n of FIXTURES) {
        for (const parallel of ['0', '1']) {
          const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', `require('./src/core/snapshot').snapshotStatus(${JSON.stringify(fixture(n))}, { parallel: ${parallel} === '1' }).then((s) => process.stdout.write(JSON.stringify([s.hash, s.totalKey, s.revision])))`], {
            cwd: join(__dirname, '..', '..'),
            env: { ...process.env, ETCD_BACKUP_NATIVE_CRC: '0' },
            encoding: 'utf8',
          });
          const e = expected(n).status;
          assert.deepStrictEqual(JSON.parse(out), [e.hash, e.totalKey, e.revision], `${n}, parallel ${parallel}`);
        }
      }
    });

    it('joins CRCs of consecutive runs of any length (crc32c_combine with precomputed operators)', () => {
      let seed = 7;
      const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
      for (let i = 0; i < 100; i++) {
        const a = Buffer.alloc(rnd(3000));
        const b = Buffer.alloc(i === 0 ? 5 << 20 : rnd(70_000));
        for (const x of [a, b]) for (let j = 0; j < x.length; j++) x[j] = rnd(256);
        assert.strictEqual(crc32cCombine(crc32c(a), crc32c(b), b.length), crc32c(Buffer.concat([a, b])), `lengths ${a.length} + ${b.length}`);
      }
    });

    it('gives the same hash when a worker thread shares the hashing (large files)', async () => {
      for (const n of FIXTURES) {
        const f = await BoltFile.open(fixture(n));
        try {
          assert.strictEqual((await statusOf(f, { parallel: true })).status.hash, expected(n).status.hash, n);
        } finally {
          await f.close();
        }
      }
      const a = Buffer.from('hello, ');
      const b = Buffer.from('world, and a longer tail than the head');
      assert.strictEqual(crc32cCombine(crc32c(a), crc32c(b), b.length), crc32c(Buffer.concat([a, b])));
      assert.strictEqual(crc32cCombine(crc32c(a), 0, 0), crc32c(a));
    });

    it('checks the trailer when asked', async () => {
      const s = await snapshotStatus(fixture('mixed'), { checkHash: true });
      assert.strictEqual(s.sha256?.ok, true);
      assert.strictEqual(s.sha256?.actual.length, 64);
    });

    it('reads a raw db (no trailer) the same, saying it has no trailer', async () => {
      const raw = join(root, 'db');
      writeFileSync(raw, dbImage(fixture('mixed')));
      const s = await snapshotStatus(raw, { checkHash: true });
      assert.strictEqual(s.hash, expected('mixed').status.hash);
      assert.strictEqual(s.hasHashTrailer, false);
      assert.strictEqual(s.sha256, undefined);
    });

    it('stops when cancelled', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(snapshotStatus(fixture('mixed'), { signal: ac.signal }), (e: Error & { kind?: string }) => e.kind === 'cancelled');
    });
  });

  describe('inspect', () => {
    for (const n of FIXTURES) {
      it(`finds the members, live keys and per-prefix counts etcdctl gave for ${n}.db`, async () => {
        const exp = expected(n);
        const r = await inspectSnapshot(fixture(n));
        const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : 1);
        assert.deepStrictEqual([...r.members].sort(byId), [...exp.members].sort(byId));
        assert.deepStrictEqual(await readSnapshotMembers(fixture(n)), r.members);
        assert.strictEqual(r.keyspace.liveKeys, exp.liveKeys);
        assert.strictEqual(r.status.totalKey, exp.status.totalKey);
        for (const [prefix, count] of Object.entries(exp.counts)) {
          assert.strictEqual((await listKeys(fixture(n), { prefix, limit: 0 })).matched, count, prefix);
        }
        const sum = r.keyspace.prefixes.reduce((a, p) => a + p.liveKeys, 0);
        assert.strictEqual(sum, exp.liveKeys);
      });
    }

    it('breaks the keyspace down by Kubernetes resource, with history and tombstones', async () => {
      const r = await inspectSnapshot(fixture('mixed'));
      const p = (name: string) => r.keyspace.prefixes.find((x) => x.prefix === name);
      assert.strictEqual(p('/registry/pods')?.liveKeys, 18);
      assert.strictEqual(p('/registry/pods')?.revisions, 54, 'each pod written three times');
      assert.ok(p('/registry/example.com/widgets'), 'API groups keep their resource');
      assert.ok(p('/registry/services/specs') && p('/registry/services/endpoints'));
      assert.strictEqual(r.keyspace.deletedKeys, 7, 'events of demo (6) and one secret');
      assert.ok(r.keyspace.tombstones >= 5);
      assert.strictEqual(r.keyspace.keysWithLease, 3);
      assert.strictEqual(r.leases, 1);
      assert.strictEqual(r.keyspace.newestRevision, r.status.revision);
      assert.deepStrictEqual(r.keyspace.largest[0], { key: '/big/20k', bytes: 21008, revisions: 2 });
      assert.ok(r.keyspace.largest.every((l, i, a) => i === 0 || a[i - 1].bytes >= l.bytes));
      assert.strictEqual(r.compactRevision, undefined);
      const c = await inspectSnapshot(fixture('compacted'));
      assert.strictEqual(c.compactRevision, c.status.revision, 'compacted at the last revision');
      assert.strictEqual(c.keyspace.revisions, c.keyspace.liveKeys, 'after compaction only live revisions remain');
      const deep = await inspectSnapshot(fixture('mixed'), { prefixDepth: 3 });
      assert.ok(deep.keyspace.prefixes.find((x) => x.prefix === '/registry/events/default'));
    });

    it('lists keys with their values as text, JSON, Kubernetes protobuf or binary', async () => {
      const exp = expected('mixed');
      const all = await listKeys(fixture('mixed'), { limit: 1000 });
      assert.strictEqual(all.matched, exp.liveKeys);
      const sorted = all.keys.map((k) => k.key);
      assert.deepStrictEqual(sorted, [...sorted].sort());
      const get = (k: string) => all.keys.find((x) => x.key === k);
      for (const [k, b64] of Object.entries(exp.values)) {
        assert.strictEqual(get(k)?.valueSize, Buffer.from(b64, 'base64').length, k);
      }
      assert.deepStrictEqual([get('/text/hello')?.value?.kind, get('/text/hello')?.value?.text], ['text', 'hello again']);
      assert.strictEqual(get('/text/utf8')?.value?.text, 'grüße, 日本語');
      assert.strictEqual(get('/text/json')?.value?.kind, 'json');
      assert.strictEqual(get('/bin/blob')?.value?.kind, 'binary');
      const pod = get('/registry/pods/default/default-app-5d8f7c9b6d-a0')?.value;
      assert.strictEqual(pod?.kind, 'k8s-protobuf');
      assert.deepStrictEqual(pod?.k8s, { apiVersion: 'v1', kind: 'Pod', name: 'default-app-5d8f7c9b6d-a0', namespace: 'default' });
      assert.match(get('/lease/held-0')?.lease ?? '', /^[0-9a-f]+$/);
      assert.strictEqual(get('/big/20k')?.valueSize, 21000);
      assert.ok(get('/big/20k')?.value?.text?.startsWith('/big/20k#2;'));
      // Searching.
      assert.deepStrictEqual((await listKeys(fixture('mixed'), { keyContains: 'utf' })).keys.map((k) => k.key), ['/text/utf8']);
      assert.deepStrictEqual((await listKeys(fixture('mixed'), { valueContains: 'again' })).keys.map((k) => k.key), ['/text/hello']);
      assert.strictEqual((await listKeys(fixture('mixed'), { valueContains: 'hello, world' })).matched, 0, 'only the latest value counts');
      // An inline key bucket (tiny.db) reads the same.
      assert.deepStrictEqual((await listKeys(fixture('tiny'))).keys.map((k) => [k.key, k.value?.text]), [
        ['/a', 'one'],
        ['/b', 'two'],
      ]);
    });

    it('groups keys by prefix', () => {
      assert.strictEqual(prefixOf('/registry/secrets/default/s1'), '/registry/secrets');
      assert.strictEqual(prefixOf('/registry/ranges/serviceips'), '/registry/ranges');
      assert.strictEqual(prefixOf('/registry/apiregistration.k8s.io/apiservices/v1.'), '/registry/apiregistration.k8s.io/apiservices');
      assert.strictEqual(prefixOf('/registry/services/specs/default/x'), '/registry/services/specs');
      assert.strictEqual(prefixOf('/registry/events/ns1/e', 3), '/registry/events/ns1');
      assert.strictEqual(prefixOf('/a'), '/');
      assert.strictEqual(prefixOf('foo/bar/baz', 1), 'foo');
      assert.strictEqual(prefixOf('plain'), '(no prefix)');
    });

    it('describes values', () => {
      assert.strictEqual(describeValue(Buffer.alloc(0)).kind, 'empty');
      assert.strictEqual(describeValue(Buffer.from('x'.repeat(10000)), 100).truncated, true);
      assert.strictEqual(describeValue(Buffer.from([0xc3, 0x28])).kind, 'binary', 'invalid UTF-8');
    });

    it('compares two snapshots by prefix', async () => {
      const d = await diffSnapshots(fixture('tiny'), fixture('mixed'));
      assert.strictEqual(d.added, expected('mixed').liveKeys);
      assert.strictEqual(d.removed, 2);
      const same = await diffSnapshots(fixture('mixed'), fixture('compacted'));
      assert.deepStrictEqual([same.added, same.removed, same.changed, same.unchanged], [0, 0, 0, expected('mixed').liveKeys], 'compaction changes no live key');
    });
  });

  describe('verify and damaged files', () => {
    it('passes the fixtures, a raw db structurally', async () => {
      for (const n of FIXTURES) {
        const v = await verifySnapshot(fixture(n));
        assert.strictEqual(v.ok, true, `${n}: ${v.reason}`);
        assert.strictEqual(v.sha256?.ok, true);
        assert.strictEqual(v.status?.hash, expected(n).status.hash);
      }
      const raw = join(root, 'db');
      writeFileSync(raw, dbImage(fixture('mixed')));
      const v = await verifySnapshot(raw);
      assert.strictEqual(v.ok, true);
      assert.strictEqual(v.hasHashTrailer, false);
      assert.match(v.notes.join('\n'), /no SHA-256 trailer/);
      const check = await checkSnapshotForRestore(raw);
      assert.deepStrictEqual([check.ok, check.hasHash], [true, false]);
    });

    it('reports a truncated file as truncated, by status, verify and restore', async () => {
      const cut = join(root, 'cut.db');
      writeFileSync(cut, readFileSync(fixture('mixed')).subarray(0, 4096 * 3));
      await assert.rejects(snapshotStatus(cut), (e: Error) => e instanceof SnapshotCorruptError && /is truncated: it has 12288 bytes but its database needs 126976/.test(e.message));
      const v = await verifySnapshot(cut);
      assert.strictEqual(v.ok, false);
      assert.strictEqual(v.kind, 'corrupt');
      assert.match(v.reason ?? '', /is truncated: .*no SHA-256 trailer either/);
      const check = await checkSnapshotForRestore(cut);
      assert.strictEqual(check.ok, false);
      assert.match(check.reason ?? '', /is truncated/);
      // Cut at a page boundary inside the tree, trailer recomputed: the pages are missing.
      const db = dbImage(fixture('mixed'));
      const cut2 = join(root, 'cut2.db');
      writeWithTrailer(cut2, db.subarray(0, db.length - 4096 * 2));
      await assert.rejects(snapshotStatus(cut2), /is truncated/);
    });

    it('reports one flipped byte in a value through the SHA-256 trailer', async () => {
      const bytes = readFileSync(fixture('mixed'));
      const leaf = await keyPage(dbImage(fixture('mixed')), 2);
      const e0 = leaf.off + 16;
      bytes[e0 + bytes.readUInt32LE(e0 + 4) + 17 + 20] ^= 0x5a; // inside element 0's value
      const bad = join(root, 'flipped.db');
      writeFileSync(bad, bytes);
      const v = await verifySnapshot(bad);
      assert.strictEqual(v.ok, false);
      assert.match(v.reason ?? '', /is corrupt: the SHA-256 of its database .* does not match the trailer/);
      const s = await snapshotStatus(bad, { checkHash: true });
      assert.strictEqual(s.sha256?.ok, false);
      assert.notStrictEqual(s.hash, expected('mixed').status.hash, 'the CRC sees it too');
      const check = await checkSnapshotForRestore(bad);
      assert.match(check.reason ?? '', /does not match the trailer/);
    });

    async function structural(db: Buffer, pattern: RegExp): Promise<string[]> {
      const bad = join(root, 'structural.db');
      writeWithTrailer(bad, db);
      await assert.rejects(snapshotStatus(bad), (e: Error) => e instanceof SnapshotCorruptError && /integrity check found \d+ problem/.test(e.message) && e.problems.some((p) => pattern.test(p)));
      const v = await verifySnapshot(bad);
      assert.strictEqual(v.ok, false);
      assert.strictEqual(v.sha256?.ok, true, 'the trailer matches: only the structure is wrong');
      assert.match(v.reason ?? '', /is corrupt: its bbolt integrity check found/);
      assert.ok(v.problems.some((p) => pattern.test(p)), v.problems.join('\n'));
      const check = await checkSnapshotForRestore(bad);
      assert.strictEqual(check.ok, false);
      return v.problems;
    }

    it('finds keys out of order', async () => {
      const db = dbImage(fixture('mixed'));
      const leaf = await keyPage(db, 2);
      const e1 = leaf.off + 16 + 16; // element 1
      const kOff = e1 + db.readUInt32LE(e1 + 4);
      db.fill(0, kOff, kOff + 8); // revision 0: before element 0
      await structural(db, /key\[1\] .* is not after key\[0\]/);
    });

    it('finds a page reached twice, a page out of bounds, a header naming another page', async () => {
      const base = dbImage(fixture('mixed'));
      const branch = await keyPage(base, 1);
      let db = Buffer.from(base);
      db.writeUInt32LE(db.readUInt32LE(branch.off + 16 + 8), branch.off + 16 + 16 + 8); // element 1 -> element 0's child
      await structural(db, /reached more than once/);
      db = Buffer.from(base);
      db.writeUInt32LE(99999, branch.off + 16 + 16 + 8);
      await structural(db, /page 99999: out of bounds/);
      db = Buffer.from(base);
      const leaf = await keyPage(db, 2);
      db.writeUInt32LE(leaf.id + 1, leaf.off);
      await structural(db, /its header says it is page/);
      db = Buffer.from(base);
      db.writeUInt32LE(5000, leaf.off + 16 + 4); // element 0's pos
      await structural(db, /runs outside the page/);
    });

    it('uses the other meta when one is bad, and refuses when both are', async () => {
      const db = dbImage(fixture('mixed'));
      const ps = db.readUInt32LE(24);
      db[ps + 16 + 40] ^= 1; // meta 1's pgid: checksum no longer matches
      const problems = await structural(db, /meta page 1 is invalid \(checksum mismatch\)/);
      assert.strictEqual(problems.length, 1);
      db[16 + 40] ^= 1;
      const bad = join(root, 'nometa.db');
      writeWithTrailer(bad, db);
      await assert.rejects(snapshotStatus(bad), /is corrupt: neither of its two bbolt meta pages is valid/);
      assert.match((await verifySnapshot(bad)).reason ?? '', /neither of its two bbolt meta pages is valid/);
    });

    it('checks a persisted freelist: free pages listed, none reachable, none lost', async () => {
      const base = dbImage(fixture('mixed'));
      const ps = base.readUInt32LE(24);
      const pgid = Number(base.readBigUInt64LE(16 + 40));
      const reached = await reachable(base);
      const free: number[] = [];
      for (let id = 2; id < pgid; id++) if (!reached(id)) free.push(id);
      assert.ok(free.length >= 2, 'the fixture has free pages');
      /** The db with page `fl` turned into a freelist page listing `ids`, both metas pointing at it. */
      const withFreelist = (fl: number, ids: number[]): Buffer => {
        const db = Buffer.from(base);
        const off = fl * ps;
        db.fill(0, off, off + ps);
        db.writeBigUInt64LE(BigInt(fl), off);
        db.writeUInt16LE(0x10, off + 8);
        db.writeUInt16LE(ids.length, off + 10);
        ids.forEach((id, i) => db.writeBigUInt64LE(BigInt(id), off + 16 + 8 * i));
        for (const m of [0, ps]) {
          db.writeBigUInt64LE(BigInt(fl), m + 16 + 32);
          db.writeBigUInt64LE(fnv1a64(db, m + 16, m + 72), m + 72);
        }
        return db;
      };
      const [fl, ...rest] = free;
      const good = join(root, 'freelist.db');
      writeWithTrailer(good, withFreelist(fl, rest));
      const v = await verifySnapshot(good);
      assert.strictEqual(v.ok, true, v.reason);
      assert.strictEqual((await snapshotStatus(good)).hash, expected('mixed').status.hash, 'the freelist is not hashed');
      await structural(withFreelist(fl, rest.slice(1)), new RegExp(`page ${rest[0]}: unreachable unfreed`));
      const leaf = await keyPage(base, 2);
      await structural(withFreelist(fl, [...rest, leaf.id]), new RegExp(`page ${leaf.id}: reachable freed`));
      await structural(withFreelist(fl, [...rest, rest[0]]), new RegExp(`page ${rest[0]}: already freed`));
    });

    it('says what is not a snapshot at all', async () => {
      const junk = join(root, 'junk.db');
      writeFileSync(junk, Buffer.alloc(10000, 1));
      await assert.rejects(snapshotStatus(junk), /is not an etcd snapshot \(no bbolt database header\)/);
      const empty = join(root, 'empty.db');
      writeFileSync(empty, '');
      assert.match((await verifySnapshot(empty)).reason ?? '', /only 0 bytes/);
      const missing = await verifySnapshot(join(root, 'nope.db'));
      assert.deepStrictEqual([missing.ok, missing.kind], [false, 'notFound']);
      await assert.rejects(snapshotStatus(join(root, 'nope.db')), (e: Error & { kind?: string }) => e.kind === 'notFound');
      await assert.rejects(snapshotStatus(root), (e: Error & { kind?: string }) => e.kind === 'invalidInput');
    });
  });

  describe('restore adapters', () => {
    it('gives the trial restore the revision and live keys natively', async () => {
      const f = await snapshotFigures(fixture('mixed'));
      assert.deepStrictEqual(f, { revision: expected('mixed').status.revision, liveKeys: expected('mixed').liveKeys, source: 'the snapshot reader' });
    });

    it("proposes the snapshot's own members when there is no sidecar", async () => {
      const snap = join(root, '20260101_000000_snapshot.db');
      copyFileSync(fixture('mixed'), snap);
      const p = await proposeFromSnapshot(snap);
      assert.strictEqual(p.source, 'snapshot');
      assert.deepStrictEqual(p.members.map((m) => m.name).sort(), ['fixture-m1', 'fixture-m2', 'fixture-m3']);
      assert.ok(p.members.every((m) => m.oldId && /^[0-9a-f]+$/.test(m.oldId)));
    });
  });
});
