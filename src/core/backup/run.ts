/**
 * One run of a plan (`etcd-backup backup run`): take the lock; save a snapshot from a healthy
 * member into the local folder with the existing safe save (`<name>.db`, 0600, sidecar; it
 * checks the SHA-256 trailer on the stream); meanwhile stream the same bytes, as they arrive
 * (./saveTee.ts), through gzip and age into S3 (multipart: no second full-size file); check the
 * file with the native reader and mark its sidecar as checked; write the metadata object beside
 * the upload; prune each destination by its `keep` (only one whose new backup arrived);
 * record the outcome in the status and metrics files; release the lock.
 *
 * The run never throws for a failed destination: the result says, per destination, whether it
 * holds the new backup and why not. It throws only when the plan's lock is held (nothing done)
 * or the status file cannot be written.
 */
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import { basename, join } from 'path';
import { PassThrough, Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { fetchClusterOverview } from '../etcd';
import { EtcdBackupError, explain } from '../errors';
import { saveSnapshot, SaveResult, suggestSnapshotEndpoints } from '../snapshot/save';
import { updateOwnSidecar, SnapshotSidecar } from '../snapshot/sidecar';
import { verifySnapshot } from '../snapshot/verify';
import type { ClusterSecrets } from '../types';
import { createEncryptStream, recipientFingerprint } from './age';
import { BackupMetadata, backupName, METADATA_FORMAT, remoteSuffix } from './catalog';
import { acquireLock } from './lock';
import { createParallelGzip } from './parallelGzip';
import { BackupPlan, readPlanPassword } from './plan';
import { pruneLocal, pruneRemote, PruneReport } from './prune';
import { SaveRestarted, SaveTee } from './saveTee';
import { DestinationOutcome, recordRun } from './status';
import type { ObjectStore } from './store';

export const TOOL = 'etcd-backup 0.1.0';

export interface RunOptions {
  now?: () => Date;
  signal?: AbortSignal;
  /** Progress lines for a person (stderr in the CLI). */
  log?: (line: string) => void;
  collectGarbage?: () => void;
  /** Bytes the upload may fall behind the save before the save waits for it (default 16 MiB; see SaveTee). */
  teeCapBytes?: number;
  /** Opens the remote store (default: S3 from the plan). */
  openStore?: (plan: BackupPlan) => Promise<ObjectStore>;
}

export interface RunResult {
  ok: boolean;
  name?: string;
  startedAt: string;
  durationSeconds: number;
  revision?: number;
  /** The local snapshot file, when it was saved. */
  file?: string;
  destinations: DestinationOutcome[];
  prune: PruneReport[];
  /** One sentence when the run failed before any destination (cluster unreachable...). */
  message?: string;
}

/** The default remote store for a plan: S3. */
export async function openPlanStore(plan: BackupPlan): Promise<ObjectStore> {
  if (!plan.remote) throw new EtcdBackupError('invalidInput', 'The plan has no remote destination.');
  const { openS3Store } = await import('./storeS3');
  return openS3Store(plan.remote.s3);
}

/** What a {@link tap} saw: size and SHA-256 of all of it, and of all but its last 32 bytes (a snapshot's database). */
export interface TapDigest {
  size: number;
  sha256: string;
  /** SHA-256 of every byte but the last 32: for a snapshot file, the hash its trailer must hold. */
  headSha256: string;
  /** The last 32 bytes (hex): for a snapshot file, its SHA-256 trailer. */
  tail: string;
}

/**
 * A transform that hashes and counts what passes through it, in one pass: the hash of all but
 * the last 32 bytes is a copy of the running hash taken before the held-back tail is added.
 * `onEnd` gets the digest as soon as the last byte has passed.
 */
export function tap(onEnd?: (d: TapDigest) => void): { stream: Transform; digest(): TapDigest } {
  const h = createHash('sha256');
  let size = 0;
  let tail = Buffer.alloc(0);
  let result: TapDigest | undefined;
  const digest = (): TapDigest => {
    if (!result) {
      const headSha256 = h.copy().digest('hex');
      result = { size, sha256: h.update(tail).digest('hex'), headSha256, tail: tail.toString('hex') };
    }
    return result;
  };
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      size += chunk.length;
      if (chunk.length >= TRAILER_BYTES) {
        h.update(tail);
        h.update(chunk.subarray(0, chunk.length - TRAILER_BYTES));
        tail = Buffer.from(chunk.subarray(chunk.length - TRAILER_BYTES));
      } else {
        const both = Buffer.concat([tail, chunk]);
        h.update(both.subarray(0, Math.max(0, both.length - TRAILER_BYTES)));
        tail = both.subarray(Math.max(0, both.length - TRAILER_BYTES));
      }
      cb(null, chunk);
    },
    flush(cb) {
      onEnd?.(digest());
      cb();
    },
  });
  return { stream, digest };
}

const TRAILER_BYTES = 32;

/**
 * Save from the best member that answers; on an unreachable member try the next. The tee gets
 * the first attempt's bytes; when that attempt fails and another follows, it ends with
 * SaveRestarted (the caller then uploads the saved file).
 */
async function saveFromCluster(
  plan: BackupPlan,
  secrets: ClusterSecrets,
  file: string,
  opts: RunOptions,
  onPartFile?: (path: string) => void,
  tee?: SaveTee,
): Promise<SaveResult> {
  const overview = await fetchClusterOverview(plan.cluster, secrets);
  const choices = suggestSnapshotEndpoints(overview, plan.cluster.endpoints).filter((c) => c.usable);
  if (!choices.length) {
    const why = overview.error?.message ?? 'no member answered';
    throw new EtcdBackupError(
      'unreachable',
      `No member of "${plan.cluster.name}" can stream a snapshot (${why.replace(/\.$/, '')}): ` +
        `nothing was saved. Check the cluster and the plan's endpoints.`,
    );
  }
  let last: unknown;
  for (const [i, c] of choices.entries()) {
    opts.log?.(`Saving a snapshot from ${c.endpoint} (${c.reason})...`);
    try {
      const saveOpts = { endpoint: c.endpoint, file, signal: opts.signal, collectGarbage: opts.collectGarbage, onPartFile };
      return await saveSnapshot(plan.cluster, secrets, { ...saveOpts, tee: i === 0 ? tee : undefined });
    } catch (err) {
      last = err;
      const e = explain(err);
      if (e.kind !== 'unreachable' && e.kind !== 'timeout') throw e;
      tee?.fail(new SaveRestarted('the save attempt was abandoned'));
    }
  }
  throw explain(last);
}

/**
 * Check the saved file and record that in its sidecar. The SHA-256 trailer was checked by the
 * save, on the bytes as they arrived and before the file took its name; here the native reader
 * walks the file on disk. (A restore and `backup fetch` check the trailer of the file itself
 * again before they use it; hashing it back here would read a GiB from the page cache, which
 * proves little about the disk.)
 */
async function checkAndMark(saved: SaveResult, plan: BackupPlan): Promise<void> {
  const v = await verifySnapshot(saved.file, { skipHash: true });
  if (!v.ok) {
    throw new EtcdBackupError(
      'corrupt',
      `The saved snapshot ${saved.file} failed its check: ${v.reason ?? v.summary} It is kept for ` +
        `inspection, but not counted as a good backup.`,
    );
  }
  const backup = { verified: true, verifiedAt: new Date().toISOString(), plan: plan.path, checks: RUN_CHECKS };
  const sidecar = { ...saved.sidecar, backup };
  await updateOwnSidecar(saved.file, sidecar as SnapshotSidecar);
}

/** What a run's check of the local file covers (its sidecar's `backup.checks`). */
export const RUN_CHECKS = 'sha256-trailer (on the stream, as saved), bbolt structure';

/** Compress, encrypt and upload the saved file; then write its metadata object beside it. */
export async function uploadBackup(
  plan: BackupPlan,
  store: ObjectStore,
  saved: SaveResult,
  name: string,
  opts: RunOptions = {},
): Promise<BackupMetadata> {
  const meta = await uploadData(plan, store, saved, name, opts);
  await writeMetadata(store, meta);
  return meta;
}

/** Write the metadata object that makes an uploaded backup complete (and recognisable). */
export async function writeMetadata(store: ObjectStore, meta: BackupMetadata): Promise<void> {
  await store.putSmall(`${meta.name}.meta.json`, `${JSON.stringify(meta, null, 2)}\n`);
}

/** Stream the saved file through gzip and age into the store; returns the metadata to write. */
export async function uploadData(
  plan: BackupPlan,
  store: ObjectStore,
  saved: SaveResult,
  name: string,
  opts: RunOptions = {},
): Promise<BackupMetadata> {
  const up = await uploadStream(plan, store, createReadStream(saved.file, { highWaterMark: 1024 * 1024 }), name, opts);
  return checkedMetadata(plan, store, saved, name, up);
}

interface Uploaded {
  object: string;
  /**
   * What the upload got: its SHA-256 when it read any of it from the file; without one, every
   * byte was a buffer the save itself received and hashed (see SaveTee).
   */
  plain: { size: number; sha256?: string };
  stored: { size: number; sha256: string };
}

/** Compress, encrypt and upload `source` (a file's stream, or the save's tee) as the plan's data object for `name`. */
async function uploadStream(
  plan: BackupPlan,
  store: ObjectStore,
  source: Readable | SaveTee,
  name: string,
  opts: RunOptions,
): Promise<Uploaded> {
  const object = `${name}${remoteSuffix(plan)}`;
  const tee = source instanceof SaveTee ? source : undefined;
  // From the tee the bytes need no hash of their own (it says what it read from the file).
  const plain = tee ? undefined : tap();
  const stored = tap();
  const stages: (Readable | Transform)[] = tee ? [tee.stream] : [source as Readable, (plain as ReturnType<typeof tap>).stream];
  if (plan.compress === 'gzip') stages.push(createParallelGzip({ level: plan.compressLevel }));
  if (plan.encrypt) stages.push(createEncryptStream(plan.encrypt.recipients));
  stages.push(stored.stream);
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const pipe = pipeline as unknown as (streams: NodeJS.ReadWriteStream[]) => Promise<void>;
  const feeding = pipe([...stages, body] as unknown as NodeJS.ReadWriteStream[]);
  feeding.catch((err) => body.destroy(err as Error));
  await Promise.all([feeding, store.upload(object, body, { signal: opts.signal })]);
  const got = plain ? plain.digest() : tee?.result();
  if (!got) throw new Error('the upload ended before its source did');
  return { object, plain: { size: got.size, sha256: got.sha256 }, stored: stored.digest() };
}

/** The metadata for an upload whose plain bytes must be exactly the saved file; else the object is removed. */
async function checkedMetadata(
  plan: BackupPlan,
  store: ObjectStore,
  saved: SaveResult,
  name: string,
  up: Uploaded,
): Promise<BackupMetadata> {
  if ((up.plain.sha256 !== undefined && up.plain.sha256 !== saved.sha256) || up.plain.size !== saved.size) {
    await store.remove(up.object).catch(() => undefined);
    throw new EtcdBackupError(
      'corrupt',
      `${saved.file} changed while it was uploaded (its SHA-256 no longer matches the save's): the ` +
        'upload was removed. Check the disk.',
    );
  }
  const sc = saved.sidecar;
  return {
    format: METADATA_FORMAT,
    version: 1,
    name,
    object: up.object,
    cluster: plan.cluster.name,
    clusterId: sc.clusterId,
    members: sc.members,
    source: sc.source,
    etcdVersion: sc.etcdVersion,
    revision: sc.revision,
    createdAt: sc.createdAt,
    uploadedAt: new Date().toISOString(),
    plain: { size: saved.size, sha256: saved.sha256, dbSha256: saved.dbSha256 },
    stored: up.stored,
    compress: plan.compress,
    encryption: plan.encrypt ? { format: 'age-encryption.org/v1', recipients: plan.encrypt.recipients.map(recipientFingerprint) } : null,
    tool: TOOL,
  };
}

/** A file name for this run that is not taken yet (runs in the same second wait for the next). */
async function freshName(plan: BackupPlan, now: () => Date): Promise<string> {
  for (;;) {
    const name = backupName(plan, now());
    const taken = await fs.lstat(join(plan.local.dir, `${name}.db`)).then(
      () => true,
      () => false,
    );
    if (!taken) return name;
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  }
}

function pruneFailed(where: 'local' | 'remote', err: unknown): PruneReport {
  return { where, removed: [], kept: [], error: explain(err).message };
}

function failed(destination: DestinationOutcome['destination'], where: string, err: unknown, started: number): DestinationOutcome {
  const e = explain(err);
  return { destination, ok: false, where, error: e.message, errorKind: e.kind, durationSeconds: (Date.now() - started) / 1000 };
}

/** Run the plan once. See the module comment. */
export async function runBackup(plan: BackupPlan, opts: RunOptions = {}): Promise<RunResult> {
  const now = opts.now ?? (() => new Date());
  const lock = await acquireLock(plan.lockFile, plan.cluster.name);
  const startedAt = now();
  const t0 = Date.now();
  const result: RunResult = { ok: false, startedAt: startedAt.toISOString(), durationSeconds: 0, destinations: [], prune: [] };
  let store: ObjectStore | undefined;
  try {
    // The store is opened and checked while the snapshot streams.
    const storeReady = plan.remote ? (opts.openStore ?? openPlanStore)(plan).then(async (s) => (await s.check(opts.signal), s)) : undefined;
    storeReady?.catch(() => undefined);
    storeReady?.then(
      (s) => (store = s),
      () => undefined,
    );
    await runDestinations(plan, opts, now, result, storeReady);
  } finally {
    result.durationSeconds = (Date.now() - t0) / 1000;
    const want = plan.remote ? 2 : 1;
    result.ok = result.destinations.length === want && result.destinations.every((d) => d.ok);
    try {
      const { ok, name, durationSeconds, message } = result;
      await recordRun(plan, { at: startedAt, ok, name, durationSeconds, message, outcomes: result.destinations });
    } finally {
      (store as ObjectStore | undefined)?.close();
      await lock.release();
    }
  }
  return result;
}

async function runDestinations(
  plan: BackupPlan,
  opts: RunOptions,
  now: () => Date,
  result: RunResult,
  storeReady?: Promise<ObjectStore>,
): Promise<void> {
  const remoteWhere = plan.remote ? `s3://${plan.remote.s3.bucket}/${plan.remote.s3.prefix}` : '';
  const t = Date.now();
  let saved: SaveResult;
  let streaming: Promise<Uploaded> | undefined;
  let tee: SaveTee | undefined;
  try {
    const password = await readPlanPassword(plan);
    await fs.mkdir(plan.local.dir, { recursive: true, mode: 0o700 });
    const name = await freshName(plan, now);
    result.name = name;
    const target = join(plan.local.dir, `${name}.db`);
    // The save streams into a temp file of its own (`<name>.<pid>-<random>.part`); the upload
    // takes the same bytes as they arrive, or from that file when it falls behind.
    let partFile: string | undefined;
    const onLetGo = (at: number): void =>
      opts.log?.(`The upload fell behind after ${(at / 1048576).toFixed(1)} MiB: it reads the rest from the saved file.`);
    tee = storeReady ? new SaveTee(() => partFile, { cap: opts.teeCapBytes, onLetGo }) : undefined;
    const saving = saveFromCluster(plan, password !== undefined ? { password } : {}, target, opts, (p) => (partFile = p), tee);
    saving.then(
      (s) => tee?.finish(s),
      (err) => tee?.fail(err as Error),
    );
    storeReady?.catch((err) => tee?.fail(err as Error));
    // The copy is compressed, encrypted and uploaded while the snapshot streams to disk.
    streaming = storeReady?.then(async (store) => {
      opts.log?.(`Uploading to ${store.where} while saving...`);
      return uploadStream(plan, store, tee as SaveTee, name, opts);
    });
    streaming?.catch(() => undefined); // awaited below; a store that did not open is reported there
    saved = await saving;
    result.file = saved.file;
    result.revision = saved.sidecar.revision;
  } catch (err) {
    await streaming?.catch(() => undefined);
    const out = failed('local', plan.local.dir, err, t);
    result.destinations.push(out);
    result.message = out.error;
    if (plan.remote)
      result.destinations.push({ ...out, destination: 'remote', where: remoteWhere, error: `Nothing was uploaded: ` + `${out.error}` });
    return;
  }
  // The check (the native reader's walk) runs while the upload finishes; the
  // metadata that makes the remote copy count is written only when both passed. When the save
  // had to start over on another member, the copy is uploaded again from the saved file.
  const uploading = storeReady?.then(async (store) => {
    try {
      return { store, meta: await checkedMetadata(plan, store, saved, result.name as string, await (streaming as Promise<Uploaded>)) };
    } catch (err) {
      // The tee ended with SaveRestarted (its attempt failed, or its file went away): upload the saved file.
      if (!tee?.abandoned) throw err;
      return { store, meta: await uploadData(plan, store, saved, result.name as string, opts) };
    }
  });
  uploading?.catch(() => undefined);
  try {
    await checkAndMark(saved, plan);
    const durationSeconds = (Date.now() - t) / 1000;
    const name = basename(saved.file);
    result.destinations.push({ destination: 'local', ok: true, where: plan.local.dir, name, sizeBytes: saved.size, durationSeconds });
    opts.log?.(`Saved and checked ${saved.file} (${saved.size} bytes, revision ${saved.sidecar.revision}).`);
  } catch (err) {
    const out = failed('local', plan.local.dir, err, t);
    result.destinations.push(out);
    result.message = out.error;
    if (uploading) {
      const up = await uploading.catch(() => undefined);
      await up?.store.remove(up.meta.object).catch(() => undefined);
      result.destinations.push({ ...out, destination: 'remote', where: remoteWhere, error: `Nothing was kept remotely: ${out.error}` });
    }
    return;
  }
  result.prune.push(await pruneLocal(plan, { now: now() }).catch((err) => pruneFailed('local', err)));
  if (!uploading) return;
  let store: ObjectStore;
  try {
    const up = await uploading;
    store = up.store;
    await writeMetadata(store, up.meta);
    const durationSeconds = (Date.now() - t) / 1000;
    const sizeBytes = up.meta.stored.size;
    result.destinations.push({ destination: 'remote', ok: true, where: store.where, name: up.meta.object, sizeBytes, durationSeconds });
    opts.log?.(`Uploaded ${up.meta.object} (${up.meta.stored.size} bytes) and its metadata.`);
  } catch (err) {
    result.destinations.push(failed('remote', remoteWhere, err, t));
    return;
  }
  result.prune.push(await pruneRemote(plan, store, { now: now() }).catch((err) => pruneFailed('remote', err)));
}
