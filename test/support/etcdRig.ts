/**
 * The real-etcd test rig: clusters of Debian's etcd 3.4 (/usr/bin/etcd) on free loopback ports,
 * each member in its own temp dir under os.tmpdir(), with its log in a file there.
 *
 * Plain Node: no `vscode` import and no mocha dependency (the mocha root hook lives in
 * mochaHooks.ts). Used by the integration tier, the VS Code tier and the demo script.
 *
 *   const cluster = await startCluster({ members: 3, tls: true });
 *   const conn = await EtcdConnection.open(cluster.clusterConfig(), cluster.secrets());
 *   await cluster.members[0].kill();          // lose a minority on purpose
 *   await cluster.etcdctl(['put', 'k', 'v']);  // etcdctl with the right flags
 *   await cluster.stop();                      // SIGTERM, SIGKILL after a grace, dirs removed
 *
 * Every process the rig starts is registered; `stopAllClusters()` (the mocha root hook) and
 * the process 'exit' handler kill leftovers even when a test fails, and each etcd runs under
 * `setpriv --pdeathsig SIGKILL` so it dies with the test process even when that is killed.
 * Set ETCD_RIG_KEEP=1 to keep the temp dirs (logs, data) after a run for debugging.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { ClusterConfig, ClusterSecrets } from '../../src/core/types';

export const ETCD_BIN = process.env.ETCD_RIG_ETCD || '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.ETCD_RIG_ETCDCTL || '/usr/bin/etcdctl';
const OPENSSL_BIN = 'openssl';
const SETPRIV_BIN = '/usr/bin/setpriv';

/**
 * Raft timing for tests. etcd's defaults are 100/1000 ms; these are the same, which stays
 * stable on a loaded 2-core machine (shorter elections flap there under parallel builds).
 */
export const HEARTBEAT_MS = 100;
export const ELECTION_MS = 1000;

const KEEP_DIRS = process.env.ETCD_RIG_KEEP === '1';

// ---------------------------------------------------------------------------------------
// Types

/** Paths of the generated PKI, laid out as kubeadm lays out /etc/kubernetes/pki/etcd. */
export interface TestPki {
  dir: string;
  caFile: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  peerCert: string;
  peerKey: string;
  /** healthcheck-client.crt: the client certificate the tests use. */
  clientCert: string;
  /** healthcheck-client.key */
  clientKey: string;
}

/** Everything needed to start one etcd member process. */
export interface MemberSpec {
  name: string;
  dataDir: string;
  /** e.g. http://127.0.0.1:23791 (https:// when `tls` is given). */
  clientURL: string;
  peerURL: string;
  /** `--initial-cluster`, e.g. `m1=http://127.0.0.1:23801,m2=...`. */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  /** Serve client and peer traffic with these certs, client-cert auth on both. */
  tls?: TestPki;
  /** Where stdout/stderr go (appended). Default: `<dir>/etcd.log`. */
  logFile?: string;
  /** The member's own folder (log, and by default the data dir); removed by `remove()`. */
  dir?: string;
  /** More etcd flags, appended last (later flags win). */
  extraArgs?: string[];
  /** Extra environment variables for the etcd process. */
  env?: Record<string, string>;
  /** Claimed ports (from `newMemberSlot`) to release on `remove()`. */
  ports?: number[];
}

export interface EtcdctlResult {
  stdout: string;
  stderr: string;
  /** Exit code; -1 when killed (timeout). */
  code: number;
}

export interface EtcdctlOptions {
  /** Default: the client URLs of every member of the cluster. */
  endpoints?: string[];
  /** Default: the cluster's auth user (if any). `null`: no --user at all. */
  user?: string | null;
  /** Default: the password of `user` as the rig set it up. */
  password?: string;
  /** Written to etcdctl's stdin. */
  input?: string | Buffer;
  /** Kill etcdctl after this long (default 30 s). */
  timeoutMs?: number;
  /** Extra environment (e.g. ETCDCTL_* variables). */
  env?: Record<string, string>;
}

export interface StartClusterOptions {
  members?: 1 | 3;
  tls?: boolean;
  /**
   * Turn etcd auth on. `root` always gets a password (`rootPassword`, default `password`);
   * when `user` is not root it is created too, with read-write access to every key from "!"
   * on (all printable keys), and `clusterConfig()` uses it.
   */
  auth?: { user?: string; password: string; rootPassword?: string };
  /** Cluster name (ClusterConfig.name, member name prefix). Default: rig-<n>. */
  name?: string;
  /** Parent folder for the members' temp dirs. Default: os.tmpdir(). */
  dataRoot?: string;
  /** More etcd flags for every member. */
  extraArgs?: string[];
  /** Time allowed to become healthy (default 60 s). */
  timeoutMs?: number;
  /** ClusterConfig.timeoutMs (default 5000). */
  clientTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------
// Registry and cleanup

const liveMembers = new Set<TestMember>();
const liveClusters = new Set<EtcdTestCluster>();
/** Temp dirs to remove at exit (certs, member dirs not removed by a stop). */
const tempDirs = new Set<string>();
let exitHandlersInstalled = false;

function installExitHandlers(): void {
  if (exitHandlersInstalled) {
    return;
  }
  exitHandlersInstalled = true;
  process.on('exit', () => killAllSync());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync();
      // Nobody else listens: die of the signal as the default action would have.
      if (process.listenerCount(sig) === 0) {
        process.kill(process.pid, sig);
      }
    };
    process.once(sig, onSignal);
  }
}

/** SIGKILL every registered etcd and remove the temp dirs, synchronously (exit handler). */
export function killAllSync(): void {
  for (const m of liveMembers) {
    if (m.pid && m.running) {
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  liveMembers.clear();
  for (const c of liveClusters) {
    c.releasePortsSync();
  }
  liveClusters.clear();
  releaseAllPortsSync();
  if (!KEEP_DIRS) {
    for (const d of tempDirs) {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }
  tempDirs.clear();
}

/** Stop every cluster and member the rig started in this process (mocha root hook). */
export async function stopAllClusters(): Promise<void> {
  await Promise.allSettled([...liveClusters].map((c) => c.stop()));
  await Promise.allSettled([...liveMembers].map((m) => m.stop()));
}

/** Clusters not stopped yet (tests can assert they cleaned up). */
export function liveClusterCount(): number {
  return liveClusters.size;
}

function makeTempDir(parent: string, prefix: string): string {
  fs.mkdirSync(parent, { recursive: true });
  const d = fs.mkdtempSync(path.join(parent, prefix));
  tempDirs.add(d);
  return d;
}

function removeTempDir(d: string): void {
  tempDirs.delete(d);
  if (!KEEP_DIRS) {
    fs.rmSync(d, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Ports

/**
 * Ports handed out in this process. Other test processes are kept off them by a claim file
 * per port in a shared folder (<tmp>/etcd-rig-ports/<port>, holding the owner's pid); a claim
 * whose pid is gone is taken over.
 */
const myPorts = new Set<number>();
const PORT_DIR = path.join(os.tmpdir(), 'etcd-rig-ports');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function claimPort(port: number): boolean {
  if (myPorts.has(port)) {
    return false;
  }
  if (!fs.existsSync(PORT_DIR)) {
    fs.mkdirSync(PORT_DIR, { recursive: true });
    try {
      fs.chmodSync(PORT_DIR, 0o1777); // shared by every user's test runs, like /tmp
    } catch {
      // another user's folder: claims still work if it is writable
    }
  }
  const file = path.join(PORT_DIR, String(port));
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      myPorts.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
      const owner = Number(fs.readFileSync(file, 'utf8').trim());
      if (owner && owner !== process.pid && pidAlive(owner)) {
        return false;
      }
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}

/** Give a port back (the cluster or member using it has stopped). */
export function releasePort(port: number): void {
  if (myPorts.delete(port)) {
    fs.rmSync(path.join(PORT_DIR, String(port)), { force: true });
  }
}

function releaseAllPortsSync(): void {
  for (const p of [...myPorts]) {
    releasePort(p);
  }
}

function bindZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free loopback port (the kernel's pick for port 0 on 127.0.0.1), claimed for this process
 * until `releasePort` or exit. Concurrent test processes never get the same port.
 */
export async function allocatePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await bindZero();
    if (port && claimPort(port)) {
      return port;
    }
  }
  throw new Error('etcdRig: could not find a free loopback port in 50 tries.');
}

// ---------------------------------------------------------------------------------------
// Small process helpers

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<EtcdctlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 30000, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(new Error(`etcdRig: cannot run ${cmd}: ${err.message}`));
          return;
        }
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
    if (opts.input !== undefined) {
      child.stdin?.end(opts.input);
    } else {
      child.stdin?.end();
    }
  });
}

async function runOk(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`etcdRig: ${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// PKI

/**
 * Generate a CA and server, peer and client certificates with openssl into `dir`, named as
 * kubeadm names them in /etc/kubernetes/pki/etcd. Server and peer certs carry
 * DNS:localhost, IP:127.0.0.1 and IP:::1 and both serverAuth and clientAuth (peers are
 * clients of each other). Keys are 0600.
 */
export async function generatePki(dir: string, opts: { cn?: string; days?: number } = {}): Promise<TestPki> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = String(opts.days ?? 3);
  const p = (f: string): string => path.join(dir, f);
  await runOk(OPENSSL_BIN, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', days,
    '-subj', `/CN=${opts.cn ?? 'etcd-ca'}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
  ]);
  const san = 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1';
  const leaf = async (base: string, subj: string, eku: string): Promise<void> => {
    fs.writeFileSync(p(`${base}.ext`), ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${eku}`, san, ''].join('\n'));
    await runOk(OPENSSL_BIN, ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', p(`${base}.key`), '-out', p(`${base}.csr`), '-subj', subj]);
    const serial = `0x${Buffer.from(Array.from({ length: 8 }, () => Math.floor(Math.random() * 256))).toString('hex')}`;
    await runOk(OPENSSL_BIN, [
      'x509', '-req', '-sha256', '-in', p(`${base}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
      '-set_serial', serial, '-days', days, '-out', p(`${base}.crt`), '-extfile', p(`${base}.ext`),
    ]);
    fs.rmSync(p(`${base}.csr`), { force: true });
    fs.rmSync(p(`${base}.ext`), { force: true });
  };
  await Promise.all([
    leaf('server', '/CN=localhost', 'serverAuth,clientAuth'),
    leaf('peer', '/CN=localhost', 'serverAuth,clientAuth'),
    leaf('healthcheck-client', '/O=system:masters/CN=kube-etcd-healthcheck-client', 'clientAuth'),
  ]);
  for (const f of fs.readdirSync(dir)) {
    fs.chmodSync(p(f), f.endsWith('.key') ? 0o600 : 0o644);
  }
  return {
    dir,
    caFile: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    peerCert: p('peer.crt'),
    peerKey: p('peer.key'),
    clientCert: p('healthcheck-client.crt'),
    clientKey: p('healthcheck-client.key'),
  };
}

let sharedPki: Promise<TestPki> | undefined;

/** The PKI shared by every TLS cluster of this process (generated once, removed at exit). */
export function testPki(): Promise<TestPki> {
  if (!sharedPki) {
    installExitHandlers();
    const dir = makeTempDir(os.tmpdir(), 'etcd-rig-pki-');
    sharedPki = generatePki(path.join(dir, 'etcd'));
    sharedPki.catch(() => {
      sharedPki = undefined;
    });
  }
  return sharedPki;
}

// ---------------------------------------------------------------------------------------
// Health

/** GET `path` on a member's client URL (with the client cert when `pki` is given). Never throws. */
export function httpGet(clientURL: string, urlPath: string, pki?: TestPki, timeoutMs = 2000): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const url = new URL(urlPath, clientURL);
    const isHttps = url.protocol === 'https:';
    const opts: https.RequestOptions = { method: 'GET', timeout: timeoutMs, agent: false };
    if (isHttps && pki) {
      opts.ca = fs.readFileSync(pki.caFile);
      opts.cert = fs.readFileSync(pki.clientCert);
      opts.key = fs.readFileSync(pki.clientKey);
    }
    const req = (isHttps ? https : http).request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: 0, body, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    req.end();
  });
}

/**
 * GET <clientURL>/health once. True when etcd answers {"health":"true"} (a leader, no alarm,
 * a read went through). TLS: with the client cert when `pki` is given.
 */
export async function probeHealth(clientURL: string, pki?: TestPki, timeoutMs = 2000): Promise<{ healthy: boolean; detail: string }> {
  const r = await httpGet(clientURL, '/health', pki, timeoutMs);
  if (r.error) {
    return { healthy: false, detail: r.error };
  }
  try {
    const j = JSON.parse(r.body) as { health?: string | boolean };
    return { healthy: r.status === 200 && String(j.health) === 'true', detail: r.body.trim() };
  } catch {
    return { healthy: false, detail: `HTTP ${r.status}: ${r.body.trim()}` };
  }
}

// ---------------------------------------------------------------------------------------
// Members

/** One etcd member process (which may be stopped, killed, restarted or wiped). */
export class TestMember {
  readonly name: string;
  readonly clientURL: string;
  readonly peerURL: string;
  readonly dataDir: string;
  /** The member's own folder (its log; its data dir unless the spec put it elsewhere). */
  readonly dir: string;
  readonly logFile: string;
  /** Set after the first start: restarts join with `--initial-cluster-state existing`. */
  private started = false;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  /** How the last process ended (undefined while running or never started). */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Ports this member owns (released on `remove()`). */
  readonly ports: number[] = [];

  constructor(readonly spec: MemberSpec) {
    installExitHandlers();
    this.name = spec.name;
    this.clientURL = spec.clientURL;
    this.peerURL = spec.peerURL;
    this.dataDir = spec.dataDir;
    this.dir = spec.dir ?? path.dirname(spec.dataDir);
    this.logFile = spec.logFile ?? path.join(this.dir, 'etcd.log');
    this.ports.push(...(spec.ports ?? []));
  }

  /** The pid of the running etcd, undefined when not running. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  /** The etcd command line (without the binary), as the next start would use it. */
  args(state: 'new' | 'existing' = this.started ? 'existing' : this.spec.initialClusterState): string[] {
    const s = this.spec;
    const a = [
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=${s.clientURL}`,
      `--advertise-client-urls=${s.clientURL}`,
      `--listen-peer-urls=${s.peerURL}`,
      `--initial-advertise-peer-urls=${s.peerURL}`,
      `--initial-cluster=${s.initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=${s.initialClusterToken}`,
      `--heartbeat-interval=${HEARTBEAT_MS}`,
      `--election-timeout=${ELECTION_MS}`,
      '--snapshot-count=5000',
      '--logger=zap',
      '--log-outputs=stderr',
    ];
    if (s.tls) {
      a.push(
        `--cert-file=${s.tls.serverCert}`,
        `--key-file=${s.tls.serverKey}`,
        '--client-cert-auth=true',
        `--trusted-ca-file=${s.tls.caFile}`,
        `--peer-cert-file=${s.tls.peerCert}`,
        `--peer-key-file=${s.tls.peerKey}`,
        '--peer-client-cert-auth=true',
        `--peer-trusted-ca-file=${s.tls.caFile}`,
      );
    }
    a.push(...(s.extraArgs ?? []));
    return a;
  }

  /**
   * Start the etcd process (no-op when running). Resolves once the process has spawned; use
   * `waitHealthy()` to wait for it to serve. After the first start, restarts say
   * `--initial-cluster-state existing` (etcd ignores it when the data dir exists; after a
   * `wipe()` see `EtcdTestCluster.rejoinEmpty`). `state` overrides the cluster state flag.
   */
  async start(state?: 'new' | 'existing'): Promise<void> {
    if (this.running) {
      return;
    }
    fs.mkdirSync(this.dir, { recursive: true });
    const args = this.args(state);
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `\n==== etcdRig: start ${new Date().toISOString()}: ${ETCD_BIN} ${args.join(' ')}\n`);
    const usePdeath = fs.existsSync(SETPRIV_BIN);
    const [cmd, argv] = usePdeath ? [SETPRIV_BIN, ['--pdeathsig', 'SIGKILL', '--', ETCD_BIN, ...args]] : [ETCD_BIN, args];
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, {
        stdio: ['ignore', out, out],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...(this.spec.env ?? {}) },
      });
    } finally {
      fs.closeSync(out);
    }
    this.child = child;
    this.lastExit = undefined;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.lastExit = { code, signal };
        liveMembers.delete(this);
        resolve({ code, signal });
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`etcdRig: cannot start ${ETCD_BIN}: ${err.message}`)));
    });
    liveMembers.add(this);
    this.started = true;
  }

  /** Resolves when the current process exits (at once when none runs). */
  async exited(): Promise<void> {
    if (this.running && this.exitPromise) {
      await this.exitPromise;
    }
  }

  /** SIGKILL, and wait for the process to be gone. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM; SIGKILL when still running after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) {
      return;
    }
    const exited = this.exitPromise as Promise<unknown>;
    child.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) {
      return;
    }
    const exited = this.exitPromise as Promise<unknown>;
    child.kill(sig);
    await exited;
  }

  /** Remove the member's data dir (stops the member first). */
  async wipe(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The last `lines` lines of the member's log. */
  logTail(lines = 40): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8');
      return text.split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** One /health probe. */
  health(timeoutMs = 2000): Promise<{ healthy: boolean; detail: string }> {
    return probeHealth(this.clientURL, this.spec.tls, timeoutMs);
  }

  /**
   * Whether this member says it is the leader (`etcd_server_is_leader` on /metrics): cheap,
   * no etcdctl. Undefined when it does not answer.
   */
  async isLeader(timeoutMs = 1000): Promise<boolean | undefined> {
    if (!this.running) {
      return false;
    }
    const r = await httpGet(this.clientURL, '/metrics', this.spec.tls, timeoutMs);
    const m = /^etcd_server_is_leader\s+(\d)/m.exec(r.body);
    return m ? m[1] === '1' : undefined;
  }

  /** Poll /health until it says true; fail early (with the log tail) if the process exits. */
  async waitHealthy(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      if (!this.running) {
        throw new Error(`etcdRig: member ${this.name} is not running (${exitText(this.lastExit)}). Log tail:\n${this.logTail()}`);
      }
      const h = await this.health(Math.min(2000, Math.max(200, deadline - Date.now())));
      if (h.healthy) {
        return;
      }
      last = h.detail;
      if (Date.now() > deadline) {
        throw new Error(`etcdRig: member ${this.name} (${this.clientURL}) not healthy after ${timeoutMs} ms: ${last}. Log tail:\n${this.logTail()}`);
      }
      await sleep(100);
    }
  }

  /** Stop, release the ports and remove the member's folder (log and data). */
  async remove(): Promise<void> {
    await this.stop();
    liveMembers.delete(this);
    for (const p of this.ports) {
      releasePort(p);
    }
    if (this.spec.dir || tempDirs.has(this.dir)) {
      removeTempDir(this.dir);
    }
  }
}

function exitText(e: { code: number | null; signal: NodeJS.Signals | null } | undefined): string {
  if (!e) {
    return 'never started';
  }
  return e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
}

/**
 * Start a NEW member process from explicit flags (member replacement, restored data dirs).
 * The member is registered for cleanup; call `member.remove()` (or `stopAllClusters()`) when
 * done. Resolves once spawned; `await member.waitHealthy()` to wait for it to serve.
 */
export async function startMemberProcess(spec: MemberSpec): Promise<TestMember> {
  const m = new TestMember(spec);
  await m.start();
  return m;
}

/** Where a new member will live: its folder, data dir and URLs on claimed ports. */
export interface MemberSlot {
  name: string;
  /** The member's own temp folder (its log goes here; removed by `TestMember.remove()`). */
  dir: string;
  /** `<dir>/<name>.etcd` (not created). */
  dataDir: string;
  clientURL: string;
  peerURL: string;
  ports: number[];
}

/**
 * A temp dir and two claimed free ports for a member that is not part of a rig cluster yet
 * (e.g. the replacement in a member-replacement drill). The caller builds the MemberSpec.
 */
export async function newMemberSlot(opts: { name: string; tls?: boolean; dataRoot?: string }): Promise<MemberSlot> {
  installExitHandlers();
  const scheme = opts.tls ? 'https' : 'http';
  const [clientPort, peerPort] = [await allocatePort(), await allocatePort()];
  const dir = makeTempDir(opts.dataRoot ?? os.tmpdir(), `etcd-rig-${safeName(opts.name)}-`);
  return {
    name: opts.name,
    dir,
    dataDir: path.join(dir, `${opts.name}.etcd`),
    clientURL: `${scheme}://127.0.0.1:${clientPort}`,
    peerURL: `${scheme}://127.0.0.1:${peerPort}`,
    ports: [clientPort, peerPort],
  };
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

// ---------------------------------------------------------------------------------------
// Clusters

let clusterCounter = 0;

/** A cluster the rig started. */
export class EtcdTestCluster {
  /** Client URLs, one per member, in member order. */
  readonly endpoints: string[];
  readonly tls: TestPki | undefined;
  /** Auth as set up (undefined when auth is off). */
  readonly auth: { user: string; password: string; rootPassword: string } | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    readonly members: TestMember[],
    readonly token: string,
    tls: TestPki | undefined,
    auth: { user: string; password: string; rootPassword: string } | undefined,
    private readonly clientTimeoutMs: number,
  ) {
    this.endpoints = members.map((m) => m.clientURL);
    this.tls = tls;
    this.auth = auth;
  }

  /**
   * Count `m` (e.g. started with `startMemberProcess`) as a member of this cluster: it is in
   * `members` and `endpoints` (etcdctl's default endpoints) and `stop()` stops and removes it.
   */
  adopt(m: TestMember): void {
    if (!this.members.includes(m)) {
      this.members.push(m);
      this.endpoints.push(m.clientURL);
    }
  }

  /**
   * Stop counting `m` as a member (it was removed from the etcd cluster): out of `members` and
   * `endpoints`. Its process and folder are left alone (`m.remove()` cleans them up).
   */
  forget(m: TestMember): void {
    const i = this.members.indexOf(m);
    if (i >= 0) {
      this.members.splice(i, 1);
    }
    const j = this.endpoints.indexOf(m.clientURL);
    if (j >= 0) {
      this.endpoints.splice(j, 1);
    }
  }

  /**
   * Add a new member the way an operator does: `etcdctl member add` (as a learner when asked;
   * retried while etcd refuses for its 5 s reconfiguration window), then start it empty with
   * `--initial-cluster-state existing` and the initial cluster etcd answered, and wait until
   * it serves. The member is adopted by the cluster.
   */
  async addMember(opts: { name?: string; learner?: boolean; timeoutMs?: number; extraArgs?: string[] } = {}): Promise<TestMember> {
    const name = opts.name ?? `${safeName(this.name)}-m${this.members.length + 1}-${Date.now().toString(36)}`;
    const slot = await newMemberSlot({ name, tls: Boolean(this.tls), dataRoot: path.dirname(this.members[0]?.dir ?? os.tmpdir()) });
    const deadline = Date.now() + (opts.timeoutMs ?? 30000);
    let out = '';
    for (;;) {
      const r = await this.etcdctl(['member', 'add', name, `--peer-urls=${slot.peerURL}`, ...(opts.learner ? ['--learner'] : [])]);
      if (r.code === 0) {
        out = r.stdout;
        break;
      }
      if (!/unhealthy cluster/i.test(r.stderr) || Date.now() > deadline) {
        for (const p of slot.ports) {
          releasePort(p);
        }
        removeTempDir(slot.dir);
        throw new Error(`etcdRig: etcdctl member add ${name} failed (${r.code}): ${r.stderr.trim()}`);
      }
      await sleep(300);
    }
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(out)?.[1];
    if (!initialCluster) {
      throw new Error(`etcdRig: etcdctl member add printed no ETCD_INITIAL_CLUSTER: ${out}`);
    }
    const m = await startMemberProcess({
      name,
      dir: slot.dir,
      dataDir: slot.dataDir,
      clientURL: slot.clientURL,
      peerURL: slot.peerURL,
      initialCluster,
      initialClusterState: 'existing',
      initialClusterToken: this.token,
      tls: this.tls,
      ports: slot.ports,
      extraArgs: opts.extraArgs,
    });
    this.adopt(m);
    await m.waitHealthy(Math.max(1000, deadline - Date.now()));
    return m;
  }

  /** `--initial-cluster` of the cluster as started. */
  get initialCluster(): string {
    return this.members.map((m) => `${m.name}=${m.peerURL}`).join(',');
  }

  /** The member by name. */
  member(name: string): TestMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) {
      throw new Error(`etcdRig: no member ${name} in cluster ${this.name}`);
    }
    return m;
  }

  /** A ClusterConfig ready for EtcdConnection.open (TLS files and username included). */
  clusterConfig(overrides: Partial<ClusterConfig> = {}): ClusterConfig {
    const cfg: ClusterConfig = { name: this.name, endpoints: [...this.endpoints], timeoutMs: this.clientTimeoutMs };
    if (this.tls) {
      cfg.tls = { caFile: this.tls.caFile, certFile: this.tls.clientCert, keyFile: this.tls.clientKey };
    }
    if (this.auth) {
      cfg.username = this.auth.user;
    }
    return { ...cfg, ...overrides };
  }

  /** The secrets for `clusterConfig()` (the user's password when auth is on). */
  secrets(): ClusterSecrets {
    return this.auth ? { password: this.auth.password } : {};
  }

  /** The password of `clusterConfig().username` (undefined without auth). */
  get password(): string | undefined {
    return this.auth?.password;
  }

  /** The global etcdctl flags for this cluster (endpoints, TLS files, user). */
  etcdctlFlags(opts: EtcdctlOptions = {}): string[] {
    const flags = [`--endpoints=${(opts.endpoints ?? this.endpoints).join(',')}`];
    if (this.tls) {
      flags.push(`--cacert=${this.tls.caFile}`, `--cert=${this.tls.clientCert}`, `--key=${this.tls.clientKey}`);
    }
    const user = opts.user === undefined ? this.auth?.user : opts.user;
    if (user) {
      const pw = opts.password ?? (user === 'root' ? this.auth?.rootPassword : user === this.auth?.user ? this.auth?.password : undefined) ?? '';
      flags.push(`--user=${user}`, `--password=${pw}`);
    }
    return flags;
  }

  /**
   * Run /usr/bin/etcdctl (ETCDCTL_API=3) with this cluster's flags, then `args`. Never throws
   * for a non-zero exit: look at `code`. A clean environment (no ETCDCTL_* from outside).
   */
  etcdctl(args: string[], opts: EtcdctlOptions = {}): Promise<EtcdctlResult> {
    return run(ETCDCTL_BIN, [...this.etcdctlFlags(opts), ...args], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 30000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ETCDCTL_API: '3', ...(opts.env ?? {}) },
    });
  }

  /** Like `etcdctl`, but throws (with stderr) on a non-zero exit; returns stdout. */
  async etcdctlOk(args: string[], opts: EtcdctlOptions = {}): Promise<string> {
    const r = await this.etcdctl(args, opts);
    if (r.code !== 0) {
      throw new Error(`etcdRig: etcdctl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r.stdout;
  }

  /** `etcdctl member list -w json`, ids converted to lowercase hex as etcdctl's table shows. */
  async memberListJson(opts: EtcdctlOptions = {}): Promise<{ clusterId: string; members: { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[] }> {
    // ids are uint64: parse them as text, not as JS numbers (they exceed 2^53).
    const out = (await this.etcdctlOk(['member', 'list', '-w', 'json'], opts)).replace(/"(ID|cluster_id|member_id)":(\d+)/g, '"$1":"$2"');
    const j = JSON.parse(out) as { header: { cluster_id: string }; members: { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[] };
    return {
      clusterId: BigInt(j.header.cluster_id).toString(16),
      members: j.members.map((m) => ({
        id: BigInt(m.ID).toString(16),
        name: m.name ?? '',
        peerURLs: m.peerURLs ?? [],
        clientURLs: m.clientURLs ?? [],
        isLearner: Boolean(m.isLearner),
      })),
    };
  }

  /**
   * `etcdctl endpoint status -w json` of one member (ids as lowercase hex). Throws when the
   * member does not answer within `timeoutMs`.
   */
  async memberStatus(m: TestMember, timeoutMs = 3000): Promise<{ endpoint: string; memberId: string; leaderId: string; raftTerm: string; raftIndex: string; isLearner: boolean; dbSize: number }> {
    const out = await this.etcdctlOk(['endpoint', 'status', '-w', 'json', `--command-timeout=${timeoutMs}ms`], { endpoints: [m.clientURL], timeoutMs: timeoutMs + 5000 });
    const j = JSON.parse(out.replace(/"(cluster_id|member_id|leader|raft_term|revision|raftTerm|raftIndex|raftAppliedIndex)":(\d+)/g, '"$1":"$2"')) as {
      Endpoint: string;
      Status: { header: { member_id: string }; leader: string; raftTerm: string; raftIndex: string; isLearner?: boolean; dbSize: number };
    }[];
    const st = j[0].Status;
    return {
      endpoint: j[0].Endpoint,
      memberId: BigInt(st.header.member_id).toString(16),
      leaderId: BigInt(st.leader ?? 0).toString(16),
      raftTerm: String(st.raftTerm),
      raftIndex: String(st.raftIndex),
      isLearner: Boolean(st.isLearner),
      dbSize: Number(st.dbSize),
    };
  }

  /** The member that is leader now (asked from every running member; undefined if none). */
  async leader(): Promise<TestMember | undefined> {
    const running = this.members.filter((m) => m.running);
    const st = await Promise.allSettled(running.map((m) => this.memberStatus(m)));
    for (let i = 0; i < running.length; i++) {
      const r = st[i];
      if (r.status === 'fulfilled' && r.value.leaderId === r.value.memberId) {
        return running[i];
      }
    }
    return undefined;
  }

  /**
   * Wait until the given members (default: all running) agree on one leader that is among
   * them, e.g. after killing the leader: a write proposed before the new election completes
   * waits out etcd's full request timeout (~7 s) and fails. Returns the leader.
   */
  async waitLeader(opts: { members?: TestMember[]; timeoutMs?: number } = {}): Promise<TestMember> {
    const which = opts.members ?? this.members.filter((m) => m.running);
    const deadline = Date.now() + (opts.timeoutMs ?? 30000);
    let last = '';
    for (;;) {
      const st = await Promise.allSettled(which.map((m) => this.memberStatus(m, 1000)));
      const ok = st.every((r) => r.status === 'fulfilled');
      if (ok) {
        const vals = st.map((r) => (r as PromiseFulfilledResult<{ memberId: string; leaderId: string }>).value);
        const leaders = new Set(vals.map((v) => v.leaderId));
        const leaderIdx = vals.findIndex((v) => v.memberId === vals[0].leaderId);
        if (leaders.size === 1 && leaderIdx >= 0) {
          return which[leaderIdx];
        }
        last = `leaders seen: ${[...leaders].join(', ')}`;
      } else {
        last = st.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message).split('\n')[0] : 'ok')).join('; ');
      }
      if (Date.now() > deadline) {
        throw new Error(`etcdRig: members ${which.map((m) => m.name).join(', ')} of ${this.name} did not agree on a leader among them: ${last}\n${this.logTails(15)}`);
      }
      await sleep(150);
    }
  }

  /**
   * Wait until every running member (or the named ones) answers /health with true. Fails
   * early with the log tail when a member that should serve has exited.
   */
  async waitHealthy(opts: { timeoutMs?: number; members?: TestMember[] } = {}): Promise<void> {
    const ms = opts.timeoutMs ?? 30000;
    const which = opts.members ?? this.members.filter((m) => m.running);
    if (!which.length) {
      throw new Error(`etcdRig: no member of cluster ${this.name} is running.`);
    }
    await Promise.all(which.map((m) => m.waitHealthy(ms)));
  }

  /** Start every member that is not running (e.g. after kills) and wait until all are healthy. */
  async startAll(timeoutMs = 30000): Promise<void> {
    await Promise.all(this.members.map((m) => m.start()));
    await this.waitHealthy({ timeoutMs, members: this.members });
  }

  /**
   * Bring back a member whose data is lost (after `wipe()`, or to simulate a replaced disk):
   * remove it from the cluster, wipe its data dir, add it again under the same name and peer
   * URL, and start it empty with `--initial-cluster-state existing`; it catches up from the
   * leader. (Restarting a wiped member under its old id makes etcd panic: "raft log corrupted,
   * truncated, or lost".) Needs quorum among the other members.
   */
  async rejoinEmpty(m: TestMember, timeoutMs = 30000): Promise<void> {
    await m.stop();
    const others = { endpoints: this.members.filter((x) => x !== m && x.running).map((x) => x.clientURL) };
    if (!others.endpoints.length) {
      throw new Error(`etcdRig: no other member of ${this.name} runs; cannot rejoin ${m.name}.`);
    }
    const deadline = Date.now() + timeoutMs;
    // etcd refuses reconfiguration for ~5 s after members (re)connect ("unhealthy cluster").
    const retry = async (args: string[]): Promise<string> => {
      for (;;) {
        const r = await this.etcdctl(args, others);
        if (r.code === 0) {
          return r.stdout;
        }
        if (!/unhealthy cluster|not enough started members|context deadline exceeded/i.test(r.stderr) || Date.now() > deadline) {
          throw new Error(`etcdRig: etcdctl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
        }
        await sleep(300);
      }
    };
    const list = await this.memberListJson(others);
    const old = list.members.find((x) => x.name === m.name || x.peerURLs.includes(m.peerURL));
    if (old) {
      await retry(['member', 'remove', old.id]);
    }
    fs.rmSync(m.dataDir, { recursive: true, force: true });
    await retry(['member', 'add', m.name, `--peer-urls=${m.peerURL}`]);
    await m.start('existing');
    await m.waitHealthy(Math.max(1000, deadline - Date.now()));
  }

  /** Log tails of every member, for a failure message. */
  logTails(lines = 30): string {
    return this.members.map((m) => `---- ${m.name} (${m.logFile})\n${m.logTail(lines)}`).join('\n');
  }

  /** Stop every member (SIGTERM, then SIGKILL after `graceMs`) and remove the temp dirs. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    // Followers first (together), the leader last: a leader told to stop hands leadership
    // over first, and waits for seconds when the member it hands to is stopping too
    // (measured: 7 s for three members stopped at once, 30 ms this way; TLS members take
    // ~1 s each to close their peer listener).
    const running = this.members.filter((m) => m.running);
    const leaderFlags = await Promise.all(running.map((m) => m.isLeader(500)));
    await Promise.all(running.filter((_, i) => leaderFlags[i] !== true).map((m) => m.stop(graceMs)));
    await Promise.all(running.filter((_, i) => leaderFlags[i] === true).map((m) => m.stop(graceMs)));
    await Promise.all(this.members.map((m) => m.remove()));
    liveClusters.delete(this);
  }

  /** @internal exit handler */
  releasePortsSync(): void {
    for (const m of this.members) {
      for (const p of m.ports) {
        releasePort(p);
      }
    }
  }
}

function addressInUse(m: TestMember): boolean {
  return /address already in use/i.test(m.logTail(60));
}

/**
 * Start a fresh cluster of 1 or 3 members (concurrently) on free loopback ports, wait until
 * every member is healthy, and set up auth if asked. On failure everything started is
 * stopped and removed, and the error carries the members' log tails.
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<EtcdTestCluster> {
  installExitHandlers();
  const n = opts.members ?? 1;
  clusterCounter += 1;
  const name = opts.name ?? `rig-${process.pid}-${clusterCounter}`;
  const pki = opts.tls ? await testPki() : undefined;
  const scheme = pki ? 'https' : 'http';
  const timeoutMs = opts.timeoutMs ?? 60000;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const token = `${safeName(name)}-${process.pid}-${Date.now().toString(36)}-${attempt}`;
    const slots: { name: string; dir: string; clientPort: number; peerPort: number }[] = [];
    for (let i = 1; i <= n; i++) {
      const memberName = `${safeName(name)}-m${i}`;
      slots.push({
        name: memberName,
        dir: makeTempDir(opts.dataRoot ?? os.tmpdir(), `etcd-rig-${memberName}-`),
        clientPort: await allocatePort(),
        peerPort: await allocatePort(),
      });
    }
    const initialCluster = slots.map((s) => `${s.name}=${scheme}://127.0.0.1:${s.peerPort}`).join(',');
    const members = slots.map((s) => {
      const m = new TestMember({
        name: s.name,
        dir: s.dir,
        dataDir: path.join(s.dir, `${s.name}.etcd`),
        clientURL: `${scheme}://127.0.0.1:${s.clientPort}`,
        peerURL: `${scheme}://127.0.0.1:${s.peerPort}`,
        initialCluster,
        initialClusterState: 'new',
        initialClusterToken: token,
        tls: pki,
        extraArgs: opts.extraArgs,
      });
      m.ports.push(s.clientPort, s.peerPort);
      return m;
    });
    const authInfo = opts.auth
      ? { user: opts.auth.user ?? 'root', password: opts.auth.password, rootPassword: opts.auth.user && opts.auth.user !== 'root' ? (opts.auth.rootPassword ?? 'password') : opts.auth.password }
      : undefined;
    const cluster = new EtcdTestCluster(name, members, token, pki, authInfo, opts.clientTimeoutMs ?? 5000);
    liveClusters.add(cluster);
    try {
      await Promise.all(members.map((m) => m.start()));
      await cluster.waitHealthy({ timeoutMs, members });
      if (authInfo) {
        await enableAuth(cluster, authInfo);
      }
      return cluster;
    } catch (err) {
      lastErr = err;
      const retry = members.some(addressInUse);
      const tails = cluster.logTails();
      await cluster.stop(500);
      if (!retry) {
        throw new Error(`etcdRig: cluster ${name} (${n} member(s)${pki ? ', TLS' : ''}) did not start: ${(err as Error).message}\n${tails}`, { cause: err });
      }
    }
  }
  throw new Error(`etcdRig: cluster ${name} did not start after 3 tries (ports taken): ${(lastErr as Error)?.message}`);
}

async function enableAuth(cluster: EtcdTestCluster, a: { user: string; password: string; rootPassword: string }): Promise<void> {
  const noUser = { user: null } as const;
  await cluster.etcdctlOk(['user', 'add', `root:${a.rootPassword}`, '--interactive=false'], noUser);
  await cluster.etcdctlOk(['user', 'grant-role', 'root', 'root'], noUser);
  if (a.user !== 'root') {
    await cluster.etcdctlOk(['user', 'add', `${a.user}:${a.password}`, '--interactive=false'], noUser);
    await cluster.etcdctlOk(['role', 'add', 'rig-readwrite'], noUser);
    await cluster.etcdctlOk(['role', 'grant-permission', '--from-key', 'rig-readwrite', 'readwrite', '!'], noUser);
    await cluster.etcdctlOk(['user', 'grant-role', a.user, 'rig-readwrite'], noUser);
  }
  await cluster.etcdctlOk(['auth', 'enable'], noUser);
}
