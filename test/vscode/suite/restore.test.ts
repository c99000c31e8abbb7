/**
 * Restore in the real extension host, against real etcd started by the shared rig: a snapshot
 * in the cluster's snapshot folder (so the tree lists it), then "Restore Snapshot…" on that
 * snapshot with its inputs answered by the test: the member is restored into a new dir (the old
 * one moved aside), the runbook is written and opened, and an etcd started on the restored dir
 * serves the data. Also Replace Member and Trial Restore through their commands.
 */
import * as assert from 'assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import { EtcdTestCluster, startCluster, startMemberProcess, TestMember } from '../../support/etcdRig';
import { activateExtension, setSettings, treeMenuCommands, waitFor } from '../support';

describe('restore (VS Code)', function () {
  this.timeout(120_000);
  let root: string;
  let restoreSettings: (() => Promise<void>) | undefined;
  const clusters: EtcdTestCluster[] = [];
  const extra: TestMember[] = [];

  before(async () => {
    await activateExtension();
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-restore-'));
  });
  after(async () => {
    await Promise.all(extra.map((m) => m.stop(1000)));
    await Promise.all(clusters.map((c) => c.stop()));
    await restoreSettings?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('restores a member from a snapshot node into a new dir, writes and opens the runbook; the restored member serves the data', async () => {
    const { api } = await activateExtension();
    const c = await startCluster({ members: 1, name: 'vs-restore' });
    clusters.push(c);
    const [m] = c.members;
    const snapDir = join(root, 'snapshots');
    mkdirSync(snapDir);
    for (let i = 0; i < 40; i++) await c.etcdctlOk(['put', `/registry/secrets/s${i}`, `value ${i}`]);
    const snap = join(snapDir, '20260124_101500_snapshot.db');
    await c.etcdctlOk(['snapshot', 'save', snap]);
    await c.etcdctlOk(['put', '/after/snapshot', 'not restored']);
    await restoreSettings?.();
    restoreSettings = await setSettings({ 'etcdBackup.clusters': [{ ...c.clusterConfig(), snapshotDir: snapDir }] });

    // The snapshot shows in the tree, with a contextValue the Restore menu entry matches.
    const tree = await waitFor(async () => {
      const t = await api.clustersTree.dump(true);
      const snaps = t.find((n) => n.label === c.name)?.children?.find((n) => n.label === 'Snapshots');
      return snaps?.children?.find((n) => n.label === '20260124_101500_snapshot.db') ? t : undefined;
    }, 20_000, 'the snapshot node');
    assert.ok(tree);
    const node = tree.find((n) => n.label === c.name)?.children?.find((n) => n.label === 'Snapshots')?.children?.find((n) => n.label === '20260124_101500_snapshot.db');
    assert.match(node?.contextValue ?? '', /^snapshot(:|$)/);
    assert.ok(treeMenuCommands(node?.contextValue ?? '').includes('etcdBackup.restoreSnapshot'), node?.contextValue);

    // Disaster: the member is stopped (the runbook's first step), then restored from the file.
    await m.stop();
    const newDir = join(m.dir, 'from-backup.etcd');
    const runbookPath = join(root, 'runbook.md');
    const result = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
      token: 'etcd-restore-vscode-test',
      localMember: m.name,
      dataDir: newDir,
      oldDataDir: m.dataDir,
      runbookPath,
      manifestPath: null,
    })) as {
      snapshot: string;
      localMember: string;
      restored: { dataDir: string; movedAside: string; steps: { step: string; state: string }[] };
      runbookPath: string;
    };
    assert.ok(result, 'the command returned a result (it did not fail)');
    assert.strictEqual(result.snapshot, snap);
    assert.strictEqual(result.localMember, m.name);
    assert.strictEqual(result.restored.dataDir, newDir);
    assert.ok(existsSync(join(newDir, 'member', 'snap', 'db')));
    assert.strictEqual(statSync(newDir).mode & 0o777, 0o700);
    assert.ok(result.restored.movedAside.startsWith(`${m.dataDir}.old-`), result.restored.movedAside);
    assert.ok(existsSync(join(result.restored.movedAside, 'member')), 'the old data dir is kept');
    assert.deepStrictEqual(
      result.restored.steps.filter((s) => s.state === 'done').map((s) => s.step),
      ['check', 'tool', 'target', 'verify', 'restore', 'owner', 'moveAside', 'install', 'done'],
    );
    // The runbook is written and open.
    assert.strictEqual(result.runbookPath, runbookPath);
    const md = readFileSync(runbookPath, 'utf8');
    // The member restored here is told it is restored (not to restore again); the token is the plan's.
    assert.match(md, new RegExp(`## Member \`${m.name}\` on 127\\.0\\.0\\.1: restored already`));
    assert.match(md, /\| New cluster token \| `etcd-restore-vscode-test` \|/);
    assert.doesNotMatch(md, /snapshot restore/);
    await waitFor(() => vscode.window.visibleTextEditors.some((e) => e.document.uri.fsPath === runbookPath), 10_000, 'the runbook to be open');

    // The restored member starts and serves what the snapshot held (and not what came after).
    const restored = await startMemberProcess({ ...m.spec, dataDir: newDir, initialClusterToken: 'etcd-restore-vscode-test', logFile: join(m.dir, 'restored.log') });
    extra.push(restored);
    await restored.waitHealthy();
    assert.strictEqual((await c.etcdctlOk(['get', '/registry/secrets/s39', '--print-value-only'])).trim(), 'value 39');
    assert.match(await c.etcdctlOk(['get', '/registry/secrets/', '--prefix', '--keys-only', '-w', 'json']), /"count":40\b/);
    assert.strictEqual((await c.etcdctlOk(['get', '/after/snapshot'])).trim(), '');
    await restored.stop();
  });

  it('Replace Member… removes the failed member, adds its replacement, moves its data dir aside and gives the start settings', async () => {
    const startedAt = Date.now();
    const c = await startCluster({ members: 3, name: 'vs-replace' });
    clusters.push(c);
    await c.etcdctlOk(['put', '/k', 'v']);
    await restoreSettings?.();
    restoreSettings = await setSettings({ 'etcdBackup.clusters': [c.clusterConfig()] });
    const dead = c.members[2];
    // Its machine dies; if it led, the others elect a leader first.
    await dead.kill();
    await c.waitLeader({ members: c.members.slice(0, 2) });
    // etcd's strict reconfiguration check counts only peers connected for at least 5 s
    // (HealthInterval): a cluster this young refuses member changes.
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 5500 - Date.now())));
    const r = (await vscode.commands.executeCommand('etcdBackup.replaceMember', { cluster: c.name, member: dead.name }, {
      confirm: true,
      localDataDir: dead.dataDir,
      show: false,
    })) as { replaced: boolean; movedAside?: string; envText: string; result: { env: Record<string, string>; quorum: { losesQuorum: boolean } } };
    assert.ok(r?.replaced, 'replaced');
    assert.strictEqual(r.result.quorum.losesQuorum, false);
    assert.ok(r.movedAside?.startsWith(`${dead.dataDir}.old-`), r.movedAside);
    assert.ok(!existsSync(dead.dataDir));
    assert.strictEqual(r.result.env.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.match(r.envText, /^ETCD_INITIAL_CLUSTER_STATE="existing"$/m);
    const fresh = await startMemberProcess({ ...dead.spec, initialCluster: r.result.env.ETCD_INITIAL_CLUSTER, initialClusterState: 'existing', logFile: join(dead.dir, 'fresh.log') });
    extra.push(fresh);
    await fresh.waitHealthy();
    assert.strictEqual((await c.etcdctlOk(['get', '/k', '--print-value-only', '--consistency=s'], { endpoints: [fresh.clientURL] })).trim(), 'v');
    const list = await c.memberListJson();
    assert.deepStrictEqual(list.members.map((x) => x.name).sort(), c.members.map((x) => x.name).sort());
  });

  it('Trial Restore from the command proves a snapshot restores, and says clearly when one does not', async () => {
    const snap = join(root, 'snapshots', '20260124_101500_snapshot.db');
    const ok = (await vscode.commands.executeCommand('etcdBackup.trialRestore', { file: snap }, { show: false })) as { ok: boolean; verdict: string; restored?: { keys: number } };
    assert.strictEqual(ok.ok, true, ok.verdict);
    assert.strictEqual(ok.restored?.keys, 40);
    const bad = join(root, 'bad.db');
    const bytes = readFileSync(snap);
    bytes[100] ^= 0xff;
    writeFileSync(bad, bytes);
    const r = (await vscode.commands.executeCommand('etcdBackup.trialRestore', { file: bad }, { show: false })) as { ok: boolean; verdict: string };
    assert.strictEqual(r.ok, false);
    assert.match(r.verdict, /^Trial restore failed: .*is corrupt/);
  });
});
