/**
 * The restore's safety rules (issue 9), with real processes, real files and real mounts, and
 * stand-in restore tools: "in use" decided from the kernel (any process, any name), a restore
 * that is checked before it is installed, one restore per target, the temp dir on the target's
 * file system (an empty mount point), every input checked before any work, and an owner that is
 * reported as it really is. Each refusal asserts the sentence and the disk.
 */
import * as assert from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { explain, fsError } from '../../src/core/errors';
import { processesHolding } from '../../src/core/restore/processes';
import { restoreMember, RestoreMemberOptions, RestoreStep } from '../../src/core/restore/restore';
import { buildRunbook } from '../../src/core/restore/runbook';
import { cleanStaleTrials } from '../../src/core/restore/trial';
import { ARGS, fakeSnapshot, LAYOUT, listing, script, standInTool } from '../support/restoreStandIns';

const isRoot = process.getuid?.() === 0;

/** A process that ran and exited: its PID is free (a "dead PID" for stale locks and folders). */
function deadPid(): number {
  const r = spawnSync('/bin/sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

/** Stop a holder and everything it started (its process group). */
async function stop(k: ChildProcess): Promise<void> {
  try {
    process.kill(-(k.pid as number), 'SIGKILL');
  } catch {
    // gone already
  }
  if (k.exitCode === null && k.signalCode === null) await new Promise((r) => k.once('exit', r));
}

/** Start a process and wait until it has done its setup (it prints "ready"). */
async function holder(args: string[], opts: { cwd?: string } = {}): Promise<ChildProcess> {
  // Its own process group: `flock` forks its command, and both are stopped together.
  const child = spawn(args[0], args.slice(1), { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
    child.once('exit', () => reject(new Error(`${args.join(' ')} exited early`)));
  });
  return child;
}

function mount(dir: string, opts: string): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]);
  assert.strictEqual(r.status, 0, `mount -t tmpfs ${dir}: ${r.stderr}`);
}

describe('restore safety (core/restore): in use, checked before the swap, one at a time, mounts, inputs', function () {
  this.timeout(30_000);
  let root: string;
  let snap: string;
  const kids: ChildProcess[] = [];
  const mounts: string[] = [];
  const fixedNow = (): Date => new Date(Date.UTC(2026, 0, 24, 12, 0, 0));
  const base = (over: Partial<RestoreMemberOptions> = {}): RestoreMemberOptions => ({
    snapshot: snap,
    name: 'n1',
    initialCluster: 'n1=http://10.0.0.1:2380',
    initialAdvertisePeerUrls: 'http://10.0.0.1:2380',
    initialClusterToken: 'etcd-restore-20260124-abcdef',
    dataDir: join(root, 'etcd-new'),
    tool: standInTool(script(join(root, 'bin', 'etcdutl'), LAYOUT)),
    now: fixedNow,
    ...over,
  });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-safety-'));
    mkdirSync(join(root, 'bin'));
    snap = join(root, 'snap.db');
    fakeSnapshot(snap);
  });
  afterEach(async () => {
    for (const k of kids.splice(0)) await stop(k);
    for (const m of mounts.splice(0).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(root, { recursive: true, force: true });
  });

  /** A restore that must be refused: the sentence, the kind, and the disk unchanged. */
  async function refused(opts: RestoreMemberOptions, message: RegExp, kind: string, under = root): Promise<string> {
    const before = listing(under);
    const seen: RestoreStep[] = [];
    let sentence = '';
    await assert.rejects(restoreMember({ ...opts, onStep: (s) => seen.push(s) }), (e: Error & { kind?: string }) => {
      assert.match(e.message, message);
      assert.strictEqual(e.kind, kind, e.message);
      assert.doesNotMatch(e.message, /^E[A-Z]+:|\bat \//, 'no raw errno text, no stack');
      sentence = e.message;
      return true;
    });
    assert.deepStrictEqual(listing(under), before, 'nothing changed on disk');
    assert.strictEqual(seen[seen.length - 1].state, 'failed');
    return sentence;
  }

  function oldDir(): string {
    const old = join(root, 'etcd');
    mkdirSync(join(old, 'member', 'snap'), { recursive: true });
    writeFileSync(join(old, 'member', 'snap', 'db'), 'old data');
    return old;
  }

  describe('in use: what the kernel knows, whatever the process is called', () => {
    it('finds an open file, a working directory and a flock under the dir, and names PID and command', async () => {
      const old = oldDir();
      const db = join(old, 'member', 'snap', 'db');
      const reader = await holder(['/bin/sh', '-c', 'exec 3<"$0"; echo ready; exec sleep 60', db]);
      const inside = await holder(['/bin/sh', '-c', 'echo ready; exec sleep 61'], { cwd: join(old, 'member') });
      const locker = await holder(['flock', db, '/bin/sh', '-c', 'echo ready; exec sleep 62']);
      kids.push(reader, inside, locker);
      const r = await processesHolding(old);
      const by = new Map(r.holders.map((h) => [h.pid, h]));
      assert.ok(by.get(reader.pid as number)?.holds.includes(`open file ${db}`), JSON.stringify(r.holders));
      assert.match(by.get(reader.pid as number)?.command ?? '', /^sleep 60$/);
      assert.ok(by.get(inside.pid as number)?.holds.includes(`its working directory ${join(old, 'member')}`));
      assert.ok(by.get(locker.pid as number)?.holds.some((h) => h === `a flock lock on ${db}`), JSON.stringify(by.get(locker.pid as number)));
      assert.deepStrictEqual((await processesHolding(join(root, 'bin'))).holders, [], 'another dir is not in use');
      // The restore refuses, naming the first holder, and moves nothing.
      const sentence = await refused(base({ dataDir: old, oldDataDir: old }), new RegExp(`^${old} is in use: pid \\d+ \\(.+\\) holds .*Stop it first`), 'conflict');
      for (const k of [reader, locker]) assert.match(sentence, new RegExp(`pid ${k.pid} `));
      assert.doesNotMatch(sentence, new RegExp(`pid ${inside.pid} `), 'a shell that only cd-ed in holds nothing');
      assert.ok(existsSync(db) && readFileSync(db, 'utf8') === 'old data', 'the old data dir is where it was');
      // With only a working directory inside (a shell that cd-ed in), the restore goes ahead and says so.
      await Promise.all([reader, locker].map(stop));
      const done = await restoreMember(base({ dataDir: old, oldDataDir: old }));
      const target = done.steps.find((s) => s.step === 'target' && s.state === 'done')?.message ?? '';
      assert.match(target, new RegExp(`; working inside it, holding no file: pid ${inside.pid} \\(sleep 61\\)`));
      assert.ok(existsSync(join(done.movedAside as string, 'member', 'snap', 'db')));
    });

    it('checks again right before the move: a process that starts using the old dir meanwhile stops the swap', async () => {
      const old = oldDir();
      // The tool (slow) runs while something opens the old db: the kubelet restarting a static pod.
      const go = join(root, 'go');
      const slow = standInTool(script(join(root, 'bin', 'slow'), `${LAYOUT}\nwhile [ ! -e ${go} ]; do sleep 0.05; done`));
      let running!: () => void;
      const toolRuns = new Promise<void>((r) => (running = r));
      const p = restoreMember(base({ oldDataDir: old, tool: slow, onStep: (s) => s.step === 'restore' && s.state === 'running' && running() }));
      await toolRuns;
      const late = await holder(['/bin/sh', '-c', 'exec 3<"$0"; echo ready; exec sleep 60', join(old, 'member', 'snap', 'db')]);
      kids.push(late);
      writeFileSync(go, '');
      await assert.rejects(p, (e: Error) => {
        assert.match(e.message, new RegExp(`^${old} is in use: pid ${late.pid} \\(sleep 60\\) holds open file .* The restored data is kept in .*; ${old} is unchanged\\.$`));
        return true;
      });
      assert.strictEqual(readFileSync(join(old, 'member', 'snap', 'db'), 'utf8'), 'old data');
      assert.ok(!existsSync(join(root, 'etcd-new')), 'nothing installed');
    });
  });

  describe('a restore is checked before it is installed', () => {
    it('a tool that exits 0 but writes nothing installs nothing and moves nothing', async () => {
      const old = oldDir();
      const liar = standInTool(script(join(root, 'bin', 'liar'), 'exit 0'));
      for (const dataDir of [join(root, 'etcd-new'), old]) {
        const sentence = await refused(base({ dataDir, oldDataDir: old, tool: liar }), /^etcdutl snapshot restore exited with success, but it wrote no .*\/data\/member\/snap\/db: .*nothing was installed or moved\.$/, 'internal');
        assert.ok(sentence);
      }
      assert.strictEqual(readFileSync(join(old, 'member', 'snap', 'db'), 'utf8'), 'old data');
    });

    it('a database that is not the snapshot\'s (other revision and keys) is refused with both figures', async () => {
      const old = oldDir();
      const other = join(root, 'other.db');
      fakeSnapshot(other, { fixture: 'mixed.db' });
      const wrong = standInTool(script(join(root, 'bin', 'wrong'), `${ARGS}\nmkdir -p "$d/member/snap" "$d/member/wal"; head -c -32 ${other} > "$d/member/snap/db"; echo w > "$d/member/wal/0.wal"`));
      await refused(base({ oldDataDir: old, tool: wrong }), /but the database it wrote holds revision \d+ with \d+ keys where the snapshot holds revision \d+ with \d+ keys: .*nothing was installed or moved/, 'internal');
      const empty = standInTool(script(join(root, 'bin', 'nowal'), `${ARGS}\nmkdir -p "$d/member/snap"; head -c -32 "$snap" > "$d/member/snap/db"`));
      await refused(base({ oldDataDir: old, tool: empty }), /but it wrote no WAL file into/, 'internal');
      const garbage = standInTool(script(join(root, 'bin', 'garbage'), `${ARGS}\nmkdir -p "$d/member/snap" "$d/member/wal"; echo db > "$d/member/snap/db"; echo w > "$d/member/wal/0.wal"`));
      await refused(base({ oldDataDir: old, tool: garbage }), /but the database it wrote cannot be read/, 'internal');
    });
  });

  describe('one restore per target', () => {
    it('two restores into one target at once: one wins, the other is told why and never touches the winner\'s folder', async () => {
      const go = join(root, 'go');
      const slow = standInTool(script(join(root, 'bin', 'slow'), `${LAYOUT}\nwhile [ ! -e ${go} ]; do sleep 0.05; done`));
      let running!: () => void;
      const toolRuns = new Promise<void>((r) => (running = r));
      const first = restoreMember(base({ tool: slow, onStep: (s) => s.step === 'restore' && s.state === 'running' && running() }));
      await toolRuns;
      const temps = readdirSync(root).filter((n) => n.includes('.restoring-'));
      assert.strictEqual(temps.length, 1, 'the winner works in its own folder');
      await assert.rejects(restoreMember(base()), (e: Error & { kind?: string }) => {
        assert.match(e.message, new RegExp(`^Another restore \\(pid ${process.pid}, since .*\\) is working on ${root}/etcd-new: wait for it to finish \\(or stop it\\), then try again; nothing was changed\\.$`));
        assert.strictEqual(e.kind, 'conflict');
        return true;
      });
      assert.ok(existsSync(join(root, temps[0])), 'the winner\'s folder is still there');
      writeFileSync(go, '');
      const r = await first;
      assert.ok(existsSync(join(r.dataDir, 'member', 'snap', 'db')));
      assert.deepStrictEqual(readdirSync(root).filter((n) => n.includes('.restoring-') || n.includes('.lock')), [], 'no temp folder, no lock left');
    });

    it('a lock left by a restore that was killed (its PID gone) is taken over; its temp folder is reported, not deleted', async () => {
      const dead = deadPid();
      writeFileSync(join(root, '.etcd-new.etcd-backup-restore.lock'), JSON.stringify({ pid: dead, since: 'yesterday' }));
      const stale = join(root, `etcd-new.restoring-20260101-000000-p${dead}-0badcafe`);
      mkdirSync(join(stale, 'data'), { recursive: true });
      const r = await restoreMember(base());
      assert.ok(existsSync(join(r.dataDir, 'member', 'snap', 'db')));
      assert.ok(r.steps.some((s) => s.step === 'restore' && s.state === 'done' && s.message.includes(`left by earlier restores that were stopped (remove them once you are sure): ${stale}`)));
      assert.ok(existsSync(stale), 'kept');
      assert.ok(!existsSync(join(root, '.etcd-new.etcd-backup-restore.lock')));
    });

    it('unique temp names: two restores into two targets in the same second each get their own folder', async () => {
      const tool = standInTool(script(join(root, 'bin', 'slowish'), `${LAYOUT}\nsleep 0.3`));
      const [a, b] = await Promise.all([restoreMember(base({ tool, dataDir: join(root, 'a') })), restoreMember(base({ tool, dataDir: join(root, 'b') }))]);
      const ta = a.args[a.args.length - 1];
      const tb = b.args[b.args.length - 1];
      assert.notStrictEqual(ta.replace('/a.', '/x.'), tb.replace('/b.', '/x.'), 'different random tags');
      assert.ok(existsSync(join(a.dataDir, 'member')) && existsSync(join(b.dataDir, 'member')));
    });
  });

  describe('mounts, symlinks and every input before any work', () => {
    it('restores into an empty mount point: the temp folder is built inside it, no EXDEV', async function () {
      if (!isRoot) this.skip();
      const mnt = join(root, 'disk');
      mkdirSync(mnt);
      mount(mnt, 'size=128m');
      mounts.push(mnt);
      let tempSeen = '';
      const r = await restoreMember(base({ dataDir: mnt, onStep: (s) => s.step === 'restore' && s.state === 'running' && (tempSeen = s.message) }));
      assert.match(tempSeen, new RegExp(`--data-dir=${mnt}/\\.etcd-backup-restoring-20260124-120000-p${process.pid}-[0-9a-f]{8}/data`), 'the tool wrote on the mounted disk');
      assert.deepStrictEqual(readdirSync(mnt), ['member']);
      assert.strictEqual(statSync(join(mnt, 'member', 'snap', 'db')).dev, statSync(mnt).dev);
      assert.strictEqual(statSync(mnt).mode & 0o777, 0o700);
      assert.strictEqual(r.dataDir, mnt);
      // A run killed mid-way leaves its folder inside the mount point: the next run says what it is.
      rmSync(join(mnt, 'member'), { recursive: true });
      const left = join(mnt, `.etcd-backup-restoring-20260101-000000-p${deadPid()}-0badcafe`);
      mkdirSync(left);
      await refused(base({ dataDir: mnt }), new RegExp(`^${mnt} holds only what a restore that was stopped left behind \\(${left}\\): remove it, then try again\\.$`), 'conflict');
    });

    it('refuses to move a mount point aside, a read-only disk, a full disk: before any work, with what to do', async function () {
      if (!isRoot) this.skip();
      const mnt = join(root, 'disk');
      mkdirSync(mnt);
      mount(mnt, 'size=1m');
      mounts.push(mnt);
      mkdirSync(join(mnt, 'member'));
      await refused(base({ oldDataDir: mnt, dataDir: mnt }), new RegExp(`^The old data dir ${mnt} is a mount point, which cannot be moved aside: restore into a new dir on that disk`), 'conflict');
      const ro = join(root, 'ro');
      mkdirSync(ro);
      mount(ro, 'size=1m,ro');
      mounts.push(ro);
      await refused(base({ dataDir: join(ro, 'etcd') }), new RegExp(`^Could not write in ${ro} \\(the restored data dir is built there\\): the file system is mounted read-only \\(EROFS\\)\\. Remount it read-write`), 'permission');
      const small = join(root, 'small');
      mkdirSync(small);
      mount(small, 'size=4m');
      mounts.push(small);
      await refused(base({ dataDir: join(small, 'etcd') }), new RegExp(`^Not enough free space in ${small}: the restore writes about \\d+ MiB .* and \\d+ MiB are free`), 'diskFull');
    });

    it('a symlinked data dir: what it points at is restored, the link is kept', async () => {
      const real = join(root, 'real');
      mkdirSync(real);
      symlinkSync(real, join(root, 'link'));
      const r = await restoreMember(base({ dataDir: join(root, 'link') }));
      assert.strictEqual(r.dataDir, real);
      assert.ok(lstatSync(join(root, 'link')).isSymbolicLink());
      assert.ok(existsSync(join(root, 'link', 'member', 'snap', 'db')));
      assert.ok(r.steps.some((s) => s.step === 'target' && s.message.includes(`${join(root, 'link')} is a symbolic link to ${real}`)));
      // In place through a link: the real dir is moved aside, the link then points at the restored one.
      const moved = await restoreMember(base({ dataDir: join(root, 'link'), oldDataDir: join(root, 'link') }));
      assert.strictEqual(moved.movedAside, `${real}.old-20260124-120000`);
      assert.ok(existsSync(join(root, 'link', 'member', 'snap', 'db')));
      // A dangling link: its target is created.
      symlinkSync(join(root, 'later'), join(root, 'dangling'));
      assert.strictEqual((await restoreMember(base({ dataDir: join(root, 'dangling') }))).dataDir, join(root, 'later'));
    });

    it('refuses nested dirs, too-long names, link loops and a bad owner before any work', async () => {
      const old = oldDir();
      await refused(base({ oldDataDir: root, dataDir: join(root, 'etcd-new') }), new RegExp(`^--data-dir ${root}/etcd-new lies inside --old-data-dir ${root}, which is moved aside: choose a data dir outside it`), 'invalidInput');
      await refused(base({ oldDataDir: join(old, 'member'), dataDir: old }), /^--old-data-dir .*\/member lies inside --data-dir/, 'invalidInput');
      await refused(base({ dataDir: join(root, 'x'.repeat(230)) }), /^--data-dir: the name "x{40}\.\.\." is 230 bytes; with the suffixes restore adds it must stay under 207: choose a shorter name\.$/, 'invalidInput');
      symlinkSync(join(root, 'loop2'), join(root, 'loop1'));
      symlinkSync(join(root, 'loop1'), join(root, 'loop2'));
      await refused(base({ dataDir: join(root, 'loop1') }), /^Could not resolve --data-dir .*loop1: it goes through too many symbolic links \(a loop\) \(ELOOP\)\. Check the symbolic links/, 'invalidInput');
      await refused(base({ owner: { uid: 4294967295, gid: 0 } }), /^--owner 4294967295:0 is out of range: a uid and a gid are whole numbers from 0 to 4294967294\.$/, 'invalidInput');
    });

    it('reports the owner read back from the disk', async () => {
      const r = await restoreMember(base({ owner: { uid: 4242, gid: 4343 } }));
      assert.deepStrictEqual(r.owner, { uid: 4242, gid: 4343 });
      const st = statSync(join(r.dataDir, 'member', 'snap', 'db'));
      assert.deepStrictEqual([st.uid, st.gid], [4242, 4343]);
    });
  });

  describe('the runbook for the other machines', () => {
    it('moves the old data dir aside only when no process holds a lock on its database (flock, as etcd does)', async () => {
      const old = oldDir();
      const md = buildRunbook({
        plan: { members: [{ name: 'n1', peerURLs: ['http://10.0.0.1:2380'] }], initialClusterToken: 't' },
        snapshotPath: snap,
        tool: 'etcdctl',
        setup: { n1: { dataDir: join(root, 'restored'), oldDataDir: old, unit: 'etcd', owner: 'root:root' } },
        generatedAt: fixedNow(),
      });
      const block = [...md.matchAll(/```sh\n([\s\S]*?)```/g)][0][1];
      const step2 = block.slice(block.indexOf('# 2. '), block.indexOf('# 3. '));
      const run = (): { status: number | null; stderr: string } =>
        spawnSync('/bin/bash', ['--noprofile', '--norc', '-c', step2], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
      const locker = await holder(['flock', join(old, 'member', 'snap', 'db'), '/bin/sh', '-c', 'echo ready; exec sleep 60']);
      kids.push(locker);
      const busy = run();
      assert.match(busy.stderr, new RegExp(`^${old} is still in use \\(a process holds a lock on its database\\): stop etcd first`));
      assert.ok(existsSync(join(old, 'member', 'snap', 'db')), 'not moved while locked');
      await stop(locker);
      const free = run();
      assert.strictEqual(free.status, 0, free.stderr);
      assert.ok(!existsSync(old) && readdirSync(root).some((n) => n.startsWith('etcd.old-')), 'moved aside once free');
    });
  });

  describe('trial restores killed mid-way', () => {
    it('their folders (dead PID) are removed at the next start; a live run\'s folder is left alone', async () => {
      const dead = deadPid();
      const stale = join(root, `etcd-backup-trial-p${dead}-abcdef`);
      const live = join(root, `etcd-backup-trial-p${process.pid}-fedcba`);
      mkdirSync(join(stale, 'data', 'member'), { recursive: true });
      mkdirSync(live);
      assert.deepStrictEqual(await cleanStaleTrials(root), [stale]);
      assert.ok(!existsSync(stale) && existsSync(live));
    });
  });

  describe('errno sentences (core/errors)', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['ENAMETOOLONG', 'invalidInput', /the path is too long .* Choose a shorter path\.$/],
      ['EROFS', 'permission', /mounted read-only \(EROFS\)\. Remount it read-write/],
      ['ENOTEMPTY', 'conflict', /not empty \(ENOTEMPTY\)\. Choose a new or empty folder/],
      ['EXDEV', 'conflict', /across file systems.*\(EXDEV\)\. Choose a path on the same disk/],
      ['ELOOP', 'invalidInput', /symbolic links \(a loop\) \(ELOOP\)/],
      ['ENOTDIR', 'invalidInput', /a part of the path is a file, not a folder \(ENOTDIR\)/],
      ['EACCES', 'permission', /permission denied \(EACCES\)\. Run as root/],
      ['ENOSPC', 'diskFull', /the disk is full \(ENOSPC\)/],
      ['EBUSY', 'conflict', /in use .*\(EBUSY\)/],
    ];
    for (const [code, kind, re] of cases) {
      it(`${code}: one sentence saying what to do`, () => {
        const err = Object.assign(new Error(`${code}: raw text, rename '/a' -> '/b'`), { code, syscall: 'rename', path: '/a', dest: '/b' });
        const e = fsError(err);
        assert.ok(e);
        assert.strictEqual(e.kind, kind);
        assert.match(e.message, /^Could not move \/a to \/b: /);
        assert.match(e.message, re);
        assert.doesNotMatch(e.message, /raw text/);
      });
    }
    it('explain() uses the same sentences for the codes it did not know (no raw ENAMETOOLONG text)', () => {
      const e = explain(Object.assign(new Error("ENAMETOOLONG: name too long, mkdir '/x'"), { code: 'ENAMETOOLONG', syscall: 'mkdir', path: '/x' }));
      assert.strictEqual(e.message, 'Could not create /x: the path is too long (a name may have at most 255 bytes, a path 4095) (ENAMETOOLONG). Choose a shorter path.');
    });
  });
});
