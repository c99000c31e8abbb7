/**
 * The cluster overview model (members, their role and health, per-endpoint status) and the
 * pure functions over it: the one-line summary, quorum math, etcdctl-like tables.
 * No I/O here: `EtcdConnection.clusterOverview()` in ./etcd gathers the data and calls
 * {@link assembleOverview}.
 */
import { plainHintWords } from './errors';
import type { ErrorKind, Hint, HintWords } from './errors';
import type { EndpointHealth, EndpointStatus, MemberInfo } from './types';
import { v2DataAtRisk, v2Summary, type V2StoreCheck } from './v2store';

/** `unknown`: a voting member nobody answered for (it may be a follower, or a leader nobody sees). */
export type MemberRole = 'leader' | 'follower' | 'learner' | 'unknown';

/** An error as the overview keeps it: the kind, the sentence, and a short label for a tree. */
export interface ProbeError {
  kind: ErrorKind;
  message: string;
  /** A few words: "connection refused", "TLS handshake failed", "certificate unknown"... */
  reason: string;
  /** What to do, worded by the front end (`withHint`). */
  hint?: Hint;
}

/** What one endpoint answered (status and health are asked concurrently, each with a deadline). */
export interface EndpointProbe {
  endpoint: string;
  /** True for the cluster's configured endpoints, false for a member's advertised client URL. */
  configured: boolean;
  status?: EndpointStatus;
  statusError?: ProbeError;
  health?: EndpointHealth;
}

/** One member, with everything a front end shows about it. */
export interface MemberOverview {
  /** Hex, as etcdctl prints it. */
  id: string;
  /** Empty for a member that was added but has not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  role: MemberRole;
  isLearner: boolean;
  /** False for a member added with `member add` whose process has not joined yet. */
  started: boolean;
  /** The member answered a status request. */
  reachable: boolean;
  /** Reachable and the health probe (a quorum read, as `etcdctl endpoint health`) succeeded. */
  healthy: boolean;
  /** The endpoint that answered for this member. */
  endpoint?: string;
  version?: string;
  dbSize?: number;
  dbSizeInUse?: number;
  raftTerm?: string;
  raftIndex?: string;
  raftAppliedIndex?: string;
  /** Health probe round trip in ms. */
  tookMs?: number;
  /** Why the member is unreachable or unhealthy (one sentence), or errors it reported. */
  error?: ProbeError;
}

export interface ClusterOverview {
  cluster: string;
  /** At least one endpoint answered with the member list. */
  reachable: boolean;
  /** Why the cluster could not be reached (the first configured endpoint's error). */
  error?: ProbeError;
  /** Distinct errors per configured endpoint, when unreachable (one message each). */
  endpointErrors: { endpoint: string; error: ProbeError }[];
  /** Hex cluster id. */
  clusterId?: string;
  /** Hex id of the leader, or undefined when no member reports one. */
  leaderId?: string;
  members: MemberOverview[];
  probes: EndpointProbe[];
  /** Epoch ms when gathering started, and how long it took. */
  fetchedAt: number;
  tookMs: number;
  /**
   * What the v2 API answered (./v2store): keys there are not in any v3 snapshot. Absent when the
   * check was not asked for (an unreachable cluster is not asked).
   */
  v2Store?: V2StoreCheck;
}

// ---------------------------------------------------------------------------------------
// Error labels

/** A short label for an error, for a tree description ("connection refused", "timeout"...). */
export function shortReason(kind: ErrorKind, message = '', causeText = ''): string {
  const text = `${message} ${causeText}`.toLowerCase();
  switch (kind) {
    case 'unreachable':
      return text.includes('enotfound') || text.includes('name resolution') ? 'host not found' : 'connection refused';
    case 'tls':
      if (/certificate unknown|unknown ca|bad certificate|certificate required|alert.*certificate/.test(text)) {
        return 'certificate unknown';
      }
      return 'TLS handshake failed';
    case 'auth':
      return 'auth failed';
    case 'timeout':
      return 'timeout';
    case 'permission':
      return 'permission denied';
    case 'notFound':
      return 'file missing';
    case 'noQuorum':
      return 'no leader';
    case 'cancelled':
      return 'cancelled';
    case 'invalidInput':
      return 'invalid settings';
    default:
      return 'error';
  }
}

/** Turn any caught error (already passed through `explain`) into a {@link ProbeError}. */
export function toProbeError(err: { kind: ErrorKind; message: string; cause?: unknown }): ProbeError {
  const cause =
    err.cause instanceof Error ? `${err.cause.message} ${(err.cause as { details?: string }).details ?? ''}` : String(err.cause ?? '');
  return { kind: err.kind, message: err.message, reason: shortReason(err.kind, err.message, cause) };
}

// ---------------------------------------------------------------------------------------
// Assembly

function pickLeader(statuses: EndpointStatus[]): string | undefined {
  // The answer with the highest raft term knows the current leader.
  let best: EndpointStatus | undefined;
  for (const s of statuses) {
    if (s.leaderId === '0') {
      continue;
    }
    if (!best || BigInt(s.raftTerm || '0') > BigInt(best.raftTerm || '0')) {
      best = s;
    }
  }
  return best?.leaderId;
}

/** What assembleOverview is built from: the member list (or why it failed) and each endpoint's answers. */
export interface OverviewInput {
  cluster: string;
  members?: MemberInfo[];
  membersError?: ProbeError;
  clusterId?: string;
  probes: EndpointProbe[];
  fetchedAt: number;
  tookMs: number;
}

/** The error a member that answered shows: the alarms it reports (NOSPACE with its way out), or a failed health check. */
function answeredMemberError(s: EndpointStatus, h: EndpointHealth | undefined): ProbeError | undefined {
  if (s.errors.length) {
    const reports = `The member reports: ${s.errors.join('; ')}.`;
    return s.errors.some((e) => e.includes('NOSPACE'))
      ? {
          kind: 'diskFull',
          message: `${reports} Its database reached the space quota and the cluster refuses writes.`,
          reason: 'NOSPACE alarm',
          hint: { kind: 'reclaimSpace' },
        }
      : { kind: 'internal', message: reports, reason: 'member errors' };
  }
  if (h && !h.healthy) {
    const kind = h.errorKind ?? 'internal';
    return {
      kind,
      message: h.error ?? 'The health check failed.',
      reason: kind === 'internal' ? 'unhealthy' : shortReason(kind, h.error ?? ''),
    };
  }
  return undefined;
}

/** One member: matched to the status that names its id (a configured endpoint's first), else why nobody answered for it. */
function memberOverview(m: MemberInfo, probes: readonly EndpointProbe[], leaderId: string | undefined): MemberOverview {
  const started = Boolean(m.name) || m.clientURLs.length > 0;
  const answered = probes
    .filter((p) => p.status && p.status.memberId === m.id)
    .sort((a, b) => Number(b.configured) - Number(a.configured))[0];
  // The member list says who is a learner and a status names the leader; only the member's own answer says "follower".
  const role: MemberRole = m.isLearner ? 'learner' : leaderId === m.id ? 'leader' : answered?.status ? 'follower' : 'unknown';
  const base: MemberOverview = {
    id: m.id,
    name: m.name,
    peerURLs: m.peerURLs,
    clientURLs: m.clientURLs,
    role,
    isLearner: m.isLearner,
    started,
    reachable: false,
    healthy: false,
  };
  if (answered?.status) {
    const s = answered.status;
    const h = answered.health;
    return {
      ...base,
      reachable: true,
      healthy: Boolean(h?.healthy) && s.errors.length === 0,
      endpoint: answered.endpoint,
      version: s.version,
      dbSize: s.dbSize,
      dbSizeInUse: s.dbSizeInUse,
      raftTerm: s.raftTerm,
      raftIndex: s.raftIndex,
      raftAppliedIndex: s.raftAppliedIndex,
      tookMs: h?.tookMs,
      error: answeredMemberError(s, h),
    };
  }
  if (!started) {
    const peers = m.peerURLs.join(', ') || '(none)';
    const message = `Not started: no etcd process has joined with peer URL ${peers} yet. Start it with --initial-cluster-state existing.`;
    return { ...base, error: { kind: 'notFound', message, reason: 'not started' } };
  }
  const failed = probes.find((p) => p.statusError && m.clientURLs.includes(p.endpoint));
  if (failed?.statusError) {
    return { ...base, endpoint: failed.endpoint, error: failed.statusError };
  }
  const message = `No endpoint answered for this member (client URLs: ${m.clientURLs.join(', ') || 'none'}).`;
  return { ...base, error: { kind: 'unreachable', message, reason: 'not reachable' } };
}

/**
 * Build the overview from what the endpoints answered. Members come from the member list;
 * each is matched to the status that names its id; a member nobody answered for gets the
 * error of the probe of one of its client URLs, or a sentence saying it never started.
 */
export function assembleOverview(input: OverviewInput): ClusterOverview {
  const probes = input.probes;
  const statuses = probes.map((p) => p.status).filter((s): s is EndpointStatus => Boolean(s));
  const leaderId = pickLeader(statuses);
  const endpointErrors = probes
    .filter((p) => p.configured && p.statusError)
    .map((p) => ({ endpoint: p.endpoint, error: p.statusError as ProbeError }));
  const common = { cluster: input.cluster, clusterId: input.clusterId, probes, fetchedAt: input.fetchedAt, tookMs: input.tookMs };
  if (!input.members) {
    // The first endpoint's own sentence reads better than the member list's summary of all.
    const first = probes.find((p) => p.configured && p.statusError)?.statusError;
    const error = first ?? input.membersError ?? { kind: 'unreachable', message: 'No endpoint answered.', reason: 'connection refused' };
    return {
      ...common,
      reachable: false,
      error,
      endpointErrors: endpointErrors.length ? endpointErrors : [{ endpoint: '', error }],
      leaderId,
      members: [],
    };
  }
  const members = input.members.map((m) => memberOverview(m, probes, leaderId));
  return {
    ...common,
    reachable: true,
    endpointErrors,
    leaderId: leaderId && members.some((m) => m.id === leaderId) ? leaderId : undefined,
    members,
  };
}

// ---------------------------------------------------------------------------------------
// Formatting

/**
 * Bytes as etcdctl prints them (go-humanize `Bytes`: SI units, "20 kB", "1.6 GB").
 * Go's `%.0f` rounds an exact half to even; so does this.
 */
export function humanizeBytes(n: number): string {
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  if (!Number.isFinite(n) || n < 0) {
    return '?';
  }
  if (n < 10) {
    return `${Math.floor(n)} B`;
  }
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000) + 1e-12), sizes.length - 1);
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  if (val < 10) {
    return `${val.toFixed(1)} ${sizes[e]}`;
  }
  const whole = Math.trunc(val);
  const frac = val - whole;
  let rounded: number;
  if (Math.abs(frac - 0.5) < 1e-9) {
    rounded = whole % 2 === 0 ? whole : whole + 1;
  } else {
    rounded = Math.round(val);
  }
  return `${rounded} ${sizes[e]}`;
}

/** A duration as Go's `time.Duration.String()` prints it (etcdctl's "took = 2.890792ms"). */
export function goDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) {
    return '0s';
  }
  const trim = (v: number, digits: number): string => v.toFixed(digits).replace(/\.?0+$/, '');
  if (ms < 0.001) {
    return `${Math.round(ms * 1e6)}ns`;
  }
  if (ms < 1) {
    return `${trim(ms * 1000, 3)}µs`;
  }
  if (ms < 1000) {
    return `${trim(ms, 6)}ms`;
  }
  return `${trim(ms / 1000, 9)}s`;
}

/** A duration for people: "0.4 ms", "262 ms", "1.3 s", "5 s", "12 s" (etcdctl's own output keeps {@link goDuration}). */
export function roundedDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 9950) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  return `${Math.round(ms / 1000)} s`;
}

/** Distinct versions, lowest first ("v3.4.23" or "v3.4.23/v3.5.9" during an upgrade). */
function versions(members: MemberOverview[]): string[] {
  const v = [...new Set(members.map((m) => m.version).filter((x): x is string => Boolean(x)))];
  const key = (s: string): number[] => s.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return v.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      if ((ka[i] ?? 0) !== (kb[i] ?? 0)) {
        return (ka[i] ?? 0) - (kb[i] ?? 0);
      }
    }
    return 0;
  });
}

/** The name a person knows a member by: its name, or its hex id before it started. */
export function memberLabel(m: Pick<MemberOverview, 'name' | 'id'>): string {
  return m.name || m.id;
}

/**
 * One glance at a cluster: "3/3 healthy · leader etcd-2 · v3.4.23 · 1.6 GB", or
 * "unreachable: connection refused". The size is the leader's database (the largest one when
 * there is no leader).
 */
/**
 * A reachable cluster whose voting members (learners do not vote) answer fewer than a quorum:
 * no write and no linearizable read can succeed. Undefined when quorum holds (or nothing is known).
 */
export function lostQuorum(o: ClusterOverview): { answering: number; voters: number; needed: number } | undefined {
  if (!o.reachable) return undefined;
  const voters = o.members.filter((m) => !m.isLearner);
  const answering = voters.filter((m) => m.reachable).length;
  const needed = quorumOf(voters.length);
  return voters.length && answering < needed ? { answering, voters: voters.length, needed } : undefined;
}

/**
 * The member behind `endpoint` has no leader (its status says so, or the cluster lost quorum or
 * reports none): a snapshot from it may be behind the cluster's data.
 */
export function withoutLeader(o: ClusterOverview, endpoint: string): boolean {
  if (!o.reachable) return false;
  const probe = o.probes.find((p) => p.endpoint === endpoint && p.status);
  if (probe?.status?.leaderId === '0') return true;
  return Boolean(lostQuorum(o)) || !o.leaderId;
}

export function clusterSummary(o: ClusterOverview, words: HintWords = plainHintWords): string {
  if (!o.reachable) {
    return `unreachable: ${o.error?.reason ?? 'no endpoint answered'}`;
  }
  const parts: string[] = [];
  const q = lostQuorum(o);
  if (q) parts.push(`quorum lost (${q.answering} of ${q.voters} needed ${q.needed})`);
  parts.push(`${o.members.filter((m) => m.healthy).length}/${o.members.length} healthy`);
  if (o.members.some((m) => m.error?.reason === 'NOSPACE alarm')) {
    // The cluster refuses writes until the alarm is disarmed: say the way out.
    parts.push(`NOSPACE alarm: ${words({ kind: 'reclaimSpace', brief: true })}`);
  }
  const leader = o.members.find((m) => m.id === o.leaderId);
  parts.push(leader ? `leader ${memberLabel(leader)}` : 'no leader');
  const v = versions(o.members);
  if (v.length) {
    parts.push(v.map((x) => `v${x}`).join('/'));
  }
  const sizes = o.members.filter((m) => m.dbSize !== undefined);
  const size = leader?.dbSize ?? (sizes.length ? Math.max(...sizes.map((m) => m.dbSize ?? 0)) : undefined);
  if (size !== undefined) {
    parts.push(humanizeBytes(size));
  }
  if (v2DataAtRisk(o.v2Store)) {
    // Data a snapshot will not hold: say it where the cluster is seen.
    parts.push(v2Summary(o.v2Store));
  }
  return parts.join(' · ');
}

/** The words for one member in a tree description: "leader · healthy", "follower · unreachable: timeout". */
export function memberSummary(m: MemberOverview): string {
  const role = m.role;
  if (!m.started) {
    return `${role} · not started`;
  }
  if (!m.reachable) {
    return `${role} · unreachable: ${m.error?.reason ?? 'no answer'}`;
  }
  if (!m.healthy) {
    return `${role} · unhealthy${m.error ? `: ${m.error.reason}` : ''}`;
  }
  return `${role} · healthy`;
}

function renderTable(header: string[], rows: string[][], alignRight: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const centre = (s: string, w: number): string => {
    const total = w - s.length;
    const left = Math.floor(total / 2);
    return ' '.repeat(left) + s + ' '.repeat(total - left);
  };
  const out = [line, `|${header.map((h, i) => ` ${centre(h, widths[i])} `).join('|')}|`, line];
  for (const r of rows) {
    out.push(`|${r.map((c, i) => ` ${alignRight[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])} `).join('|')}|`);
  }
  out.push(line);
  return out.join('\n');
}

/**
 * `etcdctl endpoint status -w table` as etcd 3.4.23 prints it, from the statuses that
 * answered; endpoints that failed follow as lines like etcdctl's own
 * "Failed to get the status of endpoint ... (reason)".
 */
export function formatEndpointStatusTable(statuses: EndpointStatus[], failures: { endpoint: string; error: string }[] = []): string {
  const header = [
    'ENDPOINT',
    'ID',
    'VERSION',
    'DB SIZE',
    'IS LEADER',
    'IS LEARNER',
    'RAFT TERM',
    'RAFT INDEX',
    'RAFT APPLIED INDEX',
    'ERRORS',
  ];
  const rows = statuses.map((s) => [
    s.endpoint,
    s.memberId,
    s.version,
    humanizeBytes(s.dbSize),
    String(s.memberId === s.leaderId),
    String(s.isLearner),
    s.raftTerm,
    s.raftIndex,
    s.raftAppliedIndex,
    s.errors.join(', '),
  ]);
  // etcdctl's tablewriter right-aligns every cell (it takes the columns for numbers).
  const table = renderTable(
    header,
    rows,
    header.map(() => true),
  );
  const failed = failures.map((f) => `Failed to get the status of endpoint ${f.endpoint} (${f.error})`);
  return [table, ...failed].join('\n');
}

/**
 * `etcdctl endpoint health` lines ("<ep> is healthy: successfully committed proposal: took =
 * 2.89ms"), or with `table` set the `-w table` form.
 */
export function formatEndpointHealth(health: EndpointHealth[], table = false): string {
  if (table) {
    const rows = health.map((h) => [h.endpoint, String(h.healthy), goDuration(h.tookMs), h.error ?? '']);
    return renderTable(['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'], rows, [true, true, true, true]);
  }
  return health
    .map((h) =>
      h.healthy
        ? `${h.endpoint} is healthy: successfully committed proposal: took = ${goDuration(h.tookMs)}`
        : `${h.endpoint} is unhealthy: failed to commit proposal: ${h.error ?? 'unknown error'}`,
    )
    .join('\n');
}

/** `etcdctl member list -w table`, from an overview or a plain member list. */
export function formatMemberTable(members: Pick<MemberInfo, 'id' | 'name' | 'peerURLs' | 'clientURLs' | 'isLearner'>[]): string {
  const rows = members.map((m) => [
    m.id,
    m.name || m.clientURLs.length ? 'started' : 'unstarted',
    m.name,
    m.peerURLs.join(','),
    m.clientURLs.join(','),
    String(m.isLearner),
  ]);
  return renderTable(
    ['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEARNER'],
    rows,
    rows.length ? rows[0].map(() => true) : [true, true, true, true, true, true],
  );
}

// ---------------------------------------------------------------------------------------
// Quorum

/** What quorum math needs of a member; `healthy` absent counts as healthy. */
export interface QuorumMember {
  id: string;
  name?: string;
  isLearner?: boolean;
  healthy?: boolean;
}

export interface QuorumState {
  /** Voting members (learners do not vote). */
  voters: number;
  /** Votes needed: floor(voters / 2) + 1. */
  quorum: number;
  /** Voting members that are healthy. */
  healthyVoters: number;
  /** How many more voters may fail before quorum is lost (negative: already lost). */
  tolerance: number;
  hasQuorum: boolean;
}

export interface QuorumChange {
  before: QuorumState;
  after: QuorumState;
  /** The removal (or addition) leaves the cluster without quorum, or with no member at all. */
  losesQuorum: boolean;
  /** One or two sentences for a modal warning. */
  sentence: string;
}

export function quorumOf(voters: number): number {
  return voters === 0 ? 0 : Math.floor(voters / 2) + 1;
}

export function quorumState(members: QuorumMember[]): QuorumState {
  const voters = members.filter((m) => !m.isLearner);
  const healthyVoters = voters.filter((m) => m.healthy !== false).length;
  const quorum = quorumOf(voters.length);
  return {
    voters: voters.length,
    quorum,
    healthyVoters,
    tolerance: healthyVoters - quorum,
    hasQuorum: voters.length > 0 && healthyVoters >= quorum,
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Quorum before and after removing member `id` (hex). Learners do not vote, so removing one
 * changes nothing; removing a healthy voter while another is down can lose quorum.
 */
export function quorumAfterRemoval(members: QuorumMember[], id: string): QuorumChange {
  const target = members.find((m) => m.id === id);
  const before = quorumState(members);
  const after = quorumState(members.filter((m) => m.id !== id));
  const name = target ? target.name || target.id : id;
  if (!target) {
    return { before, after, losesQuorum: false, sentence: `Member ${id} is not in the member list.` };
  }
  if (target.isLearner) {
    return {
      before,
      after,
      losesQuorum: false,
      sentence:
        `${name} is a learner (it does not vote): removing it leaves quorum ` +
        `at ${after.quorum} of ${plural(after.voters, 'voting member')}.`,
    };
  }
  if (after.voters === 0) {
    return {
      before,
      after,
      losesQuorum: true,
      sentence:
        `${name} is the only voting member: removing it leaves a cluster with ` +
        `no voting member, which cannot work. Restore from a snapshot instead.`,
    };
  }
  const losesQuorum = !after.hasQuorum;
  const head =
    `Removing ${name} leaves ${plural(after.voters, 'voting member')}; quorum ` +
    `becomes ${after.quorum} (was ${before.quorum} of ${before.voters}).`;
  let tail: string;
  if (losesQuorum) {
    tail =
      ` Only ${after.healthyVoters} of them ${after.healthyVoters === 1 ? 'is' : 'are'} healthy: ` +
      `the cluster will LOSE QUORUM and stop serving writes until enough members are back.`;
  } else if (after.tolerance === 0) {
    tail =
      ` ${after.healthyVoters} of them ${after.healthyVoters === 1 ? 'is' : 'are'} healthy, ` +
      `so the cluster will tolerate no further failure until the replacement has joined.`;
  } else {
    tail = ` ${after.healthyVoters} of them are healthy; the cluster tolerates ${plural(after.tolerance, 'more failure')}.`;
  }
  return { before, after, losesQuorum, sentence: head + tail };
}

/**
 * Quorum after adding a member that has not started yet. A new voting member counts towards
 * quorum at once, while it is still down: adding one to a 1-member cluster (or to one already
 * at its tolerance) stops writes until the new member's process joins. A learner is safe.
 */
export function quorumAfterAdd(members: QuorumMember[], isLearner: boolean): QuorumChange {
  const before = quorumState(members);
  const after = quorumState([...members, { id: 'new', isLearner, healthy: false }]);
  if (isLearner) {
    return {
      before,
      after,
      losesQuorum: false,
      sentence: `A learner does not vote: quorum stays ${before.quorum} of ${plural(before.voters, 'voting member')} until you promote it.`,
    };
  }
  const losesQuorum = !after.hasQuorum;
  const head =
    `Adding a voting member makes quorum ${after.quorum} of ${after.voters}; until its process ` +
    `has joined, ${after.healthyVoters} ${after.healthyVoters === 1 ? 'is' : 'are'} healthy.`;
  const tail = losesQuorum
    ? ' The cluster will LOSE QUORUM until the new member starts: add it as a learner instead, or start it right away.'
    : after.tolerance === 0
      ? ' The cluster will tolerate no failure until the new member has joined (a learner avoids this).'
      : '';
  return { before, after, losesQuorum, sentence: head + tail };
}

// ---------------------------------------------------------------------------------------
// Member add

/**
 * `ETCD_INITIAL_CLUSTER` for a member just added, exactly as `etcdctl member add` prints it:
 * every peer URL of every member as `name=url`, the new member under `newName`.
 */
export function initialClusterAfterAdd(members: Pick<MemberInfo, 'id' | 'name' | 'peerURLs'>[], newId: string, newName: string): string {
  const parts: string[] = [];
  for (const m of members) {
    for (const u of m.peerURLs) {
      parts.push(`${m.id === newId ? newName : m.name}=${u}`);
    }
  }
  return parts.join(',');
}

/** The variables a member added with `member add` must be started with (etcdctl prints these). */
export function memberStartEnv(
  members: Pick<MemberInfo, 'id' | 'name' | 'peerURLs'>[],
  newMember: Pick<MemberInfo, 'id' | 'peerURLs'>,
  newName: string,
): Record<string, string> {
  return {
    ETCD_NAME: newName,
    ETCD_INITIAL_CLUSTER: initialClusterAfterAdd(members, newMember.id, newName),
    ETCD_INITIAL_ADVERTISE_PEER_URLS: newMember.peerURLs.join(','),
    ETCD_INITIAL_CLUSTER_STATE: 'existing',
  };
}
