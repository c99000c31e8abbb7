/**
 * Static pod manifests and etcd config files, read with the `yaml` package's document API:
 * every node keeps its source range, so settings, volumes and mounts know where their values
 * are written (js-yaml gives only the values).
 */
import { Document, isMap, isScalar, isSeq, parseAllDocuments, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { etcdMinorOf, flagNameOfEnv } from './flags';
import { readShellScript, runsEtcd, shellScriptOf, ShellScriptInfo } from './shellScript';
import type {
  EtcdSetting,
  FlagListInfo,
  OtherContainerMount,
  ParsedEtcdFile,
  ParseProblem,
  PodVolume,
  TextRange,
  ValueQuote,
} from './types';
import type { VolumeMount } from './types';
import { lineStart } from './text';
import { settingsFromWords, Word } from './words';

type AnyNode = unknown;

export function quoteOf(node: Scalar): ValueQuote {
  return node.type === 'QUOTE_DOUBLE' ? 'double' : node.type === 'QUOTE_SINGLE' ? 'single' : 'none';
}

/** A scalar's string value, its whole source range and (when exact) the range of the value itself. */
export function scalarWord(text: string, node: Scalar, inFlow = false): Word {
  const [start, valueEnd] = node.range ?? [0, 0];
  const src = text.slice(start, valueEnd);
  const value = node.value === null || node.value === undefined ? '' : isPlainSource(node) ? src : String(node.value);
  let inner: TextRange | undefined;
  const q = quoteOf(node);
  if (q === 'none' && (node.type === 'PLAIN' || node.type === undefined) && src === value && !/[\r\n]/.test(src)) {
    inner = { start, end: valueEnd };
  } else if (q !== 'none' && src.length >= 2 && src.slice(1, -1) === value && !/[\r\n]/.test(src)) {
    inner = { start: start + 1, end: valueEnd - 1 };
  }
  let entryStart = start;
  let i = start - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  if (i >= 0 && text[i] === '-') entryStart = i;
  return { value, range: { start, end: valueEnd }, inner, quote: q, entryStart, ...(inFlow ? { inFlow } : {}) };
}

/** Plain scalars (numbers, booleans) keep the text as written: etcd gets strings. */
function isPlainSource(node: Scalar): boolean {
  return node.type === 'PLAIN' && typeof node.value !== 'string';
}

function get(map: AnyNode, key: string): AnyNode {
  if (!isMap(map)) return undefined;
  for (const p of (map as YAMLMap).items) {
    if (isScalar(p.key) && String(p.key.value) === key) return p.value;
  }
  return undefined;
}

function str(node: AnyNode): string | undefined {
  return isScalar(node) && node.value !== null && node.value !== undefined ? String(node.value) : undefined;
}

function rangeOf(node: AnyNode): TextRange | undefined {
  const r = (node as { range?: [number, number, number] } | undefined)?.range;
  return r ? { start: r[0], end: r[1] } : undefined;
}

/** A map's item range from its `-` (as a sequence item) to its end. */
function itemRange(text: string, node: AnyNode): TextRange {
  const r = rangeOf(node) ?? { start: 0, end: 0 };
  let i = r.start - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return { start: i >= 0 && text[i] === '-' ? i : r.start, end: r.end };
}

export { runsEtcd };

function yamlProblems(docs: Document.Parsed[], problems: ParseProblem[]): void {
  for (const d of docs) {
    for (const e of d.errors) {
      const [s, t] = e.pos;
      problems.push({
        code: 'yaml-error',
        range: { start: s, end: Math.max(t, s) },
        severity: 'error',
        message: `The YAML does not ` + `parse: ${firstLine(e.message)}`,
        fatal: true,
      });
    }
    for (const w of d.warnings) {
      const [s, t] = w.pos;
      problems.push({ code: 'yaml-warning', range: { start: s, end: Math.max(t, s) }, severity: 'warning', message: firstLine(w.message) });
    }
  }
}

function firstLine(m: string): string {
  const l = m
    .split('\n')[0]
    .trim()
    .replace(/ at line \d+, column \d+:?$/, '');
  return /[.!?]$/.test(l) ? l : `${l}.`;
}

export function parseYamlDocs(text: string): { docs: Document.Parsed[]; problems: ParseProblem[] } {
  const problems: ParseProblem[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: false }) as unknown as Document.Parsed[] | { errors: unknown[] };
  if (!Array.isArray(docs)) {
    problems.push({
      code: 'yaml-error',
      range: { start: 0, end: text.length },
      severity: 'error',
      message: 'The YAML does not ' + 'parse.',
      fatal: true,
    });
    return { docs: [], problems };
  }
  yamlProblems(docs, problems);
  return { docs, problems };
}

/** Is this YAML document a Pod (by `kind`, or by `spec.containers` when `kind` is missing)? */
export function isPodDoc(doc: Document.Parsed): boolean {
  const kind = str(get(doc.contents, 'kind'));
  if (kind !== undefined) return kind === 'Pod';
  return isSeq(get(get(doc.contents, 'spec'), 'containers'));
}

/** A container of a Pod that runs etcd, directly or through a shell. */
interface EtcdContainer {
  doc: number;
  spec: AnyNode;
  container: AnyNode;
  name: string;
  direct?: { settings: EtcdSetting[]; flagList: FlagListInfo };
  script?: ShellScriptInfo;
  shell?: string;
}

/** The containers of the Pods in `docs` that run etcd, in order. */
function etcdContainers(text: string, pods: { doc: Document.Parsed; index: number }[], problems: ParseProblem[]): EtcdContainer[] {
  const found: EtcdContainer[] = [];
  for (const { doc, index } of pods) {
    const spec = get(doc.contents, 'spec');
    const containers = get(spec, 'containers');
    if (!isSeq(containers)) continue;
    for (const c of (containers as YAMLSeq).items) {
      if (!isMap(c)) continue;
      const name = str(get(c, 'name')) ?? '';
      const direct = etcdCommand(text, c, problems);
      if (direct) {
        found.push({ doc: index, spec, container: c, name, direct });
        continue;
      }
      const words = [get(c, 'command'), get(c, 'args')].flatMap((n) => (isSeq(n) ? (n as YAMLSeq).items.map((x) => str(x) ?? '') : []));
      const script = shellScriptOf(words);
      const info = script !== undefined ? readShellScript(script) : undefined;
      if (info?.runsEtcd) found.push({ doc: index, spec, container: c, name, script: info, shell: words[0] });
    }
  }
  return found;
}

/** Fill a ParsedEtcdFile from a manifest's documents. */
export function readManifest(text: string, docs: Document.Parsed[], out: ParsedEtcdFile): void {
  const pods = docs.map((doc, index) => ({ doc, index })).filter((d) => isPodDoc(d.doc));
  if (!pods.length) {
    if (!out.problems.some((p) => p.severity === 'error')) {
      out.problems.push({
        code: 'not-a-pod',
        range: { start: 0, end: Math.min(text.length, lineEndOfFirst(text)) },
        severity: 'error',
        message: 'This YAML is not a Pod: a static pod manifest for etcd has "kind: Pod" and a container that runs etcd.',
        fatal: true,
      });
    }
    return;
  }
  const scratch: ParseProblem[] = [];
  const found = etcdContainers(text, pods, scratch);
  const first = found[0];
  if (!first) {
    for (const p of scratch) out.problems.push(p);
    const where = rangeOf(get(get(pods[0].doc.contents, 'spec'), 'containers')) ?? { start: 0, end: lineEndOfFirst(text) };
    out.problems.push({
      code: 'no-etcd-container',
      range: where,
      severity: 'error',
      message:
        'The Pod has no container that runs ' +
        'etcd (a container whose command or args start with etcd, or a shell script that runs etcd), so there is nothing to check or ' +
        'edit.',
      fatal: true,
    });
    return;
  }
  // the problems of the container that is analysed, not of others that were tried
  const again: ParseProblem[] = [];
  if (first.direct) etcdCommand(text, first.container, again);
  for (const p of again) out.problems.push(p);
  const c = first.container;
  out.containerName = first.name || undefined;
  out.containerRange = itemRange(text, c);
  const image = str(get(c, 'image'));
  const minor = etcdMinorOf(image);
  if (minor) {
    out.etcdVersion = minor;
    out.etcdVersionSource = `the image ${image}`;
  }
  if (first.direct) {
    out.settings = first.direct.settings;
    out.flagList = first.direct.flagList;
  }
  readContainerEnv(text, get(c, 'env'), out);
  readMounts(text, get(c, 'volumeMounts'), out);
  readVolumes(text, get(first.spec, 'volumes'), out);
  out.otherMounts = otherContainerMounts(text, first);
  if (first.script) out.problems.push(shellProblem(text, first, out));
  if (found.length > 1) {
    const docsUsed = new Set(found.map((f) => f.doc));
    const who =
      docsUsed.size > 1
        ? `${docsUsed.size} Pods in this file run ` + `etcd`
        : `${found.length} containers of the Pod run etcd (${found.map((f) => f.name || '(no name)').join(', ')})`;
    out.problems.push({
      code: 'several-etcd-containers',
      range: itemRange(text, found[1].container),
      severity: 'warning',
      blocksEdits: true,
      message:
        `${who}: only the first${first.name ? ` ("${first.name}")` : ''} is checked, and edits are refused (they could land ` +
        `in the wrong one); edit the file by hand.`,
    });
  }
}

/** The problem that says a Pod runs etcd through a shell: what the script reads, what to edit instead. */
function shellProblem(text: string, ec: EtcdContainer, out: ParsedEtcdFile): ParseProblem {
  const info = ec.script as ShellScriptInfo;
  const sourced = info.sourced.map((f) => {
    const holding = out.volumeMounts.filter((x) => x.mountPath && isInsideDir(f, x.mountPath));
    const m = holding.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const v = m ? out.volumes.find((x) => x.name === m.name) : undefined;
    const inMount = m ? f.slice(m.mountPath.replace(/\/+$/, '').length) : '';
    const host = v?.hostPath !== undefined && m ? `${v.hostPath.replace(/\/+$/, '')}${inMount}` : undefined;
    return host && host !== f ? `${f} (on the node: ${host})` : f;
  });
  const range = rangeOf(get(ec.container, 'command')) ?? rangeOf(get(ec.container, 'args')) ?? itemRange(text, ec.container);
  const reads = sourced.length
    ? ` It reads ${sourced.join(', ')} (source): change etcd's settings ` + `there.`
    : info.variables.length
      ? ` It passes ${info.variables.join(', ')}: change them where they are ` + `set.`
      : ' Edit the script by hand.';
  return {
    code: 'shell-command',
    range,
    severity: 'info',
    blocksEdits: true,
    message:
      `etcd runs through a shell script here (${ec.shell ?? 'sh'} -c): the flags inside the script are not checked, and this ` +
      `Pod is not edited.${reads}`,
  };
}

function isInsideDir(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return path === d || d === '' || path.startsWith(`${d}/`);
}

/** The mounts of the other containers (and init containers) of the Pod that runs etcd. */
function otherContainerMounts(text: string, ec: EtcdContainer): OtherContainerMount[] {
  const out: OtherContainerMount[] = [];
  for (const key of ['containers', 'initContainers']) {
    const list = get(ec.spec, key);
    if (!isSeq(list)) continue;
    for (const c of (list as YAMLSeq).items) {
      if (c === ec.container || !isMap(c)) continue;
      const tmp: ParsedEtcdFile = {
        kind: 'manifest',
        text,
        eol: '\n',
        settings: [],
        volumes: [],
        volumeMounts: [],
        environmentFiles: [],
        problems: [],
      };
      readMounts(text, get(c, 'volumeMounts'), tmp);
      for (const m of tmp.volumeMounts) out.push({ ...m, container: str(get(c, 'name')) ?? '' });
    }
  }
  return out;
}

/** `env:` of the etcd container: `- name: ETCD_X` with a `value:` (not `valueFrom`) become settings. */
function readContainerEnv(text: string, env: AnyNode, out: ParsedEtcdFile): void {
  if (!isSeq(env)) return;
  for (const item of (env as YAMLSeq).items) {
    if (!isMap(item)) continue;
    const keyNode = get(item, 'name');
    const valueNode = get(item, 'value');
    const key = str(keyNode);
    if (!key || !key.startsWith('ETCD_') || !isScalar(keyNode) || !isScalar(valueNode) || !valueNode.range) continue;
    const inFlow = Boolean((item as YAMLMap).flow);
    const w = scalarWord(text, valueNode, inFlow);
    const kw = scalarWord(text, keyNode, inFlow);
    const keyRange = kw.inner ?? kw.range;
    out.settings.push({
      name: flagNameOfEnv(key),
      key,
      value: w.value,
      valueRange: w.inner ?? w.range,
      exactValue: Boolean(w.inner),
      entryRange: itemRange(text, item),
      keyRange,
      form: 'env',
      quote: w.quote,
      list: 'env',
      ...(inFlow ? { inFlow } : {}),
    });
  }
}

function lineEndOfFirst(text: string): number {
  const i = text.indexOf('\n');
  return i < 0 ? text.length : i;
}

/** The etcd command of a container, or undefined when the container does not run etcd. */
function etcdCommand(text: string, c: AnyNode, problems: ParseProblem[]): { settings: EtcdSetting[]; flagList: FlagListInfo } | undefined {
  const command = get(c, 'command');
  const args = get(c, 'args');
  const cmdItems = isSeq(command) ? (command as YAMLSeq).items : undefined;
  const argItems = isSeq(args) ? (args as YAMLSeq).items : undefined;
  const first = cmdItems?.[0] ?? (cmdItems ? undefined : argItems?.[0]);
  const firstStr = str(first);
  let flagItems: { node: AnyNode; list: 'command' | 'args'; seq: YAMLSeq }[] = [];
  let exe: AnyNode;
  if (cmdItems && runsEtcd(firstStr?.split(/\s+/)[0])) {
    if (firstStr && /\s/.test(firstStr.trim())) {
      problems.push({
        code: 'one-word-command',
        range: rangeOf(first) ?? { start: 0, end: 0 },
        severity: 'warning',
        message: `"${firstStr}" is one word to the kubelet: etcd is not found under that name. Give each flag as its own item.`,
      });
    }
    exe = first;
    flagItems = cmdItems.slice(1).map((node) => ({ node, list: 'command' as const, seq: command as YAMLSeq }));
    for (const node of argItems ?? []) flagItems.push({ node, list: 'args' as const, seq: args as YAMLSeq });
  } else if (!cmdItems && argItems && runsEtcd(firstStr)) {
    exe = first;
    flagItems = argItems.slice(1).map((node) => ({ node, list: 'args' as const, seq: args as YAMLSeq }));
  } else if (
    !cmdItems &&
    argItems &&
    (str(get(c, 'name')) === 'etcd' || /(^|\/)etcd(:|@|$)/.test(str(get(c, 'image')) ?? '')) &&
    /^--?[a-z]/.test(firstStr ?? '')
  ) {
    flagItems = argItems.map((node) => ({ node, list: 'args' as const, seq: args as YAMLSeq }));
  } else {
    return undefined;
  }
  const settings: EtcdSetting[] = [];
  // Split by list so a `--flag value` pair never straddles command and args.
  for (const list of ['command', 'args'] as const) {
    const items = flagItems.filter((f) => f.list === list);
    const words: Word[] = [];
    for (const f of items) {
      if (!isScalar(f.node)) {
        problems.push({
          code: 'not-a-string',
          range: rangeOf(f.node) ?? { start: 0, end: 0 },
          severity: 'error',
          message: `An item ` + `of ${list} is not a string: the kubelet refuses the Pod.`,
        });
        continue;
      }
      words.push(scalarWord(text, f.node, Boolean(f.seq.flow)));
    }
    for (const x of settingsFromWords(words, { list }, problems)) settings.push(x);
  }
  const last = flagItems.length ? flagItems[flagItems.length - 1] : undefined;
  const lastNode = last?.node ?? exe;
  const seq = last?.seq ?? (command as YAMLSeq);
  const lastRange = itemRange(text, lastNode);
  const flagList: FlagListInfo = {
    list: last?.list ?? 'command',
    flow: Boolean(seq?.flow),
    insertAfter: rangeOf(lastNode)?.end ?? 0,
    executableRange: rangeOf(exe),
  };
  if (!flagList.flow) {
    const ls = lineStart(text, lastRange.start);
    const before = text.slice(ls, lastRange.start);
    flagList.indent = /^[ \t]*$/.test(before) ? before : ' '.repeat(lastRange.start - ls);
  }
  return { settings, flagList };
}

function scalarField(text: string, map: AnyNode, key: string): { value?: string; range?: TextRange; quote?: ValueQuote; inFlow?: boolean } {
  const n = get(map, key);
  if (!isScalar(n)) return {};
  const inFlow = Boolean((map as YAMLMap).flow);
  const w = scalarWord(text, n, inFlow);
  return { value: w.value, range: w.inner ?? w.range, quote: w.quote, inFlow };
}

function readMounts(text: string, mounts: AnyNode, out: ParsedEtcdFile): void {
  if (!isSeq(mounts)) return;
  for (const m of (mounts as YAMLSeq).items) {
    if (!isMap(m)) continue;
    const name = scalarField(text, m, 'name');
    const mp = scalarField(text, m, 'mountPath');
    const ro = str(get(m, 'readOnly'));
    const sub = str(get(m, 'subPath'));
    out.volumeMounts.push({
      name: name.value ?? '',
      nameRange: name.range,
      mountPath: mp.value ?? '',
      mountPathRange: mp.range,
      mountPathQuote: mp.quote,
      ...(mp.inFlow ? { mountPathInFlow: true } : {}),
      ...(ro !== undefined ? { readOnly: ro === 'true' } : {}),
      ...(sub ? { subPath: sub } : {}),
      range: itemRange(text, m),
    } satisfies VolumeMount);
  }
}

function readVolumes(text: string, volumes: AnyNode, out: ParsedEtcdFile): void {
  if (!isSeq(volumes)) return;
  for (const v of (volumes as YAMLSeq).items) {
    if (!isMap(v)) continue;
    const name = scalarField(text, v, 'name');
    const hp = get(v, 'hostPath');
    const path = scalarField(text, hp, 'path');
    const kind = (v as YAMLMap).items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')).find((k) => k && k !== 'name');
    out.volumes.push({
      name: name.value ?? '',
      nameRange: name.range,
      ...(path.value !== undefined
        ? { hostPath: path.value, hostPathRange: path.range, hostPathQuote: path.quote, ...(path.inFlow ? { hostPathInFlow: true } : {}) }
        : {}),
      ...(str(get(hp, 'type')) ? { hostPathType: str(get(hp, 'type')) } : {}),
      ...(kind ? { sourceKind: kind } : {}),
      range: itemRange(text, v),
    } satisfies PodVolume);
  }
}

/** Keys of etcd's config file that hold the TLS settings, mapped to flag names. */
const TRANSPORT: Record<string, Record<string, string>> = {
  'client-transport-security': {
    'cert-file': 'cert-file',
    'key-file': 'key-file',
    'client-cert-auth': 'client-cert-auth',
    'trusted-ca-file': 'trusted-ca-file',
    'auto-tls': 'auto-tls',
  },
  'peer-transport-security': {
    'cert-file': 'peer-cert-file',
    'key-file': 'peer-key-file',
    'client-cert-auth': 'peer-client-cert-auth',
    'trusted-ca-file': 'peer-trusted-ca-file',
    'auto-tls': 'peer-auto-tls',
  },
};

/** Does this YAML document look like etcd's config file (a mapping with etcd setting keys, not a Kubernetes object)? */
export function isConfigDoc(doc: Document.Parsed, isKnown: (k: string) => boolean): boolean {
  if (!isMap(doc.contents)) return false;
  if (get(doc.contents, 'apiVersion') !== undefined || get(doc.contents, 'kind') !== undefined) return false;
  return (doc.contents as YAMLMap).items.some((p) => isScalar(p.key) && (isKnown(String(p.key.value)) || String(p.key.value) in TRANSPORT));
}

/** Fill a ParsedEtcdFile from an etcd config file. */
export function readConfig(text: string, doc: Document.Parsed, out: ParsedEtcdFile): void {
  const map = doc.contents as YAMLMap;
  const pairs = (prefix: string, m: YAMLMap, rename?: Record<string, string>): void => {
    for (const p of m.items) {
      if (!isScalar(p.key)) continue;
      const key = String(p.key.value);
      const keyRange = rangeOf(p.key) ?? { start: 0, end: 0 };
      if (!prefix && key in TRANSPORT && isMap(p.value)) {
        pairs(key, p.value as YAMLMap, TRANSPORT[key]);
        continue;
      }
      const name = rename ? (rename[key] ?? `${prefix}.${key}`) : key;
      const fullKey = prefix ? `${prefix}.${key}` : key;
      const valueNode = p.value;
      if (isScalar(valueNode) && valueNode.range) {
        const w = scalarWord(text, valueNode, Boolean(m.flow));
        out.settings.push({
          name,
          key: fullKey,
          value: w.value,
          valueRange: w.inner ?? w.range,
          exactValue: Boolean(w.inner),
          entryRange: { start: keyRange.start, end: w.range.end },
          keyRange,
          form: 'config',
          quote: w.quote,
          ...(m.flow ? { inFlow: true } : {}),
        });
      } else {
        const r = rangeOf(valueNode) ?? { start: keyRange.end, end: keyRange.end };
        out.settings.push({
          name,
          key: fullKey,
          value:
            valueNode === null || valueNode === undefined
              ? ''
              : isScalar(valueNode)
                ? ''
                : JSON.stringify((valueNode as { toJSON(): unknown }).toJSON()),
          valueRange: r,
          exactValue: false,
          entryRange: { start: keyRange.start, end: r.end },
          keyRange,
          form: 'config',
          quote: 'none',
        });
      }
    }
  };
  pairs('', map);
  const last = map.items[map.items.length - 1];
  if (last) {
    const lastEnd = rangeOf(last.value)?.end ?? rangeOf(last.key)?.end ?? 0;
    const keyStart = rangeOf(last.key)?.start ?? 0;
    out.flagList = {
      flow: Boolean(map.flow),
      insertAfter: lastEnd,
      indent: map.flow ? undefined : text.slice(lineStart(text, keyStart), keyStart),
    };
  }
}
