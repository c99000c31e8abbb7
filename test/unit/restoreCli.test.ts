import * as assert from 'assert';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createPlanFile, fileSha256, readPlanFile } from '../../src/core/restore/planFile';
import { parseOwner, restoreCommand, trialRestoreCommand } from '../../src/cli/restore';
import { CliUsageError } from '../../src/cli/types';
import { captureOutput } from '../support/captureOutput';

const capture = captureOutput;

describe('etcd-backup snapshot restore (CLI arguments)', () => {
  it('prints its usage with --help', async () => {
    const r = await capture(() => restoreCommand.run(['--help']));
    assert.strictEqual(r.code, 0);
    assert.match(r.out, /^Usage: etcd-backup snapshot restore <file> --name N --initial-cluster C --initial-advertise-peer-urls U/);
  });

  it('names what is missing, and asks for a shared new token with an example', async () => {
    await assert.rejects(restoreCommand.run(['f.db', '--name', 'n1']), (e: Error) => {
      assert.ok(e instanceof CliUsageError);
      assert.match(e.message, /^missing --initial-cluster, --initial-advertise-peer-urls, --data-dir\./);
      return true;
    });
    await assert.rejects(
      restoreCommand.run(['f.db', '--name=n1', '--initial-cluster=n1=http://a:2380', '--initial-advertise-peer-urls=http://a:2380', '--data-dir=/d']),
      /^Error: missing --initial-cluster-token: give every member of the restored cluster the same new token, e\.g\. --initial-cluster-token etcd-restore-\d{8}-[0-9a-f]{6}\.$/,
    );
    await assert.rejects(restoreCommand.run(['a.db', 'b.db']), /give exactly one snapshot file/);
    await assert.rejects(restoreCommand.run(['a.db', '--wal-dir', 'x']), /unknown flag --wal-dir/);
    await assert.rejects(
      restoreCommand.run(['f.db', '--name=n1', '--initial-cluster=n1=http://a:2380', '--initial-advertise-peer-urls=http://a:2380', '--data-dir=/d', '--initial-cluster-token=t', '--bump-revision=lots']),
      /--bump-revision must be a whole number \(got "lots"\)/,
    );
    await assert.rejects(trialRestoreCommand.run([]), /give exactly one snapshot file/);
  });

  it('turns --owner into uid:gid (names from /etc/passwd and /etc/group)', async () => {
    assert.deepStrictEqual(await parseOwner('0:0'), { uid: 0, gid: 0 });
    assert.deepStrictEqual(await parseOwner('root:root'), { uid: 0, gid: 0 });
    assert.deepStrictEqual(await parseOwner('root'), { uid: 0, gid: 0 }, "the user's primary group");
    // Debian's etcd package creates the etcd user and group.
    const etcd = await parseOwner('etcd:etcd');
    assert.ok(etcd.uid > 0 && etcd.gid > 0);
    await assert.rejects(parseOwner('nosuchuser:root'), /--owner: no user "nosuchuser" on this machine\./);
    await assert.rejects(parseOwner('root:nosuchgroup'), /--owner: no group "nosuchgroup" on this machine\./);
    // (uid_t)-1 means "leave unchanged" to chown: it would report an owner it did not set.
    await assert.rejects(parseOwner('4294967295:0'), /^Error: --owner: 4294967295 is not a valid uid \(0 to 4294967294\)\.$/);
    await assert.rejects(parseOwner('0:99999999999'), /--owner: 99999999999 is not a valid gid/);
    await assert.rejects(parseOwner('0:0:0'), /--owner needs user:group/);
  });
});

describe('etcd-backup snapshot restore --plan (the plan VS Code stored)', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'restore-cli-plan-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const planFor = async (snap: string): Promise<string> => {
    const sha256 = await fileSha256(snap);
    const members = ['m1', 'm2', 'm3'].map((n, i) => ({ name: n, peerURLs: [`http://127.0.0.1:${23800 + i}`] }));
    const stored = await createPlanFile(snap, {
      version: 1,
      snapshotPath: snap,
      snapshotSha256: sha256,
      createdAt: new Date().toISOString(),
      initialClusterToken: 'tok-from-plan',
      members,
      source: 'snapshot',
      done: {},
    });
    return stored.file;
  };

  it('takes the token and members from the plan, restores, and records the member in the plan', async () => {
    const snap = join(root, 'tiny.db');
    copyFileSync(join(__dirname, '..', 'fixtures', 'snapshots', 'tiny.db'), snap);
    const file = await planFor(snap);
    const r = await capture(() => restoreCommand.run([snap, '--name', 'm2', '--plan', file, '--data-dir', join(root, 'm2.etcd'), '-w', 'json']));
    assert.strictEqual(r.code, 0, r.err);
    assert.ok(existsSync(join(root, 'm2.etcd', 'member', 'snap', 'db')));
    const plan = await readPlanFile(file);
    assert.deepStrictEqual(Object.keys(plan.done), ['m2']);
    assert.match(r.err, /Recorded m2 as restored in .*; left: m1, m3\./);
  });

  it('refuses cluster flags beside --plan, a member the plan does not name, and a plan of another file', async () => {
    const snap = join(root, 'tiny.db');
    copyFileSync(join(__dirname, '..', 'fixtures', 'snapshots', 'tiny.db'), snap);
    const file = await planFor(snap);
    const d = join(root, 'd');
    await assert.rejects(
      restoreCommand.run([snap, '--name', 'm1', '--plan', file, '--initial-cluster-token', 'other', '--data-dir', d]),
      /^Error: --plan gives --initial-cluster-token: leave it out\.$/,
    );
    await assert.rejects(restoreCommand.run([snap, '--name', 'm9', '--plan', file, '--data-dir', d]), /has no member "m9"/);
    const other = join(root, 'other.db');
    copyFileSync(join(__dirname, '..', 'fixtures', 'snapshots', 'mixed.db'), other);
    await assert.rejects(restoreCommand.run([other, '--name', 'm1', '--plan', file, '--data-dir', d]));
    assert.ok(!existsSync(d), 'nothing restored');
    const help = await capture(() => restoreCommand.run(['--help']));
    assert.match(help.out, /--initial-cluster-token T +.*\(required without --plan\)/);
  });
});
