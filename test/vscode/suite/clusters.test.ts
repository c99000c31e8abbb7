/**
 * The Clusters tree and the cluster/member commands inside the real extension host, against a
 * real 3-member etcd cluster on loopback (test/support/etcdRig.ts): the cluster configured
 * through settings appears with its members, a killed member changes its node, the commands
 * run with their answers given by the test (no UI), and the import commands turn the fixture
 * manifest and env file into clusters.
 */
import * as assert from 'assert';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { DumpedNode } from '../../../src/views/clustersView';
import type { ExtensionApi } from '../../../src/extension';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, EXTENSION_ID, setSettings, treeMenuCommands, waitFor } from '../support';

const NAME = 'vscode-real';

function clustersSetting(): { name: string }[] {
  return (vscode.workspace.getConfiguration('etcdBackup').inspect<{ name: string }[]>('clusters')?.globalValue ?? []) as { name: string }[];
}

describe('Clusters tree with a real etcd cluster', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let cluster: EtcdTestCluster;
  let restore: () => Promise<void>;
  let snapDir: string;

  async function clusterNode(name = NAME): Promise<DumpedNode> {
    const dump = await api.clustersTree.dump(false);
    const n = dump.find((d) => d.label === name);
    assert.ok(n, `no "${name}" node in the tree: ${dump.map((d) => d.label).join(', ')}`);
    return n;
  }

  before(async () => {
    api = (await activateExtension()).api;
    cluster = await startCluster({ members: 3, name: 'vsc', clientTimeoutMs: 3000 });
    snapDir = mkdtempSync(join(tmpdir(), 'vsc-snapshots-'));
    restore = await setSettings({
      'etcdBackup.clusters': [{ name: NAME, endpoints: cluster.endpoints, timeoutMs: 3000, snapshotDir: snapDir }],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
  });

  after(async () => {
    await restore?.();
    await cluster?.stop();
    if (snapDir) rmSync(snapDir, { recursive: true, force: true });
  });

  it('a cluster configured through settings appears with its summary and its members', async () => {
    const node = (await waitFor(async () => {
      const n = await clusterNode();
      return n.description?.startsWith('3/3 healthy') ? n : undefined;
    }, 20_000, 'the cluster summary')) as DumpedNode;
    assert.match(node.description ?? '', /^3\/3 healthy · leader vsc-m\d · v3\.4\.23 · \d+(\.\d)? kB$/);
    assert.strictEqual(node.id, `cluster:${NAME}`);
    assert.strictEqual(node.contextValue, 'cluster:reachable:healthy');
    assert.strictEqual(node.color, 'charts.green');
    const members = (node.children ?? []).filter((c) => c.contextValue?.startsWith('member:'));
    assert.deepStrictEqual(members.map((m) => m.label), ['vsc-m1', 'vsc-m2', 'vsc-m3']);
    assert.deepStrictEqual(members.map((m) => m.contextValue).sort(), ['member:follower:healthy', 'member:follower:healthy', 'member:leader:healthy']);
    const leader = members.find((m) => m.contextValue === 'member:leader:healthy');
    assert.strictEqual(leader?.icon, 'star-full');
    assert.match(node.description ?? '', new RegExp(`leader ${leader?.label}`));
    const listed = await cluster.memberListJson();
    for (const m of members) {
      const id = listed.members.find((x) => x.name === m.label)?.id;
      assert.ok(id && m.id === `cluster:${NAME}/member:${id}`, `${m.label}: node id ${m.id}, etcdctl id ${id}`);
      assert.match(m.description ?? '', new RegExp(`^(leader|follower) · healthy · ${id}$`));
      for (const field of ['Peer URLs', 'Client URLs', 'Version', 'DB size', 'DB size in use', 'Raft term', 'Raft index']) {
        assert.ok(m.tooltip?.includes(`**${field}**`), `${m.label} tooltip lacks ${field}`);
      }
    }
    const snapshots = node.children?.find((c) => c.label === 'Snapshots');
    assert.strictEqual(snapshots?.id, `cluster:${NAME}/snapshots`);
  });

  it('a killed member changes its node (unreachable, red), the cluster says 2/3; it recovers', async () => {
    const node = await clusterNode();
    const follower = node.children?.find((c) => c.contextValue === 'member:follower:healthy');
    assert.ok(follower);
    const victim = cluster.member(follower.label);
    await victim.kill();
    try {
      const started = Date.now();
      const refreshed = (await vscode.commands.executeCommand('etcdBackup.refresh', NAME)) as { summary: string }[];
      assert.ok(Date.now() - started < 3000 + 1500, 'refresh returned within the deadline');
      assert.match(refreshed[0].summary, /^2\/3 healthy/);
      const after = await clusterNode();
      assert.strictEqual(after.contextValue, 'cluster:reachable:degraded');
      assert.strictEqual(after.color, 'charts.yellow');
      const dead = after.children?.find((c) => c.label === follower.label);
      assert.strictEqual(dead?.id, follower.id, 'the node keeps its id');
      // Nobody reported its role (only a member's own answer says "follower"), and it never answered.
      assert.strictEqual(dead?.contextValue, 'member:unknown:unreachable');
      assert.strictEqual(dead?.icon, 'error');
      assert.strictEqual(dead?.color, 'charts.red');
      assert.match(dead?.description ?? '', /^unknown · unreachable: connection refused · /);
      assert.match(dead?.tooltip ?? '', /Cannot connect to/);
      assert.match(dead?.tooltip ?? '', /\*\*Role\*\* \| unknown \|/);
      assert.doesNotMatch(dead?.tooltip ?? '', /Answered at/);
      assert.match(dead?.tooltip ?? '', /\*\*Asked at\*\* \| /);
      const live = after.children?.find((c) => c.contextValue === 'member:leader:healthy');
      assert.match(live?.tooltip ?? '', /\*\*Health\*\* \| healthy \\\(took (\d+|\d\.\d) m?s\\\) \|/, 'a rounded time, not 261.803555ms');
    } finally {
      await victim.start();
      await cluster.waitHealthy();
    }
    await vscode.commands.executeCommand('etcdBackup.refresh', NAME);
    assert.match((await clusterNode()).description ?? '', /^3\/3 healthy/);
  });

  it('two of three members down: "quorum lost (1 of 3 needed 2)", a red flame, cluster:quorumLost with Restore Snapshot… first and no Take Snapshot / Compact / Add Member', async () => {
    const node = await clusterNode();
    const victims = (node.children ?? []).filter((c) => c.contextValue?.startsWith('member:')).slice(0, 2).map((c) => cluster.member(c.label));
    for (const v of victims) await v.kill();
    try {
      const refreshed = (await vscode.commands.executeCommand('etcdBackup.refresh', NAME)) as { summary: string }[];
      assert.match(refreshed[0].summary, /^quorum lost \(1 of 3 needed 2\) · /);
      const after = await clusterNode();
      assert.strictEqual(after.contextValue, 'cluster:quorumLost');
      assert.strictEqual(after.icon, 'flame');
      assert.strictEqual(after.color, 'charts.red');
      assert.match(after.description ?? '', /^quorum lost \(1 of 3 needed 2\)/);
      const menu = treeMenuCommands('cluster:quorumLost');
      assert.strictEqual(menu[0], 'etcdBackup.restoreSnapshot', menu.join(', '));
      for (const c of ['etcdBackup.takeSnapshot', 'etcdBackup.reclaimSpace', 'etcdBackup.addMember']) assert.ok(!menu.includes(c), `${c} offered: ${menu.join(', ')}`);
      // A snapshot from the member left (it has no leader) is taken, with a warning.
      const left = cluster.members.find((m) => !victims.includes(m));
      const snap = (await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, { endpoint: left?.clientURL })) as { warning?: string; file: string };
      assert.match(snap?.warning ?? '', /has no leader .*: the snapshot may be behind/);
      // A degraded cluster that keeps quorum is not offered Restore from its node.
      assert.ok(!treeMenuCommands('cluster:reachable:degraded').includes('etcdBackup.restoreSnapshot'));
    } finally {
      for (const v of victims) await v.start();
      await cluster.waitHealthy();
    }
    await vscode.commands.executeCommand('etcdBackup.refresh', NAME);
    assert.strictEqual((await clusterNode()).contextValue, 'cluster:reachable:healthy');
  });

  it('Endpoint Status and Endpoint Health open read-only documents, not dirty Untitled ones', async () => {
    for (const id of ['etcdBackup.endpointStatus', 'etcdBackup.endpointHealth']) {
      const r = (await vscode.commands.executeCommand(id, NAME, { show: true })) as { uri?: vscode.Uri; text: string };
      assert.ok(r?.uri, `${id} returned the document it opened`);
      assert.notStrictEqual(r.uri.scheme, 'untitled');
      const doc = await vscode.workspace.openTextDocument(r.uri);
      assert.strictEqual(doc.getText(), r.text);
      assert.strictEqual(doc.isDirty, false, id);
      assert.ok(!vscode.workspace.textDocuments.some((d) => d.isUntitled && d.isDirty), 'no dirty Untitled document');
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Endpoint Status and Endpoint Health return etcdctl-style tables', async () => {
    const status = (await vscode.commands.executeCommand('etcdBackup.endpointStatus', NAME, { show: false })) as { statuses: unknown[]; text: string };
    assert.strictEqual(status.statuses.length, 3);
    assert.match(status.text, /\| +ENDPOINT +\| +ID +\| VERSION \| DB SIZE \| IS LEADER \| IS LEARNER \| RAFT TERM \| RAFT INDEX \| RAFT APPLIED INDEX \| ERRORS \|/);
    for (const e of cluster.endpoints) assert.ok(status.text.includes(`| ${e} |`), `status table lacks ${e}`);
    const health = (await vscode.commands.executeCommand('etcdBackup.endpointHealth', NAME, { show: false })) as { health: { healthy: boolean }[]; text: string };
    assert.deepStrictEqual(health.health.map((h) => h.healthy), [true, true, true]);
    assert.match(health.text, /is healthy: successfully committed proposal: took = /);
  });

  it('Copy etcdctl Command puts the exact invocation on the clipboard', async () => {
    const shell = (await vscode.commands.executeCommand('etcdBackup.copyEtcdctlCommand', NAME, {})) as string;
    assert.strictEqual(shell, `ETCDCTL_API=3 etcdctl --endpoints=${cluster.endpoints.join(',')} --dial-timeout=3s --command-timeout=3s`);
    assert.strictEqual(await vscode.env.clipboard.readText(), shell);
  });

  it('Add Member (learner), Promote refused while it is not running, Remove Member with confirmation', async () => {
    // Promote Learner is offered in the palette only while a learner exists (context key etcdBackup.hasLearner).
    const palette = (vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON as {
      contributes: { menus: { commandPalette: { command: string; when?: string }[] } };
    }).contributes.menus.commandPalette;
    assert.strictEqual(palette.find((c) => c.command === 'etcdBackup.promoteLearner')?.when, 'etcdBackup.hasLearner');
    assert.strictEqual(api.clustersTree.hasLearner(), false, 'no learner yet');
    // etcd refuses membership changes for 5 s after a member (re)joined: retry the command.
    const added = (await waitFor(
      async () => vscode.commands.executeCommand('etcdBackup.addMember', NAME, { name: 'ghost', peerURLs: 'http://127.0.0.1:1', show: false }),
      20_000,
      'member add',
    )) as { added: boolean; member: { id: string }; env: Record<string, string> };
    assert.strictEqual(added.added, true);
    assert.strictEqual(added.env.ETCD_NAME, 'ghost');
    assert.strictEqual(added.env.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.strictEqual(added.env.ETCD_INITIAL_CLUSTER.split(',').length, 4);
    let node = await clusterNode();
    const ghost = node.children?.find((c) => c.id === `cluster:${NAME}/member:${added.member.id}`);
    assert.strictEqual(ghost?.contextValue, 'member:learner:unstarted');
    assert.strictEqual(ghost?.label, '(not started)');
    assert.strictEqual(api.clustersTree.hasLearner(), true, 'the tree saw the learner: Promote Learner is in the palette');
    // Promote: etcd says "not in sync with leader"; the command shows the sentence and returns nothing.
    const promoted = await vscode.commands.executeCommand('etcdBackup.promoteLearner', { cluster: NAME, member: added.member.id });
    assert.strictEqual(promoted, undefined);
    // Remove without confirming: nothing happens.
    const declined = (await vscode.commands.executeCommand('etcdBackup.removeMember', { cluster: NAME, member: added.member.id }, { confirm: false })) as { removed: boolean };
    assert.strictEqual(declined.removed, false);
    const removed = (await vscode.commands.executeCommand('etcdBackup.removeMember', { cluster: NAME, member: added.member.id }, { confirm: true })) as {
      removed: boolean;
      quorum: { sentence: string; losesQuorum: boolean };
    };
    assert.strictEqual(removed.removed, true);
    assert.strictEqual(removed.quorum.losesQuorum, false);
    assert.match(removed.quorum.sentence, /learner/);
    node = await clusterNode();
    assert.strictEqual(node.children?.filter((c) => c.contextValue?.startsWith('member:')).length, 3);
    assert.strictEqual(api.clustersTree.hasLearner(), false, 'the learner is gone: Promote Learner leaves the palette');
  });

  it('Remove Member asks twice when the removal would lose quorum, and stops at the second "no"', async () => {
    const node = await clusterNode();
    const members = (node.children ?? []).filter((c) => c.contextValue?.startsWith('member:'));
    // Kill a follower (no election in the way), then try to remove another member.
    const b = members.find((c) => c.contextValue === 'member:follower:healthy')!;
    const a = members.find((c) => c !== b)!;
    const victim = cluster.member(b.label);
    await victim.kill();
    try {
      await vscode.commands.executeCommand('etcdBackup.refresh', NAME);
      const id = a.id.split('member:')[1];
      const r = (await vscode.commands.executeCommand('etcdBackup.removeMember', { cluster: NAME, member: id }, { confirm: true, confirmQuorumLoss: false })) as {
        removed: boolean;
        quorum: { losesQuorum: boolean; sentence: string };
      };
      assert.strictEqual(r.removed, false);
      assert.strictEqual(r.quorum.losesQuorum, true);
      assert.match(r.quorum.sentence, /LOSE QUORUM/);
      assert.strictEqual((await cluster.memberListJson({ endpoints: [cluster.members.find((m) => m.running)!.clientURL] })).members.length, 3);
    } finally {
      await victim.start();
      await cluster.waitHealthy();
    }
  });

  it('Add Cluster tests the connection first: saves a working one, not a dead one unless told to', async () => {
    const ok = (await vscode.commands.executeCommand('etcdBackup.addCluster', { name: 'added-ok', endpoints: cluster.endpoints.join(', ') })) as {
      saved: boolean;
      test: { ok: boolean; summary: string };
    };
    assert.strictEqual(ok.saved, true);
    assert.strictEqual(ok.test.ok, true);
    assert.match(ok.test.summary, /^3\/3 healthy/);
    assert.ok(clustersSetting().some((c) => c.name === 'added-ok'));
    const dead = (await vscode.commands.executeCommand('etcdBackup.addCluster', { name: 'added-dead', endpoints: 'http://127.0.0.1:1', timeoutMs: 1000 })) as {
      saved: boolean;
      test: { ok: boolean; kind: string; message: string };
    };
    assert.strictEqual(dead.saved, false);
    assert.strictEqual(dead.test.kind, 'unreachable');
    assert.ok(!clustersSetting().some((c) => c.name === 'added-dead'));
    const anyway = (await vscode.commands.executeCommand('etcdBackup.addCluster', { name: 'added-dead', endpoints: 'http://127.0.0.1:1', timeoutMs: 1000, onTestFailure: 'save' })) as { saved: boolean };
    assert.strictEqual(anyway.saved, true);
    const deadNode = await clusterNode('added-dead');
    assert.strictEqual(deadNode.contextValue, 'cluster:unreachable');
    assert.strictEqual(deadNode.description, 'unreachable: connection refused');
    const msg = deadNode.children?.find((c) => c.contextValue === 'message:clusterError');
    assert.strictEqual(msg?.label, 'connection refused: http://127.0.0.1:1');
    // A name that is taken is refused with a sentence (the command shows it and returns nothing).
    assert.strictEqual(await vscode.commands.executeCommand('etcdBackup.addCluster', { name: 'ADDED-OK', endpoints: 'http://127.0.0.1:2379', test: false }), undefined);
    for (const name of ['added-ok', 'added-dead']) {
      const r = (await vscode.commands.executeCommand('etcdBackup.removeCluster', name, { confirm: true })) as { removed: boolean };
      assert.strictEqual(r.removed, true);
    }
    assert.ok(!clustersSetting().some((c) => c.name.startsWith('added-')));
  });

  it('Edit Cluster renames in place and keeps the password in the secret storage, never in settings', async () => {
    const authCluster = await startCluster({ members: 1, name: 'vsc-auth', auth: { password: 's3cret' }, clientTimeoutMs: 3000 });
    try {
      const wrong = (await vscode.commands.executeCommand('etcdBackup.addCluster', { name: 'auth-c', endpoints: authCluster.endpoints, username: 'root', password: 'nope' })) as {
        saved: boolean;
        test: { kind: string };
      };
      assert.strictEqual(wrong.saved, false);
      assert.strictEqual(wrong.test.kind, 'auth');
      const saved = (await vscode.commands.executeCommand('etcdBackup.addCluster', { name: 'auth-c', endpoints: authCluster.endpoints, username: 'root', password: 's3cret' })) as {
        saved: boolean;
        test: { ok: boolean };
      };
      assert.strictEqual(saved.saved, true);
      assert.strictEqual(saved.test.ok, true);
      assert.ok(!JSON.stringify(vscode.workspace.getConfiguration('etcdBackup').inspect('clusters')?.globalValue).includes('s3cret'));
      assert.match((await clusterNode('auth-c')).description ?? '', /^1\/1 healthy/);
      const edited = (await vscode.commands.executeCommand('etcdBackup.editCluster', 'auth-c', { name: 'auth-renamed' })) as { saved: boolean; test: { ok: boolean } };
      assert.strictEqual(edited.saved, true);
      assert.strictEqual(edited.test.ok, true, 'the password moved with the rename');
      assert.ok(clustersSetting().some((c) => c.name === 'auth-renamed') && !clustersSetting().some((c) => c.name === 'auth-c'));
    } finally {
      await vscode.commands.executeCommand('etcdBackup.removeCluster', 'auth-renamed', { confirm: true });
      await vscode.commands.executeCommand('etcdBackup.removeCluster', 'auth-c', { confirm: true });
      await authCluster.stop();
    }
  });

  it('the Snapshots folder is redrawn when a file appears in the folder, and lists it', async () => {
    const { writeFileSync } = await import('fs');
    await api.clustersTree.dump(true); // the Snapshots node exists (as once the cluster is expanded)
    const fired: (string | undefined)[] = [];
    const sub = api.clustersTree.onDidChange((id) => fired.push(id));
    try {
      writeFileSync(join(snapDir, '20260101_000000_snapshot.db'), Buffer.alloc(1024));
      await waitFor(() => fired.includes(`cluster:${NAME}/snapshots`), 10_000, 'the file watcher to redraw the Snapshots node');
    } finally {
      sub.dispose();
    }
    const dump = await api.clustersTree.dump(true);
    const snaps = dump.find((d) => d.label === NAME)?.children?.find((c) => c.label === 'Snapshots');
    assert.ok(snaps?.children?.some((c) => c.label === '20260101_000000_snapshot.db'), JSON.stringify(snaps));
  });
});
