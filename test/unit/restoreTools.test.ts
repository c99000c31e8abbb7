import * as assert from 'assert';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { cliHintWords } from '../../src/cli/hintWords';
import { EtcdBackupError, withHint } from '../../src/core/errors';
import { vscodeHintWords } from '../../src/hints';
import {
  compareVersions,
  findEtcdServer,
  findRestoreTool,
  findTool,
  INSTALL_RESTORE_TOOL,
  parseToolVersion,
  restoreArgs,
  restoreFlagProblem,
} from '../../src/core/tools';

/** A directory holding fake tools that print a version; returns its path. */
function toolDir(root: string, name: string, tools: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [tool, version] of Object.entries(tools)) {
    const p = join(dir, tool);
    writeFileSync(p, `#!/bin/sh\necho "${tool} version: ${version}"\necho "API version: ${version.split('.').slice(0, 2).join('.')}"\n`);
    chmodSync(p, 0o755);
  }
  return dir;
}

describe('restore tools (core/tools)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-tools-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('parses the versions etcdctl, etcdutl and etcd print', () => {
    assert.deepStrictEqual(parseToolVersion('etcdctl version: 3.4.23\nAPI version: 3.4\n'), { version: '3.4.23', line: 'etcdctl version: 3.4.23' });
    assert.deepStrictEqual(parseToolVersion('etcdutl version: 3.5.12\nAPI version: 3.5'), { version: '3.5.12', line: 'etcdutl version: 3.5.12' });
    assert.strictEqual(parseToolVersion('etcd Version: 3.4.23\nGit SHA: Not provided\n').version, '3.4.23');
    assert.strictEqual(parseToolVersion('API version: 3.5\n').version, undefined);
    assert.ok(compareVersions('3.5.10', '3.5.9') > 0);
    assert.ok(compareVersions('3.4.23', '3.5.10') < 0);
    assert.strictEqual(compareVersions('3.5.10', '3.5.10'), 0);
    assert.ok(compareVersions('3.10.0', '3.9.9') > 0, 'numeric, not lexical');
  });

  it('prefers etcdutl over etcdctl on PATH', async () => {
    const both = toolDir(root, 'both', { etcdutl: '3.5.12', etcdctl: '3.5.12' });
    const t = await findRestoreTool({ envPath: both });
    assert.strictEqual(t.kind, 'etcdutl');
    assert.strictEqual(t.path, join(both, 'etcdutl'));
    assert.strictEqual(t.version, '3.5.12');
    assert.deepStrictEqual(t.env, {});
    assert.strictEqual(t.canBumpRevision, true);
    assert.strictEqual(t.fromSetting, false);
  });

  it("falls back to etcdctl 3.4 (Debian's) with ETCDCTL_API=3, which cannot bump the revision", async () => {
    const ctl = toolDir(root, 'ctl', { etcdctl: '3.4.23' });
    const t = await findRestoreTool({ envPath: `/nonexistent:${ctl}` });
    assert.strictEqual(t.kind, 'etcdctl');
    assert.deepStrictEqual(t.env, { ETCDCTL_API: '3' });
    assert.strictEqual(t.canBumpRevision, false);
  });

  it('finds the real etcdctl 3.4 on this machine', async () => {
    const t = await findRestoreTool({ envPath: '/usr/bin' });
    assert.strictEqual(t.kind, 'etcdctl');
    assert.strictEqual(t.path, '/usr/bin/etcdctl');
    assert.match(t.version ?? '', /^3\.4\./);
    const etcd = await findEtcdServer({ envPath: '/usr/bin' });
    assert.strictEqual(etcd.path, '/usr/bin/etcd');
    assert.match(etcd.version ?? '', /^3\.4\./);
  });

  it('takes machine-scoped settings before PATH', async () => {
    const onPath = toolDir(root, 'onpath', { etcdutl: '3.5.12' });
    const other = toolDir(root, 'other', { etcdctl: '3.4.23' });
    const t = await findRestoreTool({ envPath: onPath, etcdctl: join(other, 'etcdctl'), etcdutl: undefined });
    // etcdutl on PATH still wins (it is preferred); a configured etcdutl is used over PATH's.
    assert.strictEqual(t.kind, 'etcdutl');
    const configured = toolDir(root, 'configured', { etcdutl: '3.5.15' });
    const t2 = await findRestoreTool({ envPath: onPath, etcdutl: join(configured, 'etcdutl') });
    assert.strictEqual(t2.path, join(configured, 'etcdutl'));
    assert.strictEqual(t2.version, '3.5.15');
    assert.strictEqual(t2.fromSetting, true);
  });

  it('names the setting (VS Code) or the flag (CLI) when it points at nothing; core names neither', async () => {
    await assert.rejects(findRestoreTool({ envPath: '', etcdutl: join(root, 'nope', 'etcdutl') }), (e: EtcdBackupError) => {
      assert.strictEqual(e.kind, 'toolMissing');
      assert.deepStrictEqual(e.hint, { kind: 'toolPath', tools: ['etcdutl'], configured: true });
      const nope = join(root, 'nope', 'etcdutl');
      assert.strictEqual(e.message, `The etcdutl path "${nope}" is not an executable file.`);
      assert.strictEqual(
        withHint(e.message, e.hint, vscodeHintWords),
        `The etcdutl path "${nope}" is not an executable file; fix the setting etcdBackup.etcdutlPath or clear it to use etcdutl from PATH.`,
      );
      assert.strictEqual(withHint(e.message, e.hint, cliHintWords), `The etcdutl path "${nope}" is not an executable file; fix --etcdutl PATH or leave it out to use etcdutl from PATH.`);
      return true;
    });
  });

  it('says what to install, in one sentence, when neither tool exists', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(findRestoreTool({ envPath: empty }), (e: Error & { kind?: string }) => {
      assert.strictEqual(e.kind, 'toolMissing');
      assert.strictEqual(e.message, INSTALL_RESTORE_TOOL);
      assert.match(e.message, /apt-get install etcd-client/);
      assert.match(e.message, /etcdutl/);
      const hint = (e as EtcdBackupError).hint;
      assert.match(withHint(e.message, hint, vscodeHintWords), /; or set etcdBackup\.etcdutlPath \/ etcdBackup\.etcdctlPath\.$/);
      assert.match(withHint(e.message, hint, cliHintWords), /; or pass --etcdutl PATH \/ --etcdctl PATH\.$/);
      return true;
    });
  });

  it('refuses etcdctl 3.6 (it has no snapshot restore) and says to get etcdutl', async () => {
    const ctl36 = toolDir(root, 'ctl36', { etcdctl: '3.6.1' });
    await assert.rejects(findRestoreTool({ envPath: ctl36 }), /etcdctl 3\.6\.1, which no longer restores snapshots .*install etcdutl/);
  });

  it('returns undefined for a tool that is not on PATH, and reports a tool that does not answer', async () => {
    assert.strictEqual(await findTool('etcdutl', { envPath: join(root, 'empty') }), undefined);
    const broken = join(root, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'etcdutl'), '#!/bin/sh\nexit 3\n');
    chmodSync(join(broken, 'etcdutl'), 0o755);
    await assert.rejects(findTool('etcdutl', { envPath: broken }), /did not answer "version"/);
  });

  it('offers --bump-revision/--mark-compacted only with etcdutl 3.5.10+, and only together', () => {
    const utlNew = { kind: 'etcdutl' as const, version: '3.5.10', path: '/x/etcdutl' };
    const utlOld = { kind: 'etcdutl' as const, version: '3.5.9', path: '/x/etcdutl' };
    const ctl = { kind: 'etcdctl' as const, version: '3.4.23', path: '/usr/bin/etcdctl' };
    assert.strictEqual(restoreFlagProblem(utlNew, { bumpRevision: 1000000000, markCompacted: true }), undefined);
    assert.strictEqual(restoreFlagProblem(ctl, {}), undefined);
    assert.match(restoreFlagProblem(utlOld, { bumpRevision: 1000, markCompacted: true }) ?? '', /etcdutl 3\.5\.9 at \/x\/etcdutl cannot bump the revision .*3\.5\.10 or later/);
    assert.match(restoreFlagProblem(ctl, { bumpRevision: 1000, markCompacted: true }) ?? '', /etcdctl 3\.4\.23 at \/usr\/bin\/etcdctl cannot bump the revision/);
    assert.match(restoreFlagProblem(utlNew, { markCompacted: true }) ?? '', /--mark-compacted goes with --bump-revision/);
    assert.match(restoreFlagProblem(utlNew, { bumpRevision: 5 }) ?? '', /add --mark-compacted/);
    assert.match(restoreFlagProblem(utlNew, { bumpRevision: -1, markCompacted: true }) ?? '', /positive whole number/);
  });

  it('builds the restore arguments as an array, one --flag=value word each', () => {
    assert.deepStrictEqual(
      restoreArgs({
        snapshot: '-odd name.db',
        name: 'n 1',
        initialCluster: 'n 1=http://a:2380',
        initialAdvertisePeerUrls: 'http://a:2380',
        initialClusterToken: 't',
        dataDir: '/d',
        skipHashCheck: true,
        bumpRevision: 1000,
        markCompacted: true,
      }),
      [
        'snapshot',
        'restore',
        './-odd name.db',
        '--name=n 1',
        '--initial-cluster=n 1=http://a:2380',
        '--initial-advertise-peer-urls=http://a:2380',
        '--initial-cluster-token=t',
        '--data-dir=/d',
        '--skip-hash-check',
        '--bump-revision=1000',
        '--mark-compacted',
      ],
    );
  });
});
