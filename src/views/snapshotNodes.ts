/**
 * The "Snapshots" folder under each cluster and its children: one node per `*_snapshot.db` file (newest
 * first) with its name, time and size, and a tooltip with the status figures the native
 * reader gives (hash, revision, keys, size). The figures are computed in the background, one
 * file at a time, and cached by path + mtime + size; the tree never waits for them: a node
 * shows "reading…" until they are there, then the folder redraws (the listener is set by
 * registerClustersView).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { SnapshotStatus } from '../core/snapshot/status';
import type { ClusterConfig } from '../core/types';
import type { ClusterNode } from './clustersView';
import { MessageNode, Node } from './nodes';

/** Figures of one file version, or why there are none. */
export type CachedStatus = { status: SnapshotStatus } | { error: string; kind?: string };

const cache = new Map<string, { key: string; value: CachedStatus }>();
const queue: { file: string; key: string; cluster: string }[] = [];
let running = false;
/** Called when figures for a file of `cluster` arrive (set by registerClustersView). */
let onReady: ((cluster: string) => void) | undefined;

export function setSnapshotStatusListener(listener: ((cluster: string) => void) | undefined): void {
  onReady = listener;
}

function versionKey(size: number, mtime: Date): string {
  return `${size}:${mtime.getTime()}`;
}

/** The cached figures of `file` as it is now (size and mtime), if computed. */
export function cachedStatus(file: string, size: number, mtime: Date): CachedStatus | undefined {
  const c = cache.get(file);
  return c && c.key === versionKey(size, mtime) ? c.value : undefined;
}

/** Remember figures computed elsewhere (the report, verify) for the tooltip. */
export function rememberStatus(file: string, size: number, mtime: Date, value: CachedStatus): void {
  cache.set(file, { key: versionKey(size, mtime), value });
}

function enqueue(file: string, key: string, cluster: string): void {
  if (queue.some((q) => q.file === file && q.key === key)) return;
  queue.push({ file, key, cluster });
  void drain();
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    while (queue.length) {
      const job = queue.shift() as { file: string; key: string; cluster: string };
      const current = cache.get(job.file);
      if (current?.key === job.key) continue;
      let value: CachedStatus;
      try {
        // Loaded on first use, never at activation.
        const { snapshotStatus } = await import('../core/snapshot/status');
        value = { status: await snapshotStatus(job.file) };
      } catch (err) {
        const e = err as { message?: string; kind?: string };
        value = { error: e.message ?? String(err), kind: e.kind };
      }
      cache.set(job.file, { key: job.key, value });
      onReady?.(job.cluster);
    }
  } finally {
    running = false;
  }
}

function humanSize(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

export class SnapshotFileNode extends Node {
  constructor(
    parent: Node,
    readonly file: string,
    readonly size: number,
    readonly mtime: Date,
    readonly cluster?: string,
  ) {
    super(parent);
  }
  get id(): string {
    return `${this.parent?.id ?? ''}/file:${path.basename(this.file)}`;
  }
  /** The figures, when the background reader has them. */
  get status(): CachedStatus | undefined {
    return cachedStatus(this.file, this.size, this.mtime);
  }
  /** `snapshot:reading`, `snapshot:ok`, `snapshot:corrupt` (also truncated), `snapshot:unreadable`. */
  get contextValue(): string {
    const st = this.status;
    if (!st) return 'snapshot:reading';
    if ('status' in st) return 'snapshot:ok';
    return st.kind === 'corrupt' ? 'snapshot:corrupt' : 'snapshot:unreadable';
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(path.basename(this.file), vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.contextValue = this.contextValue;
    item.resourceUri = vscode.Uri.file(this.file);
    const when = this.mtime.toLocaleString();
    item.description = `${humanSize(this.size)} · ${when}`;
    const st = this.status;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${path.basename(this.file)}**  \n${this.file}  \n${this.size} bytes, ${when}\n\n`);
    if (!st) {
      item.iconPath = new vscode.ThemeIcon('database');
      md.appendMarkdown('_Reading the status figures…_');
      if (this.cluster) enqueue(this.file, versionKey(this.size, this.mtime), this.cluster);
    } else if ('status' in st) {
      const s = st.status;
      item.iconPath = new vscode.ThemeIcon('database');
      md.appendMarkdown('| | |\n|---|---|\n');
      md.appendMarkdown(
        `| **Hash** | \`${s.hashHex}\` |\n| **Revision** | ${s.revision} |\n| **Total keys** | ` +
          `${s.totalKey} |\n| **Total size** | ${humanSize(s.totalSize)} (${s.totalSize} bytes) |\n`,
      );
      if (s.version) md.appendMarkdown(`| **Storage version** | ${s.version} |\n`);
      if (s.clusterVersion) md.appendMarkdown(`| **Cluster version** | ${s.clusterVersion} |\n`);
      md.appendMarkdown(`| **SHA-256 trailer** | ${s.hasHashTrailer ? 'present' : 'none'} |\n`);
    } else {
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
      md.appendMarkdown(`**Cannot be read:** ${st.error.replace(/[\\`*_[\]<>]/g, '\\$&')}`);
      item.description = `${item.description} · ${st.kind === 'corrupt' ? 'corrupt' : 'unreadable'}`;
    }
    item.tooltip = md;
    return item;
  }
}

/** "Snapshots" under each cluster: its children are the snapshot files of the cluster's folder. */
export class SnapshotsFolderNode extends Node {
  constructor(override readonly parent: ClusterNode) {
    super(parent);
  }
  get id(): string {
    return `${this.parent.id}/snapshots`;
  }
  get cluster(): ClusterConfig {
    return this.parent.cluster;
  }
  /** `snapshots:folder`, or `snapshots:noFolder` when the cluster has no snapshot folder. */
  get contextValue(): string {
    return this.cluster.snapshotDir ? 'snapshots:folder' : 'snapshots:noFolder';
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem('Snapshots', vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.contextValue = this.contextValue;
    item.iconPath = new vscode.ThemeIcon('archive');
    item.description = this.cluster.snapshotDir ?? '';
    item.tooltip = this.cluster.snapshotDir ? `Snapshot files in ${this.cluster.snapshotDir}` : 'No snapshot folder set for this cluster.';
    return item;
  }
  override children(): Promise<Node[]> {
    return snapshotChildren(this, this.cluster);
  }
}

export async function snapshotChildren(parent: Node, cluster: ClusterConfig): Promise<Node[]> {
  if (!cluster.snapshotDir) {
    return [new MessageNode(parent, { id: 'none', message: 'No snapshot folder: edit the cluster to set one.', kind: 'noSnapshotDir' })];
  }
  let names: string[];
  try {
    names = await fs.readdir(cluster.snapshotDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const text =
      code === 'ENOENT' ? `${cluster.snapshotDir} does not exist yet.` : `Cannot read ${cluster.snapshotDir} (${code ?? 'error'}).`;
    return [
      new MessageNode(parent, { id: 'unreadable', message: text, kind: 'snapshotDir', icon: code === 'ENOENT' ? 'info' : 'warning' }),
    ];
  }
  const files = await Promise.all(
    names
      .filter((n) => n.endsWith('_snapshot.db'))
      .map(async (n) => {
        const p = path.join(cluster.snapshotDir as string, n);
        const st = await fs.stat(p).catch(() => undefined);
        return st?.isFile() ? new SnapshotFileNode(parent, p, st.size, st.mtime, cluster.name) : undefined;
      }),
  );
  const nodes = files.filter((f): f is SnapshotFileNode => Boolean(f)).sort((a, b) => b.file.localeCompare(a.file));
  return nodes.length ? nodes : [new MessageNode(parent, { id: 'empty', message: 'No snapshots yet.', kind: 'noSnapshots' })];
}
