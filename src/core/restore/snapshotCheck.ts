/**
 * The check a restore makes before it touches anything: the file exists, is an etcd (bbolt)
 * snapshot, and its SHA-256 trailer matches. Adapter over the snapshot reader's verifier
 * (src/core/snapshot/verify.ts) once that exists; until then a minimal local check of the
 * trailer and the bbolt meta page.
 * TODO(restore): switch to `verifySnapshot(path)` from ../snapshot/verify when it lands.
 */
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import type { ErrorKind } from '../errors';

export interface SnapshotCheck {
  ok: boolean;
  /** The file ends with a SHA-256 trailer (size % 512 == 32). */
  hasHash: boolean;
  /** Size of the file in bytes. */
  size: number;
  /** Hex SHA-256 of the database image (without the trailer), when computed. */
  sha256?: string;
  /** Why it cannot be restored (one sentence), when `ok` is false. */
  reason?: string;
  kind?: ErrorKind;
  /** One line for the step log. */
  summary: string;
}

const MAGIC = 0xed0cdaed;

export async function checkSnapshotForRestore(path: string, opts: { signal?: AbortSignal } = {}): Promise<SnapshotCheck> {
  let size: number;
  try {
    const st = await fs.stat(path);
    if (!st.isFile()) {
      return { ok: false, hasHash: false, size: 0, kind: 'invalidInput', reason: `${path} is not a file: give the snapshot file.`, summary: 'not a file' };
    }
    size = st.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return { ok: false, hasHash: false, size: 0, kind: 'notFound', reason: `The snapshot ${path} does not exist: check the path.`, summary: 'missing' };
    }
    return { ok: false, hasHash: false, size: 0, kind: 'permission', reason: `Cannot read the snapshot ${path} (${code ?? String(err)}).`, summary: 'unreadable' };
  }
  if (size < 4096 + 32) {
    return { ok: false, hasHash: false, size, kind: 'corrupt', reason: `${path} is ${size} bytes, too small to be an etcd snapshot (truncated, or not a snapshot).`, summary: 'too small' };
  }
  const fh = await fs.open(path, 'r');
  let magicOk = false;
  try {
    const head = Buffer.alloc(32);
    await fh.read(head, 0, 32, 0);
    magicOk = head.readUInt32LE(16) === MAGIC || head.readUInt32BE(16) === MAGIC;
  } finally {
    await fh.close();
  }
  if (!magicOk) {
    return { ok: false, hasHash: false, size, kind: 'corrupt', reason: `${path} is not an etcd snapshot (no bbolt database header): check that you picked the right file.`, summary: 'not bbolt' };
  }
  const hasHash = size % 512 === 32;
  if (!hasHash) {
    return { ok: true, hasHash, size, summary: `${size} bytes, bbolt header present, no SHA-256 trailer` };
  }
  const dbSize = size - 32;
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(path, { start: 0, end: dbSize - 1, signal: opts.signal, highWaterMark: 1 << 20 });
    s.on('data', (b) => hash.update(b));
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  const digest = hash.digest();
  const trailer = Buffer.alloc(32);
  const fh2 = await fs.open(path, 'r');
  try {
    await fh2.read(trailer, 0, 32, dbSize);
  } finally {
    await fh2.close();
  }
  if (!digest.equals(trailer)) {
    return {
      ok: false,
      hasHash,
      size,
      sha256: digest.toString('hex'),
      kind: 'corrupt',
      reason: `${path} is corrupt: the SHA-256 of its database (${digest.toString('hex').slice(0, 16)}...) does not match the trailer saved with it (${trailer.toString('hex').slice(0, 16)}...). Take or copy the snapshot again.`,
      summary: 'hash mismatch',
    };
  }
  return { ok: true, hasHash, size, sha256: digest.toString('hex'), summary: `${size} bytes; SHA-256 trailer matches (${digest.toString('hex').slice(0, 16)}...)` };
}

/** What the file itself says, to compare a trial restore with. */
export interface SnapshotFigures {
  /** Main revision of the last key in the file. */
  revision?: number;
  /** Live (not deleted) user keys at that revision, when the reader can tell. */
  liveKeys?: number;
  /** Where the figures came from, for the report. */
  source: string;
}

/**
 * The snapshot's revision and live key count.
 * TODO(restore): read both with the native reader (../snapshot/status `snapshotStatus`,
 * ../snapshot/inspect) when it lands; until then the revision comes from
 * `<tool> snapshot status -w json` and the live key count is not known.
 */
export async function snapshotFigures(path: string, tool: { kind: string; path: string; env: Record<string, string> }): Promise<SnapshotFigures> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(tool.path, ['snapshot', 'status', path, '-w', 'json'], { env: { ...process.env, ...tool.env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${tool.kind} snapshot status failed: ${(stderr || err.message).trim().split('\n').pop()}`));
        return;
      }
      resolve(stdout);
    });
  });
  const j = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { revision?: number };
  return { revision: j.revision, source: `${tool.kind} snapshot status` };
}
