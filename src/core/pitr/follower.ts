/**
 * The follower: a long-running watch of the whole keyspace that stores every change as
 * change-log segments after a full snapshot.
 *
 * - It watches from the revision after the last stored one (the end of the last segment, or the
 *   full snapshot's revision), with etcd's raw Watch stream (not etcd3's Watcher, which moves
 *   its resume point to the response header's revision + 1: a catching-up watch gets the
 *   current revision in its headers, so a reconnect would skip events).
 * - It proves there is no gap: the first event must carry the revision asked for, every next
 *   revision must be one more, and progress requests (answered by etcd only when the watch has
 *   sent everything up to the answer's revision) show how far the log is complete.
 * - When etcd has compacted past the revision it needs, it starts a new chain from a full
 *   snapshot at or after the compaction (taking one when none exists) rather than leave a hole.
 * - Segments roll every `segmentSeconds` or `segmentBytes`; a lease seen on a put for the first
 *   time in a segment is recorded with its granted TTL (LeaseTimeToLive).
 * - A dead, stalled or removed member costs a reconnect to the next endpoint; a killed
 *   follower resumes from the end of the last stored segment (no gap, no duplicate).
 */
import type { Etcd3, IWatchResponse } from 'etcd3';
import { EtcdBackupError, explain } from '../errors';
import { ClusterConfig, ClusterSecrets } from '../types';
import { ChangeEvent, RevisionRecord, SegmentBuilder, segmentName } from './segment';
import { FullSnapshotRef, FullSnapshots, SegmentSpool, SegmentStore, writeFileAtomic } from './store';
import { clientOptions, createClient } from '../etcd';

export interface FollowOptions {
  cluster: ClusterConfig;
  secrets?: ClusterSecrets;
  segments: SegmentStore;
  snapshots: FullSnapshots;
  segmentSeconds: number;
  segmentBytes: number;
  /** How often to ask for a progress notification (ms, default 2000). */
  progressEveryMs?: number;
  /** Silence (no event, no progress answer) after which the stream is dropped (ms, default 10000). */
  stallMs?: number;
  /** Called every 8 MiB of events received (the CLI passes V8's full collector: a flat RSS, see src/cli/gc.ts). */
  collectGarbage?: () => void;
  /** How often segments are pruned with their chains (ms, default 10 minutes; 0: at every roll). */
  pruneEveryMs?: number;
  /** A JSON status file rewritten every few seconds (lag, last stored revision). */
  statusFile?: string;
  signal?: AbortSignal;
  onLog?: (line: FollowLog) => void;
}

export interface FollowLog {
  level: 'info' | 'warn' | 'error';
  event: 'start' | 'connected' | 'segment' | 'newChain' | 'reconnect' | 'lease' | 'stop';
  message: string;
  revision?: number;
}

export interface FollowStatus {
  pid: number;
  cluster: string;
  startedAt: string;
  updatedAt: string;
  endpoint?: string;
  /** The last revision written to a stored segment. */
  storedRevision: number;
  /** The last revision received (stored or waiting in the open segment). */
  receivedRevision: number;
  /** The cluster's revision at the last progress answer. */
  clusterRevision?: number;
  /** When the last progress answer said the log was complete up to the cluster's revision. */
  caughtUpAt?: string;
  chainBase?: string;
}

/** Thrown out of one watch when etcd has compacted the revision it needs. */
export class CompactedError extends EtcdBackupError {
  constructor(
    readonly wanted: number,
    readonly compactRevision: number,
  ) {
    super('conflict', `etcd has compacted its history up to revision ${compactRevision}; the change log needs revision ${wanted}.`);
  }
}

/** Turn one watch response's events into whole revisions, in order. */
export function groupRevisions(events: IWatchResponse['events'], time: number): RevisionRecord[] {
  const out: RevisionRecord[] = [];
  for (const ev of events) {
    const kv = ev.kv;
    const e: ChangeEvent = {
      op: ev.type === 'Delete' ? 'delete' : 'put',
      key: Buffer.from(kv.key),
      value: ev.type === 'Delete' ? Buffer.alloc(0) : Buffer.from(kv.value ?? Buffer.alloc(0)),
      createRevision: ev.type === 'Delete' ? 0 : Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: ev.type === 'Delete' ? 0 : Number(kv.version),
      lease: ev.type === 'Delete' ? '0' : String(kv.lease ?? '0'),
    };
    const last = out[out.length - 1];
    if (last && last.revision === e.modRevision) last.events.push(e);
    else out.push({ revision: e.modRevision, time, events: [e] });
  }
  return out;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((res) => {
    const t = setTimeout(res, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        res();
      },
      { once: true },
    );
  });

/** The follower's state between watches. See the module comment. */
export class Follower {
  private readonly clients = new Map<string, Etcd3>();
  private endpointIndex = 0;
  private builder: SegmentBuilder | undefined;
  /** The open segment's file, when the store spools (the builder then holds at most a chunk). */
  private spool: SegmentSpool | undefined;
  private readonly leaseTtl = new Map<string, number>();
  private next = 0;
  /** A failed store: the current watch ends and restarts after the last stored revision. */
  private failure: EtcdBackupError | undefined;
  private stored = 0;
  private chainBase: string | undefined;
  private readonly status: FollowStatus;
  private lastStatusWrite = 0;
  private sinceGc = 0;
  /** Event handling, rolls and flushes run one at a time, in order. */
  private work: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.work.then(fn, fn);
    this.work = run.catch(() => undefined);
    return run;
  }

  constructor(private readonly opts: FollowOptions) {
    this.status = {
      pid: process.pid,
      cluster: opts.cluster.name,
      startedAt: new Date().toISOString(),
      updatedAt: '',
      storedRevision: 0,
      receivedRevision: 0,
    };
  }

  private log(level: FollowLog['level'], event: FollowLog['event'], message: string, revision?: number): void {
    this.opts.onLog?.({ level, event, message, revision });
  }

  private async client(endpoint: string): Promise<Etcd3> {
    let c = this.clients.get(endpoint);
    if (!c) {
      const cfg = { ...this.opts.cluster, endpoints: [endpoint] };
      c = createClient(cfg, await clientOptions(cfg, this.opts.secrets ?? {}, [endpoint]));
      this.clients.set(endpoint, c);
    }
    return c;
  }

  /** Where to start: after the last stored segment, else after the newest full snapshot (taken if none). */
  async startingRevision(): Promise<number> {
    const segs = await this.opts.segments.list();
    const fulls = await this.opts.snapshots.list();
    const newest = fulls.sort((a, b) => b.revision - a.revision)[0];
    const lastSeg = segs[segs.length - 1];
    if (lastSeg && (!newest || lastSeg.last >= newest.revision)) {
      this.chainBase = newest?.name;
      this.log('info', 'start', `Resuming after the last stored segment ${lastSeg.name} (revision ${lastSeg.last}).`, lastSeg.last + 1);
      return lastSeg.last + 1;
    }
    const base = newest ?? (await this.takeFull('no full snapshot exists yet'));
    this.chainBase = base.name;
    this.log('info', 'start', `Starting a chain after the full snapshot ${base.name} (revision ${base.revision}).`, base.revision + 1);
    return base.revision + 1;
  }

  private async takeFull(why: string): Promise<FullSnapshotRef> {
    if (!this.opts.snapshots.take) {
      throw new EtcdBackupError(
        'notFound',
        `The change log needs a new full snapshot (${why}), and none can be taken here: run a backup, then start the follower again.`,
      );
    }
    this.log('info', 'newChain', `Taking a full snapshot: ${why}.`);
    return this.opts.snapshots.take();
  }

  /** After a compaction: a full snapshot at or after it, taken when none exists. */
  private async newChain(err: CompactedError): Promise<number> {
    await this.exclusive(() => this.flush());
    const fulls = (await this.opts.snapshots.list())
      .filter((f) => f.revision + 1 >= err.compactRevision)
      .sort((a, b) => b.revision - a.revision);
    const base = fulls[0] ?? (await this.takeFull(`${err.message} A new chain starts from a new full snapshot`));
    this.chainBase = base.name;
    this.log(
      'warn',
      'newChain',
      `${err.message} New chain after the full snapshot ${base.name} (revision ${base.revision}); ` +
        `revisions ${err.wanted} to ${base.revision} are covered by that snapshot only.`,
      base.revision + 1,
    );
    return base.revision + 1;
  }

  /** Run until the signal aborts; the open segment is stored before returning. */
  async run(): Promise<void> {
    const { signal } = this.opts;
    this.next = await this.startingRevision();
    this.stored = this.next - 1;
    this.status.storedRevision = this.stored;
    this.status.receivedRevision = this.stored;
    const roller = setInterval(
      () => void this.exclusive(() => this.rollIfDue()).catch((err) => this.log('error', 'segment', explain(err).message)),
      1000,
    );
    let failures = 0;
    try {
      while (!signal?.aborted) {
        const endpoint = this.opts.cluster.endpoints[this.endpointIndex % this.opts.cluster.endpoints.length];
        try {
          await this.watchOnce(endpoint, () => (failures = 0));
        } catch (err) {
          if (err instanceof CompactedError) {
            this.next = await this.newChain(err);
            this.stored = this.next - 1;
            continue;
          }
          if (signal?.aborted) break;
          failures++;
          this.endpointIndex++;
          const e = explain(err, endpoint);
          this.log('warn', 'reconnect', `Watch on ${endpoint} ended (${e.message}); reconnecting from revision ${this.next}.`, this.next);
          await sleep(Math.min(5000, 200 * 2 ** Math.min(failures, 5)), signal);
        }
      }
    } finally {
      clearInterval(roller);
      await this.exclusive(() => this.flush());
      await this.writeStatus(true);
      for (const c of this.clients.values()) c.close();
      this.log('info', 'stop', `Stopped; the change log is stored up to revision ${this.stored}.`, this.stored);
    }
  }

  /**
   * One watch stream on one endpoint, from `this.next`. Resolves when the signal aborts;
   * rejects when the stream fails, stalls or reports a gap (the caller reconnects).
   */
  private async watchOnce(endpoint: string, onHealthy: () => void): Promise<void> {
    const c = await this.client(endpoint);
    const stream = await c.watchClient.watch();
    const start = this.next;
    let created = false;
    let lastHeard = Date.now();
    let queue: Promise<void> = Promise.resolve();
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearInterval(ticker);
        this.opts.signal?.removeEventListener('abort', onAbort);
        try {
          stream.cancel();
        } catch {
          // already ended
        }
        // Whatever is still being processed finishes first, so `next` is right for the reconnect.
        void queue.then(() => (err ? reject(err) : resolve()), reject);
      };
      const onAbort = (): void => finish();
      this.opts.signal?.addEventListener('abort', onAbort, { once: true });
      const stallMs = this.opts.stallMs ?? 10_000;
      const ticker = setInterval(() => {
        if (Date.now() - lastHeard > stallMs) {
          finish(new EtcdBackupError('timeout', `no answer for ${Math.round(stallMs / 1000)} s`));
          return;
        }
        if (created) stream.write({ progress_request: {} });
      }, this.opts.progressEveryMs ?? 2000);
      stream.on('error', (err: unknown) => finish(err));
      stream.on('end', () => finish(new EtcdBackupError('unreachable', 'the member ended the watch stream')));
      stream.on('data', (res: IWatchResponse) => {
        lastHeard = Date.now();
        queue = queue
          .then(() =>
            this.exclusive(() =>
              this.handle(res, endpoint, start, () => {
                created = true;
                onHealthy();
              }),
            ),
          )
          .catch((err) => finish(err));
      });
      stream.write({
        create_request: { key: Buffer.from([0]), range_end: Buffer.from([0]), start_revision: start, progress_notify: true },
      });
    });
  }

  private async handle(res: IWatchResponse, endpoint: string, start: number, onCreated: () => void): Promise<void> {
    if (this.failure) {
      const f = this.failure;
      this.failure = undefined;
      throw f;
    }
    const compact = Number(res.compact_revision ?? 0);
    if (compact > 0) throw new CompactedError(this.next, compact);
    if (res.canceled) throw new EtcdBackupError('conflict', `etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`);
    if (res.created) {
      onCreated();
      this.status.endpoint = endpoint;
      this.log('info', 'connected', `Watching ${endpoint} from revision ${start}.`, start);
      return;
    }
    const revs = groupRevisions(res.events ?? [], Date.now());
    if (!revs.length) {
      // A progress answer: every event up to this revision has been sent on this stream.
      const rev = Number(res.header?.revision ?? 0);
      this.status.clusterRevision = rev;
      if (rev <= this.next - 1) this.status.caughtUpAt = new Date().toISOString();
      await this.writeStatus(false);
      return;
    }
    for (const r of revs) {
      if (r.revision < this.next) continue; // already stored: never twice
      if (r.revision !== this.next) {
        throw new EtcdBackupError('corrupt', `the watch skipped from revision ${this.next - 1} to ${r.revision}`);
      }
      await this.add(r, endpoint);
    }
    await this.rollIfDue();
  }

  /** A new open segment, spooled to a file when the store can. */
  private async open(first: number): Promise<SegmentBuilder> {
    const builder = new SegmentBuilder({ cluster: this.opts.cluster.name, first });
    const { segments } = this.opts;
    if (segments.spoolFile && segments.commit) this.spool = await SegmentSpool.open(await segments.spoolFile(), builder);
    this.builder = builder;
    return builder;
  }

  private async add(r: RevisionRecord, endpoint: string): Promise<void> {
    const builder = this.builder ?? (await this.open(r.revision));
    for (const e of r.events) {
      if (e.op !== 'put' || e.lease === '0' || builder.hasLease(e.lease)) continue;
      builder.addLease({ id: e.lease, ttl: await this.leaseTtl_(e.lease, endpoint), revision: r.revision });
    }
    const before = builder.bytes;
    builder.addRevision(r);
    if (this.spool) await this.spool.drain().catch((err: unknown) => this.storeFailed(err, false));
    this.sinceGc += builder.bytes - before;
    if (this.sinceGc > 8 << 20) {
      this.sinceGc = 0;
      this.opts.collectGarbage?.();
    }
    this.next = r.revision + 1;
    this.status.receivedRevision = r.revision;
  }

  /** The TTL the lease was granted with (asked once per follower run); -1 when it is already gone. */
  private async leaseTtl_(id: string, endpoint: string): Promise<number> {
    const known = this.leaseTtl.get(id);
    if (known !== undefined) return known;
    let ttl = -1;
    try {
      const c = await this.client(endpoint);
      const res = await c.leaseClient.leaseTimeToLive({ ID: id });
      ttl = Number(res.TTL) >= 0 ? Number(res.grantedTTL) : -1;
    } catch (err) {
      this.log('warn', 'lease', `Could not read the TTL of lease ${id}: ${explain(err, endpoint).message}`);
    }
    if (ttl < 0) this.log('warn', 'lease', `Lease ${id} expired before its TTL could be read: it is recorded with an unknown TTL.`);
    this.leaseTtl.set(id, ttl);
    return ttl;
  }

  private async rollIfDue(): Promise<void> {
    const b = this.builder;
    if (!b || b.last === undefined) return;
    const age = Date.now() - b.startedAt;
    if (b.bytes >= this.opts.segmentBytes || age >= this.opts.segmentSeconds * 1000) {
      await this.flush();
    }
    await this.writeStatus(false);
  }

  /** Store the open segment, if it holds anything. */
  async flush(): Promise<void> {
    const b = this.builder;
    if (!b || b.last === undefined) return;
    const spool = this.spool;
    this.builder = undefined;
    this.spool = undefined;
    const name = segmentName(b.first, b.last);
    try {
      if (spool && this.opts.segments.commit) {
        await spool.finish();
        await this.opts.segments.commit(name, spool.path);
      } else {
        await this.opts.segments.write(name, b.finish());
      }
    } catch (err) {
      await spool?.discard();
      this.storeFailed(err, true);
    }
    this.stored = b.last;
    this.status.storedRevision = b.last;
    this.log('info', 'segment', `Stored ${name} (${b.revisions} revisions, ${b.bytes} bytes) in ${this.opts.segments.where}.`, b.last);
    await this.pruneIfDue();
  }

  /**
   * Storing failed (disk full, a conflict): the open segment is dropped and the current watch
   * ends (thrown out of it, or, from the roll timer, at its next answer: `endWatch`). Nothing is
   * lost while etcd keeps the history: the next watch starts after the last stored revision.
   */
  private storeFailed(err: unknown, endWatch: boolean): never {
    void this.spool?.discard();
    this.builder = undefined;
    this.spool = undefined;
    this.next = this.stored + 1;
    if (endWatch) this.failure = explain(err);
    throw err;
  }

  private lastPrune = 0;

  /** Every 10 minutes: remove the segments no kept full snapshot needs (their chain was pruned). */
  private async pruneIfDue(): Promise<void> {
    if (!this.opts.segments.prune || Date.now() - this.lastPrune < (this.opts.pruneEveryMs ?? 600_000)) return;
    this.lastPrune = Date.now();
    try {
      const gone = await this.opts.segments.prune();
      if (gone.length)
        this.log('info', 'segment', `Pruned ${gone.length} segment(s) older than every kept full snapshot: ${gone.join(', ')}.`);
    } catch (err) {
      this.log('warn', 'segment', `Pruning the change log failed: ${explain(err).message}`);
    }
  }

  private async writeStatus(force: boolean): Promise<void> {
    if (!this.opts.statusFile || (!force && Date.now() - this.lastStatusWrite < 2000)) return;
    this.lastStatusWrite = Date.now();
    this.status.updatedAt = new Date().toISOString();
    this.status.chainBase = this.chainBase;
    await writeFileAtomic(this.opts.statusFile, Buffer.from(`${JSON.stringify(this.status, null, 2)}\n`), { replace: true }).catch(
      () => undefined,
    );
  }
}

/** Follow until the signal aborts. */
export async function follow(opts: FollowOptions): Promise<void> {
  await new Follower(opts).run();
}
