/**
 * `etcd-backup manifest <command>`: edits of static pod manifests, env files, etcd config
 * files and systemd units, printed as a unified diff or written in place with `--write`.
 */
import type { CliCommand } from './types';

export const manifestCommands: Record<string, CliCommand> = {};
