/**
 * Replace a file's content in place without ever leaving it half written: write a temporary
 * sibling (a dot-file, which the kubelet's manifest watcher skips) with the same mode, fsync it,
 * give it the old file's owner when we may, rename it over the file and fsync the directory (so
 * the rename survives a power cut). A symbolic link is followed: its target is replaced, the link
 * stays. Refused, with nothing written: a file that is not a regular file, a read-only file
 * (mode without any write bit: someone made it so on purpose), and a file with several hard
 * links (the rename would give this name the new text and leave the other names the old one).
 */
import { randomBytes } from 'crypto';
import { constants, promises as fs } from 'fs';
import { basename, dirname, join } from 'path';
import { EtcdBackupError } from '../errors';

function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** Why `path` (already resolved) must not be replaced, or undefined. */
function replaceBlocker(path: string, st: { isFile(): boolean; mode: number; nlink: number }): string | undefined {
  if (!st.isFile()) return `${path} is not a regular file; nothing was written.`;
  if ((st.mode & 0o222) === 0) {
    return (
      `${path} is read-only (mode ${modeText(st.mode)}); nothing was written. If it should be edited, make it writable first ` +
      `(chmod u+w ${path}).`
    );
  }
  if (st.nlink > 1) {
    return (
      `${path} has ${st.nlink} hard links; writing it through a new file would leave the other ${st.nlink - 1} with the old ` +
      `text, so nothing was written. Edit it in place by hand, or remove the other links first.`
    );
  }
  return undefined;
}

async function syncDir(dir: string): Promise<void> {
  let dh;
  try {
    dh = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await dh.sync();
  } catch (err) {
    // some file systems refuse fsync on a directory (EINVAL); the rename itself has happened
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await dh?.close();
  }
}

export async function replaceFileContent(path: string, text: string): Promise<void> {
  const real = await fs.realpath(path);
  const st = await fs.stat(real);
  const blocker = replaceBlocker(real === path ? path : `${path} (${real})`, st);
  if (blocker) throw new EtcdBackupError('invalidInput', blocker);
  const tmp = join(dirname(real), `.${basename(real)}.etcd-backup-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', st.mode & 0o7777);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      await fh.chmod(st.mode & 0o7777); // open() applied the umask
      if (typeof process.getuid === 'function' && process.getuid() === 0) {
        await fh.chown(st.uid, st.gid);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, real);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(real));
}
