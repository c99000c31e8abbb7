/**
 * The editor features on etcd's own files (static pod manifests, env files, etcd config files,
 * systemd units): diagnostics, quick fixes, CodeLens actions and their commands. One call from
 * extension.ts; nothing heavy loads until the first etcd document is seen.
 */
import * as vscode from 'vscode';
import { commandRegistrar } from '../commands/common';
import { registerCommand } from '../commands/run';
import type { Log } from '../log';
import { EtcdCodeLensProvider, MOVE_DATA_DIR, SET_INITIAL_CLUSTER_STATE } from './codeLens';
import {
  InitialClusterState,
  MoveDataDirAnswers,
  moveDataDirCommand,
  moveDataDirIn,
  setInitialClusterStateCommand,
  setInitialClusterStateIn,
  EtcdFileEditOutcome,
} from './commands';
import { registerProposedDocuments, writeAnswerOf } from './confirmWrite';
import { EtcdDiagnostics, KnownClusters } from './diagnostics';
import { ETCD_FILE_SELECTOR, EtcdDocumentModel } from './model';
import { EtcdQuickFixProvider } from './quickFixes';

export { applyEtcdFileEdit, moveDataDirIn, setInitialClusterStateIn } from './commands';
export type { EtcdFileEditOutcome, InitialClusterState, MoveDataDirAnswers, MoveDataDirResult } from './commands';
export { ETCD_FILE_SELECTOR } from './model';

export interface EditorDeps {
  log: Log;
  /** The clusters the tree has seen: a file of a member known to join one gets an error for initial-cluster-state "new". */
  clusters?: KnownClusters;
}

/** What other features use: the same edits as the CodeLenses, on any etcd file's document. */
export interface EditorFeatures {
  model: EtcdDocumentModel;
  /** Point the file at another data dir on the node (a diff, written on "Write"). */
  moveDataDir(uri: vscode.Uri, dir: string): Promise<EtcdFileEditOutcome>;
  /** Set initial-cluster-state, adding it when absent (a diff, written on "Write"). */
  setInitialClusterState(uri: vscode.Uri, state: InitialClusterState): Promise<EtcdFileEditOutcome>;
}

/** Context key: the active editor shows an etcd file that can be edited (the palette shows the edit commands then). */
const ACTIVE_KEY = 'etcdBackup.editableEtcdFile';

function report(log: Log, what: string, outcome: EtcdFileEditOutcome, answered: boolean): void {
  const file = outcome.uri.fsPath;
  if (outcome.declined) {
    log.info(`${what}: not written to ${file} (declined)`);
    return;
  }
  if (!outcome.applied) {
    log.info(`${what}: ${file} already says so; nothing changed`);
    if (!answered) vscode.window.setStatusBarMessage(`etcd: ${what}: nothing to change`, 5000);
    return;
  }
  log.info(`${what}: written to ${file}:\n  ${outcome.changes.join('\n  ')}`);
  if (!answered) vscode.window.setStatusBarMessage(`etcd: ${outcome.changes.join('; ')} (written)`, 8000);
}

export function registerEditorFeatures(context: vscode.ExtensionContext, deps: EditorDeps): EditorFeatures {
  const { log } = deps;
  registerProposedDocuments(context);
  const model = new EtcdDocumentModel();
  const diagnostics = new EtcdDiagnostics(model, log, 250, deps.clusters);
  const lenses = new EtcdCodeLensProvider(model);
  const fixes = new EtcdQuickFixProvider(model);
  context.subscriptions.push(
    model,
    diagnostics,
    lenses,
    fixes,
    vscode.languages.registerCodeLensProvider(ETCD_FILE_SELECTOR, lenses),
    vscode.languages.registerCodeActionsProvider(ETCD_FILE_SELECTOR, fixes, {
      providedCodeActionKinds: EtcdQuickFixProvider.providedCodeActionKinds,
    }),
    // A unit and its env file read each other: after a save, recompute what the others show.
    vscode.workspace.onDidSaveTextDocument((saved) => {
      if (!model.matches(saved)) return;
      model.invalidate();
      for (const d of vscode.workspace.textDocuments) if (d !== saved) diagnostics.refresh(d);
    }),
  );

  const updateContext = (editor: vscode.TextEditor | undefined): void => {
    const doc = editor?.document;
    if (!doc || !model.matches(doc)) {
      void vscode.commands.executeCommand('setContext', ACTIVE_KEY, false);
      return;
    }
    model.get(doc).then(
      (s) => vscode.commands.executeCommand('setContext', ACTIVE_KEY, Boolean(s?.relevant && !s.core.editBlocker(s.parsed))),
      () => undefined,
    );
  };
  let contextTimer: NodeJS.Timeout | undefined;
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(updateContext),
    // A broken file that gets fixed (or the reverse) changes what the palette offers.
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document !== vscode.window.activeTextEditor?.document || !model.matches(e.document)) return;
      clearTimeout(contextTimer);
      contextTimer = setTimeout(() => updateContext(vscode.window.activeTextEditor), 400);
    }),
    { dispose: () => clearTimeout(contextTimer) },
  );
  updateContext(vscode.window.activeTextEditor);

  commandRegistrar(context, log)<MoveDataDirAnswers>(MOVE_DATA_DIR, async (target, answers) => {
    const r = await moveDataDirCommand(model, target, answers);
    report(log, `Data dir set to ${r.dir}`, r, Boolean(answers));
    return r;
  });
  registerCommand(context, log, SET_INITIAL_CLUSTER_STATE, async (arg?: unknown, state?: unknown, answers?: unknown) => {
    const write = answers && typeof answers === 'object' ? writeAnswerOf((answers as { write?: unknown }).write) : undefined;
    const r = await setInitialClusterStateCommand(model, arg, state, write);
    report(log, 'initial-cluster-state', r, Boolean(answers));
    return r;
  });

  return {
    model,
    moveDataDir: (uri, dir) => moveDataDirIn(uri, dir, model),
    setInitialClusterState: (uri, state) => setInitialClusterStateIn(uri, state, model),
  };
}
