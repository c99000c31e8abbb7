import * as assert from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import { validateCluster } from '../../src/core/config';
import { clusterFromEtcdFile, parseEtcdFile } from '../../src/core/etcdFiles';

const dir = join(__dirname, '..', 'fixtures', 'etcdFiles');
const read = (f: string): string => readFileSync(join(dir, f), 'utf8');

describe('clusterFromEtcdFile (import for the clusters view)', () => {
  it("kubeadm: advertise URL, the CA, kubeadm's healthcheck-client pair when it is on disk, the member name", () => {
    const p = parseEtcdFile(read('kubeadm-etcd.yaml'));
    const seen: string[] = [];
    const r = clusterFromEtcdFile(p, '/etc/kubernetes/manifests/etcd.yaml', {
      exists: (f) => {
        seen.push(f);
        return true;
      },
    });
    assert.deepStrictEqual(r.cluster, {
      name: 'controlplane',
      endpoints: ['https://192.168.56.10:2379'],
      tls: {
        caFile: '/etc/kubernetes/pki/etcd/ca.crt',
        certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
        keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
      },
    });
    assert.deepStrictEqual(r.warnings, []);
    assert.ok(seen.includes('/etc/kubernetes/pki/etcd/healthcheck-client.key'), 'the disk check is the injected one');
    assert.deepStrictEqual(validateCluster(r.cluster).problems, [], 'a valid cluster for the settings');
  });

  it('falls back to the server pair, and says which files are missing', () => {
    const p = parseEtcdFile(read('kubeadm-etcd.yaml'));
    const r = clusterFromEtcdFile(p, 'etcd.yaml', { exists: (f) => f.endsWith('ca.crt') });
    assert.deepStrictEqual(r.cluster?.tls, { caFile: '/etc/kubernetes/pki/etcd/ca.crt', certFile: '/etc/kubernetes/pki/etcd/server.crt', keyFile: '/etc/kubernetes/pki/etcd/server.key' });
    assert.deepStrictEqual(r.warnings, [
      "No healthcheck-client.crt/.key beside the CA; the server pair (server.crt) is used as the client certificate (kubeadm's server certificates allow client auth).",
      'certFile /etc/kubernetes/pki/etcd/server.crt does not exist on this machine.',
      'keyFile /etc/kubernetes/pki/etcd/server.key does not exist on this machine.',
    ]);
  });

  it("maps paths inside the container to the node's through the hostPath volumes", () => {
    const t = read('kubeadm-etcd.yaml').replace('      path: /etc/kubernetes/pki/etcd\n', '      path: /srv/pki/etcd\n');
    const r = clusterFromEtcdFile(parseEtcdFile(t), 'etcd.yaml', { exists: () => true });
    assert.strictEqual(r.cluster?.tls?.caFile, '/srv/pki/etcd/ca.crt');
    assert.strictEqual(r.cluster?.tls?.certFile, '/srv/pki/etcd/healthcheck-client.crt');
  });

  it('without --advertise-client-urls: --listen-client-urls, with 0.0.0.0 and [::] as loopback', () => {
    const p = parseEtcdFile('ETCD_NAME=x\nETCD_LISTEN_CLIENT_URLS="http://0.0.0.0:2379,http://[::]:2479,http://10.0.0.1:2379"\n');
    const r = clusterFromEtcdFile(p, '/etc/etcd.env', { exists: () => true });
    assert.deepStrictEqual(r.cluster, { name: 'x', endpoints: ['http://127.0.0.1:2379', 'http://[::1]:2479', 'http://10.0.0.1:2379'] });
    assert.deepStrictEqual(r.warnings, ['/etc/etcd.env sets no --advertise-client-urls; the endpoints come from --listen-client-urls.']);
  });

  it('the shared env file and config file', () => {
    const env = clusterFromEtcdFile(parseEtcdFile(read('etcd.env')), '/data/etcd.env', { exists: () => false });
    assert.deepStrictEqual(env, { cluster: { name: 'etcd1', endpoints: ['http://192.168.10.11:2379'] }, warnings: [] });
    const cfg = clusterFromEtcdFile(parseEtcdFile(read('etcd.conf.yml')), '/etc/etcd/etcd.conf.yml', { exists: () => true });
    assert.deepStrictEqual(cfg.cluster?.tls, { caFile: '/etc/etcd/pki/ca.crt', certFile: '/etc/etcd/pki/healthcheck-client.crt', keyFile: '/etc/etcd/pki/healthcheck-client.key' });
  });

  it('a unit through its env file; a file with nothing to connect to, or unreadable, gives only warnings', () => {
    const unit = parseEtcdFile(read('etcd.service'), '/data/etcd.service');
    assert.deepStrictEqual(clusterFromEtcdFile(unit, '/data/etcd.service'), { warnings: ['/data/etcd.service names no client URL itself; import /data/etcd.env (its EnvironmentFile=) instead.'] });
    const withEnv = clusterFromEtcdFile(unit, '/data/etcd.service', { related: [parseEtcdFile(read('etcd.env'), '/data/etcd.env')], exists: () => false });
    assert.deepStrictEqual(withEnv.cluster?.endpoints, ['http://192.168.10.11:2379']);
    assert.strictEqual(clusterFromEtcdFile(parseEtcdFile(read('broken.yaml')), 'broken.yaml').cluster, undefined);
    assert.match(clusterFromEtcdFile(parseEtcdFile(read('broken.yaml')), 'broken.yaml').warnings[0], /^broken\.yaml: The YAML does not parse/);
    const noTls = clusterFromEtcdFile(parseEtcdFile(read('url-mismatch.yaml')), 'x.yaml', { exists: () => true });
    assert.deepStrictEqual(noTls.warnings, ['The client URLs are https:// but no --trusted-ca-file is set: choose the CA that signed the server certificates.']);
  });
});
