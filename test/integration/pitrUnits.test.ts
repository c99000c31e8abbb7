/**
 * `backup schedule` with `follow: { enabled: true }` writes the follower's service beside the
 * plan's timer: long-running, Restart=always, and `systemd-analyze verify` has nothing to say.
 */
import assert from 'assert';
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const REPO = join(__dirname, '..', '..');

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) =>
    execFile(cmd, args, { cwd: REPO }, (err, stdout, stderr) => done({ code: err ? 1 : 0, out: stdout + stderr })),
  );
}

describe("point-in-time recovery: the follower's systemd service", function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-units-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const plan = async (follow: string): Promise<string> => {
    const p = join(dir, `plan-${follow ? 'f' : 'n'}.yaml`);
    await fs.writeFile(
      p,
      'cluster:\n  name: unit test\n  endpoints: [http://127.0.0.1:2379]\nschedule: "*-*-* 00/6:00:00"\n' +
        `local:\n  dir: ${join(dir, 'local')}\n${follow}`,
      { mode: 0o600 },
    );
    return p;
  };

  it('is written with Restart=always when the plan enables follow, and verifies without a word', async () => {
    const cli = join(dir, 'cli.js');
    await fs.writeFile(cli, '');
    const units = join(dir, 'units');
    const p = await plan('follow: { enabled: true, segmentSeconds: 30 }\n');
    const r = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli.ts',
      'backup',
      'schedule',
      '--config',
      p,
      '--write',
      '--unit-dir',
      units,
      '--cli',
      cli,
    ]);
    assert.strictEqual(r.code, 0, r.out);
    const service = join(units, 'etcd-backup-unit-test-follow.service');
    const text = await fs.readFile(service, 'utf8');
    for (const line of ['Type=simple', 'Restart=always', 'WantedBy=multi-user.target']) assert.ok(text.includes(line), line);
    // The follower's V8 flags (its memory budget) from the start, in its one process.
    assert.match(text, /^Environment=NODE_OPTIONS=--max-semi-space-size=2$/m);
    assert.match(
      text,
      new RegExp(`^ExecStart=${process.execPath.replace(/[.]/g, '\\.')} \\S+cli\\.js backup follow --config \\S+plan-f\\.yaml$`, 'm'),
    );
    assert.match(r.out, /enable --now etcd-backup-unit-test\.timer etcd-backup-unit-test-follow\.service/);
    const verify = await run('systemd-analyze', [
      'verify',
      service,
      join(units, 'etcd-backup-unit-test.service'),
      join(units, 'etcd-backup-unit-test.timer'),
    ]);
    assert.deepStrictEqual(verify, { code: 0, out: '' });
  });

  it('is not written when the plan does not enable follow; a bad follow field is refused', async () => {
    const units = join(dir, 'units-none');
    const cli = join(dir, 'cli.js');
    const r = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli.ts',
      'backup',
      'schedule',
      '--config',
      await plan(''),
      '--write',
      '--unit-dir',
      units,
      '--cli',
      cli,
    ]);
    assert.strictEqual(r.code, 0, r.out);
    assert.deepStrictEqual((await fs.readdir(units)).sort(), ['etcd-backup-unit-test.service', 'etcd-backup-unit-test.timer']);
    const bad = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli.ts',
      'backup',
      'schedule',
      '--config',
      await plan('follow: { enabled: true, segmentMB: 4 }\n'),
    ]);
    assert.strictEqual(bad.code, 1);
    assert.match(bad.out, /follow: unknown field "segmentMB"/);
  });
});
