/**
 * Member commands: Add Member, Remove Member (with the quorum warning), Promote Learner, Copy
 * ID, Copy URLs. Same conventions as ./clusters: a tree node or nothing (quick pick), optional
 * answers, a return value tests can assert.
 */
import * as vscode from 'vscode';
import type { MemberOverview, QuorumChange } from '../core/clusterStatus';
import { memberLabel, memberStartEnv, memberSummary, quorumAfterAdd, quorumAfterRemoval } from '../core/clusterStatus';
import { normalizeEndpoint } from '../core/config';
import { EtcdBackupError } from '../core/errors';
import type { ClusterConfig, MemberInfo } from '../core/types';
import { clusterNodeOf, MemberNode } from '../views/clustersView';
import { Node } from '../views/nodes';
import { resolveCluster } from './clusters';
import { cancelled, CommandDeps, commandRegistrar, confirmQuorumLoss, quorumDetail } from './common';

/** A member target: a member node, `{ cluster, member }` (hex id or name), or nothing (ask). */
export async function resolveMember(
  arg: unknown,
  deps: CommandDeps,
  placeHolder: string,
  filter: (m: MemberOverview) => boolean = () => true,
  fresh = true,
): Promise<{ cluster: ClusterConfig; member: MemberOverview; members: MemberOverview[] }> {
  if (arg instanceof MemberNode) {
    if (!fresh) {
      const o = deps.tree.cached(arg.cluster.name);
      return { cluster: arg.cluster, member: arg.member, members: o?.members ?? [arg.member] };
    }
    // Decisions (quorum) are made on a fresh member list, not on what the tree showed a while ago.
    const [o] = await deps.tree.refresh(arg.cluster.name);
    const m = o.reachable ? o.members.find((x) => x.id === arg.member.id) : undefined;
    if (!o.reachable) {
      throw new EtcdBackupError(o.error?.kind ?? 'unreachable', o.error?.message ?? `No endpoint of "${arg.cluster.name}" answered.`);
    }
    if (!m) {
      throw new EtcdBackupError('notFound', `Member ${arg.member.id} is no longer in cluster "${arg.cluster.name}".`);
    }
    return { cluster: arg.cluster, member: m, members: o.members };
  }
  const spec =
    typeof arg === 'object' && arg !== null && !(arg instanceof Node) ? (arg as { cluster?: string; member?: string }) : undefined;
  const cluster = await resolveCluster(arg instanceof Node ? clusterNodeOf(arg) : spec?.cluster, deps, 'Which cluster?');
  const [o] = await deps.tree.refresh(cluster.name);
  if (!o.reachable) {
    throw new EtcdBackupError(o.error?.kind ?? 'unreachable', o.error?.message ?? `No endpoint of "${cluster.name}" answered.`);
  }
  if (spec?.member) {
    const want = spec.member.toLowerCase().replace(/^0x/, '');
    const m = o.members.find((x) => x.id === want || x.name.toLowerCase() === want);
    if (!m) {
      throw new EtcdBackupError(
        'notFound',
        `Cluster "${cluster.name}" has no member "${spec.member}". Refresh the tree and pick one from the list.`,
      );
    }
    return { cluster, member: m, members: o.members };
  }
  const candidates = o.members.filter(filter);
  if (!candidates.length) {
    throw new EtcdBackupError('notFound', `Cluster "${cluster.name}" has no member this applies to.`);
  }
  const pick = await vscode.window.showQuickPick(
    candidates.map((m) => ({
      label: memberLabel(m),
      description: `${m.id} · ${memberSummary(m)}`,
      detail: m.peerURLs.join(', '),
      member: m,
    })),
    { placeHolder, ignoreFocusOut: true },
  );
  const member = pick?.member ?? cancelled();
  return { cluster, member, members: o.members };
}

export interface AddMemberAnswers {
  name?: string;
  peerURLs?: string | string[];
  /** Default true: a learner does not vote until promoted, so quorum is safe meanwhile. */
  isLearner?: boolean;
  /** Needed (true) to add a voting member when that leaves the cluster without quorum. */
  confirmQuorumLoss?: boolean;
  show?: boolean;
}

export interface AddMemberResult {
  added: boolean;
  cluster: string;
  member?: MemberInfo;
  members?: MemberInfo[];
  /** ETCD_NAME, ETCD_INITIAL_CLUSTER, ETCD_INITIAL_ADVERTISE_PEER_URLS, ETCD_INITIAL_CLUSTER_STATE. */
  env?: Record<string, string>;
  quorum?: QuorumChange;
  text?: string;
}

function parsePeerUrls(v: string | string[]): { urls: string[]; problem?: string } {
  const list = (Array.isArray(v) ? v : v.split(/[\s,]+/)).map((x) => x.trim()).filter(Boolean);
  if (!list.length) return { urls: [], problem: "Give the new member's peer URL, e.g. https://10.0.0.14:2380." };
  const urls: string[] = [];
  for (const raw of list) {
    if (!/^https?:\/\//i.test(raw)) return { urls, problem: `"${raw}" needs a scheme: give e.g. https://10.0.0.14:2380.` };
    const n = normalizeEndpoint(raw);
    if (n.error) return { urls, problem: `${n.error}.` };
    urls.push(n.url as string);
  }
  return { urls };
}

function startText(clusterName: string, memberId: string, env: Record<string, string>, isLearner: boolean): string {
  const lines = [
    `# Member ${memberId} added to cluster "${clusterName}"${isLearner ? ' as a learner' : ''}.`,
    '# Start the new member with these settings (an etcd.env file, or the matching --flags in its',
    '# static pod manifest), with an EMPTY data dir:',
    '',
    ...Object.entries(env).map(([k, v]) => `${k}="${v}"`),
    '',
    '# As flags:',
    `#   --name=${env.ETCD_NAME} --initial-cluster=${env.ETCD_INITIAL_CLUSTER} \\`,
    `#   --initial-advertise-peer-urls=${env.ETCD_INITIAL_ADVERTISE_PEER_URLS} --initial-cluster-state=existing`,
  ];
  if (isLearner) {
    lines.push('', '# Once it has caught up with the leader, promote it: right-click the member > Promote Learner.');
  }
  return `${lines.join('\n')}\n`;
}

async function addMember(arg: unknown, answers: AddMemberAnswers | undefined, deps: CommandDeps): Promise<AddMemberResult> {
  const cluster = await resolveCluster(arg, deps, 'Add a member to which cluster?');
  const [o] = await deps.tree.refresh(cluster.name);
  if (!o.reachable) {
    throw new EtcdBackupError(o.error?.kind ?? 'unreachable', o.error?.message ?? `No endpoint of "${cluster.name}" answered.`);
  }
  const title = `Add Member to ${cluster.name}`;
  let name = answers?.name;
  let peer = answers?.peerURLs;
  let isLearner = answers?.isLearner ?? true;
  if (!answers) {
    name = await vscode.window.showInputBox({
      title: `${title} (1/3)`,
      prompt: 'Name of the new member (its --name / ETCD_NAME)',
      ignoreFocusOut: true,
      validateInput: (v) =>
        !v.trim()
          ? 'Give the new member a name.'
          : o.members.some((m) => m.name === v.trim())
            ? `A member named "${v.trim()}" already exists.`
            : undefined,
    });
    if (name === undefined) cancelled();
    peer = await vscode.window.showInputBox({
      title: `${title} (2/3)`,
      prompt: 'Peer URL(s) of the new member (its --initial-advertise-peer-urls), e.g. https://10.0.0.14:2380',
      ignoreFocusOut: true,
      validateInput: (v) => parsePeerUrls(v).problem,
    });
    if (peer === undefined) cancelled();
    const learner = quorumAfterAdd(o.members, true);
    const voter = quorumAfterAdd(o.members, false);
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'As a learner (recommended)', detail: learner.sentence, learner: true },
        { label: 'As a voting member', detail: voter.sentence, learner: false },
      ],
      { title: `${title} (3/3)`, ignoreFocusOut: true },
    );
    isLearner = pick?.learner ?? cancelled();
  }
  const memberName = (name ?? '').trim();
  if (!memberName) {
    throw new EtcdBackupError('invalidInput', 'Give the new member a name.');
  }
  const parsed = parsePeerUrls(peer ?? []);
  if (parsed.problem) {
    throw new EtcdBackupError('invalidInput', parsed.problem);
  }
  const quorum = quorumAfterAdd(o.members, isLearner);
  if (quorum.losesQuorum) {
    const ok = answers
      ? answers.confirmQuorumLoss === true
      : (await vscode.window.showWarningMessage(
          `Add ${memberName} as a voting member? ${quorum.sentence}`,
          { modal: true },
          'Add and Lose Quorum Until It Starts',
        )) !== undefined;
    if (!ok) {
      return { added: false, cluster: cluster.name, quorum };
    }
  }
  const res = await deps.etcd.withConnection(cluster, (c) => c.memberAdd(parsed.urls, { isLearner }));
  const env = memberStartEnv(res.members, res.member, memberName);
  const text = startText(cluster.name, res.member.id, env, isLearner);
  deps.log.info(
    `Added member ${res.member.id} (${memberName}, ${parsed.urls.join(',')}) to "${cluster.name}"${isLearner ? ' as a learner' : ''}.`,
  );
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  if (answers?.show !== false) {
    const doc = await vscode.workspace.openTextDocument({ content: text, language: 'properties' });
    await vscode.window.showTextDocument(doc, { preview: false });
  }
  if (!answers) {
    void vscode.window
      .showInformationMessage(`Added ${memberName} (${res.member.id}). Start it with ETCD_INITIAL_CLUSTER_STATE=existing.`, 'Copy Settings')
      .then(async (c) => {
        if (c)
          await vscode.env.clipboard.writeText(
            Object.entries(env)
              .map(([k, v]) => `${k}="${v}"`)
              .join('\n'),
          );
      });
  }
  return { added: true, cluster: cluster.name, member: res.member, members: res.members, env, quorum, text };
}

export interface RemoveMemberAnswers {
  /** Confirm the removal (the modal's "Remove Member"). */
  confirm?: boolean;
  /** Confirm a second time when the removal loses quorum. */
  confirmQuorumLoss?: boolean;
}

export interface RemoveMemberResult {
  removed: boolean;
  cluster: string;
  member: string;
  quorum: QuorumChange;
  members?: MemberInfo[];
}

async function removeMember(arg: unknown, answers: RemoveMemberAnswers | undefined, deps: CommandDeps): Promise<RemoveMemberResult> {
  const { cluster, member, members } = await resolveMember(arg, deps, 'Remove which member?');
  const quorum = quorumAfterRemoval(members, member.id);
  const label = `${memberLabel(member)} (${member.id})`;
  const result: RemoveMemberResult = { removed: false, cluster: cluster.name, member: member.id, quorum };
  const first = answers
    ? answers.confirm === true
    : (await vscode.window.showWarningMessage(
        `Remove member ${label} from cluster "${cluster.name}"?`,
        {
          modal: true,
          detail: `${quorum.sentence}\n\n${quorumDetail(quorum)}\n\nThe member's process stops serving; its data dir is not touched.`,
        },
        'Remove Member',
      )) === 'Remove Member';
  if (!first) return result;
  const consequence =
    'Without quorum the cluster serves no writes (Kubernetes stops working) ' +
    'until enough members are back, or until you restore from a snapshot.';
  if (!(await confirmQuorumLoss(quorum, { member: label, cluster: cluster.name, consequence }, answers))) return result;
  const after = await deps.etcd.withConnection(cluster, (c) => c.memberRemove(member.id));
  deps.log.info(`Removed member ${label} from "${cluster.name}". ${quorum.sentence}`);
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  if (!answers) {
    void vscode.window.showInformationMessage(`Removed ${label} from "${cluster.name}".`);
  }
  return { ...result, removed: true, members: after };
}

async function promoteLearner(
  arg: unknown,
  deps: CommandDeps,
): Promise<{ promoted: boolean; cluster: string; member: string; members: MemberInfo[] }> {
  const { cluster, member } = await resolveMember(arg, deps, 'Promote which learner?', (m) => m.isLearner);
  if (!member.isLearner) {
    throw new EtcdBackupError('invalidInput', `${memberLabel(member)} is already a voting member: only learners can be promoted.`);
  }
  const members = await deps.etcd.withConnection(cluster, (c) => c.memberPromote(member.id));
  deps.log.info(`Promoted learner ${memberLabel(member)} (${member.id}) in "${cluster.name}".`);
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  return { promoted: true, cluster: cluster.name, member: member.id, members };
}

export function registerMemberCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const command = commandRegistrar(context, deps.log);
  command<AddMemberAnswers>('etcdBackup.addMember', (target, answers) => addMember(target, answers, deps));
  command<RemoveMemberAnswers>('etcdBackup.removeMember', (target, answers) => removeMember(target, answers, deps));
  command('etcdBackup.promoteLearner', async (target) => {
    const r = await promoteLearner(target, deps);
    void vscode.window.showInformationMessage(`${r.member} is now a voting member of "${r.cluster}".`);
    return r;
  });
  command('etcdBackup.copyMemberId', async (target): Promise<string> => {
    const { member } = await resolveMember(target, deps, 'Copy the id of which member?', undefined, false);
    await vscode.env.clipboard.writeText(member.id);
    return member.id;
  });
  command<{ which?: 'client' | 'peer' | 'both' }>('etcdBackup.copyMemberUrls', (target, answers) => copyMemberUrls(target, answers, deps));
}

async function copyMemberUrls(
  target: unknown,
  answers: { which?: 'client' | 'peer' | 'both' } | undefined,
  deps: CommandDeps,
): Promise<string> {
  const { member } = await resolveMember(target, deps, 'Copy the URLs of which member?', undefined, false);
  let which = answers?.which;
  if (!which) {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Client URLs', description: member.clientURLs.join(',') || '(none: not started)', which: 'client' as const },
        { label: 'Peer URLs', description: member.peerURLs.join(','), which: 'peer' as const },
        { label: 'Both', which: 'both' as const },
      ],
      { placeHolder: `Copy which URLs of ${memberLabel(member)}?` },
    );
    which = pick?.which ?? cancelled();
  }
  const client = member.clientURLs.join(',');
  const peer = member.peerURLs.join(',');
  const text = which === 'client' ? client : which === 'peer' ? peer : `client: ${client}\npeer: ${peer}`;
  await vscode.env.clipboard.writeText(text);
  return text;
}
