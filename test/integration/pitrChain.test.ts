/**
 * The follower after an outage longer than etcd's history: etcd has compacted past the revision
 * the change log needs, so the follower takes a new full snapshot (a whole `backup run`) and
 * starts a new chain rather than leave a hole. Revisions in the hole are refused by name; both
 * chains materialize.
 */
import assert from 'assert';
import { ChildProcess, execFile, spawn } from 'child_process';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { fetchPointInTime } from '../../src/cli/backupFollow';
import { listLocal } from '../../src/core/backup/catalog';
import { loadPlan } from '../../src/core/backup/plan';
import { runBackup } from '../../src/core/backup/run';
import { EtcdConnection } from '../../src/core/etcd';
import { PlanSegmentStore } from '../../src/core/pitr/planStores';
import { LocalSegmentStore } from '../../src/core/pitr/store';
import { FOLLOWER_NODE_FLAGS } from '../../src/core/pitr/units';
import { captureOutput } from '../support/captureOutput';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';

const REPO = join(__dirname, '..', '..');

describe('point-in-time recovery: a new chain after etcd compacted past the follower', function () {
  this.timeout(300_000);
  let c: EtcdTestCluster;
  let conn: EtcdConnection;
  let dir: string;
  let plan: string;
  let child: ChildProcess | undefined;
  let log = '';

  const startFollower = (): Promise<number | null> => {
    // With the unit's node flags, as its service runs it: one process, so SIGKILL kills the follower itself.
    child = spawn(
      process.execPath,
      [...FOLLOWER_NODE_FLAGS, '--import', 'tsx', join(REPO, 'src/cli.ts'), 'backup', 'follow', '--config', plan],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    return new Promise((r) => child?.on('exit', (code) => r(code)));
  };
  const rev = async (): Promise<number> =>
    Number((await conn.client.kv.range({ key: Buffer.from([0]), count_only: true })).header.revision);
  const put = async (k: string, v: string): Promise<void> =>
    void (await conn.client.kv.put({ key: Buffer.from(k), value: Buffer.from(v) }));
  const stored = async (): Promise<number> => {
    const segs = await new LocalSegmentStore(join(dir, 'local', 'changelog')).list();
    return segs.length ? segs[segs.length - 1].last : 0;
  };
  const waitStored = async (r: number): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while ((await stored()) < r) {
      if (Date.now() > deadline) throw new Error(`revision ${r} not stored:\n${log.slice(-3000)}`);
      await new Promise((res) => setTimeout(res, 300));
    }
  };
  const fetch = async (r: number, out: string): Promise<{ code: number; error?: Error }> => {
    try {
      return await captureOutput(() => fetchPointInTime(['--config', plan, '--to-revision', String(r), '-o', out]));
    } catch (error) {
      return { code: 1, error: error as Error };
    }
  };

  before(async function () {
    c = await startCluster({ members: 1, name: 'pitr-chain' });
    conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-chain-'));
    plan = join(dir, 'plan.yaml');
    await fs.writeFile(
      plan,
      `cluster:\n  name: chain\n  endpoints: [${JSON.stringify(c.endpoints[0])}]\n` +
        `local:\n  dir: ${join(dir, 'local')}\nfollow: { enabled: true, segmentSeconds: 1 }\n`,
      { mode: 0o600 },
    );
    await put('/k/0', 'x');
    assert.ok((await runBackup(await loadPlan(plan))).ok);
  });

  after(async function () {
    child?.kill('SIGKILL');
    conn?.close();
    await c?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('takes a new full snapshot and starts a new chain; the hole is refused, both chains materialize', async function () {
    let exited = startFollower();
    for (let i = 0; i < 5; i++) await put(`/k/${i}`, `a${i}`);
    // A second follower of the same plan refuses to run (it would write overlapping segments).
    await waitStored(await rev());
    const second = await new Promise<{ code: number; err: string }>((done) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', join(REPO, 'src/cli.ts'), 'backup', 'follow', '--config', plan],
        { cwd: REPO },
        (e, _o, err) => done({ code: e ? ((e as { code?: number }).code ?? 1) : 0, err }),
      ),
    );
    assert.strictEqual(second.code, 1);
    assert.match(second.err, /Another follower of "chain" is running/);
    const oldChainEnd = await rev();
    await waitStored(oldChainEnd);
    child?.kill('SIGKILL');
    await exited;
    // The outage: changes, then a compaction past where the follower stopped.
    for (let i = 0; i < 5; i++) await put(`/k/${i}`, `b${i}`);
    await conn.client.kv.compact({ revision: await rev(), physical: true });
    const hole = oldChainEnd + 2;
    exited = startFollower();
    const deadline = Date.now() + 60_000;
    while ((await listLocal(await loadPlan(plan))).backups.length < 2) {
      if (Date.now() > deadline) throw new Error(`no new full snapshot:\n${log}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    for (let i = 0; i < 5; i++) await put(`/k/${i}`, `c${i}`);
    const end = await rev();
    await waitStored(end);
    child?.kill('SIGTERM');
    assert.strictEqual(await exited, 0, log);
    assert.match(log, /compacted its history up to revision \d+; the change log needs revision \d+/);
    assert.match(log, /New chain after the full snapshot/);

    const out = (n: string): string => join(dir, n);
    const refused = await fetch(hole, out('hole.db'));
    assert.ok(refused.error, 'a revision in the hole is refused');
    assert.match(refused.error.message, /no segment for revisions/);
    await assert.rejects(fs.lstat(out('hole.db')));
    assert.strictEqual((await fetch(oldChainEnd, out('old.db'))).code, 0, 'the old chain still materializes');
    const latest = await fetch(end, out('new.db'));
    assert.strictEqual(latest.code, 0, latest.error?.message);

    // Pruned with their chain: once the old chain's backup is gone, its segments go too.
    const p = await loadPlan(plan);
    const [newest, oldest] = (await listLocal(p)).backups;
    const segments = new PlanSegmentStore(p);
    assert.deepStrictEqual(await segments.prune(), [], "nothing goes while the old chain's backup is kept");
    await fs.rm(oldest.file);
    await fs.rm(oldest.sidecarFile);
    const gone = await segments.prune();
    const left = await segments.list();
    assert.ok(gone.length > 0, "the old chain's segments are pruned");
    assert.ok(
      left.length > 0 && left.every((r) => r.last > (newest.revision as number)),
      `the new chain's segments stay: ${left.map((r) => r.name).join(', ')}`,
    );
  });
});
