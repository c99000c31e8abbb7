/**
 * Point-in-time recovery against the cluster's own history (the oracle): a live 3-member
 * cluster writes a known history (puts, deletes, multi-key transactions, keys with leases, a
 * lease that expires, a lease revoked, binary and empty values, a compaction after the
 * follower started, the follower SIGKILLed and restarted, the leader killed) while
 * `etcd-backup backup follow` runs as its own process. Then, for revisions spread over the
 * range, `backup fetch --to-revision R` is restored with `etcdctl snapshot restore`, started,
 * and `etcdctl get --prefix "" --rev=R -w json` on it must equal the original cluster's at R
 * (captured before the compaction for the early revisions).
 */
import assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EtcdConnection } from '../../src/core/etcd';
import { loadPlan } from '../../src/core/backup/plan';
import { runBackup } from '../../src/core/backup/run';
import { parseSegment, RevisionRecord } from '../../src/core/pitr/segment';
import { LocalSegmentStore } from '../../src/core/pitr/store';
import { FOLLOWER_NODE_FLAGS } from '../../src/core/pitr/units';
import { fetchPointInTime } from '../../src/cli/backupFollow';
import { captureOutput } from '../support/captureOutput';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';
import { normalizeGet, restoredGet } from './pitrSupport';

const REPO = join(__dirname, '..', '..');

interface FollowerProc {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function startFollower(plan: string): FollowerProc {
  // With the unit's node flags, as its service runs it: one process, so SIGKILL kills the follower itself.
  const child = spawn(
    process.execPath,
    [...FOLLOWER_NODE_FLAGS, '--import', 'tsx', join(REPO, 'src/cli.ts'), 'backup', 'follow', '--config', plan],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, log: () => out, exited };
}

async function waitStored(dir: string, revision: number, f: FollowerProc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const segs = await new LocalSegmentStore(join(dir, 'local', 'changelog')).list();
    if (segs.length && segs[segs.length - 1].last >= revision) return;
    if (Date.now() > deadline) throw new Error(`the follower did not store revision ${revision} in time:\n${f.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe("point-in-time recovery against the cluster's own history (oracle)", function () {
  this.timeout(900_000);
  let c: EtcdTestCluster;
  let conn: EtcdConnection;
  let dir: string;
  let plan: string;
  let follower: FollowerProc | undefined;
  const expected = new Map<number, string>();
  const times = new Map<number, number>();
  let first = 0;
  let last = 0;

  const capture = async (from: number, to: number): Promise<void> => {
    for (let r = from; r <= to; r++) {
      if (!expected.has(r)) expected.set(r, await c.etcdctlOk(['get', '--prefix', '', `--rev=${r}`, '-w', 'json']));
    }
  };
  const rev = async (): Promise<number> =>
    Number((await conn.client.kv.range({ key: Buffer.from([0]), count_only: true })).header.revision);
  const put = async (k: string, v: string | Buffer, lease = '0'): Promise<number> => {
    const res = await conn.client.kv.put({ key: Buffer.from(k), value: Buffer.from(v), lease });
    times.set(Number(res.header.revision), Date.now());
    return Number(res.header.revision);
  };
  const del = async (k: string): Promise<number> => Number((await conn.client.kv.deleteRange({ key: Buffer.from(k) })).header.revision);
  const txn = async (ops: { put?: [string, string]; del?: string }[]): Promise<number> => {
    const res = await conn.client.kv.txn({
      success: ops.map((o) =>
        o.put
          ? { request_put: { key: Buffer.from(o.put[0]), value: Buffer.from(o.put[1]) } }
          : { request_delete_range: { key: Buffer.from(o.del as string) } },
      ),
    });
    return Number(res.header.revision);
  };

  before(async function () {
    c = await startCluster({ members: 3, name: 'pitr' });
    conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-test-'));
    plan = join(dir, 'plan.yaml');
    const endpoints = c.endpoints.map((e) => JSON.stringify(e)).join(', ');
    await fs.writeFile(
      plan,
      `cluster:\n  name: pitr\n  endpoints: [${endpoints}]\nlocal:\n  dir: ${join(dir, 'local')}\n` +
        'follow: { enabled: true, segmentSeconds: 2, segmentMiB: 0.02 }\n',
      { mode: 0o600 },
    );
    // Some state before the full snapshot.
    for (let i = 0; i < 5; i++) await put(`/base/${i}`, `b${i}`);
    await put('/base/0', 'b0-2');
    const full = await runBackup(await loadPlan(plan));
    assert.ok(full.ok && full.revision, `backup run: ${full.message ?? ''}`);
    first = full.revision;
  });

  after(async function () {
    follower?.child.kill('SIGKILL');
    conn?.close();
    await c?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('records a history with txns, leases, a compaction, a SIGKILLed follower and a leader change', async function () {
    follower = startFollower(plan);
    // Puts, overwrites, deletes, binary, empty and large values.
    for (let i = 0; i < 8; i++) await put(`/a/${i}`, `v${i}`);
    await put('/a/1', 'v1-2');
    await put('/a/1', 'v1-3');
    await del('/a/2');
    await del('/base/1');
    await put('/bin/x', Buffer.from([0, 255, 1, 254, 10, 13]));
    await put('/empty', '');
    await put('/big', 'x'.repeat(100_000));
    await put('/a/2', 'reborn');
    // Multi-key transactions (puts and a delete in one revision).
    await txn([{ put: ['/t/1', 'one'] }, { put: ['/t/2', 'two'] }, { del: '/a/3' }, { put: ['/a/4', 'v4-2'] }]);
    await txn([{ del: '/t/1' }, { put: ['/t/3', 'three'] }]);
    // Leases: one long, one revoked with its keys, one that expires on its own.
    const long = (await conn.client.leaseClient.leaseGrant({ TTL: 600 })).ID;
    const revoked = (await conn.client.leaseClient.leaseGrant({ TTL: 600 })).ID;
    const short = (await conn.client.leaseClient.leaseGrant({ TTL: 3 })).ID;
    await put('/lease/long/1', 'l1', long);
    await put('/lease/long/2', 'l2', long);
    await put('/lease/rev/1', 'r1', revoked);
    await put('/lease/rev/2', 'r2', revoked);
    await put('/lease/short/1', 's1', short);
    await put('/lease/short/2', 's2', short);
    await put('/a/5', 'moved-to-lease', long);
    await put('/a/5', 'lease-dropped');
    await conn.client.leaseClient.leaseRevoke({ ID: revoked });
    await new Promise((r) => setTimeout(r, 6000)); // the short lease expires: one revision deleting its keys
    await put('/after-expiry', 'x');
    await waitStored(dir, await rev(), follower);
    // A compaction after the follower started (it is past it): the early history is captured first.
    await capture(first, await rev());
    await conn.client.kv.compact({ revision: (await rev()) - 3, physical: true });
    for (let i = 0; i < 5; i++) await put(`/c/${i}`, `c${i}`);

    // The follower is killed mid-stream; changes go on while it is down.
    follower.child.kill('SIGKILL');
    await follower.exited;
    for (let i = 0; i < 10; i++) await put(`/down/${i % 4}`, `d${i}`);
    await txn([{ put: ['/down/x', 'x'] }, { del: '/down/0' }]);
    follower = startFollower(plan);

    // The leader goes away (the follower may be watching it); writes go on through the others.
    const leader = await c.waitLeader();
    await leader.kill();
    await c.waitLeader({ members: c.members.filter((m) => m.running) });
    conn.close();
    conn = await EtcdConnection.open(
      { ...c.clusterConfig(), endpoints: c.members.filter((m) => m.running).map((m) => m.clientURL) },
      c.secrets(),
    );
    for (let i = 0; i < 6; i++) await put(`/new-leader/${i}`, `n${i}`);
    await leader.start();
    await c.waitHealthy();
    for (let i = 0; i < 4; i++) await put(`/end/${i}`, `e${i}`);
    last = await rev();
    await waitStored(dir, last, follower);
    follower.child.kill('SIGTERM');
    assert.strictEqual(await follower.exited, 0, follower.log().slice(-3000));
    await capture(first, last);
    const segs = await new LocalSegmentStore(join(dir, 'local', 'changelog')).list();
    for (let i = 1; i < segs.length; i++)
      assert.strictEqual(segs[i].first, segs[i - 1].last + 1, 'segments follow each other with no gap and no overlap');
    assert.ok(segs.length >= 2, `several segments were rolled: ${segs.map((x) => x.name).join(', ')}`);
  });

  it('materializes 20+ revisions that equal the original cluster at each one', async function () {
    assert.ok(last > first + 40, `history long enough (${first}..${last})`);
    const picks = new Set<number>([first, first + 1, last]);
    const step = (last - first) / 22;
    for (let i = 1; i <= 22; i++) picks.add(Math.min(last, Math.round(first + i * step)));
    let checked = 0;
    for (const r of [...picks].sort((a, b) => a - b)) {
      const out = join(dir, `at-${r}.db`);
      const cap = await captureOutput(() => fetchPointInTime(['--config', plan, '--to-revision', String(r), '-o', out]));
      assert.strictEqual(cap.code, 0, `fetch --to-revision ${r}: ${cap.err}`);
      const got = normalizeGet(await restoredGet(out, r));
      const want = normalizeGet(expected.get(r) as string);
      // The original's header says its current revision; the restored member's must be R.
      assert.strictEqual(got.revision, String(r), `header revision at ${r}`);
      assert.deepStrictEqual({ count: got.count, kvs: got.kvs }, { count: want.count, kvs: want.kvs }, `state at revision ${r}`);
      checked++;
      await fs.rm(out);
    }
    assert.ok(checked >= 20, `${checked} revisions checked`);
  });

  const changelog = (): string => join(dir, 'local', 'changelog');
  const fetchJson = async (args: string[]): Promise<{ code: number; out: string; err: string; error?: Error }> => {
    try {
      return await captureOutput(() => fetchPointInTime(['--config', plan, ...args, '-w', 'json']));
    } catch (error) {
      return { code: 1, out: '', err: '', error: error as Error };
    }
  };

  it('refuses a corrupt segment, naming it, and leaves no file', async function () {
    const segs = await new LocalSegmentStore(changelog()).list();
    const victim = segs[Math.floor(segs.length / 2)];
    const path = join(changelog(), victim.name);
    const original = await fs.readFile(path);
    const bad = Buffer.from(original);
    bad[Math.floor(bad.length / 2)] ^= 0x20;
    await fs.writeFile(path, bad);
    try {
      const out = join(dir, 'corrupt.db');
      const r = await fetchJson(['--to-revision', String(last), '-o', out]);
      assert.ok(r.error, 'refused');
      assert.match(r.error.message, new RegExp(victim.name.replace(/\./g, '\\.')));
      assert.match(r.error.message, /corrupt/);
      await assert.rejects(fs.lstat(out));
      // A revision before the corrupt segment still materializes.
      const before = join(dir, 'before-corrupt.db');
      const ok = await fetchJson(['--to-revision', String(victim.first - 1), '-o', before]);
      assert.strictEqual(ok.code, 0, ok.error?.message);
      await fs.rm(before);
    } finally {
      await fs.writeFile(path, original);
    }
  });

  it('refuses when a segment is missing, naming the revisions it held', async function () {
    const segs = await new LocalSegmentStore(changelog()).list();
    const victim = segs[Math.floor(segs.length / 2)];
    const aside = join(dir, victim.name);
    await fs.rename(join(changelog(), victim.name), aside);
    try {
      const out = join(dir, 'missing.db');
      const r = await fetchJson(['--to-revision', String(last), '-o', out]);
      assert.ok(r.error, 'refused');
      assert.match(r.error.message, new RegExp(`no segment for revisions ${victim.first} to ${victim.last}`));
      await assert.rejects(fs.lstat(out));
    } finally {
      await fs.rename(aside, join(changelog(), victim.name));
    }
  });

  it('--to-time between two recorded events gives the earlier one', async function () {
    const store = new LocalSegmentStore(changelog());
    const revs: RevisionRecord[] = [];
    for (const ref of await store.list()) revs.push(...parseSegment(ref.name, await store.read(ref)).revisions);
    // Two consecutive revisions recorded at least 200 ms apart (the follower's receipt times).
    const i = revs.findIndex((r, k) => k + 1 < revs.length && revs[k + 1].time - r.time >= 200);
    assert.ok(i >= 0, 'two revisions recorded apart');
    const earlier = revs[i];
    const between = new Date(Math.floor((earlier.time + revs[i + 1].time) / 2));
    const out = join(dir, 'at-time.db');
    const r = await fetchJson(['--to-time', between.toISOString(), '-o', out]);
    assert.strictEqual(r.code, 0, r.error?.message ?? r.err);
    assert.strictEqual((JSON.parse(r.out) as { revision: number }).revision, earlier.revision);
    const got = normalizeGet(await restoredGet(out, earlier.revision));
    const want = normalizeGet(expected.get(earlier.revision) as string);
    assert.deepStrictEqual(got.kvs, want.kvs);
    await fs.rm(out);
  });
});
