import * as vscode from 'vscode';
import { ClusterOverview, humanizeBytes, MemberOverview, memberSummary, lostQuorum, roundedDuration } from '../core/clusterStatus';
import type { ClusterConfig } from '../core/types';
import type { EtcdService } from '../etcdService';
import { summaryOf } from '../hints';
import { v2DataAtRisk, v2Summary, v2Warning, V2_WAY_OUT } from '../core/v2store';
import type { Log } from '../log';
import type { Settings } from '../settings';
import { backupsNodesFor } from './backupNodes';
import { MessageNode, Node } from './nodes';
import { setSnapshotStatusListener, SnapshotsFolderNode } from './snapshotNodes';

/** The cluster a node belongs to (itself for a cluster node), or undefined for root messages. */
export function clusterNodeOf(node: Node | undefined): ClusterNode | undefined {
  let n = node;
  while (n && !(n instanceof ClusterNode)) {
    n = n.parent;
  }
  return n;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+!|<>]/g, (c) => `\\${c}`);
}

function table(rows: [string, string | undefined][]): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown('| | |\n|---|---|\n');
  for (const [k, v] of rows) {
    if (v !== undefined && v !== '') {
      md.appendMarkdown(`| **${escapeMd(k)}** | ${escapeMd(v)} |\n`);
    }
  }
  return md;
}

export class ClusterNode extends Node {
  constructor(
    readonly cluster: ClusterConfig,
    private readonly provider: ClustersProvider,
  ) {
    super(undefined);
  }
  get id(): string {
    return `cluster:${this.cluster.name}`;
  }
  get overview(): ClusterOverview | undefined {
    return this.provider.cached(this.cluster.name);
  }
  /** The deadline of one gathering, as the row says it while it waits ("5 s"). */
  get deadline(): string {
    return roundedDuration(this.cluster.timeoutMs ?? 5000);
  }
  /** `cluster:loading`, `cluster:unreachable`, `cluster:quorumLost`, `cluster:reachable:healthy`, `cluster:reachable:degraded`. */
  get contextValue(): string {
    const o = this.overview;
    if (!o) return 'cluster:loading';
    if (!o.reachable) return 'cluster:unreachable';
    if (lostQuorum(o)) return 'cluster:quorumLost';
    return `cluster:reachable:${o.members.length > 0 && o.members.every((m) => m.healthy) ? 'healthy' : 'degraded'}`;
  }
  toTreeItem(): vscode.TreeItem {
    const o = this.overview;
    const item = new vscode.TreeItem(this.cluster.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.contextValue = this.contextValue;
    const waiting = this.provider.stillTrying(this.cluster.name);
    if (waiting || !o) {
      // A gathering that takes long says so, instead of showing what an older one found.
      item.description = waiting ? `still trying (${this.deadline} deadline)` : 'connecting…';
      item.iconPath = new vscode.ThemeIcon('loading~spin');
    } else {
      item.description = summaryOf(o);
      const state = this.contextValue;
      item.iconPath =
        state === 'cluster:quorumLost'
          ? new vscode.ThemeIcon('flame', new vscode.ThemeColor('charts.red'))
          : new vscode.ThemeIcon(
              state === 'cluster:unreachable' ? 'debug-disconnect' : 'server-environment',
              new vscode.ThemeColor(
                state === 'cluster:unreachable' ? 'charts.red' : state.endsWith('healthy') ? 'charts.green' : 'charts.yellow',
              ),
            );
    }
    const tls = this.cluster.tls;
    item.tooltip = table([
      ['Cluster', this.cluster.name],
      ['Summary', waiting ? `still trying (${this.deadline} deadline)` : o ? summaryOf(o) : 'connecting…'],
      ['Last known', waiting && o ? summaryOf(o) : undefined],
      ['Endpoints', this.cluster.endpoints.join(', ')],
      ['Cluster ID', o?.clusterId],
      ['CA', tls?.caFile],
      ['Client cert', tls?.certFile],
      ['Client key', tls?.keyFile],
      ['User', this.cluster.username],
      ['Snapshots', this.cluster.snapshotDir],
      ['Timeout', `${this.cluster.timeoutMs ?? 5000} ms`],
      ['Error', o?.error?.message],
      ['v2 store', o?.v2Store ? (v2Warning(o.v2Store) ?? v2Summary(o.v2Store)) : undefined],
      ['Checked', o ? `${new Date(o.fetchedAt).toLocaleTimeString()} (took ${roundedDuration(o.tookMs)})` : undefined],
    ]);
    return item;
  }
  override async children(): Promise<Node[]> {
    try {
      const o = await this.provider.overview(this.cluster.name);
      return [...this.provider.childrenOf(this, o), ...(await this.provider.backupsOf(this))];
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return [new MessageNode(this, { id: 'failed', message: msg, kind: 'clusterError', icon: 'error', color: 'charts.red' })];
    }
  }
}

export type MemberState = 'healthy' | 'unhealthy' | 'unreachable' | 'unstarted';

export function memberState(m: MemberOverview): MemberState {
  if (!m.started) return 'unstarted';
  if (!m.reachable) return 'unreachable';
  return m.healthy ? 'healthy' : 'unhealthy';
}

/** Icon per state and role: a leader star, follower dot, learner cap; red/yellow/grey when not healthy. */
export function memberIcon(m: MemberOverview): { id: string; color: string } {
  switch (memberState(m)) {
    case 'unstarted':
      return { id: 'circle-large-outline', color: 'disabledForeground' };
    case 'unreachable':
      return { id: 'error', color: 'charts.red' };
    case 'unhealthy':
      return { id: 'warning', color: 'charts.yellow' };
    default:
      return m.role === 'leader'
        ? { id: 'star-full', color: 'charts.green' }
        : m.role === 'learner'
          ? { id: 'mortar-board', color: 'charts.blue' }
          : { id: 'pass-filled', color: 'charts.green' };
  }
}

export class MemberNode extends Node {
  constructor(
    override readonly parent: ClusterNode,
    readonly member: MemberOverview,
  ) {
    super(parent);
  }
  get id(): string {
    return `${this.parent.id}/member:${this.member.id}`;
  }
  get cluster(): ClusterConfig {
    return this.parent.cluster;
  }
  /** `member:<leader|follower|learner|unknown>:<healthy|unhealthy|unreachable|unstarted>`. */
  get contextValue(): string {
    return `member:${this.member.role}:${memberState(this.member)}`;
  }
  toTreeItem(): vscode.TreeItem {
    const m = this.member;
    const item = new vscode.TreeItem(m.name || '(not started)', vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.contextValue = this.contextValue;
    item.description = `${memberSummary(m)} · ${m.id}`;
    const icon = memberIcon(m);
    item.iconPath = new vscode.ThemeIcon(icon.id, new vscode.ThemeColor(icon.color));
    const health = !m.started
      ? 'not started'
      : !m.reachable
        ? 'unreachable'
        : m.healthy
          ? `healthy${m.tookMs !== undefined ? ` (took ${roundedDuration(m.tookMs)})` : ''}`
          : 'unhealthy';
    item.tooltip = table([
      ['Name', m.name || '(not started)'],
      ['ID', m.id],
      ['Role', m.role],
      ['Health', health],
      ['Peer URLs', m.peerURLs.join(', ')],
      ['Client URLs', m.clientURLs.join(', ')],
      ['Version', m.version],
      ['DB size', m.dbSize !== undefined ? `${humanizeBytes(m.dbSize)} (${m.dbSize} bytes)` : undefined],
      ['DB size in use', m.dbSizeInUse !== undefined ? `${humanizeBytes(m.dbSizeInUse)} (${m.dbSizeInUse} bytes)` : undefined],
      ['Raft term', m.raftTerm],
      ['Raft index', m.raftIndex],
      ['Raft applied index', m.raftAppliedIndex],
      // Only a member that answered has an "answered at"; for the others, where it was asked.
      [m.reachable ? 'Answered at' : 'Asked at', m.endpoint],
      ['Error', m.error?.message],
    ]);
    return item;
  }
}

interface Entry {
  key: string;
  node: ClusterNode;
  overview?: ClusterOverview;
  inflight?: Promise<ClusterOverview>;
  /** The gathering in flight has taken longer than {@link STILL_TRYING_AFTER_MS}: the row says "still trying". */
  waiting?: boolean;
  snapshots?: SnapshotsFolderNode;
}

/** Context key: a cluster in the tree has a learner (package.json's commandPalette `when` of Promote Learner). */
export const HAS_LEARNER_KEY = 'etcdBackup.hasLearner';

/** How long a gathering may take before its row says "still trying (… deadline)" (a quick refresh does not flicker). */
export const STILL_TRYING_AFTER_MS = 500;

/** What a test can read back from the tree: every node as VS Code would render it. */
export interface DumpedNode {
  id: string;
  label: string;
  description?: string;
  contextValue?: string;
  tooltip?: string;
  icon?: string;
  color?: string;
  children?: DumpedNode[];
}

function dumpItem(item: vscode.TreeItem): DumpedNode {
  const icon = item.iconPath instanceof vscode.ThemeIcon ? item.iconPath : undefined;
  return {
    id: item.id ?? '',
    label: typeof item.label === 'string' ? item.label : (item.label?.label ?? ''),
    description: typeof item.description === 'string' ? item.description : undefined,
    contextValue: item.contextValue,
    tooltip: typeof item.tooltip === 'string' ? item.tooltip : item.tooltip?.value,
    icon: icon?.id,
    color: (icon?.color as { id?: string } | undefined)?.id,
  };
}

export type OverviewFetcher = (cluster: ClusterConfig) => Promise<ClusterOverview>;

export class ClustersProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private readonly entries = new Map<string, Entry>();
  private readonly watchers = new Map<string, { dir: string; watcher: vscode.FileSystemWatcher; timer?: NodeJS.Timeout }>();
  private autoTimer: NodeJS.Timeout | undefined;
  private view: vscode.TreeView<Node> | undefined;
  /** Gatherings in flight: the view shows its progress bar while there is one. */
  private readonly pending = new Set<Promise<unknown>>();
  private progressShown = false;
  private hasLearner: boolean | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly log: Log | undefined,
    private readonly fetch: OverviewFetcher,
  ) {
    this.subs.push(
      settings.onDidChange(() => {
        this.sync();
        this.emitter.fire(undefined);
        this.scheduleAutoRefresh();
      }),
    );
  }

  attach(view: vscode.TreeView<Node>): void {
    this.view = view;
    this.subs.push(view.onDidChangeVisibility(() => this.scheduleAutoRefresh()));
    this.scheduleAutoRefresh();
  }

  /** The last overview of a cluster, if one has been gathered. */
  cached(name: string): ClusterOverview | undefined {
    return this.entries.get(name.toLowerCase())?.overview;
  }

  /** The member lists the tree has gathered (a member added and not started yet is one that joins). */
  knownClusters(): { name: string; members: MemberOverview[] }[] {
    return [...this.entries.values()].flatMap((e) =>
      e.overview?.reachable ? [{ name: e.node.cluster.name, members: e.overview.members }] : [],
    );
  }

  /** Context key {@link HAS_LEARNER_KEY}: some cluster the tree has seen has a learner (the palette offers Promote Learner then). */
  private updateLearnerContext(): void {
    const has = [...this.entries.values()].some((e) => e.overview?.members.some((m) => m.isLearner));
    if (has === this.hasLearner) return;
    this.hasLearner = has;
    void vscode.commands.executeCommand('setContext', HAS_LEARNER_KEY, has);
  }

  /** The cluster's gathering has run a while without an answer (its row says "still trying"). */
  stillTrying(name: string): boolean {
    return Boolean(this.entries.get(name.toLowerCase())?.waiting);
  }

  /** What context key etcdBackup.hasLearner was last set to (undefined before the first overview). */
  get learnerContext(): boolean | undefined {
    return this.hasLearner;
  }

  /** A gathering is in flight (the view's progress bar shows). */
  get busy(): boolean {
    return this.progressShown;
  }

  /** Show the view's progress bar until every gathering in flight (this one and later ones) has settled. */
  private showProgress(p: Promise<unknown>): void {
    this.pending.add(p);
    const settled = (): void => void this.pending.delete(p);
    p.then(settled, settled);
    if (this.progressShown) return;
    this.progressShown = true;
    void vscode.window.withProgress({ location: { viewId: 'etcdBackup.clusters' } }, async () => {
      while (this.pending.size) await Promise.allSettled([...this.pending]);
      this.progressShown = false;
    });
  }

  /** Cluster nodes in settings order (rebuilding the entries from settings). */
  clusterNodes(): ClusterNode[] {
    this.sync();
    return [...this.entries.values()].map((e) => e.node);
  }

  clusterNode(name: string): ClusterNode | undefined {
    this.sync();
    return this.entries.get(name.toLowerCase())?.node;
  }

  /** Keep one entry (and node object) per configured cluster; a changed config drops its cache. */
  private sync(): void {
    const { clusters } = this.settings.clusters();
    const seen = new Set<string>();
    for (const c of clusters) {
      const name = c.name.toLowerCase();
      const key = JSON.stringify(c);
      seen.add(name);
      const e = this.entries.get(name);
      if (!e || e.key !== key) {
        this.entries.set(name, { key, node: new ClusterNode(c, this) });
      }
    }
    for (const name of [...this.entries.keys()]) {
      if (!seen.has(name)) {
        this.entries.delete(name);
      }
    }
    // Keep settings order.
    const ordered = clusters.map((c) => [c.name.toLowerCase(), this.entries.get(c.name.toLowerCase()) as Entry] as const);
    this.entries.clear();
    for (const [k, v] of ordered) this.entries.set(k, v);
    this.syncWatchers(clusters);
    this.updateLearnerContext();
  }

  /**
   * The overview of a cluster: the cached one, or the one being gathered, or a new gathering.
   * `force` starts a new gathering even when one is cached (the cached one stays visible until
   * the new one arrives, so the tree does not flicker).
   */
  overview(name: string, force = false): Promise<ClusterOverview> {
    const e = this.entries.get(name.toLowerCase()) ?? (this.sync(), this.entries.get(name.toLowerCase()));
    if (!e) {
      return Promise.reject(new Error(`No cluster named "${name}" is configured.`));
    }
    if (e.inflight) return e.inflight;
    if (e.overview && !force) return Promise.resolve(e.overview);
    const key = e.key;
    const started = Date.now();
    const slow = setTimeout(() => {
      const cur = this.entries.get(name.toLowerCase());
      if (cur && cur.key === key && cur.inflight) {
        cur.waiting = true;
        this.emitter.fire(cur.node);
      }
    }, STILL_TRYING_AFTER_MS);
    e.inflight = this.fetch(e.node.cluster)
      .then((o) => {
        const cur = this.entries.get(name.toLowerCase());
        if (cur && cur.key === key) {
          cur.overview = o;
          cur.inflight = undefined;
          cur.waiting = false;
          this.updateLearnerContext();
          this.log?.debug(`${e.node.cluster.name}: ${summaryOf(o)} (${Date.now() - started} ms)`);
          if (!o.reachable) {
            this.log?.info(`${e.node.cluster.name}: ${o.endpointErrors.map((x) => x.error.message).join(' ') || o.error?.message}`);
          }
          this.emitter.fire(cur.node);
        }
        return o;
      })
      .finally(() => {
        clearTimeout(slow);
        const cur = this.entries.get(name.toLowerCase());
        if (cur && cur.key === key && cur.waiting) {
          cur.waiting = false;
          this.emitter.fire(cur.node);
        }
        if (cur && cur.key === key) cur.inflight = undefined;
      });
    this.showProgress(e.inflight);
    return e.inflight;
  }

  /** Gather again (one cluster, or all); resolves when the new overviews are in the tree. */
  async refresh(node?: Node | string): Promise<ClusterOverview[]> {
    this.sync();
    const target = typeof node === 'string' ? this.clusterNode(node) : clusterNodeOf(node);
    if (target) {
      return [await this.overview(target.cluster.name, true)];
    }
    this.emitter.fire(undefined);
    return Promise.all([...this.entries.values()].map((e) => this.overview(e.node.cluster.name, true)));
  }

  /** Tell the tree that a cluster's snapshot folder changed. */
  refreshSnapshots(clusterName: string): void {
    const e = this.entries.get(clusterName.toLowerCase());
    if (e?.snapshots) {
      this.emitter.fire(e.snapshots);
    }
  }

  /** The cluster's Backups nodes (one per plan naming it); a failure to read them becomes one message. */
  async backupsOf(node: ClusterNode): Promise<Node[]> {
    try {
      return await backupsNodesFor(node, node.cluster.name, this.settings.backupPlanPaths());
    } catch (err) {
      const message = `Backup plans: ${err instanceof Error ? err.message : String(err)}`;
      return [new MessageNode(node, { id: 'backups-error', message, kind: 'backupListError', icon: 'warning', color: 'charts.yellow' })];
    }
  }

  childrenOf(node: ClusterNode, o: ClusterOverview): Node[] {
    const out: Node[] = [];
    if (!o.reachable) {
      const seen = new Set<string>();
      o.endpointErrors.forEach((x, i) => {
        if (seen.has(x.error.message)) return;
        seen.add(x.error.message);
        const message = x.endpoint ? `${x.error.reason}: ${x.endpoint}` : x.error.reason;
        const detail = x.error.message;
        out.push(
          new MessageNode(node, {
            id: `error:${i}`,
            message,
            kind: 'clusterError',
            icon: 'error',
            color: 'charts.red',
            detail,
            description: detail,
          }),
        );
      });
    } else {
      if (v2DataAtRisk(o.v2Store)) {
        // Keys a snapshot will not hold: a warning row, with "Copy v2 Backup Command" on it.
        const text = v2Warning(o.v2Store) ?? '';
        const detail = `${text} ${V2_WAY_OUT}`;
        out.push(
          new MessageNode(node, {
            id: 'v2store',
            message: v2Summary(o.v2Store),
            kind: 'v2Store',
            icon: 'warning',
            color: 'charts.yellow',
            detail,
          }),
        );
      }
      // By name, members that have not started yet last.
      const sorted = [...o.members].sort(
        (a, b) =>
          (a.name ? 0 : 1) - (b.name ? 0 : 1) || a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id),
      );
      for (const m of sorted) {
        out.push(new MemberNode(node, m));
      }
      // A configured endpoint that answered for no member (a wrong URL in the settings, a dead member).
      const memberUrls = new Set(o.members.flatMap((m) => m.clientURLs));
      o.endpointErrors
        .filter((x) => !memberUrls.has(x.endpoint) && !o.members.some((m) => m.endpoint === x.endpoint))
        .forEach((x, i) => {
          const detail = x.error.message;
          const message = `${x.error.reason}: ${x.endpoint}`;
          out.push(
            new MessageNode(node, {
              id: `endpoint-error:${i}`,
              message,
              kind: 'endpointError',
              icon: 'warning',
              color: 'charts.yellow',
              detail,
              description: detail,
            }),
          );
        });
    }
    const e = this.entries.get(node.cluster.name.toLowerCase());
    const folder = e?.snapshots && e.snapshots.parent === node ? e.snapshots : new SnapshotsFolderNode(node);
    if (e) e.snapshots = folder;
    out.push(folder);
    return out;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    return node.toTreeItem();
  }

  getParent(node: Node): Node | undefined {
    return node.parent;
  }

  getChildren(node?: Node): vscode.ProviderResult<Node[]> {
    if (node) {
      return node.children();
    }
    this.sync();
    const nodes: Node[] = [];
    for (const e of this.entries.values()) {
      nodes.push(e.node);
      if (!e.overview && !e.inflight) {
        // Gather in the background; each cluster updates its own node when it has an answer.
        void this.overview(e.node.cluster.name).catch((err) => this.log?.error(`overview of ${e.node.cluster.name}:`, err));
      }
    }
    const { problems } = this.settings.clusters();
    problems.forEach((p, i) =>
      nodes.push(
        new MessageNode(undefined, { id: `problem:${i}`, message: p, kind: 'settingsProblem', icon: 'warning', color: 'charts.yellow' }),
      ),
    );
    // No nodes at all: return [] so the view shows its welcome content.
    return nodes;
  }

  /** The root rows as rendered now, without waiting for any overview: for tests that time the tree. */
  rows(): DumpedNode[] {
    this.sync();
    return [...this.entries.values()].map((e) => dumpItem(e.node.toTreeItem()));
  }

  /** Every node, as rendered, with children expanded (waits for the overviews): for tests. */
  async dump(expandSnapshots = true): Promise<DumpedNode[]> {
    const walk = async (nodes: Node[]): Promise<DumpedNode[]> => {
      const out: DumpedNode[] = [];
      for (const n of nodes) {
        const item = n.toTreeItem();
        const d = dumpItem(item);
        if (item.collapsibleState !== vscode.TreeItemCollapsibleState.None && (expandSnapshots || !(n instanceof SnapshotsFolderNode))) {
          d.children = await walk((await n.children()) ?? []);
        }
        out.push(d);
      }
      return out;
    };
    const roots = (await this.getChildren()) ?? [];
    await Promise.all(this.clusterNodes().map((n) => this.overview(n.cluster.name).catch(() => undefined)));
    return walk(roots);
  }

  private syncWatchers(clusters: ClusterConfig[]): void {
    const wanted = new Map(clusters.filter((c) => c.snapshotDir).map((c) => [c.name.toLowerCase(), c.snapshotDir as string]));
    for (const [name, w] of [...this.watchers]) {
      if (wanted.get(name) !== w.dir) {
        w.watcher.dispose();
        if (w.timer) clearTimeout(w.timer);
        this.watchers.delete(name);
      }
    }
    for (const [name, dir] of wanted) {
      if (this.watchers.has(name)) continue;
      try {
        const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*'));
        const entry: { dir: string; watcher: vscode.FileSystemWatcher; timer?: NodeJS.Timeout } = { dir, watcher };
        const changed = (): void => {
          if (entry.timer) clearTimeout(entry.timer);
          entry.timer = setTimeout(() => this.refreshSnapshots(name), 300);
        };
        watcher.onDidCreate(changed);
        watcher.onDidDelete(changed);
        watcher.onDidChange(changed);
        this.watchers.set(name, entry);
      } catch (err) {
        this.log?.warn(`Cannot watch ${dir}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private scheduleAutoRefresh(): void {
    if (this.autoTimer) {
      clearInterval(this.autoTimer);
      this.autoTimer = undefined;
    }
    const seconds = this.settings.refreshIntervalSeconds();
    if (seconds > 0 && this.view?.visible !== false) {
      this.autoTimer = setInterval(() => {
        if (this.view?.visible) {
          void this.refresh().catch((err) => this.log?.error('auto-refresh:', err));
        }
      }, seconds * 1000);
    }
  }

  dispose(): void {
    if (this.autoTimer) clearInterval(this.autoTimer);
    for (const w of this.watchers.values()) {
      w.watcher.dispose();
      if (w.timer) clearTimeout(w.timer);
    }
    this.emitter.dispose();
    this.subs.forEach((s) => s.dispose());
  }
}

export function registerClustersView(
  context: vscode.ExtensionContext,
  deps: { settings: Settings; etcd: EtcdService; log?: Log },
): { provider: ClustersProvider; view: vscode.TreeView<Node> } {
  // etcd3 is loaded by the service on the first overview, never at activation.
  const provider = new ClustersProvider(deps.settings, deps.log, (cluster) => deps.etcd.overview(cluster));
  const view = vscode.window.createTreeView('etcdBackup.clusters', { treeDataProvider: provider, showCollapseAll: true });
  provider.attach(view);
  // The snapshot nodes' figures arrive in the background: redraw that cluster's folder then.
  setSnapshotStatusListener((cluster) => provider.refreshSnapshots(cluster));
  context.subscriptions.push(provider, view, { dispose: () => setSnapshotStatusListener(undefined) });
  return { provider, view };
}
