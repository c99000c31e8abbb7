/**
 * Writing into a member's own files after Replace Member and Restore: find the candidates (open
 * editors, workspace files named like etcd's, kubeadm's manifest), let the user pick one (or a
 * file from a dialog), and show src/core/etcdFiles edits to it as a diff, written through
 * `replaceFileContent` (temp file + rename, mode and owner kept) only after a modal "Write".
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
/** core/etcdFileCandidates and the etcd-file parser (with yaml) load on first use, never at activation. */
const candidates = (): Promise<typeof import('../core/etcdFileCandidates')> => import('../core/etcdFileCandidates');
import { ETCD_FILE_EXTENSIONS, ETCD_FILE_GLOB, KUBEADM_MANIFEST, looksLikeEtcdFileName } from '../core/etcdFileNames';
import type { RankedCandidate } from '../core/etcdFileCandidates';
import { EtcdBackupError, explain } from '../core/errors';
import type { EditResult, ParsedEtcdFile } from '../core/etcdFiles';
import { confirmFileWrite, refuseDirty } from '../editor/confirmWrite';
import type { WriteAnswer } from '../editor/confirmWrite';
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
  return (await candidates()).rankCandidates(
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
  /** The proposed text (the file's text after the edit, written or not). */
  text: string;
  /** What changed, one line each. */
  changes: string[];
  /** Written to disk (only after the user's "Write"). */
  saved: boolean;
  /** Shown as a diff and confirmed before anything is written. */
  via: 'diff';
  /** The file starts another member than the one the edit is for (the warning shown). */
  mismatch?: string;
  /** Why the file was not changed (see offerEtcdFileEdit), one sentence. */
  error?: string;
}

export type EditStep = (p: ParsedEtcdFile) => EditResult;

async function readForEdit(file: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new EtcdBackupError('invalidInput', `${file} is not a regular file; choose etcd's own file.`);
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof EtcdBackupError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new EtcdBackupError(
      code === 'EACCES' || code === 'EPERM' ? 'permission' : 'notFound',
      code === 'EACCES' || code === 'EPERM'
        ? `Cannot read ${file}: permission denied; open VS Code as a user who may read it (root on a kubeadm node).`
        : `Cannot open ${file}: ${code === 'ENOENT' ? 'it does not exist' : String(err)}; choose another file.`,
      { cause: err },
    );
  }
}

/** The warning when the file starts another member than `memberName`. */
async function mismatchOf(file: string, text: string, memberName: string | undefined): Promise<string | undefined> {
  if (!memberName) return undefined;
  const [c] = (await candidates()).rankCandidates([{ path: file, text }], { memberName });
  if (!c?.memberName || c.memberName === memberName) return undefined;
  return (
    `${path.basename(file)} starts member ${c.memberName}, not ${memberName}: this edit is for ${memberName}. Write it only if this ` +
    `file is to start ${memberName}.`
  );
}

/**
 * Apply `steps` to `file` as one change, computed from the file on disk: shown as a diff and
 * written (core's writer: temp file renamed over it, mode and owner kept) only after the modal
 * "Write" (`write`: the test's answer). No editor buffer is changed; a file with unsaved
 * changes in the editor is refused. `memberName`: the member the edit is for (a file that
 * starts another member gets a warning naming both).
 */
export async function applyEditSteps(
  file: string,
  steps: readonly EditStep[],
  opts: { write?: WriteAnswer; memberName?: string } = {},
): Promise<FileEditOutcome> {
  const base = path.basename(file);
  refuseDirty(file);
  const text = await readForEdit(file);
  const { parseEtcdFile } = await import('../core/etcdFiles');
  const { editSequence, fileProblem } = await candidates();
  const parsed = parseEtcdFile(text, base);
  const problem = fileProblem(parsed, file, 'edit');
  if (problem) throw new EtcdBackupError('invalidInput', problem);
  const r = editSequence(parsed, steps);
  if (!r.ok) throw new EtcdBackupError('invalidInput', `${base} was not changed: ${r.error}`);
  const mismatch = await mismatchOf(file, text, opts.memberName);
  const out: FileEditOutcome = {
    file,
    changed: Boolean(r.edit),
    text: r.text,
    changes: r.changes,
    saved: false,
    via: 'diff',
    ...(mismatch ? { mismatch } : {}),
  };
  if (!r.edit) return out;
  out.saved = await confirmFileWrite({ file, current: text, proposed: r.text, changes: r.changes, warning: mismatch, answer: opts.write });
  return out;
}

/**
 * applyEditSteps for the offers at the end of a flow that already did its work (a replaced
 * member, a restored dir): a file that cannot be edited is reported (log, and an error message
 * when `interactive`) without failing the flow; the outcome carries the sentence.
 */
export async function offerEtcdFileEdit(
  file: string,
  steps: readonly EditStep[],
  opts: { write?: WriteAnswer; memberName?: string; log: Log; interactive: boolean },
): Promise<FileEditOutcome> {
  try {
    const r = await applyEditSteps(file, steps, { write: opts.write, memberName: opts.memberName });
    if (r.mismatch) opts.log.warn(`${file}: ${r.mismatch}`);
    return r;
  } catch (err) {
    const e = explain(err);
    opts.log.warn(`${file}: ${e.message}`);
    if (opts.interactive) void vscode.window.showErrorMessage(e.message, 'Show Logs').then((c) => c && opts.log.show(true));
    return { file, changed: false, text: '', changes: [], saved: false, via: 'diff', error: e.message };
  }
}
