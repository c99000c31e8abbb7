/**
 * Compact and Defragment (src/core/space.ts) against real etcd 3.4: a member driven into the
 * NOSPACE alarm by a small --quota-backend-bytes, recovered (compact, defrag, disarm) so a put
 * succeeds again; on 3 members the defrag order (followers first, leader last) and a killed
 * member reported as skipped. Sizes are compared with `etcdctl endpoint status -w json`.
 */
import * as assert from 'assert';
import { EtcdConnection } from '../../src/core/etcd';
import { listAlarms, reclaimSpace, SpaceStep } from '../../src/core/space';
import { fillUntilNospace, putKeys } from '../support/etcdData';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';

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

    it('cancel between steps: compacted, then stops before the first defrag', async () => {
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
      assert.ok(steps.some((s) => s.step === 'compact' && s.state === 'done'));
      assert.ok(!steps.some((s) => s.step === 'defrag'), steps.map((s) => `${s.step}:${s.state}`).join(' '));
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

    it('refuses with one sentence when quorum is lost, before changing anything', async () => {
      const leader = await c.waitLeader();
      const other = c.members.find((m) => m.running && m !== leader);
      await other?.kill();
      const steps: SpaceStep[] = [];
      await assert.rejects(reclaimSpace(conn, { onStep: (s) => steps.push(s) }), (err: Error) => {
        assert.match(err.message, /has no quorum \(1 of 3 voting members answer, 2 needed\)/);
        return true;
      });
      assert.ok(!steps.some((s) => s.step === 'compact' || s.step === 'defrag'), 'nothing compacted or defragmented');
    });
  });
});
