/**
 * EtcdConnection (src/core/etcd.ts, over etcd3) against real 3-member etcd 3.4 clusters:
 * kubeadm-style TLS with client-cert auth, and user/password auth. Every figure is compared
 * with what etcdctl reports about the same cluster.
 */
import * as assert from 'assert';
import { EtcdConnection } from '../../src/core/etcd';
import { EtcdBackupError } from '../../src/core/errors';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';

describe('EtcdConnection on real etcd clusters', () => {
  describe('3 members, TLS with client certificates', () => {
    let c: EtcdTestCluster;
    let conn: EtcdConnection;
    before(async () => {
      c = await startCluster({ members: 3, tls: true });
      conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    });
    after(async () => {
      conn?.close();
      await c?.stop();
    });

    it('uses https endpoints and kubeadm file names', () => {
      assert.ok(c.endpoints.every((e) => e.startsWith('https://127.0.0.1:')));
      const cfg = c.clusterConfig();
      assert.match(cfg.tls?.caFile ?? '', /\/etcd\/ca\.crt$/);
      assert.match(cfg.tls?.certFile ?? '', /\/etcd\/healthcheck-client\.crt$/);
      assert.match(cfg.tls?.keyFile ?? '', /\/etcd\/healthcheck-client\.key$/);
    });

    it('lists the members as etcdctl does: names, hex ids, peer and client URLs', async () => {
      const expected = await c.memberListJson();
      const got = await conn.memberList();
      assert.strictEqual(got.clusterId, expected.clusterId);
      const byId = (a: { id: string }, b: { id: string }): number => a.id.localeCompare(b.id);
      assert.deepStrictEqual([...got.members].sort(byId), [...expected.members].sort(byId));
      assert.strictEqual(got.members.length, 3);
      for (const m of c.members) {
        const info = got.members.find((x) => x.name === m.name);
        assert.ok(info, `member ${m.name} listed`);
        assert.deepStrictEqual(info.peerURLs, [m.peerURL]);
        assert.deepStrictEqual(info.clientURLs, [m.clientURL]);
        assert.match(info.id, /^[0-9a-f]{1,16}$/);
        assert.strictEqual(info.isLearner, false);
      }
    });

    it('endpointStatus answers per endpoint with that member id and one shared leader', async () => {
      const list = await c.memberListJson();
      const statuses = await Promise.all(c.endpoints.map((e) => conn.endpointStatus(e)));
      const leaders = new Set(statuses.map((s) => s.leaderId));
      assert.strictEqual(leaders.size, 1, `one leader: ${[...leaders].join(',')}`);
      const leader = [...leaders][0];
      assert.ok(list.members.some((m) => m.id === leader), 'the leader is a member');
      for (const s of statuses) {
        const m = c.members.find((x) => x.clientURL === s.endpoint);
        const expectedId = list.members.find((x) => x.name === m?.name)?.id;
        assert.strictEqual(s.memberId, expectedId, `member id of ${s.endpoint}`);
        assert.strictEqual(s.version, '3.4.23');
        assert.ok(s.dbSize > 0 && s.dbSizeInUse > 0 && s.dbSizeInUse <= s.dbSize);
        assert.ok(Number(s.raftIndex) > 0 && Number(s.raftTerm) > 0);
        const viaEtcdctl = await c.memberStatus(m!);
        assert.strictEqual(viaEtcdctl.memberId, s.memberId);
        assert.strictEqual(viaEtcdctl.leaderId, s.leaderId);
      }
    });

    it('endpointHealth: healthy members, and a killed member as unreachable', async () => {
      const healthy = await Promise.all(c.endpoints.map((e) => conn.endpointHealth(e)));
      assert.deepStrictEqual(healthy.map((h) => h.healthy), [true, true, true], JSON.stringify(healthy));
      const victim = c.members[2];
      await victim.kill();
      try {
        const h = await conn.endpointHealth(victim.clientURL);
        assert.strictEqual(h.healthy, false);
        assert.strictEqual(h.errorKind, 'unreachable', h.error);
        // The member list still comes from the two that run.
        assert.strictEqual((await conn.listMembers()).length, 3);
      } finally {
        await victim.start();
        await c.waitHealthy();
      }
    });
  });

  describe('3 members, user/password auth', () => {
    let c: EtcdTestCluster;
    before(async () => {
      c = await startCluster({ members: 3, auth: { user: 'root', password: 'rig-S3cret' } });
    });
    after(async () => {
      await c?.stop();
    });

    it('etcd really requires the password (etcdctl without a user is refused)', async () => {
      const r = await c.etcdctl(['put', '/auth/probe', 'x'], { user: null });
      assert.notStrictEqual(r.code, 0);
      assert.match(r.stderr, /user name is empty|permission denied/i);
    });

    it('lists the members with the right password', async () => {
      assert.strictEqual(c.clusterConfig().username, 'root');
      const expected = await c.memberListJson();
      const conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
      try {
        const got = await conn.listMembers();
        assert.deepStrictEqual(got.map((m) => m.id).sort(), expected.members.map((m) => m.id).sort());
        assert.deepStrictEqual(got.map((m) => m.name).sort(), c.members.map((m) => m.name).sort());
        const s = await conn.endpointStatus(c.endpoints[0]);
        assert.ok(expected.members.some((m) => m.id === s.memberId));
      } finally {
        conn.close();
      }
    });

    it("fails with an EtcdBackupError of kind 'auth' with a wrong password", async () => {
      const conn = await EtcdConnection.open(c.clusterConfig(), { password: 'wrong' });
      try {
        await assert.rejects(conn.listMembers(), (err: unknown) => {
          assert.ok(err instanceof EtcdBackupError, `an EtcdBackupError, got ${String(err)}`);
          assert.strictEqual(err.kind, 'auth', err.message);
          return true;
        });
      } finally {
        conn.close();
      }
    });

    it('another user (clusterConfig override) lists members with its own password', async () => {
      await c.etcdctlOk(['user', 'add', 'alice:alice-pw', '--interactive=false'], { user: 'root' });
      const conn = await EtcdConnection.open(c.clusterConfig({ username: 'alice' }), { password: 'alice-pw' });
      try {
        assert.strictEqual((await conn.listMembers()).length, 3);
      } finally {
        conn.close();
      }
    });
  });
});
