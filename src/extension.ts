import * as vscode from 'vscode';
import { createLog } from './log';
import { Settings } from './settings';
import { EtcdService } from './etcdService';
import { DumpedNode, registerClustersView } from './views/clustersView';
import type { ClusterOverview } from './core/clusterStatus';
import { lastCommandErrors, registerCommand } from './commands/run';
import { registerClusterCommands } from './commands/clusters';
import { registerMemberCommands } from './commands/members';
import { registerSpaceCommands } from './commands/space';
import { registerEnvironmentCommand } from './commands/environment';
import { registerRestoreFeatures } from './commands/restore';
import { registerReplaceMemberCommand } from './commands/replaceMember';
import { registerTakeSnapshotCommand } from './commands/takeSnapshot';
import { registerSnapshotCommands } from './commands/snapshots';
import { registerImportClusterCommand } from './commands/importCluster';
import { registerV2StoreCommands } from './commands/v2store';
import { registerBackupCommands } from './commands/backups';
import { registerScheduleCommands } from './commands/scheduleBackups';
import { registerInstallCliCommand } from './commands/installCli';
import { registerIdentityCommands } from './commands/remoteBackup';
import { registerEditorFeatures } from './editor';
import { isEtcd3Loaded } from './core/etcd';

/** What activate() returns (`vscode.extensions.getExtension(...).exports`); tests use it. */
export interface ExtensionApi {
  /** True once etcd3 was loaded; activation must leave it false (etcd3 loads on first use). */
  isEtcd3Loaded(): boolean;
  /** The sentence the last failure of a command showed (undefined when it never failed). */
  lastCommandError(id: string): string | undefined;
  /** The Clusters tree, for tests: every node as rendered (waits for overviews), and refresh. */
  clustersTree: {
    dump(expandSnapshots?: boolean): Promise<DumpedNode[]>;
    /** The cluster rows as rendered now (no waiting), and whether the view's progress bar shows. */
    rows(): DumpedNode[];
    busy(): boolean;
    /** The value the tree gave context key etcdBackup.hasLearner (Promote Learner in the palette). */
    hasLearner(): boolean | undefined;
    refresh(cluster?: string): Promise<ClusterOverview[]>;
    /** Fires with the id of each node the tree redraws (undefined: the whole tree). */
    onDidChange: vscode.Event<string | undefined>;
  };
}

/** Wiring only: each feature registers itself; every disposable goes to the context. */
export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const log = createLog();
  context.subscriptions.push(log);
  try {
    const settings = new Settings(context.secrets);
    context.subscriptions.push(settings);
    const etcd = new EtcdService(settings);
    const { provider: tree } = registerClustersView(context, { settings, etcd, log });
    const deps = { log, settings, etcd, tree };
    registerClusterCommands(context, deps);
    registerMemberCommands(context, deps);
    registerReplaceMemberCommand(context, deps);
    registerSpaceCommands(context, deps);
    registerTakeSnapshotCommand(context, deps);
    registerSnapshotCommands(context, deps);
    registerRestoreFeatures(context, deps);
    registerImportClusterCommand(context, deps);
    registerV2StoreCommands(context, deps);
    registerBackupCommands(context, deps);
    registerScheduleCommands(context, deps);
    registerInstallCliCommand(context, deps);
    registerIdentityCommands(context, deps);
    registerEditorFeatures(context, { log, clusters: { known: () => tree.knownClusters(), onDidChange: tree.onDidChangeTreeData } });

    registerCommand(context, log, 'etcdBackup.showLogs', () => log.show());
    registerCommand(context, log, 'etcdBackup.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', 'etcdBackup.clusters'),
    );
    registerEnvironmentCommand(context, deps);
    log.info('etcd Backup & Restore activated');
    return {
      isEtcd3Loaded,
      lastCommandError: (id) => lastCommandErrors.get(id),
      clustersTree: {
        dump: (x) => tree.dump(x),
        rows: () => tree.rows(),
        busy: () => tree.busy,
        hasLearner: () => tree.learnerContext,
        refresh: (c) => tree.refresh(c),
        onDidChange: (l, t, d) => tree.onDidChangeTreeData((n) => l.call(t, (n as { id?: string } | undefined)?.id), undefined, d),
      },
    };
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
