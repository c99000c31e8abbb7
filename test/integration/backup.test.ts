/**
 * `etcd-backup backup ...` end to end against real parts: a real etcd 3.4 member (test/support),
 * a real S3 server (s3rver on loopback, as a child process), Debian's `aws` CLI as the
 * independent reader of the objects, Debian's `age` as the reference decryptor, and
 * `systemd-analyze verify` for the units. Every fault of the issue: S3 unreachable, killed
 * mid-upload, wrong credentials, missing bucket, a server that never answers, a malformed
 * plan or recipient, a full disk, two runs at once, prune with everything expired, foreign
 * files and objects, and a changed ciphertext.
 */
import * as assert from 'assert';
import { execFile, execFileSync, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { hostname, tmpdir } from 'os';
import { join, resolve } from 'path';
import { gunzipSync } from 'zlib';
import { RUN_CHECKS } from '../../src/core/backup/run';
import { EtcdTestCluster, putAll, putKeys, startCluster, testPki } from '../support';
import { aws, awsKeys, blackHole, removeS3, S3_KEY, S3_SECRET, S3Server, startS3, TcpProxy } from '../support/s3Rig';

const REPO = resolve(__dirname, '../..');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((done) => {
    const argv = ['--import', 'tsx', join(REPO, 'src/cli.ts'), ...args];
    execFile(process.execPath, argv, { cwd: REPO, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

function ok(r: CliResult, what: string): CliResult {
  assert.strictEqual(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

describe('backup plans (real etcd, s3rver, aws CLI, age)', function () {
  this.timeout(300_000);
  let root: string;
  let etcd: EtcdTestCluster;
  let s3: S3Server;
  let key: string;
  let recipient: string;
  let credentials: string;
  let n = 0;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'backup-it-'));
    [etcd, s3] = await Promise.all([startCluster({ members: 1, name: 'bk' }), startS3(['backups', 'other'])]);
    await putKeys(etcd, '/registry/pods/default/', 200, 300);
    key = join(root, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    credentials = join(root, 's3.credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${S3_KEY}\naws_secret_access_key = ${S3_SECRET}\n`, { mode: 0o600 });
  });

  after(async () => {
    await Promise.all([etcd?.stop(), s3 && removeS3(s3)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** A plan in a fresh folder; `s3` overrides remote.s3 fields (null: no remote). */
  interface PlanOptions {
    name?: string;
    s3?: Record<string, unknown> | null;
    keep?: string;
    remoteKeep?: string;
    extra?: string;
    recipients?: string[];
  }
  function writePlan(opts: PlanOptions = {}): { plan: string; dir: string; prefix: string; metrics: string } {
    const caseDir = join(root, `case-${++n}`);
    mkdirSync(caseDir);
    const dir = join(caseDir, 'local');
    const prefix = `case${n}/`;
    const metrics = join(caseDir, 'metrics', 'etcd_backup.prom');
    const s3cfg =
      opts.s3 === null
        ? undefined
        : {
            endpoint: s3.endpoint,
            bucket: 'backups',
            prefix,
            region: 'us-east-1',
            forcePathStyle: true,
            credentialsFile: credentials,
            partSizeMiB: 5,
            timeoutSeconds: 10,
            maxAttempts: 1,
            ...opts.s3,
          };
    const lines = [
      'cluster:',
      `  name: ${opts.name ?? 'itest'}`,
      `  endpoints: [${etcd.members[0].clientURL}]`,
      'schedule: "*-*-* 00/6:00:00"',
      'local:',
      `  dir: ${dir}`,
      `  keep: ${opts.keep ?? '{ last: 5 }'}`,
      ...(s3cfg ? ['remote:', `  s3: ${JSON.stringify(s3cfg)}`, `  keep: ${opts.remoteKeep ?? '{ last: 5 }'}`] : []),
      'compress: gzip',
      `encrypt: { recipients: ${JSON.stringify(opts.recipients ?? [recipient])} }`,
      `metricsFile: ${metrics}`,
      opts.extra ?? '',
    ];
    const plan = join(caseDir, 'plan.yaml');
    writeFileSync(plan, `${lines.join('\n')}\n`, { mode: 0o600 });
    return { plan, dir, prefix, metrics };
  }

  const localFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

  it('runs a plan: plain local snapshot + sidecar, gzip+age object that aws and age read back, metadata, status, metrics', async () => {
    const p = writePlan();
    const r = ok(await runCli(['backup', 'run', '--config', p.plan, '-w', 'json']), 'backup run');
    const result = JSON.parse(r.stdout) as { ok: boolean; name: string; destinations: { destination: string; ok: boolean }[] };
    assert.ok(result.ok && result.destinations.length === 2 && result.destinations.every((d) => d.ok));
    const db = join(p.dir, `${result.name}.db`);
    assert.ok(existsSync(db) && existsSync(join(p.dir, `${result.name}.json`)));
    const sidecar = JSON.parse(readFileSync(join(p.dir, `${result.name}.json`), 'utf8'));
    assert.strictEqual(sidecar.backup.verified, true);
    // The trailer was checked on the stream as it was saved (and uploaded); the native reader walked the file.
    assert.strictEqual(sidecar.backup.checks, RUN_CHECKS);
    assert.strictEqual(RUN_CHECKS, 'sha256-trailer (on the stream, as saved), bbolt structure');
    const keys = await awsKeys(s3.endpoint, 'backups', p.prefix);
    assert.deepStrictEqual(keys, [`${p.prefix}${result.name}.db.gz.age`, `${p.prefix}${result.name}.meta.json`]);
    // Debian's aws reads the object; Debian's age decrypts it; gunzip gives the local file byte for byte.
    const obj = join(root, `${result.name}.age`);
    ok(
      { ...(await aws(s3.endpoint, ['s3', 'cp', `s3://backups/${p.prefix}${result.name}.db.gz.age`, obj, '--only-show-errors'])) },
      'aws s3 cp',
    );
    const plain = gunzipSync(execFileSync('age', ['-d', '-i', key, obj], { maxBuffer: 256 << 20 }));
    assert.ok(plain.equals(readFileSync(db)), 'age -d | gunzip equals the local snapshot');
    const meta = JSON.parse((await aws(s3.endpoint, ['s3', 'cp', `s3://backups/${p.prefix}${result.name}.meta.json`, '-'])).stdout);
    assert.strictEqual(meta.plain.sha256, sidecar.sha256);
    assert.strictEqual(meta.stored.size, readFileSync(obj).length);
    assert.strictEqual(meta.encryption.recipients.length, 1);
    const metrics = readFileSync(p.metrics, 'utf8');
    assert.match(metrics, /etcd_backup_consecutive_failures\{cluster="itest",destination="remote"\} 0/);
    assert.match(metrics, /etcd_backup_last_success_timestamp_seconds\{cluster="itest",destination="local"\} [1-9]/);
    const st = ok(await runCli(['backup', 'status', '--config', p.plan, '-w', 'json']), 'backup status');
    assert.strictEqual(JSON.parse(st.stdout).stale, false);
    const stale = await runCli(['backup', 'status', '--config', p.plan, '--now', new Date(Date.now() + 13 * 3600_000).toISOString()]);
    assert.strictEqual(stale.code, 1, 'older than twice the 6 h interval is stale');
    const list = JSON.parse(ok(await runCli(['backup', 'list', '--config', p.plan, '-w', 'json']), 'list').stdout);
    assert.deepStrictEqual(list.backups.map((b: { where: string }) => b.where).sort(), ['local', 'remote']);

    // fetch from the remote copy: decrypted, decompressed, checked, equal to the local file.
    const out = join(root, 'fetched.db');
    ok(await runCli(['backup', 'fetch', '--config', p.plan, '--latest', '--from', 'remote', '-i', key, '-o', out]), 'fetch');
    assert.ok(readFileSync(out).equals(readFileSync(db)));
    execFileSync('etcdctl', ['snapshot', 'status', out], { env: { ...process.env, ETCDCTL_API: '3' } });
    const again = await runCli(['backup', 'fetch', '--config', p.plan, '--latest', '--from', 'remote', '-i', key, '-o', out]);
    assert.strictEqual(again.code, 1);
    assert.match(again.stderr, /already exists: fetch never overwrites/);

    // A changed ciphertext is refused, and nothing is left under -o.
    const bytes = readFileSync(obj);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(obj, bytes);
    ok(
      await aws(s3.endpoint, ['s3', 'cp', obj, `s3://backups/${p.prefix}${result.name}.db.gz.age`, '--only-show-errors']),
      'aws s3 cp (tamper)',
    );
    const bad = join(root, 'tampered.db');
    const t = await runCli(['backup', 'fetch', '--config', p.plan, '--name', result.name, '--from', 'remote', '-i', key, '-o', bad]);
    assert.strictEqual(t.code, 1);
    assert.match(t.stderr, /damaged or was changed|does not match its recorded SHA-256/);
    assert.ok(!existsSync(bad) && !existsSync(`${bad}.part`));
  });

  it(
    'a TLS + auth cluster (kubeadm layout, passwordFile) to a TLS store with a private CA (caFile); without the CA, a TLS ' + 'sentence',
    async () => {
      const pki = await testPki();
      const [secure, tlsS3] = await Promise.all([
        startCluster({ members: 1, tls: true, auth: { password: 'rootpw' }, name: 'sec' }),
        startS3(['backups'], { key: pki.serverKey, cert: pki.serverCert }),
      ]);
      try {
        const caseDir = join(root, `case-${++n}`);
        mkdirSync(caseDir);
        const pw = join(caseDir, 'password');
        writeFileSync(pw, 'rootpw\n', { mode: 0o600 });
        const cfg = secure.clusterConfig();
        const plan = (withCa: boolean): string => {
          const s3cfg = {
            endpoint: tlsS3.endpoint,
            bucket: 'backups',
            prefix: withCa ? 'ca/' : 'noca/',
            credentialsFile: credentials,
            timeoutSeconds: 10,
            maxAttempts: 1,
            ...(withCa ? { caFile: pki.caFile } : {}),
          };
          const file = join(caseDir, `plan-${withCa}.yaml`);
          const text = [
            `cluster: { name: sec, endpoints: ${JSON.stringify(cfg.endpoints)}, tls: ${JSON.stringify(cfg.tls)}, username: root, ` +
              `passwordFile: ${pw} }`,
            `local: { dir: ${join(caseDir, `local-${withCa}`)} }`,
            `remote: { s3: ${JSON.stringify(s3cfg)} }`,
            `encrypt: { recipients: [${recipient}] }`,
          ];
          writeFileSync(file, `${text.join('\n')}\n`, { mode: 0o600 });
          return file;
        };
        const good = ok(await runCli(['backup', 'run', '--config', plan(true), '-w', 'json']), 'run with caFile');
        assert.strictEqual(JSON.parse(good.stdout).ok, true);
        const bad = await runCli(['backup', 'run', '--config', plan(false)]);
        assert.strictEqual(bad.code, 1);
        assert.match(bad.stderr, /remote: FAILED: The TLS handshake with .* failed .*set remote\.s3\.caFile/);
      } finally {
        await Promise.all([secure.stop(), removeS3(tlsS3)]);
      }
    },
  );

  it('S3 unreachable at the start: the local backup is kept, the failure is recorded and counted, exit 1', async () => {
    const p = writePlan({ s3: { endpoint: 'http://127.0.0.1:1' } });
    const r = await runCli(['backup', 'run', '--config', p.plan]);
    assert.strictEqual(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot be reached \(connection refused\)/);
    assert.strictEqual(localFiles(p.dir).filter((f) => f.endsWith('.db')).length, 1);
    assert.match(readFileSync(p.metrics, 'utf8'), /etcd_backup_consecutive_failures\{cluster="itest",destination="remote"\} 1/);
    await runCli(['backup', 'run', '--config', p.plan]);
    assert.match(readFileSync(p.metrics, 'utf8'), /etcd_backup_consecutive_failures\{cluster="itest",destination="remote"\} 2/);
    assert.match(readFileSync(p.metrics, 'utf8'), /etcd_backup_consecutive_failures\{cluster="itest",destination="local"\} 0/);
    const st = await runCli(['backup', 'status', '--config', p.plan]);
    assert.strictEqual(st.code, 1, 'a remote without a good backup is stale');
    assert.match(st.stdout, /last failure .*cannot be reached/);
    // The local copy can still be fetched (copied and checked) without the store.
    const out = join(root, `local-fetch-${n}.db`);
    ok(await runCli(['backup', 'fetch', '--config', p.plan, '--latest', '--from', 'local', '-o', out]), 'fetch --from local');
    const newest = localFiles(p.dir)
      .filter((f) => f.endsWith('.db'))
      .pop() as string;
    assert.ok(readFileSync(out).equals(readFileSync(join(p.dir, newest))));
  });

  it('wrong credentials and a missing bucket: one sentence each, exit 1', async () => {
    const wrong = join(root, 'wrong.credentials');
    writeFileSync(wrong, 'AWS_ACCESS_KEY_ID=nobody\nAWS_SECRET_ACCESS_KEY=wrong\n', { mode: 0o600 });
    const a = writePlan({ s3: { credentialsFile: wrong } });
    const r1 = await runCli(['backup', 'run', '--config', a.plan]);
    assert.strictEqual(r1.code, 1);
    assert.match(r1.stderr, /refused the S3 credentials/);
    const b = writePlan({ s3: { bucket: 'no-such-bucket' } });
    const r2 = await runCli(['backup', 'run', '--config', b.plan]);
    assert.strictEqual(r2.code, 1);
    assert.match(r2.stderr, /The bucket "no-such-bucket" does not exist/);
  });

  it('fetch still checks the SHA-256 trailer: a backup whose sidecar agrees with a changed file is refused, nothing written', async () => {
    const p = writePlan({ s3: null });
    const r = JSON.parse(ok(await runCli(['backup', 'run', '--config', p.plan, '-w', 'json']), 'backup run').stdout) as { name: string };
    // A byte of the database changed (the middle of the file: values, not the page headers the reader walks), and the
    // sidecar's SHA-256 made to agree, as if the file had been damaged before it was recorded.
    const db = join(p.dir, `${r.name}.db`);
    const bytes = readFileSync(db);
    bytes[Math.floor((bytes.length - 32) / 2)] ^= 0x40;
    writeFileSync(db, bytes);
    const sidecar = join(p.dir, `${r.name}.json`);
    const sc = JSON.parse(readFileSync(sidecar, 'utf8'));
    sc.sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(sidecar, JSON.stringify(sc, null, 2));
    const out = join(root, 'trailer-mismatch.db');
    const f = await runCli(['backup', 'fetch', '--config', p.plan, '--name', r.name, '--from', 'local', '-o', out]);
    assert.strictEqual(f.code, 1, f.stderr);
    assert.match(f.stderr, /failed its check: .*SHA-256/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.part`));
  });

  it('a store that accepts and never answers fails within the timeout, with a sentence', async () => {
    const hole = await blackHole();
    try {
      const p = writePlan({ s3: { endpoint: `http://127.0.0.1:${hole.port}`, timeoutSeconds: 2 } });
      const t0 = Date.now();
      const r = await runCli(['backup', 'run', '--config', p.plan]);
      assert.strictEqual(r.code, 1);
      assert.match(r.stderr, /did not answer within 2 s/);
      assert.ok(Date.now() - t0 < 60_000);
      // The store that never answers does not hold the save back: the local copy is checked, and counts.
      assert.match(r.stdout, /^local: /m);
      const sidecarFile = localFiles(p.dir).find((f) => f.endsWith('.json') && !f.startsWith('.')) as string;
      const { backup } = JSON.parse(readFileSync(join(p.dir, sidecarFile), 'utf8'));
      assert.deepStrictEqual([backup.verified, backup.checks], [true, RUN_CHECKS]);
    } finally {
      await hole.close();
    }
  });

  it('S3 killed in the middle of a multipart upload: no object under the final name, local kept, failure counted', async () => {
    // About 12 MiB of incompressible values: three 5 MiB parts.
    await putAll(
      etcd,
      Array.from({ length: 48 }, (_, i) => ({ key: `/big/${i}`, value: randomBytes(256 * 1024) })),
    );
    const proxy = new TcpProxy(s3.port);
    await proxy.start();
    const victim = await startS3(['backups']);
    proxy.target = victim.port;
    proxy.killAfterBytes(7 * 1024 * 1024, () => victim.kill());
    try {
      const p = writePlan({ s3: { endpoint: `http://127.0.0.1:${proxy.port}`, timeoutSeconds: 5 } });
      const r = await runCli(['backup', 'run', '--config', p.plan]);
      assert.strictEqual(r.code, 1, r.stderr);
      assert.match(r.stderr, /remote: FAILED: /);
      assert.strictEqual(localFiles(p.dir).filter((f) => f.endsWith('.db')).length, 1, 'the local backup is kept');
      // The local copy was checked (the trailer on the stream, the file's structure) whatever became of the upload.
      const sidecarFile = localFiles(p.dir).find((f) => f.endsWith('.json') && !f.startsWith('.')) as string;
      const { backup } = JSON.parse(readFileSync(join(p.dir, sidecarFile), 'utf8'));
      assert.deepStrictEqual([backup.verified, backup.checks], [true, RUN_CHECKS]);
      assert.match(readFileSync(p.metrics, 'utf8'), /etcd_backup_consecutive_failures\{cluster="itest",destination="remote"\} 1/);
      const status = JSON.parse(readFileSync(join(p.dir, '.etcd-backup-itest.status.json'), 'utf8'));
      assert.strictEqual(status.destinations.remote.consecutiveFailures, 1);
      // Restart the store on its folder and read it with the aws CLI: nothing under the final name.
      await victim.stop();
      await victim.start();
      assert.deepStrictEqual(
        (await awsKeys(victim.endpoint, 'backups')).filter((k) => /\.db\.gz\.age$|\.meta\.json$/.test(k)),
        [],
      );
    } finally {
      await proxy.stop();
      await removeS3(victim);
      await etcd.etcdctlOk(['del', '--prefix', '/big/']);
    }
  });

  it('a malformed plan or recipient is refused before anything is saved, one sentence per problem', async () => {
    const p = writePlan({ recipients: ['age1notakey'], extra: 'compres: gzip\nschedule2: x' });
    const r = await runCli(['backup', 'run', '--config', p.plan]);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /"age1notakey" is not an age recipient/);
    assert.match(r.stderr, /unknown field "compres"/);
    assert.ok(!existsSync(p.dir), 'nothing was saved: the local folder was not even made');
    const secretKey = readFileSync(key, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('AGE-SECRET-KEY-')) as string;
    const secret = writePlan({ recipients: [secretKey] });
    const r2 = await runCli(['backup', 'run', '--config', secret.plan]);
    assert.match(r2.stderr, /That is a private key/);
    const open = writePlan();
    execFileSync('chmod', ['644', open.plan]);
    const r3 = await runCli(['backup', 'run', '--config', open.plan]);
    assert.strictEqual(r3.code, 1);
    assert.match(r3.stderr, /has mode 0644: it must not be open to group or others\. Run: chmod 600/);
    writeFileSync(open.plan, 'cluster: [unclosed\n', { mode: 0o600 });
    execFileSync('chmod', ['600', open.plan]);
    const r4 = await runCli(['backup', 'run', '--config', open.plan]);
    assert.match(r4.stderr, /not valid YAML/);
    assert.ok(!existsSync(open.dir));
  });

  it('the local disk full: nothing under a final name, no .part, nothing uploaded, the failure recorded', async function () {
    // The upload runs while the snapshot streams: a save that fails must leave no object either.
    const p = writePlan({ extra: '' });
    mkdirSync(p.dir, { recursive: true });
    // At least 1 MiB of data, so the snapshot cannot fit in the 256 KiB disk.
    await putAll(
      etcd,
      Array.from({ length: 16 }, (_, i) => ({ key: `/full/${i}`, value: randomBytes(64 * 1024) })),
    );
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', p.dir]);
    } catch {
      this.skip();
    }
    try {
      const r = await runCli(['backup', 'run', '--config', p.plan]);
      assert.strictEqual(r.code, 1);
      assert.match(r.stderr, /disk is full/);
      assert.deepStrictEqual(
        localFiles(p.dir).filter((f) => !f.startsWith('.etcd-backup-')),
        [],
      );
      const status = JSON.parse(readFileSync(join(p.dir, '.etcd-backup-itest.status.json'), 'utf8'));
      assert.strictEqual(status.destinations.local.consecutiveFailures, 1);
      assert.strictEqual(status.destinations.remote.consecutiveFailures, 1);
      assert.deepStrictEqual(await awsKeys(s3.endpoint, 'backups', p.prefix), []);
    } finally {
      execFileSync('umount', [p.dir]);
      await etcd.etcdctlOk(['del', '--prefix', '/full/']);
    }
  });

  it('two runs of one plan at once: the second says so, does nothing, exits 1', async () => {
    const p = writePlan({ s3: null });
    // The first run is a live process that holds the plan's lock (a real run can finish before a
    // second CLI has even started on a loaded machine, so the holder is kept alive on purpose).
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    const lock = join(p.dir, '.etcd-backup-itest.lock');
    try {
      mkdirSync(p.dir, { recursive: true });
      writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: hostname(), startedAt: new Date().toISOString() }), { mode: 0o600 });
      const second = await runCli(['backup', 'run', '--config', p.plan]);
      assert.strictEqual(second.code, 1);
      assert.match(second.stderr, new RegExp(`Another backup run of "itest" is in progress \\(process ${holder.pid}`));
      assert.strictEqual(localFiles(p.dir).filter((f) => f.endsWith('.db')).length, 0, 'the second run saved nothing');
      assert.ok(existsSync(lock), 'the holder keeps its lock');
    } finally {
      holder.kill('SIGKILL');
    }
    ok(await runCli(['backup', 'run', '--config', p.plan]), 'a run once the holder is gone');
    assert.strictEqual(localFiles(p.dir).filter((f) => f.endsWith('.db')).length, 1);
    // A lock left by a process that died is taken over.
    writeFileSync(lock, JSON.stringify({ pid: 999999, host: hostname(), startedAt: 'yesterday' }));
    ok(await runCli(['backup', 'run', '--config', p.plan]), 'run after a stale lock');
  });

  it('prune with every backup expired keeps the newest good one and never touches foreign files or objects', async () => {
    const p = writePlan({ keep: '{ within: 1h }', remoteKeep: '{ within: 1h }' });
    for (let i = 0; i < 3; i++) ok(await runCli(['backup', 'run', '--config', p.plan]), `run ${i}`);
    // Foreign things: a file with our name pattern but no sidecar, another cluster's, notes.
    writeFileSync(join(p.dir, 'itest-20200101T000000Z.db'), 'not ours');
    writeFileSync(join(p.dir, 'notes.txt'), 'mine');
    writeFileSync(join(p.dir, 'other-20200101T000000Z.db'), 'x');
    writeFileSync(join(root, 'foreign.bin'), 'x');
    for (const k of [
      'itest-20200101T000000Z.db.gz.age',
      'README',
      'itest-20200102T000000Z.meta.json',
      'sub/itest-20200103T000000Z.db.gz.age',
    ]) {
      ok(await aws(s3.endpoint, ['s3', 'cp', join(root, 'foreign.bin'), `s3://backups/${p.prefix}${k}`, '--only-show-errors']), 'aws cp');
    }
    const later = new Date(Date.now() + 10 * 86400_000).toISOString();
    const dry = JSON.parse(
      ok(await runCli(['backup', 'prune', '--config', p.plan, '--dry-run', '--now', later, '-w', 'json']), 'dry run').stdout,
    );
    assert.deepStrictEqual(
      dry.map((r: { removed: unknown[] }) => r.removed.length),
      [2, 2],
    );
    assert.strictEqual(localFiles(p.dir).filter((f) => /^itest-.*Z\.db$/.test(f)).length, 4, 'a dry run removes nothing');
    const real = JSON.parse(ok(await runCli(['backup', 'prune', '--config', p.plan, '--now', later, '-w', 'json']), 'prune').stdout);
    assert.deepStrictEqual(
      real.map((r: { kept: { reasons: string[] }[] }) => r.kept.map((k) => k.reasons.join())),
      [['newest good backup'], ['newest good backup']],
    );
    const left = localFiles(p.dir);
    for (const f of ['itest-20200101T000000Z.db', 'notes.txt', 'other-20200101T000000Z.db']) assert.ok(left.includes(f), `${f} untouched`);
    assert.strictEqual(left.filter((f) => /^itest-\d{8}T\d{6}Z\.json$/.test(f)).length, 1);
    const keys = await awsKeys(s3.endpoint, 'backups', p.prefix);
    for (const k of [
      'itest-20200101T000000Z.db.gz.age',
      'README',
      'itest-20200102T000000Z.meta.json',
      'sub/itest-20200103T000000Z.db.gz.age',
    ]) {
      assert.ok(keys.includes(`${p.prefix}${k}`), `${k} untouched`);
    }
    assert.strictEqual(keys.filter((k) => /itest-\d{8}T\d{6}Z\.meta\.json$/.test(k) && !k.includes('20200102')).length, 1);
  });

  it('schedule: a service and timer that systemd-analyze verifies without a word, whose ExecStart runs the plan', async () => {
    execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: 'ignore' });
    const p = writePlan({ s3: null });
    const unitDir = join(root, 'units');
    ok(
      await runCli(['backup', 'schedule', '--config', p.plan, '--write', '--unit-dir', unitDir, '--cli', join(REPO, 'dist/cli.js')]),
      'schedule --write',
    );
    const service = join(unitDir, 'etcd-backup-itest.service');
    const timer = join(unitDir, 'etcd-backup-itest.timer');
    const text = readFileSync(timer, 'utf8') + readFileSync(service, 'utf8');
    for (const line of ['Persistent=true', 'Type=oneshot', 'Nice=10', 'IOSchedulingClass=idle', 'OnCalendar=*-*-* 00/6:00:00'])
      assert.ok(text.includes(line), line);
    assert.match(text, /RandomizedDelaySec=\d+/);
    const verify = await new Promise<{ code: number; out: string }>((done) =>
      execFile('systemd-analyze', ['verify', service, timer], (err, stdout, stderr) => done({ code: err ? 1 : 0, out: stdout + stderr })),
    );
    assert.deepStrictEqual(verify, { code: 0, out: '' });
    // Run ExecStart as systemd would: its words, no shell.
    const exec = /^ExecStart=(.*)$/m.exec(readFileSync(service, 'utf8'))?.[1] as string;
    const words = exec.split(' ');
    assert.ok(words[0].startsWith('/'));
    const r = await new Promise<number>((done) => execFile(words[0], words.slice(1), { cwd: '/' }, (err) => done(err ? 1 : 0)));
    assert.strictEqual(r, 0);
    assert.strictEqual(localFiles(p.dir).filter((f) => f.endsWith('.db')).length, 1);
    const printed = ok(await runCli(['backup', 'schedule', '--config', p.plan, '--cli', join(REPO, 'dist/cli.js')]), 'schedule --print');
    assert.match(printed.stdout, /# etcd-backup-itest\.timer/);
  });
});
