/**
 * The base of every node in the Clusters tree, and the message node for empty, error and
 * unreachable states (shown in the tree instead of a pop-up).
 *
 * `contextValue` grammar, matched by the menus in package.json with `viewItem =~ /.../`:
 * - `cluster:loading`, `cluster:unreachable`, `cluster:quorumLost`, `cluster:reachable:<healthy|degraded>`
 * - `member:<leader|follower|learner|unknown>:<healthy|unhealthy|unreachable|unstarted>` (`unknown`: nobody reported its role)
 * - `snapshots:<folder|noFolder>` (the Snapshots folder of a cluster)
 * - `snapshot:<reading|ok|corrupt|unreadable>` (only `reading` and `ok` offer Restore)
 * - `message:<kind>`, e.g. `message:clusterError`, `message:settingsProblem`
 */
import * as vscode from 'vscode';

/** A node keeps its parent (so getParent and reveal work) and has a stable id. */
export abstract class Node {
  constructor(readonly parent: Node | undefined) {}
  abstract get id(): string;
  abstract toTreeItem(): vscode.TreeItem;
  children(): vscode.ProviderResult<Node[]> {
    return [];
  }
}

export interface MessageOptions {
  /** Appended to the parent's id (or the whole id for a root message). */
  id: string;
  message: string;
  /** The kind after `message:` in the contextValue (menus offer fixes by it). */
  kind: string;
  /** A codicon id (default `info`). */
  icon?: string;
  /** A theme color id for the icon, e.g. `charts.red`. */
  color?: string;
  /** The tooltip (default: the message). */
  detail?: string;
  description?: string;
}

/** An empty, error or unreachable state, shown in the tree instead of a pop-up. */
export class MessageNode extends Node {
  constructor(
    parent: Node | undefined,
    readonly options: MessageOptions,
  ) {
    super(parent);
  }
  get id(): string {
    return this.parent ? `${this.parent.id}/${this.options.id}` : this.options.id;
  }
  get message(): string {
    return this.options.message;
  }
  get contextValue(): string {
    return `message:${this.options.kind}`;
  }
  toTreeItem(): vscode.TreeItem {
    const o = this.options;
    const item = new vscode.TreeItem(o.message, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.description = o.description;
    item.iconPath = new vscode.ThemeIcon(o.icon ?? 'info', o.color ? new vscode.ThemeColor(o.color) : undefined);
    item.tooltip = o.detail ?? o.message;
    item.contextValue = this.contextValue;
    return item;
  }
}
