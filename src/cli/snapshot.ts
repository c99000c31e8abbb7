/**
 * `etcd-backup snapshot <command>`: the snapshot group. Each command lives in its own file;
 * this table only lists them.
 */
import type { CliCommand } from './types';
import { restoreCommand, trialRestoreCommand } from './restore';
import { saveCommand } from './snapshotSave';

export const snapshotCommands: Record<string, CliCommand> = {
  save: saveCommand,
  restore: restoreCommand,
  'trial-restore': trialRestoreCommand,
};
