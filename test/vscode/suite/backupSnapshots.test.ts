/**
 * Backups of a plan with the snapshot commands, in the real extension host against a real etcd
 * and a real S3 server (s3rver) on loopback: Show Snapshot Report, Verify Snapshot and Compare
 * Snapshots… on a remote (encrypted) backup fetch it to a temp file first and remove it
 * afterwards; the age identity comes from the secret storage ("Store an age Identity…") and is
 * asked for only when none stored is one of the backup's recipients; a changed object is "not
 * sound"; Restore Snapshot… uses the stored identity.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { RunResult } from '../../../src/core/backup';
import type { SnapshotDiff, SnapshotReport } from '../../../src/core/snapshot/inspect';
import type { VerifyResult } from '../../../src/core/snapshot/verify';
import type { ExtensionApi } from '../../../src/extension';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { aws, removeS3, S3_KEY, S3_SECRET, S3Server, startS3 } from '../../support/s3Rig';
import { activateExtension, setSettings, treeMenuCommands } from '../support';

const NAME = 'vs-bksnap';

describe('Backups with the snapshot commands and the stored age identity (VS Code)', function () {
  this.timeout(240_000);
  let api: ExtensionApi;
  let c: EtcdTestCluster;
  let s3: S3Server;
  let root: string;
  let restore: (() => Promise<void>) | undefined;
  let plan = '';
  let key = '';
  let otherKey = '';
  const names: string[] = [];
  const fetchDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('etcd-backup-fetch-')).sort();
  const remote = (i: number): { plan: string; backup: string } => ({ plan, backup: names[i] });
  const run = async <T>(id: string, target: unknown, answers: object): Promise<T | undefined> =>
    (await vscode.commands.executeCommand(id, target, answers)) as T | undefined;

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-bksnap-'));
    [c, s3] = await Promise.all([startCluster({ members: 1, name: NAME }), startS3(['backups'])]);
    for (let i = 0; i < 10; i++) await c.etcdctlOk(['put', `/registry/pods/p${i}`, `value ${i}`]);
    key = join(root, 'key.txt');
    otherKey = join(root, 'other.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    execFileSync('age-keygen', ['-o', otherKey], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(root, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
    plan = join(root, 'plan.yaml');
    const s3cfg = { endpoint: s3.endpoint, bucket: 'backups', prefix: 'snap/', region: 'us-east-1', forcePathStyle: true,
      credentialsFile: credentials, timeoutSeconds: 5, maxAttempts: 1 };
    writeFileSync(plan, [
      'cluster:', `  name: ${NAME}`, `  endpoints: [${c.members[0].clientURL}]`, 'schedule: hourly',
      'local:', `  dir: ${join(root, 'local')}`, '  keep: { last: 5 }',
      'remote:', `  s3: ${JSON.stringify(s3cfg)}`, '  keep: { last: 5 }',
      'compress: gzip', `encrypt: { recipients: [${recipient}] }`, '',
    ].join('\n'), { mode: 0o600 });
    restore = await setSettings({
      'etcdBackup.clusters': [c.clusterConfig({ name: NAME })],
      'etcdBackup.backupPlans': [plan],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
    await vscode.commands.executeCommand('etcdBackup.forgetAgeIdentity', { recipient: 'all' });
    for (let i = 0; i < 2; i++) {
      if (i) {
        await new Promise((done) => setTimeout(done, 1100)); // backup names have a one-second stamp
        await c.etcdctlOk(['put', '/registry/secrets/new', 'added after the first backup']);
      }
      const r = await run<RunResult>('etcdBackup.runBackupNow', plan, {});
      assert.ok(r?.ok, `the run failed: ${api.lastCommandError('etcdBackup.runBackupNow')}`);
      names.push(r.name as string);
    }
  });
  after(async () => {
    await vscode.commands.executeCommand('etcdBackup.forgetAgeIdentity', { recipient: 'all' });
    await restore?.();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await Promise.all([c?.stop(), s3 && removeS3(s3)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('offers report, verify, compare and search on local and remote backups; the identity commands are declared', () => {
    for (const cv of ['backup:local:good', 'backup:remote:good', 'backup:remote:bad']) {
      const menu = treeMenuCommands(cv);
      for (const id of ['showSnapshotReport', 'verifySnapshot', 'compareSnapshots', 'searchSnapshotKeys']) {
        assert.ok(menu.includes(`etcdBackup.${id}`), `${cv}: ${id}`);
      }
    }
    assert.ok(!treeMenuCommands('backups:fresh').includes('etcdBackup.showSnapshotReport'));
    const pkg = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON as {
      contributes: { commands: { command: string; category?: string; icon?: string }[] };
    };
    for (const id of ['etcdBackup.storeAgeIdentity', 'etcdBackup.forgetAgeIdentity']) {
      const decl = pkg.contributes.commands.find((x) => x.command === id);
      assert.strictEqual(decl?.category, 'etcd', id);
      assert.match(decl?.icon ?? '', /^\$\(.+\)$/, id);
    }
  });

  it('a remote encrypted backup with no stored identity and none given is refused with a sentence; nothing is fetched', async () => {
    const before = fetchDirs();
    const r = await run('etcdBackup.showSnapshotReport', remote(1), { preview: false });
    assert.strictEqual(r, undefined);
    assert.match(api.lastCommandError('etcdBackup.showSnapshotReport') ?? '',
      /is encrypted and no age identity is stored: give the age identity file .*"Store an age Identity…"/);
    assert.deepStrictEqual(fetchDirs(), before);
  });

  it('Store an age Identity… refuses what is not a key and keeps a good one without writing it anywhere', async () => {
    const bad = await run('etcdBackup.storeAgeIdentity', undefined, { identity: 'AGE-SECRET-KEY-1NOTAKEY' });
    assert.strictEqual(bad, undefined);
    assert.match(api.lastCommandError('etcdBackup.storeAgeIdentity') ?? '', /is not an age X25519 identity/);
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const ok = await run<{ recipients: string[] }>('etcdBackup.storeAgeIdentity', undefined, { identityFile: key });
    assert.deepStrictEqual(ok?.recipients, [recipient]);
    const secret = readFileSync(key, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-')) as string;
    const again = await run<{ recipients: string[] }>('etcdBackup.storeAgeIdentity', undefined, { identity: secret });
    assert.deepStrictEqual(again?.recipients, [recipient], 'the same identity is kept once');
  });

  it('Show Snapshot Report on a remote backup: decrypted with the stored identity, the temp file removed afterwards', async () => {
    const before = fetchDirs();
    const r = await run<{ report: SnapshotReport; markdown: string }>('etcdBackup.showSnapshotReport', remote(1), { preview: false });
    assert.ok(r, api.lastCommandError('etcdBackup.showSnapshotReport'));
    assert.match(r.markdown, new RegExp(names[1]));
    assert.match(r.markdown, /`\/registry\/secrets` \| 1 \|/);
    assert.deepStrictEqual(fetchDirs(), before, 'the fetched copy was removed');
    // A local backup is read where it is.
    const local = await run<{ markdown: string }>('etcdBackup.showSnapshotReport', { ...remote(0), from: 'local' }, { preview: false });
    assert.ok(local, api.lastCommandError('etcdBackup.showSnapshotReport'));
    assert.doesNotMatch(local.markdown, /`\/registry\/secrets`/);
  });

  it('Verify Snapshot on a remote backup is sound; its temp file is gone afterwards', async () => {
    const r = await run<VerifyResult>('etcdBackup.verifySnapshot', remote(0), {});
    assert.ok(r?.ok, api.lastCommandError('etcdBackup.verifySnapshot') ?? r?.reason);
    assert.strictEqual(r.hashCheck, 'matched');
    assert.match(r.path, /etcd-backup-fetch-/);
    assert.ok(!existsSync(r.path) && !existsSync(join(r.path, '..')), 'the temp folder was removed');
  });

  it('Compare Snapshots… between two remote backups: the key added in between', async () => {
    const before = fetchDirs();
    const r = await run<{ diff: SnapshotDiff }>('etcdBackup.compareSnapshots', remote(1), { other: remote(0), preview: false });
    assert.ok(r, api.lastCommandError('etcdBackup.compareSnapshots'));
    assert.strictEqual(r.diff.added, 1);
    assert.deepStrictEqual(r.diff.samples.added, ['/registry/secrets/new']);
    assert.deepStrictEqual(fetchDirs(), before);
  });

  it('a stored identity that is not a recipient: asked again; a wrong one is refused; a right one decrypts and is remembered', async () => {
    await run('etcdBackup.forgetAgeIdentity', undefined, { recipient: 'all' });
    await run('etcdBackup.storeAgeIdentity', undefined, { identityFile: otherKey });
    const refused = await run('etcdBackup.verifySnapshot', remote(0), {});
    assert.strictEqual(refused, undefined);
    assert.match(api.lastCommandError('etcdBackup.verifySnapshot') ?? '', /none of the 1 stored age identity is one of its recipients/);
    const wrong = await run('etcdBackup.verifySnapshot', remote(0), { identityFile: otherKey });
    assert.strictEqual(wrong, undefined);
    assert.match(api.lastCommandError('etcdBackup.verifySnapshot') ?? '', /is not one of the recipients of/);
    const secret = readFileSync(key, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-')) as string;
    const ok = await run<VerifyResult>('etcdBackup.verifySnapshot', remote(0), { identity: secret, rememberIdentity: true });
    assert.ok(ok?.ok, api.lastCommandError('etcdBackup.verifySnapshot'));
    const stored = await run<{ recipients: string[] }>('etcdBackup.storeAgeIdentity', undefined, { identityFile: otherKey });
    assert.strictEqual(stored?.recipients.length, 2, 'the right identity was remembered beside the other one');
    const next = await run<VerifyResult>('etcdBackup.verifySnapshot', remote(0), {});
    assert.ok(next?.ok, api.lastCommandError('etcdBackup.verifySnapshot'));
  });

  it('Restore Snapshot… of a remote backup uses the stored identity', async () => {
    const m = c.members[0];
    const r = await run<{ snapshot: string }>('etcdBackup.restoreSnapshot', remote(1), {
      members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
      token: 'etcd-restore-bksnap-test',
      localMember: null,
      manifestPath: null,
      openRunbook: false,
      runbookPath: join(root, 'runbook.md'),
    });
    assert.ok(r, api.lastCommandError('etcdBackup.restoreSnapshot'));
    assert.ok(readFileSync(r.snapshot).equals(readFileSync(join(root, 'local', `${names[1]}.db`))));
    rmSync(join(r.snapshot, '..'), { recursive: true, force: true });
  });

  it('a remote object changed in the bucket: Verify says it is not sound; the temp file is removed', async () => {
    const object = `snap/${names[0]}.db.gz.age`;
    const got = await aws(s3.endpoint, ['s3', 'cp', `s3://backups/${object}`, '-']);
    assert.strictEqual(got.code, 0, got.stderr);
    const bytes = Buffer.from(got.stdout, 'latin1');
    bytes[bytes.length - 100] ^= 0xff;
    const put = await aws(s3.endpoint, ['s3', 'cp', '-', `s3://backups/${object}`], bytes);
    assert.strictEqual(put.code, 0, put.stderr);
    const before = fetchDirs();
    const r = await run<VerifyResult>('etcdBackup.verifySnapshot', remote(0), {});
    assert.ok(r, api.lastCommandError('etcdBackup.verifySnapshot'));
    assert.strictEqual(r.ok, false);
    assert.match(r.reason ?? '', /damaged|does not match its recorded SHA-256/);
    assert.deepStrictEqual(fetchDirs(), before);
  });

  it('Forget Stored age Identities…: one by its recipient, then all', async () => {
    const other = execFileSync('age-keygen', ['-y', otherKey]).toString().trim();
    const left = await run<{ recipients: string[] }>('etcdBackup.forgetAgeIdentity', undefined, { recipient: other });
    assert.strictEqual(left?.recipients.length, 1);
    assert.ok(!left.recipients.includes(other));
    const none = await run<{ recipients: string[] }>('etcdBackup.forgetAgeIdentity', undefined, { recipient: 'all' });
    assert.deepStrictEqual(none?.recipients, []);
  });
});
