/**
 * `etcd-backup snapshot save <file|folder> --endpoints <url> [TLS and auth flags]`: the same
 * core as VS Code's Take Snapshot, with etcdctl's flag names. Progress on stderr; the saved
 * path on stdout ("Snapshot saved at ...", as etcdctl prints it). Exit 0 when saved, 1 when
 * not (nothing is left behind then), 2 on bad usage, 130 when interrupted.
 */
import { promises as fs } from 'fs';
import { dirname, join, resolve } from 'path';
import { MAX_TIMEOUT_MS, MAX_TIMER_MS, MIN_TIMEOUT_MS, normalizeEndpoint } from '../core/config';
import { EtcdBackupError } from '../core/errors';
import { formatBytes, formatSaveProgress, saveSnapshot, SaveProgress, snapshotFileName } from '../core/snapshot/save';
import type { ClusterConfig, ClusterSecrets } from '../core/types';
import { checkV2Store, v2SaveWarning } from '../core/v2store';
import { minorGc } from './gc';
import { command, CommandSpec, ParsedValues, stringValue, writeOutFlag } from './args';
import { CliUsageError } from './types';

const FILE = { type: 'string', value: 'FILE' } as const;
const DURATION = { type: 'string', value: 'DURATION' } as const;

export const saveSpec: CommandSpec = {
  name: 'snapshot save',
  summary: 'save a snapshot from one member: SHA-256 checked, 0600, never overwrites, with a sidecar',
  positionals: { usage: '<file|folder>', min: 1, max: 1, sentence: 'give exactly one file or folder to save to.' },
  options: {
    endpoints: {
      type: 'string',
      alias: 'endpoint',
      value: 'URL',
      help: 'the ONE member to snapshot (https:// assumed with TLS flags, else http://)',
      required: true,
      ifMissing: () => 'give the member to snapshot with --endpoints, e.g. --endpoints https://10.0.0.11:2379.',
    },
    cacert: { ...FILE, help: 'CA bundle that signed the server certificate' },
    cert: { ...FILE, help: 'client certificate (with --key)' },
    key: { ...FILE, help: 'client key (with --cert)' },
    'insecure-skip-tls-verify': { type: 'boolean', help: "TLS without checking the server's certificate" },
    user: { type: 'string', value: 'U[:P]', help: 'user name, and password after a colon' },
    password: { type: 'string', value: 'P', help: 'password of --user (or ETCDCTL_PASSWORD)' },
    'dial-timeout': { ...DURATION, help: 'time to connect, 100ms to 10m (default 5s)' },
    'command-timeout': { ...DURATION, help: 'deadline for the whole save (default: none, as etcdctl)' },
    'stall-timeout': { ...DURATION, help: 'give up when the stream stalls this long (default 30s)' },
    'write-out': writeOutFlag('simple', 'json'),
  },
  description: `Streams a snapshot from ONE member (etcd's Maintenance.Snapshot) into a temp file
<file>.<pid>-<random>.part (mode 0600, created exclusively), checks the SHA-256 trailer etcd
sends, fsyncs, reads the saved revision from the file, then gives the sidecar
<file without .db>.json (the member list) and the snapshot their names. Neither ever replaces
an existing file: when either name is taken, nothing is saved. When <file> is a folder, the
file is named <YYYYMMDD_HHMMSS>_snapshot.db inside it.
The password may also come from ETCDCTL_PASSWORD. No deadline unless --command-timeout is set
(as etcdctl); the save gives up when the stream stalls for --stall-timeout (30 s). Durations
are Go-style (5s, 500ms, 2m, 1m30s) or seconds, at most 596h (about 24 days).
A snapshot holds no v2 keys: when the member's v2 API lists some, a warning on stderr says how
many and gives the ETCDCTL_API=2 etcdctl backup command that keeps them.`,
};

/** A duration for a sentence: "596h 31m", "10m", "1.5s". */
function durationText(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1000}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return h ? `${h}h${m ? ` ${m}m` : ''}` : `${m}m`;
}

/**
 * A Go-style duration ("5s", "500ms", "2m", "1m30s") or plain seconds, in milliseconds,
 * between `bounds.min` (1 ms) and `bounds.max` (Node's longest timer, about 24.8 days): a
 * longer one would fire at once, so it is refused with a sentence.
 */
export function parseDuration(text: string, flag: string, bounds: { min?: number; max?: number } = {}): number {
  const ms = parseDurationText(text, flag);
  const min = bounds.min ?? 1;
  const max = bounds.max ?? MAX_TIMER_MS;
  if (!Number.isFinite(ms) || ms > max) {
    const or = flag === 'command-timeout' ? ', or leave it out for no deadline' : '';
    throw new CliUsageError(`--${flag} ${text} is longer than this tool can wait: give at most ${durationText(max)}${or}.`);
  }
  if (ms < min) {
    throw new CliUsageError(`--${flag} must be at least ${durationText(min)} (got "${text}").`);
  }
  return ms;
}

function parseDurationText(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const ms = Math.round(Number(t) * 1000);
    if (ms <= 0) throw new CliUsageError(`--${flag} must be more than zero (got "${text}").`);
    return ms;
  }
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = t;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) {
      throw new CliUsageError(`--${flag} takes a duration such as 5s, 500ms or 2m (got "${text}").`);
    }
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  if (!t || total <= 0) {
    throw new CliUsageError(`--${flag} must be more than zero (got "${text}").`);
  }
  return Math.round(total);
}

/** What a save was asked for, from the command line. */
interface SaveRequest {
  cfg: ClusterConfig;
  secrets: ClusterSecrets;
  endpoint: string;
  /** A folder (conventional file name inside) or the exact file. */
  where: { dir: string } | { file: string };
  writeOut?: string;
  deadlineMs?: number;
  stallMs?: number;
}

/** Step 1: the parsed flags and arguments, checked (a CliUsageError for anything wrong). */
async function saveRequest(flags: ParsedValues, positionals: string[]): Promise<SaveRequest> {
  const str = (k: string): string | undefined => stringValue(flags, k);
  const list = (str('endpoints') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (!list.length) {
    throw new CliUsageError('give the member to snapshot with --endpoints, e.g. --endpoints https://10.0.0.11:2379.');
  }
  if (list.length > 1) {
    throw new CliUsageError(`a snapshot is taken from one member: give exactly one endpoint to --endpoints (got ${list.length}).`);
  }
  const insecure = flags['insecure-skip-tls-verify'] === true;
  const tlsFlags = Boolean(str('cacert') || str('cert') || str('key') || insecure);
  const rawEndpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(list[0]) ? list[0] : `${tlsFlags ? 'https' : 'http'}://${list[0]}`;
  const n = normalizeEndpoint(rawEndpoint);
  if (n.error || !n.url) {
    throw new CliUsageError(`--endpoints: ${n.error ?? 'not a URL'}.`);
  }
  const endpoint = n.url;
  const writeOut = str('write-out');
  if (writeOut && !['simple', 'json'].includes(writeOut)) {
    throw new CliUsageError('-w takes simple or json.');
  }
  if (Boolean(str('cert')) !== Boolean(str('key'))) {
    throw new CliUsageError('--cert and --key go together: give both, or neither.');
  }
  let username: string | undefined;
  let password: string | undefined;
  const user = str('user');
  if (user !== undefined) {
    const colon = user.indexOf(':');
    username = colon >= 0 ? user.slice(0, colon) : user;
    password = colon >= 0 ? user.slice(colon + 1) : undefined;
    if (!username) {
      throw new CliUsageError('--user needs a user name (--user root or --user root:password).');
    }
    password = password ?? str('password') ?? process.env.ETCDCTL_PASSWORD;
    if (password === undefined) {
      throw new CliUsageError(`no password for user "${username}": give --user ${username}:PASSWORD, --password, or set ETCDCTL_PASSWORD.`);
    }
  } else if (str('password') !== undefined) {
    throw new CliUsageError('--password needs --user.');
  }
  const dial = str('dial-timeout');
  const dialMs = dial !== undefined ? parseDuration(dial, 'dial-timeout', { min: MIN_TIMEOUT_MS, max: MAX_TIMEOUT_MS }) : 5000;
  const deadlineMs = str('command-timeout') !== undefined ? parseDuration(str('command-timeout') as string, 'command-timeout') : undefined;
  const stallMs = str('stall-timeout') !== undefined ? parseDuration(str('stall-timeout') as string, 'stall-timeout') : undefined;

  const target = positionals[0];
  const st = await fs.stat(target).catch(() => undefined);
  const isDir = Boolean(st?.isDirectory()) || /[/\\]$/.test(target);

  const cfg: ClusterConfig = {
    name: endpoint,
    endpoints: [endpoint],
    timeoutMs: dialMs,
    username,
  };
  if (tlsFlags) {
    cfg.tls = { caFile: str('cacert'), certFile: str('cert'), keyFile: str('key'), ...(insecure ? { insecureSkipVerify: true } : {}) };
  }
  const secrets: ClusterSecrets = password !== undefined ? { password } : {};
  return { cfg, secrets, endpoint, where: isDir ? { dir: target } : { file: target }, writeOut, deadlineMs, stallMs };
}

/** Step 2: the save, with progress on stderr and the result on stdout; Ctrl-C stops it (exit 130). */
/** Keys in the v2 store are not in a snapshot: say so (and how to keep them) before the save. */
async function warnAboutV2Keys(req: SaveRequest, signal: AbortSignal): Promise<void> {
  const v2 = await checkV2Store(req.cfg, req.secrets, { timeoutMs: req.cfg.timeoutMs, signal });
  const target = 'dir' in req.where && req.where.dir ? req.where.dir : dirname((req.where as { file: string }).file);
  const v2Dir = join(resolve(target), `${snapshotFileName().replace(/_snapshot\.db$/, '')}_v2backup`);
  for (const line of v2SaveWarning(v2, { backupDir: v2Dir })) process.stderr.write(`Warning: ${line}\n`);
}

async function runSave(req: SaveRequest): Promise<number> {
  const { cfg, secrets, endpoint, writeOut, deadlineMs, stallMs } = req;
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = Boolean(process.stderr.isTTY);
  let lastLine = 0;
  const onProgress = (p: SaveProgress): void => {
    if (tty) {
      process.stderr.write(`\r\x1b[KSaving: ${formatSaveProgress(p)}`);
    } else if (Date.now() - lastLine >= 2000) {
      lastLine = Date.now();
      process.stderr.write(`Saving: ${formatSaveProgress(p)}\n`);
    }
  };
  try {
    await warnAboutV2Keys(req, abort.signal);
    process.stderr.write(`Saving a snapshot from ${endpoint}...\n`);
    const opts = { endpoint, ...req.where, signal: abort.signal, onProgress, deadlineMs, stallMs, collectGarbage: minorGc() };
    const r = await saveSnapshot(cfg, secrets, opts);
    if (tty) process.stderr.write('\r\x1b[K');
    const took = (r.tookMs / 1000).toFixed(1);
    process.stderr.write(`Saved ${formatBytes(r.size)} in ${took} s; SHA-256 trailer checked; revision ${r.revision}.\n`);
    if (writeOut === 'json') {
      const { file, size, sha256, dbSha256, revision, tookMs } = r;
      const out = { file, sidecar: r.sidecarFile ?? null, size, sha256, dbSha256, revision, tookMs };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      process.stdout.write(`Snapshot saved at ${r.file}\n`);
    }
    return 0;
  } catch (err) {
    if (tty) process.stderr.write('\r\x1b[K');
    if (interrupted || (err instanceof EtcdBackupError && err.kind === 'cancelled' && interrupted)) {
      process.stderr.write('etcd-backup snapshot save: interrupted; the stream was stopped and nothing was saved.\n');
      return 130;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export const saveCommand = command(saveSpec, async (values, positionals) => runSave(await saveRequest(values, positionals)));
