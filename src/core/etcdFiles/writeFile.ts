/**
 * Replace a file's content in place without ever leaving it half written: write a temporary
 * sibling (a dot-file, which the kubelet's manifest watcher skips) with the same mode, fsync it,
 * give it the old file's owner when we may, and rename it over the file. A symbolic link is
 * followed: its target is replaced, the link stays.
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import { basename, dirname, join } from 'path';

export async function replaceFileContent(path: string, text: string): Promise<void> {
  const real = await fs.realpath(path);
  const st = await fs.stat(real);
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
}
