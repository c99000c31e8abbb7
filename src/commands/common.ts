/**
 * The plumbing every command shares: its dependencies, how its arguments are read (a tree
 * node, a Uri, test answers or nothing), cancellable progress, "cancelled", the snapshot file
 * it is about, and the quorum-loss confirmation. Handlers are registered through
 * {@link registerCommand} (./run), which words every error.
 */
import * as vscode from 'vscode';
import type { QuorumChange } from '../core/clusterStatus';
import { cancelledError, EtcdBackupError } from '../core/errors';
import { checkPeerUrl } from '../core/restore/plan';
import type { EtcdService } from '../etcdService';
import type { Log } from '../log';
import type { Settings } from '../settings';
import type { ClustersProvider } from '../views/clustersView';
import { Node } from '../views/nodes';
import { registerCommand } from './run';

/** What every command feature gets from extension.ts. */
export interface CommandDeps {
  log: Log;
  settings: Settings;
  etcd: EtcdService;
  tree: ClustersProvider;
}

/** The one "the user cancelled" error: registerCommand logs it and shows nothing. */
export function cancelled(): never {
  throw cancelledError();
}

/** Test answers and targets are plain objects; a tree node, a Uri or an array (multi-select) is not. */
function isPlainObject(x: unknown): x is object {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof vscode.Uri) && !(x instanceof Node);
}

/** How a command was called. */
export interface Invocation<A> {
  /** What it is about: a tree node, a Uri, a path or name, a plain `{ cluster }` / `{ file }`, or nothing (ask). */
  target: unknown;
  /** Test answers: nothing is asked for what they give, and the command returns a result. */
  answers: A | undefined;
}

/**
 * The one decoder of a command's `(target?, answers?)`. Answers are a plain object: the second
 * argument, or the first alone when `loneAnswers` (commands whose target is never a plain
 * object, e.g. `addCluster({ name, endpoints })`); the first argument stays the target either way.
 */
export function invocation<A extends object>(first: unknown, second: unknown, loneAnswers = false): Invocation<A> {
  if (isPlainObject(second)) return { target: first, answers: second as A };
  if (loneAnswers && isPlainObject(first)) return { target: first, answers: first as A };
  return { target: first, answers: undefined };
}

/** Registers a command whose handler gets its decoded {@link invocation}. */
export type CommandRegistrar = <A extends object>(
  id: string,
  run: (target: unknown, answers: A | undefined) => unknown,
  opts?: { loneAnswers?: boolean },
) => void;

/** One registrar per feature: every handler goes through registerCommand (errors worded, logged). */
export function commandRegistrar(context: vscode.ExtensionContext, log: Log): CommandRegistrar {
  return (id, run, opts) =>
    registerCommand(context, log, id, (first?: unknown, second?: unknown) => {
      const { target, answers } = invocation(first, second, opts?.loneAnswers);
      return run(target, answers as never);
    });
}

/** The snapshot file a command was invoked on: a snapshot node, a Uri, a path, `{ file }` or `{ snapshot }`. */
export function snapshotFileOf(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (target instanceof vscode.Uri) return target.fsPath;
  if (target && typeof target === 'object') {
    const a = target as { file?: unknown; snapshot?: unknown; resourceUri?: unknown };
    if (typeof a.file === 'string') return a.file;
    if (typeof a.snapshot === 'string') return a.snapshot;
    if (a.resourceUri instanceof vscode.Uri) return a.resourceUri.fsPath;
  }
  return undefined;
}

/** The snapshot file to work on: from the target, the answers' `snapshot`, or an open dialog (opened in `near` when given). */
export async function pickSnapshot(
  target: unknown,
  answers: { snapshot?: string } | undefined,
  title: string,
  near?: string,
): Promise<string> {
  const file = snapshotFileOf(target) ?? answers?.snapshot;
  if (file) return file;
  if (answers) throw new EtcdBackupError('invalidInput', 'No snapshot file given: pass { snapshot: "/path/to/file.db" }.');
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    openLabel: 'Use This Snapshot',
    ...(near ? { defaultUri: vscode.Uri.file(near) } : {}),
    filters: { 'etcd snapshots': ['db'], 'All files': ['*'] },
  });
  return picked?.[0]?.fsPath ?? cancelled();
}

/** What long work gets inside {@link withCancellableProgress}. */
export interface ProgressScope {
  /** Aborts when the user presses Cancel. */
  signal: AbortSignal;
  /** A line under the title; `increment` in percent moves the bar. */
  report(message: string, increment?: number): void;
}

/** Run `work` under a cancellable progress notification; Cancel aborts its signal (core stops on it). */
export function withCancellableProgress<T>(title: string, work: (scope: ProgressScope) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const ac = new AbortController();
      const sub = token.onCancellationRequested(() => ac.abort());
      try {
        return await work({ signal: ac.signal, report: (message, increment) => progress.report({ message, increment }) });
      } finally {
        sub.dispose();
      }
    },
  );
}

/** "Quorum now: … After removal: …", for the confirmations of Remove and Replace Member. */
export function quorumDetail(quorum: QuorumChange): string {
  const { before, after } = quorum;
  return (
    `Quorum now: ${before.quorum} of ${before.voters} voting members (${before.healthyVoters} healthy). ` +
    `After removal: ${after.quorum} of ${after.voters} (${after.healthyVoters} healthy).`
  );
}

/**
 * The second confirmation when removing a member loses quorum (Remove Member, Replace Member).
 * True when the removal may go ahead: quorum is kept, the user confirmed, or the answers say so.
 */
export async function confirmQuorumLoss(
  quorum: QuorumChange,
  what: { member: string; cluster: string; consequence: string },
  answers: { confirmQuorumLoss?: boolean } | undefined,
): Promise<boolean> {
  if (!quorum.losesQuorum) return true;
  if (answers) return answers.confirmQuorumLoss === true;
  const button = 'Remove and Lose Quorum';
  const choice = await vscode.window.showWarningMessage(
    `Removing ${what.member} makes cluster "${what.cluster}" LOSE QUORUM.`,
    { modal: true, detail: `${quorum.sentence}\n\n${what.consequence} Remove anyway?` },
    button,
  );
  return choice === button;
}

/** An information message with a "Show Logs" button (or an error message with it). */
export function showWithLogs(log: Log, message: string, kind: 'info' | 'error' = 'info'): void {
  const show = kind === 'error' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
  void show(message, 'Show Logs').then((choice) => {
    if (choice === 'Show Logs') log.show(true);
  });
}

const commaList = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * Ask for a member's peer URL(s) (its --initial-advertise-peer-urls), comma-separated, each
 * checked as typed. The URLs given, or undefined when the user cancels.
 */
export async function askPeerUrls(box: { title: string; prompt: string; value: string }): Promise<string[] | undefined> {
  const text = await vscode.window.showInputBox({
    ...box,
    ignoreFocusOut: true,
    validateInput: (v) => {
      const list = commaList(v);
      if (!list.length) return 'Give at least one peer URL, e.g. https://10.0.0.13:2380.';
      const problem = list.map((x) => checkPeerUrl(x).problem).find(Boolean);
      return problem ? `${problem}.` : undefined;
    },
  });
  return text === undefined ? undefined : commaList(text);
}
