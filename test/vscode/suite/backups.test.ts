/**
 * The Backups node and "Run Backup Now" in the real extension host, against a real etcd and a
 * real S3 server (s3rver) on loopback, with plan files named by `etcdBackup.backupPlans`:
 * a plan with a 20-second schedule starts stale, runs (an encrypted object lands in the
 * bucket), is fresh, then late, then stale again as time passes; a plan whose S3 endpoint is
 * closed fails with one sentence shown under its node; a plan open to others is shown as the
 * engine's sentence and offers no run.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { RunResult } from '../../../src/core/backup';
import type { ExtensionApi } from '../../../src/extension';
import type { DumpedNode } from '../../../src/views/clustersView';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { awsKeys, removeS3, S3_KEY, S3_SECRET, S3Server, startS3 } from '../../support/s3Rig';
import { activateExtension, setSettings, treeMenuCommands, waitFor } from '../support';

const NAME = 'vs-bk';

describe('Backups node and Run Backup Now (VS Code)', function () {
  this.timeout(240_000);
  let api: ExtensionApi;
  let c: EtcdTestCluster;
  let s3: S3Server;
  let root: string;
  let restore: (() => Promise<void>) | undefined;
  const plans = { good: '', failing: '', open: '' };
  let key = '';
  let runName = '';

  function writePlan(file: string, mode: number, s3cfg: Record<string, unknown>, recipient: string, credentials: string): string {
    const dir = join(root, `${file}.local`);
    const lines = [
      'cluster:',
      `  name: ${NAME}`,
      `  endpoints: [${c.members[0].clientURL}]`,
      'schedule: "*-*-* *:*:00/20"',
      'local:',
      `  dir: ${dir}`,
      '  keep: { last: 5 }',
      'remote:',
      `  s3: ${JSON.stringify({ bucket: 'backups', prefix: `${file}/`, region: 'us-east-1', forcePathStyle: true,
        credentialsFile: credentials, timeoutSeconds: 5, maxAttempts: 1, ...s3cfg })}`,
      '  keep: { last: 14 }',
      'compress: gzip',
      `encrypt: { recipients: [${recipient}] }`,
    ];
    const path = join(root, `${file}.yaml`);
    writeFileSync(path, `${lines.join('\n')}\n`, { mode });
    return path;
  }

  const backupsNodes = async (): Promise<DumpedNode[]> =>
    ((await api.clustersTree.dump(false)).find((n) => n.label === NAME)?.children ?? []).filter((n) => n.label === 'Backups');
  const nodeOf = async (plan: string): Promise<DumpedNode | undefined> =>
    (await backupsNodes()).find((n) => n.id.endsWith(`backups:${plan}`));

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-bk-'));
    [c, s3] = await Promise.all([startCluster({ members: 1, name: 'vs-bk' }), startS3(['backups'])]);
    for (let i = 0; i < 20; i++) await c.etcdctlOk(['put', `/registry/pods/p${i}`, `value ${i}`]);
    key = join(root, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(root, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
    plans.good = writePlan('good', 0o600, { endpoint: s3.endpoint }, recipient, credentials);
    plans.failing = writePlan('failing', 0o600, { endpoint: 'http://127.0.0.1:1' }, recipient, credentials);
    plans.open = writePlan('open', 0o644, { endpoint: s3.endpoint }, recipient, credentials);
    restore = await setSettings({
      'etcdBackup.clusters': [c.clusterConfig({ name: NAME })],
      'etcdBackup.backupPlans': [plans.good, plans.failing, plans.open],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
  });
  after(async () => {
    await restore?.();
    await Promise.all([c?.stop(), s3 && removeS3(s3)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('is declared with a category and icon, hidden from the palette, offered on a usable Backups node only', () => {
    const pkg = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON as {
      contributes: {
        commands: { command: string; category?: string; icon?: string }[];
        menus: Record<string, { command: string; when?: string }[]>;
      };
    };
    const decl = pkg.contributes.commands.find((x) => x.command === 'etcdBackup.runBackupNow');
    assert.strictEqual(decl?.category, 'etcd');
    assert.match(decl?.icon ?? '', /^\$\(.+\)$/);
    assert.ok(pkg.contributes.menus.commandPalette.some((x) => x.command === 'etcdBackup.runBackupNow' && x.when === 'false'));
    for (const state of ['fresh', 'late', 'stale']) {
      assert.ok(treeMenuCommands(`backups:${state}`).includes('etcdBackup.runBackupNow'), state);
    }
    assert.ok(!treeMenuCommands('backups:invalid').includes('etcdBackup.runBackupNow'));
    for (const where of ['local', 'remote']) {
      assert.ok(treeMenuCommands(`backup:${where}:good`).includes('etcdBackup.restoreSnapshot'), where);
    }
    assert.ok(!treeMenuCommands('backup:remote:bad').includes('etcdBackup.restoreSnapshot'));
  });

  it('shows one Backups node per plan: the plan line, stale before any run, the engine sentence for a plan open to others', async () => {
    const nodes = await waitFor(async () => ((await backupsNodes()).length === 3 ? backupsNodes() : undefined), 30_000, 'three nodes');
    const good = nodes.find((n) => n.id.endsWith(`backups:${plans.good}`));
    assert.strictEqual(good?.contextValue, 'backups:stale');
    assert.strictEqual(good?.color, 'charts.red');
    assert.match(good?.description ?? '', /^stale · local: none yet · next .+ · every 20 s · /);
    assert.match(good?.description ?? '', / · keep 5 here, 14 in s3:\/\/backups\/good\/ · encrypted$/);
    assert.deepStrictEqual(good?.children?.map((x) => x.contextValue), ['message:noBackups']);
    const open = nodes.find((n) => n.id.endsWith(`backups:${plans.open}`));
    assert.strictEqual(open?.contextValue, 'backups:invalid');
    assert.match(open?.description ?? '', /mode 0644.*chmod 600/);
  });

  it('Run Backup Now puts an encrypted object in the bucket; the node turns fresh and lists the local and the remote copy', async () => {
    const r = (await vscode.commands.executeCommand('etcdBackup.runBackupNow', plans.good)) as RunResult | undefined;
    assert.ok(r?.ok, `the run failed: ${api.lastCommandError('etcdBackup.runBackupNow')}`);
    runName = r.name as string;
    assert.deepStrictEqual(await awsKeys(s3.endpoint, 'backups', 'good/'), [`good/${r.name}.db.gz.age`, `good/${r.name}.meta.json`]);
    const node = await nodeOf(plans.good);
    assert.strictEqual(node?.contextValue, 'backups:fresh');
    assert.strictEqual(node?.color, 'charts.green');
    assert.match(node?.description ?? '', /^fresh · \d+ s ago · next /);
    const kids = node?.children ?? [];
    assert.deepStrictEqual(kids.map((k) => [k.label, k.contextValue, k.icon]).sort(), [
      [r.name, 'backup:local:good', 'database'],
      [r.name, 'backup:remote:good', 'cloud'],
    ]);
  });

  it('a run whose S3 is closed fails with one sentence, shown under its node in red', async () => {
    const r = await vscode.commands.executeCommand('etcdBackup.runBackupNow', plans.failing);
    assert.strictEqual(r, undefined);
    const sentence = api.lastCommandError('etcdBackup.runBackupNow') ?? '';
    assert.match(sentence, /^The backup of "vs-bk" failed\. /);
    const node = await nodeOf(plans.failing);
    assert.strictEqual(node?.icon, 'error');
    assert.strictEqual(node?.color, 'charts.red');
    const failure = node?.children?.find((k) => k.contextValue === 'message:backupFailure');
    assert.ok(failure, JSON.stringify(node?.children));
    assert.match(failure.description ?? '', /^remote, /);
    assert.ok(node?.children?.some((k) => k.contextValue === 'backup:local:good'), 'the local copy is kept and listed');
  });

  it('turns late after one interval and stale after two (the engine\'s staleness)', async () => {
    const seen: string[] = [];
    await waitFor(async () => {
      const cv = (await nodeOf(plans.good))?.contextValue ?? '';
      if (seen[seen.length - 1] !== cv) seen.push(cv);
      return cv === 'backups:stale';
    }, 90_000, 'the plan to turn stale', 1000);
    assert.deepStrictEqual(seen.slice(-2), ['backups:late', 'backups:stale']);
    const node = await nodeOf(plans.good);
    assert.match(node?.description ?? '', /^stale · (local|remote): \d+ s ago/);
  });

  it('Restore Snapshot… takes a remote backup: refused without the identity; with it, fetched to a 0600 temp file', async () => {
    assert.ok(runName, 'the run test ran first');
    const m = c.members[0];
    const restoreAnswers = {
      members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
      token: 'etcd-restore-backups-test',
      localMember: null,
      manifestPath: null,
      openRunbook: false,
      runbookPath: join(root, 'runbook.md'),
    };
    const target = { plan: plans.good, backup: runName };
    const refused = await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', target, restoreAnswers);
    assert.strictEqual(refused, undefined);
    assert.match(api.lastCommandError('etcdBackup.restoreSnapshot') ?? '', /is encrypted and no age identity is stored: give the age identity file/);
    const r = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', target, { ...restoreAnswers, identityFile: key })) as
      { snapshot: string; runbookPath: string } | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.restoreSnapshot'));
    assert.notStrictEqual(r.snapshot, join(root, 'good.local', `${runName}.db`));
    assert.strictEqual(statSync(r.snapshot).mode & 0o777, 0o600);
    assert.strictEqual(statSync(join(r.snapshot, '..')).mode & 0o777, 0o700);
    const local = readFileSync(join(root, 'good.local', `${runName}.db`));
    assert.ok(readFileSync(r.snapshot).equals(local), 'the fetched file is the local copy byte for byte');
    assert.ok(existsSync(r.runbookPath));
    rmSync(join(r.snapshot, '..'), { recursive: true, force: true });
  });
});
