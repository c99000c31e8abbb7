/**
 * Backups that run themselves: the engine behind `etcd-backup backup ...` (plain Node; the AWS
 * SDK is loaded only when a store is opened).
 *
 * - plan.ts: the plan file (`loadPlan`, `parsePlan`, `BackupPlan`, `PlanError`).
 * - age.ts: the age format (`createEncryptStream`, `createDecryptStream`, `parseRecipient`,
 *   `parseIdentities`, `generateIdentity`, `recipientFingerprint`).
 * - store.ts / storeS3.ts: the object store interface and its S3 implementation.
 * - catalog.ts: names, metadata, and which files/objects are ours (`listLocal`, `listRemote`).
 * - retention.ts / prune.ts: restic-style keep rules and pruning.
 * - run.ts: one run (`runBackup`; `uploadData` + `writeMetadata` for other producers).
 * - fetch.ts: a backup back into a plain snapshot file (`fetchBackup`).
 * - status.ts: status file, metrics, staleness (`recordRun`, `statusReport`).
 * - schedule.ts / units.ts: OnCalendar and the systemd units. lock.ts: one run per plan.
 */
export * from './age';
export * from './catalog';
export * from './fetch';
export * from './lock';
export * from './plan';
export * from './prune';
export * from './retention';
export * from './run';
export * from './schedule';
export * from './status';
export type * from './store';
export * from './units';
