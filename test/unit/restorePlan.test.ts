import * as assert from 'assert';
import {
  checkMemberFlags,
  checkPeerUrl,
  formatInitialCluster,
  memberFlags,
  newClusterToken,
  parseInitialCluster,
  proposeMembers,
  validatePlan,
} from '../../src/core/restore/plan';

const three = [
  { name: 'n1', peerURLs: ['https://10.0.0.11:2380'] },
  { name: 'n2', peerURLs: ['https://10.0.0.12:2380'] },
  { name: 'n3', peerURLs: ['https://10.0.0.13:2380'] },
];
const ok = {
  name: 'n2',
  initialCluster: 'n1=https://10.0.0.11:2380,n2=https://10.0.0.12:2380,n3=https://10.0.0.13:2380',
  initialAdvertisePeerUrls: 'https://10.0.0.12:2380',
  initialClusterToken: 'etcd-restore-20260124-a1b2c3',
};

describe('restore plan (core/restore/plan)', () => {
  it('makes a new token with the date and random hex', () => {
    assert.strictEqual(newClusterToken(new Date(Date.UTC(2026, 0, 4, 23, 0)), 'abcdef'), 'etcd-restore-20260104-abcdef');
    assert.match(newClusterToken(), /^etcd-restore-\d{8}-[0-9a-f]{6}$/);
    assert.notStrictEqual(newClusterToken(), newClusterToken(), 'two tokens differ');
  });

  it('formats and parses --initial-cluster, a name with two URLs appearing twice', () => {
    const members = [{ name: 'a', peerURLs: ['https://1.1.1.1:2380', 'https://[fd00::1]:2380'] }, { name: 'b', peerURLs: ['http://b.example:2380'] }];
    const text = formatInitialCluster(members);
    assert.strictEqual(text, 'a=https://1.1.1.1:2380,a=https://[fd00::1]:2380,b=http://b.example:2380');
    assert.deepStrictEqual(parseInitialCluster(text), { members, problems: [] });
    assert.deepStrictEqual(parseInitialCluster('').problems, ['--initial-cluster is empty: give every member as name=peerURL, separated by commas, e.g. n1=https://10.0.0.11:2380,n2=https://10.0.0.12:2380.']);
    assert.deepStrictEqual(parseInitialCluster('n1').problems, ['"n1" in --initial-cluster is not name=peerURL (e.g. n1=https://10.0.0.11:2380).']);
  });

  it('checks peer URLs as etcd does', () => {
    assert.deepStrictEqual(checkPeerUrl('https://10.0.0.11:2380'), { url: 'https://10.0.0.11:2380' });
    assert.deepStrictEqual(checkPeerUrl(' HTTP://Node-1:2380/ '), { url: 'http://node-1:2380' });
    assert.deepStrictEqual(checkPeerUrl('https://h:443'), { url: 'https://h:443' });
    assert.strictEqual(checkPeerUrl('10.0.0.11:2380').problem, '"10.0.0.11:2380" must start with http:// or https://');
    assert.strictEqual(checkPeerUrl('https://10.0.0.11').problem, '"https://10.0.0.11" has no port (etcd needs host:port, e.g. https://10.0.0.11:2380)');
    assert.strictEqual(checkPeerUrl('https://10.0.0.11:2380/x').problem, '"https://10.0.0.11:2380/x" must not have a path, query or fragment (etcd: "URL must not contain a path")');
    assert.strictEqual(checkPeerUrl('unix://x').problem, '"unix://x" must start with http:// or https://');
    assert.strictEqual(checkPeerUrl('not a url').problem, '"not a url" must start with http:// or https://');
    assert.strictEqual(checkPeerUrl('http://a b:2380').problem, '"http://a b:2380" is not a URL (give e.g. https://10.0.0.11:2380)');
    assert.strictEqual(checkPeerUrl('').problem, 'an empty peer URL');
  });

  it('accepts a valid plan', () => {
    assert.deepStrictEqual(validatePlan({ members: three, initialClusterToken: 'etcd-restore-20260124-a1b2c3' }), []);
  });

  it('refuses each bad plan with its own sentence', () => {
    const token = 't1';
    assert.deepStrictEqual(validatePlan({ members: [], initialClusterToken: token }), ['The plan has no member: the restored cluster needs at least one (name and peer URL).']);
    assert.deepStrictEqual(validatePlan({ members: [three[0], { name: 'n1', peerURLs: ['https://10.0.0.12:2380'] }], initialClusterToken: token }), [
      'The member name "n1" is used 2 times: every member needs its own name.',
    ]);
    assert.deepStrictEqual(validatePlan({ members: [three[0], { name: '', peerURLs: ['https://10.0.0.12:2380'] }], initialClusterToken: token }), [
      'Member number 2 (https://10.0.0.12:2380) has no name: give it the --name it runs with (members added but never started have none in the snapshot).',
    ]);
    assert.deepStrictEqual(validatePlan({ members: [{ name: 'n1', peerURLs: [] }], initialClusterToken: token }), [
      'Member "n1" has no peer URL: give the URL it advertises to its peers, e.g. https://10.0.0.11:2380.',
    ]);
    assert.deepStrictEqual(validatePlan({ members: [{ name: 'n1', peerURLs: ['https://10.0.0.11'] }], initialClusterToken: token }), [
      'Peer URL of member "n1": "https://10.0.0.11" has no port (etcd needs host:port, e.g. https://10.0.0.11:2380).',
    ]);
    assert.deepStrictEqual(validatePlan({ members: [three[0], { name: 'n2', peerURLs: ['https://10.0.0.11:2380'] }], initialClusterToken: token }), [
      'Peer URL https://10.0.0.11:2380 is given to both "n1" and "n2": each member needs its own.',
    ]);
    assert.deepStrictEqual(validatePlan({ members: [{ name: 'a,b', peerURLs: ['https://10.0.0.11:2380'] }], initialClusterToken: token }), [
      'Member name "a,b" contains "," "=" control characters or surrounding spaces: use letters, digits, "-", "_" and ".".',
    ]);
    assert.deepStrictEqual(validatePlan({ members: three, initialClusterToken: '' }), [
      'The --initial-cluster-token is empty: give a new token, e.g. etcd-restore-20260124-a1b2c3 (every member of the restored cluster gets the same one).',
    ]);
    assert.deepStrictEqual(validatePlan({ members: three, initialClusterToken: 'a b' }), [
      'The --initial-cluster-token "a b" contains spaces, commas, "=" or control characters: use letters, digits, "-", "_" and ".".',
    ]);
  });

  it("gives each member its flags: the whole cluster, its own URLs, the shared token", () => {
    const plan = { members: three, initialClusterToken: 'tok' };
    assert.deepStrictEqual(memberFlags(plan, 'n3'), {
      name: 'n3',
      initialCluster: 'n1=https://10.0.0.11:2380,n2=https://10.0.0.12:2380,n3=https://10.0.0.13:2380',
      initialAdvertisePeerUrls: 'https://10.0.0.13:2380',
      initialClusterToken: 'tok',
    });
    assert.throws(() => memberFlags(plan, 'n9'), /member name not in --initial-cluster/);
    assert.deepStrictEqual(checkMemberFlags(memberFlags(plan, 'n1')), []);
  });

  it('accepts a member restore whose flags agree', () => {
    assert.deepStrictEqual(checkMemberFlags(ok), []);
    // Same URL written differently (trailing slash, case) is the same URL.
    assert.deepStrictEqual(checkMemberFlags({ ...ok, initialAdvertisePeerUrls: 'HTTPS://10.0.0.12:2380/' }), []);
  });

  it('refuses a member name not in --initial-cluster, as etcd does', () => {
    assert.deepStrictEqual(checkMemberFlags({ ...ok, name: 'n4' }), [
      'member name not in --initial-cluster: "n4" is not one of "n1", "n2", "n3". Use this member\'s name exactly as it appears there, or add it to --initial-cluster.',
    ]);
  });

  it('refuses URLs in --initial-cluster that differ from --initial-advertise-peer-urls', () => {
    assert.deepStrictEqual(checkMemberFlags({ ...ok, initialAdvertisePeerUrls: 'https://10.0.0.99:2380' }), [
      '--initial-cluster gives "n2" the peer URL(s) https://10.0.0.12:2380 but --initial-advertise-peer-urls is https://10.0.0.99:2380: they must be the same (etcd refuses the restore otherwise).',
    ]);
  });

  it('refuses an empty name, empty advertise URLs, a bad URL and a bad token', () => {
    assert.deepStrictEqual(checkMemberFlags({ ...ok, name: '' }), ['--name is empty: give the name of the member restored here (its ETCD_NAME).']);
    assert.deepStrictEqual(checkMemberFlags({ ...ok, initialAdvertisePeerUrls: '' }), [
      "--initial-advertise-peer-urls is empty: give this member's peer URL, e.g. https://10.0.0.11:2380.",
    ]);
    assert.deepStrictEqual(checkMemberFlags({ ...ok, initialAdvertisePeerUrls: '10.0.0.12:2380' }), ['--initial-advertise-peer-urls: "10.0.0.12:2380" must start with http:// or https://.']);
    assert.deepStrictEqual(checkMemberFlags({ ...ok, initialCluster: 'n1=https://10.0.0.11:2380,n2=https://10.0.0.12:2380,n2=x' }), [
      'Peer URL of member "n2": "x" must start with http:// or https://.',
    ]);
    assert.deepStrictEqual(checkMemberFlags({ ...ok, initialClusterToken: '' }), [
      'The --initial-cluster-token is empty: give a new token, e.g. etcd-restore-20260124-a1b2c3 (every member of the restored cluster gets the same one).',
    ]);
  });

  it('proposes the voting members from what the snapshot knows, names kept (empty ones asked for)', () => {
    const proposed = proposeMembers([
      { id: '8e9e05c52164694d', name: 'n1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379'] },
      { id: 'aa', name: '', peerURLs: ['http://127.0.0.2:2380'] },
      { id: 'bb', name: 'learner', peerURLs: ['http://127.0.0.3:2380'], isLearner: true },
    ]);
    assert.deepStrictEqual(proposed, [
      { name: 'n1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379'], oldId: '8e9e05c52164694d' },
      { name: '', peerURLs: ['http://127.0.0.2:2380'], clientURLs: undefined, oldId: 'aa' },
    ]);
  });
});
