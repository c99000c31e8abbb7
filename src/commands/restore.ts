/**
 * Restore commands: "Restore Snapshot…" (verify, propose the members, restore the member on
 * this machine, write the runbook for the others, offer the manifest edit), "Restore a Snapshot
 * for This Member…" (the CodeLens on etcd.yaml / etcd.env, pre-filled), and "Trial Restore".
 * Thin over src/core/restore. Every handler takes the tree node (or a Uri / path / nothing) and
 * an optional answers object: with answers, no prompt is shown (tests), and it returns a result.
 */
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { EtcdBackupError } from '../core/errors';
import { lostQuorum } from '../core/clusterStatus';
import { checkMemberName, parseInitialCluster, validatePlan } from '../core/restore/plan';
import type { RestorePlan, PlannedMember } from '../core/restore/plan';
import type { RestoreMemberResult, RestoreStep, TrialRestoreResult } from '../core/restore/restore';
import type { SnapshotCheck } from '../core/restore/snapshotCheck';
import type { EtcdRuntime } from '../core/restore/runbook';
import type { RestoreTool } from '../core/tools';
import type { ClusterConfig } from '../core/types';
import { clusterNodeOf } from '../views/clustersView';
import { Node } from '../views/nodes';
import { askPeerUrls, cancelled, CommandDeps, commandRegistrar, pickSnapshot, showWithLogs, withCancellableProgress } from './common';
import { snapshotOfBackup } from './remoteBackup';
import { findEtcdFiles, offerEtcdFileEdit, pickEtcdFile } from './offerFileEdits';
import { writeAnswerOf } from '../editor/confirmWrite';
import type { WriteAnswer } from '../editor/confirmWrite';
import type { FileEditOutcome } from './offerFileEdits';
import { restoreWarning } from './v2store';

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

export interface RestoreSnapshotAnswers {
  /** The age identity file, when restoring an encrypted remote backup. */
  identityFile?: string;
  /** The snapshot (when not invoked on a node). */
  snapshot?: string;
  /** The members of the restored cluster (default: proposed from the sidecar / snapshot). */
  members?: PlannedMember[];
  /** `--initial-cluster-token` (default: a new one). */
  token?: string;
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

/** Kubernetes: keep revisions from going backwards for watchers (etcdutl 3.5.10+ only). */
async function chooseBump(
  tool: RestoreTool,
  answers: RestoreSnapshotAnswers | undefined,
): Promise<{ bumpRevision?: number; markCompacted?: boolean }> {
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
): Promise<string | undefined> {
  let localMember: string | undefined;
  if (answers && answers.localMember !== undefined) {
    localMember = answers.localMember ?? undefined;
  } else if (preset?.localMember) {
    localMember = preset.localMember;
  } else {
    const here = (await import('../core/restore/sources')).membersOnThisMachine(members);
    if (answers) {
      localMember = here.length === 1 ? here[0] : undefined;
    } else {
      const isHere = (name: string | undefined): boolean => name !== undefined && here.includes(name);
      const pick = await vscode.window.showQuickPick(
        [
          ...members.map((m) => ({
            label: `${here.includes(m.name) ? '$(home) ' : '$(server) '}${m.name}`,
            description: m.peerURLs.join(', '),
            detail: here.includes(m.name)
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
        ].sort((a, b) => Number(isHere(b.name)) - Number(isHere(a.name))),
        {
          title: 'Which member is this machine?',
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

/** 4a. Where, on this machine: a new dir, in place, or another; and the old dir to move aside. */
async function chooseDirs(
  localMember: string,
  answers: RestoreSnapshotAnswers | undefined,
  preset: RestorePreset | undefined,
): Promise<{ dataDir: string; oldDataDir?: string }> {
  const sources = await import('../core/restore/sources');
  const suggestion = await sources.suggestDataDirs(
    preset?.oldDataDir ?? (typeof answers?.oldDataDir === 'string' ? answers.oldDataDir : undefined),
  );
  const oldDataDir = answers?.oldDataDir === null ? undefined : (answers?.oldDataDir ?? suggestion.oldDataDir);
  if (answers) return { dataDir: answers.dataDir ?? suggestion.dataDir, oldDataDir };
  const aside = oldDataDir ? `${oldDataDir} is moved aside to ${oldDataDir}.old-<time>` : '';
  const where = await vscode.window.showQuickPick(
    [
      {
        label: `$(new-folder) Into a new directory: ${suggestion.dataDir}`,
        detail: `${aside ? `${aside}; ` : ''}then point --data-dir / the etcd-data hostPath at the new directory (offered at the end).`,
        dir: suggestion.dataDir,
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
    { title: `Restore ${localMember} on this machine into…`, ignoreFocusOut: true },
  );
  if (!where) cancelled();
  let dataDir = where.dir;
  if (!dataDir) {
    const typed = await vscode.window.showInputBox({
      title: 'Restored data dir',
      prompt: 'A new or empty directory',
      value: suggestion.dataDir,
      ignoreFocusOut: true,
      validateInput: (v) => (path.isAbsolute(v.trim()) ? undefined : 'Give an absolute path.'),
    });
    dataDir = typed?.trim() ?? cancelled();
  }
  return { dataDir, oldDataDir };
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
}

/** 4b. Confirm (modal), then restore this machine's member through the core, with progress. */
async function restoreHere(
  r: LocalRestore,
  dirs: { dataDir: string; oldDataDir?: string },
  answers: RestoreSnapshotAnswers | undefined,
  note: Note,
): Promise<RestoreMemberResult> {
  const core = await import('../core/restore/restore');
  const flags = (await import('../core/restore/plan')).memberFlags(r.plan, r.localMember);
  const { dataDir, oldDataDir } = dirs;
  const detail =
    'Stop etcd on this machine first (systemctl stop etcd, or move /etc/kubernetes/manifests/etcd.yaml out of the manifests folder).\n\n' +
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

/** 5. The runbook, for every member (the one restored here included, for the record). */
async function runbookStep(
  r: Omit<LocalRestore, 'localMember' | 'v2Lines'> & { check: SnapshotCheck; cluster?: ClusterConfig; runtime: EtcdRuntime },
  dirs: { dataDir?: string; oldDataDir?: string },
  answers: RestoreSnapshotAnswers | undefined,
  note: Note,
): Promise<string> {
  const { buildRunbook, timestamp } = await import('../core/restore/runbook');
  const { dataDir, oldDataDir } = dirs;
  const setup: Record<string, { dataDir: string; oldDataDir?: string; runtime: EtcdRuntime }> = {};
  const fallback = {
    dataDir: dataDir ?? (r.runtime === 'static-pod' ? '/var/lib/etcd-from-backup' : '/var/lib/etcd'),
    oldDataDir: oldDataDir ?? '/var/lib/etcd',
  };
  const othersDir = dataDir && oldDataDir && dataDir !== oldDataDir ? { dataDir, oldDataDir } : fallback;
  for (const m of r.plan.members) {
    setup[m.name] = { ...othersDir, runtime: r.runtime };
  }
  const runbook = buildRunbook({
    plan: r.plan,
    snapshotPath: r.snapshot,
    setup,
    tool: r.tool.kind,
    skipHashCheck: r.skipHashCheck,
    ...r.bump,
    clusterName: r.cluster?.name,
    snapshotSha256: r.check.sha256 ? await fileSha256(r.snapshot) : undefined,
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

/** Restore Snapshot…: verify, plan the members, restore this machine's member, write the runbook, offer the manifest edit. */
async function restoreSnapshot(
  arg: unknown,
  answers: RestoreSnapshotAnswers | undefined,
  deps: CommandDeps,
  preset?: RestorePreset,
): Promise<RestoreSnapshotResult> {
  const lines: string[] = [];
  const note: Note = (s) => {
    lines.push(s);
    deps.log.info(`[restore] ${s}`);
  };
  // A backup node of a plan: its local file, or the remote object fetched to a 0600 temp file first.
  const snapshot =
    (await snapshotOfBackup(arg, answers, deps)) ??
    (await pickSnapshot(arg, answers, 'Restore which snapshot?', snapshotDirFor(arg, deps)));
  const cluster = clusterOf(arg, deps);
  // The tool first: without one there is nothing to restore with (one sentence on what to install).
  const tool = await (await import('../core/tools')).findRestoreTool(deps.settings.toolPaths());
  const { check, skipHashCheck } = await verifyForRestore(snapshot, answers, note);
  const { plan, from } = await chooseMembers(snapshot, answers, preset, note);
  const bump = await chooseBump(tool, answers);
  const localMember = await chooseLocalMember(plan.members, answers, preset);
  const manifestHere =
    answers?.manifestPath === null ? undefined : (answers?.manifestPath ?? preset?.manifestPath ?? (await kubeletManifest()));
  const runtime: EtcdRuntime = answers?.runtime ?? (manifestHere && /\.ya?ml$/i.test(manifestHere) ? 'static-pod' : 'systemd');
  let restored: RestoreMemberResult | undefined;
  let dirs: { dataDir?: string; oldDataDir?: string } = {};
  if (localMember !== undefined) {
    const chosen = await chooseDirs(localMember, answers, preset);
    dirs = chosen;
    // A snapshot cannot hold v2 keys: said in the confirmation and the log (src/commands/v2store.ts).
    const v2Lines = await restoreWarning({
      cluster,
      tree: deps.tree,
      memberFiles: [manifestHere],
      dataDirs: [chosen.dataDir, chosen.oldDataDir],
      oldDataDir: chosen.oldDataDir,
    });
    v2Lines.forEach((l) => note(`Warning: ${l}`));
    restored = await restoreHere({ snapshot, plan, localMember, tool, skipHashCheck, bump, v2Lines }, chosen, answers, note);
  }
  const runbookPath = await runbookStep({ snapshot, plan, tool, skipHashCheck, bump, check, cluster, runtime }, dirs, answers, note);
  const edit =
    restored && dirs.oldDataDir !== restored.dataDir
      ? await offerManifestEdit(restored, localMember, manifestHere, answers, deps, note)
      : {};
  if (restored) announceRestored(restored, localMember, runtime, !answers, note);
  return { snapshot, plan, source: from, localMember, restored, runbookPath, ...edit, log: lines };
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve());
  });
  return h.digest('hex');
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
): Promise<RestoreSnapshotResult> {
  const a = (arg && typeof arg === 'object' && !(arg instanceof vscode.Uri) ? arg : {}) as ForMemberArgs;
  const uri = arg instanceof vscode.Uri ? arg : typeof a.uri === 'string' ? vscode.Uri.file(a.uri) : a.uri;
  const members = a.initialCluster ? parseInitialCluster(a.initialCluster).members : undefined;
  if (a.name && members && !members.some((m) => m.name === a.name) && a.peerURL) {
    members.push({ name: a.name, peerURLs: [a.peerURL] });
  }
  return restoreSnapshot(undefined, answers, deps, {
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
  command<RestoreSnapshotAnswers>('etcdBackup.restoreSnapshot', (target, answers) => restoreSnapshot(target, answers, deps), {
    loneAnswers: true,
  });
  // The CodeLens passes a plain { uri, name, peerURL, initialCluster, dataDir } target: never answers alone.
  command<RestoreSnapshotAnswers>('etcdBackup.restoreSnapshotForMember', (target, answers) =>
    restoreSnapshotForMember(target, answers, deps),
  );
  command<TrialAnswers>('etcdBackup.trialRestore', (target, answers) => trialRestoreCommand(target, answers, deps));
}
