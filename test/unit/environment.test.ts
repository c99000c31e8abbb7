import * as assert from 'assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { checkEnvironment, findExecutable, formatEnvironment, inspectTool } from '../../src/core/environment';

describe('environment check (core)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-backup-env-'));
    writeFileSync(join(dir, 'not-executable'), '#!/bin/sh\necho hi\n');
    chmodSync(join(dir, 'not-executable'), 0o644);
    writeFileSync(join(dir, 'fake-etcdutl'), '#!/bin/sh\necho "etcdutl version: 3.5.99"\necho "API version: 3.5"\n');
    chmodSync(join(dir, 'fake-etcdutl'), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds executables on PATH, and only executable files', async () => {
    assert.strictEqual(await findExecutable('fake-etcdutl', `/nonexistent:${dir}`), join(dir, 'fake-etcdutl'));
    assert.strictEqual(await findExecutable('not-executable', dir), undefined);
    assert.strictEqual(await findExecutable(dir, ''), undefined, 'a directory is not an executable');
  });

  it("reports a tool's version from `<tool> version`, spawned without a shell", async () => {
    const r = await inspectTool('etcdutl', join(dir, 'fake-etcdutl'));
    assert.deepStrictEqual(r, { name: 'etcdutl', path: join(dir, 'fake-etcdutl'), version: 'etcdutl version: 3.5.99' });
  });

  it('says what to do when a configured path is wrong', async () => {
    const r = await inspectTool('etcdctl', join(dir, 'missing'));
    assert.strictEqual(r.path, undefined);
    assert.strictEqual(r.problem, `${join(dir, 'missing')} is not an executable file. Fix the path in the settings.`);
  });

  it("loads etcd3 with its protos and finds Debian's etcdctl 3.4 (no etcdutl in 3.4)", async () => {
    const r = await checkEnvironment();
    assert.strictEqual(r.etcd3.loaded, true, r.etcd3.problem);
    assert.ok(r.etcd3.protoFile?.endsWith(join('etcd3', 'proto', 'rpc.proto')), r.etcd3.protoFile);
    assert.ok(r.etcd3.clients.includes('Cluster'));
    const etcdctl = r.tools.find((t) => t.name === 'etcdctl');
    assert.strictEqual(etcdctl?.path, '/usr/bin/etcdctl');
    assert.match(etcdctl?.version ?? '', /^etcdctl version: 3\.4\.\d+$/);
    const lines = formatEnvironment(r);
    assert.ok(lines.some((l) => l.startsWith('etcdctl: /usr/bin/etcdctl (etcdctl version: 3.4.')), lines.join('\n'));
    // From the source tree the hardware CRC-32C comes from node_modules (the optional dependency).
    assert.strictEqual(r.snapshotHash.native, true);
    assert.match(r.snapshotHash.binding ?? '', /node_modules[\\/]@node-rs[\\/]crc32[\\/]index\.js$/);
    assert.ok(lines.includes(`snapshot hash: hardware CRC-32C (${r.snapshotHash.binding})`), lines.join('\n'));
  });
});
