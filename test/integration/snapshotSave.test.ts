/**
 * Snapshot save against real etcd 3.4 clusters on loopback (test/support): the file etcdctl
 * can read, with the revision the cluster reports, a valid SHA-256 trailer, mode 0600 and a
 * sidecar that agrees with etcdctl; the revision it reports read from the file it wrote
 * (writes go on during the save); and every failure (member killed mid-stream, frozen
 * member, full disk, existing file or sidecar name, cancel, unreachable endpoint, wrong CA,
 * bad usage) leaves no file under the final name, no .part, and one clear sentence.
 */
import * as assert from 'assert';
import { execFile, spawn } from 'child_process';
import { createHash } from 'crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { EtcdBackupError } from '../../src/core/errors';
import { EtcdConnection, fetchClusterOverview } from '../../src/core/etcd';
import { saveSnapshot, snapshotFileName, suggestSnapshotEndpoints } from '../../src/core/snapshot/save';
import { readSidecarFor, SnapshotSidecar } from '../../src/core/snapshot/sidecar';
import { readSidecar } from '../../src/core/restore/sources';
import { allocatePort, EtcdTestCluster, generatePki, putKeys, startCluster, TestMember } from '../support';

const REPO = resolve(__dirname, '../..');

async function rejection(p: Promise<unknown>): Promise<EtcdBackupError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EtcdBackupError, `expected an EtcdBackupError, got ${err instanceof Error ? err.stack : String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** The folder holds no snapshot, no sidecar and no .part. */
function assertNothingLeft(dir: string, what: string): void {
  const left = existsSync(dir) ? readdirSync(dir) : [];
  assert.deepStrictEqual(left, [], `${what}: files left behind in ${dir}: ${left.join(', ')}`);
}

/** The store revision a member reports (`etcdctl endpoint status -w json`). */
async function revisionOf(c: EtcdTestCluster, m: TestMember): Promise<number> {
  const out = await c.etcdctlOk(['endpoint', 'status', '-w', 'json'], { endpoints: [m.clientURL] });
  const j = JSON.parse(out.replace(/"(cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"')) as { Status: { header: { revision: number } } }[];
  return j[0].Status.header.revision;
}

/** `etcdctl snapshot status -w json` of a file. */
async function etcdctlStatus(c: EtcdTestCluster, file: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number }> {
  return JSON.parse(await c.etcdctlOk(['snapshot', 'status', file, '-w', 'json'], { endpoints: [], user: null })) as { hash: number; revision: number; totalKey: number; totalSize: number };
}

/** The file ends with the SHA-256 of everything before it (what etcd's restore checks). */
function assertTrailer(file: string): void {
  const bytes = readFileSync(file);
  assert.strictEqual(bytes.length % 512, 32, 'the size of a snapshot with its trailer is 32 more than a multiple of 512');
  const digest = createHash('sha256').update(bytes.subarray(0, bytes.length - 32)).digest();
  assert.ok(digest.equals(bytes.subarray(bytes.length - 32)), 'the last 32 bytes are the SHA-256 of the database image');
}

/** Run the CLI (src/cli.ts under tsx) in a child process; `prefix` wraps it (e.g. prlimit). */
function runCli(args: string[], opts: { prefix?: string[]; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [...(opts.prefix ?? []), process.execPath, '--import', 'tsx', join(REPO, 'src/cli.ts'), ...args];
  return new Promise((done) => {
    execFile(argv[0], argv.slice(1), { cwd: REPO, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

describe('snapshot save (real etcd)', function () {
  this.timeout(180_000);
  let root: string;
  let plain: EtcdTestCluster;
  let big: EtcdTestCluster | undefined;
  const clusters: EtcdTestCluster[] = [];
  let n = 0;
  const freshDir = (): string => {
    const d = join(root, `case-${++n}`);
    mkdirSync(d);
    return d;
  };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-save-'));
    plain = await startCluster({ members: 1 });
    clusters.push(plain);
    await putKeys(plain, '/registry/configmaps/default/cm-', 300, 2000);
    await plain.etcdctlOk(['del', '/registry/configmaps/default/cm-000007']);
  });
  after(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  /** A 1-member cluster with ~48 MB of data, for faults that need the stream to run a while. */
  async function bigCluster(): Promise<EtcdTestCluster> {
    if (!big || !big.members[0].running) {
      big = await startCluster({ members: 1 });
      clusters.push(big);
      await putKeys(big, '/big/', 1500, 32 * 1024);
    }
    return big;
  }

  it('two saves into one folder in the same second get two names (…_snapshot.db, …_snapshot-2.db); a name the user gave is never changed', async () => {
    const dir = freshDir();
    const [m] = plain.members;
    const now = new Date(2026, 0, 24, 11, 0, 0);
    const a = await saveSnapshot(plain.clusterConfig(), plain.secrets(), { endpoint: m.clientURL, dir, now });
    const b = await saveSnapshot(plain.clusterConfig(), plain.secrets(), { endpoint: m.clientURL, dir, now });
    assert.strictEqual(a.file, join(dir, '20260124_110000_snapshot.db'));
    assert.strictEqual(b.file, join(dir, '20260124_110000_snapshot-2.db'));
    assert.deepStrictEqual(readdirSync(dir).sort(), [
      '20260124_110000_snapshot-2.db',
      '20260124_110000_snapshot-2.json',
      '20260124_110000_snapshot.db',
      '20260124_110000_snapshot.json',
    ]);
    const e = await rejection(saveSnapshot(plain.clusterConfig(), plain.secrets(), { endpoint: m.clientURL, file: a.file }));
    assert.match(e.message, /already exists: snapshots never overwrite a file/);
  });

  it('saves from a 1-member cluster: conventional name, 0600, etcdctl reads it with the cluster revision, valid trailer, sidecar as etcdctl reports', async () => {
    const dir = freshDir();
    const [m] = plain.members;
    const now = new Date(2026, 0, 24, 10, 15, 0);
    const progress: number[] = [];
    const r = await saveSnapshot(plain.clusterConfig(), plain.secrets(), { endpoint: m.clientURL, dir, now, onProgress: (p) => progress.push(p.bytes) });
    assert.strictEqual(r.file, join(dir, '20260124_101500_snapshot.db'));
    assert.strictEqual(snapshotFileName(now), '20260124_101500_snapshot.db');
    assert.deepStrictEqual(readdirSync(dir).sort(), ['20260124_101500_snapshot.db', '20260124_101500_snapshot.json']);
    assert.strictEqual(statSync(r.file).mode & 0o777, 0o600);
    assert.strictEqual(statSync(r.sidecarFile as string).mode & 0o777, 0o600);
    assert.strictEqual(statSync(r.file).size, r.size);
    assertTrailer(r.file);
    assert.strictEqual(createHash('sha256').update(readFileSync(r.file)).digest('hex'), r.sha256);
    assert.ok(progress.length >= 1 && progress[progress.length - 1] === r.size, 'progress reached the file size');

    const status = await etcdctlStatus(plain, r.file);
    const rev = await revisionOf(plain, m);
    assert.strictEqual(status.revision, rev, 'etcdctl snapshot status revision = the cluster revision');
    assert.strictEqual(status.totalSize, r.size - 32);

    const side = JSON.parse(readFileSync(r.sidecarFile as string, 'utf8')) as SnapshotSidecar;
    const list = await plain.memberListJson();
    const st = await plain.memberStatus(m);
    assert.strictEqual(side.clusterId, list.clusterId);
    assert.deepStrictEqual(side.members, list.members);
    assert.strictEqual(side.revision, rev);
    assert.strictEqual(side.source.memberId, st.memberId);
    assert.strictEqual(side.source.memberName, m.name);
    assert.strictEqual(side.source.endpoint, m.clientURL);
    assert.strictEqual(side.source.isLeader, true);
    assert.strictEqual(side.etcdVersion, '3.4.23');
    assert.strictEqual(side.raftTerm, st.raftTerm);
    assert.strictEqual(side.file.size, r.size);
    assert.strictEqual(side.file.name, '20260124_101500_snapshot.db');
    assert.strictEqual(side.sha256, r.sha256);
    assert.strictEqual(side.file.dbSha256, readFileSync(r.file).subarray(r.size - 32).toString('hex'));
    assert.strictEqual(side.dbSize, status.totalSize);
    assert.ok(Number.isFinite(Date.parse(side.createdAt)) && side.tookMs >= 0);

    // The restore reads this sidecar.
    const forRestore = await readSidecar(r.file);
    assert.strictEqual(forRestore?.clusterId, list.clusterId);
    assert.strictEqual(forRestore?.revision, rev);
    assert.strictEqual(forRestore?.sha256, r.sha256);
    assert.deepStrictEqual(forRestore?.members.map((x) => x.name), [m.name]);
    assert.strictEqual((await readSidecarFor(r.file))?.members[0].id, st.memberId);
  });

  it('saves from a follower of a 3-member TLS cluster with auth; the sidecar lists all three members', async () => {
    const c = await startCluster({ members: 3, tls: true, auth: { password: 'secret-pw' } });
    clusters.push(c);
    await putKeys(c, '/registry/pods/default/p-', 200, 1500);
    const leader = await c.waitLeader();
    const follower = c.members.find((m) => m !== leader) as TestMember;
    const overview = await fetchClusterOverview(c.clusterConfig(), c.secrets());
    const choices = suggestSnapshotEndpoints(overview, c.clusterConfig().endpoints);
    assert.strictEqual(choices[0].endpoint, leader.clientURL, 'the healthy leader is suggested first');
    assert.ok(choices[0].suggested && choices[0].reason.startsWith('leader'));
    assert.strictEqual(choices.length, 3);

    const dir = freshDir();
    const r = await saveSnapshot(c.clusterConfig(), c.secrets(), { endpoint: follower.clientURL, dir });
    assertTrailer(r.file);
    assert.strictEqual(statSync(r.file).mode & 0o777, 0o600);
    const status = await etcdctlStatus(c, r.file);
    assert.strictEqual(status.revision, await revisionOf(c, follower));
    const side = JSON.parse(readFileSync(r.sidecarFile as string, 'utf8')) as SnapshotSidecar;
    const list = await c.memberListJson();
    assert.strictEqual(side.clusterId, list.clusterId);
    assert.deepStrictEqual(
      [...side.members].sort((a, b) => a.name.localeCompare(b.name)),
      [...list.members].sort((a, b) => a.name.localeCompare(b.name)),
    );
    assert.strictEqual(side.members.length, 3);
    assert.ok(side.members.every((x) => x.peerURLs[0].startsWith('https://') && x.clientURLs[0].startsWith('https://') && x.isLearner === false));
    assert.strictEqual(side.source.memberId, (await c.memberStatus(follower)).memberId);
    assert.strictEqual(side.source.isLeader, false);

    // Wrong CA: a TLS error, before any file exists.
    const other = await generatePki(join(root, 'other-pki'));
    const wrongDir = freshDir();
    const e = await rejection(saveSnapshot(c.clusterConfig({ tls: { ...c.clusterConfig().tls, caFile: other.caFile } }), c.secrets(), { endpoint: leader.clientURL, dir: wrongDir }));
    assert.strictEqual(e.kind, 'tls', e.message);
    assert.match(e.message, /TLS handshake .* failed .*Check the CA/);
    assertNothingLeft(wrongDir, 'wrong CA');
  });

  it('the CLI saves over TLS into a folder with the conventional name and prints where', async () => {
    const c = await startCluster({ members: 1, tls: true });
    clusters.push(c);
    await putKeys(c, '/cli/', 50, 500);
    const dir = freshDir();
    const tls = c.tls as NonNullable<EtcdTestCluster['tls']>;
    const r = await runCli(['snapshot', 'save', dir, '--endpoints', c.members[0].clientURL, '--cacert', tls.caFile, '--cert', tls.clientCert, '--key', tls.clientKey, '--command-timeout', '60s']);
    assert.strictEqual(r.code, 0, r.stderr);
    const files = readdirSync(dir).sort();
    assert.strictEqual(files.length, 2, files.join(', '));
    assert.strictEqual(files[1], files[0].replace(/\.db$/, '.json'));
    assert.match(files[0], /^\d{8}_\d{6}_snapshot\.db$/);
    assert.strictEqual(r.stdout.trim(), `Snapshot saved at ${join(dir, files[0])}`);
    assert.match(r.stderr, /SHA-256 trailer checked/);
    assertTrailer(join(dir, files[0]));
    assert.strictEqual((await etcdctlStatus(c, join(dir, files[0]))).revision, await revisionOf(c, c.members[0]));

    // -w json: the result as JSON on stdout, to an exact file name.
    const exact = join(dir, 'exact.db');
    const j = await runCli(['snapshot', 'save', exact, '-w', 'json', '--endpoints', c.members[0].clientURL, '--cacert', tls.caFile, '--cert', tls.clientCert, '--key', tls.clientKey]);
    assert.strictEqual(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { file: string; sidecar: string; size: number; sha256: string; revision: number };
    assert.strictEqual(out.file, exact);
    assert.strictEqual(out.sidecar, join(dir, 'exact.json'));
    assert.strictEqual(out.size, statSync(exact).size);
    assert.strictEqual(out.sha256, createHash('sha256').update(readFileSync(exact)).digest('hex'));

    // --insecure-skip-tls-verify (as etcdctl): no CA, the server's certificate is not checked.
    const skipped = join(dir, 'skip.db');
    const k = await runCli(['snapshot', 'save', skipped, '--insecure-skip-tls-verify', '--endpoints', c.members[0].clientURL, '--cert', tls.clientCert, '--key', tls.clientKey]);
    assert.strictEqual(k.code, 0, k.stderr);
    assertTrailer(skipped);
    const unverified = await runCli(['snapshot', 'save', join(dir, 'noca.db'), '--endpoints', c.members[0].clientURL, '--cert', tls.clientCert, '--key', tls.clientKey]);
    assert.strictEqual(unverified.code, 1, 'without the CA and without the skip, the server certificate is refused');
    assert.ok(!existsSync(join(dir, 'noca.db')));

    // Usage errors: exit 2 and one sentence.
    const two = await runCli(['snapshot', 'save', dir, '--endpoints', `${c.members[0].clientURL},http://127.0.0.1:1`]);
    assert.strictEqual(two.code, 2);
    assert.match(two.stderr, /give exactly one endpoint/);
    const none = await runCli(['snapshot', 'save', join(dir, 'x.db')]);
    assert.strictEqual(none.code, 2);
    assert.match(none.stderr, /--endpoints/);
    assert.ok(!existsSync(join(dir, 'x.db')));
  });

  it('refuses an existing final name and leaves that file as it was', async () => {
    const dir = freshDir();
    const file = join(dir, 'keep.db');
    writeFileSync(file, 'precious');
    const e = await rejection(saveSnapshot(plain.clusterConfig(), plain.secrets(), { endpoint: plain.members[0].clientURL, file }));
    assert.strictEqual(e.kind, 'conflict');
    assert.match(e.message, /already exists: snapshots never overwrite a file/);
    assert.strictEqual(readFileSync(file, 'utf8'), 'precious');
    assert.deepStrictEqual(readdirSync(dir), ['keep.db']);
  });

  it('never replaces a file with a sidecar: after `save b.json`, `save b.db` (sidecar b.json) is refused before streaming', async () => {
    const dir = freshDir();
    const ep = plain.members[0].clientURL;
    const first = await runCli(['snapshot', 'save', join(dir, 'b.json'), '--endpoints', ep]);
    assert.strictEqual(first.code, 0, first.stderr);
    assert.deepStrictEqual(readdirSync(dir).sort(), ['b.json', 'b.json.json']);
    const firstBytes = readFileSync(join(dir, 'b.json'));
    assertTrailer(join(dir, 'b.json'));
    const second = await runCli(['snapshot', 'save', join(dir, 'b.db'), '--endpoints', ep]);
    assert.strictEqual(second.code, 1, second.stderr);
    assert.ok(
      second.stderr.includes(`${join(dir, 'b.json')} already exists, and it is where the sidecar of b.db would go: snapshots never`),
      second.stderr,
    );
    assert.doesNotMatch(second.stderr, /Saving: /, 'refused before any byte was streamed');
    assert.strictEqual(second.stdout, '');
    assert.ok(readFileSync(join(dir, 'b.json')).equals(firstBytes), 'the first snapshot is intact');
    assert.deepStrictEqual(readdirSync(dir).sort(), ['b.json', 'b.json.json'], 'no b.db, no temp or .part left');
  });

  it('the revision in the sidecar and the "Saved" line is the one in the written file, with writes going on during the save', async () => {
    const c = await startCluster({ members: 1 });
    clusters.push(c);
    await putKeys(c, '/load/', 600, 8 * 1024);
    const dir = freshDir();
    const ep = c.members[0].clientURL;
    const conn = await EtcdConnection.open(c.clusterConfig({ timeoutMs: 30_000 }), c.secrets());
    let writing = true;
    let puts = 0;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; writing; i++) {
        await conn.client.put(`/during/${w}/${i % 50}`).value(`v${i}`);
        puts++;
      }
    };
    const writers = [0, 1, 2, 3].map((w) => writer(w));
    try {
      while (puts < 50) await new Promise((r) => setTimeout(r, 10));
      const r = await saveSnapshot(c.clusterConfig(), c.secrets(), { endpoint: ep, file: join(dir, 'core.db') });
      const cli = await runCli(['snapshot', 'save', join(dir, 'cli.db'), '--endpoints', ep, '-w', 'json']);
      const putsDuring = puts;
      writing = false;
      await Promise.all(writers);
      assert.ok(putsDuring > 100, `writes went on during the saves (${putsDuring})`);

      const inFile = (await etcdctlStatus(c, r.file)).revision;
      const side = JSON.parse(readFileSync(r.sidecarFile as string, 'utf8')) as SnapshotSidecar;
      assert.strictEqual(side.revision, inFile, 'the sidecar gives the revision etcdctl reads from the file');
      assert.strictEqual(r.revision, inFile, 'the result too');

      assert.strictEqual(cli.code, 0, cli.stderr);
      const cliFile = (await etcdctlStatus(c, join(dir, 'cli.db'))).revision;
      assert.strictEqual((JSON.parse(cli.stdout) as { revision: number }).revision, cliFile);
      assert.match(cli.stderr, new RegExp(`SHA-256 trailer checked; revision ${cliFile}\\.`));
      assert.strictEqual((JSON.parse(readFileSync(join(dir, 'cli.json'), 'utf8')) as SnapshotSidecar).revision, cliFile);
      assert.ok(cliFile > inFile, 'the cluster moved on between the two saves');
    } finally {
      writing = false;
      await Promise.allSettled(writers);
      conn.close();
    }
  });

  it('a folder the user cannot write to (EACCES; the CLI runs as nobody) is refused with a sentence, before connecting', async () => {
    const dir = freshDir();
    const shut = join(dir, 'shut');
    mkdirSync(shut, { mode: 0o755 });
    chmodSync(root, 0o711); // nobody may pass through, not write
    chmodSync(dir, 0o711);
    const r = await runCli(['snapshot', 'save', shut, '--endpoints', plain.members[0].clientURL], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] });
    assert.strictEqual(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.ok(r.stderr.includes(`Cannot write to the folder ${shut} (permission denied): choose a folder you can write to`), r.stderr);
    assert.deepStrictEqual(readdirSync(shut), []);
  });

  it('an unreachable endpoint fails fast with a sentence and leaves nothing', async () => {
    const dir = freshDir();
    const port = await allocatePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const t0 = Date.now();
    const e = await rejection(saveSnapshot({ name: 'nobody', endpoints: [endpoint], timeoutMs: 2000 }, {}, { endpoint, dir }));
    assert.strictEqual(e.kind, 'unreachable', e.message);
    assert.match(e.message, /Cannot connect to/);
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    assertNothingLeft(dir, 'unreachable');
  });

  it('cancel stops the stream mid-way and removes the .part', async () => {
    const c = await bigCluster();
    const dir = freshDir();
    const ac = new AbortController();
    let seen = 0;
    let abortedAt = 0;
    const e = await rejection(
      saveSnapshot(c.clusterConfig(), c.secrets(), {
        endpoint: c.members[0].clientURL,
        dir,
        onProgress: (p) => {
          seen = p.bytes;
          if (!abortedAt) {
            abortedAt = Date.now();
            ac.abort();
          }
        },
        signal: ac.signal,
      }),
    );
    assert.strictEqual(e.kind, 'cancelled', e.message);
    assert.match(e.message, /cancelled.*nothing was saved/i);
    assert.ok(seen > 0 && seen < 40e6, `progress before the cancel: ${seen} bytes`);
    assert.ok(Date.now() - abortedAt < 5000, 'the save ended soon after the cancel');
    assertNothingLeft(dir, 'cancel');
    // The member is still fine, and a new save works.
    const ok = await saveSnapshot(c.clusterConfig(), c.secrets(), { endpoint: c.members[0].clientURL, dir });
    assertTrailer(ok.file);
    assert.ok(ok.size > 40e6, `${ok.size} bytes`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a full disk (file-size limit) fails with a sentence, exit 1, and no file', async () => {
    const c = await bigCluster();
    const dir = freshDir();
    const r = await runCli(['snapshot', 'save', dir, '--endpoints', c.members[0].clientURL], { prefix: ['prlimit', '--fsize=4000000', '--'] });
    assert.strictEqual(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /disk is full \(or the file-size limit was reached\)/);
    assert.strictEqual(r.stdout, '');
    assertNothingLeft(dir, 'full disk');
  });

  it('Ctrl-C (SIGINT) on the CLI mid-stream stops it with exit 130 and removes the .part', async () => {
    const c = await bigCluster();
    const dir = freshDir();
    const m = c.members[0];
    const argv = [process.execPath, '--import', 'tsx', join(REPO, 'src/cli.ts'), 'snapshot', 'save', dir, '--endpoints', m.clientURL, '--stall-timeout', '60s'];
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    let frozen = false;
    try {
      const deadline = Date.now() + 30_000;
      const partSize = (): number => {
        const part = readdirSync(dir).find((f) => f.endsWith('.part'));
        return part ? (statSync(join(dir, part), { throwIfNoEntry: false })?.size ?? 0) : 0;
      };
      // Wait until data is being written (the stream is running), not just the .part created.
      while (partSize() === 0) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `no data reached a .part: ${stderr}`);
        await new Promise((r) => setTimeout(r, 1));
      }
      // Hold the member still so the save is surely mid-stream when the signal comes.
      process.kill(m.pid as number, 'SIGSTOP');
      frozen = true;
      assert.ok(partSize() > 0 && !readdirSync(dir).some((f) => f.endsWith('.db')), 'still streaming');
      child.kill('SIGINT');
      const code = await exited;
      assert.strictEqual(code, 130, stderr);
      assert.match(stderr, /interrupted; the stream was stopped and nothing was saved/);
    } finally {
      if (frozen) process.kill(m.pid as number, 'SIGCONT');
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    assertNothingLeft(dir, 'SIGINT');
  });

  it('a frozen member (no data for the stall time) fails with a sentence and leaves nothing', async () => {
    const c = await bigCluster();
    const dir = freshDir();
    const m = c.members[0];
    let frozen = false;
    try {
      const e = await rejection(
        saveSnapshot(c.clusterConfig(), c.secrets(), {
          endpoint: m.clientURL,
          dir,
          stallMs: 1500,
          onProgress: () => {
            if (!frozen && m.pid) {
              frozen = true;
              process.kill(m.pid, 'SIGSTOP');
            }
          },
        }),
      );
      assert.ok(frozen);
      assert.strictEqual(e.kind, 'timeout', e.message);
      assert.match(e.message, /stalled .* nothing was saved/);
    } finally {
      if (m.pid) process.kill(m.pid, 'SIGCONT');
    }
    assertNothingLeft(dir, 'stall');
  });

  it('a learner (etcd 3.4 streams no snapshot from one) is refused with a sentence that says to pick a voting member', async () => {
    const c = await startCluster({ members: 1 });
    clusters.push(c);
    const learner = await c.addMember({ learner: true });
    const dir = freshDir();
    const e = await rejection(saveSnapshot(c.clusterConfig(), c.secrets(), { endpoint: learner.clientURL, dir }));
    assert.strictEqual(e.kind, 'invalidInput', e.message);
    assert.match(e.message, /is a learner, and this etcd streams no snapshot from a learner: nothing was saved\. Pick a voting member/);
    assertNothingLeft(dir, 'learner');
    // The suggestion puts the voting leader first and the learner after it.
    const choices = suggestSnapshotEndpoints(await fetchClusterOverview(c.clusterConfig(), c.secrets()), c.clusterConfig().endpoints);
    assert.strictEqual(choices[0].endpoint, c.members[0].clientURL);
    const offered = choices.find((x) => x.endpoint === learner.clientURL);
    assert.ok(offered && choices.indexOf(offered) > 0);
    assert.strictEqual(offered.usable, false, offered.reason);
  });

  it('the member killed mid-stream: a sentence that says the stream broke, and no file', async () => {
    const c = await bigCluster();
    const dir = freshDir();
    const m = c.members[0];
    let killed = false;
    const e = await rejection(
      saveSnapshot(c.clusterConfig(), c.secrets(), {
        endpoint: m.clientURL,
        dir,
        onProgress: () => {
          if (!killed && m.pid) {
            killed = true;
            process.kill(m.pid, 'SIGKILL');
          }
        },
      }),
    );
    assert.ok(killed);
    assert.strictEqual(e.kind, 'unreachable', e.message);
    assert.match(e.message, /The snapshot stream from .* broke after .* nothing was saved/);
    assertNothingLeft(dir, 'killed member');
  });
});
