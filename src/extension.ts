import * as vscode from 'vscode';
import { createLog } from './log';
import { Settings } from './settings';
import { registerClustersView } from './views/clustersView';
import { registerCommand } from './commands/run';
import { registerEnvironmentCommand } from './commands/environment';
import { isEtcd3Loaded } from './core/etcd';

/** What activate() returns (`vscode.extensions.getExtension(...).exports`); tests use it. */
export interface ExtensionApi {
  /** True once etcd3 was loaded; activation must leave it false (etcd3 loads on first use). */
  isEtcd3Loaded(): boolean;
}

/** Wiring only: each feature registers itself; every disposable goes to the context. */
export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const log = createLog();
  context.subscriptions.push(log);
  try {
    const settings = new Settings();
    context.subscriptions.push(settings);
    const clusters = registerClustersView(context, settings);

    registerCommand(context, log, 'etcdBackup.refresh', () => clusters.refresh());
    registerCommand(context, log, 'etcdBackup.showLogs', () => log.show());
    registerCommand(context, log, 'etcdBackup.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', 'etcdBackup.clusters'),
    );
    registerEnvironmentCommand(context, log);
    log.info('etcd Backup & Restore activated');
    return { isEtcd3Loaded };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log.error('Activation failed:', err instanceof Error ? (err.stack ?? msg) : msg);
    void vscode.window.showErrorMessage(`etcd Backup & Restore failed to start: ${msg}`);
    throw err;
  }
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
