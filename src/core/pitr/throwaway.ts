/**
 * A throwaway one-member etcd started from a snapshot on free loopback ports, for replaying a
 * change log into it. Like the trial restore (src/core/restore), but it stays up for the
 * caller and is stopped by it. Its data dir goes to /dev/shm when that is a tmpfs with room
 * (a replay is one fsync per revision: on tmpfs that costs nothing), else the temp dir.
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { freePort } from '../restore/restore';
import { findEtcdServer, findRestoreTool, FoundTool, restoreArgs, RestoreTool, ToolPaths } from '../tools';
import { EtcdConnection } from '../etcd';

export interface ThrowawayOptions {
  toolPaths?: ToolPaths;
  tool?: RestoreTool;
  etcd?: FoundTool;
  /** Parent of the temporary folder; default /dev/shm when it has room, else the OS temp dir. */
  tempParent?: string;
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /** Run etcd's Go code on one OS thread (GOMAXPROCS=1): see startThrowaway. */
  oneThread?: boolean;
}

export interface Throwaway {
  clientUrl: string;
  conn: EtcdConnection;
  /** The revision the restored member serves. */
  revision: number;
  /** Live keys at that revision. */
  keys: number;
  dir: string;
  stop(): Promise<void>;
}

function run(tool: RestoreTool, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool.path, args, { env: { ...process.env, ...tool.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (b: Buffer): void => {
      out = (out + b.toString('utf8')).slice(-32 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const onAbort = (): void => void child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => reject(new EtcdBackupError('toolMissing', `Could not run ${tool.path}: ${err.message}.`, { cause: err })));
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (code === 0) resolve(out);
      else
        reject(
          new EtcdBackupError(
            'corrupt',
            `${tool.kind} could not restore the base snapshot: ${out.trim().split('\n').pop() ?? `exit status ${code}`}`,
          ),
        );
    });
  });
}

async function tempParent(snapshotSize: number, given?: string): Promise<string> {
  if (given) return given;
  try {
    const st = await fs.statfs('/dev/shm');
    if (st.bavail * st.bsize > snapshotSize * 3 + (256 << 20)) return '/dev/shm';
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

function lastError(out: string): string {
  const lines = out.split('\n').filter((l) => l.trim());
  return ([...lines].reverse().find((l) => /error|fatal|panic/i.test(l)) ?? lines[lines.length - 1] ?? '').slice(0, 300);
}

async function waitServing(
  conn: EtcdConnection,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ revision: number; keys: number }> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    if (signal?.aborted) throw new EtcdBackupError('cancelled', 'Cancelled.');
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new EtcdBackupError('corrupt', `The etcd started from the base snapshot exited: ${lastError(output())}`);
    }
    if (Date.now() > deadline) {
      throw new EtcdBackupError(
        'timeout',
        `The etcd started from the base snapshot did not answer within ${Math.round(timeoutMs / 1000)} s (${lastErr}).`,
      );
    }
    try {
      const res = await conn.client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
      return { revision: Number(res.header.revision), keys: Number(res.count) };
    } catch (err) {
      lastErr = explain(err).message;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Restore `snapshot` into a temporary folder and start etcd on it. Stop it with `stop()`. */
export async function startThrowaway(snapshot: string, opts: ThrowawayOptions = {}): Promise<Throwaway> {
  const tool = opts.tool ?? (await findRestoreTool(opts.toolPaths));
  const etcd = opts.etcd ?? (await findEtcdServer(opts.toolPaths));
  const size = (await fs.stat(snapshot)).size;
  const dir = await fs.mkdtemp(join(await tempParent(size, opts.tempParent), 'etcd-backup-pitr-'));
  const dataDir = join(dir, 'data');
  let child: ChildProcess | undefined;
  let conn: EtcdConnection | undefined;
  const stop = async (): Promise<void> => {
    conn?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const clientUrl = `http://127.0.0.1:${await freePort()}`;
    const cluster = `pitr=${peerUrl}`;
    await run(
      tool,
      restoreArgs({
        snapshot,
        name: 'pitr',
        initialCluster: cluster,
        initialAdvertisePeerUrls: peerUrl,
        initialClusterToken: 'etcd-backup-pitr',
        dataDir,
      }),
      opts.signal,
    );
    const args = [
      '--name=pitr',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${cluster}`,
      '--initial-cluster-token=etcd-backup-pitr',
      '--quota-backend-bytes=8589934592',
      '--snapshot-count=1000000',
      '--max-txn-ops=100000',
      '--max-request-bytes=67108864',
      '--log-level=warn',
    ];
    // One OS thread for Go code: requests sent together are then proposed in the order they were
    // read far more often (measured: 2 % out of order with 64 in flight, against 25-50 % on two),
    // and the replay keeps a window of them in flight (src/core/pitr/materialize.ts).
    child = spawn(etcd.path, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.oneThread ? { GOMAXPROCS: '1' } : {}) },
    });
    let out = '';
    const keep = (b: Buffer): void => {
      out = (out + b.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', () => undefined);
    conn = await EtcdConnection.open({ name: 'point-in-time replay', endpoints: [clientUrl], timeoutMs: 30_000 });
    const served = await waitServing(conn, child, () => out, opts.startTimeoutMs ?? 60_000, opts.signal);
    return { clientUrl, conn, dir, stop, ...served };
  } catch (err) {
    await stop();
    throw err;
  }
}
