/**
 * "Replace Member…" on a member node: the runbook's repair while quorum holds. Shows the quorum
 * now and after removal (a second confirmation when quorum would be lost), removes the member,
 * adds its replacement (optionally as a learner, promoted once it has caught up), shows the
 * settings it must start with, moves the failed member's data dir aside when it is on this
 * machine (never deletes it), and offers to write `existing` into its etcd.env / config /
 * manifest. Answers object for tests, as everywhere.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { MemberOverview, QuorumChange } from '../core/clusterStatus';
import { memberLabel, quorumAfterRemoval } from '../core/clusterStatus';
import { EtcdBackupError } from '../core/errors';
import { checkMemberName } from '../core/restore/plan';
import type { ReplaceMemberResult } from '../core/restore/replace';
import type { ClusterConfig } from '../core/types';
import { askPeerUrls, cancelled, CommandDeps, commandRegistrar, confirmQuorumLoss, quorumDetail, withCancellableProgress } from './common';
import { resolveMember } from './members';
import { findEtcdFiles, offerEtcdFileEdit, pickEtcdFile } from './offerFileEdits';
import { writeAnswerOf } from '../editor/confirmWrite';
import type { WriteAnswer } from '../editor/confirmWrite';
import type { FileEditOutcome } from './offerFileEdits';

export interface ReplaceMemberAnswers {
  /** Replacement name (default: the failed member's). */
  name?: string;
  /** Replacement peer URLs (default: the failed member's). */
  peerURLs?: string | string[];
  /** Add as a learner (default false: a voting member, as `etcdctl member add`). */
  asLearner?: boolean;
  /** Confirm the replacement (the modal). */
  confirm?: boolean;
  /** Confirm a second time when the removal loses quorum. */
  confirmQuorumLoss?: boolean;
  /** The failed member's data dir on this machine, moved aside; `null`: not here. */
  localDataDir?: string | null;
  /** Promote the learner once it has caught up (polls with backoff). */
  promote?: boolean;
  promoteDeadlineMs?: number;
  /** Open the start settings in an editor (default true). */
  show?: boolean;
  /** The new member's etcd.env / config / unit / manifest to write the start settings into; `null` or absent: skip. */
  memberFile?: string | null;
  /** The answer to the "Write" confirmation of that file's edit (default false: shown, not written). */
  saveMemberFile?: WriteAnswer;
}

export interface ReplaceMemberCommandResult {
  replaced: boolean;
  cluster: string;
  member: string;
  result?: ReplaceMemberResult;
  /** The settings as an env file. */
  envText?: string;
  movedAside?: string;
  promoted?: boolean;
  /** The member's file: the start settings proposed (a diff) and written when confirmed. */
  memberFile?: FileEditOutcome;
}

/** The start settings as an etcd.env text with the flags as comments. */
export function startSettingsText(cluster: string, r: ReplaceMemberResult): string {
  return [
    `# Member ${r.removed.name || r.removed.id} (${r.removed.id}) of "${cluster}" was replaced by ${r.added.name} ` +
      `(${r.added.id})${r.added.isLearner ? ', a learner' : ''}.`,
    '# Start the new member with an EMPTY data dir and these settings (etcd.env, or the flags of',
    '# its unit / static pod manifest; not both: etcd refuses a variable shadowed by a flag):',
    '',
    ...Object.entries(r.env).map(([k, v]) => `${k}="${v}"`),
    '',
    '# As flags:',
    ...r.flags.map((f) => `#   ${f}`),
    ...(r.added.isLearner
      ? ['', '# It is a learner: promote it once it has caught up (Promote Learner, or etcd-backup offers to wait and promote).']
      : []),
    '',
  ].join('\n');
}

/** Who replaces the failed member: asked (name, peer URLs, voter or learner) unless the answers say. */
interface Replacement {
  name: string;
  urls: string[];
  asLearner: boolean;
}

async function askReplacement(
  member: MemberOverview,
  members: MemberOverview[],
  title: string,
  answers: ReplaceMemberAnswers | undefined,
): Promise<Replacement> {
  if (answers) {
    const urls =
      answers.peerURLs !== undefined ? (Array.isArray(answers.peerURLs) ? answers.peerURLs : answers.peerURLs.split(',')) : member.peerURLs;
    return { name: answers.name ?? member.name, urls: urls.map((x) => x.trim()).filter(Boolean), asLearner: answers.asLearner ?? false };
  }
  const name =
    (await vscode.window.showInputBox({
      title: `${title} (1/3)`,
      prompt: "Name of the replacement (its --name / ETCD_NAME); the failed member's name is fine",
      value: member.name,
      ignoreFocusOut: true,
      validateInput: (v) => {
        const p = checkMemberName(v.trim());
        if (p) return p === 'empty' ? 'Give the replacement a name.' : `The name ${p}.`;
        return members.some((m) => m.id !== member.id && m.name === v.trim()) ? `Another member is named "${v.trim()}".` : undefined;
      },
    })) ?? cancelled();
  const urls =
    (await askPeerUrls({
      title: `${title} (2/3)`,
      prompt: 'Peer URL(s) of the replacement (its --initial-advertise-peer-urls), comma-separated',
      value: member.peerURLs.join(','),
    })) ?? cancelled();
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: 'As a voting member',
        detail: 'etcdctl member add: it counts towards quorum at once and syncs when started.',
        learner: false,
      },
      {
        label: 'As a learner, promoted once caught up',
        detail: 'It does not vote until it has replicated the data; etcd-backup can wait and promote it.',
        learner: true,
      },
    ],
    { title: `${title} (3/3)`, ignoreFocusOut: true },
  );
  return { name, urls, asLearner: pick?.learner ?? cancelled() };
}

/** The modal (and the second one when quorum is lost): true when the replacement may go ahead. */
async function confirmReplacement(
  what: { label: string; cluster: string; quorum: QuorumChange; replacement: Replacement },
  answers: ReplaceMemberAnswers | undefined,
): Promise<boolean> {
  const { label, cluster, quorum, replacement: r } = what;
  const detail =
    `${quorumDetail(quorum)}\n${quorum.sentence}\n\nThen ${r.name.trim()} (${r.urls.join(', ')}) is ` +
    `added${r.asLearner ? ' as a learner' : ''}; ` +
    'start it with an empty data dir and ETCD_INITIAL_CLUSTER_STATE=existing.';
  const first = answers
    ? answers.confirm === true
    : (await vscode.window.showWarningMessage(`Replace member ${label} of "${cluster}"?`, { modal: true, detail }, 'Replace Member')) ===
      'Replace Member';
  if (!first) return false;
  const consequence =
    'Without quorum the cluster serves no writes, and the replacement cannot be added until enough members are back: restoring from a ' +
    'snapshot may be the way instead.';
  return confirmQuorumLoss(quorum, { member: label, cluster, consequence }, answers);
}

/** The failed member's data dir on this machine (asked, or from the answers); undefined: not here. */
async function failedDataDir(member: MemberOverview, answers: ReplaceMemberAnswers | undefined): Promise<string | undefined> {
  if (answers) return answers.localDataDir ?? undefined;
  const { membersOnThisMachine } = await import('../core/restore/sources');
  const here = membersOnThisMachine([{ name: member.name || member.id, peerURLs: member.peerURLs }]).length > 0;
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: '$(folder) Move its data dir aside…',
        detail: here
          ? 'Its peer URL is this machine: pick the data dir (it goes to <dir>.old-<time>).'
          : 'Only if the failed member ran on this machine.',
        move: true,
      },
      {
        label: '$(close) Not on this machine',
        detail: 'Move it aside on its machine yourself: mv /var/lib/etcd /var/lib/etcd.old',
        move: false,
      },
    ],
    { title: `Data dir of ${memberLabel(member)}: the replacement must start with an empty one`, ignoreFocusOut: true },
  );
  if (!pick?.move) return undefined;
  const validateInput = (v: string): string | undefined => (path.isAbsolute(v.trim()) ? undefined : 'Give an absolute path.');
  return (
    await vscode.window.showInputBox({ title: "Failed member's data dir", value: '/var/lib/etcd', ignoreFocusOut: true, validateInput })
  )?.trim();
}

/** Move the failed member's data dir aside (never deleted); refused while an etcd process still uses it. */
async function moveFailedDataDirAside(dir: string, deps: CommandDeps): Promise<string | undefined> {
  const { moveAside } = await import('../core/restore/replace');
  // In use by any process (the kernel's view, src/core/restore/processes.ts), however etcd was started.
  const { dataDirUsers } = await import('../core/restore/processes');
  const { holders } = await dataDirUsers(dir);
  if (holders.length) {
    const who = holders.map((h) => `pid ${h.pid}: ${h.command.slice(0, 80)}`).join('; ');
    throw new EtcdBackupError(
      'conflict',
      `The member was replaced, but ${dir} is still in use (${who}): stop it, then move the dir aside (mv ${dir} ${dir}.old).`,
    );
  }
  const moved = await moveAside(dir);
  deps.log.info(`[replace] ${dir} ${moved ? `moved aside to ${moved}` : 'does not exist: nothing to move'}`);
  return moved;
}

/** A learner replacement: wait until it has caught up and promote it, when asked. */
async function promoteWhenAsked(
  cluster: ClusterConfig,
  result: ReplaceMemberResult,
  answers: ReplaceMemberAnswers | undefined,
  deps: CommandDeps,
): Promise<boolean | undefined> {
  const name = result.added.name;
  const promote = answers
    ? answers.promote === true
    : (await vscode.window.showInformationMessage(
        `${name} was added as a learner. Start it, then promote it once it has caught up.`,
        'Wait and Promote',
      )) === 'Wait and Promote';
  if (!promote) return undefined;
  const { promoteWhenCaughtUp } = await import('../core/restore/replace');
  const r = await withCancellableProgress(`Waiting for ${name} to catch up`, ({ signal, report }) =>
    deps.etcd.withConnection(cluster, (conn) =>
      promoteWhenCaughtUp(conn, result.added.id, {
        signal,
        deadlineMs: answers?.promoteDeadlineMs,
        onAttempt: (n, e) => report(`attempt ${n}: ${e}`),
      }),
    ),
  );
  deps.log.info(`[replace] promoted ${name} after ${r.attempts} attempt(s)`);
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  return true;
}

/** The runbook's repair while quorum holds: confirm, remove and add, then the member's files and data dir. */
async function replaceMemberCommand(
  arg: unknown,
  answers: ReplaceMemberAnswers | undefined,
  deps: CommandDeps,
): Promise<ReplaceMemberCommandResult> {
  const { cluster, member, members } = await resolveMember(arg, deps, 'Replace which member?');
  const quorum = quorumAfterRemoval(members, member.id);
  const label = `${memberLabel(member)} (${member.id})`;
  const base: ReplaceMemberCommandResult = { replaced: false, cluster: cluster.name, member: member.id };
  const title = `Replace ${memberLabel(member)}`;

  const replacement = await askReplacement(member, members, title, answers);
  if (!(await confirmReplacement({ label, cluster: cluster.name, quorum, replacement }, answers))) return base;

  const { replaceMember } = await import('../core/restore/replace');
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, (progress) =>
    deps.etcd.withConnection(cluster, (conn) =>
      replaceMember(conn, {
        memberId: member.id,
        name: replacement.name,
        peerURLs: replacement.urls,
        asLearner: replacement.asLearner,
        confirmQuorumLoss: true,
        onStep: (s) => {
          if (s.state !== 'running') deps.log.info(`[replace] ${s.step}: ${s.message}`);
          progress.report({ message: s.message });
        },
      }),
    ),
  );
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  const envText = startSettingsText(cluster.name, result);
  const out: ReplaceMemberCommandResult = { ...base, replaced: true, result, envText };
  if (answers?.show !== false) {
    const doc = await vscode.workspace.openTextDocument({ content: envText, language: 'properties' });
    await vscode.window.showTextDocument(doc, { preview: false });
  }

  const localDir = await failedDataDir(member, answers);
  if (localDir) out.movedAside = await moveFailedDataDirAside(localDir, deps);
  // The start settings into the member's etcd.env / config / unit / manifest, so the file says `existing`.
  out.memberFile = await offerMemberFileEdit(result, answers, deps);
  if (result.added.isLearner) out.promoted = await promoteWhenAsked(cluster, result, answers, deps);
  if (!answers) {
    const message =
      `Replaced ${label} by ${result.added.name} (${result.added.id}). Start it with ETCD_INITIAL_CLUSTER_STATE=existing ` +
      `and an empty data dir.`;
    void vscode.window.showInformationMessage(message, 'Copy Settings').then(async (c) => {
      if (c)
        await vscode.env.clipboard.writeText(
          Object.entries(result.env)
            .map(([k, v]) => `${k}="${v}"`)
            .join('\n'),
        );
    });
  }
  return out;
}

/**
 * "Write to etcd.env / manifest…": pick the new member's file (candidates whose --name / ETCD_NAME
 * is its name first), then set initial-cluster-state existing, initial-cluster, and name /
 * initial-advertise-peer-urls where they differ, as one edit shown as a diff; written only on the
 * modal "Write" (a file that starts another member gets a warning naming it).
 */
async function offerMemberFileEdit(
  result: ReplaceMemberResult,
  answers: ReplaceMemberAnswers | undefined,
  deps: CommandDeps,
): Promise<FileEditOutcome | undefined> {
  const { memberStartSteps, startSettingsOfEnv } = await import('../core/etcdFileCandidates');
  const steps = memberStartSteps(startSettingsOfEnv(result.env));
  let file = answers ? (answers.memberFile ?? undefined) : undefined;
  const save = answers ? writeAnswerOf(answers.saveMemberFile) : undefined;
  if (!answers) {
    const candidates = await findEtcdFiles({ memberName: result.added.name });
    file = await pickEtcdFile(
      `Write to etcd.env / manifest…: the start settings of ${result.added.name}`,
      candidates,
      `The file that starts ${result.added.name}: it gets initial-cluster-state existing and the new initial-cluster`,
    );
  }
  if (!file) return undefined;
  const r = await offerEtcdFileEdit(file, steps, { write: save, memberName: result.added.name, log: deps.log, interactive: !answers });
  if (!r.error)
    deps.log.info(
      `[replace] ${file}: ${r.changed ? r.changes.join('; ') : 'already had the start settings'}` +
        `${r.saved ? ' (written)' : r.changed ? ' (not written: declined)' : ''}`,
    );
  return r;
}

export function registerReplaceMemberCommand(context: vscode.ExtensionContext, deps: CommandDeps): void {
  commandRegistrar(context, deps.log)<ReplaceMemberAnswers>('etcdBackup.replaceMember', (target, answers) =>
    replaceMemberCommand(target, answers, deps),
  );
}
