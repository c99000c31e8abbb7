/**
 * The check a restore makes before it touches anything: the file exists, is a sound etcd
 * (bbolt) snapshot, and its SHA-256 trailer matches. An adapter over the snapshot reader's
 * verifier (src/core/snapshot/verify.ts), which also walks the bbolt pages, so a truncated or
 * damaged file is refused with what is wrong even when it has no trailer.
 */
import type { ErrorKind } from '../errors';
import { snapshotKeyFigures } from '../snapshot/inspect';
import { verifySnapshot } from '../snapshot/verify';

export interface SnapshotCheck {
  ok: boolean;
  /** The file ends with a SHA-256 trailer (size % 512 == 32). */
  hasHash: boolean;
  /** Size of the file in bytes. */
  size: number;
  /** Hex SHA-256 of the database image (without the trailer), when computed. */
  sha256?: string;
  /** Why it cannot be restored (one sentence), when `ok` is false. */
  reason?: string;
  kind?: ErrorKind;
  /** What exactly is wrong, one line each, when `ok` is false. */
  problems?: string[];
  /** One line for the step log. */
  summary: string;
}

export async function checkSnapshotForRestore(path: string, opts: { signal?: AbortSignal } = {}): Promise<SnapshotCheck> {
  const r = await verifySnapshot(path, { signal: opts.signal });
  const out: SnapshotCheck = { ok: r.ok, hasHash: r.hasHashTrailer, size: r.fileSize, summary: r.summary };
  if (r.sha256) out.sha256 = r.sha256.actual;
  if (!r.ok) {
    out.reason = r.reason;
    out.kind = r.kind ?? 'corrupt';
    out.problems = r.problems;
  }
  return out;
}

/** What the file itself says, to compare a trial restore with. */
export interface SnapshotFigures {
  /** Main revision of the last key in the file. */
  revision?: number;
  /** Live (not deleted) user keys at that revision, when the reader can tell. */
  liveKeys?: number;
  /** Where the figures came from, for the report. */
  source: string;
}

/**
 * The snapshot's revision and live key count, read natively (no etcdctl). `tool` is kept for
 * callers that pass it; it is not used.
 */
export async function snapshotFigures(
  path: string,
  _tool?: { kind: string; path: string; env: Record<string, string> },
  opts: { signal?: AbortSignal } = {},
): Promise<SnapshotFigures> {
  const f = await snapshotKeyFigures(path, { signal: opts.signal });
  return { revision: f.revision, liveKeys: f.liveKeys, source: 'the snapshot reader' };
}
