/**
 * `etcd-backup`: the command line over the same src/core, for terminals, cron jobs,
 * runbooks on machines without VS Code, and benchmarks. Exit 0 on success; otherwise a
 * message on stderr and a non-zero status.
 */
import { cliHintWords } from './cli/hintWords';
import { explain, withHint } from './core/errors';
import { CliCommand, CliUsageError } from './cli/types';

/** Each subcommand group lives in src/cli/<group>.ts and is listed here. */
export const groups: Record<string, () => Promise<Record<string, CliCommand>>> = {
  snapshot: async () => (await import('./cli/snapshot')).snapshotCommands,
  manifest: async () => (await import('./cli/manifest')).manifestCommands,
  backup: async () => (await import('./cli/backup')).backupCommands,
};

const VERSION = '0.1.0';

function usage(): string {
  const names = Object.keys(groups);
  return [
    'Usage: etcd-backup <group> <command> [options]',
    '',
    names.length ? `Groups: ${names.join(', ')}` : 'No command groups yet.',
    'Run `etcd-backup <group> --help` for its commands.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(`${usage()}\n`);
    return group ? 0 : 2;
  }
  if (group === '--version' || group === 'version') {
    process.stdout.write(`etcd-backup ${VERSION}\n`);
    return 0;
  }
  const load = groups[group];
  if (!load) {
    process.stderr.write(`etcd-backup: unknown command "${group}".\n${usage()}\n`);
    return 2;
  }
  const commands = await load();
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(
      `Commands of "${group}":\n${Object.entries(commands)
        .map(([n, c]) => `  ${group} ${n}  ${c.summary}`)
        .join('\n')}\n`,
    );
    return command ? 0 : 2;
  }
  const cmd = commands[command];
  if (!cmd) {
    process.stderr.write(`etcd-backup: unknown command "${group} ${command}". Run \`etcd-backup ${group} --help\`.\n`);
    return 2;
  }
  return runCommand(`${group} ${command}`, cmd, rest);
}

/** Run one subcommand: its exit status, 2 for a usage error, 1 for a failure (its sentence on stderr). */
export async function runCommand(name: string, cmd: CliCommand, args: string[]): Promise<number> {
  try {
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof CliUsageError) {
      process.stderr.write(`etcd-backup ${name}: ${err.message}\n`);
      return 2;
    }
    const e = explain(err);
    process.stderr.write(`etcd-backup ${name}: ${withHint(e.message, e.hint, cliHintWords)}\n`);
    if (process.env.ETCD_BACKUP_DEBUG) {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    }
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`etcd-backup: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
