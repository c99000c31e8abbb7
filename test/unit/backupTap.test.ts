import { strict as assert } from 'assert';
import { createHash, randomBytes } from 'crypto';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { tap, TapDigest } from '../../src/core/backup/run';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Pass `data` through a tap in chunks of the given sizes (cycled). */
async function through(data: Buffer, sizes: number[]): Promise<{ digest: TapDigest; ended?: TapDigest; out: Buffer }> {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    chunks.push(data.subarray(at, at + sizes[i % sizes.length]));
    at += sizes[i % sizes.length];
  }
  let ended: TapDigest | undefined;
  const t = tap((d) => (ended = d));
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), t.stream, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return { digest: t.digest(), ended, out: Buffer.concat(out) };
}

describe('backup run: the read-back tap (one pass gives the file hash and the trailer check)', () => {
  // A snapshot file's shape: a database image followed by the SHA-256 of it.
  const db = randomBytes(100_000);
  const file = Buffer.concat([db, createHash('sha256').update(db).digest()]);

  for (const sizes of [[1], [7, 31], [32], [33, 1], [4096], [65536, 3], [file.length]]) {
    it(`chunks of ${sizes.join(', ')} bytes: size, SHA-256, head hash and tail equal a direct computation`, async () => {
      const r = await through(file, sizes);
      assert.ok(r.out.equals(file), 'passes the bytes through unchanged');
      assert.strictEqual(r.digest.size, file.length);
      assert.strictEqual(r.digest.sha256, sha(file));
      assert.strictEqual(r.digest.headSha256, sha(db));
      assert.strictEqual(r.digest.tail, file.subarray(-32).toString('hex'));
      assert.strictEqual(r.digest.tail, r.digest.headSha256, 'a sound snapshot: the tail is the hash of the rest');
      assert.deepStrictEqual(r.ended, r.digest, 'the end callback gets the same digest');
    });
  }

  it('a changed byte anywhere makes the tail differ from the head hash', async () => {
    for (const at of [0, 50_000, db.length - 1, file.length - 1]) {
      const bad = Buffer.from(file);
      bad[at] ^= 1;
      const r = await through(bad, [4093]);
      assert.notStrictEqual(r.digest.tail, r.digest.headSha256, `byte ${at}`);
    }
  });

  it('inputs shorter than a trailer, and empty ones', async () => {
    for (const n of [0, 1, 31, 32]) {
      const b = randomBytes(n);
      const r = await through(b, [5]);
      assert.strictEqual(r.digest.sha256, sha(b));
      assert.strictEqual(r.digest.headSha256, sha(Buffer.alloc(0)));
      assert.strictEqual(r.digest.tail, b.toString('hex'));
    }
  });
});
