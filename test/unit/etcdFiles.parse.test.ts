import * as assert from 'assert';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { effectiveSettings, etcdFileAnchors, hostPathOf, parseEtcdFile } from '../../src/core/etcdFiles';

const dir = join(__dirname, '..', 'fixtures', 'etcdFiles');
const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
const slice = (t: string, r: { start: number; end: number }): string => t.slice(r.start, r.end);

describe('parseEtcdFile', () => {
  it('recognises each kind by content, whatever the file is called', () => {
    assert.strictEqual(parseEtcdFile(read('kubeadm-etcd.yaml'), 'notes.txt').kind, 'manifest');
    assert.strictEqual(parseEtcdFile(read('etcd.env'), 'etcd.yaml').kind, 'env');
    assert.strictEqual(parseEtcdFile(read('etcd.service'), 'etcd.txt').kind, 'systemd');
    assert.strictEqual(parseEtcdFile(read('etcd.conf.yml'), 'etcd.env').kind, 'config');
    assert.strictEqual(parseEtcdFile(read('etcd.conf.yml')).kind, 'config');
    const other = parseEtcdFile('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n', 'deploy.yaml');
    assert.strictEqual(other.kind, 'unknown');
    assert.strictEqual(other.problems[0].code, 'not-an-etcd-file');
    assert.ok(other.problems[0].fatal);
  });

  it('keeps exact ranges: the value, the key and the whole entry of every setting in every fixture', () => {
    for (const f of readdirSync(dir).filter((x) => x !== 'expected' && x !== 'README.md')) {
      const t = read(f);
      const p = parseEtcdFile(t, f);
      for (const s of p.settings) {
        const where = `${f}: ${s.key}`;
        if (s.exactValue) assert.strictEqual(slice(t, s.valueRange), s.value, where);
        assert.ok(s.entryRange.start <= s.keyRange.start && s.keyRange.end <= s.entryRange.end, where);
        assert.ok(s.entryRange.start <= s.valueRange.start && s.valueRange.end <= s.entryRange.end, where);
        if (s.form !== 'config' || !s.key.includes('.')) assert.strictEqual(slice(t, s.keyRange), s.key, where);
        assert.ok(!slice(t, s.valueRange).includes('\r'), `${where}: no CR inside a value`);
      }
      for (const v of p.volumes) if (v.hostPathRange && v.hostPath) assert.strictEqual(slice(t, v.hostPathRange), v.hostPath, `${f}: ${v.name}`);
      for (const m of p.volumeMounts) if (m.mountPathRange) assert.strictEqual(slice(t, m.mountPathRange), m.mountPath, `${f}: ${m.name}`);
    }
  });

  it('reads a kubeadm manifest: the entry of a flag runs from its dash, the value is inside the quotes', () => {
    const t = read('stacked-member-2.yaml');
    const p = parseEtcdFile(t);
    const dd = p.settings.find((s) => s.name === 'data-dir')!;
    assert.strictEqual(slice(t, dd.entryRange), '- "--data-dir=/var/lib/etcd"');
    assert.strictEqual(dd.quote, 'double');
    assert.strictEqual(dd.form, 'flag=value');
    assert.strictEqual(p.containerName, 'etcd');
    assert.deepStrictEqual(p.volumeMounts.map((m) => [m.name, m.mountPath, Boolean(m.mountPathInFlow)]), [
      ['etcd-data', '/var/lib/etcd', true],
      ['etcd-certs', '/etc/kubernetes/pki/etcd', true],
    ]);
    assert.strictEqual(hostPathOf(p, '/var/lib/etcd/member/snap'), '/mnt/etcd-disk/etcd/member/snap');
    assert.strictEqual(hostPathOf(p, '/tmp/x'), undefined);
    assert.strictEqual(effectiveSettings(p).hostDataDir, '/mnt/etcd-disk/etcd');
  });

  it('reads CRLF files with offsets into the text as given', () => {
    const t = read('kubeadm-1.29-crlf.yaml');
    const p = parseEtcdFile(t);
    assert.strictEqual(p.eol, '\r\n');
    assert.deepStrictEqual(p.problems, []);
    const dd = p.settings.find((s) => s.name === 'data-dir')!;
    assert.strictEqual(slice(t, dd.valueRange), '/var/lib/etcd');
    assert.strictEqual(slice(t, dd.entryRange), '- --data-dir=/var/lib/etcd', 'the comment after it is not part of the entry');
    const env = parseEtcdFile(read('etcd.env').replace(/\n/g, '\r\n'));
    assert.strictEqual(env.settings.find((s) => s.name === 'name')!.value, 'etcd1', 'no CR in an unquoted env value');
  });

  it('reads "--flag value" pairs in args after command: [etcd], with their quotes', () => {
    const t = read('args-flag-value.yaml');
    const p = parseEtcdFile(t);
    const name = p.settings.find((s) => s.name === 'name')!;
    assert.strictEqual(name.form, 'flag value');
    assert.strictEqual(name.value, 'infra0');
    assert.strictEqual(name.quote, 'single');
    assert.strictEqual(name.list, 'args');
    assert.strictEqual(slice(t, name.entryRange), "- --name\n    - 'infra0'");
    assert.strictEqual(p.settings.length, 7);
  });

  it('takes flags from both command and args, and bare booleans as true; a word that is no flag is a problem', () => {
    const t = ['kind: Pod', 'spec:', '  containers:', '  - name: etcd', '    command: [etcd, --name=a]', '    args:', '    - --client-cert-auth', '    - --data-dir=/d', '    - extra'].join('\n');
    const p = parseEtcdFile(t);
    assert.deepStrictEqual(p.settings.map((s) => [s.name, s.value, s.list, s.form]), [
      ['name', 'a', 'command', 'flag=value'],
      ['client-cert-auth', 'true', 'args', 'flag'],
      ['data-dir', '/d', 'args', 'flag=value'],
    ]);
    assert.deepStrictEqual(p.problems.map((x) => x.code), ['stray-argument']);
    assert.strictEqual(p.flagList?.list, 'args');
  });

  it('finds the Pod in a multi-document file and ignores the other documents', () => {
    const p = parseEtcdFile(read('multi-doc.yaml'));
    assert.strictEqual(p.kind, 'manifest');
    assert.strictEqual(effectiveSettings(p).dataDir, '/var/lib/etcd');
    assert.strictEqual(p.settings.filter((s) => s.name === 'data-dir').length, 1);
    assert.strictEqual(p.volumeMounts.find((m) => m.name === 'etcd-certs')?.readOnly, true);
  });

  it('reads flow style, marking values that sit in flow collections', () => {
    const p = parseEtcdFile(read('flow-style.yaml'));
    assert.strictEqual(p.flagList?.flow, true);
    assert.ok(p.settings.every((s) => s.inFlow));
    assert.strictEqual(p.volumes.find((v) => v.name === 'etcd-data')?.hostPathInFlow, true);
  });

  it('turns malformed manifests into problems, never an exception', () => {
    const broken = parseEtcdFile(read('broken.yaml'));
    assert.strictEqual(broken.kind, 'manifest');
    assert.ok(broken.problems.some((x) => x.code === 'yaml-error' && x.fatal));
    assert.match(broken.problems[0].message, /^The YAML does not parse: All sequence items must start at the same column\.$/);
    const none = parseEtcdFile(read('no-etcd.yaml'));
    assert.deepStrictEqual(none.problems.map((x) => [x.code, x.fatal]), [['no-etcd-container', true]]);
    const shell = parseEtcdFile('kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [/bin/sh, -c, "etcd --data-dir=/x"]\n');
    // a Pod that runs etcd through a shell is etcd's Pod: recognised, checked as far as it can be, never edited
    assert.deepStrictEqual(shell.problems.map((x) => [x.code, x.severity, Boolean(x.fatal), x.blocksEdits]), [['shell-command', 'info', false, true]]);
    for (const junk of ['', '\0\0\0', ':::\n- [', 'kind: Pod\nspec: [', '{{{{']) {
      const p = parseEtcdFile(junk);
      assert.ok(p.problems.some((x) => x.fatal), JSON.stringify(junk));
    }
  });

  it('reads env files: export, quotes, escapes, comments; other variables are not settings; a bad line is a problem', () => {
    const t = ['# c', '; c', 'export ETCD_NAME=\'m 1\'', 'ETCD_DATA_DIR="/a \\"b\\""', 'ETCD_X=plain  ', 'GOMAXPROCS=4', 'ETCD_Y="unclosed', 'not an assignment'].join('\n');
    const p = parseEtcdFile(t, 'x.env');
    assert.strictEqual(p.kind, 'env');
    assert.deepStrictEqual(p.settings.map((s) => [s.key, s.value, s.quote, s.exactValue, Boolean(s.exported)]), [
      ['ETCD_NAME', 'm 1', 'single', true, true],
      ['ETCD_DATA_DIR', '/a "b"', 'double', false, false],
      ['ETCD_X', 'plain', 'none', true, false],
      ['ETCD_Y', 'unclosed', 'double', false, false],
    ]);
    assert.deepStrictEqual(p.problems.map((x) => x.code), ['bad-quoting', 'not-key-value']);
    assert.ok(p.problems.every((x) => !x.fatal), 'a bad line does not stop edits of the others');
  });

  it('reads systemd units: continued lines, quoted words, Environment= words, EnvironmentFile= with "-"', () => {
    const t = read('etcd-flags.service');
    const p = parseEtcdFile(t);
    assert.strictEqual(p.kind, 'systemd');
    const byName = (n: string) => p.settings.filter((s) => s.name === n);
    assert.deepStrictEqual(byName('name').map((s) => [s.source, s.form, s.value]), [
      ['environment', 'env', 'ignored'],
      ['command', 'flag value', 'node1'],
    ]);
    const lcu = byName('listen-client-urls')[0];
    assert.strictEqual(lcu.value, 'http://10.9.0.1:2379,http://127.0.0.1:2379');
    assert.strictEqual(lcu.quote, 'double');
    assert.strictEqual(slice(t, lcu.valueRange), lcu.value);
    assert.strictEqual(p.flagList?.indent, '  ');
    assert.strictEqual(slice(t, p.flagList!.executableRange!), '/usr/bin/etcd');
    const u = parseEtcdFile('[Service]\nEnvironmentFile=-/etc/default/etcd\nExecStart=\nExecStart=-/usr/bin/etcd $ETCD_OPTS --name=x\n');
    assert.deepStrictEqual(u.environmentFiles.map((e) => [e.path, e.optional]), [['/etc/default/etcd', true]]);
    assert.deepStrictEqual(u.settings.map((s) => [s.name, s.value]), [['name', 'x']]);
    assert.deepStrictEqual(u.problems.map((x) => x.code), ['not-expanded']);
    const notEtcd = parseEtcdFile('[Service]\nExecStart=/usr/bin/nginx -g "daemon off;"\n');
    assert.deepStrictEqual(notEtcd.settings, []);
    assert.strictEqual(notEtcd.flagList, undefined);
  });

  it('reads the config file, with the transport sections under their flag names', () => {
    const p = parseEtcdFile(read('etcd.conf.yml'));
    const get = (n: string) => p.settings.find((s) => s.name === n);
    assert.strictEqual(get('name')?.value, 'infra1');
    assert.strictEqual(get('name')?.quote, 'single');
    assert.strictEqual(get('snapshot-count')?.value, '10000');
    assert.strictEqual(get('cert-file')?.key, 'client-transport-security.cert-file');
    assert.strictEqual(get('peer-cert-file')?.value, '/etc/etcd/pki/peer.crt');
    assert.strictEqual(get('client-cert-auth')?.value, 'true');
    assert.strictEqual(effectiveSettings(p).trustedCaFile, '/etc/etcd/pki/ca.crt');
  });

  it('effective settings: the last of a duplicate wins; a unit flag beats its env file; a config file beats both', () => {
    const m = parseEtcdFile(read('problems.yaml'));
    assert.strictEqual(effectiveSettings(m).name, 'cp-3');
    const unit = parseEtcdFile('[Service]\nExecStart=/usr/bin/etcd --name=from-flag\n', 'u.service');
    const env = parseEtcdFile('ETCD_NAME=from-env\nETCD_DATA_DIR=/env/dir\n', '/etc/etcd.env');
    assert.deepStrictEqual([effectiveSettings(unit, [env]).name, effectiveSettings(unit, [env]).dataDir], ['from-flag', '/env/dir']);
    assert.strictEqual(effectiveSettings(env, [unit]).name, 'from-flag');
    assert.strictEqual(effectiveSettings(env).name, 'from-env');
    const config = parseEtcdFile('name: from-config\ndata-dir: /cfg\n', 'etcd.conf.yml');
    assert.strictEqual(effectiveSettings(config, [env]).name, 'from-config');
  });

  it('reads an env file that starts with a byte order mark', () => {
    const p = parseEtcdFile('\uFEFFETCD_NAME=a\nETCD_DATA_DIR=/d\n', 'etcd.env');
    assert.strictEqual(p.kind, 'env');
    assert.deepStrictEqual(p.problems, []);
    assert.deepStrictEqual(p.settings.map((x) => x.key), ['ETCD_NAME', 'ETCD_DATA_DIR']);
  });

  it('anchors for CodeLenses: the top line, the data dir entry, the state entry or where it would go', () => {
    const t = read('kubeadm-etcd.yaml');
    const a = etcdFileAnchors(parseEtcdFile(t));
    assert.strictEqual(slice(t, a.top), 'apiVersion: v1');
    assert.strictEqual(slice(t, a.dataDir!), '- --data-dir=/var/lib/etcd');
    assert.strictEqual(slice(t, a.initialClusterState!), '- --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt');
    assert.strictEqual(a.initialClusterStateMissing, true);
    const e = read('etcd.env');
    const b = etcdFileAnchors(parseEtcdFile(e));
    assert.strictEqual(slice(e, b.initialClusterState!), 'ETCD_INITIAL_CLUSTER_STATE="new"');
    assert.strictEqual(b.initialClusterStateMissing, false);
    const broken = etcdFileAnchors(parseEtcdFile(read('broken.yaml')));
    assert.deepStrictEqual([broken.dataDir, broken.initialClusterState], [undefined, undefined]);
  });
});
