import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { gunzipSync } from 'zlib';
import { createParallelGzip } from '../../src/core/backup/parallelGzip';

/** Feed `data` in chunks of the given sizes (cycled) through a parallel gzip; the output bytes. */
async function compress(data: Buffer, chunkSizes: number[], blockSize: number, concurrency: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = chunkSizes[i % chunkSizes.length];
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    createParallelGzip({ level: 1, blockSize, concurrency }),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('parallel gzip (concatenated members, in order)', () => {
  const mixed = Buffer.concat([randomBytes(300_000), Buffer.alloc(400_000, 'etcd '), randomBytes(123_457)]);
  const cases: [string, Buffer][] = [
    ['empty input', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['exactly one block', randomBytes(65_536)],
    ['one block and one byte', randomBytes(65_537)],
    ['mixed random and repetitive data over many blocks', mixed],
  ];
  for (const [name, data] of cases) {
    it(`${name}: gunzip (Node and the system's gunzip) gives the input back`, async () => {
      const gz = await compress(data, [1, 7_000, 65_536, 100_003], 65_536, 3);
      assert.ok(gunzipSync(gz).equals(data), 'Node gunzip');
      const viaGunzip = execFileSync('gunzip', ['-c'], { input: gz, maxBuffer: 64 * 1024 * 1024 });
      assert.ok(viaGunzip.equals(data), 'gunzip -c');
      execFileSync('gzip', ['-t'], { input: gz }); // gzip's own integrity test
    });
  }

  it('keeps input order when later blocks finish first (repetitive blocks compress faster than random ones)', async () => {
    const blocks = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? randomBytes(200_000) : Buffer.alloc(200_000, i)));
    const data = Buffer.concat(blocks);
    const gz = await compress(data, [200_000], 200_000, 4);
    assert.ok(gunzipSync(gz).equals(data));
  });

  it('fails the pipeline when the source fails, and writes nothing more', async () => {
    const src = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    await assert.rejects(pipeline(src, createParallelGzip({ level: 1 }), new Writable({ write: (_c, _e, cb) => cb() })), /disk gone/);
  });
});
