/**
 * One run of a plan (`etcd-backup backup run`): take the lock; save a snapshot from a healthy
 * member into the local folder with the existing safe save (`<name>.db`, 0600, sidecar); check
 * it (SHA-256 trailer and the native reader) and mark its sidecar as checked; stream the copy
 * through gzip and age into S3 (multipart: no second full-size file) and write the metadata
 * object beside it; prune each destination by its `keep` (only one whose new backup arrived);
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
import { createGzip } from 'zlib';
import { fetchClusterOverview } from '../etcd';
import { EtcdBackupError, explain } from '../errors';
import { saveSnapshot, SaveResult, suggestSnapshotEndpoints } from '../snapshot/save';
import { writeSidecar, SnapshotSidecar } from '../snapshot/sidecar';
import { verifySnapshot } from '../snapshot/verify';
import type { ClusterSecrets } from '../types';
import { createEncryptStream, recipientFingerprint } from './age';
import { BackupMetadata, backupName, METADATA_FORMAT, remoteSuffix } from './catalog';
import { acquireLock } from './lock';
import { BackupPlan, readPlanPassword } from './plan';
import { pruneLocal, pruneRemote, PruneReport } from './prune';
import { DestinationOutcome, recordRun } from './status';
import type { ObjectStore } from './store';

export const TOOL = 'etcd-backup 0.1.0';

export interface RunOptions {
  now?: () => Date;
  signal?: AbortSignal;
  /** Progress lines for a person (stderr in the CLI). */
  log?: (line: string) => void;
  collectGarbage?: () => void;
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

/** A transform that hashes and counts what passes through it. */
export function tap(): { stream: Transform; digest(): { size: number; sha256: string } } {
  const h = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, digest: () => ({ size, sha256: h.digest('hex') }) };
}

/** Save from the best member that answers; on an unreachable member try the next. */
async function saveFromCluster(plan: BackupPlan, secrets: ClusterSecrets, file: string, opts: RunOptions): Promise<SaveResult> {
  const overview = await fetchClusterOverview(plan.cluster, secrets);
  const choices = suggestSnapshotEndpoints(overview, plan.cluster.endpoints).filter((c) => c.usable);
  if (!choices.length) {
    const why = overview.error?.message ?? 'no member answered';
    throw new EtcdBackupError('unreachable', `No member of "${plan.cluster.name}" can stream a snapshot (${why.replace(/\.$/, '')}): nothing was saved. Check the cluster and the plan's endpoints.`);
  }
  let last: unknown;
  for (const c of choices) {
    opts.log?.(`Saving a snapshot from ${c.endpoint} (${c.reason})...`);
    try {
      return await saveSnapshot(plan.cluster, secrets, { endpoint: c.endpoint, file, signal: opts.signal, collectGarbage: opts.collectGarbage });
    } catch (err) {
      last = err;
      const e = explain(err);
      if (e.kind !== 'unreachable' && e.kind !== 'timeout') throw e;
    }
  }
  throw explain(last);
}

/** Check the saved file with the native reader and record that in its sidecar. */
async function checkAndMark(saved: SaveResult, plan: BackupPlan): Promise<void> {
  const v = await verifySnapshot(saved.file);
  if (!v.ok) {
    throw new EtcdBackupError('corrupt', `The saved snapshot ${saved.file} failed its check: ${v.reason ?? v.summary} It is kept for inspection, but not counted as a good backup.`);
  }
  const sidecar = { ...saved.sidecar, backup: { verified: true, verifiedAt: new Date().toISOString(), plan: plan.path, checks: 'sha256-trailer, bbolt structure' } };
  await writeSidecar(saved.file, sidecar as SnapshotSidecar);
}

/** Compress, encrypt and upload the saved file; then write its metadata object beside it. */
export async function uploadBackup(plan: BackupPlan, store: ObjectStore, saved: SaveResult, name: string, opts: RunOptions = {}): Promise<BackupMetadata> {
  const meta = await uploadData(plan, store, saved, name, opts);
  await writeMetadata(store, meta);
  return meta;
}

/** Write the metadata object that makes an uploaded backup complete (and recognisable). */
export async function writeMetadata(store: ObjectStore, meta: BackupMetadata): Promise<void> {
  await store.putSmall(`${meta.name}.meta.json`, `${JSON.stringify(meta, null, 2)}\n`);
}

/** Stream the saved file through gzip and age into the store; returns the metadata to write. */
export async function uploadData(plan: BackupPlan, store: ObjectStore, saved: SaveResult, name: string, opts: RunOptions = {}): Promise<BackupMetadata> {
  const object = `${name}${remoteSuffix(plan)}`;
  const plain = tap();
  const stored = tap();
  const stages: (Readable | Transform)[] = [createReadStream(saved.file, { highWaterMark: 1024 * 1024 }), plain.stream];
  if (plan.compress === 'gzip') stages.push(createGzip({ level: plan.compressLevel, chunkSize: 256 * 1024 }));
  if (plan.encrypt) stages.push(createEncryptStream(plan.encrypt.recipients));
  stages.push(stored.stream);
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const feeding = (pipeline as unknown as (streams: NodeJS.ReadWriteStream[]) => Promise<void>)([...stages, body] as unknown as NodeJS.ReadWriteStream[]);
  feeding.catch((err) => body.destroy(err as Error));
  await Promise.all([feeding, store.upload(object, body, { signal: opts.signal })]);
  const p = plain.digest();
  if (p.sha256 !== saved.sha256 || p.size !== saved.size) {
    await store.remove(object).catch(() => undefined);
    throw new EtcdBackupError('corrupt', `${saved.file} changed while it was uploaded (its SHA-256 no longer matches the save's): the upload was removed. Check the disk.`);
  }
  const s = stored.digest();
  const sc = saved.sidecar;
  return {
    format: METADATA_FORMAT,
    version: 1,
    name,
    object,
    cluster: plan.cluster.name,
    clusterId: sc.clusterId,
    members: sc.members,
    source: sc.source,
    etcdVersion: sc.etcdVersion,
    revision: sc.revision,
    createdAt: sc.createdAt,
    uploadedAt: new Date().toISOString(),
    plain: { size: saved.size, sha256: saved.sha256, dbSha256: saved.dbSha256 },
    stored: { size: s.size, sha256: s.sha256 },
    compress: plan.compress,
    encryption: plan.encrypt ? { format: 'age-encryption.org/v1', recipients: plan.encrypt.recipients.map(recipientFingerprint) } : null,
    tool: TOOL,
  };
}

/** A file name for this run that is not taken yet (runs in the same second wait for the next). */
async function freshName(plan: BackupPlan, now: () => Date): Promise<string> {
  for (;;) {
    const name = backupName(plan, now());
    const taken = await fs.lstat(join(plan.local.dir, `${name}.db`)).then(() => true, () => false);
    if (!taken) return name;
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  }
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
    storeReady?.then((s) => (store = s), () => undefined);
    await runDestinations(plan, opts, now, result, storeReady);
  } finally {
    result.durationSeconds = (Date.now() - t0) / 1000;
    result.ok = result.destinations.length > 0 && result.destinations.every((d) => d.ok) && result.destinations.length === (plan.remote ? 2 : 1);
    try {
      await recordRun(plan, { at: startedAt, ok: result.ok, name: result.name, durationSeconds: result.durationSeconds, message: result.message, outcomes: result.destinations });
    } finally {
      (store as ObjectStore | undefined)?.close();
      await lock.release();
    }
  }
  return result;
}

async function runDestinations(plan: BackupPlan, opts: RunOptions, now: () => Date, result: RunResult, storeReady?: Promise<ObjectStore>): Promise<void> {
  const remoteWhere = plan.remote ? `s3://${plan.remote.s3.bucket}/${plan.remote.s3.prefix}` : '';
  const t = Date.now();
  let saved: SaveResult;
  try {
    const password = await readPlanPassword(plan);
    await fs.mkdir(plan.local.dir, { recursive: true, mode: 0o700 });
    const name = await freshName(plan, now);
    result.name = name;
    saved = await saveFromCluster(plan, password !== undefined ? { password } : {}, join(plan.local.dir, `${name}.db`), opts);
    result.file = saved.file;
    result.revision = saved.sidecar.revision;
  } catch (err) {
    const out = failed('local', plan.local.dir, err, t);
    result.destinations.push(out);
    result.message = out.error;
    if (plan.remote) result.destinations.push({ ...out, destination: 'remote', where: remoteWhere, error: `Nothing was uploaded: ${out.error}` });
    return;
  }
  // The check (native reader, trailer in a worker thread) runs while the copy uploads; the
  // metadata that makes the remote copy count is written only when both passed.
  const uploading = storeReady?.then(async (store) => {
    opts.log?.(`Uploading to ${store.where}...`);
    return { store, meta: await uploadData(plan, store, saved, result.name as string, opts) };
  });
  uploading?.catch(() => undefined);
  try {
    await checkAndMark(saved, plan);
    result.destinations.push({ destination: 'local', ok: true, where: plan.local.dir, name: basename(saved.file), sizeBytes: saved.size, durationSeconds: (Date.now() - t) / 1000 });
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
  result.prune.push(await pruneLocal(plan, { now: now() }).catch((err) => ({ where: 'local' as const, removed: [], kept: [], error: explain(err).message })));
  if (!uploading) return;
  let store: ObjectStore;
  try {
    const up = await uploading;
    store = up.store;
    await writeMetadata(store, up.meta);
    result.destinations.push({ destination: 'remote', ok: true, where: store.where, name: up.meta.object, sizeBytes: up.meta.stored.size, durationSeconds: (Date.now() - t) / 1000 });
    opts.log?.(`Uploaded ${up.meta.object} (${up.meta.stored.size} bytes) and its metadata.`);
  } catch (err) {
    result.destinations.push(failed('remote', remoteWhere, err, t));
    return;
  }
  result.prune.push(await pruneRemote(plan, store, { now: now() }).catch((err) => ({ where: 'remote' as const, removed: [], kept: [], error: explain(err).message })));
}
