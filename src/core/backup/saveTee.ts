/**
 * The bytes of a save, for the upload, as they arrive from etcd. The save hands the tee every
 * chunk it received (in file order, after hashing it); the tee copies them into 1 MiB blocks
 * that the compressor takes whole and gives back when it is done with them (./lend.ts): the
 * upload neither reads the file back nor hashes it a second time, and a GiB passing through
 * allocates a few dozen MiB.
 *
 * The upload may hold the save back a little, never for long. When it falls behind by `cap`
 * bytes the save pauses; if the upload has not taken half of them within {@link DRAIN_MS} (a
 * stuck store), or the save has spent more time paused than streaming, give or take
 * {@link PAUSE_GRACE_MS} (a store slower than the member: the save would take more than about
 * twice its own time, holding etcd's read transaction open), the tee lets go of the stream
 * and the save goes on at its own pace: the
 * tee hands on what it holds, then reads the rest from the file the save writes (its `.part`,
 * then its final name), and hashes what it reads, taking up the save's own running hash where the
 * file takes over. At the end that hash is the SHA-256 of everything the upload got, to be
 * compared with the save's.
 *
 * A save attempt that fails while another may follow (the member went away: the run tries the
 * next) ends the tee with {@link SaveRestarted}; the caller uploads the saved file instead.
 */
import type { Hash } from 'crypto';
import { promises as fs } from 'fs';
import { Readable } from 'stream';
import { lend } from './lend';

/** The followed save attempt was abandoned (another may follow): what was streamed is not the backup. */
export class SaveRestarted extends Error {}

/** What the upload got from the tee. */
export interface TeeOutcome {
  /** Bytes handed on. */
  size: number;
  /** Of those, bytes read from the file (after the tee let go of the stream). */
  fromFile: number;
  /**
   * SHA-256 of everything handed on, when some of it was read from the file; absent when every
   * byte came from the save's own stream, which the save hashed (its SHA-256 is theirs).
   */
  sha256?: string;
}

/** Bytes held for a lagging upload before the save pauses. */
const DEFAULT_CAP = 16 * 1024 * 1024;
/** Longest pause of the save: an upload that takes less than half the held bytes in this time gets the file instead. */
export const DRAIN_MS = 1000;
/** The save may be paused this much longer than it has streamed before the upload is let go. */
export const PAUSE_GRACE_MS = 2000;
/** Block size: the parallel gzip's, so it takes each block whole. */
const BLOCK = 1024 * 1024;

export class SaveTee {
  readonly stream: Readable;
  /** Blocks ready to hand on, and their bytes. */
  private mem: Buffer[] = [];
  private memBytes = 0;
  /** The block being filled, and how much of it is. */
  private cur?: Buffer;
  private curFill = 0;
  /** Blocks given back by the compressor. */
  private free: Buffer[] = [];
  /** Bytes taken from the save (file positions up to here are in memory or handed on). */
  private taken = 0;
  /** Bytes handed on. */
  private pos = 0;
  private fromFile = 0;
  /** From the moment the tee let go of the stream: the save's hash of [0, taken), continued over the file's bytes. */
  private hash?: Hash;
  private fh?: fs.FileHandle;
  private final?: { size: number; file: string };
  private failure?: Error;
  private wake?: () => void;
  private outcome?: TeeOutcome;
  /** The save's hash of every byte taken (a copy made when called). */
  private hashHere?: () => Hash;
  private drained?: () => void;
  /** Set while the save is paused for the upload: lets go of the stream when it fires. */
  private pauseTimer?: NodeJS.Timeout;
  /** When the first chunk came, when the current pause began, and the time paused so far. */
  private startedAt = 0;
  private pausedAt = 0;
  private pausedMs = 0;
  private readonly onLetGo?: (atBytes: number) => void;

  private readonly cap: number;

  /** `partFile`: the save's temp file, once it exists; `onLetGo`: told when the upload is left to read the file. */
  constructor(
    private readonly partFile: () => string | undefined,
    opts: { cap?: number; onLetGo?: (atBytes: number) => void } = {},
  ) {
    this.cap = opts.cap ?? DEFAULT_CAP;
    this.onLetGo = opts.onLetGo;
    this.stream = new Readable({
      highWaterMark: BLOCK,
      read: () => void this.pull(),
      destroy: (err, cb) => {
        const h = this.fh;
        this.fh = undefined;
        this.drop();
        this.release();
        void (h ? h.close().catch(() => undefined) : Promise.resolve()).then(() => cb(err));
      },
    });
    // Failing an upload that never started (its store did not open) must not crash the process.
    this.stream.on('error', () => undefined);
  }

  /** Called by the save with the function that resumes it after `take` asked for a pause. */
  onDrain(fn: () => void): void {
    this.drained = fn;
  }

  /**
   * The save's next chunk; `hashHere` gives a copy of the save's hash of every byte up to and
   * including it. False: pause until the upload has taken half of what is held (or the tee
   * lets go of the stream).
   */
  take(chunk: Buffer, hashHere: () => Hash): boolean {
    if (this.hash || this.failure || this.final || this.stream.destroyed) return true;
    for (let at = 0; at < chunk.length;) {
      this.cur ??= this.free.pop() ?? Buffer.allocUnsafeSlow(BLOCK);
      const n = chunk.copy(this.cur, this.curFill, at);
      at += n;
      this.curFill += n;
      if (this.curFill === BLOCK) this.queueBlock();
    }
    this.taken += chunk.length;
    this.hashHere = hashHere;
    this.poke();
    const now = Date.now();
    this.startedAt ||= now;
    if (this.memBytes <= this.cap || this.pauseTimer) return this.memBytes <= this.cap;
    if (this.pausedMs > now - this.startedAt - this.pausedMs + PAUSE_GRACE_MS) {
      this.letGo();
      return true;
    }
    this.pausedAt = now;
    this.pauseTimer = setTimeout(() => this.letGo(), DRAIN_MS);
    return false;
  }

  /** The save succeeded: the tee ends once all `size` bytes are handed on. */
  finish(r: { size: number; file: string }): void {
    if (!this.hash) this.queueBlock();
    this.final = r;
    this.poke();
  }

  /** The save failed (`SaveRestarted` when another attempt may follow): the upload stops with this error. */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.drop();
    this.release();
    this.poke();
    if (!this.stream.destroyed) this.stream.destroy(err);
  }

  /** The followed attempt was abandoned for another: the upload must start over from the saved file. */
  get abandoned(): boolean {
    return this.failure instanceof SaveRestarted;
  }

  /** What was handed on; set once the stream has ended. */
  result(): TeeOutcome | undefined {
    return this.outcome;
  }

  /** Queue the block being filled (full, or the last bytes at the end). A full block is lent. */
  private queueBlock(): void {
    const b = this.cur;
    if (!b || !this.curFill) return;
    const block = this.curFill === BLOCK ? lend(b, () => this.free.push(b)) : b.subarray(0, this.curFill);
    this.mem.push(block);
    this.memBytes += block.length;
    this.cur = undefined;
    this.curFill = 0;
  }

  private drop(): void {
    this.mem = [];
    this.memBytes = 0;
    this.cur = undefined;
    this.curFill = 0;
    this.free = [];
  }

  /** The upload is too slow to wait for: from here on it reads the file, and the save goes on. */
  private letGo(): void {
    this.endPause();
    if (!this.hash && !this.failure && this.hashHere) {
      this.queueBlock();
      this.hash = this.hashHere();
      this.onLetGo?.(this.taken);
    }
    this.drained?.();
    this.poke();
  }

  /** Resume a paused save. */
  private release(): void {
    if (this.endPause()) this.drained?.();
  }

  /** Count the pause in progress, if any, as over; true when there was one. */
  private endPause(): boolean {
    if (!this.pauseTimer) return false;
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    this.pausedMs += Date.now() - this.pausedAt;
    return true;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async pull(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) return;
        const block = this.mem.shift();
        if (block) {
          this.memBytes -= block.length;
          this.pos += block.length;
          if (this.memBytes <= this.cap / 2) this.release();
          this.stream.push(block);
          return;
        }
        if (this.final && this.pos >= this.final.size) return this.end();
        if (this.hash && this.pos >= this.taken) {
          if (await this.readFile()) return;
        } else {
          await new Promise<void>((r) => (this.wake = r));
        }
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private end(): void {
    const final = this.final as { size: number };
    if (this.pos !== final.size) throw new Error(`the upload got ${this.pos} bytes of a ${final.size}-byte save`);
    this.outcome = { size: this.pos, fromFile: this.fromFile, ...(this.hash ? { sha256: this.hash.digest('hex') } : {}) };
    this.stream.push(null);
  }

  /** Read the next bytes of the file into the stream; false when none are there yet (after a short wait). */
  private async readFile(): Promise<boolean> {
    if (!this.fh) {
      // Once the save is done its temp file has the final name: read that.
      const path = this.final?.file ?? this.partFile();
      this.fh =
        path === undefined
          ? undefined
          : await fs.open(path, 'r').catch((err: NodeJS.ErrnoException) => {
              if (err.code === 'ENOENT') return undefined;
              throw err;
            });
      if (!this.fh) throw new SaveRestarted('the save attempt was abandoned');
    }
    const want = this.final ? Math.min(BLOCK, this.final.size - this.pos) : BLOCK;
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await this.fh.read(buf, 0, want, this.pos);
    if (this.failure) return true;
    if (bytesRead > 0) {
      const got = buf.subarray(0, bytesRead);
      this.hash?.update(got);
      this.pos += bytesRead;
      this.fromFile += bytesRead;
      this.stream.push(got);
      return true;
    }
    // An attempt that failed removes its file: no more bytes will come.
    if (!this.final && (await this.fh.stat()).nlink === 0) throw new SaveRestarted('the save attempt was abandoned');
    await new Promise((r) => setTimeout(r, 15));
    return false;
  }
}
