/**
 * One run per plan at a time: a lock file created exclusively (`wx`, 0600) holding the
 * holder's pid, host and start time. A second run finds it and stops with a sentence. A lock
 * left by a process that died (same host, pid gone) is taken over: it is renamed away first
 * and checked again, so two runs that both found it stale cannot both proceed.
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import { hostname } from 'os';
import { dirname } from 'path';
import { EtcdBackupError } from '../errors';

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

export interface PlanLock {
  file: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(file: string): Promise<LockInfo | undefined> {
  try {
    const j = JSON.parse(await fs.readFile(file, 'utf8')) as LockInfo;
    return typeof j.pid === 'number' ? j : undefined;
  } catch {
    return undefined;
  }
}

function isStale(info: LockInfo | undefined): boolean {
  return Boolean(info && info.host === hostname() && !alive(info.pid));
}

function busy(file: string, info: LockInfo | undefined, cluster: string): EtcdBackupError {
  const who = info ? `process ${info.pid} on ${info.host}, started ${info.startedAt}` : 'another process';
  return new EtcdBackupError(
    'conflict',
    `Another backup run of "${cluster}" is in progress (${who}; lock ${file}): this run did ` + `nothing. Wait for it to finish.`,
  );
}

/** Take the plan's lock or throw EtcdBackupError 'conflict' saying who holds it. */
export async function acquireLock(file: string, cluster: string): Promise<PlanLock> {
  await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fs.open(file, 'wx', 0o600);
      await fh.writeFile(`${JSON.stringify(mine)}\n`);
      await fh.close();
      return {
        file,
        async release() {
          const now = await readLock(file);
          if (now && now.pid === mine.pid && now.startedAt === mine.startedAt) await fs.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = await readLock(file);
    if (!isStale(info)) {
      // A lock being written right now reads as empty: give its writer a moment once.
      if (!info && attempt === 0) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      throw busy(file, info, cluster);
    }
    const aside = `${file}.stale-${randomBytes(4).toString('hex')}`;
    try {
      await fs.rename(file, aside);
    } catch {
      continue;
    }
    const moved = await readLock(aside);
    if (!isStale(moved)) {
      // Someone else's fresh lock was moved: put it back (never over a newer one) and stop.
      await fs.link(aside, file).catch(() => undefined);
      await fs.rm(aside, { force: true });
      throw busy(file, moved, cluster);
    }
    await fs.rm(aside, { force: true });
  }
  throw busy(file, await readLock(file), cluster);
}
