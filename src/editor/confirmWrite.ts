/**
 * Writing a live etcd file (etcd.yaml, etcd.env, a unit): the proposed text is shown as a diff
 * against the file (the right side a read-only virtual document), and the file is written only
 * after a modal "Write", through core's writer (temp file renamed over it, mode and owner kept).
 * No editor buffer is ever changed, so `files.autoSave` cannot flush an edit nobody accepted.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { EtcdBackupError } from '../core/errors';

/** The scheme of the proposed texts (read-only: only a content provider serves them). */
export const PROPOSED_SCHEME = 'etcd-backup-proposed';

const proposals = new Map<string, string>();
let provider: vscode.Disposable | undefined;
let counter = 0;

/** Register the read-only provider of proposed texts (once; extension.ts disposes it). */
export function registerProposedDocuments(context: vscode.ExtensionContext): void {
  if (provider) return;
  const emitter = new vscode.EventEmitter<vscode.Uri>();
  provider = vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, {
    onDidChange: emitter.event,
    provideTextDocumentContent: (uri) => proposals.get(uri.path) ?? '',
  });
  context.subscriptions.push(provider, emitter, { dispose: () => (provider = undefined) });
}

/**
 * A test's answer to the "Write" modal: true writes, false declines; a function is called at the
 * moment the modal would show (the diff is open, nothing written yet) and answers then.
 */
export type WriteAnswer = boolean | (() => boolean | Promise<boolean>);

/** The answer as given in test answers (anything else: declined). */
export function writeAnswerOf(v: unknown): WriteAnswer {
  return typeof v === 'function' ? (v as () => boolean | Promise<boolean>) : v === true;
}

export interface ConfirmWriteRequest {
  file: string;
  /** The file's text the proposal was computed from (what is on disk now). */
  current: string;
  proposed: string;
  /** One line per changed value. */
  changes: readonly string[];
  /** A warning shown first in the modal (e.g. the file is another member's). */
  warning?: string;
  /** Test answer (see WriteAnswer); undefined asks (modal). */
  answer?: WriteAnswer;
}

/** An open document of that file with unsaved changes: refuse rather than write under it. */
export function refuseDirty(file: string): void {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
  if (doc?.isDirty) {
    throw new EtcdBackupError('conflict', `${path.basename(file)} has unsaved changes in the editor: save or revert them, then try again.`);
  }
}

async function closeDiff(proposedUri: vscode.Uri): Promise<void> {
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      const input = tab.input;
      if (input instanceof vscode.TabInputTextDiff && input.modified.toString() === proposedUri.toString()) {
        await vscode.window.tabGroups.close(tab);
      }
    }
  }
}

function openDocument(file: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
}

async function caughtUp(file: string, text: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const doc = openDocument(file);
    if (!doc || doc.getText() === text) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * An open document of the file shows what was written: files outside the workspace are not
 * watched, so one that did not reload by itself is reverted (read again from disk; it is not dirty).
 */
async function documentCaughtUp(file: string, text: string): Promise<void> {
  if (await caughtUp(file, text, 500)) return;
  const doc = openDocument(file);
  if (!doc || doc.isDirty) return;
  await vscode.window.showTextDocument(doc, { preview: false });
  await vscode.commands.executeCommand('workbench.action.files.revert');
  await caughtUp(file, text, 5000);
}

/**
 * Before an edit is computed from an open document: one that is not dirty but no longer holds
 * what is on disk (written outside the editor, not reloaded yet) is brought up to date first.
 */
export async function syncFromDisk(document: vscode.TextDocument): Promise<void> {
  if (document.uri.scheme !== 'file' || document.isDirty) return;
  const onDisk = await fs.readFile(document.uri.fsPath, 'utf8').catch(() => undefined);
  if (onDisk !== undefined && onDisk !== document.getText()) await documentCaughtUp(document.uri.fsPath, onDisk);
}

/**
 * Show the diff, ask, and write on "Write". True when written. The file must still hold
 * `current` when written (else a conflict: nothing is written).
 */
export async function confirmFileWrite(req: ConfirmWriteRequest): Promise<boolean> {
  const base = path.basename(req.file);
  refuseDirty(req.file);
  const key = `/${++counter}/${base}`;
  proposals.set(key, req.proposed);
  const proposedUri = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: key });
  try {
    await vscode.commands.executeCommand(
      'vscode.diff',
      vscode.Uri.file(req.file),
      proposedUri,
      `${base}: on disk ↔ proposed (not written yet)`,
      { preview: true },
    );
    let write = typeof req.answer === 'function' ? await req.answer() : req.answer;
    if (write === undefined) {
      const detail = [
        req.warning,
        `Changes:\n  ${req.changes.join('\n  ')}`,
        'etcd (or the kubelet) may act on the file as soon as it is written.',
      ]
        .filter(Boolean)
        .join('\n\n');
      const choice = await vscode.window.showWarningMessage(`Write the change to ${req.file}?`, { modal: true, detail }, 'Write');
      write = choice === 'Write';
    }
    if (!write) return false;
    refuseDirty(req.file);
    const now = await fs.readFile(req.file, 'utf8');
    if (now !== req.current)
      throw new EtcdBackupError('conflict', `${base} changed on disk while the change was shown; nothing was written: try again.`);
    const { replaceFileContent } = await import('../core/etcdFiles');
    await replaceFileContent(req.file, req.proposed);
    await documentCaughtUp(req.file, req.proposed);
    return true;
  } finally {
    await closeDiff(proposedUri).catch(() => undefined);
    proposals.delete(key);
  }
}
