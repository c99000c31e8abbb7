/**
 * The `--enable-v2` flag in a member's etcd files (manifest, env file, config file, unit), read
 * with the parsers of ./etcdFiles (read-only use), and the well-known places of those files on a
 * machine. Why it matters: see ./v2store.
 */
import { promises as fs } from 'fs';
import type { ParsedEtcdFile } from './etcdFiles';
import { effectiveSettings, lastSetting, parseEtcdFile } from './etcdFiles';

/** What a member's etcd files say about the v2 API. */
export interface V2Setting {
  /** The member serves the v2 API (its keys live in the v2 store unless `emulatedPrefix` is set). */
  enabled: boolean;
  /** How it is written, e.g. `--enable-v2`, `ETCD_ENABLE_V2=true`, `enable-v2: true`. */
  written: string;
  /** The file it is written in (as given to {@link v2SettingOf}). */
  file?: string;
  /** `--experimental-enable-v2v3`: the v2 API is served from the v3 store under this prefix. */
  emulatedPrefix?: string;
  /** The value is not one etcd accepts for a boolean (etcd refuses to start then). */
  invalid?: boolean;
}

/** Go's strconv.ParseBool, which etcd's flags and env variables use. */
export function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** The setting etcd uses: a config file's, then a flag, then an env variable (the last of duplicates). */
interface Found {
  value: string;
  key: string;
  form: string;
  file?: string;
}

function effective(files: readonly ParsedEtcdFile[], name: string): Found | undefined {
  const config = files.filter((p) => p.kind === 'config');
  const command = files.filter((p) => p.kind === 'manifest' || p.kind === 'systemd');
  const envs = files.filter((p) => p.kind === 'env');
  for (const p of config) {
    const s = lastSetting(p, name);
    if (s) return { value: s.value, key: s.key, form: s.form, file: p.fileName };
  }
  for (const want of ['flag', 'env'] as const) {
    for (const p of command) {
      const s = [...p.settings].reverse().find((x) => x.name === name && (want === 'env') === (x.form === 'env'));
      if (s) return { value: s.value, key: s.key, form: s.form, file: p.fileName };
    }
  }
  for (const p of envs) {
    const s = lastSetting(p, name);
    if (s) return { value: s.value, key: s.key, form: s.form, file: p.fileName };
  }
  return undefined;
}

function writtenAs(s: { value: string; key: string; form: string }): string {
  if (s.form === 'flag') return s.key;
  if (s.form === 'env') return `${s.key}=${s.value}`;
  if (s.form === 'config') return `${s.key}: ${s.value}`;
  return `${s.key}=${s.value}`;
}

/**
 * Does etcd, started from these files, serve the v2 API? `files`: the member's file first, then
 * the files it reads (a unit's `EnvironmentFile=` targets). Undefined when no file sets
 * `enable-v2` (etcd 3.4 and later then serve no v2 API; 3.3 and earlier did by default).
 */
export function v2SettingOf(files: readonly ParsedEtcdFile[]): V2Setting | undefined {
  const s = effective(files, 'enable-v2');
  const emu = effective(files, 'experimental-enable-v2v3');
  if (!s) return undefined;
  const value = s.form === 'flag' ? 'true' : s.value.trim();
  const parsed = parseGoBool(value);
  const out: V2Setting = { enabled: parsed === true, written: writtenAs(s), ...(s.file !== undefined ? { file: s.file } : {}) };
  if (parsed === undefined) out.invalid = true;
  if (out.enabled && emu && emu.value.trim()) out.emulatedPrefix = emu.value.trim();
  return out;
}

/** The files where etcd's settings usually are on a machine (kubeadm, Debian/RHEL packages, hand-made units). */
export const WELL_KNOWN_ETCD_FILES: readonly string[] = [
  '/etc/kubernetes/manifests/etcd.yaml',
  '/etc/etcd/etcd.conf.yml',
  '/etc/etcd/etcd.conf.yaml',
  '/etc/etcd/etcd.conf',
  '/etc/etcd/etcd.env',
  '/etc/default/etcd',
  '/etc/sysconfig/etcd',
  '/etc/systemd/system/etcd.service',
  '/lib/systemd/system/etcd.service',
  '/usr/lib/systemd/system/etcd.service',
];

/** No real etcd file comes near this; a bigger one is not read. */
const MAX_ETCD_FILE = 1024 * 1024;

/** Read a regular file of at most 1 MiB, or undefined (missing, not a regular file, too big, unreadable). */
async function readSmallFile(path: string): Promise<string | undefined> {
  try {
    const st = await fs.stat(path);
    if (!st.isFile() || st.size > MAX_ETCD_FILE) return undefined;
    const text = await fs.readFile(path, 'utf8');
    return text.length > MAX_ETCD_FILE ? undefined : text;
  } catch {
    return undefined;
  }
}

/** One etcd file on this machine that turns the v2 API on. */
export interface V2FileFinding extends V2Setting {
  file: string;
  /** The member's data dir on this machine, as the file gives it (undefined: not set there). */
  dataDir?: string;
  walDir?: string;
}

/**
 * The etcd files among `paths` (by default {@link WELL_KNOWN_ETCD_FILES}) that start etcd with
 * the v2 API on, each with the data dir it gives. A unit's `EnvironmentFile=` targets are read
 * with it. Files that are missing, not regular or not etcd's are skipped. Never throws.
 */
export async function etcdFilesEnablingV2(paths: readonly string[] = WELL_KNOWN_ETCD_FILES): Promise<V2FileFinding[]> {
  const out: V2FileFinding[] = [];
  for (const path of paths) {
    const text = await readSmallFile(path);
    if (text === undefined) continue;
    const parsed = parseEtcdFile(text, path);
    if (parsed.kind === 'unknown') continue;
    const related: ParsedEtcdFile[] = [];
    for (const ref of parsed.environmentFiles) {
      const t = await readSmallFile(ref.path);
      if (t !== undefined) related.push(parseEtcdFile(t, ref.path));
    }
    const setting = v2SettingOf([parsed, ...related]);
    if (!setting?.enabled) continue;
    const eff = effectiveSettings(parsed, related);
    const wal = effective([parsed, ...related], 'wal-dir')?.value;
    out.push({ ...setting, file: path, ...(eff.hostDataDir ? { dataDir: eff.hostDataDir } : {}), ...(wal ? { walDir: wal } : {}) });
  }
  return out;
}

function sameDir(a: string, b: string): boolean {
  const n = (p: string): string => p.replace(/\/+$/, '') || '/';
  return n(a) === n(b);
}

/**
 * The etcd files of the member whose data dir is restored: `memberFiles` (files known to be the
 * member's, e.g. the manifest a restore was started from) whatever data dir they give, and the
 * {@link WELL_KNOWN_ETCD_FILES} whose data dir is one of `dataDirs`, when they enable the v2 API.
 */
export async function memberFilesEnablingV2(opts: {
  dataDirs: readonly (string | undefined)[];
  memberFiles?: readonly string[];
  wellKnown?: readonly string[];
}): Promise<V2FileFinding[]> {
  const dirs = opts.dataDirs.filter((d): d is string => Boolean(d));
  const own = await etcdFilesEnablingV2(opts.memberFiles ?? []);
  const others = (opts.wellKnown ?? WELL_KNOWN_ETCD_FILES).filter((p) => !(opts.memberFiles ?? []).includes(p));
  const inDirs = (f: V2FileFinding): boolean => f.dataDir !== undefined && dirs.some((d) => sameDir(d, f.dataDir as string));
  const known = (await etcdFilesEnablingV2(others)).filter(inDirs);
  return [...own, ...known];
}
