/**
 * Where segments and full snapshots live, behind two small interfaces: the follower and the
 * materializer use only these, so the same code works on a local folder and on the backup
 * engine's stores (compressed and encrypted copies elsewhere).
 */
import { createReadStream, promises as fs } from 'fs';
import { join } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { fileSha256 } from '../restore/planFile';
import { linkNoReplace } from '../snapshot/files';
import { parseSegmentName, SegmentBuilder } from './segment';

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
  /**
   * A new file in the store's own folder for the follower to build its open segment in, so the
   * segment is never held in memory (files left there by a killed follower are removed first).
   * Stores without it get the segment's bytes through `write`.
   */
  spoolFile?(): Promise<string>;
  /** Store a finished (fsynced) spool file under its final name, atomically; the spool file is gone afterwards. */
  commit?(name: string, spool: string): Promise<void>;
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

function diskFull(err: unknown, path: string, dir: string): EtcdBackupError | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  return new EtcdBackupError('diskFull', `No space left to write ${path}: nothing was written under that name. Free space in ${dir}.`, {
    cause: err,
  });
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
    throw diskFull(err, path, dir) ?? explain(err);
  }
}

/** The prefix of the follower's spool files in a segment folder (never a segment's name). */
const SPOOL_PREFIX = '.open-segment-';

/**
 * The open segment spooled to a file: the builder's lines are appended in writes of at least
 * `chunkBytes` (256 KiB), so memory holds at most that much of the segment, whatever
 * `segmentMiB` says. `finish` writes the end line and fsyncs; the store's `commit` names it.
 */
export class SegmentSpool {
  private constructor(
    readonly path: string,
    private readonly fh: fs.FileHandle,
    readonly builder: SegmentBuilder,
    private readonly chunkBytes: number,
  ) {}

  static async open(path: string, builder: SegmentBuilder, chunkBytes = 64 << 10): Promise<SegmentSpool> {
    const fh = await fs.open(path, 'wx', 0o600).catch((err: unknown) => {
      throw diskFull(err, path, join(path, '..')) ?? explain(err);
    });
    return new SegmentSpool(path, fh, builder, chunkBytes);
  }

  private async append(data: Buffer): Promise<void> {
    try {
      await this.fh.write(data);
    } catch (err) {
      throw diskFull(err, this.path, join(this.path, '..')) ?? explain(err);
    }
  }

  /** Append what the builder holds, once it is at least the chunk size (or always, with `force`). */
  async drain(force = false): Promise<void> {
    if (this.builder.pendingBytes && (force || this.builder.pendingBytes >= this.chunkBytes)) await this.append(this.builder.takePending());
  }

  /** Append the rest and the end line, fsync and close. */
  async finish(): Promise<void> {
    await this.append(this.builder.finish());
    try {
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  /** Close and remove the file (after a failure). */
  async discard(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fs.rm(this.path, { force: true }).catch(() => undefined);
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
    return fs.readFile(await this.regularFile(ref));
  }

  /** A segment's bytes as a stream (an upload holds only what it makes of them). */
  async readStream(ref: SegmentRef): Promise<NodeJS.ReadableStream> {
    return createReadStream(await this.regularFile(ref));
  }

  private async regularFile(ref: SegmentRef): Promise<string> {
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
    return path;
  }

  write(name: string, data: Buffer): Promise<void> {
    return writeFileAtomic(join(this.dir, name), data);
  }

  private spools = 0;

  async spoolFile(): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw explain(err);
    });
    if (this.spools++ === 0) {
      // A killed follower's open segment: its revisions are after the last stored segment and are watched again.
      for (const n of await fs.readdir(this.dir)) if (n.startsWith(SPOOL_PREFIX)) await fs.rm(join(this.dir, n), { force: true });
    }
    return join(this.dir, `${SPOOL_PREFIX}${process.pid}-${this.spools}`);
  }

  /**
   * Name the spool file with a hard link (which never replaces a file: an existing segment with
   * the same bytes is kept, one with other bytes is a conflict), then remove the spool file.
   */
  async commit(name: string, spool: string): Promise<void> {
    const path = join(this.dir, name);
    const conflict = `${path} already exists with other content: it is never overwritten. Move it away if it is not this tool's.`;
    try {
      await linkNoReplace(spool, path, conflict).catch(async (err: unknown) => {
        // The same bytes already under that name (a segment stored before a crash) are kept as they are.
        const same = err instanceof EtcdBackupError && err.kind === 'conflict' && (await fileSha256(path)) === (await fileSha256(spool));
        if (!same) throw err;
      });
      await fsyncDir(this.dir);
    } catch (err) {
      // linkNoReplace words a failed link in general terms; a full disk gets this store's sentence.
      throw diskFull(err instanceof EtcdBackupError ? err.cause : err, path, this.dir) ?? explain(err);
    } finally {
      await fs.rm(spool, { force: true }).catch(() => undefined);
    }
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
