/**
 * `verifySnapshot(path)`: is this file a sound etcd snapshot? The SHA-256 trailer and bbolt's
 * structural check (both metas, every page id below the high-water mark, each page reached
 * once, keys in order within and across pages, overflow inside the file), with the status
 * figures as a by-product of the same walk; and the buckets every etcd database has (`key`,
 * `meta`): another program's bbolt file is not an etcd snapshot.
 *
 * One rule for the hash check: a check that could not run is reported as not run
 * (`hashCheck`), never as passed. With `requireTrailer` a file without a trailer fails unless
 * the check is skipped (`skipHash`), as a restore refuses it.
 *
 * A bad file is a result (`ok: false`, one sentence in `reason`, the details in `problems`),
 * not an exception; only cancellation throws (EtcdBackupError 'cancelled').
 */
import { statSync } from 'fs';
import type { ErrorKind } from '../errors';
import { EtcdBackupError } from '../errors';
import { BoltFile, corruptError, SnapshotCorruptError, TRAILER_SIZE, WalkResult } from './bbolt';
import { SnapshotStatus, statusOf } from './status';
import { checkTrailer, TrailerCheck } from './trailer';

/**
 * What became of the SHA-256 check: `matched`, `mismatch`, `skipped` (asked not to run it),
 * `noTrailer` (the file has none, so it could not run), `notRun` (the file could not be read).
 */
export type HashCheck = 'matched' | 'mismatch' | 'skipped' | 'noTrailer' | 'notRun';

const NO_TRAILER = 'no SHA-256 trailer';
const RAW_COPY = 'a member/snap/db copied out of a data dir looks like this';

/** Buckets every etcd v3 database has: a bbolt file without them is another program's. */
const ETCD_BUCKETS = ['key', 'meta'];

export interface VerifyResult {
  ok: boolean;
  /** What became of the SHA-256 check (never "matched" unless it ran and matched). */
  hashCheck: HashCheck;
  path: string;
  fileSize: number;
  /** The file ends with a SHA-256 trailer (size % 512 == 32). */
  hasHashTrailer: boolean;
  /** The trailer check, when there is a trailer. */
  sha256?: TrailerCheck;
  /** The figures `snapshot status` gives, when the walk got through. */
  status?: SnapshotStatus;
  /** The one reason for the refusal is the missing trailer: skipping the hash check would pass it. */
  refusedForNoTrailer?: boolean;
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
  /**
   * Fail a file without a SHA-256 trailer unless `skipHash` (what `verify` does, exactly as a
   * restore refuses it). Default false: callers that decide themselves (the restore's own
   * check) get `hashCheck: 'noTrailer'` and decide.
   */
  requireTrailer?: boolean;
}

function short(hex: string): string {
  return `${hex.slice(0, 16)}...`;
}

/** Check a snapshot file thoroughly. Resolves with the verdict; rejects only when cancelled. */
export async function verifySnapshot(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const base = {
    path,
    fileSize: 0,
    hasHashTrailer: false,
    hashCheck: 'notRun' as HashCheck,
    problems: [] as string[],
    problemCount: 0,
    notes: [] as string[],
  };
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
      reason = reason.replace(
        /\. Take or copy the snapshot again\.$/,
        '; it has no SHA-256 trailer either (cut off). Take or copy the snapshot again.',
      );
    }
    return {
      ...base,
      fileSize: size,
      hasHashTrailer: size % 512 === TRAILER_SIZE,
      ok: false,
      reason,
      kind: err.kind,
      problems,
      problemCount: problems.length,
      summary: summaryOf(err.kind, problems.length),
    };
  }
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const shaP =
      !opts.skipHash && file.hasHashTrailer
        ? checkTrailer(path, { signal: ac.signal, onProgress: (d, t) => opts.onProgress?.('sha256', d, t) })
        : undefined;
    shaP?.catch(() => undefined);
    const { status, walk } = await statusOf(file, { signal: opts.signal, onProgress: (d, t) => opts.onProgress?.('pages', d, t) });
    const sha = shaP ? await shaP : undefined;
    const res: VerifyResult = {
      ...base,
      ok: true,
      fileSize: file.fileSize,
      hasHashTrailer: file.hasHashTrailer,
      hashCheck: sha ? (sha.ok ? 'matched' : 'mismatch') : opts.skipHash ? 'skipped' : 'noTrailer',
      sha256: sha,
      status,
      problems: walk.problems,
      problemCount: walk.problemCount,
      summary: '',
    };
    addNotes(res, file, status.freePages);
    judge(res, walk, opts);
    res.summary = res.ok
      ? `${file.fileSize} bytes; ${hashSummary(res)}; ` +
        `bbolt structure sound (${walk.pagesReached} pages reached, ${status.freePages} free); ` +
        `revision ${status.revision}, ${status.totalKey} keys`
      : summaryOf(res.kind ?? 'corrupt', res.problemCount, res.hashCheck);
    return res;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    ac.abort();
    await file.close();
  }
}

/** Notes that are not failures: no trailer, a size that differs from the meta, free pages. */
function addNotes(res: VerifyResult, file: BoltFile, freePages: number): void {
  if (!file.hasHashTrailer) {
    res.notes.push(`${NO_TRAILER} (${RAW_COPY}): the hash check did not run; the structure was checked`);
  } else if (file.fileSize - TRAILER_SIZE !== file.dbSize) {
    res.notes.push(`the database image is ${file.fileSize - TRAILER_SIZE} bytes but its meta gives ${file.dbSize}`);
  }
  if (res.hashCheck === 'skipped' && file.hasHashTrailer) {
    res.notes.push('hash check skipped as asked: the SHA-256 trailer was not compared');
  }
  if (freePages) {
    res.notes.push(`${freePages} free pages (${freePages * file.pageSize} bytes a defragmentation would reclaim)`);
  }
}

/** The verdict, most serious first: a hash mismatch, a damaged structure, not etcd's, no trailer. */
function judge(res: VerifyResult, walk: WalkResult, opts: VerifyOptions): void {
  const path = res.path;
  const sha = res.sha256;
  const missing = ETCD_BUCKETS.filter((b) => !walk.buckets.includes(b));
  if (sha && !sha.ok) {
    res.ok = false;
    res.kind = 'corrupt';
    const text = `the SHA-256 of its database (${short(sha.actual)}) does not match the trailer saved with it (${short(sha.expected)})`;
    res.reason = `${path} is corrupt: ${text}. Take or copy the snapshot again.`;
    res.problems = [`SHA-256 of bytes [0, ${sha.hashedBytes}) is ${sha.actual}, the trailer holds ${sha.expected}`, ...walk.problems];
    res.problemCount = walk.problemCount + 1;
  } else if (walk.problemCount) {
    res.ok = false;
    res.kind = 'corrupt';
    res.reason = corruptError(path, walk.problems, walk.problemCount).message;
  } else if (missing.length) {
    const has = walk.buckets.length ? `its buckets are ${walk.buckets.map((b) => JSON.stringify(b)).join(', ')}` : 'it holds no buckets';
    res.ok = false;
    res.kind = 'invalidInput';
    const none = missing.map((b) => `"${b}"`).join(' or ');
    res.reason = `${path} is a bbolt database but not an etcd snapshot: it has no ${none} bucket (${has}). Check the file you picked.`;
    res.problems = [`missing bucket${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`];
    res.problemCount = 1;
  } else if (res.hashCheck === 'noTrailer' && opts.requireTrailer) {
    res.ok = false;
    res.kind = 'invalidInput';
    res.refusedForNoTrailer = true;
    res.reason =
      `${path} has ${NO_TRAILER}, so its integrity could not be checked (${RAW_COPY}): ` +
      'the hash check did not run, and a restore would refuse the file the same way.';
  }
}

function hashSummary(res: VerifyResult): string {
  if (res.hashCheck === 'matched' && res.sha256) return `SHA-256 trailer matches (${short(res.sha256.actual)})`;
  if (res.hashCheck === 'skipped') {
    return `hash check skipped (${res.hasHashTrailer ? 'the SHA-256 trailer was not compared' : NO_TRAILER})`;
  }
  return `${NO_TRAILER}: hash check not run`;
}

function summaryOf(kind: ErrorKind, problems: number, hashCheck?: HashCheck): string {
  if (kind === 'notFound') return 'missing';
  if (kind === 'permission') return 'unreadable';
  if (kind === 'invalidInput') {
    if (hashCheck === 'noTrailer' && !problems) return `${NO_TRAILER}: hash check not run`;
    return problems ? 'not an etcd snapshot' : 'not a file';
  }
  return problems ? `corrupt (${problems} problem${problems === 1 ? '' : 's'})` : 'corrupt';
}
