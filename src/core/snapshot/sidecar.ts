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
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import { basename, dirname, join } from 'path';
import { explain } from '../errors';
import type { MemberInfo } from '../types';

export const SIDECAR_FORMAT = 'etcd-backup/snapshot-sidecar';

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
   * The store revision of the snapshot: the revision in the first stream message's header when
   * etcd sends one (3.4 does not), else what the member reported just before the stream
   * started (exact when nothing was written meanwhile; otherwise a lower bound: `etcd-backup
   * snapshot status` reads the exact one from the file).
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

/** Write the sidecar next to `snapshot`: a 0600 temp file, fsync, rename. Returns its path. */
export async function writeSidecar(snapshot: string, sidecar: SnapshotSidecar): Promise<string> {
  const target = sidecarPathFor(snapshot);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'wx', 0o600);
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
  const revision = typeof o.revision === 'number' ? o.revision : typeof o.revision === 'string' && /^\d+$/.test(o.revision) ? Number(o.revision) : undefined;
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
      text = await fs.readFile(p, 'utf8');
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
