/**
 * The follower's V8 flags apply however it is started: the unit gives them in NODE_OPTIONS (one
 * process); started from a shell without them, `backup follow` starts itself again with them
 * and waits. Killing the process one started stops the follower either way: the launcher passes
 * SIGTERM on, and a launcher killed with SIGKILL makes the follower stop cleanly. A follower
 * killed with SIGKILL leaves its open segment's spool file, which the next run removes.
 */
import assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import { existsSync, promises as fs, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadPlan } from '../../src/core/backup/plan';
import { runBackup } from '../../src/core/backup/run';
import { EtcdConnection } from '../../src/core/etcd';
import { LocalSegmentStore } from '../../src/core/pitr/store';
import { FOLLOWER_NODE_FLAGS } from '../../src/core/pitr/units';
import { EtcdTestCluster, startCluster } from '../support/etcdRig';

const REPO = join(__dirname, '..', '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("point-in-time recovery: the follower's process and its node flags", function () {
  this.timeout(180_000);
  let c: EtcdTestCluster;
  let conn: EtcdConnection;
  let dir: string;
  let plan: string;
  let changelog: string;
  const procs: ChildProcess[] = [];
  const pids: number[] = [];

  const start = (flags: string[]): { child: ChildProcess; log: () => string; exited: Promise<number | null> } => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', join(REPO, 'src/cli.ts'), 'backup', 'follow', '--config', plan], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(child);
    let out = '';
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, log: () => out, exited };
  };
  const until = async (what: string, ok: () => boolean | Promise<boolean>, log: () => string): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`${what}:\n${log().slice(-3000)}`);
      await sleep(100);
    }
  };
  const rev = async (): Promise<number> =>
    Number((await conn.client.kv.range({ key: Buffer.from([0]), count_only: true })).header.revision);
  const put = async (k: string): Promise<number> =>
    Number((await conn.client.kv.put({ key: Buffer.from(k), value: Buffer.from('v') })).header.revision);
  const received = async (): Promise<number> => {
    const s = await fs.readFile(join(changelog, 'follow-status.json'), 'utf8').catch(() => '{}');
    return Number((JSON.parse(s) as { receivedRevision?: number }).receivedRevision ?? 0);
  };
  const stored = async (): Promise<number> => {
    const segs = await new LocalSegmentStore(changelog).list();
    return segs.length ? segs[segs.length - 1].last : 0;
  };
  const cmdline = (pid: number): string[] => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return [];
    }
  };
  const childrenOf = (pid: number): number[] =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

  before(async function () {
    c = await startCluster({ members: 1, name: 'pitr-launch' });
    conn = await EtcdConnection.open(c.clusterConfig(), c.secrets());
    dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-launch-'));
    plan = join(dir, 'plan.yaml');
    changelog = join(dir, 'local', 'changelog');
    // Segments roll only when the follower stops: what is stored then was in its open segment.
    await fs.writeFile(
      plan,
      `cluster:\n  name: launch\n  endpoints: [${JSON.stringify(c.endpoints[0])}]\n` +
        `local:\n  dir: ${join(dir, 'local')}\nfollow: { enabled: true, segmentSeconds: 3600 }\n`,
      { mode: 0o600 },
    );
    await put('/k/start');
    assert.ok((await runBackup(await loadPlan(plan))).ok);
  });

  after(async function () {
    for (const p of procs) p.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    conn?.close();
    await c?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('from a shell: starts itself again with the flags; SIGKILL of the launcher stops the follower cleanly', async function () {
    const f = start([]);
    await until('no watch', () => /Watching/.test(f.log()), f.log);
    const kids = childrenOf(f.child.pid as number);
    assert.strictEqual(kids.length, 1, 'one follower process under the launcher');
    pids.push(kids[0]);
    for (const flag of FOLLOWER_NODE_FLAGS) assert.ok(cmdline(kids[0]).includes(flag), `${flag} in ${cmdline(kids[0]).join(' ')}`);
    assert.ok(!cmdline(f.child.pid as number).includes(FOLLOWER_NODE_FLAGS[0]), 'the launcher itself runs without them');
    let last = 0;
    for (let i = 0; i < 20; i++) last = await put(`/k/a${i}`);
    await until('not received', async () => (await received()) >= last, f.log);
    f.child.kill('SIGKILL');
    await f.exited;
    await until('the follower outlived its launcher', () => !existsSync(`/proc/${kids[0]}`), f.log);
    assert.strictEqual(await stored(), last, 'the open segment was stored when the follower stopped');
    assert.deepStrictEqual(
      (await fs.readdir(changelog)).filter((n) => n.startsWith('.open-segment-')),
      [],
      'a clean stop leaves no spool file',
    );
  });

  it('with the flags (as the unit runs it): one process; SIGKILL leaves a spool file, the next run removes it and loses nothing', async function () {
    const f = start(FOLLOWER_NODE_FLAGS);
    await until('no watch', () => /Resuming after the last stored segment/.test(f.log()) && /Watching/.test(f.log()), f.log);
    assert.deepStrictEqual(childrenOf(f.child.pid as number), [], 'no second process');
    let last = 0;
    for (let i = 0; i < 20; i++) last = await put(`/k/b${i}`);
    await until('not received', async () => (await received()) >= last, f.log);
    f.child.kill('SIGKILL');
    await f.exited;
    const left = (await fs.readdir(changelog)).filter((n) => n.startsWith('.open-segment-'));
    assert.deepStrictEqual(left, [`.open-segment-${f.child.pid}-1`]);
    const before = await stored();
    assert.ok(before < last, 'the killed follower stored nothing more');
    const g = start(FOLLOWER_NODE_FLAGS);
    await until('no watch', () => /Watching/.test(g.log()), g.log);
    last = await put('/k/c');
    await until('not received', async () => (await received()) >= last && (await rev()) === last, g.log);
    assert.deepStrictEqual(
      (await fs.readdir(changelog)).filter((n) => n.startsWith('.open-segment-')),
      [`.open-segment-${g.child.pid}-1`],
      "the killed run's spool file is gone, the new run spools its own",
    );
    g.child.kill('SIGTERM');
    assert.strictEqual(await g.exited, 0, g.log());
    assert.strictEqual(await stored(), last);
    const segs = await new LocalSegmentStore(changelog).list();
    for (let i = 1; i < segs.length; i++) assert.strictEqual(segs[i].first, segs[i - 1].last + 1, 'no gap, no duplicate');
  });
});
