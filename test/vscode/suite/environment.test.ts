import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { EnvironmentReport } from '../../../src/core/environment';

describe('etcd: Check Environment (development host)', () => {
  it('loads etcd3 with its protos from dist/proto and finds Debian etcdctl 3.4', async () => {
    const report = await vscode.commands.executeCommand<EnvironmentReport>('etcdBackup.checkEnvironment');
    assert.ok(report, 'the command returned no report');
    assert.strictEqual(report.etcd3.loaded, true, report.etcd3.problem);
    assert.ok(report.etcd3.clients.includes('KV') && report.etcd3.clients.includes('Maintenance'), report.etcd3.clients.join(','));
    assert.strictEqual(report.etcd3.protoFile?.split(path.sep).slice(-3).join('/'), 'dist/proto/rpc.proto');
    const etcdctl = report.tools.find((t) => t.name === 'etcdctl');
    assert.strictEqual(etcdctl?.path, '/usr/bin/etcdctl');
    assert.match(etcdctl?.version ?? '', /etcdctl version: 3\.4\./);
    // The bundle loads the hardware CRC-32C that the build copied into dist/native/.
    assert.strictEqual(report.snapshotHash.binding?.split(path.sep).slice(-3).join('/'), `dist/native/crc32.${process.platform}-${process.arch}-gnu.node`);
  });
});
