/**
 * CodeLens actions on etcd files: "Add as cluster" and "Restore a snapshot for this member…" at
 * the top, "Move data dir…" on the data dir, "Set initial-cluster-state: existing / new" on
 * initial-cluster-state (at the top when it is missing). None on a file that cannot be edited
 * safely (YAML that does not parse, a Pod without an etcd container) or is not etcd's.
 */
import * as vscode from 'vscode';
import { rangeOf } from './diagnostics';
import type { EtcdDocumentModel, EtcdDocumentState } from './model';

export const MOVE_DATA_DIR = 'etcdBackup.moveDataDir';
export const SET_INITIAL_CLUSTER_STATE = 'etcdBackup.setInitialClusterState';
/** Registered by the clusters import (not here). */
export const IMPORT_CLUSTER = 'etcdBackup.importCluster';
export const RESTORE_FOR_MEMBER = 'etcdBackup.restoreSnapshotForMember';

export function lensesOf(document: vscode.TextDocument, state: EtcdDocumentState): vscode.CodeLens[] {
  if (!state.relevant) return [];
  const member = state.lenses.some((l) => l.action === 'restoreForMember') ? state.core.memberOfFile(state.parsed, state.related) : {};
  return state.lenses.map((l) => {
    const range = rangeOf(document, { start: l.range.start, end: l.range.start });
    switch (l.action) {
      case 'addCluster':
        return new vscode.CodeLens(range, {
          title: l.title,
          command: IMPORT_CLUSTER,
          arguments: [document.uri],
          tooltip: 'Add the cluster this file describes to the Clusters view',
        });
      case 'restoreForMember':
        return new vscode.CodeLens(range, {
          title: l.title,
          command: RESTORE_FOR_MEMBER,
          arguments: [{ uri: document.uri, ...member }],
          tooltip:
            `Restore a snapshot for ` +
            `${member.name ?? 'this member'}${member.dataDir ? `; its data dir ${member.dataDir} is moved aside` : ''}`,
        });
      case 'moveDataDir':
        return new vscode.CodeLens(range, {
          title: l.title,
          command: MOVE_DATA_DIR,
          arguments: [document.uri],
          tooltip: 'Point etcd at another data dir (a restored one is offered first)',
        });
      case 'setInitialClusterState':
        return new vscode.CodeLens(range, {
          title: l.title,
          command: SET_INITIAL_CLUSTER_STATE,
          arguments: [document.uri, l.state],
          tooltip:
            l.state === 'existing'
              ? 'A member joining a running cluster starts with existing'
              : 'Every member of a new or restored cluster starts with new',
        });
    }
  });
}

export class EtcdCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly model: EtcdDocumentModel) {
    // A unit and its env file read each other: saving one changes what the other shows.
    this.disposables.push(vscode.workspace.onDidSaveTextDocument((d) => model.matches(d) && this.changed.fire()));
  }

  async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    const state = await this.model.get(document);
    if (!state || token.isCancellationRequested) return [];
    return lensesOf(document, state);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
