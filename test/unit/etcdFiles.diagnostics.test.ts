import * as assert from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import { applyEdits, closestFlag, diagnoseEtcdFile, editDistance, ETCD_34_FLAGS, EtcdDiagnostic, joiningReason, parseEtcdFile, ParsedEtcdFile } from '../../src/core/etcdFiles';

const dir = join(__dirname, '..', 'fixtures', 'etcdFiles');
const read = (f: string): string => readFileSync(join(dir, f), 'utf8');

function only(p: ParsedEtcdFile, code: string, related: ParsedEtcdFile[] = []): EtcdDiagnostic[] {
  return diagnoseEtcdFile(p, { related }).filter((d) => d.code === code);
}

/** The diagnostic is there once; its fix (when it has one) leaves a file that parses and clears it. */
function fixClears(text: string, code: string, opts: { fileName?: string; related?: ParsedEtcdFile[]; noFix?: boolean } = {}): { d: EtcdDiagnostic; fixed?: string } {
  const p = parseEtcdFile(text, opts.fileName);
  const ds = only(p, code, opts.related);
  assert.ok(ds.length >= 1, `${code} expected in:\n${text}\n${JSON.stringify(diagnoseEtcdFile(p, { related: opts.related }), null, 1)}`);
  const d = ds[0];
  assert.ok(d.message.length > 20 && /[.)?]$/.test(d.message), d.message);
  if (opts.noFix) {
    assert.strictEqual(d.fix, undefined);
    return { d };
  }
  assert.ok(d.fix, `${code} has a fix`);
  const fixed = applyEdits(text, d.fix.edits);
  const q = parseEtcdFile(fixed, opts.fileName);
  assert.ok(!q.problems.some((x) => x.fatal), fixed);
  assert.strictEqual(only(q, code, opts.related).length, ds.length - 1, `after "${d.fix.title}":\n${fixed}`);
  return { d, fixed };
}

const pod = (flags: string[], mounts = ['{name: etcd-data, mountPath: /var/lib/etcd}', '{name: etcd-certs, mountPath: /etc/kubernetes/pki/etcd}'], volumes = ['{name: etcd-data, hostPath: {path: /var/lib/etcd}}', '{name: etcd-certs, hostPath: {path: /etc/kubernetes/pki/etcd}}']): string =>
  ['apiVersion: v1', 'kind: Pod', 'spec:', '  containers:', '  - name: etcd', '    command:', '    - etcd', ...flags.map((f) => `    - ${f}`), '    volumeMounts:', ...mounts.map((m) => `    - ${m}`), '  volumes:', ...volumes.map((v) => `  - ${v}`)].join('\n') + '\n';

describe('diagnoseEtcdFile', () => {
  it('finds nothing to say about the kubeadm manifests and the shared env file, apart from the join hint', () => {
    for (const f of ['kubeadm-etcd.yaml', 'kubeadm-1.20-etcd.yaml', 'kubeadm-1.29-crlf.yaml', 'multi-doc.yaml', 'flow-style.yaml', 'args-flag-value.yaml', 'etcd.conf.yml', 'etcd.service']) {
      assert.deepStrictEqual(diagnoseEtcdFile(parseEtcdFile(read(f), f)), [], f);
    }
    assert.deepStrictEqual(diagnoseEtcdFile(parseEtcdFile(read('etcd.env'))).map((d) => [d.code, d.severity]), [['initial-cluster-state-new', 'hint']]);
  });

  it('data dir outside every mount: an error, fixed by pointing the flag at the etcd-data mount', () => {
    const { d, fixed } = fixClears(pod(['--data-dir=/var/lib/etcd2', '--name=a']), 'data-dir-not-mounted');
    assert.strictEqual(d.severity, 'error');
    assert.match(d.message, /lost whenever the Pod is recreated/);
    assert.ok(fixed?.includes('- --data-dir=/var/lib/etcd\n'));
  });

  it('data dir on another volume than etcd-data: a warning with the same fix', () => {
    const t = pod(['--data-dir=/etc/kubernetes/pki/etcd/data']);
    const { d } = fixClears(t, 'data-dir-mount-mismatch');
    assert.strictEqual(d.severity, 'warning');
    assert.strictEqual(t.slice(d.range.start, d.range.end), '/etc/kubernetes/pki/etcd/data');
  });

  it('etcd-data hostPath differing from the flag and the mount: info, fixed by using the node path everywhere', () => {
    const { d, fixed } = fixClears(read('stacked-member-2.yaml'), 'data-dir-host-path-differs');
    assert.strictEqual(d.severity, 'info');
    assert.ok(fixed?.includes('"--data-dir=/mnt/etcd-disk/etcd"') && fixed.includes('mountPath: /mnt/etcd-disk/etcd}'));
  });

  it('a mount of a volume that is not defined, an emptyDir data dir, TLS files outside every mount', () => {
    const p = parseEtcdFile(read('problems.yaml'));
    const v = only(p, 'volume-not-defined')[0];
    assert.strictEqual(p.text.slice(v.range.start, v.range.end), 'etcd-logs');
    fixClears(read('url-mismatch.yaml'), 'data-dir-not-host-path', { noFix: true });
    const { d } = fixClears(pod(['--data-dir=/var/lib/etcd', '--cert-file=/etc/etcd/server.crt', '--key-file=/etc/kubernetes/pki/etcd/server.key']), 'file-not-mounted', { noFix: true });
    assert.match(d.message, /^--cert-file \/etc\/etcd\/server\.crt is not inside any volume mount: etcd cannot open it inside the container and exits at start\.$/);
  });

  it('--initial-cluster without this member: renames the entry with its peer URL, or adds it', () => {
    const byUrl = fixClears(pod(['--data-dir=/var/lib/etcd', '--name=cp-3', '--initial-advertise-peer-urls=https://10.0.0.13:2380', '--initial-cluster=cp-1=https://10.0.0.11:2380,node-3=https://10.0.0.13:2380']), 'initial-cluster-missing-name');
    assert.strictEqual(byUrl.d.severity, 'error');
    assert.match(byUrl.d.message, /couldn't find local name "cp-3" in the initial cluster configuration/);
    assert.ok(byUrl.fixed?.includes('--initial-cluster=cp-1=https://10.0.0.11:2380,cp-3=https://10.0.0.13:2380\n'));
    const add = fixClears(pod(['--data-dir=/var/lib/etcd', '--name=cp-3', '--initial-advertise-peer-urls=https://10.0.0.13:2380', '--initial-cluster=cp-1=https://10.0.0.11:2380']), 'initial-cluster-missing-name');
    assert.ok(add.fixed?.includes('--initial-cluster=cp-1=https://10.0.0.11:2380,cp-3=https://10.0.0.13:2380\n'));
  });

  it('--initial-cluster with another URL for this member than --initial-advertise-peer-urls', () => {
    const { d, fixed } = fixClears(read('url-mismatch.yaml'), 'initial-cluster-url-mismatch');
    assert.match(d.message, /--initial-cluster has cp-2=https:\/\/10\.6\.0\.99:2380 but missing from --initial-advertise-peer-urls/);
    assert.ok(fixed?.includes('--initial-cluster=cp-1=https://10.6.0.11:2380,cp-2=https://10.6.0.12:2380,cp-3=https://10.6.0.13:2380\n'));
    // the same in an env file, inside its quotes
    const env = 'ETCD_NAME=b\nETCD_INITIAL_ADVERTISE_PEER_URLS=http://h2:2380\nETCD_INITIAL_CLUSTER="a=http://h1:2380,b=http://old:2380"\n';
    assert.ok(fixClears(env, 'initial-cluster-url-mismatch').fixed?.includes('ETCD_INITIAL_CLUSTER="a=http://h1:2380,b=http://h2:2380"\n'));
  });

  it('initial-cluster-state=new with other members: a hint, fixed by existing; an invalid state: an error', () => {
    const { d, fixed } = fixClears(read('etcd.env'), 'initial-cluster-state-new');
    assert.strictEqual(d.severity, 'hint');
    assert.ok(fixed?.includes('ETCD_INITIAL_CLUSTER_STATE="existing"'));
    assert.deepStrictEqual(only(parseEtcdFile(read('kubeadm-etcd.yaml').replace('    - --name=', '    - --initial-cluster-state=new\n    - --name=')), 'initial-cluster-state-new'), [], 'a one-member cluster: no hint');
    const bad = fixClears('ETCD_INITIAL_CLUSTER_STATE=Existing\n', 'invalid-initial-cluster-state');
    assert.strictEqual(bad.fixed, 'ETCD_INITIAL_CLUSTER_STATE=existing\n');
  });

  it('a flag given twice: a warning on the first copy, fixed by removing its line (comments and the rest stay)', () => {
    const t = pod(['--data-dir=/var/lib/etcd', '--snapshot-count=100   # old', '--name=a', '--snapshot-count=10000']);
    const { d, fixed } = fixClears(t, 'duplicate-setting');
    assert.match(d.message, /^--snapshot-count is given 2 times; etcd uses the last one \(10000\) and ignores this one \(100\)\.$/);
    assert.strictEqual(fixed, t.replace('    - --snapshot-count=100   # old\n', ''));
    const flow = "kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [etcd, --name=a, --name=b, --data-dir=/d]\n";
    assert.strictEqual(fixClears(flow, 'duplicate-setting').fixed, flow.replace('--name=a, ', ''));
    const unit = '[Service]\nExecStart=/usr/bin/etcd --name=a \\\n  --name=b\n';
    assert.strictEqual(fixClears(unit, 'duplicate-setting').fixed, '[Service]\nExecStart=/usr/bin/etcd \\\n  --name=b\n');
  });

  it('unknown flags, variables and config keys, checked against etcd\'s flag list, with a did-you-mean fix', () => {
    assert.ok(ETCD_34_FLAGS.includes('experimental-initial-corrupt-check') && ETCD_34_FLAGS.length >= 80);
    assert.strictEqual(editDistance('kitten', 'sitting'), 3);
    assert.strictEqual(closestFlag('data-dri'), 'data-dir');
    assert.strictEqual(closestFlag('completely-different'), undefined);
    const flag = fixClears(pod(['--data-dir=/var/lib/etcd', '--snapshot-cont=5']), 'unknown-flag');
    assert.strictEqual(flag.d.severity, 'error');
    assert.match(flag.d.message, /flag provided but not defined: --snapshot-cont"\)\. Did you mean --snapshot-count\?$/);
    assert.ok(flag.fixed?.includes('- --snapshot-count=5\n'));
    const env = fixClears(read('exported.env'), 'unknown-variable');
    assert.strictEqual(env.d.severity, 'warning');
    assert.ok(env.fixed?.includes('export ETCD_HEARTBEAT_INTERVAL=200\n'));
    const cfg = fixClears('name: a\nsnapshot-cuont: 5\nclient-transport-security:\n  cert-fle: /c\n', 'unknown-key');
    assert.ok(cfg.fixed?.includes('snapshot-count: 5'));
    const nested = parseEtcdFile('name: a\nclient-transport-security:\n  cert-fle: /c\n');
    const n = only(nested, 'unknown-key')[0];
    assert.strictEqual(n.fix?.title, 'Change to client-transport-security.cert-file');
    fixClears(pod(['--data-dir=/var/lib/etcd', '--zzz-qqq=1']), 'unknown-flag', { noFix: true });
    assert.deepStrictEqual(only(parseEtcdFile('ETCD_UNSUPPORTED_ARCH=arm64\nETCD_LOG_FORMAT=json\n'), 'unknown-variable'), [], 'a variable that is no flag, and a 3.5 flag');
  });

  it('an env variable that the command line also passes: an error on each side, fixed by removing it', () => {
    const unit = parseEtcdFile(read('etcd-flags.service'), 'etcd-flags.service');
    const own = fixClears(read('etcd-flags.service'), 'env-flag-conflict');
    assert.match(own.d.message, /conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag/);
    assert.ok(own.fixed?.includes('Environment="ETCD_UNSUPPORTED_ARCH=arm64"\n'));
    // The conflicting variable alone on its Environment= line: the line goes, not just the word
    // (an empty Environment= would reset every assignment before it).
    const alone = '[Service]\nEnvironment="ETCD_DATA_DIR=/var/lib/etcd"\nEnvironment=ETCD_NAME=x\nExecStart=/usr/bin/etcd --name x\n';
    assert.strictEqual(fixClears(alone, 'env-flag-conflict', { fileName: 'etcd.service' }).fixed, '[Service]\nEnvironment="ETCD_DATA_DIR=/var/lib/etcd"\nExecStart=/usr/bin/etcd --name x\n');
    const quoted = '[Service]\nEnvironment=ETCD_DATA_DIR=/d\nEnvironment="ETCD_NAME=x"  # set by hand\nExecStart=/usr/bin/etcd --name x\n';
    assert.strictEqual(fixClears(quoted, 'env-flag-conflict', { fileName: 'etcd.service' }).fixed, '[Service]\nEnvironment=ETCD_DATA_DIR=/d\nExecStart=/usr/bin/etcd --name x\n');
    const envText = 'ETCD_DATA_DIR=/x\nETCD_ELECTION_TIMEOUT=5000\n';
    const env = fixClears(envText, 'env-flag-conflict', { fileName: 'etcd.env', related: [unit] });
    assert.strictEqual(env.fixed, 'ETCD_ELECTION_TIMEOUT=5000\n');
    const envParsed = parseEtcdFile(envText, '/etc/etcd.env');
    const fromUnit = fixClears(read('etcd-flags.service'), 'env-flag-conflict', { related: [envParsed] });
    assert.ok(only(unit, 'env-flag-conflict', [envParsed]).some((d) => /^--data-dir is passed here and ETCD_DATA_DIR is set in \/etc\/etcd\.env: etcd exits at start/.test(d.message)));
    assert.ok(fromUnit.fixed);
    assert.deepStrictEqual(only(parseEtcdFile(envText), 'env-flag-conflict'), [], 'without the unit nothing is known');
  });

  it('parse problems are diagnostics too, and a file that cannot be read gets nothing else', () => {
    const ds = diagnoseEtcdFile(parseEtcdFile(read('broken.yaml')));
    assert.ok(ds.length >= 1 && ds.every((d) => d.code === 'yaml-error' && d.severity === 'error' && !d.fix));
    assert.deepStrictEqual(diagnoseEtcdFile(parseEtcdFile(read('no-etcd.yaml'))).map((d) => d.code), ['no-etcd-container']);
    const env = diagnoseEtcdFile(parseEtcdFile(read('exported.env')));
    assert.ok(env.some((d) => d.code === 'not-key-value' && d.severity === 'error'));
  });

  it('--config-file with other flags: a warning that etcd ignores them', () => {
    const { d } = fixClears('[Service]\nExecStart=/usr/bin/etcd --config-file=/etc/etcd/etcd.conf.yml --name=a --data-dir=/d\n', 'config-file-overrides', { noFix: true });
    assert.strictEqual(d.message, '--config-file is given: etcd reads its settings only from /etc/etcd/etcd.conf.yml and ignores the 2 other settings here (--name, --data-dir).');
    assert.deepStrictEqual(only(parseEtcdFile('ETCD_CONFIG_FILE=/etc/etcd/etcd.conf.yml\nETCD_UNSUPPORTED_ARCH=arm64\n'), 'config-file-overrides'), []);
  });

  it('a member known to join a running cluster (added, not started): "new" or no state is an error; the running ones keep the hint', () => {
    const text = (name: string, peer: string, state?: string): string =>
      `ETCD_NAME=${name}\nETCD_INITIAL_CLUSTER="a=http://10.0.0.1:2380,b=http://10.0.0.2:2380"\nETCD_INITIAL_ADVERTISE_PEER_URLS=${peer}\n` +
      (state ? `ETCD_INITIAL_CLUSTER_STATE="${state}"\n` : '');
    const clusters = [{ name: 'prod', members: [
      { name: 'a', peerURLs: ['http://10.0.0.1:2380'], started: true },
      { name: '', peerURLs: ['http://10.0.0.2:2380/'], started: false },
    ] }];
    assert.strictEqual(joiningReason(parseEtcdFile(text('a', 'http://10.0.0.1:2380', 'new')), clusters), undefined);
    const joining = joiningReason(parseEtcdFile(text('b', 'http://10.0.0.2:2380', 'new')), clusters);
    assert.match(joining ?? '', /^Cluster "prod" lists http:\/\/10\.0\.0\.2:2380\/ as a member that was added/);
    for (const state of ['new', undefined]) {
      const t = text('b', 'http://10.0.0.2:2380', state);
      const ds = diagnoseEtcdFile(parseEtcdFile(t), { joining }).filter((d) => d.code === 'initial-cluster-state-new');
      assert.deepStrictEqual(ds.map((d) => d.severity), ['error'], String(state));
      const fixed = applyEdits(t, ds[0].fix?.edits ?? []);
      assert.match(fixed, /ETCD_INITIAL_CLUSTER_STATE="?existing"?/);
      assert.deepStrictEqual(diagnoseEtcdFile(parseEtcdFile(fixed), { joining }).filter((d) => d.code === 'initial-cluster-state-new'), []);
    }
    assert.deepStrictEqual(diagnoseEtcdFile(parseEtcdFile(text('b', 'http://10.0.0.2:2380', 'existing')), { joining }), []);
    assert.deepStrictEqual(only(parseEtcdFile(text('a', 'http://10.0.0.1:2380', 'new')), 'initial-cluster-state-new').map((d) => d.severity), ['hint']);
  });
});
