/**
 * Is an etcd process running with this data dir? Moving a live member's data dir aside (or
 * restoring over it) while etcd runs ends badly, so restore refuses until it is stopped.
 * Linux only (reads /proc); processes that cannot be read (another user's, without root) are
 * skipped. The directory is compared by device and inode through `/proc/<pid>/root`, so an etcd
 * in a static pod (its own mount namespace, a hostPath volume) is recognised too.
 */
import { promises as fs } from 'fs';
import { isAbsolute, join } from 'path';

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
        const argv = (await fs.readFile(join(procRoot, pid, 'cmdline'), 'utf8')).split('\0').filter((x, i, a) => x !== '' || i < a.length - 1);
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
