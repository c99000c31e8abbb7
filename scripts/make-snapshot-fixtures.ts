/**
 * Regenerates test/fixtures/snapshots/: small snapshots written by a real etcd (Debian's 3.4),
 * each with `<name>.expected.json` holding what etcdctl says about it (status, member list,
 * key counts per prefix, a few values). Run: `npx tsx scripts/make-snapshot-fixtures.ts`.
 *
 * - mixed.db: a 3-member cluster's Kubernetes-shaped keyspace with updates, deletes, leases,
 *   text/binary values and a value spanning several pages;
 * - compacted.db: the same after compaction and defragmentation;
 * - tiny.db: a fresh 1-member cluster with two keys (every bucket inline).
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { startCluster, stopAllClusters } from '../test/support/etcdRig';
import { compactAndDefrag, expectationFor, FIXTURE_DIR, putValue, saveWithEtcdctl, writeMixedHistory } from '../test/support/snapshotData';

const VALUE_KEYS = ['/text/hello', '/text/utf8', '/text/json', '/bin/blob', '/lease/held-0', '/registry/pods/default/default-app-5d8f7c9b6d-a0'];

async function main(): Promise<void> {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const write = (name: string, data: unknown): void => writeFileSync(join(FIXTURE_DIR, name), `${JSON.stringify(data, null, 2)}\n`);
  const c = await startCluster({ members: 3, name: 'fixture' });
  try {
    await writeMixedHistory(c, { huge: false });
    await saveWithEtcdctl(c, join(FIXTURE_DIR, 'mixed.db'));
    write('mixed.expected.json', await expectationFor(c, join(FIXTURE_DIR, 'mixed.db'), VALUE_KEYS));
    await compactAndDefrag(c);
    await saveWithEtcdctl(c, join(FIXTURE_DIR, 'compacted.db'));
    write('compacted.expected.json', await expectationFor(c, join(FIXTURE_DIR, 'compacted.db'), VALUE_KEYS));
  } finally {
    await c.stop();
  }
  const t = await startCluster({ members: 1, name: 'tiny' });
  try {
    await putValue(t, '/a', 'one');
    await putValue(t, '/b', 'two');
    await saveWithEtcdctl(t, join(FIXTURE_DIR, 'tiny.db'));
    write('tiny.expected.json', await expectationFor(t, join(FIXTURE_DIR, 'tiny.db'), ['/a', '/b']));
  } finally {
    await t.stop();
  }
}

main().then(
  () => stopAllClusters(),
  async (err) => {
    console.error(err);
    await stopAllClusters();
    process.exitCode = 1;
  },
);
