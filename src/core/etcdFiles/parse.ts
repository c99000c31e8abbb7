/**
 * `parseEtcdFile`: recognise an etcd file by its content (the name only breaks ties) and read
 * it into the uniform view of types.ts.
 */
import { isKnownFlag } from './flags';
import { looksLikeEnv, readEnv } from './envFile';
import { looksLikeUnit, readUnit } from './systemdUnit';
import { eolOf } from './text';
import { EtcdFileKind, ParsedEtcdFile } from './types';
import { isConfigDoc, isPodDoc, parseYamlDocs, readConfig, readManifest } from './yamlFiles';

function empty(text: string, kind: EtcdFileKind, fileName?: string): ParsedEtcdFile {
  return {
    kind,
    ...(fileName !== undefined ? { fileName } : {}),
    text,
    eol: eolOf(text),
    settings: [],
    volumes: [],
    volumeMounts: [],
    environmentFiles: [],
    problems: [],
  };
}

/** Text that looks like a Kubernetes object or an etcd config file even when the YAML is broken. */
const POD_HINT = /^[ \t]*kind:[ \t]*["']?Pod["']?[ \t]*(#.*)?\r?$/m;
const CONFIG_HINT =
  /^(data-dir|name|initial-(cluster(-state|-token)?|advertise-peer-urls)|(listen|advertise)-client-urls|listen-peer-urls)[ \t]*:/m;

/**
 * Read an etcd file. Never throws: a file it cannot read comes back with `kind: 'unknown'` (or
 * its kind) and problems that say why.
 *
 * Recognised, by content: a static Pod whose container runs etcd (`manifest`), an env file with
 * `ETCD_*=` lines (`env`), etcd's YAML config file (`config`), a systemd unit (`systemd`).
 * `fileName` (a path or base name) decides only between equally plausible kinds.
 */
export function parseEtcdFile(text: string, fileName?: string): ParsedEtcdFile {
  const base = (fileName ?? '').split(/[\\/]/).pop() ?? '';
  if (text.length > MAX_ETCD_FILE_CHARS) return tooLarge(text, base, fileName);
  const unitName = /\.(service|conf)$/i.test(base);
  if (looksLikeUnit(text) || (unitName && /^[ \t]*(ExecStart|EnvironmentFile|Environment)[ \t]*=/m.test(text))) {
    const out = empty(text, 'systemd', fileName);
    readUnit(text, out);
    return sortSettings(out);
  }
  if (looksLikeEnv(text) && !/^[ \t]*[A-Za-z_-]+[ \t]*:[ \t]/m.test(text.replace(/^[ \t]*[#;].*$/gm, ''))) {
    const out = empty(text, 'env', fileName);
    readEnv(text, out);
    return out;
  }
  const { docs, problems } = parseYamlDocs(text);
  const broken = problems.some((p) => p.severity === 'error');
  if (docs.some(isPodDoc) || (broken && POD_HINT.test(text))) {
    const out = empty(text, 'manifest', fileName);
    for (const p of problems) out.problems.push(p);
    readManifest(text, docs, out);
    return out;
  }
  const configDoc = docs.find((d) => isConfigDoc(d, isKnownFlag));
  if (configDoc || (broken && CONFIG_HINT.test(text))) {
    const out = empty(text, 'config', fileName);
    for (const p of problems) out.problems.push(p);
    if (configDoc && !broken) readConfig(text, configDoc, out);
    return out;
  }
  if (looksLikeEnv(text) || /\.env$/i.test(base)) {
    const out = empty(text, 'env', fileName);
    readEnv(text, out);
    return out;
  }
  const out = empty(text, 'unknown', fileName);
  out.problems.push({
    code: 'not-an-etcd-file',
    range: { start: 0, end: Math.min(text.length, Math.max(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n'))) },
    severity: 'error',
    fatal: true,
    message: broken
      ? `${base || 'This file'} is not valid YAML, and not an env file or systemd unit of etcd's: ${problems[0]?.message ?? ''}`.trim()
      : `${base || 'This file'} is not an etcd file: expected a static pod manifest running etcd, an env file with ETCD_* variables, ` +
        `an etcd config file or a systemd unit that runs etcd.`,
  });
  return out;
}

/**
 * Past this many characters a text is not read at all: no manifest, env file, config file or
 * unit of etcd's comes near it (kubeadm's manifest is 2-3 KiB, OpenShift's largest about 30 KiB),
 * and the YAML reader needs about 200 times a file's size in memory.
 */
export const MAX_ETCD_FILE_CHARS = 1024 * 1024;

function tooLarge(text: string, base: string, fileName?: string): ParsedEtcdFile {
  const out = empty('', 'unknown', fileName);
  out.text = text;
  out.problems.push({
    code: 'too-large',
    range: { start: 0, end: 0 },
    severity: 'error',
    fatal: true,
    message:
      `${base || 'This file'} has ${text.length} characters; no etcd manifest, env, config or unit file is over ` +
      `${MAX_ETCD_FILE_CHARS / 1024 / 1024} MiB, so it is not read. Give the right file.`,
  });
  return out;
}

function sortSettings(out: ParsedEtcdFile): ParsedEtcdFile {
  out.settings.sort((a, b) => a.entryRange.start - b.entryRange.start);
  return out;
}
