/**
 * Backup plans: one YAML file per cluster (e.g. `/etc/etcd-backup/prod.yaml`, mode 0600) that
 * says how to reach the cluster, when to back it up, where the copies go and how many to keep.
 * The CLI, the systemd timer and the editor read the same file through {@link loadPlan}.
 *
 * Every problem is one sentence naming the field; a plan with any problem is refused as a
 * whole, before anything is saved. The plan file and the secrets files it names
 * (`cluster.passwordFile`, `remote.s3.credentialsFile`) must not be readable or writable by
 * group or others (as ssh refuses such key files): a plan says where backups go and which
 * keys encrypt them, so whoever can change it can redirect the cluster's data.
 *
 * ```yaml
 * cluster: { name: prod, endpoints: [https://10.0.0.11:2379], tls: {caFile, certFile, keyFile},
 *            username: root, passwordFile: /etc/etcd-backup/prod.password, timeoutMs: 5000 }
 * schedule: "*-*-* 00/6:00:00"        # systemd OnCalendar (default: daily)
 * local: { dir: /var/backups/etcd/prod, keep: { last: 5 } }
 * remote:                             # optional
 *   s3: { endpoint, bucket, prefix, region, forcePathStyle, caFile, credentialsFile,
 *         partSizeMiB: 8, queueSize: 4, timeoutSeconds: 60, maxAttempts: 3 }
 *   keep: { last: 14, daily: 7, weekly: 4, monthly: 6 }
 * compress: gzip                      # or none; compressLevel 1-9 (default 3)
 * encrypt: { recipients: [age1...] }  # required with remote, or `encrypt: none`
 * metricsFile: /var/lib/node_exporter/textfile_collector/etcd_backup_prod.prom
 * ```
 */
import { promises as fs } from 'fs';
import { isAbsolute, join } from 'path';
import { parseDocument } from 'yaml';
import { validateCluster } from '../config';
import { EtcdBackupError } from '../errors';
import type { ClusterConfig } from '../types';
import { AgeRecipient, parseRecipient } from './age';
import { KEEP_RULES, KeepPolicy, parseKeepDuration, policyKeepsAnything } from './retention';
import { CalendarError, parseCalendar } from './schedule';
import { checkFollow, FollowSettings } from '../pitr/followPlan';

/**
 * gzip level when the plan names none. Node's zlib (Chromium's fork) runs level 1 as a
 * different, match-poor algorithm: on the bench's 1 GiB database it took about 3x the CPU of
 * level 3 for a file 5x as large, and on JSON-like Kubernetes objects level 3 cost the same
 * CPU as level 1 for a slightly smaller file (README, "Speed"). Level 3 is the fast default.
 */
export const DEFAULT_COMPRESS_LEVEL = 3;

export interface S3Settings {
  /** Custom endpoint URL (MinIO, Ceph RGW, R2...); absent for AWS. */
  endpoint?: string;
  bucket: string;
  /** Key prefix, as given (e.g. `prod/`); '' for the bucket's root. */
  prefix: string;
  region: string;
  forcePathStyle: boolean;
  caFile?: string;
  /** AWS shared-credentials (INI) or KEY=VALUE file; else the environment and the default chain. */
  credentialsFile?: string;
  partSizeMiB: number;
  queueSize: number;
  /** Longest silence on a connection before the request fails, in seconds. */
  timeoutSeconds: number;
  maxAttempts: number;
}

export interface BackupPlan {
  /** Absolute path of the plan file ('' when parsed from text). */
  path: string;
  cluster: ClusterConfig;
  /** File holding the etcd password (first line). */
  passwordFile?: string;
  /** The cluster name made safe for file and object names: `[A-Za-z0-9._-]`. */
  slug: string;
  schedule: string;
  local: { dir: string; keep: KeepPolicy };
  remote?: { s3: S3Settings; keep: KeepPolicy };
  compress: 'gzip' | 'none';
  compressLevel: number;
  /** Recipients of remote copies; undefined when the plan says `encrypt: none`. */
  encrypt?: { recipients: AgeRecipient[] };
  metricsFile?: string;
  /** The outcome of the last runs (JSON), default `<local.dir>/.etcd-backup-<slug>.status.json`. */
  statusFile: string;
  /** Held while a run is in progress, default `<local.dir>/.etcd-backup-<slug>.lock`. */
  lockFile: string;
  /** The change-log follower (point-in-time recovery): `follow: { enabled, segmentSeconds, segmentMiB }`. */
  follow: FollowSettings;
}

export const DEFAULT_KEEP: KeepPolicy = { last: 5 };
export const DEFAULT_SCHEDULE = 'daily';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects sentences; each check reads one field. */
class Checker {
  problems: string[] = [];
  add(sentence: string): void {
    this.problems.push(sentence);
  }
  known(o: Obj, where: string, keys: string[]): void {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) this.add(`${where}: unknown field "${k}" (expected ${keys.join(', ')}).`);
    }
  }
  path(v: unknown, field: string, required = false): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.add(`${field} is missing: give an absolute path.`);
      return undefined;
    }
    if (typeof v !== 'string' || !isAbsolute(v)) {
      this.add(`${field} must be an absolute path (the timer runs from /), not ${JSON.stringify(v)}.`);
      return undefined;
    }
    return v;
  }
  int(v: unknown, field: string, min: number, max: number, dflt: number): number {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.add(`${field} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}.`);
      return dflt;
    }
    return v;
  }
  keep(v: unknown, field: string): KeepPolicy {
    if (v === undefined || v === null) return { ...DEFAULT_KEEP };
    if (!isObj(v)) {
      this.add(`${field} must be a map such as { last: 5, daily: 7 }.`);
      return { ...DEFAULT_KEEP };
    }
    this.known(v, field, [...KEEP_RULES, 'within']);
    const out: KeepPolicy = {};
    for (const r of KEEP_RULES) {
      if (v[r] !== undefined) out[r] = this.int(v[r], `${field}.${r}`, 0, 100000, 0);
    }
    if (v.within !== undefined) {
      const ms = typeof v.within === 'string' ? parseKeepDuration(v.within) : undefined;
      if (ms === undefined) this.add(`${field}.within must be a duration such as 7d, 36h or 2w, not ${JSON.stringify(v.within)}.`);
      else out.withinMs = ms;
    }
    if (!policyKeepsAnything(out) && this.problems.length === 0) {
      this.add(`${field} keeps nothing: set at least one of last, hourly, daily, weekly, monthly, yearly or within above 0.`);
    }
    return out;
  }
}

function checkS3(c: Checker, v: unknown): S3Settings | undefined {
  if (!isObj(v)) {
    c.add('remote.s3 must be a map with at least "bucket".');
    return undefined;
  }
  c.known(v, 'remote.s3', [
    ...['endpoint', 'bucket', 'prefix', 'region', 'forcePathStyle', 'caFile', 'credentialsFile'],
    ...['partSizeMiB', 'queueSize', 'timeoutSeconds', 'maxAttempts'],
  ]);
  let endpoint: string | undefined;
  if (v.endpoint !== undefined && v.endpoint !== null && v.endpoint !== '') {
    try {
      const u = new URL(String(v.endpoint));
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
      endpoint = String(v.endpoint).replace(/\/+$/, '');
    } catch {
      c.add(`remote.s3.endpoint must be an http(s) URL such as https://minio.example:9000, not ${JSON.stringify(v.endpoint)}.`);
    }
  }
  const bucket = typeof v.bucket === 'string' ? v.bucket : '';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    c.add(
      `remote.s3.bucket must be an S3 bucket name (3 to 63 lowercase letters, digits, "." and "-"), not ` +
        `${JSON.stringify(v.bucket ?? '')}.`,
    );
  }
  const prefix = v.prefix === undefined || v.prefix === null ? '' : v.prefix;
  if (typeof prefix !== 'string' || prefix.startsWith('/') || prefix.includes('//')) {
    c.add(`remote.s3.prefix must be a key prefix such as "prod/" (no leading "/"), not ${JSON.stringify(v.prefix)}.`);
  }
  const region = v.region === undefined ? 'us-east-1' : v.region;
  if (typeof region !== 'string' || !/^[a-z0-9-]+$/.test(region))
    c.add(`remote.s3.region must be a region name such as us-east-1, not ` + `${JSON.stringify(v.region)}.`);
  if (v.forcePathStyle !== undefined && typeof v.forcePathStyle !== 'boolean') c.add('remote.s3.forcePathStyle must be true or false.');
  return {
    endpoint,
    bucket,
    prefix: typeof prefix === 'string' ? prefix : '',
    region: typeof region === 'string' ? region : 'us-east-1',
    forcePathStyle: typeof v.forcePathStyle === 'boolean' ? v.forcePathStyle : Boolean(endpoint),
    caFile: c.path(v.caFile, 'remote.s3.caFile'),
    credentialsFile: c.path(v.credentialsFile, 'remote.s3.credentialsFile'),
    partSizeMiB: c.int(v.partSizeMiB, 'remote.s3.partSizeMiB', 5, 512, 8),
    queueSize: c.int(v.queueSize, 'remote.s3.queueSize', 1, 16, 4),
    timeoutSeconds: c.int(v.timeoutSeconds, 'remote.s3.timeoutSeconds', 1, 3600, 60),
    maxAttempts: c.int(v.maxAttempts, 'remote.s3.maxAttempts', 1, 10, 3),
  };
}

function checkEncrypt(c: Checker, v: unknown, hasRemote: boolean): BackupPlan['encrypt'] {
  if (v === 'none') return undefined;
  if (v === undefined || v === null) {
    if (hasRemote)
      c.add(
        'encrypt is missing: copies that leave the node are encrypted; add encrypt.recipients (age public keys), or ' +
          'write "encrypt: none" to upload plain copies.',
      );
    return undefined;
  }
  if (!isObj(v)) {
    c.add('encrypt must be { recipients: [age1...] } or "none".');
    return undefined;
  }
  c.known(v, 'encrypt', ['recipients']);
  const list = typeof v.recipients === 'string' ? [v.recipients] : v.recipients;
  if (!Array.isArray(list) || !list.length) {
    c.add('encrypt.recipients must list at least one age public key (age1...).');
    return undefined;
  }
  const recipients: AgeRecipient[] = [];
  list.forEach((r, i) => {
    try {
      recipients.push(parseRecipient(String(r)));
    } catch (err) {
      c.add(`encrypt.recipients[${i}]: ${(err as Error).message}`);
    }
  });
  return { recipients };
}

function checkCluster(c: Checker, v: unknown): { cluster?: ClusterConfig; passwordFile?: string } {
  if (!isObj(v)) {
    c.add("cluster is missing: give the cluster's name and endpoints (and tls, username, passwordFile, timeoutMs as needed).");
    return {};
  }
  c.known(v, 'cluster', ['name', 'endpoints', 'tls', 'username', 'passwordFile', 'timeoutMs']);
  const r = validateCluster(v);
  r.problems.forEach((p) => c.add(`cluster: ${p}`));
  for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
    if (isObj(v.tls)) c.path(v.tls[k], `cluster.tls.${k}`);
  }
  const passwordFile = c.path(v.passwordFile, 'cluster.passwordFile');
  if (passwordFile && !r.cluster?.username) c.add('cluster.passwordFile needs cluster.username.');
  return { cluster: r.cluster, passwordFile };
}

/** Parse and check a plan's text. `path` is the plan file (for default paths and messages). */
export function parsePlan(text: string, path = ''): { plan?: BackupPlan; problems: string[] } {
  const c = new Checker();
  let raw: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) {
      const e = doc.errors[0];
      const line = e.linePos?.[0]?.line;
      return { problems: [`The plan is not valid YAML${line ? ` (line ${line})` : ''}: ${e.message.split('\n')[0]}.`] };
    }
    raw = doc.toJS();
  } catch (err) {
    return { problems: [`The plan is not valid YAML: ${(err as Error).message.split('\n')[0]}.`] };
  }
  if (!isObj(raw)) return { problems: ['The plan must be a YAML map with cluster, local and (optionally) remote, schedule, encrypt.'] };
  c.known(raw, 'The plan', [
    ...['cluster', 'schedule', 'local', 'remote', 'compress', 'compressLevel'],
    ...['encrypt', 'metricsFile', 'statusFile', 'lockFile', 'follow'],
  ]);
  const { cluster, passwordFile } = checkCluster(c, raw.cluster);
  const schedule = raw.schedule === undefined ? DEFAULT_SCHEDULE : raw.schedule;
  try {
    parseCalendar(String(schedule));
  } catch (err) {
    c.add(
      `schedule ${JSON.stringify(schedule)} is not a calendar expression this tool reads: ` +
        `${err instanceof CalendarError ? err.message : String(err)}`,
    );
  }
  let local: BackupPlan['local'] | undefined;
  if (!isObj(raw.local)) c.add('local is missing: give local.dir, the folder for the plain snapshots kept on this node.');
  else {
    c.known(raw.local, 'local', ['dir', 'keep']);
    const dir = c.path(raw.local.dir, 'local.dir', true);
    local = { dir: dir ?? '', keep: c.keep(raw.local.keep, 'local.keep') };
  }
  let remote: BackupPlan['remote'];
  if (raw.remote !== undefined && raw.remote !== null) {
    if (!isObj(raw.remote)) c.add('remote must be a map with s3 and keep.');
    else {
      c.known(raw.remote, 'remote', ['s3', 'keep']);
      const s3 = checkS3(c, raw.remote.s3);
      remote = s3 ? { s3, keep: c.keep(raw.remote.keep, 'remote.keep') } : undefined;
    }
  }
  const compress = raw.compress === undefined ? 'gzip' : raw.compress;
  if (compress !== 'gzip' && compress !== 'none') c.add(`compress must be gzip or none, not ${JSON.stringify(raw.compress)}.`);
  const compressLevel = c.int(raw.compressLevel, 'compressLevel', 1, 9, DEFAULT_COMPRESS_LEVEL);
  const encrypt = checkEncrypt(c, raw.encrypt, Boolean(remote));
  const metricsFile = c.path(raw.metricsFile, 'metricsFile');
  if (metricsFile && !metricsFile.endsWith('.prom'))
    c.add("metricsFile must end in .prom (node_exporter's textfile collector reads " + 'only those).');
  const statusFile = c.path(raw.statusFile, 'statusFile');
  const lockFile = c.path(raw.lockFile, 'lockFile');
  const follow = checkFollow(raw.follow);
  follow.problems.forEach((p) => c.add(p));
  if (c.problems.length || !cluster || !local) return { problems: c.problems };
  const slug = cluster.name.replace(/[^A-Za-z0-9._-]+/g, '-');
  return {
    problems: [],
    plan: {
      path,
      cluster,
      passwordFile,
      slug,
      schedule: String(schedule),
      local,
      remote,
      compress: compress as 'gzip' | 'none',
      compressLevel,
      encrypt,
      metricsFile,
      statusFile: statusFile ?? join(local.dir, `.etcd-backup-${slug}.status.json`),
      lockFile: lockFile ?? join(local.dir, `.etcd-backup-${slug}.lock`),
      follow: follow.follow,
    },
  };
}

/**
 * A sentence when `path` may be read or changed by group or others, or is not a regular file;
 * undefined when it is fine. `what` names the file ("The plan", "The S3 credentials file").
 */
export async function checkPrivateFile(path: string, what: string): Promise<string | undefined> {
  let st;
  try {
    st = await fs.stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${what} ${path} does not exist.` : `${what} ${path} cannot be read (${code}).`;
  }
  if (!st.isFile()) return `${what} ${path} is not a regular file.`;
  if (st.mode & 0o077) {
    return (
      `${what} ${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: it must not be open to group or others. Run: ` +
      `chmod 600 ${path}`
    );
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    return `${what} ${path} belongs to another user (uid ${st.uid}): it must belong to you or to root.`;
  }
  return undefined;
}

/** Raised when a plan cannot be used; `problems` holds one sentence each. */
export class PlanError extends EtcdBackupError {
  constructor(
    public readonly problems: string[],
    public readonly planPath: string,
  ) {
    super(
      'invalidInput',
      problems.length === 1
        ? problems[0]
        : `The plan ${planPath} has ${problems.length} ` + `problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/**
 * Read, check and return the plan at `path` (and check its secrets files' modes). Throws a
 * PlanError listing every problem; nothing has been done then.
 */
export async function loadPlan(path: string): Promise<BackupPlan> {
  const abs = isAbsolute(path) ? path : join(process.cwd(), path);
  const modeProblem = await checkPrivateFile(abs, 'The plan');
  if (modeProblem && /does not exist|cannot be read|not a regular/.test(modeProblem)) throw new PlanError([modeProblem], abs);
  let text: string;
  try {
    text = await fs.readFile(abs, 'utf8');
  } catch (err) {
    throw new PlanError([`The plan ${abs} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}).`], abs);
  }
  const { plan, problems } = parsePlan(text, abs);
  if (modeProblem) problems.unshift(modeProblem);
  if (plan?.passwordFile) {
    const p = await checkPrivateFile(plan.passwordFile, 'The password file');
    if (p) problems.push(p);
  }
  if (plan?.remote?.s3.credentialsFile) {
    const p = await checkPrivateFile(plan.remote.s3.credentialsFile, 'The S3 credentials file');
    if (p) problems.push(p);
  }
  if (problems.length || !plan) throw new PlanError(problems, abs);
  return plan;
}

/** The etcd password from the plan's password file (first line), if it names one. */
export async function readPlanPassword(plan: BackupPlan): Promise<string | undefined> {
  if (!plan.passwordFile) return undefined;
  const text = await fs.readFile(plan.passwordFile, 'utf8');
  return text.split(/\r?\n/)[0];
}
