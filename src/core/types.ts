/**
 * Types shared by every part of the extension and the CLI. No `vscode` import here
 * (src/core is plain Node); extend these rather than declaring a second version elsewhere.
 */

/** Client TLS files, as paths on the machine the extension runs on. */
export interface TlsFiles {
  /** CA bundle that signed the servers' certificates (`--cacert`). */
  caFile?: string;
  /** Client certificate (`--cert`). */
  certFile?: string;
  /** Client private key (`--key`). */
  keyFile?: string;
  /** Skip server certificate verification (etcdctl `--insecure-skip-tls-verify`). */
  insecureSkipVerify?: boolean;
}

/** One configured cluster: its name, endpoints, TLS files, user and timeout. */
export interface ClusterConfig {
  /** Unique, human name of the cluster. */
  name: string;
  /** Client URLs, e.g. `https://10.0.0.11:2379`. At least one. */
  endpoints: string[];
  /** TLS files; absent for plain `http://` clusters. */
  tls?: TlsFiles;
  /** etcd user name for `--user`; the password lives in the editor's secret storage. */
  username?: string;
  /** Folder where snapshots of this cluster are written and listed. */
  snapshotDir?: string;
  /** Dial and per-request deadline, in milliseconds. */
  timeoutMs?: number;
}

/** Credentials that are never written to settings. */
export interface ClusterSecrets {
  password?: string;
}

/** A member as the Cluster API reports it. `id` is lowercase hex, as etcdctl prints it. */
export interface MemberInfo {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** What `Maintenance.Status` returns for one endpoint (etcdctl `endpoint status`). */
export interface EndpointStatus {
  endpoint: string;
  /** Member id (hex) of the member that answered. */
  memberId: string;
  /** Leader's member id (hex); `0` when there is none. */
  leaderId: string;
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  raftTerm: string;
  raftIndex: string;
  raftAppliedIndex: string;
  isLearner: boolean;
  errors: string[];
}

/** Health of one endpoint (etcdctl `endpoint health`). */
export interface EndpointHealth {
  endpoint: string;
  healthy: boolean;
  /** Round-trip of the health probe in milliseconds. */
  tookMs: number;
  /** One sentence when unhealthy. */
  error?: string;
  /** The kind of error when unhealthy (see errors.ts). */
  errorKind?: import('./errors').ErrorKind;
}

/** Default dial/request deadline when a cluster does not set one. */
export const DEFAULT_TIMEOUT_MS = 5000;
