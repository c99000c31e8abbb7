/**
 * The outcome of a plan's runs: a status file (JSON, 0600) with, per destination, the last
 * success, the last failure with its sentence and the count of consecutive failures; and the
 * node_exporter textfile metrics derived from it. Both are written through a temp file and a
 * rename, so a reader never sees half a file.
 *
 * Status file format: { format: "etcd-backup/backup-status", version: 1, cluster, plan,
 *   lastRun: { at, ok, name?, durationSeconds, message? },
 *   destinations: { local|remote: { lastSuccess?: { at, name, sizeBytes, durationSeconds },
 *                   lastFailure?: { at, message, kind }, consecutiveFailures } } }
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import { basename, dirname, join } from 'path';
import type { ErrorKind } from '../errors';
import type { BackupPlan } from './plan';
import { parseCalendar } from './schedule';

export type Destination = 'local' | 'remote';

export interface DestinationStatus {
  lastSuccess?: { at: string; name: string; sizeBytes: number; durationSeconds: number };
  lastFailure?: { at: string; message: string; kind: ErrorKind };
  consecutiveFailures: number;
}

export interface PlanStatus {
  format: 'etcd-backup/backup-status';
  version: 1;
  cluster: string;
  plan: string;
  lastRun?: { at: string; ok: boolean; name?: string; durationSeconds: number; message?: string };
  destinations: Partial<Record<Destination, DestinationStatus>>;
}

/** What one run did for one destination. */
export interface DestinationOutcome {
  destination: Destination;
  ok: boolean;
  where: string;
  name?: string;
  sizeBytes?: number;
  durationSeconds: number;
  error?: string;
  errorKind?: ErrorKind;
}

/** The destinations a plan writes to. */
export function destinationsOf(plan: BackupPlan): Destination[] {
  return plan.remote ? ['local', 'remote'] : ['local'];
}

/** Write `text` to `file` through a 0600 temp file in the same folder, fsync and rename. */
export async function writeFileAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'wx', mode);
    await fh.writeFile(text);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

export async function readStatus(plan: BackupPlan): Promise<PlanStatus | undefined> {
  try {
    const j = JSON.parse(await fs.readFile(plan.statusFile, 'utf8')) as PlanStatus;
    return j?.format === 'etcd-backup/backup-status' ? j : undefined;
  } catch {
    return undefined;
  }
}

/** Fold one run's outcomes into the status file and rewrite the metrics file. Returns the new status. */
export async function recordRun(
  plan: BackupPlan,
  run: { at: Date; ok: boolean; name?: string; durationSeconds: number; message?: string; outcomes: DestinationOutcome[] },
): Promise<PlanStatus> {
  const old = await readStatus(plan);
  const status: PlanStatus = {
    format: 'etcd-backup/backup-status',
    version: 1,
    cluster: plan.cluster.name,
    plan: plan.path,
    destinations: old?.destinations ?? {},
  };
  const at = run.at.toISOString();
  status.lastRun = { at, ok: run.ok, durationSeconds: run.durationSeconds };
  if (run.name) status.lastRun.name = run.name;
  if (run.message) status.lastRun.message = run.message;
  for (const d of destinationsOf(plan)) {
    const o = run.outcomes.find((x) => x.destination === d);
    const cur: DestinationStatus = status.destinations[d] ?? { consecutiveFailures: 0 };
    if (o?.ok && o.name) {
      cur.lastSuccess = { at, name: o.name, sizeBytes: o.sizeBytes ?? 0, durationSeconds: o.durationSeconds };
      cur.consecutiveFailures = 0;
    } else {
      cur.lastFailure = {
        at,
        message: o?.error ?? run.message ?? 'The run stopped before this ' + 'destination.',
        kind: o?.errorKind ?? 'internal',
      };
      cur.consecutiveFailures = (cur.consecutiveFailures ?? 0) + 1;
    }
    status.destinations[d] = cur;
  }
  await writeFileAtomic(plan.statusFile, `${JSON.stringify(status, null, 2)}\n`);
  if (plan.metricsFile) await writeFileAtomic(plan.metricsFile, metricsText(plan, status), 0o644);
  return status;
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** node_exporter textfile format for a status. */
export function metricsText(plan: BackupPlan, status: PlanStatus): string {
  const rows: [string, string, (d: DestinationStatus) => number][] = [
    [
      'etcd_backup_last_success_timestamp_seconds',
      'Unix time of the last backup that reached the destination (0: none ' + 'yet).',
      (d) => (d.lastSuccess ? Date.parse(d.lastSuccess.at) / 1000 : 0),
    ],
    [
      'etcd_backup_last_duration_seconds',
      'Seconds the last successful backup to the destination ' + 'took.',
      (d) => d.lastSuccess?.durationSeconds ?? 0,
    ],
    [
      'etcd_backup_last_size_bytes',
      'Size of the last successful backup at the destination, as ' + 'stored.',
      (d) => d.lastSuccess?.sizeBytes ?? 0,
    ],
    ['etcd_backup_consecutive_failures', 'Runs in a row that did not put a backup at the destination.', (d) => d.consecutiveFailures ?? 0],
    [
      'etcd_backup_last_failure_timestamp_seconds',
      'Unix time of the last run that failed for the destination (0: ' + 'none).',
      (d) => (d.lastFailure ? Date.parse(d.lastFailure.at) / 1000 : 0),
    ],
  ];
  const out: string[] = [];
  for (const [name, help, get] of rows) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const d of destinationsOf(plan)) {
      const ds = status.destinations[d] ?? { consecutiveFailures: 0 };
      out.push(`${name}{cluster="${label(plan.cluster.name)}",destination="${d}"} ${get(ds)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export interface StatusReport {
  status?: PlanStatus;
  /** Longest gap between two scheduled runs, in ms. */
  intervalMs: number;
  nextRun?: Date;
  /** Per destination: the age of its last success and whether it is stale (older than 2 × interval, or none). */
  destinations: { destination: Destination; lastSuccessAgeMs?: number; stale: boolean; status?: DestinationStatus }[];
  /** True when any destination is stale: `backup status` exits 1 then. */
  stale: boolean;
}

/** The status file read against the schedule at `now`. */
export async function statusReport(plan: BackupPlan, now = new Date()): Promise<StatusReport> {
  const status = await readStatus(plan);
  const cal = parseCalendar(plan.schedule);
  const intervalMs = cal.intervalMs(now);
  const destinations = destinationsOf(plan).map((destination) => {
    const ds = status?.destinations[destination];
    const age = ds?.lastSuccess ? now.getTime() - Date.parse(ds.lastSuccess.at) : undefined;
    return { destination, lastSuccessAgeMs: age, stale: age === undefined || age > 2 * intervalMs, status: ds };
  });
  return { status, intervalMs, nextRun: cal.next(now), destinations, stale: destinations.some((d) => d.stale) };
}
