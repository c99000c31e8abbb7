/**
 * The sidecar `<name>.json` written beside each saved snapshot `<name>.db`: what the cluster
 * looked like when the snapshot was taken (cluster id, members with names, peer and client
 * URLs and learner flags), the member it came from, and the file's size and SHA-256. The
 * restore builds its `--initial-cluster` from `members` (see ../restore/sources.ts).
 *
 * Format (JSON, one object; unknown fields are kept by readers):
 *   format: "etcd-backup/snapshot-sidecar", version: 1,
 *   cluster (configured name), clusterId (hex), members [{id (hex), name, peerURLs,
 *   clientURLs, isLearner}], source {endpoint, memberId, memberName, isLeader},
 *   etcdVersion, revision, raftTerm, raftIndex, dbSize (the database image, without the trailer),
 *   tookMs, createdAt (ISO 8601), sha256 (of the whole file, as `sha256sum` prints it),
 *   file {name, size, sha256 (whole file), dbSha256 (the database image: the trailer etcd sent)}.
 */
import { promises as fs, Stats } from 'fs';
import { basename } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { createExclusive, linkNoReplace, readSmallRegularFile, tempNameFor } from './files';
import type { MemberInfo } from '../types';

export const SIDECAR_FORMAT = 'etcd-backup/snapshot-sidecar';
/** A sidecar is about 1 KiB per member; anything larger than this is not one. */
const SIDECAR_MAX_BYTES = 4 << 20;

export interface SnapshotSidecar {
  format: typeof SIDECAR_FORMAT;
  version: 1;
  /** The configured cluster name, when known. */
  cluster?: string;
  /** Hex cluster id, as `etcdctl member list -w json` prints it (in hex with `--hex`). */
  clusterId: string;
  members: MemberInfo[];
  /** The member the snapshot was streamed from. */
  source: { endpoint: string; memberId: string; memberName: string; isLeader: boolean };
  etcdVersion: string;
  /**
   * The store revision of the snapshot, read from the saved file itself (the main revision of
   * the last key of its `key` bucket, as `etcdctl snapshot status` gives it), so writes that
   * landed while the stream ran are counted.
   */
  revision: number;
  raftTerm: string;
  raftIndex: string;
  /** Size of the database image (bytes): the file without its 32-byte trailer. */
  dbSize: number;
  /** Time the save took, in milliseconds. */
  tookMs: number;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** SHA-256 of the whole file (what `sha256sum <file>` prints). */
  sha256: string;
  file: { name: string; size: number; sha256: string; dbSha256: string };
}

/** `x.json` for `x.db` (else `x.<ext>.json`): the path a sidecar is written to. */
export function sidecarPathFor(snapshot: string): string {
  return /\.db$/i.test(snapshot) ? snapshot.replace(/\.db$/i, '.json') : `${snapshot}.json`;
}

/** Candidate sidecar paths for a snapshot file, most likely first: `x.json`, `x.db.json`. */
export function sidecarCandidates(snapshot: string): string[] {
  const out = [sidecarPathFor(snapshot)];
  if (/\.db$/i.test(snapshot)) {
    out.push(`${snapshot}.json`);
  }
  return out;
}

/**
 * Write the sidecar next to `snapshot` without ever replacing a file: an exclusive 0600 temp
 * file, fsync, then link() to its name (which fails when the name is taken). Returns its path
 * and what was written there (to undo it if the snapshot cannot take its own name). Throws
 * EtcdBackupError 'conflict' when the name is taken.
 */
export async function placeSidecar(snapshot: string, sidecar: SnapshotSidecar): Promise<{ path: string; stat: Stats }> {
  const target = sidecarPathFor(snapshot);
  const tmp = tempNameFor(target, 'tmp', { hidden: true });
  let fh: fs.FileHandle | undefined;
  try {
    fh = await createExclusive(tmp);
    await fh.writeFile(`${JSON.stringify(sidecar, null, 2)}\n`);
    await fh.sync();
    const stat = await fh.stat();
    await fh.close();
    fh = undefined;
    await linkNoReplace(tmp, target, sidecarTakenMessage(snapshot, target));
    return { path: target, stat };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw explain(err);
  }
}

/** The sentence for a sidecar name that is taken: nothing is replaced, so nothing is saved. */
export function sidecarTakenMessage(snapshot: string, sidecarPath: string): string {
  return (
    `${sidecarPath} already exists, and it is where the sidecar of ${basename(snapshot)} would go: ` +
    'snapshots never overwrite a file, so nothing was saved. Choose another name, or move that file away.'
  );
}

/** Write the sidecar next to `snapshot` (see {@link placeSidecar}); never replaces a file. Returns its path. */
export async function writeSidecar(snapshot: string, sidecar: SnapshotSidecar): Promise<string> {
  return (await placeSidecar(snapshot, sidecar)).path;
}

/**
 * Add to the sidecar this tool wrote beside `snapshot` (e.g. a backup run marks it checked):
 * only a file that reads as our sidecar of this very snapshot (same format, name and SHA-256)
 * is replaced, through an exclusive 0600 temp file and an atomic rename. Anything else under
 * that name is left alone and refused with a sentence.
 */
export async function updateOwnSidecar(snapshot: string, sidecar: SnapshotSidecar): Promise<string> {
  const target = sidecarPathFor(snapshot);
  const text = await readSmallRegularFile(target, 1024 * 1024, 'The sidecar').catch(() => undefined);
  let current: Partial<SnapshotSidecar> | undefined;
  try {
    current = text === undefined ? undefined : (JSON.parse(text) as Partial<SnapshotSidecar>);
  } catch {
    current = undefined;
  }
  const ours = current?.format === SIDECAR_FORMAT && current.file?.name === sidecar.file?.name && current.sha256 === sidecar.sha256;
  if (!ours) {
    throw new EtcdBackupError('conflict', `${target} is not the sidecar this tool wrote for ${basename(snapshot)}: it was left as it is.`);
  }
  const tmp = tempNameFor(target, 'tmp', { hidden: true });
  let fh: fs.FileHandle | undefined;
  try {
    fh = await createExclusive(tmp);
    await fh.writeFile(`${JSON.stringify(sidecar, null, 2)}\n`);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, target);
    return target;
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw explain(err);
  }
}

/** A sidecar's members and figures as read back; tolerant of older or hand-written files. */
export interface ReadSidecar {
  path: string;
  members: MemberInfo[];
  clusterId?: string;
  revision?: number;
  /** SHA-256 of the whole file, when recorded. */
  sha256?: string;
  /** Everything the file holds, for callers that want more. */
  raw: Record<string, unknown>;
}

function toMembers(list: unknown): MemberInfo[] {
  return (Array.isArray(list) ? list : [])
    .filter((m): m is Record<string, unknown> => typeof m === 'object' && m !== null)
    .map((m) => ({
      id: typeof m.id === 'string' ? m.id : m.id !== undefined ? String(m.id) : '',
      name: typeof m.name === 'string' ? m.name : '',
      peerURLs: Array.isArray(m.peerURLs) ? (m.peerURLs as unknown[]).map(String) : [],
      clientURLs: Array.isArray(m.clientURLs) ? (m.clientURLs as unknown[]).map(String) : [],
      isLearner: Boolean(m.isLearner),
    }));
}

/** Parse one sidecar's text; undefined when it is not JSON or not an object. */
export function parseSidecar(path: string, text: string): ReadSidecar | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) {
    return undefined;
  }
  const o = j as Record<string, unknown>;
  const file = (typeof o.file === 'object' && o.file !== null ? o.file : {}) as Record<string, unknown>;
  const revision =
    typeof o.revision === 'number'
      ? o.revision
      : typeof o.revision === 'string' && /^\d+$/.test(o.revision)
        ? Number(o.revision)
        : undefined;
  return {
    path,
    members: toMembers(o.members),
    clusterId: typeof o.clusterId === 'string' ? o.clusterId : undefined,
    revision,
    sha256: typeof o.sha256 === 'string' ? o.sha256 : typeof file.sha256 === 'string' ? file.sha256 : undefined,
    raw: o,
  };
}

/**
 * Read the sidecar of `snapshot` (the first candidate that parses and, when `needMembers`,
 * lists members). Undefined when there is none.
 */
export async function readSidecarFor(snapshot: string, opts: { needMembers?: boolean } = {}): Promise<ReadSidecar | undefined> {
  for (const p of sidecarCandidates(snapshot)) {
    let text: string;
    try {
      // Never blocks on a FIFO or reads a device: a sidecar is a small regular file.
      text = await readSmallRegularFile(p, SIDECAR_MAX_BYTES);
    } catch {
      continue;
    }
    const s = parseSidecar(p, text);
    if (s && (!opts.needMembers || s.members.length)) {
      return s;
    }
  }
  return undefined;
}
