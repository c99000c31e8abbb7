/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Go's
 * `crc32.New(crc32.MakeTable(crc32.Castagnoli))` computes it: pure JS, slicing-by-16 over
 * aligned 32-bit words.
 *
 * `crc32cUpdate(crc, buf, start, end, words)` continues a running CRC over `buf[start, end)`;
 * start with 0 and the result is the final value (the pre- and post-inversion are inside), so
 * update(update(0, a), b) === update(0, a ++ b). `words` is an Int32Array over buf's whole
 * ArrayBuffer from byte 0 (see bbolt.ts `wordsOf`); pass it in hot loops so that no view is
 * allocated per call.
 */

const POLY = 0x82f63b78;

/** A hardware CRC-32C (SSE 4.2 / ARMv8 CRC instructions), continuing `initial` as crc32cUpdate does. */
export type NativeCrc32c = (input: Uint8Array, initial?: number) => number;

/**
 * Where the native CRC-32C of `@node-rs/crc32` (an optional dependency) is: the binding the
 * build copies beside the bundle (dist/native/), else the package from node_modules. Undefined
 * when neither loads (another platform, a musl system, ETCD_BACKUP_NATIVE_CRC=0): the plain
 * JavaScript below then does the work, with the same results.
 */
export function nativeCrc32cPath(): string | undefined {
  if (process.env.ETCD_BACKUP_NATIVE_CRC === '0') return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { existsSync } = require('fs') as typeof import('fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { join } = require('path') as typeof import('path');
  const bundled = join(__dirname, 'native', `crc32.${process.platform}-${process.arch}-gnu.node`);
  if (existsSync(bundled)) return bundled;
  try {
    return require.resolve('@node-rs/crc32');
  } catch {
    return undefined;
  }
}

function loadNative(): NativeCrc32c | undefined {
  const where = nativeCrc32cPath();
  if (!where) return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const f = (require(where) as { crc32c?: NativeCrc32c }).crc32c;
    // Trust it only when it gives the check value of the CRC-32C catalogue.
    return typeof f === 'function' && f(Buffer.from('123456789')) === 0xe3069283 ? f : undefined;
  } catch {
    return undefined;
  }
}

const NATIVE = loadNative();
/** Runs shorter than this stay in JavaScript (a native call costs more than hashing a few bytes). */
const NATIVE_MIN = 256;

/** Whether the hardware CRC-32C is in use (for reports and benchmarks). */
export function usesNativeCrc32c(): boolean {
  return NATIVE !== undefined;
}
/** Word reads assume a little-endian host (x86, arm64); elsewhere the byte loop does it all. */
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** 16 tables of 256 entries, table k at [k * 256, k * 256 + 256). */
const T = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  }
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n];
  for (let k = 1; k < 16; k++) {
    c = T[c & 0xff] ^ (c >>> 8);
    T[k * 256 + n] = c;
  }
}

/** Continue the CRC-32C `crc` (0 for a new one) over `buf[start, end)`. Returns an unsigned 32-bit value. */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end = buf.length, words?: Int32Array): number {
  if (NATIVE && end - start >= NATIVE_MIN) {
    return NATIVE(Buffer.from(buf.buffer, buf.byteOffset + start, end - start), crc) >>> 0;
  }
  const t = T;
  let c = ~crc;
  let i = start;
  const base = buf.byteOffset;
  // Bytes until the position is 4-aligned in the ArrayBuffer.
  while (i < end && ((base + i) & 3) !== 0) {
    c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  }
  const blocks = HOST_LE ? (end - i) >> 4 : 0;
  if (blocks > 0) {
    const w = words ?? new Int32Array(buf.buffer, 0, buf.buffer.byteLength >> 2);
    let j = (base + i) >> 2;
    const jEnd = j + blocks * 4;
    while (j < jEnd) {
      const a = w[j] ^ c;
      const b = w[j + 1];
      const d = w[j + 2];
      const e = w[j + 3];
      c =
        t[3840 + (a & 0xff)] ^
        t[3584 + ((a >>> 8) & 0xff)] ^
        t[3328 + ((a >>> 16) & 0xff)] ^
        t[3072 + (a >>> 24)] ^
        t[2816 + (b & 0xff)] ^
        t[2560 + ((b >>> 8) & 0xff)] ^
        t[2304 + ((b >>> 16) & 0xff)] ^
        t[2048 + (b >>> 24)] ^
        t[1792 + (d & 0xff)] ^
        t[1536 + ((d >>> 8) & 0xff)] ^
        t[1280 + ((d >>> 16) & 0xff)] ^
        t[1024 + (d >>> 24)] ^
        t[768 + (e & 0xff)] ^
        t[512 + ((e >>> 8) & 0xff)] ^
        t[256 + ((e >>> 16) & 0xff)] ^
        t[e >>> 24];
      j += 4;
    }
    i += blocks * 16;
  }
  while (i < end) {
    c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  }
  return ~c >>> 0;
}

/** CRC-32C of a whole buffer. */
export function crc32c(buf: Uint8Array): number {
  return crc32cUpdate(0, buf, 0, buf.length);
}
