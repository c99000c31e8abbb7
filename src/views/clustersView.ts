import * as vscode from 'vscode';
import type { ClusterConfig } from '../core/types';
import type { Settings } from '../settings';

/** Base of every node in the clusters tree: keeps its parent so getParent/reveal work. */
export abstract class Node {
  constructor(readonly parent: Node | undefined) {}
  abstract toTreeItem(): vscode.TreeItem;
  children(): vscode.ProviderResult<Node[]> {
    return [];
  }
}

/** An empty, error or unreachable state, shown in the tree instead of a pop-up. */
export class MessageNode extends Node {
  constructor(
    parent: Node | undefined,
    readonly id: string,
    readonly message: string,
    readonly icon = 'info',
    readonly contextValue = 'message',
  ) {
    super(parent);
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.message, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon(this.icon);
    item.tooltip = this.message;
    item.contextValue = this.contextValue;
    return item;
  }
}

export class ClusterNode extends Node {
  constructor(readonly cluster: ClusterConfig) {
    super(undefined);
  }
  get id(): string {
    return `cluster:${this.cluster.name}`;
  }
  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.cluster.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.description = this.cluster.endpoints.join(', ');
    item.iconPath = new vscode.ThemeIcon('server-environment');
    item.contextValue = 'cluster';
    return item;
  }
}

export class ClustersProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly settings: Settings) {
    this.subs.push(settings.onDidChange(() => this.refresh()));
  }

  refresh(node?: Node): void {
    this.emitter.fire(node);
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
    const { clusters, problems } = this.settings.clusters();
    const nodes: Node[] = clusters.map((c) => new ClusterNode(c));
    problems.forEach((p, i) => nodes.push(new MessageNode(undefined, `problem:${i}`, p, 'warning', 'settingsProblem')));
    // No nodes at all: return [] so the view shows its welcome content.
    return nodes;
  }

  dispose(): void {
    this.emitter.dispose();
    this.subs.forEach((s) => s.dispose());
  }
}

export function registerClustersView(context: vscode.ExtensionContext, settings: Settings): ClustersProvider {
  const provider = new ClustersProvider(settings);
  const view = vscode.window.createTreeView('etcdBackup.clusters', { treeDataProvider: provider, showCollapseAll: true });
  context.subscriptions.push(provider, view);
  return provider;
}
