/**
 * Recovering from NOSPACE and reclaiming space (the runbook's last "Facts" bullet): compact the
 * keyspace at the current revision, defragment every reachable member one at a time (followers
 * first, the leader last: a defrag blocks its member), then disarm the alarms, which never
 * clear by themselves. Plain Node over `EtcdConnection`; no `vscode`.
 */
import type { ClusterOverview, MemberOverview } from './clusterStatus';
import { humanizeBytes, memberLabel, quorumState } from './clusterStatus';
import type { EtcdConnection } from './etcd';
import { fromHexId, toHexId, withDeadline } from './etcd';
import { cancelledError, causeText, EtcdBackupError, explain } from './errors';

/** A defrag rewrites the member's whole db file and blocks it meanwhile: minutes on a large db. */
export const DEFRAG_DEADLINE_MS = 5 * 60_000;
/** A physical compaction waits until the compacted entries are removed from the db. */
export const COMPACT_DEADLINE_MS = 2 * 60_000;

/** What the reclaim needs of a connection (EtcdConnection has it all). */
export type SpaceApi = Pick<EtcdConnection, 'clusterOverview' | 'endpointClient' | 'endpointStatus' | 'timeoutMs' | 'config'>;

export interface AlarmInfo {
  /** Hex, as etcdctl prints it. */
  memberId: string;
  /** etcdctl's spelling: NOSPACE, CORRUPT. */
  alarm: string;
}

/** etcd3 answers the proto enum names ("Nospace"); etcdctl prints NOSPACE. */
export function alarmName(raw: string | number | undefined): string {
  if (typeof raw === 'number') {
    return ['NONE', 'NOSPACE', 'CORRUPT'][raw] ?? String(raw);
  }
  return String(raw ?? 'NONE').toUpperCase();
}

/** The reverse of {@link alarmName}: what an etcd3 AlarmRequest takes. */
function protoAlarm(name: string): 'None' | 'Nospace' | 'Corrupt' {
  const n = name.toUpperCase();
  return n === 'NOSPACE' ? 'Nospace' : n === 'CORRUPT' ? 'Corrupt' : 'None';
}

/** Endpoints to ask for cluster-wide answers (alarms): the configured ones, in order. */
async function firstAnswer<T>(
  conn: Pick<SpaceApi, 'endpointClient' | 'timeoutMs' | 'config'>,
  endpoints: string[],
  what: string,
  fn: (c: import('etcd3').Etcd3, endpoint: string) => Promise<T>,
): Promise<T> {
  let last: EtcdBackupError | undefined;
  for (const ep of endpoints) {
    try {
      const c = await conn.endpointClient(ep);
      return await withDeadline(fn(c, ep), conn.timeoutMs + 1000, ep);
    } catch (err) {
      last = explain(err, ep);
      // etcd itself answered no (auth, permission): the next endpoint will say the same.
      if (last.kind === 'auth' || last.kind === 'permission') {
        break;
      }
    }
  }
  throw new EtcdBackupError(
    last?.kind ?? 'unreachable',
    `${what}: ${last?.message ?? `no endpoint of cluster "${conn.config.name}" answered.`}`,
    { cause: last },
  );
}

/** `etcdctl alarm list`: the active alarms of the cluster (the same answer from every member). */
export async function listAlarms(
  conn: Pick<SpaceApi, 'endpointClient' | 'timeoutMs' | 'config'>,
  endpoints = conn.config.endpoints,
): Promise<AlarmInfo[]> {
  return firstAnswer(conn, endpoints, 'Listing alarms failed', async (c) => {
    const res = await c.maintenance.alarm({ action: 'Get', memberID: 0, alarm: 'None' }, { deadline: Date.now() + conn.timeoutMs });
    return (res.alarms ?? []).map((a) => ({ memberId: toHexId(a.memberID), alarm: alarmName(a.alarm as string) }));
  });
}

export type SpaceStepId = 'overview' | 'compact' | 'defrag' | 'disarm' | 'verify' | 'done';

export interface SpaceStep {
  step: SpaceStepId;
  state: 'running' | 'done' | 'skipped' | 'failed';
  message: string;
  /** Hex id of the member a defrag step is about. */
  memberId?: string;
  at: number;
}

export interface MemberSpace {
  id: string;
  name: string;
  endpoint: string;
  role: MemberOverview['role'];
  before: { dbSize: number; dbSizeInUse: number };
  after?: { dbSize: number; dbSizeInUse: number };
}

export interface ReclaimPlan {
  /** Reachable members in defrag order: followers (and learners) first, the leader last. */
  targets: MemberOverview[];
  /** Members that cannot be reached: not defragmented. */
  skipped: MemberOverview[];
  /** Set when the reclaim must not start (one sentence). */
  refusal?: string;
}

/**
 * Which members to defragment, in which order, or why not to start. Pure: the overview is
 * gathered by the caller. Quorum counts reachable voters (a member under NOSPACE reports
 * itself unhealthy, yet it answers and votes).
 */
export function planReclaim(o: ClusterOverview): ReclaimPlan {
  if (!o.reachable) {
    return {
      targets: [],
      skipped: [],
      refusal: `Cannot reclaim space: ${o.error?.message ?? `no endpoint of cluster "${o.cluster}" answered.`}`,
    };
  }
  const q = quorumState(o.members.map((m) => ({ id: m.id, isLearner: m.isLearner, healthy: m.reachable })));
  const reachable = o.members.filter((m) => m.reachable && m.endpoint);
  const skipped = o.members.filter((m) => !(m.reachable && m.endpoint));
  if (!q.hasQuorum || !o.leaderId) {
    return {
      targets: [],
      skipped,
      refusal:
        `Cluster "${o.cluster}" has no quorum (${q.healthyVoters} of ${q.voters} voting members answer, ` +
        `${q.quorum} needed): compaction needs a leader; bring members back (or restore from a snapshot) first.`,
    };
  }
  const rank = (m: MemberOverview): number => (m.id === o.leaderId ? 1 : 0);
  const targets = [...reachable].sort((a, b) => rank(a) - rank(b));
  return { targets, skipped };
}

export interface ReclaimOptions {
  onStep?: (s: SpaceStep) => void;
  /** Checked between steps (a compaction or a defrag in flight is not interrupted). */
  signal?: AbortSignal;
  /** Compact at the current revision first (physical). Default true. */
  compact?: boolean;
  /** Disarm every alarm afterwards. Default true. */
  disarm?: boolean;
  /** Deadline of each defrag call (ms). Default {@link DEFRAG_DEADLINE_MS}. */
  defragDeadlineMs?: number;
}

export interface ReclaimResult {
  cluster: string;
  /** The revision compacted at (undefined when compaction was not asked for). */
  compactedRevision?: number;
  /** True when the revision had already been compacted (nothing to do). */
  alreadyCompacted?: boolean;
  /** Defragmented members, in the order they were defragmented, with sizes before and after. */
  members: MemberSpace[];
  /** Members not defragmented because they did not answer (hex id, name, why). */
  skipped: { id: string; name: string; reason: string }[];
  alarmsBefore: AlarmInfo[];
  alarmsAfter: AlarmInfo[];
  /** Alarms deactivated. */
  disarmed: AlarmInfo[];
  steps: SpaceStep[];
}

/** One line per member: "etcd-1: 24 MB -> 1.2 MB". */
export function sizeLines(r: Pick<ReclaimResult, 'members'>): string[] {
  return r.members.map((m) => `${m.name || m.id}: ${humanizeBytes(m.before.dbSize)} -> ${m.after ? humanizeBytes(m.after.dbSize) : '?'}`);
}

/** One run of reclaimSpace: its step log, and the failure that ends it. */
class ReclaimRun {
  readonly steps: SpaceStep[] = [];

  constructor(
    readonly conn: SpaceApi,
    readonly opts: ReclaimOptions,
  ) {}

  report(step: SpaceStepId, state: SpaceStep['state'], message: string, memberId?: string): void {
    const s: SpaceStep = { step, state, message, at: Date.now(), ...(memberId ? { memberId } : {}) };
    this.steps.push(s);
    this.opts.onStep?.(s);
  }

  checkCancel(): void {
    if (this.opts.signal?.aborted) throw cancelledError();
  }

  /** Log the step as failed with one sentence, and throw it (the error's kind kept). */
  fail(step: SpaceStepId, err: unknown, sentence: (m: string) => string, memberId?: string): never {
    const e = explain(err);
    const msg = sentence(e.message);
    this.report(step, 'failed', msg, memberId);
    throw new EtcdBackupError(e.kind, msg, { cause: err });
  }

  /** Compaction at the current revision, on the leader; an already compacted revision is fine. */
  async compact(leader: MemberOverview, result: ReclaimResult): Promise<void> {
    const { conn } = this;
    const ep = leader.endpoint as string;
    this.report(
      'compact',
      'running',
      `Compacting at the current revision on ${memberLabel(leader)} (waits until ` +
        `the old revisions are removed; up to ${COMPACT_DEADLINE_MS / 60_000} min)`,
    );
    let revision = 0;
    try {
      const c = await conn.endpointClient(ep);
      const res = await withDeadline(
        c.kv.range({ key: Buffer.from([0]), limit: 1, keys_only: true }, { deadline: Date.now() + conn.timeoutMs }),
        conn.timeoutMs + 1000,
        ep,
      );
      revision = Number(res.header.revision);
      result.compactedRevision = revision;
      try {
        await withDeadline(
          c.kv.compact({ revision, physical: true }, { deadline: Date.now() + COMPACT_DEADLINE_MS }),
          COMPACT_DEADLINE_MS + 1000,
          ep,
        );
        this.report('compact', 'done', `Compacted at revision ${revision}: history older than it is gone`);
      } catch (err) {
        if (!/required revision has been compacted/i.test(causeText(err))) {
          throw err;
        }
        result.alreadyCompacted = true;
        this.report('compact', 'skipped', `Revision ${revision} was already compacted: nothing to compact`);
      }
    } catch (err) {
      this.fail('compact', err, (m) => `Compaction at revision ${revision || 'now'} failed: ${m}`);
    }
  }

  /** Defragment one member, with its db size before and after. */
  async defrag(m: MemberOverview, defragMs: number): Promise<MemberSpace> {
    const ep = m.endpoint as string;
    const label = memberLabel(m);
    let before: MemberSpace['before'];
    try {
      const s = await this.conn.endpointStatus(ep);
      before = { dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse };
    } catch (err) {
      return this.fail('defrag', err, (msg) => `Reading the db size of ${label} before its defrag failed: ${msg}`, m.id);
    }
    const deadline = Math.round(defragMs / 60_000);
    this.report(
      'defrag',
      'running',
      `Defragmenting ${label} (${m.role}, ${humanizeBytes(before.dbSize)}); it serves no requests until done (deadline ${deadline} min)`,
      m.id,
    );
    try {
      const c = await this.conn.endpointClient(ep);
      await withDeadline(c.maintenance.defragment({ deadline: Date.now() + defragMs }), defragMs + 1000, ep);
    } catch (err) {
      this.fail('defrag', err, (msg) => `Defragmenting ${label} (${ep}) failed: ${msg}`, m.id);
    }
    const after = await this.conn.endpointStatus(ep).then(
      (s) => ({ dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse }),
      () => undefined,
    );
    this.report(
      'defrag',
      'done',
      `Defragmented ${label}: ${humanizeBytes(before.dbSize)} -> ${after ? humanizeBytes(after.dbSize) : '(size not read)'}`,
      m.id,
    );
    return { id: m.id, name: m.name, endpoint: ep, role: m.role, before, after };
  }

  /** Disarm every active alarm (read again first: the defrags may have cleared some). */
  async disarm(endpoints: string[], result: ReclaimResult): Promise<void> {
    const current = await listAlarms(this.conn, endpoints);
    if (!current.length) {
      this.report('disarm', 'skipped', 'No active alarm to disarm');
      return;
    }
    this.report('disarm', 'running', `Disarming ${current.map((a) => `${a.alarm} on ${a.memberId}`).join(', ')}`);
    try {
      for (const a of current) {
        await firstAnswer(this.conn, endpoints, `Disarming ${a.alarm} on ${a.memberId} failed`, (c) =>
          c.maintenance.alarm(
            { action: 'Deactivate', memberID: fromHexId(a.memberId), alarm: protoAlarm(a.alarm) },
            { deadline: Date.now() + this.conn.timeoutMs },
          ),
        );
        result.disarmed.push(a);
      }
    } catch (err) {
      this.fail('disarm', err, (m) => m);
    }
    this.report('disarm', 'done', `Disarmed ${result.disarmed.length} alarm(s)`);
  }

  /** Read the alarm list again: none left means the cluster accepts writes. */
  async verify(endpoints: string[], result: ReclaimResult): Promise<void> {
    this.report('verify', 'running', 'Reading the alarm list again');
    result.alarmsAfter = await listAlarms(this.conn, endpoints);
    if (!result.alarmsAfter.length) {
      this.report('verify', 'done', 'No active alarm: the cluster accepts writes');
      return;
    }
    const still = result.alarmsAfter.map((a) => `${a.alarm} on ${a.memberId}`).join(', ');
    const why =
      this.opts.disarm === false
        ? ' (disarming was not asked for)'
        : ' (the db may still be above its quota: raise --quota-backend-bytes or delete data, then run this again)';
    this.report('verify', 'done', `Still active: ${still}${why}`);
  }
}

/**
 * Compact, defragment each reachable member in turn (followers first, the leader last), then
 * disarm every alarm and read the alarm list again to confirm it is empty. Refuses (before
 * changing anything) when the cluster has no quorum. Members that do not answer are skipped
 * and named in the result and the step log.
 */
export async function reclaimSpace(conn: SpaceApi, opts: ReclaimOptions = {}): Promise<ReclaimResult> {
  const run = new ReclaimRun(conn, opts);
  run.report('overview', 'running', 'Reading the members, their health and db sizes');
  const o = await conn.clusterOverview();
  const plan = planReclaim(o);
  if (plan.refusal) {
    run.report('overview', 'failed', plan.refusal);
    throw new EtcdBackupError(o.reachable ? 'noQuorum' : (o.error?.kind ?? 'unreachable'), plan.refusal);
  }
  const endpoints = plan.targets.map((m) => m.endpoint as string);
  const skipped = plan.skipped.map((m) => ({ id: m.id, name: m.name, reason: m.error?.message ?? 'did not answer' }));
  const alarmsBefore = await listAlarms(conn, endpoints);
  const leader = plan.targets.find((m) => m.id === o.leaderId) as MemberOverview;
  run.report(
    'overview',
    'done',
    `${plan.targets.length} member(s) to defragment in this order: ${plan.targets.map((m) => memberLabel(m)).join(', ')}` +
      (skipped.length ? `; skipped (not reachable): ${skipped.map((s) => `${s.name || s.id} (${s.reason})`).join('; ')}` : '') +
      (alarmsBefore.length ? `; active alarms: ${alarmsBefore.map((a) => `${a.alarm} on ${a.memberId}`).join(', ')}` : '; no active alarm'),
  );
  for (const s of skipped) {
    run.report('defrag', 'skipped', `Skipping ${s.name || s.id}: not reachable (${s.reason})`, s.id);
  }
  const result: ReclaimResult = { cluster: o.cluster, members: [], skipped, alarmsBefore, alarmsAfter: [], disarmed: [], steps: run.steps };
  if (opts.compact !== false) {
    run.checkCancel();
    await run.compact(leader, result);
  }
  for (const m of plan.targets) {
    run.checkCancel();
    result.members.push(await run.defrag(m, opts.defragDeadlineMs ?? DEFRAG_DEADLINE_MS));
  }
  if (opts.disarm !== false) {
    run.checkCancel();
    await run.disarm(endpoints, result);
  }
  await run.verify(endpoints, result);
  run.report('done', 'done', sizeLines(result).join('; ') || 'No member was defragmented');
  return result;
}
