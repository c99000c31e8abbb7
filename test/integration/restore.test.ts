/**
 * Restore and member repair, drilled on real etcd clusters on loopback (etcd 3.4 from Debian,
 * /usr/bin/etcd and /usr/bin/etcdctl, started by the shared rig): replacing a failed member while
 * quorum holds, restoring a whole cluster from one snapshot after quorum is lost (TLS, as on a
 * kubeadm control plane), the restore runbook run as written, the refusals (each with its own
 * message, nothing changed on disk), and the trial restore.
 */
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { restoreCommand } from '../../src/cli/restore';
import { EtcdConnection } from '../../src/core/etcd';
import { formatInitialCluster, memberFlags, newClusterToken, RestorePlan } from '../../src/core/restore/plan';
import { promoteWhenCaughtUp, replaceMember } from '../../src/core/restore/replace';
import { etcdProcessesUsing, processesHolding } from '../../src/core/restore/processes';
import { restoreMember, trialRestore } from '../../src/core/restore/restore';
import { buildRunbook } from '../../src/core/restore/runbook';
import { captureOutput } from '../support/captureOutput';
import { allocatePort, EtcdTestCluster, probeHealth, releasePort, startCluster, startMemberProcess, TestMember } from '../support/etcdRig';
import { waitFor } from '../support/waitFor';

// ---------------------------------------------------------------------------------------
// Helpers

/**
 * etcd's strict reconfiguration check counts only peers connected for at least 5 s
 * (HealthInterval): member changes on a younger cluster are refused. Wait until it is old enough.
 */
async function ageForReconfig(startedAt: number): Promise<void> {
  const wait = startedAt + 5500 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/** Keys and values the drills write: plain, overwritten, deleted, large. */
async function writeData(conn: EtcdConnection): Promise<Map<string, string>> {
  const expected = new Map<string, string>();
  for (let i = 0; i < 150; i++) {
    const k = `/registry/pods/ns-${i % 5}/pod-${String(i).padStart(3, '0')}`;
    const v = `{"i":${i},"pad":"${'x'.repeat(i * 7)}"}`;
    await conn.client.put(k).value(v);
    expected.set(k, v);
  }
  await conn.client.put('/registry/pods/ns-0/pod-000').value('overwritten');
  expected.set('/registry/pods/ns-0/pod-000', 'overwritten');
  await conn.client.delete().key('/registry/pods/ns-1/pod-001');
  expected.delete('/registry/pods/ns-1/pod-001');
  const big = 'B'.repeat(70_000);
  await conn.client.put('/registry/configmaps/big').value(big);
  expected.set('/registry/configmaps/big', big);
  return expected;
}

/** Every key with its value, read from one member (serializable: that member's own copy). */
async function readAll(cluster: EtcdTestCluster, m: TestMember): Promise<Map<string, string>> {
  const c = await EtcdConnection.open(cluster.clusterConfig({ endpoints: [m.clientURL] }), cluster.secrets());
  try {
    const res = await c.client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), serializable: true });
    return new Map(res.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
  } finally {
    c.close();
  }
}

function assertSameData(actual: Map<string, string>, expected: Map<string, string>, where: string): void {
  assert.strictEqual(actual.size, expected.size, `${where}: ${actual.size} keys, expected ${expected.size}`);
  for (const [k, v] of expected) {
    assert.strictEqual(actual.get(k), v, `${where}: value of ${k}`);
  }
}

/** Every path under `dir` with its kind, size, mode and owner, sorted. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = statSync(join(d, e.name));
      out.push(`${r} ${st.isDirectory() ? 'dir' : st.size} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

async function snapshotStatus(cluster: EtcdTestCluster, file: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number }> {
  return JSON.parse(await cluster.etcdctlOk(['snapshot', 'status', file, '-w', 'json'])) as { hash: number; revision: number; totalKey: number; totalSize: number };
}

/** A member process on `m`'s ports and folder, from a given data dir (replacement, restore). */
function startLike(cluster: EtcdTestCluster, m: TestMember, opts: { name?: string; dataDir: string; initialCluster: string; state: 'new' | 'existing'; token?: string }): Promise<TestMember> {
  return startMemberProcess({
    name: opts.name ?? m.name,
    dataDir: opts.dataDir,
    clientURL: m.clientURL,
    peerURL: m.peerURL,
    initialCluster: opts.initialCluster,
    initialClusterState: opts.state,
    initialClusterToken: opts.token ?? cluster.token,
    tls: cluster.tls,
    dir: m.dir,
    logFile: join(m.dir, `${opts.name ?? m.name}-${Date.now()}.log`),
  });
}

// ---------------------------------------------------------------------------------------

describe('restore and member repair against real etcd (integration)', function () {
  this.timeout(180_000);
  let root: string;
  const clusters: EtcdTestCluster[] = [];
  const extra: TestMember[] = [];
  const conns: EtcdConnection[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-drill-'));
  });
  afterEach(async () => {
    for (const c of conns.splice(0)) c.close();
    await Promise.all(extra.splice(0).map((m) => m.stop(1000)));
    await Promise.all(clusters.splice(0).map((c) => c.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  async function cluster(opts: Parameters<typeof startCluster>[0]): Promise<{ c: EtcdTestCluster; conn: EtcdConnection; startedAt: number }> {
    const startedAt = Date.now();
    const c = await startCluster(opts);
    clusters.push(c);
    const conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    conns.push(conn);
    return { c, conn, startedAt };
  }

  it('replaces a failed member while quorum holds: remove, add, start with "existing"; 3 healthy members with every key', async () => {
    const { c, conn, startedAt } = await cluster({ members: 3, name: 'replace' });
    const expected = await writeData(conn);
    const [m1, m2, m3] = c.members;

    // m3's machine dies and its disk is lost.
    await m3.kill();
    rmSync(m3.dataDir, { recursive: true, force: true });
    const failedId = (await conn.listMembers()).find((m) => m.name === m3.name)?.id as string;
    assert.ok(failedId);
    // If m3 led, the others elect a new leader first (until then quorum looks lost, and is refused).
    await c.waitLeader({ members: [m1, m2] });
    await ageForReconfig(startedAt);

    const steps: string[] = [];
    const healthy = await EtcdConnection.open(c.clusterConfig({ endpoints: [m1.clientURL, m2.clientURL] }));
    conns.push(healthy);
    const r = await replaceMember(healthy, { memberId: failedId, name: m3.name, peerURLs: [m3.peerURL], onStep: (s) => steps.push(`${s.step}:${s.state}`) });
    // (add:running repeats while etcd says the cluster is not ready for a new member yet)
    assert.deepStrictEqual(steps.filter((x, i) => x !== steps[i - 1]), ['quorum:running', 'quorum:done', 'remove:running', 'remove:done', 'add:running', 'add:done', 'done:done']);
    assert.strictEqual(r.quorum.before.voters, 3);
    assert.strictEqual(r.quorum.before.healthyVoters, 2);
    assert.strictEqual(r.quorum.after.voters, 2);
    assert.strictEqual(r.quorum.losesQuorum, false);
    assert.strictEqual(r.removed.id, failedId);
    assert.notStrictEqual(r.added.id, failedId);
    assert.deepStrictEqual(Object.keys(r.env), ['ETCD_NAME', 'ETCD_INITIAL_CLUSTER', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_INITIAL_CLUSTER_STATE']);
    assert.strictEqual(r.env.ETCD_NAME, m3.name);
    assert.strictEqual(r.env.ETCD_INITIAL_ADVERTISE_PEER_URLS, m3.peerURL);
    assert.strictEqual(r.env.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.deepStrictEqual(r.env.ETCD_INITIAL_CLUSTER.split(',').sort(), c.initialCluster.split(',').sort());
    assert.ok(r.flags.includes('--initial-cluster-state=existing'));

    // The new member starts with an empty dir and exactly what the add answered.
    const fresh = await startLike(c, m3, { dataDir: join(m3.dir, 'new.etcd'), initialCluster: r.env.ETCD_INITIAL_CLUSTER, state: 'existing' });
    extra.push(fresh);
    await c.waitHealthy({ members: [m1, m2, fresh] });
    const list = await conn.listMembers();
    assert.deepStrictEqual(list.map((m) => m.name).sort(), c.members.map((m) => m.name).sort());
    assert.ok(!list.some((m) => m.id === failedId), 'the failed member is gone');
    for (const m of [m1, m2, fresh]) {
      await waitFor(async () => (await readAll(c, m)).size === expected.size, 20_000, `${m.name} to have every key`);
      assertSameData(await readAll(c, m), expected, m.name);
    }
    await conn.client.put('/after/replace').value('ok');
    assert.strictEqual(await conn.client.get('/after/replace').string(), 'ok');
  });

  it('replaces a replacement that never started (etcd answers the add after that removal with "member not found" once; it is retried)', async () => {
    const { c, startedAt } = await cluster({ members: 3, name: 'replace2' });
    const [m1, m2, m3] = c.members;
    await m3.kill();
    await c.waitLeader({ members: [m1, m2] });
    await ageForReconfig(startedAt);
    const healthy = await EtcdConnection.open(c.clusterConfig({ endpoints: [m1.clientURL, m2.clientURL] }));
    conns.push(healthy);
    const failedId = (await healthy.listMembers()).find((m) => m.name === m3.name)?.id as string;
    const first = await replaceMember(healthy, { memberId: failedId, name: m3.name, peerURLs: [m3.peerURL] });
    // The replacement is never started; the operator replaces it again at once, same name and URL.
    const steps: string[] = [];
    const second = await replaceMember(healthy, { memberId: first.added.id, name: m3.name, peerURLs: [m3.peerURL], onStep: (s) => steps.push(`${s.step}:${s.state}`) });
    assert.strictEqual(second.removed.id, first.added.id);
    assert.notStrictEqual(second.added.id, first.added.id);
    assert.ok(steps.includes('add:done'), steps.join(' '));
    const list = await healthy.listMembers();
    assert.strictEqual(list.length, 3);
    assert.ok(list.some((m) => m.id === second.added.id), 'the second replacement is a member');
    assert.ok(!list.some((m) => m.id === first.added.id), 'the first replacement is gone');
    // And it joins: started with an empty dir and what the second add answered.
    const fresh = await startLike(c, m3, { dataDir: join(m3.dir, 'new2.etcd'), initialCluster: second.env.ETCD_INITIAL_CLUSTER, state: 'existing' });
    extra.push(fresh);
    await c.waitHealthy({ members: [m1, m2, fresh] });
  });

  it('replaces a member as a learner and promotes it once it has caught up (polling with backoff)', async () => {
    const { c, conn, startedAt } = await cluster({ members: 3, name: 'learner' });
    const expected = await writeData(conn);
    const [a, b, m] = c.members;
    await m.kill();
    rmSync(m.dataDir, { recursive: true, force: true });
    const failedId = (await conn.listMembers()).find((x) => x.name === m.name)?.id as string;
    await c.waitLeader({ members: [a, b] });
    await ageForReconfig(startedAt);
    const healthy = await EtcdConnection.open(c.clusterConfig({ endpoints: [a.clientURL, b.clientURL] }));
    conns.push(healthy);
    const r = await replaceMember(healthy, { memberId: failedId, name: 'learner-new', peerURLs: [m.peerURL], asLearner: true });
    assert.strictEqual(r.added.isLearner, true);
    assert.strictEqual(r.env.ETCD_NAME, 'learner-new');
    // Promotion before the learner even runs is refused by etcd; the poll keeps trying.
    const attempts: string[] = [];
    const promoting = promoteWhenCaughtUp(healthy, r.added.id, { deadlineMs: 60_000, initialDelayMs: 200, onAttempt: (_n, e) => attempts.push(e) });
    await new Promise((res) => setTimeout(res, 700));
    const fresh = await startLike(c, m, { name: 'learner-new', dataDir: join(m.dir, 'learner-new.etcd'), initialCluster: r.env.ETCD_INITIAL_CLUSTER, state: 'existing' });
    extra.push(fresh);
    const p = await promoting;
    assert.ok(p.attempts >= 2, `promoted after ${p.attempts} attempts`);
    assert.match(attempts[0], /has not caught up with the leader yet/);
    assert.ok(p.members.every((x) => !x.isLearner), 'every member votes');
    await c.waitHealthy({ members: [a, b, fresh] });
    await waitFor(async () => (await readAll(c, fresh)).size === expected.size, 20_000, 'the promoted member to have every key');
    assertSameData(await readAll(c, fresh), expected, 'learner-new');
  });

  it('refuses a replacement that would lose quorum unless confirmed twice, before changing anything', async () => {
    const { c, conn } = await cluster({ members: 3, name: 'refuse' });
    await c.members[2].kill();
    await c.waitLeader({ members: c.members.slice(0, 2) });
    // Removing a HEALTHY member while another is down leaves 1 of 2 healthy: quorum lost.
    const yId = (await conn.listMembers()).find((m) => m.name === c.members[1].name)?.id as string;
    await assert.rejects(replaceMember(conn, { memberId: yId, name: 'y', peerURLs: ['http://127.0.0.1:1'] }), (e: Error & { kind?: string }) => {
      assert.strictEqual(e.kind, 'noQuorum');
      assert.match(e.message, /LOSE QUORUM.*Refused without a second confirmation\./);
      return true;
    });
    assert.strictEqual((await conn.listMembers()).length, 3, 'nobody was removed');
  });

  it('recovers from lost quorum (TLS, as kubeadm): one snapshot restores all three members into new dirs; every key is back, writes work, old dirs kept', async () => {
    const { c, conn } = await cluster({ members: 3, tls: true, name: 'dr' });
    const expected = await writeData(conn);
    const snap = join(root, 'snapshot.db');
    await c.etcdctlOk(['snapshot', 'save', snap], { endpoints: [c.members[0].clientURL] });
    const status = await snapshotStatus(c, snap);
    await conn.client.put('/written/after/snapshot').value('lost');

    // Two members die: quorum is lost, writes fail.
    await c.members[1].kill();
    await c.members[2].kill();
    const put = await c.etcdctl(['put', '/no/quorum', 'x', '--command-timeout=1500ms'], { endpoints: [c.members[0].clientURL] });
    assert.notStrictEqual(put.code, 0, 'a write without quorum fails');
    // The runbook: stop etcd everywhere (restore refuses while etcd runs with the data dir).
    await c.members[0].stop();

    // Restore every member from the same file, into new dirs, through the core.
    const plan: RestorePlan = { members: c.members.map((m) => ({ name: m.name, peerURLs: [m.peerURL] })), initialClusterToken: newClusterToken(), source: 'manual' };
    const results = [];
    for (const m of c.members) {
      const newDir = join(m.dir, 'restored.etcd');
      const steps: string[] = [];
      const r = await restoreMember({ snapshot: snap, ...memberFlags(plan, m.name), dataDir: newDir, oldDataDir: m.dataDir, onStep: (s) => steps.push(`${s.step}:${s.state}`) });
      assert.deepStrictEqual(steps.filter((x) => x.endsWith(':done')), ['check:done', 'tool:done', 'target:done', 'verify:done', 'restore:done', 'owner:done', 'moveAside:done', 'install:done', 'done:done']);
      assert.strictEqual(r.dataDir, newDir);
      assert.ok(r.movedAside && existsSync(join(r.movedAside, 'member', 'snap', 'db')), 'the old data dir is kept beside the new');
      assert.ok(!existsSync(m.dataDir), 'the old path is free');
      assert.strictEqual(statSync(newDir).mode & 0o777, 0o700);
      assert.ok(existsSync(join(newDir, 'member', 'wal')) && existsSync(join(newDir, 'member', 'snap', 'db')));
      assert.deepStrictEqual(readdirSync(m.dir).filter((n) => /\.restoring-/.test(n)), [], 'no temp dir left');
      results.push(r);
    }

    const restored: TestMember[] = [];
    for (const m of c.members) {
      restored.push(await startLike(c, m, { dataDir: join(m.dir, 'restored.etcd'), initialCluster: formatInitialCluster(plan.members), state: 'new', token: plan.initialClusterToken }));
    }
    extra.push(...restored);
    await c.waitHealthy({ members: restored, timeoutMs: 60_000 });
    const rconn = await EtcdConnection.open(c.clusterConfig({ name: 'restored' }), c.secrets());
    conns.push(rconn);
    const list = await rconn.listMembers();
    assert.deepStrictEqual(list.map((m) => m.name).sort(), c.members.map((m) => m.name).sort());
    for (const m of restored) {
      assertSameData(await readAll(c, m), expected, `restored ${m.name}`);
    }
    const rev = Number((await rconn.client.kv.range({ key: Buffer.from('/') })).header.revision);
    assert.ok(rev >= status.revision, `revision ${rev} >= snapshot's ${status.revision}`);
    assert.strictEqual(await rconn.client.get('/written/after/snapshot').string(), null, 'what came after the snapshot is not there');
    await rconn.client.put('/after/restore').value('works');
    assert.strictEqual(await rconn.client.get('/after/restore').string(), 'works');
    for (const r of results) {
      assert.ok(r.movedAside && statSync(r.movedAside).isDirectory(), 'old data dirs still exist beside the new');
    }
  });

  it('the runbook, run block by block as written (one "machine" per member), restores a working cluster', async () => {
    const { c, conn } = await cluster({ members: 3, name: 'runbook' });
    const expected = await writeData(conn);
    const snap = join(root, 'snap shot.db');
    await c.etcdctlOk(['snapshot', 'save', snap], { endpoints: [c.members[0].clientURL] });
    for (const m of c.members) await m.stop();
    const plan: RestorePlan = { members: c.members.map((m) => ({ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] })), initialClusterToken: newClusterToken(), source: 'manual' };
    const md = buildRunbook({
      plan,
      snapshotPath: snap,
      tool: 'etcdctl',
      setup: Object.fromEntries(c.members.map((m) => [m.name, { dataDir: join(m.dir, 'restored data.etcd'), oldDataDir: m.dataDir, unit: `etcd-${m.name}`, owner: 'root:root' }])),
    });
    const blocks = [...md.matchAll(/```sh\n([\s\S]*?)```/g)].map((x) => x[1]);
    assert.strictEqual(blocks.length, c.members.length + 1);
    // systemctl is the only stand-in (it records); mv, etcdctl, chown and chmod are the real ones.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> ${JSON.stringify(join(root, 'systemctl.log'))}\n`);
    chmodSync(join(bin, 'systemctl'), 0o755);
    c.members.forEach((m, i) => {
      // Step 7 (endpoint status) only answers once a quorum runs: it is run at the end.
      const upToStart = blocks[i].slice(0, blocks[i].indexOf('# 7. Verify'));
      const r = spawnSync('/bin/bash', ['--noprofile', '--norc', '-e', '-c', upToStart], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
      assert.strictEqual(r.status, 0, `${m.name}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^(Error:|mv:|chown:|chmod:|bash:)/m, `${m.name}: ${r.stderr}`);
      assert.ok(existsSync(join(m.dir, 'restored data.etcd', 'member', 'snap', 'db')), `${m.name} restored`);
      assert.ok(readdirSync(m.dir).some((n) => n.startsWith(`${m.name}.etcd.old-`)), `${m.name}'s old dir moved aside`);
    });
    assert.deepStrictEqual(readFileSync(join(root, 'systemctl.log'), 'utf8').trim().split('\n'), c.members.flatMap((m) => [`stop etcd-${m.name}`, `start etcd-${m.name}`, `--no-pager status etcd-${m.name}`]));
    const restored: TestMember[] = [];
    for (const m of c.members) {
      restored.push(await startLike(c, m, { dataDir: join(m.dir, 'restored data.etcd'), initialCluster: formatInitialCluster(plan.members), state: 'new', token: plan.initialClusterToken }));
    }
    extra.push(...restored);
    await c.waitHealthy({ members: restored, timeoutMs: 60_000 });
    for (const m of restored) assertSameData(await readAll(c, m), expected, `${m.name} (runbook)`);
    // The runbook's final check works against the running cluster. Right after the start a
    // member may still miss etcdctl's 5 s deadline on a loaded machine: the operator runs the
    // check again, and so does the test (a few times), before it judges the output.
    const rows = (out: string): boolean =>
      c.members.every(
        (m) =>
          new RegExp(`\\| started +\\| +${m.name} +\\| +${m.peerURL} +\\| +${m.clientURL} +\\|`).test(out) &&
          // etcdctl pads the columns: a 15-digit member ID gets two spaces before it.
          new RegExp(`\\| +${m.clientURL} +\\| +[0-9a-f]+ +\\| +3\\.4\\.\\d+ +\\|`).test(out),
      );
    let final = spawnSync('/bin/bash', ['--noprofile', '--norc', '-c', blocks[c.members.length]], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    for (let attempt = 1; attempt < 5 && !rows(final.stdout); attempt++) {
      await new Promise((r) => setTimeout(r, 2000));
      final = spawnSync('/bin/bash', ['--noprofile', '--norc', '-c', blocks[c.members.length]], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    }
    assert.strictEqual(final.status, 0, final.stderr);
    assert.ok(rows(final.stdout), `every member in the member list and the endpoint status table:\n${final.stdout}\n${final.stderr}`);
  });

  describe('refusals: each with its own message, nothing changed on disk', () => {
    let snap: string;
    let parent: string;
    let c: EtcdTestCluster;
    const flags = { name: 'r1', initialCluster: 'r1=http://127.0.0.1:45001', initialAdvertisePeerUrls: 'http://127.0.0.1:45001', initialClusterToken: 'etcd-restore-test' };

    beforeEach(async () => {
      ({ c } = await cluster({ members: 1, name: 'refusals' }));
      const conn = await EtcdConnection.open(c.clusterConfig());
      conns.push(conn);
      await writeData(conn);
      snap = join(root, 'good.db');
      await c.etcdctlOk(['snapshot', 'save', snap]);
      await c.members[0].stop();
      parent = join(root, 'parent');
      mkdirSync(join(parent, 'old.etcd', 'member'), { recursive: true });
      writeFileSync(join(parent, 'old.etcd', 'member', 'keep'), 'old data');
    });

    async function refused(opts: Parameters<typeof restoreMember>[0], message: RegExp, kind: string): Promise<string> {
      const before = listing(parent);
      let msg = '';
      await assert.rejects(restoreMember(opts), (e: Error & { kind?: string }) => {
        assert.match(e.message, message);
        assert.strictEqual(e.kind, kind);
        msg = e.message;
        return true;
      });
      assert.deepStrictEqual(listing(parent), before, 'the parent dir is unchanged');
      return msg;
    }

    it('refuses each case with its own sentence', async () => {
      const messages: string[] = [];
      // A non-empty target dir.
      mkdirSync(join(parent, 'target.etcd'));
      writeFileSync(join(parent, 'target.etcd', 'something'), 'x');
      messages.push(await refused({ snapshot: snap, ...flags, dataDir: join(parent, 'target.etcd'), oldDataDir: join(parent, 'old.etcd') }, /is not empty \(it holds something\)/, 'conflict'));
      // A corrupt snapshot (one flipped byte in the middle).
      const bad = join(root, 'corrupt.db');
      const bytes = readFileSync(snap);
      bytes[Math.floor(bytes.length / 2)] ^= 0x5a;
      writeFileSync(bad, bytes);
      messages.push(await refused({ snapshot: bad, ...flags, dataDir: join(parent, 'new.etcd'), oldDataDir: join(parent, 'old.etcd') }, /is corrupt: the SHA-256 of its database .* does not match the trailer/, 'corrupt'));
      // A truncated snapshot (no trailer any more).
      const cut = join(root, 'truncated.db');
      writeFileSync(cut, bytes.subarray(0, 4096 * 3));
      messages.push(await refused({ snapshot: cut, ...flags, dataDir: join(parent, 'new.etcd') }, /has no SHA-256 trailer/, 'corrupt'));
      // No restore tool on this machine.
      const emptyBin = join(root, 'empty-bin');
      mkdirSync(emptyBin);
      messages.push(
        await refused(
          { snapshot: snap, ...flags, dataDir: join(parent, 'new.etcd'), oldDataDir: join(parent, 'old.etcd'), toolPaths: { envPath: emptyBin } },
          /^Neither etcdutl nor etcdctl \(3\.4\/3\.5\) was found: install it \(`apt-get install etcd-client`/,
          'toolMissing',
        ),
      );
      // A member name not in --initial-cluster.
      messages.push(await refused({ snapshot: snap, ...flags, name: 'r9', dataDir: join(parent, 'new.etcd'), oldDataDir: join(parent, 'old.etcd') }, /^member name not in --initial-cluster: "r9" is not one of "r1"/, 'invalidInput'));
      // etcd still running with the old data dir.
      const running = await startMemberProcess({
        name: 'r1',
        dataDir: join(parent, 'old.etcd'),
        clientURL: c.members[0].clientURL,
        peerURL: c.members[0].peerURL,
        initialCluster: `r1=${c.members[0].peerURL}`,
        initialClusterState: 'new',
        initialClusterToken: 'still-running',
        logFile: join(root, 'running.log'),
      });
      extra.push(running);
      await running.waitHealthy();
      const before = listing(parent).filter((l) => !l.startsWith('old.etcd/'));
      await assert.rejects(restoreMember({ snapshot: snap, ...flags, dataDir: join(parent, 'new.etcd'), oldDataDir: join(parent, 'old.etcd') }), (e: Error & { kind?: string }) => {
        assert.match(e.message, new RegExp(`^${join(parent, 'old.etcd')} is in use: pid ${running.pid} \\(.*etcd .*\\) holds a flock lock on .*Stop it first`));
        messages.push(e.message);
        return true;
      });
      // (the running etcd writes into its own dir; nothing else changed)
      assert.deepStrictEqual(listing(parent).filter((l) => !l.startsWith('old.etcd/')), before);
      await running.stop();
      assert.strictEqual(new Set(messages).size, messages.length, 'every refusal has its own message');
      // And the good one works in the same place afterwards.
      const ok = await restoreMember({ snapshot: snap, ...flags, dataDir: join(parent, 'new.etcd'), oldDataDir: join(parent, 'old.etcd') });
      assert.ok(existsSync(join(ok.dataDir, 'member', 'snap', 'db')));
      assert.strictEqual(readFileSync(join(ok.movedAside as string, 'member', 'keep'), 'utf8'), 'old data');
    });

    it('gives a raw member/snap/db copy (no trailer) a clear choice: refused, then restored with skipHashCheck', async () => {
      const raw = join(root, 'raw-db');
      writeFileSync(raw, readFileSync(join(c.members[0].dataDir, 'member', 'snap', 'db')));
      await refused({ snapshot: raw, ...flags, dataDir: join(parent, 'new.etcd') }, /no SHA-256 trailer.*--skip-hash-check.*WAL/, 'corrupt');
      const r = await restoreMember({ snapshot: raw, ...flags, dataDir: join(parent, 'new.etcd'), skipHashCheck: true });
      assert.ok(r.args.includes('--skip-hash-check'));
      assert.ok(existsSync(join(r.dataDir, 'member', 'snap', 'db')));
    });

    it('trial restore of a good snapshot passes; of a corrupt one fails clearly', async () => {
      const status = await snapshotStatus(c, snap);
      const good = await trialRestore(snap);
      assert.strictEqual(good.ok, true, good.verdict);
      assert.match(good.verdict, /^Trial restore passed: /);
      assert.strictEqual(good.restored?.revision, status.revision);
      assert.strictEqual(good.restored?.keys, 150, '150 pods - 1 deleted + 1 big configmap');
      assert.ok(good.checks.find((x) => x.what === 'revision')?.ok);
      assert.ok(good.steps.some((x) => x.step === 'cleanup' && x.state === 'done'));
      assert.deepStrictEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('etcd-backup-trial-') && existsSync(join(tmpdir(), n, 'data'))), [], 'the temp dir is gone');

      const bad = join(root, 'corrupt.db');
      const bytes = readFileSync(snap);
      bytes[bytes.length - 100] ^= 0x01;
      writeFileSync(bad, bytes);
      const r = await trialRestore(bad);
      assert.strictEqual(r.ok, false);
      assert.match(r.verdict, /^Trial restore failed: .*corrupt\.db is corrupt: the SHA-256 of its database/);
      assert.strictEqual(r.restored, undefined, 'nothing was started');
    });

    it('the CLI restore (what the runbook calls) restores with the same checks, step lines on stderr', async () => {
      const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
        let out = '';
        let err = '';
        const o = process.stdout.write.bind(process.stdout);
        const e = process.stderr.write.bind(process.stderr);
        process.stdout.write = ((x: string | Uint8Array) => ((out += String(x)), true)) as typeof process.stdout.write;
        process.stderr.write = ((x: string | Uint8Array) => ((err += String(x)), true)) as typeof process.stderr.write;
        try {
          return { code: await restoreCommand.run(args), out, err };
        } finally {
          process.stdout.write = o;
          process.stderr.write = e;
        }
      };
      const words = (name: string, dir: string): string[] => [snap, `--name=${name}`, `--initial-cluster=${flags.initialCluster}`, `--initial-advertise-peer-urls=${flags.initialAdvertisePeerUrls}`, '--initial-cluster-token', 'cli-token', '--data-dir', dir];
      const before = listing(parent);
      await assert.rejects(run(words('r9', join(parent, 'new.etcd'))), /member name not in --initial-cluster/);
      assert.deepStrictEqual(listing(parent), before);
      const r = await run([...words('r1', join(parent, 'new.etcd')), '--old-data-dir', join(parent, 'old.etcd'), '--owner', 'etcd:etcd']);
      assert.strictEqual(r.code, 0);
      assert.match(r.out, /^Restored member "r1" into .*new\.etcd \(owner \d+:\d+, mode 0700\); the old data dir is .*old\.etcd\.old-\d{8}-\d{6}\.\n$/);
      assert.match(r.err, /^\[ok  \] check: /m);
      assert.match(r.err, /^\[ok  \] restore: Restored into /m);
      const st = statSync(join(parent, 'new.etcd'));
      assert.deepStrictEqual([st.uid > 0, st.mode & 0o777], [true, 0o700], 'owned by the etcd user');
      const j = await run([...words('r1', join(parent, 'json.etcd')), '-w', 'json']);
      const parsed = JSON.parse(j.out) as { dataDir: string; movedAside: string | null; tool: { kind: string } };
      assert.strictEqual(parsed.dataDir, join(parent, 'json.etcd'));
      assert.strictEqual(parsed.movedAside, null);
      assert.strictEqual(parsed.tool.kind, 'etcdctl');
      assert.strictEqual(j.err, '', 'no step lines with -w json');
    });

    it('a failing restore tool leaves nothing under the final name and the old dir in place', async () => {
      const bin = join(root, 'bad-bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'etcdctl'), `#!/bin/sh\ncase "$1" in version) echo "etcdctl version: 3.4.23";; *) for a in "$@"; do case "$a" in --data-dir=*) mkdir -p "\${a#--data-dir=}/member";; esac; done; echo "Error: write /x: no space left on device" >&2; exit 5;; esac\n`);
      chmodSync(join(bin, 'etcdctl'), 0o755);
      const before = listing(parent);
      await assert.rejects(
        restoreMember({ snapshot: snap, ...flags, dataDir: join(parent, 'new.etcd'), oldDataDir: join(parent, 'old.etcd'), toolPaths: { envPath: bin } }),
        /etcdctl snapshot restore exited with status 5: write \/x: no space left on device\./,
      );
      assert.deepStrictEqual(listing(parent), before);
    });

    it('an etcd started with --config-file (data-dir only in its YAML, binary under another name) is found by what it holds: the CLI refuses in place, naming the PID; nothing moved', async () => {
      const D = join(parent, 'live.etcd');
      const [client, peer] = [await allocatePort(), await allocatePort()];
      const cfg = join(root, 'etcd.yml');
      writeFileSync(
        cfg,
        [
          'name: live',
          `data-dir: ${D}`,
          `listen-client-urls: http://127.0.0.1:${client}`,
          `advertise-client-urls: http://127.0.0.1:${client}`,
          `listen-peer-urls: http://127.0.0.1:${peer}`,
          `initial-advertise-peer-urls: http://127.0.0.1:${peer}`,
          `initial-cluster: live=http://127.0.0.1:${peer}`,
          'initial-cluster-state: new',
          'log-level: error',
          '',
        ].join('\n'),
      );
      const bin = join(root, 'kv-store');
      symlinkSync('/usr/bin/etcd', bin);
      const etcd = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', bin, '--config-file', cfg], { stdio: 'ignore', cwd: '/', env: { PATH: '/usr/bin:/bin' } });
      try {
        await waitFor(async () => (await probeHealth(`http://127.0.0.1:${client}`)).healthy, 30_000, 'the config-file etcd to serve');
        const before = listing(parent).filter((l) => !l.startsWith('live.etcd/'));
        const words = [snap, '--name=r1', `--initial-cluster=${flags.initialCluster}`, `--initial-advertise-peer-urls=${flags.initialAdvertisePeerUrls}`, '--initial-cluster-token=t'];
        await assert.rejects(captureOutput(() => restoreCommand.run([...words, '--data-dir', D, '--old-data-dir', D])), (e: Error & { kind?: string }) => {
          assert.match(e.message, new RegExp(`^${D} is in use: pid ${etcd.pid} \\(${bin} --config-file ${cfg}\\) holds a flock lock on ${D}/member/.*Stop it first .* nothing was changed\\.$`));
          assert.strictEqual(e.kind, 'conflict');
          return true;
        });
        // The old check (a process named etcd with --data-dir / ETCD_DATA_DIR) saw nothing here.
        assert.deepStrictEqual(await etcdProcessesUsing(D), []);
        assert.deepStrictEqual(listing(parent).filter((l) => !l.startsWith('live.etcd/')), before, 'nothing moved, no temp dir, no lock');
        assert.ok(existsSync(join(D, 'member', 'snap', 'db')), 'the live data dir is where etcd expects it');
        const put = spawnSync('/usr/bin/etcdctl', ['--endpoints', `http://127.0.0.1:${client}`, 'put', '/still/here', 'yes'], { env: { ETCDCTL_API: '3' }, encoding: 'utf8' });
        assert.strictEqual(put.status, 0, put.stderr);
      } finally {
        etcd.kill('SIGKILL');
        await new Promise((r) => (etcd.exitCode !== null || etcd.signalCode !== null ? r(null) : etcd.once('exit', r)));
        releasePort(client);
        releasePort(peer);
      }
    });

    it('restores into an empty mount point (a dedicated disk) with the real etcdctl: built on that disk, no EXDEV; the member starts from it', async function () {
      if (process.getuid?.() !== 0) this.skip();
      const disk = join(parent, 'disk');
      mkdirSync(disk);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', disk], { encoding: 'utf8' });
      assert.strictEqual(m.status, 0, m.stderr);
      try {
        const steps: string[] = [];
        const r = await restoreMember({ snapshot: snap, ...flags, dataDir: disk, onStep: (s) => steps.push(`${s.step}:${s.state}:${s.message}`) });
        assert.ok(steps.some((x) => x.startsWith(`restore:running:ETCDCTL_API=3 etcdctl snapshot restore`) && x.includes(`--data-dir=${disk}/.etcd-backup-restoring-`)), steps.join('\n'));
        assert.deepStrictEqual(readdirSync(disk), ['member']);
        assert.strictEqual(statSync(join(disk, 'member', 'snap', 'db')).dev, statSync(disk).dev);
        const status = await snapshotStatus(c, snap);
        assert.deepStrictEqual([r.restored.revision, r.restored.liveKeys], [status.revision, 150]);
        const member = await startMemberProcess({
          name: 'r1',
          dataDir: disk,
          clientURL: c.members[0].clientURL,
          peerURL: flags.initialAdvertisePeerUrls,
          initialCluster: flags.initialCluster,
          initialClusterState: 'new',
          initialClusterToken: flags.initialClusterToken,
          logFile: join(root, 'mounted.log'),
        });
        extra.push(member);
        await member.waitHealthy();
        await member.stop();
      } finally {
        spawnSync('umount', ['-l', disk]);
      }
    });

    it('a trial restore killed with SIGKILL leaves no etcd running; the next one removes its folder', async () => {
      const tmp = join(root, 'tmp');
      mkdirSync(tmp);
      // The throwaway etcd listens elsewhere than the trial was told, so the trial keeps waiting
      // for it (the window to kill the run in is as long as the test needs, not a race).
      const away = await allocatePort();
      const wrapper = join(root, 'etcd-elsewhere');
      writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/etcd "$@" --listen-client-urls=http://127.0.0.1:${away} --advertise-client-urls=http://127.0.0.1:${away}\n`);
      chmodSync(wrapper, 0o755);
      const cli = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli.ts'), 'snapshot', 'trial-restore', snap, '--etcd', wrapper], {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      cli.stderr?.on('data', (b: Buffer) => (err += b.toString()));
      // Killed once the throwaway etcd runs (it holds files in the trial folder).
      const folder = await waitFor(async () => {
        const f = readdirSync(tmp).find((n) => new RegExp(`^etcd-backup-trial-p${cli.pid}-`).test(n));
        return f && (await processesHolding(join(tmp, f))).holders.some((h) => h.argv.includes('--initial-cluster-token=etcd-backup-trial')) ? join(tmp, f) : undefined;
      }, 60_000, 'the trial\'s etcd to start').catch((e: Error) => Promise.reject(new Error(`${e.message}; the CLI said: ${err}; ${readdirSync(tmp).join(' ')}`)));
      cli.kill('SIGKILL');
      await new Promise((r) => cli.once('exit', r));
      await waitFor(async () => (await processesHolding(folder)).holders.length === 0, 10_000, 'the throwaway etcd to die with its parent');
      assert.ok(existsSync(folder), 'the killed run left its folder');
      releasePort(away);
      const next = await trialRestore(snap, { tempParent: tmp });
      assert.strictEqual(next.ok, true, next.verdict);
      assert.ok(next.steps.some((s) => s.step === 'cleanup' && s.message.includes(folder)), 'the stale folder is named');
      assert.deepStrictEqual(readdirSync(tmp).filter((n) => n.startsWith('etcd-backup-trial-')), [], 'no trial folder left');
    });
  });
});
