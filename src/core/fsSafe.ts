/**
 * Reading a file a person named, safely: a FIFO, a device, a socket or a directory is refused
 * before it is opened for reading (opening a FIFO blocks until a writer appears; /dev/urandom
 * never ends), and no more than `maxBytes` are read. Errors are EtcdBackupError kinds with one
 * sentence each; the caller words nothing.
 */
import { constants, promises as fs } from 'fs';
import { EtcdBackupError } from './errors';

/** No static pod manifest, env file, etcd config file or unit comes near this (kubeadm's is 2-3 KiB). */
export const MAX_ETCD_FILE_BYTES = 1024 * 1024;

interface Kind {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}

function what(st: Kind): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function mibOf(n: number): string {
  return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB`;
}

/** The sentence for an errno met while opening or reading `path`. */
export function readErrorOf(path: string, err: unknown): EtcdBackupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new EtcdBackupError('notFound', `${path} does not exist.`, { cause: err });
  if (code === 'ENOTDIR')
    return new EtcdBackupError('notFound', `${path} does not exist (a part of the path is not a ` + `directory).`, { cause: err });
  if (code === 'EISDIR') return new EtcdBackupError('invalidInput', `${path} is a directory; give a file.`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new EtcdBackupError('permission', `No permission to read ${path} (run as root, ` + `e.g. with sudo).`, { cause: err });
  if (code === 'ENAMETOOLONG')
    return new EtcdBackupError('invalidInput', `The path ${path.slice(0, 80)}… is too long for the file ` + `system.`, { cause: err });
  if (code === 'ELOOP') return new EtcdBackupError('invalidInput', `${path} is a loop of symbolic links.`, { cause: err });
  if (code === 'EIO') return new EtcdBackupError('internal', `The disk could not read ${path} (I/O error).`, { cause: err });
  if (err instanceof EtcdBackupError) return err;
  return new EtcdBackupError('internal', `${path} could not be read (${code ?? (err as Error).message}).`, { cause: err });
}

/**
 * Read a regular file (symbolic links followed) as UTF-8, refusing anything else before opening
 * it and refusing a file over `maxBytes`. O_NONBLOCK keeps a FIFO that appears between the check
 * and the open from blocking; the opened file is checked again.
 */
export async function readRegularFile(path: string, maxBytes = MAX_ETCD_FILE_BYTES): Promise<string> {
  let st;
  try {
    st = await fs.stat(path);
  } catch (err) {
    throw readErrorOf(path, err);
  }
  if (!st.isFile()) throw new EtcdBackupError('invalidInput', `${path} is ${what(st)}, not a regular file; give the file itself.`);
  if (st.size > maxBytes) {
    throw new EtcdBackupError(
      'invalidInput',
      `${path} is ${mibOf(st.size)}; no etcd manifest, env, config or unit file is over ` + `${mibOf(maxBytes)}. Give the right file.`,
    );
  }
  let fh;
  try {
    fh = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw readErrorOf(path, err);
  }
  try {
    const again = await fh.stat();
    if (!again.isFile()) throw new EtcdBackupError('invalidInput', `${path} is ${what(again)}, not a regular file; give the file itself.`);
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(again.size, 0) + 1));
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (!bytesRead) break;
      n += bytesRead;
      if (n >= buf.length) break;
    }
    if (n > maxBytes) {
      throw new EtcdBackupError(
        'invalidInput',
        `${path} is over ${mibOf(maxBytes)}; no etcd manifest, env, config or unit file is ` + `that large. Give the right file.`,
      );
    }
    return buf.subarray(0, n).toString('utf8');
  } catch (err) {
    throw readErrorOf(path, err);
  } finally {
    await fh.close();
  }
}
