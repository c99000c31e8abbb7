import * as assert from 'assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EtcdBackupError } from '../../src/core/errors';
import { envToFlags, promoteWhenCaughtUp } from '../../src/core/restore/replace';
import { membersOnThisMachine, proposeFromSnapshot, readSidecar, sidecarPaths, suggestDataDirs } from '../../src/core/restore/sources';

describe('restore sources and member replacement helpers (core/restore)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-sources-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('looks for the sidecar beside the snapshot', () => {
    assert.deepStrictEqual(sidecarPaths('/s/20260124_101500_snapshot.db'), ['/s/20260124_101500_snapshot.json', '/s/20260124_101500_snapshot.db.json']);
    assert.deepStrictEqual(sidecarPaths('/s/raw'), ['/s/raw.json']);
  });

  it("proposes the sidecar's voting members, learners left out and named", async () => {
    const snap = join(root, '20260124_101500_snapshot.db');
    writeFileSync(snap, 'x');
    writeFileSync(
      join(root, '20260124_101500_snapshot.json'),
      JSON.stringify({
        clusterId: 'cdf818194e3a8c32',
        revision: 42,
        members: [
          { id: '8e9e05c52164694d', name: 'n1', peerURLs: ['https://10.0.0.11:2380'], clientURLs: ['https://10.0.0.11:2379'], isLearner: false },
          { id: '91bc3c398fb3c146', name: 'n2', peerURLs: ['https://10.0.0.12:2380'], clientURLs: ['https://10.0.0.12:2379'] },
          { id: 'fd422379fda50e48', name: 'l1', peerURLs: ['https://10.0.0.13:2380'], isLearner: true },
        ],
      }),
    );
    const side = await readSidecar(snap);
    assert.strictEqual(side?.revision, 42);
    assert.strictEqual(side?.members.length, 3);
    const p = await proposeFromSnapshot(snap);
    assert.strictEqual(p.source, 'sidecar');
    assert.strictEqual(p.from, join(root, '20260124_101500_snapshot.json'));
    assert.deepStrictEqual(p.members.map((m) => m.name), ['n1', 'n2']);
    assert.deepStrictEqual(p.learnersLeftOut, ['l1']);
  });

  it('falls back to the members stored in the snapshot, then to none', async () => {
    const snap = join(root, 'other.db');
    writeFileSync(snap, 'x');
    writeFileSync(join(root, 'other.json'), '{ not json');
    const fromReader = await proposeFromSnapshot(snap, async () => [{ id: 'a', name: 'x1', peerURLs: ['http://127.0.0.1:2380'] }]);
    assert.strictEqual(fromReader.source, 'snapshot');
    assert.deepStrictEqual(fromReader.members.map((m) => m.name), ['x1']);
    const failing = await proposeFromSnapshot(snap, async () => {
      throw new Error('unreadable');
    });
    assert.deepStrictEqual(failing, { members: [], source: 'manual', learnersLeftOut: [] });
  });

  it('recognises the member whose peer URL is this machine', () => {
    const addrs = new Set(['10.0.0.12', 'cp-2', 'fd00::2']);
    const members = [
      { name: 'a', peerURLs: ['https://10.0.0.11:2380'] },
      { name: 'b', peerURLs: ['https://10.0.0.12:2380'] },
      { name: 'c', peerURLs: ['https://CP-2:2380'] },
      { name: 'd', peerURLs: ['https://[fd00::2]:2380'] },
      { name: 'e', peerURLs: ['not a url'] },
    ];
    assert.deepStrictEqual(membersOnThisMachine(members, addrs), ['b', 'c', 'd']);
    assert.deepStrictEqual(membersOnThisMachine([{ name: 'l', peerURLs: ['http://127.0.0.1:2380'] }]), ['l'], 'loopback is this machine');
  });

  it('suggests <dir>-from-backup beside the current data dir, dated when taken', async () => {
    const cur = join(root, 'etcd');
    mkdirSync(join(cur, 'member'), { recursive: true });
    assert.deepStrictEqual(await suggestDataDirs(cur), { oldDataDir: cur, dataDir: `${cur}-from-backup` });
    mkdirSync(join(`${cur}-from-backup`, 'member'), { recursive: true });
    const s = await suggestDataDirs(cur, new Date(Date.UTC(2026, 0, 24)));
    assert.strictEqual(s.dataDir, `${cur}-from-backup-20260124`);
    assert.strictEqual((await suggestDataDirs(join(root, 'absent'))).oldDataDir, undefined);
  });

  it('turns ETCD_* settings into flags', () => {
    assert.deepStrictEqual(envToFlags({ ETCD_NAME: 'n', ETCD_INITIAL_CLUSTER: 'n=http://a:2380', ETCD_INITIAL_CLUSTER_STATE: 'existing', ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://a:2380' }), [
      '--name=n',
      '--initial-cluster=n=http://a:2380',
      '--initial-cluster-state=existing',
      '--initial-advertise-peer-urls=http://a:2380',
    ]);
  });

  it('promotes a learner once it has caught up, backing off while etcd says it has not', async () => {
    const waits: number[] = [];
    let calls = 0;
    let last = Date.now();
    const conn = {
      memberPromote: async (id: string) => {
        calls++;
        const now = Date.now();
        if (calls > 1) waits.push(now - last);
        last = now;
        if (calls < 4) throw new EtcdBackupError('conflict', `Learner ${id} has not caught up with the leader yet (etcd: "can only promote a learner member which is in sync with leader").`);
        return [{ id, name: 'l', peerURLs: [], clientURLs: [], isLearner: false }];
      },
    };
    const r = await promoteWhenCaughtUp(conn, 'abc', { initialDelayMs: 40, maxDelayMs: 100, deadlineMs: 5000 });
    assert.strictEqual(r.attempts, 4);
    assert.ok(waits[0] >= 35 && waits[1] >= 75 && waits[2] >= 95, `backoff 40, 80, 100 (capped): ${waits.join(', ')}`);
  });

  it('gives up at the deadline, and at once on an error that waiting cannot fix', async () => {
    const notYet = { memberPromote: async () => Promise.reject(new EtcdBackupError('conflict', 'Learner x has not caught up with the leader yet.')) };
    await assert.rejects(promoteWhenCaughtUp(notYet, 'x', { initialDelayMs: 20, deadlineMs: 150 }), (e: Error & { kind?: string }) => {
      assert.strictEqual(e.kind, 'timeout');
      assert.match(e.message, /^Learner x had not caught up after \d+ s \(\d+ attempts\): check that its etcd runs with ETCD_INITIAL_CLUSTER_STATE=existing/);
      return true;
    });
    let calls = 0;
    const notLearner = {
      memberPromote: async () => {
        calls++;
        throw new EtcdBackupError('invalidInput', 'Member x is not a learner: only learners can be promoted.');
      },
    };
    await assert.rejects(promoteWhenCaughtUp(notLearner, 'x', { initialDelayMs: 20 }), /is not a learner/);
    assert.strictEqual(calls, 1);
  });
});
