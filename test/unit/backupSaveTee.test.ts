/**
 * The run's tee: the save's bytes handed to the upload as they arrive, in lent 1 MiB blocks the
 * parallel gzip gives back; a slow upload pauses the save, a stuck one (no drain within
 * DRAIN_MS) gets the rest from the file, hashed on from the save's own hash; an abandoned save
 * attempt ends it with SaveRestarted.
 */
import { strict as assert } from 'assert';
import { createHash, Hash, randomBytes } from 'crypto';
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { gunzipSync } from 'zlib';
import { createParallelGzip } from '../../src/core/backup/parallelGzip';
import { DRAIN_MS, PAUSE_GRACE_MS, SaveRestarted, SaveTee } from '../../src/core/backup/saveTee';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

/** A fake save: hashes and appends each chunk to `file`, then offers it to the tee, as the stream writer does. */
class FakeSave {
  private readonly h: Hash = createHash('sha256');
  paused = false;
  resumed = 0;
  constructor(
    readonly tee: SaveTee,
    readonly file: string,
  ) {
    writeFileSync(file, '');
    tee.onDrain(() => {
      this.paused = false;
      this.resumed++;
    });
  }
  offer(chunk: Buffer): boolean {
    this.h.update(chunk);
    appendFileSync(this.file, chunk);
    const ok = this.tee.take(chunk, () => this.h.copy());
    if (!ok) this.paused = true;
    return ok;
  }
}

const sink = (into: Buffer[]): Writable => new Writable({ write: (c: Buffer, _e, cb) => (into.push(Buffer.from(c)), cb()) });

describe('backup run: the save tee (the upload takes the bytes as they arrive)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tee-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hands every byte on through the parallel gzip in order, from memory only, with its blocks given back and used again', async () => {
    const data = randomBytes(30 * MiB + 12345);
    const file = join(dir, 'a.part');
    const tee = new SaveTee(() => file, { cap: 2 * MiB });
    const save = new FakeSave(tee, file);
    const out: Buffer[] = [];
    const done = pipeline(tee.stream, createParallelGzip({ level: 1, concurrency: 2 }), sink(out));
    for (let at = 0; at < data.length; at += 32 * 1024 + 7) {
      if (!save.offer(data.subarray(at, at + 32 * 1024 + 7))) while (save.paused) await new Promise((r) => setTimeout(r, 2));
    }
    tee.finish({ size: data.length, file });
    await done;
    assert.ok(gunzipSync(Buffer.concat(out)).equals(data), 'the gzip of the stream is the data');
    assert.deepStrictEqual(tee.result(), { size: data.length, fromFile: 0 }, 'no file read, so no hash of its own');
    // 30 blocks passed with the cap's 2, the gzip's 2 and the stream's 1 at most in hand: the tee allocated only those.
    const allocated = (tee as unknown as { free: Buffer[] }).free.length;
    assert.ok(allocated >= 1 && allocated <= 10, `blocks in the pool at the end: ${allocated} (30 passed)`);
  });

  it('pauses the save while the upload is behind by the cap, and resumes it once half is taken', async () => {
    const file = join(dir, 'b.part');
    const tee = new SaveTee(() => file, { cap: 2 * MiB });
    const save = new FakeSave(tee, file);
    const chunk = randomBytes(256 * 1024);
    let offered = 0;
    while (save.offer(chunk)) offered++;
    assert.ok(save.paused && offered >= 8, `paused after ${offered} chunks`);
    const got: Buffer[] = [];
    tee.stream.on('data', (c: Buffer) => got.push(c));
    await new Promise((r) => setTimeout(r, 50));
    assert.strictEqual(save.resumed, 1, 'resumed once the upload took its share');
    assert.ok(!save.paused);
    tee.fail(new Error('done'));
  });

  it('lets go of a stuck upload after DRAIN_MS: the save goes on, the rest comes from the file with a hash that proves it', async function () {
    this.timeout(10_000);
    const data = randomBytes(5 * MiB + 99);
    const file = join(dir, 'c.part');
    const tee = new SaveTee(() => file, { cap: 1 * MiB });
    const save = new FakeSave(tee, file);
    let at = 0;
    const step = 100_000;
    while (at < data.length && save.offer(data.subarray(at, at + step))) at += step;
    at += step;
    assert.ok(save.paused, 'the save was asked to pause');
    const t0 = Date.now();
    while (save.paused) await new Promise((r) => setTimeout(r, 20));
    const waited = Date.now() - t0;
    assert.ok(waited >= DRAIN_MS - 50, `released after ${waited} ms: not before the drain time`);
    // The save goes on at its own pace; the tee takes nothing more into memory.
    for (; at < data.length; at += step) assert.ok(save.offer(data.subarray(at, at + step)), 'never asks for a pause again');
    tee.finish({ size: data.length, file });
    const out: Buffer[] = [];
    await pipeline(tee.stream, sink(out));
    assert.ok(Buffer.concat(out).equals(data));
    const r = tee.result();
    assert.ok(r && r.fromFile > 0 && r.fromFile < data.length, JSON.stringify(r));
    assert.strictEqual(r?.sha256, sha(data), 'the hash continues the save’s over the file’s bytes');
  });

  it('an upload that keeps draining, but slower than the save: let go once the save was paused longer than it streamed (+ grace)', async function () {
    this.timeout(20_000);
    const data = randomBytes(40 * MiB);
    const file = join(dir, 'slow.part');
    let letGoAt: number | undefined;
    const tee = new SaveTee(() => file, { cap: 512 * 1024, onLetGo: (at) => (letGoAt = at) });
    const save = new FakeSave(tee, file);
    // The upload takes a block every 150 ms: it always drains within DRAIN_MS, but at 7 MiB/s.
    const out: Buffer[] = [];
    const slow = new Writable({ highWaterMark: 1, write: (c: Buffer, _e, cb) => (out.push(Buffer.from(c)), setTimeout(cb, letGoAt === undefined ? 150 : 0)) });
    const done = pipeline(tee.stream, slow);
    const t0 = Date.now();
    let paused = 0;
    let at = 0;
    while (at < data.length && letGoAt === undefined) {
      const ok = save.offer(data.subarray(at, at + 65536));
      at += 65536;
      if (!ok) {
        const p0 = Date.now();
        while (save.paused) await new Promise((r) => setTimeout(r, 5));
        paused += Date.now() - p0;
      }
    }
    const elapsed = Date.now() - t0;
    assert.ok(letGoAt !== undefined, 'the tee let go of the stream');
    assert.ok(paused >= PAUSE_GRACE_MS - 200 && paused <= elapsed - paused + PAUSE_GRACE_MS + 400, `paused ${paused} of ${elapsed} ms`);
    // From here the save goes on at its own pace.
    for (; at < data.length; at += 65536) assert.ok(save.offer(data.subarray(at, at + 65536)));
    tee.finish({ size: data.length, file });
    await done;
    assert.ok(Buffer.concat(out).equals(data));
    assert.strictEqual(tee.result()?.sha256, sha(data));
  });

  it('a file that differs from what the save received shows in the hash', async function () {
    this.timeout(10_000);
    const data = randomBytes(3 * MiB);
    const file = join(dir, 'd.part');
    const tee = new SaveTee(() => file, { cap: 512 * 1024 });
    const save = new FakeSave(tee, file);
    let at = 0;
    while (save.offer(data.subarray(at, at + 65536))) at += 65536;
    at += 65536;
    while (save.paused) await new Promise((r) => setTimeout(r, 20));
    for (; at < data.length; at += 65536) save.offer(data.subarray(at, at + 65536));
    // A byte of the file changes on disk after the save wrote it.
    const bad = Buffer.from(data);
    bad[data.length - 10] ^= 0xff;
    writeFileSync(file, bad);
    tee.finish({ size: data.length, file });
    await pipeline(tee.stream, sink([]));
    assert.notStrictEqual(tee.result()?.sha256, sha(data));
  });

  it('an abandoned save attempt ends the upload with SaveRestarted', async () => {
    const file = join(dir, 'e.part');
    const tee = new SaveTee(() => file);
    const save = new FakeSave(tee, file);
    save.offer(randomBytes(3 * MiB));
    const out = pipeline(tee.stream, createParallelGzip({ level: 1 }), sink([]));
    tee.fail(new SaveRestarted('the save attempt was abandoned'));
    await assert.rejects(out, SaveRestarted);
    assert.ok(tee.abandoned);
  });

  it('reading the file after letting go: the attempt’s file removed means SaveRestarted, not a wait forever', async function () {
    this.timeout(10_000);
    const file = join(dir, 'f.part');
    const tee = new SaveTee(() => file, { cap: 256 * 1024 });
    const save = new FakeSave(tee, file);
    while (save.offer(randomBytes(65536)));
    while (save.paused) await new Promise((r) => setTimeout(r, 20));
    unlinkSync(file);
    await assert.rejects(pipeline(tee.stream, sink([])), SaveRestarted);
  });

  it('a save that never comes to the upload (no store) can fail the tee without an unhandled error', async () => {
    const file = join(dir, 'g.part');
    const tee = new SaveTee(() => file);
    new FakeSave(tee, file).offer(randomBytes(1000));
    tee.fail(new Error('the store did not open'));
    await new Promise((r) => setImmediate(r));
    assert.ok(tee.stream.destroyed);
  });
});
