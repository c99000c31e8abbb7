/**
 * Units whose `ExecStart=` starts etcd through something else: `docker run` / `podman run`
 * (volumes, `--env-file`, the image, and the etcd command after it), a shell (`bash -c "…"`),
 * CoreOS's `etcd-wrapper` (its arguments are etcd's flags). Read from the unit's words.
 */
import { readShellScript, runsEtcd, shellScriptOf } from './shellScript';
import { ContainerVolume, UnitLauncher } from './types';
import { Word } from './words';

/** Short options of `docker run` / `podman run` that take the next word as their value. */
const SHORT_WITH_VALUE = new Set(['v', 'e', 'p', 'u', 'w', 'h', 'l', 'm', 'c', 'a']);
/** Short boolean options, alone or combined (`-it`, `-dit`). */
const SHORT_BOOLEAN = new Set(['d', 'i', 't', 'P', 'q']);
/** Long boolean options (the rest take a value). */
const LONG_BOOLEAN = new Set([
  'rm',
  'detach',
  'interactive',
  'tty',
  'privileged',
  'init',
  'read-only',
  'publish-all',
  'no-healthcheck',
  'oom-kill-disable',
  'disable-content-trust',
  'replace',
  'rmi',
  'sig-proxy',
  'help',
  'quiet',
  'no-hosts',
  'http-proxy',
  'env-host',
  'systemd',
  'read-only-tmpfs',
  'rootfs',
  'tls-verify',
]);

function basename(p: string): string {
  return p.split('/').pop() ?? p;
}

/** An option's value and where it starts in the text (exact only when the word is). */
interface OptValue {
  value: string;
  word: Word;
  /** Offset of the value's first character in the text, when exact. */
  at?: number;
}

function valueOf(word: Word, prefixLength: number): OptValue {
  return { value: word.value.slice(prefixLength), word, ...(word.inner ? { at: word.inner.start + prefixLength } : {}) };
}

function volumeOf(v: OptValue): ContainerVolume | undefined {
  const parts = v.value.split(':');
  if (parts.length < 2) return undefined;
  const [host, container, opts] = parts;
  return {
    host,
    container,
    ...(v.at !== undefined ? { hostRange: { start: v.at, end: v.at + host.length } } : {}),
    range: v.word.range,
    ...(opts && /(^|,)ro(,|$)/.test(opts) ? { readOnly: true } : {}),
  };
}

function mountOf(v: OptValue): ContainerVolume | undefined {
  const fields = v.value.split(',');
  let offset = 0;
  let host: { value: string; start: number } | undefined;
  let container: string | undefined;
  let type = 'volume';
  let readOnly = false;
  for (const f of fields) {
    const eq = f.indexOf('=');
    const k = eq < 0 ? f : f.slice(0, eq);
    const val = eq < 0 ? '' : f.slice(eq + 1);
    if (k === 'type') type = val;
    else if (k === 'source' || k === 'src') host = { value: val, start: offset + eq + 1 };
    else if (k === 'target' || k === 'destination' || k === 'dst') container = val;
    else if (k === 'readonly' || k === 'ro') readOnly = val !== 'false';
    offset += f.length + 1;
  }
  if (!host || container === undefined || (type !== 'bind' && !host.value.startsWith('/'))) return undefined;
  return {
    host: host.value,
    container,
    ...(v.at !== undefined ? { hostRange: { start: v.at + host.start, end: v.at + host.start + host.value.length } } : {}),
    range: v.word.range,
    ...(readOnly ? { readOnly } : {}),
  };
}

/** The options of `docker run`, up to the image. Returns the index of the image word. */
function readRunOptions(ws: Word[], from: number, l: UnitLauncher, envWords: { key: string; word: Word }[]): number {
  let i = from;
  for (; i < ws.length; i++) {
    const w = ws[i].value;
    if (w === '--') return i + 1;
    if (!w.startsWith('-') || w === '-') return i;
    let name: string;
    let v: OptValue | undefined;
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      name = w.slice(2, eq < 0 ? undefined : eq);
      if (eq >= 0) v = valueOf(ws[i], eq + 1);
      else if (!LONG_BOOLEAN.has(name) && i + 1 < ws.length) v = valueOf(ws[++i], 0);
    } else {
      name = w[1];
      if (w.length === 2 && SHORT_WITH_VALUE.has(name) && i + 1 < ws.length) v = valueOf(ws[++i], 0);
      else if ([...w.slice(1)].every((c) => SHORT_BOOLEAN.has(c))) continue;
      else v = valueOf(ws[i], 2);
    }
    if (!v) continue;
    if (name === 'v' || name === 'volume') {
      const vol = volumeOf(v);
      if (vol) l.volumes.push(vol);
    } else if (name === 'mount') {
      const vol = mountOf(v);
      if (vol) l.volumes.push(vol);
    } else if (name === 'env-file') {
      l.envFiles.push(v.value);
    } else if (name === 'e' || name === 'env') {
      const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(v.value)?.[0];
      if (key) envWords.push({ key, word: v.word });
    }
  }
  return i;
}

/** What a unit's ExecStart= starts, when it is not etcd itself; `etcdWords`: [the word standing for etcd, ...its flags]. */
export interface LauncherRead {
  launcher: UnitLauncher;
  etcdWords?: Word[];
  /** `-e ETCD_X=…` words of a container command. */
  envWords: { key: string; word: Word }[];
}

export function readLauncher(ws: Word[]): LauncherRead | undefined {
  const program = ws[0].value.replace(/^[-@:+!]+/, '');
  const base = basename(program);
  const l: UnitLauncher = { kind: 'other', program, range: ws[0].range, volumes: [], envFiles: [], etcdFlags: false };
  const envWords: { key: string; word: Word }[] = [];
  if (base === 'etcd-wrapper') {
    l.kind = 'etcd-wrapper';
    l.etcdFlags = true;
    return { launcher: l, etcdWords: ws, envWords };
  }
  if (base === 'docker' || base === 'podman') {
    let i = 1;
    if (ws[i]?.value === 'container') i++;
    if (ws[i]?.value !== 'run') return undefined;
    l.kind = base;
    const img = readRunOptions(ws, i + 1, l, envWords);
    if (img >= ws.length) return { launcher: l, envWords };
    l.image = ws[img].value;
    const rest = ws.slice(img + 1);
    if (rest.length && runsEtcd(rest[0].value)) {
      l.etcdFlags = true;
      return { launcher: l, etcdWords: rest, envWords };
    }
    if (/etcd/.test(l.image) && (!rest.length || rest[0].value.startsWith('-'))) {
      // the image's entrypoint is etcd: the words after the image are its flags
      l.etcdFlags = rest.length > 0;
      return { launcher: l, etcdWords: [ws[img], ...rest], envWords };
    }
    return { launcher: l, envWords };
  }
  const script = shellScriptOf([program, ...ws.slice(1).map((w) => w.value)]);
  if (script !== undefined) {
    const info = readShellScript(script);
    if (!info.runsEtcd) return undefined;
    l.kind = 'shell';
    l.scriptVariables = info.variables;
    return { launcher: l, envWords };
  }
  return { launcher: l, envWords };
}
