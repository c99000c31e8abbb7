/**
 * The pure parts of Compact and Defragment (src/core/space.ts): which members are
 * defragmented in which order, when the reclaim refuses, alarm names as etcdctl prints them,
 * and the NOSPACE hint in the cluster summary.
 */
import * as assert from 'assert';
import { assembleOverview, clusterSummary, EndpointProbe } from '../../src/core/clusterStatus';
import { alarmName, planReclaim, sizeLines } from '../../src/core/space';
import type { EndpointStatus, MemberInfo } from '../../src/core/types';
import { summaryOf, wordOverview } from '../../src/hints';

const members: MemberInfo[] = [
  { id: 'a1', name: 'etcd-1', peerURLs: ['https://10.0.0.11:2380'], clientURLs: ['https://10.0.0.11:2379'], isLearner: false },
  { id: 'b2', name: 'etcd-2', peerURLs: ['https://10.0.0.12:2380'], clientURLs: ['https://10.0.0.12:2379'], isLearner: false },
  { id: 'c3', name: 'etcd-3', peerURLs: ['https://10.0.0.13:2380'], clientURLs: ['https://10.0.0.13:2379'], isLearner: false },
];

function probe(m: MemberInfo, over: Partial<EndpointStatus> = {}): EndpointProbe {
  const endpoint = m.clientURLs[0];
  const status: EndpointStatus = {
    endpoint,
    memberId: m.id,
    leaderId: 'a1',
    version: '3.4.23',
    dbSize: 2_000_000,
    dbSizeInUse: 1_000_000,
    raftTerm: '3',
    raftIndex: '10',
    raftAppliedIndex: '10',
    isLearner: false,
    errors: [],
    ...over,
  };
  return { endpoint, configured: true, status, health: { endpoint, healthy: true, tookMs: 1 } };
}

function down(m: MemberInfo): EndpointProbe {
  return { endpoint: m.clientURLs[0], configured: true, statusError: { kind: 'unreachable', message: 'Cannot connect.', reason: 'connection refused' } };
}

describe('Compact and Defragment: planning', () => {
  it('defragments followers first and the leader last', () => {
    const o = assembleOverview({ cluster: 'p', members, probes: members.map((m) => probe(m)), fetchedAt: 0, tookMs: 1 });
    const plan = planReclaim(o);
    assert.strictEqual(plan.refusal, undefined);
    assert.deepStrictEqual(plan.targets.map((m) => m.id), ['b2', 'c3', 'a1']);
    assert.deepStrictEqual(plan.skipped, []);
  });

  it('skips a member that does not answer, and still goes ahead with quorum', () => {
    const o = assembleOverview({ cluster: 'p', members, probes: [probe(members[0]), down(members[1]), probe(members[2])], fetchedAt: 0, tookMs: 1 });
    const plan = planReclaim(o);
    assert.strictEqual(plan.refusal, undefined);
    assert.deepStrictEqual(plan.targets.map((m) => m.id), ['c3', 'a1']);
    assert.deepStrictEqual(plan.skipped.map((m) => m.id), ['b2']);
  });

  it('members in NOSPACE (unhealthy, yet answering) count for quorum', () => {
    const errors = ['memberID:a1 alarm:NOSPACE'];
    const o = assembleOverview({ cluster: 'p', members, probes: members.map((m) => probe(m, { errors })), fetchedAt: 0, tookMs: 1 });
    assert.ok(o.members.every((m) => !m.healthy));
    assert.strictEqual(planReclaim(o).refusal, undefined);
    assert.strictEqual(planReclaim(o).targets.length, 3);
  });

  it('refuses without quorum, and when nothing answers, in one sentence', () => {
    const lost = assembleOverview({ cluster: 'p', members, probes: [probe(members[0], { leaderId: '0' }), down(members[1]), down(members[2])], fetchedAt: 0, tookMs: 1 });
    assert.match(planReclaim(lost).refusal ?? '', /^Cluster "p" has no quorum \(1 of 3 voting members answer, 2 needed\)/);
    const none = assembleOverview({ cluster: 'p', probes: [down(members[0])], fetchedAt: 0, tookMs: 1 });
    assert.match(planReclaim(none).refusal ?? '', /^Cannot reclaim space: Cannot connect\./);
  });

  it('names alarms as etcdctl does', () => {
    assert.strictEqual(alarmName('Nospace'), 'NOSPACE');
    assert.strictEqual(alarmName('Corrupt'), 'CORRUPT');
    assert.strictEqual(alarmName(1), 'NOSPACE');
    assert.strictEqual(alarmName(2), 'CORRUPT');
  });

  it('the cluster summary and member error say the way out of NOSPACE', () => {
    const o = assembleOverview({ cluster: 'p', members, probes: members.map((m) => probe(m, { errors: ['memberID:a1 alarm:NOSPACE '] })), fetchedAt: 0, tookMs: 1 });
    assert.strictEqual(clusterSummary(o), '0/3 healthy · NOSPACE alarm: compact and defragment · leader etcd-1 · v3.4.23 · 2.0 MB');
    assert.strictEqual(summaryOf(o), '0/3 healthy · NOSPACE alarm: run Compact and Defragment… · leader etcd-1 · v3.4.23 · 2.0 MB');
    assert.deepStrictEqual(o.members[0].error?.hint, { kind: 'reclaimSpace' });
    assert.doesNotMatch(o.members[0].error?.message ?? '', /Compact and Defragment/, 'core names no command title');
    assert.match(wordOverview(o).members[0].error?.message ?? '', /run "etcd: Compact and Defragment…"/);
    assert.strictEqual(o.members[0].error?.kind, 'diskFull');
  });

  it('lists sizes before and after per member', () => {
    const lines = sizeLines({
      members: [{ id: 'a1', name: 'etcd-1', endpoint: 'x', role: 'leader', before: { dbSize: 24_000_000, dbSizeInUse: 1 }, after: { dbSize: 1_200_000, dbSizeInUse: 1 } }],
    });
    assert.deepStrictEqual(lines, ['etcd-1: 24 MB -> 1.2 MB']);
  });
});
