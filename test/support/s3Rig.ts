/**
 * A real S3 server for the tests: s3rver 3.7.1 (npm) as a child process on a free loopback
 * port, with a bucket made at start; a TCP proxy in front of it that can kill the server after
 * N bytes of a request (an S3 store that dies mid-upload); a server that accepts connections
 * and never answers; and Debian's `aws` CLI as the independent reader of what was written.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { createConnection, createServer, Server, Socket } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { allocatePort } from './etcdRig';

// The bundled VS Code suites run from out/test/runs/…: the driver names the repository then.
const REPO = process.env.ETCD_BACKUP_REPO || resolve(__dirname, '../..');
export const S3_KEY = 'S3RVER';
export const S3_SECRET = 'S3RVER';
export const AWS_BIN = '/usr/bin/aws';

export class S3Server {
  proc?: ChildProcess;
  constructor(
    public readonly dir: string,
    public port: number,
    public readonly buckets: string[],
    /** Serve https with this key and certificate. */
    public readonly tls?: { key: string; cert: string },
  ) {}

  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = [join(REPO, 'node_modules/s3rver/bin/s3rver.js'), '-d', this.dir, '-a', '127.0.0.1', '-p', String(this.port), '--silent'];
    for (const b of this.buckets) args.push('--configure-bucket', b);
    if (this.tls) args.push('--key', this.tls.key, '--cert', this.tls.cert);
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    let stderr = '';
    p.stderr?.on('data', (d) => (stderr += String(d)));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (p.exitCode !== null) throw new Error(`s3rver exited: ${stderr}`);
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`s3rver did not listen on ${this.port}: ${stderr}`);
  }

  kill(): void {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((done) => {
      p.once('exit', () => done());
      p.kill('SIGKILL');
    });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      done(true);
    });
    s.once('error', () => done(false));
  });
}

/** Start s3rver with `buckets` in a fresh folder. */
export async function startS3(buckets: string[] = ['backups'], tls?: { key: string; cert: string }): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const s = new S3Server(dir, await allocatePort(), buckets, tls);
  await s.start();
  return s;
}

/** Stop and remove its folder. */
export async function removeS3(s: S3Server): Promise<void> {
  await s.stop();
  rmSync(s.dir, { recursive: true, force: true });
}

/**
 * A proxy on a free port to `target`. `killAfterBytes(n, fn)` calls `fn` once the clients have
 * sent more than n bytes in total, then drops every connection.
 */
export class TcpProxy {
  server?: Server;
  port = 0;
  sent = 0;
  /** Bytes from the server to its clients. */
  received = 0;
  private downLimit?: { bytes: number; fn: () => void; fired: boolean };
  private sockets = new Set<Socket>();
  private limit?: { bytes: number; fn: () => void; fired: boolean };
  /** Until then, what clients send waits (a store that is slow to answer at first). */
  private holdUntil = 0;
  constructor(public target: number) {}

  async start(): Promise<void> {
    this.port = await allocatePort();
    this.server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.target });
      this.sockets.add(client).add(upstream);
      const held = this.holdUntil - Date.now();
      if (held > 0) {
        client.pause();
        setTimeout(() => client.resume(), held);
      }
      client.on('data', (d) => {
        this.sent += d.length;
        if (this.limit && !this.limit.fired && this.sent > this.limit.bytes) {
          this.limit.fired = true;
          this.limit.fn();
          this.dropAll();
          return;
        }
        upstream.write(d);
      });
      upstream.on('data', (d) => {
        this.received += d.length;
        const l = this.downLimit;
        if (l && !l.fired && this.received > l.bytes) {
          l.fired = true;
          l.fn();
          this.dropAll();
          return;
        }
        client.write(d);
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.server?.listen(this.port, '127.0.0.1', r));
  }

  /** For the next `ms`, connections opened meanwhile send nothing on (then all they sent). */
  holdFor(ms: number): void {
    this.holdUntil = Date.now() + ms;
  }

  killAfterBytes(bytes: number, fn: () => void): void {
    this.limit = { bytes, fn, fired: false };
  }

  /** Cut every connection once more than `bytes` came back from the server (a member dying mid-stream). */
  killAfterBytesFromServer(bytes: number, fn: () => void = () => undefined): void {
    this.received = 0;
    this.downLimit = { bytes, fn, fired: false };
  }

  disarm(): void {
    this.limit = undefined;
    this.downLimit = undefined;
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** A server that accepts connections and never says a word. */
export async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const port = await allocatePort();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Run Debian's aws CLI against `endpoint`. */
export function aws(endpoint: string, args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3_KEY,
      AWS_SECRET_ACCESS_KEY: S3_SECRET,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
    };
    const child = execFile(AWS_BIN, [
      '--endpoint-url',
      endpoint,
      ...args,
    ], { env, encoding: 'buffer', maxBuffer: 256 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: stdout.toString('latin1'), stderr: stderr.toString() });
    });
    if (input) child.stdin?.end(input);
  });
}

/** The object keys under `bucket/prefix`, as `aws s3api list-objects-v2` reports them. */
export async function awsKeys(endpoint: string, bucket: string, prefix = ''): Promise<string[]> {
  const r = await aws(
    endpoint,
    ['s3api', 'list-objects-v2', '--bucket', bucket, ...(prefix ? ['--prefix', prefix] : []), '--output', 'json'],
  );
  if (r.code !== 0) throw new Error(`aws s3api list-objects-v2 failed: ${r.stderr}`);
  const j = r.stdout.trim() ? (JSON.parse(r.stdout) as { Contents?: { Key: string }[] }) : {};
  return (j.Contents ?? []).map((c) => c.Key).sort();
}
