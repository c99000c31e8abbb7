/**
 * The etcd test rig itself, on real etcd 3.4 processes: a 1-member cluster answers; a
 * 3-member cluster keeps serving after losing one member, stops taking writes after losing
 * two, and heals when they come back; a wiped member is gone from disk; stop removes it all.
 */
import * as assert from 'assert';
import { existsSync, readdirSync } from 'fs';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';

describe('etcd test rig', () => {
  describe('one plain member', () => {
    let c: EtcdTestCluster;
    before(async () => {
      c = await startCluster({ members: 1 });
    });
    after(async () => {
      await c?.stop();
    });

    it('serves reads and writes on a loopback client URL', async () => {
      assert.strictEqual(c.endpoints.length, 1);
      assert.match(c.endpoints[0], /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(c.members[0].pid && c.members[0].pid > 0);
      await c.etcdctlOk(['put', '/rig/one', 'hello']);
      const out = await c.etcdctlOk(['get', '/rig/one', '--print-value-only']);
      assert.strictEqual(out.trim(), 'hello');
    });

    it('stop removes the processes and the temp dirs', async () => {
      const extra = await startCluster({ members: 1 });
      const m = extra.members[0];
      const pid = m.pid as number;
      assert.ok(existsSync(m.dataDir), 'data dir exists while running');
      assert.ok(readdirSync(m.dir).includes('etcd.log'));
      await extra.stop();
      assert.ok(!existsSync(m.dir), 'member dir removed');
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'etcd process is gone');
    });
  });

  describe('three plain members', () => {
    let c: EtcdTestCluster;
    before(async () => {
      c = await startCluster({ members: 3 });
    });
    after(async () => {
      await c?.stop();
    });

    it('has three members with distinct ports and data dirs', async () => {
      const list = await c.memberListJson();
      assert.deepStrictEqual(list.members.map((m) => m.name).sort(), c.members.map((m) => m.name).sort());
      const urls = new Set(c.members.flatMap((m) => [m.clientURL, m.peerURL]));
      assert.strictEqual(urls.size, 6);
      assert.strictEqual(new Set(c.members.map((m) => m.dataDir)).size, 3);
    });

    it('keeps quorum with one member killed, loses it with two, and heals', async () => {
      await c.etcdctlOk(['put', '/rig/q', 'before']);
      // Kill the leader: the harder case (the other two must elect a new one).
      const a = await c.waitLeader();
      const [b, d] = c.members.filter((m) => m !== a);

      await a.kill();
      assert.strictEqual(a.running, false);
      assert.strictEqual(a.lastExit?.signal, 'SIGKILL');
      const newLeader = await c.waitLeader({ members: [b, d] });
      assert.notStrictEqual(newLeader, a);
      const two = { endpoints: [b.clientURL, d.clientURL] };
      await c.etcdctlOk(['put', '/rig/q', 'one-down'], two);
      assert.strictEqual((await c.etcdctlOk(['get', '/rig/q', '--print-value-only'], two)).trim(), 'one-down');

      await b.stop();
      assert.strictEqual(b.running, false);
      const w = await c.etcdctl(['put', '/rig/q', 'two-down', '--command-timeout=2s'], { endpoints: [d.clientURL] });
      assert.notStrictEqual(w.code, 0, 'a write without quorum must fail');
      assert.match(w.stderr, /deadline exceeded|timed out|no leader|unavailable/i);
      const h = await d.health();
      assert.strictEqual(h.healthy, false, `lone member reports unhealthy: ${h.detail}`);

      await c.startAll();
      await c.etcdctlOk(['put', '/rig/q', 'healed']);
      for (const m of c.members) {
        const v = await c.etcdctlOk(['get', '/rig/q', '--print-value-only', '--consistency=s'], { endpoints: [m.clientURL] });
        // A serializable read on each member: the restarted ones caught up with the log.
        assert.ok(['healed', 'one-down'].includes(v.trim()), `${m.name}: ${v}`);
      }
      const health = await c.etcdctl(['endpoint', 'health']);
      const text = health.stdout + health.stderr;
      assert.strictEqual(health.code, 0, text);
      assert.strictEqual((text.match(/is healthy/g) ?? []).length, 3, text);
    });

    it('wipe removes a member data dir; rejoinEmpty re-adds it and it catches up', async () => {
      const m = c.members[2];
      await c.etcdctlOk(['put', '/rig/w', 'kept']);
      const before = (await c.memberListJson()).members.find((x) => x.name === m.name);
      await m.wipe();
      assert.strictEqual(m.running, false);
      assert.ok(!existsSync(m.dataDir), 'data dir removed');
      await c.rejoinEmpty(m);
      assert.ok(existsSync(m.dataDir), 'data dir recreated');
      const after = (await c.memberListJson()).members.find((x) => x.name === m.name);
      assert.ok(before && after && after.id !== before.id, 'the member came back under a new id');
      const deadline = Date.now() + 10000;
      let v = '';
      while (Date.now() < deadline) {
        v = (await c.etcdctl(['get', '/rig/w', '--print-value-only', '--consistency=s'], { endpoints: [m.clientURL] })).stdout.trim();
        if (v === 'kept') {
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.strictEqual(v, 'kept');
    });
  });
});
