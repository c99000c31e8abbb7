/**
 * Runs in the host where the packaged VSIX is installed (npm run test:vsix), with no
 * extension under development: proves the VSIX users get activates and finds etcd3's protos.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { EnvironmentReport } from '../../../src/core/environment';
import type { ExtensionApi } from '../../../src/extension';

describe('the packaged VSIX, installed', () => {
  let ext: vscode.Extension<ExtensionApi>;

  before(() => {
    const found = vscode.extensions.getExtension<ExtensionApi>('etcd-backup.etcd-backup');
    assert.ok(found, 'the VSIX is not installed in the test host');
    ext = found;
  });

  it('is the installed copy, not the development folder', () => {
    const extensionsDir = process.env.ETCD_BACKUP_VSCODE_EXTENSIONS_DIR;
    assert.ok(extensionsDir, 'ETCD_BACKUP_VSCODE_EXTENSIONS_DIR is not set by the driver');
    assert.ok(ext.extensionPath.startsWith(fs.realpathSync(extensionsDir)) || ext.extensionPath.startsWith(extensionsDir), `${ext.extensionPath} is not under ${extensionsDir}`);
    // Only the allow-listed files ship: no sources, no tests, no node_modules.
    assert.strictEqual(fs.existsSync(path.join(ext.extensionPath, 'src')), false, 'src/ was packaged');
    assert.strictEqual(fs.existsSync(path.join(ext.extensionPath, 'node_modules')), false, 'node_modules/ was packaged');
    assert.ok(fs.existsSync(path.join(ext.extensionPath, 'dist', 'proto', 'rpc.proto')), 'dist/proto/rpc.proto is missing');
  });

  it('activates without loading etcd3', async () => {
    const api = await ext.activate();
    assert.strictEqual(ext.isActive, true);
    assert.strictEqual(api.isEtcd3Loaded(), false);
  });

  it('loads etcd3 and its protos from the installed bundle', async () => {
    const report = await vscode.commands.executeCommand<EnvironmentReport>('etcdBackup.checkEnvironment');
    assert.ok(report, 'the command returned no report');
    assert.strictEqual(report.etcd3.loaded, true, report.etcd3.problem);
    assert.strictEqual(report.etcd3.protoFile, path.join(ext.extensionPath, 'dist', 'proto', 'rpc.proto'));
    assert.strictEqual((await ext.exports).isEtcd3Loaded(), true);
    // The snapshot reader's hardware CRC-32C loads from the packaged dist/native/.
    assert.deepStrictEqual(report.snapshotHash, { native: true, binding: path.join(ext.extensionPath, 'dist', 'native', `crc32.${process.platform}-${process.arch}-gnu.node`) });
  });
});
