/**
 * Property test: generated and mutated static pod manifests (seeded PRNG, so a failure names
 * its case and reproduces). For every case, each edit
 *  - leaves a file that still parses as the same manifest, with no new problems;
 *  - changes only the targeted values (the whole YAML data, compared as objects, differs only
 *    there; every other setting keeps its value);
 *  - writes only inside the targeted values (checked against the original text: the data-dir
 *    values, the data volume's mountPath and hostPath.path, the state's value or the place after
 *    the last flag), keeps every line it does not touch and every comment, including the
 *    trailing comments generated on the very mountPath/hostPath lines it edits;
 *  - changes nothing when applied a second time.
 */
import * as assert from 'assert';
import { loadAll } from 'js-yaml';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { applyEdits, clusterFromEtcdFile, diagnoseEtcdFile, EditResult, effectiveSettings, etcdFileAnchors, mountFor, parseEtcdFile, ParsedEtcdFile, setDataDir, setInitialClusterState, settingsNamed, TextRange } from '../../src/core/etcdFiles';
import { holderRange } from '../../src/core/etcdFiles/edits';

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  text: string;
  dataDir: string;
  hostPath: string;
  hasState: boolean;
}

function generate(r: () => number): Case {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const chance = (p: number): boolean => r() < p;
  const eol = chance(0.3) ? '\r\n' : '\n';
  const seqIndent = pick(['', '  ']); // "- item" under its key, or indented by two
  const quote = (s: string, style = pick(['none', 'none', 'single', 'double'] as const)): string =>
    style === 'double' ? JSON.stringify(s) : style === 'single' ? `'${s.replace(/'/g, "''")}'` : s;
  const comment = (ind: string): string[] => (chance(0.25) ? [`${ind}# ${pick(['note', 'edited by hand', 'see OPS-1', '- --data-dir=/fake'])}`] : []);
  const name = pick(['cp-1', 'etcd-a', 'master']);
  const dataDir = pick(['/var/lib/etcd', '/var/lib/etcd/data', '/data/etcd']);
  const hostPath = chance(0.6) ? dataDir : pick(['/mnt/disk/etcd', '/srv/etcd']);
  const pairForm = chance(0.3);
  const hasState = chance(0.5);
  const flags: [string, string][] = [
    ['name', name],
    ['data-dir', dataDir],
    ['listen-client-urls', 'https://127.0.0.1:2379,https://10.0.0.1:2379'],
    ['advertise-client-urls', 'https://10.0.0.1:2379'],
    ['initial-cluster', `${name}=https://10.0.0.1:2380`],
    ['initial-advertise-peer-urls', 'https://10.0.0.1:2380'],
    ['trusted-ca-file', '/etc/kubernetes/pki/etcd/ca.crt'],
    ['cert-file', '/etc/kubernetes/pki/etcd/server.crt'],
    ['key-file', '/etc/kubernetes/pki/etcd/server.key'],
    ['snapshot-count', '10000'],
  ];
  if (hasState) flags.push(['initial-cluster-state', pick(['new', 'existing'])]);
  // shuffle
  for (let i = flags.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [flags[i], flags[j]] = [flags[j], flags[i]];
  }
  const words: string[] = [];
  for (const [k, v] of flags) {
    if (pairForm) words.push(`--${k}`, v);
    else words.push(`--${k}=${v}`);
  }
  const useArgs = chance(0.3);
  const flowCommand = chance(0.25);
  const ci = '    '; // container keys
  const li = `${ci}${seqIndent}`; // list items
  const lines: string[] = [];
  if (chance(0.2)) lines.push('apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: other', '---');
  lines.push(...comment(''), 'apiVersion: v1', 'kind: Pod', 'metadata:', '  name: etcd', '  namespace: kube-system', 'spec:', '  containers:', `  - name: etcd`, `${ci}image: registry.k8s.io/etcd:3.5.15-0`);
  const list = (key: string, items: string[]): void => {
    if (flowCommand) {
      lines.push(`${ci}${key}: [${items.map((w) => (/^[\w./=:,-]+$/.test(w) && !w.includes(',') ? w : JSON.stringify(w))).join(', ')}]`);
      return;
    }
    lines.push(`${ci}${key}:`);
    for (const w of items) {
      lines.push(...comment(li));
      lines.push(`${li}- ${quote(w)}${chance(0.1) ? '   # trailing' : ''}`);
    }
  };
  if (useArgs) {
    list('command', ['etcd']);
    list('args', words);
  } else {
    list('command', ['etcd', ...words]);
  }
  const flowMounts = chance(0.3);
  const mounts = [
    { name: 'etcd-data', mountPath: dataDir },
    { name: 'etcd-certs', mountPath: '/etc/kubernetes/pki/etcd' },
  ];
  if (chance(0.5)) mounts.reverse();
  lines.push(`${ci}volumeMounts:`);
  // trailing comments on the very lines the edits change: they must survive
  const tc = (): string => (chance(0.5) ? `${pick([' ', '  ', '\t'])}# ${pick(['data disk', 'do not move', 'see OPS-2: path: /x'])}` : '');
  for (const m of mounts) {
    if (flowMounts) lines.push(`${li}- {name: ${m.name}, mountPath: ${quote(m.mountPath, 'none')}}${tc()}`);
    else if (chance(0.5)) lines.push(`${li}- mountPath: ${quote(m.mountPath)}${tc()}`, `${li}  name: ${m.name}`);
    else lines.push(`${li}- name: ${m.name}`, `${li}  mountPath: ${quote(m.mountPath)}${tc()}`);
  }
  lines.push('  hostNetwork: true', '  volumes:');
  const vols = [
    { name: 'etcd-data', path: hostPath },
    { name: 'etcd-certs', path: '/etc/kubernetes/pki/etcd' },
  ];
  if (chance(0.5)) vols.reverse();
  for (const v of vols) {
    lines.push(...comment('  '));
    if (chance(0.3)) lines.push(`  - name: ${v.name}`, `    hostPath: {path: ${quote(v.path, 'none')}, type: DirectoryOrCreate}${tc()}`);
    else lines.push(`  - hostPath:`, `      path: ${quote(v.path)}${tc()}`, `      type: DirectoryOrCreate`, `    name: ${v.name}`);
  }
  if (chance(0.3)) lines.push('status: {}');
  let text = lines.join(eol) + (chance(0.85) ? eol : '');
  // mutations: trailing spaces, blank lines
  if (chance(0.3)) text = text.replace(new RegExp(`(kind: Pod)${eol === '\r\n' ? '\\r\\n' : '\\n'}`), `$1   ${eol}${eol}`);
  return { text, dataDir, hostPath, hasState };
}

/**
 * What the documents say. Two independent parsers must agree: `yaml` (which the edits are
 * computed with) and js-yaml, so an edit cannot be "valid" only to the parser that made it.
 */
function data(text: string): unknown[] {
  const viaYaml = parseAllDocuments(text).map((d) => (d as { toJS(): unknown }).toJS());
  const viaJsYaml = loadAll(text);
  assert.deepStrictEqual(viaJsYaml, viaYaml, `js-yaml reads it differently:\n${text}`);
  return viaYaml;
}

type Edit = { offset: number; length: number; newText: string };

/** A value's whole scalar, quotes included (the edits may rewrite the quoting). */
function withQuotes(text: string, r: TextRange | undefined): TextRange | undefined {
  if (!r) return undefined;
  const q = text[r.start - 1];
  return (q === '"' || q === "'") && text[r.end] === q ? { start: r.start - 1, end: r.end + 1 } : r;
}

/** Where set-data-dir may write: the data-dir values, the mountPath and the hostPath.path of the data volume. */
function dataDirTargets(p: ParsedEtcdFile): TextRange[] {
  const out = settingsNamed(p, 'data-dir').map((s) => holderRange(s));
  const dd = settingsNamed(p, 'data-dir').pop();
  const m = dd ? mountFor(p, dd.value) : undefined;
  for (const r of [withQuotes(p.text, m?.mount.mountPathRange), withQuotes(p.text, m?.volume?.hostPathRange)]) if (r) out.push(r);
  return out;
}

/** Where set-initial-cluster-state may write: the existing values, or (only inserting) after the last flag, up to its line end. */
function stateTargets(p: ParsedEtcdFile): TextRange[] {
  const existing = settingsNamed(p, 'initial-cluster-state').map((s) => holderRange(s));
  if (existing.length) return existing;
  const at = p.flagList?.insertAfter ?? 0;
  const nl = p.text.indexOf('\n', at);
  const end = nl < 0 ? p.text.length : p.text[nl - 1] === '\r' ? nl - 1 : nl;
  return [{ start: at, end }];
}

/** Lines with their offsets (`end` before the line break). */
function linesOf(text: string): { start: number; end: number; line: string }[] {
  const out: { start: number; end: number; line: string }[] = [];
  let start = 0;
  for (const line of text.split('\n')) {
    out.push({ start, end: start + line.length, line });
    start += line.length + 1;
  }
  return out;
}

/**
 * What an edit may touch, checked against the original text, not against the edit's own offsets:
 *  - each edit lies inside one of the targeted values (an insertion only inserts);
 *  - every line no edit touches is in the result, in order;
 *  - every `# comment` of the original is in the result as often as before.
 */
function assertEditsConfined(before: string, after: string, edits: readonly Edit[], targets: readonly TextRange[], where: string): void {
  for (const e of edits) {
    const inside = targets.some((t) => t.start <= e.offset && e.offset + e.length <= t.end);
    assert.ok(inside, `${where}\nedit ${JSON.stringify(e)} (${JSON.stringify(before.slice(e.offset, e.offset + e.length))}) is outside the targeted values ${JSON.stringify(targets)}`);
  }
  const touched = (l: { start: number; end: number }): boolean => edits.some((e) => e.offset <= l.end && e.offset + e.length >= l.start);
  const afterLines = after.split('\n');
  let j = 0;
  for (const l of linesOf(before)) {
    if (touched(l)) continue;
    while (j < afterLines.length && afterLines[j] !== l.line) j++;
    assert.ok(j < afterLines.length, `${where}\nthe untouched line ${JSON.stringify(l.line)} is gone or out of order`);
    j++;
  }
  // the original's comments (its values hold no "#"), each found in the result as often as before
  const comments = [...before.matchAll(/(^|[ \t])(#[^\r\n]*)/gm)].map((m) => m[2]);
  for (const c of new Set(comments)) {
    const want = comments.filter((x) => x === c).length;
    assert.ok(after.split(c).length - 1 >= want, `${where}\nthe comment ${JSON.stringify(c)} is gone`);
  }
}

function settingsMap(p: ParsedEtcdFile): string[] {
  return p.settings.map((s) => `${s.name}=${s.value}`).sort();
}

const DIRS = ['/var/lib/etcd-restored', '/var/lib/etcd', '/srv/etcd data', '/data/etcd #2', '/x/a,b', "/opt/it's", '/var/lib/etcd-from-backup/'];

describe('etcdFiles property: generated and mutated manifests', () => {
  const N = 300;
  it(`${N} cases: every edit parses, touches only its values and is idempotent`, function () {
    this.timeout(60000);
    for (let seed = 1; seed <= N; seed++) {
      const r = prng(seed);
      const c = generate(r);
      const where = `seed ${seed}:\n${c.text}`;
      const p = parseEtcdFile(c.text, 'generated.yaml');
      assert.strictEqual(p.kind, 'manifest', where);
      assert.deepStrictEqual(p.problems, [], where);
      const before = data(c.text);

      // set-data-dir
      const dir = DIRS[Math.floor(r() * DIRS.length)];
      const want = dir.replace(/\/+$/, '');
      const res = setDataDir(p, dir);
      assert.ok(res.ok, `${where}\n${res.ok ? '' : res.error}`);
      const text2 = applyEdits(c.text, res.edits);
      assertEditsConfined(c.text, text2, res.edits, dataDirTargets(p), where);
      const p2 = parseEtcdFile(text2, 'generated.yaml');
      assert.strictEqual(p2.kind, 'manifest', `${where}\n---\n${text2}`);
      assert.deepStrictEqual(p2.problems, [], `${where}\n---\n${text2}`);
      const eff2 = effectiveSettings(p2);
      assert.strictEqual(eff2.dataDir, want, `${where}\n---\n${text2}`);
      assert.strictEqual(eff2.hostDataDir, want, `${where}\n---\n${text2}`);
      // only the data dir values changed, in the whole YAML data
      const expected = JSON.parse(JSON.stringify(before).split(JSON.stringify(`--data-dir=${c.dataDir}`).slice(1, -1)).join(JSON.stringify(`--data-dir=${want}`).slice(1, -1))) as unknown[];
      const pod = (expected[expected.length - 1] as { spec: { containers: { args?: string[]; command: string[]; volumeMounts: { name: string; mountPath: string }[] }[]; volumes: { name: string; hostPath: { path: string } }[] } }).spec;
      const ctr = pod.containers[0];
      for (const l of [ctr.command, ctr.args]) {
        if (!l) continue;
        const i = l.indexOf('--data-dir');
        if (i >= 0) l[i + 1] = want;
      }
      ctr.volumeMounts.find((m) => m.name === 'etcd-data')!.mountPath = want;
      pod.volumes.find((v) => v.name === 'etcd-data')!.hostPath.path = want;
      assert.deepStrictEqual(data(text2), expected, `${where}\n---\n${text2}`);
      // idempotent
      const again = setDataDir(p2, dir);
      assert.ok(again.ok && again.edits.length === 0, `${where}\nsecond application changed: ${JSON.stringify(again)}`);

      // set-initial-cluster-state
      const state = r() < 0.5 ? 'new' : 'existing';
      const res3 = setInitialClusterState(p, state);
      assert.ok(res3.ok, where);
      const text3 = applyEdits(c.text, res3.edits);
      assertEditsConfined(c.text, text3, res3.edits, stateTargets(p), where);
      data(text3); // yaml and js-yaml read the added or changed flag alike
      const p3 = parseEtcdFile(text3, 'generated.yaml');
      assert.deepStrictEqual(p3.problems, [], `${where}\n---\n${text3}`);
      assert.strictEqual(effectiveSettings(p3).initialClusterState, state, `${where}\n---\n${text3}`);
      const others = (q: ParsedEtcdFile): string[] => settingsMap(q).filter((s) => !s.startsWith('initial-cluster-state='));
      assert.deepStrictEqual(others(p3), others(p), `${where}\n---\n${text3}`);
      assert.strictEqual(p3.settings.filter((s) => s.name === 'initial-cluster-state').length, 1, `${where}\n---\n${text3}`);
      if (!c.hasState) {
        assert.ok(res3.edits.every((e) => e.length === 0), 'adding only inserts');
        assert.ok(!/(^|[^\r])\n/.test(res3.edits.map((e) => e.newText).join('')) || p.eol === '\n', `${where}: inserted line breaks follow the file (CRLF)`);
      }
      const again3 = setInitialClusterState(p3, state);
      assert.ok(again3.ok && again3.edits.length === 0, `${where}\nsecond application changed`);
    }
  });
});

describe('etcdFiles property: the confinement check itself', () => {
  it('fails on an edit mutated to delete the trailing # comment of the line it edits (and passes the real edit)', () => {
    let caught = 0;
    for (let seed = 1; seed <= 300 && caught < 10; seed++) {
      const c = generate(prng(seed));
      const p = parseEtcdFile(c.text, 'generated.yaml');
      const res = setDataDir(p, '/var/lib/etcd-restored');
      if (!res.ok) continue;
      const targets = dataDirTargets(p);
      const text = applyEdits(c.text, res.edits);
      assertEditsConfined(c.text, text, res.edits, targets, `seed ${seed}`);
      const i = res.edits.findIndex((e) => /^[^\n]*[ \t]#/.test(c.text.slice(e.offset + e.length)));
      if (i < 0) continue;
      const e = res.edits[i];
      const rest = c.text.slice(e.offset + e.length);
      const lineEnd = rest.search(/\r?\n|$/);
      const mutated = res.edits.map((x, k) => (k === i ? { ...x, length: x.length + lineEnd } : x));
      const mutatedText = applyEdits(c.text, mutated);
      assert.throws(() => assertEditsConfined(c.text, mutatedText, mutated, targets, `seed ${seed}`), /outside the targeted values/);
      // even with the offsets declared as targets, the lost comment is found
      assert.throws(() => assertEditsConfined(c.text, mutatedText, mutated, [{ start: 0, end: c.text.length }], `seed ${seed}`), /the comment .* is gone/);
      caught++;
    }
    assert.ok(caught >= 10, `${caught} cases with a trailing comment on an edited line`);
  });
});

describe('etcdFiles property: every fixture, mutated at random (manifests, env files, config files, units)', () => {
  it('never throws; an edit it makes reads back with only its value changed, and again changes nothing; a fix never breaks the file', function () {
    this.timeout(60000);
    const dir = join(__dirname, '..', 'fixtures', 'etcdFiles');
    const files = readdirSync(dir).filter((f) => f !== 'expected' && f !== 'README.md');
    const bits = ['"', "'", ':', '-', ' ', '\n', '\r\n', '#', '[', ']', '{', '}', ',', '\\', '=', '--data-dir=', 'ETCD_', '\t', '%', '$'];
    const r = prng(2026);
    let edited = 0;
    for (let k = 0; k < 500; k++) {
      const f = files[Math.floor(r() * files.length)];
      let t = readFileSync(join(dir, f), 'utf8');
      for (let i = 1 + Math.floor(r() * 3); i > 0; i--) {
        const pos = Math.floor(r() * t.length);
        t = r() < 0.5 ? t.slice(0, pos) + bits[Math.floor(r() * bits.length)] + t.slice(pos) : t.slice(0, pos) + t.slice(pos + 1 + Math.floor(r() * 3));
      }
      const where = `case ${k} (${f}):\n${t}`;
      const p = parseEtcdFile(t, f);
      const diags = diagnoseEtcdFile(p);
      clusterFromEtcdFile(p, f, { exists: () => true });
      etcdFileAnchors(p);
      for (const d of diags) {
        if (!d.fix) continue;
        const q = parseEtcdFile(applyEdits(t, d.fix.edits), f);
        assert.strictEqual(q.kind, p.kind, `${where}\nfix ${d.code}`);
        assert.ok(!q.problems.some((x) => x.fatal) || p.problems.some((x) => x.fatal), `${where}\nfix ${d.code}`);
      }
      const edits: [string, string, (q: ParsedEtcdFile) => EditResult][] = [
        ['data-dir', '/var/lib/x y', (q) => setDataDir(q, '/var/lib/x y')],
        ['initial-cluster-state', 'existing', (q) => setInitialClusterState(q, 'existing')],
      ];
      for (const [name, value, edit] of edits) {
        const res = edit(p);
        if (!res.ok) {
          assert.ok(res.error.length > 10 && !res.error.includes('undefined'), res.error);
          continue;
        }
        edited++;
        const q = parseEtcdFile(applyEdits(t, res.edits), f);
        const rest = (x: ParsedEtcdFile): string => JSON.stringify(x.settings.filter((s) => s.name !== name).map((s) => [s.name, s.value]));
        assert.strictEqual(q.kind, p.kind, where);
        assert.strictEqual(rest(q), rest(p), `${where}\n${name}: other settings changed`);
        assert.ok(q.settings.some((s) => s.name === name && s.value === value), `${where}\n${name}`);
        const again = edit(q);
        assert.ok(again.ok && again.edits.length === 0, `${where}\n${name}: not idempotent`);
      }
    }
    assert.ok(edited > 300, `${edited} edits made`);
  });
});
