/**
 * Restoring one member's data dir from a snapshot, safely:
 * - every refusal (bad flags, no tool, a non-empty target, a corrupt or unhashed snapshot)
 *   happens before anything on disk changes;
 * - the tool writes into a temporary sibling `<dataDir>.restoring-<stamp>` (so a failed restore
 *   leaves nothing under the final name, and etcdctl 3.4, which refuses an existing dir, gets a
 *   path that does not exist), which is renamed into place at the end;
 * - the old data dir is moved aside to `<dir>.old-<stamp>`, never deleted;
 * - the new dir gets the owner (uid/gid) of the old one, recursively, and mode 0700;
 * - each step is reported as it happens (the UI shows the log).
 */
import { ChildProcess, spawn } from 'child_process';
import { constants as fsConstants, promises as fs, Stats } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { basename, dirname, join, resolve } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { findEtcdServer, findRestoreTool, FoundTool, restoreArgs, restoreFlagProblem, RestoreTool, SKIP_HASH_CHECK_CAVEAT, ToolPaths } from '../tools';
import { checkMemberFlags } from './plan';
import { etcdProcessesUsing } from './processes';
import { timestamp } from './runbook';
import { checkSnapshotForRestore, SnapshotCheck, snapshotFigures, SnapshotFigures } from './snapshotCheck';

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
  owner: { uid: number; gid: number };
  snapshot: SnapshotCheck;
  steps: RestoreStep[];
  durationMs: number;
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw explain(err);
  }
}

/** `<base><suffix>`, `<base><suffix>-2`, ...: the first that does not exist. */
async function freeName(base: string): Promise<string> {
  for (let i = 1; ; i++) {
    const p = i === 1 ? base : `${base}-${i}`;
    if (!(await statOrUndefined(p))) {
      return p;
    }
  }
}

/**
 * Move a data dir aside to `<dir>.old-<stamp>` (the first free name). Returns the new path, or
 * undefined when there was nothing at `dir`. Never deletes anything.
 */
export async function moveAside(dir: string, now: Date = new Date()): Promise<string | undefined> {
  const abs = resolve(dir);
  if (!(await statOrUndefined(abs))) {
    return undefined;
  }
  const target = await freeName(`${abs}.old-${timestamp(now)}`);
  try {
    await fs.rename(abs, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY') {
      throw new EtcdBackupError('conflict', `${abs} is in use (a mount point, or etcd still runs with it): stop etcd first; for a mount point, restore into a new dir beside it instead.`, { cause: err });
    }
    throw explain(err);
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

/** Run the restore tool; resolves with its output, rejects with a sentence. */
function runTool(tool: RestoreTool, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // Its own process group, so that cancelling stops anything it started too.
    const child = spawn(tool.path, args, { env: { ...process.env, ...tool.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const keep = (b: Buffer): void => {
      out += b.toString('utf8');
      if (out.length > 64 * 1024) {
        out = out.slice(-32 * 1024);
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const onAbort = (): void => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new EtcdBackupError('toolMissing', `Could not run ${tool.path}: ${err.message}.`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) {
        reject(new EtcdBackupError('cancelled', 'Cancelled.'));
      } else if (code === 0) {
        resolvePromise(out);
      } else {
        reject(toolFailure(tool, out, code, sig));
      }
    });
  });
}

/** The tool's failure as a sentence (its own last error line kept). */
export function toolFailure(tool: Pick<RestoreTool, 'kind' | 'path'>, output: string, code: number | null, sig: NodeJS.Signals | null = null): EtcdBackupError {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errLine = [...lines].reverse().find((l) => /^Error:|error|fail|panic/i.test(l)) ?? lines[lines.length - 1] ?? '';
  const text = errLine.replace(/^Error:\s*/, '');
  const lower = output.toLowerCase();
  const name = `${tool.kind} snapshot restore`;
  if (lower.includes('missing hash')) {
    return new EtcdBackupError('corrupt', `${name} refused the file: it has no SHA-256 trailer ("snapshot missing hash"). If it is a member/snap/db copied out of a data dir, restore with --skip-hash-check (${SKIP_HASH_CHECK_CAVEAT})`);
  }
  if (lower.includes('expected sha256') || lower.includes('hash mismatch')) {
    return new EtcdBackupError('corrupt', `${name} refused the file: its SHA-256 does not match the trailer (${text}). The file is damaged: take or copy the snapshot again.`);
  }
  if (lower.includes('unknown flag') || lower.includes('unknown command')) {
    return new EtcdBackupError('toolMissing', `${tool.path} does not understand this restore (${text}): etcdctl 3.6 has no "snapshot restore" and etcdctl 3.4 no --bump-revision; use etcdutl.`);
  }
  if (lower.includes('already exists') || lower.includes('data-dir') && lower.includes('exist')) {
    return new EtcdBackupError('conflict', `${name} found its target already there (${text}).`);
  }
  const how = sig ? `was killed by ${sig}` : `exited with status ${code}`;
  return new EtcdBackupError('internal', `${name} ${how}${text ? `: ${text}` : ''}.`);
}

/**
 * Restore one member's data dir from a snapshot. Refuses (with one sentence, before changing
 * anything) bad flags, a missing tool, a non-empty target, a corrupt snapshot, and a file
 * without a trailer unless `skipHashCheck`.
 */
export async function restoreMember(opts: RestoreMemberOptions): Promise<RestoreMemberResult> {
  const started = Date.now();
  const now = opts.now ?? (() => new Date());
  const steps: RestoreStep[] = [];
  const report = (step: RestoreStepId, state: RestoreStep['state'], message: string): void => {
    const s: RestoreStep = { step, state, message, at: Date.now() };
    steps.push(s);
    opts.onStep?.(s);
  };
  const checkAbort = (): void => {
    if (opts.signal?.aborted) {
      throw new EtcdBackupError('cancelled', 'Cancelled.');
    }
  };
  let current: RestoreStepId = 'check';
  const fail = (err: unknown): never => {
    const e = explain(err);
    report(current, 'failed', e.message);
    throw e;
  };

  try {
    // 1. Flags, as etcd checks them.
    report('check', 'running', `Checking the flags of member "${opts.name}"`);
    const problems = checkMemberFlags(opts);
    if (!opts.dataDir.trim()) {
      problems.push('--data-dir is empty: give the directory to restore into, e.g. /var/lib/etcd-from-backup.');
    }
    if (!opts.snapshot.trim()) {
      problems.push('No snapshot file given.');
    }
    if (problems.length) {
      throw new EtcdBackupError('invalidInput', problems.join(' '));
    }
    const snapshot = resolve(opts.snapshot);
    const dataDir = resolve(opts.dataDir);
    const oldDataDir = opts.oldDataDir ? resolve(opts.oldDataDir) : undefined;
    report('check', 'done', `--name ${opts.name}, --initial-cluster ${opts.initialCluster}, --initial-advertise-peer-urls ${opts.initialAdvertisePeerUrls}, --initial-cluster-token ${opts.initialClusterToken}`);
    checkAbort();

    // 2. The tool.
    current = 'tool';
    report('tool', 'running', 'Looking for etcdutl / etcdctl');
    const tool = opts.tool ?? (await findRestoreTool(opts.toolPaths));
    const flagProblem = restoreFlagProblem(tool, opts);
    if (flagProblem) {
      throw new EtcdBackupError('invalidInput', flagProblem);
    }
    report('tool', 'done', `${tool.kind} ${tool.version ?? ''} at ${tool.path}`.replace(/\s+/g, ' '));
    checkAbort();

    // 3. The target and the old dir.
    current = 'target';
    report('target', 'running', `Checking ${dataDir}`);
    const parent = dirname(dataDir);
    const parentStat = await statOrUndefined(parent);
    if (!parentStat?.isDirectory()) {
      throw new EtcdBackupError('notFound', `The folder ${parent} (where ${basename(dataDir)} would go) does not exist: create it, or choose another --data-dir.`);
    }
    try {
      await fs.access(parent, fsConstants.W_OK);
    } catch (err) {
      throw new EtcdBackupError('permission', `Cannot write in ${parent} (permission denied): run as root (sudo) or as the owner of that folder.`, { cause: err });
    }
    const targetStat = await statOrUndefined(dataDir);
    let targetExistsEmpty = false;
    if (targetStat) {
      if (oldDataDir === dataDir) {
        // Restoring in place: the current dir is moved aside first (checked below).
      } else if (!targetStat.isDirectory()) {
        throw new EtcdBackupError('conflict', `${dataDir} exists and is not a directory: choose a new --data-dir.`);
      } else {
        const entries = await fs.readdir(dataDir);
        if (entries.length) {
          throw new EtcdBackupError(
            'conflict',
            `The target data dir ${dataDir} is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): restore into a new or empty directory, or give it as the old data dir to have it moved aside.`,
          );
        }
        targetExistsEmpty = true;
      }
    }
    let oldStat: Stats | undefined;
    if (oldDataDir) {
      oldStat = await statOrUndefined(oldDataDir);
      if (oldStat && !oldStat.isDirectory()) {
        throw new EtcdBackupError('conflict', `The old data dir ${oldDataDir} is not a directory: check the path.`);
      }
    }
    for (const dir of new Set([oldStat ? oldDataDir : undefined, targetStat ? dataDir : undefined])) {
      if (!dir) continue;
      const running = await etcdProcessesUsing(dir);
      if (running.length) {
        throw new EtcdBackupError(
          'conflict',
          `etcd (pid ${running.map((p) => p.pid).join(', ')}) is running with the data dir ${dir}: stop it first (systemctl stop etcd, or move the static pod manifest out of /etc/kubernetes/manifests and wait until \`crictl ps | grep etcd\` shows nothing).`,
        );
      }
    }
    const owner = opts.owner ?? (oldStat ? { uid: oldStat.uid, gid: oldStat.gid } : targetExistsEmpty && targetStat ? { uid: targetStat.uid, gid: targetStat.gid } : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    report(
      'target',
      'done',
      `${dataDir} ${targetStat ? (oldDataDir === dataDir ? 'is the current data dir (moved aside before the new one takes its place)' : 'exists and is empty') : 'does not exist yet'}; owner of the new dir: ${owner.uid}:${owner.gid}${oldStat ? ` (as ${oldDataDir})` : ''}`,
    );
    checkAbort();

    // 4. The snapshot.
    current = 'verify';
    report('verify', 'running', `Verifying ${snapshot}`);
    const check = await checkSnapshotForRestore(snapshot, { signal: opts.signal });
    if (!check.ok) {
      throw new EtcdBackupError(check.kind ?? 'corrupt', check.reason ?? `${snapshot} cannot be restored.`);
    }
    if (!check.hasHash && !opts.skipHashCheck) {
      throw new EtcdBackupError(
        'corrupt',
        `${snapshot} has no SHA-256 trailer, so its integrity cannot be checked (a member/snap/db copied out of a data dir looks like this): restore it only with --skip-hash-check. ${SKIP_HASH_CHECK_CAVEAT}`,
      );
    }
    report('verify', 'done', check.summary);
    checkAbort();

    // ---- From here on, the disk changes. ----
    current = 'restore';
    const stamp = timestamp(now());
    const temp = await freeName(`${dataDir}.restoring-${stamp}`);
    const args = restoreArgs({
      snapshot,
      name: opts.name,
      initialCluster: opts.initialCluster,
      initialAdvertisePeerUrls: opts.initialAdvertisePeerUrls,
      initialClusterToken: opts.initialClusterToken,
      dataDir: temp,
      skipHashCheck: opts.skipHashCheck,
      bumpRevision: opts.bumpRevision,
      markCompacted: opts.markCompacted,
    });
    report('restore', 'running', `${tool.kind === 'etcdctl' ? 'ETCDCTL_API=3 ' : ''}${tool.kind} ${args.join(' ')}`);
    try {
      await runTool(tool, args, opts.signal);
    } catch (err) {
      // The half-written temp dir is ours: remove it so nothing partial is left.
      await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    report('restore', 'done', `Restored into ${temp}`);

    let movedAside: string | undefined;
    try {
      current = 'owner';
      report('owner', 'running', `chown -R ${owner.uid}:${owner.gid} and chmod 700`);
      const count = await chownRecursive(temp, owner.uid, owner.gid);
      await fs.chmod(temp, 0o700);
      report('owner', 'done', `${count} entries owned by ${owner.uid}:${owner.gid}; mode 0700`);
      checkAbort();

      current = 'moveAside';
      if (oldDataDir && oldStat) {
        report('moveAside', 'running', `Moving ${oldDataDir} aside`);
        movedAside = await moveAside(oldDataDir, now());
        report('moveAside', 'done', `${oldDataDir} -> ${movedAside} (kept; remove it yourself once the cluster is healthy)`);
      } else {
        report('moveAside', 'skipped', oldDataDir ? `${oldDataDir} does not exist: nothing to move aside` : 'No old data dir given');
      }

      current = 'install';
      report('install', 'running', `Moving the restored dir to ${dataDir}`);
      if (targetExistsEmpty && oldDataDir !== dataDir) {
        // An empty dir (maybe a mount point): move the contents in, keep the dir itself.
        for (const e of await fs.readdir(temp)) {
          await fs.rename(join(temp, e), join(dataDir, e));
        }
        await fs.rmdir(temp);
        await fs.lchown(dataDir, owner.uid, owner.gid);
        await fs.chmod(dataDir, 0o700);
      } else {
        await fs.rename(temp, dataDir);
      }
      report('install', 'done', `${dataDir} is ready`);
    } catch (err) {
      // Put the old dir back where etcd expects it; keep the restored one for inspection.
      if (movedAside && oldDataDir && !(await statOrUndefined(oldDataDir))) {
        await fs.rename(movedAside, oldDataDir).catch(() => undefined);
        movedAside = undefined;
      }
      const e = explain(err);
      throw new EtcdBackupError(e.kind, `${e.message} The restored data is kept in ${temp}; ${oldDataDir ? `${oldDataDir} is unchanged.` : 'nothing else was changed.'}`, { cause: err });
    }
    report('done', 'done', `Member "${opts.name}" restored into ${dataDir}${movedAside ? `; the old data dir is ${movedAside}` : ''}`);
    return {
      dataDir,
      movedAside,
      tool: { kind: tool.kind, path: tool.path, version: tool.version },
      args,
      owner,
      snapshot: check,
      steps,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    return fail(err);
  }
}

// ---------------------------------------------------------------------------------------
// Trial restore

export interface TrialRestoreOptions {
  signal?: AbortSignal;
  toolPaths?: ToolPaths;
  tool?: RestoreTool;
  /** The etcd server to start; default: the setting, PATH, /usr/bin/etcd. */
  etcd?: FoundTool;
  /** Restore a file without a trailer (raw member/snap/db). */
  skipHashCheck?: boolean;
  /** How long the throwaway member may take to answer (ms). Default 60 s. */
  startTimeoutMs?: number;
  /** Parent of the temporary directory (default: the OS temp dir). */
  tempParent?: string;
  onStep?: (step: TrialStep) => void;
}

export type TrialStepId = 'verify' | 'tool' | 'figures' | 'restore' | 'start' | 'read' | 'compare' | 'cleanup';

export interface TrialStep {
  step: TrialStepId;
  state: 'running' | 'done' | 'skipped' | 'failed';
  message: string;
  at: number;
}

/** One comparison between the file and the restored member. */
export interface TrialCheck {
  what: string;
  ok: boolean;
  expected?: string;
  actual?: string;
  note?: string;
}

export interface TrialRestoreResult {
  /** The snapshot restores and the restored member serves what the file holds. */
  ok: boolean;
  /** One sentence: passed, or what failed. */
  verdict: string;
  snapshot: { path: string; check?: SnapshotCheck; figures?: SnapshotFigures };
  restored?: { revision: number; keys: number; version?: string; memberId?: string; clientUrl: string };
  checks: TrialCheck[];
  tool?: { kind: RestoreTool['kind']; path: string; version?: string };
  etcd?: { path: string; version?: string };
  steps: TrialStep[];
  durationMs: number;
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** A throwaway etcd process: its output (the tail) and a way to stop it. */
interface EtcdProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

function startEtcd(etcdPath: string, args: string[]): EtcdProcess {
  const child = spawn(etcdPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer): void => {
    out += b.toString('utf8');
    if (out.length > 128 * 1024) {
      out = out.slice(-64 * 1024);
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (code, signal) => res({ code, signal }));
    child.on('error', () => res({ code: -1, signal: null }));
  });
  return {
    child,
    output: () => out,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The last line of etcd's log that says what went wrong. */
function etcdFailure(output: string): string {
  const lines = output.split('\n').filter((l) => l.trim());
  const bad = [...lines].reverse().find((l) => /"level":"(fatal|panic|error)"|\b(fatal|panic|error)\b/i.test(l)) ?? lines[lines.length - 1] ?? '';
  try {
    const j = JSON.parse(bad) as { msg?: string; error?: string };
    return [j.msg, j.error].filter(Boolean).join(': ');
  } catch {
    return bad.trim().slice(0, 300);
  }
}

/**
 * Prove that a snapshot restores: restore it into a temporary directory, start a throwaway etcd
 * member on free loopback ports, read its revision and key count through the API, compare them
 * with the file's own figures, stop the member and remove the directory. Problems with the file
 * are a failed verdict (`ok: false`), not an exception; a missing tool throws.
 */
export async function trialRestore(snapshotPath: string, opts: TrialRestoreOptions = {}): Promise<TrialRestoreResult> {
  const started = Date.now();
  const steps: TrialStep[] = [];
  const checks: TrialCheck[] = [];
  const path = resolve(snapshotPath);
  const report = (step: TrialStepId, state: TrialStep['state'], message: string): void => {
    const s = { step, state, message, at: Date.now() };
    steps.push(s);
    opts.onStep?.(s);
  };
  const result = (ok: boolean, verdict: string, extra: Partial<TrialRestoreResult> = {}): TrialRestoreResult => ({
    ok,
    verdict,
    snapshot: { path },
    checks,
    steps,
    durationMs: Date.now() - started,
    ...extra,
  });
  const aborted = (): void => {
    if (opts.signal?.aborted) {
      throw new EtcdBackupError('cancelled', 'Cancelled.');
    }
  };

  // Tools first: a missing tool is the machine's problem, not the file's (it throws).
  report('tool', 'running', 'Looking for the restore tool and etcd');
  const tool = opts.tool ?? (await findRestoreTool(opts.toolPaths));
  const etcd = opts.etcd ?? (await findEtcdServer(opts.toolPaths));
  const toolInfo = { kind: tool.kind, path: tool.path, version: tool.version };
  const etcdInfo = { path: etcd.path, version: etcd.version };
  report('tool', 'done', `${tool.kind} ${tool.version ?? ''} at ${tool.path}; etcd ${etcd.version ?? ''} at ${etcd.path}`.replace(/\s+/g, ' '));

  report('verify', 'running', `Verifying ${path}`);
  const check = await checkSnapshotForRestore(path, { signal: opts.signal });
  if (!check.ok) {
    report('verify', 'failed', check.reason ?? 'cannot be restored');
    return result(false, `Trial restore failed: ${check.reason}`, { snapshot: { path, check }, tool: toolInfo, etcd: etcdInfo });
  }
  if (!check.hasHash && !opts.skipHashCheck) {
    const reason = `${path} has no SHA-256 trailer, so its integrity cannot be checked: run the trial with --skip-hash-check if it is a member/snap/db copied out of a data dir.`;
    report('verify', 'failed', reason);
    return result(false, `Trial restore failed: ${reason}`, { snapshot: { path, check }, tool: toolInfo, etcd: etcdInfo });
  }
  report('verify', 'done', check.summary);
  aborted();

  report('figures', 'running', 'Reading the revision and key count from the file');
  let figures: SnapshotFigures;
  try {
    figures = await snapshotFigures(path, tool);
  } catch (err) {
    const reason = `the file's figures could not be read (${explain(err).message})`;
    report('figures', 'failed', reason);
    return result(false, `Trial restore failed: ${reason}.`, { snapshot: { path, check }, tool: toolInfo, etcd: etcdInfo });
  }
  report('figures', 'done', `revision ${figures.revision ?? '?'}${figures.liveKeys !== undefined ? `, ${figures.liveKeys} live keys` : ''} (${figures.source})`);

  const tmp = await fs.mkdtemp(join(opts.tempParent ?? tmpdir(), 'etcd-backup-trial-'));
  const dataDir = join(tmp, 'data');
  let proc: EtcdProcess | undefined;
  let conn: import('../etcd').EtcdConnection | undefined;
  const base = { snapshot: { path, check, figures }, tool: toolInfo, etcd: etcdInfo };
  try {
    const peerPort = await freePort();
    const clientPort = await freePort();
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    report('restore', 'running', `Restoring into ${dataDir}`);
    try {
      await runTool(
        tool,
        restoreArgs({
          snapshot: path,
          name: 'trial',
          initialCluster: `trial=${peerUrl}`,
          initialAdvertisePeerUrls: peerUrl,
          initialClusterToken: 'etcd-backup-trial',
          dataDir,
          skipHashCheck: opts.skipHashCheck,
        }),
        opts.signal,
      );
    } catch (err) {
      const e = explain(err);
      if (e.kind === 'cancelled') throw e;
      report('restore', 'failed', e.message);
      return result(false, `Trial restore failed: ${e.message}`, base);
    }
    report('restore', 'done', `Restored with ${tool.kind}`);
    aborted();

    report('start', 'running', `Starting a throwaway etcd on ${clientUrl}`);
    proc = startEtcd(etcd.path, [
      '--name=trial',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=trial=${peerUrl}`,
      '--initial-cluster-token=etcd-backup-trial',
      '--log-level=warn',
    ]);
    // Loaded here, not at the top: etcd3 parses its protos when first required.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { EtcdConnection } = require('../etcd') as typeof import('../etcd');
    conn = await EtcdConnection.open({ name: 'trial restore', endpoints: [clientUrl], timeoutMs: 2000 });
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    let answer: { revision: number; keys: number } | undefined;
    let lastErr = '';
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void proc.exited.then((x) => {
      exit = x;
    });
    while (!answer) {
      aborted();
      if (exit) {
        const why = etcdFailure(proc.output());
        report('start', 'failed', `etcd exited (${exit.signal ?? `status ${exit.code}`}): ${why}`);
        return result(false, `Trial restore failed: the restored member did not start (etcd: ${why || `exit status ${exit.code}`}).`, base);
      }
      if (Date.now() > deadline) {
        report('start', 'failed', `No answer within ${opts.startTimeoutMs ?? 60_000} ms: ${lastErr}`);
        return result(false, `Trial restore failed: the restored member did not answer within ${Math.round((opts.startTimeoutMs ?? 60_000) / 1000)} s (${lastErr || etcdFailure(proc.output())}).`, base);
      }
      try {
        const res = await conn.client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
        answer = { revision: Number(res.header.revision), keys: Number(res.count) };
      } catch (err) {
        lastErr = explain(err).message;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    let version: string | undefined;
    let memberId: string | undefined;
    try {
      const st = await conn.endpointStatus(clientUrl);
      version = st.version;
      memberId = st.memberId;
    } catch {
      // informative only
    }
    report('start', 'done', `etcd ${version ?? ''} answered on ${clientUrl}`.replace(/\s+/g, ' '));
    report('read', 'done', `revision ${answer.revision}, ${answer.keys} keys`);
    const restored = { ...answer, version, memberId, clientUrl };

    report('compare', 'running', 'Comparing with the file');
    if (figures.revision !== undefined) {
      checks.push({ what: 'revision', ok: answer.revision === figures.revision, expected: String(figures.revision), actual: String(answer.revision) });
    }
    if (figures.liveKeys !== undefined) {
      checks.push({ what: 'keys', ok: answer.keys === figures.liveKeys, expected: String(figures.liveKeys), actual: String(answer.keys) });
    } else {
      checks.push({ what: 'keys', ok: true, actual: String(answer.keys), note: 'the file\'s live key count is not known here; not compared' });
    }
    const failed = checks.filter((c) => !c.ok);
    report('compare', failed.length ? 'failed' : 'done', checks.map((c) => `${c.what}: ${c.actual}${c.expected !== undefined ? ` (file: ${c.expected})` : ''}${c.ok ? '' : ' MISMATCH'}`).join('; '));
    if (failed.length) {
      return result(
        false,
        `Trial restore failed: the restored member differs from the file (${failed.map((c) => `${c.what} ${c.actual}, file says ${c.expected}`).join('; ')}).`,
        { ...base, restored },
      );
    }
    return result(true, `Trial restore passed: the snapshot restores, and the member started from it serves revision ${answer.revision} with ${answer.keys} keys${figures.liveKeys !== undefined ? ', as the file says' : ''}.`, {
      ...base,
      restored,
    });
  } finally {
    conn?.close();
    if (proc) {
      await proc.stop();
    }
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    report('cleanup', 'done', `Stopped the throwaway member and removed ${tmp}`);
  }
}
