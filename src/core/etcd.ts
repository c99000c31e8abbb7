/**
 * etcd access through the `etcd3` client. `etcd3` parses its .proto files when it is first
 * required, so it is loaded here on first use, never at extension activation.
 */
import { promises as fs } from 'fs';
import type { Etcd3, IOptions } from 'etcd3';
import { assembleOverview, ClusterOverview, EndpointProbe, ProbeError, toProbeError } from './clusterStatus';
import { normalizeEndpoint } from './config';
import { causeText, explain, EtcdBackupError } from './errors';
import { ClusterConfig, ClusterSecrets, DEFAULT_TIMEOUT_MS, EndpointHealth, EndpointStatus, MemberInfo } from './types';
import { checkV2Store } from './v2store';

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
      throw new EtcdBackupError(
        'notFound',
        `The ${what} ${path} of cluster "${cluster}" does not exist. Fix the path in the cluster's settings.`,
        { cause: err },
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new EtcdBackupError(
        'permission',
        `Cannot read the ${what} ${path} of cluster "${cluster}" (permission denied). Run as a user that can read it.`,
        { cause: err },
      );
    }
    if (code === 'EISDIR') {
      throw new EtcdBackupError(
        'invalidInput',
        `The ${what} ${path} of cluster "${cluster}" is a folder, not a file. Pick the file in the cluster's settings.`,
        { cause: err },
      );
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
      // A function: each (re-)authentication gets its own deadline, not one fixed at creation.
      callOptions: () => ({ deadline: Date.now() + timeout }),
    };
  }
  return options;
}

/**
 * An etcd3 client for a cluster's options. With `tls.insecureSkipVerify` the server's
 * certificate is not verified (etcdctl's --insecure-skip-tls-verify): etcd3 builds its channel
 * credentials synchronously in its constructor with grpc.credentials.createSsl(root, key, cert)
 * and has no option for verify settings, so they are added for that one construction only.
 */
export function createClient(cfg: ClusterConfig, options: IOptions): Etcd3 {
  const { Etcd3: Client } = loadEtcd3();
  if (!cfg.tls?.insecureSkipVerify) {
    return new Client(options);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const original = grpc.credentials.createSsl;
  grpc.credentials.createSsl = (root, key, cert, verify) =>
    original(root, key, cert, { ...verify, rejectUnauthorized: false, checkServerIdentity: () => undefined });
  try {
    return new Client(options);
  } finally {
    grpc.credentials.createSsl = original;
  }
}

function loadCockatiel(): { noop: import('cockatiel').IPolicy } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const c = require('cockatiel') as typeof import('cockatiel');
  return { noop: c.noop };
}

/**
 * Reject with a `timeout` error when `promise` has not settled after `ms` (a guard above the
 * per-call gRPC deadline: connecting, authenticating and reading files count too).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, where: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EtcdBackupError(
            'timeout',
            `No answer from ${where} within ${ms} ms. Check that the member is up and reachable, or raise the cluster's timeout.`,
          ),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function toMember(m: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }): MemberInfo {
  return {
    id: toHexId(m.ID),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: Boolean(m.isLearner),
  };
}

const UNHEALTHY_CLUSTER =
  'etcd refused the membership change: not every voting member has been connected for the last 5 seconds (etcd ' +
  'checks this before any membership change). Bring the down members back, wait a few seconds, and try again.';

/** What `member add` answers: the new member and the member list after it. */
export interface MemberAddResult {
  member: MemberInfo;
  members: MemberInfo[];
}

/**
 * A connection to one cluster. Close it when done; every call has the cluster's deadline.
 */
export class EtcdConnection {
  private readonly perEndpoint = new Map<string, Promise<Etcd3>>();
  /** The endpoint that answered last: member changes go there first. */
  private preferred: string | undefined;

  private constructor(
    readonly config: ClusterConfig,
    private readonly secrets: ClusterSecrets,
    readonly client: Etcd3,
  ) {}

  static async open(cfg: ClusterConfig, secrets: ClusterSecrets = {}): Promise<EtcdConnection> {
    const options = await clientOptions(cfg, secrets);
    return new EtcdConnection(cfg, secrets, createClient(cfg, options));
  }

  /** The cluster's dial/request deadline in ms. */
  get timeoutMs(): number {
    return this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A client bound to a single endpoint (status, health and snapshots are per member). */
  async endpointClient(endpoint: string): Promise<Etcd3> {
    let c = this.perEndpoint.get(endpoint);
    if (!c) {
      c = clientOptions(this.config, this.secrets, [endpoint]).then((o) => createClient(this.config, o));
      this.perEndpoint.set(endpoint, c);
      // A failed creation (missing TLS file) must not stick: the next call tries again.
      c.catch(() => this.perEndpoint.delete(endpoint));
    }
    return c;
  }

  /**
   * Run `fn` against the first endpoint that works: the one that answered last, then every
   * configured endpoint at once (the first success wins, so a dead member costs nothing).
   * Errors from etcd itself (not connection errors) are returned at once.
   */
  private async onAnyEndpoint<T>(what: string, fn: (c: Etcd3, endpoint: string) => Promise<T>): Promise<T> {
    const attempt = async (endpoint: string): Promise<T> => {
      try {
        const c = await this.endpointClient(endpoint);
        const v = await withDeadline(fn(c, endpoint), this.timeoutMs + 1000, endpoint);
        this.preferred = endpoint;
        return v;
      } catch (err) {
        throw explain(err, endpoint);
      }
    };
    if (this.preferred) {
      try {
        return await attempt(this.preferred);
      } catch (err) {
        if (!isConnectionError(explain(err)) || causeText(err).includes('etcdserver:')) {
          throw err;
        }
        this.preferred = undefined;
      }
    }
    const endpoints = this.config.endpoints;
    return new Promise<T>((resolve, reject) => {
      const errors: EtcdBackupError[] = [];
      let done = false;
      for (const ep of endpoints) {
        attempt(ep).then(
          (v) => {
            if (!done) {
              done = true;
              resolve(v);
            }
          },
          (err) => {
            const e = explain(err);
            if (done) {
              return;
            }
            // etcd itself answered (a refused change, auth, permission): that is the answer.
            // ("etcdserver: unhealthy cluster" comes with gRPC's UNAVAILABLE code, but it is
            // an answer from etcd, not a dead endpoint.)
            if (!isConnectionError(e) || causeText(err).includes('etcdserver:')) {
              done = true;
              reject(e);
              return;
            }
            errors.push(e);
            if (errors.length === endpoints.length) {
              done = true;
              const order = ['notFound', 'auth', 'permission', 'tls', 'timeout', 'unreachable'];
              errors.sort((a, b) => rank(order, a.kind) - rank(order, b.kind));
              const first = errors[0];
              reject(
                errors.length > 1
                  ? new EtcdBackupError(first.kind, `${what}: no endpoint of cluster "${this.config.name}" answered. ${first.message}`, {
                      cause: first,
                    })
                  : first,
              );
            }
          },
        );
      }
    });
  }

  /**
   * Run a change (member add/remove/promote) exactly once, on one endpoint that answers: the
   * one that answered last, else the first to answer a status request. Never on several at
   * once: a change sent to three endpoints would be applied (or refused) three times.
   */
  private async onOneEndpoint<T>(what: string, fn: (c: Etcd3, endpoint: string) => Promise<T>): Promise<T> {
    const endpoint = this.preferred ?? (await this.onAnyEndpoint(what, async (c, ep) => (await c.maintenance.status(), ep)));
    try {
      const c = await this.endpointClient(endpoint);
      const v = await withDeadline(fn(c, endpoint), this.timeoutMs + 1000, endpoint);
      this.preferred = endpoint;
      return v;
    } catch (err) {
      const e = explain(err, endpoint);
      if (e.kind === 'timeout') {
        // The change may still have been applied: say so rather than guess.
        throw new EtcdBackupError(
          'timeout',
          `${what}: no answer from ${endpoint} before the deadline; the change may or ` +
            `may not have been made. Check the member list before trying again.`,
          { cause: err },
        );
      }
      if (isConnectionError(e) && !causeText(err).includes('etcdserver:')) {
        this.preferred = undefined;
      }
      throw e;
    }
  }

  /** `etcdctl member list`, from the first endpoint that answers. */
  async listMembers(): Promise<MemberInfo[]> {
    return (await this.memberList()).members;
  }

  /** The member list with the cluster id (hex) from the response header. */
  async memberList(): Promise<{ members: MemberInfo[]; clusterId: string; endpoint: string }> {
    return this.onAnyEndpoint('Member list', async (c, endpoint) => {
      const res = await c.cluster.memberList({ linearizable: false } as never);
      return { members: (res.members ?? []).map(toMember), clusterId: toHexId(res.header?.cluster_id), endpoint };
    });
  }

  /**
   * `etcdctl member add --peer-urls ... [--learner]`. Returns the new member and the member
   * list after it (build `ETCD_INITIAL_CLUSTER` from both with `memberStartEnv`).
   */
  async memberAdd(peerURLs: string[], opts: { isLearner?: boolean } = {}): Promise<MemberAddResult> {
    const urls: string[] = [];
    for (const raw of peerURLs) {
      const n = normalizeEndpoint(raw);
      if (n.error || !/^https?:\/\//.test(raw.trim())) {
        throw new EtcdBackupError(
          'invalidInput',
          `The peer URL ${n.error ?? `"${raw}" needs a scheme`}: give e.g. https://10.0.0.14:2380.`,
        );
      }
      urls.push(n.url as string);
    }
    if (!urls.length) {
      throw new EtcdBackupError('invalidInput', 'Give at least one peer URL for the new member, e.g. https://10.0.0.14:2380.');
    }
    try {
      return await this.onOneEndpoint('Member add', async (c) => {
        const res = await c.cluster.memberAdd({ peerURLs: urls, isLearner: Boolean(opts.isLearner) });
        return { member: toMember(res.member), members: (res.members ?? []).map(toMember) };
      });
    } catch (err) {
      const text = causeText(err);
      if (text.includes('peer urls already exists') || text.includes('peerurl exists') || text.includes('member id already exist')) {
        throw new EtcdBackupError(
          'conflict',
          `A member with peer URL ${urls.join(', ')} already exists. Remove it first, or use another URL.`,
          { cause: err },
        );
      }
      if (text.includes('too many learner')) {
        throw new EtcdBackupError('conflict', 'The cluster already has a learner (etcd allows one): promote or remove it first.', {
          cause: err,
        });
      }
      if (text.includes('unhealthy cluster')) {
        // etcd's strict reconfiguration check: every voting member must have been connected
        // for the last 5 s (learners included), and a voting member needs enough started ones.
        throw new EtcdBackupError('conflict', UNHEALTHY_CLUSTER, { cause: err });
      }
      if (text.includes('not enough started members')) {
        throw new EtcdBackupError(
          'noQuorum',
          'etcd refused to add a voting member: too few members are started to keep quorum ' +
            'with it. Bring the down members back first, or add the new member as a learner.',
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** `etcdctl member remove <hexId>`. Returns the member list after it. */
  async memberRemove(hexId: string): Promise<MemberInfo[]> {
    const id = this.checkHexId(hexId);
    try {
      return await this.onOneEndpoint('Member remove', async (c) => {
        const res = await c.cluster.memberRemove({ ID: fromHexId(id) });
        return (res.members ?? []).map(toMember);
      });
    } catch (err) {
      const text = causeText(err);
      if (text.includes('member not found')) {
        throw new EtcdBackupError('notFound', `Member ${id} is not in cluster "${this.config.name}" (already removed?).`, {
          cause: err,
          hint: { kind: 'listMembers' },
        });
      }
      if (text.includes('unhealthy cluster')) {
        throw new EtcdBackupError('conflict', UNHEALTHY_CLUSTER, { cause: err });
      }
      if (text.includes('not enough started members')) {
        throw new EtcdBackupError(
          'noQuorum',
          `etcd refused to remove member ${id}: too few of the remaining ` +
            `members are started to keep quorum. Bring a down member back first.`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** `etcdctl member promote <hexId>`: a learner becomes a voting member. */
  async memberPromote(hexId: string): Promise<MemberInfo[]> {
    const id = this.checkHexId(hexId);
    try {
      return await this.onOneEndpoint('Member promote', async (c) => {
        const res = await c.cluster.memberPromote({ ID: fromHexId(id) });
        return (res.members ?? []).map(toMember);
      });
    } catch (err) {
      const text = causeText(err);
      if (text.includes('not in sync with leader') || text.includes('in sync with leader')) {
        throw new EtcdBackupError(
          'conflict',
          `Learner ${id} has not caught up with the leader yet (etcd: "can ` +
            `only promote a learner member which is in sync with leader"). Check ` +
            `that its etcd process is running, started with --initial-cluster-state ` +
            `existing, and try again once it has replicated the data.`,
          { cause: err },
        );
      }
      if (text.includes('unhealthy cluster')) {
        throw new EtcdBackupError('conflict', UNHEALTHY_CLUSTER, { cause: err });
      }
      if (text.includes('can only promote a learner')) {
        throw new EtcdBackupError('invalidInput', `Member ${id} is not a learner: only learners can be promoted.`, { cause: err });
      }
      if (text.includes('member not found')) {
        throw new EtcdBackupError('notFound', `Member ${id} is not in cluster "${this.config.name}".`, {
          cause: err,
          hint: { kind: 'listMembers' },
        });
      }
      throw err;
    }
  }

  private checkHexId(hexId: string): string {
    const id = hexId.trim().toLowerCase().replace(/^0x/, '');
    if (!/^[0-9a-f]{1,16}$/.test(id)) {
      throw new EtcdBackupError(
        'invalidInput',
        `"${hexId}" is not a member id: give the hex id etcdctl member list prints, e.g. 8e9e05c52164694d.`,
      );
    }
    return id;
  }

  /** `etcdctl endpoint status` for one endpoint. */
  async endpointStatus(endpoint: string): Promise<EndpointStatus> {
    try {
      const c = await this.endpointClient(endpoint);
      const s = await withDeadline(c.maintenance.status(), this.timeoutMs + 1000, endpoint);
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

  /**
   * `etcdctl endpoint health` for one endpoint: a quorum read of the key "health" (permission
   * denied still proves the read went through consensus), then the alarm list. Never throws:
   * an unhealthy endpoint is a result with `error`. A learner is asked with a serializable
   * read (learners serve no quorum reads).
   */
  async endpointHealth(endpoint: string, opts: { isLearner?: boolean } = {}): Promise<EndpointHealth> {
    const started = performance.now();
    const read = async (c: Etcd3, serializable: boolean): Promise<void> => {
      try {
        await c.kv.range({ key: Buffer.from('health'), serializable });
      } catch (err) {
        if (causeText(err).includes('permission denied')) {
          return;
        }
        throw err;
      }
    };
    try {
      const c = await this.endpointClient(endpoint);
      await withDeadline(
        (async () => {
          try {
            await read(c, Boolean(opts.isLearner));
          } catch (err) {
            if (!opts.isLearner && causeText(err).includes('not supported for learner')) {
              await read(c, true);
            } else {
              throw err;
            }
          }
        })(),
        this.timeoutMs + 1000,
        endpoint,
      );
      const tookMs = performance.now() - started;
      const alarms = await withDeadline(c.maintenance.alarm({ action: 0 } as never), this.timeoutMs + 1000, endpoint).catch(
        () => undefined,
      );
      const active = alarms?.alarms ?? [];
      if (active.length) {
        const text = active.map((a) => `memberID:${toHexId(a.memberID)} alarm:${a.alarm}`).join(' ');
        return { endpoint, healthy: false, tookMs, error: `Active Alarm(s): ${text}`, errorKind: 'diskFull' };
      }
      return { endpoint, healthy: true, tookMs };
    } catch (err) {
      const e = explain(err, endpoint);
      return { endpoint, healthy: false, tookMs: performance.now() - started, error: e.message, errorKind: e.kind };
    }
  }

  /**
   * Everything a front end shows about the cluster, gathered concurrently with one deadline per
   * call: the member list (first endpoint to answer), then status and health of every
   * configured endpoint and of every member's client URL nobody configured. One dead member
   * never holds up the others. Never throws: an unreachable cluster is an overview with
   * `reachable: false` and the reason.
   */
  async clusterOverview(): Promise<ClusterOverview> {
    const fetchedAt = Date.now();
    const started = performance.now();
    const probes = new Map<string, Promise<EndpointProbe>>();
    const probe = (endpoint: string, configured: boolean): Promise<EndpointProbe> => {
      let p = probes.get(endpoint);
      if (!p) {
        p = Promise.allSettled([this.endpointStatus(endpoint), this.endpointHealth(endpoint)]).then(async ([s, h]) => {
          const out: EndpointProbe = { endpoint, configured };
          if (s.status === 'fulfilled') {
            out.status = s.value;
            out.health = h.status === 'fulfilled' ? h.value : undefined;
            if (s.value.isLearner && out.health && !out.health.healthy) {
              out.health = await this.endpointHealth(endpoint, { isLearner: true });
            }
          } else {
            out.statusError = toProbeError(explain(s.reason, endpoint));
          }
          return out;
        });
        probes.set(endpoint, p);
      }
      return p;
    };
    for (const ep of this.config.endpoints) {
      void probe(ep, true);
    }
    // Keys in the v2 store are not in a snapshot: asked alongside, over plain HTTP(S).
    const v2 = checkV2Store(this.config, this.secrets, { totalMs: Math.max(10_000, 2 * this.timeoutMs) });
    let members: MemberInfo[] | undefined;
    let clusterId: string | undefined;
    let membersError: ProbeError | undefined;
    try {
      const list = await this.memberList();
      members = list.members;
      clusterId = list.clusterId;
    } catch (err) {
      membersError = toProbeError(explain(err));
    }
    if (members) {
      // Members' advertised client URLs that are not configured are asked too, at once (not
      // after the configured ones answered: that could cost a second deadline). A configured
      // endpoint's answer wins when both reach the same member.
      for (const m of members) {
        for (const url of m.clientURLs) {
          const n = normalizeEndpoint(url).url ?? url;
          void probe(n, false);
        }
      }
    }
    const settled = await Promise.all(probes.values());
    const v2Store = members ? await v2 : undefined;
    const overview = assembleOverview({
      cluster: this.config.name,
      members,
      membersError,
      clusterId,
      probes: settled,
      fetchedAt,
      tookMs: performance.now() - started,
    });
    return v2Store ? { ...overview, v2Store } : overview;
  }

  close(): void {
    this.client.close();
    for (const c of this.perEndpoint.values()) {
      c.then((x) => x.close()).catch(() => undefined);
    }
    this.perEndpoint.clear();
  }
}

/** Errors that say "this endpoint did not answer" rather than "etcd answered no". */
function isConnectionError(e: EtcdBackupError): boolean {
  return (
    e.kind === 'unreachable' ||
    e.kind === 'timeout' ||
    e.kind === 'tls' ||
    e.kind === 'notFound' ||
    (e.kind === 'permission' && /Cannot read/.test(e.message))
  );
}

function rank(order: string[], kind: string): number {
  const i = order.indexOf(kind);
  return i < 0 ? order.length : i;
}

/**
 * Open, gather the overview, close: what a cluster view calls. Never throws; a cluster whose TLS
 * files cannot be read is an unreachable overview with that sentence.
 */
export async function fetchClusterOverview(cfg: ClusterConfig, secrets: ClusterSecrets = {}): Promise<ClusterOverview> {
  const fetchedAt = Date.now();
  let conn: EtcdConnection | undefined;
  try {
    conn = await EtcdConnection.open(cfg, secrets);
    return await conn.clusterOverview();
  } catch (err) {
    const error = toProbeError(explain(err));
    return assembleOverview({ cluster: cfg.name, membersError: error, probes: [], fetchedAt, tookMs: Date.now() - fetchedAt });
  } finally {
    conn?.close();
  }
}

/** Run `fn` with an open connection and close it afterwards. */
export async function withConnection<T>(cfg: ClusterConfig, secrets: ClusterSecrets, fn: (c: EtcdConnection) => Promise<T>): Promise<T> {
  const conn = await EtcdConnection.open(cfg, secrets);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
