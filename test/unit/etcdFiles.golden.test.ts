/**
 * Golden tests over the fixtures in test/fixtures/etcdFiles/ (the shared fixtures copied, with
 * their SHA-256 in test/fixtures/shared-copies.sha256 so a fresh clone checks the copies too; plus
 * kubeadm layouts of several versions, hand-edited, flow style, CRLF, args, env, config, units).
 * For each fixture, expected/<name>.json holds what is read (kind, settings, volumes, effective
 * settings, the import, the diagnostics) and expected/<name>.<edit>.diff the diff of each edit
 * (or its error sentence). Regenerate with UPDATE_GOLDEN=1 and review the changes in git.
 */
import * as assert from 'assert';
import { createHash } from 'crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import {
  applyEdits,
  clusterFromEtcdFile,
  diagnoseEtcdFile,
  effectiveSettings,
  EditResult,
  parseEtcdFile,
  ParsedEtcdFile,
  setDataDir,
  setInitialClusterState,
  unifiedDiff,
} from '../../src/core/etcdFiles';

const dir = join(__dirname, '..', 'fixtures', 'etcdFiles');
const expectedDir = join(dir, 'expected');
const update = process.env.UPDATE_GOLDEN === '1';

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

const fixtures = readdirSync(dir).filter((f) => !f.startsWith('.') && f !== 'expected' && f !== 'README.md');

/** kubeadm's healthcheck-client pair exists beside kubeadm's CA; nothing else is on "disk". */
const exists = (p: string): boolean => p.startsWith('/etc/kubernetes/pki/etcd/');

function at(text: string, r: { start: number; end: number }): string {
  return text.slice(r.start, r.end);
}

function summary(p: ParsedEtcdFile): unknown {
  const t = p.text;
  return {
    kind: p.kind,
    problems: p.problems.map((x) => ({ code: x.code, severity: x.severity, fatal: Boolean(x.fatal), at: at(t, x.range).slice(0, 80), message: x.message })),
    settings: p.settings.map((s) => ({
      name: s.name,
      value: s.value,
      written: at(t, s.entryRange),
      form: s.form,
      quote: s.quote,
      ...(s.list ? { list: s.list } : {}),
      ...(s.source ? { source: s.source } : {}),
    })),
    volumes: p.volumes.map((v) => ({ name: v.name, hostPath: v.hostPath, sourceKind: v.sourceKind })),
    volumeMounts: p.volumeMounts.map((m) => ({ name: m.name, mountPath: m.mountPath, ...(m.readOnly !== undefined ? { readOnly: m.readOnly } : {}) })),
    environmentFiles: p.environmentFiles.map((e) => ({ path: e.path, optional: e.optional })),
    effective: effectiveSettings(p),
    import: clusterFromEtcdFile(p, p.fileName ?? '', { exists }),
    diagnostics: diagnoseEtcdFile(p).map((d) => ({
      code: d.code,
      severity: d.severity,
      at: at(t, d.range).slice(0, 80),
      message: d.message,
      ...(d.fix ? { fix: d.fix.title } : {}),
    })),
  };
}

function editOutput(p: ParsedEtcdFile, name: string, r: EditResult): string {
  if (!r.ok) return `error: ${r.error}\n`;
  const diff = unifiedDiff(p.text, applyEdits(p.text, r.edits), name);
  return diff || 'no change\n';
}

function golden(file: string, actual: string): void {
  const path = join(expectedDir, file);
  if (update || !existsSync(path)) {
    writeFileSync(path, actual);
    if (!update) assert.fail(`${file} was missing and has been written; review it and run again.`);
    return;
  }
  assert.strictEqual(actual, readFileSync(path, 'utf8'), `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it)`);
}

describe('etcdFiles golden files', () => {
  it('has the shared fixtures (copies checked against their recorded SHA-256, and against ../shared when it is there) and more of its own', () => {
    // test/fixtures/shared-copies.sha256: "<sha256>  shared/fixtures/<dir>/<name>", as sha256sum printed them for the originals
    const recorded = readFileSync(join(__dirname, '..', 'fixtures', 'shared-copies.sha256'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/));
    assert.ok(recorded.length >= 4);
    for (const [hash, rel] of recorded) {
      const f = rel.split('/').pop() as string;
      assert.ok(fixtures.includes(f), f);
      assert.strictEqual(sha256(readFileSync(join(dir, f))), hash, `test/fixtures/etcdFiles/${f} is the copy of ${rel}`);
      // ../shared beside the checkout (as CI and the developers have it) must still be what was copied
      const shared = join(__dirname, '..', '..', '..', rel);
      if (existsSync(shared)) assert.strictEqual(sha256(readFileSync(shared)), hash, `${shared} changed since it was copied: copy it again and update shared-copies.sha256`);
    }
    assert.ok(fixtures.length >= 40, `${fixtures.length} fixtures`);
  });

  for (const f of fixtures) {
    it(f, () => {
      const text = readFileSync(join(dir, f), 'utf8');
      const p = parseEtcdFile(text, f);
      golden(`${f}.json`, `${JSON.stringify(summary(p), null, 2)}\n`);
      golden(`${f}.set-data-dir.diff`, editOutput(p, f, setDataDir(p, '/var/lib/etcd-restored')));
      golden(`${f}.set-initial-cluster-state.diff`, editOutput(p, f, setInitialClusterState(p, 'existing')));
    });
  }
});
