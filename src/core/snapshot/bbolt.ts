/**
 * A read-only reader of bbolt database files (the body of an etcd v3 snapshot), as laid out
 * by etcd-io/bbolt (page.go, meta.go, bucket.go) and summed up in shared/docs/snapshot-format.md.
 *
 * Pages are read with positioned reads from one file descriptor through a window buffer whose
 * read-ahead grows while the walk goes forward through the file and shrinks when it jumps, so
 * a walk in key order over a file laid out mostly in order reads it in large sequential
 * chunks, and a fragmented file costs one small read per page. Memory does not grow with the
 * file: a window (at most 1 MiB), one copy per branch level, a bitmap of the pages reached.
 *
 * The walk (`walkTree`) does bbolt's consistency check as it goes (tx_check.go: every page
 * below the high-water mark, reached once, of the right type; keys sorted within a page,
 * across pages and within the bounds the branch pages give; the freelist) and hands each leaf
 * entry of each top-level bucket to a sink as offsets into a buffer, without allocating.
 */
import { promises as fsp, readSync } from 'fs';
import { cancelledError, EtcdBackupError } from '../errors';
import { openRegularForReading } from './files';

export const PAGE_HEADER_SIZE = 16;
export const ELEMENT_SIZE = 16;
export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** Leaf element flag: the value is a bucket header {root u64, sequence u64} (+ inline page). */
export const BUCKET_LEAF_FLAG = 0x01;
export const BOLT_MAGIC = 0xed0cdaed;
export const BOLT_VERSION = 2;
/** Size of the SHA-256 trailer the Maintenance.Snapshot RPC appends. */
export const TRAILER_SIZE = 32;
const BUCKET_HEADER_SIZE = 16;
/** Largest read window; spans larger than this get a buffer of their own. */
const MAX_WINDOW = 1 << 20;
/** Read-ahead after a jump (bytes); it doubles on each forward miss up to MAX_READAHEAD. */
const MIN_READAHEAD = 16 << 10;
const MAX_READAHEAD = 256 << 10;
/** Read windows kept (streams of reads followed at once). */
const WINDOWS = 4;
/** Problems kept in detail (more are counted). */
const MAX_PROBLEMS = 50;
/** A bucket nested deeper than this is taken for a cycle. */
const MAX_DEPTH = 64;

interface Window {
  buf: Buffer;
  words: Int32Array;
  /** File range held: [start, start + len); start -1 when empty. */
  start: number;
  len: number;
  readahead: number;
  used: number;
}

/** The file is not a usable bbolt database: one sentence, plus what exactly is wrong. */
export class SnapshotCorruptError extends EtcdBackupError {
  constructor(
    message: string,
    /** Each problem found, one line each (page numbers, keys in hex). */
    readonly problems: string[] = [],
    /** How many problems there were in all (more than `problems` holds when capped). */
    readonly problemCount = problems.length,
  ) {
    super('corrupt', message);
    this.name = 'SnapshotCorruptError';
  }
}

/** One of the two meta pages. */
export interface MetaPage {
  /** 0 or 1. */
  page: number;
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  /** Root bucket's root page. */
  root: number;
  /** Freelist page, or undefined when the freelist is not persisted (etcd on Linux). */
  freelist?: number;
  /** High-water mark: pages [0, pgid) are in use or free. */
  pgid: number;
  txid: bigint;
  checksum: bigint;
  /** Why it is not valid, when it is not. */
  problem?: string;
}

/** u64 little-endian as a number; Infinity when it does not fit 2^53 (never a real page id). */
function u64(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  return hi > 0x1fffff ? Infinity : hi * 0x100000000 + lo;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a 64 over buf[start, end), as bbolt's meta.sum64. */
export function fnv1a64(buf: Buffer, start: number, end: number): bigint {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    h = ((h ^ BigInt(buf[i])) * FNV_PRIME) & MASK64;
  }
  return h;
}

/** Decode and validate a meta page image (page header at `off`). */
export function parseMeta(buf: Buffer, off: number, page: number): MetaPage {
  const m = off + PAGE_HEADER_SIZE;
  const freelistRaw = buf.readBigUInt64LE(m + 32);
  const meta: MetaPage = {
    page,
    magic: buf.readUInt32LE(m),
    version: buf.readUInt32LE(m + 4),
    pageSize: buf.readUInt32LE(m + 8),
    flags: buf.readUInt32LE(m + 12),
    root: u64(buf, m + 16),
    freelist: freelistRaw === MASK64 ? undefined : Number(freelistRaw),
    pgid: u64(buf, m + 40),
    txid: buf.readBigUInt64LE(m + 48),
    checksum: buf.readBigUInt64LE(m + 56),
  };
  if (meta.magic !== BOLT_MAGIC) {
    meta.problem =
      meta.magic === 0xedda0ced
        ? 'it was written on a big-endian machine, which this reader does not support'
        : `bad magic ${hex32(meta.magic)}`;
  } else if (meta.version !== BOLT_VERSION) {
    meta.problem = `unsupported bbolt version ${meta.version}`;
  } else if (fnv1a64(buf, m, m + 56) !== meta.checksum) {
    meta.problem = 'checksum mismatch';
  } else if (buf.readUInt16LE(off + 8) !== META_PAGE) {
    meta.problem = `page type 0x${buf.readUInt16LE(off + 8).toString(16)} is not meta`;
  } else if (meta.pageSize < 512 || meta.pageSize > 1 << 20 || (meta.pageSize & (meta.pageSize - 1)) !== 0) {
    meta.problem = `implausible page size ${meta.pageSize}`;
  }
  return meta;
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * An Int32Array over the whole ArrayBuffer behind `buf`, from byte 0: the 32-bit word holding
 * buf[i] (i aligned to 4) is words[(buf.byteOffset + i) >> 2].
 */
export function wordsOf(buf: Buffer): Int32Array {
  return new Int32Array(buf.buffer, 0, buf.buffer.byteLength >> 2);
}

/** Key bytes as hex, shortened, for messages. */
export function keyHex(buf: Buffer, off: number, len: number): string {
  const n = Math.min(len, 40);
  return buf.toString('hex', off, off + n) + (len > n ? '…' : '');
}

/** An open snapshot (or raw bbolt db) file. */
export class BoltFile {
  /** Bytes in the file. */
  readonly fileSize: number;
  /** The file ends with a 32-byte SHA-256 of the rest (size % 512 == 32). */
  readonly hasHashTrailer: boolean;
  readonly pageSize: number;
  /** The meta in use: the valid one with the higher txid. */
  readonly meta: MetaPage;
  /** Both meta pages, as read. */
  readonly metas: MetaPage[];
  /** Problems with the file found on open that do not stop reading (an invalid second meta). */
  readonly openProblems: string[];

  // Read windows, one per stream of reads (the leaves in order, the branch pages elsewhere).
  private windows: Window[] = [];
  private useClock = 0;
  /** Buffer and word view holding the page the last `page()` returned. */
  pb: Buffer;
  pw: Int32Array;
  /** Bytes read from the file so far (for the benchmark and progress). */
  bytesRead = 0;
  reads = 0;

  private constructor(
    readonly path: string,
    private readonly fh: fsp.FileHandle,
    fileSize: number,
    pageSize: number,
    meta: MetaPage,
    metas: MetaPage[],
    openProblems: string[],
  ) {
    this.fileSize = fileSize;
    this.hasHashTrailer = fileSize % 512 === TRAILER_SIZE;
    this.pageSize = pageSize;
    this.meta = meta;
    this.metas = metas;
    this.openProblems = openProblems;
    for (let i = 0; i < WINDOWS; i++) {
      const buf = Buffer.allocUnsafeSlow(MAX_WINDOW);
      this.windows.push({ buf, words: wordsOf(buf), start: -1, len: 0, readahead: MIN_READAHEAD, used: 0 });
    }
    this.pb = this.windows[0].buf;
    this.pw = this.windows[0].words;
  }

  /** The file descriptor (positioned reads only). */
  get fd(): number {
    return this.fh.fd;
  }

  /** Size of the database image: meta.pgid * pageSize (what `snapshot status` calls total size). */
  get dbSize(): number {
    return this.meta.pgid * this.pageSize;
  }

  /**
   * Open `path` and read its meta pages. Throws EtcdBackupError: 'notFound', 'permission',
   * 'invalidInput' (a directory, FIFO, device or socket: refused before any read), or
   * SnapshotCorruptError ('corrupt') when it is not a bbolt file, both metas are bad, or the
   * file is shorter than the database its meta describes.
   */
  static async open(path: string): Promise<BoltFile> {
    // Opened without blocking (a FIFO or a device is refused, not waited on) and checked with fstat.
    const fh = await openRegularForReading(path);
    try {
      return await BoltFile.init(path, fh);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  private static async init(path: string, fh: fsp.FileHandle): Promise<BoltFile> {
    const st = await fh.stat();
    const size = st.size;
    if (size < 1024) {
      throw new SnapshotCorruptError(`${path} is not an etcd snapshot: it is only ${size} bytes (an empty or truncated file).`, [
        `file size ${size} bytes`,
      ]);
    }
    const head = Buffer.alloc(Math.min(size, 4096 * 2));
    await fh.read(head, 0, head.length, 0);
    const meta0 = parseMeta(head, 0, 0);
    // Page size from meta 0; if it is bad, look for meta 1 at 1024 << i (as bbolt does).
    let pageSize = meta0.problem ? 0 : meta0.pageSize;
    let meta1: MetaPage | undefined;
    const tryMeta1 = async (ps: number): Promise<MetaPage | undefined> => {
      if (ps * 2 > size) return undefined;
      const b = Buffer.alloc(PAGE_HEADER_SIZE + 64);
      await fh.read(b, 0, b.length, ps);
      return parseMeta(b, 0, 1);
    };
    if (pageSize) {
      meta1 = await tryMeta1(pageSize);
    } else {
      for (let i = 0; i <= 6 && !pageSize; i++) {
        const m = await tryMeta1(1024 << i);
        if (m && !m.problem && m.pageSize === 1024 << i) {
          meta1 = m;
          pageSize = m.pageSize;
        }
      }
    }
    const metas = [meta0, ...(meta1 ? [meta1] : [])];
    const valid = metas.filter((m) => !m.problem);
    if (!valid.length || !pageSize) {
      const notBolt = meta0.magic !== BOLT_MAGIC && (!meta1 || meta1.magic !== BOLT_MAGIC);
      if (notBolt) {
        throw new SnapshotCorruptError(
          `${path} is not an etcd snapshot (no bbolt database header): check that you picked the right file.`,
          [`meta page 0: ${meta0.problem}`],
        );
      }
      throw new SnapshotCorruptError(
        `${path} is corrupt: neither of its two bbolt meta pages is valid.`,
        metas.map((m) => `meta page ${m.page}: ${m.problem}`),
      );
    }
    // bbolt: use the higher txid if it validates, else the other.
    const meta = valid.length === 2 ? (valid[1].txid > valid[0].txid ? valid[1] : valid[0]) : valid[0];
    const openProblems = metas.filter((m) => m.problem).map((m) => `meta page ${m.page} is invalid (${m.problem}); the other one is used`);
    if (metas.length < 2) {
      openProblems.push('meta page 1 is missing');
    }
    if (!Number.isFinite(meta.pgid) || meta.pgid < 2 || !Number.isFinite(meta.root)) {
      throw new SnapshotCorruptError(`${path} is corrupt: its meta page gives an impossible page count.`, [
        `meta page ${meta.page}: pgid ${meta.pgid}, root ${meta.root}`,
      ]);
    }
    const dbSize = meta.pgid * pageSize;
    if (size < dbSize) {
      throw new SnapshotCorruptError(
        `${path} is truncated: it has ${size} bytes but its database needs ${dbSize} ` +
          `(${meta.pgid} pages of ${pageSize} bytes). Take or copy the snapshot again.`,
        [`file size ${size}, meta page ${meta.page}: pgid ${meta.pgid} × page size ${pageSize} = ${dbSize}`],
      );
    }
    return new BoltFile(path, fh, size, pageSize, meta, metas, openProblems);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** Read `len` bytes at `pos` (a fresh buffer with an ArrayBuffer of its own). */
  readAt(pos: number, len: number): Buffer {
    const b = Buffer.allocUnsafeSlow(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fh.fd, b, got, len - got, pos + got);
      if (n <= 0) break;
      got += n;
    }
    this.bytesRead += got;
    this.reads++;
    return got === len ? b : b.subarray(0, got);
  }

  private fill(w: Window, start: number, len: number): void {
    const end = Math.min(start + len, this.fileSize);
    let got = 0;
    while (start + got < end) {
      const n = readSync(this.fh.fd, w.buf, got, end - start - got, start + got);
      if (n <= 0) break;
      got += n;
    }
    this.bytesRead += got;
    this.reads++;
    w.start = start;
    w.len = got;
  }

  /**
   * The window holding [off, off + len), reading it if needed: a read just past a window's end
   * continues that window's stream with a doubled read-ahead; any other read replaces the
   * least recently used window with a short read.
   */
  private windowFor(off: number, len: number): Window {
    const ws = this.windows;
    let lru = ws[0];
    let next: Window | undefined;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i];
      if (off >= w.start && off + len <= w.start + w.len) {
        w.used = ++this.useClock;
        return w;
      }
      const end = w.start + w.len;
      // Just past the window, or inside it but running past its end (a long overflow page).
      if (w.start >= 0 && off >= w.start && off < end + w.readahead) next = w;
      if (w.used < lru.used) lru = w;
    }
    const w = next ?? lru;
    w.readahead = next ? Math.min(w.readahead * 2, MAX_READAHEAD) : MIN_READAHEAD;
    this.fill(w, off, Math.min(Math.max(w.readahead, len), MAX_WINDOW));
    w.used = ++this.useClock;
    return w;
  }

  /**
   * Make page `id` (with its overflow) readable at `this.pb`/`this.pw` and return its offset
   * there. The caller checks `id < pgid`; this checks the page is inside the file and its header
   * names it. Returns -1 and sets `pageError` when it cannot. The buffer is valid until the
   * next call.
   */
  page(id: number): number {
    const ps = this.pageSize;
    const off = id * ps;
    if (off + ps > this.fileSize) {
      this.pageError = `page ${id}: beyond the end of the file (${this.fileSize} bytes; truncated)`;
      return -1;
    }
    let w = this.windowFor(off, ps);
    let p = off - w.start;
    const hdrId = w.buf.readUInt32LE(p) + w.buf.readUInt32LE(p + 4) * 0x100000000;
    if (hdrId !== id) {
      this.pageError = `page ${id}: its header says it is page ${hdrId}`;
      return -1;
    }
    const overflow = w.buf.readUInt32LE(p + 12);
    if (overflow > 0) {
      const span = (overflow + 1) * ps;
      if (id + overflow >= this.meta.pgid) {
        this.pageError = `page ${id}: its ${overflow} overflow pages run past the high-water mark ${this.meta.pgid}`;
        return -1;
      }
      if (off + span > this.fileSize) {
        this.pageError = `page ${id}: its ${overflow} overflow pages run past the end of the file (truncated)`;
        return -1;
      }
      if (span > MAX_WINDOW) {
        const big = this.readAt(off, span);
        this.pb = big;
        this.pw = wordsOf(big);
        return 0;
      }
      if (off + span > w.start + w.len) {
        w = this.windowFor(off, span);
        p = off - w.start;
      }
    }
    this.pb = w.buf;
    this.pw = w.words;
    return p;
  }

  /** Why the last `page()` returned -1. */
  pageError = '';
}

/** Receives the entries of one top-level bucket, in key order. Offsets are into `buf`. */
export interface EntrySink {
  /**
   * One leaf entry. `words` is an Int32Array over `buf`'s ArrayBuffer from byte 0 (for fast
   * aligned reads). `base` + an offset = that byte's position in the file (-1 when unknown).
   * For a nested bucket (`flags & BUCKET_LEAF_FLAG`) the value is its bucket header.
   */
  entry(buf: Buffer, words: Int32Array, kOff: number, kLen: number, vOff: number, vLen: number, flags: number, base: number): void;
  /** After the last entry of each leaf page (the buffer changes after this). */
  endPage?(): void;
}

/** What to do with a top-level bucket: hand its entries to a sink, only check it, or not read it. */
export type BucketPlan = EntrySink | 'check' | 'skip';

export interface WalkOptions {
  signal?: AbortSignal;
  /** Called now and then with the bytes of reachable pages walked so far. */
  onProgress?: (pagesWalked: number, pgid: number) => void;
  /** Stop after the first problem (restore's check needs only a yes or no). Default false. */
  stopAtFirstProblem?: boolean;
}

export interface WalkResult {
  /** Top-level bucket names in order. */
  buckets: string[];
  /** Problems found (capped at 50; `problemCount` has them all). */
  problems: string[];
  problemCount: number;
  /** Pages reached from the root (meta and freelist pages included). */
  pagesReached: number;
  /** Pages below the high-water mark that nothing references (free space). */
  freePages: number;
  /** The freelist is persisted in the file. */
  freelistPersisted: boolean;
  /** Some buckets were skipped, so reachability was not checked. */
  partial: boolean;
  /** Whether the walk reached page `id`. */
  isReached(id: number): boolean;
}

/** A bucket to walk: its root page, or its inline page image. */
interface BucketRef {
  name: Buffer;
  root: number;
  inline?: Buffer;
  /** File position of the inline page image (-1 when unknown). */
  inlineBase: number;
  depth: number;
  plan: BucketPlan;
}

/** One branch page on the walk's stack (copied out of the read window). */
interface Level {
  buf: Buffer;
  id: number;
  count: number;
  idx: number;
  /** Upper bound (exclusive) of the keys under this page: a key in `hiBuf`, or none. */
  hiBuf: Buffer | null;
  hiOff: number;
  hiLen: number;
}

function cmp(a: Buffer, aOff: number, aLen: number, b: Buffer, bOff: number, bLen: number): number {
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const d = a[aOff + i] - b[bOff + i];
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A top-level bucket's key and header, copied out of the root bucket's leaf (walked after the root). */
interface TopEntry {
  name: Buffer;
  buf: Buffer;
  kLen: number;
  vLen: number;
  flags: number;
  vPos: number;
}

/**
 * The state of one walk (see {@link walkTree}): pages reached, problems, the branch stack and
 * the last key seen. The steps are methods; the leaf loop is the hot path (every entry).
 */
class TreeWalker {
  readonly pgid: number;
  readonly ps: number;
  readonly reached: Uint8Array;
  readonly problems: string[] = [];
  problemCount = 0;
  pagesReached = 0;
  pagesWalked = 0;
  partial = false;
  /** The ids the persisted freelist lists (undefined when it is not persisted or unreadable). */
  freed: Uint8Array | undefined;
  readonly pending: BucketRef[] = [];
  private readonly levels: Level[] = [];
  private readonly levelPool: Level[] = [];
  private prevKey = Buffer.allocUnsafe(256);
  private prevKeyLen = -1;
  private lastYield = performance.now();
  readonly stopEarly: boolean;

  constructor(
    readonly file: BoltFile,
    readonly opts: WalkOptions,
  ) {
    this.pgid = file.meta.pgid;
    this.ps = file.pageSize;
    this.reached = new Uint8Array(Math.ceil(this.pgid / 8));
    this.stopEarly = opts.stopAtFirstProblem === true;
    for (const p of file.openProblems) this.problem(p);
    this.mark(0, 1, 'meta');
    this.mark(1, 1, 'meta');
  }

  problem(msg: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(msg);
  }

  /** Mark pages reached; a page reached twice is a problem (false). */
  mark(id: number, n: number, what: string): boolean {
    const reached = this.reached;
    let ok = true;
    for (let i = id; i < id + n; i++) {
      if (reached[i >> 3] & (1 << (i & 7))) {
        this.problem(`page ${i}: reached more than once (${what})`);
        ok = false;
      } else {
        reached[i >> 3] |= 1 << (i & 7);
        this.pagesReached++;
      }
    }
    return ok;
  }

  /** The freelist, when persisted: its pages are reached, the ids it lists are remembered as freed. */
  readFreelist(): void {
    const fl = this.file.meta.freelist;
    if (fl === undefined) return;
    if (fl < 2 || fl >= this.pgid) {
      this.problem(`freelist page ${fl}: out of bounds (high-water mark ${this.pgid})`);
      return;
    }
    const p = this.file.page(fl);
    if (p < 0) {
      this.problem(this.file.pageError);
      return;
    }
    const b = this.file.pb;
    const flags = b.readUInt16LE(p + 8);
    const overflow = b.readUInt32LE(p + 12);
    this.mark(fl, overflow + 1, 'freelist');
    if (flags !== FREELIST_PAGE) {
      this.problem(`freelist page ${fl}: invalid type 0x${flags.toString(16)}`);
      return;
    }
    let count = b.readUInt16LE(p + 10);
    let at = p + PAGE_HEADER_SIZE;
    if (count === 0xffff) {
      count = u64(b, at);
      at += 8;
    }
    if (!Number.isFinite(count) || at + count * 8 > p + (overflow + 1) * this.ps) {
      this.problem(`freelist page ${fl}: ${count} ids do not fit its ${overflow + 1} pages`);
      return;
    }
    const freed = new Uint8Array(this.reached.length);
    for (let i = 0; i < count; i++, at += 8) {
      const id = u64(b, at);
      if (id >= this.pgid) {
        this.problem(`freelist page ${fl}: free page ${id} is beyond the high-water mark ${this.pgid}`);
      } else if (freed[id >> 3] & (1 << (id & 7))) {
        this.problem(`page ${id}: already freed`);
      } else {
        freed[id >> 3] |= 1 << (id & 7);
      }
    }
    this.freed = freed;
  }

  /** True when it is time to let the event loop run (every ~15 ms of walking). */
  timeToYield(): boolean {
    if ((this.pagesWalked & 63) !== 0) return false;
    return performance.now() - this.lastYield > 15;
  }

  async doYield(): Promise<void> {
    this.opts.onProgress?.(this.pagesWalked, this.pgid);
    await yieldNow();
    this.lastYield = performance.now();
    if (this.opts.signal?.aborted) throw cancelledError();
  }

  /** Queue the nested bucket whose header is the value at buf[vOff, vOff+vLen). */
  queueBucket(
    buf: Buffer,
    kOff: number,
    kLen: number,
    vOff: number,
    vLen: number,
    base: number,
    depth: number,
    where: string,
    planOf: (name: Buffer) => BucketPlan,
  ): void {
    const name = Buffer.from(buf.subarray(kOff, kOff + kLen));
    if (vLen < BUCKET_HEADER_SIZE) {
      this.problem(`${where}: bucket ${JSON.stringify(name.toString('latin1'))} has a ${vLen}-byte header (16 needed)`);
      return;
    }
    const root = u64(buf, vOff);
    let inline: Buffer | undefined;
    if (root === 0) {
      if (vLen < BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE) {
        this.problem(`${where}: inline bucket ${JSON.stringify(name.toString('latin1'))} is too short (${vLen} bytes)`);
        return;
      }
      const len = vLen - BUCKET_HEADER_SIZE;
      inline = Buffer.allocUnsafeSlow((len + 3) & ~3);
      buf.copy(inline, 0, vOff + BUCKET_HEADER_SIZE, vOff + vLen);
      inline = inline.subarray(0, len);
    }
    if (depth > MAX_DEPTH) {
      this.problem(`${where}: buckets nested more than ${MAX_DEPTH} deep (a cycle?)`);
      return;
    }
    const p = planOf(name);
    if (p === 'skip') {
      this.partial = true;
      return;
    }
    this.pending.push({ name, root, inline, inlineBase: base >= 0 ? base + vOff + BUCKET_HEADER_SIZE : -1, depth, plan: p });
  }

  /**
   * Check one leaf page image at buf[p, p + span) and hand its entries to the sink. `lo`/`hi`
   * bound its keys (from the branch above).
   */
  leaf(
    buf: Buffer,
    words: Int32Array,
    p: number,
    span: number,
    id: number,
    base: number,
    ref: BucketRef,
    loBuf: Buffer | null,
    loOff: number,
    loLen: number,
    hiBuf: Buffer | null,
    hiOff: number,
    hiLen: number,
  ): void {
    const where = id >= 0 ? `page ${id}` : `inline bucket ${JSON.stringify(ref.name.toString('latin1'))}`;
    const count = buf.readUInt16LE(p + 10);
    const pageEnd = p + span;
    if (p + PAGE_HEADER_SIZE + count * ELEMENT_SIZE > pageEnd) {
      this.problem(`${where}: ${count} elements do not fit the page`);
      return;
    }
    const stopEarly = this.stopEarly;
    const sink = typeof ref.plan === 'object' ? ref.plan : undefined;
    const wBase = buf.byteOffset >> 2;
    let pkOff = -1;
    let pkLen = 0;
    for (let i = 0; i < count; i++) {
      const e = p + PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
      const w = wBase + (e >> 2);
      const flags = words[w];
      const pos = words[w + 1] >>> 0;
      const ks = words[w + 2] >>> 0;
      const vs = words[w + 3] >>> 0;
      const kOff = e + pos;
      const vOff = kOff + ks;
      if (vOff + vs > pageEnd || pos < ELEMENT_SIZE * (count - i)) {
        this.problem(`${where}: element ${i} (key ${ks} bytes, value ${vs} bytes at +${pos}) runs outside the page`);
        return;
      }
      if (i === 0) {
        if (this.prevKeyLen >= 0 && cmp(this.prevKey, 0, this.prevKeyLen, buf, kOff, ks) >= 0) {
          this.problem(
            `${where}: first key ${keyHex(buf, kOff, ks)} is not after the last ` +
              `key of the page before (${keyHex(this.prevKey, 0, this.prevKeyLen)})`,
          );
          if (stopEarly) return;
        }
        if (loBuf && cmp(buf, kOff, ks, loBuf, loOff, loLen) < 0) {
          this.problem(`${where}: first key ${keyHex(buf, kOff, ks)} is before its branch key ${keyHex(loBuf, loOff, loLen)}`);
          if (stopEarly) return;
        }
      } else if (cmp(buf, pkOff, pkLen, buf, kOff, ks) >= 0) {
        this.problem(`${where}: key[${i}] ${keyHex(buf, kOff, ks)} is not after key[${i - 1}] ${keyHex(buf, pkOff, pkLen)}`);
        if (stopEarly) return;
      }
      pkOff = kOff;
      pkLen = ks;
      if (flags & BUCKET_LEAF_FLAG && ref.depth > 0) {
        this.queueBucket(buf, kOff, ks, vOff, vs, base, ref.depth + 1, where, () =>
          ref.plan === 'check' || typeof ref.plan === 'object' ? 'check' : 'skip',
        );
      }
      if (sink) sink.entry(buf, words, kOff, ks, vOff, vs, flags, base);
    }
    if (sink && sink.endPage) sink.endPage();
    if (count > 0) this.endLeaf(buf, pkOff, pkLen, where, hiBuf, hiOff, hiLen);
  }

  /** After a leaf: its last key must sort before the next branch key; it becomes the key to compare the next page with. */
  private endLeaf(buf: Buffer, pkOff: number, pkLen: number, where: string, hiBuf: Buffer | null, hiOff: number, hiLen: number): void {
    if (hiBuf && cmp(buf, pkOff, pkLen, hiBuf, hiOff, hiLen) >= 0) {
      this.problem(`${where}: last key ${keyHex(buf, pkOff, pkLen)} is not before the next branch key ${keyHex(hiBuf, hiOff, hiLen)}`);
    }
    if (pkLen > this.prevKey.length) this.prevKey = Buffer.allocUnsafe(Math.max(pkLen, this.prevKey.length * 2));
    buf.copy(this.prevKey, 0, pkOff, pkOff + pkLen);
    this.prevKeyLen = pkLen;
  }

  /** Read a page reached from `from` and check what bbolt checks before using it (-1: unusable). */
  reach(id: number, from: string): number {
    if (id < 2 || id >= this.pgid) {
      this.problem(`page ${id}: out of bounds (high-water mark ${this.pgid}), referenced from ${from}`);
      return -1;
    }
    const p = this.file.page(id);
    if (p < 0) {
      this.problem(`${this.file.pageError}, referenced from ${from}`);
      return -1;
    }
    const overflow = this.file.pb.readUInt32LE(p + 12);
    if (!this.mark(id, overflow + 1, `from ${from}`)) {
      return -1;
    }
    const freed = this.freed;
    if (freed && freed[id >> 3] & (1 << (id & 7))) {
      this.problem(`page ${id}: reachable freed`);
    }
    return p;
  }

  /** A page of a bucket: a leaf is checked and handed to the sink; a branch is checked and pushed on the stack. */
  private visit(
    ref: BucketRef,
    id: number,
    p: number,
    loBuf: Buffer | null,
    loOff: number,
    loLen: number,
    hiBuf: Buffer | null,
    hiOff: number,
    hiLen: number,
  ): void {
    const b = this.file.pb;
    const flags = b.readUInt16LE(p + 8);
    const span = (b.readUInt32LE(p + 12) + 1) * this.ps;
    if (flags === LEAF_PAGE) {
      this.leaf(b, this.file.pw, p, span, id, id * this.ps - p, ref, loBuf, loOff, loLen, hiBuf, hiOff, hiLen);
    } else if (flags !== BRANCH_PAGE) {
      this.problem(`page ${id}: invalid type 0x${flags.toString(16)} in bucket ${JSON.stringify(ref.name.toString('latin1'))}`);
    } else {
      this.pushBranch(b, id, p, span, loBuf, loOff, loLen, hiBuf, hiOff, hiLen);
    }
  }

  /** Copy a branch page out of the read window (reading its children moves it), check its keys, push it. */
  private pushBranch(
    b: Buffer,
    id: number,
    p: number,
    span: number,
    loBuf: Buffer | null,
    loOff: number,
    loLen: number,
    hiBuf: Buffer | null,
    hiOff: number,
    hiLen: number,
  ): void {
    const count = b.readUInt16LE(p + 10);
    if (count === 0 || PAGE_HEADER_SIZE + count * ELEMENT_SIZE > span) {
      this.problem(`page ${id}: branch with ${count} elements (page of ${span} bytes)`);
      return;
    }
    const depth = this.levels.length;
    if (depth >= MAX_DEPTH) {
      this.problem(`page ${id}: tree deeper than ${MAX_DEPTH} levels`);
      return;
    }
    let lv = this.levelPool[depth];
    if (!lv || lv.buf.length < span) {
      lv = {
        buf: Buffer.allocUnsafeSlow(Math.max(span, lv ? lv.buf.length * 2 : this.ps)),
        id: 0,
        count: 0,
        idx: 0,
        hiBuf: null,
        hiOff: 0,
        hiLen: 0,
      };
      this.levelPool[depth] = lv;
    }
    b.copy(lv.buf, 0, p, p + span);
    lv.id = id;
    lv.count = count;
    lv.idx = 0;
    lv.hiBuf = hiBuf;
    lv.hiOff = hiOff;
    lv.hiLen = hiLen;
    const lb = lv.buf;
    let pk = -1;
    let pkl = 0;
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
      const ks = lb.readUInt32LE(e + 4);
      const kOff = e + lb.readUInt32LE(e);
      if (kOff + ks > span) {
        this.problem(`page ${id}: branch element ${i} runs outside the page`);
        return;
      }
      if (i === 0 && loBuf && cmp(lb, kOff, ks, loBuf, loOff, loLen) < 0) {
        this.problem(`page ${id}: first branch key ${keyHex(lb, kOff, ks)} is before its parent's key ${keyHex(loBuf, loOff, loLen)}`);
      }
      if (i > 0 && cmp(lb, pk, pkl, lb, kOff, ks) >= 0) {
        this.problem(`page ${id}: branch key[${i}] ${keyHex(lb, kOff, ks)} is not after key[${i - 1}] ${keyHex(lb, pk, pkl)}`);
      }
      if (hiBuf && cmp(lb, kOff, ks, hiBuf, hiOff, hiLen) >= 0) {
        this.problem(
          `page ${id}: branch key[${i}] ${keyHex(lb, kOff, ks)} is not before its parent's next key ${keyHex(hiBuf, hiOff, hiLen)}`,
        );
      }
      pk = kOff;
      pkl = ks;
    }
    this.levels.push(lv);
  }

  /** Walk one bucket: an inline page image, or its root page and then the branch stack, depth first. */
  async walkBucket(ref: BucketRef): Promise<void> {
    this.prevKeyLen = -1;
    if (ref.inline) {
      const b = ref.inline;
      const flags = b.readUInt16LE(8);
      if (flags !== LEAF_PAGE) {
        this.problem(`inline bucket ${JSON.stringify(ref.name.toString('latin1'))}: page type 0x${flags.toString(16)} is not a leaf`);
        return;
      }
      this.leaf(b, wordsOf(b), 0, b.length, -1, ref.inlineBase, ref, null, 0, 0, null, 0, 0);
      return;
    }
    const p = this.reach(ref.root, `bucket ${JSON.stringify(ref.name.toString('latin1'))}`);
    if (p < 0) return;
    this.pagesWalked++;
    this.visit(ref, ref.root, p, null, 0, 0, null, 0, 0);
    const levels = this.levels;
    while (levels.length) {
      const lv = levels[levels.length - 1];
      if (lv.idx >= lv.count) {
        levels.pop();
        continue;
      }
      const i = lv.idx++;
      const lb = lv.buf;
      const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
      const kOff = e + lb.readUInt32LE(e);
      const ks = lb.readUInt32LE(e + 4);
      const child = u64(lb, e + 8);
      let hiBuf = lv.hiBuf;
      let hiOff = lv.hiOff;
      let hiLen = lv.hiLen;
      if (i + 1 < lv.count) {
        const e2 = e + ELEMENT_SIZE;
        hiBuf = lb;
        hiOff = e2 + lb.readUInt32LE(e2);
        hiLen = lb.readUInt32LE(e2 + 4);
      }
      const cp = this.reach(child, `branch page ${lv.id}`);
      this.pagesWalked++;
      if (cp >= 0) this.visit(ref, child, cp, lb, kOff, ks, hiBuf, hiOff, hiLen);
      if (this.stopEarly && this.problemCount) return;
      if (this.timeToYield()) await this.doYield();
    }
  }

  /** The root bucket's entries: the top-level buckets, copied (they are walked after the root). */
  async readRootBucket(): Promise<TopEntry[]> {
    const top: TopEntry[] = [];
    const sink: EntrySink = {
      entry(buf, _words, kOff, kLen, vOff, vLen, flags, base): void {
        const b = Buffer.allocUnsafeSlow((kLen + vLen + 3) & ~3);
        buf.copy(b, 0, kOff, kOff + kLen);
        buf.copy(b, kLen, vOff, vOff + vLen);
        top.push({ name: b.subarray(0, kLen), buf: b, kLen, vLen, flags, vPos: base >= 0 ? base + vOff : -1 });
      },
    };
    await this.walkBucket({ name: Buffer.from('(root)'), root: this.file.meta.root, inlineBase: -1, depth: 0, plan: sink });
    return top;
  }

  /** One top-level bucket and whatever it nests, walked now so that sinks see buckets in order. */
  async walkTopBucket(t: TopEntry, plan: (name: Buffer) => BucketPlan): Promise<void> {
    if (!(t.flags & BUCKET_LEAF_FLAG)) {
      this.problem(`root bucket: key ${JSON.stringify(t.name.toString('latin1'))} is not a bucket`);
      return;
    }
    const before = this.pending.length;
    this.queueBucket(t.buf, 0, t.kLen, t.kLen, t.vLen, t.vPos >= 0 ? t.vPos - t.kLen : -1, 1, 'root bucket', plan);
    const queued = this.pending.splice(before);
    while (queued.length) {
      const ref = queued.shift() as BucketRef;
      const mark0 = this.pending.length;
      await this.walkBucket(ref);
      queued.unshift(...this.pending.splice(mark0));
      if (this.stopEarly && this.problemCount) return;
    }
  }

  /** Pages nothing references: free when the freelist is not persisted, else a leak. */
  countFreePages(): number {
    let freePages = 0;
    const { reached, freed } = this;
    for (let i = 2; i < this.pgid; i++) {
      if (!(reached[i >> 3] & (1 << (i & 7)))) {
        if (freed && !(freed[i >> 3] & (1 << (i & 7)))) {
          this.problem(`page ${i}: unreachable unfreed`);
        }
        freePages++;
      }
    }
    return freePages;
  }
}

/**
 * Walk the whole tree: the root bucket, then each top-level bucket in order (as planned by
 * `plan(name)`), then nested buckets; check the structure as bbolt's `tx.Check` does (plus
 * its newer key-order checks). Entries go to the sinks in key order. Yields to the event loop
 * every few milliseconds and stops with EtcdBackupError('cancelled') when `signal` aborts.
 */
export async function walkTree(file: BoltFile, plan: (name: Buffer) => BucketPlan, opts: WalkOptions = {}): Promise<WalkResult> {
  if (opts.signal?.aborted) throw cancelledError();
  const w = new TreeWalker(file, opts);
  w.readFreelist();
  const topNames: string[] = [];
  for (const t of await w.readRootBucket()) {
    if (opts.signal?.aborted) throw cancelledError();
    topNames.push(t.name.toString('latin1'));
    await w.walkTopBucket(t, plan);
    if (w.stopEarly && w.problemCount) break;
  }
  const freePages = !w.partial && !(w.stopEarly && w.problemCount) ? w.countFreePages() : 0;
  opts.onProgress?.(w.pagesWalked, w.pgid);
  const { reached, pgid } = w;
  const isReached = (id: number): boolean => id >= 0 && id < pgid && (reached[id >> 3] & (1 << (id & 7))) !== 0;
  return {
    buckets: topNames,
    problems: w.problems,
    problemCount: w.problemCount,
    pagesReached: w.pagesReached,
    freePages,
    freelistPersisted: file.meta.freelist !== undefined,
    partial: w.partial,
    isReached,
  };
}

/** Throw a SnapshotCorruptError that sums up `problems` in one sentence. */
export function corruptError(path: string, problems: string[], problemCount: number): SnapshotCorruptError {
  const n = problemCount;
  const first = problems[0] ?? 'unknown problem';
  return new SnapshotCorruptError(
    `${path} is corrupt: its bbolt integrity check found ${n} problem${n === 1 ? '' : 's'} ` +
      `(${first}${n > 1 ? '; …' : ''}). Take or copy the snapshot again.`,
    problems,
    problemCount,
  );
}

/** One page (or inline page image) as `lastKeyOf` reads it. */
interface PageView {
  buf: Buffer;
  p: number;
  span: number;
  flags: number;
  count: number;
  where: string;
}

/** Key, value and child of element `i` of a page, bounds-checked. */
interface ElementView {
  kOff: number;
  kLen: number;
  vOff: number;
  vLen: number;
  flags: number;
  /** A branch element's child page. */
  child: number;
}

function elementOf(v: PageView, i: number, fail: (msg: string) => Error): ElementView {
  const e = v.p + PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
  const end = v.p + v.span;
  if (e + ELEMENT_SIZE > end) throw fail(`${v.where}: element ${i} runs outside the page`);
  const b = v.buf;
  if (v.flags === BRANCH_PAGE) {
    const kOff = e + b.readUInt32LE(e);
    const kLen = b.readUInt32LE(e + 4);
    if (kOff + kLen > end) throw fail(`${v.where}: branch element ${i} runs outside the page`);
    return { kOff, kLen, vOff: 0, vLen: 0, flags: 0, child: u64(b, e + 8) };
  }
  const kOff = e + b.readUInt32LE(e + 4);
  const kLen = b.readUInt32LE(e + 8);
  const vLen = b.readUInt32LE(e + 12);
  if (kOff + kLen + vLen > end) throw fail(`${v.where}: element ${i} runs outside the page`);
  return { kOff, kLen, vOff: kOff + kLen, vLen, flags: b.readUInt32LE(e), child: 0 };
}

/**
 * The last key of the top-level bucket `name`, found by descending the rightmost branch: a
 * few page reads, whatever the size of the file (no integrity walk: use `walkTree` for that).
 * `found` is false when there is no such bucket; `key` is undefined when it is empty. Throws
 * SnapshotCorruptError when a page on the way is unusable.
 */
export function lastKeyOf(file: BoltFile, name: string): { found: boolean; key?: Buffer } {
  const fail = (msg: string): SnapshotCorruptError => new SnapshotCorruptError(`${file.path} is corrupt: ${msg}.`, [msg]);
  const read = (id: number, where: string): PageView => {
    if (id < 2 || id >= file.meta.pgid) throw fail(`page ${id} (${where}) is out of bounds (high-water mark ${file.meta.pgid})`);
    const p = file.page(id);
    if (p < 0) throw fail(file.pageError);
    const b = file.pb;
    const flags = b.readUInt16LE(p + 8);
    if (flags !== BRANCH_PAGE && flags !== LEAF_PAGE) {
      throw fail(`page ${id} (${where}): type 0x${flags.toString(16)} is neither branch nor leaf`);
    }
    return { buf: b, p, span: (b.readUInt32LE(p + 12) + 1) * file.pageSize, flags, count: b.readUInt16LE(p + 10), where: `page ${id}` };
  };
  const want = Buffer.from(name, 'latin1');
  // The root bucket: descend to the leaf that would hold `name` (bbolt's seek), then find it.
  let v = read(file.meta.root, 'root bucket');
  for (let depth = 0; v.flags === BRANCH_PAGE; depth++) {
    if (v.count === 0 || depth > MAX_DEPTH) throw fail(`${v.where}: an empty or too deep branch in the root bucket`);
    let pick = elementOf(v, 0, fail).child;
    for (let i = 1; i < v.count; i++) {
      const el = elementOf(v, i, fail);
      if (cmp(v.buf, el.kOff, el.kLen, want, 0, want.length) > 0) break;
      pick = el.child;
    }
    v = read(pick, 'root bucket');
  }
  let header: Buffer | undefined;
  for (let i = 0; i < v.count && !header; i++) {
    const el = elementOf(v, i, fail);
    if (el.flags & BUCKET_LEAF_FLAG && cmp(v.buf, el.kOff, el.kLen, want, 0, want.length) === 0) {
      if (el.vLen < BUCKET_HEADER_SIZE) throw fail(`${v.where}: bucket ${JSON.stringify(name)} has a ${el.vLen}-byte header`);
      header = Buffer.from(v.buf.subarray(el.vOff, el.vOff + el.vLen));
    }
  }
  if (!header) return { found: false };
  const root = u64(header, 0);
  if (root === 0) {
    // An inline bucket: its one leaf page follows the header.
    if (header.length < BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE) throw fail(`inline bucket ${JSON.stringify(name)} is too short`);
    const h = BUCKET_HEADER_SIZE;
    const where = `inline bucket ${JSON.stringify(name)}`;
    v = { buf: header, p: h, span: header.length - h, flags: header.readUInt16LE(h + 8), count: header.readUInt16LE(h + 10), where };
    if (v.flags !== LEAF_PAGE) throw fail(`${v.where}: not a leaf`);
  } else {
    v = read(root, `bucket ${JSON.stringify(name)}`);
  }
  for (let depth = 0; v.flags === BRANCH_PAGE; depth++) {
    if (v.count === 0 || depth > MAX_DEPTH) throw fail(`${v.where}: an empty or too deep branch in bucket ${JSON.stringify(name)}`);
    v = read(elementOf(v, v.count - 1, fail).child, `bucket ${JSON.stringify(name)}`);
  }
  if (v.count === 0) return { found: true };
  const last = elementOf(v, v.count - 1, fail);
  return { found: true, key: Buffer.from(v.buf.subarray(last.kOff, last.kOff + last.kLen)) };
}

/** The main revision of the last key of the `key` bucket (what `snapshot status` calls the revision); 0 when empty. */
export function lastRevisionOf(file: BoltFile): { found: boolean; revision: number } {
  const { found, key } = lastKeyOf(file, 'key');
  if (!key) return { found, revision: 0 };
  if (key.length < 8) {
    const text = `${file.path} is corrupt: the last key of bucket "key" is shorter than a revision.`;
    throw new SnapshotCorruptError(text, [`key ${keyHex(key, 0, key.length)}`]);
  }
  return { found, revision: key.readUInt32BE(0) * 0x100000000 + key.readUInt32BE(4) };
}
