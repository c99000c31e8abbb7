/**
 * Backup plan commands on the tree's Backups node: "Run Backup Now" (`etcdBackup.runBackupNow`)
 * runs the plan once through the engine's `runBackup` (the same run as the timer's
 * `etcd-backup backup run`) under a cancellable progress notification, then redraws the cluster.
 * A failed run is one sentence (the engine's, per destination). The engine and, for a remote
 * destination, the AWS SDK load on first use, never at activation.
 */
import type * as vscode from 'vscode';
import { EtcdBackupError } from '../core/errors';
import type { RunResult } from '../core/backup';
import { BackupsNode } from '../views/backupNodes';
import { clusterNodeOf } from '../views/clustersView';
import { CommandDeps, commandRegistrar, withCancellableProgress } from './common';

/** Answers for tests: the plan file when the target is not a Backups node. */
export interface RunBackupAnswers {
  plan?: string;
}

/** The plan file a command is about: a Backups node, a path, or `{ plan }`. */
function planPathOf(target: unknown, answers: RunBackupAnswers | undefined): string {
  if (target instanceof BackupsNode) return target.entry.path;
  if (typeof target === 'string') return target;
  if (answers?.plan) return answers.plan;
  throw new EtcdBackupError(
    'invalidInput',
    'Run Backup Now works on a Backups node of the Clusters view ' + '(or pass { plan: "/path/to/plan.yaml" }).',
  );
}

export async function runBackupNow(deps: CommandDeps, target: unknown, answers: RunBackupAnswers | undefined): Promise<RunResult> {
  const path = planPathOf(target, answers);
  const { loadPlan, runBackup } = await import('../core/backup');
  const plan = await loadPlan(path);
  const result = await withCancellableProgress(`Backing up "${plan.cluster.name}"`, ({ signal, report }) =>
    runBackup(plan, { signal, log: (line) => report(line) }),
  );
  const clusterName = clusterNodeOf(target instanceof BackupsNode ? target : undefined)?.cluster.name ?? plan.cluster.name;
  await deps.tree.refresh(clusterName).catch(() => undefined);
  if (!result.ok) {
    const failed = result.destinations.filter((d) => !d.ok);
    const each = (d: (typeof failed)[number]): string => `${d.destination === 'local' ? 'Here' : d.where}: ${d.error ?? 'failed.'}`;
    const sentence = result.message ?? failed.map(each).join(' ');
    throw new EtcdBackupError(failed[0]?.errorKind ?? 'internal', `The backup of "${plan.cluster.name}" failed. ${sentence}`);
  }
  const wheres = result.destinations.map((d) => d.where).join(', ');
  deps.log.info(`Backup ${result.name} of ${plan.cluster.name}: ${wheres} (${result.durationSeconds.toFixed(1)} s)`);
  return result;
}

export function registerBackupCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const register = commandRegistrar(context, deps.log);
  register<RunBackupAnswers>('etcdBackup.runBackupNow', (target, answers) => runBackupNow(deps, target, answers));
}
