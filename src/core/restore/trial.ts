/**
 * The trial restore: prove that a snapshot restores by restoring it into a temporary folder,
 * starting a throwaway etcd on free loopback ports, and comparing what it serves with the file.
 * The temporary folder is named with this process's PID (`etcd-backup-trial-p<pid>-*`); one left
 * by a run that was killed (its PID gone) is removed at the next start, with the throwaway etcd
 * that may still run in it.
 */
import { ChildProcess, spawn } from 'child_process';
import { constants as fsConstants, promises as fs } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { findEtcdServer, findRestoreTool, FoundTool, restoreArgs, RestoreTool, ToolPaths } from '../tools';
import { processesHolding } from './processes';
import { runTool } from './runTool';
import { checkSnapshotForRestore, SnapshotCheck, snapshotFigures, SnapshotFigures } from './snapshotCheck';
import { processAlive } from './target';

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

/** setpriv(1), when it is there: the throwaway etcd then dies with this process, even on SIGKILL. */
let setprivPath: string | null | undefined;
async function deathSignalWrapper(): Promise<string | undefined> {
  if (setprivPath === undefined) {
    setprivPath = (await fs.access('/usr/bin/setpriv', fsConstants.X_OK).then(
      () => true,
      () => false,
    ))
      ? '/usr/bin/setpriv'
      : null;
  }
  return setprivPath ?? undefined;
}

async function startEtcd(etcdPath: string, args: string[]): Promise<EtcdProcess> {
  const wrapper = await deathSignalWrapper();
  const child = wrapper
    ? spawn(wrapper, ['--pdeathsig', 'KILL', '--', etcdPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(etcdPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const bad =
    [...lines].reverse().find((l) => /"level":"(fatal|panic|error)"|\b(fatal|panic|error)\b/i.test(l)) ?? lines[lines.length - 1] ?? '';
  try {
    const j = JSON.parse(bad) as { msg?: string; error?: string };
    return [j.msg, j.error].filter(Boolean).join(': ');
  } catch {
    return bad.trim().slice(0, 300);
  }
}

const TRIAL_PREFIX = 'etcd-backup-trial-';
const TRIAL_TOKEN = 'etcd-backup-trial';

/**
 * Remove the temporary folders of trial restores whose process is gone (killed, or the editor
 * closed mid-way), after stopping the throwaway etcd still serving from one (recognised by its
 * trial token and a data dir inside that folder: nothing else is ever stopped).
 */
export async function cleanStaleTrials(parent: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(parent).catch(() => [] as string[])) {
    const m = new RegExp(`^${TRIAL_PREFIX}p(\\d+)-`).exec(name);
    if (!m || (await processAlive(Number(m[1])))) continue;
    const dir = join(parent, name);
    const { holders } = await processesHolding(dir).catch(() => ({ holders: [] }));
    for (const h of holders) {
      if (h.argv.includes(`--initial-cluster-token=${TRIAL_TOKEN}`) && h.argv.some((a) => a.startsWith(`--data-dir=${dir}/`))) {
        try {
          process.kill(h.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    await new Promise((r) => setTimeout(r, holders.length ? 200 : 0));
    await fs.rm(dir, { recursive: true, force: true }).then(
      () => removed.push(dir),
      () => undefined,
    );
  }
  return removed;
}

/** One trial run: its steps, checks and the result it builds. */
class TrialRun {
  readonly steps: TrialStep[] = [];
  readonly checks: TrialCheck[] = [];
  readonly started = Date.now();
  base: Partial<TrialRestoreResult> = {};
  constructor(
    readonly path: string,
    readonly opts: TrialRestoreOptions,
  ) {}
  report(step: TrialStepId, state: TrialStep['state'], message: string): void {
    const s = { step, state, message, at: Date.now() };
    this.steps.push(s);
    this.opts.onStep?.(s);
  }
  result(ok: boolean, verdict: string, extra: Partial<TrialRestoreResult> = {}): TrialRestoreResult {
    const durationMs = Date.now() - this.started;
    return { ok, verdict, snapshot: { path: this.path }, checks: this.checks, steps: this.steps, durationMs, ...this.base, ...extra };
  }
  failed(step: TrialStepId, reason: string, verdictReason = reason): TrialRestoreResult {
    this.report(step, 'failed', reason);
    return this.result(false, `Trial restore failed: ${verdictReason}`);
  }
  aborted(): void {
    if (this.opts.signal?.aborted) throw new EtcdBackupError('cancelled', 'Cancelled.');
  }
}

/** The file is sound (and hashed, unless told), and its own figures; a failed result otherwise. */
async function checkFile(run: TrialRun): Promise<TrialRestoreResult | SnapshotFigures> {
  const { path, opts } = run;
  run.report('verify', 'running', `Verifying ${path}`);
  const check = await checkSnapshotForRestore(path, { signal: opts.signal });
  run.base.snapshot = { path, check };
  if (!check.ok) return run.failed('verify', check.reason ?? 'cannot be restored');
  if (!check.hasHash && !opts.skipHashCheck) {
    const how = 'run the trial with --skip-hash-check if it is a member/snap/db copied out of a data dir.';
    return run.failed('verify', `${path} has no SHA-256 trailer, so its integrity cannot be checked: ${how}`);
  }
  run.report('verify', 'done', check.summary);
  run.aborted();
  run.report('figures', 'running', 'Reading the revision and key count from the file');
  let figures: SnapshotFigures;
  try {
    figures = await snapshotFigures(path, undefined, { signal: opts.signal });
  } catch (err) {
    const reason = `the file's figures could not be read (${explain(err).message})`;
    return run.failed('figures', reason, `${reason}.`);
  }
  run.base.snapshot = { path, check, figures };
  const keys = figures.liveKeys !== undefined ? `, ${figures.liveKeys} live keys` : '';
  run.report('figures', 'done', `revision ${figures.revision ?? '?'}${keys} (${figures.source})`);
  return figures;
}

/** Wait until the throwaway member answers; its revision and key count, or why it did not. */
type MemberAnswer = { answer: { revision: number; keys: number }; version?: string; memberId?: string };

async function readMember(run: TrialRun, proc: EtcdProcess, clientUrl: string): Promise<MemberAnswer | string> {
  // Loaded here, not at the top: etcd3 parses its protos when first required.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { EtcdConnection } = require('../etcd') as typeof import('../etcd');
  const conn = await EtcdConnection.open({ name: 'trial restore', endpoints: [clientUrl], timeoutMs: 2000 });
  try {
    const limit = run.opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + limit;
    let lastErr = '';
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void proc.exited.then((x) => (exit = x));
    for (;;) {
      run.aborted();
      if (exit) {
        const why = etcdFailure(proc.output());
        run.report('start', 'failed', `etcd exited (${exit.signal ?? `status ${exit.code}`}): ${why}`);
        return `the restored member did not start (etcd: ${why || `exit status ${exit.code}`}).`;
      }
      if (Date.now() > deadline) {
        run.report('start', 'failed', `No answer within ${limit} ms: ${lastErr}`);
        return `the restored member did not answer within ${Math.round(limit / 1000)} s (${lastErr || etcdFailure(proc.output())}).`;
      }
      try {
        const res = await conn.client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
        const answer = { revision: Number(res.header.revision), keys: Number(res.count) };
        const st = await conn.endpointStatus(clientUrl).catch(() => undefined);
        return { answer, version: st?.version, memberId: st?.memberId };
      } catch (err) {
        lastErr = explain(err).message;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    conn.close();
  }
}

/** Compare what the member serves with the file's own figures. */
function compare(run: TrialRun, figures: SnapshotFigures, restored: NonNullable<TrialRestoreResult['restored']>): TrialRestoreResult {
  const { checks } = run;
  run.report('compare', 'running', 'Comparing with the file');
  const pair = (what: string, expected: number, actual: number): TrialCheck => {
    return { what, ok: actual === expected, expected: String(expected), actual: String(actual) };
  };
  if (figures.revision !== undefined) checks.push(pair('revision', figures.revision, restored.revision));
  if (figures.liveKeys !== undefined) {
    checks.push(pair('keys', figures.liveKeys, restored.keys));
  } else {
    const note = "the file's live key count is not known here; not compared";
    checks.push({ what: 'keys', ok: true, actual: String(restored.keys), note });
  }
  const failed = checks.filter((c) => !c.ok);
  const file = (c: TrialCheck): string => (c.expected !== undefined ? ` (file: ${c.expected})` : '');
  const line = checks.map((c) => `${c.what}: ${c.actual}${file(c)}${c.ok ? '' : ' MISMATCH'}`).join('; ');
  run.report('compare', failed.length ? 'failed' : 'done', line);
  if (failed.length) {
    const diff = failed.map((c) => `${c.what} ${c.actual}, file says ${c.expected}`).join('; ');
    return run.result(false, `Trial restore failed: the restored member differs from the file (${diff}).`, { restored });
  }
  const as = figures.liveKeys !== undefined ? ', as the file says' : '';
  const serves = `serves revision ${restored.revision} with ${restored.keys} keys${as}`;
  return run.result(true, `Trial restore passed: the snapshot restores, and the member started from it ${serves}.`, { restored });
}

/** Restore into `dataDir`, start the throwaway member, read it, compare. */
async function restoreStartCompare(
  run: TrialRun,
  tool: RestoreTool,
  etcd: FoundTool,
  figures: SnapshotFigures,
  dataDir: string,
): Promise<TrialRestoreResult> {
  const [peerPort, clientPort] = [await freePort(), await freePort()];
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const cluster = { name: 'trial', initialCluster: `trial=${peerUrl}`, initialAdvertisePeerUrls: peerUrl };
  const token = { initialClusterToken: TRIAL_TOKEN };
  run.report('restore', 'running', `Restoring into ${dataDir}`);
  try {
    const args = restoreArgs({ snapshot: run.path, ...cluster, ...token, dataDir, skipHashCheck: run.opts.skipHashCheck });
    await runTool(tool, args, run.opts.signal);
  } catch (err) {
    const e = explain(err);
    if (e.kind === 'cancelled') throw e;
    return run.failed('restore', e.message);
  }
  run.report('restore', 'done', `Restored with ${tool.kind}`);
  run.aborted();
  run.report('start', 'running', `Starting a throwaway etcd on ${clientUrl}`);
  const proc = await startEtcd(etcd.path, [
    '--name=trial',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${cluster.initialCluster}`,
    `--initial-cluster-token=${TRIAL_TOKEN}`,
    '--log-level=warn',
  ]);
  try {
    const read = await readMember(run, proc, clientUrl);
    if (typeof read === 'string') return run.result(false, `Trial restore failed: ${read}`);
    run.report('start', 'done', `etcd ${read.version ?? ''} answered on ${clientUrl}`.replace(/\s+/g, ' '));
    run.report('read', 'done', `revision ${read.answer.revision}, ${read.answer.keys} keys`);
    return compare(run, figures, { ...read.answer, version: read.version, memberId: read.memberId, clientUrl });
  } finally {
    await proc.stop();
  }
}

/**
 * Prove that a snapshot restores: restore it into a temporary directory, start a throwaway etcd
 * member on free loopback ports, read its revision and key count through the API, compare them
 * with the file's own figures, stop the member and remove the directory. Problems with the file
 * are a failed verdict (`ok: false`), not an exception; a missing tool throws.
 */
export async function trialRestore(snapshotPath: string, opts: TrialRestoreOptions = {}): Promise<TrialRestoreResult> {
  const run = new TrialRun(resolve(snapshotPath), opts);
  const parent = opts.tempParent ?? tmpdir();
  const stale = await cleanStaleTrials(parent);
  if (stale.length) run.report('cleanup', 'done', `Removed what earlier trial restores that were stopped left behind: ${stale.join(', ')}`);
  // Tools first: a missing tool is the machine's problem, not the file's (it throws).
  run.report('tool', 'running', 'Looking for the restore tool and etcd');
  const tool = opts.tool ?? (await findRestoreTool(opts.toolPaths));
  const etcd = opts.etcd ?? (await findEtcdServer(opts.toolPaths));
  run.base = { tool: { kind: tool.kind, path: tool.path, version: tool.version }, etcd: { path: etcd.path, version: etcd.version } };
  const found = `${tool.kind} ${tool.version ?? ''} at ${tool.path}; etcd ${etcd.version ?? ''} at ${etcd.path}`;
  run.report('tool', 'done', found.replace(/\s+/g, ' '));
  const figures = await checkFile(run);
  if ('ok' in figures) return figures;
  run.aborted();
  const tmp = await fs.mkdtemp(join(parent, `${TRIAL_PREFIX}p${process.pid}-`));
  try {
    return await restoreStartCompare(run, tool, etcd, figures, join(tmp, 'data'));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    run.report('cleanup', 'done', `Stopped the throwaway member and removed ${tmp}`);
  }
}
