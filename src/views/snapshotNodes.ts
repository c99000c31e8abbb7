/**
 * Children of a cluster's "Snapshots" folder node. A minimal version (lists the
 * `*_snapshot.db` files in the cluster's snapshot folder); the snapshot feature replaces it
 * with nodes that can do more. Contract: `snapshotChildren(parent, cluster)`.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ClusterConfig } from '../core/types';
import { MessageNode, Node } from './clustersView';

export class SnapshotFileNode extends Node {
  constructor(
    parent: Node,
    readonly file: string,
    readonly size: number,
    readonly mtime: Date,
  ) {
    super(parent);
  }
  get id(): string {
    return `${(this.parent as { id?: string }).id ?? ''}/file:${path.basename(this.file)}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(path.basename(this.file), vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.contextValue = 'snapshot';
    item.iconPath = new vscode.ThemeIcon('database');
    item.resourceUri = vscode.Uri.file(this.file);
    item.description = `${(this.size / 1e6).toFixed(1)} MB`;
    item.tooltip = `${this.file}\n${this.size} bytes, ${this.mtime.toLocaleString()}`;
    return item;
  }
}

export async function snapshotChildren(parent: Node, cluster: ClusterConfig): Promise<Node[]> {
  const parentId = (parent as { id?: string }).id ?? cluster.name;
  if (!cluster.snapshotDir) {
    return [new MessageNode(parent, `${parentId}/none`, 'No snapshot folder: edit the cluster to set one.', 'info', 'message:noSnapshotDir')];
  }
  let names: string[];
  try {
    names = await fs.readdir(cluster.snapshotDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const text = code === 'ENOENT' ? `${cluster.snapshotDir} does not exist yet.` : `Cannot read ${cluster.snapshotDir} (${code ?? 'error'}).`;
    return [new MessageNode(parent, `${parentId}/unreadable`, text, code === 'ENOENT' ? 'info' : 'warning', 'message:snapshotDir')];
  }
  const files = await Promise.all(
    names
      .filter((n) => n.endsWith('_snapshot.db'))
      .map(async (n) => {
        const p = path.join(cluster.snapshotDir as string, n);
        const st = await fs.stat(p).catch(() => undefined);
        return st?.isFile() ? new SnapshotFileNode(parent, p, st.size, st.mtime) : undefined;
      }),
  );
  const nodes = files.filter((f): f is SnapshotFileNode => Boolean(f)).sort((a, b) => b.file.localeCompare(a.file));
  return nodes.length ? nodes : [new MessageNode(parent, `${parentId}/empty`, 'No snapshots yet.', 'info', 'message:noSnapshots')];
}
