/**
 * Clusters and members against real etcd 3.4 clusters on loopback (test/support/etcdRig.ts):
 * the overview of every member (checked against etcdctl's own answers), a dead or frozen
 * member reported within the deadline while the others still report, member add / promote /
 * remove round-trips, and each bad input with its own error kind and sentence.
 */
import * as assert from 'assert';
import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import * as net from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { ClusterOverview, clusterSummary, formatEndpointStatusTable, memberStartEnv, quorumAfterRemoval } from '../../src/core/clusterStatus';
import { EtcdBackupError } from '../../src/core/errors';
import { EtcdConnection, fetchClusterOverview, withConnection } from '../../src/core/etcd';
import { buildEtcdctlCommand } from '../../src/core/etcdctlCommand';
import type { ClusterConfig, ClusterSecrets } from '../../src/core/types';
import { EtcdTestCluster, generatePki, newMemberSlot, startCluster, startMemberProcess, TestMember } from '../support/etcdRig';
import { waitFor } from '../support/waitFor';

/** Deadline used by these clusters, and what "nothing hangs past it" allows on top. */
const TIMEOUT_MS = 3000;
const MARGIN_MS = 1500;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - t0 };
}

async function rejection(p: Promise<unknown>): Promise<EtcdBackupError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EtcdBackupError, `expected an EtcdBackupError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Run a built etcdctl command (argv + env) and return stdout. */
function runEtcdctl(argv: string[], env: Record<string, string>, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0], argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${argv.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Rows of an etcdctl -w table, as arrays of trimmed cells. */
function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(1)
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

function checkAllHealthy(o: ClusterOverview, cluster: EtcdTestCluster): void {
  assert.strictEqual(o.reachable, true, o.error?.message);
  assert.deepStrictEqual(o.members.map((m) => m.name).sort(), cluster.members.map((m) => m.name).sort());
  assert.strictEqual(o.members.filter((m) => m.role === 'leader').length, 1, 'exactly one leader');
  for (const m of o.members) {
    assert.strictEqual(m.healthy, true, `${m.name}: ${m.error?.message}`);
    assert.strictEqual(m.version, '3.4.23');
    assert.ok((m.dbSize ?? 0) > 0 && (m.dbSizeInUse ?? 0) > 0 && (m.dbSizeInUse ?? 0) <= (m.dbSize ?? 0), `${m.name} db sizes`);
    assert.ok(Number(m.raftTerm) >= 2 && Number(m.raftIndex) > 0, `${m.name} raft term/index`);
    assert.deepStrictEqual(m.clientURLs, [cluster.member(m.name).clientURL]);
    assert.deepStrictEqual(m.peerURLs, [cluster.member(m.name).peerURL]);
  }
  assert.match(clusterSummary(o), /^3\/3 healthy · leader \S+ · v3\.4\.23 · \d+(\.\d)? [kMG]?B$/);
}

describe('clusters and members on a plain 3-member cluster', function () {
  let cluster: EtcdTestCluster;
  let cfg: ClusterConfig;

  before(async function () {
    cluster = await startCluster({ members: 3, name: 'plain', clientTimeoutMs: TIMEOUT_MS });
    cfg = cluster.clusterConfig();
    await cluster.etcdctlOk(['put', '/registry/pods/default/a', 'x'.repeat(2000)]);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('reports every member: the names, hex ids and leader etcdctl reports, all healthy', async () => {
    const o = await fetchClusterOverview(cfg);
    checkAllHealthy(o, cluster);
    const listed = await cluster.memberListJson();
    assert.strictEqual(o.clusterId, listed.clusterId);
    assert.deepStrictEqual(
      o.members.map((m) => [m.id, m.name]).sort(),
      listed.members.map((m) => [m.id, m.name]).sort(),
    );
    // Same rows as `etcdctl endpoint status -w table` (raft index/applied index move between
    // the two calls, so those two columns are left out).
    const ours = tableRows(formatEndpointStatusTable(o.probes.filter((p) => p.status).map((p) => p.status!)));
    const theirs = tableRows(await cluster.etcdctlOk(['endpoint', 'status', '-w', 'table']));
    const drop = (rows: string[][]): string[][] => rows.map((r) => [...r.slice(0, 7), r[9]]).sort();
    assert.deepStrictEqual(drop(ours), drop(theirs));
  });

  it('the copied etcdctl command runs and lists the same members', async () => {
    const cmd = buildEtcdctlCommand(cfg, { program: '/usr/bin/etcdctl', args: ['member', 'list', '-w', 'json'] });
    const out = JSON.parse((await runEtcdctl(cmd.argv, cmd.env)).replace(/"ID":(\d+)/g, '"ID":"$1"')) as { members: { ID: string }[] };
    const o = await fetchClusterOverview(cfg);
    assert.deepStrictEqual(out.members.map((m) => BigInt(m.ID).toString(16)).sort(), o.members.map((m) => m.id).sort());
  });

  it('a killed member shows as unreachable (connection refused) while the other two report, within the deadline', async () => {
    // A follower: killing the leader would leave the others in an election for a moment.
    const before = await fetchClusterOverview(cfg);
    const victim = cluster.member(before.members.find((m) => m.role === 'follower')!.name);
    await victim.kill();
    try {
      const { value: o, ms } = await timed(() => fetchClusterOverview(cfg));
      assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms`);
      const dead = o.members.find((m) => m.name === victim.name);
      assert.ok(dead, 'the killed member is still in the member list');
      assert.strictEqual(dead.reachable, false);
      assert.strictEqual(dead.healthy, false);
      assert.strictEqual(dead.error?.kind, 'unreachable');
      assert.strictEqual(dead.error?.reason, 'connection refused');
      assert.match(dead.error?.message ?? '', new RegExp(`Cannot connect to ${victim.clientURL.replace(/[.]/g, '\\.')}`));
      const alive = o.members.filter((m) => m.name !== victim.name);
      assert.ok(alive.every((m) => m.healthy && m.reachable && m.version === '3.4.23'), JSON.stringify(alive.map((m) => m.error)));
      assert.match(clusterSummary(o), /^2\/3 healthy · leader /);
      // Quorum math on the live answer: the dead one can go; removing a healthy one would lose quorum.
      assert.strictEqual(quorumAfterRemoval(o.members, dead.id).losesQuorum, false);
      assert.strictEqual(quorumAfterRemoval(o.members, alive[0].id).losesQuorum, true);
      // Even with only the dead member's endpoint configured first, the others answer.
      const survivor = cluster.members.find((m) => m.name !== victim.name)!;
      const reordered = await fetchClusterOverview({ ...cfg, endpoints: [victim.clientURL, survivor.clientURL] });
      assert.strictEqual(reordered.reachable, true);
      assert.strictEqual(reordered.members.filter((m) => m.healthy).length, 2);
    } finally {
      await victim.start();
      await cluster.waitHealthy();
    }
  });

  it('a frozen member (SIGSTOP) is reported as a timeout, and the overview still returns within the deadline', async () => {
    const before = await fetchClusterOverview(cfg);
    const victim = cluster.member(before.members.find((m) => m.role === 'follower')!.name);
    const pid = victim.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const { value: o, ms } = await timed(() => fetchClusterOverview(cfg));
      assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms (deadline ${TIMEOUT_MS} ms)`);
      const frozen = o.members.find((m) => m.name === victim.name);
      assert.strictEqual(frozen?.reachable, false);
      assert.strictEqual(frozen?.error?.kind, 'timeout');
      assert.strictEqual(frozen?.error?.reason, 'timeout');
      assert.strictEqual(o.members.filter((m) => m.reachable).length, 2);
    } finally {
      process.kill(pid, 'SIGCONT');
      await cluster.waitHealthy();
    }
  });

  it('member add as learner with no process: a learner "not started"; promote refused with the reason; remove', async () => {
    // etcd refuses membership changes until every member has been connected for 5 s.
    const added = await waitFor(
      async () => withConnection(cfg, {}, (c) => c.memberAdd(['http://127.0.0.1:1'], { isLearner: true })),
      20_000,
      'member add to be accepted',
    );
    try {
      await ghostChecks(added);
    } finally {
      // Leave the cluster as it was even when a check failed.
      await withConnection(cfg, {}, (c) => c.memberRemove(added.member.id)).catch(() => undefined);
    }
  });

  async function ghostChecks(added: Awaited<ReturnType<EtcdConnection['memberAdd']>>): Promise<void> {
    assert.strictEqual(added.member.isLearner, true);
    assert.strictEqual(added.members.length, 4);
    const env = memberStartEnv(added.members, added.member, 'ghost');
    assert.strictEqual(env.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.ok(env.ETCD_INITIAL_CLUSTER.split(',').includes('ghost=http://127.0.0.1:1'));
    assert.strictEqual(env.ETCD_INITIAL_CLUSTER.split(',').length, 4);

    const o = await fetchClusterOverview(cfg);
    const ghost = o.members.find((m) => m.id === added.member.id);
    assert.ok(ghost);
    assert.deepStrictEqual([ghost.role, ghost.started, ghost.healthy], ['learner', false, false]);
    assert.strictEqual(clusterSummary(o).split(' · ')[0], '3/4 healthy');

    const err = await rejection(withConnection(cfg, {}, (c) => c.memberPromote(added.member.id)));
    assert.strictEqual(err.kind, 'conflict');
    assert.match(err.message, /has not caught up with the leader yet .*not in sync with leader|in sync with leader/);

    const dup = await rejection(withConnection(cfg, {}, (c) => c.memberAdd(['http://127.0.0.1:1'], { isLearner: true })));
    assert.strictEqual(dup.kind, 'conflict');
    assert.match(dup.message, /^A member with peer URL http:\/\/127\.0\.0\.1:1 already exists\./);
    const second = await rejection(withConnection(cfg, {}, (c) => c.memberAdd(['http://127.0.0.1:2'], { isLearner: true })));
    assert.strictEqual(second.kind, 'conflict');
    assert.match(second.message, /already has a learner/);

    const after = await withConnection(cfg, {}, (c) => c.memberRemove(added.member.id));
    assert.strictEqual(after.length, 3);
    const gone = await rejection(withConnection(cfg, {}, (c) => c.memberRemove(added.member.id)));
    assert.strictEqual(gone.kind, 'notFound');
    assert.match(gone.message, /is not in cluster "plain"/);
  }

  it('member add as learner, a real process joins with "existing", promote, then remove', async () => {
    const slot = await newMemberSlot({ name: 'joiner' });
    let joiner: TestMember | undefined;
    try {
      const added = await waitFor(async () => withConnection(cfg, {}, (c) => c.memberAdd([slot.peerURL], { isLearner: true })), 20_000, 'member add');
      const env = memberStartEnv(added.members, added.member, 'joiner');
      joiner = await startMemberProcess({
        name: env.ETCD_NAME,
        dir: slot.dir,
        dataDir: slot.dataDir,
        clientURL: slot.clientURL,
        peerURL: env.ETCD_INITIAL_ADVERTISE_PEER_URLS,
        initialCluster: env.ETCD_INITIAL_CLUSTER,
        initialClusterState: 'existing',
        initialClusterToken: cluster.token,
      });
      joiner.ports.push(...slot.ports);
      // The learner shows as started and healthy (a serializable health read) once it joined.
      const o = await waitFor(
        async () => {
          const x = await fetchClusterOverview(cfg);
          const l = x.members.find((m) => m.id === added.member.id);
          return l?.healthy && l.role === 'learner' ? x : undefined;
        },
        30_000,
        'the learner to join',
      );
      assert.strictEqual(o.members.length, 4);
      const promoted = await waitFor(
        async () => {
          try {
            return await withConnection(cfg, {}, (c) => c.memberPromote(added.member.id));
          } catch (err) {
            if (err instanceof EtcdBackupError && err.kind === 'conflict') return undefined;
            throw err;
          }
        },
        30_000,
        'the learner to catch up',
      );
      assert.strictEqual(promoted.find((m) => m.id === added.member.id)?.isLearner, false);
      const o2 = await fetchClusterOverview(cfg);
      assert.strictEqual(o2.members.find((m) => m.id === added.member.id)?.role === 'learner', false);
      assert.strictEqual(o2.members.length, 4);
      // 4 voters: removing the joiner leaves 3, quorum 2.
      const q = quorumAfterRemoval(o2.members, added.member.id);
      assert.deepStrictEqual([q.before.quorum, q.after.voters, q.after.quorum, q.losesQuorum], [3, 3, 2, false]);
      const after = await withConnection(cfg, {}, (c) => c.memberRemove(added.member.id));
      assert.strictEqual(after.length, 3);
    } finally {
      await joiner?.stop(1000);
      await joiner?.remove();
    }
    await cluster.waitHealthy();
  });

  it('refuses a bad member id or peer URL with a sentence, before calling etcd', async () => {
    const conn = await EtcdConnection.open(cfg);
    try {
      const badId = await rejection(conn.memberRemove('not-hex'));
      assert.strictEqual(badId.kind, 'invalidInput');
      assert.match(badId.message, /is not a member id/);
      const badUrl = await rejection(conn.memberAdd(['10.0.0.14:2380']));
      assert.strictEqual(badUrl.kind, 'invalidInput');
      assert.match(badUrl.message, /needs a scheme/);
    } finally {
      conn.close();
    }
  });
});

describe('clusters on a TLS cluster with client-certificate auth', function () {
  let cluster: EtcdTestCluster;
  let cfg: ClusterConfig;
  let otherCa: string;
  let otherDir: string;

  before(async function () {
    cluster = await startCluster({ members: 3, tls: true, name: 'tls', clientTimeoutMs: TIMEOUT_MS });
    cfg = cluster.clusterConfig();
    otherDir = mkdtempSync(join(tmpdir(), 'other-ca-'));
    otherCa = (await generatePki(join(otherDir, 'pki'), { cn: 'some-other-ca' })).caFile;
  });
  after(async () => {
    await cluster?.stop();
    if (otherDir) rmSync(otherDir, { recursive: true, force: true });
  });

  it('reports every member over TLS with the CA and the healthcheck-client pair', async () => {
    assert.ok(cfg.endpoints.every((e) => e.startsWith('https://')));
    assert.match(cfg.tls?.certFile ?? '', /healthcheck-client\.crt$/);
    const o = await fetchClusterOverview(cfg);
    checkAllHealthy(o, cluster);
    const conn = await EtcdConnection.open(cfg);
    try {
      const health = await Promise.all(cfg.endpoints.map((e) => conn.endpointHealth(e)));
      assert.ok(health.every((h) => h.healthy && h.tookMs > 0), JSON.stringify(health));
    } finally {
      conn.close();
    }
  });

  it('wrong CA: "TLS handshake failed", one sentence, within the deadline', async () => {
    const { value: o, ms } = await timed(() => fetchClusterOverview({ ...cfg, tls: { ...cfg.tls, caFile: otherCa } }));
    assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms`);
    assert.strictEqual(o.reachable, false);
    assert.strictEqual(o.error?.kind, 'tls');
    assert.strictEqual(o.error?.reason, 'TLS handshake failed');
    assert.match(o.error?.message ?? '', /^TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed \(.*\)\. Check the CA, client certificate and key/);
    assert.strictEqual(clusterSummary(o), 'unreachable: TLS handshake failed');
    assert.strictEqual(o.endpointErrors.length, 3);
  });

  it('insecureSkipVerify (etcdctl --insecure-skip-tls-verify) connects without the right CA; other clients still verify', async () => {
    const skip = { ...cfg, tls: { ...cfg.tls, caFile: otherCa, insecureSkipVerify: true } };
    const o = await fetchClusterOverview(skip);
    checkAllHealthy(o, cluster);
    const noCa = await fetchClusterOverview({ ...cfg, tls: { certFile: cfg.tls?.certFile, keyFile: cfg.tls?.keyFile, insecureSkipVerify: true } });
    assert.strictEqual(noCa.reachable, true, noCa.error?.message);
    // The skip is scoped to that client: the same wrong CA without it still fails.
    const strict = await fetchClusterOverview({ ...cfg, tls: { ...cfg.tls, caFile: otherCa } });
    assert.strictEqual(strict.error?.reason, 'TLS handshake failed');
  });

  it('no client certificate: the server refuses it ("certificate unknown")', async () => {
    const { value: o, ms } = await timed(() => fetchClusterOverview({ ...cfg, tls: { caFile: cfg.tls?.caFile } }));
    assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms`);
    assert.strictEqual(o.error?.kind, 'tls');
    assert.strictEqual(o.error?.reason, 'certificate unknown');
  });

  it('missing key file: names the file and the setting, at once', async () => {
    const missing = join(cluster.tls!.dir, 'no-such-client.key');
    const { value: o, ms } = await timed(() => fetchClusterOverview({ ...cfg, tls: { ...cfg.tls, keyFile: missing } }));
    assert.ok(ms < 500, `took ${ms} ms`);
    assert.strictEqual(o.error?.kind, 'notFound');
    assert.strictEqual(o.error?.reason, 'file missing');
    assert.strictEqual(o.error?.message, `The client key ${missing} of cluster "tls" does not exist. Fix the path in the cluster's settings.`);
    const err = await rejection(EtcdConnection.open({ ...cfg, tls: { ...cfg.tls, keyFile: missing } }));
    assert.strictEqual(err.kind, 'notFound');
  });

  it('the copied etcdctl command (with --cacert/--cert/--key) works against the TLS cluster', async () => {
    const cmd = buildEtcdctlCommand(cfg, { program: '/usr/bin/etcdctl', args: ['endpoint', 'health'] });
    assert.ok(cmd.argv.includes(`--cacert=${cfg.tls?.caFile}`) && cmd.argv.includes(`--key=${cfg.tls?.keyFile}`));
    // etcdctl writes the health lines to stderr.
    const out = await new Promise<string>((resolve) =>
      execFile(cmd.argv[0], cmd.argv.slice(1), { env: { PATH: '/usr/bin:/bin', ...cmd.env } }, (_e, stdout, stderr) => resolve(stdout + stderr)),
    );
    for (const e of cfg.endpoints) {
      assert.match(out, new RegExp(`${e.replace(/[.]/g, '\\.')} is healthy`));
    }
  });
});

describe('clusters on a cluster with user/password auth', function () {
  let cluster: EtcdTestCluster;
  let cfg: ClusterConfig;
  let secrets: ClusterSecrets;

  before(async function () {
    cluster = await startCluster({ members: 3, name: 'auth', auth: { password: 'r00t-pw' }, clientTimeoutMs: TIMEOUT_MS });
    cfg = cluster.clusterConfig();
    secrets = cluster.secrets();
  });
  after(async () => {
    await cluster?.stop();
  });

  it('reports every member with the right password', async () => {
    assert.strictEqual(cfg.username, 'root');
    checkAllHealthy(await fetchClusterOverview(cfg, secrets), cluster);
  });

  it('wrong password: "auth failed", one sentence, within the deadline', async () => {
    const { value: o, ms } = await timed(() => fetchClusterOverview(cfg, { password: 'wrong' }));
    assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms`);
    assert.strictEqual(o.reachable, false);
    assert.strictEqual(o.error?.kind, 'auth');
    assert.strictEqual(o.error?.reason, 'auth failed');
    assert.match(o.error?.message ?? '', /^etcd refused the credentials at http:\/\/127\.0\.0\.1:\d+\. Check the user name and password\.$/);
    const err = await rejection(withConnection(cfg, { password: 'wrong' }, (c) => c.memberRemove('1')));
    assert.strictEqual(err.kind, 'auth');
  });

  it('the copied command carries --user without the password; etcdctl asks for it', async () => {
    const cmd = buildEtcdctlCommand(cfg, { program: '/usr/bin/etcdctl', args: ['member', 'list'] });
    assert.ok(cmd.argv.includes('--user=root'));
    assert.ok(!cmd.shell.includes('r00t-pw') && !cmd.argv.some((a) => a.startsWith('--password')));
    // etcdctl 3.4 reads the password from the terminal, or from stdin when there is none.
    const out = await runEtcdctl(cmd.argv, cmd.env, 'r00t-pw\n');
    assert.strictEqual(out.split('\n').filter((l) => /, started, /.test(l)).length, 3, out);
  });
});

describe('clusters: endpoints that do not answer', function () {
  it('a closed port: "connection refused" at once', async () => {
    const { value: o, ms } = await timed(() => fetchClusterOverview({ name: 'closed', endpoints: ['http://127.0.0.1:1'], timeoutMs: TIMEOUT_MS }));
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.strictEqual(o.error?.kind, 'unreachable');
    assert.strictEqual(clusterSummary(o), 'unreachable: connection refused');
    assert.match(o.error?.message ?? '', /^Cannot connect to http:\/\/127\.0\.0\.1:1 \(connection refused or host unreachable\)\./);
  });

  it('a server that accepts and never answers: "timeout" within the deadline', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const { value: o, ms } = await timed(() => fetchClusterOverview({ name: 'silent', endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 1500 }));
      assert.ok(ms < 1500 + MARGIN_MS, `took ${ms} ms`);
      assert.strictEqual(o.reachable, false);
      assert.strictEqual(o.error?.kind, 'timeout');
      assert.strictEqual(clusterSummary(o), 'unreachable: timeout');
      const err = await rejection(withConnection({ name: 'silent', endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 1500 }, {}, (c) => c.memberRemove('1')));
      assert.strictEqual(err.kind, 'timeout');
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  });
});
