/**
 * `etcd-backup backup follow --config FILE`: the change-log follower (a long-running process;
 * a systemd service with Restart=always). `etcd-backup backup fetch --to-revision N |
 * --to-time TIME -o FILE --config FILE`: a plain snapshot of any covered revision or time.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { parse } from 'yaml';
import { follow, FollowLog } from '../core/pitr/follower';
import { changelogDir, PitrPlan, pitrPlanFrom } from '../core/pitr/followPlan';
import { LocalFullSnapshots } from '../core/pitr/local';
import { materialize } from '../core/pitr/materialize';
import { FullSnapshots, LocalSegmentStore, SegmentStore } from '../core/pitr/store';
import { CliCommand, CliUsageError, parseFlags } from './types';

const FOLLOW_USAGE = `Usage: etcd-backup backup follow --config FILE [--status-file FILE]

Watches the plan's cluster and stores every change after the newest full snapshot as change-log
segments (rolled every follow.segmentSeconds or follow.segmentMiB), resuming after the last
stored segment when restarted. Runs until SIGTERM or SIGINT, then stores the open segment.
The password of the plan's user comes from ETCDCTL_PASSWORD.`;

export const FETCH_PITR_USAGE = `Usage: etcd-backup backup fetch (--to-revision N | --to-time TIME) -o FILE --config FILE [-w json]

Builds a plain snapshot file of the cluster as it was at revision N (or at the last revision
recorded at or before TIME, e.g. 2026-12-01T17:55:00Z): the newest full snapshot at or before
it, restored into a throwaway etcd on loopback, with the change log replayed on top, checked,
and saved with a SHA-256 trailer (etcdctl snapshot restore accepts it). Never overwrites FILE.`;

/** The plan file, read and checked (the part the point-in-time commands need). */
export async function loadPitrPlan(file: string): Promise<PitrPlan> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliUsageError(`cannot read the plan ${file} (${err.code ?? err.message}).`);
  });
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CliUsageError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return pitrPlanFrom(doc, file);
}

/** Where a plan's segments and full snapshots live. */
export async function pitrStores(plan: PitrPlan): Promise<{ segments: SegmentStore; snapshots: FullSnapshots }> {
  const secrets = process.env.ETCDCTL_PASSWORD !== undefined ? { password: process.env.ETCDCTL_PASSWORD } : {};
  return {
    segments: new LocalSegmentStore(changelogDir(plan.localDir)),
    snapshots: new LocalFullSnapshots(plan.localDir, { cluster: plan.cluster, secrets }),
  };
}

function logLine(l: FollowLog): void {
  process.stderr.write(`${new Date().toISOString()} ${l.level} ${l.event}: ${l.message}\n`);
}

export const followCommand: CliCommand = {
  summary: 'record every change after the newest full snapshot as change-log segments (long-running)',
  async run(args: string[]): Promise<number> {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(`${FOLLOW_USAGE}\n`);
      return 0;
    }
    const { flags } = parseFlags(args, { strings: ['config', 'status-file'] });
    if (typeof flags.config !== 'string') throw new CliUsageError(`give the plan with --config FILE.\n${FOLLOW_USAGE}`);
    const plan = await loadPitrPlan(flags.config);
    if (!plan.follow.enabled) {
      process.stderr.write(`note: ${plan.file} does not set follow.enabled: true; following anyway.\n`);
    }
    const stores = await pitrStores(plan);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await follow({
        cluster: plan.cluster,
        secrets: process.env.ETCDCTL_PASSWORD !== undefined ? { password: process.env.ETCDCTL_PASSWORD } : {},
        ...stores,
        segmentSeconds: plan.follow.segmentSeconds,
        segmentBytes: Math.round(plan.follow.segmentMiB * 1024 * 1024),
        statusFile: typeof flags['status-file'] === 'string' ? flags['status-file'] : join(changelogDir(plan.localDir), 'follow-status.json'),
        signal: abort.signal,
        onLog: logLine,
      });
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    return 0;
  },
};

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
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${FETCH_PITR_USAGE}\n`);
    return 0;
  }
  const { flags } = parseFlags(args, { strings: ['config', 'to-revision', 'to-time', 'output', 'write-out', 'identity'], aliases: { o: 'output', w: 'write-out' } });
  const str = (k: string): string | undefined => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  if (!str('config')) throw new CliUsageError(`give the plan with --config FILE.\n${FETCH_PITR_USAGE}`);
  if (!str('output')) throw new CliUsageError('give the snapshot file to write with -o FILE.');
  if (Boolean(str('to-revision')) === Boolean(str('to-time'))) throw new CliUsageError('give exactly one of --to-revision N and --to-time TIME.');
  const rev = str('to-revision');
  if (rev !== undefined && !/^\d+$/.test(rev)) throw new CliUsageError(`--to-revision takes a revision number (got "${rev}").`);
  const plan = await loadPitrPlan(str('config') as string);
  const stores = await pitrStores(plan);
  const json = str('write-out') === 'json';
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    const r = await materialize({
      ...stores,
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
          `+ ${r.replayed.revisions} revisions (${r.replayed.events} events) replayed; checks: ${r.checks.map((c) => `${c.what} ${c.ok ? 'ok' : 'FAILED'}`).join(', ')}.\n`,
      );
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

/** The point-in-time commands, until they join the engine's `backup` group. */
export const pitrCommands: Record<string, CliCommand> = {
  follow: followCommand,
  fetch: { summary: 'a plain snapshot of any covered revision or time (--to-revision N | --to-time TIME)', run: fetchPointInTime },
};
