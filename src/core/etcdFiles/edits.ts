/**
 * The edits recovery needs, as minimal text edits: every byte outside the changed values stays
 * as it was (comments, quoting, layout, line endings). New settings are added in the file's own
 * style and indentation. An edit that cannot be made safely comes back as one sentence.
 */
import { envNameOf } from './flags';
import { renderValue, ValueContext } from './render';
import { parseEtcdFile } from './parse';
import { configFileOf, configFileSentence, containerDataDir, GuardOptions, settingGuard, walDirGuard } from './editGuards';
import { effectiveSettings, hostPathOf, isInside, lastSetting, mountFor, settingsNamed } from './settings';
import { applyEdits, lineEnd, lineStart, minimalEdit, nextLineStart } from './text';
import { EditResult, EtcdSetting, ParsedEtcdFile, PodVolume, TextEdit, TextRange, ValueQuote, VolumeMount } from './types';

export { applyEdits } from './text';

/** Options shared by the edits. */
export interface EditOptions extends GuardOptions {
  /**
   * The other files of the same etcd, when known: for a unit, its `EnvironmentFile=` targets;
   * for an env file, the unit that reads it. A setting is never added where the other file
   * already sets it (etcd refuses a variable that the command line also passes).
   */
  related?: readonly ParsedEtcdFile[];
  /**
   * setDataDir on a manifest: change only the `hostPath.path` of the volume mounted at the data
   * dir, as the Kubernetes docs do after a restore; `--data-dir` and the mount keep the path the
   * container sees. Default: all three become the new dir (kubeadm's layout: same path inside
   * and outside).
   */
  keepContainerPath?: boolean;
}

function fail(error: string): EditResult {
  return { ok: false, error };
}

/**
 * Read the edited text back before handing the edits out: it must be the same kind of file, with
 * no new errors, every other setting as it was, and `name` reading `value` (in the settings
 * `which` selects). Otherwise the edit is refused: a file whose command line already ends oddly
 * (an unclosed quote, a flag still waiting for its value) is left for a person to fix.
 */
function verified(
  parsed: ParsedEtcdFile,
  r: EditResult,
  name: string,
  value: string,
  which: (s: EtcdSetting) => boolean,
  extra?: (q: ParsedEtcdFile) => string | undefined,
): EditResult {
  if (!r.ok || !r.edits.length) return r;
  const q = parseEtcdFile(applyEdits(parsed.text, r.edits), parsed.fileName);
  const before = new Set(parsed.problems.map((p) => `${p.code} ${p.message}`));
  const rest = (p: ParsedEtcdFile): string =>
    p.settings
      .filter((s) => s.name !== name)
      .map((s) => `${s.name}=${s.value}`)
      .join('\n');
  const target = q.settings.filter((s) => s.name === name && which(s));
  const why =
    q.kind !== parsed.kind
      ? 'it would no longer read as the same kind of file'
      : q.problems.some((p) => p.severity === 'error' && !before.has(`${p.code} ${p.message}`))
        ? `it would add a problem (${q.problems.find((p) => p.severity === 'error' && !before.has(`${p.code} ${p.message}`))?.message})`
        : rest(q) !== rest(parsed)
          ? 'other settings would read differently (the command line ends in an unclosed quote or a flag without its value?)'
          : !target.length || target.some((s) => s.value !== value)
            ? `${label(parsed, name)} would not read back as ${value}`
            : extra?.(q);
  return why ? fail(`${parsed.fileName ? `${parsed.fileName}: ` : ''}not edited: ${why}. Change it by hand.`) : r;
}

/** Why this file cannot be edited, or undefined. */
export function editBlocker(parsed: ParsedEtcdFile): string | undefined {
  const fatal = parsed.problems.find((p) => p.fatal) ?? parsed.problems.find((p) => p.blocksEdits);
  if (fatal) return `${parsed.fileName ? `${parsed.fileName}: ` : ''}not edited: ${fatal.message}`;
  if (parsed.kind === 'unknown') return 'Not an etcd file: nothing to edit.';
  return undefined;
}

function ctxOf(parsed: ParsedEtcdFile, s: EtcdSetting): ValueContext {
  if (parsed.kind === 'manifest' || parsed.kind === 'config') return s.inFlow ? 'yaml-flow' : 'yaml-block';
  if (s.form === 'env') return parsed.kind === 'env' ? 'env' : 'unit';
  if (parsed.kind === 'systemd') return 'unit';
  return s.inFlow ? 'yaml-flow' : 'yaml-block';
}

/** The range of the scalar / word / env value (quotes included) that holds a setting's value. */
export function holderRange(s: EtcdSetting): TextRange {
  if (!s.exactValue) return s.valueRange;
  const start = s.form === 'flag=value' || (s.form === 'env' && s.source === 'environment') ? s.keyRange.start : s.valueRange.start;
  const q = s.quote === 'none' ? 0 : 1;
  return { start: start - q, end: s.valueRange.end + q };
}

/** What the holder contains besides the value: `--data-dir=` for a `flag=value` item, `ETCD_X=` for an `Environment=` word. */
function holderPrefix(s: EtcdSetting): string {
  if (s.form === 'flag=value' || (s.form === 'env' && s.source === 'environment')) return `${s.key}=`;
  return '';
}

/** The minimal edit that gives a setting a new value, or an error sentence. No edit when the value is already that. */
export function replaceValueEdit(parsed: ParsedEtcdFile, s: EtcdSetting, value: string): { edit?: TextEdit; error?: string } {
  if (s.value === value) return {};
  if (s.form === 'flag') {
    return { error: `${s.key} is a bare flag; give it a value by hand (${s.key}=${value}).` };
  }
  if (
    s.form === 'config' &&
    !s.exactValue &&
    s.quote === 'none' &&
    parsed.text.slice(s.valueRange.start, s.valueRange.end).trim().startsWith('[')
  ) {
    return { error: `${s.key} holds a list; edit it by hand.` };
  }
  const holder = holderRange(s);
  let rendered = renderValue(holderPrefix(s) + value, s.quote, ctxOf(parsed, s));
  if (rendered === undefined) return { error: `"${value}" cannot be written as ${s.key}'s value (it has a line break).` };
  const old = parsed.text.slice(holder.start, holder.end);
  // `data-dir:` with no value (etcd's own etcd.conf.yml.sample): the value goes after the colon and a space
  const emptyYaml = holder.start === holder.end && parsed.text[holder.start - 1] === ':' && (s.form === 'config' || s.list === 'env');
  if (emptyYaml) rendered = ` ${rendered}`;
  const edit = minimalEdit(holder.start, old, rendered);
  return edit ? { edit } : {};
}

/** Edits that remove a setting's entry (the whole line when it is alone on its line). */
export function removeEntryEdits(parsed: ParsedEtcdFile, s: EtcdSetting): TextEdit[] {
  const t = parsed.text;
  const { start, end } = s.entryRange;
  const ls = lineStart(t, start);
  const le = lineEnd(t, end);
  const before = t.slice(ls, start);
  const after = t.slice(end, le);
  const unitContinued = parsed.kind === 'systemd' && /^[ \t]*\\$/.test(after) && /^[ \t]*$/.test(before);
  // The only word of an `Environment=` line: the whole line goes. An empty `Environment=` left
  // behind would reset every assignment before it.
  if (parsed.kind === 'systemd' && s.source === 'environment' && /^[ \t]*Environment[ \t]*=/.test(before)) {
    const rest = `${before.replace(/^[ \t]*Environment[ \t]*=/, '')}${after.replace(/#.*$/, '')}`;
    if (/^["' \t]*$/.test(rest)) {
      return [{ offset: ls, length: nextLineStart(t, end) - ls, newText: '' }];
    }
  }
  if (
    /^[ \t]*$/.test(before) &&
    (/^[ \t]*(#.*)?$/.test(after) || unitContinued) &&
    !(parsed.kind === 'systemd' && s.source === 'command' && !unitContinued)
  ) {
    const nl = nextLineStart(t, end);
    return [{ offset: ls, length: nl - ls, newText: '' }];
  }
  // Inside a line: take the separator before it (", " in flow YAML, spaces in a unit), or after it.
  let i = start;
  while (i > ls && (t[i - 1] === ' ' || t[i - 1] === '\t')) i--;
  if (parsed.kind !== 'systemd' && t[i - 1] === ',') {
    return [{ offset: i - 1, length: end - (i - 1), newText: '' }];
  }
  if (parsed.kind === 'systemd' && i < start) {
    return [{ offset: i, length: end - i, newText: '' }];
  }
  let j = end;
  while (j < t.length && (t[j] === ' ' || t[j] === '\t')) j++;
  if (t[j] === ',') {
    j++;
    while (j < t.length && (t[j] === ' ' || t[j] === '\t')) j++;
  }
  return [{ offset: start, length: j - start, newText: '' }];
}

/** An edit that renames a setting's key (a typo fix): `--data-dri` -> `--data-dir`, `ETCD_DATA_DRI` -> `ETCD_DATA_DIR`. */
export function renameKeyEdit(parsed: ParsedEtcdFile, s: EtcdSetting, name: string): TextEdit | undefined {
  const written = s.form === 'config' ? s.key.replace(/^.*\./, '') : s.key;
  const newKey = s.form === 'env' ? envNameOf(name) : s.form === 'config' ? name : `${/^--/.test(s.key) ? '--' : '-'}${name}`;
  const oldKey = parsed.text.slice(s.keyRange.start, s.keyRange.end);
  if (oldKey === written) return minimalEdit(s.keyRange.start, oldKey, newKey);
  return undefined;
}

/** The setting that serves as the model for a new one: the last one of the same list/source. */
function anchor(parsed: ParsedEtcdFile): EtcdSetting | undefined {
  const candidates = parsed.settings.filter((s) => (parsed.kind === 'systemd' ? s.source === 'command' : true));
  return candidates[candidates.length - 1];
}

/** How the key word of a `--flag value` pair is quoted. */
function keyQuote(text: string, s: EtcdSetting): ValueQuote {
  const c = text[s.keyRange.start - 1];
  return c === '"' ? 'double' : c === "'" ? 'single' : 'none';
}

/** Edits that add a setting at the end of the file's flags/variables, in its style. */
export function addSettingEdits(parsed: ParsedEtcdFile, name: string, value: string): { edits?: TextEdit[]; error?: string } {
  const t = parsed.text;
  const eol = parsed.eol;
  const a = anchor(parsed);
  const fl = parsed.flagList;
  if (parsed.kind === 'manifest') {
    if (!fl) return { error: 'The etcd container has no command or args list to add a flag to.' };
    const ctx: ValueContext = fl.flow ? 'yaml-flow' : 'yaml-block';
    const quote = a?.quote ?? 'none';
    const items = a?.form === 'flag value' ? [`--${name}`, value] : [`--${name}=${value}`];
    const quotes = a?.form === 'flag value' ? [keyQuote(t, a), quote] : [quote];
    const rendered = items.map((x, i) => renderValue(x, quotes[i], ctx));
    if (rendered.some((r) => r === undefined)) return { error: `"${value}" cannot be written in this manifest.` };
    if (fl.flow) {
      return { edits: [{ offset: fl.insertAfter, length: 0, newText: rendered.map((r) => `, ${r}`).join('') }] };
    }
    const at = lineEnd(t, fl.insertAfter);
    return { edits: [{ offset: at, length: 0, newText: rendered.map((r) => `${eol}${fl.indent ?? ''}- ${r}`).join('') }] };
  }
  if (parsed.kind === 'config') {
    const rendered = renderValue(value, a?.form === 'config' ? a.quote : 'none', fl?.flow ? 'yaml-flow' : 'yaml-block');
    if (rendered === undefined) return { error: `"${value}" cannot be written in this config file.` };
    if (!fl) {
      const sep = t.length && !t.endsWith('\n') ? eol : '';
      return { edits: [{ offset: t.length, length: 0, newText: `${sep}${name}: ${rendered}${eol}` }] };
    }
    if (fl.flow) return { edits: [{ offset: fl.insertAfter, length: 0, newText: `, ${name}: ${rendered}` }] };
    if (t[fl.insertAfter - 1] === '\n') {
      return { edits: [{ offset: fl.insertAfter, length: 0, newText: `${fl.indent ?? ''}${name}: ${rendered}${eol}` }] };
    }
    return { edits: [{ offset: lineEnd(t, fl.insertAfter), length: 0, newText: `${eol}${fl.indent ?? ''}${name}: ${rendered}` }] };
  }
  if (parsed.kind === 'env') {
    const rendered = renderValue(value, a?.quote ?? 'none', 'env');
    if (rendered === undefined) return { error: `"${value}" cannot be written in an env file (it has a line break).` };
    const line = `${a?.exported ? 'export ' : ''}${envNameOf(name)}=${rendered}`;
    if (!fl) {
      const sep = t.length && !t.endsWith('\n') ? eol : '';
      return { edits: [{ offset: t.length, length: 0, newText: `${sep}${line}${eol}` }] };
    }
    return { edits: [{ offset: lineEnd(t, fl.insertAfter), length: 0, newText: `${eol}${line}` }] };
  }
  if (parsed.kind === 'systemd') {
    if (!fl) return { error: 'The unit has no ExecStart= that runs etcd to add a flag to.' };
    const quote = a?.quote ?? 'none';
    const items = a?.form === 'flag value' ? [`--${name}`, value] : [`--${name}=${value}`];
    const quotes = a?.form === 'flag value' ? [keyQuote(t, a), quote] : [quote];
    const rendered = items.map((x, i) => renderValue(x, quotes[i], 'unit'));
    if (rendered.some((r) => r === undefined)) return { error: `"${value}" cannot be written in ExecStart=.` };
    const word = rendered.join(' ');
    const text = fl.indent !== undefined ? ` \\${eol}${fl.indent}${word}` : ` ${word}`;
    return { edits: [{ offset: fl.insertAfter, length: 0, newText: text }] };
  }
  return { error: 'Not an etcd file: nothing to edit.' };
}

function where(parsed: ParsedEtcdFile): string {
  return (
    parsed.fileName ??
    (parsed.kind === 'manifest'
      ? 'the ' + 'manifest'
      : parsed.kind === 'env'
        ? 'the env file'
        : parsed.kind === 'config'
          ? 'the config file'
          : 'the unit')
  );
}

function label(parsed: ParsedEtcdFile, name: string): string {
  return parsed.kind === 'env' ? envNameOf(name) : parsed.kind === 'config' ? `${name}:` : `--${name}`;
}

/**
 * Set a setting to a value: every occurrence is changed (a setting given twice keeps agreeing
 * with itself); when absent it is added in the file's style. In a unit, a setting that only an
 * `Environment=` line gives is changed there; one that the unit's env files give (or might
 * give, when they are not known) is refused with where to change it instead.
 */
export function setSetting(parsed: ParsedEtcdFile, name: string, value: string, opts: EditOptions = {}): EditResult {
  const blocker = editBlocker(parsed);
  if (blocker) return fail(blocker);
  const guard = settingGuard(parsed, name, opts);
  if (guard) return fail(guard);
  if (/[\r\n\0]/.test(value)) return fail(`The value for ${label(parsed, name)} must not contain line breaks.`);
  let existing = settingsNamed(parsed, name);
  if (parsed.kind === 'systemd') {
    const cmd = existing.filter((s) => s.source === 'command');
    if (cmd.length) existing = cmd;
  }
  const edits: TextEdit[] = [];
  const changes: string[] = [];
  if (existing.length) {
    for (const s of existing) {
      const r = replaceValueEdit(parsed, s, value);
      if (r.error) return fail(r.error);
      if (r.edit) {
        edits.push(r.edit);
        changes.push(`${s.key}: ${s.value} -> ${value}`);
      }
    }
    const sources = new Set(existing.map((s) => s.source));
    return verified(parsed, { ok: true, edits, changes }, name, value, (s) => sources.has(s.source));
  }
  const related = opts.related ?? [];
  if (parsed.kind === 'systemd') {
    const inEnv = related.filter((r) => r.kind === 'env' && settingsNamed(r, name).length);
    if (inEnv.length) {
      return fail(
        `${envNameOf(name)} is set in ${where(inEnv[0])}, which the unit reads (EnvironmentFile=): change it there (etcd ` +
          `refuses a flag that an environment variable also sets).`,
      );
    }
    const unknown = parsed.environmentFiles.filter((f) => !related.some((r) => r.fileName === f.path));
    if (unknown.length) {
      return fail(
        `The unit reads its settings from ${unknown.map((f) => f.path).join(', ')} (EnvironmentFile=): set ` +
          `${envNameOf(name)} there, or pass that file so it can be checked (adding --${name} here would make etcd refuse to start if ` +
          `the file also sets it).`,
      );
    }
  }
  if (parsed.kind === 'env') {
    const inUnit = related.filter((r) => r.kind === 'systemd' && r.settings.some((s) => s.name === name && s.source === 'command'));
    if (inUnit.length) {
      return fail(
        `The unit ${where(inUnit[0])} passes --${name} on its command line: change it there (etcd refuses ` +
          `${envNameOf(name)} when the flag is also given).`,
      );
    }
  }
  const add = addSettingEdits(parsed, name, value);
  if (add.error) return fail(add.error);
  const added: EditResult = { ok: true, edits: add.edits ?? [], changes: [`${label(parsed, name)} ${value} (added)`] };
  return verified(parsed, added, name, value, (s) => parsed.kind !== 'systemd' || s.source === 'command');
}

/** `new` or `existing`: how a member with an empty data dir starts (`existing` to join a running cluster). */
export type InitialClusterState = 'new' | 'existing';

/** Set `--initial-cluster-state` / `ETCD_INITIAL_CLUSTER_STATE` / `initial-cluster-state:`, adding it when absent. */
export function setInitialClusterState(parsed: ParsedEtcdFile, state: InitialClusterState, opts: EditOptions = {}): EditResult {
  if (state !== 'new' && state !== 'existing') return fail(`initial-cluster-state is "new" or "existing", not "${String(state)}".`);
  return setSetting(parsed, 'initial-cluster-state', state, opts);
}

function cleanDir(dir: string): { dir?: string; error?: string } {
  const d = dir.trim();
  if (!d) return { error: 'Give the data dir: a directory on the node, e.g. /var/lib/etcd-from-backup.' };
  if (/[\r\n\0]/.test(d)) return { error: 'The data dir must not contain line breaks.' };
  if (!d.startsWith('/')) return { error: `The data dir "${d}" must be an absolute path on the node, e.g. /var/lib/etcd-from-backup.` };
  const norm = d.replace(/\/{2,}/g, '/').replace(/(.)\/+$/, '$1');
  if (norm.split('/').some((p) => p === '..' || p === '.')) return { error: `The data dir "${d}" must not contain "." or ".." parts.` };
  return { dir: norm };
}

/**
 * Point etcd at another data dir (`dir`: the directory on the node). Manifest: `--data-dir`,
 * the `hostPath.path` of the volume mounted at the data dir and that `volumeMounts` entry's
 * `mountPath` all become `dir` (the container sees the node's directory at the same path, as
 * kubeadm lays it out), or only the hostPath with `keepContainerPath`. Env / config / unit:
 * `ETCD_DATA_DIR` / `data-dir:` / `--data-dir`.
 */
export function setDataDir(parsed: ParsedEtcdFile, dir: string, opts: EditOptions = {}): EditResult {
  const blocker = editBlocker(parsed);
  if (blocker) return fail(blocker);
  const c = cleanDir(dir);
  if (c.error || !c.dir) return fail(c.error ?? 'Give the data dir.');
  const target = c.dir;
  const wal = walDirGuard(parsed, opts);
  if (wal) return fail(wal);
  const inContainer = containerDataDir(parsed, target, opts);
  if (inContainer) return inContainer;
  if (parsed.kind !== 'manifest') return setSetting(parsed, 'data-dir', target, opts);
  return manifestDataDir(parsed, target, opts);
}

/** The data dir of a Pod as etcd sees it: `--data-dir` / `ETCD_DATA_DIR`, or `data-dir:` of the config file `--config-file` names. */
function podDataDir(parsed: ParsedEtcdFile, opts: EditOptions): { dd?: EtcdSetting; fromConfig: boolean; error?: string } {
  const cf = configFileOf(parsed, opts.related);
  if (!cf) {
    const dd = lastSetting(parsed, 'data-dir');
    if (dd) return { dd, fromConfig: false };
    return {
      fromConfig: false,
      error:
        'The etcd container has no --data-dir flag or ETCD_DATA_DIR variable: etcd would use ' +
        '"<name>.etcd" inside the container. Add --data-dir and an etcd-data hostPath volume mounted there first.',
    };
  }
  const dd = opts.configFile ? lastSetting(opts.configFile, 'data-dir') : undefined;
  if (dd?.value) return { dd, fromConfig: true };
  if (opts.configFile)
    return {
      fromConfig: true,
      error:
        `${cf.hostPath ?? cf.path} (${cf.setting.key}) sets no data-dir: etcd would ` +
        `use "<name>.etcd" inside the container. Set data-dir there first.`,
    };
  return {
    fromConfig: true,
    error: (
      `${configFileSentence(parsed, opts.related) ?? ''} Its data-dir is not known here: read it where ` +
      'that file can be read, so the hostPath of the volume holding it can be moved.'
    ).trim(),
  };
}

/** Why the volume holding the data dir cannot simply be pointed elsewhere, or undefined. */
function dataVolumeBlocker(parsed: ParsedEtcdFile, target: string, mount: VolumeMount, volume: PodVolume): string | undefined {
  if (mount.subPath) return `The mount at ${mount.mountPath} uses subPath "${mount.subPath}": change it by hand.`;
  if (!mount.mountPathRange) return `The mount of "${mount.name}" has no mountPath to change.`;
  const users = parsed.volumeMounts.filter((x) => x.name === volume.name);
  if (users.length > 1)
    return (
      `The volume "${volume.name}" is mounted ${users.length} times; pointing it at ${target} would move ` +
      `the others too. Change it by hand.`
    );
  const shared = (parsed.otherMounts ?? []).filter((x) => x.name === volume.name);
  if (shared.length) {
    return (
      `The volume "${volume.name}" that holds the data dir is also mounted by the container "${shared[0].container}" (at ` +
      `${shared[0].mountPath}); pointing it at ${target} would move it for that container too. Change it by hand.`
    );
  }
  const others = parsed.settings.filter((s) => s.name !== 'data-dir' && s.value.startsWith('/') && isInside(s.value, mount.mountPath));
  if (others.length) {
    return (
      `The mount at ${mount.mountPath} also holds ${others[0].key} (${others[0].value}); moving it to ${target} would move that ` +
      `too. Give the data dir its own volume first.`
    );
  }
  return undefined;
}

function manifestDataDir(parsed: ParsedEtcdFile, target: string, opts: EditOptions): EditResult {
  const found = podDataDir(parsed, opts);
  if (!found.dd) return fail(found.error ?? 'The data dir is not known.');
  const dd = found.dd;
  const m = mountFor(parsed, dd.value);
  if (!m) {
    return fail(
      `The data dir ${dd.value} (${dd.key}) is not inside any volume mount of the etcd container, so no node directory ` +
        `holds it. Add a hostPath volume mounted at ${dd.value} first.`,
    );
  }
  const { mount, volume } = m;
  if (!volume) return fail(`The mount at ${mount.mountPath} names the volume "${mount.name}", which the Pod does not define.`);
  if (volume.hostPath === undefined || !volume.hostPathRange) {
    return fail(
      `The data dir is on the "${volume.name}" volume, which is not a hostPath ` +
        `volume${volume.sourceKind ? ` (${volume.sourceKind})` : ''}: only a hostPath volume can be pointed at a directory on the node.`,
    );
  }
  const blocked = dataVolumeBlocker(parsed, target, mount, volume);
  if (blocked) return fail(blocked);
  const edits: TextEdit[] = [];
  const changes: string[] = [];
  // with a config file, etcd's data-dir stays as the file gives it: only the node's side moves
  const keep = Boolean(opts.keepContainerPath) || found.fromConfig;
  if (keep && dd.value.replace(/(.)\/+$/, '$1') !== mount.mountPath.replace(/(.)\/+$/, '$1')) {
    return fail(
      `--data-dir ${dd.value} is below the mount at ${mount.mountPath}, so changing only the hostPath cannot make ` +
        `${target} the data dir. Move the flag, the mount and the hostPath together instead.`,
    );
  }
  for (const s of keep ? [] : settingsNamed(parsed, 'data-dir')) {
    const r = replaceValueEdit(parsed, s, target);
    if (r.error) return fail(r.error);
    if (r.edit) {
      edits.push(r.edit);
      changes.push(`${s.key}: ${s.value} -> ${target}`);
    }
  }
  const yamlEdit = (
    range: TextRange,
    quote: ValueQuote | undefined,
    old: string,
    inFlow: boolean | undefined,
  ): { edit?: TextEdit; error?: string } => {
    if (old === target) return {};
    const full =
      quote && quote !== 'none' && parsed.text[range.start - 1] === (quote === 'double' ? '"' : "'")
        ? { start: range.start - 1, end: range.end + 1 }
        : range;
    const rendered = renderValue(target, quote ?? 'none', inFlow ? 'yaml-flow' : 'yaml-block');
    if (rendered === undefined) return { error: `"${target}" cannot be written in this manifest.` };
    const e = minimalEdit(full.start, parsed.text.slice(full.start, full.end), rendered);
    return e ? { edit: e } : {};
  };
  const mp = keep ? {} : yamlEdit(mount.mountPathRange as TextRange, mount.mountPathQuote, mount.mountPath, mount.mountPathInFlow);
  if (mp.error) return fail(mp.error);
  if (mp.edit) {
    edits.push(mp.edit);
    changes.push(`volumeMounts "${mount.name}" mountPath: ${mount.mountPath} -> ${target}`);
  }
  const hp = yamlEdit(volume.hostPathRange, volume.hostPathQuote, volume.hostPath, volume.hostPathInFlow);
  if (hp.error) return fail(hp.error);
  if (hp.edit) {
    edits.push(hp.edit);
    changes.push(`volume "${volume.name}" hostPath.path: ${volume.hostPath} -> ${target}`);
  }
  const nodeDir = (q: ParsedEtcdFile): string | undefined =>
    found.fromConfig ? hostPathOf(q, dd.value) : effectiveSettings(q).hostDataDir;
  const check = (q: ParsedEtcdFile): string | undefined =>
    nodeDir(q) !== target ? `the node directory mounted at the data dir ` + `would not be ${target}` : undefined;
  const result: EditResult = { ok: true, edits, changes };
  if (found.fromConfig) return verified(parsed, result, 'config-file', lastSetting(parsed, 'config-file')?.value ?? '', () => true, check);
  return verified(parsed, result, 'data-dir', keep ? dd.value : target, () => true, check);
}
