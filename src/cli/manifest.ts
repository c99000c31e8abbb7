/**
 * `etcd-backup manifest <command>`: edits of static pod manifests, env files, etcd config
 * files and systemd units, printed as a unified diff or written in place with `--write`.
 */
import { isAbsolute } from 'path';
import {
  applyEdits,
  diagnoseEtcdFile,
  parseEtcdFile,
  replaceFileContent,
  setDataDir,
  setInitialClusterState,
  unifiedDiff,
} from '../core/etcdFiles';
import type { EditResult, ParsedEtcdFile } from '../core/etcdFiles';
import { configFileOf, configFileSentence, UnreadableFile } from '../core/etcdFiles/editGuards';
import { readRegularFile } from '../core/fsSafe';
import { command, CommandSpec, stringValue } from './args';
import { CliCommand, CliUsageError } from './types';

/** The short reason a related file could not be read, for a sentence that names it. */
function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? (err as { cause?: NodeJS.ErrnoException }).cause?.code;
  if (code === 'ENOENT') return 'it does not exist on this machine';
  if (code === 'EACCES' || code === 'EPERM') return 'no permission to read it';
  return (err as Error).message.replace(/\.$/, '');
}

interface Loaded {
  parsed: ParsedEtcdFile;
  related: ParsedEtcdFile[];
  unreadable: UnreadableFile[];
  /** The config file `--config-file` names, on the node: read, or why not. */
  config?: { path: string; parsed?: ParsedEtcdFile; reason?: string };
}

async function readRelated(path: string, into: ParsedEtcdFile[], unreadable: UnreadableFile[]): Promise<void> {
  if (!isAbsolute(path) || into.some((r) => r.fileName === path) || unreadable.some((u) => u.path === path)) return;
  try {
    into.push(parseEtcdFile(await readRegularFile(path), path));
  } catch (err) {
    // a file the unit reads but that cannot be read here is never taken as empty: edits that depend on it are refused
    unreadable.push({ path, reason: reasonOf(err) });
  }
}

/**
 * The file and the files that go with it: a unit's `EnvironmentFile=` and `--env-file` targets,
 * the unit given with `--unit` for an env file, and the config file `--config-file` names (on
 * the node: through the Pod's hostPath volume or the container's volume).
 */
async function load(file: string, unit?: string): Promise<Loaded> {
  const parsed = parseEtcdFile(await readRegularFile(file), file);
  const related: ParsedEtcdFile[] = [];
  const unreadable: UnreadableFile[] = [];
  if (parsed.kind === 'systemd') {
    for (const ef of parsed.environmentFiles) await readRelated(ef.path, related, unreadable);
    for (const ef of parsed.launcher?.envFiles ?? []) await readRelated(ef, related, unreadable);
  }
  if (unit) related.push(parseEtcdFile(await readRegularFile(unit), unit));
  const cf = configFileOf(parsed, related);
  if (!cf) return { parsed, related, unreadable };
  const path = cf.hostPath ?? cf.path;
  try {
    return { parsed, related, unreadable, config: { path, parsed: parseEtcdFile(await readRegularFile(path), path) } };
  } catch (err) {
    return { parsed, related, unreadable, config: { path, reason: reasonOf(err) } };
  }
}

/** When etcd reads a config file, the file to edit is that one: its path and parsed text, or the refusal. */
function configTarget(l: Loaded): { file: string; parsed: ParsedEtcdFile } | { error: string } | undefined {
  if (!l.config) return undefined;
  const why = configFileSentence(l.parsed, l.related) ?? '';
  if (!l.config.parsed)
    return {
      error:
        `${why.replace(/ \(etcd-backup manifest[^)]*\)/, '')} It cannot be read here ` +
        `(${l.config.reason ?? 'unknown'}), so nothing was changed.`,
    };
  if (l.config.parsed.kind !== 'config')
    return {
      error: `${why.replace(/ \(etcd-backup manifest[^)]*\)/, '')} It does not read as ` + `etcd's config file, so nothing was changed.`,
    };
  return { file: l.config.path, parsed: l.config.parsed };
}

const KIND_NAMES: Record<string, string> = {
  manifest: 'static pod ' + 'manifest',
  env: 'env file',
  config: 'etcd config file',
  systemd: 'systemd unit',
  unknown: 'file',
};

function refuse(error: string | undefined): number {
  process.stderr.write(`etcd-backup manifest: ${error ?? 'nothing was changed.'}\n`);
  return 1;
}

async function finish(file: string, parsed: ParsedEtcdFile, r: EditResult, write: boolean, startedFrom?: string): Promise<number> {
  if (startedFrom)
    process.stderr.write(
      `${startedFrom} starts etcd with the config file ${file}, and etcd then ignores every other ` +
        `flag and variable: ${file} is the file to change.\n`,
    );
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
    process.stderr.write(
      `etcd-backup manifest: the edit would leave ${file} unreadable; nothing was changed. Please report this ` + `with the file.\n`,
    );
    return 1;
  }
  process.stdout.write(unifiedDiff(parsed.text, next, file));
  if (write) {
    await replaceFileContent(file, next);
    process.stderr.write(`Wrote ${file} (${KIND_NAMES[parsed.kind]}): ${r.changes.join('; ')}.\n`);
  }
  return 0;
}

const WRITE = { type: 'boolean', help: 'write the file in place (temp file + rename, mode kept) after printing the diff' } as const;
const UNIT = { type: 'string', value: 'FILE', help: 'for an env file, the systemd unit that reads it' } as const;

export const setDataDirSpec: CommandSpec = {
  name: 'manifest set-data-dir',
  summary: 'point a manifest / env / config / unit file at another data dir (diff, or --write)',
  positionals: {
    usage: '<file> <dir>',
    min: 2,
    max: 2,
    sentence:
      'give the file and the new data dir, e.g. etcd-backup manifest ' +
      'set-data-dir /etc/kubernetes/manifests/etcd.yaml /var/lib/etcd-restored.',
  },
  options: {
    write: WRITE,
    'keep-container-path': { type: 'boolean', help: "in a static pod manifest, move only the volume's hostPath" },
    unit: UNIT,
  },
  description: `Points etcd at another data dir. <dir> is the directory on the node. In a static pod manifest
--data-dir, the hostPath of the volume mounted at the data dir and that volumeMounts entry all
become <dir> (with --keep-container-path only the hostPath changes, as the Kubernetes docs do);
in an env file ETCD_DATA_DIR, in a config file data-dir:, in a unit --data-dir.
Prints a unified diff; --write writes the file in place (temp file + rename, mode kept).
--unit: for an env file, the unit that reads it (a flag there must not also be set here).`,
};

export const setDataDirCommand = command(setDataDirSpec, async (flags, positionals) => {
  const [file, dir] = positionals;
  const l = await load(file, stringValue(flags, 'unit'));
  const { parsed, related, unreadable } = l;
  const write = Boolean(flags.write);
  const t = configTarget(l);
  if (t && 'error' in t) return refuse(t.error);
  // a unit's or env file's etcd takes its data dir from the config file; a Pod's keeps it, and the hostPath under it moves
  if (t && parsed.kind !== 'manifest') return finish(t.file, t.parsed, setDataDir(t.parsed, dir), write, file);
  const keepContainerPath = Boolean(flags['keep-container-path']);
  const opts = { related, unreadable, keepContainerPath, ...(l.config?.parsed ? { configFile: l.config.parsed } : {}) };
  return finish(file, parsed, setDataDir(parsed, dir, opts), write);
});

export const setInitialClusterStateSpec: CommandSpec = {
  name: 'manifest set-initial-cluster-state',
  summary: 'set initial-cluster-state to new or existing (diff, or --write)',
  positionals: { usage: '<file> new|existing', min: 2, max: 2, sentence: 'give the file and the state (new or existing).' },
  options: { write: WRITE, unit: UNIT },
  description: `Sets --initial-cluster-state (ETCD_INITIAL_CLUSTER_STATE, initial-cluster-state:), adding it when
absent. "existing" for a member that joins a running cluster; "new" when every member of a new or
restored cluster starts together. Prints a unified diff; --write writes the file in place.`,
};

export const setInitialClusterStateCommand = command(setInitialClusterStateSpec, async (flags, positionals) => {
  const [file, state] = positionals;
  if (state !== 'new' && state !== 'existing') throw new CliUsageError(`the state is "new" or "existing", not "${state}".`);
  const l = await load(file, stringValue(flags, 'unit'));
  const t = configTarget(l);
  if (t && 'error' in t) return refuse(t.error);
  if (t) return finish(t.file, t.parsed, setInitialClusterState(t.parsed, state), Boolean(flags.write), file);
  const r = setInitialClusterState(l.parsed, state, { related: l.related, unreadable: l.unreadable });
  return finish(file, l.parsed, r, Boolean(flags.write));
});

export const checkSpec: CommandSpec = {
  name: 'manifest check',
  summary: 'diagnose a manifest / env / config / unit file (exit 1 on errors)',
  positionals: { usage: '<file>', min: 1, max: 1, sentence: 'give one file.' },
  options: { unit: UNIT },
  description: `Reports what would go wrong when etcd starts from the file (file:line:column: severity: message),
with the fix where one exists. Exit status 1 when there is an error, 0 otherwise.
A unit's EnvironmentFile= targets are read too; for an env file, --unit names the unit.`,
};

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let ls = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    ls = i + 1;
  }
  return { line, col: offset - ls + 1 };
}

export const checkCommand = command(checkSpec, async (flags, positionals) => {
  const [file] = positionals;
  const { parsed, related, unreadable, config } = await load(file, stringValue(flags, 'unit'));
  const diags = diagnoseEtcdFile(parsed, { related });
  for (const u of unreadable)
    process.stdout.write(
      `${file}: note: ${u.path}, which etcd's unit reads, cannot be read here ` + `(${u.reason}); what it sets was not checked.\n`,
    );
  if (config && !config.parsed)
    process.stdout.write(
      `${file}: note: the config file ${config.path} cannot be read here ` + `(${config.reason}); its settings were not checked.\n`,
    );
  for (const d of diags) {
    const p = position(parsed.text, d.range.start);
    process.stdout.write(`${file}:${p.line}:${p.col}: ${d.severity}: ${d.message} [${d.code}]\n`);
    if (d.fix) process.stdout.write(`  fix: ${d.fix.title}\n`);
  }
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.filter((d) => d.severity === 'warning').length;
  process.stderr.write(
    `${file} (${KIND_NAMES[parsed.kind]}): ${errors} error${errors === 1 ? '' : 's'}, ${warnings} ` +
      `warning${warnings === 1 ? '' : 's'}, ${diags.length - errors - warnings} ` +
      `note${diags.length - errors - warnings === 1 ? '' : 's'}.\n`,
  );
  return errors ? 1 : 0;
});

export const manifestCommands: Record<string, CliCommand> = {
  'set-data-dir': setDataDirCommand,
  'set-initial-cluster-state': setInitialClusterStateCommand,
  check: checkCommand,
};
