/**
 * The restore's target on disk: every input checked before any work (symlinks resolved, names
 * short enough, the old dir not around the new one, a writable file system with room, no mount
 * point to move aside), a lock per target so two restores never share one, and a temporary
 * folder on the target's own file system (beside it, or inside it when the target is an empty
 * mount point) so the final rename never crosses disks.
 */
import { randomBytes } from 'crypto';
import { constants as fsConstants, promises as fs, Stats } from 'fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'path';
import { EtcdBackupError, explainFs } from '../errors';

/** Longest name a Linux file system takes (bytes), and longest path. */
const NAME_MAX = 255;
const PATH_MAX = 4095;
/** Room kept for the suffixes restore adds (`.restoring-<stamp>-p<pid>-<rand>`, `.old-<stamp>-N`). */
const SUFFIX_ROOM = 48;
/** etcd preallocates one 64 MiB WAL segment when it restores. */
const WAL_SEGMENT = 64 * 1024 * 1024;

export async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw explainFs(err, `read ${p}`);
  }
}

/** A directory argument with its symbolic links resolved; `note` says how, for the step log. */
export interface ResolvedDir {
  given: string;
  path: string;
  note?: string;
}

/**
 * Resolve a data dir argument: a symlink (even a dangling one, whose target is created) is
 * followed to the real folder, so that the link stays and what it points at is restored.
 */
export async function resolveDir(given: string, flag: string): Promise<ResolvedDir> {
  const abs = resolve(given);
  const st = await lstatOrUndefined(abs);
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw explainFs(err, `resolve ${flag} ${abs}`);
    if (st?.isSymbolicLink()) {
      // A dangling link: its target is where the data goes (its parent must exist).
      const to = await fs.readlink(abs);
      const target = isAbsolute(to) ? to : resolve(dirname(abs), to);
      const r = await resolveDir(target, flag);
      return { given, path: r.path, note: `${abs} is a symbolic link to ${r.path} (which does not exist yet)` };
    }
    // Not there yet: resolve the parent (which may be a link itself).
    const parent = await fs.realpath(dirname(abs)).catch(() => dirname(abs));
    real = join(parent, basename(abs));
  }
  return { given, path: real, note: real !== abs ? `${abs} is a symbolic link to ${real}: ${real} is used, the link is kept` : undefined };
}

/** Names and path short enough for the file system, with room for the suffixes restore adds. */
export function nameProblem(p: string, flag: string): string | undefined {
  const long = p.split(sep).find((part) => Buffer.byteLength(part) > NAME_MAX - SUFFIX_ROOM);
  if (long) {
    const max = NAME_MAX - SUFFIX_ROOM;
    const bytes = Buffer.byteLength(long);
    const name = `"${long.slice(0, 40)}..."`;
    return `${flag}: the name ${name} is ${bytes} bytes; with the suffixes restore adds it must stay under ${max}: choose a shorter name.`;
  }
  if (Buffer.byteLength(p) > PATH_MAX - SUFFIX_ROOM - 64) {
    const max = PATH_MAX - SUFFIX_ROOM - 64;
    return `${flag}: the path is ${Buffer.byteLength(p)} bytes, too long for the file system (at most ${max} here): choose a shorter path.`;
  }
  return undefined;
}

/** `a` lies strictly inside `b`. */
export function isInside(a: string, b: string): boolean {
  return a !== b && a.startsWith(b.endsWith(sep) ? b : b + sep);
}

/** The new data dir and the old one must not contain each other (the old one is moved aside). */
export function nestingProblem(dataDir: string, oldDataDir: string | undefined): string | undefined {
  if (!oldDataDir || oldDataDir === dataDir) return undefined;
  if (isInside(dataDir, oldDataDir)) {
    return (
      `--data-dir ${dataDir} lies inside --old-data-dir ${oldDataDir}, which is moved aside: choose a data dir outside it ` +
      `(e.g. ${oldDataDir}-restored), or give the same path for both to restore in place.`
    );
  }
  if (isInside(oldDataDir, dataDir)) {
    return (
      `--old-data-dir ${oldDataDir} lies inside --data-dir ${dataDir}: ` +
      'give the data dir etcd used (the folder that holds member/), and a new data dir beside it.'
    );
  }
  return undefined;
}

/** Mount points, from /proc/self/mountinfo (field 5, octal escapes undone). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4].replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Is `p` (a real path) a mount point? By mountinfo, or by a device that differs from its parent's. */
export async function isMountPoint(p: string, st?: Stats): Promise<boolean> {
  if ((await mountPoints()).has(p)) return true;
  const own = st ?? (await fs.stat(p));
  const parent = await fs.stat(dirname(p)).catch(() => undefined);
  return !!parent && parent.dev !== own.dev;
}

/** Can we create entries in `dir`? One sentence when not (read-only, permission, missing). */
export async function writableProblem(dir: string, what: string): Promise<string | undefined> {
  try {
    await fs.access(dir, fsConstants.W_OK);
    return undefined;
  } catch (err) {
    return explainFs(err, `write in ${dir} (${what})`).message;
  }
}

/** Free space in `dir` against what the restore writes: the database and one WAL segment. */
export async function spaceProblem(dir: string, dbBytes: number): Promise<string | undefined> {
  let st: { bavail: number; bsize: number };
  try {
    st = await fs.statfs(dir);
  } catch {
    return undefined; // not knowable here: the write itself reports a full disk
  }
  const free = st.bavail * st.bsize;
  const need = dbBytes + WAL_SEGMENT + 16 * 1024 * 1024;
  if (free >= need) return undefined;
  const mib = (n: number): string => `${Math.ceil(n / 1024 / 1024)} MiB`;
  return (
    `Not enough free space in ${dir}: the restore writes about ${mib(need)} (the database and a 64 MiB WAL segment) ` +
    `and ${mib(free)} are free: free space or restore onto another disk.`
  );
}

// ---------------------------------------------------------------------------------------
// Processes: alive, and the same one (pid reuse)

/** Start time of a process (clock ticks since boot, field 22 of /proc/<pid>/stat), or undefined when gone. */
export async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Is the process `pid` (started at `start`, when known) still running? */
export async function processAlive(pid: number, start?: string): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === undefined) return true;
  const now = await processStart(pid);
  return now === undefined ? true : now === start;
}

// ---------------------------------------------------------------------------------------
// The lock per target

export interface TargetLock {
  paths: string[];
  release(): Promise<void>;
}

function lockPath(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.etcd-backup-restore.lock`);
}

interface LockOwner {
  pid: number;
  start?: string;
  since?: string;
}

async function readLock(p: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await fs.readFile(p, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Take one lock file with O_EXCL; a lock whose process is gone is taken over (once). */
async function lockOne(dir: string, me: LockOwner): Promise<string> {
  const p = lockPath(dir);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(p, `${JSON.stringify({ ...me, target: dir })}\n`, { flag: 'wx', mode: 0o600 });
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw explainFs(err, `create the lock file ${p}`);
    }
    const owner = await readLock(p);
    if (owner && (await processAlive(owner.pid, owner.start))) {
      throw new EtcdBackupError(
        'conflict',
        `Another restore (pid ${owner.pid}, since ${owner.since ?? '?'}) is working on ${dir}: ` +
          'wait for it to finish (or stop it), then try again; nothing was changed.',
      );
    }
    // Stale (its process is gone): move it out of the way under a name of our own, and make
    // sure what we moved is the stale lock we judged, not a fresh one taken meanwhile.
    const aside = `${p}.stale-${process.pid}-${randomBytes(3).toString('hex')}`;
    try {
      await fs.rename(p, aside);
    } catch {
      continue;
    }
    const moved = await readLock(aside);
    if (moved && owner && moved.pid !== owner.pid && (await processAlive(moved.pid, moved.start))) {
      await fs.link(aside, p).catch(() => undefined);
      await fs.unlink(aside).catch(() => undefined);
      continue;
    }
    await fs.unlink(aside).catch(() => undefined);
  }
  throw new EtcdBackupError('conflict', `Could not take the lock ${p} (other restores keep taking it): try again.`);
}

/** Lock every given dir (the new data dir and the old one) for this process. */
export async function lockTargets(dirs: string[]): Promise<TargetLock> {
  const me: LockOwner = { pid: process.pid, start: await processStart(process.pid), since: new Date().toISOString() };
  const taken: string[] = [];
  try {
    for (const d of [...new Set(dirs)].sort()) taken.push(await lockOne(d, me));
  } catch (err) {
    await Promise.all(taken.map((t) => fs.unlink(t).catch(() => undefined)));
    throw err;
  }
  return {
    paths: taken,
    release: async () => {
      for (const t of taken) {
        const owner = await readLock(t);
        if (owner?.pid === process.pid) await fs.unlink(t).catch(() => undefined);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// The temporary folder

export interface RestoreTemp {
  /** Created by us (exclusive mkdir, mode 0700); removed at the end. */
  container: string;
  /** Where the tool writes (does not exist before it runs: etcdctl 3.4 refuses an existing dir). */
  dataDir: string;
  /** The container is inside the target (an empty dir, e.g. a mount point). */
  insideTarget: boolean;
}

const TEMP_MARK = 'restoring';

/** `<dataDir>.restoring-<stamp>-p<pid>-<rand>`, or `<dataDir>/.etcd-backup-restoring-p<pid>-<rand>` inside an empty target. */
export async function makeRestoreTemp(dataDir: string, stamp: string, insideTarget: boolean): Promise<RestoreTemp> {
  const tag = `p${process.pid}-${randomBytes(4).toString('hex')}`;
  const container = insideTarget ? join(dataDir, `.etcd-backup-${TEMP_MARK}-${stamp}-${tag}`) : `${dataDir}.${TEMP_MARK}-${stamp}-${tag}`;
  try {
    await fs.mkdir(container, { mode: 0o700 });
  } catch (err) {
    throw explainFs(err, `create the temporary folder ${container}`);
  }
  return { container, dataDir: join(container, 'data'), insideTarget };
}

/** Temporary folders left beside (or inside) the target by restores whose process is gone. */
export async function staleRestoreTemps(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  const scan = async (dir: string, prefix: string): Promise<void> => {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      const m = n.startsWith(prefix) ? /-p(\d+)-[0-9a-f]+$/.exec(n) : null;
      if (m && !(await processAlive(Number(m[1])))) out.push(join(dir, n));
    }
  };
  await scan(dirname(dataDir), `${basename(dataDir)}.${TEMP_MARK}-`);
  await scan(dataDir, `.etcd-backup-${TEMP_MARK}-`);
  return out;
}
