/**
 * etcd access through the `etcd3` client. `etcd3` parses its .proto files when it is first
 * required, so it is loaded here on first use, never at extension activation.
 */
import { promises as fs } from 'fs';
import type { Etcd3, IOptions } from 'etcd3';
import { explain, EtcdBackupError } from './errors';
import { ClusterConfig, ClusterSecrets, DEFAULT_TIMEOUT_MS, EndpointStatus, MemberInfo } from './types';

let etcd3Module: typeof import('etcd3') | undefined;

/** Load etcd3 (and its protos) once, on first use. */
export function loadEtcd3(): typeof import('etcd3') {
  if (!etcd3Module) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    etcd3Module = require('etcd3') as typeof import('etcd3');
  }
  return etcd3Module;
}

/** True once etcd3 has been required (activation tests assert it stays false). */
export function isEtcd3Loaded(): boolean {
  return etcd3Module !== undefined;
}

/** Member ids come from etcd as decimal uint64 strings; etcdctl prints them in hex. */
export function toHexId(id: string | number | bigint | undefined): string {
  if (id === undefined || id === null || id === '') {
    return '0';
  }
  return BigInt(id).toString(16);
}

/** The reverse of {@link toHexId}: hex id to the decimal string etcd3 requests take. */
export function fromHexId(hex: string): string {
  return BigInt(`0x${hex.replace(/^0x/i, '')}`).toString(10);
}

async function readTlsFile(path: string, what: string, cluster: string): Promise<Buffer> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new EtcdBackupError('notFound', `The ${what} ${path} of cluster "${cluster}" does not exist. Fix the path in the cluster's settings.`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new EtcdBackupError('permission', `Cannot read the ${what} ${path} of cluster "${cluster}" (permission denied). Run as a user that can read it.`, { cause: err });
    }
    throw explain(err);
  }
}

/** Build etcd3 options for a cluster, reading the TLS files. Fails fast on missing files. */
export async function clientOptions(cfg: ClusterConfig, secrets: ClusterSecrets = {}, endpoints = cfg.endpoints): Promise<IOptions> {
  const timeout = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { noop } = loadCockatiel();
  const options: IOptions = {
    hosts: endpoints,
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    // The tree and the commands want a quick, honest answer, not three silent retries.
    faultHandling: { host: () => noop, global: noop },
  };
  if (cfg.tls && (cfg.tls.caFile || cfg.tls.certFile || cfg.tls.keyFile)) {
    options.credentials = {
      rootCertificate: cfg.tls.caFile ? await readTlsFile(cfg.tls.caFile, 'CA file', cfg.name) : (undefined as unknown as Buffer),
      certChain: cfg.tls.certFile ? await readTlsFile(cfg.tls.certFile, 'client certificate', cfg.name) : undefined,
      privateKey: cfg.tls.keyFile ? await readTlsFile(cfg.tls.keyFile, 'client key', cfg.name) : undefined,
    };
  }
  if (cfg.username) {
    options.auth = {
      username: cfg.username,
      password: secrets.password ?? '',
      callOptions: { deadline: Date.now() + timeout },
    };
  }
  return options;
}

function loadCockatiel(): { noop: import('cockatiel').IPolicy } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const c = require('cockatiel') as typeof import('cockatiel');
  return { noop: c.noop };
}

/**
 * A connection to one cluster. Close it when done; every call has the cluster's deadline.
 */
export class EtcdConnection {
  private readonly perEndpoint = new Map<string, Promise<Etcd3>>();

  private constructor(
    readonly config: ClusterConfig,
    private readonly secrets: ClusterSecrets,
    readonly client: Etcd3,
  ) {}

  static async open(cfg: ClusterConfig, secrets: ClusterSecrets = {}): Promise<EtcdConnection> {
    const { Etcd3 } = loadEtcd3();
    const options = await clientOptions(cfg, secrets);
    return new EtcdConnection(cfg, secrets, new Etcd3(options));
  }

  /** A client bound to a single endpoint (status, health and snapshots are per member). */
  async endpointClient(endpoint: string): Promise<Etcd3> {
    let c = this.perEndpoint.get(endpoint);
    if (!c) {
      c = clientOptions(this.config, this.secrets, [endpoint]).then((o) => new (loadEtcd3().Etcd3)(o));
      this.perEndpoint.set(endpoint, c);
    }
    return c;
  }

  /** `etcdctl member list`. */
  async listMembers(): Promise<MemberInfo[]> {
    try {
      const res = await this.client.cluster.memberList({ linearizable: false } as never);
      return (res.members ?? []).map((m) => ({
        id: toHexId(m.ID),
        name: m.name ?? '',
        peerURLs: m.peerURLs ?? [],
        clientURLs: m.clientURLs ?? [],
        isLearner: Boolean((m as { isLearner?: boolean }).isLearner),
      }));
    } catch (err) {
      throw explain(err, this.config.endpoints.join(','));
    }
  }

  /** `etcdctl endpoint status` for one endpoint. */
  async endpointStatus(endpoint: string): Promise<EndpointStatus> {
    try {
      const c = await this.endpointClient(endpoint);
      const s = await c.maintenance.status();
      return {
        endpoint,
        memberId: toHexId(s.header?.member_id),
        leaderId: toHexId(s.leader),
        version: s.version,
        dbSize: Number(s.dbSize),
        dbSizeInUse: Number((s as { dbSizeInUse?: string }).dbSizeInUse ?? s.dbSize),
        raftTerm: String(s.raftTerm),
        raftIndex: String(s.raftIndex),
        raftAppliedIndex: String((s as { raftAppliedIndex?: string }).raftAppliedIndex ?? s.raftIndex),
        isLearner: Boolean((s as { isLearner?: boolean }).isLearner),
        errors: (s as { errors?: string[] }).errors ?? [],
      };
    } catch (err) {
      throw explain(err, endpoint);
    }
  }

  close(): void {
    this.client.close();
    for (const c of this.perEndpoint.values()) {
      c.then((x) => x.close()).catch(() => undefined);
    }
    this.perEndpoint.clear();
  }
}
