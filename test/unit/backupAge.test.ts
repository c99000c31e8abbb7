/**
 * The age format over Node's crypto against Debian's `age` 1.1.1, the reference: what we write
 * `age -d` opens, what `age -r` writes we open, at every chunk boundary; a changed, cut-off or
 * extended file, a wrong key and a passphrase file are refused with a sentence.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import { EtcdBackupError } from '../../src/core/errors';
import {
  bech32Decode,
  bech32Encode,
  CHUNK_SIZE,
  createDecryptStream,
  createEncryptStream,
  generateIdentity,
  parseIdentities,
  parseRecipient,
  recipientFingerprint,
} from '../../src/core/backup/age';

const AGE = '/usr/bin/age';

async function through(t: NodeJS.ReadWriteStream, input: Buffer, pieces = 7): Promise<Buffer> {
  const parts: Buffer[] = [];
  const step = Math.max(1, Math.ceil(input.length / pieces));
  for (let i = 0; i < input.length; i += step) parts.push(input.subarray(i, i + step));
  const out: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    t.on('data', (c: Buffer) => out.push(c));
    t.on('end', resolve);
    t.on('error', reject);
  });
  Readable.from(parts.length ? parts : []).pipe(t as unknown as NodeJS.WritableStream);
  await done;
  return Buffer.concat(out);
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => err instanceof EtcdBackupError && re.test(err.message));
}

describe('age format (against Debian age)', function () {
  this.timeout(60_000);
  let dir: string;
  let keyFile: string;
  before(function () {
    if (!existsSync(AGE)) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'age-'));
    keyFile = join(dir, 'key.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 12345];

  it('our identity parsing matches age-keygen -y, and bech32 round-trips', () => {
    const ids = parseIdentities(readFileSync(keyFile, 'utf8'));
    assert.strictEqual(ids[0].recipient.text, execFileSync('age-keygen', ['-y', keyFile]).toString().trim());
    const data = randomBytes(32);
    const text = bech32Encode('age', data);
    assert.ok(bech32Decode(text)?.data.equals(data));
    assert.strictEqual(bech32Decode(`${text.slice(0, -1)}${text.endsWith('q') ? 'p' : 'q'}`), undefined, 'a changed checksum is refused');
    assert.strictEqual(recipientFingerprint(ids[0].recipient).length, 16);
  });

  for (const size of sizes) {
    it(`${size} bytes: age -d opens ours, we open age -r's`, async () => {
      const plain = randomBytes(size);
      const ids = parseIdentities(readFileSync(keyFile, 'utf8'));
      const other = generateIdentity();
      const ours = await through(createEncryptStream([other.identity.recipient, ids[0].recipient]), plain);
      writeFileSync(join(dir, 'ours.age'), ours);
      assert.ok(execFileSync(AGE, ['-d', '-i', keyFile, join(dir, 'ours.age')], { maxBuffer: 64 << 20 }).equals(plain));
      writeFileSync(join(dir, 'plain'), plain);
      execFileSync(AGE, ['-r', ids[0].recipient.text, '-o', join(dir, 'theirs.age'), join(dir, 'plain')]);
      const back = await through(createDecryptStream(ids), readFileSync(join(dir, 'theirs.age')), 3);
      assert.ok(back.equals(plain));
      // The second identity (the first stanza) opens ours too.
      assert.ok((await through(createDecryptStream([other.identity]), ours)).equals(plain));
    });
  }

  it('refuses a changed byte, a cut-off file, extra bytes, a wrong key, armor and passphrases', async () => {
    const ids = parseIdentities(readFileSync(keyFile, 'utf8'));
    const plain = randomBytes(3 * CHUNK_SIZE);
    const file = await through(createEncryptStream([ids[0].recipient]), plain);
    const flipped = Buffer.from(file);
    flipped[file.length - 100] ^= 1;
    await rejects(through(createDecryptStream(ids), flipped), /damaged or was changed \(chunk 2 fails its authentication tag\)/);
    await rejects(through(createDecryptStream(ids), file.subarray(0, file.length - CHUNK_SIZE - 16)), /damaged or was changed/);
    await rejects(through(createDecryptStream(ids), Buffer.concat([file, Buffer.from('x')])), /damaged or was changed/);
    const header = Buffer.from(file);
    const macAt = header.indexOf('\n--- ') + 6;
    header[macAt] = header[macAt] === 0x41 ? 0x42 : 0x41;
    await rejects(through(createDecryptStream(ids), header), /header MAC|not canonical/);
    await rejects(
      through(createDecryptStream([generateIdentity().identity]), file),
      /None of the given age identities can open this backup/,
    );
    const armored = execFileSync(AGE, ['-a', '-r', ids[0].recipient.text], { input: 'x' });
    await rejects(through(createDecryptStream(ids), armored), /ASCII-armored/);
    const fake = Buffer.from('age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\nAAAA\n--- ' +
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n');
    await rejects(through(createDecryptStream(ids), Buffer.concat([fake, randomBytes(40)])), /passphrase/);
  });

  it('refuses a private key or garbage as a recipient, with a sentence', () => {
    const secret = readFileSync(keyFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-')) as string;
    assert.throws(() => parseRecipient(secret), /That is a private key/);
    assert.throws(() => parseRecipient('age1xyz'), /is not an age recipient/);
    assert.throws(() => parseIdentities('# nothing\n'), /holds no age identity/);
    assert.throws(() => parseIdentities('age1abc\n', 'k.txt'), /Line 1 of k\.txt is not an age X25519 identity/);
  });
});
