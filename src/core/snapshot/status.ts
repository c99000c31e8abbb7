/**
 * `snapshotStatus(path)`: what `etcdctl snapshot status` reports, read natively.
 *
 * As etcd 3.4's clientv3/snapshot `Status` (and 3.5's etcdutl) computes it: after bbolt's
 * consistency check, a CRC-32C over, for each top-level bucket in order, its name and then each
 * key and value (a nested bucket's value counts as empty); the revision is the main revision of
 * the last key of the `key` bucket; total keys counts every entry of every top-level bucket
 * (3.4/3.5 semantics); total size is meta.pgid × page size.
 */
import { BoltFile, BucketPlan, BUCKET_LEAF_FLAG, corruptError, EntrySink, walkTree, WalkResult } from './bbolt';
import { RunHasher } from './hasher';
import { checkTrailer, TrailerCheck } from './trailer';

/** From this database size on, a worker thread shares the hashing. */
const PARALLEL_MIN_BYTES = 64 << 20;

export interface BucketFigures {
  name: string;
  /** Entries (keys) in the bucket, nested buckets counted as one entry each. */
  keys: number;
}

export interface SnapshotStatus {
  /** CRC-32C, as etcdctl's `hash` (a number in JSON, lowercase hex without padding in tables). */
  hash: number;
  /** `hash` as etcdctl's table prints it (`%x`). */
  hashHex: string;
  /** Main revision of the last key in the `key` bucket (0 when empty). */
  revision: number;
  /** Entries of every top-level bucket (etcd 3.4/3.5's count). */
  totalKey: number;
  /** meta.pgid × page size. */
  totalSize: number;
  /** The `meta` bucket's storageVersion (etcd 3.6+), when present. */
  version?: string;
  /** The file ends with a SHA-256 trailer (size % 512 == 32). */
  hasHashTrailer: boolean;
  /** The trailer check, when asked for (`checkHash`) and there is a trailer. */
  sha256?: TrailerCheck;
  fileSize: number;
  pageSize: number;
  txid: string;
  buckets: BucketFigures[];
  /** Pages below the high-water mark that nothing references (free space a defrag would drop). */
  freePages: number;
  /** From the `meta` bucket, when there. */
  consistentIndex?: string;
  term?: string;
  /** From the `cluster` bucket, when there. */
  clusterVersion?: string;
}

export interface StatusOptions {
  signal?: AbortSignal;
  /** Also check the SHA-256 trailer (in a worker thread, alongside the walk). Default false. */
  checkHash?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Big-endian u64 as a decimal string (meta bucket numbers). */
export function beU64String(buf: Buffer, off: number, len: number): string | undefined {
  if (len !== 8) return undefined;
  return buf.readBigUInt64BE(off).toString();
}

class StatusSink implements EntrySink {
  constructor(readonly hasher: RunHasher) {}
  total = 0;
  revision = 0;
  isKeyBucket = false;
  bucketKeys = 0;
  /** Small values of interest in the meta and cluster buckets. */
  bucketName = '';
  extras: Record<string, Buffer> = {};
  badRevisionKeys = 0;

  // Keys and values are hashed as contiguous runs: in a leaf page written by bbolt, each
  // value follows its key and the next key follows it, so a page is usually one run.
  private runBuf: Buffer | null = null;
  private runWords: Int32Array | null = null;
  private runStart = 0;
  private runEnd = 0;
  private runBase = -1;

  entry(buf: Buffer, words: Int32Array, kOff: number, kLen: number, vOff: number, vLen: number, flags: number, base: number): void {
    const end = flags & BUCKET_LEAF_FLAG ? kOff + kLen : vOff + vLen;
    if (this.runBuf === buf && this.runEnd === kOff && !(flags & BUCKET_LEAF_FLAG)) {
      this.runEnd = end;
    } else {
      this.flush();
      this.runBuf = buf;
      this.runWords = words;
      this.runStart = kOff;
      this.runEnd = end;
      this.runBase = base;
      if (flags & BUCKET_LEAF_FLAG) this.flush();
    }
    this.total++;
    this.bucketKeys++;
    if (this.isKeyBucket) {
      if (kLen >= 8) {
        this.revision = buf.readUInt32BE(kOff) * 0x100000000 + buf.readUInt32BE(kOff + 4);
      } else {
        this.badRevisionKeys++;
      }
    } else if (this.bucketName === 'meta' || this.bucketName === 'cluster') {
      const k = buf.toString('latin1', kOff, kOff + kLen);
      this.extras[`${this.bucketName}/${k}`] = Buffer.from(buf.subarray(vOff, vOff + vLen));
    }
  }

  endPage(): void {
    this.flush();
  }

  flush(): void {
    if (this.runBuf) {
      this.hasher.add(this.runBuf, this.runStart, this.runEnd, this.runBase, this.runWords ?? undefined);
      this.runBuf = null;
      this.runWords = null;
    }
  }
}

/**
 * Status figures of a snapshot file, equal to `etcdctl snapshot status -w json` for files
 * written by etcd 3.4/3.5. Throws SnapshotCorruptError (kind 'corrupt') when the file fails
 * the integrity check, with each problem in `problems`; EtcdBackupError 'notFound',
 * 'permission', 'cancelled' otherwise.
 */
export async function snapshotStatus(path: string, opts: StatusOptions = {}): Promise<SnapshotStatus> {
  const file = await BoltFile.open(path);
  try {
    const sha = opts.checkHash && file.hasHashTrailer ? checkTrailer(path, { signal: opts.signal }) : undefined;
    // Keep a rejected trailer check from being unhandled while the walk runs.
    sha?.catch(() => undefined);
    const { status, walk } = await statusOf(file, opts);
    if (walk.problemCount) {
      throw corruptError(path, walk.problems, walk.problemCount);
    }
    if (sha) {
      status.sha256 = await sha;
    }
    return status;
  } finally {
    await file.close();
  }
}

/** The walk and the figures, for callers that hold the file open (verify, inspect). */
export async function statusOf(
  file: BoltFile,
  opts: {
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
    /** Hash on two threads (default: for databases of 64 MiB and more). */
    parallel?: boolean;
    /** Add other sinks to a bucket's (inspect tees the key bucket into its index). */
    wrap?: (name: Buffer, plan: BucketPlan) => BucketPlan;
  } = {},
): Promise<{ status: SnapshotStatus; walk: WalkResult }> {
  // A second thread hashes part of the data of large files (see hasher.ts).
  const parallel = opts.parallel ?? file.dbSize >= PARALLEL_MIN_BYTES;
  const hasher = new RunHasher(parallel ? file.path : undefined);
  const sink = new StatusSink(hasher);
  const buckets: BucketFigures[] = [];
  let current: BucketFigures | undefined;
  const finish = (): void => {
    if (current) current.keys = sink.bucketKeys;
  };
  let walk: WalkResult;
  try {
    walk = await walkTree(
      file,
      (name) => {
        finish();
        sink.flush();
        sink.hasher.add(name, 0, name.length, -1);
        const n = name.toString('latin1');
        sink.isKeyBucket = n === 'key';
        sink.bucketName = n;
        sink.bucketKeys = 0;
        current = { name: n, keys: 0 };
        buckets.push(current);
        return opts.wrap ? opts.wrap(name, sink) : sink;
      },
      { signal: opts.signal, onProgress: opts.onProgress ? (done) => opts.onProgress?.(done, file.meta.pgid) : undefined },
    );
  } catch (err) {
    hasher.stop();
    throw err;
  }
  finish();
  sink.flush();
  let hash = 0;
  try {
    hash = await hasher.result();
  } catch (err) {
    // A sound walk reads every byte the worker reads; a worker failure on a damaged file is one more problem.
    walk.problemCount++;
    walk.problems.push(`hashing failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    hasher.stop();
  }
  if (sink.badRevisionKeys) {
    walk.problemCount++;
    walk.problems.push(`bucket "key": ${sink.badRevisionKeys} keys shorter than a revision (8 bytes)`);
  }
  const x = sink.extras;
  const text = (k: string): string | undefined => (x[k] ? x[k].toString('utf8') : undefined);
  const num = (k: string): string | undefined => (x[k] ? beU64String(x[k], 0, x[k].length) : undefined);
  const status: SnapshotStatus = {
    hash,
    hashHex: hash.toString(16),
    revision: sink.revision,
    totalKey: sink.total,
    totalSize: file.dbSize,
    hasHashTrailer: file.hasHashTrailer,
    fileSize: file.fileSize,
    pageSize: file.pageSize,
    txid: file.meta.txid.toString(),
    buckets,
    freePages: walk.freePages,
  };
  const version = text('meta/storageVersion');
  if (version !== undefined) status.version = version;
  const ci = num('meta/consistent_index');
  if (ci !== undefined) status.consistentIndex = ci;
  const term = num('meta/term');
  if (term !== undefined) status.term = term;
  const cv = text('cluster/clusterVersion');
  if (cv !== undefined) status.clusterVersion = cv;
  return { status, walk };
}
