/**
 * The batched replay keeps every revision equal when a revision only deleted keys: the guard of
 * the revision after it (the deleted key is absent) also holds before that key was created, so
 * such a transaction must not be in flight with its predecessor. A synthetic change log on the
 * tiny fixture (revision 3): 400 keys each created and deleted at once (every put follows a
 * delete-only revision), replayed to the end and checked (revision, key count, history hash).
 */
import assert from 'assert';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { materialize } from '../../src/core/pitr/materialize';
import { ChangeEvent, SegmentBuilder, segmentName } from '../../src/core/pitr/segment';
import { FullSnapshots, LocalSegmentStore } from '../../src/core/pitr/store';

const FIXTURE = join(__dirname, '..', 'fixtures', 'snapshots', 'tiny.db');

describe('point-in-time replay in batches: delete-only revisions', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-replay-'));
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates and deletes 1,300 keys one revision each and comes out at the same revision with the same history (read back in 3 chunks)', async () => {
    const store = new LocalSegmentStore(join(dir, 'changelog'));
    const first = 4;
    const b = new SegmentBuilder({ cluster: 'tiny', first });
    let rev = first;
    for (let i = 0; i < 1300; i++) {
      const key = Buffer.from(`/pitr/x${i}`);
      const put: ChangeEvent = {
        op: 'put',
        key,
        value: Buffer.from(`v${i}`),
        createRevision: rev,
        modRevision: rev,
        version: 1,
        lease: '0',
      };
      b.addRevision({ revision: rev, time: Date.now(), events: [put] });
      rev++;
      const del: ChangeEvent = { op: 'delete', key, value: Buffer.alloc(0), createRevision: 0, modRevision: rev, version: 0, lease: '0' };
      b.addRevision({ revision: rev, time: Date.now(), events: [del] });
      rev++;
    }
    const last = rev - 1;
    await store.write(segmentName(first, last), b.finish());
    const snapshots: FullSnapshots = {
      where: FIXTURE,
      list: async () => [{ name: 'tiny', revision: 3, time: 0, path: FIXTURE }],
      open: async () => ({ path: FIXTURE, done: async () => undefined }),
    };
    const r = await materialize({ segments: store, snapshots, toRevision: last, output: join(dir, 'out.db') });
    assert.strictEqual(r.revision, last);
    assert.deepStrictEqual(
      r.checks.filter((c) => !c.ok),
      [],
    );
    assert.strictEqual(r.replayed.revisions, 2600);
    assert.strictEqual(r.checks.find((c) => c.what === 'history events')?.actual, '2600');
  });
});
