/**
 * Snapshot commands on the native reader: "Show Snapshot Report" (a read-only Markdown page:
 * status figures, the members stored inside, the keyspace by prefix), "Search Snapshot
 * Keys…" (keys and values listed and searched, values as text where they are), "Verify Snapshot"
 * (SHA-256 trailer + bbolt structure, with progress and cancellation) and "Compare
 * Snapshots…" (keys added, removed, changed by prefix). Each takes a snapshot node, a backup
 * node of a plan (a remote backup is fetched to a 0600 temp file first and removed afterwards:
 * ./remoteBackup), a Uri or a path, or asks for the file; tests pass answers as the second argument.
 * The reader is loaded inside the handlers, never at activation.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { EtcdBackupError } from '../core/errors';
import { diffMarkdown, reportMarkdown } from '../core/snapshot/format';
import type { SnapshotDiff, SnapshotReport } from '../core/snapshot/inspect';
import type { VerifyResult } from '../core/snapshot/verify';
import type { Log } from '../log';
import { BackupNode } from '../views/backupNodes';
import { rememberStatus } from '../views/snapshotNodes';
import { cancelled, CommandDeps, commandRegistrar, pickSnapshot, withCancellableProgress } from './common';
import { backupSnapshot, BackupSnapshot, backupTargetName, RemoteBackupAnswers } from './remoteBackup';

/** Read-only documents of the reports, by URI. */
export const REPORT_SCHEME = 'etcd-backup-report';

class ReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly docs = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.docs.get(uri.toString()) ?? '';
  }

  /** A new read-only Markdown document named after `title`. */
  add(title: string, markdown: string): vscode.Uri {
    const uri = vscode.Uri.from({
      scheme: REPORT_SCHEME,
      path: `/${title.replace(/[\\/:*?"<>|]/g, '_')}.md`,
      query: String(++this.counter),
    });
    this.docs.set(uri.toString(), markdown);
    return uri;
  }

  dispose(): void {
    this.emitter.dispose();
    this.docs.clear();
  }
}

/** Open a report: the Markdown preview (follows the theme), or the read-only text when asked or when there is no preview. */
async function openReport(uri: vscode.Uri, preview: boolean | undefined, log: Log): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
  if (preview !== false) {
    try {
      await vscode.commands.executeCommand('markdown.showPreview', uri);
      return;
    } catch (err) {
      log.warn(`No Markdown preview (${err instanceof Error ? err.message : String(err)}): showing the text.`);
    }
  }
  await vscode.window.showTextDocument(doc, { preview: true });
}

/**
 * Run `work` on the file a snapshot command is about: a backup's (a remote one fetched to a temp
 * file that is removed once `work` is done, also when it fails or is cancelled), else what
 * pickSnapshot finds or asks for.
 */
async function withSnapshotFile<T>(
  arg: unknown,
  answers: (RemoteBackupAnswers & { snapshot?: string }) | undefined,
  title: string,
  deps: CommandDeps,
  work: (file: string, backup?: BackupSnapshot) => Promise<T>,
): Promise<T> {
  const backup = await backupSnapshot(arg, answers, deps);
  if (!backup) return work(await pickSnapshot(arg, answers, title));
  try {
    return await work(backup.file, backup);
  } finally {
    await backup.dispose();
  }
}

export interface ReportAnswers extends RemoteBackupAnswers {
  snapshot?: string;
  prefixDepth?: number | 'auto';
  /** Open the Markdown preview (default true). */
  preview?: boolean;
}

export interface ReportResult {
  uri: vscode.Uri;
  markdown: string;
  report: SnapshotReport;
}

async function showReport(
  arg: unknown,
  answers: ReportAnswers | undefined,
  docs: ReportDocuments,
  deps: CommandDeps,
): Promise<ReportResult> {
  return withSnapshotFile(arg, answers, 'Report on which snapshot?', deps, (file) => reportOn(file, answers, docs, deps));
}

async function reportOn(file: string, answers: ReportAnswers | undefined, docs: ReportDocuments, deps: CommandDeps): Promise<ReportResult> {
  const st = await fs.stat(file).catch(() => undefined);
  const report = await withCancellableProgress(`Reading ${path.basename(file)}…`, async ({ signal, report: say }) => {
    const { inspectSnapshot } = await import('../core/snapshot/inspect');
    return inspectSnapshot(file, {
      signal,
      prefixDepth: answers?.prefixDepth,
      onProgress: (done, total) => say(`${Math.min(100, Math.round((done / Math.max(1, total)) * 100))}% of the pages`),
    });
  });
  if (st) rememberStatus(file, st.size, st.mtime, { status: report.status });
  const markdown = reportMarkdown(report, { title: path.basename(file), fileTime: st?.mtime });
  const uri = docs.add(`${path.basename(file)} report`, markdown);
  deps.log.info(
    `Snapshot report for ${file}: revision ${report.status.revision}, ${report.keyspace.liveKeys} live keys, ${report.members.length} ` +
      `members`,
  );
  await openReport(uri, answers?.preview, deps.log);
  return { uri, markdown, report };
}

type VerifyAnswers = RemoteBackupAnswers & { snapshot?: string; skipHashCheck?: boolean };

async function verify(
  arg: unknown,
  answers: VerifyAnswers | undefined,
  deps: CommandDeps,
  skipHash = answers?.skipHashCheck === true,
): Promise<VerifyResult> {
  let r: VerifyResult;
  let file: string;
  try {
    [file, r] = await withSnapshotFile(
      arg,
      answers,
      'Verify which snapshot?',
      deps,
      async (f) => [f, await verifyFile(f, skipHash)] as const,
    );
  } catch (err) {
    // A remote backup whose stored or plain SHA-256 does not match (or that does not decrypt) is not sound: said as a verdict.
    const named = arg instanceof BackupNode ? arg.backup.name : backupTargetName(arg);
    if (!named || !(err instanceof EtcdBackupError) || err.kind !== 'corrupt') throw err;
    file = named;
    r = notSound(named, err.message);
  }
  deps.log.info(
    `Verify ${file}: ${r.ok ? 'OK' : 'FAILED'} — ` +
      `${r.ok ? r.summary : r.reason}${r.problems.length ? `\n  ${r.problems.join('\n  ')}` : ''}`,
  );
  if (!answers) {
    if (r.ok) {
      void vscode.window.showInformationMessage(`${path.basename(file)} is sound: ${r.summary}.`);
    } else {
      const structureOnly = r.refusedForNoTrailer ? ['Verify Structure Only'] : [];
      const detail = r.problems.slice(0, 10).join('\n');
      const reason = r.reason ?? `${path.basename(file)} is not sound.`;
      void vscode.window.showErrorMessage(reason, { detail }, ...structureOnly, 'Show Logs').then((c) => {
        if (c === 'Show Logs') deps.log.show(true);
        if (c === 'Verify Structure Only') void verify(arg ?? file, undefined, deps, true).catch((e) => deps.log.error(e));
      });
    }
  }
  return r;
}

/** The verdict on a backup the fetch refused as changed or damaged (its SHA-256 compared only when the message says so). */
function notSound(name: string, reason: string): VerifyResult {
  const hashCheck = /SHA-256/.test(reason) ? 'mismatch' : 'notRun';
  const base = { path: name, fileSize: 0, hasHashTrailer: false, notes: [], summary: reason };
  return { ...base, ok: false, hashCheck, reason, kind: 'corrupt', problems: [reason], problemCount: 1 };
}

async function verifyFile(file: string, skipHash: boolean): Promise<VerifyResult> {
  const r = await withCancellableProgress(`Verifying ${path.basename(file)}…`, async ({ signal, report: say }) => {
    const { verifySnapshot } = await import('../core/snapshot/verify');
    let pages = 0;
    let sha = 0;
    // A file without a SHA-256 trailer fails, as a restore refuses it, unless the check is skipped.
    return verifySnapshot(file, {
      signal,
      requireTrailer: true,
      skipHash,
      onProgress: (what, done, total) => {
        const pct = Math.min(100, Math.round((done / Math.max(1, total)) * 100));
        if (what === 'pages') pages = pct;
        else sha = pct;
        say(`pages ${pages}%, SHA-256 ${sha}%`);
      },
    });
  });
  const st = await fs.stat(file).catch(() => undefined);
  if (st) rememberStatus(file, st.size, st.mtime, r.status ? { status: r.status } : { error: r.reason ?? 'corrupt', kind: r.kind });
  return r;
}

export interface CompareAnswers extends RemoteBackupAnswers {
  snapshot?: string;
  /** The other snapshot: a path, or a backup `{ plan, backup, from? }` (fetched when remote). */
  other?: string | { plan: string; backup: string; from?: 'local' | 'remote' };
  prefixDepth?: number | 'auto';
  preview?: boolean;
  /** Read the comparison newer → older (the explicit swap; default older → newer by revision). */
  newerFirst?: boolean;
}

export interface CompareResult {
  uri: vscode.Uri;
  markdown: string;
  diff: SnapshotDiff;
  /** How the report reads. */
  order: 'older → newer' | 'newer → older';
}

function compareTitle(diff: SnapshotDiff, newerFirst: boolean): string {
  return `${path.basename(diff.a.path)} → ${path.basename(diff.b.path)} (${newerFirst ? 'newer → older' : 'older → newer'})`;
}

/** The other snapshot to compare `a` with: the answers', or picked among the plan's other backups or the folder's files. */
async function otherSnapshot(a: string, arg: unknown, answers: CompareAnswers | undefined): Promise<unknown> {
  if (answers?.other) return answers.other;
  if (answers) throw new EtcdBackupError('invalidInput', 'No second snapshot given: pass { other: "/path/to/file.db" }.');
  type Item = vscode.QuickPickItem & { other?: unknown };
  const backups: Item[] =
    arg instanceof BackupNode
      ? (await arg.parent.children())
          .filter((n): n is BackupNode => n instanceof BackupNode && n.id !== arg.id)
          .map((n) => ({
            label: `$(${n.backup.where === 'local' ? 'database' : 'cloud'}) ${n.backup.name}`,
            description: n.backup.where,
            other: n,
          }))
      : [];
  const dir = path.dirname(a);
  const siblings = arg instanceof BackupNode && arg.backup.where === 'remote' ? [] : await fs.readdir(dir).catch(() => [] as string[]);
  const files = siblings
    .filter(
      (n) =>
        n.endsWith('.db') &&
        path.join(dir, n) !== a &&
        !backups.some((b) => (b.other as BackupNode).resourceUri?.fsPath === path.join(dir, n)),
    )
    .sort()
    .reverse()
    .map((n): Item => ({ label: n, description: dir, other: path.join(dir, n) }));
  const pick = await vscode.window.showQuickPick([...backups, ...files, { label: '$(folder-opened) Another file…' }], {
    title: `Compare ${path.basename(a)} with…`,
    placeHolder: 'The other snapshot, older or newer: the report reads older → newer by revision',
  });
  if (!pick) cancelled();
  return pick.other ?? (await pickSnapshot(undefined, undefined, 'Compare with which snapshot?'));
}

async function compare(
  arg: unknown,
  answers: CompareAnswers | undefined,
  docs: ReportDocuments,
  deps: CommandDeps,
): Promise<CompareResult> {
  return withSnapshotFile(arg, answers, 'Compare which snapshot?', deps, async (a) => {
    const otherTarget = await otherSnapshot(a, arg, answers);
    const given = await withSnapshotFile(otherTarget, answers, 'Compare with which snapshot?', deps, async (other) =>
      withCancellableProgress(`Comparing ${path.basename(a)} with ${path.basename(other)}…`, async ({ signal }) => {
        const { diffSnapshots } = await import('../core/snapshot/inspect');
        return diffSnapshots(a, other, { signal, prefixDepth: answers?.prefixDepth });
      }),
    );
    return showComparison(given, answers, docs, deps);
  });
}

async function showComparison(
  given: SnapshotDiff,
  answers: CompareAnswers | undefined,
  docs: ReportDocuments,
  deps: CommandDeps,
): Promise<CompareResult> {
  const { orderDiff } = await import('../core/snapshot/diffOrder');
  const show = async (newerFirst: boolean): Promise<CompareResult> => {
    const { diff } = orderDiff(given, newerFirst);
    const markdown = diffMarkdown(diff);
    const uri = docs.add(compareTitle(diff, newerFirst), markdown);
    deps.log.info(
      `Compared ${diff.a.path} (revision ${diff.a.revision}) → ${diff.b.path} (revision ${diff.b.revision}): ${diff.added} added, ` +
        `${diff.removed} removed, ${diff.changed} changed`,
    );
    await openReport(uri, answers?.preview, deps.log);
    return { uri, markdown, diff, order: newerFirst ? 'newer → older' : 'older → newer' };
  };
  const first = await show(answers?.newerFirst === true);
  if (!answers) offerSwap(first, show);
  return first;
}

/** "Swap": the same comparison read the other way, in a new report. */
function offerSwap(shown: CompareResult, show: (newerFirst: boolean) => Promise<CompareResult>): void {
  const { a, b } = shown.diff;
  const other = shown.order === 'older → newer' ? 'newer → older' : 'older → newer';
  void vscode.window
    .showInformationMessage(`Compared ${shown.order}: revision ${a.revision} → ${b.revision}.`, `Swap (${other})`)
    .then((c) => {
      if (c) void show(other === 'newer → older').then((r) => offerSwap(r, show));
    });
}

export interface SearchAnswers extends RemoteBackupAnswers {
  snapshot?: string;
  /** Keys starting with this. */
  prefix?: string;
  /** Keys or values containing this (a `/`-led text is taken as a prefix when asked interactively). */
  text?: string;
  limit?: number;
  preview?: boolean;
}

function markdownEscape(s: string): string {
  return s.replace(/([\\`*_[\]|<>#])/g, '\\$1');
}

/** The keys and values of a snapshot, listed and searched, as a read-only Markdown page. */
async function searchKeys(
  arg: unknown,
  answers: SearchAnswers | undefined,
  docs: ReportDocuments,
  deps: CommandDeps,
): Promise<{ uri: vscode.Uri; markdown: string; matched: number; keys: string[] }> {
  return withSnapshotFile(arg, answers, 'Search which snapshot?', deps, (file) => searchIn(file, answers, docs, deps));
}

async function searchIn(
  file: string,
  answers: SearchAnswers | undefined,
  docs: ReportDocuments,
  deps: CommandDeps,
): Promise<{ uri: vscode.Uri; markdown: string; matched: number; keys: string[] }> {
  let prefix = answers?.prefix;
  let text = answers?.text;
  if (!answers) {
    const q = await vscode.window.showInputBox({
      title: `Search ${path.basename(file)}`,
      prompt: 'A key prefix (starting with /), or text to find in keys and values. Empty: list every key.',
      placeHolder: '/registry/secrets/   or   my-deployment',
      ignoreFocusOut: true,
    });
    if (q === undefined) cancelled();
    if (q.startsWith('/')) prefix = q;
    else if (q) text = q;
  }
  const limit = answers?.limit ?? 500;
  const found = await withCancellableProgress(`Searching ${path.basename(file)}…`, async ({ signal }) => {
    const { listKeys } = await import('../core/snapshot/inspect');
    if (!text) return listKeys(file, { signal, prefix, limit });
    // Text: keys containing it, then values containing it (each at the snapshot's revision).
    const [byKey, byValue] = [
      await listKeys(file, { signal, prefix, keyContains: text, limit }),
      await listKeys(file, { signal, prefix, valueContains: text, limit }),
    ];
    const seen = new Set(byKey.keys.map((k) => k.key));
    const keys = [...byKey.keys, ...byValue.keys.filter((k) => !seen.has(k.key))].sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, limit);
    return { matched: byKey.matched + byValue.keys.filter((k) => !seen.has(k.key)).length, keys };
  });
  const what = text
    ? `keys or values containing "${text}"${prefix ? ` under ${prefix}` : ''}`
    : prefix
      ? `keys under ${prefix}`
      : 'every key';
  const out = [
    `# ${markdownEscape(path.basename(file))}: ${markdownEscape(what)}`,
    '',
    `${found.matched} live key${found.matched === 1 ? '' : 's'} at the snapshot's ` +
      `revision${found.keys.length < found.matched ? `; the first ${found.keys.length} shown` : ''}.`,
    '',
  ];
  for (const k of found.keys) {
    const v = k.value;
    out.push(
      `## ${markdownEscape(k.key)}`,
      '',
      `revision ${k.modRevision} (created ${k.createRevision}, version ${k.version})${k.lease ? `, lease ${k.lease}` : ''}, ` +
        `${k.valueSize} bytes${v ? `, ${v.kind}` : ''}`,
      '',
    );
    if (v?.kind === 'text' || v?.kind === 'json') {
      const fence = v.text?.includes('```') ? '~~~~' : '```';
      out.push(`${fence}${v.kind === 'json' ? 'json' : 'text'}`, v.text ?? '', fence, ...(v.truncated ? ['', '_(shortened)_'] : []), '');
    } else if (v?.kind === 'k8s-protobuf') {
      out.push(
        `Kubernetes protobuf: **${markdownEscape(`${v.k8s?.apiVersion ?? '?'} ${v.k8s?.kind ?? '?'}`)}** ` +
          `${markdownEscape(`${v.k8s?.namespace ? `${v.k8s.namespace}/` : ''}${v.k8s?.name ?? ''}`)}`,
        '',
      );
      if (v.strings?.length) out.push('```text', v.strings.join('\n'), '```', '');
    } else if (v?.kind === 'binary') {
      out.push('```text', `${v.hex}${v.truncated ? ' …' : ''}`, '```', '');
    }
  }
  const markdown = out.join('\n');
  const uri = docs.add(`${path.basename(file)} keys`, markdown);
  deps.log.info(`Searched ${file} for ${what}: ${found.matched} keys`);
  await openReport(uri, answers?.preview, deps.log);
  return { uri, markdown, matched: found.matched, keys: found.keys.map((k) => k.key) };
}

export function registerSnapshotCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const docs = new ReportDocuments();
  context.subscriptions.push(docs, vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, docs));
  // (node | uri | path | { file }, answers?) from menus and tests, or answers alone.
  const command = commandRegistrar(context, deps.log);
  const lone = { loneAnswers: true };
  command<ReportAnswers>('etcdBackup.showSnapshotReport', (target, answers) => showReport(target, answers, docs, deps), lone);
  command<VerifyAnswers>('etcdBackup.verifySnapshot', (target, answers) => verify(target, answers, deps), lone);
  command<SearchAnswers>('etcdBackup.searchSnapshotKeys', (target, answers) => searchKeys(target, answers, docs, deps), lone);
  command<CompareAnswers>('etcdBackup.compareSnapshots', (target, answers) => compare(target, answers, docs, deps), lone);
}
