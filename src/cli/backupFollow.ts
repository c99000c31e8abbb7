/**
 * `etcd-backup backup follow --config FILE`: the change-log follower (a long-running process;
 * a systemd service with Restart=always). `etcd-backup backup fetch --to-revision N |
 * --to-time TIME -o FILE --config FILE`: a plain snapshot of any covered revision or time.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { parseIdentities } from '../core/backup/age';
import { loadPlan, readPlanPassword } from '../core/backup/plan';
import { acquireLock } from '../core/backup/lock';
import { EtcdBackupError, explain } from '../core/errors';
import { follow, FollowLog } from '../core/pitr/follower';
import { changelogDir } from '../core/pitr/followPlan';
import { materialize } from '../core/pitr/materialize';
import { openPitrStores } from '../core/pitr/planStores';
import { watchLauncher } from './followLaunch';
import { majorGc } from './gc';
import { command, helpText, parseCommand, stringValue } from './args';
import { fetchPitrSpec, followSpec } from './pitrSpecs';
import { CliUsageError } from './types';

const pitrStores = openPitrStores;

function logLine(l: FollowLog): void {
  process.stderr.write(`${new Date().toISOString()} ${l.level} ${l.event}: ${l.message}\n`);
}

export const followCommand = command(followSpec, async (values) => {
  const plan = await loadPlan(String(values.config));
  if (!plan.follow.enabled) {
    process.stderr.write(`note: ${plan.path} does not set follow.enabled: true; following anyway.\n`);
  }
  const log = (message: string): void => logLine({ level: 'warn', event: 'segment', message });
  // One follower per plan: a second one would write overlapping segments.
  const lockFile = join(plan.local.dir, `.etcd-backup-${plan.slug}.follow.lock`);
  const lock = await acquireLock(lockFile, plan.cluster.name).catch((err) => {
    if (explain(err).kind !== 'conflict') throw err;
    throw new EtcdBackupError(
      'conflict',
      `Another follower of "${plan.cluster.name}" is running (lock ${lockFile}): this one did nothing. Stop the other one first.`,
    );
  });
  const stores = await pitrStores(plan, { log, needRemote: false }).catch(async (err) => {
    await lock.release();
    throw err;
  });
  const password = await readPlanPassword(plan);
  const abort = new AbortController();
  // `on`, not `once`: a repeated signal (a terminal's Ctrl-C also passed on by ./followLaunch.ts) must not kill it mid-store.
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  watchLauncher(onSignal);
  try {
    await follow({
      cluster: plan.cluster,
      secrets: password !== undefined ? { password } : {},
      segments: stores.segments,
      snapshots: stores.snapshots,
      segmentSeconds: plan.follow.segmentSeconds,
      segmentBytes: Math.round(plan.follow.segmentMiB * 1024 * 1024),
      statusFile: stringValue(values, 'status-file') ?? join(changelogDir(plan.local.dir), 'follow-status.json'),
      signal: abort.signal,
      onLog: logLine,
      collectGarbage: majorGc(),
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    stores.close();
    await lock.release();
  }
  return 0;
});

/** Parse `--to-time`: ISO 8601 (a time without a zone is local time) or epoch seconds. */
export function parseToTime(text: string): Date {
  const t = text.trim();
  const d = /^\d+(\.\d+)?$/.test(t) ? new Date(Number(t) * 1000) : new Date(t);
  if (!t || Number.isNaN(d.getTime())) {
    throw new CliUsageError(`--to-time takes a time such as 2026-12-01T17:55:00Z or epoch seconds (got "${text}").`);
  }
  return d;
}

/** True when these arguments ask for a point in time (the engine's `backup fetch` hands them here). */
export function isPointInTimeFetch(args: string[]): boolean {
  return args.some((a) => /^--to-(revision|time)(=|$)/.test(a));
}

export async function fetchPointInTime(args: string[]): Promise<number> {
  const parsed = parseCommand(fetchPitrSpec, args);
  if (!parsed) {
    process.stdout.write(`${helpText(fetchPitrSpec)}\n`);
    return 0;
  }
  const str = (k: string): string | undefined => stringValue(parsed.values, k);
  if (Boolean(str('to-revision')) === Boolean(str('to-time')))
    throw new CliUsageError('give exactly one of --to-revision N and --to-time TIME.');
  const rev = str('to-revision');
  if (rev !== undefined && !/^\d+$/.test(rev)) throw new CliUsageError(`--to-revision takes a revision number (got "${rev}").`);
  const plan = await loadPlan(str('config') as string);
  const id = str('identity');
  const identities = id ? parseIdentities(await fs.readFile(id, 'utf8'), id) : undefined;
  const stores = await pitrStores(plan, { identities, log: (m) => process.stderr.write(`${m}\n`), needRemote: false });
  const json = str('write-out') === 'json';
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    const r = await materialize({
      segments: stores.segments,
      snapshots: stores.snapshots,
      toRevision: rev !== undefined ? Number(rev) : undefined,
      toTime: str('to-time') !== undefined ? parseToTime(str('to-time') as string) : undefined,
      output: str('output') as string,
      signal: abort.signal,
      onStep: json ? undefined : (m) => process.stderr.write(`${m}\n`),
    });
    if (json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    } else {
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      const when = r.revisionTime ? ` (recorded ${new Date(r.revisionTime).toISOString()})` : '';
      process.stdout.write(
        `Snapshot of revision ${r.revision}${when} saved at ${r.file}: ${r.keys} keys, from ${r.base.name} (revision ${r.base.revision}) ` +
          `+ ${r.replayed.revisions} revisions (${r.replayed.events} events) replayed; ` +
          `checks: ${r.checks.map((c) => `${c.what} ${c.ok ? 'ok' : 'FAILED'}`).join(', ')}.\n`,
      );
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    stores.close();
  }
}
