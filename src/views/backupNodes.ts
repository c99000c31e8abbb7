/**
 * The "Backups" node of a cluster: one per backup plan file (`etcdBackup.backupPlans`, or
 * /etc/etcd-backup/*.yaml when unset) whose `cluster.name` is the cluster's. It shows the plan
 * in one line, the newest good backup's age against the schedule (fresh / late / stale, from
 * the engine's `statusReport`), the next run and the last failure's sentence; its children
 * list the plan's local and remote backups together.
 *
 * The engine (yaml) is loaded when a cluster is expanded and the AWS SDK only when a Backups
 * node is expanded (to list the remote copies), never at activation.
 *
 * A plan with `follow.enabled` also shows its change-log follower first among the children
 * (running / stalled / not running, the last recorded revision and how far behind the cluster it
 * was at its last progress answer), read from the status file the follower rewrites every 2 s.
 *
 * contextValues: `backups:<fresh|late|stale|invalid>`, `backup:<local|remote>:<good|bad>` and
 * `message:follower<Running|Stalled|Stopped|Unknown>`.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import * as vscode from 'vscode';
import type { BackupPlan, KeepPolicy, LocalBackup, RemoteBackup, StatusReport } from '../core/backup';
import type { FollowerReport } from '../core/pitr/coverage';
import { humanizeBytes } from '../core/clusterStatus';
import { MessageNode, Node } from './nodes';

/** Where plans are looked for when `etcdBackup.backupPlans` is unset. */
export const DEFAULT_PLAN_DIR = '/etc/etcd-backup';

/** A plan file as read for the tree: the plan, or the sentence saying why it cannot be used. */
export interface PlanEntry {
  path: string;
  /** The cluster name the file names (also when the plan has problems), lower-cased for matching. */
  cluster?: string;
  plan?: BackupPlan;
  problem?: string;
}

/** The plan files to read: the setting's list, or the *.yaml files of the default folder. */
export async function planPaths(setting: string[] | undefined): Promise<string[]> {
  if (setting) return setting;
  const names = await fs.readdir(DEFAULT_PLAN_DIR).catch(() => [] as string[]);
  return names
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()
    .map((n) => join(DEFAULT_PLAN_DIR, n));
}

/** Read every plan file (the engine checks each; a broken one becomes a sentence). */
export async function readPlans(paths: string[]): Promise<PlanEntry[]> {
  const { loadPlan } = await import('../core/backup/plan');
  const { parseDocument } = await import('yaml');
  return Promise.all(
    paths.map(async (path): Promise<PlanEntry> => {
      try {
        const plan = await loadPlan(path);
        return { path, cluster: plan.cluster.name.toLowerCase(), plan };
      } catch (err) {
        const problem = err instanceof Error ? err.message : String(err);
        const text = await fs.readFile(path, 'utf8').catch(() => '');
        let name: unknown;
        try {
          name = (parseDocument(text).toJS() as { cluster?: { name?: unknown } } | null)?.cluster?.name;
        } catch {
          name = undefined;
        }
        return { path, cluster: typeof name === 'string' ? name.toLowerCase() : undefined, problem };
      }
    }),
  );
}

function keepText(k: KeepPolicy): string {
  const rules = Object.entries(k).filter(([r, n]) => r !== 'withinMs' && typeof n === 'number' && n > 0) as [string, number][];
  const parts = rules.length === 1 && rules[0][0] === 'last' ? [String(rules[0][1])] : rules.map(([r, n]) => `${r} ${n}`);
  if (k.withinMs) parts.push(`all within ${Math.round(k.withinMs / 3_600_000)} h`);
  return parts.join(', ');
}

/** "every 6 h · keep 5 here, 14 in s3://bucket/prefix · encrypted". */
export function planLine(plan: BackupPlan, intervalMs: number, formatDuration: (ms: number) => string): string {
  const parts = [`every ${formatDuration(intervalMs)}`];
  let keep = `keep ${keepText(plan.local.keep)} here`;
  if (plan.remote) keep += `, ${keepText(plan.remote.keep)} in s3://${plan.remote.s3.bucket}/${plan.remote.s3.prefix}`;
  parts.push(keep);
  if (plan.remote) parts.push(plan.encrypt ? 'encrypted' : 'not encrypted');
  return parts.join(' · ');
}

export type Freshness = 'fresh' | 'late' | 'stale';

/** The plan's state: stale as the engine says (no good backup within twice the interval), late past one interval. */
export function freshnessOf(r: StatusReport): Freshness {
  if (r.stale) return 'stale';
  return r.destinations.some((d) => (d.lastSuccessAgeMs ?? Infinity) > r.intervalMs) ? 'late' : 'fresh';
}

const COLOR: Record<Freshness, string> = { fresh: 'charts.green', late: 'charts.yellow', stale: 'charts.red' };

/** The last failure that came after the last success of its destination, if any. */
function currentFailure(r: StatusReport): { destination: string; at: string; message: string } | undefined {
  for (const d of r.destinations) {
    const f = d.status?.lastFailure;
    if (f && (!d.status?.lastSuccess || Date.parse(f.at) >= Date.parse(d.status.lastSuccess.at))) {
      return { destination: d.destination, at: f.at, message: f.message };
    }
  }
  return undefined;
}

/** The Backups node of one plan under a cluster. */
export class BackupsNode extends Node {
  constructor(
    parent: Node,
    readonly entry: PlanEntry,
    readonly report: StatusReport | undefined,
    private readonly formatDuration: (ms: number) => string,
    /** The change-log follower's state, when the plan enables it. */
    readonly follower?: FollowerReport,
  ) {
    super(parent);
  }
  get id(): string {
    return `${this.parent?.id}/backups:${this.entry.path}`;
  }
  get plan(): BackupPlan | undefined {
    return this.entry.plan;
  }
  get freshness(): Freshness | undefined {
    return this.report ? freshnessOf(this.report) : undefined;
  }
  get failure(): { destination: string; at: string; message: string } | undefined {
    return this.report ? currentFailure(this.report) : undefined;
  }
  /** `backups:<fresh|late|stale|invalid>`. */
  get contextValue(): string {
    return `backups:${this.freshness ?? 'invalid'}`;
  }
  /** "fresh · 2 h ago", "stale · remote: none yet", "late · local 7 h ago". */
  ageText(): string {
    const r = this.report;
    if (!r) return '';
    const f = freshnessOf(r);
    const ages = r.destinations.map((d) => d.lastSuccessAgeMs);
    if (f === 'fresh') return `fresh · ${this.formatDuration(Math.min(...(ages as number[])))} ago`;
    const worst = [...r.destinations].sort((a, b) => (b.lastSuccessAgeMs ?? Infinity) - (a.lastSuccessAgeMs ?? Infinity))[0];
    const age = worst.lastSuccessAgeMs === undefined ? 'none yet' : `${this.formatDuration(worst.lastSuccessAgeMs)} ago`;
    return `${f} · ${r.destinations.length > 1 ? `${worst.destination}: ` : ''}${age}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem('Backups', vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.contextValue = this.contextValue;
    const plan = this.plan;
    const r = this.report;
    if (!plan || !r) {
      item.description = this.entry.problem;
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.yellow'));
      item.tooltip = `${this.entry.path}: ${this.entry.problem ?? ''}`;
      return item;
    }
    const f = freshnessOf(r);
    const line = planLine(plan, r.intervalMs, this.formatDuration);
    const next = r.nextRun ? `next ${r.nextRun.toLocaleString()}` : 'no next run';
    item.description = `${this.ageText()} · ${next} · ${line}`;
    item.iconPath = new vscode.ThemeIcon(this.failure ? 'error' : 'history', new vscode.ThemeColor(this.failure ? 'charts.red' : COLOR[f]));
    const md = new vscode.MarkdownString(undefined, true);
    md.appendText(`Plan ${plan.path}\n\n${line}\n\n${this.ageText()}, ${next}\n`);
    for (const d of r.destinations) {
      const age =
        d.lastSuccessAgeMs === undefined ? 'no good backup yet' : `last good backup ${this.formatDuration(d.lastSuccessAgeMs)} ago`;
      md.appendText(`\n${d.destination}: ${age}${d.stale ? ' (stale)' : ''}\n`);
    }
    const fail = this.failure;
    if (fail) md.appendText(`\nLast failure (${fail.destination}, ${new Date(fail.at).toLocaleString()}): ${fail.message}\n`);
    if (this.follower) md.appendText(`\nChange log: ${followerLine(this.follower, this.formatDuration).message}\n`);
    item.tooltip = md;
    return item;
  }
  override async children(): Promise<Node[]> {
    const plan = this.plan;
    if (!plan) {
      const message = this.entry.problem ?? 'The plan cannot be read.';
      return [new MessageNode(this, { id: 'problem', message, kind: 'planProblem', icon: 'warning', color: 'charts.yellow' })];
    }
    const out: Node[] = [];
    if (this.follower) {
      const f = followerLine(this.follower, this.formatDuration);
      out.push(new MessageNode(this, { id: 'follower', kind: `follower${f.state}`, ...f, detail: `${f.message} (${this.follower.file})` }));
    }
    const fail = this.failure;
    if (fail) {
      out.push(
        new MessageNode(this, {
          id: 'failure',
          message: fail.message,
          kind: 'backupFailure',
          icon: 'error',
          color: 'charts.red',
          description: `${fail.destination}, ${new Date(fail.at).toLocaleString()}`,
        }),
      );
    }
    const { listLocal, listRemote, openPlanStore } = await import('../core/backup');
    const local = await listLocal(plan).then(
      (x) => x.backups,
      (err: Error) => err,
    );
    let remote: RemoteBackup[] | Error = [];
    if (plan.remote) {
      // The AWS SDK is loaded here, on expand.
      const store = await openPlanStore(plan).catch((err: Error) => err);
      if (store instanceof Error) remote = store;
      else {
        remote = await listRemote(plan, store).then(
          (x) => x.backups,
          (err: Error) => err,
        );
        store.close();
      }
    }
    const listError = (id: string, message: string): MessageNode =>
      new MessageNode(this, { id, message, kind: 'backupListError', icon: 'warning', color: 'charts.yellow' });
    if (local instanceof Error) out.push(listError('localError', `${plan.local.dir}: ${local.message}`));
    if (remote instanceof Error) out.push(listError('remoteError', remote.message));
    const all: (LocalBackup | RemoteBackup)[] = [...(local instanceof Error ? [] : local), ...(remote instanceof Error ? [] : remote)];
    all.sort((a, b) => b.time.getTime() - a.time.getTime() || a.where.localeCompare(b.where));
    for (const b of all) out.push(new BackupNode(this, b));
    if (all.length === 0 && !(local instanceof Error) && !(remote instanceof Error)) {
      out.push(new MessageNode(this, { id: 'empty', message: 'No backups yet', kind: 'noBackups' }));
    }
    return out;
  }
}

const FOLLOWER_LOOK = {
  running: { state: 'Running', icon: 'pulse', color: 'charts.green', word: 'follower running' },
  stalled: { state: 'Stalled', icon: 'debug-pause', color: 'charts.yellow', word: 'follower not answering' },
  stopped: { state: 'Stopped', icon: 'circle-slash', color: 'charts.red', word: 'follower not running' },
  unknown: { state: 'Unknown', icon: 'question', color: 'charts.yellow', word: 'follower state unknown' },
} as const;

/** "follower running · revision 5012 recorded · up to date" and the look of the follower's row. */
export function followerLine(
  f: FollowerReport,
  formatDuration: (ms: number) => string,
): { state: string; icon: string; color: string; message: string; description?: string } {
  const look = FOLLOWER_LOOK[f.state];
  const parts: string[] = [look.word];
  if (f.recorded !== undefined) parts.push(`revision ${f.recorded} recorded`);
  if (f.behindRevisions === 0) parts.push(f.state === 'running' ? 'up to date' : 'was up to date');
  else if (f.behindRevisions !== undefined) {
    parts.push(`${f.behindRevisions} revisions behind${f.lagMs !== undefined ? ` (${formatDuration(f.lagMs)})` : ''}`);
  }
  const description = f.state === 'running' || f.ageMs === undefined ? undefined : `status written ${formatDuration(f.ageMs)} ago`;
  if (!f.status) parts.push('no status file');
  return { state: look.state, icon: look.icon, color: look.color, message: parts.join(' · '), description };
}

/** One backup of a plan, local (a snapshot file with its sidecar) or remote (an object). */
export class BackupNode extends Node {
  constructor(
    override readonly parent: BackupsNode,
    readonly backup: LocalBackup | RemoteBackup,
  ) {
    super(parent);
  }
  get id(): string {
    return `${this.parent.id}/${this.backup.where}:${this.backup.name}`;
  }
  /** `backup:<local|remote>:<good|bad>`. */
  get contextValue(): string {
    return `backup:${this.backup.where}:${this.backup.good ? 'good' : 'bad'}`;
  }
  /** The local snapshot file (so the snapshot commands work on it). */
  get resourceUri(): vscode.Uri | undefined {
    return this.backup.where === 'local' ? vscode.Uri.file(this.backup.file) : undefined;
  }
  toTreeItem(): vscode.TreeItem {
    const b = this.backup;
    const item = new vscode.TreeItem(b.name, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.contextValue = this.contextValue;
    if (this.resourceUri) item.resourceUri = this.resourceUri;
    const where = b.where === 'local' ? 'local' : `s3://${this.parent.plan?.remote?.s3.bucket}/${this.parent.plan?.remote?.s3.prefix}`;
    const rev = b.revision !== undefined ? ` · rev ${b.revision}` : '';
    item.description = `${b.where} · ${b.time.toLocaleString()} · ${humanizeBytes(b.size)}${rev}` + `${b.good ? '' : ' · not checked'}`;
    const icon = b.where === 'local' ? 'database' : 'cloud';
    item.iconPath = new vscode.ThemeIcon(b.good ? icon : 'warning', b.good ? undefined : new vscode.ThemeColor('charts.yellow'));
    item.tooltip = `${b.name} (${where}${b.where === 'local' ? `: ${b.file}` : `${b.object ?? b.metadataObject}`})`;
    return item;
  }
}

/** The Backups nodes of a cluster: every plan naming it, with its status read now. */
export async function backupsNodesFor(parent: Node, clusterName: string, setting: string[] | undefined): Promise<Node[]> {
  const paths = await planPaths(setting);
  if (paths.length === 0) return [];
  const entries = (await readPlans(paths)).filter((e) => e.cluster === clusterName.toLowerCase());
  if (entries.length === 0) return [];
  const { statusReport, formatDuration } = await import('../core/backup');
  const { followerReport, followStatusFile } = await import('../core/pitr/coverage');
  return Promise.all(
    entries.map(async (e) => {
      const report = e.plan ? await statusReport(e.plan).catch(() => undefined) : undefined;
      const follower = e.plan?.follow.enabled ? await followerReport(followStatusFile(e.plan.local.dir)) : undefined;
      return new BackupsNode(parent, e, report, formatDuration, follower);
    }),
  );
}
