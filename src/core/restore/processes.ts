/**
 * Is a process using this data dir? Moving a live member's data dir aside (or restoring over
 * it) while etcd runs loses every write made afterwards, so restore refuses until it is stopped.
 *
 * The answer comes from what the kernel knows, not from how etcd was started (a flag, a config
 * file, an env var, a wrapper script, a renamed binary): every file under the dir is listed by
 * device and inode, and every process's open files (`/proc/<pid>/fd`), memory-mapped files
 * (`/proc/<pid>/maps`, bbolt maps its db), working and root directory, and the file locks of
 * `/proc/locks` (bbolt and the WAL flock their files) are compared with that list. Device and
 * inode are the same whatever mount namespace the process lives in, so an etcd in a static pod
 * (a hostPath volume) is found too. The older check by `--data-dir`/`ETCD_DATA_DIR` of processes
 * named etcd is kept as a second opinion. Linux only; processes that cannot be read (another
 * user's, without root) are counted and reported as not checked.
 */
import { promises as fs } from 'fs';
import { isAbsolute, join } from 'path';
import { EtcdBackupError } from '../errors';

export interface EtcdProcessInfo {
  pid: number;
  /** The data dir as the process sees it. */
  dataDir: string;
  /** The command line, for the message. */
  cmdline: string;
}

/** The data dir an etcd command line (and environment) uses, as the process sees it. */
export function dataDirOf(argv: string[], env: Record<string, string>): string {
  let name = 'default';
  let dir: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    const value = m[2] ?? argv[i + 1];
    if (m[1] === 'data-dir') {
      dir = value;
    } else if (m[1] === 'name') {
      name = value ?? name;
    }
  }
  if (dir === undefined && env.ETCD_DATA_DIR) {
    dir = env.ETCD_DATA_DIR;
  }
  if (dir === undefined && env.ETCD_NAME) {
    name = env.ETCD_NAME;
  }
  return dir ?? `${name}.etcd`;
}

function parseEnv(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of raw.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

/** Running etcd servers whose data dir is `dir` (same device and inode). */
export async function etcdProcessesUsing(dir: string, procRoot = '/proc'): Promise<EtcdProcessInfo[]> {
  let target: { dev: number; ino: number };
  try {
    const st = await fs.stat(dir);
    target = { dev: st.dev, ino: st.ino };
  } catch {
    return [];
  }
  let pids: string[];
  try {
    pids = (await fs.readdir(procRoot)).filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const found: EtcdProcessInfo[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const argv = (await fs.readFile(join(procRoot, pid, 'cmdline'), 'utf8'))
          .split('\0')
          .filter((x, i, a) => x !== '' || i < a.length - 1);
        if (!argv.length || (argv[0].split('/').pop() ?? '') !== 'etcd') return;
        const env = parseEnv(await fs.readFile(join(procRoot, pid, 'environ'), 'utf8').catch(() => ''));
        let dataDir = dataDirOf(argv, env);
        if (!isAbsolute(dataDir)) {
          dataDir = join(await fs.readlink(join(procRoot, pid, 'cwd')), dataDir);
        }
        const st = await fs.stat(join(procRoot, pid, 'root', dataDir));
        if (st.dev === target.dev && st.ino === target.ino) {
          found.push({ pid: Number(pid), dataDir, cmdline: argv.join(' ') });
        }
      } catch {
        // gone, or not ours to read
      }
    }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}

// ---------------------------------------------------------------------------------------
// What the kernel knows

/** A process that holds something under a directory. */
export interface DirHolder {
  pid: number;
  /** Its command line (or its name when the command line is empty), at most 200 characters. */
  command: string;
  /** Its whole command line, word by word. */
  argv: string[];
  /** What it holds, e.g. "a flock lock on /var/lib/etcd/member/snap/db", "open file ...", "its working directory ...". */
  holds: string[];
}

export interface InUseReport {
  holders: DirHolder[];
  /** Processes whose files could not be read (not root): not checked. */
  unreadable: number;
  /** The dir had more entries than were listed: files past the cap were checked by path only. */
  capped: boolean;
}

/** The (dev, ino) of every entry under `dir` (the dir itself included), with its path; at most `cap`. */
async function inodesUnder(dir: string, cap: number): Promise<{ map: Map<string, string>; devs: Set<number>; capped: boolean }> {
  const map = new Map<string, string>();
  const devs = new Set<number>();
  let capped = false;
  const walk = async (p: string): Promise<void> => {
    if (map.size >= cap) {
      capped = true;
      return;
    }
    let st;
    try {
      st = await fs.lstat(p);
    } catch {
      return;
    }
    map.set(`${st.dev}:${st.ino}`, p);
    devs.add(st.dev);
    if (st.isDirectory()) {
      const entries = await fs.readdir(p).catch(() => [] as string[]);
      for (const e of entries) await walk(join(p, e));
    }
  };
  await walk(dir);
  return { map, devs, capped };
}

/** glibc's makedev, as Node's `stat().dev` gives it. */
export function makeDev(major: number, minor: number): number {
  // ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff)
  return (major & 0xfffff000) * 2 ** 32 + (major & 0xfff) * 2 ** 8 + (minor & 0xffffff00) * 2 ** 12 + (minor & 0xff);
}

function commandOf(cmdline: string, comm: string): string {
  const c = cmdline.split('\0').filter(Boolean).join(' ') || `[${comm.trim()}]`;
  return c.length > 200 ? `${c.slice(0, 197)}...` : c;
}

/** What one process holds under the dir (by dev:ino); throws EACCES when it cannot be read. */
async function holdsOf(procRoot: string, pid: string, inodes: Map<string, string>): Promise<string[]> {
  const holds: string[] = [];
  const base = join(procRoot, pid);
  const key = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;
  for (const [link, what] of [
    ['cwd', 'its working directory'],
    ['root', 'its root directory'],
  ] as const) {
    const denied = (e: NodeJS.ErrnoException): boolean => e.code === 'EACCES' || e.code === 'EPERM';
    const st = await fs.stat(join(base, link)).catch((e: NodeJS.ErrnoException) => (denied(e) ? Promise.reject(e) : undefined));
    if (st && inodes.has(key(st))) holds.push(`${what} ${inodes.get(key(st))}`);
  }
  const fds = await fs.readdir(join(base, 'fd'));
  for (const fd of fds) {
    const st = await fs.stat(join(base, 'fd', fd)).catch(() => undefined);
    if (st && inodes.has(key(st))) holds.push(`open file ${inodes.get(key(st))}`);
  }
  const maps = await fs.readFile(join(base, 'maps'), 'utf8').catch(() => '');
  for (const line of maps.split('\n')) {
    // 7f..-7f.. r--s 00000000 08:01 1234567   /var/lib/etcd/member/snap/db
    const m = /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)/.exec(line);
    if (!m || m[3] === '0') continue;
    const k = `${makeDev(parseInt(m[1], 16), parseInt(m[2], 16))}:${m[3]}`;
    const what = inodes.has(k) ? `a memory map of ${inodes.get(k)}` : undefined;
    if (what && !holds.includes(what)) holds.push(what);
  }
  return holds;
}

/** Locks from /proc/locks on files under the dir, by pid. */
async function locksOn(procRoot: string, inodes: Map<string, string>): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  const text = await fs.readFile(join(procRoot, 'locks'), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    // 1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF
    const m = /^\d+:\s+(?:->\s+)?(\S+)\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)/.exec(line);
    if (!m) continue;
    const k = `${makeDev(parseInt(m[3], 16), parseInt(m[4], 16))}:${m[5]}`;
    const p = inodes.get(k);
    if (p) {
      const pid = Number(m[2]);
      out.set(pid, [...(out.get(pid) ?? []), `a ${m[1].toLowerCase()} lock on ${p}`]);
    }
  }
  return out;
}

/**
 * Every process that holds a file, a lock, a memory map, its working or root directory under
 * `dir`, whatever its name or how it was started. This process itself is left out.
 */
export async function processesHolding(dir: string, opts: { procRoot?: string; cap?: number } = {}): Promise<InUseReport> {
  const procRoot = opts.procRoot ?? '/proc';
  const { map: inodes, capped } = await inodesUnder(dir, opts.cap ?? 50_000);
  if (!inodes.size) return { holders: [], unreadable: 0, capped: false };
  const pids = (await fs.readdir(procRoot).catch(() => [] as string[])).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  const locks = await locksOn(procRoot, inodes);
  const holders: DirHolder[] = [];
  let unreadable = 0;
  await Promise.all(
    pids.map(async (pid) => {
      let holds: string[] = [];
      try {
        holds = await holdsOf(procRoot, pid, inodes);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM') unreadable++;
      }
      holds.push(...(locks.get(Number(pid)) ?? []));
      if (!holds.length) return;
      const cmdline = await fs.readFile(join(procRoot, pid, 'cmdline'), 'utf8').catch(() => '');
      const comm = await fs.readFile(join(procRoot, pid, 'comm'), 'utf8').catch(() => '?');
      const argv = cmdline.split('\0').filter(Boolean);
      holders.push({ pid: Number(pid), command: commandOf(cmdline, comm), argv, holds: rank([...new Set(holds)]) });
    }),
  );
  return { holders: holders.sort((a, b) => a.pid - b.pid), unreadable, capped };
}

/**
 * Who uses this data dir: the kernel's view (`processesHolding`) and, as a second opinion, etcd
 * servers whose `--data-dir`/`ETCD_DATA_DIR` is this dir.
 */
export async function dataDirUsers(dir: string, procRoot = '/proc'): Promise<InUseReport> {
  const kernel = await processesHolding(dir, { procRoot });
  const byFlag = await etcdProcessesUsing(dir, procRoot);
  for (const p of byFlag) {
    if (!kernel.holders.some((h) => h.pid === p.pid) && p.pid !== process.pid) {
      const argv = p.cmdline.split(' ');
      kernel.holders.push({ pid: p.pid, command: commandOf(argv.join('\0'), 'etcd'), argv, holds: [`--data-dir ${p.dataDir}`] });
    }
  }
  kernel.holders.sort((a, b) => a.pid - b.pid);
  return kernel;
}

/** Locks first, then the database, then the rest: what says "etcd runs here" most plainly. */
function rank(holds: string[]): string[] {
  const score = (h: string): number => (h.includes(' lock on ') ? 0 : h.endsWith('/member/snap/db') ? 1 : h.includes('memory map') ? 2 : 3);
  return [...holds].sort((a, b) => score(a) - score(b));
}

/** The refusal for a dir in use: which PID, its command, what it holds, and how to stop etcd. */
export function inUseSentence(dir: string, holders: DirHolder[]): string {
  const rest = (h: DirHolder): string => (h.holds.length > 2 ? ` (and ${h.holds.length - 2} more)` : '');
  const what = (h: DirHolder): string => h.holds.slice(0, 2).join(' and ') + rest(h);
  const cmd = (c: string): string => (c.length > 100 ? `${c.slice(0, 97)}...` : c);
  const who = holders
    .slice(0, 3)
    .map((h) => `pid ${h.pid} (${cmd(h.command)}) holds ${what(h)}`)
    .join('; ');
  const more = holders.length > 3 ? `; and ${holders.length - 3} more` : '';
  return (
    `${dir} is in use: ${who}${more}. Stop it first (systemctl stop etcd, or move the static pod manifest out of ` +
    '/etc/kubernetes/manifests and wait until `crictl ps | grep etcd` shows nothing), then try again; nothing was changed.'
  );
}

/** Only a working or root directory inside: such a process writes nothing there (a shell that `cd`-ed in). */
function onlyInside(h: DirHolder): boolean {
  return h.holds.every((x) => x.startsWith('its working directory ') || x.startsWith('its root directory '));
}

/**
 * Refuse when any process holds a file, a lock or a memory map under `dir` (the kernel's view,
 * then the flags). Resolves with a note for the step log: processes that only have their working
 * directory inside (named, not blocking), and processes that could not be read.
 */
export async function assertNotInUse(dir: string): Promise<string> {
  const users = await dataDirUsers(dir);
  const blocking = users.holders.filter((h) => !onlyInside(h));
  if (blocking.length) throw new EtcdBackupError('conflict', inUseSentence(dir, blocking));
  const inside = users.holders.map((h) => `pid ${h.pid} (${h.command.slice(0, 60)})`).join(', ');
  const notes = [
    inside ? `; working inside it, holding no file: ${inside}` : '',
    users.unreadable ? `; ${users.unreadable} processes of other users could not be checked (run as root to check them)` : '',
  ];
  return notes.join('');
}
