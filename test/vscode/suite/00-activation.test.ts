/**
 * Runs first (file name order): the activation checks must see the extension before any
 * other suite ran a command that loads etcd3.
 */
import * as assert from 'assert';
import { statSync } from 'fs';
import { join } from 'path';
import * as vscode from 'vscode';
import { compareCommands, describeMismatch } from '../../support/commandCheck';
import type { ExtensionApi } from '../../../src/extension';
import { ETCD_FILE_SELECTOR } from '../../../src/editor/model';
import { EXTENSION_ID } from '../support';

describe('extension activation', () => {
  let ext: vscode.Extension<ExtensionApi>;
  let api: ExtensionApi;
  let etcd3LoadedAfterActivation: boolean;
  let vendorsAfterActivation: string[];

  before(async () => {
    const found = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
    assert.ok(found, `extension ${EXTENSION_ID} is not installed in the test host`);
    ext = found;
    api = await ext.activate();
    etcd3LoadedAfterActivation = api.isEtcd3Loaded();
    vendorsAfterActivation = Object.keys(require.cache).filter((k) => /[\\/]dist[\\/]vendor[\\/]/.test(k));
  });

  it('activation parses only the extension\'s own code: etcd3, the AWS SDK and yaml are in dist/vendor/, not loaded', () => {
    assert.deepStrictEqual(vendorsAfterActivation.filter((f) => !f.endsWith('yaml.js')), []);
    // yaml loads with the editor features' parser, on the first etcd document (the workbench may have restored one).
    const etcdDocs = vscode.workspace.textDocuments.filter((d) => vscode.languages.match(ETCD_FILE_SELECTOR, d) > 0);
    if (vendorsAfterActivation.some((f) => f.endsWith('yaml.js'))) {
      const open = vscode.workspace.textDocuments.map((d) => d.uri.toString()).join(', ');
      assert.ok(etcdDocs.length > 0, `yaml was loaded at activation with no document the etcd selector takes open (open: ${open})`);
    }
    const main = join(ext.extensionPath, 'dist', 'extension.js');
    assert.ok(statSync(main).size < 1_200_000, `dist/extension.js is ${statSync(main).size} bytes: a big package got into it`);
    for (const f of ['etcd.js', 's3.js', 'yaml.js']) assert.ok(statSync(join(ext.extensionPath, 'dist', 'vendor', f)).isFile(), f);
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
