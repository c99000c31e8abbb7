/**
 * src/core/etcdFiles/lenses.ts: which documents the editor reports on (content decides; an
 * etcd-like name widens it), where the CodeLenses go, the member a "Restore a snapshot for this
 * member…" lens pre-fills, and the data dirs "Move data dir…" offers (restored ones first).
 */
import * as assert from 'assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseEtcdFile } from '../../src/core/etcdFiles';
import { dataDirCandidates, isEditorRelevant, isEtcdFileName, lensAnchors, memberOfFile } from '../../src/core/etcdFiles/lenses';

const ws = join(__dirname, '..', 'fixtures', 'workspace');
const manifest = readFileSync(join(ws, 'etcd.yaml'), 'utf8');
const env = readFileSync(join(ws, 'etcd.env'), 'utf8');

function lineOf(text: string, offset: number): string {
  const s = text.lastIndexOf('\n', offset - 1) + 1;
  const e = text.indexOf('\n', offset);
  return text.slice(s, e < 0 ? text.length : e);
}

describe('etcdFiles lenses (editor support)', () => {
  it('names: etcd.yaml, etcd-member.yml, etcd.env, etcd.conf, etcd.service, /etc/default/etcd count; others do not', () => {
    for (const n of ['/etc/kubernetes/manifests/etcd.yaml', 'etcd-member.yml', 'etcd.env', '/etc/etcd/etcd.conf', 'etcd.service', '/etc/default/etcd']) assert.ok(isEtcdFileName(n), n);
    for (const n of ['kube-apiserver.yaml', 'app.env', 'nginx.service', 'etcdctl.txt', undefined]) assert.ok(!isEtcdFileName(n), String(n));
  });

  it('relevance is by content for files caught by pattern only', () => {
    const rel = (text: string, name: string): boolean => isEditorRelevant(parseEtcdFile(text, name), name);
    assert.strictEqual(rel(manifest, '/etc/kubernetes/manifests/renamed.yaml'), true);
    assert.strictEqual(rel('apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --etcd-servers=https://127.0.0.1:2379\n', '/m/manifests/kube-apiserver.yaml'), false);
    assert.strictEqual(rel('apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n', '/m/manifests/cm.yaml'), false);
    assert.strictEqual(rel('DATABASE_URL=postgres://x\nFOO=bar\n', '/app/app.env'), false);
    assert.strictEqual(rel('[Service]\nExecStart=/usr/sbin/nginx -g "daemon off;"\n', '/lib/systemd/nginx.service'), false);
    assert.strictEqual(rel('[Service]\nExecStart=/usr/bin/etcd --name a\n', '/lib/systemd/x.service'), true);
    assert.strictEqual(rel(env, '/data/other.env'), true);
    // Broken YAML: counts when it reads like etcd's, or when its name says etcd.
    const broken = manifest.replace('  containers:\n', '  containers:\n   - : [\n');
    assert.strictEqual(rel(broken, '/m/manifests/x.yaml'), true);
    assert.strictEqual(rel('kind: Pod\nspec: [\n', '/m/manifests/x.yaml'), false);
    assert.strictEqual(rel('kind: Pod\nspec: [\n', '/m/manifests/etcd.yaml'), true);
  });

  it('lenses on the fixture manifest: top actions, both initial-cluster-state choices at the top (absent), Move data dir… on --data-dir', () => {
    const p = parseEtcdFile(manifest, 'etcd.yaml');
    const lenses = lensAnchors(p);
    assert.deepStrictEqual(
      lenses.map((l) => [l.title, l.range.start === 0 ? 'top' : lineOf(manifest, l.range.start).trim()]),
      [
        ['Add as cluster', 'top'],
        ['Restore a snapshot for this member…', 'top'],
        ['Set initial-cluster-state: existing', 'top'],
        ['Set initial-cluster-state: new', 'top'],
        ['Move data dir…', '- --data-dir=/var/lib/etcd'],
      ],
    );
  });

  it('lenses on the fixture env file: only the state that changes something, on its line', () => {
    const p = parseEtcdFile(env, 'etcd.env');
    const lenses = lensAnchors(p);
    const state = lenses.filter((l) => l.action === 'setInitialClusterState');
    assert.deepStrictEqual(state.map((l) => [l.title, l.state, lineOf(env, l.range.start)]), [['Set initial-cluster-state: existing', 'existing', 'ETCD_INITIAL_CLUSTER_STATE="new"']]);
    assert.strictEqual(lineOf(env, lenses.find((l) => l.action === 'moveDataDir')!.range.start), 'ETCD_DATA_DIR=/data/etcd.data');
  });

  it('no lenses on a file that cannot be edited safely', () => {
    assert.deepStrictEqual(lensAnchors(parseEtcdFile(manifest.replace('  containers:\n', '  containers:\n   - : [\n'), 'etcd.yaml')), []);
    assert.deepStrictEqual(lensAnchors(parseEtcdFile('apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [nginx]\n', 'etcd.yaml')), []);
  });

  it('the member of a file: name, peer URL, initial cluster, and the node\'s data dir (through the hostPath)', () => {
    const hostDiff = manifest.replace('      path: /var/lib/etcd\n', '      path: /srv/etcd-data\n');
    assert.deepStrictEqual(memberOfFile(parseEtcdFile(hostDiff, 'etcd.yaml')), {
      name: 'controlplane',
      peerURL: 'https://192.168.56.10:2380',
      initialCluster: 'controlplane=https://192.168.56.10:2380',
      dataDir: '/srv/etcd-data',
    });
    assert.deepStrictEqual(memberOfFile(parseEtcdFile(env, 'etcd.env')), {
      name: 'etcd1',
      peerURL: 'http://192.168.10.11:2380',
      initialCluster: 'etcd1=http://192.168.10.11:2380,etcd2=http://192.168.10.12:2380,etcd3=http://192.168.10.13:2380',
      dataDir: '/data/etcd.data',
    });
  });

  describe('data dir candidates', () => {
    let root: string;
    before(() => {
      root = mkdtempSync(join(tmpdir(), 'etcd-lenses-'));
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    const dataDir = (name: string, ageS: number): string => {
      const d = join(root, name);
      mkdirSync(join(d, 'member'), { recursive: true });
      const t = Date.now() / 1000 - ageS;
      utimesSync(join(d, 'member'), t, t);
      return d;
    };

    it('restored (newer, not moved aside) first, newest first; then the others; never the current one or plain dirs', async () => {
      const cur = dataDir('etcd', 3600);
      const restoredOld = dataDir('etcd-from-backup', 600);
      const restoredNew = dataDir('etcd-from-backup-20260125', 60);
      const aside = dataDir('etcd.old-20260125T1000', 30);
      const older = dataDir('etcd-2019', 86400);
      mkdirSync(join(root, 'not-a-data-dir'));
      const c = await dataDirCandidates(`${cur}/`);
      assert.deepStrictEqual(
        c.map((x) => [x.path, x.newer, x.movedAside]),
        [
          [restoredNew, true, false],
          [restoredOld, true, false],
          [aside, true, true],
          [older, false, false],
        ],
      );
    });

    it('a current data dir that is gone (moved aside by the restore): every sibling is newer', async () => {
      const c = await dataDirCandidates(join(root, 'gone'));
      assert.ok(c.length >= 4 && c.every((x) => x.newer));
      assert.deepStrictEqual(await dataDirCandidates(join(root, 'no', 'such', 'dir')), []);
    });
  });
});
