/**
 * Keys in the v2 store in the real extension host, against a real etcd 3.4 started with
 * --enable-v2: the cluster node says so (description, tooltip, a warning row with "Copy v2
 * Backup Command"), Take Snapshot returns what the v2 API answered, the command copies the
 * etcdctl backup command; a cluster without --enable-v2 shows no row and "v2 API off".
 */
import * as assert from 'assert';
import * as http from 'http';
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { TakeSnapshotResult } from '../../../src/commands/takeSnapshot';
import type { ExtensionApi } from '../../../src/extension';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, setSettings, waitFor } from '../support';

function putV2(endpoint: string, key: string, value: string): Promise<number> {
  const body = `value=${encodeURIComponent(value)}`;
  return new Promise((done, fail) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) };
    const req = http.request(new URL(`/v2/keys${key}`, endpoint), { method: 'PUT', agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('v2 store (VS Code)', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let withV2: EtcdTestCluster;
  let without: EtcdTestCluster;
  let root: string;
  let restore: (() => Promise<void>) | undefined;
  let saved: string | undefined;

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-v2-'));
    mkdirSync(join(root, 'snaps'));
    [withV2, without] = await Promise.all([
      startCluster({ members: 1, name: 'vs-v2', extraArgs: ['--enable-v2'] }),
      startCluster({ members: 1, name: 'vs-nov2' }),
    ]);
    assert.strictEqual(await putV2(withV2.endpoints[0], '/coreos.com/network/config', '{"Network":"10.1.0.0/16"}'), 201);
    assert.strictEqual(await putV2(withV2.endpoints[0], '/calico/v1/ipam/v4/pool', 'x'), 201);
    restore = await setSettings({
      'etcdBackup.clusters': [
        { ...withV2.clusterConfig({ name: 'vs-v2' }), snapshotDir: join(root, 'snaps') },
        without.clusterConfig({ name: 'vs-nov2' }),
      ],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
  });
  after(async () => {
    await restore?.();
    await Promise.all([withV2?.stop(), without?.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  it('the cluster node: description, tooltip and a warning row with the copy action; none without --enable-v2', async () => {
    await api.clustersTree.refresh();
    const found = await waitFor(async () => {
      const t = await api.clustersTree.dump(false);
      return t.find((n) => n.label === 'vs-v2')?.contextValue?.startsWith('cluster:reachable') ? t : undefined;
    }, 30_000, 'the cluster nodes');
    const tree = found ?? [];
    const node = tree.find((n) => n.label === 'vs-v2');
    assert.match(node?.description ?? '', /v2 store: 2 keys not in snapshots/);
    assert.match(node?.tooltip ?? '', /This cluster holds 2 keys in the v2 store/);
    const row = node?.children?.find((n) => n.contextValue === 'message:v2Store');
    assert.ok(row, JSON.stringify(node?.children));
    assert.strictEqual(row.label, 'v2 store: 2 keys not in snapshots');
    assert.strictEqual(row.icon, 'warning');
    assert.match(row.tooltip ?? '', /etcd started on the backup dir with --force-new-cluster --enable-v2/);
    const pkg = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON as {
      contributes: {
        commands: { command: string; category?: string; icon?: string }[];
        menus: Record<string, { command: string; when?: string; group?: string }[]>;
      };
    };
    const decl = pkg.contributes.commands.find((x) => x.command === 'etcdBackup.copyV2BackupCommand');
    assert.strictEqual(decl?.category, 'etcd');
    const menu = pkg.contributes.menus['view/item/context'];
    assert.ok(menu.some((x) => x.command === 'etcdBackup.copyV2BackupCommand' && x.when?.includes('message:v2Store')));
    const plain = tree.find((n) => n.label === 'vs-nov2');
    assert.ok(!plain?.children?.some((n) => n.contextValue === 'message:v2Store'));
    assert.doesNotMatch(plain?.description ?? '', /v2 store/);
    assert.match(plain?.tooltip ?? '', /v2 API off/);
  });

  it('Take Snapshot reports the v2 keys it cannot hold; Copy v2 Backup Command copies the etcdctl command', async () => {
    const r = (await vscode.commands.executeCommand('etcdBackup.takeSnapshot', 'vs-v2', {})) as TakeSnapshotResult | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.takeSnapshot'));
    assert.strictEqual(r.v2Store?.state, 'keys');
    assert.strictEqual((r.v2Store as { keys: number }).keys, 2);
    const dataDir = withV2.members[0].dataDir;
    const cmd = (await vscode.commands.executeCommand('etcdBackup.copyV2BackupCommand', 'vs-v2', { dataDir })) as string | undefined;
    assert.ok(cmd, api.lastCommandError('etcdBackup.copyV2BackupCommand'));
    assert.strictEqual(await vscode.env.clipboard.readText(), cmd);
    const wanted = `^ETCDCTL_API=2 etcdctl backup --data-dir ${dataDir} --backup-dir ${join(root, 'snaps')}/\\d{8}_\\d{6}_v2backup$`;
    assert.match(cmd, new RegExp(wanted));
    const off = (await vscode.commands.executeCommand('etcdBackup.takeSnapshot', 'vs-nov2', { dir: join(root, 'snaps') })) as
      | TakeSnapshotResult
      | undefined;
    assert.deepStrictEqual(off?.v2Store, { state: 'off', endpoints: without.endpoints });
    saved = r.file;
  });

  it('Restore Snapshot: the step log says the snapshot cannot hold the v2 keys the source cluster had, with the command', async () => {
    assert.ok(saved, 'the snapshot of the previous test');
    const r = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: saved, cluster: 'vs-v2' }, {
      members: [{ name: 'r1', peerURLs: ['http://127.0.0.1:2380'] }],
      token: 'v2-restore-vscode',
      localMember: 'r1',
      dataDir: join(root, 'restored.etcd'),
      oldDataDir: null,
      runbookPath: join(root, 'runbook.md'),
      manifestPath: null,
      openRunbook: false,
    })) as { log: string[] } | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.restoreSnapshot'));
    const warning = r.log.find((l) => l.includes('The snapshot cannot hold v2 keys'));
    assert.match(warning ?? '', /the cluster you restore from had 2 keys in its v2 store/);
    assert.ok(r.log.some((l) => l.includes('ETCDCTL_API=2 etcdctl backup --data-dir')), r.log.join('\n'));
  });
});
