/**
 * `etcd-backup manifest <command>`: edits of static pod manifests, env files, etcd config
 * files and systemd units, printed as a unified diff or written in place with `--write`.
 */
import { promises as fs } from 'fs';
import { isAbsolute } from 'path';
import { EtcdBackupError } from '../core/errors';
import { applyEdits, diagnoseEtcdFile, EditResult, parseEtcdFile, ParsedEtcdFile, replaceFileContent, setDataDir, setInitialClusterState, unifiedDiff } from '../core/etcdFiles';
import { CliCommand, CliUsageError, parseFlags } from './types';

async function readText(path: string): Promise<string> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new EtcdBackupError('notFound', `${path} does not exist.`, { cause: err });
    if (code === 'EISDIR') throw new EtcdBackupError('invalidInput', `${path} is a directory; give the manifest, env, config or unit file.`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new EtcdBackupError('permission', `No permission to read ${path} (run as root, e.g. with sudo).`, { cause: err });
    throw err;
  }
}

/**
 * The file and the files that go with it: a unit's `EnvironmentFile=` targets that exist, and
 * the unit given with `--unit` for an env file.
 */
async function load(file: string, unit?: string): Promise<{ parsed: ParsedEtcdFile; related: ParsedEtcdFile[] }> {
  const parsed = parseEtcdFile(await readText(file), file);
  const related: ParsedEtcdFile[] = [];
  if (parsed.kind === 'systemd') {
    for (const ef of parsed.environmentFiles) {
      if (!isAbsolute(ef.path)) continue;
      try {
        related.push(parseEtcdFile(await fs.readFile(ef.path, 'utf8'), ef.path));
      } catch {
        // a missing file is checked by systemd (and refused unless optional); nothing to compare
        if (ef.optional) related.push(parseEtcdFile('', ef.path));
      }
    }
  }
  if (unit) related.push(parseEtcdFile(await readText(unit), unit));
  return { parsed, related };
}

const KIND_NAMES: Record<string, string> = { manifest: 'static pod manifest', env: 'env file', config: 'etcd config file', systemd: 'systemd unit', unknown: 'file' };

async function finish(file: string, parsed: ParsedEtcdFile, r: EditResult, write: boolean): Promise<number> {
  if (!r.ok) {
    process.stderr.write(`etcd-backup manifest: ${r.error}\n`);
    return 1;
  }
  if (!r.edits.length) {
    process.stderr.write(`${file}: nothing to change.\n`);
    return 0;
  }
  const next = applyEdits(parsed.text, r.edits);
  const check = parseEtcdFile(next, file);
  if (check.kind !== parsed.kind || check.problems.some((p) => p.fatal)) {
    // never write a file that no longer reads as the same kind of etcd file
    process.stderr.write(`etcd-backup manifest: the edit would leave ${file} unreadable; nothing was changed. Please report this with the file.\n`);
    return 1;
  }
  process.stdout.write(unifiedDiff(parsed.text, next, file));
  if (write) {
    await replaceFileContent(file, next);
    process.stderr.write(`Wrote ${file} (${KIND_NAMES[parsed.kind]}): ${r.changes.join('; ')}.\n`);
  }
  return 0;
}

const SET_DATA_DIR_USAGE = `Usage: etcd-backup manifest set-data-dir <file> <dir> [--write] [--keep-container-path] [--unit <file>]

Points etcd at another data dir. <dir> is the directory on the node. In a static pod manifest
--data-dir, the hostPath of the volume mounted at the data dir and that volumeMounts entry all
become <dir> (with --keep-container-path only the hostPath changes, as the Kubernetes docs do);
in an env file ETCD_DATA_DIR, in a config file data-dir:, in a unit --data-dir.
Prints a unified diff; --write writes the file in place (temp file + rename, mode kept).
--unit: for an env file, the unit that reads it (a flag there must not also be set here).`;

export const setDataDirCommand: CliCommand = {
  summary: 'point a manifest / env / config / unit file at another data dir (diff, or --write)',
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(`${SET_DATA_DIR_USAGE}\n`);
      return 0;
    }
    const { positionals, flags } = parseFlags(args, { booleans: ['write', 'keep-container-path'], strings: ['unit'] });
    if (positionals.length !== 2) throw new CliUsageError(`give the file and the new data dir, e.g. etcd-backup manifest set-data-dir /etc/kubernetes/manifests/etcd.yaml /var/lib/etcd-restored.\n${SET_DATA_DIR_USAGE}`);
    const [file, dir] = positionals;
    const { parsed, related } = await load(file, flags.unit as string | undefined);
    return finish(file, parsed, setDataDir(parsed, dir, { related, keepContainerPath: Boolean(flags['keep-container-path']) }), Boolean(flags.write));
  },
};

const SET_STATE_USAGE = `Usage: etcd-backup manifest set-initial-cluster-state <file> new|existing [--write] [--unit <file>]

Sets --initial-cluster-state (ETCD_INITIAL_CLUSTER_STATE, initial-cluster-state:), adding it when
absent. "existing" for a member that joins a running cluster; "new" when every member of a new or
restored cluster starts together. Prints a unified diff; --write writes the file in place.`;

export const setInitialClusterStateCommand: CliCommand = {
  summary: 'set initial-cluster-state to new or existing (diff, or --write)',
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(`${SET_STATE_USAGE}\n`);
      return 0;
    }
    const { positionals, flags } = parseFlags(args, { booleans: ['write'], strings: ['unit'] });
    if (positionals.length !== 2) throw new CliUsageError(`give the file and the state (new or existing).\n${SET_STATE_USAGE}`);
    const [file, state] = positionals;
    if (state !== 'new' && state !== 'existing') throw new CliUsageError(`the state is "new" or "existing", not "${state}".`);
    const { parsed, related } = await load(file, flags.unit as string | undefined);
    return finish(file, parsed, setInitialClusterState(parsed, state, { related }), Boolean(flags.write));
  },
};

const CHECK_USAGE = `Usage: etcd-backup manifest check <file> [--unit <file>]

Reports what would go wrong when etcd starts from the file (file:line:column: severity: message),
with the fix where one exists. Exit status 1 when there is an error, 0 otherwise.
A unit's EnvironmentFile= targets are read too; for an env file, --unit names the unit.`;

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let ls = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    ls = i + 1;
  }
  return { line, col: offset - ls + 1 };
}

export const checkCommand: CliCommand = {
  summary: 'diagnose a manifest / env / config / unit file (exit 1 on errors)',
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(`${CHECK_USAGE}\n`);
      return 0;
    }
    const { positionals, flags } = parseFlags(args, { strings: ['unit'] });
    if (positionals.length !== 1) throw new CliUsageError(`give one file.\n${CHECK_USAGE}`);
    const [file] = positionals;
    const { parsed, related } = await load(file, flags.unit as string | undefined);
    const diags = diagnoseEtcdFile(parsed, { related });
    for (const d of diags) {
      const p = position(parsed.text, d.range.start);
      process.stdout.write(`${file}:${p.line}:${p.col}: ${d.severity}: ${d.message} [${d.code}]\n`);
      if (d.fix) process.stdout.write(`  fix: ${d.fix.title}\n`);
    }
    const errors = diags.filter((d) => d.severity === 'error').length;
    const warnings = diags.filter((d) => d.severity === 'warning').length;
    process.stderr.write(`${file} (${KIND_NAMES[parsed.kind]}): ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}, ${diags.length - errors - warnings} note${diags.length - errors - warnings === 1 ? '' : 's'}.\n`);
    return errors ? 1 : 0;
  },
};

export const manifestCommands: Record<string, CliCommand> = {
  'set-data-dir': setDataDirCommand,
  'set-initial-cluster-state': setInitialClusterStateCommand,
  check: checkCommand,
};

