/**
 * The v2 store: the flag read from every kind of etcd file (as etcd 3.4 reads it: a config file
 * wins, then flags, then env variables, the last duplicate), the streaming counter of a v2
 * listing (on answers copied from etcd 3.4.23, cut at every byte), and the sentences.
 */
import * as assert from 'assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseEtcdFile } from '../../src/core/etcdFiles';
import { etcdFilesEnablingV2, memberFilesEnablingV2, v2SettingOf } from '../../src/core/v2files';
import { v2BackupCommand, V2ListingCounter, v2RestoreWarning, v2SaveWarning, v2Summary, v2Warning } from '../../src/core/v2store';

const fixtures = join(__dirname, '..', 'fixtures', 'etcdFiles');

/** What etcd 3.4.23 answered to GET /v2/keys/?recursive=true (copied from a real member). */
const LISTING =
  '{"action":"get","node":{"dir":true,"nodes":[{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4},' +
  '{"key":"/coreos.com","dir":true,"nodes":[{"key":"/coreos.com/network","dir":true,"nodes":[{"key":"/coreos.com/network/config",' +
  '"value":"{\\"Network\\":\\"10.1.0.0/16\\"}","modifiedIndex":5,"createdIndex":5}],' +
  '"modifiedIndex":5,"createdIndex":5}],"modifiedIndex":5,"createdIndex":5},' +
  '{"key":"/emptydir","dir":true,"modifiedIndex":6,"createdIndex":6},' +
  '{"key":"/ttlkey","value":"t","expiration":"2026-12-02T00:04:41.376582348Z","ttl":600,"modifiedIndex":9,"createdIndex":9}]}}';
const EMPTY = '{"action":"get","node":{"dir":true}}\n';

function count(text: string | Buffer, cut?: number): V2ListingCounter {
  const c = new V2ListingCounter();
  const b = Buffer.isBuffer(text) ? text : Buffer.from(text);
  if (cut === undefined) {
    c.push(b);
  } else {
    for (let i = 0; i < b.length; i += cut) c.push(b.subarray(i, i + cut));
  }
  return c;
}

describe('v2 store: the listing counter', () => {
  it("counts keys and directories of etcd 3.4.23's answer, the root not counted as a directory by callers", () => {
    const c = count(LISTING);
    assert.strictEqual(c.keys, 3);
    assert.strictEqual(c.dirs, 4, 'root, /coreos.com, /coreos.com/network, /emptydir');
    assert.ok(c.sawGet);
    assert.deepStrictEqual(c.examples, ['/foo', '/coreos.com', '/coreos.com/network']);
  });

  it('gives the same figures however the stream is cut (1, 2, 3, 7 bytes)', () => {
    for (const cut of [1, 2, 3, 7]) {
      const c = count(LISTING, cut);
      assert.deepStrictEqual([c.keys, c.dirs, c.sawGet], [3, 4, true], `cut ${cut}`);
    }
  });

  it('an empty v2 store: no key, the root only', () => {
    const c = count(EMPTY);
    assert.deepStrictEqual([c.keys, c.dirs, c.sawGet], [0, 1, true]);
  });

  it('values that look like JSON keys ("value":, escaped quotes, "dir":true inside a string) are not counted', () => {
    const nodes = [{ key: '/a', value: '"value":1,"dir":true,\\"value\\":' }, { key: '/b"x', value: '' }];
    const tricky = JSON.stringify({ action: 'get', node: { dir: true, nodes } });
    const c = count(tricky, 1);
    assert.deepStrictEqual([c.keys, c.dirs], [2, 1]);
    assert.deepStrictEqual(c.examples, ['/a', '/b"x']);
  });

  it('multi-byte UTF-8 cut anywhere and a long value change nothing', () => {
    const nodes = [{ key: '/ü/€', value: 'é'.repeat(10_000) }, { key: '/k2', value: 'x' }];
    const big = JSON.stringify({ action: 'get', node: { dir: true, nodes } });
    const c = count(big, 5);
    assert.deepStrictEqual([c.keys, c.dirs], [2, 1]);
    assert.strictEqual(c.examples[0], '/ü/€');
  });

  it("an error answer is not a listing (errorCode read, no 'get')", () => {
    const c = count('{"errorCode":110,"message":"The request requires user authentication","cause":"Insufficient credentials","index":0}');
    assert.strictEqual(c.sawGet, false);
    assert.strictEqual(c.errorCode, 110);
  });

  it('a listing of 200k keys (18 MB) is counted in 64 KiB chunks, quickly', () => {
    const parts = ['{"action":"get","node":{"dir":true,"nodes":['];
    for (let i = 0; i < 200_000; i++) {
      parts.push(`${i ? ',' : ''}{"key":"/k${i}","value":"${'v'.repeat(40)}","modifiedIndex":${i},"createdIndex":${i}}`);
    }
    parts.push(']}}');
    const all = Buffer.from(parts.join(''));
    const started = Date.now();
    const c = count(all, 65536);
    assert.strictEqual(c.keys, 200_000);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});

describe('v2 store: the flag in etcd files', () => {
  const one = (text: string, name: string): ReturnType<typeof v2SettingOf> => v2SettingOf([parseEtcdFile(text, name)]);

  it('manifest: --enable-v2 (bare), --enable-v2=true, --enable-v2=false; the last one wins', () => {
    const pod = (flags: string[]): string =>
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n' +
      flags.map((f) => `    - ${f}\n`).join('');
    const on = one(pod(['--data-dir=/var/lib/etcd', '--enable-v2']), 'etcd.yaml');
    assert.deepStrictEqual(on, { enabled: true, written: '--enable-v2', file: 'etcd.yaml' });
    assert.strictEqual(one(pod(['--enable-v2=true']), 'etcd.yaml')?.enabled, true);
    assert.strictEqual(one(pod(['--enable-v2', '--enable-v2=false']), 'etcd.yaml')?.enabled, false);
    assert.strictEqual(one(pod(['--data-dir=/var/lib/etcd']), 'etcd.yaml'), undefined);
  });

  it('env file: ETCD_ENABLE_V2 with the values Go accepts; a bad value is flagged, not taken as on', () => {
    const on = one('ETCD_NAME=a\nETCD_ENABLE_V2=true\n', 'etcd.env');
    assert.deepStrictEqual(on, { enabled: true, written: 'ETCD_ENABLE_V2=true', file: 'etcd.env' });
    assert.strictEqual(one('ETCD_ENABLE_V2="1"\n', 'etcd.env')?.enabled, true);
    assert.strictEqual(one('ETCD_ENABLE_V2=False\n', 'etcd.env')?.enabled, false);
    const bad = one('ETCD_ENABLE_V2=yes\n', 'etcd.env');
    assert.strictEqual(bad?.enabled, false);
    assert.strictEqual(bad?.invalid, true);
  });

  it('config file: enable-v2: true; with experimental-enable-v2v3 the keys are in the v3 store', () => {
    assert.strictEqual(one('name: a\ndata-dir: /var/lib/etcd\nenable-v2: true\n', 'etcd.conf.yml')?.enabled, true);
    const emu = one('name: a\nenable-v2: true\nexperimental-enable-v2v3: /v2/\n', 'etcd.conf.yml');
    assert.strictEqual(emu?.emulatedPrefix, '/v2/');
    const fixture = readFileSync(join(fixtures, 'etcd.conf.yml'), 'utf8');
    assert.strictEqual(one(fixture, 'etcd.conf.yml'), undefined, 'the fixture does not enable v2');
  });

  it('systemd unit: the flag on ExecStart= beats ETCD_ENABLE_V2 in its EnvironmentFile', () => {
    const unit = parseEtcdFile('[Service]\nEnvironmentFile=/etc/default/etcd\nExecStart=/usr/bin/etcd --enable-v2=false\n', 'etcd.service');
    const env = parseEtcdFile('ETCD_ENABLE_V2=true\n', '/etc/default/etcd');
    assert.strictEqual(v2SettingOf([unit, env])?.enabled, false);
    const bare = parseEtcdFile('[Service]\nEnvironmentFile=/etc/default/etcd\nExecStart=/usr/bin/etcd\n', 'etcd.service');
    assert.strictEqual(v2SettingOf([bare, env])?.enabled, true);
  });

  it('etcdFilesEnablingV2: a unit and its env file on disk, with the data dir; FIFOs, folders and other files are skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2files-'));
    try {
      writeFileSync(join(dir, 'etcd'), 'ETCD_DATA_DIR=/var/lib/etcd/default\nETCD_ENABLE_V2=true\n');
      const unit = `[Service]\nEnvironmentFile=-${join(dir, 'etcd')}\nExecStart=/usr/bin/etcd --wal-dir=/wal\n`;
      writeFileSync(join(dir, 'etcd.service'), unit);
      writeFileSync(join(dir, 'plain.env'), 'ETCD_DATA_DIR=/x\n');
      mkdirSync(join(dir, 'folder.yaml'));
      const { execFileSync } = await import('child_process');
      execFileSync('mkfifo', [join(dir, 'fifo.env')]);
      const paths = ['etcd.service', 'plain.env', 'folder.yaml', 'fifo.env', 'missing'].map((f) => join(dir, f));
      const found = await etcdFilesEnablingV2(paths);
      assert.strictEqual(found.length, 1);
      assert.strictEqual(found[0].file, join(dir, 'etcd.service'));
      assert.strictEqual(found[0].dataDir, '/var/lib/etcd/default');
      assert.strictEqual(found[0].walDir, '/wal');
      assert.strictEqual(found[0].written, 'ETCD_ENABLE_V2=true');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('v2 store: the member\'s files before a restore', () => {
  it('well-known files count only when their data dir is the one restored; the member\'s own file always', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2member-'));
    try {
      const a = join(dir, 'a.env');
      const b = join(dir, 'b.env');
      const own = join(dir, 'own.env');
      writeFileSync(a, 'ETCD_DATA_DIR=/var/lib/etcd/\nETCD_ENABLE_V2=true\n');
      writeFileSync(b, 'ETCD_DATA_DIR=/var/lib/other\nETCD_ENABLE_V2=true\n');
      writeFileSync(own, 'ETCD_DATA_DIR=/elsewhere\nETCD_ENABLE_V2=1\n');
      const dataDirs = ['/var/lib/etcd-new', '/var/lib/etcd', undefined];
      const found = await memberFilesEnablingV2({ dataDirs, memberFiles: [own], wellKnown: [a, b, own] });
      assert.deepStrictEqual(found.map((f) => f.file), [own, a]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('v2 store: sentences', () => {
  it('the backup command quotes what needs quoting', () => {
    const simple = v2BackupCommand('/var/lib/etcd', '/backup/v2');
    assert.strictEqual(simple, 'ETCDCTL_API=2 etcdctl backup --data-dir /var/lib/etcd --backup-dir /backup/v2');
    const quoted = v2BackupCommand("/data/it's here", '/b', '/wal');
    assert.strictEqual(quoted, "ETCDCTL_API=2 etcdctl backup --data-dir '/data/it'\\''s here' --wal-dir /wal --backup-dir /b");
    assert.match(v2BackupCommand(), /--data-dir '<member data dir>' --backup-dir '<backup dir>'$/);
  });

  it('keys: the warning, the summary and the save lines with the command', () => {
    const c = { state: 'keys' as const, endpoint: 'http://e:2379', keys: 3, dirs: 1, examples: ['/foo', '/coreos.com'] };
    const expected = 'This cluster holds 3 keys in the v2 store (e.g. /foo, /coreos.com) that a snapshot does not contain.';
    assert.strictEqual(v2Warning(c), expected);
    assert.strictEqual(v2Summary(c), 'v2 store: 3 keys not in snapshots');
    const lines = v2SaveWarning(c, { backupDir: '/b' });
    assert.match(lines[1], /ETCDCTL_API=2 etcdctl backup --data-dir '<member data dir>' --backup-dir \/b/);
    assert.match(lines[2], /migrate/);
  });

  it('nothing to say for an empty store, a v2 API that is off, or emulation; a check that did not run says so', () => {
    assert.deepStrictEqual(v2SaveWarning({ state: 'keys', endpoint: 'e', keys: 0, dirs: 0, examples: [] }), []);
    assert.deepStrictEqual(v2SaveWarning({ state: 'off', endpoints: ['e'] }), []);
    assert.deepStrictEqual(v2SaveWarning({ state: 'emulated', endpoint: 'e', keys: 2 }), []);
    assert.strictEqual(v2Summary({ state: 'off', endpoints: ['e'] }), 'v2 API off');
    const nr = v2SaveWarning({ state: 'notRun', kind: 'auth', reason: 'the v2 API asks for credentials' });
    assert.deepStrictEqual(nr, ['The v2 store was not checked (the v2 API asks for credentials): a snapshot never contains v2 keys.']);
    assert.strictEqual(v2Summary({ state: 'notRun', kind: 'timeout', reason: 'no answer' }), 'v2 store not checked: no answer');
  });

  it('restore: from the source cluster\'s count, else from this member\'s files, with the old data dir in the command', () => {
    const check = { state: 'keys' as const, endpoint: 'e', keys: 1, dirs: 0, examples: [] };
    const fromCheck = v2RestoreWarning({ check, oldDataDir: '/var/lib/etcd' });
    assert.match(fromCheck[0], /the cluster you restore from had 1 key in its v2 store/);
    assert.match(fromCheck[1], /--data-dir \/var\/lib\/etcd --backup-dir/);
    const manifest = { enabled: true, written: '--enable-v2', file: '/etc/kubernetes/manifests/etcd.yaml', dataDir: '/var/lib/etcd' };
    const fromFiles = v2RestoreWarning({ files: [manifest] });
    assert.match(fromFiles[0], /this member's etcd files enable the v2 API: \/etc\/kubernetes\/manifests\/etcd.yaml \(--enable-v2\)/);
    assert.match(fromFiles[1], /--data-dir \/var\/lib\/etcd/);
    assert.deepStrictEqual(v2RestoreWarning({ files: [{ enabled: true, written: '--enable-v2', file: 'f', emulatedPrefix: '/p/' }] }), []);
    assert.deepStrictEqual(v2RestoreWarning({}), []);
  });
});
