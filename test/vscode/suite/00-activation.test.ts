/**
 * Runs first (file name order): the activation checks must see the extension before any
 * other suite ran a command that loads etcd3.
 */
import * as assert from 'assert';
import * as vscode from 'vscode';
import { compareCommands, describeMismatch } from '../../support/commandCheck';
import type { ExtensionApi } from '../../../src/extension';
import { EXTENSION_ID } from '../support';

describe('extension activation', () => {
  let ext: vscode.Extension<ExtensionApi>;
  let api: ExtensionApi;
  let etcd3LoadedAfterActivation: boolean;

  before(async () => {
    const found = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
    assert.ok(found, `extension ${EXTENSION_ID} is not installed in the test host`);
    ext = found;
    api = await ext.activate();
    etcd3LoadedAfterActivation = api.isEtcd3Loaded();
  });

  it('activates and returns its API', () => {
    assert.strictEqual(ext.isActive, true);
    assert.strictEqual(typeof api.isEtcd3Loaded, 'function');
  });

  it('does not load etcd3 during activation', () => {
    assert.strictEqual(etcd3LoadedAfterActivation, false, 'etcd3 was loaded by activate(); load it on first use');
  });

  it('contributes the clusters view and the workbench can focus it', async () => {
    const views = (ext.packageJSON.contributes?.views?.etcdBackup ?? []) as { id: string }[];
    assert.ok(views.some((v) => v.id === 'etcdBackup.clusters'), 'package.json declares no etcdBackup.clusters view');
    // VS Code registers <viewId>.focus for every contributed view; it throws for an unknown view.
    await vscode.commands.executeCommand('etcdBackup.clusters.focus');
  });

  it('registers every command package.json declares, and declares every command it registers', async () => {
    const contributes = ext.packageJSON.contributes ?? {};
    const declared = ((contributes.commands ?? []) as { command: string }[]).map((c) => c.command);
    assert.ok(declared.length > 0, 'package.json declares no commands');
    const viewIds = Object.values((contributes.views ?? {}) as Record<string, { id: string }[]>).flatMap((vs) => vs.map((v) => v.id));
    const registered = await vscode.commands.getCommands(true);
    const problems = describeMismatch(compareCommands(declared, registered, 'etcdBackup.', viewIds));
    assert.deepStrictEqual(problems, []);
  });
});
