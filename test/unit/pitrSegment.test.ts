import assert from 'assert';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseSegment, SegmentBuilder, SegmentCorruptError, segmentName } from '../../src/core/pitr/segment';
import { LocalSegmentStore, SegmentSpool, segmentsFor } from '../../src/core/pitr/store';
import { checkFollow } from '../../src/core/pitr/followPlan';

function fill(b: SegmentBuilder, first: number, n: number): void {
  b.addLease({ id: '7587869876543210123', ttl: 30, revision: first });
  for (let r = first; r < first + n; r++) {
    b.addRevision({
      revision: r,
      time: 1_700_000_000_000 + r,
      events: [
        {
          op: 'put',
          key: Buffer.from(`/k/${r}`),
          value: Buffer.from([0, 255, r & 255]),
          createRevision: r,
          modRevision: r,
          version: 1,
          lease: '7587869876543210123',
        },
        { op: 'delete', key: Buffer.from('/gone'), value: Buffer.alloc(0), createRevision: 0, modRevision: r, version: 0, lease: '0' },
      ],
    });
  }
}

function sample(first = 10, n = 3): { name: string; data: Buffer } {
  const b = new SegmentBuilder({ cluster: 'prod', first, createdAt: '2026-12-01T00:00:00.000Z' });
  fill(b, first, n);
  return { name: segmentName(first, first + n - 1), data: b.finish() };
}

describe('change-log segments', function () {
  it('round-trip: revisions, events, binary values, int64 lease ids', function () {
    const { name, data } = sample();
    const s = parseSegment(name, data);
    assert.strictEqual(s.first, 10);
    assert.strictEqual(s.last, 12);
    assert.strictEqual(s.events, 6);
    assert.deepStrictEqual(s.leases, [{ id: '7587869876543210123', ttl: 30, revision: 10 }]);
    assert.deepStrictEqual(s.revisions[1].events[0].value, Buffer.from([0, 255, 11]));
    assert.strictEqual(s.revisions[2].events[1].op, 'delete');
  });

  it('refuses a changed byte, a cut-short file, a wrong name, naming the segment', function () {
    const { name, data } = sample();
    const flipped = Buffer.from(data);
    flipped[60] ^= 1;
    assert.throws(
      () => parseSegment(name, flipped),
      (e: Error) => e instanceof SegmentCorruptError && e.message.includes(name),
    );
    assert.throws(() => parseSegment(name, data.subarray(0, data.length - 10)), /cut short/);
    assert.throws(() => parseSegment(segmentName(10, 13), data), /its name says revisions 10 to 13/);
  });

  it('a builder refuses a revision that does not follow the last one', function () {
    const b = new SegmentBuilder({ cluster: 'prod', first: 5 });
    assert.throws(() => b.addRevision({ revision: 6, time: 0, events: [] }), /must be consecutive/);
  });

  it('spooled: the bytes taken on the way and the rest make the same file as one built in memory', function () {
    const whole = sample(10, 50).data;
    const b = new SegmentBuilder({ cluster: 'prod', first: 10, createdAt: '2026-12-01T00:00:00.000Z' });
    const parts: Buffer[] = [];
    for (let r = 10; r < 60; r += 7) {
      fill(b, r, Math.min(7, 60 - r));
      assert.strictEqual(b.pendingBytes > 0, true);
      parts.push(b.takePending());
      assert.strictEqual(b.pendingBytes, 0);
    }
    parts.push(b.finish());
    assert.deepStrictEqual(Buffer.concat(parts), whole);
  });

  it('a spool file becomes a segment by name; a segment with other bytes is never replaced; a killed run’s spool is removed', async function () {
    const dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-spool-'));
    try {
      const store = new LocalSegmentStore(join(dir, 'changelog'));
      await fs.mkdir(store.dir, { recursive: true });
      await fs.writeFile(join(store.dir, '.open-segment-999-1'), 'left by a killed follower');
      const build = async (n: number): Promise<string> => {
        const b = new SegmentBuilder({ cluster: 'prod', first: 10, createdAt: '2026-12-01T00:00:00.000Z' });
        const spool = await SegmentSpool.open(await store.spoolFile(), b, 1024);
        for (let r = 10; r < 10 + n; r++) {
          fill(b, r, 1);
          await spool.drain();
          assert.ok(b.pendingBytes < 1024, 'the builder holds less than a chunk');
        }
        await spool.finish();
        assert.strictEqual((await fs.stat(spool.path)).mode & 0o777, 0o600);
        return spool.path;
      };
      const first = await build(40);
      assert.deepStrictEqual((await fs.readdir(store.dir)).sort(), [first.slice(store.dir.length + 1)], 'the old spool is gone');
      const name = segmentName(10, 49);
      await store.commit(name, first);
      assert.deepStrictEqual(await fs.readFile(join(store.dir, name)), sample(10, 40).data);
      // The same bytes again: kept as they are; other bytes under that name: refused, the segment untouched.
      await store.commit(name, await build(40));
      const other = await build(40);
      await fs.appendFile(other, 'x');
      await assert.rejects(store.commit(name, other), /already exists with other content/);
      assert.deepStrictEqual(await fs.readFile(join(store.dir, name)), sample(10, 40).data);
      assert.deepStrictEqual(await fs.readdir(store.dir), [name], 'no spool file is left');
      assert.strictEqual(parseSegment(name, await store.read({ name, first: 10, last: 49 })).events, 80);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('segmentsFor: the segments after a base up to a target, and the first gap', function () {
    const refs = [
      { name: 'a', first: 11, last: 20 },
      { name: 'b', first: 21, last: 30 },
      { name: 'd', first: 41, last: 50 },
    ];
    assert.deepStrictEqual(
      segmentsFor(refs, 15, 25).segments.map((r) => r.name),
      ['a', 'b'],
    );
    assert.deepStrictEqual(segmentsFor(refs, 10, 45).gap, { from: 31, to: 40, before: 'b', after: 'd' });
    assert.deepStrictEqual(segmentsFor(refs, 50, 60).gap, { from: 51, to: 60, before: undefined });
    assert.strictEqual(segmentsFor(refs, 30, 30).gap, undefined);
  });

  it('follow settings: defaults and one sentence per bad field', function () {
    assert.deepStrictEqual(checkFollow(undefined), { follow: { enabled: false, segmentSeconds: 60, segmentMiB: 16 }, problems: [] });
    assert.deepStrictEqual(checkFollow({ enabled: true, segmentSeconds: 5 }).follow, { enabled: true, segmentSeconds: 5, segmentMiB: 16 });
    assert.deepStrictEqual(checkFollow({ enabled: 'yes', segmentMiB: 0, extra: 1 }).problems, [
      'follow: unknown field "extra" (expected enabled, segmentSeconds, segmentMiB).',
      'follow.enabled must be true or false.',
      'follow.segmentMiB must be a number from 0.01 to 1024 (got 0).',
    ]);
  });
});
