/**
 * `backup fetch`: turn one of a plan's backups back into a plain snapshot file that
 * `etcd-backup snapshot restore` and `etcdctl snapshot restore` accept. A remote backup is
 * downloaded, its stored bytes hashed, decrypted (age), decompressed (gzip), and the plain
 * bytes hashed; a local one is copied and hashed. Both SHA-256 values must equal what the
 * metadata or sidecar recorded, and the result must pass the SHA-256 trailer and the native
 * reader's check. Everything is written to `<out>.part` (0600, created exclusively) and only
 * then linked to `<out>` (never replacing a file); on any failure the `.part` is removed.
 */
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import { resolve } from 'path';
import { Readable, Transform, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { createGunzip } from 'zlib';
import { EtcdBackupError, explain } from '../errors';
import { verifySnapshot } from '../snapshot/verify';
import { AgeIdentity, createDecryptStream, recipientFingerprint } from './age';
import { listLocal, listRemote, LocalBackup, RemoteBackup } from './catalog';
import type { BackupPlan } from './plan';
import { openPlanStore, tap, TapDigest } from './run';
import type { ObjectStore } from './store';

export interface FetchOptions {
  /** The backup's name (`prod-20261201T060000Z`, with or without a file suffix). */
  name?: string;
  /** The newest good backup (local or remote; local when both hold it). */
  latest?: boolean;
  out: string;
  identities?: AgeIdentity[];
  from?: 'local' | 'remote' | 'auto';
  signal?: AbortSignal;
  openStore?: (plan: BackupPlan) => Promise<ObjectStore>;
  log?: (line: string) => void;
}

export interface FetchResult {
  file: string;
  name: string;
  from: 'local' | 'remote';
  size: number;
  sha256: string;
  revision?: number;
}

const stripSuffix = (n: string): string => n.replace(/(\.meta\.json|\.json|\.db(\.gz)?(\.age)?)$/, '');

async function pick(plan: BackupPlan, opts: FetchOptions, store: ObjectStore | undefined): Promise<LocalBackup | RemoteBackup> {
  const local = opts.from === 'remote' ? [] : (await listLocal(plan)).backups;
  const remote = store ? (await listRemote(plan, store, opts.signal)).backups : [];
  const all = [...local, ...remote].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.where === 'local' ? -1 : 1));
  if (opts.name) {
    const want = stripSuffix(opts.name);
    const found = all.find((b) => b.name === want);
    if (!found) {
      throw new EtcdBackupError(
        'notFound',
        `No backup named ${want} in ` +
          `${[opts.from !== 'remote' ? plan.local.dir : '', store?.where ?? ''].filter(Boolean).join(' or ')}: run \`etcd-backup backup ` +
          `list\` for the names.`,
      );
    }
    return found;
  }
  const good = all.find((b) => b.good);
  if (!good) throw new EtcdBackupError('notFound', `The plan for "${plan.cluster.name}" has no good backup to fetch yet.`);
  return good;
}

function checkSum(what: string, got: { size: number; sha256: string }, want: { size: number; sha256: string }, name: string): void {
  if (got.sha256 !== want.sha256 || got.size !== want.size) {
    throw new EtcdBackupError(
      'corrupt',
      `The ${what} of ${name} does not match its recorded SHA-256 (got ${got.sha256.slice(0, 16)}..., ` +
        `${got.size} bytes; recorded ${want.sha256.slice(0, 16)}..., ${want.size} bytes): it was changed or damaged, so it was not ` +
        `written. Fetch another backup.`,
    );
  }
}

async function fetchRemote(b: RemoteBackup, plan: BackupPlan, store: ObjectStore, part: string, opts: FetchOptions): Promise<TapDigest> {
  const m = b.metadata;
  if (!b.object)
    throw new EtcdBackupError('notFound', `The data object of ${b.name} is missing at ${store.where} (only its metadata is ` + `there).`);
  if (m.encryption && !opts.identities?.length) {
    throw new EtcdBackupError(
      'invalidInput',
      `${b.object} is encrypted: give the age key file of one of its recipients with --identity ` +
        `FILE (fingerprints ${m.encryption.recipients.join(', ')}).`,
    );
  }
  if (m.encryption && opts.identities) {
    const fps = new Set(m.encryption.recipients);
    if (!opts.identities.some((i) => fps.has(recipientFingerprint(i.recipient)))) {
      opts.log?.(`Note: none of the given identities matches the recorded recipients' fingerprints; trying anyway.`);
    }
  }
  const stored = tap();
  const plain = tap();
  const stages: (Readable | Transform | Writable)[] = [await store.download(b.object, opts.signal), stored.stream];
  if (m.encryption) stages.push(createDecryptStream(opts.identities as AgeIdentity[]));
  // Large output chunks: the 16 KiB default costs a callback and a file write per 16 KiB of a GiB.
  if (m.compress === 'gzip') stages.push(createGunzip({ chunkSize: 512 * 1024 }));
  stages.push(plain.stream, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
  try {
    await (pipeline as unknown as (s: unknown[], o: { signal?: AbortSignal }) => Promise<void>)(stages, { signal: opts.signal });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') {
      throw new EtcdBackupError(
        'corrupt',
        `${b.object} does not decompress (${e.message}): it was changed or damaged. Fetch another ` + `backup.`,
        { cause: err },
      );
    }
    throw explain(err);
  }
  checkSum('stored object', stored.digest(), m.stored, b.object);
  const p = plain.digest();
  checkSum('decrypted snapshot', p, m.plain, b.name);
  return p;
}

async function fetchLocal(b: LocalBackup, part: string, opts: FetchOptions): Promise<TapDigest> {
  const t = tap();
  await (pipeline as unknown as (s: unknown[], o: { signal?: AbortSignal }) => Promise<void>)(
    [createReadStream(b.file), t.stream, createWriteStream(part, { flags: 'wx', mode: 0o600 })],
    { signal: opts.signal },
  );
  const got = t.digest();
  if (b.sha256) checkSum('local snapshot', got, { size: b.size, sha256: b.sha256 }, b.file);
  return got;
}

/** Fetch one backup into `opts.out`. Throws an EtcdBackupError; then no `out` and no `.part` exist. */
export async function fetchBackup(plan: BackupPlan, opts: FetchOptions): Promise<FetchResult> {
  const out = resolve(opts.out);
  const part = `${out}.part`;
  if (
    await fs.lstat(out).then(
      () => true,
      () => false,
    )
  ) {
    throw new EtcdBackupError('conflict', `${out} already exists: fetch never overwrites a file. Choose another -o path.`);
  }
  const store = plan.remote && opts.from !== 'local' ? await (opts.openStore ?? openPlanStore)(plan) : undefined;
  let partMade = false;
  try {
    if (opts.from === 'remote' && !store) throw new EtcdBackupError('invalidInput', 'The plan has no remote destination to fetch from.');
    const b = await pick(plan, opts, store);
    opts.log?.(`Fetching ${b.name} from ${b.where === 'local' ? b.file : `${store?.where}${(b as RemoteBackup).object ?? ''}`}...`);
    if (
      await fs.lstat(part).then(
        () => true,
        () => false,
      )
    ) {
      throw new EtcdBackupError(
        'conflict',
        `${part} already exists: another fetch is writing it, or an earlier one was killed. Remove ` + `it if no fetch is running.`,
      );
    }
    partMade = true;
    const got = b.where === 'remote' ? await fetchRemote(b, plan, store as ObjectStore, part, opts) : await fetchLocal(b, part, opts);
    // The bytes written were hashed on their way to the file: when their last 32 bytes are the
    // SHA-256 of the rest, the trailer check is done and the reader checks the structure only
    // (else the full check runs, and says what is wrong). The file is flushed meanwhile.
    const trailerOk = got.tail === got.headSha256;
    const fh = await fs.open(part, 'r');
    const flushed = fh.sync().finally(() => fh.close());
    flushed.catch(() => undefined);
    const v = await verifySnapshot(part, { signal: opts.signal, skipHash: trailerOk });
    await flushed;
    if (!v.ok) throw new EtcdBackupError('corrupt', `The fetched snapshot ${b.name} failed its check: ${v.reason ?? v.summary}`);
    await fs.link(part, out).catch((err) => {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new EtcdBackupError('conflict', `${out} appeared while fetching: ` + `nothing was overwritten.`);
      throw err;
    });
    await fs.rm(part, { force: true });
    partMade = false;
    return { file: out, name: b.name, from: b.where, size: got.size, sha256: got.sha256, revision: b.revision };
  } catch (err) {
    if (partMade) await fs.rm(part, { force: true }).catch(() => undefined);
    throw explain(err);
  } finally {
    store?.close();
  }
}
