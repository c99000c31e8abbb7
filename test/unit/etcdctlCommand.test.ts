import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { buildEtcdctlCommand, shellQuote } from '../../src/core/etcdctlCommand';

/** What a real POSIX shell makes of `line` (each word printed on its own NUL-terminated record). */
function wordsAfterShell(line: string): string[] {
  // Replace the program with printf so the shell prints the words it would pass to etcdctl.
  const out = execFileSync('/bin/sh', ['-c', `printw() { printf '%s\\0' "$@"; }; ${line.replace(/^ETCDCTL_API=3 \S+/, 'printw')}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('etcdctl command for a cluster', () => {
  it('gives endpoints, TLS files and the user, never a password', () => {
    const c = buildEtcdctlCommand({
      name: 'prod',
      endpoints: ['https://10.0.0.11:2379', 'https://10.0.0.12:2379'],
      tls: { caFile: '/etc/kubernetes/pki/etcd/ca.crt', certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt', keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key' },
      username: 'root',
      timeoutMs: 5000,
    });
    assert.deepStrictEqual(c.env, { ETCDCTL_API: '3' });
    assert.deepStrictEqual(c.argv, [
      'etcdctl',
      '--endpoints=https://10.0.0.11:2379,https://10.0.0.12:2379',
      '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
      '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
      '--user=root',
    ]);
    assert.strictEqual(
      c.shell,
      'ETCDCTL_API=3 etcdctl --endpoints=https://10.0.0.11:2379,https://10.0.0.12:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --user=root',
    );
  });

  it('quotes paths with spaces, quotes and shell characters so a real shell passes them unchanged', () => {
    const nasty = {
      caFile: "/home/o'brien/my certs/ca.crt",
      certFile: '/tmp/$HOME `id` "x"/client.crt',
      keyFile: '/tmp/a;b&c|d>e/*.key',
    };
    const c = buildEtcdctlCommand({ name: 'x', endpoints: ['https://127.0.0.1:2379'], tls: nasty, username: "we'ird user", timeoutMs: 1500 }, { args: ['endpoint', 'status', '-w', 'table'] });
    assert.strictEqual(c.argv[2], `--cacert=${nasty.caFile}`);
    assert.match(c.shell, /--cacert='\/home\/o'\\''brien\/my certs\/ca\.crt'/);
    assert.deepStrictEqual(wordsAfterShell(c.shell), c.argv.slice(1));
    assert.ok(c.argv.includes('--dial-timeout=1500ms'));
    assert.deepStrictEqual(c.argv.slice(-4), ['endpoint', 'status', '-w', 'table']);
  });

  it('shellQuote leaves safe words bare and quotes everything else', () => {
    assert.strictEqual(shellQuote('https://10.0.0.1:2379,https://10.0.0.2:2379'), 'https://10.0.0.1:2379,https://10.0.0.2:2379');
    assert.strictEqual(shellQuote(''), "''");
    assert.strictEqual(shellQuote('a b'), "'a b'");
    assert.strictEqual(shellQuote("it's"), "'it'\\''s'");
    for (const w of ['$(reboot)', '`x`', 'a\nb', '!', '~root', '*', "''", '\\']) {
      assert.deepStrictEqual(wordsAfterShell(`ETCDCTL_API=3 etcdctl ${shellQuote(w)}`), [w]);
    }
  });

  it('passes a non-default timeout as --dial-timeout/--command-timeout', () => {
    assert.deepStrictEqual(buildEtcdctlCommand({ name: 'x', endpoints: ['http://a:2379'], timeoutMs: 10000 }).argv.slice(2), ['--dial-timeout=10s', '--command-timeout=10s']);
    assert.deepStrictEqual(buildEtcdctlCommand({ name: 'x', endpoints: ['http://a:2379'], timeoutMs: 5000 }).argv.length, 2);
  });

  it('uses a configured program path and adds --insecure-skip-tls-verify when set', () => {
    const c = buildEtcdctlCommand({ name: 'x', endpoints: ['https://127.0.0.1:2379'], tls: { insecureSkipVerify: true } }, { program: '/opt/etcd v3.5/etcdctl' });
    assert.strictEqual(c.argv[0], '/opt/etcd v3.5/etcdctl');
    assert.ok(c.argv.includes('--insecure-skip-tls-verify'));
    assert.ok(c.shell.startsWith("ETCDCTL_API=3 '/opt/etcd v3.5/etcdctl' "));
  });

  it('the argv really runs against etcdctl (unknown endpoint fails fast with etcdctl\'s own message)', () => {
    const c = buildEtcdctlCommand({ name: 'x', endpoints: ['http://127.0.0.1:1'], timeoutMs: 500 }, { args: ['endpoint', 'health'] });
    let stderr = '';
    try {
      execFileSync(c.argv[0], c.argv.slice(1), { env: { ...process.env, ...c.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      stderr = String((err as { stderr?: string }).stderr ?? '');
    }
    // etcdctl accepted every flag we built (an unknown flag would say "unknown flag").
    assert.doesNotMatch(stderr, /unknown flag/);
    assert.match(stderr, /127\.0\.0\.1:1 is unhealthy/);
  });
});
