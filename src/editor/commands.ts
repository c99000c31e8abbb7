/**
 * The edit commands behind the CodeLenses (also in the palette, on the active editor):
 * "Move Data Dir…" and "Set initial-cluster-state…". The edits come from core (minimal text
 * edits); they are shown as a diff and written only after the user confirms (confirmWrite.ts).
 *
 * Reusable (e.g. after a restore): `moveDataDirIn(uri, dir)`, `setInitialClusterStateIn(uri,
 * state)` and `applyEtcdFileEdit(uri, result, basedOn)`.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { EditResult, InitialClusterState } from '../core/etcdFiles';
import type { DataDirCandidate } from '../core/etcdFiles/lenses';
import { ETCD_FILE_PATTERNS } from '../core/etcdFileNames';
import { EtcdBackupError } from '../core/errors';
import { cancelled } from '../commands/common';
import { EtcdDocumentModel, EtcdDocumentState } from './model';
import { confirmFileWrite, syncFromDisk, writeAnswerOf } from './confirmWrite';
import type { WriteAnswer } from './confirmWrite';

export type { InitialClusterState };

/** What an edit command did. */
export interface EtcdFileEditOutcome {
  uri: vscode.Uri;
  /** Was the change written to disk (false: the file already said so, or the user declined). */
  applied: boolean;
  /** The user declined the write (the file is unchanged). */
  declined?: boolean;
  /** The text proposed (when there was a change). */
  proposed?: string;
  /** One line per changed value. */
  changes: string[];
}

function targetUri(arg: unknown): vscode.Uri {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string' && path.isAbsolute(arg)) return vscode.Uri.file(arg);
  const a = arg as { uri?: unknown } | undefined;
  if (a && a.uri instanceof vscode.Uri) return a.uri;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active) return active;
  throw new EtcdBackupError('invalidInput', 'Open an etcd static pod manifest, env file, config file or systemd unit first.');
}

async function stateOf(
  model: EtcdDocumentModel | undefined,
  uri: vscode.Uri,
): Promise<{ document: vscode.TextDocument; state: EtcdDocumentState }> {
  const document = await vscode.workspace.openTextDocument(uri);
  await syncFromDisk(document);
  let state: EtcdDocumentState | undefined;
  if (model) {
    state = await model.get(document);
  } else {
    const own = new EtcdDocumentModel();
    try {
      state = await own.get(document);
    } finally {
      own.dispose();
    }
  }
  if (!state) {
    const where = ETCD_FILE_PATTERNS.map((p) => p.replace('**/', '')).join(', ');
    throw new EtcdBackupError('invalidInput', `${path.basename(uri.fsPath)} is not where etcd's files are expected (${where}).`);
  }
  const blocker = state.core.editBlocker(state.parsed);
  if (!state.relevant || blocker) {
    throw new EtcdBackupError('invalidInput', blocker ?? `${path.basename(uri.fsPath)} is not an etcd file: nothing to edit.`);
  }
  return { document, state };
}

/**
 * The editor's one edit path (the CodeLens commands and the offers after Replace Member and
 * Restore): a core edit result on a file is shown as a diff and written to disk only after a
 * modal "Write" (`write`: the test's answer), never applied to an editor buffer. `basedOn` is
 * the text the edits were computed from: when the document no longer holds exactly that text
 * the edit is refused (offsets would land elsewhere), as it is when the document has unsaved
 * changes. Throws the result's error when it is not ok.
 */
export async function applyEtcdFileEdit(
  target: vscode.Uri | vscode.TextDocument,
  result: EditResult,
  basedOn?: string,
  write?: WriteAnswer,
): Promise<EtcdFileEditOutcome> {
  if (!result.ok) throw new EtcdBackupError('invalidInput', result.error);
  const document = target instanceof vscode.Uri ? await vscode.workspace.openTextDocument(target) : target;
  const base = path.basename(document.uri.fsPath);
  if (basedOn !== undefined && document.getText() !== basedOn) {
    throw new EtcdBackupError('conflict', `${base} changed while the edit was prepared; try again.`);
  }
  if (!result.edits.length) return { uri: document.uri, applied: false, changes: [] };
  if (document.uri.scheme !== 'file') {
    throw new EtcdBackupError('invalidInput', `${base} is not a file on this machine; save it first, then try again.`);
  }
  const { applyEdits } = await import('../core/etcdFiles');
  const current = document.getText();
  const proposed = applyEdits(current, result.edits);
  const written = await confirmFileWrite({ file: document.uri.fsPath, current, proposed, changes: result.changes, answer: write });
  return { uri: document.uri, applied: written, declined: !written, changes: result.changes, proposed };
}

/**
 * Point the file at another data dir (a directory on the node): shown as a diff, written on
 * "Write". Without a model the document is parsed afresh.
 */
export async function moveDataDirIn(
  uri: vscode.Uri,
  dir: string,
  model?: EtcdDocumentModel,
  write?: WriteAnswer,
): Promise<EtcdFileEditOutcome> {
  const { document, state } = await stateOf(model, uri);
  return applyEtcdFileEdit(document, state.core.setDataDir(state.parsed, dir, { related: state.related }), state.parsed.text, write);
}

/** Set initial-cluster-state (added when absent): shown as a diff, written on "Write". */
export async function setInitialClusterStateIn(
  uri: vscode.Uri,
  value: InitialClusterState,
  model?: EtcdDocumentModel,
  write?: WriteAnswer,
): Promise<EtcdFileEditOutcome> {
  const { document, state } = await stateOf(model, uri);
  return applyEtcdFileEdit(
    document,
    state.core.setInitialClusterState(state.parsed, value, { related: state.related }),
    state.parsed.text,
    write,
  );
}

// ---------------------------------------------------------------------------------------

/** Answers for tests: with answers nothing is asked. */
export interface MoveDataDirAnswers {
  /** The directory on the node (skips the quick pick). */
  dir?: string;
  /** Which quick pick item to take: an index into the offered data dirs, or "browse". */
  pick?: number | 'browse';
  /** What the folder dialog answers for "browse". */
  browsed?: string;
  /** A path typed into the quick pick (it must be absolute; it need not exist yet). */
  typed?: string;
  /** The answer to the "Write" confirmation (see WriteAnswer; absent with answers: declined). */
  write?: WriteAnswer;
}

export interface MoveDataDirResult extends EtcdFileEditOutcome {
  dir: string;
  /** The data dirs the quick pick offered, in order (restored ones first). */
  offered: string[];
}

/**
 * A directory typed into the quick pick: absolute (it usually does not exist yet: the manifest's
 * hostPath is DirectoryOrCreate), normalized. A sentence when it cannot be used.
 */
export function typedDataDir(value: string): { dir: string } | { error: string } {
  const v = value.trim();
  if (!v) return { error: 'Type the new data dir, e.g. /var/lib/etcd-from-backup.' };
  if (!path.posix.isAbsolute(v))
    return { error: `"${v}" is not an absolute path: type one starting with /, e.g. /var/lib/etcd-from-backup.` };
  if (/[\n\r\0]/.test(v)) return { error: 'The path holds a line break or a NUL: type it again.' };
  const dir = path.posix.normalize(v).replace(/(.)\/+$/, '$1');
  return { dir };
}

type DirItem = vscode.QuickPickItem & { index: number | 'browse' | 'typed' };

/** The quick pick of data dirs; a typed absolute path is offered first ("Use …"), so Enter takes it. */
function askDataDir(
  candidates: DataDirCandidate[],
  current: string | undefined,
): Promise<{ pick: number | 'browse' } | { dir: string } | undefined> {
  const fixed: DirItem[] = candidates.map((c, index) => ({
    label: `$(${c.newer && !c.movedAside ? 'history' : 'folder'}) ${c.path}`,
    description: describe(c),
    index,
  }));
  fixed.push({ label: '$(folder-opened) Browse…', description: 'choose a directory on this machine', index: 'browse' });
  const qp = vscode.window.createQuickPick<DirItem>();
  qp.title = `Move the data dir${current ? ` (now ${current})` : ''} to…`;
  qp.placeholder = candidates.length
    ? 'etcd data dirs beside the current one, restored ones first, or type an absolute path'
    : 'Type an absolute path (it may not exist yet), or browse';
  qp.ignoreFocusOut = true;
  qp.items = fixed;
  qp.onDidChangeValue((value) => {
    const t = typedDataDir(value);
    let typed: DirItem[] = [];
    if (value.trim()) {
      typed = [
        'dir' in t
          ? {
              label: `$(edit) Use ${t.dir}`,
              description: 'typed (created by the kubelet or you when it does not exist)',
              index: 'typed',
              alwaysShow: true,
            }
          : { label: `$(warning) ${t.error}`, index: 'typed', alwaysShow: true },
      ];
    }
    qp.items = [...typed, ...fixed];
  });
  return new Promise((resolve) => {
    let done = false;
    qp.onDidAccept(() => {
      const [chosen] = qp.selectedItems;
      const t = typedDataDir(qp.value);
      if (!chosen || (chosen.index === 'typed' && !('dir' in t))) return; // a typed path that cannot be used: keep asking
      done = true;
      resolve(chosen.index === 'typed' && 'dir' in t ? { dir: t.dir } : { pick: chosen.index as number | 'browse' });
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function describe(c: DataDirCandidate): string {
  if (c.movedAside) return `moved aside · ${ago(c.mtimeMs)}`;
  return c.newer ? `restored? newer than the current data dir · ${ago(c.mtimeMs)}` : `older · ${ago(c.mtimeMs)}`;
}

export async function moveDataDirCommand(
  model: EtcdDocumentModel,
  arg: unknown,
  answers: MoveDataDirAnswers | undefined,
): Promise<MoveDataDirResult> {
  const uri = targetUri(arg);
  const { state } = await stateOf(model, uri);
  const current = state.core.memberOfFile(state.parsed, state.related).dataDir;
  const candidates = current ? await state.core.dataDirCandidates(current) : [];
  const offered = candidates.map((c) => c.path);
  let dir = answers?.dir;
  if (!dir && answers?.typed !== undefined) {
    const t = typedDataDir(answers.typed);
    if ('error' in t) throw new EtcdBackupError('invalidInput', t.error);
    dir = t.dir;
  }
  if (!dir) {
    let pick: number | 'browse' | undefined = answers?.pick;
    if (pick === undefined && answers) throw new EtcdBackupError('invalidInput', 'No data dir given: pass { dir } or { pick }.');
    if (pick === undefined) {
      const chosen = await askDataDir(candidates, current);
      if (!chosen) cancelled();
      if ('dir' in chosen) dir = chosen.dir;
      else pick = chosen.pick;
    }
    if (dir) {
      // typed into the quick pick
    } else if (pick === undefined) {
      cancelled();
    } else if (pick === 'browse') {
      if (answers) {
        dir = answers.browsed;
      } else {
        const picked = await vscode.window.showOpenDialog({
          title: 'The new data dir (on this machine)',
          canSelectFiles: false,
          canSelectFolders: true,
          canSelectMany: false,
          openLabel: 'Use as Data Dir',
          ...(current ? { defaultUri: vscode.Uri.file(path.dirname(current)) } : {}),
        });
        dir = picked?.[0]?.fsPath;
      }
      if (!dir) cancelled();
    } else {
      dir = candidates[pick]?.path;
      if (!dir) throw new EtcdBackupError('invalidInput', `No offered data dir number ${pick}: ${offered.length} were offered.`);
    }
  }
  const outcome = await moveDataDirIn(uri, dir, model, answers ? writeAnswerOf(answers.write) : undefined);
  return { ...outcome, dir, offered };
}

export async function setInitialClusterStateCommand(
  model: EtcdDocumentModel,
  arg: unknown,
  value: unknown,
  write?: WriteAnswer,
): Promise<EtcdFileEditOutcome> {
  const uri = targetUri(arg);
  let state: InitialClusterState | undefined = value === 'new' || value === 'existing' ? value : undefined;
  if (value !== undefined && !state)
    throw new EtcdBackupError('invalidInput', `initial-cluster-state is "new" or "existing", not "${String(value)}".`);
  if (!state) {
    const chosen = await vscode.window.showQuickPick(
      [
        { label: 'existing', detail: 'This member joins a running cluster (after member add, or replacing a member).' },
        { label: 'new', detail: 'Every member of a new or restored cluster starts together.' },
      ],
      { title: 'Set initial-cluster-state', ignoreFocusOut: true },
    );
    if (!chosen) cancelled();
    state = chosen.label as InitialClusterState;
  }
  return setInitialClusterStateIn(uri, state, model, write);
}
