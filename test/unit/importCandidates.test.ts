/**
 * The pure helpers behind "Import Cluster from etcd File…" and the offers to write into a
 * member's files: candidate ranking, the sentences for files that cannot be imported, edits
 * applied in sequence as one change, unique cluster names.
 */
import * as assert from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  defaultSnapshotDir,
  editSequence,
  fileProblem,
  looksLikeEtcdFileName,
  memberStartSteps,
  rankCandidates,
  startSettingsOfEnv,
  uniqueClusterName,
} from '../../src/core/etcdFileCandidates';
import { parseEtcdFile, setDataDir } from '../../src/core/etcdFiles';

const fx = (name: string): string => readFileSync(join(__dirname, '..', 'fixtures', 'etcdFiles', name), 'utf8');
const ws = (name: string): string => readFileSync(join(__dirname, '..', 'fixtures', 'workspace', name), 'utf8');

describe('import candidates and file offers', () => {
  it('recognises etcd file names', () => {
    for (const n of ['etcd.yaml', '/etc/kubernetes/manifests/etcd.yaml', 'etcd.env', 'etcd.conf.yml', 'etcd.service', 'kube-etcd.yml', 'C:\\x\\etcd.env', 'node.env']) {
      assert.ok(looksLikeEtcdFileName(n), n);
    }
    for (const n of ['kube-apiserver.yaml', 'README.md', 'etcd.db', 'values.yaml']) {
      assert.ok(!looksLikeEtcdFileName(n), n);
    }
  });

  it('the explorer and editor-title menus offer the import on the same file names', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
    for (const menu of ['explorer/context', 'editor/title/context']) {
      const when = pkg.contributes.menus[menu].find((x) => x.command === 'etcdBackup.importCluster')?.when ?? '';
      const m = /resourceFilename =~ \/(.*)\/i$/.exec(when);
      assert.ok(m, `${menu}: ${when}`);
      const re = new RegExp(m[1], 'i');
      for (const n of ['etcd.yaml', 'etcd.yml', 'etcd.env', 'etcd.conf.yml', 'etcd.service', 'kube-etcd.yaml', 'node.env', 'kube-apiserver.yaml', 'README.md', 'etcd.db', 'values.yaml', 'ETCD.YAML']) {
        assert.strictEqual(re.test(n), looksLikeEtcdFileName(n), `${menu} and looksLikeEtcdFileName disagree on ${n}`);
      }
    }
  });

  it('ranks the files that start the member first, then preferred paths, then by kind; non-etcd and broken files are left out', () => {
    const files = [
      { path: '/w/b/etcd.service', text: fx('etcd-flags.service') }, // --name node1
      { path: '/w/a/etcd.env', text: ws('etcd.env') }, // ETCD_NAME=etcd1
      { path: '/w/etcd.yaml', text: ws('etcd.yaml') }, // --name=controlplane
      { path: '/w/etcd.conf.yml', text: fx('etcd.conf.yml') }, // name: infra1
      { path: '/w/web.yaml', text: fx('no-etcd.yaml') },
      { path: '/w/broken.yaml', text: fx('broken.yaml') },
      { path: '/w/notes.service', text: '[Unit]\nDescription=nginx\n[Service]\nExecStart=/usr/sbin/nginx\n' },
      { path: '/w/etcd.env', text: ws('etcd.env') },
      { path: '/w/etcd.env', text: 'duplicate path: ignored' },
    ];
    const byName = rankCandidates(files, { memberName: 'etcd1' });
    assert.deepStrictEqual(
      byName.map((c) => [c.path, c.kind, c.memberName, c.matchesMember]),
      [
        ['/w/a/etcd.env', 'env', 'etcd1', true],
        ['/w/etcd.env', 'env', 'etcd1', true],
        ['/w/etcd.yaml', 'manifest', 'controlplane', false],
        ['/w/etcd.conf.yml', 'config', 'infra1', false],
        ['/w/b/etcd.service', 'systemd', 'node1', false],
      ],
    );
    const preferred = rankCandidates(files, { memberName: 'node1', preferred: ['/w/etcd.conf.yml'] });
    assert.deepStrictEqual(preferred.map((c) => c.path).slice(0, 3), ['/w/b/etcd.service', '/w/etcd.conf.yml', '/w/etcd.yaml']);
    assert.strictEqual(preferred.find((c) => c.path === '/w/etcd.yaml')?.dataDir, '/var/lib/etcd');
    assert.deepStrictEqual(rankCandidates(files).map((c) => c.kind), ['manifest', 'env', 'env', 'config', 'systemd']);
  });

  it('gives a file that cannot be imported one sentence that says what to do', () => {
    const broken = fileProblem(parseEtcdFile(fx('broken.yaml'), 'broken.yaml'), '/tmp/x/broken.yaml');
    assert.strictEqual(broken, 'Cannot import broken.yaml: its YAML does not parse at line 10 (All sequence items must start at the same column); fix that line and run the import again.');
    assert.strictEqual(
      fileProblem(parseEtcdFile(fx('no-etcd.yaml'), 'web.yaml'), '/tmp/web.yaml'),
      "Cannot import web.yaml: the Pod has no container that runs etcd; choose etcd's own static pod manifest (kubeadm: /etc/kubernetes/manifests/etcd.yaml).",
    );
    assert.match(fileProblem(parseEtcdFile('hello world\n', 'notes.conf'), '/x/notes.conf') ?? '', /^Cannot import notes\.conf: it is not an etcd file; choose etcd's static pod manifest/);
    assert.match(fileProblem(parseEtcdFile(fx('no-etcd.yaml'), 'web.yaml'), '/tmp/web.yaml', 'edit') ?? '', /^Cannot edit web\.yaml: /);
    assert.strictEqual(fileProblem(parseEtcdFile(ws('etcd.yaml'), 'etcd.yaml'), '/w/etcd.yaml'), undefined);
  });

  it('writes a replacement member\'s start settings into an env file as one minimal edit', () => {
    const text = ws('etcd.env');
    const parsed = parseEtcdFile(text, 'etcd.env');
    const settings = startSettingsOfEnv({
      ETCD_NAME: 'etcd4',
      ETCD_INITIAL_CLUSTER: 'etcd1=http://192.168.10.11:2380,etcd2=http://192.168.10.12:2380,etcd4=http://192.168.10.14:2380',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://192.168.10.14:2380',
      ETCD_INITIAL_CLUSTER_STATE: 'existing',
    });
    const r = editSequence(parsed, memberStartSteps(settings));
    assert.ok(r.ok);
    const expected = text
      .replace('ETCD_NAME=etcd1', 'ETCD_NAME=etcd4')
      .replace('ETCD_INITIAL_ADVERTISE_PEER_URLS="http://192.168.10.11:2380"', 'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://192.168.10.14:2380"')
      .replace(/ETCD_INITIAL_CLUSTER="[^"]*"/, `ETCD_INITIAL_CLUSTER="${settings.initialCluster}"`)
      .replace('ETCD_INITIAL_CLUSTER_STATE="new"', 'ETCD_INITIAL_CLUSTER_STATE="existing"');
    assert.strictEqual(r.text, expected);
    assert.ok(r.edit);
    assert.strictEqual(text.slice(0, r.edit.offset) + r.edit.newText + text.slice(r.edit.offset + r.edit.length), expected);
    assert.strictEqual(r.changes.length, 4);
    // The first line (a comment) is outside the edit.
    assert.ok(r.edit.offset > text.indexOf('\n'));
  });

  it('adds missing settings one after another (two additions at the end of a manifest)', () => {
    const text = ws('etcd.yaml');
    const r = editSequence(parseEtcdFile(text, 'etcd.yaml'), memberStartSteps({ name: 'controlplane', initialCluster: 'controlplane=https://192.168.56.10:2380,cp2=https://192.168.56.11:2380' }));
    assert.ok(r.ok);
    assert.strictEqual(
      r.text,
      text
        .replace('    - --initial-cluster=controlplane=https://192.168.56.10:2380\n', '    - --initial-cluster=controlplane=https://192.168.56.10:2380,cp2=https://192.168.56.11:2380\n')
        .replace('    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n', '    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n    - --initial-cluster-state=existing\n'),
    );
    assert.deepStrictEqual(r.changes, ['--initial-cluster-state existing (added)', '--initial-cluster: controlplane=https://192.168.56.10:2380 -> controlplane=https://192.168.56.10:2380,cp2=https://192.168.56.11:2380']);
  });

  it('stops at the first refusal with its sentence, and reports no edit when nothing changes', () => {
    const parsed = parseEtcdFile(ws('etcd.yaml'), 'etcd.yaml');
    const bad = editSequence(parsed, [(p) => setDataDir(p, 'relative/dir')]);
    assert.deepStrictEqual(bad, { ok: false, error: 'The data dir "relative/dir" must be an absolute path on the node, e.g. /var/lib/etcd-from-backup.' });
    const same = editSequence(parsed, [(p) => setDataDir(p, '/var/lib/etcd')]);
    assert.ok(same.ok);
    assert.strictEqual(same.edit, undefined);
    assert.strictEqual(same.text, parsed.text);
  });

  it('makes imported cluster names valid and unique, and proposes a snapshot folder', () => {
    assert.strictEqual(uniqueClusterName('controlplane', []), 'controlplane');
    assert.strictEqual(uniqueClusterName('controlplane', ['ControlPlane', 'controlplane-2']), 'controlplane-3');
    assert.strictEqual(uniqueClusterName('node:1/a', []), 'node-1-a');
    assert.strictEqual(uniqueClusterName('___', []), 'etcd');
    assert.strictEqual(defaultSnapshotDir('kubeadm cp'), '/var/backups/etcd/kubeadm-cp');
  });
});
