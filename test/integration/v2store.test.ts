/**
 * Keys in the v2 store, which a v3 snapshot does not hold, against real etcd 3.4.23 members:
 * counted through the v2 API (plain and TLS, compared with `ETCDCTL_API=2 etcdctl ls`), "v2 API
 * off" for a member without --enable-v2, "not checked" (never 0) for v2 auth, a server that
 * never answers and a wrong CA, the warning of `etcd-backup snapshot save`, and the etcdctl
 * backup command it prints: run as given, it keeps the keys (an etcd started on the backup with
 * --force-new-cluster --enable-v2 serves them again).
 */
import * as assert from 'assert';
import { execFile, execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { clusterSummary } from '../../src/core/clusterStatus';
import { fetchClusterOverview } from '../../src/core/etcd';
import { checkV2Store, V2StoreCheck } from '../../src/core/v2store';
import { EtcdTestCluster, ETCDCTL_BIN, newMemberSlot, startCluster, startMemberProcess, TestMember, TestPki } from '../support';

const REPO = resolve(__dirname, '../..');

/** A v2 API request with Node's http (the client certificate for TLS), as flannel would write. */
type HttpAnswer = { status: number; body: string };

function v2(c: EtcdTestCluster, method: string, path: string, form?: Record<string, string>, basic?: string): Promise<HttpAnswer> {
  const url = new URL(path, c.endpoints[0]);
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const pki: TestPki | undefined = c.tls;
  const opts: https.RequestOptions = {
    method,
    agent: false,
    headers: {
      ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}),
      ...(basic ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {}),
    },
    ...(pki ? { ca: readFileSync(pki.caFile), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}),
  };
  return new Promise((done, fail) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function putV2(c: EtcdTestCluster, key: string, value: string): Promise<void> {
  const r = await v2(c, 'PUT', `/v2/keys${key}`, { value });
  assert.ok(r.status === 200 || r.status === 201, `PUT ${key}: HTTP ${r.status} ${r.body}`);
}

type RunResult = { code: number; stdout: string; stderr: string };

function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

const cli = (args: string[]): ReturnType<typeof run> => run(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli.ts'), ...args]);

/** Non-directory keys as `ETCDCTL_API=2 etcdctl ls --recursive -p` lists them (plain clusters). */
async function etcdctlV2Keys(endpoint: string): Promise<string[]> {
  const r = await run(ETCDCTL_BIN, ['--endpoints', endpoint, 'ls', '--recursive', '-p'], { ETCDCTL_API: '2' });
  assert.strictEqual(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l && !l.endsWith('/'));
}

function assertKeys(c: V2StoreCheck, keys: number): asserts c is Extract<V2StoreCheck, { state: 'keys' }> {
  assert.strictEqual(c.state, 'keys', JSON.stringify(c));
  assert.strictEqual((c as { keys: number }).keys, keys, JSON.stringify(c));
}

describe('v2 store (real etcd 3.4 with --enable-v2)', function () {
  this.timeout(180_000);
  let root: string;
  let plain: EtcdTestCluster;
  const clusters: EtcdTestCluster[] = [];
  const others: TestMember[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-v2-'));
    plain = await startCluster({ members: 1, extraArgs: ['--enable-v2'] });
    clusters.push(plain);
    await putV2(plain, '/coreos.com/network/config', '{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
    await putV2(plain, '/coreos.com/network/subnets/10.1.15.0-24', '{"PublicIP":"10.0.0.11"}');
    await putV2(plain, '/calico/v1/config/LogSeverityScreen', 'info');
    await putV2(plain, '/_hidden', 'not listed by the v2 API');
    assert.strictEqual((await v2(plain, 'PUT', '/v2/keys/emptydir?dir=true')).status, 201);
    await plain.etcdctlOk(['put', '/registry/v3key', 'v3 value']);
  });
  after(async () => {
    await Promise.all([...clusters.map((c) => c.stop()), ...others.map((m) => m.remove())]);
    rmSync(root, { recursive: true, force: true });
  });

  it("counts the v2 keys as etcdctl's v2 ls lists them (hidden _ keys are not listed; directories apart)", async () => {
    const listed = await etcdctlV2Keys(plain.endpoints[0]);
    const expected = ['/calico/v1/config/LogSeverityScreen', '/coreos.com/network/config', '/coreos.com/network/subnets/10.1.15.0-24'];
    assert.deepStrictEqual(listed.sort(), expected);
    const c = await checkV2Store(plain.clusterConfig(), plain.secrets());
    assertKeys(c, listed.length);
    assert.strictEqual(c.dirs, 7, '/coreos.com, its network and subnets, /calico, v1, config, and /emptydir');
    assert.strictEqual(c.endpoint, plain.endpoints[0]);
  });

  it('the cluster overview carries the count, and the summary says so', async () => {
    const o = await fetchClusterOverview(plain.clusterConfig(), plain.secrets());
    assert.ok(o.reachable);
    assertKeys(o.v2Store as V2StoreCheck, 3);
    assert.match(clusterSummary(o), /v2 store: 3 keys not in snapshots/);
  });

  it('snapshot save warns on stderr with the count and the backup command; run as given, the command keeps the keys', async () => {
    const dir = join(root, 'save');
    const r = await cli(['snapshot', 'save', `${dir}/`, '--endpoints', plain.endpoints[0]]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: This cluster holds 3 keys in the v2 store \(e\.g\. [^)]+\) that a snapshot does not contain\./);
    const line = r.stderr.split('\n').find((l) => l.includes('ETCDCTL_API=2 etcdctl backup'));
    assert.ok(line, r.stderr);
    const m = /ETCDCTL_API=2 etcdctl backup --data-dir ('[^']*'|\S+) --backup-dir (\S+)$/.exec(line);
    assert.ok(m, line);
    assert.strictEqual(m[1], "'<member data dir>'", 'the CLI cannot know the data dir of a remote member');
    assert.match(m[2], new RegExp(`^${dir}/\\d{8}_\\d{6}_v2backup$`), 'a new folder beside the snapshot');
    // Run it as printed, with the member's data dir in place of the placeholder.
    const backup = m[2];
    const b = await run(ETCDCTL_BIN, ['backup', '--data-dir', plain.members[0].dataDir, '--backup-dir', backup], { ETCDCTL_API: '2' });
    assert.strictEqual(b.code, 0, b.stderr);
    assert.deepStrictEqual(readdirSync(join(backup, 'member')).sort(), ['snap', 'wal']);
    // etcd on the backup, as a new 1-member cluster, serves the v2 keys again (hidden ones too).
    const slot = await newMemberSlot({ name: 'fromv2backup' });
    const member = await startMemberProcess({
      name: slot.name,
      dir: slot.dir,
      dataDir: backup,
      clientURL: slot.clientURL,
      peerURL: slot.peerURL,
      initialCluster: `${slot.name}=${slot.peerURL}`,
      initialClusterState: 'new',
      initialClusterToken: 'v2-backup-check',
      ports: slot.ports,
      extraArgs: ['--force-new-cluster', '--enable-v2'],
    });
    others.push(member);
    await member.waitHealthy(60_000);
    const again = await checkV2Store({ name: 'backup', endpoints: [slot.clientURL] });
    assertKeys(again, 3);
    assert.deepStrictEqual((await etcdctlV2Keys(slot.clientURL)).sort(), (await etcdctlV2Keys(plain.endpoints[0])).sort());
    const hidden = await run(ETCDCTL_BIN, ['--endpoints', slot.clientURL, 'get', '/_hidden'], { ETCDCTL_API: '2' });
    assert.strictEqual(hidden.stdout.trim(), 'not listed by the v2 API');
  });

  it('snapshot restore warns when this member\'s etcd file enables v2, with the backup command; not otherwise', async () => {
    const dir = join(root, 'restore');
    mkdirSync(dir);
    const saved = await cli(['snapshot', 'save', join(dir, 'snap.db'), '--endpoints', plain.endpoints[0]]);
    assert.strictEqual(saved.code, 0, saved.stderr);
    const envFile = join(dir, 'etcd.env');
    writeFileSync(envFile, `ETCD_NAME=m1\nETCD_DATA_DIR=${join(dir, 'old data')}\nETCD_ENABLE_V2=true\n`);
    const args = (dataDir: string, file: string): string[] => [
      'snapshot', 'restore', join(dir, 'snap.db'), '--name', 'm1', '--initial-cluster', 'm1=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster-token', 'tok-v2',
      '--data-dir', dataDir, '--etcd-file', file,
    ];
    const r = await cli(args(join(dir, 'new1'), envFile));
    assert.strictEqual(r.code, 0, r.stderr);
    const says =
      "Warning: The snapshot cannot hold v2 keys, and this member's etcd files enable the v2 API: " + `${envFile} (ETCD_ENABLE_V2=true)`;
    assert.ok(r.stderr.includes(says), r.stderr);
    assert.ok(r.stderr.includes(`ETCDCTL_API=2 etcdctl backup --data-dir '${join(dir, 'old data')}' --backup-dir`), r.stderr);
    const before = r.stderr.indexOf('Warning: The snapshot cannot hold') < r.stderr.indexOf('[ok  ]');
    assert.ok(before, 'the warning comes before the restore steps');
    writeFileSync(envFile, `ETCD_NAME=m1\nETCD_DATA_DIR=${join(dir, 'old data')}\n`);
    const quiet = await cli(args(join(dir, 'new2'), envFile));
    assert.strictEqual(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /v2 (keys|store|API)/);
  });

  it('a member without --enable-v2: "v2 API off", no warning on save', async () => {
    const c3 = await startCluster({ members: 1 });
    clusters.push(c3);
    const c = await checkV2Store(c3.clusterConfig(), c3.secrets());
    assert.deepStrictEqual(c, { state: 'off', endpoints: c3.endpoints });
    const o = await fetchClusterOverview(c3.clusterConfig(), c3.secrets());
    assert.strictEqual(o.v2Store?.state, 'off');
    const r = await cli(['snapshot', 'save', `${join(root, 'save-off')}/`, '--endpoints', c3.endpoints[0]]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /v2/);
  });

  it('TLS with --enable-v2: counted with the client certificate; a wrong CA is "not checked", insecureSkipVerify works', async () => {
    const t = await startCluster({ members: 1, tls: true, extraArgs: ['--enable-v2'] });
    clusters.push(t);
    await putV2(t, '/coreos.com/network/config', '{"Network":"10.2.0.0/16"}');
    await putV2(t, '/k2', 'v2');
    assertKeys(await checkV2Store(t.clusterConfig(), t.secrets()), 2);
    const cfg = t.clusterConfig();
    const wrongCa = await checkV2Store({ ...cfg, tls: { ...cfg.tls, caFile: plainCaOf(root) } });
    assert.strictEqual(wrongCa.state, 'notRun', JSON.stringify(wrongCa));
    assert.strictEqual((wrongCa as { kind: string }).kind, 'tls');
    assertKeys(await checkV2Store({ ...cfg, tls: { ...cfg.tls, caFile: undefined, insecureSkipVerify: true } }), 2);
    const tlsFlags = ['--cacert', cfg.tls?.caFile ?? '', '--cert', cfg.tls?.certFile ?? '', '--key', cfg.tls?.keyFile ?? ''];
    const r = await cli(['snapshot', 'save', `${join(root, 'save-tls')}/`, '--endpoints', t.endpoints[0], ...tlsFlags]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /holds 2 keys in the v2 store/);
  });

  it('v2 auth on (separate from v3): "not checked" without a v2 user, counted with one, refused password "not checked"', async () => {
    const a = await startCluster({ members: 1, extraArgs: ['--enable-v2'] });
    clusters.push(a);
    await putV2(a, '/secret/k', 'v');
    assert.strictEqual((await v2(a, 'PUT', '/v2/auth/users/root', undefined)).status >= 400, true, 'a user needs a JSON body');
    const put = await jsonPut(a.endpoints[0], '/v2/auth/users/root', { user: 'root', password: 'v2pw' });
    assert.strictEqual(put.status, 201, put.body);
    assert.strictEqual((await jsonPut(a.endpoints[0], '/v2/auth/enable', {})).status, 200);
    const guest = { role: 'guest', revoke: { kv: { read: ['/*'], write: ['/*'] } } };
    const revoke = await jsonPut(a.endpoints[0], '/v2/auth/roles/guest', guest, 'root:v2pw');
    assert.strictEqual(revoke.status, 200, revoke.body);
    const none = await checkV2Store(a.clusterConfig(), a.secrets());
    assert.strictEqual(none.state, 'notRun', JSON.stringify(none));
    assert.strictEqual((none as { kind: string }).kind, 'auth');
    assert.match((none as { reason: string }).reason, /v2 auth is on; its users are separate from v3's/);
    assertKeys(await checkV2Store({ ...a.clusterConfig(), username: 'root' }, { password: 'v2pw' }), 1);
    const wrong = await checkV2Store({ ...a.clusterConfig(), username: 'root' }, { password: 'nope' });
    assert.strictEqual(wrong.state, 'notRun');
    const r = await cli(['snapshot', 'save', `${join(root, 'save-auth')}/`, '--endpoints', a.endpoints[0]]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /The v2 store was not checked \(the v2 API of \S+ asks for credentials/);
  });

  it('--experimental-enable-v2v3: the v2 API is served from the v3 store, so the keys are in a snapshot (no warning)', async () => {
    // etcd 3.4.23's /health hangs in this mode, so the rig's start (which waits for it) is not used.
    const slot = await newMemberSlot({ name: 'v2v3' });
    const member = await startMemberProcess({
      name: slot.name,
      dir: slot.dir,
      dataDir: slot.dataDir,
      clientURL: slot.clientURL,
      peerURL: slot.peerURL,
      initialCluster: `${slot.name}=${slot.peerURL}`,
      initialClusterState: 'new',
      initialClusterToken: 'v2v3',
      ports: slot.ports,
      extraArgs: ['--enable-v2', '--experimental-enable-v2v3=/v2v3/'],
    });
    others.push(member);
    const e = { endpoints: [slot.clientURL], tls: undefined } as unknown as EtcdTestCluster;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await v2(e, 'PUT', '/v2/keys/foo', { value: 'bar' }).catch(() => ({ status: 0, body: '' }));
      if (r.status === 200 || r.status === 201) break;
      assert.ok(Date.now() < deadline, `the v2v3 member never took a write:\n${member.logTail()}`);
      await new Promise((r2) => setTimeout(r2, 200));
    }
    const c = await checkV2Store({ name: 'v2v3', endpoints: [slot.clientURL] });
    assert.deepStrictEqual(c, { state: 'emulated', endpoint: slot.clientURL, keys: 1 });
    const v3 = await run(ETCDCTL_BIN, ['--endpoints', slot.clientURL, 'get', '/v2v3/', '--prefix', '--keys-only'], { ETCDCTL_API: '3' });
    assert.ok(v3.stdout.includes('foo'), `the key is in the v3 store: ${v3.stdout}`);
    const r = await cli(['snapshot', 'save', `${join(root, 'save-v2v3')}/`, '--endpoints', slot.clientURL]);
    assert.doesNotMatch(r.stderr, /v2 store/);
  });

  it('a server that accepts and never answers, and a closed port: "not checked" within the deadline, never 0', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const c = await checkV2Store({ name: 'silent', endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 800 });
      assert.strictEqual(c.state, 'notRun');
      assert.strictEqual((c as { kind: string }).kind, 'timeout');
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      // A frozen member first and a good one after: the good one answers, without waiting out the frozen one.
      const t0 = Date.now();
      assertKeys(await checkV2Store({ name: 'mixed', endpoints: [`http://127.0.0.1:${port}`, plain.endpoints[0]], timeoutMs: 4000 }), 3);
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
    const closed = await checkV2Store({ name: 'closed', endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 800 });
    assert.strictEqual(closed.state, 'notRun');
    assert.strictEqual((closed as { kind: string }).kind, 'unreachable');
    // One member answers 404 (no v2 API), another cannot be reached: not "off" for the cluster.
    const notFound = http.createServer((_req, res) => res.writeHead(404).end('404 page not found\n'));
    await new Promise<void>((r) => notFound.listen(0, '127.0.0.1', r));
    try {
      const url404 = `http://127.0.0.1:${(notFound.address() as net.AddressInfo).port}`;
      const mixed = await checkV2Store({ name: 'mixed', endpoints: [url404, `http://127.0.0.1:${port}`], timeoutMs: 800 });
      assert.strictEqual(mixed.state, 'notRun', JSON.stringify(mixed));
      assert.match((mixed as { reason: string }).reason, new RegExp(`${url404} serves no v2 API`));
    } finally {
      notFound.close();
    }
  });
});

/** A CA that did not sign the TLS cluster's certificates (generated on first use). */
function plainCaOf(root: string): string {
  const dir = join(root, 'other-ca');
  mkdirSync(dir, { recursive: true });
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '1'];
  execFileSync('openssl', [...args, '-subj', '/CN=other-ca'], { stdio: 'ignore' });
  return join(dir, 'ca.crt');
}

function jsonPut(endpoint: string, path: string, body: unknown, basic?: string): Promise<{ status: number; body: string }> {
  const text = JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = http.request(new URL(path, endpoint), {
      method: 'PUT',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        ...(basic ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {}),
      },
    }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (out += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: out }));
    });
    req.on('error', fail);
    req.end(text);
  });
}
