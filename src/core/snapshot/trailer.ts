/**
 * The SHA-256 trailer check: a snapshot streamed by the Maintenance.Snapshot RPC ends with
 * the SHA-256 of everything before it (the file "has a hash" when size % 512 == 32), which
 * `etcdctl snapshot restore` checks unless told `--skip-hash-check`.
 *
 * The hashing runs in a worker thread so that it overlaps the page walk on another core and
 * never blocks the caller's event loop (VS Code's extension host); cancelling terminates it.
 */
import { Worker } from 'worker_threads';
import { EtcdBackupError } from '../errors';
import { TRAILER_SIZE } from './bbolt';

export interface TrailerCheck {
  /** The digest of the database image equals the trailer. */
  ok: boolean;
  /** Hex SHA-256 stored in the trailer. */
  expected: string;
  /** Hex SHA-256 of the bytes before it. */
  actual: string;
  /** Bytes hashed (file size - 32). */
  hashedBytes: number;
}

// Plain JS run with `eval: true`, so bundlers need no extra entry point.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const fs = require('fs');
const crypto = require('crypto');
const { path, trailerSize } = workerData;
try {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(path + ' is not a regular file');
    const size = st.size;
    const end = size - trailerSize;
    const buf = Buffer.allocUnsafeSlow(1 << 20);
    const h = crypto.createHash('sha256');
    let off = 0, lastPost = 0;
    while (off < end) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - off), off);
      if (n <= 0) throw new Error('unexpected end of file at byte ' + off);
      h.update(n === buf.length ? buf : buf.subarray(0, n));
      off += n;
      if (off - lastPost >= (64 << 20)) { parentPort.postMessage({ progress: off, total: end }); lastPost = off; }
    }
    const trailer = Buffer.alloc(trailerSize);
    fs.readSync(fd, trailer, 0, trailerSize, end);
    parentPort.postMessage({ done: true, actual: h.digest('hex'), expected: trailer.toString('hex'), hashedBytes: end });
  } finally {
    fs.closeSync(fd);
  }
} catch (err) {
  parentPort.postMessage({ error: String(err && err.message || err), code: err && err.code });
}
`;

/**
 * Hash `path` minus its last 32 bytes and compare with them. Resolves with the comparison
 * (a mismatch is `ok: false`, not an error); rejects with EtcdBackupError 'cancelled' when the
 * signal aborts, or the read error.
 */
export function checkTrailer(
  path: string,
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<TrailerCheck> {
  return new Promise<TrailerCheck>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new EtcdBackupError('cancelled', 'Cancelled.'));
      return;
    }
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, trailerSize: TRAILER_SIZE } });
    let settled = false;
    const onAbort = (): void => {
      finish(() => reject(new EtcdBackupError('cancelled', 'Cancelled.')));
    };
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      f();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on(
      'message',
      (m: {
        progress?: number;
        total?: number;
        done?: boolean;
        actual?: string;
        expected?: string;
        hashedBytes?: number;
        error?: string;
        code?: string;
      }) => {
        if (m.progress !== undefined) {
          opts.onProgress?.(m.progress, m.total ?? 0);
        } else if (m.done) {
          finish(() =>
            resolve({ ok: m.actual === m.expected, actual: m.actual ?? '', expected: m.expected ?? '', hashedBytes: m.hashedBytes ?? 0 }),
          );
        } else if (m.error !== undefined) {
          const err = Object.assign(new Error(m.error), { code: m.code });
          finish(() => reject(err));
        }
      },
    );
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(new Error(`the hashing worker stopped (exit ${code})`))));
  });
}
