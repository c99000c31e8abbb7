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
import { memberLabel } from '../core/clusterStatus';
import { EtcdBackupError } from '../core/errors';
import type { ReplaceMemberResult } from '../core/restore/replace';
import { answersOf, cancelled } from './clusters';
import { findEtcdFiles, offerEtcdFileEdit, pickEtcdFile } from './offerFileEdits';
import type { FileEditOutcome } from './offerFileEdits';
import { resolveMember } from './members';
import type { RestoreDeps } from './restore';
import { registerCommand } from './run';

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
  /** Save the file after the edit (default false: opened with the change, unsaved). */
  saveMemberFile?: boolean;
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
  /** The member's file, with the start settings written in (in the editor). */
  memberFile?: FileEditOutcome;
}

/** The start settings as an etcd.env text with the flags as comments. */
export function startSettingsText(cluster: string, r: ReplaceMemberResult): string {
  return [
    `# Member ${r.removed.name || r.removed.id} (${r.removed.id}) of "${cluster}" was replaced by ${r.added.name} (${r.added.id})${r.added.isLearner ? ', a learner' : ''}.`,
    '# Start the new member with an EMPTY data dir and these settings (etcd.env, or the flags of',
    '# its unit / static pod manifest; not both: etcd refuses a variable shadowed by a flag):',
    '',
    ...Object.entries(r.env).map(([k, v]) => `${k}="${v}"`),
    '',
    '# As flags:',
    ...r.flags.map((f) => `#   ${f}`),
    ...(r.added.isLearner ? ['', '# It is a learner: promote it once it has caught up (Promote Learner, or etcd-backup offers to wait and promote).'] : []),
    '',
  ].join('\n');
}

async function replaceMemberCommand(arg: unknown, answers: ReplaceMemberAnswers | undefined, deps: RestoreDeps): Promise<ReplaceMemberCommandResult> {
  const { cluster, member, members } = await resolveMember(arg, { log: deps.log, settings: deps.settings, tree: deps.tree }, 'Replace which member?');
  const { quorumAfterRemoval } = await import('../core/clusterStatus');
  const { checkMemberName, checkPeerUrl } = await import('../core/restore/plan');
  const quorum = quorumAfterRemoval(members, member.id);
  const label = `${memberLabel(member)} (${member.id})`;
  const base: ReplaceMemberCommandResult = { replaced: false, cluster: cluster.name, member: member.id };
  const title = `Replace ${memberLabel(member)}`;

  let name = answers?.name ?? member.name;
  let urls = answers?.peerURLs !== undefined ? (Array.isArray(answers.peerURLs) ? answers.peerURLs : answers.peerURLs.split(',')) : member.peerURLs;
  let asLearner = answers?.asLearner ?? false;
  if (!answers) {
    name =
      (await vscode.window.showInputBox({
        title: `${title} (1/3)`,
        prompt: 'Name of the replacement (its --name / ETCD_NAME); the failed member\'s name is fine',
        value: member.name,
        ignoreFocusOut: true,
        validateInput: (v) => {
          const p = checkMemberName(v.trim());
          if (p) return p === 'empty' ? 'Give the replacement a name.' : `The name ${p}.`;
          return members.some((m) => m.id !== member.id && m.name === v.trim()) ? `Another member is named "${v.trim()}".` : undefined;
        },
      })) ?? cancelled();
    const u = await vscode.window.showInputBox({
      title: `${title} (2/3)`,
      prompt: 'Peer URL(s) of the replacement (its --initial-advertise-peer-urls), comma-separated',
      value: member.peerURLs.join(','),
      ignoreFocusOut: true,
      validateInput: (v) => {
        const list = v.split(',').map((x) => x.trim()).filter(Boolean);
        if (!list.length) return 'Give at least one peer URL, e.g. https://10.0.0.13:2380.';
        return list.map((x) => checkPeerUrl(x).problem).find(Boolean);
      },
    });
    urls = (u ?? cancelled()).split(',');
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'As a voting member', detail: 'etcdctl member add: it counts towards quorum at once and syncs when started.', learner: false },
        { label: 'As a learner, promoted once caught up', detail: 'It does not vote until it has replicated the data; etcd-backup can wait and promote it.', learner: true },
      ],
      { title: `${title} (3/3)`, ignoreFocusOut: true },
    );
    asLearner = pick?.learner ?? cancelled();
  }
  urls = urls.map((x) => x.trim()).filter(Boolean);

  const detail = `Quorum now: ${quorum.before.quorum} of ${quorum.before.voters} voting members (${quorum.before.healthyVoters} healthy). After removal: ${quorum.after.quorum} of ${quorum.after.voters} (${quorum.after.healthyVoters} healthy).\n${quorum.sentence}\n\nThen ${name.trim()} (${urls.join(', ')}) is added${asLearner ? ' as a learner' : ''}; start it with an empty data dir and ETCD_INITIAL_CLUSTER_STATE=existing.`;
  const first = answers
    ? answers.confirm === true
    : (await vscode.window.showWarningMessage(`Replace member ${label} of "${cluster.name}"?`, { modal: true, detail }, 'Replace Member')) === 'Replace Member';
  if (!first) return base;
  if (quorum.losesQuorum) {
    const second = answers
      ? answers.confirmQuorumLoss === true
      : (await vscode.window.showWarningMessage(
          `Removing ${label} makes cluster "${cluster.name}" LOSE QUORUM.`,
          { modal: true, detail: `${quorum.sentence}\n\nWithout quorum the cluster serves no writes, and the replacement cannot be added until enough members are back: restoring from a snapshot may be the way instead. Remove anyway?` },
          'Remove and Lose Quorum',
        )) === 'Remove and Lose Quorum';
    if (!second) return base;
  }

  const { withConnection } = await import('../core/etcd');
  const { replaceMember, promoteWhenCaughtUp, moveAside } = await import('../core/restore/replace');
  const secrets = await deps.settings.secretsFor(cluster);
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, (progress) =>
    withConnection(cluster, secrets, (conn) =>
      replaceMember(conn, {
        memberId: member.id,
        name,
        peerURLs: urls,
        asLearner,
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

  // The failed member's data dir, when it is on this machine: moved aside, never deleted.
  let localDir = answers ? (answers.localDataDir ?? undefined) : undefined;
  if (!answers) {
    const { membersOnThisMachine } = await import('../core/restore/sources');
    const here = membersOnThisMachine([{ name: member.name || member.id, peerURLs: member.peerURLs }]).length > 0;
    const pick = await vscode.window.showQuickPick(
      [
        { label: '$(folder) Move its data dir aside…', detail: here ? 'Its peer URL is this machine: pick the data dir (it goes to <dir>.old-<time>).' : 'Only if the failed member ran on this machine.', move: true },
        { label: '$(close) Not on this machine', detail: 'Move it aside on its machine yourself: mv /var/lib/etcd /var/lib/etcd.old', move: false },
      ],
      { title: `Data dir of ${memberLabel(member)}: the replacement must start with an empty one`, ignoreFocusOut: true },
    );
    if (pick?.move) {
      localDir = (await vscode.window.showInputBox({ title: 'Failed member\'s data dir', value: '/var/lib/etcd', ignoreFocusOut: true, validateInput: (v) => (path.isAbsolute(v.trim()) ? undefined : 'Give an absolute path.') }))?.trim();
    }
  }
  if (localDir) {
    // In use by any process (the kernel's view, src/core/restore/processes.ts), however etcd was started.
    const { dataDirUsers } = await import('../core/restore/processes');
    const { holders } = await dataDirUsers(localDir);
    if (holders.length) {
      const who = holders.map((h) => `pid ${h.pid}: ${h.command.slice(0, 80)}`).join('; ');
      throw new EtcdBackupError('conflict', `The member was replaced, but ${localDir} is still in use (${who}): stop it, then move the dir aside (mv ${localDir} ${localDir}.old).`);
    }
    out.movedAside = await moveAside(localDir);
    deps.log.info(`[replace] ${localDir} ${out.movedAside ? `moved aside to ${out.movedAside}` : 'does not exist: nothing to move'}`);
  }

  // Offer to write the start settings into the member's etcd.env / config / unit / manifest, so the file says `existing`.
  out.memberFile = await offerMemberFileEdit(result, answers, deps);

  if (result.added.isLearner) {
    const promote = answers ? answers.promote === true : (await vscode.window.showInformationMessage(`${result.added.name} was added as a learner. Start it, then promote it once it has caught up.`, 'Wait and Promote')) === 'Wait and Promote';
    if (promote) {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Waiting for ${result.added.name} to catch up`, cancellable: true }, (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        return withConnection(cluster, secrets, (conn) =>
          promoteWhenCaughtUp(conn, result.added.id, {
            signal: ac.signal,
            deadlineMs: answers?.promoteDeadlineMs,
            onAttempt: (n, e) => progress.report({ message: `attempt ${n}: ${e}` }),
          }),
        );
      });
      out.promoted = true;
      deps.log.info(`[replace] promoted ${result.added.name} after ${r.attempts} attempt(s)`);
      await deps.tree.refresh(cluster.name).catch(() => undefined);
    }
  }
  if (!answers) {
    void vscode.window.showInformationMessage(`Replaced ${label} by ${result.added.name} (${result.added.id}). Start it with ETCD_INITIAL_CLUSTER_STATE=existing and an empty data dir.`, 'Copy Settings').then(async (c) => {
      if (c) await vscode.env.clipboard.writeText(Object.entries(result.env).map(([k, v]) => `${k}="${v}"`).join('\n'));
    });
  }
  return out;
}

/**
 * "Write to etcd.env / manifest…": pick the new member's file (candidates whose --name / ETCD_NAME
 * is its name first), then set initial-cluster-state existing, initial-cluster, and name /
 * initial-advertise-peer-urls where they differ, as one edit shown in the editor; saved only on
 * "Write and Save".
 */
async function offerMemberFileEdit(result: ReplaceMemberResult, answers: ReplaceMemberAnswers | undefined, deps: RestoreDeps): Promise<FileEditOutcome | undefined> {
  const { memberStartSteps, startSettingsOfEnv } = await import('../core/etcdFileCandidates');
  const steps = memberStartSteps(startSettingsOfEnv(result.env));
  let file = answers ? (answers.memberFile ?? undefined) : undefined;
  let save = answers?.saveMemberFile === true;
  if (!answers) {
    const candidates = await findEtcdFiles({ memberName: result.added.name });
    file = await pickEtcdFile(
      `Write to etcd.env / manifest…: the start settings of ${result.added.name}`,
      candidates,
      `The file that starts ${result.added.name}: it gets initial-cluster-state existing and the new initial-cluster`,
    );
    if (!file) return undefined;
    const how = await vscode.window.showQuickPick(
      [
        { label: '$(eye) Open with the Change', detail: 'The edit is applied in the editor, unsaved: review it, then save.', save: false },
        { label: '$(save) Write and Save', detail: 'The edit is applied in the editor and saved (undo still takes it back).', save: true },
      ],
      { title: path.basename(file), ignoreFocusOut: true },
    );
    if (!how) return undefined;
    save = how.save;
  }
  if (!file) return undefined;
  const r = await offerEtcdFileEdit(file, steps, { save, log: deps.log, interactive: !answers });
  if (!r.error) deps.log.info(`[replace] ${file}: ${r.changed ? r.changes.join('; ') : 'already had the start settings'}${r.saved ? ' (saved)' : r.changed ? ' (unsaved, in the editor)' : ''}`);
  return r;
}

export function registerReplaceMemberCommand(context: vscode.ExtensionContext, deps: RestoreDeps): void {
  registerCommand(context, deps.log, 'etcdBackup.replaceMember', (arg?: unknown, a?: unknown) => replaceMemberCommand(arg, answersOf<ReplaceMemberAnswers>(a), deps));
}
