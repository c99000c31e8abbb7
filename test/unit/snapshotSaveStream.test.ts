/**
 * The stream consumer of snapshot save on a scripted stream (a stand-in for the gRPC call
 * object, not for etcd: real etcd streams are in test/integration/snapshotSave.test.ts).
 * The trailer check wherever the message boundaries fall, a wrong or missing trailer, the
 * pause that bounds memory while the disk is slow, cancel, a broken stream and a stall.
 */
import * as assert from 'assert';
import { createHash } from 'crypto';
import { EventEmitter } from 'events';
import { promises as fs, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EtcdBackupError } from '../../src/core/errors';
import { SnapshotCall, streamToFile } from '../../src/core/snapshot/save';

/** A readable-like call that emits `chunks` while not paused, then ends (or fails). */
class ScriptedCall extends EventEmitter {
  paused = false;
  cancelled = false;
  pauses = 0;
  private i = 0;
  private left: number;
  constructor(
    private readonly chunks: Buffer[],
    private readonly opts: { failAfter?: number; silentAfter?: number } = {},
  ) {
    super();
    this.left = chunks.reduce((n, c) => n + c.length, 0);
  }
  /** Begin emitting (after the consumer attached its listeners, as a gRPC call does). */
  start(): void {
    setImmediate(() => this.pump());
  }
  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    setImmediate(() => this.pump());
  }
  isPaused(): boolean {
    return this.paused;
  }
  cancel(): void {
    this.cancelled = true;
  }
  private pump(): void {
    while (!this.paused && !this.cancelled) {
      if (this.opts.silentAfter !== undefined && this.i >= this.opts.silentAfter) return;
      if (this.opts.failAfter !== undefined && this.i >= this.opts.failAfter) {
        this.emit('error', Object.assign(new Error('14 UNAVAILABLE: Connection dropped'), { code: 14 }));
        return;
      }
      if (this.i >= this.chunks.length) {
        this.emit('end');
        return;
      }
      const blob = this.chunks[this.i++];
      this.left -= blob.length;
      this.emit('data', { blob, remaining_bytes: String(Math.max(0, this.left - 32)) });
    }
  }
}

function snapshotBytes(size: number): Buffer {
  const db = Buffer.alloc(size);
  for (let i = 0; i < size; i++) db[i] = (i * 131) & 0xff;
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

function split(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

const base = { endpoint: 'http://m1:2379', firstMs: 2000, stallMs: 2000 };

describe('snapshot save: the stream consumer', () => {
  let dir: string;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'save-stream-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function run(call: ScriptedCall, extra: Partial<Parameters<typeof streamToFile>[2]> = {}, slowMs = 0): Promise<{ file: string; result?: Awaited<ReturnType<typeof streamToFile>>; error?: EtcdBackupError }> {
    const file = join(dir, `f${++n}`);
    const fh = await fs.open(file, 'wx', 0o600);
    const handle = slowMs
      ? ({ writev: async (b: Buffer[]) => (await new Promise((r) => setTimeout(r, slowMs)), fh.writev(b)) } as unknown as fs.FileHandle)
      : fh;
    try {
      const pending = streamToFile(call as unknown as SnapshotCall, handle, { ...base, ...extra });
      call.start();
      const result = await pending;
      return { file, result };
    } catch (err) {
      assert.ok(err instanceof EtcdBackupError, String(err));
      return { file, error: err };
    } finally {
      await fh.close();
    }
  }

  for (const sizes of [[32768], [32768, 7], [5, 31, 32, 33, 1000], [1, 2, 3]]) {
    it(`checks the trailer wherever messages split the bytes (${sizes.join(', ')})`, async () => {
      const bytes = snapshotBytes(100_000);
      const { file, result, error } = await run(new ScriptedCall(split(bytes, sizes)));
      assert.strictEqual(error, undefined);
      assert.ok(readFileSync(file).equals(bytes));
      assert.strictEqual(result?.size, bytes.length);
      assert.strictEqual(result?.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.strictEqual(result?.dbSha256, bytes.subarray(bytes.length - 32).toString('hex'));
    });
  }

  it('refuses a trailer that does not match (one flipped byte) and a stream without one', async () => {
    const bytes = Buffer.from(snapshotBytes(50_000));
    bytes[1234] ^= 0x01;
    const bad = await run(new ScriptedCall(split(bytes, [4096])));
    assert.strictEqual(bad.error?.kind, 'corrupt');
    assert.match(bad.error?.message ?? '', /failed its SHA-256 check .* nothing was saved/);
    const short = await run(new ScriptedCall([Buffer.alloc(20)]));
    assert.strictEqual(short.error?.kind, 'corrupt');
    assert.match(short.error?.message ?? '', /ended after 20 bytes without the SHA-256 trailer/);
  });

  it('pauses the stream while a slow disk catches up: what waits in memory stays bounded', async () => {
    const bytes = snapshotBytes(24 * 1024 * 1024);
    const call = new ScriptedCall(split(bytes, [32 * 1024]));
    let maxPending = 0;
    let received = 0;
    call.on('data', (m: { blob: Buffer }) => {
      received += m.blob.length;
    });
    const sizes: number[] = [];
    const file = join(dir, 'slow');
    const fh = await fs.open(file, 'wx', 0o600);
    let written = 0;
    const handle = {
      writev: async (b: Buffer[]) => {
        await new Promise((r) => setTimeout(r, 3));
        const res = await fh.writev(b);
        written += res.bytesWritten;
        sizes.push(res.bytesWritten);
        return res;
      },
    } as unknown as fs.FileHandle;
    const timer = setInterval(() => (maxPending = Math.max(maxPending, received - written)), 1);
    try {
      const pending = streamToFile(call as unknown as SnapshotCall, handle, base);
      call.start();
      const r = await pending;
      assert.strictEqual(r.size, bytes.length);
    } finally {
      clearInterval(timer);
      await fh.close();
    }
    assert.ok(call.pauses > 0, 'the stream was paused');
    assert.ok(maxPending <= 6 * 1024 * 1024, `at most ~5 MiB waited for the disk (saw ${maxPending})`);
    assert.ok(Math.max(...sizes) >= 1024 * 1024, 'writes are batched (1 MiB or more)');
    assert.ok(readFileSync(file).equals(bytes));
  });

  it('a tee gets every byte in order with the hash so far, and holds the stream while it asks to (a run\'s upload)', async () => {
    const bytes = snapshotBytes(2 * 1024 * 1024);
    const call = new ScriptedCall(split(bytes, [32 * 1024, 5]));
    const got: Buffer[] = [];
    let drain: () => void = () => undefined;
    let full = false;
    let hashOk = true;
    const tee = {
      onDrain: (fn: () => void) => (drain = fn),
      take(chunk: Buffer, hashHere: () => import('crypto').Hash): boolean {
        got.push(Buffer.from(chunk));
        const seen = Buffer.concat(got);
        if (got.length % 17 === 0) hashOk &&= hashHere().digest('hex') === createHash('sha256').update(seen).digest('hex');
        if (got.length % 10 !== 0) return true;
        // Every tenth chunk the tee is full: nothing more may come until it drains.
        full = true;
        setTimeout(() => {
          full = false;
          drain();
        }, 5);
        return false;
      },
    };
    const taking = tee.take.bind(tee);
    tee.take = (chunk, hashHere) => {
      assert.ok(!full, 'a chunk came while the tee asked for a pause');
      return taking(chunk, hashHere);
    };
    const { file, result } = await run(call, { tee });
    assert.ok(result, 'saved');
    assert.ok(Buffer.concat(got).equals(bytes), 'the tee got the file\'s bytes in order');
    assert.ok(readFileSync(file).equals(bytes));
    assert.ok(hashOk, 'hashHere is the hash of every byte so far');
    assert.ok(call.pauses >= 10, `paused ${call.pauses} times`);
  });

  it('cancel stops the call and rejects as cancelled', async () => {
    const ac = new AbortController();
    const call = new ScriptedCall(split(snapshotBytes(4 * 1024 * 1024), [32 * 1024]));
    call.once('data', () => ac.abort());
    const { error } = await run(call, { signal: ac.signal }, 2);
    assert.strictEqual(error?.kind, 'cancelled');
    assert.ok(call.cancelled, 'call.cancel() was called');
  });

  it('a stream that breaks after data says so; a silent one times out', async () => {
    const broken = await run(new ScriptedCall(split(snapshotBytes(500_000), [32 * 1024]), { failAfter: 5 }));
    assert.strictEqual(broken.error?.kind, 'unreachable');
    assert.match(broken.error?.message ?? '', /The snapshot stream from http:\/\/m1:2379 broke after 0\.2 MB/);
    const silent = new ScriptedCall(split(snapshotBytes(500_000), [32 * 1024]), { silentAfter: 3 });
    const stalled = await run(silent, { stallMs: 300 });
    assert.strictEqual(stalled.error?.kind, 'timeout');
    assert.match(stalled.error?.message ?? '', /The snapshot stream from http:\/\/m1:2379 stalled for 0\.3 s after 0\.1 MB: nothing was saved/);
    assert.ok(silent.cancelled);
    const never = new ScriptedCall([], { silentAfter: 0 });
    const first = await run(never, { firstMs: 200 });
    assert.strictEqual(first.error?.kind, 'timeout');
    assert.match(first.error?.message ?? '', /did not start sending the snapshot within 200 ms/);
  });
});
