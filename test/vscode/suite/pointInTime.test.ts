/**
 * "A point in time…" in Restore Snapshot… and the follower's row under the Backups node, in the
 * real extension host, against a real etcd and a real follower (`node dist/cli.js backup follow`,
 * its own process): a plan with follow enabled, a full backup, a history of puts, deletes, a
 * multi-key transaction and a key with a lease; the Backups node shows the follower running with
 * the last recorded revision; a revision outside the recorded range is refused naming the range;
 * a revision inside it is materialized into a 0600 temp file, the changes from the base are
 * reported, and the file restored with etcdctl and started holds exactly what etcd had at that
 * revision (`etcdctl get --prefix "" --rev=R -w json`); once the follower is stopped, the node
 * says so. A second suite keeps the base backup only in an encrypted S3 copy (s3rver): the
 * point is refused without the age identity and restored with it.
 */
import * as assert from 'assert';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../../src/extension';
import type { DumpedNode } from '../../../src/views/clustersView';
import { normalizeGet, restoredGet } from '../../integration/pitrSupport';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { awsKeys, removeS3, S3_KEY, S3_SECRET, S3Server, startS3 } from '../../support/s3Rig';
import { activateExtension, setSettings, waitFor } from '../support';

const NAME = 'vs-pitr';
const REPO = process.env.ETCD_BACKUP_REPO ?? '';

describe('Restore a point in time and the follower under Backups (VS Code)', function () {
  this.timeout(300_000);
  let api: ExtensionApi;
  let c: EtcdTestCluster;
  let root: string;
  let plan: string;
  let follower: ChildProcess | undefined;
  let followerLog = '';
  let restore: (() => Promise<void>) | undefined;
  const expected = new Map<number, string>();
  let base = 0;
  let last = 0;

  const rev = async (args: string[]): Promise<number> => {
    const out = await c.etcdctlOk([...args, '-w', 'json']);
    return Number((JSON.parse(out.replace(/"revision":(\d+)/, '"revision":"$1"')) as { header: { revision: string } }).header.revision);
  };
  const recorded = (): number => {
    const names = readdirSync(join(root, 'local', 'changelog')).filter((n) => /^changes-\d{16}-\d{16}\.log$/.test(n));
    return Math.max(0, ...names.map((n) => Number(n.slice(25, 41))));
  };
  const followerRow = async (): Promise<DumpedNode | undefined> => {
    const kids = (await api.clustersTree.dump(false)).find((n) => n.label === NAME)?.children ?? [];
    return kids.find((n) => n.label === 'Backups')?.children?.find((k) => /^message:follower/.test(k.contextValue ?? ''));
  };

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-pitr-'));
    c = await startCluster({ members: 1, name: NAME });
    plan = join(root, 'plan.yaml');
    writeFileSync(
      plan,
      `cluster:\n  name: ${NAME}\n  endpoints: [${c.members[0].clientURL}]\nlocal:\n  dir: ${join(root, 'local')}\n` +
        'follow: { enabled: true, segmentSeconds: 1, segmentMiB: 1 }\n',
      { mode: 0o600 },
    );
    for (let i = 0; i < 5; i++) await c.etcdctlOk(['put', `/registry/pods/p${i}`, `v${i}`]);
    restore = await setSettings({
      'etcdBackup.clusters': [c.clusterConfig({ name: NAME })],
      'etcdBackup.backupPlans': [plan],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
    const full = (await vscode.commands.executeCommand('etcdBackup.runBackupNow', plan)) as { ok: boolean; revision: number } | undefined;
    assert.ok(full?.ok, api.lastCommandError('etcdBackup.runBackupNow'));
    base = full.revision;
    follower = spawn('/usr/bin/node', [join(REPO, 'dist/cli.js'), 'backup', 'follow', '--config', plan], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    follower.stderr?.on('data', (b: Buffer) => (followerLog += b.toString()));
    await waitFor(() => /Watching/.test(followerLog), 30_000, `the follower to watch:\n${followerLog}`);
    // The history: puts, a delete, a multi-key transaction, a key with a lease, more puts.
    const lease = (await c.etcdctlOk(['lease', 'grant', '600'])).match(/lease ([0-9a-f]+) granted/)?.[1] as string;
    const steps: string[][] = [
      ['put', '/registry/pods/p0', 'v0-2'],
      ['del', '/registry/pods/p1'],
      ['put', '/registry/leases/l1', 'held', `--lease=${lease}`],
      ['put', '/registry/configmaps/c1', 'one'],
      ['put', '/registry/pods/p0', 'v0-3'],
      ['del', '/registry/pods/p2'],
    ];
    for (const s of steps) {
      last = await rev(s);
      expected.set(last, await c.etcdctlOk(['get', '--prefix', '', `--rev=${last}`, '-w', 'json']));
    }
    await c.etcdctlOk(['txn'], {
      input: 'mod("/registry/pods/p3") > "0"\n\nput /registry/pods/p3 v3-2\ndel /registry/pods/p4\nput /registry/pods/p5 new\n\n\n',
    });
    last = await rev(['get', '/registry/pods/p3']);
    expected.set(last, await c.etcdctlOk(['get', '--prefix', '', `--rev=${last}`, '-w', 'json']));
    await waitFor(() => recorded() >= last, 60_000, `the follower to store revision ${last}:\n${followerLog}`, 300);
  });
  after(async () => {
    follower?.kill('SIGKILL');
    await restore?.();
    await c?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows the follower running under the Backups node, with the last recorded revision', async () => {
    const row = await waitFor(
      async () => {
        await api.clustersTree.refresh(NAME).catch(() => undefined);
        const r = await followerRow();
        return r?.contextValue === 'message:followerRunning' && r.label.includes(`revision ${last} recorded`) ? r : undefined;
      },
      30_000,
      'the follower row',
      500,
    );
    assert.match(row.label, /^follower running · revision \d+ recorded · up to date$/);
    assert.strictEqual(row.color, 'charts.green');
  });

  it('refuses a revision outside the recorded range, naming the range', async () => {
    const answers = { localMember: null, manifestPath: null, openRunbook: false, pointInTime: { plan, revision: last + 1000 } };
    const r = await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { cluster: NAME }, answers);
    assert.strictEqual(r, undefined);
    const sentence = api.lastCommandError('etcdBackup.restoreSnapshot') ?? '';
    assert.match(
      sentence,
      new RegExp(`^Revision ${last + 1000} is outside the recorded range\\. The change log covers revisions ${base} to ${last} \\(`),
    );
  });

  it('restores a chosen revision: a 0600 temp file holding exactly what etcd had then, the changes from the base reported', async () => {
    const m = c.members[0];
    for (const target of [[...expected.keys()][2], last]) {
      const answers = {
        members: [{ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] }],
        token: 'etcd-restore-pitr-test',
        localMember: null,
        manifestPath: null,
        openRunbook: false,
        runbookPath: join(root, `runbook-${target}.md`),
        pointInTime: { plan, revision: target, showChanges: true },
      };
      const r = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { cluster: NAME }, answers)) as
        { snapshot: string; log: string[] } | undefined;
      assert.ok(r, api.lastCommandError('etcdBackup.restoreSnapshot'));
      assert.strictEqual(statSync(r.snapshot).mode & 0o777, 0o600);
      assert.strictEqual(statSync(join(r.snapshot, '..')).mode & 0o777, 0o700);
      assert.ok(
        r.log.some((l) => l.startsWith(`Point in time: revision ${target} of "${NAME}" built at ${r.snapshot}`)),
        r.log.join('\n'),
      );
      assert.ok(
        r.log.some((l) => /^Changes from .+: \d+ added, \d+ removed, \d+ changed\.$/.test(l)),
        r.log.join('\n'),
      );
      const got = normalizeGet(await restoredGet(r.snapshot, target));
      assert.deepStrictEqual(got, normalizeGet(expected.get(target) as string), `revision ${target}`);
      rmSync(join(r.snapshot, '..'), { recursive: true, force: true });
    }
  });

  it('says the follower is not running once it is stopped', async () => {
    follower?.kill('SIGTERM');
    await new Promise((res) => follower?.once('exit', res));
    const row = await waitFor(
      async () => {
        await api.clustersTree.refresh(NAME).catch(() => undefined);
        const r = await followerRow();
        return r?.contextValue === 'message:followerStopped' ? r : undefined;
      },
      30_000,
      'the stopped follower row',
      500,
    );
    assert.match(row.label, /^follower not running · revision \d+ recorded/);
    assert.strictEqual(row.color, 'charts.red');
  });
});

describe('Restore a point in time whose base backup is only in an encrypted remote (VS Code)', function () {
  this.timeout(300_000);
  let api: ExtensionApi;
  let c: EtcdTestCluster;
  let s3: S3Server;
  let root: string;
  let plan: string;
  let key: string;
  let restore: (() => Promise<void>) | undefined;
  let expected = '';
  let last = 0;

  before(async () => {
    api = (await activateExtension()).api;
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-pitr-s3-'));
    [c, s3] = await Promise.all([startCluster({ members: 1, name: 'vs-pitr-s3' }), startS3(['pitr'])]);
    key = join(root, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(root, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
    const s3cfg = {
      endpoint: s3.endpoint,
      bucket: 'pitr',
      prefix: 'p/',
      region: 'us-east-1',
      forcePathStyle: true,
      credentialsFile: credentials,
    };
    plan = join(root, 'plan.yaml');
    writeFileSync(
      plan,
      [
        'cluster:',
        '  name: vs-pitr-s3',
        `  endpoints: [${c.members[0].clientURL}]`,
        `local: { dir: ${join(root, 'local')} }`,
        `remote: { s3: ${JSON.stringify(s3cfg)} }`,
        'compress: gzip',
        `encrypt: { recipients: [${recipient}] }`,
        'follow: { enabled: true, segmentSeconds: 1, segmentMiB: 1 }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    restore = await setSettings({
      'etcdBackup.clusters': [c.clusterConfig({ name: 'vs-pitr-s3' })],
      'etcdBackup.backupPlans': [plan],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
    await c.etcdctlOk(['put', '/registry/a', '1']);
    const full = (await vscode.commands.executeCommand('etcdBackup.runBackupNow', plan)) as { ok: boolean; name: string } | undefined;
    assert.ok(full?.ok, api.lastCommandError('etcdBackup.runBackupNow'));
    const follower = spawn('/usr/bin/node', [join(REPO, 'dist/cli.js'), 'backup', 'follow', '--config', plan], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    follower.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    try {
      await waitFor(() => /Watching/.test(log), 30_000, `the follower to watch:\n${log}`);
      await c.etcdctlOk(['put', '/registry/b', '2']);
      await c.etcdctlOk(['del', '/registry/a']);
      const out = await c.etcdctlOk(['put', '/registry/c', '3', '-w', 'json']);
      last = Number(/"revision":(\d+)/.exec(out)?.[1]);
      expected = await c.etcdctlOk(['get', '--prefix', '', `--rev=${last}`, '-w', 'json']);
      await waitFor(
        async () => (await awsKeys(s3.endpoint, 'pitr', 'p/')).some((k) => new RegExp(`-0*${last}\\.log\\.gz\\.age$`).test(k)),
        60_000,
        `the segment ending at ${last} in the bucket:\n${log}`,
        500,
      );
    } finally {
      follower.kill('SIGTERM');
      await new Promise((res) => follower.once('exit', res));
    }
    // The base backup is now only in the bucket (encrypted).
    for (const ext of ['db', 'json']) rmSync(join(root, 'local', `${full.name}.${ext}`));
  });
  after(async () => {
    await restore?.();
    await Promise.all([c?.stop(), s3 && removeS3(s3)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('asks for the identity only then (refused without it, in words for the answers), and restores with it', async () => {
    const answers = { localMember: null, manifestPath: null, openRunbook: false, runbookPath: join(root, 'runbook.md') };
    const pointInTime = { plan, revision: last };
    const refused = await vscode.commands.executeCommand(
      'etcdBackup.restoreSnapshot',
      { cluster: 'vs-pitr-s3' },
      { ...answers, pointInTime },
    );
    assert.strictEqual(refused, undefined);
    assert.match(
      api.lastCommandError('etcdBackup.restoreSnapshot') ?? '',
      /^(p\/)?vs-pitr-s3-\d{8}T\d{6}Z\.db\.gz\.age is encrypted: give the age identity file that decrypts it \(\{ identityFile \}\)\.$/,
    );
    const r = (await vscode.commands.executeCommand(
      'etcdBackup.restoreSnapshot',
      { cluster: 'vs-pitr-s3' },
      { ...answers, pointInTime, identityFile: key },
    )) as { snapshot: string } | undefined;
    assert.ok(r, api.lastCommandError('etcdBackup.restoreSnapshot'));
    assert.strictEqual(statSync(r.snapshot).mode & 0o777, 0o600);
    assert.deepStrictEqual(normalizeGet(await restoredGet(r.snapshot, last)), normalizeGet(expected));
    rmSync(join(r.snapshot, '..'), { recursive: true, force: true });
  });
});
