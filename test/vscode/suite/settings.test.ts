import * as assert from 'assert';
import * as vscode from 'vscode';
import { setSettings, workspaceFolder } from '../support';

describe('test host plumbing', () => {
  it('opens the fixture workspace with an etcd.yaml and an etcd.env', async () => {
    const names = (await vscode.workspace.fs.readDirectory(workspaceFolder())).map(([n]) => n).sort();
    assert.deepStrictEqual(names.filter((n) => n.startsWith('etcd.')), ['etcd.env', 'etcd.yaml']);
  });

  it('setSettings writes user settings the extension reads, and restores them', async () => {
    const cluster = { name: 'plumbing', endpoints: ['http://127.0.0.1:2379'] };
    const before = vscode.workspace.getConfiguration('etcdBackup').inspect('clusters')?.globalValue;
    const restore = await setSettings({ 'etcdBackup.clusters': [cluster] });
    try {
      assert.deepStrictEqual(vscode.workspace.getConfiguration('etcdBackup').get('clusters'), [cluster]);
    } finally {
      await restore();
    }
    assert.deepStrictEqual(vscode.workspace.getConfiguration('etcdBackup').inspect('clusters')?.globalValue, before);
  });

  it('passes the driver environment to the extension host', () => {
    assert.ok(process.env.ETCD_BACKUP_VSCODE_RESULTS, 'ETCD_BACKUP_VSCODE_RESULTS is not set');
    assert.ok(process.env.ETCD_BACKUP_REPO, 'ETCD_BACKUP_REPO is not set');
  });
});
