/**
 * Snapshots with a known history on real etcd, and what etcdctl says about them: the inputs of
 * the snapshot reader's tests (test/integration/snapshotReader.test.ts) and of the committed
 * fixtures (scripts/make-snapshot-fixtures.ts writes test/fixtures/snapshots/).
 * Plain Node, no vscode, no mocha.
 */
import { createHash } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { fillerValue, seedKubernetes } from './etcdData';
import type { EtcdTestCluster } from './etcdRig';

/** `etcdctl snapshot status -w json`. */
export interface EtcdctlStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** What etcdctl says about a snapshot and the cluster it came from, for the tests to compare with. */
export interface SnapshotExpectation {
  status: EtcdctlStatus;
  /** `etcdctl member list` (ids lowercase hex). */
  members: { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[];
  /** `etcdctl get <prefix> --prefix` counts at the snapshot's time, per prefix. */
  counts: Record<string, number>;
  /** Every live key (`etcdctl get "" --prefix` count). */
  liveKeys: number;
  /** A few keys and their values (base64) as etcdctl returns them. */
  values: Record<string, string>;
}

/** Prefixes the tests count. */
export const COUNT_PREFIXES = ['/registry/pods', '/registry/events', '/registry/secrets', '/registry/configmaps', '/registry/leases', '/big', '/lease', '/text', '/registry/'];

/** `etcdctl snapshot status <file> -w json`. */
export async function etcdctlStatus(c: EtcdTestCluster, file: string): Promise<EtcdctlStatus> {
  const out = await c.etcdctlOk(['snapshot', 'status', file, '-w', 'json'], { endpoints: [], user: null });
  return JSON.parse(out.trim().split('\n').pop() as string) as EtcdctlStatus;
}

/** `etcdctl get <prefix> --prefix` count (every key for ""). */
export async function etcdctlCount(c: EtcdTestCluster, prefix: string): Promise<number> {
  // etcdctl 3.4 has no --count-only: the response's count is the whole range's, whatever the limit.
  const args = ['get', prefix, '--prefix', '--keys-only', '--limit=1', '-w', 'json'];
  const j = JSON.parse(await c.etcdctlOk(args)) as { count?: number };
  return j.count ?? 0;
}

/** Put `value` (any size, through stdin) at `key`, optionally with a lease. */
export async function putValue(c: EtcdTestCluster, key: string, value: Buffer | string, lease?: string): Promise<void> {
  await c.etcdctlOk(['put', key, ...(lease ? [`--lease=${lease}`] : [])], { input: value });
}

/** Grant a lease; returns its id in hex as etcdctl prints it. */
export async function grantLease(c: EtcdTestCluster, ttl: number): Promise<string> {
  const out = await c.etcdctlOk(['lease', 'grant', String(ttl)]);
  const m = /lease ([0-9a-f]+) granted/.exec(out);
  if (!m) throw new Error(`unexpected lease grant output: ${out}`);
  return m[1];
}

/**
 * A history with every feature the reader must handle: a Kubernetes-shaped keyspace with
 * updates, deleted keys (tombstones), keys on a lease, text and binary values, values larger
 * than a page (overflow) and one larger than a MiB.
 */
export async function writeMixedHistory(c: EtcdTestCluster, opts: { huge?: boolean } = {}): Promise<void> {
  await seedKubernetes(c, { podsPerNamespace: 6, podUpdates: 2, secretsPerNamespace: 3 });
  // Deletes: a whole prefix and single keys.
  await c.etcdctlOk(['del', '/registry/events/demo/', '--prefix']);
  await c.etcdctlOk(['del', '/registry/secrets/default/secret-1']);
  // Leases.
  const lease = await grantLease(c, 3600);
  for (let i = 0; i < 3; i++) {
    await putValue(c, `/lease/held-${i}`, `on lease ${lease}`, lease);
  }
  // Text, UTF-8 and binary values.
  await putValue(c, '/text/hello', 'hello, world\nsecond line');
  await putValue(c, '/text/utf8', 'grüße, 日本語');
  await putValue(c, '/text/json', '{"a":1,"b":[true,null]}');
  await putValue(c, '/bin/blob', Buffer.from([0, 1, 2, 3, 255, 254, 0x80, 10]));
  // Overflow: a few pages, and more than a MiB.
  await putValue(c, '/big/20k', fillerValue('/big/20k', 20_000));
  if (opts.huge ?? true) await putValue(c, '/big/1200k', fillerValue('/big/1200k', 1_200_000));
  // Overwrite one big value (history of a large key) and delete another key.
  await putValue(c, '/big/20k', fillerValue('/big/20k#2', 21_000));
  await c.etcdctlOk(['del', '/text/hello']);
  await putValue(c, '/text/hello', 'hello again');
}

/** Compact at the current revision and defragment every member. */
export async function compactAndDefrag(c: EtcdTestCluster): Promise<number> {
  const j = JSON.parse(await c.etcdctlOk(['endpoint', 'status', '-w', 'json'], { endpoints: [c.endpoints[0]] })) as { Status: { header: { revision: number } } }[];
  const rev = j[0].Status.header.revision;
  await c.etcdctlOk(['compaction', String(rev), '--physical']);
  await c.etcdctlOk(['defrag']);
  return rev;
}

/** `etcdctl snapshot save` from the first member into `file`. */
export async function saveWithEtcdctl(c: EtcdTestCluster, file: string): Promise<void> {
  await c.etcdctlOk(['snapshot', 'save', file], { endpoints: [c.endpoints[0]] });
}

/** Everything the tests compare the reader with, asked of etcdctl right after the save. */
export async function expectationFor(c: EtcdTestCluster, file: string, valueKeys: string[] = []): Promise<SnapshotExpectation> {
  const counts: Record<string, number> = {};
  for (const p of COUNT_PREFIXES) counts[p] = await etcdctlCount(c, p);
  const values: Record<string, string> = {};
  for (const k of valueKeys) {
    const j = JSON.parse(await c.etcdctlOk(['get', k, '-w', 'json'])) as { kvs?: { value?: string }[] };
    if (j.kvs?.length) values[k] = j.kvs[0].value ?? '';
  }
  return {
    status: await etcdctlStatus(c, file),
    members: (await c.memberListJson()).members,
    counts,
    liveKeys: await etcdctlCount(c, ''),
    values,
  };
}

/** Write `db` with a fresh SHA-256 trailer (a file whose structure is damaged but whose trailer matches). */
export function writeWithTrailer(path: string, db: Buffer): void {
  writeFileSync(path, Buffer.concat([db, createHash('sha256').update(db).digest()]));
}

/** The database image of a snapshot file (without its trailer). */
export function dbImage(path: string): Buffer {
  const b = readFileSync(path);
  return b.length % 512 === 32 ? Buffer.from(b.subarray(0, b.length - 32)) : b;
}

/** Fixture files committed under test/fixtures/snapshots/. */
export const FIXTURE_DIR = join(__dirname, '..', 'fixtures', 'snapshots');
