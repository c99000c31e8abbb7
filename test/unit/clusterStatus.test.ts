import * as assert from 'assert';
import {
  assembleOverview,
  clusterSummary,
  EndpointProbe,
  formatEndpointHealth,
  formatEndpointStatusTable,
  formatMemberTable,
  goDuration,
  roundedDuration,
  humanizeBytes,
  initialClusterAfterAdd,
  memberStartEnv,
  memberSummary,
  quorumAfterAdd,
  quorumAfterRemoval,
  quorumState,
  shortReason,
} from '../../src/core/clusterStatus';
import type { EndpointStatus, MemberInfo } from '../../src/core/types';

const members: MemberInfo[] = [
  { id: 'a1', name: 'etcd-1', peerURLs: ['https://10.0.0.11:2380'], clientURLs: ['https://10.0.0.11:2379'], isLearner: false },
  { id: 'b2', name: 'etcd-2', peerURLs: ['https://10.0.0.12:2380'], clientURLs: ['https://10.0.0.12:2379'], isLearner: false },
  { id: 'c3', name: 'etcd-3', peerURLs: ['https://10.0.0.13:2380'], clientURLs: ['https://10.0.0.13:2379'], isLearner: false },
];

function status(endpoint: string, memberId: string, over: Partial<EndpointStatus> = {}): EndpointStatus {
  return {
    endpoint,
    memberId,
    leaderId: 'b2',
    version: '3.4.23',
    dbSize: 1_600_000_000,
    dbSizeInUse: 1_200_000_000,
    raftTerm: '7',
    raftIndex: '1234',
    raftAppliedIndex: '1234',
    isLearner: false,
    errors: [],
    ...over,
  };
}

function healthyProbe(m: MemberInfo, over: Partial<EndpointStatus> = {}): EndpointProbe {
  const ep = m.clientURLs[0];
  return { endpoint: ep, configured: true, status: status(ep, m.id, over), health: { endpoint: ep, healthy: true, tookMs: 3 } };
}

describe('cluster overview model', () => {
  it('summarises a healthy cluster in one line: healthy count, leader, version, leader db size', () => {
    const o = assembleOverview({ cluster: 'prod', members, probes: members.map((m) => healthyProbe(m)), fetchedAt: 0, tookMs: 5 });
    assert.strictEqual(clusterSummary(o), '3/3 healthy · leader etcd-2 · v3.4.23 · 1.6 GB');
    assert.deepStrictEqual(
      o.members.map((m) => [m.name, m.role, m.healthy]),
      [
        ['etcd-1', 'follower', true],
        ['etcd-2', 'leader', true],
        ['etcd-3', 'follower', true],
      ],
    );
    assert.strictEqual(memberSummary(o.members[1]), 'leader · healthy');
  });

  it('shows a dead member as unreachable with the error of its endpoint, the others still report', () => {
    const dead: EndpointProbe = {
      endpoint: 'https://10.0.0.13:2379',
      configured: true,
      statusError: { kind: 'unreachable', message: 'Cannot connect to https://10.0.0.13:2379.', reason: 'connection refused' },
    };
    const o = assembleOverview({ cluster: 'prod', members, probes: [healthyProbe(members[0]), healthyProbe(members[1]), dead], fetchedAt: 0, tookMs: 5 });
    assert.strictEqual(clusterSummary(o), '2/3 healthy · leader etcd-2 · v3.4.23 · 1.6 GB');
    const m3 = o.members[2];
    assert.strictEqual(m3.reachable, false);
    assert.strictEqual(m3.healthy, false);
    assert.strictEqual(m3.error?.reason, 'connection refused');
    // Nobody reported its role: "unknown", not "follower".
    assert.strictEqual(m3.role, 'unknown');
    assert.strictEqual(memberSummary(m3), 'unknown · unreachable: connection refused');
    assert.deepStrictEqual(o.endpointErrors.map((e) => e.endpoint), ['https://10.0.0.13:2379']);
  });

  it('a dead member the others still call leader keeps "leader"; a voter nobody answered for is "unknown"', () => {
    const probes = [healthyProbe(members[0], { leaderId: 'c3' })];
    const o = assembleOverview({ cluster: 'p', members, probes, fetchedAt: 0, tookMs: 1 });
    assert.deepStrictEqual(
      o.members.map((m) => m.role),
      ['follower', 'unknown', 'leader'],
    );
  });

  it('rounds durations for people: "262 ms", "1.3 s", never "261.803555ms"', () => {
    assert.strictEqual(roundedDuration(261.803555), '262 ms');
    assert.strictEqual(roundedDuration(1290), '1.3 s');
    assert.strictEqual(roundedDuration(0.42), '0.4 ms');
    assert.strictEqual(roundedDuration(999.7), '1 s');
    assert.strictEqual(roundedDuration(5000), '5 s');
    assert.strictEqual(roundedDuration(12_400), '12 s');
  });

  it('takes the leader from the answer with the highest raft term', () => {
    const probes = [healthyProbe(members[0], { leaderId: 'a1', raftTerm: '3' }), healthyProbe(members[1], { leaderId: 'c3', raftTerm: '9' })];
    const o = assembleOverview({ cluster: 'p', members, probes, fetchedAt: 0, tookMs: 1 });
    assert.strictEqual(o.leaderId, 'c3');
    assert.strictEqual(o.members[2].role, 'leader');
  });

  it('says "no leader" when no member knows one, and uses the largest db then', () => {
    const probes = [healthyProbe(members[0], { leaderId: '0', dbSize: 20480 }), healthyProbe(members[1], { leaderId: '0', dbSize: 4096 })];
    probes.forEach((p) => (p.health = { endpoint: p.endpoint, healthy: false, tookMs: 1, error: 'no leader', errorKind: 'noQuorum' }));
    const o = assembleOverview({ cluster: 'p', members: members.slice(0, 2), probes, fetchedAt: 0, tookMs: 1 });
    assert.strictEqual(clusterSummary(o), '0/2 healthy · no leader · v3.4.23 · 20 kB');
    assert.strictEqual(memberSummary(o.members[0]), 'follower · unhealthy: no leader');
  });

  it('lists mixed versions during an upgrade, lowest first', () => {
    const probes = [healthyProbe(members[0], { version: '3.5.9' }), healthyProbe(members[1], { version: '3.4.23' })];
    const o = assembleOverview({ cluster: 'p', members: members.slice(0, 2), probes, fetchedAt: 0, tookMs: 1 });
    assert.match(clusterSummary(o), /· v3\.4\.23\/v3\.5\.9 ·/);
  });

  it('marks a learner added but never started as "not started", with what to do', () => {
    const learner: MemberInfo = { id: 'd4', name: '', peerURLs: ['https://10.0.0.14:2380'], clientURLs: [], isLearner: true };
    const o = assembleOverview({ cluster: 'p', members: [...members, learner], probes: members.map((m) => healthyProbe(m)), fetchedAt: 0, tookMs: 1 });
    const m = o.members[3];
    assert.strictEqual(m.role, 'learner');
    assert.strictEqual(m.started, false);
    assert.strictEqual(memberSummary(m), 'learner · not started');
    assert.match(m.error?.message ?? '', /initial-cluster-state existing/);
    assert.strictEqual(clusterSummary(o), '3/4 healthy · leader etcd-2 · v3.4.23 · 1.6 GB');
  });

  it('prefers a configured endpoint over an advertised URL answering for the same member', () => {
    const local: EndpointProbe = { endpoint: 'https://127.0.0.1:2379', configured: true, status: status('https://127.0.0.1:2379', 'a1', { raftIndex: '1' }) };
    const advertised: EndpointProbe = { endpoint: 'https://10.0.0.11:2379', configured: false, status: status('https://10.0.0.11:2379', 'a1', { raftIndex: '2' }) };
    const o = assembleOverview({ cluster: 'p', members: [members[0]], probes: [advertised, local], fetchedAt: 0, tookMs: 1 });
    assert.strictEqual(o.members[0].endpoint, 'https://127.0.0.1:2379');
    assert.strictEqual(o.members[0].raftIndex, '1');
  });

  it('an unreachable cluster carries the reason and one error per endpoint', () => {
    const probes: EndpointProbe[] = [
      { endpoint: 'https://a:2379', configured: true, statusError: { kind: 'tls', message: 'TLS handshake with https://a:2379 failed.', reason: 'TLS handshake failed' } },
      { endpoint: 'https://b:2379', configured: true, statusError: { kind: 'timeout', message: 'No answer from https://b:2379.', reason: 'timeout' } },
    ];
    const o = assembleOverview({ cluster: 'p', probes, fetchedAt: 0, tookMs: 1 });
    assert.strictEqual(o.reachable, false);
    assert.strictEqual(clusterSummary(o), 'unreachable: TLS handshake failed');
    assert.strictEqual(o.endpointErrors.length, 2);
  });

  it('a member reporting errors (a NOSPACE alarm) is not healthy', () => {
    const p = healthyProbe(members[0], { errors: ['memberID:a1 alarm:NOSPACE'] });
    const o = assembleOverview({ cluster: 'p', members: [members[0]], probes: [p], fetchedAt: 0, tookMs: 1 });
    assert.strictEqual(o.members[0].healthy, false);
    assert.strictEqual(o.members[0].error?.reason, 'NOSPACE alarm');
  });
});

describe('error labels', () => {
  it('tells a server that rejected our certificate from other TLS failures', () => {
    assert.strictEqual(shortReason('tls', '', '14 UNAVAILABLE: ... alert certificate unknown'), 'certificate unknown');
    assert.strictEqual(shortReason('tls', '', 'tlsv1 alert unknown ca'), 'certificate unknown');
    assert.strictEqual(shortReason('tls', 'self-signed certificate in certificate chain'), 'TLS handshake failed');
    assert.strictEqual(shortReason('auth'), 'auth failed');
    assert.strictEqual(shortReason('timeout'), 'timeout');
    assert.strictEqual(shortReason('unreachable', 'getaddrinfo ENOTFOUND etcd-9'), 'host not found');
    assert.strictEqual(shortReason('unreachable'), 'connection refused');
  });
});

describe('etcdctl-style formatting', () => {
  it('formats sizes as go-humanize does (SI units, half to even)', () => {
    assert.strictEqual(humanizeBytes(0), '0 B');
    assert.strictEqual(humanizeBytes(9), '9 B');
    assert.strictEqual(humanizeBytes(20480), '20 kB'); // 20.48 -> 20.5 -> "%.0f" rounds half to even
    assert.strictEqual(humanizeBytes(21504), '22 kB'); // 21.5 -> 22 (even)
    assert.strictEqual(humanizeBytes(4096), '4.1 kB');
    assert.strictEqual(humanizeBytes(1_600_000_000), '1.6 GB');
    assert.strictEqual(humanizeBytes(2_147_483_648), '2.1 GB');
    assert.strictEqual(humanizeBytes(999), '999 B');
    assert.strictEqual(humanizeBytes(1000), '1.0 kB');
  });

  it('formats durations as Go prints them', () => {
    assert.strictEqual(goDuration(2.890792), '2.890792ms');
    assert.strictEqual(goDuration(0.5), '500µs');
    assert.strictEqual(goDuration(1500), '1.5s');
  });

  it('renders the endpoint status table exactly as etcdctl 3.4.23 does', () => {
    // Captured from `ETCDCTL_API=3 etcdctl endpoint status -w table` against etcd 3.4.23.
    const expected = [
      '+------------------------+-----------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+',
      '|        ENDPOINT        |       ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |',
      '+------------------------+-----------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+',
      '| http://127.0.0.1:32379 | 628170c800dbcee |  3.4.23 |   20 kB |      true |      false |         2 |          4 |                  4 |        |',
      '+------------------------+-----------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+',
    ].join('\n');
    const s = status('http://127.0.0.1:32379', '628170c800dbcee', { leaderId: '628170c800dbcee', dbSize: 20480, raftTerm: '2', raftIndex: '4', raftAppliedIndex: '4' });
    assert.strictEqual(formatEndpointStatusTable([s]), expected);
    assert.match(formatEndpointStatusTable([s], [{ endpoint: 'http://127.0.0.1:1', error: 'connection refused' }]), /\nFailed to get the status of endpoint http:\/\/127\.0\.0\.1:1 \(connection refused\)$/);
  });

  it('renders endpoint health lines and table', () => {
    const h = [
      { endpoint: 'http://127.0.0.1:32379', healthy: true, tookMs: 1.750847 },
      { endpoint: 'http://127.0.0.1:32999', healthy: false, tookMs: 5000, error: 'context deadline exceeded' },
    ];
    assert.strictEqual(
      formatEndpointHealth(h),
      'http://127.0.0.1:32379 is healthy: successfully committed proposal: took = 1.750847ms\nhttp://127.0.0.1:32999 is unhealthy: failed to commit proposal: context deadline exceeded',
    );
    const table = formatEndpointHealth([h[0]], true).split('\n');
    assert.strictEqual(table[1], '|        ENDPOINT        | HEALTH |    TOOK    | ERROR |');
    assert.strictEqual(table[3], '| http://127.0.0.1:32379 |   true | 1.750847ms |       |');
  });

  it('renders the member table as etcdctl member list -w table', () => {
    const out = formatMemberTable([
      { id: '628170c800dbcee', name: 'n1', peerURLs: ['http://127.0.0.1:32380'], clientURLs: ['http://127.0.0.1:32379'], isLearner: false },
      { id: 'f47a796cf5a4c27e', name: '', peerURLs: ['http://127.0.0.1:40000'], clientURLs: [], isLearner: true },
    ]).split('\n');
    assert.strictEqual(out[1], '|        ID        |  STATUS   | NAME |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |');
    assert.strictEqual(out[3], '|  628170c800dbcee |   started |   n1 | http://127.0.0.1:32380 | http://127.0.0.1:32379 |      false |');
    assert.strictEqual(out[4], '| f47a796cf5a4c27e | unstarted |      | http://127.0.0.1:40000 |                        |       true |');
  });
});

describe('quorum math', () => {
  const three = [
    { id: 'a1', name: 'etcd-1' },
    { id: 'b2', name: 'etcd-2' },
    { id: 'c3', name: 'etcd-3' },
  ];

  it('quorum is a majority of voting members; learners do not vote', () => {
    assert.deepStrictEqual(quorumState(three), { voters: 3, quorum: 2, healthyVoters: 3, tolerance: 1, hasQuorum: true });
    assert.strictEqual(quorumState([...three, { id: 'd4', name: 'x', isLearner: true }]).quorum, 2);
    assert.strictEqual(quorumState([...three, { id: 'd4' }, { id: 'e5' }]).quorum, 3);
  });

  it('removing a dead member of three keeps quorum but leaves no tolerance', () => {
    const r = quorumAfterRemoval([three[0], three[1], { ...three[2], healthy: false }], 'c3');
    assert.strictEqual(r.losesQuorum, false);
    assert.deepStrictEqual([r.after.voters, r.after.quorum, r.after.healthyVoters, r.after.tolerance], [2, 2, 2, 0]);
    assert.strictEqual(r.sentence, 'Removing etcd-3 leaves 2 voting members; quorum becomes 2 (was 2 of 3). 2 of them are healthy, so the cluster will tolerate no further failure until the replacement has joined.');
  });

  it('removing a healthy member while another is down loses quorum', () => {
    const r = quorumAfterRemoval([three[0], three[1], { ...three[2], healthy: false }], 'a1');
    assert.strictEqual(r.losesQuorum, true);
    assert.match(r.sentence, /Only 1 of them is healthy: the cluster will LOSE QUORUM/);
  });

  it('removing a learner changes nothing; removing the only voter is refused in words', () => {
    const r = quorumAfterRemoval([...three, { id: 'd4', name: 'new', isLearner: true }], 'd4');
    assert.strictEqual(r.losesQuorum, false);
    assert.strictEqual(r.after.quorum, 2);
    assert.match(r.sentence, /learner/);
    const only = quorumAfterRemoval([three[0]], 'a1');
    assert.strictEqual(only.losesQuorum, true);
    assert.match(only.sentence, /only voting member/);
  });

  it('five members tolerate two failures; removing one healthy leaves tolerance 1', () => {
    const five = ['1', '2', '3', '4', '5'].map((id) => ({ id, name: `n${id}` }));
    const r = quorumAfterRemoval(five, '5');
    assert.deepStrictEqual([r.before.tolerance, r.after.voters, r.after.quorum, r.after.tolerance], [2, 4, 3, 1]);
    assert.match(r.sentence, /tolerates 1 more failure\.$/);
  });

  it('adding a voting member to a one-member cluster loses quorum until it starts; a learner does not', () => {
    const one = [{ id: 'a1', name: 'etcd-1' }];
    assert.strictEqual(quorumAfterAdd(one, false).losesQuorum, true);
    assert.strictEqual(quorumAfterAdd(one, true).losesQuorum, false);
    assert.strictEqual(quorumAfterAdd(three, false).losesQuorum, false);
    assert.match(quorumAfterAdd(three, false).sentence, /tolerate no failure/);
  });
});

describe('member add answer', () => {
  it('builds ETCD_INITIAL_CLUSTER the way etcdctl member add prints it', () => {
    const after = [...members, { id: 'd4', name: '', peerURLs: ['https://10.0.0.14:2380'], clientURLs: [], isLearner: true }];
    assert.strictEqual(
      initialClusterAfterAdd(after, 'd4', 'etcd-4'),
      'etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380,etcd-4=https://10.0.0.14:2380',
    );
    assert.deepStrictEqual(memberStartEnv(after, after[3], 'etcd-4'), {
      ETCD_NAME: 'etcd-4',
      ETCD_INITIAL_CLUSTER: 'etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380,etcd-4=https://10.0.0.14:2380',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: 'https://10.0.0.14:2380',
      ETCD_INITIAL_CLUSTER_STATE: 'existing',
    });
  });
});
