/**
 * "Import Cluster from etcd File…": a cluster from what is already written down (kubeadm's
 * static pod manifest, an etcd.env, an etcd config file, a systemd unit). From the palette (the
 * active editor's file, else a file dialog at kubeadm's manifest), the explorer's and the editor
 * title's context menus and the editor's "Add as cluster" CodeLens (a `vscode.Uri` argument).
 * Shows what was guessed, asks for the name, endpoints and snapshot folder, tests the connection
 * as Add Cluster does, and saves to user settings. Answers object for tests, as everywhere.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { clusterNameProblem, parseEndpointList, validateCluster } from '../core/config';
/** core/etcdFileCandidates and the etcd-file parser (with yaml) load on first use, never at activation. */
const candidates = (): Promise<typeof import('../core/etcdFileCandidates')> => import('../core/etcdFileCandidates');
import { ETCD_FILE_EXTENSIONS, KUBEADM_MANIFEST } from '../core/etcdFileNames';
import { EtcdBackupError } from '../core/errors';
import type { ParsedEtcdFile } from '../core/etcdFiles';
import type { ClusterConfig } from '../core/types';
import { DEFAULT_TIMEOUT_MS } from '../core/types';
import type { ClusterSource } from '../settings';
import { draftOf, saveFlow, testConnection } from './clusters';
import type { ConnectionTest } from './clusters';
import { cancelled, CommandDeps, commandRegistrar, showWithLogs } from './common';

export interface ImportAnswers {
  /** The file (when the command gets no Uri). */
  file?: string;
  /** Cluster name (default: the member's --name, made unique). */
  name?: string;
  /** Endpoints (default: from the file). */
  endpoints?: string | string[];
  /** Snapshot folder (default /var/backups/etcd/<name>); `null`: none. */
  snapshotDir?: string | null;
  timeoutMs?: number;
  /** Test the connection before saving (default true). */
  test?: boolean;
  /** When the test fails: save anyway, or not (default: not). */
  onTestFailure?: 'save' | 'cancel';
}

export interface ImportCommandResult {
  saved: boolean;
  file?: string;
  cluster?: ClusterConfig;
  /** What was guessed or is missing, one sentence each (shown before the questions). */
  warnings: string[];
  /** Why nothing was imported (bad input), one sentence that says what to do. */
  problem?: string;
  test?: ConnectionTest;
  source?: ClusterSource;
}

async function exists(p: string): Promise<boolean> {
  return Boolean(await fs.stat(p).catch(() => undefined));
}

/** The file to import: the Uri / path given, the answers' file, the active editor's etcd file, or a dialog. */
async function resolveFile(arg: unknown, answers: ImportAnswers | undefined): Promise<string> {
  if (arg instanceof vscode.Uri) {
    if (arg.scheme !== 'file')
      throw new EtcdBackupError('invalidInput', `${arg.toString()} is not a file on this machine; save it to disk, then import it.`);
    return arg.fsPath;
  }
  if (typeof arg === 'string' && arg) return arg;
  if (answers?.file) return answers.file;
  if (answers) throw new EtcdBackupError('invalidInput', 'No file given: pass { file: "/etc/kubernetes/manifests/etcd.yaml" }.');
  const active = vscode.window.activeTextEditor?.document;
  // The parser (and yaml) load on first use, not at activation.
  const { parseEtcdFile } = await import('../core/etcdFiles');
  if (active && active.uri.scheme === 'file' && parseEtcdFile(active.getText(), path.basename(active.fileName)).kind !== 'unknown') {
    const pick = await vscode.window.showQuickPick(
      [
        {
          label: `$(file) ${path.basename(active.fileName)}`,
          description: active.fileName,
          detail: 'The file in the active editor',
          file: active.fileName,
        },
        {
          label: '$(folder-opened) Choose another file…',
          detail: 'A static pod manifest, etcd.env, etcd config file or systemd unit',
          file: undefined,
        },
      ],
      { title: 'Import Cluster from etcd File', ignoreFocusOut: true },
    );
    if (!pick) cancelled();
    if (pick.file) return pick.file;
  }
  const near = (await exists(KUBEADM_MANIFEST)) ? vscode.Uri.file(KUBEADM_MANIFEST) : vscode.workspace.workspaceFolders?.[0]?.uri;
  const uris = await vscode.window.showOpenDialog({
    title: 'Import Cluster from etcd File',
    canSelectMany: false,
    openLabel: 'Import',
    defaultUri: near,
    filters: { 'etcd files': [...ETCD_FILE_EXTENSIONS], 'All files': ['*'] },
  });
  return uris?.[0]?.fsPath ?? cancelled();
}

/** The file's text: the open document's (unsaved changes included), else from disk; a sentence when it cannot be read. */
async function readText(file: string): Promise<string> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
  if (open) return open.getText();
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new EtcdBackupError(
        'permission',
        `Cannot read ${file}: permission denied; run VS Code as a user who may ` +
          `read it (root on a kubeadm node), or copy the file somewhere readable.`,
        { cause: err },
      );
    }
    if (code === 'ENOENT') throw new EtcdBackupError('notFound', `${file} does not exist; choose the etcd file to import.`, { cause: err });
    if (code === 'EISDIR')
      throw new EtcdBackupError('invalidInput', `${file} is a folder; choose the etcd file in it (e.g. etcd.yaml).`, { cause: err });
    throw err;
  }
}

/** A unit's EnvironmentFile= targets that can be read, parsed (they hold the settings a unit's flags do not). */
async function relatedFiles(parsed: ParsedEtcdFile): Promise<ParsedEtcdFile[]> {
  const out: ParsedEtcdFile[] = [];
  const { parseEtcdFile } = await import('../core/etcdFiles');
  for (const ref of parsed.environmentFiles) {
    const t = await fs.readFile(ref.path, 'utf8').catch(() => undefined);
    if (t !== undefined) out.push(parseEtcdFile(t, ref.path));
  }
  return out;
}

/** The sentence for a file with no client URL (clusterFromEtcdFile's last warning), saying what to do. */
function noClusterProblem(warnings: readonly string[]): string {
  const last = warnings[warnings.length - 1] ?? 'The file names no client URL.';
  if (/instead\.$/.test(last)) return last;
  return `${last.replace(/\.$/, '')}; add --advertise-client-urls (ETCD_ADVERTISE_CLIENT_URLS) to it, or use "etcd: Add Cluster…".`;
}

/** What to do when the TLS files the file names are not on this machine. */
function missingTlsHint(warnings: readonly string[]): string {
  return warnings.some((w) => /^(caFile|certFile|keyFile) .* does not exist on this machine\.$/.test(w))
    ? 'Without these files the connection test fails: run VS Code where they are (the control-plane ' +
        'node, e.g. through Remote-SSH), copy them here, or pick others with "Edit" when the test fails.'
    : '';
}

/** What the file says, as a draft cluster with what was guessed; or the sentence why it cannot be imported. */
async function readDraft(file: string): Promise<{ draft?: ClusterConfig; warnings: string[]; problem?: string }> {
  let text: string;
  try {
    text = await readText(file);
  } catch (err) {
    if (err instanceof EtcdBackupError) return { warnings: [], problem: err.message };
    throw err;
  }
  const { clusterFromEtcdFile, parseEtcdFile } = await import('../core/etcdFiles');
  const parsed = parseEtcdFile(text, path.basename(file));
  const problem = (await candidates()).fileProblem(parsed, file);
  if (problem) return { warnings: [], problem };
  const imported = clusterFromEtcdFile(parsed, file, { related: await relatedFiles(parsed) });
  if (!imported.cluster) return { warnings: imported.warnings, problem: noClusterProblem(imported.warnings) };
  return { draft: imported.cluster, warnings: imported.warnings };
}

/** The user's choices: name, endpoints, snapshot folder (from the answers, or asked after showing the warnings). */
interface ImportChoices {
  name: string;
  endpointsText: string;
  snapshotDir?: string;
}

async function askChoices(
  base: string,
  draft: ClusterConfig,
  warnings: readonly string[],
  existing: readonly string[],
  answers: ImportAnswers | undefined,
): Promise<ImportChoices> {
  const { defaultSnapshotDir, uniqueClusterName } = await candidates();
  const name = answers?.name ?? uniqueClusterName(draft.name, existing);
  const endpointsText =
    answers?.endpoints === undefined
      ? draft.endpoints.join(', ')
      : Array.isArray(answers.endpoints)
        ? answers.endpoints.join(', ')
        : answers.endpoints;
  if (answers)
    return {
      name,
      endpointsText,
      snapshotDir: answers.snapshotDir === null ? undefined : (answers.snapshotDir ?? defaultSnapshotDir(name)),
    };
  if (warnings.length) {
    const go = await vscode.window.showWarningMessage(
      `Importing ${base}: ${warnings.length === 1 ? 'one thing' : `${warnings.length} things`} to know before connecting.`,
      {
        modal: true,
        detail: [...warnings.map((w) => `• ${w}`), ...(missingTlsHint(warnings) ? ['', missingTlsHint(warnings)] : [])].join('\n'),
      },
      'Continue',
    );
    if (go !== 'Continue') cancelled();
  }
  const title = `Import ${base}`;
  const chosenName =
    (
      await vscode.window.showInputBox({
        title: `${title} (1/3)`,
        prompt: `Name of the cluster, as the tree shows it (from ${draft.name === name ? '--name' : `--name "${draft.name}"`})`,
        value: name,
        ignoreFocusOut: true,
        validateInput: (v) => clusterNameProblem(v, existing),
      })
    )?.trim() ?? cancelled();
  const chosenEndpoints =
    (await vscode.window.showInputBox({
      title: `${title} (2/3)`,
      prompt:
        'Client URLs of the members, separated by commas (from the file; ' +
        "add the other members' to reach the cluster when this one is down)",
      value: endpointsText,
      ignoreFocusOut: true,
      validateInput: (v) => {
        const p = parseEndpointList(v).problems;
        return p.length ? p.join(' ') : undefined;
      },
    })) ?? cancelled();
  const dir = await vscode.window.showInputBox({
    title: `${title} (3/3)`,
    prompt: "Folder for this cluster's snapshots (created when the first snapshot is taken); leave empty for none",
    value: defaultSnapshotDir(chosenName),
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() && !path.isAbsolute(v.trim()) ? 'Give an absolute path, e.g. /var/backups/etcd/prod.' : undefined),
  });
  return { name: chosenName, endpointsText: chosenEndpoints, snapshotDir: (dir ?? cancelled()).trim() || undefined };
}

/** The validated cluster, or the sentence that says what is wrong. */
function clusterOfChoices(
  c: ImportChoices,
  draft: ClusterConfig,
  existing: readonly string[],
  timeoutMs: number | undefined,
): { cluster?: ClusterConfig; problem?: string } {
  const nameProblem = clusterNameProblem(c.name, existing);
  if (nameProblem) return { problem: nameProblem };
  const eps = parseEndpointList(c.endpointsText);
  if (eps.problems.length) return { problem: `Endpoints: ${eps.problems.join(' ')}` };
  const v = validateCluster({
    name: c.name.trim(),
    endpoints: eps.endpoints,
    tls: draft.tls,
    snapshotDir: c.snapshotDir,
    timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  return v.cluster ? { cluster: v.cluster } : { problem: v.problems.join(' ') };
}

/** After a failed connection test: save anyway, open the full form ("edit"), or not. */
async function onFailedTest(
  cluster: ClusterConfig,
  test: ConnectionTest,
  answers: ImportAnswers | undefined,
): Promise<'save' | 'edit' | 'cancel'> {
  if (answers) return answers.onTestFailure === 'save' ? 'save' : 'cancel';
  const choice = await vscode.window.showWarningMessage(
    `Could not connect to "${cluster.name}": ${test.message}`,
    { modal: true, detail: 'Save Anyway keeps it as imported; Edit opens the full form (endpoints, CA, client certificate, user).' },
    'Save Anyway',
    'Edit',
  );
  return choice === 'Save Anyway' ? 'save' : choice === 'Edit' ? 'edit' : 'cancel';
}

async function importClusterCommand(arg: unknown, answers: ImportAnswers | undefined, deps: CommandDeps): Promise<ImportCommandResult> {
  const file = await resolveFile(arg, answers);
  const base = path.basename(file);
  const refuse = (problem: string, warnings: string[] = []): ImportCommandResult => {
    deps.log.warn(`Import from ${file}: ${problem}`);
    if (!answers) showWithLogs(deps.log, problem, 'error');
    return { saved: false, file, warnings, problem };
  };

  const { draft, warnings, problem } = await readDraft(file);
  if (!draft) return refuse(problem ?? `${base} names no cluster.`, warnings);
  for (const w of warnings) deps.log.info(`Import from ${file}: ${w}`);
  const existing = deps.settings.allNames();
  const choices = await askChoices(base, draft, warnings, existing, answers);
  const checked = clusterOfChoices(choices, draft, existing, answers?.timeoutMs);
  if (!checked.cluster) return refuse(checked.problem ?? 'The cluster is not valid.', warnings);
  const cluster = checked.cluster;

  let test: ConnectionTest | undefined;
  if (answers?.test !== false) {
    test = await testConnection(cluster, undefined, deps, !answers);
    if (!test.ok) {
      deps.log.warn(`Import ${base}: ${test.message}`);
      const next = await onFailedTest(cluster, test, answers);
      if (next === 'edit') return { ...(await saveFlow('Import etcd Cluster', draftOf(cluster), deps, undefined)), file, warnings };
      if (next === 'cancel') return { saved: false, file, cluster, warnings, test };
    }
  }
  const source = await deps.settings.saveCluster(cluster, { source: 'user' });
  deps.log.info(`Imported cluster "${cluster.name}" from ${file} into ${source} settings.`);
  if (!answers) {
    void vscode.window.showInformationMessage(
      test?.ok ? `Imported from ${base}. ${test.message}` : `Imported cluster "${cluster.name}" from ${base}.`,
    );
  }
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  return { saved: true, file, cluster, warnings, test, source };
}

export function registerImportClusterCommand(context: vscode.ExtensionContext, deps: CommandDeps): void {
  // (uri) from menus and the CodeLens, (uri, answers) or (answers) from tests, () from the palette.
  commandRegistrar(context, deps.log)<ImportAnswers>(
    'etcdBackup.importCluster',
    (target, answers) => importClusterCommand(target === answers ? undefined : target, answers, deps),
    { loneAnswers: true },
  );
}
