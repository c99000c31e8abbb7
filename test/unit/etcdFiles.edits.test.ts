import * as assert from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import { applyEdits, effectiveSettings, EditResult, minimalEdit, parseEtcdFile, ParsedEtcdFile, setDataDir, setInitialClusterState, setSetting } from '../../src/core/etcdFiles';

const dir = join(__dirname, '..', 'fixtures', 'etcdFiles');
const read = (f: string): string => readFileSync(join(dir, f), 'utf8');

function apply(p: ParsedEtcdFile, r: EditResult): string {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return applyEdits(p.text, r.edits);
}

function error(r: EditResult): string {
  assert.ok(!r.ok, 'expected a refusal');
  return r.error;
}

const pod = (lines: string[]): string => ['apiVersion: v1', 'kind: Pod', 'spec:', '  containers:', '  - name: etcd', ...lines].join('\n') + '\n';

describe('etcdFiles edits', () => {
  it('applyEdits applies in offset order and refuses overlapping or out-of-range edits; minimalEdit trims what stays', () => {
    assert.strictEqual(applyEdits('abcdef', [{ offset: 4, length: 1, newText: 'E' }, { offset: 0, length: 1, newText: 'A' }]), 'AbcdEf');
    assert.strictEqual(applyEdits('ab', [{ offset: 1, length: 0, newText: 'x' }, { offset: 1, length: 0, newText: 'y' }]), 'axyb');
    assert.throws(() => applyEdits('abcdef', [{ offset: 0, length: 3, newText: '' }, { offset: 2, length: 1, newText: '' }]), /Overlapping/);
    assert.throws(() => applyEdits('ab', [{ offset: 1, length: 5, newText: '' }]), /out-of-range/);
    assert.deepStrictEqual(minimalEdit(10, '/var/lib/etcd', '/var/lib/etcd-new'), { offset: 23, length: 0, newText: '-new' });
    assert.strictEqual(minimalEdit(0, 'same', 'same'), undefined);
  });

  it('set-data-dir in a kubeadm manifest changes the flag, the mount and the hostPath, and nothing else', () => {
    const p = parseEtcdFile(read('kubeadm-etcd.yaml'));
    const r = setDataDir(p, '/var/lib/etcd-from-backup');
    assert.ok(r.ok);
    assert.deepStrictEqual(r.changes, [
      '--data-dir: /var/lib/etcd -> /var/lib/etcd-from-backup',
      'volumeMounts "etcd-data" mountPath: /var/lib/etcd -> /var/lib/etcd-from-backup',
      'volume "etcd-data" hostPath.path: /var/lib/etcd -> /var/lib/etcd-from-backup',
    ]);
    assert.ok(r.edits.every((e) => e.length === 0 && e.newText === '-from-backup'), 'three insertions after /var/lib/etcd');
    const after = apply(p, r);
    assert.strictEqual(after.replace(/-from-backup/g, ''), p.text);
  });

  it('keeps comments, quotes and CRLF; a trailing slash and doubled slashes are normalised', () => {
    const t = read('kubeadm-1.29-crlf.yaml');
    const p = parseEtcdFile(t);
    const after = apply(p, setDataDir(p, '/srv//etcd/'));
    assert.ok(after.includes('- --data-dir=/srv/etcd   # restored 2024-03-02, see ticket OPS-1234\r\n'));
    assert.ok(after.includes('path: /srv/etcd   # the data disk\r\n'));
    assert.strictEqual(after.split('\r\n').length, t.split('\r\n').length);
    assert.ok(!/[^\r]\n/.test(after));
    const s = parseEtcdFile(read('stacked-member-2.yaml'));
    const s2 = apply(s, setDataDir(s, '/var/lib/etcd-restored'));
    assert.ok(s2.includes('- "--data-dir=/var/lib/etcd-restored"          # mounted from /mnt/etcd-disk/etcd'));
    assert.ok(s2.includes('path: "/var/lib/etcd-restored"'));
    assert.ok(s2.includes('- {name: etcd-data, mountPath: /var/lib/etcd-restored}'));
  });

  it('quotes a value only where the file format needs it, and reads it back', () => {
    const cases: [string, string, RegExp][] = [
      ['kubeadm-etcd.yaml', '/data/etcd #2', /- "--data-dir=\/data\/etcd #2"\n/],
      ['kubeadm-etcd.yaml', '/data/etcd two', /- --data-dir=\/data\/etcd two\n/],
      ['flow-style.yaml', '/x/a,b', /"--data-dir=\/x\/a,b"/],
      ['flow-style.yaml', '/x/a,b', /mountPath: "\/x\/a,b"\}/],
      ['etcd.env', '/data/etcd two', /^ETCD_DATA_DIR="\/data\/etcd two"$/m],
      ['exported.env', '/srv/it\'s', /^export ETCD_DATA_DIR="\/srv\/it's"$/m],
      ['etcd-flags.service', '/var/lib/etcd 2', /"--data-dir=\/var\/lib\/etcd 2" \\/],
      ['etcd-flags.service', '/var/lib/100%', /--data-dir=\/var\/lib\/100%% \\/],
      ['etcd.conf.yml', '/d: x', /^data-dir: "\/d: x"$/m],
    ];
    for (const [f, value, re] of cases) {
      const p = parseEtcdFile(read(f), f);
      const after = apply(p, setDataDir(p, value));
      assert.match(after, re, `${f} ${value}`);
      const back = parseEtcdFile(after, f);
      assert.deepStrictEqual(back.problems.filter((x) => x.severity === 'error' && !p.problems.some((y) => y.message === x.message)), [], `${f} ${value}`);
      assert.strictEqual(effectiveSettings(back).dataDir, value, `${f} ${value}`);
    }
  });

  it('adds initial-cluster-state where it is missing, in the file\'s style and line endings', () => {
    const crlf = read('kubeadm-etcd.yaml').replace(/\n/g, '\r\n');
    const p = parseEtcdFile(crlf);
    const r = setInitialClusterState(p, 'existing');
    assert.ok(r.ok);
    assert.deepStrictEqual(r.edits, [{ offset: crlf.indexOf('\r\n    image:'), length: 0, newText: '\r\n    - --initial-cluster-state=existing' }]);
    // indentation of the list items is kept (stacked-member-2 indents them by 8)
    const s = parseEtcdFile(read('stacked-member-2.yaml').replace('        - --initial-cluster-state=new\n', ''));
    assert.match(apply(s, setInitialClusterState(s, 'new')), /\n {8}- --peer-client-cert-auth=true\n {8}- --initial-cluster-state=new\n {6}volumeMounts:/);
    // a file without a final line break
    const noEol = parseEtcdFile('ETCD_NAME=a\nETCD_DATA_DIR=/d');
    assert.strictEqual(apply(noEol, setInitialClusterState(noEol, 'existing')), 'ETCD_NAME=a\nETCD_DATA_DIR=/d\nETCD_INITIAL_CLUSTER_STATE=existing');
    // quoting and export follow the last variable
    const env = parseEtcdFile('export ETCD_NAME="a"\n# end\n');
    assert.strictEqual(apply(env, setInitialClusterState(env, 'new')), 'export ETCD_NAME="a"\nexport ETCD_INITIAL_CLUSTER_STATE="new"\n# end\n');
    // a unit written on one line gets the flag on that line
    const unit = parseEtcdFile('[Service]\nExecStart=/usr/bin/etcd --name=a --data-dir=/d\nRestart=always\n');
    assert.strictEqual(apply(unit, setInitialClusterState(unit, 'existing')), '[Service]\nExecStart=/usr/bin/etcd --name=a --data-dir=/d --initial-cluster-state=existing\nRestart=always\n');
    // a flow config mapping
    const cfg = parseEtcdFile('{name: a, data-dir: /d}\n');
    assert.strictEqual(apply(cfg, setInitialClusterState(cfg, 'existing')), '{name: a, data-dir: /d, initial-cluster-state: existing}\n');
  });

  it('changes every copy of a setting given twice, so they keep agreeing', () => {
    const p = parseEtcdFile(read('exported.env'));
    const r = setSetting(p, 'name', 'm3');
    assert.ok(r.ok);
    assert.strictEqual(r.edits.length, 2);
    assert.strictEqual((apply(p, r).match(/export ETCD_NAME='m3'/g) ?? []).length, 2);
  });

  it('refuses what cannot be done safely, in one sentence, and never edits a broken file', () => {
    const k = parseEtcdFile(read('kubeadm-etcd.yaml'));
    assert.match(error(setDataDir(k, 'relative/dir')), /must be an absolute path on the node/);
    assert.match(error(setDataDir(k, '')), /Give the data dir/);
    assert.match(error(setDataDir(k, '/a\nb')), /line breaks/);
    assert.match(error(setDataDir(k, '/a/../b')), /"\." or "\.\." parts/);
    assert.match(error(setInitialClusterState(k, 'maybe' as 'new')), /"new" or "existing", not "maybe"/);
    assert.match(error(setDataDir(parseEtcdFile(read('broken.yaml'), 'broken.yaml'), '/x')), /^broken\.yaml: not edited: The YAML does not parse/);
    assert.match(error(setInitialClusterState(parseEtcdFile(read('no-etcd.yaml')), 'new')), /no container that runs etcd/);
    assert.match(error(setDataDir(parseEtcdFile(read('url-mismatch.yaml')), '/x')), /not a hostPath volume \(emptyDir\)/);
    assert.match(error(setDataDir(parseEtcdFile(read('problems.yaml')), '/x')), /is not inside any volume mount/);
    assert.match(error(setDataDir(parseEtcdFile(pod(['    command: [etcd]'])), '/x')), /no --data-dir flag/);
    const sub = pod(['    command: [etcd, --data-dir=/var/lib/etcd]', '    volumeMounts: [{name: d, mountPath: /var/lib/etcd, subPath: x}]', '  volumes: [{name: d, hostPath: {path: /srv}}]']);
    assert.match(error(setDataDir(parseEtcdFile(sub), '/x')), /subPath "x"/);
    const twice = pod(['    command: [etcd, --data-dir=/var/lib/etcd]', '    volumeMounts: [{name: d, mountPath: /var/lib/etcd}, {name: d, mountPath: /backup}]', '  volumes: [{name: d, hostPath: {path: /srv}}]']);
    assert.match(error(setDataDir(parseEtcdFile(twice), '/x')), /mounted 2 times/);
    const shared = pod(['    command: [etcd, --data-dir=/etc/kubernetes/etcd, --cert-file=/etc/kubernetes/pki/s.crt]', '    volumeMounts: [{name: k, mountPath: /etc/kubernetes}]', '  volumes: [{name: k, hostPath: {path: /etc/kubernetes}}]']);
    assert.match(error(setDataDir(parseEtcdFile(shared), '/x')), /also holds --cert-file/);
    const missing = pod(['    command: [etcd, --data-dir=/var/lib/etcd]', '    volumeMounts: [{name: gone, mountPath: /var/lib/etcd}]']);
    assert.match(error(setDataDir(parseEtcdFile(missing), '/x')), /names the volume "gone", which the Pod does not define/);
    const bare = parseEtcdFile('[Service]\nExecStart=/usr/bin/etcd --force-new-cluster\n');
    assert.match(setSetting(bare, 'force-new-cluster', 'false').ok ? '' : (setSetting(bare, 'force-new-cluster', 'false') as { error: string }).error, /bare flag/);
  });

  it('a data dir deeper inside its mount: flag, mount and hostPath all become the new dir', () => {
    const t = pod(['    command: [etcd, --data-dir=/var/lib/etcd/member-a]', '    volumeMounts:', '    - name: etcd-data', '      mountPath: /var/lib/etcd', '  volumes:', '  - name: etcd-data', '    hostPath:', '      path: /srv/etcd']);
    const p = parseEtcdFile(t);
    const after = parseEtcdFile(apply(p, setDataDir(p, '/srv/restored')));
    const eff = effectiveSettings(after);
    assert.deepStrictEqual([eff.dataDir, eff.hostDataDir, after.volumeMounts[0].mountPath, after.volumes[0].hostPath], ['/srv/restored', '/srv/restored', '/srv/restored', '/srv/restored']);
  });

  it('in a unit: never adds a flag its env file also sets (etcd would refuse to start)', () => {
    const unit = parseEtcdFile(read('etcd.service'), 'etcd.service');
    assert.match(error(setDataDir(unit, '/x')), /reads its settings from \/data\/etcd\.env \(EnvironmentFile=\): set ETCD_DATA_DIR there/);
    const env = parseEtcdFile(read('etcd.env'), '/data/etcd.env');
    assert.match(error(setDataDir(unit, '/x', { related: [env] })), /ETCD_DATA_DIR is set in \/data\/etcd\.env, which the unit reads \(EnvironmentFile=\): change it there/);
    const other = parseEtcdFile('ETCD_NAME=x\n', '/data/etcd.env');
    assert.strictEqual(apply(unit, setDataDir(unit, '/x', { related: [other] })).includes('ExecStart=/usr/local/bin/etcd --data-dir=/x\n'), true);
    // and an env file never gets a variable the unit passes as a flag
    const flags = parseEtcdFile(read('etcd-flags.service'), 'etcd-flags.service');
    assert.match(error(setDataDir(parseEtcdFile('ETCD_NAME=x\n', 'e.env'), '/x', { related: [flags] })), /The unit etcd-flags\.service passes --data-dir on its command line: change it there/);
    // an Environment= setting of the unit is changed where it is
    const envLine = parseEtcdFile('[Service]\nEnvironment="ETCD_DATA_DIR=/old"\nExecStart=/usr/bin/etcd\n');
    assert.strictEqual(apply(envLine, setDataDir(envLine, '/new')), '[Service]\nEnvironment="ETCD_DATA_DIR=/new"\nExecStart=/usr/bin/etcd\n');
  });

  it('reads every edit back first, and refuses one that would not read as intended', () => {
    // a unit whose command line ends in an unclosed quote: an added flag would land inside it
    const open = parseEtcdFile('[Service]\nExecStart=/usr/bin/etcd --name=a --log-outputs "stderr\n');
    assert.match(error(setInitialClusterState(open, 'existing')), /not edited: .*Change it by hand\.$/);
    // a manifest whose last flag still waits for its value: an added flag would become that value
    const waiting = parseEtcdFile(pod(['    command: [etcd, --name=a, --log-outputs]']));
    assert.match(error(setInitialClusterState(waiting, 'new')), /other settings would read differently/);
  });

  it('keepContainerPath: only the hostPath moves (the Kubernetes docs\' way); refused when the data dir is below its mount', () => {
    const p = parseEtcdFile(read('kubeadm-etcd.yaml'));
    const r = setDataDir(p, '/var/lib/etcd-from-backup', { keepContainerPath: true });
    assert.ok(r.ok);
    assert.deepStrictEqual(r.changes, ['volume "etcd-data" hostPath.path: /var/lib/etcd -> /var/lib/etcd-from-backup']);
    const q = parseEtcdFile(apply(p, r));
    assert.deepStrictEqual([effectiveSettings(q).dataDir, effectiveSettings(q).hostDataDir], ['/var/lib/etcd', '/var/lib/etcd-from-backup']);
    const deep = parseEtcdFile(pod(['    command: [etcd, --data-dir=/var/lib/etcd/a]', '    volumeMounts: [{name: d, mountPath: /var/lib/etcd}]', '  volumes: [{name: d, hostPath: {path: /srv}}]']));
    assert.match(error(setDataDir(deep, '/x', { keepContainerPath: true })), /is below the mount at \/var\/lib\/etcd/);
  });
});
