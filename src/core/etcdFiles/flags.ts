/**
 * etcd's flags by release (the lists of etcdVersions.ts, read from etcd's own sources), the
 * boolean ones, and the names etcd reads from the environment.
 */
import { ETCD_MINORS, ETCD_RELEASES, EtcdMinor } from './etcdVersions';

export type { EtcdMinor } from './etcdVersions';

/** Every flag of etcd 3.4 (any patch release). */
export const ETCD_34_FLAGS: readonly string[] = ETCD_RELEASES['3.4'].flags;

/** Flags etcd 3.5 has that 3.4 does not. */
export const ETCD_35_FLAGS: readonly string[] = ETCD_RELEASES['3.5'].flags.filter((f) => !ETCD_34_FLAGS.includes(f));

/** Flags etcd 3.6 has that 3.5 does not. */
export const ETCD_36_FLAGS: readonly string[] = ETCD_RELEASES['3.6'].flags.filter((f) => !ETCD_RELEASES['3.5'].flags.includes(f));

/** Boolean flags (`fs.BoolVar` in etcd's sources, 3.4 to 3.6; and `help`): they take no separate value word. */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'initial-election-tick-advance',
  'strict-reconfig-check',
  'pre-vote',
  'enable-v2',
  'client-cert-auth',
  'auto-tls',
  'peer-client-cert-auth',
  'peer-auto-tls',
  'enable-pprof',
  'experimental-initial-corrupt-check',
  'experimental-enable-lease-checkpoint',
  'experimental-peer-skip-client-san-verification',
  'force-new-cluster',
  'debug',
  'version',
  'help',
  'socket-reuse-port',
  'socket-reuse-address',
  'enable-log-rotation',
  'unsafe-no-fsync',
  'experimental-enable-distributed-tracing',
  'experimental-txn-mode-write-with-shared-buffer',
  'experimental-memory-mlock',
  'experimental-compact-hash-check-enabled',
  'experimental-enable-lease-checkpoint-persist',
  'experimental-stop-grpc-service-on-defrag',
  'discovery-insecure-skip-tls-verify',
  'discovery-insecure-transport',
  'enable-distributed-tracing',
  'enable-grpc-gateway',
  'memory-mlock',
  'next-cluster-version-compatible',
  'peer-skip-client-san-verification',
]);

const KNOWN = new Set([...ETCD_MINORS.flatMap((m) => ETCD_RELEASES[m].flags), 'help']);

/** Is `name` (no dashes) a flag of etcd 3.4, 3.5 or 3.6 (of `version` when given)? */
export function isKnownFlag(name: string, version?: EtcdMinor): boolean {
  if (version) return name === 'help' || ETCD_RELEASES[version].flags.includes(name);
  return KNOWN.has(name);
}

/** The releases (3.4, 3.5, 3.6) that have this flag. */
export function flagReleases(name: string): EtcdMinor[] {
  return ETCD_MINORS.filter((m) => name === 'help' || ETCD_RELEASES[m].flags.includes(name));
}

/** "3.4, 3.5 or 3.6" */
export function releaseList(ms: readonly string[], word = 'or'): string {
  return ms.length < 2 ? ms.join('') : `${ms.slice(0, -1).join(', ')} ${word} ${ms[ms.length - 1]}`;
}

/**
 * The etcd release an image tag or version names (`registry.k8s.io/etcd:3.5.15-0`,
 * `quay.io/coreos/etcd:v3.4.13`, `v3.6.0`), when it is one of 3.4, 3.5, 3.6.
 */
export function etcdMinorOf(imageOrVersion: string | undefined): EtcdMinor | undefined {
  const s = (imageOrVersion ?? '').trim().replace(/@sha256:[0-9a-f]+$/, '');
  const tag = s.slice(s.lastIndexOf(':') + 1);
  const m = /^v?(3\.[456])(\.\d+)*([-+][\w.-]*)?$/.exec(tag);
  return m ? (m[1] as EtcdMinor) : undefined;
}

/**
 * Variables that the wrappers around etcd read, not etcd itself: CoreOS Container Linux's
 * `etcd-wrapper` (etcd-member.service: the image, the user it runs as, its TLS dir, rkt's
 * arguments) and the image tag of kubeadm-style scripts. etcd sees them only through the
 * wrapper's environment, if at all.
 */
export const WRAPPER_ENV_VARS: ReadonlySet<string> = new Set([
  'ETCD_IMAGE',
  'ETCD_IMAGE_TAG',
  'ETCD_IMAGE_URL',
  'ETCD_IMAGE_ARGS',
  'ETCD_USER',
  'ETCD_SSL_DIR',
  'ETCD_OPTS',
]);

/** `data-dir` -> `ETCD_DATA_DIR`. */
export function envNameOf(flag: string): string {
  return `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** `ETCD_DATA_DIR` -> `data-dir` (no check that the flag exists). */
export function flagNameOfEnv(env: string): string {
  return env
    .replace(/^ETCD_/, '')
    .toLowerCase()
    .replace(/_/g, '-');
}

/**
 * Variables etcd reads that are not flags: `ETCD_UNSUPPORTED_ARCH` (etcd refuses to run on some
 * architectures without it). etcdctl's `ETCDCTL_*` do not start with `ETCD_`.
 */
export const EXTRA_ENV_VARS: ReadonlySet<string> = new Set(['ETCD_UNSUPPORTED_ARCH']);

/** Levenshtein distance (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/**
 * The known flag closest to an unknown one, when it is close enough to be a typo (at most a
 * third of the name's length, and at most 4 edits), or undefined.
 */
export function closestFlag(name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const f of KNOWN) {
    const d = editDistance(name, f);
    if (d < bestD || (d === bestD && best !== undefined && f < best)) {
      best = f;
      bestD = d;
    }
  }
  const limit = Math.min(4, Math.max(1, Math.floor(name.length / 3)));
  return bestD <= limit ? best : undefined;
}
