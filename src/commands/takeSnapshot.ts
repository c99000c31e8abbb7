/**
 * "Take Snapshot" (`etcdBackup.takeSnapshot`): from a cluster node (or a member node: that
 * member), or the palette (quick pick of the cluster). Picks the member endpoint with the
 * healthy leader suggested first, asks for a snapshot folder when the cluster has none (and
 * keeps it in the cluster's settings), then streams the snapshot in a cancellable progress
 * notification showing bytes and rate. Cancel stops the gRPC stream and removes the `.part`.
 * The core (and etcd3) load on first use, never at activation.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { EtcdBackupError } from '../core/errors';
import type { EndpointChoice, SaveResult } from '../core/snapshot/save';
import type { ClusterConfig } from '../core/types';
import type { V2StoreCheck } from '../core/v2store';
import { MemberNode } from '../views/clustersView';
import { resolveCluster } from './clusters';
import { cancelled, CommandDeps, commandRegistrar, withCancellableProgress } from './common';
import { warnBeforeSave } from './v2store';

/** Answers for tests (nothing is asked for what they give). */
export interface TakeSnapshotAnswers {
  /** The member endpoint to stream from (default: the suggested one when answers are given). */
  endpoint?: string;
  /** Folder for the conventional file name (default: the cluster's snapshotDir). */
  dir?: string;
  /** Exact file path. */
  file?: string;
  /** Keep `dir` as the cluster's snapshot folder when it had none (default true). */
  rememberDir?: boolean;
}

export interface TakeSnapshotResult {
  cluster: string;
  endpoint: string;
  file: string;
  sidecarFile?: string;
  size: number;
  sha256: string;
  revision: number;
  tookMs: number;
  /** What the v2 API answered before the save (its keys are not in the snapshot). */
  v2Store?: V2StoreCheck;
  /** Said when the member had no leader (its data may be behind). */
  warning?: string;
}

async function pickEndpoint(cluster: ClusterConfig, deps: CommandDeps, answers: TakeSnapshotAnswers | undefined): Promise<string> {
  const { suggestSnapshotEndpoints } = await import('../core/snapshot/save');
  const [o] = await deps.tree.refresh(cluster.name);
  if (!o.reachable) {
    throw new EtcdBackupError(
      o.error?.kind ?? 'unreachable',
      o.error?.message ?? `No endpoint of "${cluster.name}" answered: nothing to snapshot from.`,
    );
  }
  const choices = suggestSnapshotEndpoints(o, cluster.endpoints);
  if (answers?.endpoint) {
    return answers.endpoint;
  }
  const usable = choices.filter((c) => c.usable);
  if (!usable.length) {
    throw new EtcdBackupError(
      'unreachable',
      `No member of "${cluster.name}" answered: nothing to snapshot from. Check the members and try again.`,
    );
  }
  if (answers || usable.length === 1) {
    return usable[0].endpoint;
  }
  const pick = await vscode.window.showQuickPick(
    usable.map((c: EndpointChoice) => ({
      label: `${c.suggested ? '$(star-full) ' : ''}${c.member?.name || c.endpoint}`,
      description: c.endpoint,
      detail: `${c.reason}${c.suggested ? ' (suggested)' : ''}`,
      endpoint: c.endpoint,
    })),
    {
      title: `Take Snapshot of ${cluster.name}`,
      placeHolder: 'Stream the snapshot from which member? (etcd snapshots one member at a time)',
      ignoreFocusOut: true,
    },
  );
  return pick?.endpoint ?? cancelled();
}

async function pickFolder(
  cluster: ClusterConfig,
  deps: CommandDeps,
  answers: TakeSnapshotAnswers | undefined,
): Promise<string | undefined> {
  if (answers?.file) return undefined;
  if (answers?.dir) return answers.dir;
  if (cluster.snapshotDir) return cluster.snapshotDir;
  if (answers) {
    throw new EtcdBackupError(
      'invalidInput',
      `Cluster "${cluster.name}" has no snapshot folder: give one (dir), or set it with "etcd: Edit Cluster…".`,
    );
  }
  const picked = await vscode.window.showOpenDialog({
    title: `Folder for the snapshots of ${cluster.name}`,
    openLabel: 'Save Snapshots Here',
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
  });
  return picked?.[0]?.fsPath ?? cancelled();
}

async function takeSnapshot(arg: unknown, answers: TakeSnapshotAnswers | undefined, deps: CommandDeps): Promise<TakeSnapshotResult> {
  const fromMember = arg instanceof MemberNode ? arg : undefined;
  const cluster = await resolveCluster(fromMember ? fromMember.cluster.name : arg, deps, 'Take a snapshot of which cluster?');
  const endpoint = answers?.endpoint ?? fromMember?.member.endpoint ?? (await pickEndpoint(cluster, deps, answers));
  const seen = deps.tree.cached(cluster.name);
  const { withoutLeader } = await import('../core/clusterStatus');
  const warning =
    seen && withoutLeader(seen, endpoint)
      ? `${endpoint} has no leader (quorum lost or an election under way): the snapshot may be behind the cluster's data.`
      : undefined;
  if (warning) {
    deps.log.warn(warning);
    if (!answers) void vscode.window.showWarningMessage(warning);
  }
  const dir = await pickFolder(cluster, deps, answers);
  if (dir && !cluster.snapshotDir && answers?.rememberDir !== false) {
    // The tree lists (and watches) the cluster's snapshot folder: keep the one just chosen.
    await deps.settings.saveCluster({ ...cluster, snapshotDir: dir }, { replaces: cluster.name });
    deps.log.info(`Snapshot folder of ${cluster.name} set to ${dir}`);
  }
  const secrets = await deps.etcd.secretsFor(cluster);
  // Keys in the v2 store are not in a snapshot: warned about before the save (src/commands/v2store.ts).
  const v2Store = await warnBeforeSave(cluster, secrets, endpoint, deps);
  const core = await import('../core/snapshot/save');
  deps.log.info(`Taking a snapshot of ${cluster.name} from ${endpoint}`);
  const result: SaveResult = await withCancellableProgress(`Snapshot of ${cluster.name}`, ({ signal, report }) => {
    let reported = 0;
    report(`connecting to ${endpoint}…`);
    return core.saveSnapshot(cluster, secrets, {
      endpoint,
      dir,
      file: answers?.file,
      signal,
      onProgress: (p) => {
        const pct = p.total ? Math.min(100, (p.bytes * 100) / p.total) : 0;
        report(core.formatSaveProgress(p), pct > reported ? pct - reported : undefined);
        reported = Math.max(reported, pct);
      },
    });
  });
  deps.log.info(
    `Snapshot saved at ${result.file} (${result.size} bytes, sha256 ` +
      `${result.sha256}, revision ${result.sidecar.revision}, ${result.tookMs} ms)`,
  );
  if (result.sidecarError) {
    deps.log.warn(result.sidecarError);
    void vscode.window.showWarningMessage(result.sidecarError);
  }
  deps.tree.refreshSnapshots(cluster.name);
  void vscode.window
    .showInformationMessage(
      `Snapshot saved: ${path.basename(result.file)} (${core.formatBytes(result.size)}, ` +
        `SHA-256 checked, revision ${result.sidecar.revision}).`,
      'Reveal in Folder',
    )
    .then((choice) => {
      if (choice === 'Reveal in Folder') {
        void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.file));
      }
    });
  return {
    cluster: cluster.name,
    endpoint,
    file: result.file,
    sidecarFile: result.sidecarFile,
    size: result.size,
    sha256: result.sha256,
    revision: result.sidecar.revision,
    tookMs: result.tookMs,
    v2Store,
    ...(warning ? { warning } : {}),
  };
}

export function registerTakeSnapshotCommand(context: vscode.ExtensionContext, deps: CommandDeps): void {
  commandRegistrar(context, deps.log)<TakeSnapshotAnswers>('etcdBackup.takeSnapshot', (target, answers) =>
    takeSnapshot(target, answers, deps),
  );
}
