/**
 * gzip on every core, in the way pigz does it: the input is cut into blocks, each block is
 * compressed as its own gzip member on libuv's thread pool, and the members are written in
 * input order. A file of concatenated members is one valid gzip file (RFC 1952, 2.2): `gunzip`,
 * `zcat`, Node's `createGunzip` and every S3 tool read it as one stream.
 *
 * Why: a single zlib stream compresses on one thread (about 40-300 MB/s, by level and data), and a
 * backup of a large database would wait for it long after the save has finished. With two or
 * more blocks in flight the upload keeps up with the save.
 *
 * Memory: at most `concurrency` blocks in flight, plus one being filled (about
 * (2 x concurrency + 1) x blockSize); the next block is not read until the oldest is written.
 */
import { availableParallelism } from 'os';
import { Transform, TransformCallback } from 'stream';
import { gzip, ZlibOptions } from 'zlib';
import { giveBack } from './lend';

export interface ParallelGzipOptions {
  level: number;
  /** Bytes per gzip member (default 1 MiB). */
  blockSize?: number;
  /** Blocks compressed at once (default: the CPUs, at least 2, at most 8). */
  concurrency?: number;
}

function gzipBlock(block: Buffer, opts: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => gzip(block, opts, (err, out) => (err ? reject(err) : resolve(out))));
}

/** A Transform whose output is the gzip of its input, compressed in parallel blocks. */
export function createParallelGzip(options: ParallelGzipOptions): Transform {
  const blockSize = options.blockSize ?? 1024 * 1024;
  const concurrency = options.concurrency ?? Math.min(8, Math.max(2, availableParallelism()));
  const zopts: ZlibOptions = { level: options.level, chunkSize: 256 * 1024 };
  const inFlight: Promise<Buffer>[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let members = 0;

  return new Transform({
    // Compressed members are pushed in order; keep the readable side's buffer small.
    readableHighWaterMark: blockSize,
    async transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      try {
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes >= blockSize) {
          const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
          // A whole chunk stays the same object, so a lent block (the run's tee) can go back to its lender.
          const block = all.length === blockSize ? all : all.subarray(0, blockSize);
          const rest = all.subarray(blockSize);
          pending = rest.length ? [rest] : [];
          pendingBytes = rest.length;
          await startBlock(this, block);
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    async flush(done: TransformCallback) {
      try {
        // An empty input still becomes one (empty) member: zero bytes are not a gzip file.
        if (pendingBytes > 0 || members === 0) await startBlock(this, Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
        while (inFlight.length) this.push(await inFlight.shift());
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });

  /** Queue one block; when the queue is full, first write the oldest member out. */
  async function startBlock(stream: Transform, block: Buffer): Promise<void> {
    // Streams hand over buffers they no longer change, so the block is compressed without a copy.
    const p = gzipBlock(block, zopts);
    // Once compressed, the block's bytes are not read again: a lent one goes back (./lend.ts).
    void p.then(
      () => giveBack(block),
      () => undefined,
    );
    members++;
    p.catch(() => undefined); // surfaced when awaited below, in order
    inFlight.push(p);
    while (inFlight.length >= concurrency) stream.push(await inFlight.shift());
  }
}
