/**
 * Save a snapshot from one member: stream `Maintenance.Snapshot` into `<name>.part` (0600,
 * created exclusively), hash the database while writing and check the SHA-256 trailer the
 * server sends last, fsync, then link the file to its final name (never replacing an existing
 * file), fsync the folder and write the sidecar. On any failure the `.part` is removed and
 * nothing is left under the final name; the error is one sentence (an EtcdBackupError).
 *
 * Memory stays flat whatever the database size: the gRPC stream is paused while the disk
 * catches up (at most {@link HIGH_WATER} bytes queued, plus the HTTP/2 window).
 */
import { createHash, Hash } from 'crypto';
import { constants as fsConstants, promises as fs } from 'fs';
import { basename, dirname, join, resolve } from 'path';
import type { Etcd3 } from 'etcd3';
import type { ClusterOverview, MemberOverview } from '../clusterStatus';
import { clientOptions, createClient, EtcdConnection, toHexId, withConnection } from '../etcd';
import { EtcdBackupError, explain } from '../errors';
import type { ClusterConfig, ClusterSecrets, MemberInfo } from '../types';
import { DEFAULT_TIMEOUT_MS } from '../types';
import { SIDECAR_FORMAT, SnapshotSidecar, writeSidecar } from './sidecar';

/** Bytes queued for the disk before the stream is paused. */
const HIGH_WATER = 4 * 1024 * 1024;
/** Bytes gathered before one write (fewer, larger writes). */
const BATCH = 1024 * 1024;
/** HTTP/2 flow-control window for the snapshot stream (what the server may send ahead). */
const FLOW_WINDOW = 4 * 1024 * 1024;
/** Default longest silence between two messages of the stream. */
const DEFAULT_STALL_MS = 30_000;
const TRAILER = 32;
/** Bytes between two calls of `collectGarbage`. */
const GC_EVERY = 8 * 1024 * 1024;

export interface SaveProgress {
  /** Bytes received and queued for the file so far. */
  bytes: number;
  /** Expected size of the file (database + trailer), once the first message told it. */
  total?: number;
  elapsedMs: number;
  /** Average bytes per second since the stream started. */
  bytesPerSecond: number;
}

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
  /**
   * Called after every {@link GC_EVERY} bytes received. The CLI passes V8's `gc` here: without
   * it, the garbage 32 KiB message buffers pile up to V8's external-memory threshold (about
   * 64 MiB) before a collection, which is most of the process's peak RSS.
   */
  collectGarbage?: () => void;
}

export interface SaveResult {
  file: string;
  sidecarFile?: string;
  /** Set when the snapshot was saved but its sidecar could not be written. */
  sidecarError?: string;
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
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}_${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}_snapshot.db`;
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
    throw new EtcdBackupError('invalidInput', `Cluster "${cfg.name}" has no snapshot folder: set one in the cluster's settings (snapshotDir), or give a file or folder to save to.`);
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
  const score = (m: MemberOverview): number => (m.healthy ? 0 : m.reachable ? 100 : 1000) + (m.role === 'leader' ? 0 : m.isLearner ? 20 : 10);
  const out: EndpointChoice[] = [];
  const seen = new Set<string>();
  const members = [...overview.members].sort((a, b) => score(a) - score(b) || (a.tookMs ?? 1e9) - (b.tookMs ?? 1e9) || a.name.localeCompare(b.name));
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

/** A grpc-js readable stream as etcd3's pool hands it out (the few members used here). */
export interface SnapshotCall {
  on(event: 'data', fn: (msg: { blob?: Buffer; remaining_bytes?: string | number; header?: { revision?: string } }) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'end', fn: () => void): void;
  on(event: 'status', fn: (s: unknown) => void): void;
  pause(): void;
  resume(): void;
  isPaused(): boolean;
  cancel(): void;
}

interface Pool {
  withConnection<T>(service: string, fn: (c: { client: Record<string, (...a: unknown[]) => T>; metadata: unknown }) => T | Promise<T>): Promise<T>;
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

/** Messages and gRPC details of an error and its causes. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  let e = err as { message?: string; details?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    parts.push(e.message ?? '', e.details ?? '');
    e = e.cause as typeof e;
  }
  return parts.join(' ');
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * Stream the snapshot into `fh`; resolves with the digests once the stream has ended and the
 * last 32 bytes proved to be the SHA-256 of everything before them. Exported for tests.
 */
export function streamToFile(
  call: SnapshotCall,
  fh: fs.FileHandle,
  opts: { endpoint: string; signal?: AbortSignal; onProgress?: (p: SaveProgress) => void; firstMs: number; stallMs: number; deadlineMs?: number; collectGarbage?: () => void },
): Promise<{ size: number; dbSha256: string; sha256: string; revision?: number }> {
  return new Promise((resolvePromise, rejectPromise) => {
    const started = Date.now();
    const db: Hash = createHash('sha256');
    let hold: Buffer = Buffer.alloc(0);
    let queue: Buffer[] = [];
    let queued = 0;
    let received = 0;
    let written = 0;
    let total: number | undefined;
    let revision: number | undefined;
    let writing = false;
    let ended = false;
    let settled = false;
    let lastProgress = 0;
    let nextGc = GC_EVERY;
    let stallTimer: NodeJS.Timeout | undefined;
    let deadlineTimer: NodeJS.Timeout | undefined;

    const cleanup = (): void => {
      clearTimeout(stallTimer);
      clearTimeout(deadlineTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: EtcdBackupError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      try {
        call.cancel();
      } catch {
        // already finished
      }
      rejectPromise(err);
    };
    const progress = (force: boolean): void => {
      const t = Date.now();
      if (!opts.onProgress || (!force && t - lastProgress < 200)) return;
      lastProgress = t;
      const elapsedMs = t - started;
      opts.onProgress({ bytes: received, total, elapsedMs, bytesPerSecond: elapsedMs > 0 ? (received * 1000) / elapsedMs : 0 });
    };
    const armStall = (ms: number, first: boolean): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        fail(
          first
            ? new EtcdBackupError('timeout', `${opts.endpoint} did not start sending the snapshot within ${ms} ms: nothing was saved. Check that the member is up and reachable, or pick another member.`)
            : new EtcdBackupError('timeout', `The snapshot stream from ${opts.endpoint} stalled for ${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s after ${mb(received)}: nothing was saved. Check the member (is it overloaded or frozen?) and try again, or pick another member.`),
        );
      }, ms);
    };
    function onAbort(): void {
      fail(new EtcdBackupError('cancelled', `Snapshot cancelled after ${mb(received)}: the stream was stopped and nothing was saved.`));
    }

    const finish = async (): Promise<void> => {
      if (hold.length !== TRAILER) {
        fail(new EtcdBackupError('corrupt', `The snapshot stream from ${opts.endpoint} ended after ${received} bytes without the SHA-256 trailer: nothing was saved. Try again, or pick another member.`));
        return;
      }
      const copy = db.copy();
      const dbSha256 = db.digest();
      if (!dbSha256.equals(hold)) {
        fail(new EtcdBackupError('corrupt', `The snapshot from ${opts.endpoint} failed its SHA-256 check (the trailer etcd sent does not match the ${received - TRAILER} bytes received): nothing was saved. Try again, or pick another member.`));
        return;
      }
      copy.update(hold);
      const sha256 = copy.digest('hex');
      settled = true;
      cleanup();
      resolvePromise({ size: written, dbSha256: dbSha256.toString('hex'), sha256, revision });
    };

    const pump = async (): Promise<void> => {
      if (writing || settled) return;
      if (!queued) {
        if (ended) await finish();
        return;
      }
      if (queued < BATCH && !ended) return;
      writing = true;
      const bufs = queue;
      const length = queued;
      queue = [];
      queued = 0;
      try {
        let done = 0;
        let rest = bufs;
        while (done < length) {
          const { bytesWritten } = await fh.writev(rest);
          if (bytesWritten <= 0) {
            throw Object.assign(new Error('write returned 0 bytes'), { code: 'ENOSPC' });
          }
          done += bytesWritten;
          if (done < length) {
            // A short write (disk or file-size limit): write the rest; the next call fails with the reason.
            rest = [Buffer.concat(bufs).subarray(done)];
          }
        }
        written += length;
      } catch (err) {
        fail(explain(err));
        return;
      } finally {
        writing = false;
      }
      if (settled) return;
      if (!ended && queued < HIGH_WATER && call.isPaused()) {
        call.resume();
      }
      void pump();
    };

    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.deadlineMs !== undefined) {
      deadlineTimer = setTimeout(
        () => fail(new EtcdBackupError('timeout', `The snapshot from ${opts.endpoint} did not finish within the ${Math.round((opts.deadlineMs as number) / 1000)} s deadline (${mb(received)} received): nothing was saved. Raise the command timeout and try again.`)),
        opts.deadlineMs,
      );
    }
    armStall(opts.firstMs, true);

    call.on('data', (msg) => {
      if (settled) return;
      const blob = msg.blob ?? Buffer.alloc(0);
      if (received === 0 && total === undefined) {
        total = blob.length + Number(msg.remaining_bytes ?? 0) + TRAILER;
        const rev = Number(msg.header?.revision ?? 0);
        revision = rev > 0 ? rev : undefined;
      }
      armStall(opts.stallMs, false);
      received += blob.length;
      if (opts.collectGarbage && received >= nextGc) {
        nextGc = received + GC_EVERY;
        opts.collectGarbage();
      }
      // Hash everything but the last 32 bytes seen so far (they may be the trailer).
      if (blob.length >= TRAILER) {
        db.update(hold);
        db.update(blob.subarray(0, blob.length - TRAILER));
        hold = blob.subarray(blob.length - TRAILER);
      } else if (blob.length) {
        const joined = Buffer.concat([hold, blob]);
        if (joined.length > TRAILER) {
          db.update(joined.subarray(0, joined.length - TRAILER));
        }
        hold = joined.subarray(Math.max(0, joined.length - TRAILER));
      }
      if (blob.length) {
        queue.push(blob);
        queued += blob.length;
      }
      if (queued >= HIGH_WATER) {
        call.pause();
      }
      progress(false);
      void pump();
    });
    call.on('error', (err) => {
      if (settled) return;
      const e = explain(err, opts.endpoint);
      if (/not supported for learner/i.test(errorText(err))) {
        fail(new EtcdBackupError('invalidInput', `${opts.endpoint} is a learner, and this etcd streams no snapshot from a learner: nothing was saved. Pick a voting member (the leader or a follower).`, { cause: err }));
      } else if (e.kind === 'cancelled') {
        fail(new EtcdBackupError('cancelled', `Snapshot cancelled after ${mb(received)}: nothing was saved.`, { cause: err }));
      } else if (received > 0 && (e.kind === 'unreachable' || e.kind === 'internal')) {
        fail(new EtcdBackupError('unreachable', `The snapshot stream from ${opts.endpoint} broke after ${mb(received)} (the member went away or closed the connection): nothing was saved. Check the member and try again, or pick another member.`, { cause: err }));
      } else {
        fail(e);
      }
    });
    call.on('end', () => {
      if (settled) return;
      ended = true;
      clearTimeout(stallTimer);
      progress(true);
      void pump();
    });
  });
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems cannot fsync a directory; the file itself is already synced.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function folderError(err: unknown, dir: string): EtcdBackupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new EtcdBackupError('permission', `Cannot write to the folder ${dir} (${code === 'EROFS' ? 'read-only file system' : 'permission denied'}): choose a folder you can write to, or fix its owner and mode.`, { cause: err });
  }
  if (code === 'ENOTDIR') {
    return new EtcdBackupError('invalidInput', `${dir} is not a folder: choose a folder for the snapshot.`, { cause: err });
  }
  return explain(err);
}

/**
 * Take a snapshot of the cluster from `opts.endpoint`. See the module comment for the
 * guarantees. Throws an EtcdBackupError.
 */
export async function saveSnapshot(cfg: ClusterConfig, secrets: ClusterSecrets, opts: SaveOptions): Promise<SaveResult> {
  const started = Date.now();
  const target = snapshotTarget(cfg, opts);
  const dir = dirname(target);
  const part = `${target}.part`;
  const timeout = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (opts.signal?.aborted) {
    throw new EtcdBackupError('cancelled', 'Snapshot cancelled: nothing was saved.');
  }
  const existing = await fs.lstat(target).catch(() => undefined);
  if (existing) {
    throw new EtcdBackupError('conflict', `${target} already exists: snapshots never overwrite a file. Choose another name, or move the old file away.`);
  }
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // An unwritable folder is said before any connection is made.
    await fs.access(dir, fsConstants.W_OK);
  } catch (err) {
    throw folderError(err, dir);
  }

  // The member's identity and the cluster's member list first: an unreachable endpoint or a
  // bad certificate fails here, before any file exists.
  const one: ClusterConfig = { ...cfg, endpoints: [opts.endpoint] };
  const conn = await EtcdConnection.open(one, secrets);
  let client: Etcd3 | undefined;
  let fh: fs.FileHandle | undefined;
  let partCreated = false;
  try {
    const gather = (async () => {
      const c = await conn.endpointClient(opts.endpoint);
      const status = await c.maintenance.status();
      let list: { members: MemberInfo[]; clusterId: string } | undefined;
      try {
        list = await conn.memberList();
      } catch (err) {
        // A learner answers status and streams snapshots, but lists no members: ask the
        // cluster's other endpoints; else the list is read from the saved file afterwards.
        if (!/not supported for learner/i.test(errorText(err))) throw err;
        const others = cfg.endpoints.filter((e) => e !== opts.endpoint);
        list = others.length ? await withConnection({ ...cfg, endpoints: others }, secrets, (o) => o.memberList()).catch(() => undefined) : undefined;
      }
      return { status, list };
    })();
    const info = await Promise.race([
      gather.catch((err) => {
        throw explain(err, opts.endpoint);
      }),
      new Promise<never>((_, reject) => {
        const t = setTimeout(() => reject(new EtcdBackupError('timeout', `No answer from ${opts.endpoint} within ${timeout} ms: nothing was saved. Check that the member is up and reachable, or raise the cluster's timeout.`)), timeout + 1000);
        void gather.finally(() => clearTimeout(t)).catch(() => undefined);
      }),
      ...(opts.signal ? [abortPromise(opts.signal)] : []),
    ]);
    // Done with the metadata connection: the stream gets its own client (a larger HTTP/2 window).
    conn.close();
    const memberId = toHexId(info.status.header?.member_id);

    try {
      fh = await fs.open(part, 'wx', 0o600);
      partCreated = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new EtcdBackupError('conflict', `${part} already exists: another save is writing it, or an earlier one was killed. Remove it if no save is running, then try again.`, { cause: err });
      }
      throw folderError(err, dir);
    }
    await fh.chmod(0o600).catch(() => undefined);

    const base = await clientOptions(one, secrets, [opts.endpoint]);
    client = createClient(one, { ...base, grpcOptions: { ...(base.grpcOptions ?? {}), 'grpc-node.flow_control_window': FLOW_WINDOW } });
    const streamStarted = Date.now();
    const opening = openSnapshotCall(client);
    // A call that outlives this function (cancelled while it was being opened, or failing
    // after another error won) must not crash the process with an unhandled 'error' event.
    opening.then((c) => c.on('error', () => undefined)).catch(() => undefined);
    const call = await Promise.race([opening, ...(opts.signal ? [abortPromise(opts.signal)] : [])]).catch((err) => {
      opening.then((c) => c.cancel()).catch(() => undefined);
      throw explain(err, opts.endpoint);
    });
    const got = await streamToFile(call, fh, {
      endpoint: opts.endpoint,
      signal: opts.signal,
      onProgress: opts.onProgress,
      firstMs: timeout + 1000,
      stallMs: opts.stallMs ?? Math.max(DEFAULT_STALL_MS, timeout),
      deadlineMs: opts.deadlineMs !== undefined ? Math.max(1, opts.deadlineMs - (Date.now() - started)) : undefined,
      collectGarbage: opts.collectGarbage,
    });
    try {
      await fh.sync();
      await fh.close();
      fh = undefined;
    } catch (err) {
      throw explain(err);
    }
    if (opts.signal?.aborted) {
      throw new EtcdBackupError('cancelled', 'Snapshot cancelled: nothing was saved.');
    }
    // link() never replaces an existing file (rename() would): the final name appears atomically.
    try {
      await fs.link(part, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new EtcdBackupError('conflict', `${target} appeared while the snapshot was being saved: snapshots never overwrite a file, so nothing was saved. Try again.`, { cause: err });
      }
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') {
        throw explain(err);
      }
      // No hard links on this file system: check again, then rename.
      if (await fs.lstat(target).catch(() => undefined)) {
        throw new EtcdBackupError('conflict', `${target} appeared while the snapshot was being saved: nothing was saved. Try again.`);
      }
      await fs.rename(part, target);
    }
    await fs.rm(part, { force: true });
    partCreated = false;
    await fsyncDir(dir);

    let members = info.list?.members;
    if (!members) {
      const { readSnapshotMembers } = await import('./inspect');
      members = await readSnapshotMembers(target).catch(() => []);
    }
    const self = members.find((m) => m.id === memberId);
    const tookMs = Date.now() - started;
    const s = info.status;
    const sidecar: SnapshotSidecar = {
      format: SIDECAR_FORMAT,
      version: 1,
      cluster: cfg.name,
      clusterId: info.list?.clusterId ?? toHexId(s.header?.cluster_id),
      members,
      source: { endpoint: opts.endpoint, memberId, memberName: self?.name ?? '', isLeader: toHexId(s.leader) === memberId },
      etcdVersion: s.version,
      revision: got.revision ?? Number(s.header?.revision ?? 0),
      raftTerm: String(s.raftTerm ?? s.header?.raft_term ?? ''),
      raftIndex: String(s.raftIndex ?? ''),
      // The image's own size (the member's status figure lags until its next backend commit).
      dbSize: got.size - TRAILER,
      tookMs,
      createdAt: new Date(streamStarted).toISOString(),
      sha256: got.sha256,
      file: { name: basename(target), size: got.size, sha256: got.sha256, dbSha256: got.dbSha256 },
    };
    const result: SaveResult = { file: target, size: got.size, sha256: got.sha256, dbSha256: got.dbSha256, tookMs, sidecar };
    if (opts.sidecar !== false) {
      try {
        result.sidecarFile = await writeSidecar(target, sidecar);
      } catch (err) {
        result.sidecarError = `The snapshot was saved, but its sidecar could not be written: ${explain(err).message}`;
      }
    }
    return result;
  } catch (err) {
    await fh?.close().catch(() => undefined);
    if (partCreated) {
      await fs.rm(part, { force: true }).catch(() => undefined);
    }
    throw explain(err, opts.endpoint);
  } finally {
    conn.close();
    client?.close();
  }
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fire = (): void => reject(new EtcdBackupError('cancelled', 'Snapshot cancelled: nothing was saved.'));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
}
