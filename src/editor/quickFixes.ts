/**
 * Quick fixes for the etcd diagnostics: each finding's fix (minimal text edits from core) as a
 * WorkspaceEdit, carrying the diagnostic it fixes.
 */
import * as vscode from 'vscode';
import type { TextEdit } from '../core/etcdFiles';
import { DIAGNOSTIC_SOURCE, rangeOf } from './diagnostics';
import type { EtcdDocumentModel } from './model';

/** A WorkspaceEdit for core text edits on a document (offsets into its current text). */
export function workspaceEditOf(document: vscode.TextDocument, edits: readonly TextEdit[]): vscode.WorkspaceEdit {
  const we = new vscode.WorkspaceEdit();
  for (const e of edits) we.replace(document.uri, rangeOf(document, { start: e.offset, end: e.offset + e.length }), e.newText);
  return we;
}

function codeOf(d: vscode.Diagnostic): string | undefined {
  const c = d.code;
  if (typeof c === 'string') return c;
  if (typeof c === 'number') return String(c);
  return c ? String(c.value) : undefined;
}

export class EtcdQuickFixProvider implements vscode.CodeActionProvider, vscode.Disposable {
  static readonly providedCodeActionKinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly model: EtcdDocumentModel) {}

  async provideCodeActions(
    document: vscode.TextDocument,
    _range: vscode.Range | vscode.Selection,
    context: vscode.CodeActionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.CodeAction[]> {
    const ours = context.diagnostics.filter((d) => d.source === DIAGNOSTIC_SOURCE);
    if (!ours.length) return [];
    if (context.only && !vscode.CodeActionKind.QuickFix.intersects(context.only)) return [];
    const state = await this.model.get(document);
    if (!state?.relevant || token.isCancellationRequested || state.version !== document.version) return [];
    const actions: vscode.CodeAction[] = [];
    for (const diag of ours) {
      const found = state.diagnostics.find((f) => f.fix && f.code === codeOf(diag) && rangeOf(document, f.range).isEqual(diag.range));
      if (!found?.fix) continue;
      const action = new vscode.CodeAction(found.fix.title, vscode.CodeActionKind.QuickFix);
      action.edit = workspaceEditOf(document, found.fix.edits);
      action.diagnostics = [diag];
      action.isPreferred = true;
      actions.push(action);
    }
    return actions;
  }

  dispose(): void {
    // Nothing held: the model belongs to registerEditorFeatures.
  }
}
