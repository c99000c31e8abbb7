/**
 * The change log on a remote: segments are uploaded beside the backups, gzip + age like them
 * (Debian's aws and age read them back byte for byte), and a point in time materializes from
 * the remote alone (the node's folder lost) with the age key.
 */
import assert from 'assert';
import { ChildProcess, execFile, execFileSync, spawn } from 'child_process';
import { promises as fs, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { EtcdConnection } from '../../src/core/etcd';
import { LocalSegmentStore } from '../../src/core/pitr/store';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';
import { normalizeGet, restoredGet } from './pitrSupport';
import { aws, awsKeys, removeS3, S3_KEY, S3_SECRET, S3Server, startS3 } from '../support/s3Rig';

const REPO = join(__dirname, '..', '..');

/** The CLI in its own process (the engine loads its S3 client with import(), as the bundle does). */
function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) =>
    execFile(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli.ts'), ...args], { cwd: REPO, timeout: 120_000 }, (e, out, err) =>
      done({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    ),
  );
}

describe('point-in-time recovery on a remote (s3rver, aws CLI, age)', function () {
  this.timeout(300_000);
  let c: EtcdTestCluster;
  let s3: S3Server;
  let conn: EtcdConnection;
  let dir: string;
  let key: string;
  let plan: string;
  let child: ChildProcess | undefined;

  before(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-remote-'));
    [c, s3] = await Promise.all([startCluster({ members: 1, name: 'pitr-remote' }), startS3(['backups'])]);
    conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    key = join(dir, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(dir, 's3.credentials');
    await fs.writeFile(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
    const s3cfg = {
      endpoint: s3.endpoint,
      bucket: 'backups',
      prefix: 'prod/',
      region: 'us-east-1',
      forcePathStyle: true,
      credentialsFile: credentials,
      timeoutSeconds: 10,
    };
    plan = join(dir, 'plan.yaml');
    await fs.writeFile(
      plan,
      [
        'cluster:',
        '  name: remote',
        `  endpoints: [${c.endpoints[0]}]`,
        'local:',
        `  dir: ${join(dir, 'local')}`,
        'remote:',
        `  s3: ${JSON.stringify(s3cfg)}`,
        'compress: gzip',
        `encrypt: { recipients: [${recipient}] }`,
        'follow: { enabled: true, segmentSeconds: 1 }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  });

  after(async () => {
    child?.kill('SIGKILL');
    conn?.close();
    await Promise.all([c?.stop(), s3 && removeS3(s3)]);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('uploads segments as gzip+age that aws and age read back, and materializes from the remote alone', async () => {
    await conn.client.kv.put({ key: Buffer.from('/r/0'), value: Buffer.from('0') });
    const run = await cli(['backup', 'run', '--config', plan]);
    assert.strictEqual(run.code, 0, run.err);
    let log = '';
    child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli.ts'), 'backup', 'follow', '--config', plan], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((r) => child?.on('exit', (code) => r(code)));
    const lease = (await conn.client.leaseClient.leaseGrant({ TTL: 300 })).ID;
    for (let i = 0; i < 8; i++)
      await conn.client.kv.put({ key: Buffer.from(`/r/${i % 3}`), value: Buffer.from(`v${i}`), lease: i % 2 ? lease : '0' });
    await conn.client.kv.deleteRange({ key: Buffer.from('/r/1') });
    const end = Number((await conn.client.kv.range({ key: Buffer.from([0]), count_only: true })).header.revision);
    const want = await c.etcdctlOk(['get', '--prefix', '', `--rev=${end}`, '-w', 'json']);
    const local = new LocalSegmentStore(join(dir, 'local', 'changelog'));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const segs = await local.list();
      const keys = await awsKeys(s3.endpoint, 'backups', 'prod/');
      if (segs.length && segs[segs.length - 1].last >= end && segs.every((r) => keys.includes(`prod/remote-${r.name}.gz.age`))) break;
      if (Date.now() > deadline) throw new Error(`segments not uploaded:\n${log}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    child.kill('SIGTERM');
    assert.strictEqual(await exited, 0, log);
    for (const r of await local.list()) {
      const obj = join(dir, `${r.name}.age`);
      const cp = await aws(s3.endpoint, ['s3', 'cp', `s3://backups/prod/remote-${r.name}.gz.age`, obj, '--only-show-errors']);
      assert.strictEqual(cp.code, 0, cp.stderr);
      const plain = gunzipSync(execFileSync('age', ['-d', '-i', key, obj]));
      assert.ok(plain.equals(readFileSync(join(local.dir, r.name))), `age -d | gunzip of ${r.name} equals the local segment`);
    }
    // The node's folder is lost: the remote alone is enough, with the key.
    await fs.rm(join(dir, 'local'), { recursive: true, force: true });
    const out = join(dir, 'at-end.db');
    const refused = await cli(['backup', 'fetch', '--config', plan, '--to-revision', String(end), '-o', out]);
    assert.strictEqual(refused.code, 1);
    assert.match(refused.err, /--identity FILE/);
    const r = await cli(['backup', 'fetch', '--config', plan, '--to-revision', String(end), '--identity', key, '-o', out]);
    assert.strictEqual(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`Snapshot of revision ${end} saved at`));
    const got = normalizeGet(await restoredGet(out, end));
    assert.strictEqual(got.revision, String(end));
    assert.deepStrictEqual(got.kvs, normalizeGet(want).kvs);
    assert.ok(
      got.kvs.some((kv) => kv.lease !== '0'),
      'a key keeps its lease',
    );
  });
});
