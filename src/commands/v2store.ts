/**
 * Keys in etcd's v2 store, which a v3 snapshot does not contain (src/core/v2store.ts): the
 * "Copy v2 Backup Command" action, the warning Take Snapshot shows before it saves, and the
 * lines a restore adds to its confirmation. The core loads on first use, not at activation.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { ClusterConfig, ClusterSecrets } from '../core/types';
import type { V2StoreCheck } from '../core/v2store';
import type { ClustersProvider } from '../views/clustersView';
import { resolveCluster } from './clusters';
import { CommandDeps, commandRegistrar } from './common';

export const COPY_V2_BACKUP = 'Copy v2 Backup Command';

/** `YYYYMMDD_HHMMSS` in local time, as snapshot file names use. */
function stamp(now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}_${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

/** The etcdctl backup command for a cluster: into a new folder beside its snapshots. */
export async function v2BackupCommandFor(cluster: ClusterConfig, dataDir?: string): Promise<string> {
  const { v2BackupCommand } = await import('../core/v2store');
  const backupDir = cluster.snapshotDir ? path.join(cluster.snapshotDir, `${stamp()}_v2backup`) : undefined;
  return v2BackupCommand(dataDir, backupDir);
}

async function copyV2BackupCommand(arg: unknown, answers: { dataDir?: string } | undefined, deps: CommandDeps): Promise<string> {
  const cluster = await resolveCluster(arg, deps, 'Copy the v2 backup command for which cluster?');
  const cmd = await v2BackupCommandFor(cluster, answers?.dataDir);
  await vscode.env.clipboard.writeText(cmd);
  deps.log.info(`Copied: ${cmd}`);
  if (!answers) {
    const { V2_WAY_OUT } = await import('../core/v2store');
    void vscode.window.showInformationMessage(
      `Copied the etcdctl 3.4 command that keeps the v2 store of a member of "${cluster.name}". ` +
        `Run it on the member's machine with its data dir. ${V2_WAY_OUT}`,
    );
  }
  return cmd;
}

/**
 * Before Take Snapshot saves: ask the v2 API (the member saved from first) and, when its store
 * holds keys, show a warning with "Copy v2 Backup Command" (the save goes on: the v3 data is
 * still worth having). A check that could not run is said in the log and the result.
 */
export async function warnBeforeSave(
  cluster: ClusterConfig,
  secrets: ClusterSecrets,
  endpoint: string,
  deps: CommandDeps,
): Promise<V2StoreCheck> {
  const { checkV2Store, v2SaveWarning, v2Warning } = await import('../core/v2store');
  const endpoints = [endpoint, ...cluster.endpoints.filter((e) => e !== endpoint)];
  const check = await checkV2Store(cluster, secrets, { endpoints });
  const lines = v2SaveWarning(check);
  if (!lines.length) return check;
  lines.forEach((l) => deps.log.warn(`${cluster.name}: ${l}`));
  const warning = v2Warning(check);
  if (warning) {
    void vscode.window.showWarningMessage(warning, COPY_V2_BACKUP).then((choice) => {
      if (choice === COPY_V2_BACKUP) void vscode.commands.executeCommand('etcdBackup.copyV2BackupCommand', cluster.name);
    });
  }
  return check;
}

/**
 * The warning lines before a restore: the source cluster's v2 count when the tree knows it, else
 * this member's etcd files (the manifest the restore uses, and the usual places with its data
 * dir) that enable v2. Empty when there is nothing to say.
 */
export async function restoreWarning(opts: {
  cluster?: ClusterConfig;
  tree?: ClustersProvider;
  memberFiles: (string | undefined)[];
  dataDirs: (string | undefined)[];
  oldDataDir?: string;
}): Promise<string[]> {
  const { v2RestoreWarning } = await import('../core/v2store');
  const { memberFilesEnablingV2 } = await import('../core/v2files');
  const check = opts.cluster ? opts.tree?.cached(opts.cluster.name)?.v2Store : undefined;
  const memberFiles = opts.memberFiles.filter((f): f is string => Boolean(f));
  const files = await memberFilesEnablingV2({ dataDirs: opts.dataDirs, memberFiles });
  return v2RestoreWarning({ check, files, oldDataDir: opts.oldDataDir });
}

export function registerV2StoreCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const register = commandRegistrar(context, deps.log);
  register<{ dataDir?: string }>('etcdBackup.copyV2BackupCommand', (target, answers) => copyV2BackupCommand(target, answers, deps));
}
