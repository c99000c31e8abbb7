/**
 * The etcd test rig itself, on real etcd 3.4 processes: a 1-member cluster answers; a
 * 3-member cluster keeps serving after losing one member, stops taking writes after losing
 * two, and heals when they come back; a wiped member is gone from disk; stop removes it all.
 */
import * as assert from 'assert';
import { existsSync, readdirSync } from 'fs';
import { fillerValue, putKeys, seedKubernetes } from '../support/etcdData';
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

    it('putKeys writes n keys of the given size in batches', async () => {
      const { keys, revision } = await putKeys(c, '/bulk/', 1000, 100);
      assert.strictEqual(keys.length, 1000);
      assert.strictEqual(keys[0], '/bulk/000000');
      const count = await c.etcdctlOk(['get', '/bulk/', '--prefix', '--keys-only', '-w', 'json']);
      assert.strictEqual(JSON.parse(count).count, 1000);
      const v = await c.etcdctlOk(['get', keys[537], '--print-value-only']);
      assert.strictEqual(v.replace(/\n$/, ''), fillerValue(keys[537], 100).toString());
      assert.strictEqual(v.replace(/\n$/, '').length, 100);
      const status = await c.memberStatus(c.members[0]);
      assert.ok(revision > 1 && revision <= Number(status.raftIndex) + 10, `revision ${revision}`);
    });

    it('seedKubernetes writes a /registry keyspace with k8s protobuf envelopes', async () => {
      const seeded = await seedKubernetes(c, { namespaces: ['default', 'kube-system'], podsPerNamespace: 4, podUpdates: 2 });
      const pods = (await c.etcdctlOk(['get', '/registry/pods/default/', '--prefix', '--keys-only'])).split('\n').filter(Boolean);
      assert.strictEqual(pods.length, 4);
      const all = JSON.parse(await c.etcdctlOk(['get', '/registry/', '--prefix', '--keys-only', '-w', 'json'])).count as number;
      assert.strictEqual(all, seeded.keys.length);
      const raw = JSON.parse(await c.etcdctlOk(['get', pods[0], '-w', 'json'])) as { kvs: { value: string; version: number }[] };
      const value = Buffer.from(raw.kvs[0].value, 'base64');
      assert.deepStrictEqual(value.subarray(0, 4), Buffer.from('k8s\0', 'binary'));
      assert.ok(value.includes(Buffer.from('Pod')) && value.includes(Buffer.from('default')));
      assert.strictEqual(raw.kvs[0].version, 3, 'written once and updated twice');
      assert.deepStrictEqual(value, seeded.values.get(pods[0]));
      const crd = await c.etcdctlOk(['get', '/registry/example.com/widgets/default/widget-a', '--print-value-only']);
      assert.strictEqual(JSON.parse(crd).kind, 'Widget');
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

  describe('TLS and auth with a non-root user', () => {
    let c: EtcdTestCluster;
    before(async () => {
      c = await startCluster({ members: 1, tls: true, auth: { user: 'alice', password: 'alice-pw', rootPassword: 'root-pw' } });
    });
    after(async () => {
      await c?.stop();
    });

    it('lays the PKI out as kubeadm does, keys 0600, SANs for 127.0.0.1 and localhost', async () => {
      const { statSync } = await import('fs');
      const { execFileSync } = await import('child_process');
      const tls = c.tls!;
      assert.deepStrictEqual(
        readdirSync(tls.dir).sort(),
        ['ca.crt', 'ca.key', 'healthcheck-client.crt', 'healthcheck-client.key', 'peer.crt', 'peer.key', 'server.crt', 'server.key'],
      );
      for (const k of [tls.caKey, tls.serverKey, tls.peerKey, tls.clientKey]) {
        assert.strictEqual(statSync(k).mode & 0o777, 0o600, k);
      }
      const text = execFileSync('openssl', ['x509', '-in', tls.serverCert, '-noout', '-text'], { encoding: 'utf8' });
      assert.match(text, /DNS:localhost/);
      assert.match(text, /IP Address:127\.0\.0\.1/);
      execFileSync('openssl', ['verify', '-CAfile', tls.caFile, tls.serverCert, tls.peerCert, tls.clientCert]);
    });

    it('refuses a client without a certificate', async () => {
      // Only the CA, no client cert: the server demands one (--client-cert-auth).
      const { execFile } = await import('child_process');
      const r = await new Promise<{ failed: boolean; stderr: string }>((resolve) => {
        execFile(
          '/usr/bin/etcdctl',
          [`--endpoints=${c.endpoints[0]}`, `--cacert=${c.tls!.caFile}`, '--user=alice', '--password=alice-pw', '--dial-timeout=1s', '--command-timeout=2s', 'get', 'x'],
          { env: { ETCDCTL_API: '3', PATH: process.env.PATH } },
          (err, _o, stderr) => resolve({ failed: Boolean(err), stderr }),
        );
      });
      assert.ok(r.failed, 'etcdctl without a client certificate must fail');
      const ok = await c.etcdctl(['get', 'x', '--dial-timeout=1s']);
      assert.strictEqual(ok.code, 0, `with the client certificate it works: ${ok.stderr}`);
    });

    it('the non-root user reads and writes; root has its own password; a wrong one fails', async () => {
      assert.strictEqual(c.clusterConfig().username, 'alice');
      assert.strictEqual(c.password, 'alice-pw');
      await c.etcdctlOk(['put', '/app/x', '1']);
      assert.strictEqual((await c.etcdctlOk(['get', '/app/x', '--print-value-only'])).trim(), '1');
      const users = await c.etcdctlOk(['user', 'list'], { user: 'root' });
      assert.deepStrictEqual(users.split('\n').filter(Boolean).sort(), ['alice', 'root']);
      const bad = await c.etcdctl(['get', '/app/x'], { password: 'nope' });
      assert.notStrictEqual(bad.code, 0);
      assert.match(bad.stderr, /authentication failed/);
      const denied = await c.etcdctl(['user', 'list']);
      assert.notStrictEqual(denied.code, 0, 'alice is not root');
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

    it('addMember starts a new member process that joins with "existing" and serves; removed, it is gone', async () => {
      await c.etcdctlOk(['put', '/rig/add', 'present']);
      const m = await c.addMember({ name: 'fourth' });
      assert.strictEqual(c.members.length, 4);
      assert.ok(c.endpoints.includes(m.clientURL));
      assert.ok(m.args().includes('--initial-cluster-state=existing'));
      const v = await c.etcdctlOk(['get', '/rig/add', '--print-value-only'], { endpoints: [m.clientURL] });
      assert.strictEqual(v.trim(), 'present');
      const listed = await c.memberListJson();
      const info = listed.members.find((x) => x.name === 'fourth');
      assert.ok(info && info.clientURLs[0] === m.clientURL && !info.isLearner);

      await c.etcdctlOk(['member', 'remove', info.id], { endpoints: [c.members[0].clientURL] });
      await m.exited(); // a removed member shuts itself down
      c.forget(m);
      const dir = m.dir;
      await m.remove();
      assert.ok(!existsSync(dir));
      assert.strictEqual((await c.memberListJson()).members.length, 3);
      assert.strictEqual(c.members.length, 3);
    });
  });
});
