/**
 * Restore Snapshot… under pressure, in the real extension host against real etcd (issue 12,
 * items 3 and 5): the runbook of a 3-member plan gives each member only what is known of it,
 * the plan (token, members) is stored and reused by the next run, a target in use is refused
 * with its PID before the confirmation, and the answers of a run that failed later are kept.
 */
import * as assert from 'assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension } from '../support';

interface Result {
  plan: { initialClusterToken: string; members: { name: string }[] };
  localMember?: string;
  restored?: { dataDir: string };
  runbookPath: string;
  planFile: string;
  log: string[];
}

/** The Markdown section of one member (from its heading to the next one). */
function section(md: string, name: string): string {
  const at = md.indexOf(`## Member \`${name}\``);
  assert.ok(at >= 0, `no section for ${name} in\n${md}`);
  const next = md.indexOf('\n## ', at + 1);
  return md.slice(at, next < 0 ? undefined : next);
}

describe('Restore Snapshot… plan and inputs (VS Code)', function () {
  this.timeout(120_000);
  let root: string;
  const clusters: EtcdTestCluster[] = [];

  before(async () => {
    await activateExtension();
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-restoreplan-'));
  });
  after(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  async function snapshotOf(name: string, keys: number): Promise<{ c: EtcdTestCluster; snap: string }> {
    const c = await startCluster({ members: 1, name });
    clusters.push(c);
    for (let i = 0; i < keys; i++) await c.etcdctlOk(['put', `/${name}/k${i}`, `v${i}`]);
    const snap = join(root, `${name}.db`);
    await c.etcdctlOk(['snapshot', 'save', snap]);
    return { c, snap };
  }

  it('3-member plan, kubeadm layout: the runbook gives the others no path of this machine and no guess, tells the restored member only what is left; the next run reuses the token', async () => {
    const { c, snap } = await snapshotOf('vs-plan3', 5);
    const [m] = c.members;
    await m.stop();
    const members = [
      { name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] },
      { name: 'm2', peerURLs: ['https://10.0.0.12:2380'], clientURLs: ['https://10.0.0.12:2379'] },
      { name: 'm3', peerURLs: ['https://10.0.0.13:2380'], clientURLs: ['https://10.0.0.13:2379'] },
    ];
    const newDir = join(m.dir, 'restore-m1', `${m.name}.etcd`);
    mkdirSync(join(m.dir, 'restore-m1'));
    const common = { openRunbook: false, manifestPath: null, runtime: 'static-pod' as const };
    const first = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      ...common,
      members,
      token: 'etcd-restore-plan-first',
      localMember: m.name,
      dataDir: newDir,
      oldDataDir: m.dataDir,
      runbookPath: join(root, 'runbook-1.md'),
    })) as Result;
    assert.ok(first?.restored, 'restored');
    const md = readFileSync(first.runbookPath, 'utf8');
    const mine = section(md, m.name);
    assert.match(mine, /restored already/);
    assert.match(mine, /Do not restore it again/);
    assert.doesNotMatch(mine, /snapshot restore|\.old-\d{8}-\d{6}'? *;|flock/, 'the restored member is not told to restore again');
    for (const other of ['m2', 'm3']) {
      const s = section(md, other);
      assert.ok(!s.includes(newDir) && !s.includes('restore-m1'), `${other} carries this machine's data dir:\n${s}`);
      assert.ok(!s.includes(m.dataDir), `${other} carries this machine's old data dir`);
      assert.doesNotMatch(s, /\/var\/lib\/etcd/, `${other}: a guessed /var/lib/etcd`);
      assert.doesNotMatch(s, /systemctl/, `${other}: systemd commands for a kubeadm layout`);
      assert.match(s, /mv \/etc\/kubernetes\/manifests\/etcd\.yaml \/etc\/kubernetes\/etcd\.yaml\.restoring/);
      assert.match(s, /crictl ps/);
      assert.match(s, /--data-dir="\$\{DATA_DIR:\?/);
      assert.match(s, /--initial-cluster-token=etcd-restore-plan-first/);
    }
    // The plan is stored beside the snapshot, 0600.
    assert.ok(existsSync(first.planFile) && first.planFile.startsWith(root), first.planFile);
    assert.strictEqual(statSync(first.planFile).mode & 0o777, 0o600);

    // Restore again for a second member restored on this machine: the stored token and members, not new ones.
    const second = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      ...common,
      token: 'etcd-restore-plan-other',
      localMember: 'm2',
      dataDir: join(root, 'm2.etcd'),
      oldDataDir: null,
      runbookPath: join(root, 'runbook-2.md'),
    })) as Result;
    assert.ok(second?.restored, 'the second member restored');
    assert.strictEqual(second.plan.initialClusterToken, 'etcd-restore-plan-first');
    assert.deepStrictEqual(second.plan.members.map((x) => x.name), [m.name, 'm2', 'm3']);
    assert.strictEqual(second.planFile, first.planFile);
    assert.ok(second.log.some((l) => l.includes('etcd-restore-plan-other was not used')), second.log.join('\n'));
    const md2 = readFileSync(second.runbookPath, 'utf8');
    assert.match(section(md2, m.name), /restored already/);
    assert.match(section(md2, 'm2'), /restored already/);
    assert.doesNotMatch(section(md2, 'm3'), /restored already/);
    assert.doesNotMatch(md2, /etcd-restore-plan-other/);
    assert.ok(existsSync(join(root, 'm2.etcd', 'member', 'snap', 'db')));
  });

  it('refuses a target in use (with the PID) and a missing folder when they are given, before the confirmation', async () => {
    const { api } = await activateExtension();
    const { c, snap } = await snapshotOf('vs-plan-inuse', 3);
    const [m] = c.members;
    const base = {
      members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
      token: 'etcd-restore-inuse',
      localMember: m.name,
      openRunbook: false,
      manifestPath: null,
      runbookPath: join(root, 'runbook-inuse.md'),
      // The confirmation is declined: a refusal seen instead of "Cancelled" came before it.
      confirm: false,
    };
    const inUse = await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      ...base,
      dataDir: join(root, 'inuse-new.etcd'),
      oldDataDir: m.dataDir,
    });
    assert.strictEqual(inUse, undefined);
    assert.match(api.lastCommandError('etcdBackup.restoreSnapshot') ?? '', new RegExp(`^${m.dataDir} is in use: pid \\d+ \\(.*etcd.*\\)`));
    const missing = await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      ...base,
      dataDir: join(root, 'no-such-folder', 'x.etcd'),
      oldDataDir: null,
    });
    assert.strictEqual(missing, undefined);
    assert.match(api.lastCommandError('etcdBackup.restoreSnapshot') ?? '', /The folder .*no-such-folder \(where x\.etcd would go\) does not exist/);
    assert.ok(!existsSync(join(root, 'runbook-inuse.md')));
    // The plan stored by those runs is open; abandoning it plans anew (a new token), and the old one is kept, closed.
    const anew = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      ...base,
      plan: 'abandon',
      token: 'etcd-restore-inuse-2',
      localMember: null,
    })) as Result;
    assert.strictEqual(anew?.plan.initialClusterToken, 'etcd-restore-inuse-2', api.lastCommandError('etcdBackup.restoreSnapshot'));
    assert.ok(anew.log.some((l) => /^Abandoned the restore planned at .*token etcd-restore-inuse,/.test(l)), anew.log.join('\n'));
    assert.ok(readdirSync(root).some((n) => n.startsWith('vs-plan-inuse.restore-plan-') && n.includes('.abandoned-')), readdirSync(root).join(' '));
    assert.strictEqual((await c.etcdctlOk(['get', `/vs-plan-inuse/k0`, '--print-value-only'])).trim(), 'v0', 'etcd still serves');
  });

  it('keeps the answers of a run that failed after them: the next run on the same snapshot needs none of them again', async () => {
    const { c, snap } = await snapshotOf('vs-plan-keep', 4);
    const [m] = c.members;
    await m.stop();
    const dataDir = join(root, 'kept.etcd');
    const failed = await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
      token: 'etcd-restore-kept',
      localMember: m.name,
      dataDir,
      oldDataDir: null,
      openRunbook: false,
      manifestPath: null,
      runbookPath: join(root, 'runbook-keep-1.md'),
      confirm: false,
    });
    assert.strictEqual(failed, undefined);
    assert.ok(!existsSync(dataDir));
    // Only what is not an answer of the six steps.
    const again = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      openRunbook: false,
      manifestPath: null,
      runbookPath: join(root, 'runbook-keep-2.md'),
    })) as Result;
    assert.ok(again?.restored, 'restored on the second run');
    assert.strictEqual(again.localMember, m.name);
    assert.strictEqual(again.restored.dataDir, dataDir);
    assert.strictEqual(again.plan.initialClusterToken, 'etcd-restore-kept');
    assert.ok(existsSync(join(dataDir, 'member', 'snap', 'db')));
    // Every member restored: the plan is closed (kept for the record), not offered again.
    assert.ok(!existsSync(again.planFile));
    assert.ok(readdirSync(root).some((n) => n.startsWith('vs-plan-keep.restore-plan-') && n.includes('.finished-')), readdirSync(root).join(' '));
  });
});
