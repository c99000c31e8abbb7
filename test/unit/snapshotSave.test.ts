/**
 * The pure parts of snapshot save: the file name convention, where a save writes, which
 * member is suggested, the sidecar format (written 0600 via temp+rename, read back
 * tolerantly), progress lines, and the CLI's usage errors (exit 2 before anything happens).
 */
import * as assert from 'assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseDuration, saveCommand } from '../../src/cli/snapshotSave';
import { CliUsageError } from '../../src/cli/types';
import type { ClusterOverview, MemberOverview } from '../../src/core/clusterStatus';
import { EtcdBackupError } from '../../src/core/errors';
import { formatBytes, formatSaveProgress, saveSnapshot, snapshotFileName, snapshotTarget, suggestSnapshotEndpoints } from '../../src/core/snapshot/save';
import { parseSidecar, readSidecarFor, SIDECAR_FORMAT, sidecarCandidates, sidecarPathFor, SnapshotSidecar, writeSidecar } from '../../src/core/snapshot/sidecar';

function member(name: string, over: Partial<MemberOverview> = {}): MemberOverview {
  return {
    id: `${name}00`,
    name,
    peerURLs: [`https://${name}:2380`],
    clientURLs: [`https://${name}:2379`],
    role: 'follower',
    isLearner: false,
    started: true,
    reachable: true,
    healthy: true,
    endpoint: `https://${name}:2379`,
    tookMs: 5,
    ...over,
  };
}

function overview(members: MemberOverview[]): ClusterOverview {
  return { cluster: 'c', reachable: true, endpointErrors: [], members, probes: [], fetchedAt: 0, tookMs: 1 };
}

async function usageError(args: string[]): Promise<string> {
  try {
    await saveCommand.run(args);
  } catch (err) {
    assert.ok(err instanceof CliUsageError, `expected a usage error, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a usage error');
}

describe('snapshot save: names, targets, suggestions', () => {
  it('names files <YYYYMMDD_HHMMSS>_snapshot.db in local time', () => {
    assert.strictEqual(snapshotFileName(new Date(2026, 0, 4, 9, 5, 7)), '20260104_090507_snapshot.db');
    assert.strictEqual(snapshotFileName(new Date(2025, 11, 31, 23, 59, 59)), '20251231_235959_snapshot.db');
  });

  it('writes to the file given, else the folder given, else the cluster folder; none is a clear refusal', () => {
    const now = new Date(2026, 0, 24, 10, 15, 0);
    assert.strictEqual(snapshotTarget({ name: 'c', snapshotDir: '/snaps' }, { file: '/x/y.db', dir: '/z', now }), '/x/y.db');
    assert.strictEqual(snapshotTarget({ name: 'c', snapshotDir: '/snaps' }, { dir: '/z', now }), '/z/20260124_101500_snapshot.db');
    assert.strictEqual(snapshotTarget({ name: 'c', snapshotDir: '/snaps' }, { now }), '/snaps/20260124_101500_snapshot.db');
    assert.throws(
      () => snapshotTarget({ name: 'prod' }, { now }),
      (e: unknown) => e instanceof EtcdBackupError && e.kind === 'invalidInput' && /Cluster "prod" has no snapshot folder: set one/.test(e.message),
    );
  });

  it('suggests the healthy leader, then healthy voters by round trip, learners, unhealthy, unreachable', () => {
    const list = suggestSnapshotEndpoints(
      overview([
        member('slow', { tookMs: 50 }),
        member('down', { reachable: false, healthy: false, endpoint: undefined }),
        member('lead', { role: 'leader', tookMs: 30 }),
        member('learn', { role: 'learner', isLearner: true, tookMs: 1, version: '3.5.9' }),
        member('fast', { tookMs: 2 }),
        member('sick', { healthy: false }),
      ]),
      ['https://lead:2379', 'https://10.9.9.9:2379'],
    );
    assert.deepStrictEqual(
      list.map((c) => c.member?.name ?? c.endpoint),
      ['lead', 'fast', 'slow', 'learn', 'sick', 'down', 'https://10.9.9.9:2379'],
    );
    assert.deepStrictEqual(list.map((c) => c.suggested), [true, false, false, false, false, false, false]);
    assert.strictEqual(list[0].reason, 'leader, healthy, 30 ms');
    assert.strictEqual(list[5].endpoint, 'https://down:2379');
    assert.deepStrictEqual(list.map((c) => c.usable), [true, true, true, true, true, false, false]);
  });

  it('offers a learner of etcd 3.4 as unusable (3.4 streams nothing from learners), saying why', () => {
    const list = suggestSnapshotEndpoints(overview([member('lead', { role: 'leader', version: '3.4.23' }), member('l', { role: 'learner', isLearner: true, version: '3.4.23' })]));
    assert.deepStrictEqual(list.map((c) => [c.member?.name, c.usable]), [['lead', true], ['l', false]]);
    assert.match(list[1].reason, /learner, healthy, 5 ms, etcd 3\.4\.23 streams no snapshot from a learner/);
  });

  it('suggests nothing when no member answers', () => {
    const list = suggestSnapshotEndpoints(overview([member('a', { reachable: false, healthy: false })]));
    assert.strictEqual(list.length, 1);
    assert.strictEqual(list[0].suggested, false);
  });

  it('formats progress with size, percent and rate', () => {
    assert.strictEqual(formatBytes(512), '512 B');
    assert.strictEqual(formatBytes(3 * 1024 * 1024), '3.0 MiB');
    assert.strictEqual(formatSaveProgress({ bytes: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, elapsedMs: 2000, bytesPerSecond: 256 * 1024 * 1024 }), '512.0 MiB of 1.00 GiB (50%) at 256.0 MiB/s');
    assert.strictEqual(formatSaveProgress({ bytes: 2048, elapsedMs: 1, bytesPerSecond: 0 }), '2.0 KiB at 0 B/s');
  });

  it('refuses before connecting: an existing final name, a cancelled signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'save-unit-'));
    try {
      const file = join(dir, 'old.db');
      writeFileSync(file, 'old');
      const cfg = { name: 'c', endpoints: ['http://127.0.0.1:1'] };
      await assert.rejects(saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', file }), (e: unknown) => e instanceof EtcdBackupError && e.kind === 'conflict');
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', dir, signal: ac.signal }), (e: unknown) => e instanceof EtcdBackupError && e.kind === 'cancelled');
      const notDir = join(dir, 'plain-file');
      writeFileSync(notDir, '');
      await assert.rejects(
        saveSnapshot(cfg, {}, { endpoint: 'http://127.0.0.1:1', dir: join(notDir, 'sub') }),
        (e: unknown) => e instanceof EtcdBackupError && e.kind === 'invalidInput' && /is not a folder/.test(e.message),
      );
      assert.deepStrictEqual(readdirSync(dir).sort(), ['old.db', 'plain-file']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('snapshot sidecar', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sidecar-unit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sample = (): SnapshotSidecar => ({
    format: SIDECAR_FORMAT,
    version: 1,
    cluster: 'prod',
    clusterId: 'cdf818194e3a8c32',
    members: [
      { id: '8e9e05c52164694d', name: 'n1', peerURLs: ['https://10.0.0.11:2380'], clientURLs: ['https://10.0.0.11:2379'], isLearner: false },
      { id: 'fd422379fda50e48', name: 'l1', peerURLs: ['https://10.0.0.13:2380'], clientURLs: [], isLearner: true },
    ],
    source: { endpoint: 'https://10.0.0.11:2379', memberId: '8e9e05c52164694d', memberName: 'n1', isLeader: true },
    etcdVersion: '3.4.23',
    revision: 1234,
    raftTerm: '7',
    raftIndex: '5678',
    dbSize: 20480,
    tookMs: 12,
    createdAt: '2026-01-24T10:15:00.000Z',
    sha256: 'aa'.repeat(32),
    file: { name: '20260124_101500_snapshot.db', size: 20512, sha256: 'aa'.repeat(32), dbSha256: 'bb'.repeat(32) },
  });

  it('sits beside the snapshot as x.json (x.db.json is also read)', () => {
    assert.strictEqual(sidecarPathFor('/s/20260124_101500_snapshot.db'), '/s/20260124_101500_snapshot.json');
    assert.strictEqual(sidecarPathFor('/s/raw'), '/s/raw.json');
    assert.deepStrictEqual(sidecarCandidates('/s/a.db'), ['/s/a.json', '/s/a.db.json']);
  });

  it('is written 0600 through a temp file (none left) and read back with every field', async () => {
    const snap = join(dir, '20260124_101500_snapshot.db');
    writeFileSync(snap, 'x');
    const p = await writeSidecar(snap, sample());
    assert.strictEqual(p, join(dir, '20260124_101500_snapshot.json'));
    assert.strictEqual(statSync(p).mode & 0o777, 0o600);
    assert.deepStrictEqual(readdirSync(dir).sort(), ['20260124_101500_snapshot.db', '20260124_101500_snapshot.json']);
    assert.deepStrictEqual(JSON.parse(readFileSync(p, 'utf8')), sample());
    const back = await readSidecarFor(snap);
    assert.strictEqual(back?.clusterId, 'cdf818194e3a8c32');
    assert.strictEqual(back?.revision, 1234);
    assert.strictEqual(back?.sha256, 'aa'.repeat(32));
    assert.deepStrictEqual(back?.members, sample().members);
  });

  it('reads older or hand-written sidecars: file.sha256, a revision as text, numeric ids; rejects non-objects', () => {
    const s = parseSidecar('/x.json', JSON.stringify({ revision: '42', file: { sha256: 'cc' }, members: [{ id: 12, name: 'a' }, 'junk'] }));
    assert.strictEqual(s?.revision, 42);
    assert.strictEqual(s?.sha256, 'cc');
    assert.deepStrictEqual(s?.members, [{ id: '12', name: 'a', peerURLs: [], clientURLs: [], isLearner: false }]);
    assert.strictEqual(parseSidecar('/x.json', '[1,2]'), undefined);
    assert.strictEqual(parseSidecar('/x.json', '{ nope'), undefined);
  });

  it('with needMembers, skips a sidecar that lists none', async () => {
    const snap = join(dir, 'empty.db');
    writeFileSync(join(dir, 'empty.json'), JSON.stringify({ clusterId: 'x', members: [] }));
    assert.strictEqual((await readSidecarFor(snap))?.clusterId, 'x');
    assert.strictEqual(await readSidecarFor(snap, { needMembers: true }), undefined);
  });
});

describe('etcd-backup snapshot save: usage', () => {
  it('parses etcdctl-style durations', () => {
    assert.strictEqual(parseDuration('5s', 'dial-timeout'), 5000);
    assert.strictEqual(parseDuration('500ms', 'x'), 500);
    assert.strictEqual(parseDuration('1m30s', 'x'), 90_000);
    assert.strictEqual(parseDuration('2', 'x'), 2000);
    assert.throws(() => parseDuration('soon', 'command-timeout'), /--command-timeout takes a duration such as 5s/);
  });

  it('refuses bad usage with one sentence before touching anything', async () => {
    assert.match(await usageError(['--endpoints', 'http://127.0.0.1:2379']), /give exactly one file or folder/);
    assert.match(await usageError(['/tmp/x.db']), /give the member to snapshot with --endpoints/);
    assert.match(await usageError(['/tmp/x.db', '--endpoints', 'http://a:2379,http://b:2379']), /a snapshot is taken from one member: give exactly one endpoint/);
    assert.match(await usageError(['/tmp/x.db', '--endpoints', 'ftp://a:2379']), /--endpoints: .*ftp/);
    assert.match(await usageError(['/tmp/x.db', '--endpoints', 'a:2379', '--cert', 'c.crt']), /--cert and --key go together/);
    assert.match(await usageError(['/tmp/x.db', '--endpoints', 'a:2379', '--password', 'p']), /--password needs --user/);
    const saved = process.env.ETCDCTL_PASSWORD;
    delete process.env.ETCDCTL_PASSWORD;
    try {
      assert.match(await usageError(['/tmp/x.db', '--endpoints', 'a:2379', '--user', 'root']), /no password for user "root": give --user root:PASSWORD, --password, or set ETCDCTL_PASSWORD/);
    } finally {
      if (saved !== undefined) process.env.ETCDCTL_PASSWORD = saved;
    }
    assert.match(await usageError(['/tmp/x.db', '--endpoints', 'a:2379', '-w', 'yaml']), /-w takes simple or json/);
    assert.match(await usageError(['/tmp/x.db', '--endpoints', 'a:2379', '--frobnicate']), /unknown flag --frobnicate/);
  });
});
