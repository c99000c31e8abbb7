/**
 * The exact `etcdctl` invocation for a configured cluster: as an argument array (to spawn,
 * never through a shell) and as a POSIX-shell-quoted line to paste into a terminal.
 * The password is never part of either: with `--user` alone etcdctl asks for it.
 */
import { ClusterConfig, DEFAULT_TIMEOUT_MS } from './types';

export interface EtcdctlCommand {
  /** Program and arguments, for `spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env } })`. */
  argv: string[];
  /** Environment the command needs (`ETCDCTL_API=3`). */
  env: Record<string, string>;
  /** One line for a POSIX shell: `ETCDCTL_API=3 etcdctl --endpoints=... ...`. */
  shell: string;
}

export interface EtcdctlOptions {
  /** Program name or path (default `etcdctl`). */
  program?: string;
  /** Only these endpoints (default: all the cluster's endpoints). */
  endpoints?: string[];
  /** etcdctl sub-command and its arguments, e.g. `['endpoint', 'status', '-w', 'table']`. */
  args?: string[];
  /** Add `--dial-timeout`/`--command-timeout` when the cluster sets a timeout other than the default (default true). */
  commandTimeout?: boolean;
}

/** Characters that need no quoting in a POSIX shell word. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quote one word for a POSIX shell (sh, bash, zsh): left bare when it is safe, otherwise in
 * single quotes, with each `'` written as `'\''`.
 */
export function shellQuote(word: string): string {
  if (word !== '' && SAFE.test(word)) {
    return word;
  }
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `--flag=value` with only the value quoted (reads better than quoting the whole word). */
function quoteFlag(arg: string): string {
  const m = /^(--[A-Za-z0-9-]+=)([\s\S]*)$/.exec(arg);
  if (m) {
    return m[1] + shellQuote(m[2]);
  }
  return shellQuote(arg);
}

/** Go duration syntax for etcdctl's `--dial-timeout`/`--command-timeout` ("5s", "1500ms"). */
function goDurationFlag(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function buildEtcdctlCommand(cluster: ClusterConfig, options: EtcdctlOptions = {}): EtcdctlCommand {
  const program = options.program || 'etcdctl';
  const endpoints = options.endpoints ?? cluster.endpoints;
  const args: string[] = [`--endpoints=${endpoints.join(',')}`];
  const tls = cluster.tls;
  if (tls?.caFile) args.push(`--cacert=${tls.caFile}`);
  if (tls?.certFile) args.push(`--cert=${tls.certFile}`);
  if (tls?.keyFile) args.push(`--key=${tls.keyFile}`);
  if (tls?.insecureSkipVerify) args.push('--insecure-skip-tls-verify');
  if (cluster.username) args.push(`--user=${cluster.username}`);
  if (cluster.timeoutMs && cluster.timeoutMs !== DEFAULT_TIMEOUT_MS && options.commandTimeout !== false) {
    args.push(`--dial-timeout=${goDurationFlag(cluster.timeoutMs)}`, `--command-timeout=${goDurationFlag(cluster.timeoutMs)}`);
  }
  args.push(...(options.args ?? []));
  const env = { ETCDCTL_API: '3' };
  const shell = ['ETCDCTL_API=3', shellQuote(program), ...args.map(quoteFlag)].join(' ');
  return { argv: [program, ...args], env, shell };
}
