/**
 * The edit commands behind the CodeLenses (also in the palette, on the active editor):
 * "Move Data Dir…" and "Set initial-cluster-state…". The edits come from core (minimal text
 * edits) and are applied to the open document, unsaved, so the user sees them and saves.
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
import { workspaceEditOf } from './quickFixes';

export type { InitialClusterState };

/** What an edit command did. */
export interface EtcdFileEditOutcome {
  uri: vscode.Uri;
  /** Were edits applied (false: the file already said so). */
  applied: boolean;
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
 * Restore): apply a core edit result to a file's document (opened if needed), unsaved. `basedOn` is the
 * text the edits were computed from: when the document no longer holds exactly that text the
 * edit is refused (offsets would land elsewhere). Throws the result's error when it is not ok.
 */
export async function applyEtcdFileEdit(
  target: vscode.Uri | vscode.TextDocument,
  result: EditResult,
  basedOn?: string,
): Promise<EtcdFileEditOutcome> {
  if (!result.ok) throw new EtcdBackupError('invalidInput', result.error);
  const document = target instanceof vscode.Uri ? await vscode.workspace.openTextDocument(target) : target;
  if (basedOn !== undefined && document.getText() !== basedOn) {
    throw new EtcdBackupError('conflict', `${path.basename(document.uri.fsPath)} changed while the edit was prepared; try again.`);
  }
  if (!result.edits.length) return { uri: document.uri, applied: false, changes: [] };
  const ok = await vscode.workspace.applyEdit(workspaceEditOf(document, result.edits));
  if (!ok) {
    const base = path.basename(document.uri.fsPath);
    throw new EtcdBackupError(
      'conflict',
      `${base} could not be changed in the editor (is it read-only?); make the change by hand: ${result.changes.join('; ')}.`,
    );
  }
  return { uri: document.uri, applied: true, changes: result.changes };
}

/**
 * Point the file at another data dir (a directory on the node), in its document (opened when
 * needed, left unsaved). Without a model the document is parsed afresh.
 */
export async function moveDataDirIn(uri: vscode.Uri, dir: string, model?: EtcdDocumentModel): Promise<EtcdFileEditOutcome> {
  const { document, state } = await stateOf(model, uri);
  return applyEtcdFileEdit(document, state.core.setDataDir(state.parsed, dir, { related: state.related }), state.parsed.text);
}

/** Set initial-cluster-state (added when absent), in the file's document (opened when needed, left unsaved). */
export async function setInitialClusterStateIn(
  uri: vscode.Uri,
  value: InitialClusterState,
  model?: EtcdDocumentModel,
): Promise<EtcdFileEditOutcome> {
  const { document, state } = await stateOf(model, uri);
  return applyEtcdFileEdit(document, state.core.setInitialClusterState(state.parsed, value, { related: state.related }), state.parsed.text);
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
}

export interface MoveDataDirResult extends EtcdFileEditOutcome {
  dir: string;
  /** The data dirs the quick pick offered, in order (restored ones first). */
  offered: string[];
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
  if (!dir) {
    let pick: number | 'browse' | undefined = answers?.pick;
    if (pick === undefined && answers) throw new EtcdBackupError('invalidInput', 'No data dir given: pass { dir } or { pick }.');
    if (pick === undefined) {
      type Item = vscode.QuickPickItem & { index: number | 'browse' };
      const items: Item[] = candidates.map((c, index) => ({
        label: `$(${c.newer && !c.movedAside ? 'history' : 'folder'}) ${c.path}`,
        description: describe(c),
        index,
      }));
      items.push({ label: '$(folder-opened) Browse…', description: 'choose a directory on this machine', index: 'browse' });
      const chosen = await vscode.window.showQuickPick(items, {
        title: `Move the data dir${current ? ` (now ${current})` : ''} to…`,
        placeHolder: candidates.length
          ? 'etcd data dirs beside the current one, restored ones first'
          : 'No other etcd data dir beside the current one: browse for one',
        ignoreFocusOut: true,
      });
      if (!chosen) cancelled();
      pick = chosen.index;
    }
    if (pick === 'browse') {
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
  const outcome = await moveDataDirIn(uri, dir, model);
  return { ...outcome, dir, offered };
}

export async function setInitialClusterStateCommand(model: EtcdDocumentModel, arg: unknown, value: unknown): Promise<EtcdFileEditOutcome> {
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
  return setInitialClusterStateIn(uri, state, model);
}
