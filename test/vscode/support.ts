/**
 * Helpers for suites that run inside the VS Code extension host (test/vscode/suite/*.test.ts).
 * The extension host is Node: suites may also import rigs from test/support/ directly (for
 * example to start a real etcd cluster on loopback) and point the extension at it with
 * {@link setSettings}.
 */
import * as assert from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension';

export const EXTENSION_ID = 'etcd-backup.etcd-backup';

/** The extension, activated. */
export async function activateExtension(): Promise<{ ext: vscode.Extension<ExtensionApi>; api: ExtensionApi }> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in the test host`);
  const api = await ext.activate();
  return { ext, api };
}

/** The fixture workspace the driver opened (a temp copy of test/fixtures/workspace). */
export function workspaceFolder(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test host opened no workspace folder');
  return folder.uri;
}

/**
 * Sets settings (in user settings by default) and returns a function that puts back the
 * previous values. Use it in before/after hooks:
 *   let restore: () => Promise<void>;
 *   before(async () => { restore = await setSettings({ 'etcdBackup.clusters': [...] }); });
 *   after(() => restore());
 */
export async function setSettings(
  values: Record<string, unknown>,
  target: vscode.ConfigurationTarget = vscode.ConfigurationTarget.Global,
): Promise<() => Promise<void>> {
  const previous: [string, unknown][] = [];
  for (const [key, value] of Object.entries(values)) {
    const cfg = vscode.workspace.getConfiguration();
    const inspected = cfg.inspect(key);
    previous.push([
      key,
      target === vscode.ConfigurationTarget.Global ? inspected?.globalValue : target === vscode.ConfigurationTarget.Workspace ? inspected?.workspaceValue : inspected?.workspaceFolderValue,
    ]);
    await cfg.update(key, value, target);
  }
  return async () => {
    for (const [key, value] of previous.reverse()) {
      await vscode.workspace.getConfiguration().update(key, value, target);
    }
  };
}

export { waitFor } from '../support/waitFor';

interface MenuItem {
  command: string;
  when?: string;
  group?: string;
}

/**
 * The commands package.json's tree context menu (`view/item/context`) offers on a node of the
 * Clusters view with this contextValue. Evaluates the `&&` of `view == …`, `viewItem == …` and
 * `viewItem =~ /…/` terms, the only forms the menus use (any other term fails the test).
 */
export function treeMenuCommands(contextValue: string, view = 'etcdBackup.clusters'): string[] {
  const pkg = JSON.parse(readFileSync(join(process.env.ETCD_BACKUP_REPO ?? '', 'package.json'), 'utf8')) as { contributes: { menus: Record<string, MenuItem[]> } };
  const holds = (term: string): boolean => {
    const eq = /^(view|viewItem) == (\S+)$/.exec(term);
    if (eq) return (eq[1] === 'view' ? view : contextValue) === eq[2];
    const re = /^viewItem =~ \/(.*)\/([a-z]*)$/.exec(term);
    if (re) return new RegExp(re[1], re[2]).test(contextValue);
    throw new Error(`treeMenuCommands cannot evaluate "${term}"`);
  };
  const items = (pkg.contributes.menus['view/item/context'] ?? []).filter((i) => (i.when ?? '').split('&&').every((t) => holds(t.trim())));
  // In the order VS Code shows them: the row's inline buttons, then the menu by group name ("navigation" first) and @order.
  const key = (i: MenuItem): [number, string, number] => {
    const [group = '', order = '0'] = (i.group ?? '').split('@');
    return [group === 'inline' ? 0 : group === 'navigation' ? 1 : 2, group, Number(order)];
  };
  const sorted = items
    .map((i, n) => ({ i, k: key(i), n }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1].localeCompare(b.k[1]) || a.k[2] - b.k[2] || a.n - b.n)
    .map((x) => x.i);
  return [...new Set(sorted.map((i) => i.command))];
}
