/**
 * A plain snapshot of the cluster as it was at revision N: the newest full snapshot at or before
 * N, restored into a throwaway etcd on loopback, the change log replayed into it up to N with
 * one transaction per original revision (so every revision number, create and mod revision and
 * version comes out as the original's), leases re-granted with their original IDs and TTLs
 * (and kept alive while the replay runs), checked, and saved with the usual SHA-256 trailer.
 *
 * Why the revisions line up: etcd raises its revision exactly once per write that changed at
 * least one key (a put, a delete that deleted something, a transaction with either, a lease
 * revoke or expiry that deleted keys), and nothing else raises it (lease grants, compactions,
 * empty deletes, member changes do not). Every such revision is one or more watch events, and
 * the follower stores every revision's events together. Replaying revision r's events as one
 * transaction on a member at revision r-1 therefore gives revision r; each answer's header is
 * checked, so any divergence (a lease expiring during the replay, a missing key) stops the
 * replay at once instead of producing a wrong file.
 */
import { createHash } from 'crypto';
import type { Etcd3, IWatchResponse } from 'etcd3';
import { EtcdBackupError, explain } from '../errors';
import { ToolPaths } from '../tools';
import { groupRevisions } from './follower';
import { ChangeEvent, eventJson, LeaseRecord, parseSegment, RevisionRecord, Segment, SegmentCorruptError } from './segment';
import { FullSnapshotRef, FullSnapshots, SegmentRef, SegmentStore, segmentsFor } from './store';
import { startThrowaway, Throwaway } from './throwaway';
import { saveSnapshot } from '../snapshot/save';

export interface MaterializeOptions {
  segments: SegmentStore;
  snapshots: FullSnapshots;
  toRevision?: number;
  toTime?: Date;
  /** The snapshot file to write (must not exist). */
  output: string;
  toolPaths?: ToolPaths;
  tempParent?: string;
  signal?: AbortSignal;
  onStep?: (message: string) => void;
  /** TTL (s) for a lease whose TTL the follower could not read. Default 60. */
  unknownLeaseTtl?: number;
  /** Transactions in flight during the replay (default {@link REPLAY_WINDOW}; 1: one round trip per revision). */
  replayWindow?: number;
}

export interface MaterializeCheck {
  what: string;
  ok: boolean;
  expected: string;
  actual: string;
}

export interface MaterializeResult {
  file: string;
  revision: number;
  /** The time the follower recorded for that revision (epoch ms), when it came from the log. */
  revisionTime?: number;
  base: { name: string; revision: number };
  replayed: { revisions: number; events: number; segments: string[]; ms: number; resent: number };
  keys: number;
  leases: { granted: number; keptAlive: number; revoked: number };
  checks: MaterializeCheck[];
  warnings: string[];
  sha256: string;
  size: number;
  durationMs: number;
}

/** Parsed segments, read once each. */
class SegmentReader {
  private readonly cache = new Map<string, Segment>();
  constructor(private readonly store: SegmentStore) {}

  async get(ref: SegmentRef): Promise<Segment> {
    let s = this.cache.get(ref.name);
    if (!s) {
      let data: Buffer;
      try {
        data = await this.store.read(ref);
      } catch (err) {
        const e = explain(err);
        if (e instanceof SegmentCorruptError || e.kind === 'corrupt') throw new SegmentCorruptError(ref.name, e.message);
        throw new EtcdBackupError(
          e.kind,
          `The change-log segment ${ref.name} (revisions ${ref.first} to ${ref.last}) cannot be read: ${e.message}`,
          { cause: err },
        );
      }
      s = parseSegment(ref.name, data);
      this.cache.set(ref.name, s);
    }
    return s;
  }
}

/** The last recorded revision at or before `time`: from the log, else from a full snapshot. */
export async function revisionAtTime(
  refs: SegmentRef[],
  reader: SegmentReader,
  fulls: FullSnapshotRef[],
  time: number,
): Promise<{ revision: number; time: number } | undefined> {
  let best: { revision: number; time: number } | undefined;
  for (const f of fulls) {
    if (f.time <= time && (!best || f.revision > best.revision)) best = { revision: f.revision, time: f.time };
  }
  // Newest segments first: the first one whose first revision is at or before `time` decides.
  for (const ref of [...refs].reverse()) {
    const seg = await reader.get(ref);
    const hit = [...seg.revisions].reverse().find((r) => r.time <= time);
    if (hit) {
      if (!best || hit.revision > best.revision) best = { revision: hit.revision, time: hit.time };
      break;
    }
  }
  return best;
}

function noCoverage(what: string, refs: SegmentRef[], fulls: FullSnapshotRef[]): EtcdBackupError {
  const lastSeg = refs[refs.length - 1];
  const oldest = [...fulls].sort((a, b) => a.revision - b.revision)[0];
  const range = oldest
    ? `from revision ${oldest.revision} (${oldest.name}) to ${lastSeg ? lastSeg.last : oldest.revision}`
    : 'nothing (no full snapshot)';
  return new EtcdBackupError('notFound', `No backup covers ${what}: the backups cover ${range}. Pick a point in that range.`);
}

/** Every lease record of every segment, the known TTL winning over an unknown one. */
function leaseTable(segments: Segment[]): Map<string, LeaseRecord> {
  const leases = new Map<string, LeaseRecord>();
  for (const s of segments) {
    for (const l of s.leases) {
      const had = leases.get(l.id);
      if (!had || (had.ttl < 0 && l.ttl >= 0)) leases.set(l.id, l);
    }
  }
  return leases;
}

/** Keep every lease alive while the replay runs (each at a third of its TTL). */
async function keepAlive(client: Etcd3, leases: Map<string, number>): Promise<{ stop(): void; failures(): string[] }> {
  const stream = await client.leaseClient.leaseKeepAlive();
  const errors: string[] = [];
  stream.on('error', (err: unknown) => errors.push(explain(err).message));
  stream.on('data', () => undefined);
  const last = new Map<string, number>();
  const tick = (): void => {
    const now = Date.now();
    for (const [id, ttl] of leases) {
      if (now - (last.get(id) ?? 0) >= Math.max(300, (ttl * 1000) / 3)) {
        last.set(id, now);
        stream.write({ ID: id });
      }
    }
  };
  tick();
  const timer = setInterval(tick, 250);
  return {
    stop: () => {
      clearInterval(timer);
      stream.end();
    },
    failures: () => errors,
  };
}

interface ReplayFigures {
  revisions: number;
  /** Transactions sent again because etcd proposed them before their predecessor. */
  resent: number;
  events: number;
  liveKeys: number;
  sha256: string;
  ms: number;
}

/**
 * The transaction that replays revision `r`, guarded so that it can only apply right after the
 * previous revision's: it compares a key the previous revision wrote (its mod revision is that
 * revision) or deleted (absent: mod revision 0; it existed just before, since it was deleted).
 * The first revision of a replay needs no guard: every other one waits for it.
 */
function replayTxn(r: RevisionRecord, prev: RevisionRecord | undefined): import('etcd3').ITxnRequest {
  const success = r.events.map((e) =>
    e.op === 'put' ? { request_put: { key: e.key, value: e.value, lease: e.lease } } : { request_delete_range: { key: e.key } },
  );
  if (!prev) return { success };
  const w = prev.events.find((e) => e.op === 'put') ?? prev.events[0];
  return { compare: [{ key: w.key, target: 'Mod', result: 'Equal', mod_revision: w.op === 'put' ? prev.revision : 0 }], success };
}

function diverged(r: RevisionRecord, got: number): EtcdBackupError {
  return new EtcdBackupError(
    'internal',
    `The replay of revision ${r.revision} produced revision ${got}: the replayed history differs from the original ` +
      '(a lease may have expired, or a key is missing). Nothing was saved.',
  );
}

/**
 * Revisions per watcher when the replayed history is read back. etcd serves a watcher that is
 * catching up from a sync pass every 100 ms, giving it at most 1,000 revisions per pass
 * (watchBatchMaxRevs) and re-reading every revision from the lowest one any such watcher needs
 * at each pass: one watcher over 100,000 revisions took 15.6 s (100 passes, each reading what
 * was left). One watcher per 1,000 revisions, created together, are all served in the same pass
 * or two: 100,000 revisions read back in about a second.
 */
const HISTORY_CHUNK = 1000;
/** Watchers open at once while reading the history back (etcd serves up to 512 per pass). */
const HISTORY_WATCHERS = 128;

/**
 * A SHA-256 over a history read in revision chunks of {@link HISTORY_CHUNK}: each chunk's event
 * lines are hashed in order, and the result is the SHA-256 of the chunks' digests in order.
 * Just as strong as one hash over every line, and the chunks can be read in parallel.
 */
class ChunkedHistoryHash {
  private readonly chunks: ReturnType<typeof createHash>[] = [];
  events = 0;

  constructor(
    private readonly base: number,
    private readonly target: number,
  ) {}

  add(revision: number, e: ChangeEvent): void {
    const k = Math.floor((revision - this.base - 1) / HISTORY_CHUNK);
    const h = (this.chunks[k] ??= createHash('sha256'));
    h.update(eventJson(e));
    h.update('\n');
    this.events++;
  }

  digest(): string {
    const all = createHash('sha256');
    const n = Math.ceil(Math.max(0, this.target - this.base) / HISTORY_CHUNK);
    for (let k = 0; k < n; k++) all.update(`${(this.chunks[k] ?? createHash('sha256')).digest('hex')}\n`);
    return all.digest('hex');
  }
}

/** The SHA-256 and counts of what the replay of `revs` (after `base`, up to `target`) must produce. */
function expectedFigures(
  revs: RevisionRecord[],
  startKeys: number,
  base: number,
  target: number,
): { sha256: string; events: number; liveKeys: number } {
  const hash = new ChunkedHistoryHash(base, target);
  let liveKeys = startKeys;
  for (const r of revs) {
    for (const e of r.events) {
      hash.add(r.revision, e);
      if (e.op === 'delete') liveKeys--;
      else if (e.version === 1) liveKeys++;
    }
  }
  return { sha256: hash.digest(), events: hash.events, liveKeys };
}

/**
 * True when the guard of the revision after `r` can only hold once `r` applied: `r` put a key,
 * and that key's mod revision is `r` from then on until the next replayed revision. A guard on a
 * deleted key (absent) also holds before `r` when the key did not exist earlier, so such a
 * transaction is only sent once its predecessor is known to have applied: it starts a batch.
 */
function strongGuard(r: RevisionRecord): boolean {
  return r.events.some((e) => e.op === 'put');
}

/**
 * How many guarded transactions the replay sends together (see {@link replay}). Measured on
 * 100,000 one-put revisions (2 CPUs, etcd 3.4): 32: 27.9 s, 64: 25.2 s, 96: 23.5 s, 128: 21.9 and
 * 28.3 s, with about 1 % sent again; 256: 46 s, when etcd took a whole batch out of order again and
 * again (101,128 sent again); 512: 132 s. 96 stays well below that cliff.
 */
export const REPLAY_WINDOW = 96;

/**
 * Replay revisions base+1..target, one transaction each, each guarded by {@link replayTxn} and
 * its revision checked. A round trip per revision was the bottleneck (about 800 revisions/s on a
 * quiet machine), so batches of `window` transactions are sent together over the one
 * connection. etcd may propose concurrent requests in another order than they were sent: a
 * transaction proposed before its predecessor applied fails its guard and changes nothing, and
 * so does every one after it in the batch (each guard needs its predecessor's write); the prefix
 * that applied is kept and the rest is sent again. The throwaway etcd runs its Go code on one
 * thread (GOMAXPROCS=1, src/core/pitr/throwaway.ts), which keeps such reorderings to a few per
 * batch (on two threads about one request in three came out of order). A transaction whose
 * guard is weak (see {@link strongGuard}), and the first one (it has none), start a batch.
 */
async function replay(
  client: Etcd3,
  revs: RevisionRecord[],
  startKeys: number,
  signal?: AbortSignal,
  onStep?: (m: string) => void,
  window = REPLAY_WINDOW,
): Promise<ReplayFigures> {
  const started = Date.now();
  const expected = expectedFigures(
    revs,
    startKeys,
    revs.length ? revs[0].revision - 1 : 0,
    revs.length ? revs[revs.length - 1].revision : 0,
  );
  let applied = 0; // revisions applied so far (a prefix of revs)
  let resent = 0;
  let lastReport = Date.now();
  while (applied < revs.length) {
    if (signal?.aborted) throw new EtcdBackupError('cancelled', 'Cancelled: nothing was saved.');
    const batch = [revs[applied]];
    while (batch.length < window && applied + batch.length < revs.length && strongGuard(revs[applied + batch.length - 1])) {
      batch.push(revs[applied + batch.length]);
    }
    const answers = await Promise.all(
      batch.map((r, k) => client.kv.txn(replayTxn(r, applied + k > 0 ? revs[applied + k - 1] : undefined))),
    );
    let ok = 0;
    for (let k = 0; k < answers.length && answers[k].succeeded; k++) {
      const got = Number(answers[k].header.revision);
      if (got !== batch[k].revision) throw diverged(batch[k], got);
      ok++;
    }
    // After the first that failed, none may have applied: each guard needs its predecessor's write.
    const late = answers.findIndex((x, k) => k > ok && x.succeeded);
    if (late >= 0) throw diverged(batch[late], Number(answers[late].header.revision));
    applied += ok;
    resent += batch.length - ok;
    if (onStep && Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      onStep(`Replayed up to revision ${revs[applied - 1].revision}.`);
    }
  }
  return { revisions: revs.length, resent, ...expected, ms: Date.now() - started };
}

/** Feed the events of revisions `from`..`to` into `hash`, read back through one watch from `from`. */
async function readChunk(client: Etcd3, from: number, to: number, hash: ChunkedHistoryHash): Promise<void> {
  const stream = await client.watchClient.watch();
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new EtcdBackupError('timeout', `Reading the replayed revisions ${from} to ${to} back took over 5 minutes.`)),
        300_000,
      );
      stream.on('error', (err: unknown) => reject(err));
      stream.on('data', (res: IWatchResponse) => {
        for (const r of groupRevisions(res.events ?? [], 0)) {
          if (r.revision > to) continue;
          for (const e of r.events) hash.add(r.revision, e);
          if (r.revision === to) resolve();
        }
      });
      stream.write({ create_request: { key: Buffer.from([0]), range_end: Buffer.from([0]), start_revision: from } });
    });
  } finally {
    clearTimeout(timer);
    stream.cancel();
  }
}

/**
 * The SHA-256 ({@link ChunkedHistoryHash}) of the history the throwaway member now holds after
 * `base`, read back through watches, {@link HISTORY_WATCHERS} chunks at a time.
 */
async function historyHash(client: Etcd3, base: number, target: number, signal?: AbortSignal): Promise<{ sha256: string; events: number }> {
  const hash = new ChunkedHistoryHash(base, target);
  const starts: number[] = [];
  for (let from = base + 1; from <= target; from += HISTORY_CHUNK) starts.push(from);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < starts.length) {
      if (signal?.aborted) throw new EtcdBackupError('cancelled', 'Cancelled: nothing was saved.');
      const from = starts[next++];
      await readChunk(client, from, Math.min(target, from + HISTORY_CHUNK - 1), hash);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HISTORY_WATCHERS, starts.length) }, worker));
  return { sha256: hash.digest(), events: hash.events };
}

async function grantLeases(
  t: Throwaway,
  revs: RevisionRecord[],
  table: Map<string, LeaseRecord>,
  unknownTtl: number,
  warnings: string[],
): Promise<{ all: Map<string, number>; granted: Set<string> }> {
  const client = t.conn.client;
  const all = new Map<string, number>();
  const existing = await client.leaseClient.leaseLeases();
  for (const l of existing.leases ?? []) {
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: l.ID });
    all.set(String(l.ID), Number(ttl.grantedTTL));
  }
  const granted = new Set<string>();
  for (const r of revs) {
    for (const e of r.events) {
      if (e.op !== 'put' || e.lease === '0' || all.has(e.lease)) continue;
      const rec = table.get(e.lease);
      let ttl = rec?.ttl ?? -1;
      if (ttl < 0) {
        warnings.push(`Lease ${e.lease} expired before the follower could read its TTL; it was granted with ${unknownTtl} s.`);
        ttl = unknownTtl;
      }
      await client.leaseClient.leaseGrant({ ID: e.lease, TTL: ttl });
      all.set(e.lease, ttl);
      granted.add(e.lease);
    }
  }
  return { all, granted };
}

/** Revoke the leases the replay granted that hold no key at the target (the original's had expired or were revoked). */
async function dropEmptyLeases(client: Etcd3, granted: Set<string>): Promise<number> {
  let n = 0;
  for (const id of granted) {
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    if (Number(ttl.TTL) >= 0 && (ttl.keys ?? []).length === 0) {
      await client.leaseClient.leaseRevoke({ ID: id });
      n++;
    }
  }
  return n;
}

function gapError(
  gap: { from: number; to: number; before?: string; after?: string },
  where: string,
  target: number,
  base: FullSnapshotRef,
): EtcdBackupError {
  const around = [gap.before && `after ${gap.before}`, gap.after && `before ${gap.after}`].filter(Boolean).join(', ');
  return new EtcdBackupError(
    'notFound',
    `The change log in ${where} has no segment for revisions ${gap.from} to ${gap.to}${around ? ` (${around})` : ''}: ` +
      `a segment is missing, so revision ${target} cannot be rebuilt from ${base.name} (revision ${base.revision}). ` +
      `Pick a revision before ${gap.from}, or restore a full snapshot.`,
  );
}

/** The target revision (and its time when it came from the log), from `toRevision` or `toTime`. */
async function resolveTarget(
  opts: MaterializeOptions,
  refs: SegmentRef[],
  reader: SegmentReader,
  fulls: FullSnapshotRef[],
): Promise<{ revision: number; time?: number }> {
  if (opts.toRevision !== undefined) {
    if (!Number.isSafeInteger(opts.toRevision) || opts.toRevision < 1) {
      throw new EtcdBackupError('invalidInput', `--to-revision must be a positive whole number (got ${opts.toRevision}).`);
    }
    return { revision: opts.toRevision };
  }
  if (!opts.toTime || Number.isNaN(opts.toTime.getTime())) {
    throw new EtcdBackupError('invalidInput', 'Give the point to restore: --to-revision N or --to-time TIME (e.g. 2026-12-01T17:55:00Z).');
  }
  const hit = await revisionAtTime(refs, reader, fulls, opts.toTime.getTime());
  if (!hit) throw noCoverage(`${opts.toTime.toISOString()} (nothing was recorded at or before it)`, refs, fulls);
  return hit;
}

/** Build the snapshot of revision `toRevision` (or the last one at or before `toTime`). See the module comment. */
export async function materialize(opts: MaterializeOptions): Promise<MaterializeResult> {
  const started = Date.now();
  const step = (m: string): void => opts.onStep?.(m);
  const reader = new SegmentReader(opts.segments);
  const refs = await opts.segments.list();
  const fulls = await opts.snapshots.list();
  const target = await resolveTarget(opts, refs, reader, fulls);
  const covered = Math.max(refs.length ? refs[refs.length - 1].last : 0, ...fulls.map((f) => f.revision));
  const candidates = fulls.filter((f) => f.revision <= target.revision).sort((a, b) => b.revision - a.revision);
  if (target.revision > covered || !candidates.length) throw noCoverage(`revision ${target.revision}`, refs, fulls);
  for (const base of candidates) {
    const { segments: need, gap } = segmentsFor(refs, base.revision, target.revision);
    if (gap) throw gapError(gap, opts.segments.where, target.revision, base);
    step(`Base ${base.name} (revision ${base.revision}); ${need.length} segment(s) to replay up to revision ${target.revision}.`);
    const load = async (): Promise<Segment[]> => {
      const segs: Segment[] = [];
      for (const ref of need) segs.push(await reader.get(ref));
      return segs;
    };
    const out = await fromBase(opts, base, load, target.revision, step);
    if (out) return { ...out, revisionTime: target.time, durationMs: Date.now() - started };
    step(`${base.name} holds revisions after ${target.revision}: trying an older full snapshot.`);
  }
  throw noCoverage(`revision ${target.revision} (every full snapshot at or before it holds later revisions)`, refs, fulls);
}

type BaseOutcome = Omit<MaterializeResult, 'durationMs' | 'revisionTime'>;

/** Restore `base`, replay, check and save; undefined when the base turns out to be newer than the target. */
async function fromBase(
  opts: MaterializeOptions,
  base: FullSnapshotRef,
  loadSegments: () => Promise<Segment[]>,
  target: number,
  step: (m: string) => void,
): Promise<BaseOutcome | undefined> {
  const local = await opts.snapshots.open(base);
  let t: Throwaway | undefined;
  // The throwaway etcd is restored and started (about a second, in other processes) while the
  // segments are read and parsed here (1.5 s for 100,000 events); a bad segment still stops it all.
  const starting = startThrowaway(local.path, {
    toolPaths: opts.toolPaths,
    tempParent: opts.tempParent,
    signal: opts.signal,
    oneThread: (opts.replayWindow ?? REPLAY_WINDOW) > 1,
  });
  starting.catch(() => undefined); // awaited below, after the segments
  try {
    const segs = await loadSegments();
    t = await starting;
    if (t.revision > target) return undefined;
    step(`The base snapshot serves revision ${t.revision} with ${t.keys} keys on ${t.clientUrl}.`);
    // Each revision once, in order (overlapping segments, e.g. from two followers, give it twice).
    let lastRev = t.revision;
    const revs = segs.flatMap((s) => s.revisions).filter((r) => r.revision > lastRev && r.revision <= target && (lastRev = r.revision) > 0);
    const firstNeeded = t.revision + 1;
    if (target > t.revision && revs[0]?.revision !== firstNeeded) {
      throw gapError(
        {
          from: firstNeeded,
          to: (revs[0]?.revision ?? target + 1) - 1,
          after: segs[0]?.header && `the segment starting at ${segs[0].first}`,
        },
        opts.segments.where,
        target,
        base,
      );
    }
    return await replayAndSave(opts, t, base, segs, revs, target, step);
  } finally {
    t ??= await starting.catch(() => undefined);
    await t?.stop();
    await local.done();
  }
}

async function replayAndSave(
  opts: MaterializeOptions,
  t: Throwaway,
  base: FullSnapshotRef,
  segs: Segment[],
  revs: RevisionRecord[],
  target: number,
  step: (m: string) => void,
): Promise<BaseOutcome> {
  const client = t.conn.client;
  const warnings: string[] = [];
  const leases = await grantLeases(t, revs, leaseTable(segs), opts.unknownLeaseTtl ?? 60, warnings);
  const alive = await keepAlive(client, leases.all);
  let figures: ReplayFigures;
  try {
    figures = await replay(client, revs, t.keys, opts.signal, step, opts.replayWindow);
  } finally {
    alive.stop();
  }
  const revoked = await dropEmptyLeases(client, leases.granted);
  const short = [...leases.all].filter(([, ttl]) => ttl * 1000 < figures.ms);
  if (short.length) {
    warnings.push(
      `${short.length} lease(s) have a TTL shorter than the ${(figures.ms / 1000).toFixed(1)} s replay (${short
        .slice(0, 5)
        .map(([id, ttl]) => `${id}: ${ttl} s`)
        .join(', ')}${short.length > 5 ? ', …' : ''}): ` +
        'they could have expired during it; they were kept alive, so their keys are as at the target revision. ' +
        "A restored cluster starts every lease's full TTL again.",
    );
  }
  const checks = await checkReplay(client, t.revision, target, figures, opts.signal);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) {
    throw new EtcdBackupError(
      'internal',
      `The replayed member differs from the change log (${failed.map((c) => `${c.what}: ${c.actual}, expected ${c.expected}`).join('; ')}` +
        '): nothing was saved.',
    );
  }
  step(
    `Replayed ${figures.revisions} revisions (${figures.events} events) in ${(figures.ms / 1000).toFixed(1)} s` +
      `${figures.resent ? ` (${figures.resent} sent again after etcd took them out of order)` : ''}; saving ${opts.output}.`,
  );
  const saved = await saveSnapshot(
    { name: 'point-in-time', endpoints: [t.clientUrl], timeoutMs: 30_000 },
    {},
    { endpoint: t.clientUrl, file: opts.output, sidecar: false, signal: opts.signal },
  );
  return {
    file: saved.file,
    revision: target,
    base: { name: base.name, revision: t.revision },
    replayed: {
      revisions: figures.revisions,
      events: figures.events,
      segments: segs.map((s) => s.header.first).map(String),
      ms: figures.ms,
      resent: figures.resent,
    },
    keys: figures.liveKeys,
    leases: { granted: leases.granted.size, keptAlive: leases.all.size, revoked },
    checks,
    warnings: [...warnings, ...alive.failures().map((f) => `A lease keep-alive failed during the replay: ${f}`)],
    sha256: saved.sha256,
    size: saved.size,
  };
}

async function checkReplay(
  client: Etcd3,
  base: number,
  target: number,
  figures: ReplayFigures,
  signal?: AbortSignal,
): Promise<MaterializeCheck[]> {
  const res = await client.kv.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), count_only: true });
  const history = await historyHash(client, base, target, signal);
  return [
    { what: 'revision', ok: Number(res.header.revision) === target, expected: String(target), actual: String(res.header.revision) },
    { what: 'keys', ok: Number(res.count) === figures.liveKeys, expected: String(figures.liveKeys), actual: String(res.count) },
    { what: 'history SHA-256', ok: history.sha256 === figures.sha256, expected: figures.sha256, actual: history.sha256 },
    { what: 'history events', ok: history.events === figures.events, expected: String(figures.events), actual: String(history.events) },
  ];
}
