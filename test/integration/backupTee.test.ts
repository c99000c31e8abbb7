/**
 * `backup run` takes the upload's bytes from the save as they arrive (the tee). When the store is
 * slow at first (a proxy holds every connection for 2.5 s), the upload falls behind by more than
 * the tee holds: after a short pause the save goes on at its own pace and the upload reads the
 * rest from the saved file. Real etcd, real S3 (s3rver), Debian's `age` and `aws`: the object is
 * the local file byte for byte, and its metadata records that file.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { loadPlan, runBackup } from '../../src/core/backup';
import { openS3Store } from '../../src/core/backup/storeS3';
import { EtcdTestCluster, putAll, startCluster } from '../support';
import { aws, removeS3, S3_KEY, S3_SECRET, S3Server, startS3, TcpProxy } from '../support/s3Rig';

describe('backup run: the upload takes the save’s bytes as they arrive (real etcd, s3rver, age)', function () {
  this.timeout(300_000);
  let root: string;
  let etcd: EtcdTestCluster;
  let s3: S3Server;
  let proxy: TcpProxy;
  let key: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'backup-tee-it-'));
    [etcd, s3] = await Promise.all([startCluster({ members: 1, name: 'bktee' }), startS3(['backups'])]);
    // About 12 MiB of values that do not compress.
    await putAll(etcd, Array.from({ length: 48 }, (_, i) => ({ key: `/big/${i}`, value: randomBytes(256 * 1024) })));
    proxy = new TcpProxy(s3.port);
    await proxy.start();
    key = join(root, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all([etcd?.stop(), s3 && removeS3(s3)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function run(prefix: string, teeCapBytes?: number): Promise<{ lines: string[]; r: Awaited<ReturnType<typeof runBackup>> }> {
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(root, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
    const s3cfg = { endpoint: `http://127.0.0.1:${proxy.port}`, bucket: 'backups', prefix, region: 'us-east-1', forcePathStyle: true,
      credentialsFile: credentials, partSizeMiB: 5, timeoutSeconds: 20, maxAttempts: 1 };
    const planFile = join(root, `${prefix.replace('/', '')}.yaml`);
    writeFileSync(planFile, [
      'cluster:', '  name: bktee', `  endpoints: [${etcd.members[0].clientURL}]`,
      'schedule: daily', 'local:', `  dir: ${join(root, prefix)}`, '  keep: { last: 5 }',
      'remote:', `  s3: ${JSON.stringify(s3cfg)}`, '  keep: { last: 5 }', 'compress: gzip', `encrypt: { recipients: [${recipient}] }`, '',
    ].join('\n'), { mode: 0o600 });
    const plan = await loadPlan(planFile);
    const lines: string[] = [];
    const openStore = async (): Promise<Awaited<ReturnType<typeof openS3Store>>> => openS3Store(plan.remote?.s3 as never);
    const r = await runBackup(plan, { log: (l) => lines.push(l), openStore, teeCapBytes });
    return { lines, r };
  }

  async function assertObjectIsLocalFile(prefix: string, r: Awaited<ReturnType<typeof runBackup>>): Promise<void> {
    const local = readFileSync(r.file as string);
    const got = await aws(s3.endpoint, ['s3', 'cp', `s3://backups/${prefix}${r.name}.db.gz.age`, '-']);
    assert.strictEqual(got.code, 0, got.stderr);
    const plain = gunzipSync(execFileSync('age', ['-d', '-i', key], { input: Buffer.from(got.stdout, 'latin1'), maxBuffer: 64 << 20 }));
    assert.ok(plain.equals(local), `the object is not the local file (${plain.length} vs ${local.length} bytes)`);
    const meta = JSON.parse((await aws(s3.endpoint, ['s3', 'cp', `s3://backups/${prefix}${r.name}.meta.json`, '-'])).stdout);
    assert.deepStrictEqual([meta.plain.size, meta.plain.sha256], [local.length, createHash('sha256').update(local).digest('hex')]);
  }

  it('a store that keeps up: every byte from the stream, none read back from the file', async () => {
    const { lines, r } = await run('fast/');
    assert.ok(r.ok, JSON.stringify(r.destinations));
    assert.ok(!lines.some((l) => l.includes('fell behind')), lines.join('\n'));
    await assertObjectIsLocalFile('fast/', r);
  });

  it('a store slow to answer: the save pauses at most a second, then the upload reads the rest from the file; the object is the file', async () => {
    proxy.holdFor(2500);
    const t0 = Date.now();
    const { lines, r } = await run('slow/', 1024 * 1024);
    assert.ok(r.ok, JSON.stringify(r.destinations));
    const behind = lines.find((l) => l.includes('fell behind'));
    assert.match(behind ?? '', /The upload fell behind after \d+\.\d MiB: it reads the rest from the saved file\./, lines.join('\n'));
    // The local save did not wait for the store: it was checked before the held connections were let through.
    const local = r.destinations.find((d) => d.destination === 'local');
    assert.ok(local?.ok && (local.durationSeconds ?? 99) < 2.4, JSON.stringify(local));
    assert.ok(Date.now() - t0 >= 2500);
    await assertObjectIsLocalFile('slow/', r);
  });
});
