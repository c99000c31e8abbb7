/**
 * What etcd ends up running with: the last value of each setting, container paths mapped to
 * the node's paths through the Pod's hostPath volumes, a unit's flags over its env file's
 * variables.
 */
import { EffectiveSettings, EtcdSetting, ParsedEtcdFile, PodVolume, VolumeMount } from './types';

/** The last setting of that canonical name (etcd takes the last of a flag given twice), or undefined. */
export function lastSetting(parsed: ParsedEtcdFile, name: string): EtcdSetting | undefined {
  for (let i = parsed.settings.length - 1; i >= 0; i--) {
    if (parsed.settings[i].name === name) return parsed.settings[i];
  }
  return undefined;
}

/** Every setting of that name, in source order. */
export function settingsNamed(parsed: ParsedEtcdFile, name: string): EtcdSetting[] {
  return parsed.settings.filter((s) => s.name === name);
}

function normDir(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' && p.startsWith('/') ? '/' : t;
}

/** Is `path` the directory `dir` or inside it? */
export function isInside(path: string, dir: string): boolean {
  const p = normDir(path);
  const d = normDir(dir);
  return p === d || d === '/' || p.startsWith(`${d}/`);
}

/** The mount of the etcd container that holds a container path (the deepest one), with its volume. */
export function mountFor(parsed: ParsedEtcdFile, containerPath: string): { mount: VolumeMount; volume?: PodVolume } | undefined {
  let best: VolumeMount | undefined;
  for (const m of parsed.volumeMounts) {
    if (m.mountPath && isInside(containerPath, m.mountPath) && (!best || normDir(m.mountPath).length > normDir(best.mountPath).length))
      best = m;
  }
  if (!best) return undefined;
  return { mount: best, volume: parsed.volumes.find((v) => v.name === best.name) };
}

/**
 * The node's path for a path as etcd sees it. For a manifest: through the hostPath volume
 * mounted there (undefined when no hostPath volume holds it); otherwise the path itself.
 */
export function hostPathOf(parsed: ParsedEtcdFile, path: string): string | undefined {
  if (parsed.kind !== 'manifest') return path;
  const m = mountFor(parsed, path);
  if (!m || m.volume?.hostPath === undefined) return undefined;
  const rest = normDir(path).slice(normDir(m.mount.mountPath).length).replace(/^\//, '');
  const sub = m.mount.subPath ? `/${m.mount.subPath.replace(/^\/+|\/+$/g, '')}` : '';
  const base = normDir(m.volume.hostPath) + sub;
  return rest ? `${base === '/' ? '' : base}/${rest}` : base || '/';
}

function urls(v: string | undefined): string[] {
  return v
    ? v
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
    : [];
}

/**
 * The settings import and restore need, as etcd would use them: the last of duplicates wins,
 * flags beat env variables (pass a unit's env files as `related`; for an env file, pass the unit
 * to let its flags win). Paths stay as etcd sees them; `hostDataDir` is the node's data dir.
 */
export function effectiveSettings(parsed: ParsedEtcdFile, related: readonly ParsedEtcdFile[] = []): EffectiveSettings {
  const commandFirst = [parsed, ...related].filter((p) => p.kind === 'manifest' || p.kind === 'systemd' || p.kind === 'config');
  const envs = [parsed, ...related].filter((p) => p.kind === 'env');
  const get = (name: string): string | undefined => {
    // a config file overrides both; then command-line flags; then env (systemd Environment= lines, env files)
    for (const p of commandFirst.filter((x) => x.kind === 'config')) {
      const s = lastSetting(p, name);
      if (s) return s.value;
    }
    for (const p of commandFirst) {
      const s = [...p.settings].reverse().find((x) => x.name === name && x.form !== 'env');
      if (s) return s.value;
    }
    for (const p of commandFirst) {
      const s = [...p.settings].reverse().find((x) => x.name === name && x.form === 'env');
      if (s) return s.value;
    }
    for (const p of envs) {
      const s = lastSetting(p, name);
      if (s) return s.value;
    }
    return undefined;
  };
  const dataDir = get('data-dir');
  const cca = get('client-cert-auth');
  const out: EffectiveSettings = {
    advertiseClientUrls: urls(get('advertise-client-urls')),
    listenClientUrls: urls(get('listen-client-urls')),
    listenPeerUrls: urls(get('listen-peer-urls')),
    initialAdvertisePeerUrls: urls(get('initial-advertise-peer-urls')),
  };
  const set = <K extends keyof EffectiveSettings>(k: K, v: EffectiveSettings[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('name', get('name'));
  set('dataDir', dataDir);
  set('hostDataDir', dataDir !== undefined ? hostPathOf(parsed, dataDir) : undefined);
  set('trustedCaFile', get('trusted-ca-file'));
  set('certFile', get('cert-file'));
  set('keyFile', get('key-file'));
  set('clientCertAuth', cca === undefined ? undefined : cca === 'true' || cca === '');
  set('initialCluster', get('initial-cluster'));
  set('initialClusterState', get('initial-cluster-state'));
  set('initialClusterToken', get('initial-cluster-token'));
  return out;
}

/** Where the editor's actions belong in a file (CodeLens positions). */
export interface EtcdFileAnchors {
  /** The first line of the file ("Add as cluster", "Restore a snapshot for this member…"). */
  top: { start: number; end: number };
  /** The entry etcd takes its data dir from (the last `--data-dir` / `ETCD_DATA_DIR` / `data-dir:`). */
  dataDir?: { start: number; end: number };
  /** The initial-cluster-state entry, or where one would be added (the last flag, or the command). */
  initialClusterState?: { start: number; end: number };
  /** True when `initialClusterState` points at the place where the setting would be added. */
  initialClusterStateMissing: boolean;
}

/** Where to put the CodeLenses of a file; nothing but `top` for a file that cannot be read. */
export function etcdFileAnchors(parsed: ParsedEtcdFile): EtcdFileAnchors {
  const nl = parsed.text.indexOf('\n');
  const top = { start: 0, end: nl < 0 ? parsed.text.length : nl > 0 && parsed.text[nl - 1] === '\r' ? nl - 1 : nl };
  if (parsed.problems.some((p) => p.fatal)) return { top, initialClusterStateMissing: false };
  const dd = lastSetting(parsed, 'data-dir');
  const st = lastSetting(parsed, 'initial-cluster-state');
  const lastFlag = [...parsed.settings].reverse().find((s) => parsed.kind !== 'systemd' || s.source === 'command');
  const fallback =
    lastFlag?.entryRange ?? parsed.flagList?.executableRange ?? (parsed.kind === 'env' || parsed.kind === 'config' ? top : undefined);
  return {
    top,
    ...(dd ? { dataDir: dd.entryRange } : {}),
    ...(st ? { initialClusterState: st.entryRange } : fallback ? { initialClusterState: fallback } : {}),
    initialClusterStateMissing: !st,
  };
}
