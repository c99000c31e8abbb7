/**
 * Static pod manifests and etcd config files, read with the `yaml` package's document API:
 * every node keeps its source range, so settings, volumes and mounts know where their values
 * are written (js-yaml gives only the values).
 */
import { Document, isMap, isScalar, isSeq, parseAllDocuments, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { EtcdSetting, FlagListInfo, ParsedEtcdFile, ParseProblem, PodVolume, TextRange, ValueQuote, VolumeMount } from './types';
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

function basename(p: string): string {
  return p.split('/').pop() ?? p;
}

/** Does this word start etcd (`etcd`, `/usr/local/bin/etcd`)? */
export function runsEtcd(word: string | undefined): boolean {
  return word !== undefined && basename(word.trim()) === 'etcd';
}

function yamlProblems(docs: Document.Parsed[], problems: ParseProblem[]): void {
  for (const d of docs) {
    for (const e of d.errors) {
      const [s, t] = e.pos;
      problems.push({ code: 'yaml-error', range: { start: s, end: Math.max(t, s) }, severity: 'error', message: `The YAML does not parse: ${firstLine(e.message)}`, fatal: true });
    }
    for (const w of d.warnings) {
      const [s, t] = w.pos;
      problems.push({ code: 'yaml-warning', range: { start: s, end: Math.max(t, s) }, severity: 'warning', message: firstLine(w.message) });
    }
  }
}

function firstLine(m: string): string {
  const l = m.split('\n')[0].trim().replace(/ at line \d+, column \d+:?$/, '');
  return /[.!?]$/.test(l) ? l : `${l}.`;
}

export function parseYamlDocs(text: string): { docs: Document.Parsed[]; problems: ParseProblem[] } {
  const problems: ParseProblem[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: false }) as unknown as Document.Parsed[] | { errors: unknown[] };
  if (!Array.isArray(docs)) {
    problems.push({ code: 'yaml-error', range: { start: 0, end: text.length }, severity: 'error', message: 'The YAML does not parse.', fatal: true });
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

/** Fill a ParsedEtcdFile from a manifest's documents. */
export function readManifest(text: string, docs: Document.Parsed[], out: ParsedEtcdFile): void {
  const pods = docs.filter(isPodDoc);
  if (!pods.length) {
    if (!out.problems.some((p) => p.severity === 'error')) {
      out.problems.push({ code: 'not-a-pod', range: { start: 0, end: Math.min(text.length, lineEndOfFirst(text)) }, severity: 'error', message: 'This YAML is not a Pod: a static pod manifest for etcd has "kind: Pod" and a container that runs etcd.', fatal: true });
    }
    return;
  }
  for (const doc of pods) {
    const spec = get(doc.contents, 'spec');
    const containers = get(spec, 'containers');
    if (!isSeq(containers)) continue;
    for (const c of (containers as YAMLSeq).items) {
      if (!isMap(c)) continue;
      const found = etcdCommand(text, c, out.problems);
      if (!found) continue;
      out.containerName = str(get(c, 'name'));
      out.containerRange = itemRange(text, c);
      out.settings = found.settings;
      out.flagList = found.flagList;
      readMounts(text, get(c, 'volumeMounts'), out);
      readVolumes(text, get(spec, 'volumes'), out);
      return;
    }
  }
  const where = rangeOf(get(get(pods[0].contents, 'spec'), 'containers')) ?? { start: 0, end: lineEndOfFirst(text) };
  out.problems.push({ code: 'no-etcd-container', range: where, severity: 'error', message: 'The Pod has no container that runs etcd (a container whose command or args start with etcd), so there is nothing to check or edit.', fatal: true });
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
      problems.push({ code: 'one-word-command', range: rangeOf(first) ?? { start: 0, end: 0 }, severity: 'warning', message: `"${firstStr}" is one word to the kubelet: etcd is not found under that name. Give each flag as its own item.` });
    }
    exe = first;
    flagItems = cmdItems.slice(1).map((node) => ({ node, list: 'command' as const, seq: command as YAMLSeq }));
    if (argItems) flagItems.push(...argItems.map((node) => ({ node, list: 'args' as const, seq: args as YAMLSeq })));
  } else if (!cmdItems && argItems && runsEtcd(firstStr)) {
    exe = first;
    flagItems = argItems.slice(1).map((node) => ({ node, list: 'args' as const, seq: args as YAMLSeq }));
  } else if (!cmdItems && argItems && (str(get(c, 'name')) === 'etcd' || /(^|\/)etcd(:|@|$)/.test(str(get(c, 'image')) ?? '')) && /^--?[a-z]/.test(firstStr ?? '')) {
    flagItems = argItems.map((node) => ({ node, list: 'args' as const, seq: args as YAMLSeq }));
  } else {
    if (cmdItems && cmdItems.some((n) => /(^|[\s/])etcd\s+--/.test(str(n) ?? ''))) {
      problems.push({ code: 'shell-command', range: rangeOf(command) ?? { start: 0, end: 0 }, severity: 'warning', message: 'etcd runs through a shell here: the flags inside the shell string are not analysed or edited.' });
    }
    return undefined;
  }
  const settings: EtcdSetting[] = [];
  // Split by list so a `--flag value` pair never straddles command and args.
  for (const list of ['command', 'args'] as const) {
    const items = flagItems.filter((f) => f.list === list);
    const words: Word[] = [];
    for (const f of items) {
      if (!isScalar(f.node)) {
        problems.push({ code: 'not-a-string', range: rangeOf(f.node) ?? { start: 0, end: 0 }, severity: 'error', message: `An item of ${list} is not a string: the kubelet refuses the Pod.` });
        continue;
      }
      words.push(scalarWord(text, f.node, Boolean(f.seq.flow)));
    }
    settings.push(...settingsFromWords(words, { list }, problems));
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
      ...(path.value !== undefined ? { hostPath: path.value, hostPathRange: path.range, hostPathQuote: path.quote, ...(path.inFlow ? { hostPathInFlow: true } : {}) } : {}),
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
          value: valueNode === null || valueNode === undefined ? '' : isScalar(valueNode) ? '' : JSON.stringify((valueNode as { toJSON(): unknown }).toJSON()),
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
    out.flagList = { flow: Boolean(map.flow), insertAfter: lastEnd, indent: map.flow ? undefined : text.slice(lineStart(text, keyStart), keyStart) };
  }
}
