/**
 * Errors a person can act on. Every failure that reaches a user is turned into one
 * sentence that says what went wrong and what to do; the full error goes to the log.
 */

export type ErrorKind =
  | 'unreachable'
  | 'tls'
  | 'auth'
  | 'permission'
  | 'timeout'
  | 'cancelled'
  | 'notFound'
  | 'invalidInput'
  | 'corrupt'
  | 'conflict'
  | 'noQuorum'
  | 'diskFull'
  | 'toolMissing'
  | 'internal';

/**
 * What the user can do next that only a front end can name: a VS Code setting or command, a
 * command-line flag. Core says which (the kind), each front end words it (see {@link withHint}).
 */
export type Hint =
  /** Point at the tool (its path setting, its flag); `configured`: the given path is wrong. */
  | { kind: 'toolPath'; tools: readonly ('etcdutl' | 'etcdctl' | 'etcd')[]; configured?: boolean }
  /** Compact and defragment the cluster, then disarm the alarm (the way out of NOSPACE). */
  | { kind: 'reclaimSpace'; brief?: boolean }
  /** Read the member list again (it changed since it was shown). */
  | { kind: 'listMembers' }
  /** Promote the learner once it has caught up. */
  | { kind: 'promoteLearner'; memberId: string };

/** A front end's words for a hint: a clause that follows the sentence, e.g. "or pass --etcdutl PATH". */
export type HintWords = (hint: Hint) => string;

/** Plain words that name no front end's setting, command or flag. */
export const plainHintWords: HintWords = (hint) => {
  switch (hint.kind) {
    case 'toolPath':
      return hint.configured
        ? `fix the configured path of ${hint.tools.join(' / ')}, or clear it to use the one on PATH`
        : `or give the path to ${hint.tools.join(' / ')}`;
    case 'reclaimSpace':
      return hint.brief ? 'compact and defragment' : 'compact and defragment the cluster, then disarm the alarm';
    case 'listMembers':
      return 'list the members again';
    case 'promoteLearner':
      return `then promote ${hint.memberId}`;
  }
};

/** The sentence with its hint in a front end's words: "<sentence>; <words>." (the sentence alone without a hint). */
export function withHint(message: string, hint: Hint | undefined, words: HintWords = plainHintWords): string {
  if (!hint) return message;
  return `${message.replace(/[.\s]+$/, '')}; ${words(hint)}.`;
}

/** An error whose message is already the sentence to show (with its hint, worded by the front end). */
export class EtcdBackupError extends Error {
  readonly hint?: Hint;
  constructor(
    public readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown; hint?: Hint },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'EtcdBackupError';
    this.hint = options?.hint;
  }
}

/** The one "cancelled" error, for work the user (or a signal) stopped. */
export function cancelledError(cause?: unknown): EtcdBackupError {
  return new EtcdBackupError('cancelled', 'Cancelled.', cause !== undefined ? { cause } : undefined);
}

/** gRPC status codes that matter here (see grpc/status.h). */
const GRPC = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

function codeOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; cause?: unknown } | undefined;
  if (e && typeof e.code === 'number') {
    return e.code;
  }
  if (e && e.cause) {
    return codeOf(e.cause);
  }
  return undefined;
}

/**
 * Classify any error (gRPC, Node system error, etcd3 error) and phrase it as one sentence.
 * `where` names what was being talked to, e.g. `https://10.0.0.11:2379`.
 * Kept whole on purpose (over 100 lines): it is one ordered table of "this error means that",
 * and the order is the meaning (the first match wins); split up, the order would be hidden.
 */
export function explain(err: unknown, where?: string): EtcdBackupError {
  if (err instanceof EtcdBackupError) {
    return err;
  }
  const msg = messageOf(err);
  const lower = msg.toLowerCase();
  const at = where ? ` ${where}` : '';
  const sys = (err as NodeJS.ErrnoException | undefined)?.code;
  const code = codeOf(err);

  if (sys === 'ENOENT') {
    const path = (err as NodeJS.ErrnoException).path;
    return new EtcdBackupError('notFound', `File not found: ${path ?? msg}. Check the path in the cluster's settings.`, { cause: err });
  }
  if (sys === 'EACCES' || sys === 'EPERM') {
    const path = (err as NodeJS.ErrnoException).path;
    return new EtcdBackupError(
      'permission',
      `Permission denied${path ? ` on ${path}` : ''}. Run VS Code as a user that can read it, or fix its owner and mode.`,
      { cause: err },
    );
  }
  if (sys === 'ENOSPC' || sys === 'EFBIG' || lower.includes('enospc')) {
    return new EtcdBackupError(
      'diskFull',
      'The disk is full (or the file-size limit was reached). Free space or choose another folder, then try again.',
      { cause: err },
    );
  }
  if (typeof sys === 'string' && ERRNO_HINTS[sys]) {
    // ENAMETOOLONG, EROFS, ENOTEMPTY, EXDEV, ELOOP, ...: one sentence each, never the raw text.
    return fsError(err) as EtcdBackupError;
  }
  if (
    lower.includes('certificate') ||
    lower.includes('ssl') ||
    lower.includes('tls') ||
    lower.includes('handshake') ||
    lower.includes('self signed') ||
    lower.includes('no_certificate') ||
    lower.includes('unknown ca') ||
    lower.includes('wrong version number') ||
    lower.includes('pem')
  ) {
    return new EtcdBackupError(
      'tls',
      `TLS handshake with${at || ' the endpoint'} failed (${firstLine(msg)}). ` +
        `Check the CA, client certificate and key, and that the URL scheme is https.`,
      { cause: err },
    );
  }
  if (
    code === GRPC.UNAUTHENTICATED ||
    lower.includes('authentication failed') ||
    lower.includes('invalid auth token') ||
    lower.includes('user name is empty') ||
    lower.includes('user name not found') ||
    lower.includes('invalid username or password')
  ) {
    return new EtcdBackupError('auth', `etcd refused the credentials${at ? ` at${at}` : ''}. Check the user name and password.`, {
      cause: err,
    });
  }
  if (code === GRPC.PERMISSION_DENIED || lower.includes('permission denied')) {
    return new EtcdBackupError(
      'permission',
      `etcd denied the request${at ? ` at${at}` : ''}: the user lacks the role it needs (snapshots and member changes need root).`,
      { cause: err },
    );
  }
  if (code === GRPC.DEADLINE_EXCEEDED || lower.includes('deadline') || lower.includes('timed out') || lower.includes('timeout')) {
    return new EtcdBackupError(
      'timeout',
      `No answer from${at || ' etcd'} before the deadline. Check that the member is up and reachable, or raise the cluster's timeout.`,
      { cause: err },
    );
  }
  if (code === GRPC.CANCELLED || lower.includes('cancelled') || lower.includes('canceled')) {
    return cancelledError(err);
  }
  if (
    lower.includes('no leader') ||
    lower.includes('leader changed') ||
    lower.includes('not enough started members') ||
    lower.includes('quorum')
  ) {
    return new EtcdBackupError(
      'noQuorum',
      `The cluster has no leader (quorum is lost)${at ? ` at${at}` : ''}: bring back a majority of members, or restore from a snapshot.`,
      { cause: err },
    );
  }
  if (
    code === GRPC.UNAVAILABLE ||
    sys === 'ECONNREFUSED' ||
    sys === 'EHOSTUNREACH' ||
    sys === 'ENOTFOUND' ||
    lower.includes('econnrefused') ||
    lower.includes('connection refused') ||
    lower.includes('no connection established') ||
    lower.includes('failed to connect') ||
    lower.includes('unavailable') ||
    lower.includes('enotfound')
  ) {
    return new EtcdBackupError(
      'unreachable',
      `Cannot connect to${at || ' etcd'} (connection refused or host unreachable). ` +
        `Check that etcd is running and the endpoint URL and port are right.`,
      { cause: err },
    );
  }
  return new EtcdBackupError('internal', firstLine(msg) || 'Unexpected error.', { cause: err });
}

function firstLine(s: string): string {
  const line = s.split('\n')[0].trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** Every message along an error's cause chain, lower-cased (etcd's own words are at the bottom). */
export function causeText(err: unknown): string {
  const parts: string[] = [];
  let e = err as { message?: string; details?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 8; depth++) {
    parts.push(e.message ?? '', e.details ?? '');
    e = e.cause as typeof e;
  }
  return parts.join(' ').toLowerCase();
}

// ---------------------------------------------------------------------------------------
// File-system errors (errno): one kind and one hint each, so no raw `ENAMETOOLONG: ...` text
// reaches a user. The CLI and the VS Code side show `message`; `hint` is its last sentence.

export interface ErrnoHint {
  kind: ErrorKind;
  /** What the errno means here, as a clause. */
  what: string;
  /** What to do, as an imperative sentence without the full stop. */
  todo: string;
}

export const ERRNO_HINTS: Readonly<Record<string, ErrnoHint>> = {
  ENOENT: { kind: 'notFound', what: 'it does not exist', todo: 'Check the path' },
  ENOTDIR: { kind: 'invalidInput', what: 'a part of the path is a file, not a folder', todo: 'Check the path' },
  EISDIR: { kind: 'invalidInput', what: 'it is a folder where a file was expected', todo: 'Give the path of a file' },
  ENAMETOOLONG: {
    kind: 'invalidInput',
    what: 'the path is too long (a name may have at most 255 bytes, a path 4095)',
    todo: 'Choose a shorter path',
  },
  ELOOP: {
    kind: 'invalidInput',
    what: 'it goes through too many symbolic links (a loop)',
    todo: 'Check the symbolic links on the path (ls -l, readlink -f)',
  },
  EACCES: {
    kind: 'permission',
    what: 'permission denied',
    todo: 'Run as root (sudo) or as the owner of the folder, or fix its owner and mode',
  },
  EPERM: {
    kind: 'permission',
    what: 'the operation is not permitted',
    todo: 'Run as root (sudo); check for the immutable attribute (lsattr)',
  },
  EROFS: {
    kind: 'permission',
    what: 'the file system is mounted read-only',
    todo: 'Remount it read-write (mount -o remount,rw) or choose a folder on a writable disk',
  },
  ENOSPC: { kind: 'diskFull', what: 'the disk is full', todo: 'Free space or choose a folder on another disk, then try again' },
  EDQUOT: { kind: 'diskFull', what: 'the disk quota is used up', todo: 'Free space or raise the quota, then try again' },
  EFBIG: { kind: 'diskFull', what: 'the file-size limit was reached', todo: 'Raise the limit (ulimit -f) or choose another disk' },
  EEXIST: {
    kind: 'conflict',
    what: 'something already exists under that name',
    todo: 'Choose a new name, or move what is there aside first',
  },
  ENOTEMPTY: {
    kind: 'conflict',
    what: 'a folder is already there and is not empty',
    todo: 'Choose a new or empty folder, or move what is there aside first',
  },
  EBUSY: {
    kind: 'conflict',
    what: 'it is in use (a mount point, or held by a process)',
    todo: 'Stop what uses it, or choose a folder that is not a mount point',
  },
  EXDEV: {
    kind: 'conflict',
    what: 'it would move across file systems, which a rename cannot do',
    todo: 'Choose a path on the same disk as the target',
  },
  EMFILE: { kind: 'internal', what: 'this process has too many open files', todo: 'Raise the open-file limit (ulimit -n) and try again' },
  ENFILE: { kind: 'internal', what: 'the system has too many open files', todo: 'Close programs or raise fs.file-max, then try again' },
  EIO: {
    kind: 'internal',
    what: 'the disk reported an input/output error',
    todo: 'Check the disk (dmesg, smartctl) before trusting anything on it',
  },
  ETXTBSY: { kind: 'conflict', what: 'the file is a program that is running', todo: 'Stop it first' },
  EINVAL: { kind: 'invalidInput', what: 'the operation is not valid here (e.g. moving a folder into itself)', todo: 'Check the paths' },
};

/** What a Node fs call was doing, in words ("create /a", "move /a to /b"). */
function doingOf(e: NodeJS.ErrnoException & { dest?: string }): string {
  const p = e.path ?? '';
  switch (e.syscall) {
    case 'rename':
      return `move ${p}${e.dest ? ` to ${e.dest}` : ''}`;
    case 'mkdir':
    case 'mkdtemp':
      return `create ${p}`;
    case 'rmdir':
    case 'unlink':
    case 'rm':
      return `remove ${p}`;
    case 'chown':
    case 'lchown':
    case 'fchown':
      return `change the owner of ${p}`;
    case 'chmod':
    case 'fchmod':
      return `change the mode of ${p}`;
    case 'link':
    case 'symlink':
      return `link ${p}${e.dest ? ` to ${e.dest}` : ''}`;
    case 'write':
    case 'fsync':
      return `write ${p || 'a file'}`;
    default:
      return p ? `use ${p}` : 'use a file';
  }
}

/** The errno of an error (or of its cause), when it has one this table knows. */
export function errnoOf(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && ERRNO_HINTS[e.code]) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * A file-system error as one sentence: `Could not <doing>: <what>. <todo>.` `doing` says what
 * was being done in the user's terms ("create the temporary folder /x"); by default it is read
 * off the error (syscall, path, dest). Returns undefined for an error without a known errno.
 */
export function fsError(err: unknown, doing?: string): EtcdBackupError | undefined {
  if (err instanceof EtcdBackupError) return err;
  const code = errnoOf(err);
  if (!code) return undefined;
  let e = err as NodeJS.ErrnoException & { dest?: string };
  while (e.code !== code && e.cause) e = e.cause as typeof e;
  const h = ERRNO_HINTS[code];
  const what = doing ?? doingOf(e);
  const out = new EtcdBackupError(h.kind, `Could not ${what}: ${h.what} (${code}). ${h.todo}.`, { cause: err });
  (out as EtcdBackupError & { errno?: string; todo?: string }).errno = code;
  (out as EtcdBackupError & { errno?: string; todo?: string }).todo = `${h.todo}.`;
  return out;
}

/** `fsError`, or `explain` for anything that is not a known errno. */
export function explainFs(err: unknown, doing?: string): EtcdBackupError {
  return fsError(err, doing) ?? explain(err);
}
