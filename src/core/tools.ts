/**
 * The etcd tools a restore needs, found on PATH or at the paths the caller gives (for etcdutl,
 * etcdctl and etcd: the extension's machine-scoped settings, the CLI's flags), with their
 * versions, and the exact restore invocation for each.
 *
 * Restore writes a data dir (bbolt db, WAL, snap) exactly as etcd lays it out, so it is done by
 * the real tool: `etcdutl snapshot restore` (etcd 3.5+) first, else
 * `ETCDCTL_API=3 etcdctl snapshot restore` (etcd 3.4, Debian's `etcd-client`; deprecated in 3.5,
 * removed in 3.6). Everything is spawned with argument arrays, never through a shell.
 */
import { findExecutable, runVersion } from './environment';
import { EtcdBackupError } from './errors';

export type ToolKind = 'etcdutl' | 'etcdctl' | 'etcd';
export type RestoreToolKind = 'etcdutl' | 'etcdctl';

/** A tool that was found and answered `version`. */
export interface FoundTool {
  kind: ToolKind;
  /** Absolute path that was run. */
  path: string;
  /** `3.4.23`; undefined when the output had no version number. */
  version?: string;
  /** The version line as the tool printed it, e.g. `etcdctl version: 3.4.23`. */
  versionLine?: string;
  /** The path came from a setting, not from PATH. */
  fromSetting: boolean;
}

/** The tool that restores snapshots, with what it can do. */
export interface RestoreTool extends FoundTool {
  kind: RestoreToolKind;
  /** Environment to add when spawning (`ETCDCTL_API=3` for etcdctl). */
  env: Record<string, string>;
  /** `--bump-revision` and `--mark-compacted` are understood (etcdutl 3.5.10 and later). */
  canBumpRevision: boolean;
}

/** Where to look: settings (absolute paths) and the PATH to search (tests pass their own). */
export interface ToolPaths {
  etcdutl?: string;
  etcdctl?: string;
  etcd?: string;
  /** PATH to search; default `process.env.PATH`. */
  envPath?: string;
}

/** The one sentence shown when no restore tool is there (with the hint to give its path, worded by the front end). */
export const INSTALL_RESTORE_TOOL =
  'Neither etcdutl nor etcdctl (3.4/3.5) was found: install it (`apt-get install etcd-client` on Debian/Ubuntu gives etcdctl ' +
  '3.4; or copy `etcdutl` from the etcd release tarball, https://github.com/etcd-io/etcd/releases, to /usr/local/bin).';

/** The one sentence shown when no etcd server binary is there (trial restore needs one). */
export const INSTALL_ETCD =
  'The etcd server binary was not found: install it (`apt-get install etcd-server` on Debian/Ubuntu, ' +
  'or `etcd` from the etcd release tarball, https://github.com/etcd-io/etcd/releases).';

/** `3.4.23` from `etcdctl version: 3.4.23`, `etcdutl version: 3.5.12`, `etcd Version: 3.4.23`. */
export function parseToolVersion(output: string): { version?: string; line?: string } {
  const lines = output.split(/\r?\n/);
  for (const line of lines) {
    const m = /\bversion:?\s*v?(\d+\.\d+\.\d+)/i.exec(line);
    if (m && !/^\s*API version/i.test(line)) {
      return { version: m[1], line: line.trim() };
    }
  }
  return { line: lines.find((l) => l.trim())?.trim() };
}

/** Compare dotted versions numerically: negative when a < b. Missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

/**
 * Find one tool: at its setting when one is given (a setting that does not point at an
 * executable is an error naming the setting: the user chose that file), else on PATH.
 * Returns undefined when it is not on PATH.
 */
export async function findTool(kind: ToolKind, paths: ToolPaths = {}, timeoutMs = 5000): Promise<FoundTool | undefined> {
  const configured = paths[kind]?.trim();
  let path: string | undefined;
  if (configured) {
    path = await findExecutable(configured, paths.envPath ?? process.env.PATH ?? '');
    if (!path) {
      throw new EtcdBackupError('toolMissing', `The ${kind} path "${configured}" is not an executable file.`, {
        hint: { kind: 'toolPath', tools: [kind], configured: true },
      });
    }
  } else {
    path = await findExecutable(kind, paths.envPath ?? process.env.PATH ?? '');
    if (!path) {
      return undefined;
    }
  }
  let out: string;
  try {
    // etcd answers `--version`; etcdctl and etcdutl answer `version`.
    out = await runVersion(path, kind === 'etcd' ? ['--version'] : ['version'], timeoutMs);
  } catch (err) {
    throw new EtcdBackupError(
      'toolMissing',
      `${path} did not answer "${kind === 'etcd' ? '--version' : 'version'}" ` +
        `(${err instanceof Error ? err.message : String(err)}): check that it is a working ${kind} binary for this machine.`,
      { cause: err },
    );
  }
  const v = parseToolVersion(out);
  return { kind, path, version: v.version, versionLine: v.line, fromSetting: Boolean(configured) };
}

/** etcdutl 3.5.10 added `--bump-revision` and `--mark-compacted` to `snapshot restore`. */
export const BUMP_REVISION_SINCE = '3.5.10';

function asRestoreTool(t: FoundTool): RestoreTool {
  const kind = t.kind as RestoreToolKind;
  return {
    ...t,
    kind,
    env: kind === 'etcdctl' ? { ETCDCTL_API: '3' } : {},
    canBumpRevision: kind === 'etcdutl' && t.version !== undefined && compareVersions(t.version, BUMP_REVISION_SINCE) >= 0,
  };
}

/**
 * The tool that restores snapshots: etcdutl when present (3.5+), else etcdctl when it still
 * has `snapshot restore` (before 3.6). Throws a `toolMissing` error with what to install.
 */
export async function findRestoreTool(paths: ToolPaths = {}): Promise<RestoreTool> {
  const etcdutl = await findTool('etcdutl', paths);
  if (etcdutl) {
    return asRestoreTool(etcdutl);
  }
  const etcdctl = await findTool('etcdctl', paths);
  if (etcdctl) {
    if (etcdctl.version && compareVersions(etcdctl.version, '3.6.0') >= 0) {
      throw new EtcdBackupError(
        'toolMissing',
        `${etcdctl.path} is etcdctl ${etcdctl.version}, which no longer restores snapshots (etcd 3.6 moved that to etcdutl): ` +
          `install etcdutl from the etcd ${etcdctl.version} release tarball (https://github.com/etcd-io/etcd/releases).`,
        { hint: { kind: 'toolPath', tools: ['etcdutl'] } },
      );
    }
    return asRestoreTool(etcdctl);
  }
  throw new EtcdBackupError('toolMissing', INSTALL_RESTORE_TOOL, { hint: { kind: 'toolPath', tools: ['etcdutl', 'etcdctl'] } });
}

/** The etcd server binary (for trial restores): the setting, PATH, then /usr/bin/etcd. */
export async function findEtcdServer(paths: ToolPaths = {}): Promise<FoundTool> {
  const found =
    (await findTool('etcd', paths)) ?? (paths.etcd ? undefined : await findTool('etcd', { etcd: '/usr/bin/etcd' }).catch(() => undefined));
  if (!found) {
    throw new EtcdBackupError('toolMissing', INSTALL_ETCD, { hint: { kind: 'toolPath', tools: ['etcd'] } });
  }
  return found;
}

/** What `snapshot restore` is given for one member. */
export interface RestoreFlags {
  /** The snapshot file. */
  snapshot: string;
  name: string;
  /** `n1=https://10.0.0.11:2380,n2=...` */
  initialCluster: string;
  /** This member's peer URLs, comma-separated. */
  initialAdvertisePeerUrls: string;
  initialClusterToken: string;
  dataDir: string;
  /** Restore a file that has no SHA-256 trailer (a `member/snap/db` copied from a data dir). */
  skipHashCheck?: boolean;
  /** Raise the revision by this much (etcdutl 3.5.10+); goes with `markCompacted`. */
  bumpRevision?: number;
  /** Mark the restored revisions compacted so watchers re-list (needs `bumpRevision`). */
  markCompacted?: boolean;
}

/**
 * Flags the tool cannot take, as one sentence, or undefined when all is well. Call before
 * touching anything.
 */
export function restoreFlagProblem(
  tool: Pick<RestoreTool, 'kind' | 'version' | 'path'>,
  flags: Pick<RestoreFlags, 'bumpRevision' | 'markCompacted'>,
): string | undefined {
  const bump = flags.bumpRevision !== undefined && flags.bumpRevision !== 0;
  if (bump && (!Number.isSafeInteger(flags.bumpRevision) || (flags.bumpRevision as number) < 0)) {
    return `--bump-revision must be a positive whole number (got ${flags.bumpRevision}); 1000000000 is the usual choice for Kubernetes.`;
  }
  if (flags.markCompacted && !bump) {
    return '--mark-compacted goes with --bump-revision: give both (e.g. --bump-revision 1000000000 --mark-compacted), or neither.';
  }
  if (bump && !flags.markCompacted) {
    return (
      '--bump-revision goes with --mark-compacted (etcdutl requires both, so ' +
      'that watchers see the old revisions as compacted): add --mark-compacted.'
    );
  }
  if (bump) {
    const ok = tool.kind === 'etcdutl' && tool.version !== undefined && compareVersions(tool.version, BUMP_REVISION_SINCE) >= 0;
    if (!ok) {
      const what = tool.kind === 'etcdutl' ? `etcdutl ${tool.version ?? '(unknown version)'}` : `etcdctl ${tool.version ?? ''}`.trim();
      return (
        `${what} at ${tool.path} cannot bump the revision (--bump-revision/--mark-compacted need ` +
        `etcdutl ${BUMP_REVISION_SINCE} or later): install a newer etcdutl, or restore without them.`
      );
    }
  }
  return undefined;
}

/** A path never taken for a flag by the tool's parser (`-x.db` becomes `./-x.db`). */
export function safePathArg(p: string): string {
  return p.startsWith('-') ? `./${p}` : p;
}

/**
 * Arguments after the program: `snapshot restore <file> --name=... ...`, one `--flag=value`
 * word per flag (a value starting with `-` cannot be taken for a flag).
 */
export function restoreArgs(flags: RestoreFlags): string[] {
  const args = [
    'snapshot',
    'restore',
    safePathArg(flags.snapshot),
    `--name=${flags.name}`,
    `--initial-cluster=${flags.initialCluster}`,
    `--initial-advertise-peer-urls=${flags.initialAdvertisePeerUrls}`,
    `--initial-cluster-token=${flags.initialClusterToken}`,
    `--data-dir=${flags.dataDir}`,
  ];
  if (flags.skipHashCheck) {
    args.push('--skip-hash-check');
  }
  if (flags.bumpRevision) {
    args.push(`--bump-revision=${flags.bumpRevision}`);
  }
  if (flags.markCompacted) {
    args.push('--mark-compacted');
  }
  return args;
}

/** The caveat shown wherever `--skip-hash-check` is offered. */
export const SKIP_HASH_CHECK_CAVEAT =
  'A member/snap/db copied out of a data dir has no SHA-256 trailer, so nothing proves ' +
  'it is intact, and it may miss the latest writes that were still only in the WAL.';
