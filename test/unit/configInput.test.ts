import * as assert from 'assert';
import { clusterNameProblem, parseEndpointList, toSettingsEntry, validateCluster } from '../../src/core/config';

describe('cluster input (Add/Edit Cluster)', () => {
  it('reads endpoints separated by commas, spaces or lines, normalised and de-duplicated', () => {
    assert.deepStrictEqual(parseEndpointList('https://10.0.0.11:2379, https://10.0.0.12:2379\n10.0.0.13:2379 https://10.0.0.11:2379/'), {
      endpoints: ['https://10.0.0.11:2379', 'https://10.0.0.12:2379', 'http://10.0.0.13:2379'],
      problems: [],
    });
  });

  it('gives one sentence per bad endpoint, and one for none at all', () => {
    assert.deepStrictEqual(parseEndpointList('unix:///run/etcd.sock https://a:2379/v3').problems, [
      '"unix:///run/etcd.sock" uses unix; etcd client URLs are http:// or https://.',
      '"https://a:2379/v3" has a path; give only scheme, host and port.',
    ]);
    assert.deepStrictEqual(parseEndpointList('  ').problems, ['Give at least one client URL, e.g. https://10.0.0.11:2379.']);
  });

  it('checks a new name: empty, bad characters, taken (case-insensitive), but an edit may keep its own', () => {
    assert.match(clusterNameProblem('', []) ?? '', /Give the cluster a name/);
    assert.match(clusterNameProblem('a/b', []) ?? '', /letters, digits, spaces/);
    assert.strictEqual(clusterNameProblem('Prod', ['prod']), 'A cluster named "Prod" already exists. Choose another name, or edit that one.');
    assert.strictEqual(clusterNameProblem('prod', ['prod', 'dev'], 'prod'), undefined);
    assert.match(clusterNameProblem('dev', ['prod', 'dev'], 'prod') ?? '', /already exists/);
    assert.strictEqual(clusterNameProblem('kubeadm cp-1', ['prod']), undefined);
  });

  it('writes only what is set to settings, and reads back the same cluster', () => {
    const c = { name: 'prod', endpoints: ['https://10.0.0.11:2379'], tls: { caFile: '/pki/ca.crt', certFile: '/pki/c.crt', keyFile: '/pki/c.key' }, username: 'root', timeoutMs: 5000 };
    const entry = toSettingsEntry(c);
    assert.deepStrictEqual(entry, { name: 'prod', endpoints: ['https://10.0.0.11:2379'], tls: { caFile: '/pki/ca.crt', certFile: '/pki/c.crt', keyFile: '/pki/c.key' }, username: 'root' });
    assert.ok(!JSON.stringify(entry).includes('password'));
    assert.deepStrictEqual(validateCluster(entry).cluster, c);
    assert.deepStrictEqual(toSettingsEntry({ name: 'a', endpoints: ['http://x:1'], tls: {}, timeoutMs: 900 }), { name: 'a', endpoints: ['http://x:1'], timeoutMs: 900 });
  });
});
