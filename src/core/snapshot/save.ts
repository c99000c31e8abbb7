/**
 * Save a snapshot from one member, in named steps (`saveSnapshot`):
 *  1. `planNames`: the final name and the sidecar's must be free (nothing is ever replaced),
 *     the folder writable: refused with a sentence before any connection is made;
 *  2. `readSource`: the member's status and the member list (an unreachable endpoint or a bad
 *     certificate fails here, before any file exists);
 *  3. `streamSnapshot`: `Maintenance.Snapshot` into `<name>.<pid>-<random>.part` (0600, created
 *     exclusively), hashed while written, the SHA-256 trailer checked (./stream.ts), fsynced;
 *  4. `readSaved`: the revision (and, when no member list could be had, the members) read
 *     from the written file itself, so writes that landed during the stream are counted;
 *  5. `publish`: the sidecar, then the snapshot, given their names with link() (which never
 *     replaces a file); if the snapshot cannot take its name the sidecar just placed goes too.
 * On any failure the `.part` is removed and nothing is left under the final names; the error
 * is one sentence (an EtcdBackupError).
 */
import { constants as fsConstants, promises as fs } from 'fs';
import { basename, dirname, join, resolve } from 'path';
import type { Etcd3 } from 'etcd3';
import type { ClusterOverview, MemberOverview } from '../clusterStatus';
import { MAX_TIMER_MS } from '../config';
import { clientOptions, createClient, EtcdConnection, toHexId, withConnection } from '../etcd';
import { EtcdBackupError, explain } from '../errors';
import type { ClusterConfig, ClusterSecrets, MemberInfo } from '../types';
import { DEFAULT_TIMEOUT_MS } from '../types';
import { BoltFile, lastRevisionOf } from './bbolt';
import { createExclusive, fileKind, fsyncDir, linkNoReplace, lstatOrNone, tempNameFor, unlinkIfSame } from './files';
import { placeSidecar, SIDECAR_FORMAT, sidecarPathFor, sidecarTakenMessage, SnapshotSidecar } from './sidecar';
import { errorText, SaveProgress, SnapshotCall, streamToFile, StreamOptions, StreamResult, TRAILER } from './stream';

export { streamToFile } from './stream';
export type { SaveProgress, SnapshotCall } from './stream';

/** HTTP/2 flow-control window for the snapshot stream (what the server may send ahead). */
const FLOW_WINDOW = 4 * 1024 * 1024;
/** Default longest silence between two messages of the stream. */
const DEFAULT_STALL_MS = 30_000;

export interface SaveOptions {
  /** The one member endpoint to stream from (etcdctl requires exactly one). */
  endpoint: string;
  /** Folder for a conventionally named file (default: the cluster's snapshotDir). */
  dir?: string;
  /** Exact file path (wins over `dir`). */
  file?: string;
  signal?: AbortSignal;
  onProgress?: (p: SaveProgress) => void;
  /** Whole-save deadline in ms (etcdctl `--command-timeout`); none by default, as etcdctl. */
  deadlineMs?: number;
  /** Longest silence between two stream messages before giving up (default 30 s). */
  stallMs?: number;
  /** Clock for the file name (tests). */
  now?: Date;
  /** Write the sidecar (default true). */
  sidecar?: boolean;
  /** Told the temp file's name once it exists (a reader may follow it while the stream writes it). */
  onPartFile?: (path: string) => void;
  /** Gets every received chunk of the file, in order, as it arrives (a run's upload takes its bytes from here). */
  tee?: StreamOptions['tee'];
  /**
   * Called after every 8 MiB received. The CLI passes V8's `gc` here: without
   * it, the garbage 32 KiB message buffers pile up to V8's external-memory threshold (about
   * 64 MiB) before a collection, which is most of the process's peak RSS.
   */
  collectGarbage?: () => void;
}

export interface SaveResult {
  file: string;
  sidecarFile?: string;
  /**
   * Never set since sidecars are written before the snapshot takes its name (a save whose
   * sidecar cannot be written saves nothing); kept for callers that still read it.
   */
  sidecarError?: string;
  /** The store revision of the saved file (read from it after the save). */
  revision: number;
  size: number;
  /** SHA-256 of the whole file (what `sha256sum` prints). */
  sha256: string;
  /** SHA-256 of the database image: equals the trailer etcd sent. */
  dbSha256: string;
  tookMs: number;
  sidecar: SnapshotSidecar;
}

/** `<YYYYMMDD_HHMMSS>_snapshot.db` in local time, as `date +%Y%m%d_%H%M%S` names it in the runbook. */
export function snapshotFileName(now: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}`;
  return `${day}_${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}_snapshot.db`;
}

/** Bytes in binary units, as a person reads them: "512 B", "3.4 MiB", "1.02 GiB". */
export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

/** One progress line: bytes, percent when the size is known, and the rate. */
export function formatSaveProgress(p: SaveProgress): string {
  const pct = p.total ? ` (${Math.min(100, Math.floor((p.bytes * 100) / p.total))}%)` : '';
  return `${formatBytes(p.bytes)}${p.total ? ` of ${formatBytes(p.total)}` : ''}${pct} at ${formatBytes(p.bytesPerSecond)}/s`;
}

/** Where a save writes: `file` as given, else `<dir or snapshotDir>/<conventional name>`. */
export function snapshotTarget(cfg: Pick<ClusterConfig, 'name' | 'snapshotDir'>, opts: Pick<SaveOptions, 'dir' | 'file' | 'now'>): string {
  if (opts.file) {
    return resolve(opts.file);
  }
  const dir = opts.dir ?? cfg.snapshotDir;
  if (!dir) {
    throw new EtcdBackupError(
      'invalidInput',
      `Cluster "${cfg.name}" has no snapshot folder: set one in the cluster's settings (snapshotDir), or give a file or folder to save to.`,
    );
  }
  return join(resolve(dir), snapshotFileName(opts.now));
}

/** One member endpoint to offer for a snapshot, with why. */
export interface EndpointChoice {
  endpoint: string;
  member?: MemberOverview;
  /** Short reason for the pick list: "leader, healthy", "follower, healthy, 3 ms"... */
  reason: string;
  /** The best choice (the first in the list). */
  suggested: boolean;
  usable: boolean;
}

/**
 * Member endpoints to snapshot from, best first: the healthy leader, then healthy members by
 * health round trip (learners after voters), then reachable ones, then the rest. Members
 * without a client URL that answered are offered by their configured endpoint.
 */
export function suggestSnapshotEndpoints(overview: ClusterOverview, configured: string[] = []): EndpointChoice[] {
  const score = (m: MemberOverview): number =>
    (m.healthy ? 0 : m.reachable ? 100 : 1000) + (m.role === 'leader' ? 0 : m.isLearner ? 20 : 10);
  const out: EndpointChoice[] = [];
  const seen = new Set<string>();
  const members = [...overview.members].sort(
    (a, b) => score(a) - score(b) || (a.tookMs ?? 1e9) - (b.tookMs ?? 1e9) || a.name.localeCompare(b.name),
  );
  for (const m of members) {
    const endpoint = m.endpoint ?? m.clientURLs[0];
    if (!endpoint || seen.has(endpoint)) {
      continue;
    }
    seen.add(endpoint);
    const parts = [m.role, m.healthy ? 'healthy' : m.reachable ? 'unhealthy' : 'unreachable'];
    if (m.healthy && m.tookMs !== undefined) {
      parts.push(`${Math.round(m.tookMs)} ms`);
    }
    // etcd 3.4 refuses every stream from a learner, Snapshot included.
    const learnerRefuses = m.isLearner && /^3\.[0-4]\./.test(m.version ?? '');
    if (learnerRefuses) {
      parts.push(`etcd ${m.version} streams no snapshot from a learner`);
    }
    out.push({ endpoint, member: m, reason: parts.join(', '), suggested: false, usable: m.reachable && !learnerRefuses });
  }
  for (const ep of configured) {
    if (!seen.has(ep)) {
      seen.add(ep);
      out.push({ endpoint: ep, reason: 'configured endpoint, no member answered from it', suggested: false, usable: false });
    }
  }
  if (out.length && out[0].usable) {
    out[0].suggested = true;
  }
  return out;
}

interface Pool {
  withConnection<T>(
    service: string,
    fn: (c: { client: Record<string, (...a: unknown[]) => T>; metadata: unknown }) => T | Promise<T>,
  ): Promise<T>;
}

/**
 * Open the Snapshot stream. etcd3 1.1.2's `maintenance.snapshot()` passes the auth metadata
 * where grpc-js expects the request, so the token is lost and etcd refuses a snapshot on a
 * cluster with auth; this calls the service client with (request, metadata, options).
 */
async function openSnapshotCall(client: Etcd3): Promise<SnapshotCall> {
  const pool = (client as unknown as { pool: Pool }).pool;
  return pool.withConnection('Maintenance', ({ client: svc, metadata }) => svc.snapshot({}, metadata, {}) as unknown as SnapshotCall);
}

function folderError(err: unknown, dir: string): EtcdBackupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    const why = code === 'EROFS' ? 'read-only file system' : 'permission denied';
    const text = `Cannot write to the folder ${dir} (${why}): choose a folder you can write to, or fix its owner and mode.`;
    return new EtcdBackupError('permission', text, { cause: err });
  }
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new EtcdBackupError('invalidInput', `${dir} is not a folder: choose a folder for the snapshot.`, { cause: err });
  }
  if (code === 'ENAMETOOLONG') {
    const text = `The path ${dir} is too long for the file system: choose a shorter folder or file name.`;
    return new EtcdBackupError('invalidInput', text, { cause: err });
  }
  return explain(err);
}

function cancelledError(): EtcdBackupError {
  return new EtcdBackupError('cancelled', 'Snapshot cancelled: nothing was saved.');
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fire = (): void => reject(cancelledError());
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
}

/** Where a save writes, and the temp name it streams into. */
interface SaveNames {
  target: string;
  dir: string;
  /** Unique to this process and call (`<target>.<pid>-<random>.part`), created exclusively. */
  part: string;
  /** Where the sidecar goes, unless the save writes none. */
  sidecar?: string;
}

/** A name that is taken: what is there, in the sentence, and nothing replaced. */
async function refuseTaken(path: string, message: (what: string) => string): Promise<void> {
  const st = await lstatOrNone(path);
  if (st) {
    throw new EtcdBackupError('conflict', message(st.isFile() ? '' : ` (${fileKind(st)})`));
  }
}

/**
 * In a folder the name is ours to choose: a second save in the same second (or a name taken by
 * anything else) gets `…_snapshot-2.db`, `-3`, … instead of a refusal. A name given by the user
 * is never changed (planNames refuses it when taken). link() still refuses a name that appears
 * during the stream.
 */
async function freeConventionalName(target: string, withSidecar: boolean): Promise<string> {
  for (let n = 1; n < 100; n++) {
    const name = n === 1 ? target : target.replace(/_snapshot\.db$/, `_snapshot-${n}.db`);
    const taken = (await lstatOrNone(name)) || (withSidecar && (await lstatOrNone(sidecarPathFor(name))));
    if (!taken) return name;
  }
  return target;
}

/** Step 1: the names, checked before anything else happens. */
async function planNames(cfg: ClusterConfig, opts: SaveOptions): Promise<SaveNames> {
  const target = opts.file ? snapshotTarget(cfg, opts) : await freeConventionalName(snapshotTarget(cfg, opts), opts.sidecar !== false);
  const dir = dirname(target);
  const sidecar = opts.sidecar !== false ? sidecarPathFor(target) : undefined;
  const exists = (what: string): string =>
    `${target} already exists${what}: snapshots never overwrite a file. ` + 'Choose another name, or move the old file away.';
  await refuseTaken(target, exists);
  if (sidecar) {
    await refuseTaken(sidecar, (what) => sidecarTakenMessage(target, `${sidecar}${what}`));
  }
  try {
    const st = await lstatOrNone(dir);
    if (st && !st.isDirectory() && !(st.isSymbolicLink() && (await fs.stat(dir)).isDirectory())) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // An unwritable folder is said before any connection is made.
    await fs.access(dir, fsConstants.W_OK);
  } catch (err) {
    throw folderError(err, dir);
  }
  return { target, dir, part: tempNameFor(target, 'part'), sidecar };
}

interface SourceInfo {
  status: Awaited<ReturnType<Etcd3['maintenance']['status']>>;
  list?: { members: MemberInfo[]; clusterId: string };
}

/** The member list: from the member, else (a learner lists none) from the cluster's other endpoints. */
async function memberListFor(
  conn: EtcdConnection,
  cfg: ClusterConfig,
  secrets: ClusterSecrets,
  endpoint: string,
): Promise<SourceInfo['list']> {
  try {
    return await conn.memberList();
  } catch (err) {
    // A learner answers status and streams snapshots, but lists no members: ask the
    // cluster's other endpoints; else the list is read from the saved file afterwards.
    if (!/not supported for learner/i.test(errorText(err))) throw err;
    const others = cfg.endpoints.filter((e) => e !== endpoint);
    if (!others.length) return undefined;
    return withConnection({ ...cfg, endpoints: others }, secrets, (o) => o.memberList()).catch(() => undefined);
  }
}

/** Step 2: the member's identity and the cluster's member list, within the cluster's timeout. */
async function readSource(
  cfg: ClusterConfig,
  one: ClusterConfig,
  secrets: ClusterSecrets,
  opts: SaveOptions,
  timeout: number,
): Promise<SourceInfo> {
  const conn = await EtcdConnection.open(one, secrets);
  try {
    const gather = (async (): Promise<SourceInfo> => {
      const c = await conn.endpointClient(opts.endpoint);
      const status = await c.maintenance.status();
      return { status, list: await memberListFor(conn, cfg, secrets, opts.endpoint) };
    })();
    const noAnswer =
      `No answer from ${opts.endpoint} within ${timeout} ms: nothing was saved. ` +
      "Check that the member is up and reachable, or raise the cluster's timeout.";
    return await Promise.race([
      gather.catch((err) => {
        throw explain(err, opts.endpoint);
      }),
      new Promise<never>((_, reject) => {
        const t = setTimeout(() => reject(new EtcdBackupError('timeout', noAnswer)), timeout + 1000);
        void gather.finally(() => clearTimeout(t)).catch(() => undefined);
      }),
      ...(opts.signal ? [abortPromise(opts.signal)] : []),
    ]);
  } finally {
    conn.close();
  }
}

/** Step 3: stream the snapshot into the open `.part` (its own client, with a larger HTTP/2 window). */
async function streamSnapshot(
  one: ClusterConfig,
  secrets: ClusterSecrets,
  fh: fs.FileHandle,
  opts: SaveOptions,
  timeouts: { timeout: number; started: number },
): Promise<StreamResult> {
  const { timeout, started } = timeouts;
  const base = await clientOptions(one, secrets, [opts.endpoint]);
  const client = createClient(one, { ...base, grpcOptions: { ...(base.grpcOptions ?? {}), 'grpc-node.flow_control_window': FLOW_WINDOW } });
  try {
    const opening = openSnapshotCall(client);
    // A call that outlives this function (cancelled while it was being opened, or failing
    // after another error won) must not crash the process with an unhandled 'error' event.
    opening.then((c) => c.on('error', () => undefined)).catch(() => undefined);
    const call = await Promise.race([opening, ...(opts.signal ? [abortPromise(opts.signal)] : [])]).catch((err) => {
      opening.then((c) => c.cancel()).catch(() => undefined);
      throw explain(err, opts.endpoint);
    });
    return await streamToFile(call, fh, {
      endpoint: opts.endpoint,
      signal: opts.signal,
      onProgress: opts.onProgress,
      firstMs: timeout + 1000,
      stallMs: opts.stallMs ?? Math.max(DEFAULT_STALL_MS, timeout),
      deadlineMs: opts.deadlineMs !== undefined ? Math.max(1, opts.deadlineMs - (Date.now() - started)) : undefined,
      collectGarbage: opts.collectGarbage,
      tee: opts.tee,
    });
  } finally {
    client.close();
  }
}

/**
 * Step 4: what the written file itself says: its revision (the last key of its `key` bucket,
 * a few page reads) and, when the member list could not be had, the members stored in it.
 */
async function readSaved(part: string, list: SourceInfo['list']): Promise<{ revision: number; members: MemberInfo[] }> {
  const file = await BoltFile.open(part);
  let revision: number;
  try {
    const r = lastRevisionOf(file);
    if (!r.found) {
      const text = 'The file etcd sent has no "key" bucket, so it is not an etcd snapshot: nothing was saved.';
      throw new EtcdBackupError('corrupt', `${text} Check the endpoint and try again.`);
    }
    revision = r.revision;
  } finally {
    await file.close();
  }
  let members = list?.members;
  if (!members) {
    const { readSnapshotMembers } = await import('./inspect');
    members = await readSnapshotMembers(part).catch(() => []);
  }
  return { revision, members };
}

function buildSidecar(
  cfg: ClusterConfig,
  opts: SaveOptions,
  info: SourceInfo,
  saved: { revision: number; members: MemberInfo[] },
  got: StreamResult,
  times: { started: number; streamStarted: number; target: string },
): SnapshotSidecar {
  const s = info.status;
  const memberId = toHexId(s.header?.member_id);
  const self = saved.members.find((m) => m.id === memberId);
  return {
    format: SIDECAR_FORMAT,
    version: 1,
    cluster: cfg.name,
    clusterId: info.list?.clusterId ?? toHexId(s.header?.cluster_id),
    members: saved.members,
    source: { endpoint: opts.endpoint, memberId, memberName: self?.name ?? '', isLeader: toHexId(s.leader) === memberId },
    etcdVersion: s.version,
    revision: saved.revision,
    raftTerm: String(s.raftTerm ?? s.header?.raft_term ?? ''),
    raftIndex: String(s.raftIndex ?? ''),
    // The image's own size (the member's status figure lags until its next backend commit).
    dbSize: got.size - TRAILER,
    tookMs: Date.now() - times.started,
    createdAt: new Date(times.streamStarted).toISOString(),
    sha256: got.sha256,
    file: { name: basename(times.target), size: got.size, sha256: got.sha256, dbSha256: got.dbSha256 },
  };
}

/**
 * Step 5: the sidecar takes its name, then the snapshot (both with link(), which never
 * replaces a file). If the snapshot cannot take its name, the sidecar just placed is removed.
 */
async function publish(names: SaveNames, sidecar: SnapshotSidecar | undefined): Promise<string | undefined> {
  const placed = sidecar ? await placeSidecar(names.target, sidecar) : undefined;
  try {
    const conflict =
      `${names.target} appeared while the snapshot was being saved: ` +
      'snapshots never overwrite a file, so nothing was saved. Try again.';
    await linkNoReplace(names.part, names.target, conflict);
  } catch (err) {
    if (placed) await unlinkIfSame(placed.path, placed.stat);
    throw err;
  }
  await fsyncDir(names.dir);
  return placed?.path;
}

/**
 * Take a snapshot of the cluster from `opts.endpoint`. See the module comment for the
 * steps and guarantees. Throws an EtcdBackupError.
 */
export async function saveSnapshot(cfg: ClusterConfig, secrets: ClusterSecrets, opts: SaveOptions): Promise<SaveResult> {
  const started = Date.now();
  const timeout = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (opts.deadlineMs !== undefined && !(opts.deadlineMs > 0 && opts.deadlineMs <= MAX_TIMER_MS)) {
    const text = `A deadline of ${opts.deadlineMs} ms cannot be kept: give one of at most ${MAX_TIMER_MS} ms (about 24 days), or none.`;
    throw new EtcdBackupError('invalidInput', text);
  }
  if (opts.signal?.aborted) throw cancelledError();
  const names = await planNames(cfg, opts);
  const one: ClusterConfig = { ...cfg, endpoints: [opts.endpoint] };
  const info = await readSource(cfg, one, secrets, opts, timeout);
  let fh: fs.FileHandle | undefined;
  let partCreated = false;
  try {
    try {
      fh = await createExclusive(names.part);
      partCreated = true;
      opts.onPartFile?.(names.part);
    } catch (err) {
      throw folderError(err, names.dir);
    }
    const streamStarted = Date.now();
    const got = await streamSnapshot(one, secrets, fh, opts, { timeout, started });
    try {
      await fh.sync();
      await fh.close();
      fh = undefined;
    } catch (err) {
      throw explain(err);
    }
    if (opts.signal?.aborted) throw cancelledError();
    const saved = await readSaved(names.part, info.list);
    const sidecar = buildSidecar(cfg, opts, info, saved, got, { started, streamStarted, target: names.target });
    const sidecarFile = await publish(names, opts.sidecar !== false ? sidecar : undefined);
    const { size, sha256, dbSha256 } = got;
    return { file: names.target, sidecarFile, revision: saved.revision, size, sha256, dbSha256, tookMs: sidecar.tookMs, sidecar };
  } catch (err) {
    throw explain(err, opts.endpoint);
  } finally {
    await fh?.close().catch(() => undefined);
    // After a save the .part is already gone (its data has the final name); after a failure it goes now.
    if (partCreated) await fs.rm(names.part, { force: true }).catch(() => undefined);
  }
}
