/**
 * Compact and Defragment (src/core/space.ts) against real etcd 3.4: a member driven into the
 * NOSPACE alarm by a small --quota-backend-bytes, recovered (compact, defrag, disarm) so a put
 * succeeds again; on 3 members the defrag order (followers first, leader last) and a killed
 * member reported as skipped. Sizes are compared with `etcdctl endpoint status -w json`, and
 * what a cancelled or refused run left is checked in etcd itself (old revisions still
 * readable with `etcdctl get --rev`, database sizes unchanged), not in the code's step log.
 */
import * as assert from 'assert';
import { EtcdConnection } from '../../src/core/etcd';
import { listAlarms, reclaimSpace, SpaceStep } from '../../src/core/space';
import { fillUntilNospace, putKeys } from '../support/etcdData';
import { EtcdTestCluster, startCluster, TestMember } from '../support/etcdRig';

/** `etcdctl get <key> --rev=<rev>` from one member, serializable (answers without quorum): the value, or the error. */
async function readAt(c: EtcdTestCluster, m: TestMember, key: string, rev: number): Promise<{ value?: string; error?: string }> {
  const r = await c.etcdctl(['get', key, `--rev=${rev}`, '--consistency=s', '--print-value-only'], { endpoints: [m.clientURL] });
  return r.code === 0 ? { value: r.stdout.trim() } : { error: r.stderr.trim() };
}

/** The store revision after writing `key` = `value` (etcdctl put -w json). */
async function putRev(c: EtcdTestCluster, key: string, value: string): Promise<number> {
  const out = await c.etcdctlOk(['put', key, value, '-w', 'json']);
  return (JSON.parse(out) as { header: { revision: number } }).header.revision;
}

const QUOTA = 16 * 1024 * 1024;

describe('Compact and Defragment on real etcd', () => {
  describe('1 member in NOSPACE', () => {
    let c: EtcdTestCluster;
    let conn: EtcdConnection;
    before(async () => {
      c = await startCluster({ members: 1, extraArgs: [`--quota-backend-bytes=${QUOTA}`] });
      conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    });
    after(async () => {
      conn?.close();
      await c?.stop();
    });

    it('a put fails with "database space exceeded" once the quota is reached', async () => {
      const r = await fillUntilNospace(c);
      assert.match(r.error, /database space exceeded/);
      assert.ok(r.puts > 5, `puts before NOSPACE: ${r.puts}`);
    });

    it('listAlarms shows NOSPACE; the overview marks the member unhealthy with the way out', async () => {
      const alarms = await listAlarms(conn);
      const [m] = await c.memberListJson().then((l) => l.members);
      assert.deepStrictEqual(alarms, [{ memberId: m.id, alarm: 'NOSPACE' }]);
      const o = await conn.clusterOverview();
      assert.strictEqual(o.members[0].healthy, false);
      assert.strictEqual(o.members[0].error?.reason, 'NOSPACE alarm');
      assert.deepStrictEqual(o.members[0].error?.hint, { kind: 'reclaimSpace' }, 'the way out, worded by each front end');
    });

    it('reclaimSpace compacts, defragments (smaller db), disarms; etcdctl lists no alarm; a put succeeds', async () => {
      const before = await c.memberStatus(c.members[0]);
      const steps: SpaceStep[] = [];
      const r = await reclaimSpace(conn, { onStep: (s) => steps.push(s) });
      assert.ok(r.compactedRevision && r.compactedRevision > 1, `compacted at ${r.compactedRevision}`);
      assert.strictEqual(r.members.length, 1);
      const m = r.members[0];
      assert.strictEqual(m.role, 'leader');
      // "before" is read right before the defrag, after the compaction, which can only grow the
      // file (bbolt gives space back only through a defrag): at least what etcdctl saw at the start.
      assert.ok(m.before.dbSize >= before.dbSize, `size before the defrag ${m.before.dbSize} >= etcdctl's ${before.dbSize} before the compaction`);
      const after = await c.memberStatus(c.members[0]);
      assert.strictEqual(m.after?.dbSize, after.dbSize, 'size after = etcdctl endpoint status dbSize');
      assert.ok(after.dbSize < before.dbSize / 2, `db ${before.dbSize} -> ${after.dbSize}`);
      assert.deepStrictEqual(r.alarmsBefore.map((a) => a.alarm), ['NOSPACE']);
      assert.deepStrictEqual(r.disarmed.map((a) => a.alarm), ['NOSPACE']);
      assert.deepStrictEqual(r.alarmsAfter, []);
      assert.deepStrictEqual(
        steps.filter((s) => s.state !== 'running').map((s) => `${s.step}:${s.state}`),
        ['overview:done', 'compact:done', 'defrag:done', 'disarm:done', 'verify:done', 'done:done'],
      );
      assert.strictEqual((await c.etcdctlOk(['alarm', 'list'])).trim(), '');
      await conn.client.put('/after/reclaim').value('ok');
      assert.strictEqual(await conn.client.get('/after/reclaim').string(), 'ok');
      // The compacted history is gone: reading the old revision is refused.
      await assert.rejects(conn.client.get('/fill/big').revision(2).string(), /compacted/);
    });
  });

  describe('3 members, one killed', () => {
    let c: EtcdTestCluster;
    let conn: EtcdConnection;
    before(async () => {
      c = await startCluster({ members: 3 });
      conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
      for (let i = 0; i < 4; i++) {
        await putKeys(c, '/registry/pods/', 200, 4096);
      }
    });
    after(async () => {
      conn?.close();
      await c?.stop();
    });

    it('cancel between steps: compacted, then stops before the first defrag (in etcd: old revisions gone, no file shrunk)', async () => {
      const oldRev = await putRev(c, '/history/k', 'v1');
      await putRev(c, '/history/k', 'v2');
      assert.strictEqual((await readAt(c, c.members[0], '/history/k', oldRev)).value, 'v1');
      const sizes = await Promise.all(c.members.map((m) => c.memberStatus(m)));
      const ac = new AbortController();
      const steps: SpaceStep[] = [];
      await assert.rejects(
        reclaimSpace(conn, {
          signal: ac.signal,
          onStep: (s) => {
            steps.push(s);
            if (s.step === 'compact' && s.state === 'done') ac.abort();
          },
        }),
        (err: Error & { kind?: string }) => err.kind === 'cancelled',
      );
      // In etcd: the compaction happened (the old revision is gone on every member)...
      for (const m of c.members) {
        assert.match((await readAt(c, m, '/history/k', oldRev)).error ?? '', /required revision has been compacted/, m.name);
      }
      // ...and no member was defragmented: no database file got smaller (a defrag of this history would halve them).
      const after = await Promise.all(c.members.map((m) => c.memberStatus(m)));
      after.forEach((s, i) => assert.ok(s.dbSize >= sizes[i].dbSize, `${c.members[i].name}: ${sizes[i].dbSize} -> ${s.dbSize}`));
    });

    it('defragments followers first and the leader last, and skips the killed member', async () => {
      const leader = await c.waitLeader();
      const ids = new Map((await c.memberListJson()).members.map((m) => [m.name, m.id]));
      const victim = c.members.find((m) => m !== leader);
      assert.ok(victim);
      await victim.kill();
      await c.waitLeader({ members: c.members.filter((m) => m.running) });
      const steps: SpaceStep[] = [];
      const r = await reclaimSpace(conn, { onStep: (s) => steps.push(s) });
      const order = steps.filter((s) => s.step === 'defrag' && s.state === 'done').map((s) => s.memberId);
      const follower = c.members.find((m) => m !== leader && m !== victim);
      assert.deepStrictEqual(order, [ids.get(follower?.name ?? ''), ids.get(leader.name)]);
      assert.deepStrictEqual(
        r.members.map((m) => m.role),
        ['follower', 'leader'],
      );
      assert.deepStrictEqual(r.skipped.map((s) => s.id), [ids.get(victim.name)]);
      const skippedStep = steps.find((s) => s.step === 'defrag' && s.state === 'skipped');
      assert.strictEqual(skippedStep?.memberId, ids.get(victim.name));
      assert.match(steps.find((s) => s.step === 'overview' && s.state === 'done')?.message ?? '', new RegExp(`skipped \\(not reachable\\): ${victim.name}`));
      for (const m of r.members) {
        assert.ok(m.after && m.after.dbSize <= m.before.dbSize, `${m.name}: ${m.before.dbSize} -> ${m.after?.dbSize}`);
      }
      assert.deepStrictEqual(r.alarmsAfter, []);
    });

    it('refuses with one sentence when quorum is lost, changing nothing (in etcd: old revisions readable, size unchanged)', async () => {
      const leader = await c.waitLeader();
      // History the refused run must not compact away, and the size it must not change.
      // The client may first try the member killed by the test before (UNAVAILABLE): try again.
      const retry = async <T>(f: () => Promise<T>): Promise<T> => {
        for (let i = 0; ; i++) {
          try {
            return await f();
          } catch (err) {
            if (i >= 10 || !/UNAVAILABLE/.test(String(err))) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      };
      const oldRev = await retry(() => putRev(c, '/history/q', 'old'));
      await retry(() => putKeys(c, '/history/bulk/', 100, 4096));
      await retry(() => putKeys(c, '/history/bulk/', 100, 4096));
      await retry(() => putRev(c, '/history/q', 'new'));
      const other = c.members.find((m) => m.running && m !== leader) as TestMember;
      await other.kill();
      const alive = c.members.filter((m) => m.running);
      assert.strictEqual(alive.length, 1);
      const sizeBefore = (await c.memberStatus(alive[0])).dbSize;
      assert.strictEqual((await readAt(c, alive[0], '/history/q', oldRev)).value, 'old');
      await assert.rejects(reclaimSpace(conn), (err: Error) => {
        assert.match(err.message, /has no quorum \(1 of 3 voting members answer, 2 needed\)/);
        return true;
      });
      const old = await readAt(c, alive[0], '/history/q', oldRev);
      assert.strictEqual(old.value, 'old', `the old revision is still readable: nothing was compacted (${old.error ?? ''})`);
      // A defragmentation only shrinks the file; bbolt may still grow it by a few pages as the last writes settle.
      const sizeAfter = (await c.memberStatus(alive[0])).dbSize;
      assert.ok(sizeAfter >= sizeBefore, `the database did not shrink (${sizeBefore} -> ${sizeAfter}): nothing was defragmented`);
    });
  });
});
