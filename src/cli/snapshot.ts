/**
 * `etcd-backup snapshot <command>`: the snapshot group. Each command lives in its own file;
 * this table only lists them.
 */
import type { CliCommand } from './types';
import { restoreCommand, trialRestoreCommand } from './restore';
import { saveCommand } from './snapshotSave';
import { diffCommand, inspectCommand, keysCommand, statusCommand, verifyCommand } from './snapshotStatus';

export const snapshotCommands: Record<string, CliCommand> = {
  save: saveCommand,
  restore: restoreCommand,
  'trial-restore': trialRestoreCommand,
  status: statusCommand,
  verify: verifyCommand,
  inspect: inspectCommand,
  keys: keysCommand,
  diff: diffCommand,
};
