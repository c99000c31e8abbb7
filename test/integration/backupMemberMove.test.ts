/**
 * `backup run` when the member it saves from dies mid-stream: a real 3-member etcd cluster, each
 * member behind a loopback proxy that cuts its connections once more than 1 MiB came back (the
 * member the save picked first "dies" in the middle of the snapshot), and a real S3 server
 * (s3rver). The save starts over on another member; the copy that was being uploaded while the
 * first save streamed is dropped and the new file is uploaded again: the object decrypts (Debian's
 * `age`) and decompresses to the local file byte for byte, and its metadata records that file.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { loadPlan, runBackup } from '../../src/core/backup';
import { openS3Store } from '../../src/core/backup/storeS3';
import { EtcdTestCluster, putKeys, startCluster } from '../support';
import { aws, removeS3, S3_KEY, S3_SECRET, S3Server, startS3, TcpProxy } from '../support/s3Rig';

describe('backup run: the save moves to another member mid-stream (real 3-member etcd, s3rver, age)', function () {
  this.timeout(300_000);
  let root: string;
  let etcd: EtcdTestCluster;
  let s3: S3Server;
  const proxies: TcpProxy[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'backup-move-it-'));
    [etcd, s3] = await Promise.all([startCluster({ members: 3, name: 'bkmove' }), startS3(['backups'])]);
    await putKeys(etcd, '/registry/configmaps/default/', 3000, 1024);
    for (const m of etcd.members) {
      const p = new TcpProxy(Number(new URL(m.clientURL).port));
      await p.start();
      proxies.push(p);
    }
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([etcd?.stop(), s3 && removeS3(s3)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('starts over on another member and uploads the new file again: the object is the local file, byte for byte', async () => {
    const key = join(root, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(root, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
    const s3cfg = { endpoint: s3.endpoint, bucket: 'backups', prefix: 'move/', region: 'us-east-1', forcePathStyle: true,
      credentialsFile: credentials, partSizeMiB: 5, timeoutSeconds: 10, maxAttempts: 1 };
    const planFile = join(root, 'plan.yaml');
    writeFileSync(planFile, [
      'cluster:', '  name: bkmove', `  endpoints: [${proxies.map((p) => `http://127.0.0.1:${p.port}`).join(', ')}]`,
      'schedule: daily', 'local:', `  dir: ${join(root, 'local')}`, '  keep: { last: 5 }',
      'remote:', `  s3: ${JSON.stringify(s3cfg)}`, '  keep: { last: 5 }', 'compress: gzip', `encrypt: { recipients: [${recipient}] }`, '',
    ].join('\n'), { mode: 0o600 });
    const plan = await loadPlan(planFile);
    // The first proxy to pass 1 MiB back (the member the save streams from) cuts its connections; the others then stay up.
    let cut = -1;
    proxies.forEach((p, i) =>
      p.killAfterBytesFromServer(1 << 20, () => {
        cut = i;
        proxies.forEach((o) => o !== p && o.disarm());
      }),
    );
    const lines: string[] = [];
    // (The S3 store is opened here: the engine's lazy import needs the CLI's loader, not mocha's.)
    const openStore = async (): Promise<Awaited<ReturnType<typeof openS3Store>>> => openS3Store(plan.remote?.s3 as never);
    const r = await runBackup(plan, { log: (l) => lines.push(l), openStore });
    proxies.forEach((p) => p.disarm());
    assert.ok(cut >= 0, `no member was cut mid-stream: ${lines.join('\n')}`);
    assert.ok(r.ok, JSON.stringify(r.destinations));
    const saves = lines.filter((l) => l.startsWith('Saving a snapshot from'));
    assert.strictEqual(saves.length, 2, lines.join('\n'));
    assert.ok(saves[0].includes(`:${proxies[cut].port} `), `${saves[0]}: the first save was through the proxy that cut`);
    const local = readFileSync(r.file as string);
    const object = `move/${r.name}.db.gz.age`;
    const got = await aws(s3.endpoint, ['s3', 'cp', `s3://backups/${object}`, '-']);
    assert.strictEqual(got.code, 0, got.stderr);
    const plain = gunzipSync(execFileSync('age', ['-d', '-i', key], { input: Buffer.from(got.stdout, 'latin1'), maxBuffer: 64 << 20 }));
    assert.ok(plain.equals(local), `the object is not the local file (${plain.length} vs ${local.length} bytes)`);
    const meta = await aws(s3.endpoint, ['s3', 'cp', `s3://backups/move/${r.name}.meta.json`, '-']);
    const m = JSON.parse(meta.stdout) as { plain: { size: number; sha256: string } };
    assert.strictEqual(m.plain.size, local.length);
    assert.strictEqual(m.plain.sha256, createHash('sha256').update(local).digest('hex'));
  });
});
