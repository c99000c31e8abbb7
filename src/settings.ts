import * as vscode from 'vscode';
import { validateClusters, ValidationResult } from './core/config';

export const SECTION = 'etcdBackup';

/**
 * Reads cluster configurations from settings, validates them with src/core, and tells
 * listeners when they change (only when `affectsConfiguration` says so).
 */
export class Settings implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor() {
    this.sub = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) {
        this.emitter.fire();
      }
    });
  }

  /** Clusters from user settings followed by the workspace's own list. */
  clusters(): ValidationResult {
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const user = cfg.get<unknown[]>('clusters') ?? [];
    // The workspace list only counts in a trusted workspace (it names files the extension reads).
    const workspace = vscode.workspace.isTrusted ? (cfg.get<unknown[]>('workspaceClusters') ?? []) : [];
    return validateClusters([...(Array.isArray(user) ? user : []), ...(Array.isArray(workspace) ? workspace : [])]);
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
