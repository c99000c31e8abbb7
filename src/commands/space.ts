/**
 * Compact and Defragment… (recover from NOSPACE, reclaim space): compaction at the current
 * revision, a defrag of each reachable member in turn (followers first, leader last), then the
 * alarms disarmed. Same conventions as ./clusters: a tree node, a cluster name or nothing
 * (quick pick), optional answers (`{ confirm: true }`), a result tests can assert.
 */
import * as vscode from 'vscode';
import { humanizeBytes } from '../core/clusterStatus';
import { reclaimSpace, sizeLines } from '../core/space';
import type { ReclaimResult } from '../core/space';
import { resolveCluster } from './clusters';
import { CommandDeps, commandRegistrar, withCancellableProgress } from './common';

export interface ReclaimAnswers {
  /** Confirm (the modal's "Compact and Defragment"). */
  confirm?: boolean;
  /** Compact first (default true). */
  compact?: boolean;
  /** Disarm the alarms afterwards (default true). */
  disarm?: boolean;
}

export interface ReclaimCommandResult {
  cluster: string;
  done: boolean;
  result?: ReclaimResult;
  /** The message shown at the end (one line per member: before -> after). */
  message?: string;
}

async function reclaimSpaceCommand(arg: unknown, answers: ReclaimAnswers | undefined, deps: CommandDeps): Promise<ReclaimCommandResult> {
  const cluster = await resolveCluster(arg, deps, 'Compact and defragment which cluster?');
  const cached = deps.tree.cached(cluster.name);
  const nospace = cached?.members.some((m) => m.error?.reason === 'NOSPACE alarm');
  const detail = [
    'This will:',
    '1. Compact the keyspace at the current revision: history older than ' +
      'it is dropped (watchers and reads of older revisions get "compacted").',
    '2. Defragment each reachable member in turn, followers first and the leader last. Each ' +
      'member serves no requests while its defrag runs (up to minutes on a large database).',
    `3. Disarm every active alarm${nospace ? ' (a NOSPACE alarm is active: the cluster refuses writes until it is disarmed)' : ''}, ` +
      `then check that none is left.`,
    '',
    'Cancel stops between steps; a defrag already running finishes.',
  ].join('\n');
  const ok = answers
    ? answers.confirm === true
    : (await vscode.window.showWarningMessage(
        `Compact and defragment cluster "${cluster.name}"?`,
        { modal: true, detail },
        'Compact and Defragment',
      )) === 'Compact and Defragment';
  if (!ok) {
    return { cluster: cluster.name, done: false };
  }
  let result: ReclaimResult;
  try {
    result = await withCancellableProgress(`Compact and Defragment ${cluster.name}`, ({ signal, report }) =>
      deps.etcd.withConnection(cluster, (conn) =>
        reclaimSpace(conn, {
          signal,
          compact: answers?.compact,
          disarm: answers?.disarm,
          onStep: (s) => {
            if (s.state !== 'running') deps.log.info(`[reclaim ${cluster.name}] ${s.step} ${s.state}: ${s.message}`);
            report(s.message);
          },
        }),
      ),
    );
  } finally {
    await deps.tree.refresh(cluster.name).catch(() => undefined);
  }
  const total = (k: 'before' | 'after'): number => result.members.reduce((n, m) => n + (m[k]?.dbSize ?? 0), 0);
  const skipped = result.skipped.length ? ` Skipped (not reachable): ${result.skipped.map((s) => s.name || s.id).join(', ')}.` : '';
  const alarms = result.alarmsAfter.length
    ? ` Still active: ${result.alarmsAfter.map((a) => `${a.alarm} on ${a.memberId}`).join(', ')}.`
    : result.disarmed.length
      ? ` Disarmed ${result.disarmed.map((a) => a.alarm).join(', ')}: the cluster accepts writes again.`
      : '';
  const message =
    `${cluster.name}: ${sizeLines(result).join(', ')} (total ` +
    `${humanizeBytes(total('before'))} -> ${humanizeBytes(total('after'))}).${skipped}${alarms}`;
  deps.log.info(message);
  if (!answers) {
    void (result.alarmsAfter.length || result.skipped.length
      ? vscode.window.showWarningMessage(message)
      : vscode.window.showInformationMessage(message));
  }
  return { cluster: cluster.name, done: true, result, message };
}

export function registerSpaceCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  commandRegistrar(context, deps.log)<ReclaimAnswers>('etcdBackup.reclaimSpace', (target, answers) =>
    reclaimSpaceCommand(target, answers, deps),
  );
}
