/**
 * Writing into a member's own files after Replace Member and Restore: find the candidates (open
 * editors, workspace files named like etcd's, kubeadm's manifest), let the user pick one (or a
 * file from a dialog), and apply src/core/etcdFiles edits to it as a WorkspaceEdit in the editor,
 * visible and undoable, saved only when the user chose to. A file the editor cannot open is
 * written through `replaceFileContent` (temp file + rename, mode kept), only on "Write and Save".
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { editSequence, fileProblem, rankCandidates } from '../core/etcdFileCandidates';
import { ETCD_FILE_EXTENSIONS, ETCD_FILE_GLOB, KUBEADM_MANIFEST, looksLikeEtcdFileName } from '../core/etcdFileNames';
import type { RankedCandidate } from '../core/etcdFileCandidates';
import { EtcdBackupError, explain } from '../core/errors';
import { parseEtcdFile, replaceFileContent } from '../core/etcdFiles';
import type { EditResult, ParsedEtcdFile } from '../core/etcdFiles';
import { applyEtcdFileEdit } from '../editor/commands';
import type { Log } from '../log';

/** Files larger than this are not etcd's (and not read while looking for candidates). */
const MAX_CANDIDATE_BYTES = 1024 * 1024;

async function readSmall(file: string): Promise<string | undefined> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile() || st.size > MAX_CANDIDATE_BYTES) return undefined;
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The etcd files this window can see, best first for `memberName` (see rankCandidates): open
 * editors (their unsaved text), workspace files named like etcd's, kubeadm's manifest when it
 * exists, and `preferred` paths.
 */
export async function findEtcdFiles(opts: { memberName?: string; preferred?: readonly string[] } = {}): Promise<RankedCandidate[]> {
  const files = new Map<string, string>();
  for (const d of vscode.workspace.textDocuments) {
    if (d.uri.scheme === 'file' && looksLikeEtcdFileName(d.fileName)) files.set(d.uri.fsPath, d.getText());
  }
  const found = vscode.workspace.workspaceFolders?.length
    ? await vscode.workspace.findFiles(ETCD_FILE_GLOB, '**/node_modules/**', 200)
    : [];
  const extra = [KUBEADM_MANIFEST, ...(opts.preferred ?? [])];
  for (const p of [...found.map((u) => u.fsPath), ...extra]) {
    if (files.has(p)) continue;
    const t = await readSmall(p);
    if (t !== undefined) files.set(p, t);
  }
  return rankCandidates(
    [...files].map(([p, text]) => ({ path: p, text })),
    { memberName: opts.memberName, preferred: extra },
  );
}

function candidateDetail(c: RankedCandidate): string {
  const kind =
    c.kind === 'manifest'
      ? 'static pod manifest'
      : c.kind === 'env'
        ? 'env file'
        : c.kind === 'config'
          ? 'etcd config file'
          : 'systemd unit';
  return [kind, c.memberName ? `name ${c.memberName}` : undefined, c.dataDir ? `data dir ${c.dataDir}` : undefined]
    .filter(Boolean)
    .join(' · ');
}

/**
 * Ask which file to write (the ranked candidates, "Choose a file…", "Not now"). Undefined when
 * the user declines.
 */
export async function pickEtcdFile(
  title: string,
  candidates: readonly RankedCandidate[],
  placeHolder: string,
): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { file?: string; choose?: boolean };
  const items: Item[] = [
    ...candidates.map((c) => ({
      label: `${c.matchesMember ? '$(star-full) ' : '$(file) '}${path.basename(c.path)}`,
      description: c.path,
      detail: candidateDetail(c),
      file: c.path,
    })),
    {
      label: '$(folder-opened) Choose a file…',
      detail: 'etcd.env, an etcd config file, a systemd unit or a static pod manifest',
      choose: true,
    },
    { label: '$(close) Not now', detail: 'Change the file by hand later' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder, ignoreFocusOut: true });
  if (!pick || (!pick.file && !pick.choose)) return undefined;
  if (pick.file) return pick.file;
  const near = candidates[0]?.path ? path.dirname(candidates[0].path) : path.dirname(KUBEADM_MANIFEST);
  const uris = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    openLabel: 'Edit This File',
    defaultUri: vscode.Uri.file(near),
    filters: { 'etcd files': [...ETCD_FILE_EXTENSIONS], 'All files': ['*'] },
  });
  return uris?.[0]?.fsPath;
}

export interface FileEditOutcome {
  file: string;
  /** The edit changed the text (false: the file already said so). */
  changed: boolean;
  /** The document's text after the edit. */
  text: string;
  /** What changed, one line each. */
  changes: string[];
  saved: boolean;
  /** `editor`: a WorkspaceEdit on the open document; `file`: written in place (the editor could not open it). */
  via: 'editor' | 'file';
  /** Why the file was not changed (see offerEtcdFileEdit), one sentence. */
  error?: string;
}

export type EditStep = (p: ParsedEtcdFile) => EditResult;

/**
 * Apply `steps` to `file` as one change. In the editor (opened and shown, undoable), saved only
 * when `save`; a file the editor cannot open is written in place only when `save`.
 */
export async function applyEditSteps(
  file: string,
  steps: readonly EditStep[],
  opts: { save?: boolean; show?: boolean } = {},
): Promise<FileEditOutcome> {
  const base = path.basename(file);
  let doc: vscode.TextDocument | undefined;
  let openError: unknown;
  try {
    doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  } catch (err) {
    openError = err;
  }
  const compute = (text: string): { edit?: { offset: number; length: number; newText: string }; text: string; changes: string[] } => {
    const parsed = parseEtcdFile(text, base);
    const problem = fileProblem(parsed, file, 'edit');
    if (problem) throw new EtcdBackupError('invalidInput', problem);
    const r = editSequence(parsed, steps);
    if (!r.ok) throw new EtcdBackupError('invalidInput', `${base} was not changed: ${r.error}`);
    return r;
  };
  if (doc) {
    const r = compute(doc.getText());
    // The editor's one edit path: refused when the document changed since the edit was computed.
    const applied = await applyEtcdFileEdit(doc, { ok: true, edits: r.edit ? [r.edit] : [], changes: r.changes }, doc.getText());
    if (opts.show !== false) await vscode.window.showTextDocument(doc, { preview: false });
    let saved = false;
    if (opts.save && doc.isDirty) {
      saved = await doc.save();
      if (!saved) {
        throw new EtcdBackupError(
          'permission',
          `${file} is changed in the editor but could not be saved: save it ` +
            `as a user who may write it (e.g. with sudo), or copy the change.`,
        );
      }
    }
    return { file, changed: applied.applied, text: doc.getText(), changes: r.changes, saved, via: 'editor' };
  }
  // The editor cannot open it (too large, not text): read it ourselves, and write only on the user's say-so.
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EtcdBackupError(
      code === 'EACCES' || code === 'EPERM' ? 'permission' : 'notFound',
      code === 'EACCES' || code === 'EPERM'
        ? `Cannot read ${file}: permission denied; open VS Code as a user who may read it (root on a kubeadm node).`
        : `Cannot open ${file}: ${code === 'ENOENT' ? 'it does not exist' : String(openError ?? err)}; choose another file.`,
      { cause: err },
    );
  }
  const r = compute(text);
  if (!opts.save) {
    throw new EtcdBackupError(
      'invalidInput',
      `${base} cannot be opened in the editor; choose "Write and Save" to write it in place (a temp file renamed over it, mode kept).`,
    );
  }
  if (r.edit) await replaceFileContent(file, r.text);
  return { file, changed: Boolean(r.edit), text: r.text, changes: r.changes, saved: Boolean(r.edit), via: 'file' };
}

/**
 * applyEditSteps for the offers at the end of a flow that already did its work (a replaced
 * member, a restored dir): a file that cannot be edited is reported (log, and an error message
 * when `interactive`) without failing the flow; the outcome carries the sentence.
 */
export async function offerEtcdFileEdit(
  file: string,
  steps: readonly EditStep[],
  opts: { save?: boolean; log: Log; interactive: boolean },
): Promise<FileEditOutcome> {
  try {
    return await applyEditSteps(file, steps, { save: opts.save });
  } catch (err) {
    const e = explain(err);
    opts.log.warn(`${file}: ${e.message}`);
    if (opts.interactive) void vscode.window.showErrorMessage(e.message, 'Show Logs').then((c) => c && opts.log.show(true));
    return { file, changed: false, text: '', changes: [], saved: false, via: 'editor', error: e.message };
  }
}
