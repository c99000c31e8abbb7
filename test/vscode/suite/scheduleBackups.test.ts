/**
 * "Schedule Backups…" and "Edit Backup Plan" in the real extension host, with a real etcd and a
 * real S3 server (s3rver) on loopback: the form's answers become a plan, a 0600 credentials
 * file and the systemd units, shown as a diff (secret masked) and written only when confirmed,
 * also with `files.autoSave: afterDelay`; the units pass `systemd-analyze verify` without a
 * word, and their ExecStart, run as systemd would, puts an encrypted backup in the bucket.
 */
import * as assert from 'assert';
import { execFile, execFileSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { InstallCliResult } from '../../../src/commands/installCli';
import type { ScheduleResult } from '../../../src/commands/scheduleBackups';
import type { ExtensionApi } from '../../../src/extension';
import type { DumpedNode } from '../../../src/views/clustersView';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { awsKeys, removeS3, S3_KEY, S3_SECRET, S3Server, startS3 } from '../../support/s3Rig';
import { activateExtension, setSettings, treeMenuCommands, waitFor } from '../support';

const NAME = 'vs-sched';
const REPO = process.env.ETCD_BACKUP_REPO ?? '';

describe('Schedule Backups (VS Code)', function () {
  this.timeout(240_000);
  let api: ExtensionApi;
  let c: EtcdTestCluster;
  let s3: S3Server;
  let root: string;
  let recipient: string;
  let restore: (() => Promise<void>) | undefined;
  const files = (): { plan: string; credentials: string; service: string; timer: string; units: string } => ({
    plan: join(root, 'etc', `${NAME}.yaml`),
    credentials: join(root, 'etc', `${NAME}.s3.credentials`),
    units: join(root, 'units'),
    service: join(root, 'units', `etcd-backup-${NAME}.service`),
    timer: join(root, 'units', `etcd-backup-${NAME}.timer`),
  });
  const answers = (confirm: boolean): Record<string, unknown> => ({
    schedule: 'daily',
    localDir: join(root, 'local'),
    keep: 3,
    bucket: 'backups',
    endpoint: s3.endpoint,
    prefix: 'sched/',
    remoteKeep: 7,
    accessKeyId: S3_KEY,
    secretAccessKey: S3_SECRET,
    recipients: [recipient],
    planFile: files().plan,
    unitDir: files().units,
    cli: ['/usr/bin/node', join(REPO, 'dist/cli.js')],
    confirm,
  });

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-sched-'));
    [c, s3] = await Promise.all([startCluster({ members: 1, name: NAME }), startS3(['backups'])]);
    await c.etcdctlOk(['put', '/registry/pods/a', 'one']);
    const key = join(root, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    restore = await setSettings({
      'etcdBackup.clusters': [c.clusterConfig({ name: NAME })],
      'etcdBackup.backupPlans': [],
      'etcdBackup.refreshIntervalSeconds': 0,
      'files.autoSave': 'afterDelay',
      'files.autoSaveDelay': 50,
    });
  });
  after(async () => {
    await restore?.();
    await Promise.all([c?.stop(), s3 && removeS3(s3)]);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('is on every cluster node and on the palette; Edit Backup Plan on Backups nodes only', () => {
    assert.ok(treeMenuCommands('cluster:reachable:healthy').includes('etcdBackup.scheduleBackups'));
    assert.ok(treeMenuCommands('cluster:unreachable').includes('etcdBackup.scheduleBackups'));
    assert.ok(treeMenuCommands('backups:invalid').includes('etcdBackup.editBackupPlan'));
    assert.ok(!treeMenuCommands('cluster:unreachable').includes('etcdBackup.editBackupPlan'));
    const pkg = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON as {
      contributes: {
        commands: { command: string; category?: string; icon?: string }[];
        menus: Record<string, { command: string; when?: string }[]>;
      };
    };
    for (const id of ['etcdBackup.scheduleBackups', 'etcdBackup.editBackupPlan']) {
      const decl = pkg.contributes.commands.find((x) => x.command === id);
      assert.strictEqual(decl?.category, 'etcd', id);
      assert.match(decl?.icon ?? '', /^\$\(.+\)$/, id);
    }
    assert.ok(pkg.contributes.menus.commandPalette.some((x) => x.command === 'etcdBackup.editBackupPlan' && x.when === 'false'));
    assert.ok(!pkg.contributes.menus.commandPalette.some((x) => x.command === 'etcdBackup.scheduleBackups'));
  });

  it('shows the diff (secret masked) and writes nothing when not confirmed, also with files.autoSave afterDelay', async () => {
    const r = (await vscode.commands.executeCommand('etcdBackup.scheduleBackups', NAME, answers(false))) as ScheduleResult | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.scheduleBackups'));
    assert.deepStrictEqual(r.written, []);
    const diff = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(diff instanceof vscode.TabInputTextDiff, 'a diff editor is open');
    assert.strictEqual(diff.modified.toString(), r.preview.new);
    const shown = (await vscode.workspace.openTextDocument(diff.modified)).getText();
    assert.ok(shown.includes(`# ==> ${files().plan} <==`) && shown.includes('OnCalendar=daily'));
    assert.ok(shown.includes('aws_secret_access_key = ••••••••'));
    assert.ok(!shown.includes(`aws_secret_access_key = ${S3_SECRET}`), 'the secret is not shown');
    await new Promise((done) => setTimeout(done, 1000));
    for (const f of [files().plan, files().credentials, files().service, files().timer]) assert.ok(!existsSync(f), `${f} was written`);
  });

  it('writes plan and credentials (0600) and units on confirm: systemd-analyze verify is silent, ExecStart uploads', async () => {
    const r = (await vscode.commands.executeCommand('etcdBackup.scheduleBackups', NAME, answers(true))) as ScheduleResult | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.scheduleBackups'));
    const f = files();
    assert.deepStrictEqual(r.written, [f.plan, f.credentials, f.service, f.timer]);
    assert.strictEqual(statSync(f.plan).mode & 0o777, 0o600);
    assert.strictEqual(statSync(f.credentials).mode & 0o777, 0o600);
    assert.strictEqual(statSync(f.service).mode & 0o777, 0o644);
    assert.match(readFileSync(f.credentials, 'utf8'), new RegExp(`aws_secret_access_key = ${S3_SECRET}`));
    const verify = await new Promise<{ code: number; out: string }>((done) =>
      execFile('systemd-analyze', ['verify', f.service, f.timer], (err, stdout, stderr) =>
        done({ code: err ? 1 : 0, out: stdout + stderr })),
    );
    assert.deepStrictEqual(verify, { code: 0, out: '' });
    const exec = /^ExecStart=(.*)$/m.exec(readFileSync(f.service, 'utf8'))?.[1] as string;
    assert.ok(!exec.includes('.vscode') && !exec.includes('code-server'), `ExecStart points into VS Code: ${exec}`);
    const words = exec.split(' ');
    const code = await new Promise<number>((done) => execFile(words[0], words.slice(1), { cwd: '/' }, (err) => done(err ? 1 : 0)));
    assert.strictEqual(code, 0);
    const keys = await awsKeys(s3.endpoint, 'backups', 'sched/');
    assert.ok(keys.some((k) => /\.db\.gz\.age$/.test(k)), keys.join(', '));
    // The plan joined etcdBackup.backupPlans: the cluster shows its Backups node, fresh.
    assert.deepStrictEqual(vscode.workspace.getConfiguration('etcdBackup').get('backupPlans'), [f.plan]);
    await api.clustersTree.refresh(NAME);
    const backupsNode = async (): Promise<DumpedNode | undefined> =>
      (await api.clustersTree.dump(false)).find((n) => n.label === NAME)?.children?.find((n) => n.label === 'Backups');
    const backups = await waitFor(backupsNode, 20_000, 'the Backups node');
    assert.strictEqual(backups.contextValue, 'backups:fresh');
  });

  it('Edit Backup Plan opens the plan file', async () => {
    await vscode.commands.executeCommand('etcdBackup.editBackupPlan', files().plan);
    assert.strictEqual(vscode.window.activeTextEditor?.document.uri.fsPath, files().plan);
  });

  for (const found of ['missing', 'older']) {
    it(`Install the CLI and Write Files (the CLI is ${found}): installed first, the units run it, nothing in VS Code's folders`, async () => {
      const installRoot = join(root, `install-${found}`);
      const bin = join(installRoot, 'usr/local/bin/etcd-backup');
      if (found === 'older') {
        mkdirSync(join(bin, '..'), { recursive: true });
        writeFileSync(bin, '#!/bin/sh\necho 0.0.1\n', { mode: 0o755 });
      }
      const dir = join(root, `sched-${found}`);
      const a = { ...answers(false), planFile: join(dir, 'plan.yaml'), unitDir: dir, installRoot, installCli: true };
      delete (a as { cli?: unknown }).cli;
      const r = (await vscode.commands.executeCommand('etcdBackup.scheduleBackups', NAME, a)) as ScheduleResult | undefined;
      assert.ok(r, api.lastCommandError('etcdBackup.scheduleBackups'));
      assert.strictEqual(r.installed?.bin, bin);
      assert.strictEqual(r.installed.copied, true);
      assert.strictEqual(r.written.length, 4);
      const service = join(dir, `etcd-backup-${NAME}.service`);
      const exec = /^ExecStart=(.*)$/m.exec(readFileSync(service, 'utf8'))?.[1] as string;
      const words = exec.split(' ');
      assert.strictEqual(words[0], bin, `ExecStart runs the installed CLI: ${exec}`);
      const extensionPath = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.extensionPath as string;
      for (const text of [exec, readFileSync(bin, 'utf8')]) {
        for (const vsc of [extensionPath, '.vscode-test', 'code-server', process.execPath]) {
          assert.ok(!text.includes(vsc), `${text} points into VS Code (${vsc})`);
        }
      }
      assert.match(readFileSync(bin, 'utf8'), new RegExp(`exec '${r.installed.dir}/bin/node' '${r.installed.dir}/dist/cli.js'`));
      const verify = await new Promise<{ code: number; out: string }>((done) =>
        execFile('systemd-analyze', ['verify', service, service.replace(/\.service$/, '.timer')], (err, stdout, stderr) =>
          done({ code: err ? 1 : 0, out: stdout + stderr })),
      );
      assert.deepStrictEqual(verify, { code: 0, out: '' });
      // Run as systemd would, with a PATH that holds no node: the installed runtime does the backup.
      const out = await new Promise<{ code: number; text: string }>((done) =>
        execFile(words[0], words.slice(1), { cwd: '/', env: { PATH: join(root, 'empty'), HOME: root } }, (err, stdout, stderr) =>
          done({ code: err ? 1 : 0, text: stdout + stderr })),
      );
      assert.strictEqual(out.code, 0, out.text);
      // The CLI is current now: the button is not offered, nothing is installed again.
      const again = (await vscode.commands.executeCommand('etcdBackup.scheduleBackups', NAME, a)) as ScheduleResult | undefined;
      assert.ok(again, api.lastCommandError('etcdBackup.scheduleBackups'));
      assert.strictEqual(again.installed, undefined);
    });
  }

  it('Install the CLI on This Machine: the installed etcd-backup runs `backup status` with a PATH that holds no node', async () => {
    const prefix = join(root, 'prefix');
    const r = (await vscode.commands.executeCommand('etcdBackup.installCli', { prefix })) as InstallCliResult | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.installCli'));
    assert.strictEqual(r.bin, join(prefix, 'usr/local/bin/etcd-backup'));
    assert.strictEqual(r.dir, join(prefix, 'opt/etcd-backup', r.version));
    for (const f of ['bin/node', 'dist/cli.js', 'dist/proto/rpc.proto']) assert.ok(existsSync(join(r.dir, f)), f);
    const wrapper = readFileSync(r.bin, 'utf8');
    assert.ok(!wrapper.includes('.vscode-test') && !wrapper.includes('code-server'), 'the wrapper points into VS Code');
    const noNode = join(root, 'empty');
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(r.bin, ['backup', 'status', '--config', files().plan], { cwd: '/', env: { PATH: noNode, HOME: root } }, (err, stdout, stderr) =>
        done({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr })),
    );
    assert.strictEqual(out.code, 0, `${out.stderr}${out.stdout}`);
    assert.match(out.stdout, new RegExp(`Cluster ${NAME}: schedule "daily"`));
    // Again: the version folder is kept as it is, the wrapper rewritten.
    const again = (await vscode.commands.executeCommand('etcdBackup.installCli', { prefix })) as { copied: boolean } | undefined;
    assert.strictEqual(again?.copied, false);
  });
});
