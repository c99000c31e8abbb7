/**
 * Data for tests on real etcd: many keys fast (batched transactions through etcd3), and a
 * keyspace shaped like a Kubernetes control plane's (`/registry/...`, protobuf envelopes
 * with the `k8s\0` magic for built-in types, JSON for custom resources and API services).
 * Plain Node, no vscode, no mocha.
 */
import { EtcdConnection } from '../../src/core/etcd';
import type { EtcdTestCluster } from './etcdRig';

/** One key and its value. */
export interface KeyValue {
  key: string;
  value: Buffer;
}

/** etcd's default limits: 128 operations per txn, 1.5 MiB per request (kept well under). */
const MAX_OPS = 128;
const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Write `kvs` in as few transactions as etcd allows, a few at a time. Returns the store
 * revision after the last write. Keys must be unique within `kvs`.
 */
export async function putAll(cluster: EtcdTestCluster, kvs: KeyValue[], opts: { concurrency?: number } = {}): Promise<number> {
  const batches: KeyValue[][] = [];
  let cur: KeyValue[] = [];
  let bytes = 0;
  for (const kv of kvs) {
    const size = kv.key.length + kv.value.length + 16;
    if (cur.length && (cur.length >= MAX_OPS || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(kv);
    bytes += size;
  }
  if (cur.length) {
    batches.push(cur);
  }
  const conn = await EtcdConnection.open(cluster.clusterConfig({ timeoutMs: 30000 }), cluster.secrets());
  let revision = 0;
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batches.length) {
        const batch = batches[next++];
        const res = await conn.client.kv.txn({
          compare: [],
          success: batch.map((kv) => ({ request_put: { key: Buffer.from(kv.key), value: kv.value } })),
          failure: [],
        });
        revision = Math.max(revision, Number(res.header.revision));
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, batches.length) }, () => worker()));
  } finally {
    conn.close();
  }
  return revision;
}

/** A value of exactly `size` bytes that names its key (readable in a hex dump). */
export function fillerValue(key: string, size: number): Buffer {
  const unit = Buffer.from(`${key};`);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += unit.length) {
    unit.copy(out, i, 0, Math.min(unit.length, size - i));
  }
  return out;
}

/**
 * Write `n` keys `<prefix><000000..>` with values of `valueSize` bytes. Returns the keys (in
 * order) and the revision after the writes.
 */
export async function putKeys(cluster: EtcdTestCluster, prefix: string, n: number, valueSize = 64): Promise<{ keys: string[]; revision: number }> {
  const width = Math.max(6, String(n - 1).length);
  const keys = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
  const revision = await putAll(
    cluster,
    keys.map((key) => ({ key, value: fillerValue(key, valueSize) })),
  );
  return { keys, revision };
}

// ---------------------------------------------------------------------------------------
// Kubernetes-shaped values

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** Protobuf length-delimited field. */
function field(num: number, data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([varint((num << 3) | 2), varint(b.length), b]);
}

/**
 * A value as the API server stores a built-in type: `k8s\0` then a runtime.Unknown message
 * (typeMeta{apiVersion, kind}, raw, contentEncoding, contentType). `raw` holds an object
 * whose field 1 is an ObjectMeta with name (1), namespace (3) and uid (5), then padding.
 */
export function k8sProtoValue(apiVersion: string, kind: string, name: string, namespace: string | undefined, size = 300): Buffer {
  const uid = uidFor(`${kind}/${namespace ?? ''}/${name}`);
  const meta = Buffer.concat([field(1, name), ...(namespace ? [field(3, namespace)] : []), field(5, uid)]);
  const body = [field(1, meta)];
  const used = body[0].length + 40;
  if (size > used) {
    body.push(field(2, fillerValue(`${kind}:${name}`, size - used)));
  }
  const unknown = Buffer.concat([field(1, Buffer.concat([field(1, apiVersion), field(2, kind)])), field(2, Buffer.concat(body)), field(4, '')]);
  return Buffer.concat([Buffer.from('k8s\0', 'binary'), unknown]);
}

/** A value as the API server stores custom resources: JSON. */
export function k8sJsonValue(apiVersion: string, kind: string, name: string, namespace: string | undefined, spec: Record<string, unknown> = {}): Buffer {
  const metadata: Record<string, unknown> = { name, uid: uidFor(`${kind}/${namespace ?? ''}/${name}`), creationTimestamp: '2026-01-01T00:00:00Z' };
  if (namespace) {
    metadata.namespace = namespace;
  }
  return Buffer.from(`${JSON.stringify({ apiVersion, kind, metadata, spec })}\n`);
}

function uidFor(s: string): string {
  let h = 2166136261;
  const parts: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const ch of `${round}:${s}`) {
      h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    }
    parts.push(h.toString(16).padStart(8, '0'));
  }
  const x = parts.join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export interface KubernetesSeedOptions {
  namespaces?: string[];
  podsPerNamespace?: number;
  configMapsPerNamespace?: number;
  secretsPerNamespace?: number;
  nodes?: number;
  /** Pods rewritten this many extra times (history for revisions and compaction tests). */
  podUpdates?: number;
  /** Approximate size of each built-in object's value in bytes. */
  objectSize?: number;
}

/**
 * The keys and values of a small Kubernetes control plane (no writes). Deterministic: the
 * same options give the same bytes.
 */
export function kubernetesKeyspace(opts: KubernetesSeedOptions = {}): KeyValue[] {
  const namespaces = opts.namespaces ?? ['default', 'kube-system', 'demo'];
  const size = opts.objectSize ?? 300;
  const kvs: KeyValue[] = [];
  const add = (key: string, value: Buffer): void => {
    kvs.push({ key, value });
  };
  for (let i = 1; i <= (opts.nodes ?? 3); i++) {
    const node = `node-${i}`;
    add(`/registry/minions/${node}`, k8sProtoValue('v1', 'Node', node, undefined, size));
    add(`/registry/leases/kube-node-lease/${node}`, k8sProtoValue('coordination.k8s.io/v1', 'Lease', node, 'kube-node-lease', 120));
  }
  add('/registry/namespaces/kube-node-lease', k8sProtoValue('v1', 'Namespace', 'kube-node-lease', undefined, 120));
  add('/registry/apiregistration.k8s.io/apiservices/v1.', k8sJsonValue('apiregistration.k8s.io/v1', 'APIService', 'v1.', undefined, { version: 'v1', groupPriorityMinimum: 18000 }));
  add('/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com', k8sJsonValue('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com', undefined, { group: 'example.com', names: { kind: 'Widget', plural: 'widgets' } }));
  add('/registry/ranges/serviceips', k8sProtoValue('v1', 'RangeAllocation', '', undefined, 80));
  for (const ns of namespaces) {
    add(`/registry/namespaces/${ns}`, k8sProtoValue('v1', 'Namespace', ns, undefined, 120));
    add(`/registry/serviceaccounts/${ns}/default`, k8sProtoValue('v1', 'ServiceAccount', 'default', ns, 120));
    add(`/registry/configmaps/${ns}/kube-root-ca.crt`, k8sProtoValue('v1', 'ConfigMap', 'kube-root-ca.crt', ns, 1200));
    for (let i = 0; i < (opts.configMapsPerNamespace ?? 2); i++) {
      add(`/registry/configmaps/${ns}/config-${i}`, k8sProtoValue('v1', 'ConfigMap', `config-${i}`, ns, size));
    }
    for (let i = 0; i < (opts.secretsPerNamespace ?? 1); i++) {
      add(`/registry/secrets/${ns}/secret-${i}`, k8sProtoValue('v1', 'Secret', `secret-${i}`, ns, 200));
    }
    const app = `${ns}-app`;
    add(`/registry/deployments/${ns}/${app}`, k8sProtoValue('apps/v1', 'Deployment', app, ns, size));
    add(`/registry/replicasets/${ns}/${app}-5d8f7c9b6d`, k8sProtoValue('apps/v1', 'ReplicaSet', `${app}-5d8f7c9b6d`, ns, size));
    add(`/registry/services/specs/${ns}/${app}`, k8sProtoValue('v1', 'Service', app, ns, 200));
    add(`/registry/services/endpoints/${ns}/${app}`, k8sProtoValue('v1', 'Endpoints', app, ns, 200));
    add(`/registry/example.com/widgets/${ns}/widget-a`, k8sJsonValue('example.com/v1', 'Widget', 'widget-a', ns, { size: 3 }));
    for (let i = 0; i < (opts.podsPerNamespace ?? 5); i++) {
      const pod = `${app}-5d8f7c9b6d-${String.fromCharCode(97 + (i % 26))}${i}`;
      add(`/registry/pods/${ns}/${pod}`, k8sProtoValue('v1', 'Pod', pod, ns, size));
      add(`/registry/events/${ns}/${pod}.17a${i.toString(16).padStart(5, '0')}`, k8sProtoValue('v1', 'Event', `${pod}.17a${i}`, ns, 150));
    }
  }
  return kvs;
}

/**
 * Write a Kubernetes-shaped keyspace (see `kubernetesKeyspace`), then rewrite the pods
 * `podUpdates` times. Returns what was written (last value of each key) and the revision.
 */
export async function seedKubernetes(cluster: EtcdTestCluster, opts: KubernetesSeedOptions = {}): Promise<{ keys: string[]; values: Map<string, Buffer>; revision: number }> {
  const kvs = kubernetesKeyspace(opts);
  let revision = await putAll(cluster, kvs);
  const values = new Map(kvs.map((kv) => [kv.key, kv.value]));
  const pods = kvs.filter((kv) => kv.key.startsWith('/registry/pods/'));
  for (let u = 1; u <= (opts.podUpdates ?? 0); u++) {
    const updated = pods.map((kv) => ({ key: kv.key, value: Buffer.concat([kv.value, Buffer.from(`#update${u}`)]) }));
    revision = await putAll(cluster, updated);
    for (const kv of updated) {
      values.set(kv.key, kv.value);
    }
  }
  return { keys: [...values.keys()].sort(), values, revision };
}

/**
 * Overwrite one key with 512 KiB values until etcd refuses with "database space exceeded"
 * (start the cluster with a small `--quota-backend-bytes`): the NOSPACE alarm is then
 * active. Returns how many puts went through and etcd's error. Throws after `maxPuts`.
 */
export async function fillUntilNospace(cluster: EtcdTestCluster, maxPuts = 400): Promise<{ puts: number; error: string }> {
  const conn = await EtcdConnection.open(cluster.clusterConfig({ timeoutMs: 30000 }), cluster.secrets());
  try {
    const value = Buffer.alloc(512 * 1024, 'x');
    for (let i = 0; i < maxPuts; i++) {
      value.write(String(i).padStart(8, '0'));
      try {
        await conn.client.put('/fill/big').value(value);
      } catch (err) {
        return { puts: i, error: err instanceof Error ? err.message : String(err) };
      }
    }
  } finally {
    conn.close();
  }
  throw new Error(`etcdData: etcd accepted ${maxPuts} puts of 512 KiB without "database space exceeded": was the cluster started with --quota-backend-bytes?`);
}
