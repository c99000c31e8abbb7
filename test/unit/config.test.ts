import * as assert from 'assert';
import { normalizeEndpoint, validateCluster, validateClusters } from '../../src/core/config';

describe('cluster configuration validation', () => {
  it('normalises endpoints: scheme added, default port, trailing slash removed', () => {
    assert.deepStrictEqual(normalizeEndpoint('10.0.0.11:2379'), { url: 'http://10.0.0.11:2379' });
    assert.deepStrictEqual(normalizeEndpoint('https://etcd-1.example:2379/'), { url: 'https://etcd-1.example:2379' });
    assert.deepStrictEqual(normalizeEndpoint('https://10.0.0.11'), { url: 'https://10.0.0.11:443' });
    assert.deepStrictEqual(normalizeEndpoint('https://[::1]:2379'), { url: 'https://[::1]:2379' });
  });

  it('rejects endpoints that are not http(s) URLs with one sentence each', () => {
    assert.match(normalizeEndpoint('unix:///run/etcd.sock').error ?? '', /uses unix; etcd client URLs are http:\/\/ or https:\/\//);
    assert.match(normalizeEndpoint('https://10.0.0.1:2379/v3/kv').error ?? '', /has a path/);
    assert.match(normalizeEndpoint('   ').error ?? '', /empty/);
  });

  it('accepts a full TLS cluster and fills the default timeout', () => {
    const r = validateCluster({
      name: 'prod',
      endpoints: ['https://10.0.0.11:2379', 'https://10.0.0.12:2379', 'https://10.0.0.11:2379/'],
      tls: { caFile: '/pki/ca.crt', certFile: '/pki/c.crt', keyFile: '/pki/c.key' },
      snapshotDir: '/backup',
    });
    assert.deepStrictEqual(r.problems, []);
    assert.deepStrictEqual(r.cluster, {
      name: 'prod',
      endpoints: ['https://10.0.0.11:2379', 'https://10.0.0.12:2379'],
      tls: { caFile: '/pki/ca.crt', certFile: '/pki/c.crt', keyFile: '/pki/c.key' },
      snapshotDir: '/backup',
      timeoutMs: 5000,
    });
  });

  it('accepts endpoints given as one comma-separated string, as etcdctl takes them', () => {
    const r = validateCluster({ name: 'a', endpoints: 'http://127.0.0.1:2379,127.0.0.1:22379' });
    assert.deepStrictEqual(r.cluster?.endpoints, ['http://127.0.0.1:2379', 'http://127.0.0.1:22379']);
  });

  it('names the cluster and the field in every problem', () => {
    const r = validateCluster({ name: 'prod', endpoints: ['http://10.0.0.1:2379'], tls: { certFile: '/c.crt' }, timeoutMs: 5 });
    assert.strictEqual(r.cluster, undefined);
    assert.deepStrictEqual(r.problems, [
      'Cluster "prod": give both tls.certFile and tls.keyFile, or neither.',
      'Cluster "prod": TLS files are set but an endpoint uses http://; use https:// endpoints.',
      'Cluster "prod": "timeoutMs" must be a number of milliseconds between 100 and 600000.',
    ]);
  });

  it('reports a missing name and endpoints by position', () => {
    const r = validateClusters([{ endpoints: [] }, 'x']);
    assert.deepStrictEqual(r.clusters, []);
    assert.deepStrictEqual(r.problems, [
      'Cluster #1 has no "name".',
      'Cluster #1 has no "endpoints" (a list of client URLs such as https://10.0.0.11:2379).',
      'Cluster #2 is not an object with "name" and "endpoints".',
    ]);
  });

  it('keeps the first of two clusters with the same name and says so', () => {
    const r = validateClusters([
      { name: 'Prod', endpoints: ['a:1'] },
      { name: 'prod', endpoints: ['b:2'] },
    ]);
    assert.deepStrictEqual(r.clusters.map((c) => c.endpoints[0]), ['http://a:1']);
    assert.match(r.problems[0], /configured twice/);
  });

  it('refuses a user name with a colon (etcdctl would split it as user:password)', () => {
    const r = validateCluster({ name: 'a', endpoints: ['x:1'], username: 'root:secret' });
    assert.match(r.problems[0], /without ":"/);
  });

  it('treats a non-list setting as one problem', () => {
    assert.deepStrictEqual(validateClusters({ name: 'x' }).problems, ['The clusters setting must be a list of cluster objects.']);
    assert.deepStrictEqual(validateClusters(undefined), { clusters: [], problems: [] });
  });
});
