/**
 * Diagnostics on etcd files: what `diagnoseEtcdFile` finds, in one DiagnosticCollection, source
 * "etcd", the finding's id as `code`. Refreshed when a document opens and (debounced) when it
 * changes; cleared when it closes.
 */
import * as vscode from 'vscode';
import type { DiagnosticSeverity as EtcdSeverity, EtcdDiagnostic, KnownCluster } from '../core/etcdFiles';
import type { Log } from '../log';
import type { EtcdDocumentModel } from './model';

export const DIAGNOSTIC_SOURCE = 'etcd';

export function severityOf(s: EtcdSeverity): vscode.DiagnosticSeverity {
  switch (s) {
    case 'error':
      return vscode.DiagnosticSeverity.Error;
    case 'warning':
      return vscode.DiagnosticSeverity.Warning;
    case 'info':
      return vscode.DiagnosticSeverity.Information;
    default:
      return vscode.DiagnosticSeverity.Hint;
  }
}

export function rangeOf(document: vscode.TextDocument, r: { start: number; end: number }): vscode.Range {
  return new vscode.Range(document.positionAt(r.start), document.positionAt(Math.max(r.start, r.end)));
}

export function toDiagnostic(document: vscode.TextDocument, d: EtcdDiagnostic): vscode.Diagnostic {
  const diag = new vscode.Diagnostic(rangeOf(document, d.range), d.message, severityOf(d.severity));
  diag.source = DIAGNOSTIC_SOURCE;
  diag.code = d.code;
  return diag;
}

/** The clusters the tree has seen (their member lists say which member is joining), and when that changes. */
export interface KnownClusters {
  known(): KnownCluster[];
  onDidChange: vscode.Event<unknown>;
}

export class EtcdDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('etcd');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly model: EtcdDocumentModel,
    private readonly log: Log,
    private readonly delayMs = 250,
    private readonly clusters?: KnownClusters,
  ) {
    let clustersTimer: NodeJS.Timeout | undefined;
    if (clusters) {
      // A member added (or replaced) shows in a member list: what its file must say changes.
      this.disposables.push(
        clusters.onDidChange(() => {
          clearTimeout(clustersTimer);
          clustersTimer = setTimeout(() => vscode.workspace.textDocuments.forEach((d) => this.refresh(d)), 300);
        }),
        { dispose: () => clearTimeout(clustersTimer) },
      );
    }
    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.refresh(d)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length) this.schedule(e.document);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.clear(d.uri)),
    );
    for (const d of vscode.workspace.textDocuments) this.refresh(d);
  }

  private schedule(document: vscode.TextDocument): void {
    if (!this.model.matches(document)) return;
    const key = document.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!document.isClosed) this.refresh(document);
      }, this.delayMs),
    );
  }

  /** Recompute the diagnostics of a document now (no-op for documents the selector does not take). */
  refresh(document: vscode.TextDocument): void {
    if (!this.model.matches(document)) return;
    const version = document.version;
    this.model.get(document).then(
      (state) => {
        // A newer version is on its way (or the document closed): leave it to that refresh.
        if (document.isClosed || document.version !== version) return;
        if (!state?.relevant) return void this.collection.set(document.uri, []);
        const joining = this.clusters ? state.core.joiningReason(state.parsed, this.clusters.known()) : undefined;
        const found = joining ? state.core.diagnoseEtcdFile(state.parsed, { related: state.related, joining }) : state.diagnostics;
        this.collection.set(
          document.uri,
          found.map((d) => toDiagnostic(document, d)),
        );
      },
      (err) =>
        this.log.error(
          `etcd diagnostics for ${document.uri.fsPath} failed:`,
          err instanceof Error ? (err.stack ?? err.message) : String(err),
        ),
    );
  }

  private clear(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.collection.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
