/**
 * Restore commands: "Restore Snapshot…" (verify, propose the members, restore the member on
 * this machine, write the runbook for the others, offer the manifest edit), "Restore a Snapshot
 * for This Member…" (the CodeLens on etcd.yaml / etcd.env, pre-filled), and "Trial Restore".
 * Thin over src/core/restore. Every handler takes the tree node (or a Uri / path / nothing) and
 * an optional answers object: with answers, no prompt is shown (tests), and it returns a result.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { EtcdBackupError } from '../core/errors';
import { lostQuorum } from '../core/clusterStatus';
import { checkMemberName, parseInitialCluster, validatePlan } from '../core/restore/plan';
import type { RestorePlan, PlannedMember } from '../core/restore/plan';
import type { RestoreMemberResult, RestoreStep, TrialRestoreResult } from '../core/restore/restore';
import type { SnapshotCheck } from '../core/restore/snapshotCheck';
import type { EtcdRuntime, RunbookMemberSetup } from '../core/restore/runbook';
import type { RestoredMemberRecord, StoredRestorePlan } from '../core/restore/planFile';
import type { RestoreTool } from '../core/tools';
import type { ClusterConfig } from '../core/types';
import { clusterNodeOf } from '../views/clustersView';
import { Node } from '../views/nodes';
import {
  askPeerUrls,
  cancelled,
  CommandDeps,
  commandRegistrar,
  pickSnapshot,
  showWithLogs,
  snapshotFileOf,
  withCancellableProgress,
} from './common';
import { RemoteBackupAnswers, snapshotOfBackup } from './remoteBackup';
import { pointInTimeSnapshot } from './pointInTime';
import type { PointInTimeAnswers } from './pointInTime';
import { findEtcdFiles, offerEtcdFileEdit, pickEtcdFile } from './offerFileEdits';
import { writeAnswerOf } from '../editor/confirmWrite';
import type { WriteAnswer } from '../editor/confirmWrite';
import type { FileEditOutcome } from './offerFileEdits';
import { restoreWarning } from './v2store';
import { errorText } from '../hints';

/** The cluster a tree node belongs to (for TLS files in the runbook's verify commands). */
function clusterOf(arg: unknown, deps: CommandDeps): ClusterConfig | undefined {
  if (arg instanceof Node) {
    const n = clusterNodeOf(arg);
    return n ? (deps.settings.cluster(n.cluster.name) ?? n.cluster) : undefined;
  }
  const name = typeof arg === 'object' && arg !== null ? (arg as { cluster?: unknown }).cluster : undefined;
  return typeof name === 'string' ? deps.settings.cluster(name) : undefined;
}

/**
 * Where the snapshot dialog opens: the snapshot dir of the cluster it was invoked on; from the
 * palette, that of the first cluster the tree saw lose quorum (the one that needs a restore).
 */
function snapshotDirFor(arg: unknown, deps: CommandDeps): string | undefined {
  const c = clusterOf(arg, deps);
  if (c) return c.snapshotDir;
  return deps.settings.clusters().clusters.find((x) => {
    const o = deps.tree.cached(x.name);
    return x.snapshotDir && o && lostQuorum(o);
  })?.snapshotDir;
}

// ---------------------------------------------------------------------------------------
// Restore Snapshot…

export interface RestoreSnapshotAnswers extends RemoteBackupAnswers, PointInTimeAnswers {
  /** The age identity file, when restoring an encrypted remote backup. */
  identityFile?: string;
  /** The snapshot (when not invoked on a node). */
  snapshot?: string;
  /** The members of the restored cluster (default: proposed from the sidecar / snapshot). */
  members?: PlannedMember[];
  /** `--initial-cluster-token` (default: a new one). */
  token?: string;
  /** An open plan stored for this snapshot: continue it (default; its token and members win) or abandon it and plan anew. */
  plan?: 'continue' | 'abandon';
  /** The member restored on this machine; `null`: none here, only the runbook. Default: the one whose peer URL is this machine. */
  localMember?: string | null;
  /** Where the restored data dir goes on this machine. */
  dataDir?: string;
  /** The current data dir on this machine, moved aside; `null`: none. Default: found. */
  oldDataDir?: string | null;
  /** Restore a file without a SHA-256 trailer (asked with a modal otherwise). */
  skipHashCheck?: boolean;
  bumpRevision?: number;
  markCompacted?: boolean;
  /** How etcd runs on the members (for the runbook). Default: static pod when a kubelet manifest exists here. */
  runtime?: EtcdRuntime;
  /** Where to write the runbook (default: beside the snapshot). */
  runbookPath?: string;
  /** Open the runbook (default true). */
  openRunbook?: boolean;
  /** The manifest / env file to point at the restored dir (shown as a diff); `null`: skip. */
  manifestPath?: string | null;
  /** The answer to the "Write" confirmation of that edit (default false: shown, not written). */
  writeManifest?: WriteAnswer;
  /** Confirm the restore (the modal). Default true with answers. */
  confirm?: boolean;
}

export interface RestoreSnapshotResult {
  snapshot: string;
  plan: RestorePlan;
  /** Where the proposed members came from. */
  source: string;
  localMember?: string;
  restored?: RestoreMemberResult;
  runbookPath: string;
  /** The manifest / env file the data dir edit was proposed for (written when confirmed). */
  manifestEdited?: string;
  /** That edit: the proposed text, what changed, whether it was written. */
  manifestEdit?: FileEditOutcome;
  /** The stored plan file (reused by the next run until every member is restored or it is abandoned). */
  planFile: string;
  /** The step log as shown. */
  log: string[];
}

/** Edit the list of members until the user accepts it (quick pick + input boxes). */
async function editMembers(initial: PlannedMember[], from: string): Promise<PlannedMember[]> {
  let members = initial.map((m) => ({ ...m, peerURLs: [...m.peerURLs] }));
  const askMember = async (m: PlannedMember | undefined, index: number): Promise<PlannedMember | undefined> => {
    const name = await vscode.window.showInputBox({
      title: m ? `Member ${index + 1}: name` : 'New member: name',
      prompt: "The member's --name (ETCD_NAME)",
      value: m?.name ?? '',
      ignoreFocusOut: true,
      validateInput: (v) => {
        const p = checkMemberName(v.trim());
        if (p === 'empty') return 'Give the member its name.';
        if (p) return `The name ${p}.`;
        return members.some((x, i) => i !== index && x.name === v.trim()) ? `Another member is already named "${v.trim()}".` : undefined;
      },
    });
    if (name === undefined) return undefined;
    const urls = await askPeerUrls({
      title: `${name.trim()}: peer URL(s)`,
      prompt: 'Its --initial-advertise-peer-urls, comma-separated, e.g. https://10.0.0.11:2380',
      value: m?.peerURLs.join(',') ?? '',
    });
    if (urls === undefined) return undefined;
    return {
      ...m,
      name: name.trim(),
      peerURLs: urls,
    };
  };
  for (;;) {
    const problems = validatePlan({ members, initialClusterToken: 'x' });
    type Item = vscode.QuickPickItem & { action: 'accept' | 'edit' | 'add' | 'remove'; index?: number };
    const items: Item[] = [];
    if (!problems.length) {
      items.push({
        label: '$(check) Use these members',
        description: `${members.length} member${members.length === 1 ? '' : 's'}`,
        action: 'accept',
      });
    }
    members.forEach((m, i) =>
      items.push({
        label: `$(server) ${m.name || '(no name)'}`,
        description: m.peerURLs.join(', ') || '(no peer URL)',
        detail: 'Edit name and peer URLs',
        action: 'edit',
        index: i,
      }),
    );
    items.push({ label: '$(add) Add a member…', action: 'add' });
    if (members.length) {
      items.push({ label: '$(remove) Remove a member…', action: 'remove' });
    }
    const pick = await vscode.window.showQuickPick(items, {
      title: 'Members of the restored cluster',
      placeHolder: problems.length ? problems[0] : `From ${from}. Every member is restored from this same snapshot.`,
      ignoreFocusOut: true,
    });
    if (!pick) cancelled();
    if (pick.action === 'accept') return members;
    if (pick.action === 'edit' && pick.index !== undefined) {
      const m = await askMember(members[pick.index], pick.index);
      if (m) members[pick.index] = m;
    } else if (pick.action === 'add') {
      const m = await askMember(undefined, members.length);
      if (m) members = [...members, m];
    } else if (pick.action === 'remove') {
      const r = await vscode.window.showQuickPick(
        members.map((m, i) => ({ label: m.name || '(no name)', description: m.peerURLs.join(', '), index: i })),
        { title: 'Remove which member from the plan?' },
      );
      if (r) members = members.filter((_, i) => i !== r.index);
    }
  }
}

/** Is this a kubeadm control plane (a static pod manifest for etcd)? */
async function kubeletManifest(): Promise<string | undefined> {
  const p = '/etc/kubernetes/manifests/etcd.yaml';
  return (await fs.stat(p).catch(() => undefined)) ? p : undefined;
}

/** Write the runbook beside the snapshot (or in the temp dir when that folder is read-only). */
async function writeRunbook(text: string, snapshot: string, wanted: string | undefined, stamp: string): Promise<string> {
  const candidates = wanted
    ? [wanted]
    : [
        path.join(path.dirname(snapshot), `${path.basename(snapshot).replace(/\.db$/i, '')}.restore-runbook-${stamp}.md`),
        path.join(os.tmpdir(), `etcd-restore-runbook-${stamp}.md`),
      ];
  let lastErr: unknown;
  for (const c of candidates) {
    try {
      await fs.writeFile(c, text, { flag: wanted ? 'w' : 'wx', mode: 0o600 });
      return c;
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/** What the command started from: a CodeLens on a member's file pre-fills these. */
type RestorePreset = { localMember?: string; members?: PlannedMember[]; manifestPath?: string; oldDataDir?: string };

/** The run's own log lines (returned, and in the output channel). */
type Note = (s: string) => void;

/** 1. Verify the file before anything else; a file without a trailer needs a yes (or skipHashCheck). */
async function verifyForRestore(
  snapshot: string,
  answers: RestoreSnapshotAnswers | undefined,
  note: Note,
): Promise<{ check: SnapshotCheck; skipHashCheck: boolean }> {
  const title = `Verifying ${path.basename(snapshot)}…`;
  const { checkSnapshotForRestore } = await import('../core/restore/snapshotCheck');
  const check = await withCancellableProgress(title, ({ signal }) => checkSnapshotForRestore(snapshot, { signal }));
  if (!check.ok) {
    throw new EtcdBackupError(check.kind ?? 'corrupt', check.reason ?? `${snapshot} cannot be restored.`);
  }
  note(`Verified ${snapshot}: ${check.summary}`);
  let skipHashCheck = answers?.skipHashCheck ?? false;
  if (!check.hasHash && !skipHashCheck) {
    if (answers) {
      throw new EtcdBackupError('corrupt', `${snapshot} has no SHA-256 trailer: pass skipHashCheck to restore it anyway.`);
    }
    const { SKIP_HASH_CHECK_CAVEAT } = await import('../core/tools');
    const ok = await vscode.window.showWarningMessage(
      `${path.basename(snapshot)} has no SHA-256 trailer.`,
      { modal: true, detail: `${SKIP_HASH_CHECK_CAVEAT}\n\nRestore it with --skip-hash-check?` },
      'Restore Without Hash Check',
    );
    if (!ok) cancelled();
    skipHashCheck = true;
  }
  return { check, skipHashCheck };
}

/** 2. The members and the new token: proposed from the snapshot (or the file), edited, validated. */
async function chooseMembers(
  snapshot: string,
  answers: RestoreSnapshotAnswers | undefined,
  preset: RestorePreset | undefined,
  note: Note,
): Promise<{ plan: RestorePlan; from: string }> {
  const planMod = await import('../core/restore/plan');
  const sources = await import('../core/restore/sources');
  const proposal = preset?.members?.length
    ? { members: preset.members, source: 'manual' as const, from: 'the file you started from', learnersLeftOut: [] as string[] }
    : await sources.proposeFromSnapshot(snapshot, readSnapshotMembersIfAvailable());
  const from = proposal.from ?? 'nothing (type the members)';
  if (proposal.learnersLeftOut.length) {
    note(`Learners left out of the restored cluster (add them again afterwards): ${proposal.learnersLeftOut.join(', ')}`);
  }
  let members = answers?.members ?? (answers ? proposal.members : await editMembers(proposal.members, from));
  let token = answers?.token ?? planMod.newClusterToken();
  if (!answers) {
    const t = await vscode.window.showInputBox({
      title: 'New --initial-cluster-token',
      prompt: 'Restore makes a new logical cluster: every member gets this same new token.',
      value: token,
      ignoreFocusOut: true,
      validateInput: (v) => planMod.checkClusterToken(v.trim()),
    });
    token = (t ?? cancelled()).trim();
  }
  members = members.map((m) => ({ ...m, name: m.name.trim(), peerURLs: m.peerURLs.map((u) => u.trim()) }));
  const problems = planMod.validatePlan({ members, initialClusterToken: token });
  if (problems.length) {
    throw new EtcdBackupError('invalidInput', problems.join(' '));
  }
  note(`Plan: ${planMod.formatInitialCluster(members)} with token ${token} (members from ${from})`);
  return { plan: { members, initialClusterToken: token, source: proposal.source }, from };
}

/** The stored plan of this run: its file and contents (updated as members are restored). */
interface StoredPlanRef {
  file: string;
  plan: StoredRestorePlan;
}

/** Continue an open plan of this snapshot (the default with answers) or abandon it; undefined: plan anew. */
async function continueOrAbandon(
  snapshot: string,
  sha: string,
  answers: RestoreSnapshotAnswers | undefined,
  note: Note,
): Promise<StoredPlanRef | undefined> {
  const pf = await import('../core/restore/planFile');
  for (const other of await pf.otherOpenPlans(snapshot, sha)) {
    const text = `${other} is an open restore plan for another file of this name (another SHA-256): not used for this snapshot.`;
    note(text);
    if (!answers) void vscode.window.showWarningMessage(text);
  }
  const open = await pf.findOpenPlan(snapshot, sha);
  if (!open) return undefined;
  const p = open.plan;
  const done = Object.keys(p.done);
  const what =
    `the restore planned at ${p.createdAt} (token ${p.initialClusterToken}, members ${p.members.map((m) => m.name).join(', ')}` +
    `${done.length ? `; restored already: ${done.join(', ')}` : ''})`;
  let choice = answers?.plan ?? 'continue';
  if (!answers) {
    const pick = await vscode.window.showQuickPick(
      [
        {
          label: `$(debug-continue) Continue ${what}`,
          detail: 'Every member must be restored with the same token and members, or the cluster splits.',
          choice: 'continue' as const,
        },
        {
          label: '$(discard) Abandon it and plan anew',
          detail: 'Only when no member of that plan was started: a new token makes a different cluster.',
          choice: 'abandon' as const,
        },
      ],
      { title: `A restore of ${path.basename(snapshot)} is planned (${open.file})`, ignoreFocusOut: true },
    );
    choice = pick?.choice ?? cancelled();
  }
  if (choice === 'abandon') {
    note(`Abandoned ${what}; its plan is kept as ${await pf.closePlanFile(open.file, 'abandoned')}.`);
    return undefined;
  }
  if (answers?.token && answers.token !== p.initialClusterToken) {
    note(
      `The token ${answers.token} was not used: the stored plan's ${p.initialClusterToken} is kept (pass plan: 'abandon' to plan anew).`,
    );
  }
  note(`Continuing ${what} from ${open.file}`);
  return open;
}

/** 2. The plan: the stored one of this snapshot, or members and a new token, stored at once (0600) for the next run. */
async function choosePlan(
  snapshot: string,
  sha: string,
  tool: RestoreTool,
  answers: RestoreSnapshotAnswers | undefined,
  preset: RestorePreset | undefined,
  note: Note,
): Promise<{ plan: RestorePlan; from: string; stored: StoredPlanRef; bump: Bump }> {
  const open = await continueOrAbandon(snapshot, sha, answers, note);
  if (open) {
    const p = open.plan;
    // Every member gets the same revision bump as the first: a member restored without it would hold other revisions.
    const bump = { bumpRevision: p.bumpRevision, markCompacted: p.markCompacted };
    if (answers && answers.bumpRevision !== bump.bumpRevision && answers.bumpRevision !== undefined) {
      note(`--bump-revision ${answers.bumpRevision} was not used: the stored plan restores with ${bump.bumpRevision ?? 'none'}.`);
    }
    const plan = { members: p.members, initialClusterToken: p.initialClusterToken, source: p.source };
    return { plan, from: open.file, stored: open, bump };
  }
  const { plan, from } = await chooseMembers(snapshot, answers, preset, note);
  const bump = await chooseBump(tool, answers);
  const { createPlanFile } = await import('../core/restore/planFile');
  const stored = await createPlanFile(snapshot, {
    version: 1,
    snapshotPath: snapshot,
    snapshotSha256: sha,
    createdAt: new Date().toISOString(),
    initialClusterToken: plan.initialClusterToken,
    members: plan.members,
    source: plan.source,
    done: {},
    ...bump,
  });
  if (stored.plan.initialClusterToken !== plan.initialClusterToken) {
    throw new EtcdBackupError(
      'conflict',
      `Another restore of this snapshot stored its plan first (${stored.file}, token ${stored.plan.initialClusterToken}): ` +
        'run Restore again to continue that plan.',
    );
  }
  note(`Plan stored in ${stored.file}: the next Restore of this snapshot continues it until every member is restored or it is abandoned.`);
  return { plan, from, stored, bump };
}

/** `--bump-revision` / `--mark-compacted`, the same for every member of a plan. */
type Bump = { bumpRevision?: number; markCompacted?: boolean };

/** Kubernetes: keep revisions from going backwards for watchers (etcdutl 3.5.10+ only). */
async function chooseBump(tool: RestoreTool, answers: RestoreSnapshotAnswers | undefined): Promise<Bump> {
  if (answers || !tool.canBumpRevision) {
    return { bumpRevision: answers?.bumpRevision, markCompacted: answers?.markCompacted };
  }
  const bump = await vscode.window.showQuickPick(
    [
      {
        label: 'Bump the revision by 1,000,000,000 and mark it compacted (Kubernetes)',
        detail: 'etcdutl --bump-revision --mark-compacted: informers and watchers re-list instead of seeing revisions go backwards.',
        bump: true,
      },
      { label: 'Restore the revisions as they are', detail: 'Fine for etcd clusters that no Kubernetes API server watches.', bump: false },
    ],
    { title: `${tool.kind} ${tool.version ?? ''} can bump the revision`, ignoreFocusOut: true },
  );
  if (!bump) cancelled();
  return bump.bump ? { bumpRevision: 1_000_000_000, markCompacted: true } : {};
}

/** 3. Which member is this machine (or none: only the runbook)? */
async function chooseLocalMember(
  members: PlannedMember[],
  answers: RestoreSnapshotAnswers | undefined,
  preset: RestorePreset | undefined,
  memory: { remembered: RememberedAnswers; done: Record<string, RestoredMemberRecord> },
): Promise<string | undefined> {
  let localMember: string | undefined;
  const { remembered, done } = memory;
  if (answers && answers.localMember !== undefined) {
    localMember = answers.localMember ?? undefined;
  } else if (preset?.localMember) {
    localMember = preset.localMember;
  } else if (answers && remembered.localMember !== undefined) {
    localMember = remembered.localMember ?? undefined;
  } else {
    const sources = await import('../core/restore/sources');
    const here = sources.membersOnThisMachine(members).filter((n) => !done[n]);
    if (answers) {
      localMember = here.length === 1 ? here[0] : undefined;
    } else {
      const rank = (name: string | undefined): number =>
        name === remembered.localMember ? 3 : name !== undefined && done[name] ? 0 : name !== undefined && here.includes(name) ? 2 : 1;
      const isHere = (name: string | undefined): boolean => name !== undefined && here.includes(name);
      const pick = await vscode.window.showQuickPick(
        [
          ...members.map((m) => ({
            label: `${here.includes(m.name) ? '$(home) ' : '$(server) '}${m.name}`,
            description: m.peerURLs.join(', '),
            detail: done[m.name]
              ? `Restored already into ${done[m.name].dataDir} at ${done[m.name].at} by ${done[m.name].by ?? 'unknown'}: ` +
                'restoring it again replaces that'
              : here.includes(m.name)
                ? "This machine (its peer URL is one of this machine's addresses): restore here"
                : 'Restore this member here',
            name: m.name as string | undefined,
          })),
          {
            label: '$(book) None here',
            description: "only write the runbook for the members' machines",
            detail: undefined,
            name: undefined,
          },
        ].sort((a, b) => rank(b.name) - rank(a.name) || Number(isHere(b.name)) - Number(isHere(a.name))),
        {
          title: remembered.localMember
            ? `Which member is this machine? (last time: ${remembered.localMember})`
            : 'Which member is this machine?',
          placeHolder: here.length ? `This machine looks like ${here.join(', ')}` : "No member's peer URL is an address of this machine",
          ignoreFocusOut: true,
        },
      );
      if (!pick) cancelled();
      localMember = pick.name;
    }
  }
  if (localMember !== undefined && !members.some((m) => m.name === localMember)) {
    throw new EtcdBackupError(
      'invalidInput',
      `member name not in --initial-cluster: "${localMember}" is not one of ${members.map((m) => `"${m.name}"`).join(', ')}.`,
    );
  }
  return localMember;
}

/** What the last run on this snapshot was told (kept when a later step fails), offered again. Keyed by the snapshot's SHA-256. */
interface RememberedAnswers {
  localMember?: string | null;
  dirs?: Record<string, { dataDir: string; oldDataDir?: string }>;
}

function memoryKey(sha: string): string {
  return `etcdBackup.restoreAnswers.${sha}`;
}

/** The chosen dirs and the check made on them when they were chosen. */
interface ChosenDirs {
  dataDir: string;
  oldDataDir?: string;
  /** The target check's line (what was checked, what could not be). */
  checked: string;
}

/** Check the dirs as soon as they are given (folder there and writable, target new or empty, no process using them). */
async function checkDirs(snapshot: string, dataDir: string, oldDataDir: string | undefined): Promise<ChosenDirs> {
  const { checkTarget } = await import('../core/restore/targetCheck');
  const t = await checkTarget({ snapshot, dataDir, oldDataDir });
  return { dataDir, oldDataDir, checked: t.summary };
}

/** Ask where the restored dir goes: a new directory, in place, the answer of last time, or a typed one. */
async function askDataDir(
  localMember: string,
  suggested: string,
  oldDataDir: string | undefined,
  last: string | undefined,
  problem: string | undefined,
): Promise<string> {
  const aside = oldDataDir ? `${oldDataDir} is moved aside to ${oldDataDir}.old-<time>` : '';
  const where = await vscode.window.showQuickPick(
    [
      ...(last && last !== suggested && last !== oldDataDir
        ? [{ label: `$(history) As last time: ${last}`, detail: 'The directory you chose in the last run on this snapshot', dir: last }]
        : []),
      {
        label: `$(new-folder) Into a new directory: ${suggested}`,
        detail: `${aside ? `${aside}; ` : ''}then point --data-dir / the etcd-data hostPath at the new directory (offered at the end).`,
        dir: suggested,
      },
      ...(oldDataDir
        ? [
            {
              label: `$(history) In place: ${oldDataDir}`,
              detail: `${aside} and the restored data takes its path; the manifest needs no edit.`,
              dir: oldDataDir,
            },
          ]
        : []),
      { label: '$(edit) Another directory…', detail: 'Type the path', dir: '' },
    ],
    {
      title: `Restore ${localMember} on this machine into…`,
      placeHolder: problem ? `${problem} Choose again.` : undefined,
      ignoreFocusOut: true,
    },
  );
  if (!where) cancelled();
  if (where.dir) return where.dir;
  const typed = await vscode.window.showInputBox({
    title: 'Restored data dir',
    prompt: 'A new or empty directory',
    value: last ?? suggested,
    ignoreFocusOut: true,
    validateInput: (v) => (path.isAbsolute(v.trim()) ? undefined : 'Give an absolute path.'),
  });
  return typed?.trim() ?? cancelled();
}

/**
 * 4a. Where, on this machine: a new dir, in place, or another; and the old dir to move aside.
 * Checked as soon as it is chosen: a refusal (a missing folder, a dir in use, with the PID) is
 * shown and the step asked again; with answers it fails here, before the confirmation.
 */
async function chooseDirs(
  snapshot: string,
  localMember: string,
  answers: RestoreSnapshotAnswers | undefined,
  preset: RestorePreset | undefined,
  last: { dataDir: string; oldDataDir?: string } | undefined,
): Promise<ChosenDirs> {
  const sources = await import('../core/restore/sources');
  const given = preset?.oldDataDir ?? (typeof answers?.oldDataDir === 'string' ? answers.oldDataDir : undefined) ?? last?.oldDataDir;
  const suggestion = await sources.suggestDataDirs(given);
  const oldDataDir = answers?.oldDataDir === null ? undefined : (answers?.oldDataDir ?? last?.oldDataDir ?? suggestion.oldDataDir);
  if (answers) return checkDirs(snapshot, answers.dataDir ?? last?.dataDir ?? suggestion.dataDir, oldDataDir);
  let problem: string | undefined;
  for (;;) {
    const dataDir = await askDataDir(localMember, suggestion.dataDir, oldDataDir, last?.dataDir, problem);
    try {
      return await checkDirs(snapshot, dataDir, oldDataDir);
    } catch (err) {
      if (!(err instanceof EtcdBackupError) || err.kind === 'cancelled') throw err;
      problem = errorText(err);
      void vscode.window.showWarningMessage(problem);
    }
  }
}

/** What the restore on this machine needs from the earlier steps. */
interface LocalRestore {
  snapshot: string;
  plan: RestorePlan;
  localMember: string;
  tool: RestoreTool;
  skipHashCheck: boolean;
  bump: { bumpRevision?: number; markCompacted?: boolean };
  /** Warnings for the confirmation: keys of the v2 store, which a snapshot cannot hold. */
  v2Lines: string[];
  /** How etcd runs here (the confirmation says how to keep it stopped). */
  runtime: EtcdRuntime;
}

/** How to keep etcd stopped while the restore runs, for the runtime seen here. */
function keepStopped(runtime: EtcdRuntime): string {
  return runtime === 'static-pod'
    ? 'Keep etcd stopped until the restore is done: leave its manifest out of /etc/kubernetes/manifests ' +
        '(the kubelet runs every file there).'
    : 'Keep etcd stopped (systemctl stop etcd) until the restore is done.';
}

/** 4b. Confirm (modal), then restore this machine's member through the core, with progress. */
async function restoreHere(
  r: LocalRestore,
  dirs: ChosenDirs,
  answers: RestoreSnapshotAnswers | undefined,
  note: Note,
): Promise<RestoreMemberResult> {
  const core = await import('../core/restore/restore');
  const flags = (await import('../core/restore/plan')).memberFlags(r.plan, r.localMember);
  const { dataDir, oldDataDir } = dirs;
  // The dirs were checked when chosen (a process using them was refused then, with its PID): say what was seen.
  const detail =
    `Checked just now: ${dirs.checked}. ${keepStopped(r.runtime)}\n\n` +
    `${oldDataDir ? `${oldDataDir} will be moved aside to ${oldDataDir}.old-<time> (never deleted). ` : ''}The restored dir gets the ` +
    `owner of the old one and mode 0700.` +
    `\n\n--initial-cluster ${flags.initialCluster}\n--initial-cluster-token ${r.plan.initialClusterToken}` +
    (r.v2Lines.length ? `\n\n${r.v2Lines.join('\n')}` : '');
  const confirmed = answers
    ? answers.confirm !== false
    : (await vscode.window.showWarningMessage(
        `Restore member "${r.localMember}" from ${path.basename(r.snapshot)} into ${dataDir}?`,
        { modal: true, detail },
        'Restore',
      )) === 'Restore';
  if (!confirmed) cancelled();
  return withCancellableProgress(`Restoring ${r.localMember}`, ({ signal, report }) =>
    core.restoreMember({
      snapshot: r.snapshot,
      ...flags,
      dataDir,
      oldDataDir,
      skipHashCheck: r.skipHashCheck,
      ...r.bump,
      tool: r.tool,
      signal,
      onStep: (s: RestoreStep) => {
        if (s.state !== 'running') note(`${s.state === 'failed' ? 'FAILED ' : ''}${s.step}: ${s.message}`);
        report(s.message);
      },
    }),
  );
}

/** 5. The runbook, for every member: the restored ones told only what is left, the others only what is known of them. */
async function runbookStep(
  r: Omit<LocalRestore, 'localMember' | 'v2Lines'> & { check: SnapshotCheck; cluster?: ClusterConfig; sha: string },
  done: Record<string, RestoredMemberRecord>,
  answers: RestoreSnapshotAnswers | undefined,
  note: Note,
): Promise<string> {
  const { buildRunbook, timestamp } = await import('../core/restore/runbook');
  // Nothing of another machine is known here: its block reads its data dir there (no guessed path, no path of this machine).
  const setup: Record<string, Partial<RunbookMemberSetup>> = {};
  for (const m of r.plan.members) {
    const d = done[m.name];
    setup[m.name] = d ? { runtime: r.runtime, dataDir: d.dataDir, oldDataDir: d.oldDataDir, restored: { ...d } } : { runtime: r.runtime };
  }
  const runbook = buildRunbook({
    plan: r.plan,
    snapshotPath: r.snapshot,
    setup,
    tool: r.tool.kind,
    skipHashCheck: r.skipHashCheck,
    ...r.bump,
    clusterName: r.cluster?.name,
    snapshotSha256: r.check.sha256 ? r.sha : undefined,
    tls: r.cluster?.tls,
  });
  const runbookPath = await writeRunbook(runbook, r.snapshot, answers?.runbookPath, timestamp());
  note(`Runbook written to ${runbookPath}`);
  if (answers?.openRunbook !== false) {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(runbookPath));
    await vscode.window.showTextDocument(doc, { preview: false });
  }
  return runbookPath;
}

/** 6. "Point etcd.yaml at the restored dir": kubeadm's manifest (or the file the command started from) first. */
async function offerManifestEdit(
  restored: RestoreMemberResult,
  localMember: string | undefined,
  manifestHere: string | undefined,
  answers: RestoreSnapshotAnswers | undefined,
  deps: CommandDeps,
  note: Note,
): Promise<{ manifestEdited?: string; manifestEdit?: FileEditOutcome }> {
  let file = answers ? manifestHere : undefined;
  if (!answers) {
    const candidates = await findEtcdFiles({ memberName: localMember, preferred: manifestHere ? [manifestHere] : [] });
    file = await pickEtcdFile(
      `Point etcd.yaml at the restored dir ${restored.dataDir}?`,
      candidates,
      `The file that starts ${localMember}: its --data-dir (and the etcd-data hostPath) become ${restored.dataDir}; shown as a diff, ` +
        `written when you confirm`,
    );
  }
  if (!file) return {};
  const dir = restored.dataDir;
  const { setDataDir } = await import('../core/etcdFiles');
  const write = answers ? writeAnswerOf(answers.writeManifest) : undefined;
  const manifestEdit = await offerEtcdFileEdit(file, [(p) => setDataDir(p, dir)], {
    write,
    memberName: localMember,
    log: deps.log,
    interactive: !answers,
  });
  if (manifestEdit.error) {
    note(`${file} was not changed: ${manifestEdit.error}`);
    return { manifestEdit };
  }
  if (!manifestEdit.changed) note(`${file} already points at ${dir}.`);
  else
    note(
      manifestEdit.saved
        ? `Wrote ${file}: ${manifestEdit.changes.join('; ')}.`
        : `${file} was not written (declined): make the change by hand: ${manifestEdit.changes.join('; ')}.`,
    );
  return { manifestEdited: file, manifestEdit };
}

/** 7. How to watch the member come back. */
function announceRestored(
  restored: RestoreMemberResult,
  localMember: string | undefined,
  runtime: EtcdRuntime,
  interactive: boolean,
  note: Note,
): void {
  if (runtime === 'static-pod') {
    note('Watch the static pod come back: crictl ps | grep etcd, then kubectl -n kube-system get pod -l component=etcd.');
  }
  if (!interactive) return;
  const watch =
    runtime === 'static-pod'
      ? 'Once the manifest points at the restored dir (and is back in /etc/kubernetes/manifests if you moved it out), the kubelet ' +
        'restarts etcd. ' +
        'Watch it with `crictl ps | grep etcd` and `kubectl -n kube-system get pod -l component=etcd`.'
      : 'Start etcd (systemctl start etcd) once every member is restored.';
  const actions = runtime === 'static-pod' ? ['Watch in Terminal'] : [];
  void vscode.window.showInformationMessage(`Restored "${localMember}" into ${restored.dataDir}. ${watch}`, ...actions).then((c) => {
    if (c === 'Watch in Terminal') {
      const term = vscode.window.createTerminal({ name: 'etcd pod' });
      term.show();
      term.sendText("watch -n 2 'crictl ps -a | grep etcd'");
    }
  });
}

/** 1. The snapshot: picked, verified at once; a file that fails is said and another asked (when it came from the dialog). */
async function pickVerifiedSnapshot(
  arg: unknown,
  answers: RestoreSnapshotAnswers | undefined,
  deps: CommandDeps,
  note: Note,
  offerPointInTime: boolean,
): Promise<{ snapshot: string; check: SnapshotCheck; skipHashCheck: boolean }> {
  // A backup node of a plan: its local file, or the remote object fetched to a 0600 temp file first;
  // on a cluster whose plan follows it, "A point in time…" (src/commands/pointInTime.ts).
  const fixed =
    (await snapshotOfBackup(arg, answers, deps)) ?? (offerPointInTime ? await pointInTimeSnapshot(arg, answers, deps, note) : undefined);
  for (;;) {
    const snapshot = fixed ?? (await pickSnapshot(arg, answers, 'Restore which snapshot?', snapshotDirFor(arg, deps)));
    try {
      return { snapshot, ...(await verifyForRestore(snapshot, answers, note)) };
    } catch (err) {
      const picked = !answers && !fixed && !snapshotFileOf(arg);
      if (!picked || !(err instanceof EtcdBackupError) || err.kind === 'cancelled') throw err;
      void vscode.window.showWarningMessage(`${errorText(err)} Choose another snapshot.`);
    }
  }
}

/** Restore Snapshot…: verify, plan the members, restore this machine's member, write the runbook, offer the manifest edit. */
async function restoreSnapshot(
  arg: unknown,
  answers: RestoreSnapshotAnswers | undefined,
  deps: CommandDeps,
  memo: vscode.Memento,
  preset?: RestorePreset,
): Promise<RestoreSnapshotResult> {
  const lines: string[] = [];
  const note: Note = (s) => {
    lines.push(s);
    deps.log.info(`[restore] ${s}`);
  };
  const cluster = clusterOf(arg, deps);
  // The tool first: without one there is nothing to restore with (one sentence on what to install).
  const tool = await (await import('../core/tools')).findRestoreTool(deps.settings.toolPaths());
  const { snapshot, check, skipHashCheck } = await pickVerifiedSnapshot(arg, answers, deps, note, !preset);
  const sha = await (await import('../core/restore/planFile')).fileSha256(snapshot);
  // What the last run on this snapshot was told is offered again (kept when a later step failed).
  const remembered: RememberedAnswers = memo.get<RememberedAnswers>(memoryKey(sha)) ?? {};
  const remember = (m: RememberedAnswers): Thenable<void> => memo.update(memoryKey(sha), { ...remembered, ...m });
  const { plan, from, stored, bump } = await choosePlan(snapshot, sha, tool, answers, preset, note);
  const localMember = await chooseLocalMember(plan.members, answers, preset, { remembered, done: stored.plan.done });
  await remember({ localMember: localMember ?? null });
  const manifestHere =
    answers?.manifestPath === null ? undefined : (answers?.manifestPath ?? preset?.manifestPath ?? (await kubeletManifest()));
  const runtime: EtcdRuntime = answers?.runtime ?? (manifestHere && /\.ya?ml$/i.test(manifestHere) ? 'static-pod' : 'systemd');
  let restored: RestoreMemberResult | undefined;
  let dirs: { dataDir?: string; oldDataDir?: string } = {};
  if (localMember !== undefined) {
    const chosen = await chooseDirs(snapshot, localMember, answers, preset, remembered.dirs?.[localMember]);
    dirs = chosen;
    await remember({
      localMember,
      dirs: { ...remembered.dirs, [localMember]: { dataDir: chosen.dataDir, oldDataDir: chosen.oldDataDir } },
    });
    // A snapshot cannot hold v2 keys: said in the confirmation and the log (src/commands/v2store.ts).
    const v2Lines = await restoreWarning({
      cluster,
      tree: deps.tree,
      memberFiles: [manifestHere],
      dataDirs: [chosen.dataDir, chosen.oldDataDir],
      oldDataDir: chosen.oldDataDir,
    });
    v2Lines.forEach((l) => note(`Warning: ${l}`));
    restored = await restoreHere({ snapshot, plan, localMember, tool, skipHashCheck, bump, v2Lines, runtime }, chosen, answers, note);
    stored.plan = await recordRestored(stored, localMember, restored, chosen.oldDataDir, note);
    const finished = stored.plan.members.every((m) => stored.plan.done[m.name]);
    // Restored: its answers are not offered again (and nothing is kept once the whole plan is done).
    if (finished) await memo.update(memoryKey(sha), undefined);
    else await remember({ localMember: undefined, dirs: { ...remembered.dirs, [localMember]: undefined } as RememberedAnswers['dirs'] });
  }
  const runbookPath = await runbookStep(
    { snapshot, plan, tool, skipHashCheck, bump, check, cluster, runtime, sha },
    stored.plan.done,
    answers,
    note,
  );
  const edit =
    restored && dirs.oldDataDir !== restored.dataDir
      ? await offerManifestEdit(restored, localMember, manifestHere, answers, deps, note)
      : {};
  if (restored) announceRestored(restored, localMember, runtime, !answers, note);
  return { snapshot, plan, source: from, localMember, restored, runbookPath, planFile: stored.file, ...edit, log: lines };
}

/** Record the member restored here in the stored plan (closed as finished once every member is restored). */
async function recordRestored(
  stored: StoredPlanRef,
  name: string,
  restored: RestoreMemberResult,
  oldDataDir: string | undefined,
  note: Note,
): Promise<StoredRestorePlan> {
  const pf = await import('../core/restore/planFile');
  const record = { dataDir: restored.dataDir, oldDataDir, movedAside: restored.movedAside, at: new Date().toISOString(), by: pf.whoAmI() };
  const next = await pf.markMemberDone(stored.file, stored.plan, name, record);
  const left = next.members.filter((m) => !next.done[m.name]).map((m) => m.name);
  note(
    left.length
      ? `Recorded ${name} as restored in ${stored.file}; left: ${left.join(', ')}.`
      : `Every member of the plan is restored: the plan is closed (finished).`,
  );
  return next;
}

/** The snapshot reader's member list (the snapshot's `members` bucket), loaded lazily. */
function readSnapshotMembersIfAvailable(): (path: string) => Promise<import('../core/restore/plan').KnownMember[]> {
  return async (p) => (await import('../core/snapshot/inspect')).readSnapshotMembers(p);
}

// ---------------------------------------------------------------------------------------
// Restore a snapshot for this member (CodeLens on etcd.yaml / etcd.env)

export interface ForMemberArgs {
  uri?: vscode.Uri | string;
  name?: string;
  peerURL?: string;
  initialCluster?: string;
  /** The file's data dir (the old one, moved aside). */
  dataDir?: string;
}

async function restoreSnapshotForMember(
  arg: unknown,
  answers: RestoreSnapshotAnswers | undefined,
  deps: CommandDeps,
  memo: vscode.Memento,
): Promise<RestoreSnapshotResult> {
  const a = (arg && typeof arg === 'object' && !(arg instanceof vscode.Uri) ? arg : {}) as ForMemberArgs;
  const uri = arg instanceof vscode.Uri ? arg : typeof a.uri === 'string' ? vscode.Uri.file(a.uri) : a.uri;
  const members = a.initialCluster ? parseInitialCluster(a.initialCluster).members : undefined;
  if (a.name && members && !members.some((m) => m.name === a.name) && a.peerURL) {
    members.push({ name: a.name, peerURLs: [a.peerURL] });
  }
  return restoreSnapshot(undefined, answers, deps, memo, {
    localMember: a.name,
    members,
    manifestPath: uri?.fsPath,
    oldDataDir: a.dataDir,
  });
}

// ---------------------------------------------------------------------------------------
// Trial Restore

export interface TrialAnswers {
  snapshot?: string;
  skipHashCheck?: boolean;
  /** Show the verdict as a notification (default: only without answers). */
  show?: boolean;
}

async function trialRestoreCommand(arg: unknown, answers: TrialAnswers | undefined, deps: CommandDeps): Promise<TrialRestoreResult> {
  const snapshot = await pickSnapshot(arg, answers, 'Trial-restore which snapshot?');
  const { trialRestore } = await import('../core/restore/restore');
  const result = await withCancellableProgress(`Trial restore of ${path.basename(snapshot)}`, ({ signal, report }) =>
    trialRestore(snapshot, {
      signal,
      toolPaths: deps.settings.toolPaths(),
      skipHashCheck: answers?.skipHashCheck,
      onStep: (s) => {
        if (s.state !== 'running') deps.log.info(`[trial restore] ${s.step}: ${s.message}`);
        report(s.message);
      },
    }),
  );
  deps.log.info(`[trial restore] ${result.verdict}`);
  if (answers?.show ?? !answers) {
    if (result.ok) {
      void vscode.window.showInformationMessage(result.verdict);
    } else {
      showWithLogs(deps.log, result.verdict, 'error');
    }
  }
  return result;
}

/** Register the restore features: Restore Snapshot, Restore for Member (the CodeLens), Trial Restore. */
export function registerRestoreFeatures(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const command = commandRegistrar(context, deps.log);
  // Answers of a run that failed later are kept per snapshot (machine-wide: data dirs are this machine's).
  const memo = context.globalState;
  command<RestoreSnapshotAnswers>('etcdBackup.restoreSnapshot', (target, answers) => restoreSnapshot(target, answers, deps, memo), {
    loneAnswers: true,
  });
  // The CodeLens passes a plain { uri, name, peerURL, initialCluster, dataDir } target: never answers alone.
  command<RestoreSnapshotAnswers>('etcdBackup.restoreSnapshotForMember', (target, answers) =>
    restoreSnapshotForMember(target, answers, deps, memo),
  );
  command<TrialAnswers>('etcdBackup.trialRestore', (target, answers) => trialRestoreCommand(target, answers, deps));
}
