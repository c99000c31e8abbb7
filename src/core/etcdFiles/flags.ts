/**
 * etcd's real flag list. `ETCD_34_FLAGS` is taken verbatim from `etcd --help` of Debian's
 * /usr/bin/etcd 3.4.23 (plus `config-file`, `version` and `help`, which its usage block lists
 * apart); `ETCD_35_FLAGS` are the flags etcd 3.5 added (kubeadm's images run 3.5). Every flag is
 * also read from the environment as `ETCD_` + upper case with `_` for `-`.
 */

export const ETCD_34_FLAGS: readonly string[] = [
  'name',
  'data-dir',
  'wal-dir',
  'snapshot-count',
  'heartbeat-interval',
  'election-timeout',
  'initial-election-tick-advance',
  'listen-peer-urls',
  'listen-client-urls',
  'max-snapshots',
  'max-wals',
  'quota-backend-bytes',
  'backend-batch-interval',
  'backend-batch-limit',
  'max-txn-ops',
  'max-request-bytes',
  'max-concurrent-streams',
  'grpc-keepalive-min-time',
  'grpc-keepalive-interval',
  'grpc-keepalive-timeout',
  'initial-advertise-peer-urls',
  'initial-cluster',
  'initial-cluster-state',
  'initial-cluster-token',
  'advertise-client-urls',
  'discovery',
  'discovery-fallback',
  'discovery-proxy',
  'discovery-srv',
  'discovery-srv-name',
  'strict-reconfig-check',
  'pre-vote',
  'auto-compaction-retention',
  'auto-compaction-mode',
  'enable-v2',
  'cert-file',
  'key-file',
  'client-cert-auth',
  'client-crl-file',
  'client-cert-allowed-hostname',
  'trusted-ca-file',
  'auto-tls',
  'peer-cert-file',
  'peer-key-file',
  'peer-client-cert-auth',
  'peer-trusted-ca-file',
  'peer-cert-allowed-cn',
  'peer-cert-allowed-hostname',
  'peer-auto-tls',
  'peer-crl-file',
  'cipher-suites',
  'cors',
  'host-whitelist',
  'auth-token',
  'bcrypt-cost',
  'auth-token-ttl',
  'enable-pprof',
  'metrics',
  'listen-metrics-urls',
  'logger',
  'log-outputs',
  'log-level',
  'proxy',
  'proxy-failure-wait',
  'proxy-refresh-interval',
  'proxy-dial-timeout',
  'proxy-write-timeout',
  'proxy-read-timeout',
  'experimental-initial-corrupt-check',
  'experimental-corrupt-check-time',
  'experimental-enable-v2v3',
  'experimental-backend-bbolt-freelist-type',
  'experimental-enable-lease-checkpoint',
  'experimental-compaction-batch-limit',
  'experimental-peer-skip-client-san-verification',
  'experimental-watch-progress-notify-interval',
  'experimental-warning-apply-duration',
  'force-new-cluster',
  'debug',
  'log-package-levels',
  'config-file',
  'version',
  'help',
];

/** Flags added by etcd 3.5 (not an error when a manifest runs a 3.5 image). */
export const ETCD_35_FLAGS: readonly string[] = [
  'client-cert-file',
  'client-key-file',
  'peer-client-cert-file',
  'peer-client-key-file',
  'listen-client-http-urls',
  'socket-reuse-port',
  'socket-reuse-address',
  'log-format',
  'enable-log-rotation',
  'log-rotation-config-json',
  'tls-min-version',
  'tls-max-version',
  'self-signed-cert-validity',
  'unsafe-no-fsync',
  'v2-deprecation',
  'experimental-enable-distributed-tracing',
  'experimental-distributed-tracing-address',
  'experimental-distributed-tracing-service-name',
  'experimental-distributed-tracing-instance-id',
  'experimental-distributed-tracing-sampling-rate',
  'experimental-txn-mode-write-with-shared-buffer',
  'experimental-bootstrap-defrag-threshold-megabytes',
  'experimental-warning-unary-request-duration',
  'experimental-max-learners',
  'experimental-memory-mlock',
  'experimental-snapshot-catchup-entries',
  'experimental-compact-hash-check-enabled',
  'experimental-compact-hash-check-time',
  'experimental-downgrade-check-time',
  'experimental-enable-lease-checkpoint-persist',
  'experimental-compaction-sleep-interval',
  'experimental-wait-cluster-ready-timeout',
  'experimental-stop-grpc-service-on-defrag',
];

/** Boolean flags (etcd 3.4 help shows 'true'/'false' defaults; plus 3.5's): they take no separate value word. */
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
]);

const KNOWN = new Set([...ETCD_34_FLAGS, ...ETCD_35_FLAGS]);

/** Is `name` (no dashes) a flag of etcd 3.4 or 3.5? */
export function isKnownFlag(name: string): boolean {
  return KNOWN.has(name);
}

/** `data-dir` -> `ETCD_DATA_DIR`. */
export function envNameOf(flag: string): string {
  return `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** `ETCD_DATA_DIR` -> `data-dir` (no check that the flag exists). */
export function flagNameOfEnv(env: string): string {
  return env.replace(/^ETCD_/, '').toLowerCase().replace(/_/g, '-');
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
