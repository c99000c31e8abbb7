import * as assert from 'assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EtcdBackupError } from '../../src/core/errors';
import { closePlanFile, createPlanFile, findOpenPlan, flagsFromPlanFile, markMemberDone, otherOpenPlans, readPlanFile, StoredRestorePlan } from '../../src/core/restore/planFile';

describe('stored restore plan (core/restore/planFile)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-planfile-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const sha = 'ab'.repeat(32);
  const plan = (token: string): StoredRestorePlan => ({
    version: 1,
    snapshotPath: join(root, 'snap.db'),
    snapshotSha256: sha,
    createdAt: '2026-01-24T15:30:00.000Z',
    initialClusterToken: token,
    members: ['m1', 'm2', 'm3'].map((n, i) => ({ name: n, peerURLs: [`https://10.0.0.1${i}:2380`] })),
    source: 'snapshot',
    done: {},
  });

  it('is stored 0600 beside the snapshot, never replaced by a second plan, found again, and closed when every member is done', async () => {
    const snap = join(root, 'snap.db');
    const first = await createPlanFile(snap, { ...plan('tok-1'), bumpRevision: 1_000_000_000, markCompacted: true });
    assert.strictEqual(statSync(first.file).mode & 0o777, 0o600);
    assert.ok(first.file.startsWith(root), first.file);
    // A second run that made its own token gets the stored one back.
    const second = await createPlanFile(snap, plan('tok-2'));
    assert.strictEqual(second.plan.initialClusterToken, 'tok-1');
    const found = await findOpenPlan(snap, sha);
    assert.strictEqual(found?.plan.initialClusterToken, 'tok-1');
    // Every member is restored with the bump of the first.
    assert.strictEqual(found.plan.bumpRevision, 1_000_000_000);
    assert.strictEqual(found.plan.markCompacted, true);
    let p = found.plan;
    p = await markMemberDone(found.file, p, 'm1', { dataDir: '/d1', at: 'now', by: 'root@a' });
    assert.deepStrictEqual((await readPlanFile(found.file)).done.m1, { dataDir: '/d1', oldDataDir: undefined, movedAside: undefined, at: 'now', by: 'root@a' });
    p = await markMemberDone(found.file, p, 'm2', { dataDir: '/d2', at: 'now' });
    await markMemberDone(found.file, p, 'm3', { dataDir: '/d3', at: 'now' });
    assert.strictEqual(await findOpenPlan(snap, sha), undefined, 'a finished plan is not reused');
    assert.ok(readdirSync(root).some((n) => /\.restore-plan-abababababab\.finished-.*\.json$/.test(n)), readdirSync(root).join(' '));
    assert.ok(!readdirSync(root).some((n) => n.includes('.tmp')), 'no temp file left');
  });

  it('refuses a plan made for another snapshot, and a file that is not a plan', async () => {
    const f = (await createPlanFile(join(root, 'snap.db'), plan('tok-1'))).file;
    await assert.rejects(readPlanFile(f, 'cd'.repeat(32)), (e: EtcdBackupError) => e.kind === 'conflict' && /is for another snapshot/.test(e.message));
    // The same file name with other content: that plan is not found for it, but named.
    const otherSha = 'cd'.repeat(32);
    assert.strictEqual(await findOpenPlan(join(root, 'snap.db'), otherSha), undefined);
    assert.deepStrictEqual(await otherOpenPlans(join(root, 'snap.db'), otherSha), [f]);
    assert.deepStrictEqual(await otherOpenPlans(join(root, 'snap.db'), sha), []);
    const bad = join(root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...plan('tok'), initialClusterToken: 'a b' }));
    await assert.rejects(readPlanFile(bad), /is not a restore plan this tool wrote/);
    await assert.rejects(readPlanFile(root), /directory/);
    // What a command line's --plan gives one member: the stored token and --initial-cluster.
    assert.deepStrictEqual(await flagsFromPlanFile(f, sha, 'm2'), {
      name: 'm2',
      initialCluster: 'm1=https://10.0.0.10:2380,m2=https://10.0.0.11:2380,m3=https://10.0.0.12:2380',
      initialAdvertisePeerUrls: 'https://10.0.0.11:2380',
      initialClusterToken: 'tok-1',
    });
    await assert.rejects(flagsFromPlanFile(f, sha, 'm9'), /has no member "m9"/);
    await assert.rejects(flagsFromPlanFile(f, 'cd'.repeat(32), 'm2'), /is for another snapshot/);
    const closed = await closePlanFile(f, 'abandoned');
    assert.match(closed, /\.abandoned-\d{8}-\d{6}-p\d+\.json$/);
    assert.strictEqual(JSON.parse(readFileSync(closed, 'utf8')).initialClusterToken, 'tok-1');
  });
});
