/**
 * Restore Snapshot… refusals in the real extension host, against real etcd: each one is checked
 * by the sentence the user is shown (`lastCommandError`) and by the disk, never by "the command
 * returned undefined" alone.
 */
import * as assert from 'assert';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension } from '../support';

describe('restore refusals (VS Code)', function () {
  this.timeout(120_000);
  let root: string;
  const clusters: EtcdTestCluster[] = [];

  before(async () => {
    await activateExtension();
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-refusals-'));
  });
  after(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses to restore in place while etcd holds the data dir: the sentence names the PID; nothing moved; etcd still serves', async () => {
    const { api } = await activateExtension();
    const c = await startCluster({ members: 1, name: 'vs-refuse' });
    clusters.push(c);
    const [m] = c.members;
    await c.etcdctlOk(['put', '/before', 'x']);
    const snap = join(root, 'snap.db');
    await c.etcdctlOk(['snapshot', 'save', snap]);
    const around = (): string[] => readdirSync(m.dir).filter((n) => !n.endsWith('.log')).sort();
    const before = around();
    const result = await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
      token: 'etcd-restore-vscode-refusal',
      localMember: m.name,
      dataDir: m.dataDir,
      oldDataDir: m.dataDir,
      runbookPath: join(root, 'runbook.md'),
      openRunbook: false,
      manifestPath: null,
    });
    assert.strictEqual(result, undefined);
    const sentence = api.lastCommandError('etcdBackup.restoreSnapshot') ?? '';
    assert.match(sentence, new RegExp(`^${m.dataDir} is in use: pid \\d+ \\(.*etcd.*\\) holds a flock lock on ${m.dataDir}/member/.*Stop it first`));
    assert.deepStrictEqual(around(), before, 'nothing moved aside, no temp folder, no lock file');
    assert.ok(existsSync(join(m.dataDir, 'member', 'snap', 'db')));
    assert.ok(!existsSync(join(root, 'runbook.md')), 'no runbook for a restore that did not happen');
    await c.etcdctlOk(['put', '/after', 'still serving']);
    assert.strictEqual((await c.etcdctlOk(['get', '/after', '--print-value-only'])).trim(), 'still serving');
  });
});
