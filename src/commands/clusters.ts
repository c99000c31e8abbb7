/**
 * Cluster commands: Add, Edit, Remove, Import, Refresh/Retry, Endpoint Health, Endpoint Status,
 * Copy etcdctl Command. Every handler takes the tree node (or nothing: it asks with a quick
 * pick), and an optional answers object so tests can run it without any UI; each returns a
 * value tests can assert.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { ClusterOverview, EndpointProbe } from '../core/clusterStatus';
import { formatEndpointHealth, formatEndpointStatusTable, formatMemberTable } from '../core/clusterStatus';
import { clusterNameProblem, parseEndpointList, validateCluster } from '../core/config';
import { EtcdBackupError } from '../core/errors';
import { buildEtcdctlCommand } from '../core/etcdctlCommand';
import type { ClusterConfig, EndpointHealth, EndpointStatus } from '../core/types';
import { DEFAULT_TIMEOUT_MS } from '../core/types';
import { summaryOf } from '../hints';
import type { ClusterSource, Settings } from '../settings';
import { clusterNodeOf, MemberNode } from '../views/clustersView';
import { Node } from '../views/nodes';
import { cancelled, CommandDeps, commandRegistrar } from './common';

/** The cluster a command is about (a tree node, a name, `{ cluster: name }`); asks with a quick pick when there is none. */
export async function resolveCluster(arg: unknown, deps: CommandDeps, placeHolder = 'Which cluster?'): Promise<ClusterConfig> {
  if (arg instanceof Node) {
    const n = clusterNodeOf(arg);
    if (n) return deps.settings.cluster(n.cluster.name) ?? n.cluster;
  }
  const name =
    typeof arg === 'string'
      ? arg
      : typeof arg === 'object' && arg !== null && typeof (arg as { cluster?: unknown }).cluster === 'string'
        ? (arg as { cluster: string }).cluster
        : undefined;
  if (name !== undefined) {
    const c = deps.settings.cluster(name);
    if (!c) {
      throw new EtcdBackupError('notFound', `No cluster named "${name}" is configured. Add it first, or check the name in the settings.`);
    }
    return c;
  }
  const clusters = deps.settings.clusters().clusters;
  if (!clusters.length) {
    throw new EtcdBackupError('notFound', 'No cluster is configured yet. Run "etcd: Add Cluster" or "etcd: Import Cluster" first.');
  }
  if (clusters.length === 1) {
    return clusters[0];
  }
  const pick = await vscode.window.showQuickPick(
    clusters.map((c) => {
      const o = deps.tree.cached(c.name);
      return { label: c.name, description: o ? summaryOf(o) : c.endpoints.join(', '), cluster: c };
    }),
    { placeHolder, ignoreFocusOut: true },
  );
  return pick?.cluster ?? cancelled();
}

// ---------------------------------------------------------------------------------------
// Add / Edit

/** Answers for Add Cluster / Edit Cluster (tests pass these; nothing is asked then). */
export interface ClusterAnswers {
  name?: string;
  endpoints?: string | string[];
  caFile?: string | null;
  certFile?: string | null;
  keyFile?: string | null;
  insecureSkipVerify?: boolean;
  username?: string | null;
  /** Stored in the secret storage, never in settings. */
  password?: string;
  snapshotDir?: string | null;
  timeoutMs?: number;
  /** Where to save a new cluster (default: user settings). */
  source?: ClusterSource;
  /** Test the connection before saving (default true). */
  test?: boolean;
  /** What to do when the test fails: save anyway, or not (default: not). */
  onTestFailure?: 'save' | 'cancel';
}

export interface ConnectionTest {
  ok: boolean;
  kind?: string;
  message: string;
  summary?: string;
}

export interface SaveResult {
  saved: boolean;
  cluster?: ClusterConfig;
  source?: ClusterSource;
  test?: ConnectionTest;
}

export interface Draft {
  name: string;
  endpoints: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecureSkipVerify?: boolean;
  username?: string;
  password?: string;
  snapshotDir?: string;
  timeoutMs?: number;
}

export function draftOf(c: ClusterConfig | undefined): Draft {
  return {
    name: c?.name ?? '',
    endpoints: c?.endpoints.join(', ') ?? '',
    caFile: c?.tls?.caFile,
    certFile: c?.tls?.certFile,
    keyFile: c?.tls?.keyFile,
    insecureSkipVerify: c?.tls?.insecureSkipVerify,
    username: c?.username,
    snapshotDir: c?.snapshotDir,
    timeoutMs: c?.timeoutMs,
  };
}

function mergeAnswers(d: Draft, a: ClusterAnswers): Draft {
  const pick = <T>(v: T | null | undefined, old: T | undefined): T | undefined => (v === null ? undefined : v === undefined ? old : v);
  return {
    name: a.name ?? d.name,
    endpoints: a.endpoints === undefined ? d.endpoints : Array.isArray(a.endpoints) ? a.endpoints.join(', ') : a.endpoints,
    caFile: pick(a.caFile, d.caFile),
    certFile: pick(a.certFile, d.certFile),
    keyFile: pick(a.keyFile, d.keyFile),
    insecureSkipVerify: a.insecureSkipVerify ?? d.insecureSkipVerify,
    username: pick(a.username, d.username),
    password: a.password ?? d.password,
    snapshotDir: pick(a.snapshotDir, d.snapshotDir),
    timeoutMs: a.timeoutMs ?? d.timeoutMs,
  };
}

/** The draft as a validated cluster, or an `invalidInput` error with every problem. */
function clusterOfDraft(d: Draft): ClusterConfig {
  const parsed = parseEndpointList(d.endpoints);
  if (parsed.problems.length) {
    throw new EtcdBackupError('invalidInput', `Endpoints: ${parsed.problems.join(' ')}`);
  }
  const tls =
    d.caFile || d.certFile || d.keyFile || d.insecureSkipVerify
      ? { caFile: d.caFile, certFile: d.certFile, keyFile: d.keyFile, insecureSkipVerify: d.insecureSkipVerify }
      : undefined;
  const v = validateCluster({
    name: d.name,
    endpoints: parsed.endpoints,
    tls,
    username: d.username,
    snapshotDir: d.snapshotDir,
    timeoutMs: d.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  if (!v.cluster) {
    throw new EtcdBackupError('invalidInput', v.problems.join(' '));
  }
  return v.cluster;
}

async function input(title: string, step: string, opts: vscode.InputBoxOptions): Promise<string> {
  const v = await vscode.window.showInputBox({ title: `${title} (${step})`, ignoreFocusOut: true, ...opts });
  return v ?? cancelled();
}

/** Pick a file (or folder) with the native dialog, keep the current one, or none. */
async function pickPath(
  title: string,
  step: string,
  what: string,
  current: string | undefined,
  opts: { folder?: boolean; required?: boolean; near?: string },
): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { action: 'choose' | 'keep' | 'none' | 'type' };
  const items: Item[] = [];
  if (current) items.push({ label: `$(check) Keep ${current}`, action: 'keep' });
  items.push({ label: `$(folder-opened) Choose ${opts.folder ? 'folder' : 'file'}…`, action: 'choose' });
  items.push({ label: '$(edit) Type a path…', action: 'type' });
  if (!opts.required) items.push({ label: `$(close) No ${what}`, action: 'none' });
  const pick = await vscode.window.showQuickPick(items, { title: `${title} (${step})`, placeHolder: what, ignoreFocusOut: true });
  if (!pick) cancelled();
  if (pick.action === 'keep') return current;
  if (pick.action === 'none') return undefined;
  if (pick.action === 'type') {
    return (await input(title, step, { prompt: what, value: current ?? opts.near ?? '' })).trim() || undefined;
  }
  const base = current ? path.dirname(current) : opts.near;
  const uris = await vscode.window.showOpenDialog({
    title: `${title}: ${what}`,
    canSelectFiles: !opts.folder,
    canSelectFolders: Boolean(opts.folder),
    canSelectMany: false,
    defaultUri: base ? vscode.Uri.file(base) : undefined,
    openLabel: opts.folder ? 'Use Folder' : 'Use File',
  });
  return uris?.[0]?.fsPath ?? cancelled();
}

/** The multi-step input (name, endpoints, TLS files, user and password, snapshot folder). */
async function askDraft(title: string, d: Draft, deps: CommandDeps, editing?: string): Promise<Draft> {
  const out: Draft = { ...d };
  const total = 6;
  out.name = (
    await input(title, `1/${total}`, {
      prompt: 'Name of the cluster, as the tree shows it',
      value: d.name,
      validateInput: (v) => clusterNameProblem(v, deps.settings.allNames(), editing),
    })
  ).trim();
  out.endpoints = await input(title, `2/${total}`, {
    prompt: 'Client URLs of the members, separated by commas (e.g. https://10.0.0.11:2379, https://10.0.0.12:2379)',
    value: d.endpoints,
    placeHolder: 'https://127.0.0.1:2379',
    validateInput: (v) => {
      const p = parseEndpointList(v).problems;
      return p.length ? p.join(' ') : undefined;
    },
  });
  const https = parseEndpointList(out.endpoints).endpoints.some((e) => e.startsWith('https://'));
  if (https) {
    const near = '/etc/kubernetes/pki/etcd';
    out.caFile = await pickPath(title, `3/${total}`, 'CA certificate (--cacert)', d.caFile, { near });
    out.certFile = await pickPath(title, `4/${total}`, 'client certificate (--cert)', d.certFile, {
      near: out.caFile ? path.dirname(out.caFile) : near,
    });
    out.keyFile = out.certFile
      ? await pickPath(title, `4/${total}`, 'client key (--key)', d.keyFile ?? out.certFile.replace(/\.(crt|pem)$/, '.key'), {
          required: true,
          near: path.dirname(out.certFile),
        })
      : undefined;
  } else {
    out.caFile = out.certFile = out.keyFile = undefined;
  }
  const user = (
    await input(title, `5/${total}`, {
      prompt: 'etcd user name (--user); leave empty when the cluster has no authentication',
      value: d.username ?? '',
      validateInput: (v) => (v.includes(':') ? 'Give the user name alone, without ":password".' : undefined),
    })
  ).trim();
  out.username = user || undefined;
  if (out.username) {
    const hasOld = editing ? (await deps.settings.password(editing)) !== undefined : false;
    const pw = await vscode.window.showInputBox({
      title: `${title} (5/${total})`,
      prompt: hasOld
        ? `Password of ${out.username} (kept in the secret storage); leave empty to keep the saved one`
        : `Password of ${out.username} (kept in the secret storage, never in settings)`,
      password: true,
      ignoreFocusOut: true,
    });
    if (pw === undefined) cancelled();
    out.password = pw === '' && hasOld ? undefined : pw;
  }
  out.snapshotDir = await pickPath(title, `6/${total}`, 'folder for snapshots of this cluster', d.snapshotDir, { folder: true });
  return out;
}

/** Try the cluster with the deadline; say what happened in one sentence. */
export async function testConnection(
  cluster: ClusterConfig,
  password: string | undefined,
  deps: CommandDeps,
  withUi: boolean,
): Promise<ConnectionTest> {
  const run = async (): Promise<ConnectionTest> => {
    const o = await deps.etcd.overview(cluster, password);
    if (o.reachable) {
      return { ok: true, message: `Connected to "${cluster.name}": ${summaryOf(o)}.`, summary: summaryOf(o) };
    }
    return { ok: false, kind: o.error?.kind, message: o.error?.message ?? 'No endpoint answered.', summary: summaryOf(o) };
  };
  if (!withUi) return run();
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Connecting to ${cluster.endpoints.join(', ')}…` },
    run,
  );
}

export async function saveFlow(
  title: string,
  initial: Draft,
  deps: CommandDeps,
  answers: ClusterAnswers | undefined,
  editing?: string,
): Promise<SaveResult> {
  let draft = answers ? mergeAnswers(initial, answers) : initial;
  for (;;) {
    if (!answers) {
      draft = await askDraft(title, draft, deps, editing);
    }
    const nameProblem = clusterNameProblem(draft.name, deps.settings.allNames(), editing);
    if (nameProblem) {
      throw new EtcdBackupError('invalidInput', nameProblem);
    }
    const cluster = clusterOfDraft(draft);
    let test: ConnectionTest | undefined;
    if (answers?.test !== false) {
      // An edit that does not change the password tests with the saved one (under the old name).
      const password = draft.password ?? (editing ? await deps.settings.password(editing) : undefined);
      test = await testConnection(cluster, password, deps, !answers);
      if (!test.ok) {
        deps.log.warn(`${title}: ${test.message}`);
        let choice: string | undefined;
        if (answers) {
          choice = answers.onTestFailure === 'save' ? 'Save Anyway' : undefined;
        } else {
          choice = await vscode.window.showWarningMessage(
            `Could not connect to "${cluster.name}": ${test.message}`,
            { modal: true },
            'Save Anyway',
            'Edit',
          );
        }
        if (choice === 'Edit') {
          continue;
        }
        if (choice !== 'Save Anyway') {
          return { saved: false, cluster, test };
        }
      }
    }
    let source = answers?.source;
    if (!source && !editing && !answers && vscode.workspace.workspaceFolders?.length && vscode.workspace.isTrusted) {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'User settings', description: 'etcdBackup.clusters: every window', source: 'user' as const },
          { label: 'Workspace settings', description: 'etcdBackup.workspaceClusters: this workspace only', source: 'workspace' as const },
        ],
        { title: `${title}: save where?`, ignoreFocusOut: true },
      );
      source = pick?.source ?? cancelled();
    }
    const saved = await deps.settings.saveCluster(cluster, { source, replaces: editing });
    if (cluster.username && draft.password !== undefined) {
      await deps.settings.setPassword(cluster.name, draft.password);
    }
    if (editing && !cluster.username) {
      await deps.settings.deletePassword(cluster.name);
    }
    deps.log.info(`${editing ? 'Updated' : 'Added'} cluster "${cluster.name}" in ${saved} settings.`);
    if (!answers) {
      void vscode.window.showInformationMessage(test?.ok ? test.message : `Saved cluster "${cluster.name}".`);
    }
    await deps.tree.refresh(cluster.name).catch(() => undefined);
    return { saved: true, cluster, source: saved, test };
  }
}

// ---------------------------------------------------------------------------------------
// Endpoint health / status

export interface ShowAnswers {
  /** Open the report in an editor (default true). */
  show?: boolean;
}

/** The probes worth a row: one per member (configured endpoints first), then failures. */
function rowsOf(o: ClusterOverview): { answered: EndpointProbe[]; failed: EndpointProbe[] } {
  const byMember = new Map<string, EndpointProbe>();
  for (const p of [...o.probes].sort((a, b) => Number(b.configured) - Number(a.configured))) {
    if (p.status && !byMember.has(p.status.memberId)) byMember.set(p.status.memberId, p);
  }
  const answeredIds = new Set(byMember.keys());
  const failed = o.probes.filter(
    (p) => p.statusError && (p.configured || !o.members.some((m) => m.clientURLs.includes(p.endpoint) && answeredIds.has(m.id))),
  );
  return { answered: [...byMember.values()], failed };
}

/** Endpoint Status / Health open as read-only documents (never dirty Untitled ones that ask to be saved). */
const TEXT_REPORT_SCHEME = 'etcd-backup-text';
const textReports = new Map<string, string>();
let textReportCounter = 0;

function registerTextReports(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(TEXT_REPORT_SCHEME, {
      provideTextDocumentContent: (uri) => textReports.get(uri.toString()) ?? '',
    }),
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (d.uri.scheme === TEXT_REPORT_SCHEME) textReports.delete(d.uri.toString());
    }),
  );
}

async function showReport(text: string, answers: ShowAnswers | undefined, title: string): Promise<vscode.Uri | undefined> {
  if (answers?.show === false) return undefined;
  const uri = vscode.Uri.from({
    scheme: TEXT_REPORT_SCHEME,
    path: `/${title.replace(/[\\/:*?"<>|]/g, '_')}.txt`,
    query: String(++textReportCounter),
  });
  textReports.set(uri.toString(), text);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc, { preview: true });
  return uri;
}

function header(cluster: ClusterConfig, what: string, settings: Settings, args: string[]): string {
  const cmd = buildEtcdctlCommand(cluster, { program: settings.etcdctlPath(), args });
  return `# ${what} of cluster "${cluster.name}" at ${new Date().toISOString()}\n# Same as: ${cmd.shell}\n\n`;
}

export interface HealthResult {
  cluster: string;
  health: EndpointHealth[];
  text: string;
  /** The read-only document shown. */
  uri?: vscode.Uri;
}

export interface StatusResult {
  cluster: string;
  statuses: EndpointStatus[];
  failures: { endpoint: string; error: string }[];
  text: string;
  /** The read-only document shown. */
  uri?: vscode.Uri;
}

async function endpointHealthCommand(arg: unknown, answers: ShowAnswers | undefined, deps: CommandDeps): Promise<HealthResult> {
  const cluster = await resolveCluster(arg, deps, 'Check the health of which cluster?');
  const [o] = await deps.tree.refresh(cluster.name);
  const { answered, failed } = rowsOf(o);
  const health: EndpointHealth[] = [
    ...answered.map((p) => p.health ?? { endpoint: p.endpoint, healthy: false, tookMs: 0, error: 'no answer' }),
    ...failed.map((p) => ({
      endpoint: p.endpoint,
      healthy: false,
      tookMs: 0,
      error: p.statusError?.message,
      errorKind: p.statusError?.kind,
    })),
  ];
  const head = header(cluster, 'Endpoint health', deps.settings, ['endpoint', 'health', '-w', 'table']);
  const text = `${head}${formatEndpointHealth(health, true)}\n\n${formatEndpointHealth(health)}\n`;
  const uri = await showReport(text, answers, `Endpoint Health of ${cluster.name}`);
  const ok = health.filter((h) => h.healthy).length;
  if (!answers) {
    const msg = `${cluster.name}: ${ok}/${health.length} endpoints healthy.`;
    void (ok === health.length ? vscode.window.showInformationMessage(msg) : vscode.window.showWarningMessage(msg));
  }
  return { cluster: cluster.name, health, text, ...(uri ? { uri } : {}) };
}

async function endpointStatusCommand(arg: unknown, answers: ShowAnswers | undefined, deps: CommandDeps): Promise<StatusResult> {
  const cluster = await resolveCluster(arg, deps, 'Show the endpoint status of which cluster?');
  const [o] = await deps.tree.refresh(cluster.name);
  if (!o.reachable) {
    throw new EtcdBackupError(o.error?.kind ?? 'unreachable', o.error?.message ?? `No endpoint of "${cluster.name}" answered.`);
  }
  const { answered, failed } = rowsOf(o);
  const statuses = answered.map((p) => p.status as EndpointStatus);
  const failures = failed.map((p) => ({ endpoint: p.endpoint, error: p.statusError?.message ?? 'no answer' }));
  const head = header(cluster, 'Endpoint status', deps.settings, ['endpoint', 'status', '-w', 'table']);
  const text =
    `${head}${formatEndpointStatusTable(statuses, failures)}\n\n` +
    `# Members (etcdctl member list -w table)\n${formatMemberTable(o.members)}\n`;
  const uri = await showReport(text, answers, `Endpoint Status of ${cluster.name}`);
  return { cluster: cluster.name, statuses, failures, text, ...(uri ? { uri } : {}) };
}

// ---------------------------------------------------------------------------------------
// Registration

export function registerClusterCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const { tree } = deps;
  const command = commandRegistrar(context, deps.log);
  registerTextReports(context);

  command('etcdBackup.refresh', async (target) => {
    const overviews = await tree.refresh(target instanceof Node || typeof target === 'string' ? target : undefined);
    return overviews.map((o) => ({ cluster: o.cluster, summary: summaryOf(o) }));
  });
  command('etcdBackup.retryCluster', async (target) => {
    const cluster = await resolveCluster(target, deps, 'Retry which cluster?');
    const [o] = await tree.refresh(cluster.name);
    return o;
  });
  command<ClusterAnswers>('etcdBackup.addCluster', (_target, answers) => saveFlow('Add etcd Cluster', draftOf(undefined), deps, answers), {
    loneAnswers: true,
  });
  command<ClusterAnswers>('etcdBackup.editCluster', async (target, answers) => {
    const cluster = await resolveCluster(target, deps, 'Edit which cluster?');
    return saveFlow(`Edit ${cluster.name}`, draftOf(cluster), deps, answers, cluster.name);
  });
  command<{ confirm?: boolean }>('etcdBackup.removeCluster', (target, answers) => removeClusterCommand(target, answers, deps));
  command<ShowAnswers>('etcdBackup.endpointHealth', (target, answers) => endpointHealthCommand(target, answers, deps));
  command<ShowAnswers>('etcdBackup.endpointStatus', (target, answers) => endpointStatusCommand(target, answers, deps));
  command<{ args?: string[] }>('etcdBackup.copyEtcdctlCommand', (target, answers) => copyEtcdctlCommand(target, answers, deps));
}

async function removeClusterCommand(
  target: unknown,
  answers: { confirm?: boolean } | undefined,
  deps: CommandDeps,
): Promise<{ removed: boolean; cluster: string }> {
  const cluster = await resolveCluster(target, deps, 'Remove which cluster from the settings?');
  const keep = cluster.snapshotDir ? ` Its snapshots in ${cluster.snapshotDir} stay where they are.` : '';
  const question = `Remove cluster "${cluster.name}" from the settings? etcd itself is not touched.${keep}`;
  const ok = answers
    ? answers.confirm === true
    : (await vscode.window.showWarningMessage(question, { modal: true }, 'Remove')) === 'Remove';
  if (!ok) {
    return { removed: false, cluster: cluster.name };
  }
  const removed = await deps.settings.removeCluster(cluster.name);
  deps.log.info(`Removed cluster "${cluster.name}" from the settings.`);
  return { removed, cluster: cluster.name };
}

async function copyEtcdctlCommand(target: unknown, answers: { args?: string[] } | undefined, deps: CommandDeps): Promise<string> {
  const cluster = await resolveCluster(target, deps, 'Copy the etcdctl command for which cluster?');
  // On a member node: only that member's endpoint (etcdctl snapshot save wants exactly one).
  const endpoints = target instanceof MemberNode && target.member.clientURLs.length ? target.member.clientURLs : undefined;
  const cmd = buildEtcdctlCommand(cluster, { program: deps.settings.etcdctlPath(), endpoints, args: answers?.args });
  await vscode.env.clipboard.writeText(cmd.shell);
  if (!answers) {
    const note = cluster.username ? ` etcdctl will ask for the password of ${cluster.username}.` : '';
    void vscode.window.showInformationMessage(
      `Copied the etcdctl command for "${cluster.name}" (add a sub-command such as "member list -w table").${note}`,
    );
  }
  return cmd.shell;
}
