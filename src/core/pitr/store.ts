/**
 * Where segments and full snapshots live, behind two small interfaces: the follower and the
 * materializer use only these, so the same code works on a local folder and on the backup
 * engine's stores (compressed and encrypted copies elsewhere).
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { parseSegmentName } from './segment';

/** One stored segment: its name and the revisions it covers. */
export interface SegmentRef {
  name: string;
  first: number;
  last: number;
}

export interface SegmentStore {
  /** For messages: the folder or bucket and prefix. */
  readonly where: string;
  /** Every segment, in revision order. */
  list(): Promise<SegmentRef[]>;
  /** A segment's plain bytes (decrypted and decompressed). */
  read(ref: SegmentRef): Promise<Buffer>;
  /** Store a segment under its final name, atomically (never a partial file under that name). */
  write(name: string, data: Buffer): Promise<void>;
  /** Remove a segment (pruning). */
  remove?(ref: SegmentRef): Promise<void>;
  /** Remove the segments no kept full snapshot needs; returns their names. */
  prune?(): Promise<string[]>;
}

/** A full snapshot that can start a chain. */
export interface FullSnapshotRef {
  name: string;
  /** The snapshot's revision (the highest revision in the file when known; never more than its real one). */
  revision: number;
  /** When it was taken (epoch ms). */
  time: number;
  /** Its local path, when it is a local plain file. */
  path?: string;
}

export interface FullSnapshots {
  readonly where: string;
  list(): Promise<FullSnapshotRef[]>;
  /** A plain local copy of a snapshot; `done` removes it when it was a temporary copy. */
  open(ref: FullSnapshotRef): Promise<{ path: string; done(): Promise<void> }>;
  /** Take a new full snapshot now (the follower's new chain after a compaction). */
  take?(): Promise<FullSnapshotRef>;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r').catch(() => undefined);
  await fh?.sync().catch(() => undefined);
  await fh?.close().catch(() => undefined);
}

/**
 * Write `data` to `path` through a dot-named temporary file in the same folder (mode 0600,
 * fsynced) and a rename; the folder is created 0700. An existing file under the final name is
 * never replaced by other bytes.
 */
export async function writeFileAtomic(path: string, data: Buffer, opts: { replace?: boolean } = {}): Promise<void> {
  const dir = join(path, '..');
  const base = path.slice(dir.length + 1);
  const tmp = join(dir, `.${base}.tmp-${process.pid}`);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    if (!opts.replace) {
      const existing = await fs.readFile(path).catch(() => undefined);
      if (existing) {
        if (existing.equals(data)) return;
        throw new EtcdBackupError(
          'conflict',
          `${path} already exists with other content: it is never overwritten. Move it away if it is not this tool's.`,
        );
      }
    }
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    if (err instanceof EtcdBackupError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new EtcdBackupError('diskFull', `No space left to write ${path}: nothing was written under that name. Free space in ${dir}.`, {
        cause: err,
      });
    }
    throw explain(err);
  }
}

/** Segments as plain files in a local folder (`<plan's local dir>/changelog`). */
export class LocalSegmentStore implements SegmentStore {
  constructor(readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  async list(): Promise<SegmentRef[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw explain(err);
    }
    const refs: SegmentRef[] = [];
    for (const name of names) {
      const r = parseSegmentName(name);
      if (r) refs.push({ name, ...r });
    }
    return refs.sort((a, b) => a.first - b.first || a.last - b.last);
  }

  async read(ref: SegmentRef): Promise<Buffer> {
    const path = join(this.dir, ref.name);
    const st = await fs.lstat(path).catch(() => undefined);
    if (!st) {
      throw new EtcdBackupError(
        'notFound',
        `The change-log segment ${ref.name} (revisions ${ref.first} to ${ref.last}) is missing from ${this.dir}.`,
      );
    }
    if (!st.isFile()) {
      throw new EtcdBackupError('corrupt', `The change-log segment ${path} is not a regular file: it cannot be read as a segment.`);
    }
    return fs.readFile(path);
  }

  write(name: string, data: Buffer): Promise<void> {
    return writeFileAtomic(join(this.dir, name), data);
  }

  async remove(ref: SegmentRef): Promise<void> {
    await fs.rm(join(this.dir, ref.name), { force: true });
  }
}

/** A gap in the stored revisions: nothing covers `from` to `to`. */
export interface CoverageGap {
  from: number;
  to: number;
  /** The segments on either side, for the message. */
  before?: string;
  after?: string;
}

/**
 * The segments needed to go from revision `base` (exclusive) to `target` (inclusive), in order,
 * and the first gap when they do not cover that range without one.
 */
export function segmentsFor(refs: SegmentRef[], base: number, target: number): { segments: SegmentRef[]; gap?: CoverageGap } {
  const segments: SegmentRef[] = [];
  let next = base + 1;
  let before: string | undefined;
  for (const r of refs) {
    if (next > target) break;
    if (r.last < next) continue;
    if (r.first > next) {
      return { segments, gap: { from: next, to: Math.min(r.first - 1, target), before, after: r.name } };
    }
    segments.push(r);
    before = r.name;
    next = r.last + 1;
  }
  if (next <= target) {
    return { segments, gap: { from: next, to: target, before } };
  }
  return { segments };
}
