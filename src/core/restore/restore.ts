/**
 * Restoring one member's data dir from a snapshot, safely:
 * - every refusal (bad flags, no tool, a target that is not empty or in use, a corrupt or
 *   unhashed snapshot, a path too long, a read-only or full disk) happens before anything on
 *   disk changes, with one sentence that says what to do;
 * - "in use" is what the kernel says: any process holding a file, a lock or a map under the dir
 *   (src/core/restore/processes.ts), checked again right before the old dir is moved;
 * - one restore per target at a time (a lock file beside it); the tool writes into a temporary
 *   folder of this run's own (`<dataDir>.restoring-<stamp>-p<pid>-<rand>`, or inside the target
 *   when it is an empty dir such as a mount point), on the target's file system;
 * - the restored dir is checked (member/snap/db opens with the native reader, its revision and
 *   key count are the snapshot's) before the swap: an exit status 0 is not proof;
 * - the old data dir is moved aside to `<dir>.old-<stamp>`, never deleted;
 * - the new dir gets the owner (uid/gid) of the old one (or the one asked for, as read back
 *   after the chown), recursively, and mode 0700;
 * - each step is reported as it happens (the UI shows the log).
 */
import { promises as fs } from 'fs';
import { join, resolve } from 'path';
import { EtcdBackupError, explain, explainFs } from '../errors';
import { findRestoreTool, restoreArgs, restoreFlagProblem, RestoreTool, SKIP_HASH_CHECK_CAVEAT, ToolPaths } from '../tools';
import { checkMemberFlags } from './plan';
import { assertNotInUse } from './processes';
import { checkRestoredDir, ExpectedFigures } from './restoredCheck';
import { runTool } from './runTool';
import { timestamp } from './runbook';
import { checkSnapshotForRestore, SnapshotCheck, snapshotFigures } from './snapshotCheck';
import { isMountPoint, lockTargets, lstatOrUndefined, makeRestoreTemp, RestoreTemp, staleRestoreTemps } from './target';
import { checkTarget, TargetCheck } from './targetCheck';

export { toolFailure } from './runTool';
export { freePort, trialRestore } from './trial';
export type { TrialCheck, TrialRestoreOptions, TrialRestoreResult, TrialStep, TrialStepId } from './trial';

export type RestoreStepId = 'check' | 'tool' | 'target' | 'verify' | 'restore' | 'owner' | 'moveAside' | 'install' | 'done';

/** One line of the step log. */
export interface RestoreStep {
  step: RestoreStepId;
  state: 'running' | 'done' | 'skipped' | 'failed';
  message: string;
  /** Epoch ms. */
  at: number;
}

export interface RestoreMemberOptions {
  /** The snapshot file. */
  snapshot: string;
  name: string;
  initialCluster: string;
  initialAdvertisePeerUrls: string;
  initialClusterToken: string;
  /** Where the restored data dir goes: must not exist, or be empty (or be `oldDataDir`). */
  dataDir: string;
  /** The data dir etcd used so far: moved aside to `<dir>.old-<stamp>` (never deleted). */
  oldDataDir?: string;
  /** Needed for a file without a SHA-256 trailer (a raw member/snap/db copy). */
  skipHashCheck?: boolean;
  bumpRevision?: number;
  markCompacted?: boolean;
  /** Owner of the new dir; default: the owner of `oldDataDir` (or of an existing empty target). */
  owner?: { uid: number; gid: number };
  /** Where to find the tools (settings); ignored when `tool` is given. */
  toolPaths?: ToolPaths;
  /** The restore tool, already found. */
  tool?: RestoreTool;
  signal?: AbortSignal;
  onStep?: (step: RestoreStep) => void;
  /** For the `.old-` / `.restoring-` suffixes (tests). */
  now?: () => Date;
}

export interface RestoreMemberResult {
  dataDir: string;
  /** Where the old data dir went, when there was one. */
  movedAside?: string;
  tool: { kind: RestoreTool['kind']; path: string; version?: string };
  /** The tool's arguments (after the program). */
  args: string[];
  /** The owner of the new dir, as read back from the disk after the chown. */
  owner: { uid: number; gid: number };
  snapshot: SnapshotCheck;
  /** What the restored member/snap/db holds (checked against the snapshot before the swap). */
  restored: { revision: number; liveKeys: number };
  steps: RestoreStep[];
  durationMs: number;
}

/** The step log of one run: report, cancellation, and the step a failure belongs to. */
class StepLog {
  readonly steps: RestoreStep[] = [];
  current: RestoreStepId = 'check';
  constructor(private readonly opts: Pick<RestoreMemberOptions, 'onStep' | 'signal'>) {}
  report(step: RestoreStepId, state: RestoreStep['state'], message: string): void {
    if (state === 'running') this.current = step;
    const s: RestoreStep = { step, state, message, at: Date.now() };
    this.steps.push(s);
    this.opts.onStep?.(s);
  }
  checkAbort(): void {
    if (this.opts.signal?.aborted) throw new EtcdBackupError('cancelled', 'Cancelled.');
  }
  fail(err: unknown): never {
    const e = explain(err);
    this.report(this.current, 'failed', e.message);
    throw e;
  }
}

/** `<base>`, `<base>-2`, ...: the first name that is free, claimed with an exclusive mkdir. */
async function claimName(base: string): Promise<string> {
  for (let i = 1; ; i++) {
    const p = i === 1 ? base : `${base}-${i}`;
    try {
      await fs.mkdir(p, { mode: 0o700 });
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw explainFs(err, `create ${p}`);
    }
  }
}

/**
 * Move a data dir aside to `<dir>.old-<stamp>` (the first free name). Returns the new path, or
 * undefined when there was nothing at `dir`. Never deletes anything; refuses a dir that a
 * process still uses, and a mount point (which cannot be renamed).
 */
export async function moveAside(dir: string, now: Date = new Date()): Promise<string | undefined> {
  const given = resolve(dir);
  const st = await lstatOrUndefined(given);
  if (!st) return undefined;
  const abs = st.isSymbolicLink() ? await fs.realpath(given).catch((err) => Promise.reject(explainFs(err, `resolve ${given}`))) : given;
  await assertNotInUse(abs);
  if (await isMountPoint(abs)) {
    const way = 'move what is inside it to a folder beside it yourself, or restore into a new dir; nothing was changed.';
    throw new EtcdBackupError('conflict', `${abs} is a mount point, which cannot be moved aside: ${way}`);
  }
  const target = await claimName(`${abs}.old-${timestamp(now)}`);
  try {
    // Onto the empty folder claimed above: a rename replaces an empty directory atomically.
    await fs.rename(abs, target);
  } catch (err) {
    await fs.rmdir(target).catch(() => undefined);
    throw explainFs(err, `move ${abs} aside to ${target}`);
  }
  return target;
}

/** `chown -R uid:gid` in Node (lchown: symlinks themselves, never their targets). */
export async function chownRecursive(p: string, uid: number, gid: number): Promise<number> {
  let n = 0;
  const walk = async (q: string): Promise<void> => {
    await fs.lchown(q, uid, gid);
    n++;
    const st = await fs.lstat(q);
    if (st.isDirectory()) {
      for (const e of await fs.readdir(q)) {
        await walk(join(q, e));
      }
    }
  };
  await walk(p);
  return n;
}

/** Step 1: the flags, as etcd checks them, and the owner's range. */
function checkFlagsStep(log: StepLog, opts: RestoreMemberOptions): void {
  log.report('check', 'running', `Checking the flags of member "${opts.name}"`);
  const problems = checkMemberFlags(opts);
  if (!opts.dataDir.trim()) problems.push('--data-dir is empty: give the directory to restore into, e.g. /var/lib/etcd-from-backup.');
  if (!opts.snapshot.trim()) problems.push('No snapshot file given.');
  const badId = (n: number): boolean => !Number.isSafeInteger(n) || n < 0 || n > 4294967294;
  if (opts.owner && (badId(opts.owner.uid) || badId(opts.owner.gid))) {
    // 4294967295 is (uid_t)-1: chown reads it as "leave unchanged".
    problems.push(`--owner ${opts.owner.uid}:${opts.owner.gid} is out of range: a uid and a gid are whole numbers from 0 to 4294967294.`);
  }
  if (problems.length) throw new EtcdBackupError('invalidInput', problems.join(' '));
  const { name, initialCluster, initialAdvertisePeerUrls: peers, initialClusterToken: token } = opts;
  const line = `--name ${name}, --initial-cluster ${initialCluster}, --initial-advertise-peer-urls ${peers}`;
  log.report('check', 'done', `${line}, --initial-cluster-token ${token}`);
}

/** Step 2: the tool, and whether it takes the flags asked for. */
async function findToolStep(log: StepLog, opts: RestoreMemberOptions): Promise<RestoreTool> {
  log.report('tool', 'running', 'Looking for etcdutl / etcdctl');
  const tool = opts.tool ?? (await findRestoreTool(opts.toolPaths));
  const flagProblem = restoreFlagProblem(tool, opts);
  if (flagProblem) throw new EtcdBackupError('invalidInput', flagProblem);
  log.report('tool', 'done', `${tool.kind} ${tool.version ?? ''} at ${tool.path}`.replace(/\s+/g, ' '));
  return tool;
}

/** Step 4: the snapshot is sound (and hashed, unless told), and what it holds. */
async function verifySnapshotStep(
  log: StepLog,
  opts: RestoreMemberOptions,
  snapshot: string,
): Promise<{ check: SnapshotCheck; expected: ExpectedFigures }> {
  log.report('verify', 'running', `Verifying ${snapshot}`);
  const check = await checkSnapshotForRestore(snapshot, { signal: opts.signal });
  if (!check.ok) throw new EtcdBackupError(check.kind ?? 'corrupt', check.reason ?? `${snapshot} cannot be restored.`);
  if (!check.hasHash && !opts.skipHashCheck) {
    throw new EtcdBackupError(
      'corrupt',
      `${snapshot} has no SHA-256 trailer, so its integrity cannot be checked ` +
        '(a member/snap/db copied out of a data dir looks like this): ' +
        `restore it only with --skip-hash-check. ${SKIP_HASH_CHECK_CAVEAT}`,
    );
  }
  const f = await snapshotFigures(snapshot, undefined, { signal: opts.signal });
  const expected = { revision: f.revision ?? 0, liveKeys: f.liveKeys ?? 0 };
  log.report('verify', 'done', `${check.summary}; ${expected.liveKeys} live keys`);
  return { check, expected };
}

/** Step 5: the tool writes into this run's own temporary folder; the result is checked. */
async function restoreIntoTemp(
  log: StepLog,
  opts: RestoreMemberOptions,
  tool: RestoreTool,
  t: TargetCheck,
  expected: ExpectedFigures,
): Promise<{ temp: RestoreTemp; args: string[]; restored: ExpectedFigures }> {
  const stale = await staleRestoreTemps(t.dataDir);
  const temp = await makeRestoreTemp(t.dataDir, timestamp((opts.now ?? (() => new Date()))()), t.fillExisting);
  const args = restoreArgs({ ...opts, snapshot: t.snapshot, dataDir: temp.dataDir });
  log.report('restore', 'running', `${tool.kind === 'etcdctl' ? 'ETCDCTL_API=3 ' : ''}${tool.kind} ${args.join(' ')}`);
  try {
    await runTool(tool, args, opts.signal);
    const how = { tool: `${tool.kind} snapshot restore`, bumpRevision: opts.bumpRevision, signal: opts.signal };
    const r = await checkRestoredDir(temp.dataDir, expected, how);
    const left = '; left by earlier restores that were stopped (remove them once you are sure): ';
    const leftovers = stale.length ? `${left}${stale.join(', ')}` : '';
    const holds = `member/snap/db holds revision ${r.revision} with ${r.liveKeys} keys, as the snapshot`;
    log.report('restore', 'done', `Restored into ${temp.dataDir}; ${holds}${leftovers}`);
    return { temp, args, restored: r };
  } catch (err) {
    // The temporary folder is this run's own (nobody else writes into it): remove it.
    await fs.rm(temp.container, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Step 6: owner and mode, read back from the disk. */
async function ownerStep(log: StepLog, dir: string, owner: { uid: number; gid: number }): Promise<{ uid: number; gid: number }> {
  log.report('owner', 'running', `chown -R ${owner.uid}:${owner.gid} and chmod 700`);
  const count = await chownRecursive(dir, owner.uid, owner.gid);
  await fs.chmod(dir, 0o700);
  const st = await fs.stat(dir);
  if (st.uid !== owner.uid || st.gid !== owner.gid) {
    const asked = `${owner.uid}:${owner.gid}`;
    const got = `${st.uid}:${st.gid}`;
    const msg = `The owner of ${dir} is ${got} after chown to ${asked}: run as root, or choose another --owner.`;
    throw new EtcdBackupError('permission', msg);
  }
  log.report('owner', 'done', `${count} entries owned by ${st.uid}:${st.gid}; mode 0700`);
  return { uid: st.uid, gid: st.gid };
}

/** Step 8: the restored dir takes the target's place (or fills the empty target). */
async function installStep(log: StepLog, temp: RestoreTemp, dataDir: string, owner: { uid: number; gid: number }): Promise<void> {
  log.report('install', 'running', `Moving the restored dir to ${dataDir}`);
  try {
    if (temp.insideTarget) {
      // An empty dir (maybe a mount point): move the contents in, keep the dir itself.
      for (const e of await fs.readdir(temp.dataDir)) {
        if (await lstatOrUndefined(join(dataDir, e))) {
          const what = `${join(dataDir, e)} appeared while this restore ran: something else writes into ${dataDir}.`;
          throw new EtcdBackupError('conflict', what);
        }
        await fs.rename(join(temp.dataDir, e), join(dataDir, e));
      }
      await fs.rmdir(temp.dataDir);
      await fs.lchown(dataDir, owner.uid, owner.gid);
      await fs.chmod(dataDir, 0o700);
    } else {
      await fs.rename(temp.dataDir, dataDir);
    }
    await fs.rmdir(temp.container);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      const what = `${dataDir} was filled by something else while this restore ran (${code}): find out what writes there.`;
      throw new EtcdBackupError('conflict', what, { cause: err });
    }
    throw explainFs(err, `move the restored dir to ${dataDir}`);
  }
  log.report('install', 'done', `${dataDir} is ready`);
}

/** Steps 6 to 8: owner, move the old dir aside (in use? checked again), install; undone on failure. */
async function swapIn(
  log: StepLog,
  opts: RestoreMemberOptions,
  t: TargetCheck,
  temp: RestoreTemp,
): Promise<{ owner: { uid: number; gid: number }; movedAside?: string }> {
  let movedAside: string | undefined;
  try {
    const owner = await ownerStep(log, temp.dataDir, t.owner);
    log.checkAbort();
    if (t.oldDataDir && t.oldStat) {
      log.report('moveAside', 'running', `Moving ${t.oldDataDir} aside`);
      movedAside = await moveAside(t.oldDataDir, (opts.now ?? (() => new Date()))());
      log.report('moveAside', 'done', `${t.oldDataDir} -> ${movedAside} (kept; remove it yourself once the cluster is healthy)`);
    } else {
      log.report('moveAside', 'skipped', t.oldDataDir ? `${t.oldDataDir} does not exist: nothing to move aside` : 'No old data dir given');
    }
    await installStep(log, temp, t.dataDir, owner);
    return { owner, movedAside };
  } catch (err) {
    // Put the old dir back where etcd expects it; keep the restored one for inspection.
    if (movedAside && t.oldDataDir && !(await lstatOrUndefined(t.oldDataDir))) {
      await fs.rename(movedAside, t.oldDataDir).catch(() => undefined);
      movedAside = undefined;
    }
    const e = explain(err);
    const unchanged = t.oldDataDir ? `${t.oldDataDir} is unchanged` : 'nothing else was changed';
    const kept = movedAside ? `the old data dir is at ${movedAside}` : unchanged;
    throw new EtcdBackupError(e.kind, `${e.message} The restored data is kept in ${temp.dataDir}; ${kept}.`, { cause: err });
  }
}

/**
 * Restore one member's data dir from a snapshot. Refuses (with one sentence, before changing
 * anything) bad flags, a missing tool, a target that is not empty or is in use, a corrupt
 * snapshot, and a file without a trailer unless `skipHashCheck`.
 */
export async function restoreMember(opts: RestoreMemberOptions): Promise<RestoreMemberResult> {
  const started = Date.now();
  const log = new StepLog(opts);
  try {
    checkFlagsStep(log, opts);
    log.checkAbort();
    const tool = await findToolStep(log, opts);
    log.checkAbort();
    log.report('target', 'running', `Checking ${resolve(opts.dataDir)}`);
    const t = await checkTarget(opts);
    log.report('target', 'done', t.summary);
    log.checkAbort();
    const { check, expected } = await verifySnapshotStep(log, opts, t.snapshot);
    log.checkAbort();
    // ---- From here on, the disk changes (this run's lock, then its own temporary folder). ----
    log.current = 'restore';
    const lock = await lockTargets([t.dataDir, ...(t.oldDataDir ? [t.oldDataDir] : [])]);
    try {
      const { temp, args, restored } = await restoreIntoTemp(log, opts, tool, t, expected);
      log.checkAbort();
      const { owner, movedAside } = await swapIn(log, opts, t, temp);
      const aside = movedAside ? `; the old data dir is ${movedAside}` : '';
      log.report('done', 'done', `Member "${opts.name}" restored into ${t.dataDir}${aside}`);
      const toolInfo = { kind: tool.kind, path: tool.path, version: tool.version };
      const figures = { revision: restored.revision, liveKeys: restored.liveKeys };
      const durationMs = Date.now() - started;
      const { dataDir } = t;
      return { dataDir, movedAside, tool: toolInfo, args, owner, snapshot: check, restored: figures, steps: log.steps, durationMs };
    } finally {
      await lock.release();
    }
  } catch (err) {
    return log.fail(err);
  }
}
