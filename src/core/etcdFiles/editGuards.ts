/**
 * Where an edit must not be made in this file, because etcd takes the setting from somewhere
 * else: a config file named by `--config-file` (etcd then ignores every other flag and
 * variable), a container whose paths are not the node's (`docker run -v host:container`), a
 * shell script, an env file that cannot be read here, a WAL dir kept apart from the data dir.
 * Each comes back as one sentence that names the place to change instead.
 */
import { envNameOf, releaseList } from './flags';
import { hostPathOf, isInside, lastSetting } from './settings';
import { minimalEdit } from './text';
import { EditResult, EtcdSetting, ParsedEtcdFile, TextEdit, UnitLauncher } from './types';

/** A file of the same etcd that could not be read here, and why (one short clause). */
export interface UnreadableFile {
  path: string;
  reason: string;
}

/** What the guards need of EditOptions. */
export interface GuardOptions {
  related?: readonly ParsedEtcdFile[];
  unreadable?: readonly UnreadableFile[];
  /** The config file `--config-file` names, read (the CLI reads it from the node). */
  configFile?: ParsedEtcdFile;
}

function where(p: ParsedEtcdFile): string {
  return (
    p.fileName ??
    (p.kind === 'manifest' ? 'the ' + 'manifest' : p.kind === 'env' ? 'the env file' : p.kind === 'config' ? 'the config file' : 'the unit')
  );
}

/** `--config-file` (or `ETCD_CONFIG_FILE`) of the file or of the env files it reads, with the node's path of it. */
export function configFileOf(
  parsed: ParsedEtcdFile,
  related: readonly ParsedEtcdFile[] = [],
): { setting: EtcdSetting; path: string; hostPath?: string } | undefined {
  if (parsed.kind === 'config') return undefined;
  const fromEnv = related.map((r) => (r.kind === 'env' ? lastSetting(r, 'config-file') : undefined)).find(Boolean);
  const s = lastSetting(parsed, 'config-file') ?? fromEnv;
  if (!s || !s.value) return undefined;
  if (parsed.kind === 'systemd' && parsed.launcher && parsed.launcher.kind !== 'etcd-wrapper' && parsed.launcher.kind !== 'other') {
    const host = containerHostPath(parsed.launcher, s.value);
    return { setting: s, path: s.value, ...(host ? { hostPath: host } : {}) };
  }
  const host = hostPathOf(parsed, s.value);
  return { setting: s, path: s.value, ...(host !== undefined ? { hostPath: host } : {}) };
}

/** The node's path of a path inside a `docker run` container, through its volumes (the deepest one). */
export function containerHostPath(l: UnitLauncher, path: string): string | undefined {
  const holding = l.volumes.filter((x) => x.host.startsWith('/') && isInside(path, x.container));
  const v = holding.sort((a, b) => b.container.length - a.container.length)[0];
  if (!v) return undefined;
  const rest = path.replace(/\/+$/, '').slice(v.container.replace(/\/+$/, '').length);
  return `${v.host.replace(/\/+$/, '')}${rest}` || '/';
}

/** The sentence for a file that names a config file: etcd reads nothing else. */
export function configFileSentence(parsed: ParsedEtcdFile, related: readonly ParsedEtcdFile[] = []): string | undefined {
  const cf = configFileOf(parsed, related);
  if (!cf) return undefined;
  const node = cf.hostPath && cf.hostPath !== cf.path ? ` (on the node: ${cf.hostPath})` : '';
  return (
    `etcd is started with ${cf.setting.key} ${cf.path}${node} and then ignores every other flag and variable: make this change ` +
    `in that file (etcd-backup manifest … ${cf.hostPath ?? cf.path}).`
  );
}

/** A unit's env files that could not be read here: the sentence that refuses an edit which depends on them. */
function unreadableSentence(parsed: ParsedEtcdFile, name: string, opts: GuardOptions): string | undefined {
  if (parsed.kind !== 'systemd') return undefined;
  const paths = new Set([...parsed.environmentFiles.map((f) => f.path), ...(parsed.launcher?.envFiles ?? [])]);
  const bad = (opts.unreadable ?? []).filter((u) => paths.has(u.path));
  if (!bad.length) return undefined;
  const u = bad[0];
  return (
    `The unit reads ${u.path} (EnvironmentFile=), which cannot be read here (${u.reason}): it may set ${envNameOf(name)}, and ` +
    `etcd exits at start when a flag and a variable both set it. Run this where that file can be read (as root), or change ` +
    `${envNameOf(name)} in it.`
  );
}

function volumeWord(l: UnitLauncher, path: string): string {
  const v = l.volumes.filter((x) => isInside(path, x.container)).sort((a, b) => b.container.length - a.container.length)[0];
  return v ? `the volume ${v.host}:${v.container}` : 'no volume of the container';
}

/**
 * Why setting `name` in this file would not reach etcd, or would break it; undefined when the
 * edit may go ahead. `data-dir` on a container unit is handled by containerDataDir.
 */
export function settingGuard(parsed: ParsedEtcdFile, name: string, opts: GuardOptions): string | undefined {
  const related = opts.related ?? [];
  if (name !== 'config-file') {
    const cf = configFileSentence(parsed, related);
    if (cf) return cf;
  }
  const l = parsed.launcher;
  if (parsed.kind === 'systemd' && l && (l.kind === 'docker' || l.kind === 'podman') && !l.etcdFlags) {
    const files = [...l.envFiles, ...parsed.environmentFiles.map((f) => f.path)];
    return (
      `etcd runs in a container here (${l.kind} run ${l.image ?? ''}) and this line passes it no etcd flags: set ` +
      `${envNameOf(name)} in ${files.length ? releaseList(files, 'or') : 'the file the container reads its variables from'} instead.`
    );
  }
  if (parsed.kind === 'systemd' && l?.kind === 'other' && !parsed.flagList) {
    return `ExecStart= runs ${l.program}, not etcd, so there is no etcd command line here to edit${
      parsed.environmentFiles.length
        ? `: set ${envNameOf(name)} in ${releaseList(
            parsed.environmentFiles.map((f) => f.path),
            'or',
          )} ` + `(EnvironmentFile=)`
        : ''
    }${parsed.settings.some((s) => s.source === 'environment') ? `, or in this unit's Environment= lines` : ''}.`;
  }
  if (parsed.kind === 'env' && name === 'data-dir') {
    const unit = related.find((r) => r.kind === 'systemd' && r.launcher && (r.launcher.kind === 'docker' || r.launcher.kind === 'podman'));
    if (unit?.launcher) {
      const cur = lastSetting(parsed, 'data-dir')?.value;
      return (
        `The unit ${where(unit)} runs etcd in a container (${unit.launcher.kind} run): ${envNameOf('data-dir')} is a path inside it${
          cur ? `, on ${volumeWord(unit.launcher, cur)}` : ''
        }, and a new path there would be an empty dir that is not on the node. ` +
        'Run set-data-dir on the unit: it moves the host side of that volume.'
      );
    }
  }
  return unreadableSentence(parsed, name, opts);
}

/**
 * With `--wal-dir` (or ETCD_WAL_DIR, `wal-dir:`) set, etcd keeps its WAL apart from the data dir:
 * moving only the data dir would pair the restored data with the old member's WAL.
 */
export function walDirGuard(parsed: ParsedEtcdFile, opts: GuardOptions): string | undefined {
  const files = [parsed, ...(opts.related ?? []), ...(opts.configFile ? [opts.configFile] : [])];
  for (const f of files) {
    const w = lastSetting(f, 'wal-dir');
    if (w && w.value.trim()) {
      return (
        `${w.key} ${w.value} is set${f === parsed ? '' : ` in ${where(f)}`}: etcd keeps its WAL there, apart from the data dir, ` +
        `so moving only the data dir would pair the restored data with the old member's WAL. Restore with a new --wal-dir too and ` +
        `set both by hand, or remove ${w.key} so the WAL lives in the data dir.`
      );
    }
  }
  return undefined;
}

/**
 * set-data-dir on a `docker run` / `podman run` unit: the data dir is a path inside the
 * container; the host side of the volume mounted exactly there moves to `target`, the container
 * keeps its path (as --keep-container-path does for a Pod).
 */
export function containerDataDir(parsed: ParsedEtcdFile, target: string, opts: GuardOptions): EditResult | undefined {
  const l = parsed.launcher;
  if (parsed.kind !== 'systemd' || !l || (l.kind !== 'docker' && l.kind !== 'podman')) return undefined;
  const fromEnv = (opts.related ?? []).map((r) => (r.kind === 'env' ? lastSetting(r, 'data-dir') : undefined)).find(Boolean);
  const dd = [...parsed.settings].reverse().find((s) => s.name === 'data-dir' && s.source === 'command') ?? fromEnv;
  const fail = (error: string): EditResult => ({ ok: false, error });
  if (!dd) {
    return fail(
      `etcd runs in a container here (${l.kind} run) and its data dir is not known (no --data-dir on this line, no ` +
        `ETCD_DATA_DIR in the files read): change the host side of the volume that holds it by hand.`,
    );
  }
  const inside = dd.value.replace(/(.)\/+$/, '$1');
  const v = l.volumes.find((x) => x.container.replace(/(.)\/+$/, '$1') === inside);
  if (!v) {
    return fail(
      `etcd runs in a container here (${l.kind} run): its data dir ${dd.value} is a path inside it, on ` +
        `${volumeWord(l, dd.value)}, not a volume of its own. Change the volumes by hand.`,
    );
  }
  if (!v.host.startsWith('/'))
    return fail(
      `The data dir ${dd.value} is on the named volume "${v.host}", not a directory of the ` +
        `node: move it with ${l.kind} volume commands.`,
    );
  if (!v.hostRange || parsed.text.slice(v.hostRange.start, v.hostRange.end) !== v.host) {
    return fail(
      `The volume ${v.host}:${v.container} is written with quotes or escapes that cannot be edited safely: change its host ` +
        `side to ${target} by hand.`,
    );
  }
  if (/[\s"'\\:,$%]/.test(target)) {
    return fail(
      `"${target}" cannot be written as the host side of a volume on this line; choose a path without spaces, quotes, ":" ` + `or ",".`,
    );
  }
  const edits: TextEdit[] = [];
  const e = minimalEdit(v.hostRange.start, v.host, target);
  if (e) edits.push(e);
  return {
    ok: true,
    edits,
    changes: e ? [`volume ${v.host}:${v.container} -> ${target}:${v.container} (etcd keeps ${dd.value} ` + `inside the container)`] : [],
  };
}
