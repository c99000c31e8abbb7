/**
 * The native reader of etcd v3 snapshot files (bbolt): status figures as etcdctl computes
 * them, a thorough verification, what the snapshot holds (members, keyspace by prefix),
 * listing and searching keys, and the difference between two snapshots. Plain Node.
 */
export { BoltFile, SnapshotCorruptError } from './bbolt';
export { crc32c, crc32cUpdate } from './crc32c';
export { describeValue } from './mvcc';
export type { ValueKind, ValueView } from './mvcc';
export { diffSnapshots, inspectSnapshot, listKeys, prefixOf, readSnapshotMembers, snapshotKeyFigures } from './inspect';
export type {
  InspectOptions,
  KeyspaceSummary,
  ListedKey,
  ListOptions,
  ListResult,
  PrefixDiff,
  PrefixFigures,
  SnapshotDiff,
  SnapshotMember,
  SnapshotReport,
} from './inspect';
export { snapshotStatus } from './status';
export type { SnapshotStatus, StatusOptions } from './status';
export { checkTrailer } from './trailer';
export type { TrailerCheck } from './trailer';
export { verifySnapshot } from './verify';
export type { VerifyOptions, VerifyResult } from './verify';
