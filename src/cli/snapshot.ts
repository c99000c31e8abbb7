/**
 * `etcd-backup snapshot <command>`: the snapshot group. Each command lives in its own file;
 * this table only lists them.
 */
import type { CliCommand } from './types';
import { restoreCommand, trialRestoreCommand } from './restore';

export const snapshotCommands: Record<string, CliCommand> = {
  restore: restoreCommand,
  'trial-restore': trialRestoreCommand,
};
