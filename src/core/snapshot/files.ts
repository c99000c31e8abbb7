/**
 * Files the snapshot tools write never replace anything: each is written to a temp name that
 * is created exclusively (O_CREAT | O_EXCL, unique per process and call), fsynced, then given
 * its final name with link(), which fails on an existing name (rename() would replace it),
 * and the temp name is unlinked. And files they read must be regular files: a FIFO, a device
 * or a directory is refused before anything blocks on it.
 */
import { randomBytes } from 'crypto';
import { constants as fsConstants, promises as fs, Stats } from 'fs';
import { basename, dirname, join } from 'path';
import { EtcdBackupError, explain } from '../errors';

/**
 * A temp name beside `final`, unique to this process and call: `<final>.<pid>-<random>.<suffix>`,
 * or dot-led (`.<name>.<pid>-<random>.<suffix>`) when `hidden`.
 */
export function tempNameFor(final: string, suffix: string, opts: { hidden?: boolean } = {}): string {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return opts.hidden ? join(dirname(final), `.${basename(final)}.${tag}.${suffix}`) : `${final}.${tag}.${suffix}`;
}

/** Create `path` for writing, exclusively (never an existing file, never through a symlink), mode 0600. */
export async function createExclusive(path: string): Promise<fs.FileHandle> {
  const fh = await fs.open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  // The process umask may have dropped bits; 0600 is what is wanted, no more and no less.
  await fh.chmod(0o600).catch(() => undefined);
  return fh;
}

/** What is at `path`, without following a symlink; undefined when nothing is. */
export async function lstatOrNone(path: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // ENOTDIR and the like: no file can be there either; anything else is a real problem.
    if (code === 'ENOTDIR') return undefined;
    throw explain(err);
  }
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** File systems without hard links (vfat, some FUSE and network mounts) answer link() with these. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS']);

/**
 * Give the complete file `temp` the name `final` without ever replacing what is there:
 * link(temp, final), then unlink(temp). When `final` exists, throws EtcdBackupError
 * 'conflict' with `conflict` as its sentence (and `temp` is left for the caller to remove).
 * On a file system without hard links it checks the name and renames (the one case with a
 * window between the check and the rename).
 */
export async function linkNoReplace(temp: string, final: string, conflict: string): Promise<void> {
  try {
    await fs.link(temp, final);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'EEXIST') {
      throw new EtcdBackupError('conflict', conflict, { cause: err });
    }
    if (!code || !NO_LINKS.has(code)) {
      throw explain(err);
    }
    if (await lstatOrNone(final)) {
      throw new EtcdBackupError('conflict', conflict, { cause: err });
    }
    await fs.rename(temp, final);
    return;
  }
  await fs.rm(temp, { force: true });
}

/**
 * Remove `final` only when it is still the file this process linked there (same inode as
 * `mine`): undoing a half-done pair of names never removes someone else's file.
 */
export async function unlinkIfSame(final: string, mine: Stats): Promise<void> {
  const st = await lstatOrNone(final).catch(() => undefined);
  if (st && st.ino === mine.ino && st.dev === mine.dev) {
    await fs.rm(final, { force: true }).catch(() => undefined);
  }
}

/** fsync a folder (the names in it), where the file system allows it. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    await fh.sync();
  } catch {
    // Some file systems cannot fsync a directory; the file itself is already synced.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** What kind of non-regular file `st` is, in words. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Open `path` for reading without blocking on it (O_NONBLOCK: a FIFO with no writer opens at
 * once instead of hanging), and refuse anything but a regular file (fstat on the descriptor,
 * so a file swapped in between cannot slip through). `what` names the file in sentences
 * ("The snapshot"). Throws EtcdBackupError 'notFound', 'permission' or 'invalidInput'.
 */
export async function openRegularForReading(path: string, what = 'The snapshot'): Promise<fs.FileHandle> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT') {
      throw new EtcdBackupError('notFound', `${what} ${path} does not exist: check the path.`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new EtcdBackupError('permission', `Permission denied reading ${path}: run as a user that can read it.`, { cause: err });
    }
    if (code === 'ENXIO' || code === 'ENODEV' || code === 'EISDIR') {
      throw new EtcdBackupError('invalidInput', `${path} is not a regular file: give the file itself.`, { cause: err });
    }
    throw new EtcdBackupError('internal', `Cannot open ${path} (${code ?? String(err)}).`, { cause: err });
  }
  try {
    const st = await fh.stat();
    const snapshot = what === 'The snapshot';
    if (st.isDirectory()) {
      const give = snapshot ? 'snapshot file (for a data dir, its member/snap/db)' : 'file itself';
      throw new EtcdBackupError('invalidInput', `${path} is a directory: give the ${give}.`);
    }
    if (!st.isFile()) {
      const give = snapshot ? 'snapshot file' : 'file';
      const text = `${path} is ${fileKind(st)}, not a regular file`;
      throw new EtcdBackupError('invalidInput', `${text}: give the ${give} itself (nothing was read from it).`);
    }
    return fh;
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Read a small regular file as UTF-8 (a sidecar), refusing a non-regular one before it can
 * block, and one larger than `maxBytes` before reading it.
 */
export async function readSmallRegularFile(path: string, maxBytes: number, what = 'The file'): Promise<string> {
  const fh = await openRegularForReading(path, what);
  try {
    const st = await fh.stat();
    if (st.size > maxBytes) {
      const text = `${path} is ${st.size} bytes, more than the ${maxBytes} a file of this kind can be`;
      throw new EtcdBackupError('invalidInput', `${text}: check that it is the right file.`);
    }
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead <= 0) break;
      got += bytesRead;
    }
    return buf.toString('utf8', 0, got);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
