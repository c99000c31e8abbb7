/**
 * restoreMember with stand-in restore tools (small scripts that lay out a data dir): the order
 * of the steps, every refusal before any change on disk, cleanup after a failed or cancelled
 * tool. The same flows against real etcd are in test/integration/restore.test.ts.
 */
import * as assert from 'assert';
import { createHash } from 'crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { spawn } from 'child_process';
import { dataDirOf, etcdProcessesUsing } from '../../src/core/restore/processes';
import { freePort, moveAside, restoreMember, RestoreMemberOptions, RestoreStep, toolFailure } from '../../src/core/restore/restore';
import type { RestoreTool } from '../../src/core/tools';
import { dbImage, FIXTURE_DIR } from '../support/snapshotData';

/** A streamed snapshot (a real one etcd wrote, test/fixtures/snapshots/tiny.db): its database, then the SHA-256 trailer. */
function fakeSnapshot(path: string, opts: { trailer?: boolean; corrupt?: boolean } = {}): void {
  const db = dbImage(join(FIXTURE_DIR, 'tiny.db'));
  const digest = createHash('sha256').update(db).digest();
  if (opts.corrupt) {
    db[5000] ^= 0xff;
  }
  writeFileSync(path, opts.trailer === false ? db : Buffer.concat([db, digest]));
}

function script(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Lays out a data dir as etcdutl does: the snapshot's database (trailer cut off) and a WAL file. */
const LAYOUT = `snap="$3"; for a in "$@"; do case "$a" in --data-dir=*) d="\${a#--data-dir=}";; esac; done
[ -e "$d" ] && { echo "Error: data-dir \\"$d\\" exists" >&2; exit 1; }
mkdir -p "$d/member/snap" "$d/member/wal" || exit 1
if [ $(( $(stat -c %s "$snap") % 512 )) -eq 32 ]; then head -c -32 "$snap" > "$d/member/snap/db"; else cp "$snap" "$d/member/snap/db"; fi
echo wal > "$d/member/wal/0000000000000000-0000000000000000.wal"`;

function tool(path: string, kind: 'etcdutl' | 'etcdctl' = 'etcdutl', version = '3.5.12'): RestoreTool {
  return { kind, path, version, fromSetting: false, env: kind === 'etcdctl' ? { ETCDCTL_API: '3' } : {}, canBumpRevision: kind === 'etcdutl' };
}

/** Every path under `dir`, sorted (to compare the disk before and after a refusal). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('restoreMember (core/restore/restore) with stand-in tools', () => {
  let root: string;
  let good: RestoreTool;
  let failing: RestoreTool;
  let slow: RestoreTool;
  let snap: string;
  const fixedNow = (): Date => new Date(Date.UTC(2026, 0, 24, 12, 0, 0));
  const base = (): RestoreMemberOptions => ({
    snapshot: snap,
    name: 'n1',
    initialCluster: 'n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380',
    initialAdvertisePeerUrls: 'http://10.0.0.1:2380',
    initialClusterToken: 'etcd-restore-20260124-abcdef',
    dataDir: join(root, 'etcd-new'),
    tool: good,
    now: fixedNow,
  });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-restore-'));
    mkdirSync(join(root, 'bin'));
    good = tool(script(join(root, 'bin', 'etcdutl'), LAYOUT));
    failing = tool(script(join(root, 'bin', 'failing'), `${LAYOUT}\necho '{"level":"fatal","msg":"boom"}' >&2; echo 'Error: failed to restore: disk on fire' >&2; exit 1`));
    slow = tool(script(join(root, 'bin', 'slow'), `${LAYOUT}\nsleep 30`));
    snap = join(root, 'snap.db');
    fakeSnapshot(snap);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('runs the steps in order, moves the old dir aside, gives the new dir its owner and mode 0700', async () => {
    const old = join(root, 'etcd');
    mkdirSync(join(old, 'member'), { recursive: true });
    chownSync(old, 102, 109);
    const seen: RestoreStep[] = [];
    const r = await restoreMember({ ...base(), oldDataDir: old, onStep: (s) => seen.push(s) });
    assert.deepStrictEqual(
      seen.map((s) => `${s.step}:${s.state}`),
      ['check:running', 'check:done', 'tool:running', 'tool:done', 'target:running', 'target:done', 'verify:running', 'verify:done', 'restore:running', 'restore:done', 'owner:running', 'owner:done', 'moveAside:running', 'moveAside:done', 'install:running', 'install:done', 'done:done'],
    );
    assert.deepStrictEqual(r.steps, seen);
    assert.strictEqual(r.movedAside, `${old}.old-20260124-120000`);
    assert.ok(existsSync(join(r.movedAside, 'member')), 'the old data is kept');
    assert.ok(!existsSync(old));
    assert.deepStrictEqual(r.owner, { uid: 102, gid: 109 });
    for (const p of ['', 'member', 'member/snap', 'member/snap/db', 'member/wal/0000000000000000-0000000000000000.wal']) {
      const st = statSync(join(r.dataDir, p));
      assert.deepStrictEqual([st.uid, st.gid], [102, 109], p);
    }
    assert.strictEqual(statSync(r.dataDir).mode & 0o777, 0o700);
    assert.deepStrictEqual(listing(root).filter((p) => p.includes('restoring')), [], 'no temp dir left');
    // The tool wrote into a folder of this run's own (PID and random tag), beside the target, that did not exist.
    const temp = r.args[r.args.length - 1].replace(/^--data-dir=/, '');
    assert.match(temp, new RegExp(`^${root}/etcd-new\\.restoring-20260124-120000-p${process.pid}-[0-9a-f]{8}/data$`));
    assert.ok(!existsSync(dirname(temp)), 'its temporary folder is gone');
  });

  it('restores in place: the current dir is moved aside first and the new one takes its name', async () => {
    const dir = join(root, 'etcd');
    mkdirSync(join(dir, 'member'), { recursive: true });
    writeFileSync(join(dir, 'member', 'old-marker'), 'x');
    const r = await restoreMember({ ...base(), dataDir: dir, oldDataDir: dir });
    assert.strictEqual(r.dataDir, dir);
    assert.ok(existsSync(join(dir, 'member', 'snap', 'db')));
    assert.ok(!existsSync(join(dir, 'member', 'old-marker')));
    assert.ok(existsSync(join(`${dir}.old-20260124-120000`, 'member', 'old-marker')));
  });

  it('fills an existing empty dir (a mount point) instead of replacing it', async () => {
    const dir = join(root, 'etcd-new');
    mkdirSync(dir);
    const r = await restoreMember({ ...base(), dataDir: dir });
    assert.deepStrictEqual(listing(dir), ['member', 'member/snap', 'member/snap/db', 'member/wal', 'member/wal/0000000000000000-0000000000000000.wal']);
    assert.strictEqual(r.movedAside, undefined);
    assert.strictEqual(statSync(dir).mode & 0o777, 0o700);
    assert.ok(r.steps.some((s) => s.step === 'moveAside' && s.state === 'skipped'));
  });

  it('takes a second free name when <dir>.old-<stamp> exists already', async () => {
    const old = join(root, 'etcd');
    mkdirSync(old);
    mkdirSync(`${old}.old-20260124-120000`);
    assert.strictEqual(await moveAside(old, fixedNow()), `${old}.old-20260124-120000-2`);
    assert.strictEqual(await moveAside(join(root, 'absent'), fixedNow()), undefined);
  });

  /** Run a restore that must be refused: same error sentence, the disk unchanged. */
  async function refused(opts: RestoreMemberOptions, message: RegExp, kind: string, live?: string): Promise<void> {
    // `live`: a data dir a running etcd writes to by itself (its WAL preallocation comes and
    // goes); the dir must stay, its contents are the etcd's business.
    const snap = (): string[] => listing(root).filter((p) => !live || !p.startsWith(`${live}/`));
    const before = snap();
    const seen: RestoreStep[] = [];
    await assert.rejects(restoreMember({ ...opts, onStep: (s) => seen.push(s) }), (e: Error & { kind?: string }) => {
      assert.match(e.message, message);
      assert.strictEqual(e.kind, kind);
      return true;
    });
    assert.deepStrictEqual(snap(), before, 'nothing changed on disk');
    assert.ok(!seen.some((s) => s.step === 'restore'), 'refused before the restore step');
    assert.strictEqual(seen[seen.length - 1].state, 'failed');
  }

  it('refuses a non-empty target dir', async () => {
    mkdirSync(join(root, 'etcd-new', 'member'), { recursive: true });
    await refused(base(), /^The target data dir .*etcd-new is not empty \(it holds member\): restore into a new or empty directory/, 'conflict');
  });

  it('refuses a member name not in --initial-cluster', async () => {
    await refused({ ...base(), name: 'n9' }, /^member name not in --initial-cluster: "n9" is not one of "n1", "n2"/, 'invalidInput');
  });

  it('refuses a corrupt snapshot, with the reason', async () => {
    fakeSnapshot(snap, { corrupt: true });
    await refused(base(), /is corrupt: the SHA-256 of its database .* does not match the trailer/, 'corrupt');
  });

  it('refuses a file without a trailer unless told to skip the hash check', async () => {
    fakeSnapshot(snap, { trailer: false });
    await refused(base(), /has no SHA-256 trailer.*only with --skip-hash-check.*WAL/, 'corrupt');
    const r = await restoreMember({ ...base(), skipHashCheck: true });
    assert.ok(r.args.includes('--skip-hash-check'));
  });

  it('refuses a file that is not a snapshot, and a missing file', async () => {
    writeFileSync(snap, Buffer.alloc(10000, 1));
    await refused(base(), /is not an etcd snapshot \(no bbolt database header\)/, 'corrupt');
    await refused({ ...base(), snapshot: join(root, 'nope.db') }, /^The snapshot .*nope\.db does not exist/, 'notFound');
  });

  it('refuses when no restore tool is installed, saying what to install', async () => {
    mkdirSync(join(root, 'emptybin'));
    await refused({ ...base(), tool: undefined, toolPaths: { envPath: join(root, 'emptybin') } }, /apt-get install etcd-client/, 'toolMissing');
  });

  it('refuses --bump-revision with etcdctl 3.4', async () => {
    await refused({ ...base(), tool: tool(good.path, 'etcdctl', '3.4.23'), bumpRevision: 1000, markCompacted: true }, /cannot bump the revision/, 'invalidInput');
  });

  it('refuses a missing parent folder', async () => {
    await refused({ ...base(), dataDir: join(root, 'no', 'such', 'dir') }, /The folder .*no\/such \(where dir would go\) does not exist: create it/, 'notFound');
  });

  it('refuses while an etcd process runs with the old data dir (found through /proc)', async () => {
    const old = join(root, 'etcd');
    mkdirSync(old);
    // A real etcd server on free loopback ports, with that data dir, started from another cwd.
    const [c, p] = [await freePort(), await freePort()];
    const child = spawn('/usr/bin/etcd', ['--data-dir', old, `--listen-client-urls=http://127.0.0.1:${c}`, `--advertise-client-urls=http://127.0.0.1:${c}`, `--listen-peer-urls=http://127.0.0.1:${p}`, `--initial-advertise-peer-urls=http://127.0.0.1:${p}`, `--initial-cluster=default=http://127.0.0.1:${p}`], { stdio: 'ignore', cwd: '/' });
    try {
      // Wait until it serves: by then it has laid out its data dir.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${c}/health`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error('the stand-in etcd did not start within 20 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const found = await etcdProcessesUsing(old);
      assert.deepStrictEqual(found.map((f) => [f.pid, f.dataDir]), [[child.pid, old]]);
      assert.deepStrictEqual(await etcdProcessesUsing(root), [], 'another dir is not in use');
      assert.strictEqual(dataDirOf(['etcd', '--name', 'x'], {}), 'x.etcd');
      assert.strictEqual(dataDirOf(['etcd'], { ETCD_DATA_DIR: '/d', ETCD_NAME: 'n' }), '/d');
      assert.strictEqual(dataDirOf(['etcd', '--data-dir=/a'], { ETCD_DATA_DIR: '/d' }), '/a');
      await refused({ ...base(), oldDataDir: old }, new RegExp(`^${old} is in use: pid ${child.pid} \\(/usr/bin/etcd --data-dir ${old} .*\\) holds a (flock|posix) lock on ${old}/member/.*Stop it first`), 'conflict', 'etcd');
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('leaves nothing under the final name when the tool fails, and keeps the old dir', async () => {
    const old = join(root, 'etcd');
    mkdirSync(old);
    await assert.rejects(restoreMember({ ...base(), tool: failing, oldDataDir: old }), /etcdutl snapshot restore exited with status 1: failed to restore: disk on fire\./);
    assert.deepStrictEqual(listing(root).filter((p) => p.startsWith('etcd')), ['etcd'], 'no new dir, no temp dir, the old dir in place');
  });

  it('stops the tool and removes its temp dir when cancelled', async () => {
    const ac = new AbortController();
    const p = restoreMember({ ...base(), tool: slow, signal: ac.signal, onStep: (s) => s.step === 'restore' && s.state === 'running' && setTimeout(() => ac.abort(), 200) });
    const t0 = Date.now();
    await assert.rejects(p, (e: Error & { kind?: string }) => e.kind === 'cancelled');
    assert.ok(Date.now() - t0 < 10000, 'did not wait for the tool');
    assert.deepStrictEqual(listing(root).filter((p2) => p2.startsWith('etcd')), []);
  });

  it('turns the tools\' own errors into sentences', () => {
    assert.match(toolFailure(good, 'Error: snapshot missing hash but --skip-hash-check=false', 1).message, /no SHA-256 trailer \("snapshot missing hash"\)/);
    assert.match(toolFailure(good, 'Error: expected sha256 [1 2], got [3 4]', 1).message, /does not match the trailer/);
    assert.match(toolFailure(tool('/usr/bin/etcdctl', 'etcdctl'), 'Error: unknown flag: --name', 1).message, /use etcdutl/);
  });
});
