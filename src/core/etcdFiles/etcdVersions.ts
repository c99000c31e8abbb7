/**
 * etcd's flags and config-file keys per minor release, read from etcd's own sources (the git
 * tags of etcd-io/etcd): for every patch release of 3.4, 3.5 and 3.6, the flags registered in
 * `etcdmain/config.go`, `embed/config.go` and `embed/config_logging.go` (3.5+: under `server/`;
 * 3.6 adds `--feature-gates` through its feature-gate package), and the YAML keys of etcd's config
 * file (`--config-file`): the `json:` tags of `embed.Config`, `configJSON` and the logging and
 * tracing configs at the top level, `securityConfig`'s under `client-transport-security` /
 * `peer-transport-security`. Each list is the union over the minor's patch releases. Every flag is
 * also read from the environment as `ETCD_` + upper case with `_` for `-`; a config file is
 * unmarshalled with sigs.k8s.io/yaml, which ignores keys it does not know.
 */

export type EtcdMinor = '3.4' | '3.5' | '3.6';

export const ETCD_MINORS: readonly EtcdMinor[] = ['3.4', '3.5', '3.6'];

interface MinorData {
  flags: readonly string[];
  configKeys: readonly string[];
  transportKeys: readonly string[];
}

export const ETCD_RELEASES: Readonly<Record<EtcdMinor, MinorData>> = {
  '3.4': {
    flags: [
      'advertise-client-urls', 'auth-token', 'auth-token-ttl', 'auto-compaction-mode', 'auto-compaction-retention', 'auto-tls',
      'backend-batch-interval', 'backend-batch-limit', 'bcrypt-cost', 'cert-file', 'cipher-suites', 'client-cert-allowed-hostname',
      'client-cert-auth', 'client-crl-file', 'config-file', 'cors', 'data-dir', 'debug', 'discovery', 'discovery-fallback',
      'discovery-proxy', 'discovery-srv', 'discovery-srv-name', 'election-timeout', 'enable-grpc-gateway', 'enable-pprof',
      'enable-v2', 'experimental-backend-bbolt-freelist-type', 'experimental-compaction-batch-limit',
      'experimental-corrupt-check-time', 'experimental-enable-lease-checkpoint', 'experimental-enable-lease-checkpoint-persist',
      'experimental-enable-v2v3', 'experimental-initial-corrupt-check', 'experimental-peer-skip-client-san-verification',
      'experimental-warning-apply-duration', 'experimental-watch-progress-notify-interval', 'force-new-cluster',
      'grpc-keepalive-interval', 'grpc-keepalive-min-time', 'grpc-keepalive-timeout', 'heartbeat-interval', 'host-whitelist',
      'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token',
      'initial-election-tick-advance', 'key-file', 'listen-client-http-urls', 'listen-client-urls', 'listen-metrics-urls',
      'listen-peer-urls', 'log-level', 'log-output', 'log-outputs', 'log-package-levels', 'logger', 'max-concurrent-streams',
      'max-request-bytes', 'max-snapshots', 'max-txn-ops', 'max-wals', 'metrics', 'name', 'next-cluster-version-compatible',
      'peer-auto-tls', 'peer-cert-allowed-cn', 'peer-cert-allowed-hostname', 'peer-cert-file', 'peer-client-cert-auth',
      'peer-crl-file', 'peer-key-file', 'peer-trusted-ca-file', 'pre-vote', 'proxy', 'proxy-dial-timeout', 'proxy-failure-wait',
      'proxy-read-timeout', 'proxy-refresh-interval', 'proxy-write-timeout', 'quota-backend-bytes', 'snapshot-count',
      'strict-reconfig-check', 'tls-max-version', 'tls-min-version', 'trusted-ca-file', 'unsafe-no-fsync', 'version', 'wal-dir',
    ],
    configKeys: [
      'advertise-client-urls', 'auth-token', 'auth-token-ttl', 'auto-compaction-mode', 'auto-compaction-retention',
      'backend-batch-interval', 'backend-batch-limit', 'bcrypt-cost', 'cipher-suites', 'client-transport-security', 'cors',
      'data-dir', 'debug', 'discovery', 'discovery-proxy', 'discovery-srv', 'discovery-srv-name', 'election-timeout',
      'enable-grpc-gateway', 'enable-pprof', 'enable-v2', 'experimental-backend-bbolt-freelist-type',
      'experimental-compaction-batch-limit', 'experimental-corrupt-check-time', 'experimental-enable-lease-checkpoint',
      'experimental-enable-lease-checkpoint-persist', 'experimental-enable-v2v3', 'experimental-initial-corrupt-check',
      'experimental-warning-apply-duration', 'experimental-watch-progress-notify-interval', 'force-new-cluster',
      'grpc-keepalive-interval', 'grpc-keepalive-min-time', 'grpc-keepalive-timeout', 'heartbeat-interval', 'host-whitelist',
      'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token',
      'initial-election-tick-advance', 'listen-client-http-urls', 'listen-client-urls', 'listen-metrics-urls', 'listen-peer-urls',
      'log-level', 'log-output', 'log-outputs', 'log-package-levels', 'logger', 'max-concurrent-streams', 'max-request-bytes',
      'max-snapshots', 'max-txn-ops', 'max-wals', 'metrics', 'name', 'next-cluster-version-compatible', 'peer-transport-security',
      'pre-vote', 'quota-backend-bytes', 'snapshot-count', 'strict-reconfig-check', 'tls-max-version', 'tls-min-version',
      'unsafe-no-fsync', 'wal-dir',
    ],
    transportKeys: [
      'auto-tls', 'cert-file', 'client-cert-auth', 'key-file', 'trusted-ca-file',
    ],
  },
  '3.5': {
    flags: [
      'advertise-client-urls', 'auth-token', 'auth-token-ttl', 'auto-compaction-mode', 'auto-compaction-retention', 'auto-tls',
      'backend-batch-interval', 'backend-batch-limit', 'backend-bbolt-freelist-type', 'bcrypt-cost', 'cert-file', 'cipher-suites',
      'client-cert-allowed-hostname', 'client-cert-auth', 'client-cert-file', 'client-crl-file', 'client-key-file', 'config-file',
      'cors', 'data-dir', 'discovery', 'discovery-fallback', 'discovery-proxy', 'discovery-srv', 'discovery-srv-name',
      'election-timeout', 'enable-grpc-gateway', 'enable-log-rotation', 'enable-pprof', 'enable-v2',
      'experimental-bootstrap-defrag-threshold-megabytes', 'experimental-compact-hash-check-enabled',
      'experimental-compact-hash-check-time', 'experimental-compaction-batch-limit', 'experimental-compaction-sleep-interval',
      'experimental-corrupt-check-time', 'experimental-distributed-tracing-address',
      'experimental-distributed-tracing-instance-id', 'experimental-distributed-tracing-sampling-rate',
      'experimental-distributed-tracing-service-name', 'experimental-downgrade-check-time',
      'experimental-enable-distributed-tracing', 'experimental-enable-lease-checkpoint',
      'experimental-enable-lease-checkpoint-persist', 'experimental-enable-v2v3', 'experimental-initial-corrupt-check',
      'experimental-memory-mlock', 'experimental-peer-skip-client-san-verification', 'experimental-snapshot-catchup-entries',
      'experimental-stop-grpc-service-on-defrag', 'experimental-txn-mode-write-with-shared-buffer',
      'experimental-warning-apply-duration', 'experimental-watch-progress-notify-interval', 'force-new-cluster',
      'grpc-keepalive-interval', 'grpc-keepalive-min-time', 'grpc-keepalive-timeout', 'heartbeat-interval', 'host-whitelist',
      'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token',
      'initial-election-tick-advance', 'key-file', 'listen-client-http-urls', 'listen-client-urls', 'listen-metrics-urls',
      'listen-peer-urls', 'log-level', 'log-outputs', 'log-rotation-config-json', 'logger', 'max-concurrent-streams',
      'max-request-bytes', 'max-snapshots', 'max-txn-ops', 'max-wals', 'metrics', 'name', 'peer-auto-tls', 'peer-cert-allowed-cn',
      'peer-cert-allowed-hostname', 'peer-cert-file', 'peer-client-cert-auth', 'peer-client-cert-file', 'peer-client-key-file',
      'peer-crl-file', 'peer-key-file', 'peer-trusted-ca-file', 'pre-vote', 'proxy', 'proxy-dial-timeout', 'proxy-failure-wait',
      'proxy-read-timeout', 'proxy-refresh-interval', 'proxy-write-timeout', 'quota-backend-bytes', 'raft-read-timeout',
      'raft-write-timeout', 'self-signed-cert-validity', 'snapshot-count', 'socket-reuse-address', 'socket-reuse-port',
      'strict-reconfig-check', 'tls-max-version', 'tls-min-version', 'trusted-ca-file', 'unsafe-no-fsync', 'v2-deprecation',
      'version', 'wal-dir',
    ],
    configKeys: [
      'advertise-client-urls', 'auth-token', 'auth-token-ttl', 'auto-compaction-mode', 'auto-compaction-retention',
      'backend-batch-interval', 'backend-batch-limit', 'backend-bbolt-freelist-type', 'bcrypt-cost', 'cipher-suites',
      'client-transport-security', 'cors', 'data-dir', 'discovery', 'discovery-proxy', 'discovery-srv', 'discovery-srv-name',
      'election-timeout', 'enable-grpc-gateway', 'enable-log-rotation', 'enable-pprof', 'enable-v2',
      'experimental-bootstrap-defrag-threshold-megabytes', 'experimental-compact-hash-check-enabled',
      'experimental-compact-hash-check-time', 'experimental-compaction-batch-limit', 'experimental-compaction-sleep-interval',
      'experimental-corrupt-check-time', 'experimental-distributed-tracing-address',
      'experimental-distributed-tracing-instance-id', 'experimental-distributed-tracing-sampling-rate',
      'experimental-distributed-tracing-service-name', 'experimental-downgrade-check-time',
      'experimental-enable-distributed-tracing', 'experimental-enable-lease-checkpoint',
      'experimental-enable-lease-checkpoint-persist', 'experimental-enable-v2v3', 'experimental-initial-corrupt-check',
      'experimental-memory-mlock', 'experimental-snapshot-catch-up-entries', 'experimental-stop-grpc-service-on-defrag',
      'experimental-txn-mode-write-with-shared-buffer', 'experimental-warning-apply-duration',
      'experimental-watch-progress-notify-interval', 'force-new-cluster', 'grpc-keepalive-interval', 'grpc-keepalive-min-time',
      'grpc-keepalive-timeout', 'heartbeat-interval', 'host-whitelist', 'initial-advertise-peer-urls', 'initial-cluster',
      'initial-cluster-state', 'initial-cluster-token', 'initial-election-tick-advance', 'listen-client-http-urls',
      'listen-client-urls', 'listen-metrics-urls', 'listen-peer-urls', 'log-level', 'log-outputs', 'log-rotation-config-json',
      'logger', 'max-concurrent-streams', 'max-request-bytes', 'max-snapshots', 'max-txn-ops', 'max-wals', 'metrics', 'name',
      'peer-transport-security', 'pre-vote', 'quota-backend-bytes', 'self-signed-cert-validity', 'snapshot-count',
      'socket-options', 'strict-reconfig-check', 'tls-max-version', 'tls-min-version', 'unsafe-no-fsync', 'v2-deprecation',
      'wal-dir',
    ],
    transportKeys: [
      'allowed-cn', 'allowed-hostname', 'auto-tls', 'cert-file', 'client-cert-auth', 'client-cert-file', 'client-key-file',
      'key-file', 'trusted-ca-file',
    ],
  },
  '3.6': {
    flags: [
      'advertise-client-urls', 'auth-token', 'auth-token-ttl', 'auto-compaction-mode', 'auto-compaction-retention', 'auto-tls',
      'backend-batch-interval', 'backend-batch-limit', 'backend-bbolt-freelist-type', 'bcrypt-cost',
      'bootstrap-defrag-threshold-megabytes', 'cert-file', 'cipher-suites', 'client-cert-allowed-hostname', 'client-cert-auth',
      'client-cert-file', 'client-crl-file', 'client-key-file', 'compact-hash-check-time', 'compaction-batch-limit',
      'compaction-sleep-interval', 'config-file', 'corrupt-check-time', 'cors', 'data-dir', 'discovery', 'discovery-cacert',
      'discovery-cert', 'discovery-dial-timeout', 'discovery-endpoints', 'discovery-fallback',
      'discovery-insecure-skip-tls-verify', 'discovery-insecure-transport', 'discovery-keepalive-time',
      'discovery-keepalive-timeout', 'discovery-key', 'discovery-password', 'discovery-proxy', 'discovery-request-timeout',
      'discovery-srv', 'discovery-srv-name', 'discovery-token', 'discovery-user', 'distributed-tracing-address',
      'distributed-tracing-instance-id', 'distributed-tracing-sampling-rate', 'distributed-tracing-service-name',
      'downgrade-check-time', 'election-timeout', 'enable-distributed-tracing', 'enable-grpc-gateway', 'enable-log-rotation',
      'enable-pprof', 'experimental-bootstrap-defrag-threshold-megabytes', 'experimental-compact-hash-check-enabled',
      'experimental-compact-hash-check-time', 'experimental-compaction-batch-limit', 'experimental-compaction-sleep-interval',
      'experimental-corrupt-check-time', 'experimental-distributed-tracing-address',
      'experimental-distributed-tracing-instance-id', 'experimental-distributed-tracing-sampling-rate',
      'experimental-distributed-tracing-service-name', 'experimental-downgrade-check-time',
      'experimental-enable-distributed-tracing', 'experimental-enable-lease-checkpoint',
      'experimental-enable-lease-checkpoint-persist', 'experimental-initial-corrupt-check', 'experimental-memory-mlock',
      'experimental-peer-skip-client-san-verification', 'experimental-snapshot-catchup-entries',
      'experimental-stop-grpc-service-on-defrag', 'experimental-txn-mode-write-with-shared-buffer',
      'experimental-warning-apply-duration', 'experimental-warning-unary-request-duration',
      'experimental-watch-progress-notify-interval', 'feature-gates', 'force-new-cluster', 'grpc-keepalive-interval',
      'grpc-keepalive-min-time', 'grpc-keepalive-timeout', 'heartbeat-interval', 'host-whitelist', 'initial-advertise-peer-urls',
      'initial-cluster', 'initial-cluster-state', 'initial-cluster-token', 'initial-election-tick-advance', 'key-file',
      'listen-client-http-urls', 'listen-client-urls', 'listen-metrics-urls', 'listen-peer-urls', 'log-format', 'log-level',
      'log-outputs', 'log-rotation-config-json', 'logger', 'max-concurrent-streams', 'max-learners', 'max-request-bytes',
      'max-snapshots', 'max-txn-ops', 'max-wals', 'memory-mlock', 'metrics', 'name', 'peer-auto-tls', 'peer-cert-allowed-cn',
      'peer-cert-allowed-hostname', 'peer-cert-file', 'peer-client-cert-auth', 'peer-client-cert-file', 'peer-client-key-file',
      'peer-crl-file', 'peer-key-file', 'peer-skip-client-san-verification', 'peer-trusted-ca-file', 'pre-vote',
      'quota-backend-bytes', 'raft-read-timeout', 'raft-write-timeout', 'self-signed-cert-validity', 'snapshot-catchup-entries',
      'snapshot-count', 'socket-reuse-address', 'socket-reuse-port', 'strict-reconfig-check', 'tls-max-version', 'tls-min-version',
      'trusted-ca-file', 'unsafe-no-fsync', 'v2-deprecation', 'version', 'wal-dir', 'warning-apply-duration',
      'warning-unary-request-duration', 'watch-progress-notify-interval',
    ],
    configKeys: [
      'advertise-client-urls', 'auth-token', 'auth-token-ttl', 'auto-compaction-mode', 'auto-compaction-retention',
      'backend-batch-interval', 'backend-batch-limit', 'backend-bbolt-freelist-type', 'bcrypt-cost',
      'bootstrap-defrag-threshold-megabytes', 'cipher-suites', 'client-transport-security', 'compact-hash-check-time',
      'compaction-batch-limit', 'compaction-sleep-interval', 'corrupt-check-time', 'cors', 'data-dir', 'discovery',
      'discovery-config', 'discovery-proxy', 'discovery-srv', 'discovery-srv-name', 'distributed-tracing-address',
      'distributed-tracing-instance-id', 'distributed-tracing-sampling-rate', 'distributed-tracing-service-name',
      'downgrade-check-time', 'election-timeout', 'enable-distributed-tracing', 'enable-grpc-gateway', 'enable-log-rotation',
      'enable-pprof', 'experimental-bootstrap-defrag-threshold-megabytes', 'experimental-compact-hash-check-enabled',
      'experimental-compact-hash-check-time', 'experimental-compaction-batch-limit', 'experimental-compaction-sleep-interval',
      'experimental-corrupt-check-time', 'experimental-distributed-tracing-address',
      'experimental-distributed-tracing-instance-id', 'experimental-distributed-tracing-sampling-rate',
      'experimental-distributed-tracing-service-name', 'experimental-downgrade-check-time',
      'experimental-enable-distributed-tracing', 'experimental-enable-lease-checkpoint',
      'experimental-enable-lease-checkpoint-persist', 'experimental-initial-corrupt-check', 'experimental-memory-mlock',
      'experimental-peer-skip-client-san-verification', 'experimental-snapshot-catch-up-entries',
      'experimental-stop-grpc-service-on-defrag', 'experimental-txn-mode-write-with-shared-buffer',
      'experimental-warning-apply-duration', 'experimental-warning-unary-request-duration',
      'experimental-watch-progress-notify-interval', 'feature-gates', 'force-new-cluster', 'grpc-additional-server-options',
      'grpc-keepalive-interval', 'grpc-keepalive-min-time', 'grpc-keepalive-timeout', 'heartbeat-interval', 'host-whitelist',
      'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token',
      'initial-election-tick-advance', 'listen-client-http-urls', 'listen-client-urls', 'listen-metrics-urls', 'listen-peer-urls',
      'log-format', 'log-level', 'log-outputs', 'log-rotation-config-json', 'logger', 'max-concurrent-streams', 'max-learners',
      'max-request-bytes', 'max-snapshots', 'max-txn-ops', 'max-wals', 'memory-mlock', 'metrics', 'name',
      'peer-transport-security', 'pre-vote', 'quota-backend-bytes', 'self-signed-cert-validity', 'snapshot-catchup-entries',
      'snapshot-count', 'socket-options', 'strict-reconfig-check', 'tls-max-version', 'tls-min-version', 'unsafe-no-fsync',
      'v2-deprecation', 'wal-dir', 'warning-apply-duration', 'warning-unary-request-duration', 'watch-progress-notify-interval',
    ],
    transportKeys: [
      'allowed-cn', 'allowed-hostname', 'auto-tls', 'cert-file', 'client-cert-auth', 'client-cert-file', 'client-key-file',
      'key-file', 'skip-client-san-verification', 'trusted-ca-file',
    ],
  },
};

/** `socket-options:` keys of the config file (3.5+: `transport.SocketOpts`). */
export const SOCKET_OPTION_KEYS: Readonly<Record<EtcdMinor, readonly string[]>> = {
  '3.4': [],
  '3.5': ['reuse-address', 'reuse-port'],
  '3.6': ['reuse-address', 'reuse-port'],
};
