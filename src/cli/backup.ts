/**
 * `etcd-backup backup run|list|status|prune|fetch|schedule --config PLAN`: backups that run
 * themselves, over src/core/backup. Each subcommand's flags and help come from one spec
 * (./args.ts). Exit 0 on success; 1 when the work failed (a destination without the new
 * backup, a stale status, a refused fetch); 2 on bad usage.
 */
import { execFile } from 'child_process';
import { promises as fs, realpathSync } from 'fs';
import { isAbsolute, resolve } from 'path';
import { promisify } from 'util';
import { EtcdBackupError } from '../core/errors';
import type { BackupPlan } from '../core/backup/plan';
import { command, CommandSpec, helpText, ParsedValues, parseCommand, PLAN_FLAG, writeOutFlag } from './args';
import { fetchPitrSpec, followSpec } from './pitrSpecs';
import { CliCommand, CliUsageError } from './types';

const CONFIG = PLAN_FLAG;
const WRITE_OUT = writeOutFlag('simple', 'json');

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

async function plan(values: ParsedValues): Promise<BackupPlan> {
  const { loadPlan } = await import('../core/backup/plan');
  return loadPlan(String(values.config));
}

function json(values: ParsedValues): boolean {
  const w = values['write-out'];
  if (w !== undefined && w !== 'simple' && w !== 'json') throw new CliUsageError('-w takes simple or json.');
  return w === 'json';
}

function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 2 * 86400) return `${(s / 3600).toFixed(1)} h ago`;
  return `${(s / 86400).toFixed(1)} days ago`;
}

function parseTime(text: string, flag: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new CliUsageError(`--${flag} takes a time such as 2027-01-31T12:00:00Z (got "${text}").`);
  return d;
}

const runSpec: CommandSpec = {
  name: 'backup run',
  summary: 'run the plan once: save, check, upload (gzip, age), prune, record status and metrics',
  options: { config: CONFIG, 'write-out': WRITE_OUT },
  description:
    'Exit 0 only when every destination (local, and remote when configured) holds the new backup.\n' +
    'A second run of the same plan while one is in progress says so and exits 1 without doing anything.',
};

const run = command(runSpec, async (values) => {
  const asJson = json(values);
  const p = await plan(values);
  const { runBackup } = await import('../core/backup/run');
  const { batchGc, minorGc } = await import('./gc');
  batchGc();
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await runBackup(p, { log: err, signal: abort.signal, collectGarbage: minorGc() });
    if (asJson) out(JSON.stringify(r, null, 2));
    for (const d of r.destinations) {
      const line = d.ok ? `${d.destination}: ${d.name} (${d.sizeBytes} bytes) at ${d.where}` : `${d.destination}: FAILED: ${d.error}`;
      (asJson ? err : d.ok ? out : err)(line);
    }
    for (const pr of r.prune) {
      if (pr.removed.length) err(`Pruned ${pr.removed.length} ${pr.where} backup(s): ${pr.removed.map((x) => x.name).join(', ')}.`);
      if (pr.error) err(`Prune of ${pr.where} stopped: ${pr.error}`);
      if (pr.unfinished?.aborted.length)
        err(`Aborted ${pr.unfinished.aborted.length} unfinished upload(s) a run left: ${pr.unfinished.aborted.join(', ')}.`);
    }
    if (!r.ok)
      err(
        `etcd-backup backup run: the backup of "${p.cluster.name}" did not reach every destination (see above); recorded in ` +
          `${p.statusFile}.`,
      );
    return r.ok ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
});

const listSpec: CommandSpec = {
  name: 'backup list',
  summary: "the plan's local and remote backups, newest first, with size, revision, age and where",
  options: { config: CONFIG, 'write-out': WRITE_OUT, local: { type: 'boolean', help: 'only the local folder (no network)' } },
};

const list = command(listSpec, async (values) => {
  const asJson = json(values);
  const p = await plan(values);
  const { listLocal, listRemote } = await import('../core/backup/catalog');
  const local = await listLocal(p);
  let remote: Awaited<ReturnType<typeof listRemote>> | undefined;
  let remoteError: string | undefined;
  if (p.remote && !values.local) {
    const { openPlanStore } = await import('../core/backup/run');
    const store = await openPlanStore(p);
    try {
      remote = await listRemote(p, store);
    } catch (e) {
      remoteError = (e as Error).message;
    } finally {
      store.close();
    }
  }
  const rows = [...local.backups, ...(remote?.backups ?? [])].sort((a, b) => b.time.getTime() - a.time.getTime());
  if (asJson) {
    const backups = rows
      .map((b) => ({ ...b, time: b.time.toISOString(), revision: b.revision ?? null }))
      .map(({ name, where, time, size, revision, good }) => ({ name, where, time, size, revision, good }));
    const foreign = { local: local.foreign, remote: remote?.foreign ?? [] };
    out(JSON.stringify({ backups, foreign, remoteError: remoteError ?? null }, null, 2));
  } else {
    out(['NAME', 'WHERE', 'SIZE', 'REVISION', 'AGE', 'CHECKED'].join('\t'));
    for (const b of rows) {
      out([b.name, b.where, b.size, b.revision ?? '-', ago(Date.now() - b.time.getTime()), b.good ? 'yes' : 'no'].join('\t'));
    }
    if (local.foreign.length || remote?.foreign.length)
      err(
        `Not listed (not made by this plan, never touched): ` +
          `${[...local.foreign, ...(remote?.foreign ?? [])].length} file(s)/object(s).`,
      );
  }
  if (remoteError) err(`etcd-backup backup list: the remote backups could not be listed: ${remoteError}`);
  return remoteError ? 1 : 0;
});

const statusSpec: CommandSpec = {
  name: 'backup status',
  summary: "last success, last failure, consecutive failures, next run; exit 1 when a destination's newest good backup is stale",
  options: {
    config: CONFIG,
    'write-out': WRITE_OUT,
    now: { type: 'string', value: 'TIME', help: 'judge staleness at this time (ISO ' + '8601) instead of now' },
  },
  description: "Stale means older than twice the schedule's interval, or none at all: usable as a monitoring check on its own.",
};

const status = command(statusSpec, async (values) => {
  const asJson = json(values);
  const p = await plan(values);
  const { statusReport } = await import('../core/backup/status');
  const { formatDuration } = await import('../core/backup/schedule');
  const now = values.now ? parseTime(String(values.now), 'now') : new Date();
  const r = await statusReport(p, now);
  if (asJson) {
    const nextRun = r.nextRun?.toISOString() ?? null;
    const report = { cluster: p.cluster.name, schedule: p.schedule, intervalSeconds: r.intervalMs / 1000, nextRun };
    out(JSON.stringify({ ...report, stale: r.stale, lastRun: r.status?.lastRun ?? null, destinations: r.destinations }, null, 2));
  } else {
    out(
      `Cluster ${p.cluster.name}: schedule "${p.schedule}" (every ${formatDuration(r.intervalMs)} at most), next run ` +
        `${r.nextRun?.toISOString() ?? 'never'}.`,
    );
    for (const d of r.destinations) {
      const s = d.status;
      out(
        `${d.destination}: last success ` +
          `${s?.lastSuccess ? `${s.lastSuccess.at} (${ago(d.lastSuccessAgeMs)}, ${s.lastSuccess.name})` : 'never'}; consecutive failures ` +
          `${s?.consecutiveFailures ?? 0}${d.stale ? '; STALE' : ''}`,
      );
      if (s?.lastFailure) out(`  last failure ${s.lastFailure.at}: ${s.lastFailure.message}`);
    }
  }
  if (r.stale)
    err(
      `etcd-backup backup status: "${p.cluster.name}" has a destination without a good backup in the last ` +
        `${formatDuration(2 * r.intervalMs)}.`,
    );
  return r.stale ? 1 : 0;
});

const pruneSpec: CommandSpec = {
  name: 'backup prune',
  summary: "remove the backups the plan's keep rules let go (what run prunes), local and remote",
  options: {
    config: CONFIG,
    'write-out': WRITE_OUT,
    'dry-run': { type: 'boolean', help: 'list what would go and why; remove nothing' },
    now: { type: 'string', value: 'TIME', help: 'apply "within" rules at this time (ISO 8601)' },
  },
  description: 'Only backups this plan made (name and sidecar/metadata) are considered; the newest good backup always stays.',
};

const prune = command(pruneSpec, async (values) => {
  const asJson = json(values);
  const p = await plan(values);
  const { pruneLocal, pruneRemote, UNFINISHED_AFTER_HOURS } = await import('../core/backup/prune');
  const { acquireLock } = await import('../core/backup/lock');
  const opts = { dryRun: values['dry-run'] === true, now: values.now ? parseTime(String(values.now), 'now') : new Date() };
  const lock = opts.dryRun ? undefined : await acquireLock(p.lockFile, p.cluster.name);
  try {
    const reports = [await pruneLocal(p, opts)];
    if (p.remote) {
      const { openPlanStore } = await import('../core/backup/run');
      const store = await openPlanStore(p);
      try {
        reports.push(await pruneRemote(p, store, opts));
      } catch (e) {
        reports.push({ where: 'remote', removed: [], kept: [], error: (e as Error).message });
      } finally {
        store.close();
      }
    }
    if (asJson) out(JSON.stringify(reports, null, 2));
    else {
      for (const r of reports) {
        for (const x of r.removed) out(`${opts.dryRun ? 'would remove' : 'removed'} ${r.where} ${x.name}: ${x.reasons.join(', ')}`);
        for (const x of r.kept) out(`keep ${r.where} ${x.name}: ${x.reasons.join(', ')}`);
        for (const x of r.unfinished?.aborted ?? []) {
          out(`${opts.dryRun ? 'would abort' : 'aborted'} ${r.where} unfinished upload ${x}: started over ${UNFINISHED_AFTER_HOURS} h ago`);
        }
        for (const x of r.unfinished?.left ?? []) out(`leave ${r.where} unfinished upload ${x}: younger than ${UNFINISHED_AFTER_HOURS} h`);
        if (r.unfinished?.note) out(`${r.where} unfinished uploads not looked at: ${r.unfinished.note}`);
      }
    }
    const failedReports = reports.filter((r) => r.error);
    failedReports.forEach((r) => err(`etcd-backup backup prune: ${r.where}: ${r.error}`));
    return failedReports.length ? 1 : 0;
  } finally {
    await lock?.release();
  }
});

const fetchSpec: CommandSpec = {
  name: 'backup fetch',
  summary: 'download (or copy), decrypt, decompress and verify one backup into a plain snapshot file',
  options: {
    config: CONFIG,
    latest: { type: 'boolean', help: 'the newest good backup' },
    name: { type: 'string', value: 'NAME', help: 'this backup (a name from `backup list`)' },
    identity: { type: 'string', short: 'i', value: 'FILE', help: "age key file (age-keygen) of one of the plan's recipients" },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'where to write the snapshot (never overwritten)', required: true },
    from: { type: 'string', value: 'WHERE', help: 'local, remote or auto (default: local when it holds the backup)' },
    'write-out': WRITE_OUT,
  },
  description: 'Refuses a backup whose stored or plain SHA-256 does not match its metadata; never leaves a partial file.',
};

const fetchCmd = command(fetchSpec, async (values) => {
  const asJson = json(values);
  if (Boolean(values.latest) === Boolean(values.name)) throw new CliUsageError('give exactly one of --latest and --name NAME.');
  const from = (values.from ?? 'auto') as string;
  if (!['local', 'remote', 'auto'].includes(from)) throw new CliUsageError('--from takes local, remote or auto.');
  const p = await plan(values);
  const { fetchBackup } = await import('../core/backup/fetch');
  let identities;
  if (values.identity) {
    const { parseIdentities } = await import('../core/backup/age');
    const file = String(values.identity);
    identities = parseIdentities(await fs.readFile(file, 'utf8'), file);
  }
  const name = values.name as string | undefined;
  const latest = values.latest === true;
  const r = await fetchBackup(p, { name, latest, out: String(values.output), identities, from: from as 'auto', log: err });
  if (asJson) out(JSON.stringify(r, null, 2));
  else out(`Fetched ${r.name} from ${r.from} into ${r.file} (${r.size} bytes, SHA-256 ${r.sha256}; checked).`);
  return 0;
});

const scheduleSpec: CommandSpec = {
  name: 'backup schedule',
  summary: 'the systemd service and timer for the plan: printed, or written to /etc/systemd/system with --write',
  options: {
    config: CONFIG,
    print: { type: 'boolean', help: 'print the units (the default)' },
    write: { type: 'boolean', help: 'write the units, then daemon-reload and enable --now the timer where systemd runs' },
    'unit-dir': { type: 'string', value: 'DIR', help: 'where --write puts the units (default /etc/systemd/system)' },
    cli: { type: 'string', value: 'PATH', help: 'the etcd-backup CLI for ExecStart (default: this one)' },
  },
};

/** ExecStart's words for this CLI: node and the bundled script, or an executable as given. */
function cliCommand(given: string | undefined): string[] {
  const script = given ?? process.argv[1];
  if (!script || !isAbsolute(resolve(script)))
    throw new EtcdBackupError('invalidInput', 'Cannot tell where this CLI lives: give --cli ' + 'PATH.');
  const abs = realpathSync(resolve(script));
  if (/\.(c|m)?js$/.test(abs)) return [process.execPath, abs];
  if (/\.ts$/.test(abs))
    throw new EtcdBackupError(
      'invalidInput',
      `${abs} is the TypeScript source: build the CLI (npm run build) and ` + `give --cli dist/cli.js.`,
    );
  return [abs];
}

const schedule = command(scheduleSpec, async (values) => {
  const p = await plan(values);
  const { planUnits, writeUnits, systemdRuns } = await import('../core/backup/units');
  const units = planUnits(p, cliCommand(values.cli as string | undefined));
  // The change-log follower's service, when the plan enables it (src/core/pitr/units.ts).
  const followSvc = p.follow.enabled
    ? (await import('../core/pitr/units')).followUnit(p, cliCommand(values.cli as string | undefined))
    : undefined;
  if (!values.write) {
    out(
      `# ${units.serviceName}\n${units.service}\n# ` +
        `${units.timerName}\n${units.timer}${followSvc ? `\n# ${followSvc.name}\n${followSvc.text}` : ''}`,
    );
    return 0;
  }
  const dir = String(values['unit-dir'] ?? '/etc/systemd/system');
  const paths = await writeUnits(units, dir);
  if (followSvc) paths.push(await (await import('../core/pitr/units')).writeFollowUnit(followSvc, dir));
  out(`Wrote ${paths.join(' and ')}.`);
  const enable = [units.timerName, ...(followSvc ? [followSvc.name] : [])];
  if (values['unit-dir'] === undefined && (await systemdRuns())) {
    const run = promisify(execFile);
    await run('systemctl', ['daemon-reload']);
    await run('systemctl', ['enable', '--now', ...enable]);
    out(`Enabled and started ${enable.join(' and ')}.`);
  } else {
    out(`Next: systemctl daemon-reload && systemctl enable --now ${enable.join(' ')}`);
  }
  return 0;
});

/** `fetch --to-revision N | --to-time TIME` is the point-in-time fetch (./backupFollow.ts). */
const fetchAny: CliCommand = {
  summary: `${fetchSpec.summary}; or, with --to-revision N | --to-time TIME, a snapshot of any point the change log covers`,
  specs: [fetchSpec, fetchPitrSpec],
  run: async (args) => {
    if (args.includes('--help') || args.includes('-h')) {
      out(`${helpText(fetchSpec)}\n\nOr a point in time:\n${helpText(fetchPitrSpec)}`);
      return 0;
    }
    const pitr = await import('./backupFollow');
    return pitr.isPointInTimeFetch(args) ? pitr.fetchPointInTime(args) : fetchCmd.run(args);
  },
};

const follow: CliCommand = {
  summary: followSpec.summary,
  specs: [followSpec],
  run: async (args) => {
    // Help and bad arguments are answered here; following needs the follower's V8 flags (./followLaunch.ts).
    let valid = false;
    try {
      valid = parseCommand(followSpec, args) !== undefined;
    } catch {
      // the usage error comes from the command itself
    }
    const relaunched = valid ? (await import('./followLaunch')).relaunchFollower() : undefined;
    return relaunched ? await relaunched : (await import('./backupFollow')).followCommand.run(args);
  },
};

export const backupCommands: Record<string, CliCommand> = { run, list, status, prune, fetch: fetchAny, schedule, follow };
