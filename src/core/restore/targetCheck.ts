/**
 * Step 3 of a restore: every input about the target checked before any work, in the order an
 * operator would check them by hand. Each refusal is one sentence that says what to do.
 */
import { promises as fs, Stats } from 'fs';
import { basename, dirname, join, resolve } from 'path';
import { EtcdBackupError, explainFs } from '../errors';
import { assertNotInUse } from './processes';
import { isMountPoint, lstatOrUndefined, nameProblem, nestingProblem, ResolvedDir, resolveDir } from './target';
import { spaceProblem, staleRestoreTemps, writableProblem } from './target';

export interface TargetCheck {
  snapshot: string;
  /** The real path restored into (symlinks resolved). */
  dataDir: string;
  /** The real path of the old data dir, when given. */
  oldDataDir?: string;
  /** The old data dir exists (and is moved aside). */
  oldStat?: Stats;
  /** The target is an existing empty dir (maybe a mount point): filled from inside. */
  fillExisting: boolean;
  owner: { uid: number; gid: number };
  /** One line for the step log. */
  summary: string;
}

interface TargetInput {
  snapshot: string;
  dataDir: string;
  oldDataDir?: string;
  owner?: { uid: number; gid: number };
}

function refuse(kind: 'conflict' | 'invalidInput' | 'notFound' | 'permission' | 'diskFull', message: string): never {
  throw new EtcdBackupError(kind, message);
}

/** The paths: symlinks resolved, names short enough, neither inside the other. */
async function resolvePaths(opts: TargetInput): Promise<{ data: ResolvedDir; old?: ResolvedDir }> {
  for (const [flag, p] of [
    ['--data-dir', opts.dataDir],
    ['--old-data-dir', opts.oldDataDir],
  ] as const) {
    const problem = p ? nameProblem(resolve(p), flag) : undefined;
    if (problem) refuse('invalidInput', problem);
  }
  const data = await resolveDir(opts.dataDir, '--data-dir');
  const old = opts.oldDataDir ? await resolveDir(opts.oldDataDir, '--old-data-dir') : undefined;
  const nesting = nestingProblem(data.path, old?.path);
  if (nesting) refuse('invalidInput', nesting);
  return { data, old };
}

/** The folder the target goes in exists, and the target is new, empty, or the old dir itself. */
async function targetState(dataDir: string, oldDataDir: string | undefined): Promise<{ targetStat?: Stats; fillExisting: boolean }> {
  const parent = dirname(dataDir);
  const parentStat = await lstatOrUndefined(parent);
  if (!parentStat?.isDirectory()) {
    const name = basename(dataDir);
    refuse('notFound', `The folder ${parent} (where ${name} would go) does not exist: create it, or choose another --data-dir.`);
  }
  const targetStat = await lstatOrUndefined(dataDir);
  if (!targetStat || oldDataDir === dataDir) return { targetStat, fillExisting: false };
  if (!targetStat.isDirectory()) refuse('conflict', `${dataDir} exists and is a file, not a directory: choose a new --data-dir.`);
  const entries = await fs.readdir(dataDir).catch((err) => Promise.reject(explainFs(err, `list ${dataDir}`)));
  const stale = await staleRestoreTemps(dataDir);
  if (entries.length && entries.every((e) => stale.includes(join(dataDir, e)))) {
    refuse(
      'conflict',
      `${dataDir} holds only what a restore that was stopped left behind (${stale.join(', ')}): remove it, then try again.`,
    );
  }
  if (entries.length) {
    refuse(
      'conflict',
      `The target data dir ${dataDir} is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): ` +
        'restore into a new or empty directory, or give it as the old data dir to have it moved aside.',
    );
  }
  return { targetStat, fillExisting: true };
}

/** The old data dir: a directory, not a mount point (a mount point cannot be renamed). */
async function oldState(oldDataDir: string | undefined): Promise<Stats | undefined> {
  if (!oldDataDir) return undefined;
  const st = await lstatOrUndefined(oldDataDir);
  if (st && !st.isDirectory()) refuse('conflict', `The old data dir ${oldDataDir} is not a directory: check the path.`);
  if (st && (await isMountPoint(oldDataDir, st))) {
    refuse(
      'conflict',
      `The old data dir ${oldDataDir} is a mount point, which cannot be moved aside: ` +
        `restore into a new dir on that disk (e.g. ${oldDataDir}/restored) ` +
        'and point --data-dir there, or move its contents into a folder inside it yourself and restore into the emptied mount point.',
    );
  }
  return st;
}

/** Writable, with room: where the temporary folder goes, and where the old dir is moved aside. */
async function diskProblems(t: Pick<TargetCheck, 'dataDir' | 'oldDataDir' | 'oldStat' | 'fillExisting'>, snapshot: string): Promise<void> {
  const tempHome = t.fillExisting ? t.dataDir : dirname(t.dataDir);
  const w = await writableProblem(tempHome, 'the restored data dir is built there');
  if (w) refuse('permission', w);
  if (t.oldDataDir && t.oldStat) {
    const wo = await writableProblem(dirname(t.oldDataDir), `${basename(t.oldDataDir)} is moved aside there`);
    if (wo) refuse('permission', wo);
  }
  const size = (await fs.stat(snapshot).catch(() => undefined))?.size;
  const space = size !== undefined ? await spaceProblem(tempHome, size) : undefined;
  if (space) refuse('diskFull', space);
}

/** Check the target of a restore; resolves with the real paths, the owner, and a summary line. */
export async function checkTarget(opts: TargetInput): Promise<TargetCheck> {
  const snapshot = resolve(opts.snapshot);
  const { data, old } = await resolvePaths(opts);
  const dataDir = data.path;
  const oldDataDir = old?.path;
  const { targetStat, fillExisting } = await targetState(dataDir, oldDataDir);
  const oldStat = await oldState(oldDataDir);
  await diskProblems({ dataDir, oldDataDir, oldStat, fillExisting }, snapshot);
  let unchecked = '';
  for (const dir of new Set([oldStat ? oldDataDir : undefined, targetStat ? dataDir : undefined])) {
    if (dir) unchecked = (await assertNotInUse(dir)) || unchecked;
  }
  const here = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const from = oldStat ?? (fillExisting ? targetStat : undefined);
  const owner = opts.owner ?? (from ? { uid: from.uid, gid: from.gid } : here);
  const inPlace = 'is the current data dir (moved aside before the new one takes its place)';
  const state = targetStat ? (oldDataDir === dataDir ? inPlace : 'exists and is empty (filled from inside)') : 'does not exist yet';
  const notes = [data.note, old?.note].filter(Boolean).join('; ');
  const ownerText = `${owner.uid}:${owner.gid}${oldStat && !opts.owner ? ` (as ${oldDataDir})` : ''}`;
  const summary = `${dataDir} ${state}; no process uses it${unchecked}; owner of the new dir: ${ownerText}${notes ? `; ${notes}` : ''}`;
  return { snapshot, dataDir, oldDataDir, oldStat, fillExisting, owner, summary };
}
