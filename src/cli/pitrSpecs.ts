/**
 * The flags and help of `backup follow` and of the point-in-time `backup fetch`, apart from
 * their code (./backupFollow.ts, loaded only when one of them runs) so that the backup group's
 * table (./backup.ts) lists them without loading the change-log follower.
 */
import { PLAN_FLAG, writeOutFlag } from './args';
import type { CommandSpec } from './types';

export const followSpec: CommandSpec = {
  name: 'backup follow',
  summary: 'record every change after the newest full snapshot as change-log segments (long-running)',
  options: {
    config: PLAN_FLAG,
    'status-file': { type: 'string', value: 'FILE', help: "where to write the follower's status (default: in the change-log folder)" },
  },
  description:
    "Watches the plan's cluster and stores every change after the newest full snapshot as change-log segments\n" +
    '(rolled every follow.segmentSeconds or follow.segmentMiB), resuming after the last stored segment when\n' +
    "restarted. Runs until SIGTERM or SIGINT, then stores the open segment. The password of the plan's user\n" +
    "comes from the plan's password file.",
};

export const fetchPitrSpec: CommandSpec = {
  name: 'backup fetch',
  summary: 'a plain snapshot file of the cluster at a revision or a time the change log covers',
  options: {
    config: PLAN_FLAG,
    'to-revision': { type: 'string', value: 'N', help: 'the revision to rebuild (give this or --to-time)' },
    'to-time': { type: 'string', value: 'TIME', help: 'the last revision recorded at or before TIME (ISO 8601 or epoch seconds)' },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'where to write the snapshot (never overwritten)', required: true },
    identity: { type: 'string', short: 'i', value: 'FILE', help: "age key file of one of the plan's recipients (encrypted backups)" },
    'write-out': writeOutFlag('simple', 'json'),
  },
  description:
    'Builds a plain snapshot file of the cluster as it was at revision N (or at the last revision recorded at or\n' +
    'before TIME, e.g. 2026-12-01T17:55:00Z): the newest full snapshot at or before it, restored into a throwaway\n' +
    'etcd on loopback, with the change log replayed on top, checked, and saved with a SHA-256 trailer (etcdctl\n' +
    'snapshot restore accepts it). Never overwrites FILE.',
};
