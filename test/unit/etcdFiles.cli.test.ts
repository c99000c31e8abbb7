/**
 * `etcd-backup manifest ...` on copies of the fixtures in a temporary folder: the commands in
 * process (as restoreCli.test.ts does), and the wiring of src/cli.ts through a spawned
 * `tsx src/cli.ts` (main() loads its groups with import(), which mocha's tsx/cjs hook cannot
 * resolve in process).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { manifestCommands } from '../../src/cli/manifest';
import { CliUsageError } from '../../src/cli/types';
import { unifiedDiff } from '../../src/core/etcdFiles';
import { captureOutput } from '../support/captureOutput';

const root = join(__dirname, '..', '..');

const fixtures = join(__dirname, '..', 'fixtures', 'etcdFiles');

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [name, ...rest] = args;
  return captureOutput(() => manifestCommands[name].run(rest));
}

describe('etcd-backup manifest (CLI)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-backup-manifest-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const copy = (f: string, mode = 0o600): string => {
    const p = join(dir, f);
    copyFileSync(join(fixtures, f), p);
    chmodSync(p, mode);
    return p;
  };

  it('is wired into etcd-backup: lists its commands, exit 1 on errors, 2 on bad usage', function () {
    this.timeout(60000); // four tsx start-ups on a shared machine
    const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
      try {
        return { status: 0, stdout: execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'src', 'cli.ts'), 'manifest', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
      } catch (e) {
        const x = e as { status: number; stdout: string; stderr: string };
        return { status: x.status, stdout: x.stdout, stderr: x.stderr };
      }
    };
    const help = cli(['--help']);
    assert.strictEqual(help.status, 0);
    for (const c of ['set-data-dir', 'set-initial-cluster-state', 'check']) assert.ok(help.stdout.includes(`manifest ${c}`), c);
    const check = cli(['check', join(fixtures, 'problems.yaml')]);
    assert.strictEqual(check.status, 1);
    assert.match(check.stdout, /problems\.yaml:12:18: error: --data-dir \/var\/lib\/etcd-new is not inside any volume mount/);
    const usage = cli(['set-initial-cluster-state', 'f', 'maybe']);
    assert.strictEqual(usage.status, 2);
    assert.strictEqual(usage.stderr, 'etcd-backup manifest set-initial-cluster-state: the state is "new" or "existing", not "maybe".\n');
    const missing = cli(['check', join(dir, 'nope.yaml')]);
    assert.strictEqual(missing.status, 1);
    assert.match(missing.stderr, /^etcd-backup manifest check: .*nope\.yaml does not exist\.\n$/);
  });

  it('set-data-dir prints a unified diff and leaves the file alone without --write', async () => {
    const f = copy('kubeadm-etcd.yaml');
    const before = readFileSync(f, 'utf8');
    const r = await run(['set-data-dir', f, '/var/lib/etcd-restored']);
    assert.strictEqual(r.code, 0, r.err);
    assert.strictEqual(r.out, readFileSync(join(fixtures, 'expected', 'kubeadm-etcd.yaml.set-data-dir.diff'), 'utf8').replace(/kubeadm-etcd\.yaml/g, f));
    assert.strictEqual(readFileSync(f, 'utf8'), before);
    // the diff applies with patch(1) and gives what --write writes
    writeFileSync(join(dir, 'p.diff'), r.out);
    const copyForPatch = join(dir, 'patched.yaml');
    copyFileSync(f, copyForPatch);
    execFileSync('patch', ['-s', copyForPatch, join(dir, 'p.diff')]);
    const w = await run(['set-data-dir', f, '/var/lib/etcd-restored', '--write']);
    assert.strictEqual(w.code, 0, w.err);
    assert.strictEqual(readFileSync(f, 'utf8'), readFileSync(copyForPatch, 'utf8'));
    assert.match(w.err, /^Wrote .*kubeadm-etcd\.yaml \(static pod manifest\): --data-dir: \/var\/lib\/etcd -> \/var\/lib\/etcd-restored; volumeMounts "etcd-data" mountPath/);

    const keep = await run(['set-data-dir', copy('stacked-member-2.yaml'), '/mnt/restored', '--keep-container-path']);
    assert.strictEqual(keep.code, 0, keep.err);
    assert.deepStrictEqual(keep.out.split('\n').filter((l) => /^[-+] /.test(l)), ['-        path: "/mnt/etcd-disk/etcd"', '+        path: "/mnt/restored"']);
  });

  it('--write replaces the file through a temp file and rename, keeping its mode, leaving no temp file, following a symlink', async () => {
    const f = copy('etcd.env', 0o640);
    const inodeBefore = statSync(f).ino;
    const link = join(dir, 'link.env');
    symlinkSync(f, link);
    const r = await run(['set-initial-cluster-state', link, 'existing', '--write']);
    assert.strictEqual(r.code, 0, r.err);
    assert.ok(readFileSync(f, 'utf8').endsWith('ETCD_INITIAL_CLUSTER_STATE="existing"\n'));
    assert.strictEqual(statSync(f).mode & 0o777, 0o640);
    assert.notStrictEqual(statSync(f).ino, inodeBefore, 'a new inode: renamed into place, not rewritten');
    assert.ok(statSync(link, { throwIfNoEntry: true }) && readFileSync(link, 'utf8') === readFileSync(f, 'utf8'), 'the link still points at the file');
    assert.deepStrictEqual(readdirSync(dir).sort(), ['etcd.env', 'link.env']);
    const again = await run(['set-initial-cluster-state', f, 'existing', '--write']);
    assert.strictEqual(again.code, 0);
    assert.strictEqual(again.out, '');
    assert.match(again.err, /nothing to change/);
  });

  it('refuses an impossible edit with one sentence and exit 1, the file unchanged', async () => {
    const f = copy('broken.yaml');
    const before = readFileSync(f, 'utf8');
    const r = await run(['set-data-dir', f, '/x', '--write']);
    assert.strictEqual(r.code, 1);
    assert.strictEqual(r.out, '');
    assert.match(r.err, /^etcd-backup manifest: .*broken\.yaml: not edited: The YAML does not parse: /);
    assert.strictEqual(readFileSync(f, 'utf8'), before);
    await assert.rejects(run(['check', join(dir, 'nope.yaml')]), /nope\.yaml does not exist\.$/);
    await assert.rejects(run(['check', dir]), /is a directory, not a regular file; give the file itself\.$/);
  });

  it('usage errors are CliUsageErrors (exit 2), --help prints the usage', async () => {
    await assert.rejects(run(['set-data-dir', 'only-one']), (e: Error) => e instanceof CliUsageError && /give the file and the new data dir/.test(e.message));
    await assert.rejects(run(['set-initial-cluster-state', 'f', 'maybe']), (e: Error) => e instanceof CliUsageError && e.message === 'the state is "new" or "existing", not "maybe".');
    await assert.rejects(run(['check', 'f', '--frobnicate']), (e: Error) => e instanceof CliUsageError && /unknown flag --frobnicate/.test(e.message));
    const h = await run(['set-data-dir', '--help']);
    assert.strictEqual(h.code, 0);
    assert.match(h.out, /^Usage: etcd-backup manifest set-data-dir <file> <dir> \[--write\]/);
  });

  it('check prints file:line:column diagnostics with fixes, exit 1 on errors and 0 otherwise', async () => {
    const bad = copy('problems.yaml');
    const r = await run(['check', bad]);
    assert.strictEqual(r.code, 1);
    assert.ok(r.out.includes(`${bad}:12:18: error: --data-dir /var/lib/etcd-new is not inside any volume mount`), r.out);
    assert.ok(r.out.includes('  fix: Change to --snapshot-count\n'));
    assert.match(r.err, /problems\.yaml \(static pod manifest\): 5 errors, 2 warnings, 0 notes\.\n$/);
    const ok = await run(['check', copy('stacked-member-2.yaml')]);
    assert.strictEqual(ok.code, 0);
    assert.match(ok.out, /:16:16: info: The etcd-data volume's hostPath/);
  });

  it("check on a unit reads its EnvironmentFile= and finds variables the command line also passes; --unit does it for an env file", async () => {
    const env = join(dir, 'etcd.env');
    writeFileSync(env, 'ETCD_DATA_DIR=/var/lib/etcd/node1\n');
    const unit = join(dir, 'etcd.service');
    writeFileSync(unit, readFileSync(join(fixtures, 'etcd-flags.service'), 'utf8').replace('[Service]\n', `[Service]\nEnvironmentFile=${env}\n`));
    const r = await run(['check', unit]);
    assert.strictEqual(r.code, 1);
    assert.ok(r.out.includes(`--data-dir is passed here and ETCD_DATA_DIR is set in ${env}`), r.out);
    const e = await run(['check', env, '--unit', unit]);
    assert.strictEqual(e.code, 1);
    assert.ok(e.out.includes(`${env}:1:1: error: ETCD_DATA_DIR is set and the command line also passes --data-dir`), e.out);
    // the env file does not set the state, so the flag may be added to the unit
    const s = await run(['set-initial-cluster-state', unit, 'existing']);
    assert.strictEqual(s.code, 0, s.err);
    assert.ok(s.out.includes('+  --initial-cluster-state=existing'));
  });
});

describe('unifiedDiff', () => {
  it('is empty for equal texts and marks a missing final line break', () => {
    assert.strictEqual(unifiedDiff('a\n', 'a\n', 'f'), '');
    assert.strictEqual(unifiedDiff('a\nb', 'a\nc', 'f'), '--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n');
  });

  it('round-trips through patch(1) for 80 random edits', function () {
    this.timeout(30000); // one patch(1) process per case
    const dir = mkdtempSync(join(tmpdir(), 'etcd-backup-diff-'));
    try {
      let seed = 42;
      const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      for (let k = 0; k < 80; k++) {
        const a: string[] = [];
        for (let i = Math.floor(rnd() * 15); i > 0; i--) a.push(`l${Math.floor(rnd() * 5)}`);
        const b = a.filter(() => rnd() > 0.2).map((l) => (rnd() > 0.8 ? `x${l}` : l));
        if (rnd() > 0.5) b.splice(Math.floor(rnd() * (b.length + 1)), 0, 'new');
        const at = a.join('\n') + (a.length && rnd() > 0.3 ? '\n' : '');
        const bt = b.join('\n') + (b.length && rnd() > 0.3 ? '\n' : '');
        const d = unifiedDiff(at, bt, 'f');
        if (at === bt) {
          assert.strictEqual(d, '');
          continue;
        }
        writeFileSync(join(dir, 'f'), at);
        writeFileSync(join(dir, 'p'), d);
        execFileSync('patch', ['-s', join(dir, 'f'), join(dir, 'p')]);
        assert.strictEqual(readFileSync(join(dir, 'f'), 'utf8'), bt, `case ${k}:\n${d}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
