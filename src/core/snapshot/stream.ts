/**
 * The snapshot stream into a file: etcd's `Maintenance.Snapshot` messages are hashed as they
 * come (all but the last 32 bytes, which may be the SHA-256 trailer), queued and written in
 * batches, with the stream paused while at most {@link HIGH_WATER} bytes wait for the disk.
 * The stream ends well only when the last 32 bytes are the SHA-256 of everything before them.
 * Each step is a method of {@link SnapshotStreamWriter}; `streamToFile` wires one up.
 */
import { createHash, Hash } from 'crypto';
import type { promises as fs } from 'fs';
import { EtcdBackupError, explain } from '../errors';

/** Bytes queued for the disk before the stream is paused. */
const HIGH_WATER = 4 * 1024 * 1024;
/** Bytes gathered before one write (fewer, larger writes). */
const BATCH = 1024 * 1024;
export const TRAILER = 32;
/** Bytes between two calls of `collectGarbage`. */
const GC_EVERY = 8 * 1024 * 1024;

export interface SaveProgress {
  /** Bytes received and queued for the file so far. */
  bytes: number;
  /** Expected size of the file (database + trailer), once the first message told it. */
  total?: number;
  elapsedMs: number;
  /** Average bytes per second since the stream started. */
  bytesPerSecond: number;
}

/** A grpc-js readable stream as etcd3's pool hands it out (the few members used here). */
export interface SnapshotCall {
  on(event: 'data', fn: (msg: SnapshotMessage) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'end', fn: () => void): void;
  on(event: 'status', fn: (s: unknown) => void): void;
  pause(): void;
  resume(): void;
  isPaused(): boolean;
  cancel(): void;
}

export interface SnapshotMessage {
  blob?: Buffer;
  remaining_bytes?: string | number;
  header?: { revision?: string };
}

export interface StreamOptions {
  endpoint: string;
  signal?: AbortSignal;
  onProgress?: (p: SaveProgress) => void;
  /** Longest wait for the first message. */
  firstMs: number;
  /** Longest silence between two messages after the first. */
  stallMs: number;
  /** Whole-stream deadline. */
  deadlineMs?: number;
  collectGarbage?: () => void;
  /** Gets every received chunk, in file order, after it was hashed; see {@link StreamTee}. */
  tee?: StreamTee;
}

/**
 * A second taker of the received bytes (a run's upload). `take` gets every chunk in file order,
 * after it was hashed (`hashHere`: a copy of the hash of every byte so far); false asks the
 * stream to pause until the tee calls the function it was given with `onDrain`.
 */
export interface StreamTee {
  take(chunk: Buffer, hashHere: () => Hash): boolean;
  onDrain(fn: () => void): void;
}

export interface StreamResult {
  /** Bytes written (database image + trailer). */
  size: number;
  /** Hex SHA-256 of the database image (equals the trailer). */
  dbSha256: string;
  /** Hex SHA-256 of the whole file. */
  sha256: string;
}

/** Messages and gRPC details of an error and its causes. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let e = err as { message?: string; details?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 6; depth++) {
    parts.push(e.message ?? '', e.details ?? '');
    e = e.cause as typeof e;
  }
  return parts.join(' ');
}

export function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** One stream into one file: the state and each step of the way. */
class SnapshotStreamWriter {
  readonly promise: Promise<StreamResult>;
  private resolvePromise!: (r: StreamResult) => void;
  private rejectPromise!: (e: EtcdBackupError) => void;
  private readonly started = Date.now();
  private readonly db: Hash = createHash('sha256');
  /** The last (up to) 32 bytes seen: not hashed yet, they may be the trailer. */
  private hold: Buffer = Buffer.alloc(0);
  private queue: Buffer[] = [];
  private queued = 0;
  private received = 0;
  private written = 0;
  private total: number | undefined;
  private writing = false;
  private ended = false;
  private settled = false;
  private lastProgress = 0;
  private nextGc = GC_EVERY;
  /** The tee asked for a pause and has not drained yet. */
  private teeFull = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => {
    const text = `Snapshot cancelled after ${mb(this.received)}: the stream was stopped and nothing was saved.`;
    this.fail(new EtcdBackupError('cancelled', text));
  };

  constructor(
    private readonly call: SnapshotCall,
    private readonly fh: fs.FileHandle,
    private readonly opts: StreamOptions,
  ) {
    this.promise = new Promise<StreamResult>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  /** Arm the timers and listen to the call. */
  start(): void {
    const { signal, deadlineMs } = this.opts;
    if (signal?.aborted) {
      this.onAbort();
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (deadlineMs !== undefined) {
      const text = `The snapshot from ${this.opts.endpoint} did not finish within the ${Math.round(deadlineMs / 1000)} s deadline`;
      const fire = (): void => {
        const got = mb(this.received);
        this.fail(new EtcdBackupError('timeout', `${text} (${got} received): nothing was saved. Raise the command timeout and try again.`));
      };
      this.deadlineTimer = setTimeout(fire, deadlineMs);
    }
    this.armStall(this.opts.firstMs, true);
    this.opts.tee?.onDrain(() => {
      this.teeFull = false;
      this.resumeIfRoom();
    });
    this.call.on('data', (msg) => this.onData(msg));
    this.call.on('error', (err) => this.onError(err));
    this.call.on('end', () => this.onEnd());
  }

  private cleanup(): void {
    clearTimeout(this.stallTimer);
    clearTimeout(this.deadlineTimer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  private fail(err: EtcdBackupError): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    try {
      this.call.cancel();
    } catch {
      // already finished
    }
    this.rejectPromise(err);
  }

  private progress(force: boolean): void {
    const t = Date.now();
    if (!this.opts.onProgress || (!force && t - this.lastProgress < 200)) return;
    this.lastProgress = t;
    const elapsedMs = t - this.started;
    const bytesPerSecond = elapsedMs > 0 ? (this.received * 1000) / elapsedMs : 0;
    this.opts.onProgress({ bytes: this.received, total: this.total, elapsedMs, bytesPerSecond });
  }

  private armStall(ms: number, first: boolean): void {
    clearTimeout(this.stallTimer);
    const ep = this.opts.endpoint;
    this.stallTimer = setTimeout(() => {
      const seconds = (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
      const text = first
        ? `${ep} did not start sending the snapshot within ${ms} ms: nothing was saved. ` +
          'Check that the member is up and reachable, or pick another member.'
        : `The snapshot stream from ${ep} stalled for ${seconds} s after ${mb(this.received)}: nothing was saved. ` +
          'Check the member (is it overloaded or frozen?) and try again, or pick another member.';
      this.fail(new EtcdBackupError('timeout', text));
    }, ms);
  }

  /** Hash everything but the last 32 bytes seen so far (they may be the trailer). */
  private hash(blob: Buffer): void {
    if (blob.length >= TRAILER) {
      this.db.update(this.hold);
      this.db.update(blob.subarray(0, blob.length - TRAILER));
      this.hold = blob.subarray(blob.length - TRAILER);
    } else if (blob.length) {
      const joined = Buffer.concat([this.hold, blob]);
      if (joined.length > TRAILER) {
        this.db.update(joined.subarray(0, joined.length - TRAILER));
      }
      this.hold = joined.subarray(Math.max(0, joined.length - TRAILER));
    }
  }

  private onData(msg: SnapshotMessage): void {
    if (this.settled) return;
    const blob = msg.blob ?? Buffer.alloc(0);
    if (this.received === 0 && this.total === undefined) {
      this.total = blob.length + Number(msg.remaining_bytes ?? 0) + TRAILER;
    }
    this.armStall(this.opts.stallMs, false);
    this.received += blob.length;
    if (this.opts.collectGarbage && this.received >= this.nextGc) {
      this.nextGc = this.received + GC_EVERY;
      this.opts.collectGarbage();
    }
    this.hash(blob);
    if (blob.length) {
      if (this.opts.tee && !this.opts.tee.take(blob, () => this.db.copy().update(this.hold))) this.teeFull = true;
      this.queue.push(blob);
      this.queued += blob.length;
    }
    if (this.queued >= HIGH_WATER || this.teeFull) {
      this.call.pause();
    }
    this.progress(false);
    void this.pump();
  }

  private onError(err: Error): void {
    if (this.settled) return;
    const ep = this.opts.endpoint;
    const e = explain(err, ep);
    const got = mb(this.received);
    if (/not supported for learner/i.test(errorText(err))) {
      const text = `${ep} is a learner, and this etcd streams no snapshot from a learner: nothing was saved.`;
      this.fail(new EtcdBackupError('invalidInput', `${text} Pick a voting member (the leader or a follower).`, { cause: err }));
    } else if (e.kind === 'cancelled') {
      this.fail(new EtcdBackupError('cancelled', `Snapshot cancelled after ${got}: nothing was saved.`, { cause: err }));
    } else if (this.received > 0 && (e.kind === 'unreachable' || e.kind === 'internal')) {
      const text = `The snapshot stream from ${ep} broke after ${got} (the member went away or closed the connection): nothing was saved.`;
      this.fail(new EtcdBackupError('unreachable', `${text} Check the member and try again, or pick another member.`, { cause: err }));
    } else {
      this.fail(e);
    }
  }

  private onEnd(): void {
    if (this.settled) return;
    this.ended = true;
    clearTimeout(this.stallTimer);
    this.progress(true);
    void this.pump();
  }

  /** Write the queued buffers (one batch at a time), then resume the stream or finish. */
  private async pump(): Promise<void> {
    if (this.writing || this.settled) return;
    if (!this.queued) {
      if (this.ended) this.finish();
      return;
    }
    if (this.queued < BATCH && !this.ended) return;
    this.writing = true;
    const bufs = this.queue;
    const length = this.queued;
    this.queue = [];
    this.queued = 0;
    try {
      await this.writeAll(bufs, length);
      this.written += length;
    } catch (err) {
      this.fail(explain(err));
      return;
    } finally {
      this.writing = false;
    }
    if (this.settled) return;
    this.resumeIfRoom();
    void this.pump();
  }

  /** Resume a paused stream once the disk queue is below its mark and the tee has drained. */
  private resumeIfRoom(): void {
    if (!this.ended && !this.settled && this.queued < HIGH_WATER && !this.teeFull && this.call.isPaused()) {
      this.call.resume();
    }
  }

  private async writeAll(bufs: Buffer[], length: number): Promise<void> {
    let done = 0;
    let rest = bufs;
    while (done < length) {
      const { bytesWritten } = await this.fh.writev(rest);
      if (bytesWritten <= 0) {
        throw Object.assign(new Error('write returned 0 bytes'), { code: 'ENOSPC' });
      }
      done += bytesWritten;
      if (done < length) {
        // A short write (disk or file-size limit): write the rest; the next call fails with the reason.
        rest = [Buffer.concat(bufs).subarray(done)];
      }
    }
  }

  /** The stream ended and everything is written: the trailer must be the SHA-256 of the rest. */
  private finish(): void {
    const ep = this.opts.endpoint;
    if (this.hold.length !== TRAILER) {
      const text = `The snapshot stream from ${ep} ended after ${this.received} bytes without the SHA-256 trailer: nothing was saved.`;
      this.fail(new EtcdBackupError('corrupt', `${text} Try again, or pick another member.`));
      return;
    }
    const copy = this.db.copy();
    const dbSha256 = this.db.digest();
    if (!dbSha256.equals(this.hold)) {
      const bytes = this.received - TRAILER;
      const text = `The snapshot from ${ep} failed its SHA-256 check (the trailer etcd sent does not match the ${bytes} bytes received)`;
      this.fail(new EtcdBackupError('corrupt', `${text}: nothing was saved. Try again, or pick another member.`));
      return;
    }
    copy.update(this.hold);
    this.settled = true;
    this.cleanup();
    this.resolvePromise({ size: this.written, dbSha256: dbSha256.toString('hex'), sha256: copy.digest('hex') });
  }
}

/**
 * Stream the snapshot into `fh`; resolves with the digests once the stream has ended and the
 * last 32 bytes proved to be the SHA-256 of everything before them. Rejects with one sentence
 * (an EtcdBackupError) on a stall, the deadline, a cancel, a broken stream or a bad trailer.
 */
export function streamToFile(call: SnapshotCall, fh: fs.FileHandle, opts: StreamOptions): Promise<StreamResult> {
  const w = new SnapshotStreamWriter(call, fh, opts);
  w.start();
  return w.promise;
}
