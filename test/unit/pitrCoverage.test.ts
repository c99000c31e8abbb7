/** The covered range of a change log, a typed point checked against it, and the follower's state from its status file. */
import assert from 'assert';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { checkPoint, coverage, Coverage, followerReport } from '../../src/core/pitr/coverage';
import { SegmentBuilder, segmentName } from '../../src/core/pitr/segment';
import { FullSnapshots, LocalSegmentStore } from '../../src/core/pitr/store';

const FROM = Date.parse('2026-12-01T10:00:00Z');
const TO = Date.parse('2026-12-01T12:00:00Z');
const c: Coverage = { fromRevision: 100, fromTime: FROM, toRevision: 500, toTime: TO, fullSnapshots: 1, segments: 2 };

describe('point-in-time coverage and the follower state', () => {
  it('takes a revision or a time inside the range, and names the range otherwise', () => {
    assert.deepStrictEqual(checkPoint(' 250 ', c), { point: { revision: 250 } });
    assert.deepStrictEqual(checkPoint('100', c).point, { revision: 100 });
    assert.deepStrictEqual(checkPoint('2026-12-01T11:00:00Z', c).point, { time: new Date('2026-12-01T11:00:00Z') });
    const range = 'The change log covers revisions 100 to 500 (2026-12-01T10:00:00.000Z to 2026-12-01T12:00:00.000Z).';
    assert.strictEqual(checkPoint('99', c).problem, `Revision 99 is outside the recorded range. ${range}`);
    assert.strictEqual(checkPoint('501', c).problem, `Revision 501 is outside the recorded range. ${range}`);
    assert.strictEqual(checkPoint('2026-12-01T12:00:01Z', c).problem, `2026-12-01T12:00:01.000Z is outside the recorded range. ${range}`);
    assert.match(checkPoint('yesterday-ish', c).problem ?? '', /^"yesterday-ish" is neither a revision number nor a time/);
    assert.match(checkPoint('', c).problem ?? '', /^Give a revision or a time\./);
    assert.match(checkPoint('1e3', c).problem ?? '', /neither a revision/);
  });

  it('reads the range from the full snapshots and the last segment (its last recorded time)', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'pitr-cov-'));
    try {
      const store = new LocalSegmentStore(dir);
      const b = new SegmentBuilder({ cluster: 'x', first: 11 });
      for (let r = 11; r <= 13; r++) {
        const e = {
          op: 'put' as const,
          key: Buffer.from('k'),
          value: Buffer.from('v'),
          createRevision: 11,
          modRevision: r,
          version: r - 10,
          lease: '0',
        };
        b.addRevision({ revision: r, time: FROM + r * 1000, events: [e] });
      }
      await store.write(segmentName(11, 13), b.finish());
      const fulls: FullSnapshots = {
        where: dir,
        list: async () => [{ name: 'x-1', revision: 10, time: FROM }],
        open: async () => ({ path: '', done: async () => undefined }),
      };
      const got = await coverage(store, fulls, dir);
      assert.deepStrictEqual(got, {
        fromRevision: 10,
        fromTime: FROM,
        toRevision: 13,
        toTime: FROM + 13_000,
        fullSnapshots: 1,
        segments: 1,
      });
      const none: FullSnapshots = { ...fulls, list: async () => [] };
      assert.strictEqual(await coverage(store, none, dir), undefined);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('running, stalled, stopped: from the status file, its age and its process', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'pitr-status-'));
    try {
      const file = join(dir, 'follow-status.json');
      assert.strictEqual((await followerReport(file)).state, 'stopped');
      const now = Date.parse('2026-12-01T12:00:00Z');
      const status = (pid: number, ageMs: number, extra: object): Promise<void> =>
        fs.writeFile(
          file,
          JSON.stringify({
            pid,
            cluster: 'x',
            startedAt: '',
            updatedAt: new Date(now - ageMs).toISOString(),
            storedRevision: 90,
            receivedRevision: 100,
            ...extra,
          }),
        );
      await status(process.pid, 2000, { clusterRevision: 100, caughtUpAt: new Date(now - 2000).toISOString() });
      let r = await followerReport(file, now);
      assert.deepStrictEqual([r.state, r.recorded, r.behindRevisions, r.lagMs], ['running', 100, 0, 0]);
      await status(process.pid, 60_000, { clusterRevision: 150, caughtUpAt: new Date(now - 70_000).toISOString() });
      r = await followerReport(file, now);
      assert.deepStrictEqual([r.state, r.behindRevisions, r.lagMs, r.ageMs], ['stalled', 50, 70_000, 60_000]);
      await status(2 ** 22 + 12345, 1000, {}); // no such process (above pid_max's default)
      r = await followerReport(file, now);
      assert.deepStrictEqual([r.state, r.behindRevisions], ['stopped', undefined]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
