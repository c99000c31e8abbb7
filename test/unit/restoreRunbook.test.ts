import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildRunbook, parkedManifestPath, quoteArg, RunbookInput, shellCommand, timestamp } from '../../src/core/restore/runbook';

/** The ```sh blocks of a Markdown document. */
function shBlocks(md: string): string[] {
  return [...md.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/**
 * Run a block in bash with every command it calls replaced by a recorder: each call appends
 * its argv (NUL-separated, one record per line of the log) so the test sees the exact words
 * the shell passed after quoting.
 */
function runRecorded(block: string, root: string, programs: string[], bodies: Record<string, string> = {}): string[][] {
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(root, 'calls.log');
  writeFileSync(log, '');
  for (const p of programs) {
    const f = join(bin, p);
    // printf %s\0 keeps every byte of every argument; records end with a newline.
    writeFileSync(f, `#!/bin/bash\n{ printf '%s\\0' "\${0##*/}" "$@"; printf '\\n'; } >> ${JSON.stringify(log)}\n${bodies[p] ?? ''}\n`);
    chmodSync(f, 0o755);
  }
  // Real grep, cat, sed and head (pipelines in the blocks use them); every other command is a recorder.
  const real = join(root, 'real');
  mkdirSync(real, { recursive: true });
  for (const tool of ['grep', 'cat', 'sed', 'head']) {
    if (!existsSync(join(real, tool))) symlinkSync(`/usr/bin/${tool}`, join(real, tool));
  }
  execFileSync('/bin/bash', ['--noprofile', '--norc', '-c', block], { env: { PATH: `${bin}:${real}`, HOME: root }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
  return readFileSync(log, 'utf8')
    .split('\0\n')
    .filter(Boolean)
    .map((r) => r.split('\0'));
}

const nasty = {
  dataDir: "/var/lib/etcd restored/it's $HOME `id`",
  token: 'tok$(touch${IFS}pwned)',
  snapshot: '/root/snap "quoted" $(touch pwned).db',
  name: "n'1",
};

function input(extra: Partial<RunbookInput> = {}): RunbookInput {
  return {
    plan: {
      members: [
        { name: nasty.name, peerURLs: ['https://10.0.0.11:2380'], clientURLs: ['https://10.0.0.11:2379'] },
        { name: 'n2', peerURLs: ['https://10.0.0.12:2380'], clientURLs: ['https://10.0.0.12:2379'] },
      ],
      initialClusterToken: nasty.token,
    },
    snapshotPath: nasty.snapshot,
    snapshotSha256: 'ab'.repeat(32),
    snapshotRevision: 1234,
    setup: { [nasty.name]: { dataDir: nasty.dataDir, oldDataDir: '/var/lib/etcd' } },
    defaults: { dataDir: '/var/lib/etcd' },
    tls: { caFile: '/etc/etcd/ca dir/ca.crt', certFile: '/etc/etcd/c.crt', keyFile: '/etc/etcd/c.key' },
    generatedAt: new Date(Date.UTC(2026, 0, 24, 15, 30, 12)),
    clusterName: 'prod',
    ...extra,
  };
}

describe('restore runbook (core/restore/runbook)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-runbook-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('quotes flag values for the shell', () => {
    assert.strictEqual(quoteArg('--name=n1'), '--name=n1');
    assert.strictEqual(quoteArg("--data-dir=/a b/it's"), "--data-dir='/a b/it'\\''s'");
    assert.strictEqual(quoteArg('--x=$(id)'), "--x='$(id)'");
    assert.strictEqual(quoteArg('plain'), 'plain');
    assert.strictEqual(quoteArg(''), "''");
    assert.strictEqual(shellCommand(['etcdutl', 'snapshot', 'restore', 'f.db', '--name=a', '--data-dir=/d']), 'etcdutl snapshot restore f.db \\\n  --name=a \\\n  --data-dir=/d');
    assert.strictEqual(timestamp(new Date(Date.UTC(2026, 0, 4, 5, 6, 7))), '20260104-050607');
    assert.strictEqual(parkedManifestPath('/etc/kubernetes/manifests/etcd.yaml'), '/etc/kubernetes/etcd.yaml.restoring');
    assert.strictEqual(parkedManifestPath('/srv/etcd.yaml'), '/srv/etcd.yaml.restoring');
  });

  it('has one block per member plus the final check, with the facts at the top', () => {
    const md = buildRunbook(input());
    assert.strictEqual(shBlocks(md).length, 2 + 1 + 1, 'sha256 check, two members, final check');
    assert.match(md, /^# Restore etcd cluster "prod" from a snapshot$/m);
    assert.match(md, /\| Revision in the snapshot \| 1234 \|/);
    assert.match(md, /## Member `n'1` on 10\.0\.0\.11/);
    assert.match(md, /## Member `n2` on 10\.0\.0\.12/);
    assert.match(md, /same\*\* snapshot file/);
  });

  it("passes every value through the shell unchanged (systemd member, etcdutl): stop, move aside, restore, chown, chmod, start, verify", () => {
    const md = buildRunbook(input());
    const block = shBlocks(md)[1];
    // The old dir exists, so the `if [ -e ]` branch moves it.
    const calls = runRecorded(block.replace(/\[ -e '?\/var\/lib\/etcd'? \]/, 'true'), root, ['systemctl', 'mv', 'etcdutl', 'chown', 'chmod', 'etcdctl', 'etcd-backup']);
    assert.deepStrictEqual(calls, [
      ['systemctl', 'stop', 'etcd'],
      ['mv', '/var/lib/etcd', '/var/lib/etcd.old-20260124-153012'],
      [
        'etcdutl',
        'snapshot',
        'restore',
        nasty.snapshot,
        `--name=${nasty.name}`,
        `--initial-cluster=${nasty.name}=https://10.0.0.11:2380,n2=https://10.0.0.12:2380`,
        '--initial-advertise-peer-urls=https://10.0.0.11:2380',
        `--initial-cluster-token=${nasty.token}`,
        `--data-dir=${nasty.dataDir}`,
      ],
      ['chown', '-R', 'etcd:etcd', nasty.dataDir],
      ['chmod', '700', nasty.dataDir],
      ['systemctl', 'start', 'etcd'],
      ['systemctl', '--no-pager', 'status', 'etcd'],
      ['etcdctl', '--endpoints=https://10.0.0.11:2379', '--cacert=/etc/etcd/ca dir/ca.crt', '--cert=/etc/etcd/c.crt', '--key=/etc/etcd/c.key', 'endpoint', 'status', '-w', 'table'],
    ]);
    assert.ok(!existsSync(join(root, 'pwned')), 'no command substitution ran');
  });

  it('gives the etcdctl 3.4 form (ETCDCTL_API=3, no bump flags) and the etcd-backup CLI as working alternatives', () => {
    const md = buildRunbook(input({ bumpRevision: 1000000000, markCompacted: true }));
    const block = shBlocks(md)[1];
    const alt = (marker: RegExp): string => {
      const lines = block.split('\n');
      const at = lines.findIndex((l) => marker.test(l));
      assert.ok(at >= 0, `${marker} in\n${block}`);
      const out: string[] = [];
      for (const l of lines.slice(at)) {
        out.push(l.replace(/^# /, ''));
        if (!l.endsWith('\\')) break;
      }
      return out.join('\n');
    };
    const ctl = alt(/^# ETCDCTL_API=3 etcdctl snapshot restore/);
    // The variable must reach etcdctl: record the environment too.
    const calls = runRecorded(ctl, root, ['etcdctl'], { etcdctl: `echo "$ETCDCTL_API" > ${JSON.stringify(join(root, 'api'))}` });
    assert.deepStrictEqual(calls[0].slice(0, 4), ['etcdctl', 'snapshot', 'restore', nasty.snapshot]);
    assert.strictEqual(readFileSync(join(root, 'api'), 'utf8'), '3\n', 'ETCDCTL_API=3 reaches etcdctl');
    assert.ok(!calls[0].some((a) => a.startsWith('--bump-revision') || a === '--mark-compacted'), 'etcdctl 3.4 has no bump flags');
    assert.match(ctl, /^ETCDCTL_API=3 etcdctl /);
    const cli = alt(/^# etcd-backup snapshot restore/);
    const cliCalls = runRecorded(cli, root, ['etcd-backup']);
    assert.deepStrictEqual(cliCalls[0].slice(-3), [`--data-dir=${nasty.dataDir}`, '--bump-revision=1000000000', '--mark-compacted']);
    // And the main (etcdutl) command carries them.
    assert.match(block, /^  --bump-revision=1000000000 \\\n  --mark-compacted$/m);
  });

  it('runs etcdctl as the main form when that is the tool here', () => {
    const md = buildRunbook(input({ tool: 'etcdctl' }));
    const block = shBlocks(md)[2];
    assert.match(block, /^ETCDCTL_API=3 etcdctl snapshot restore /m);
    assert.match(block, /^# etcdutl snapshot restore /m);
  });

  it('stops and starts a static pod by moving its manifest, and points it at the new dir', () => {
    const md = buildRunbook(
      input({
        setup: { [nasty.name]: { runtime: 'static-pod', dataDir: '/var/lib/etcd-from-backup', oldDataDir: '/var/lib/etcd' } },
      }),
    );
    const block = shBlocks(md)[1];
    // crictl: no etcd container while stopping, a running one after the manifest is back.
    // The old dir and the manifest exist: the `if [ -e ]` branches move them.
    const present = block.replace(/\[ -e '?(\/var\/lib\/etcd|\/etc\/kubernetes\/manifests\/etcd\.yaml|\/etc\/kubernetes\/etcd\.yaml\.restoring)'? \]/g, 'true');
    const calls = runRecorded(present, root, ['mv', 'crictl', 'etcdutl', 'chown', 'chmod', 'etcdctl', 'etcd-backup', 'sleep'], {
      crictl: 'case "$*" in *running*) echo 0123abcd;; esac',
    });
    assert.ok(calls.every((c) => c[0] !== 'sleep'), 'no waiting needed');
    const names = calls.map((c) => `${c[0]} ${c[1] ?? ''}`.trim());
    assert.deepStrictEqual(calls[0], ['mv', '/etc/kubernetes/manifests/etcd.yaml', '/etc/kubernetes/etcd.yaml.restoring']);
    assert.ok(names.includes('crictl ps'), names.join('\n'));
    assert.deepStrictEqual(calls.find((c) => c[0] === 'mv' && c[1] === '/var/lib/etcd'), ['mv', '/var/lib/etcd', '/var/lib/etcd.old-20260124-153012']);
    assert.deepStrictEqual(calls.find((c) => c[0] === 'chown'), ['chown', '-R', 'root:root', '/var/lib/etcd-from-backup']);
    assert.deepStrictEqual(calls.find((c) => c[0] === 'etcd-backup'), ['etcd-backup', 'manifest', 'set-data-dir', '/etc/kubernetes/etcd.yaml.restoring', '/var/lib/etcd-from-backup', '--write']);
    const backIn = calls.findIndex((c) => c[0] === 'mv' && c[1] === '/etc/kubernetes/etcd.yaml.restoring');
    assert.ok(backIn > calls.findIndex((c) => c[0] === 'etcdutl'), 'the pod starts only after the restore');
    assert.deepStrictEqual(calls[backIn], ['mv', '/etc/kubernetes/etcd.yaml.restoring', '/etc/kubernetes/manifests/etcd.yaml']);
    assert.match(block, /crictl ps \| grep etcd/);
  });

  it('checks the file with sha256sum, quoted', () => {
    const md = buildRunbook(input());
    const check = shBlocks(md)[0].trim();
    const calls = runRecorded(check, root, ['sha256sum'], { sha256sum: `cat > ${JSON.stringify(join(root, 'stdin'))}` });
    assert.deepStrictEqual(calls, [['sha256sum', '-c', '-']]);
    assert.strictEqual(readFileSync(join(root, 'stdin'), 'utf8'), `${'ab'.repeat(32)}  ${nasty.snapshot}\n`);
  });

  it('mentions the skip-hash-check caveat when the file has no trailer', () => {
    const md = buildRunbook(input({ skipHashCheck: true }));
    assert.match(md, /no SHA-256 trailer.*only in the WAL/);
    assert.match(shBlocks(md)[1], /^  --skip-hash-check$/m);
  });

  describe('a 3-member plan restored on m1: only what is known for each member', () => {
    const three = (root: string, extra: Partial<RunbookInput> = {}): RunbookInput => ({
      plan: {
        members: ['m1', 'm2', 'm3'].map((n, i) => ({ name: n, peerURLs: [`https://10.0.0.1${i + 1}:2380`], clientURLs: [`https://10.0.0.1${i + 1}:2379`] })),
        initialClusterToken: 'etcd-restore-20260124-a1b2c3',
      },
      snapshotPath: '/root/snap.db',
      defaults: { runtime: 'static-pod', manifestPath: join(root, 'manifests', 'etcd.yaml') },
      setup: {
        m1: {
          dataDir: '/srv/restore-m1/m1.etcd',
          oldDataDir: '/var/lib/etcd',
          restored: { dataDir: '/srv/restore-m1/m1.etcd', movedAside: '/var/lib/etcd.old-20260124-153000', at: '2026-01-24T15:30:00.000Z', by: 'root@cp1' },
        },
      },
      generatedAt: new Date(Date.UTC(2026, 0, 24, 15, 30, 12)),
      ...extra,
    });

    it("gives the others neither m1's data dir nor a guessed /var/lib/etcd, and tells m1 only what is left", () => {
      const md = buildRunbook(three(root));
      const [m1, m2, m3] = shBlocks(md);
      assert.match(md, /## Member `m1` on 10\.0\.0\.11: restored already/);
      assert.match(md, /Restored into `\/srv\/restore-m1\/m1\.etcd` at 2026-01-24T15:30:00\.000Z by `root@cp1`/);
      assert.doesNotMatch(m1, /snapshot restore|\.old-20260124-153012|flock/, 'm1 is not told to restore again');
      assert.match(m1, /manifest set-data-dir .* \/srv\/restore-m1\/m1\.etcd --write/);
      for (const b of [m2, m3]) {
        assert.doesNotMatch(b, /restore-m1|m1\.etcd/, "another member's block carries m1's data dir");
        assert.doesNotMatch(b, /\/var\/lib\/etcd/, 'a guessed /var/lib/etcd');
        assert.doesNotMatch(b, /systemctl/, 'static pod: no systemctl');
        assert.match(b, /--data-dir="\$\{DATA_DIR:\?/);
      }
      assert.doesNotMatch(md, /the old one is `\/var\/lib\/etcd`\)/);
      // m1's block run: the parked manifest is pointed at the restored dir, then put back; nothing is restored or moved aside.
      writeFileSync(join(root, 'etcd.yaml.restoring'), 'parked\n');
      const calls = runRecorded(m1, root, ['mv', 'crictl', 'etcdutl', 'etcdctl', 'etcd-backup', 'sleep'], {
        crictl: 'case "$*" in *running*) echo 0123abcd;; esac',
      });
      assert.deepStrictEqual(calls.map((c) => c[0]), ['etcd-backup', 'mv', 'crictl', 'etcdctl']);
      assert.deepStrictEqual(calls[0], ['etcd-backup', 'manifest', 'set-data-dir', join(root, 'etcd.yaml.restoring'), '/srv/restore-m1/m1.etcd', '--write']);
      assert.deepStrictEqual(calls[1], ['mv', join(root, 'etcd.yaml.restoring'), join(root, 'manifests', 'etcd.yaml')]);
    });

    it("reads a member's data dir from its manifest on that machine, and restores it in place with static-pod commands", () => {
      mkdirSync(join(root, 'manifests'));
      writeFileSync(join(root, 'manifests', 'etcd.yaml'), 'spec:\n  containers:\n  - command:\n    - etcd\n    # - --data-dir=/wrong\n    - --data-dir=/var/lib/etcd-x\n');
      const m2 = shBlocks(buildRunbook(three(root)))[1];
      const calls = runRecorded(m2.replace(/\[ -e "\$\{DATA_DIR[^}]*\}" \]/, 'true'), root, ['mv', 'crictl', 'etcdutl', 'chown', 'chmod', 'etcdctl', 'etcd-backup', 'sleep', 'flock'], {
        crictl: 'case "$*" in *running*) echo 0123abcd;; esac',
        // The manifest really moves (out, then back in); the data dir is not there to move.
        mv: '[ -e "$1" ] && /bin/mv "$1" "$2"; true',
      });
      const manifest = join(root, 'manifests', 'etcd.yaml');
      assert.deepStrictEqual(calls[0], ['mv', manifest, join(root, 'etcd.yaml.restoring')]);
      assert.deepStrictEqual(calls.find((c) => c[0] === 'mv' && c[1] === '/var/lib/etcd-x'), ['mv', '/var/lib/etcd-x', '/var/lib/etcd-x.old-20260124-153012']);
      const restore = calls.find((c) => c[0] === 'etcdutl');
      assert.ok(restore?.includes('--data-dir=/var/lib/etcd-x'), JSON.stringify(restore));
      assert.ok(restore?.includes('--name=m2'));
      assert.ok(restore?.includes('--initial-cluster-token=etcd-restore-20260124-a1b2c3'));
      assert.deepStrictEqual(calls.find((c) => c[0] === 'chown'), ['chown', '-R', 'root:root', '/var/lib/etcd-x']);
      assert.deepStrictEqual(calls.filter((c) => c[0] === 'mv').pop(), ['mv', join(root, 'etcd.yaml.restoring'), manifest]);
    });

    it('stops with a clear message, before moving or restoring anything, when the data dir cannot be read there', () => {
      mkdirSync(join(root, 'manifests'));
      writeFileSync(join(root, 'manifests', 'etcd.yaml'), 'spec: {}\n');
      const m3 = shBlocks(buildRunbook(three(root)))[2];
      let stderr = '';
      assert.throws(() => {
        try {
          runRecorded(m3, root, ['mv', 'crictl', 'etcdutl', 'chown', 'chmod', 'etcdctl', 'etcd-backup', 'sleep', 'flock']);
        } catch (err) {
          stderr = String((err as { stderr?: Buffer }).stderr ?? '');
          throw err;
        }
      });
      assert.match(stderr, /No data dir found in .*etcd\.yaml.*set DATA_DIR=/);
      assert.match(stderr, /DATA_DIR: run step 0 of this block first/);
      const calls = readFileSync(join(root, 'calls.log'), 'utf8');
      assert.doesNotMatch(calls, /etcdutl|chown/);
    });

    it('systemd members: systemctl, and the data dir read from the env file (quoted, with a space)', () => {
      const env = join(root, 'etcd.env');
      writeFileSync(env, '# ETCD_DATA_DIR=/not/this\nETCD_NAME=m2\nETCD_DATA_DIR="/srv/etcd data"\n');
      const md = buildRunbook(three(root, { defaults: { runtime: 'systemd', envFile: env } }));
      const m2 = shBlocks(md)[1];
      const calls = runRecorded(m2.replace(/\[ -e "\$\{DATA_DIR[^}]*\}" \]/, 'true'), root, ['systemctl', 'mv', 'etcdutl', 'chown', 'chmod', 'etcdctl', 'etcd-backup', 'flock']);
      assert.deepStrictEqual(calls[0], ['systemctl', 'cat', 'etcd']);
      assert.deepStrictEqual(calls[1], ['systemctl', 'stop', 'etcd']);
      assert.deepStrictEqual(calls.find((c) => c[0] === 'mv'), ['mv', '/srv/etcd data', '/srv/etcd data.old-20260124-153012']);
      assert.ok(calls.find((c) => c[0] === 'etcdutl')?.includes('--data-dir=/srv/etcd data'));
      assert.deepStrictEqual(calls.find((c) => c[1] === 'start'), ['systemctl', 'start', 'etcd']);
      assert.match(shBlocks(md)[0], /systemctl start etcd/);
    });
  });
});
