/**
 * The running CRC-32C of `snapshot status`, spread over two threads for large files.
 *
 * The walk hands over runs of key and value bytes in hash order. Runs are grouped into
 * batches of a few MiB; each batch's CRC is computed from zero, either right away on this
 * thread (from the bytes in hand) or by a worker thread that reads the same file positions
 * itself, whichever is free (the worker takes a batch while it has less than a few batches
 * in hand). The batch CRCs are then joined in order with crc32c_combine (CRC linearity, as
 * zlib's crc32_combine), so the result is exactly the sequential CRC.
 */
import { Worker } from 'worker_threads';
import { crc32cUpdate, nativeCrc32cPath } from './crc32c';

const BATCH_BYTES = 4 << 20;
const WORKER_BACKLOG = 2 * BATCH_BYTES;

// ---------------------------------------------------------------------------------------
// crc32c_combine: CRC of A ++ B from CRC(A), CRC(B) and len(B), over GF(2).

const POLY = 0x82f63b78;

function gf2MatrixTimes(mat: Uint32Array, vec: number): number {
  let sum = 0;
  let i = 0;
  while (vec) {
    if (vec & 1) sum ^= mat[i];
    vec >>>= 1;
    i++;
  }
  return sum >>> 0;
}

function gf2MatrixSquare(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2MatrixTimes(mat, mat[n]);
}

/** ZEROS[k]: the operator that appends 2^k zero bytes to a CRC (made once, on first use). */
let ZEROS: Uint32Array[] | undefined;

function zeroOperators(): Uint32Array[] {
  if (ZEROS) return ZEROS;
  // Operator for one zero bit, squared three times: one zero byte.
  let m = new Uint32Array(32);
  m[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) m[n] = row;
  for (let i = 0; i < 3; i++) {
    const sq = new Uint32Array(32);
    gf2MatrixSquare(sq, m);
    m = sq;
  }
  const ops = [m];
  for (let k = 1; k < 53; k++) {
    const sq = new Uint32Array(32);
    gf2MatrixSquare(sq, ops[k - 1]);
    ops.push(sq);
  }
  ZEROS = ops;
  return ops;
}

/**
 * CRC-32C of A ++ B, given crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B): crc1 with len2 zero
 * bytes appended (one precomputed operator per set bit of len2; they commute), xor crc2.
 */
export function crc32cCombine(crc1: number, crc2: number, len2: number): number {
  if (len2 <= 0) return crc1 >>> 0;
  const ops = zeroOperators();
  let c1 = crc1 >>> 0;
  for (let len = len2, k = 0; len > 0; len = Math.floor(len / 2), k++) {
    if (len % 2) c1 = gf2MatrixTimes(ops[k], c1);
  }
  return (c1 ^ crc2) >>> 0;
}

// ---------------------------------------------------------------------------------------
// The worker: the same CRC (the native one, or a copy in plain JS) over file positions it reads itself.

const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const fs = require('fs');
const POLY = 0x82f63b78;
const T = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1; T[n] = c; }
for (let n = 0; n < 256; n++) { let c = T[n]; for (let k = 1; k < 16; k++) { c = T[c & 0xff] ^ (c >>> 8); T[k * 256 + n] = c; } }
// The hardware CRC-32C when the main thread found one (the same check value), else the JS below.
let nat = null;
try {
  if (workerData.nativeCrc) { const f = require(workerData.nativeCrc).crc32c; if (f(Buffer.from('123456789')) === 0xe3069283) nat = f; }
} catch (e) { nat = null; }
function upd(crc, buf, w, i, end) {
  if (nat && end - i >= 256) return nat(buf.subarray(i, end), crc) >>> 0;
  const t = T; let c = ~crc;
  while (i < end && (i & 3) !== 0) c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  const blocks = (end - i) >> 4;
  let j = i >> 2; const jEnd = j + blocks * 4;
  while (j < jEnd) {
    const a = w[j] ^ c, b = w[j + 1], d = w[j + 2], e = w[j + 3];
    c = t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^ t[3328 + ((a >>> 16) & 0xff)] ^ t[3072 + (a >>> 24)] ^
      t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^ t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^
      t[1792 + (d & 0xff)] ^ t[1536 + ((d >>> 8) & 0xff)] ^ t[1280 + ((d >>> 16) & 0xff)] ^ t[1024 + (d >>> 24)] ^
      t[768 + (e & 0xff)] ^ t[512 + ((e >>> 8) & 0xff)] ^ t[256 + ((e >>> 16) & 0xff)] ^ t[e >>> 24];
    j += 4;
  }
  i += blocks * 16;
  while (i < end) c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
const fd = fs.openSync(workerData.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
if (!fs.fstatSync(fd).isFile()) throw new Error(workerData.path + ' is not a regular file');
const backlog = new Int32Array(workerData.backlog);
const size = fs.fstatSync(fd).size;
const WIN = 1 << 20;
let win = Buffer.allocUnsafeSlow(WIN), words = new Int32Array(win.buffer), ws = -1, wl = 0;
function fill(off, len) {
  if (len > win.length) { win = Buffer.allocUnsafeSlow(len); words = new Int32Array(win.buffer, 0, len >> 2); }
  const end = Math.min(off + len, size);
  let got = 0;
  while (off + got < end) { const n = fs.readSync(fd, win, got, end - off - got, off + got); if (n <= 0) break; got += n; }
  ws = off; wl = got;
}
parentPort.on('message', (m) => {
  const offs = m.offs, lens = m.lens;
  let c = 0;
  try {
    for (let i = 0; i < offs.length; i++) {
      const off = offs[i], len = lens[i];
      if (!(off >= ws && off + len <= ws + wl)) fill(off, Math.max(len, WIN));
      if (off + len > ws + wl) throw new Error('short read at ' + off);
      c = upd(c, win, words, off - ws, off - ws + len);
    }
    Atomics.sub(backlog, 0, m.len);
    parentPort.postMessage({ id: m.id, crc: c });
  } catch (err) {
    Atomics.sub(backlog, 0, m.len);
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
`;

interface Segment {
  crc: number;
  len: number;
  pending?: Promise<number>;
}

/** A CRC-32C over runs of bytes in order, with batches optionally hashed by a worker. */
export class RunHasher {
  private readonly segments: Segment[] = [];
  private mode: 'main' | 'worker' | null = null;
  private curCrc = 0;
  private curLen = 0;
  private offs: number[] = [];
  private lens: number[] = [];
  private worker?: Worker;
  /**
   * Bytes handed to the worker and not hashed yet; the worker lowers it as it goes (shared memory, so it is current between
   * event-loop turns).
   */
  private readonly backlog = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (crc: number) => void; reject: (err: Error) => void; len: number }>();
  private failed?: Error;

  /** `path`: hash batches in a worker that reads this file too (large files); omit for one thread. */
  constructor(path?: string) {
    if (path) {
      try {
        const w = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { path, backlog: this.backlog.buffer, nativeCrc: nativeCrc32cPath() },
        });
        w.unref();
        w.on('message', (m: { id: number; crc?: number; error?: string }) => {
          const p = this.waiting.get(m.id);
          if (!p) return;
          this.waiting.delete(m.id);
          if (m.error !== undefined) p.reject(new Error(`CRC worker: ${m.error}`));
          else p.resolve(m.crc as number);
        });
        const fail = (err: Error): void => {
          this.failed = err;
          for (const p of this.waiting.values()) p.reject(err);
          this.waiting.clear();
        };
        w.on('error', fail);
        w.on('exit', (code) => {
          if (this.waiting.size) fail(new Error(`CRC worker exited (${code})`));
        });
        this.worker = w;
      } catch {
        this.worker = undefined;
      }
    }
  }

  /** Add the bytes buf[start, end), which sit at file position `pos` + start (pos -1: not addressable). */
  add(buf: Buffer, start: number, end: number, pos: number, words?: Int32Array): void {
    const len = end - start;
    if (len <= 0) return;
    if (this.mode === null) {
      this.mode = this.worker && !this.failed && pos >= 0 && Atomics.load(this.backlog, 0) < WORKER_BACKLOG ? 'worker' : 'main';
    } else if (this.mode === 'worker' && pos < 0) {
      this.close();
      this.mode = 'main';
    }
    if (this.mode === 'main') {
      this.curCrc = crc32cUpdate(this.curCrc, buf, start, end, words);
    } else {
      this.offs.push(pos + start);
      this.lens.push(len);
    }
    this.curLen += len;
    if (this.curLen >= BATCH_BYTES) this.close();
  }

  private close(): void {
    if (this.mode === 'main') {
      this.segments.push({ crc: this.curCrc, len: this.curLen });
    } else if (this.mode === 'worker' && this.worker) {
      const id = this.nextId++;
      const len = this.curLen;
      const offs = Float64Array.from(this.offs);
      const lens = Float64Array.from(this.lens);
      const pending = new Promise<number>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject, len });
      });
      pending.catch(() => undefined);
      Atomics.add(this.backlog, 0, len);
      this.worker.postMessage({ id, offs, lens, len }, [offs.buffer, lens.buffer]);
      this.segments.push({ crc: 0, len, pending });
      this.offs = [];
      this.lens = [];
    }
    this.mode = null;
    this.curCrc = 0;
    this.curLen = 0;
  }

  /** The CRC of everything added, in order. Stops the worker. */
  async result(): Promise<number> {
    this.close();
    try {
      let crc = 0;
      for (const s of this.segments) {
        const c = s.pending ? await s.pending : s.crc;
        crc = crc32cCombine(crc, c, s.len);
      }
      return crc;
    } finally {
      this.stop();
    }
  }

  /** Stop the worker (cancel). */
  stop(): void {
    if (this.worker) {
      void this.worker.terminate();
      this.worker = undefined;
    }
  }
}
