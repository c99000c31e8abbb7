/**
 * The age file format (age-encryption.org/v1, https://c2sp.org/age) over Node's own crypto:
 * X25519 recipients, HKDF-SHA-256, ChaCha20-Poly1305 in age's STREAM construction (64 KiB
 * chunks, an 11-byte big-endian counter and a last-chunk flag as the nonce), and the header MAC.
 * Files written here open with the standard tool (`age -d -i key.txt`); files the standard
 * tool wrote (`age -r age1...`) open here. Only the binary format and X25519 recipients are
 * handled (no armor, no passphrase/scrypt, no plugins): a file that needs them is refused with
 * a sentence.
 *
 * API (streams, so nothing is held whole in memory):
 * - `parseRecipient('age1...')`, `parseIdentities(text)` (an `age-keygen` key file),
 *   `generateIdentity()`, `recipientFingerprint(recipient)`;
 * - `createEncryptStream(recipients)`: a Transform from plaintext to an age file;
 * - `createDecryptStream(identities)`: a Transform from an age file to plaintext; it fails
 *   (EtcdBackupError 'corrupt' or 'auth') on a changed, cut-off or foreign file, and never
 *   passes on a chunk before its tag was checked.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'crypto';
import { Transform, TransformCallback } from 'stream';
import { EtcdBackupError } from '../errors';

export const AGE_VERSION_LINE = 'age-encryption.org/v1';
/** Plaintext bytes per STREAM chunk. */
export const CHUNK_SIZE = 64 * 1024;
const TAG = 16;
const NONCE_SIZE = 16;
/** Largest header read before the file is refused (age's own headers are a few hundred bytes). */
const MAX_HEADER = 64 * 1024;
const X25519_INFO = 'age-encryption.org/v1/X25519';

// ---------------------------------------------------------------------------------------------
// Bech32 (BIP 173, without the 90-character limit, as age uses it).

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i];
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >>> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data: Uint8Array | number[], from: number, to: number, pad: boolean): number[] | undefined {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (const value of data) {
    acc = (acc << from) | value;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & maxv);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || (acc << (to - bits)) & maxv) {
    return undefined;
  }
  return out;
}

/** Bech32-encode `data` under `hrp` (lowercase). */
export function bech32Encode(hrp: string, data: Uint8Array): string {
  const words = convertBits(data, 8, 5, true) as number[];
  const values = [...hrpExpand(hrp), ...words];
  const mod = polymod([...values, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

/** Decode a Bech32 string (all lower or all upper case); undefined when it is not valid. */
export function bech32Decode(text: string): { hrp: string; data: Buffer } | undefined {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return undefined;
  const s = text.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (sep < 1 || sep + 7 > s.length) return undefined;
  const hrp = s.slice(0, sep);
  const words: number[] = [];
  for (const c of s.slice(sep + 1)) {
    const w = CHARSET.indexOf(c);
    if (w < 0) return undefined;
    words.push(w);
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== 1) return undefined;
  const bytes = convertBits(words.slice(0, -6), 5, 8, false);
  return bytes ? { hrp, data: Buffer.from(bytes) } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Keys.

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

function privateKeyOf(scalar: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: 'der', type: 'pkcs8' });
}

function publicKeyOf(point: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, point]), format: 'der', type: 'spki' });
}

function rawPublic(key: KeyObject): Buffer {
  return (createPublicKey(key).export({ format: 'der', type: 'spki' }) as Buffer).subarray(SPKI_X25519.length);
}

/** An X25519 recipient: the `age1...` string and its 32-byte point. */
export interface AgeRecipient {
  text: string;
  publicKey: Buffer;
}

/** An X25519 identity: the `AGE-SECRET-KEY-1...` key and the recipient it decrypts for. */
export interface AgeIdentity {
  privateKey: KeyObject;
  recipient: AgeRecipient;
}

/** Parse an `age1...` recipient; throws EtcdBackupError 'invalidInput' with a sentence. */
export function parseRecipient(text: string): AgeRecipient {
  const t = text.trim();
  const d = bech32Decode(t);
  if (!d || d.hrp !== 'age' || d.data.length !== 32 || t !== t.toLowerCase()) {
    const hint = /^AGE-SECRET-KEY-/i.test(t)
      ? ' That is a private key: put only its public key (age-keygen -y key.txt prints it) in the plan, and keep the private key off the ' +
        'node.'
      : ' Expected an X25519 public key as age-keygen prints it ("age1" and 58 more characters).';
    throw new EtcdBackupError('invalidInput', `"${t.length > 24 ? `${t.slice(0, 24)}...` : t}" is not an age recipient.${hint}`);
  }
  return { text: t, publicKey: d.data };
}

/** The recipient's fingerprint recorded in backup metadata: SHA-256 of the `age1...` text, 16 hex digits. */
export function recipientFingerprint(recipient: AgeRecipient | string): string {
  const text = typeof recipient === 'string' ? recipient : recipient.text;
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function identityFromScalar(scalar: Buffer): AgeIdentity {
  const privateKey = privateKeyOf(scalar);
  const publicKey = rawPublic(privateKey);
  return { privateKey, recipient: { text: bech32Encode('age', publicKey), publicKey } };
}

/**
 * Parse an identity file as `age-keygen` writes it: `#` comments, blank lines, and one
 * `AGE-SECRET-KEY-1...` per line. Throws a sentence naming the line that is not a key.
 */
export function parseIdentities(text: string, source = 'the identity file'): AgeIdentity[] {
  const out: AgeIdentity[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const d = bech32Decode(line);
    if (!d || d.hrp !== 'age-secret-key-' || d.data.length !== 32 || line !== line.toUpperCase()) {
      throw new EtcdBackupError(
        'invalidInput',
        `Line ${i + 1} of ${source} is not an age X25519 identity (AGE-SECRET-KEY-1...): give ` + `the key file age-keygen wrote.`,
      );
    }
    out.push(identityFromScalar(d.data));
  }
  if (!out.length) {
    throw new EtcdBackupError(
      'invalidInput',
      `${source} holds no age identity (no AGE-SECRET-KEY-1... line): give the key file ` + `age-keygen wrote.`,
    );
  }
  return out;
}

/** A new identity, with the key file text `age-keygen` would write for it. */
export function generateIdentity(now = new Date()): { identity: AgeIdentity; keyFile: string } {
  const scalar = randomBytes(32);
  const identity = identityFromScalar(scalar);
  const secret = bech32Encode('age-secret-key-', scalar).toUpperCase();
  return {
    identity,
    keyFile: `# created: ${now.toISOString().replace(/\.\d+Z$/, 'Z')}\n# public key: ` + `${identity.recipient.text}\n${secret}\n`,
  };
}

// ---------------------------------------------------------------------------------------------
// Primitives.

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

/** The ciphertext and its tag, as two buffers (no copy to join them). */
function sealParts(key: Buffer, nonce: Buffer, plain: Buffer): [Buffer, Buffer] {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  const head = c.update(plain);
  c.final();
  return [head, c.getAuthTag()];
}

function seal(key: Buffer, nonce: Buffer, plain: Buffer): Buffer {
  return Buffer.concat(sealParts(key, nonce, plain));
}

/** Undefined when the tag does not match. */
function open(key: Buffer, nonce: Buffer, sealed: Buffer): Buffer | undefined {
  if (sealed.length < TAG) return undefined;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const plain = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
  } catch {
    return undefined;
  }
  return plain;
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

/** Strict unpadded, canonical base64; undefined otherwise. */
function unb64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return undefined;
  const buf = Buffer.from(text, 'base64');
  return b64(buf) === text ? buf : undefined;
}

function streamNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  // 11-byte big-endian counter: 2^48 chunks (16 EiB) is far beyond any file here.
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Header.

function wrapFor(recipient: AgeRecipient, fileKey: Buffer): string {
  const ephemeral = randomBytes(32);
  const ePriv = privateKeyOf(ephemeral);
  const share = rawPublic(ePriv);
  const secret = diffieHellman({ privateKey: ePriv, publicKey: publicKeyOf(recipient.publicKey) });
  if (secret.every((b) => b === 0)) {
    throw new EtcdBackupError('invalidInput', `The age recipient ${recipient.text} is a low-order point: it cannot receive files.`);
  }
  const key = hkdf(secret, Buffer.concat([share, recipient.publicKey]), X25519_INFO);
  const body = b64(seal(key, Buffer.alloc(12), fileKey));
  const lines: string[] = [];
  for (let i = 0; i <= body.length; i += 64) lines.push(body.slice(i, i + 64));
  return `-> X25519 ${b64(share)}\n${lines.join('\n')}\n`;
}

/** The header (up to and including the MAC line) for a new file key. */
export function buildHeader(recipients: AgeRecipient[], fileKey: Buffer): Buffer {
  if (!recipients.length) {
    throw new EtcdBackupError('invalidInput', 'No age recipient: give at least one public key (age1...) to encrypt to.');
  }
  const head = `${AGE_VERSION_LINE}\n${recipients.map((r) => wrapFor(r, fileKey)).join('')}---`;
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
    .update(head)
    .digest();
  return Buffer.from(`${head} ${b64(mac)}\n`);
}

interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

function corrupt(detail: string): EtcdBackupError {
  return new EtcdBackupError(
    'corrupt',
    `The encrypted backup is damaged or was changed (${detail}): it cannot be trusted. Fetch another ` + `backup.`,
  );
}

/** Parse a complete header; `macInput` is everything up to and including `---`. */
function parseHeader(text: string): { stanzas: Stanza[]; mac: Buffer; macInput: string } {
  const lines = text.split('\n');
  if (lines[0] !== AGE_VERSION_LINE) throw corrupt('not an age-encryption.org/v1 header');
  const stanzas: Stanza[] = [];
  let i = 1;
  for (; i < lines.length && lines[i].startsWith('-> ');) {
    const args = lines[i].slice(3).split(' ');
    if (args.some((a) => !a)) throw corrupt('malformed stanza line');
    const bodyLines: string[] = [];
    for (i++; ; i++) {
      if (i >= lines.length) throw corrupt('the header ends inside a stanza');
      bodyLines.push(lines[i]);
      if (lines[i].length > 64) throw corrupt('a stanza line is too long');
      if (lines[i].length < 64) break;
    }
    i++;
    const body = unb64(bodyLines.join(''));
    if (!body) throw corrupt('a stanza body is not canonical base64');
    stanzas.push({ type: args[0], args: args.slice(1), body });
  }
  const last = lines[i] ?? '';
  const m = /^--- ([A-Za-z0-9+/]{43})$/.exec(last);
  const mac = m ? unb64(m[1]) : undefined;
  if (!mac || mac.length !== 32) throw corrupt('the header MAC line is malformed');
  if (!stanzas.length) throw corrupt('the header has no recipient stanza');
  const macInput = `${lines.slice(0, i).join('\n')}\n---`;
  return { stanzas, mac, macInput };
}

function unwrap(stanzas: Stanza[], identities: AgeIdentity[]): Buffer {
  const types = new Set(stanzas.map((s) => s.type));
  if (types.has('scrypt')) {
    throw new EtcdBackupError(
      'invalidInput',
      'This age file is protected by a passphrase (scrypt), not by a key: decrypt it with `age ' + '-d` and a passphrase.',
    );
  }
  for (const s of stanzas) {
    if (s.type !== 'X25519') continue;
    const share = s.args.length === 1 ? unb64(s.args[0]) : undefined;
    if (!share || share.length !== 32 || s.body.length !== 32) throw corrupt('malformed X25519 stanza');
    for (const id of identities) {
      const secret = diffieHellman({ privateKey: id.privateKey, publicKey: publicKeyOf(share) });
      if (secret.every((b) => b === 0)) throw corrupt('an X25519 share is a low-order point');
      const key = hkdf(secret, Buffer.concat([share, id.recipient.publicKey]), X25519_INFO);
      const fileKey = open(key, Buffer.alloc(12), s.body);
      if (fileKey) return fileKey;
    }
  }
  const mine = identities.map((i) => i.recipient.text).join(', ');
  throw new EtcdBackupError(
    'auth',
    `None of the given age identities can open this backup (they are for ${mine}; the backup's metadata ` +
      `lists its recipients' fingerprints). Give the key that belongs to one of the plan's recipients.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Streams.

/** Collects incoming buffers and hands out exact-size slices without copying more than needed. */
class ByteQueue {
  private bufs: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) {
      this.bufs.push(b);
      this.length += b.length;
    }
  }
  take(n: number): Buffer {
    if (this.bufs.length && this.bufs[0].length >= n) {
      const head = this.bufs[0];
      const out = head.subarray(0, n);
      if (head.length === n) this.bufs.shift();
      else this.bufs[0] = head.subarray(n);
      this.length -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const head = this.bufs[0];
      const k = Math.min(head.length, n - off);
      head.copy(out, off, 0, k);
      off += k;
      if (k === head.length) this.bufs.shift();
      else this.bufs[0] = head.subarray(k);
    }
    this.length -= n;
    return out;
  }
  peekAll(): Buffer {
    return this.bufs.length === 1 ? this.bufs[0] : Buffer.concat(this.bufs);
  }
}

/** A Transform that turns plaintext into an age file for `recipients`. */
export function createEncryptStream(recipients: AgeRecipient[]): Transform {
  const fileKey = randomBytes(16);
  const header = buildHeader(recipients, fileKey);
  const nonce = randomBytes(NONCE_SIZE);
  const key = hkdf(fileKey, nonce, 'payload');
  const queue = new ByteQueue();
  let counter = 0;
  let started = false;
  const start = (t: Transform): void => {
    if (!started) {
      started = true;
      t.push(Buffer.concat([header, nonce]));
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      start(this);
      queue.push(chunk);
      // A full chunk goes out only when more data follows it (the last one carries the flag).
      while (queue.length > CHUNK_SIZE) {
        for (const part of sealParts(key, streamNonce(counter++, false), queue.take(CHUNK_SIZE))) this.push(part);
      }
      cb();
    },
    flush(cb: TransformCallback): void {
      start(this);
      for (const part of sealParts(key, streamNonce(counter++, true), queue.take(queue.length))) this.push(part);
      cb();
    },
  });
}

/** A Transform that turns an age file into its plaintext, checking every tag and the header MAC. */
export function createDecryptStream(identities: AgeIdentity[]): Transform {
  const queue = new ByteQueue();
  let key: Buffer | undefined;
  let counter = 0;
  let sawLast = false;
  const readHeader = (): boolean => {
    const all = queue.peekAll();
    if (all.length >= 5 && all.subarray(0, 5).toString() === '-----') {
      throw new EtcdBackupError(
        'invalidInput',
        'This is an ASCII-armored age file: decrypt it with `age -d`, or store backups in the ' + 'binary format.',
      );
    }
    const end = all.indexOf('\n--- ');
    if (end < 0) {
      if (all.length > MAX_HEADER) throw corrupt('no age header in the first 64 KiB');
      return false;
    }
    const nl = all.indexOf('\n', end + 5);
    if (nl < 0) return false;
    if (nl + 1 + NONCE_SIZE > all.length) return false;
    const { stanzas, mac, macInput } = parseHeader(all.subarray(0, nl).toString('latin1'));
    const fileKey = unwrap(stanzas, identities);
    const want = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
      .update(Buffer.from(macInput, 'latin1'))
      .digest();
    if (!timingSafeEqual(want, mac)) throw corrupt('the header MAC does not match');
    queue.take(nl + 1);
    key = hkdf(fileKey, queue.take(NONCE_SIZE), 'payload');
    return true;
  };
  const openChunk = (sealed: Buffer, last: boolean): Buffer => {
    const plain = open(key as Buffer, streamNonce(counter, last), sealed);
    if (!plain) throw corrupt(`chunk ${counter} fails its authentication tag`);
    if (last && plain.length === 0 && counter > 0) throw corrupt('an empty last chunk');
    counter++;
    return plain;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      try {
        if (sawLast) throw corrupt('data after the last chunk');
        queue.push(chunk);
        if (!key && !readHeader()) return cb();
        while (queue.length > CHUNK_SIZE + TAG) {
          this.push(openChunk(queue.take(CHUNK_SIZE + TAG), false));
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb: TransformCallback): void {
      try {
        if (!key && !readHeader()) throw corrupt('the file ends inside its header');
        if (queue.length < TAG) throw corrupt('the file is cut off');
        this.push(openChunk(queue.take(queue.length), true));
        sawLast = true;
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
