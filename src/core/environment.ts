/**
 * The environment check: can this machine do what the extension needs? Loads etcd3 (which
 * parses its .proto files from disk, so this proves the bundle carries them), and finds the
 * etcd tools on PATH with their versions. Plain Node: no vscode import.
 */
import { execFile } from 'child_process';
import { constants, promises as fs } from 'fs';
import { delimiter, join } from 'path';
import { loadEtcd3 } from './etcd';

export interface ToolReport {
  /** The tool's name, e.g. "etcdctl". */
  name: string;
  /** Absolute path found, or undefined when the tool is not on PATH (or the given path). */
  path?: string;
  /** The first line of `<tool> version`, e.g. "etcdctl version: 3.4.23". */
  version?: string;
  /** Why the tool is missing or did not answer; one sentence. */
  problem?: string;
}

export interface EnvironmentReport {
  node: string;
  platform: string;
  etcd3: {
    loaded: boolean;
    /** etcd3's RPC clients (KV, Cluster, Maintenance...), available once its protos parsed. */
    clients: string[];
    /** The rpc.proto etcd3 parsed: dist/proto/rpc.proto in the bundle. */
    protoFile?: string;
    problem?: string;
  };
  tools: ToolReport[];
  /** How the snapshot reader computes etcd's CRC-32C hash: the hardware binding (its path) or plain JavaScript. */
  snapshotHash: { native: boolean; binding?: string };
}

/** Find an executable on PATH (or check an explicit path). */
export async function findExecutable(nameOrPath: string, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  const candidates = nameOrPath.includes('/')
    ? [nameOrPath]
    : envPath
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, nameOrPath));
  for (const c of candidates) {
    try {
      const st = await fs.stat(c);
      if (st.isFile()) {
        await fs.access(c, constants.X_OK);
        return c;
      }
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** Run `<tool> <args>` (its version question) with ETCDCTL_API=3; its output, or the error when it printed nothing. */
export function runVersion(path: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: timeoutMs, env: { ...process.env, ETCDCTL_API: '3' } }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`.trim();
      if (err && !out) {
        reject(err);
        return;
      }
      resolve(out);
    });
  });
}

/** Locate a tool and ask it for its version (spawned with an argument array). */
export async function inspectTool(name: string, configuredPath?: string, timeoutMs = 5000): Promise<ToolReport> {
  const path = await findExecutable(configuredPath || name);
  if (!path) {
    return {
      name,
      problem: configuredPath ? `${configuredPath} is not an executable file. Fix the path in the settings.` : `${name} is not on PATH.`,
    };
  }
  try {
    const out = await runVersion(path, ['version'], timeoutMs);
    const first = out.split('\n').find((l) => /version/i.test(l)) ?? out.split('\n')[0];
    return { name, path, version: first.trim() };
  } catch (err) {
    return { name, path, problem: `${path} version did not answer: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Names of etcd3's RPC client classes. */
function etcd3Clients(): string[] {
  const etcd3 = loadEtcd3() as unknown as Record<string, unknown>;
  // etcd3 exports one generated client class per service: KVClient, ClusterClient, ...
  return Object.keys(etcd3)
    .filter((k) => /^[A-Z][A-Za-z]+Client$/.test(k))
    .map((k) => k.replace(/Client$/, ''))
    .sort();
}

/** Where the rpc.proto etcd3 loads lives: next to the bundle, or in the etcd3 package. */
async function findProtoFile(): Promise<string | undefined> {
  const candidates = [join(__dirname, 'proto', 'rpc.proto')];
  try {
    candidates.push(join(require.resolve('etcd3/package.json'), '..', 'proto', 'rpc.proto'));
  } catch {
    // bundled: etcd3 is not resolvable as a package
  }
  for (const c of candidates) {
    try {
      await fs.access(c);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

export async function checkEnvironment(paths: { etcdctl?: string; etcdutl?: string } = {}): Promise<EnvironmentReport> {
  let etcd3: EnvironmentReport['etcd3'];
  try {
    // Requiring etcd3 parses rpc.proto from disk (it throws when the file is missing).
    const clients = etcd3Clients();
    // Constructing a client builds its connection pool; no connection is made until a call.
    const { Etcd3 } = loadEtcd3();
    const client = new Etcd3({ hosts: '127.0.0.1:1', dialTimeout: 100 });
    client.close();
    etcd3 = { loaded: true, clients, protoFile: await findProtoFile() };
  } catch (err) {
    etcd3 = {
      loaded: false,
      clients: [],
      problem: `etcd3 did not load: ${err instanceof Error ? err.message : String(err)}. Reinstall the extension.`,
    };
  }
  const tools = await Promise.all([inspectTool('etcdctl', paths.etcdctl), inspectTool('etcdutl', paths.etcdutl), inspectTool('etcd')]);
  // The snapshot reader, loaded here on purpose (this command checks what loads).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crc = require('./snapshot/crc32c') as typeof import('./snapshot/crc32c');
  const snapshotHash = crc.usesNativeCrc32c() ? { native: true, binding: crc.nativeCrc32cPath() } : { native: false };
  return { node: process.version, platform: `${process.platform}-${process.arch}`, etcd3, tools, snapshotHash };
}

/** The report as lines for the log. */
export function formatEnvironment(r: EnvironmentReport): string[] {
  const lines = [
    `Node ${r.node} on ${r.platform}`,
    r.etcd3.loaded
      ? `etcd3: loaded, protos parsed from ${r.etcd3.protoFile ?? 'rpc.proto'} (${r.etcd3.clients.join(', ')})`
      : `etcd3: ${r.etcd3.problem}`,
  ];
  lines.push(
    r.snapshotHash.native
      ? `snapshot hash: hardware CRC-32C (${r.snapshotHash.binding})`
      : 'snapshot hash: CRC-32C in JavaScript (no @node-rs/crc32 binding for this platform; same results, slower on large files)',
  );
  for (const t of r.tools) {
    lines.push(
      t.path ? `${t.name}: ${t.path}${t.version ? ` (${t.version})` : ''}${t.problem ? ` - ${t.problem}` : ''}` : `${t.name}: ${t.problem}`,
    );
  }
  return lines;
}
