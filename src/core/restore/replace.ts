/**
 * Replacing a failed member while quorum holds (runbook section 3): quorum now and after the
 * removal, remove the member, add its replacement (optionally as a learner, promoted once it has
 * caught up), and the settings the new member must start with. The failed member's data dir, when
 * it is on this machine, is moved aside (`moveAside` in ./restore), never deleted.
 */
import type { QuorumChange } from '../clusterStatus';
import { memberStartEnv, quorumAfterRemoval } from '../clusterStatus';
import type { EtcdConnection } from '../etcd';
import { causeText, EtcdBackupError, explain } from '../errors';
import type { MemberInfo } from '../types';
import { checkMemberName, checkPeerUrl } from './plan';
import { moveAside } from './restore';

export { moveAside };

/** What the replacement needs of a connection (EtcdConnection has it all). */
export type MemberApi = Pick<EtcdConnection, 'memberRemove' | 'memberAdd' | 'memberPromote' | 'clusterOverview'>;

export type ReplaceStepId = 'quorum' | 'remove' | 'add' | 'promote' | 'done';

export interface ReplaceStep {
  step: ReplaceStepId;
  state: 'running' | 'done' | 'skipped' | 'failed';
  message: string;
  at: number;
}

export interface ReplaceMemberOptions {
  /** Hex id of the failed member. */
  memberId: string;
  /** Name of the replacement (often the same as the failed member's). */
  name: string;
  /** Peer URLs of the replacement. */
  peerURLs: string[];
  /** Add it as a learner (promote later with `promoteWhenCaughtUp`). Default false. */
  asLearner?: boolean;
  /** Go ahead although the removal loses quorum (a second confirmation in the UI). */
  confirmQuorumLoss?: boolean;
  onStep?: (s: ReplaceStep) => void;
  signal?: AbortSignal;
  /** How long to keep retrying the add while etcd answers "unhealthy cluster" (ms). Default 20 s. */
  addRetryMs?: number;
}

export interface ReplaceMemberResult {
  removed: MemberInfo;
  added: MemberInfo;
  /** The member list after the add. */
  members: MemberInfo[];
  quorum: QuorumChange;
  /** ETCD_NAME, ETCD_INITIAL_CLUSTER, ETCD_INITIAL_ADVERTISE_PEER_URLS, ETCD_INITIAL_CLUSTER_STATE=existing. */
  env: Record<string, string>;
  /** The same as command-line flags. */
  flags: string[];
  steps: ReplaceStep[];
}

/** The quorum before and after removing `memberId`, on a fresh overview (health included). */
export async function replacementQuorum(
  conn: Pick<MemberApi, 'clusterOverview'>,
  memberId: string,
): Promise<{ quorum: QuorumChange; members: MemberInfo[] }> {
  const o = await conn.clusterOverview();
  if (!o.reachable) {
    throw new EtcdBackupError(o.error?.kind ?? 'unreachable', o.error?.message ?? `No endpoint of cluster "${o.cluster}" answered.`);
  }
  const id = memberId.toLowerCase().replace(/^0x/, '');
  if (!o.members.some((m) => m.id === id)) {
    throw new EtcdBackupError('notFound', `Member ${id} is not in cluster "${o.cluster}" (already removed?).`, {
      hint: { kind: 'listMembers' },
    });
  }
  return {
    quorum: quorumAfterRemoval(
      o.members.map((m) => ({ id: m.id, name: m.name, isLearner: m.isLearner, healthy: m.healthy })),
      id,
    ),
    members: o.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
  };
}

/** `ETCD_*` settings as `--flags` (what a static pod manifest or unit takes). */
export function envToFlags(env: Record<string, string>): string[] {
  return Object.entries(env).map(
    ([k, v]) =>
      `--${k
        .replace(/^ETCD_/, '')
        .toLowerCase()
        .replace(/_/g, '-')}=${v}`,
  );
}

/**
 * Remove the failed member and add its replacement. Refuses before changing anything: a bad
 * name or URL, a member that is not there, a removal that loses quorum without
 * `confirmQuorumLoss`, a replacement name already used by another member.
 * Kept whole on purpose (just over 100 lines): it reads as the runbook's replace step, check,
 * remove, add (with etcd 3.4's retry), and every check must come before the first change.
 */
export async function replaceMember(conn: MemberApi, opts: ReplaceMemberOptions): Promise<ReplaceMemberResult> {
  const steps: ReplaceStep[] = [];
  const report = (step: ReplaceStepId, state: ReplaceStep['state'], message: string): void => {
    const s = { step, state, message, at: Date.now() };
    steps.push(s);
    opts.onStep?.(s);
  };
  const id = opts.memberId.toLowerCase().replace(/^0x/, '');
  const name = opts.name.trim();
  const nameProblem = checkMemberName(name);
  if (nameProblem) {
    throw new EtcdBackupError(
      'invalidInput',
      nameProblem === 'empty'
        ? 'Give the replacement member a name (its --name / ETCD_NAME).'
        : `The member name ${nameProblem}: use letters, digits, "-", "_" and ".".`,
    );
  }
  const urls: string[] = [];
  for (const raw of opts.peerURLs) {
    const c = checkPeerUrl(raw);
    if (c.problem) {
      throw new EtcdBackupError('invalidInput', `Peer URL of the replacement: ${c.problem}.`);
    }
    urls.push(raw.trim().replace(/\/$/, ''));
  }
  if (!urls.length) {
    throw new EtcdBackupError('invalidInput', 'Give the replacement member a peer URL, e.g. https://10.0.0.13:2380.');
  }

  report('quorum', 'running', 'Reading the member list and health');
  const { quorum, members } = await replacementQuorum(conn, id);
  const removed = members.find((m) => m.id === id) as MemberInfo;
  const clash = members.find((m) => m.id !== id && m.name === name);
  if (clash) {
    throw new EtcdBackupError('conflict', `Member ${clash.id} is already named "${name}": give the replacement another name.`);
  }
  const urlClash = members.find(
    (m) => m.id !== id && m.peerURLs.some((u) => urls.some((x) => checkPeerUrl(u).url === checkPeerUrl(x).url)),
  );
  if (urlClash) {
    throw new EtcdBackupError(
      'conflict',
      `Member "${urlClash.name || urlClash.id}" already uses the peer URL ${urls.join(', ')}: give the replacement its own.`,
    );
  }
  if (quorum.losesQuorum && !opts.confirmQuorumLoss) {
    throw new EtcdBackupError('noQuorum', `${quorum.sentence} Refused without a second confirmation.`);
  }
  report('quorum', 'done', quorum.sentence);
  if (opts.signal?.aborted) {
    throw new EtcdBackupError('cancelled', 'Cancelled.');
  }

  report('remove', 'running', `Removing member ${removed.name || id} (${id})`);
  try {
    await conn.memberRemove(id);
  } catch (err) {
    report('remove', 'failed', explain(err).message);
    throw err;
  }
  report('remove', 'done', `Removed ${removed.name || id} (${id})`);

  report('add', 'running', `Adding ${name} (${urls.join(', ')})${opts.asLearner ? ' as a learner' : ''}`);
  let addResult: { member: MemberInfo; members: MemberInfo[] };
  try {
    // Right after a removal etcd may still answer "unhealthy cluster" (its strict reconfig
    // check wants every remaining voter connected for a few seconds) or "member not found": the
    // member is already removed, so wait and try again for a while rather than give up half way.
    const until = Date.now() + (opts.addRetryMs ?? 20_000);
    for (let attempt = 1; ; attempt++) {
      try {
        addResult = await conn.memberAdd(urls, { isLearner: opts.asLearner });
        break;
      } catch (err) {
        // etcd 3.4 also answers "member not found" to an add that comes right after the removal
        // of a member that never started (seen on real clusters); a moment later it goes through.
        const transient = /unhealthy cluster|member not found/.test(causeText(err));
        if (!transient || Date.now() > until || opts.signal?.aborted) {
          throw err;
        }
        report('add', 'running', `etcd says the cluster is not ready for a new member yet (attempt ${attempt}); trying again`);
        await sleep(Math.min(500 * attempt, 2000), opts.signal);
      }
    }
  } catch (err) {
    const e = explain(err);
    report('add', 'failed', e.message);
    throw new EtcdBackupError(
      e.kind,
      `${e.message} (Member ${removed.name || id} was already removed; add the replacement again as a new member.)`,
      { cause: err },
    );
  }
  const env = memberStartEnv(addResult.members, addResult.member, name);
  report(
    'add',
    'done',
    `Added ${name} as ${addResult.member.id}${opts.asLearner ? ' (learner)' : ''}: ` +
      `start it with ETCD_INITIAL_CLUSTER_STATE=existing and an empty data dir`,
  );
  report(
    'done',
    'done',
    `Start the new member with: ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  return { removed, added: { ...addResult.member, name }, members: addResult.members, quorum, env, flags: envToFlags(env), steps };
}

export interface PromoteOptions {
  /** Give up after this long (ms). Default 5 minutes. */
  deadlineMs?: number;
  /** First wait between attempts (ms), doubled up to `maxDelayMs`. Default 500. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  onAttempt?: (attempt: number, error: string) => void;
}

/**
 * Promote a learner once it has caught up: try, and while etcd answers "not in sync with
 * leader", wait (with backoff) and try again, until it succeeds or the deadline passes.
 */
export async function promoteWhenCaughtUp(
  conn: Pick<MemberApi, 'memberPromote'>,
  memberId: string,
  opts: PromoteOptions = {},
): Promise<{ members: MemberInfo[]; attempts: number; tookMs: number }> {
  const started = Date.now();
  const deadline = started + (opts.deadlineMs ?? 5 * 60_000);
  let delay = opts.initialDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) {
      throw new EtcdBackupError('cancelled', 'Cancelled.');
    }
    try {
      const members = await conn.memberPromote(memberId);
      return { members, attempts: attempt, tookMs: Date.now() - started };
    } catch (err) {
      const e = explain(err);
      // Only "not caught up yet" (and a connection blip) is worth waiting for.
      const retriable = (e.kind === 'conflict' && /caught up|in sync/i.test(e.message)) || e.kind === 'unreachable' || e.kind === 'timeout';
      opts.onAttempt?.(attempt, e.message);
      if (!retriable) {
        throw e;
      }
      if (Date.now() + delay > deadline) {
        throw new EtcdBackupError(
          'timeout',
          `Learner ${memberId} had not caught up after ${Math.round((Date.now() - started) / 1000)} s (${attempt} ` +
            `attempts): check that its etcd runs with ETCD_INITIAL_CLUSTER_STATE=existing and can reach its peers.`,
          { cause: err, hint: { kind: 'promoteLearner', memberId } },
        );
      }
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
