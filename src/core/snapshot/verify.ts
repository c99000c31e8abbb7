/**
 * `verifySnapshot(path)`: is this file a sound etcd snapshot? The SHA-256 trailer (when the
 * file has one) and bbolt's structural check (both metas, every page id below the high-water
 * mark, each page reached once, keys in order within and across pages, overflow inside the
 * file), with the status figures as a by-product of the same walk.
 *
 * A bad file is a result (`ok: false`, one sentence in `reason`, the details in `problems`),
 * not an exception; only cancellation throws (EtcdBackupError 'cancelled').
 */
import { statSync } from 'fs';
import type { ErrorKind } from '../errors';
import { EtcdBackupError } from '../errors';
import { BoltFile, corruptError, SnapshotCorruptError, TRAILER_SIZE } from './bbolt';
import { SnapshotStatus, statusOf } from './status';
import { checkTrailer, TrailerCheck } from './trailer';

export interface VerifyResult {
  ok: boolean;
  path: string;
  fileSize: number;
  /** The file ends with a SHA-256 trailer (size % 512 == 32). */
  hasHashTrailer: boolean;
  /** The trailer check, when there is a trailer. */
  sha256?: TrailerCheck;
  /** The figures `snapshot status` gives, when the walk got through. */
  status?: SnapshotStatus;
  /** What is wrong (one sentence), when not ok. */
  reason?: string;
  kind?: ErrorKind;
  /** Every problem found, one line each (capped at 50; `problemCount` counts them all). */
  problems: string[];
  problemCount: number;
  /** Things worth saying that are not failures (no trailer, free pages). */
  notes: string[];
  /** One line for a log or a step list. */
  summary: string;
}

export interface VerifyOptions {
  signal?: AbortSignal;
  /** Progress of the page walk (pages) and of the hashing (bytes). */
  onProgress?: (what: 'pages' | 'sha256', done: number, total: number) => void;
  /** Skip the SHA-256 check (structure only). */
  skipHash?: boolean;
}

function short(hex: string): string {
  return `${hex.slice(0, 16)}...`;
}

/** Check a snapshot file thoroughly. Resolves with the verdict; rejects only when cancelled. */
export async function verifySnapshot(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const base = { path, fileSize: 0, hasHashTrailer: false, problems: [] as string[], problemCount: 0, notes: [] as string[] };
  let file: BoltFile;
  try {
    file = await BoltFile.open(path);
  } catch (err) {
    if (!(err instanceof EtcdBackupError)) throw err;
    if (err.kind === 'cancelled') throw err;
    const problems = err instanceof SnapshotCorruptError ? err.problems : [];
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // missing or unreadable: size 0
    }
    let reason = err.message;
    // A cut-off file has lost its trailer too; say so (restore would refuse it for that alone).
    if (/ is truncated: /.test(reason) && size % 512 !== TRAILER_SIZE) {
      reason = reason.replace(/\. Take or copy the snapshot again\.$/, '; it has no SHA-256 trailer either (cut off). Take or copy the snapshot again.');
    }
    return { ...base, fileSize: size, hasHashTrailer: size % 512 === TRAILER_SIZE, ok: false, reason, kind: err.kind, problems, problemCount: problems.length, summary: summaryOf(err.kind, problems.length) };
  }
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const shaP = !opts.skipHash && file.hasHashTrailer ? checkTrailer(path, { signal: ac.signal, onProgress: (d, t) => opts.onProgress?.('sha256', d, t) }) : undefined;
    shaP?.catch(() => undefined);
    const { status, walk } = await statusOf(file, { signal: opts.signal, onProgress: (d, t) => opts.onProgress?.('pages', d, t) });
    const sha = shaP ? await shaP : undefined;
    const res: VerifyResult = {
      ...base,
      ok: true,
      fileSize: file.fileSize,
      hasHashTrailer: file.hasHashTrailer,
      sha256: sha,
      status,
      problems: walk.problems,
      problemCount: walk.problemCount,
      summary: '',
    };
    if (!file.hasHashTrailer) {
      res.notes.push('no SHA-256 trailer (a member/snap/db copied out of a data dir looks like this): checked structurally only');
    } else if (file.fileSize - TRAILER_SIZE !== file.dbSize) {
      res.notes.push(`the database image is ${file.fileSize - TRAILER_SIZE} bytes but its meta gives ${file.dbSize}`);
    }
    if (status.freePages) {
      res.notes.push(`${status.freePages} free pages (${status.freePages * file.pageSize} bytes a defragmentation would reclaim)`);
    }
    if (sha && !sha.ok) {
      res.ok = false;
      res.kind = 'corrupt';
      res.reason = `${path} is corrupt: the SHA-256 of its database (${short(sha.actual)}) does not match the trailer saved with it (${short(sha.expected)}). Take or copy the snapshot again.`;
      res.problems = [`SHA-256 of bytes [0, ${sha.hashedBytes}) is ${sha.actual}, the trailer holds ${sha.expected}`, ...walk.problems];
      res.problemCount = walk.problemCount + 1;
    } else if (walk.problemCount) {
      res.ok = false;
      res.kind = 'corrupt';
      res.reason = corruptError(path, walk.problems, walk.problemCount).message;
    }
    res.summary = res.ok
      ? `${file.fileSize} bytes; ${sha ? `SHA-256 trailer matches (${short(sha.actual)})` : 'no SHA-256 trailer'}; bbolt structure sound (${walk.pagesReached} pages reached, ${status.freePages} free); revision ${status.revision}, ${status.totalKey} keys`
      : summaryOf('corrupt', res.problemCount);
    return res;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    ac.abort();
    await file.close();
  }
}

function summaryOf(kind: ErrorKind, problems: number): string {
  if (kind === 'notFound') return 'missing';
  if (kind === 'permission') return 'unreadable';
  if (kind === 'invalidInput') return 'not a file';
  return problems ? `corrupt (${problems} problem${problems === 1 ? '' : 's'})` : 'corrupt';
}

/** Throw the verdict's sentence as an EtcdBackupError when the file is not sound. */
export function assertVerified(r: VerifyResult): void {
  if (!r.ok) {
    throw new EtcdBackupError(r.kind ?? 'corrupt', r.reason ?? `${r.path} is not a sound snapshot.`);
  }
}
