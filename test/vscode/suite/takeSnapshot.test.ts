/**
 * Take Snapshot in the real extension host against a real etcd on loopback: from the cluster
 * (the command the cluster node's context menu runs) it writes the snapshot and its sidecar
 * into the cluster's snapshot folder, and the Snapshots node of the tree lists the file. A
 * cluster without a snapshot folder keeps the folder given; a refused save leaves nothing.
 */
import * as assert from 'assert';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { TakeSnapshotResult } from '../../../src/commands/takeSnapshot';
import type { ExtensionApi } from '../../../src/extension';
import type { DumpedNode } from '../../../src/views/clustersView';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, setSettings, waitFor } from '../support';

const NAME = 'vs-snap';


function snapshotsOf(tree: DumpedNode[], name: string): DumpedNode[] {
  return tree.find((n) => n.label === name)?.children?.find((n) => n.label === 'Snapshots')?.children ?? [];
}

describe('Take Snapshot (VS Code)', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let c: EtcdTestCluster;
  let root: string;
  let snapDir: string;
  let restore: (() => Promise<void>) | undefined;

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-snap-'));
    snapDir = join(root, 'snapshots');
    mkdirSync(snapDir);
    c = await startCluster({ members: 1, name: 'vs-snap' });
    for (let i = 0; i < 30; i++) await c.etcdctlOk(['put', `/registry/secrets/s${i}`, `value ${i}`]);
    restore = await setSettings({
      'etcdBackup.clusters': [{ ...c.clusterConfig({ name: NAME }), snapshotDir: snapDir }],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
  });
  after(async () => {
    await restore?.();
    await c?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('is on the cluster node context menu (group 1_snapshot@1) and on the palette', () => {
    const pkg = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON as {
      contributes: { commands: { command: string; category?: string; icon?: string }[]; menus: Record<string, { command: string; when?: string; group?: string }[]> };
    };
    const decl = pkg.contributes.commands.find((x) => x.command === 'etcdBackup.takeSnapshot');
    assert.strictEqual(decl?.category, 'etcd');
    assert.match(decl?.icon ?? '', /^\$\(.+\)$/);
    const entry = pkg.contributes.menus['view/item/context'].find((x) => x.command === 'etcdBackup.takeSnapshot' && x.when?.includes('viewItem =~ /^cluster:reachable/'));
    assert.strictEqual(entry?.group, '1_snapshot@1');
    assert.ok(!(pkg.contributes.menus.commandPalette ?? []).some((x) => x.command === 'etcdBackup.takeSnapshot'), 'not hidden from the palette');
  });

  it('from the cluster: the file and its sidecar land in the snapshot folder and the Snapshots node lists it', async () => {
    await waitFor(async () => (await api.clustersTree.dump(false)).find((n) => n.label === NAME)?.contextValue?.startsWith('cluster:reachable'), 20_000, 'the cluster node');
    const r = (await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, {})) as TakeSnapshotResult | undefined;
    assert.ok(r, 'the command returned a result (it did not fail)');
    assert.strictEqual(r.endpoint, c.members[0].clientURL);
    assert.match(r.file, /[/\\]\d{8}_\d{6}_snapshot\.db$/);
    assert.strictEqual(join(r.file, '..'), snapDir);
    assert.strictEqual(statSync(r.file).mode & 0o777, 0o600);
    const bytes = readFileSync(r.file);
    assert.strictEqual(createHash('sha256').update(bytes).digest('hex'), r.sha256);
    assert.ok(createHash('sha256').update(bytes.subarray(0, bytes.length - 32)).digest().equals(bytes.subarray(bytes.length - 32)), 'valid SHA-256 trailer');
    const side = JSON.parse(readFileSync(r.sidecarFile as string, 'utf8')) as { members: { name: string }[]; sha256: string; revision: number; cluster: string };
    assert.deepStrictEqual(side.members.map((m) => m.name), [c.members[0].name]);
    assert.strictEqual(side.sha256, r.sha256);
    assert.strictEqual(side.cluster, NAME);
    assert.ok(side.revision >= 31, `revision ${side.revision}`);
    assert.deepStrictEqual(readdirSync(snapDir).filter((f) => f.endsWith('.part')), []);

    const name = r.file.slice(snapDir.length + 1);
    const node = await waitFor(async () => snapshotsOf(await api.clustersTree.dump(true), NAME).find((n) => n.label === name), 20_000, 'the snapshot node');
    assert.match(node?.contextValue ?? '', /^snapshot(:|$)/);
  });

  it('with no answers, asks for the member in a quick pick whose first (suggested) item is the leader', async () => {
    const three = await startCluster({ members: 3, name: 'vs-snap3' });
    try {
      const leader = await three.waitLeader();
      const dir3 = join(root, 'three');
      mkdirSync(dir3);
      await restore?.();
      restore = await setSettings({ 'etcdBackup.clusters': [{ ...three.clusterConfig({ name: 'three' }), snapshotDir: dir3 }], 'etcdBackup.refreshIntervalSeconds': 0 });
      let done = false;
      const running = Promise.resolve(vscode.commands.executeCommand('etcdBackup.takeSnapshot', 'three')).finally(() => (done = true));
      // Accept whatever item the quick pick has selected (its first: the suggestion) once it is up.
      const deadline = Date.now() + 30_000;
      while (!done && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      }
      const r = (await running) as TakeSnapshotResult | undefined;
      assert.ok(r, 'the command returned a result');
      assert.strictEqual(r.endpoint, leader.clientURL, 'the suggested member is the leader');
      assert.ok(existsSync(r.file) && r.file.startsWith(dir3));
    } finally {
      await three.stop();
      await restore?.();
      restore = await setSettings({ 'etcdBackup.clusters': [{ ...c.clusterConfig({ name: NAME }), snapshotDir: snapDir }], 'etcdBackup.refreshIntervalSeconds': 0 });
    }
  });

  it('refuses a file that exists, leaving it and no .part', async () => {
    const dir = join(root, 'taken');
    mkdirSync(dir);
    const file = join(dir, 'taken.db');
    writeFileSync(file, 'keep me');
    const r = await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, { file });
    assert.strictEqual(r, undefined, 'the command failed (its sentence went to an error message)');
    assert.match(api.lastCommandError('etcdBackup.takeSnapshot') ?? '', /taken\.db already exists: snapshots never overwrite a file/);
    assert.strictEqual(readFileSync(file, 'utf8'), 'keep me');
    assert.deepStrictEqual(readdirSync(dir), ['taken.db'], 'no .part, no sidecar');
  });

  it('refuses a file whose sidecar name is taken (a snapshot saved as b.json), before streaming; that file stays intact', async () => {
    const dir = join(root, 'sidecar-taken');
    mkdirSync(dir);
    const file = join(dir, 'b.json');
    const first = (await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, { file })) as TakeSnapshotResult;
    assert.ok(first, api.lastCommandError('etcdBackup.takeSnapshot'));
    const bytes = readFileSync(first.file);
    const r = await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, { file: join(dir, 'b.db') });
    assert.strictEqual(r, undefined);
    const said = api.lastCommandError('etcdBackup.takeSnapshot') ?? '';
    assert.match(said, /b\.json already exists, and it is where the sidecar of b\.db would go: snapshots never overwrite a file/);
    assert.ok(readFileSync(join(dir, 'b.json')).equals(bytes), 'the earlier snapshot is intact');
    assert.deepStrictEqual(readdirSync(dir).sort(), ['b.json', 'b.json.json']);
  });

  it('a cluster without a snapshot folder keeps the folder it was given', async () => {
    const other = join(root, 'chosen');
    await restore?.();
    restore = await setSettings({ 'etcdBackup.clusters': [c.clusterConfig({ name: NAME })], 'etcdBackup.refreshIntervalSeconds': 0 });
    const refused = await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, {});
    assert.strictEqual(refused, undefined, 'no folder and none given: refused');
    const r = (await vscode.commands.executeCommand('etcdBackup.takeSnapshot', NAME, { dir: other })) as TakeSnapshotResult | undefined;
    assert.ok(r);
    assert.ok(existsSync(r.file) && r.file.startsWith(other));
    const saved = vscode.workspace.getConfiguration('etcdBackup').inspect<{ name: string; snapshotDir?: string }[]>('clusters')?.globalValue ?? [];
    assert.strictEqual(saved.find((x) => x.name === NAME)?.snapshotDir, other);
  });
});
