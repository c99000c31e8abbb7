/**
 * What a snapshot holds, beyond `etcdctl snapshot status`: the members stored inside it, the
 * cluster version, the raft index and term of the meta bucket, and the keyspace at the
 * snapshot's revision broken down by prefix (live keys and bytes, and the history kept for
 * them), so that a person can see why a database is big. Plus listing and searching keys and
 * values (`listKeys`), and the small-bucket readers restore uses (`readSnapshotMembers`).
 *
 * Live keys are those whose latest revision in the `key` bucket is not a tombstone.
 */
import { BoltFile, BucketPlan, corruptError, EntrySink, walkTree } from './bbolt';
import { crc32cUpdate } from './crc32c';
import { decodeKeyValue, describeValue, isRevisionKey, KeyValueView, revisionMain, ValueView } from './mvcc';
import { beU64String, SnapshotStatus, statusOf } from './status';

/** A member as stored in the `members` bucket (JSON), with its id from the key (hex). */
export interface SnapshotMember {
  /** Lowercase hex, as etcdctl prints member ids. */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface PrefixFigures {
  prefix: string;
  /** Keys whose latest revision is a put. */
  liveKeys: number;
  /** Key + value bytes of those latest revisions. */
  liveBytes: number;
  /** Entries in the `key` bucket under the prefix: every revision kept, tombstones included. */
  revisions: number;
  /** Their bytes as stored (revision key + KeyValue record). */
  revisionBytes: number;
}

export interface KeyspaceSummary {
  /** The grouping used: a depth, or 'auto' (Kubernetes resources under /registry). */
  prefixDepth: number | 'auto';
  liveKeys: number;
  liveBytes: number;
  revisions: number;
  revisionBytes: number;
  tombstones: number;
  /** Keys whose latest revision is a delete (kept until compaction). */
  deletedKeys: number;
  /** Live keys attached to a lease. */
  keysWithLease: number;
  /** Lowest and highest main revision in the `key` bucket. */
  oldestRevision: number;
  newestRevision: number;
  /** Sorted by live bytes, largest first. */
  prefixes: PrefixFigures[];
  /** The largest live keys (key + value bytes), largest first. */
  largest: { key: string; bytes: number; revisions: number }[];
}

export interface SnapshotReport {
  path: string;
  status: SnapshotStatus;
  members: SnapshotMember[];
  /** Ids (hex) in `members_removed`. */
  removedMemberIds: string[];
  clusterVersion?: string;
  consistentIndex?: string;
  term?: string;
  storageVersion?: string;
  /** The last compaction that finished (main revision), from the meta bucket. */
  compactRevision?: number;
  scheduledCompactRevision?: number;
  authEnabled?: boolean;
  users: string[];
  roles: string[];
  leases: number;
  keyspace: KeyspaceSummary;
}

export interface InspectOptions {
  signal?: AbortSignal;
  /** Group keys by their first N path segments; default 'auto' (Kubernetes-aware). */
  prefixDepth?: number | 'auto';
  onProgress?: (done: number, total: number) => void;
}

// ---------------------------------------------------------------------------------------
// Prefixes

/**
 * The group a key belongs to. With a depth N: its first N `/`-separated segments (a key with
 * fewer goes to its parent path). 'auto': Kubernetes resources, `/registry/<resource>`, or
 * `/registry/<group>/<resource>` for API groups (names with a dot) and `services/specs|endpoints`;
 * other keys by their first segment.
 */
export function prefixOf(key: string, depth: number | 'auto' = 'auto'): string {
  const lead = key.startsWith('/') ? 1 : 0;
  let n = depth === 'auto' ? 1 : Math.max(1, depth);
  if (depth === 'auto' && key.startsWith('/registry/')) {
    const s2 = key.indexOf('/', 10);
    const seg = s2 < 0 ? key.slice(10) : key.slice(10, s2);
    n = seg.includes('.') || seg === 'services' ? 3 : 2;
  }
  let pos = lead;
  let cut = -1;
  for (let i = 0; i < n; i++) {
    const j = key.indexOf('/', pos);
    if (j < 0) break;
    cut = j;
    pos = j + 1;
  }
  if (cut < 0) return lead ? '/' : '(no prefix)';
  return key.slice(0, cut);
}

// ---------------------------------------------------------------------------------------
// The key index: latest revision of each key

/** Grows typed arrays as slots are added. */
class Slots {
  n = 0;
  cap = 1024;
  latest = new Float64Array(this.cap);
  size = new Float64Array(this.cap);
  revs = new Uint32Array(this.cap);
  revBytes = new Float64Array(this.cap);
  /** bit 0: latest is a tombstone; bit 1: latest has a lease; bit 2: latest matched the search. */
  flags = new Uint8Array(this.cap);
  /** CRC-32C of the latest value (diff). */
  crc = new Uint32Array(this.cap);
  /** File position of the latest value (listing), -1 unknown. */
  pos = new Float64Array(this.cap);
  create = new Float64Array(this.cap);
  version = new Float64Array(this.cap);

  add(): number {
    if (this.n === this.cap) {
      this.cap *= 2;
      const grow = <T extends Float64Array | Uint32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as { new (n: number): T })(this.cap);
        b.set(a);
        return b;
      };
      this.latest = grow(this.latest);
      this.size = grow(this.size);
      this.revs = grow(this.revs);
      this.revBytes = grow(this.revBytes);
      this.flags = grow(this.flags);
      this.crc = grow(this.crc);
      this.pos = grow(this.pos);
      this.create = grow(this.create);
      this.version = grow(this.version);
    }
    return this.n++;
  }
}

export interface KeyFilter {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys containing this. */
  keyContains?: string;
  /** Only keys whose latest value contains this (bytes, as UTF-8). */
  valueContains?: string;
}

/** Sink for the `key` bucket: the latest revision of every (matching) key. */
class KeyIndexSink implements EntrySink {
  readonly map = new Map<string, number>();
  readonly slots = new Slots();
  readonly kv = new KeyValueView();
  revisions = 0;
  revisionBytes = 0;
  tombstones = 0;
  oldest = 0;
  newest = 0;
  bad = 0;
  /** Lease ids (hex) of the latest revisions that have one, when `keepLeases`. */
  readonly leases = new Map<number, string>();
  keepLeases = false;
  private prefix?: Buffer;
  private keyNeedle?: Buffer;
  private valueNeedle?: Buffer;

  constructor(
    filter: KeyFilter = {},
    private readonly withCrc = false,
  ) {
    if (filter.prefix) this.prefix = Buffer.from(filter.prefix, 'utf8');
    if (filter.keyContains) this.keyNeedle = Buffer.from(filter.keyContains, 'utf8');
    if (filter.valueContains) this.valueNeedle = Buffer.from(filter.valueContains, 'utf8');
  }

  entry(buf: Buffer, words: Int32Array, kOff: number, kLen: number, vOff: number, vLen: number, flags: number, base: number): void {
    if (flags !== 0 || !isRevisionKey(buf, kOff, kLen) || !decodeKeyValue(buf, vOff, vLen, this.kv)) {
      this.bad++;
      return;
    }
    const kv = this.kv;
    const main = revisionMain(buf, kOff);
    if (this.revisions === 0) this.oldest = main;
    this.newest = main;
    this.revisions++;
    this.revisionBytes += kLen + vLen;
    const tomb = kLen === 18;
    if (tomb) this.tombstones++;
    const p = this.prefix;
    if (p) {
      if (kv.keyLen < p.length || buf.compare(p, 0, p.length, kv.keyOff, kv.keyOff + p.length) !== 0) return;
    }
    if (this.keyNeedle && buf.subarray(kv.keyOff, kv.keyOff + kv.keyLen).indexOf(this.keyNeedle) < 0) return;
    const key = buf.toString('latin1', kv.keyOff, kv.keyOff + kv.keyLen);
    let slot = this.map.get(key);
    if (slot === undefined) {
      slot = this.slots.add();
      this.map.set(key, slot);
    }
    const s = this.slots;
    s.latest[slot] = main;
    s.revs[slot]++;
    s.revBytes[slot] += kLen + vLen;
    s.size[slot] = kv.keyLen + kv.valueLen;
    let f = tomb ? 1 : 0;
    if (kv.leaseLen && !(kv.leaseLen === 1 && buf[kv.leaseOff] === 0)) f |= 2;
    if (this.valueNeedle && !tomb && buf.subarray(kv.valueOff, kv.valueOff + kv.valueLen).indexOf(this.valueNeedle) >= 0) f |= 4;
    s.flags[slot] = f;
    if (f & 2 && this.keepLeases) this.leases.set(slot, kv.leaseHex(buf) ?? '');
    s.create[slot] = kv.createRevision;
    s.version[slot] = kv.version;
    s.pos[slot] = base >= 0 ? base + kv.valueOff : -1;
    if (this.withCrc) s.crc[slot] = crc32cUpdate(0, buf, kv.valueOff, kv.valueOff + kv.valueLen, words);
  }
}

/** Sink that keeps copies of a small bucket's entries. */
class CopySink implements EntrySink {
  readonly entries: { key: Buffer; value: Buffer; bucket: boolean }[] = [];
  entry(buf: Buffer, _w: Int32Array, kOff: number, kLen: number, vOff: number, vLen: number, flags: number): void {
    this.entries.push({
      key: Buffer.from(buf.subarray(kOff, kOff + kLen)),
      value: Buffer.from(buf.subarray(vOff, vOff + vLen)),
      bucket: (flags & 1) !== 0,
    });
  }
}

/** Tee: one bucket's entries to two sinks. */
class TeeSink implements EntrySink {
  constructor(
    private readonly a: EntrySink,
    private readonly b: EntrySink,
  ) {}
  entry(buf: Buffer, words: Int32Array, kOff: number, kLen: number, vOff: number, vLen: number, flags: number, base: number): void {
    this.a.entry(buf, words, kOff, kLen, vOff, vLen, flags, base);
    this.b.entry(buf, words, kOff, kLen, vOff, vLen, flags, base);
  }
  endPage(): void {
    this.a.endPage?.();
    this.b.endPage?.();
  }
}

const SMALL_BUCKETS = new Set(['members', 'members_removed', 'cluster', 'meta', 'auth', 'authUsers', 'authRoles', 'lease']);

/** Parse the members bucket's entries (JSON; ids from the hex keys, which a JS number cannot hold). */
export function parseMembers(entries: { key: Buffer; value: Buffer }[]): SnapshotMember[] {
  const out: SnapshotMember[] = [];
  for (const e of entries) {
    const id = e.key.toString('latin1').toLowerCase();
    let j: Record<string, unknown> = {};
    try {
      j = JSON.parse(e.value.toString('utf8')) as Record<string, unknown>;
    } catch {
      // keep the id with empty fields
    }
    out.push({
      id,
      name: typeof j.name === 'string' ? j.name : '',
      peerURLs: Array.isArray(j.peerURLs) ? j.peerURLs.map(String) : [],
      clientURLs: Array.isArray(j.clientURLs) ? j.clientURLs.map(String) : [],
      isLearner: j.isLearner === true,
    });
  }
  return out;
}

/**
 * Walk a snapshot with the status sink on every bucket, copies of the small buckets, and a
 * key index on `key`. `keyPlan` 'skip' leaves the key bucket unread (members only).
 */
async function walkAll(
  file: BoltFile,
  keySink: KeyIndexSink | undefined,
  opts: { signal?: AbortSignal; onProgress?: (d: number, t: number) => void; status: boolean },
): Promise<{ status?: SnapshotStatus; small: Map<string, CopySink> }> {
  const small = new Map<string, CopySink>();
  const planFor = (name: Buffer, inner: BucketPlan): BucketPlan => {
    const n = name.toString('latin1');
    if (SMALL_BUCKETS.has(n)) {
      const c = new CopySink();
      small.set(n, c);
      return typeof inner === 'object' ? new TeeSink(inner, c) : c;
    }
    if (n === 'key' && keySink) return typeof inner === 'object' ? new TeeSink(inner, keySink) : keySink;
    return inner;
  };
  if (opts.status) {
    const { status, walk } = await statusOf(file, { signal: opts.signal, onProgress: opts.onProgress, wrap: planFor });
    if (walk.problemCount) throw corruptError(file.path, walk.problems, walk.problemCount);
    return { status, small };
  }
  const walk = await walkTree(file, (name) => planFor(name, name.toString('latin1') === 'key' && !keySink ? 'skip' : 'check'), {
    signal: opts.signal,
    onProgress: opts.onProgress ? (d) => opts.onProgress?.(d, file.meta.pgid) : undefined,
  });
  if (walk.problemCount) throw corruptError(file.path, walk.problems, walk.problemCount);
  return { small };
}

/** The member list stored in the snapshot (its `members` bucket), without reading the keyspace. */
export async function readSnapshotMembers(path: string, opts: { signal?: AbortSignal } = {}): Promise<SnapshotMember[]> {
  const file = await BoltFile.open(path);
  try {
    const { small } = await walkAll(file, undefined, { signal: opts.signal, status: false });
    return parseMembers(small.get('members')?.entries ?? []);
  } finally {
    await file.close();
  }
}

/** Figures for a trial restore to compare with: revision and live keys, natively. */
export async function snapshotKeyFigures(
  path: string,
  opts: { signal?: AbortSignal } = {},
): Promise<{ revision: number; liveKeys: number; totalKey: number; hash: number }> {
  const r = await inspectSnapshot(path, { signal: opts.signal });
  return { revision: r.status.revision, liveKeys: r.keyspace.liveKeys, totalKey: r.status.totalKey, hash: r.status.hash };
}

/** Status figures, members, and the keyspace by prefix, in one walk. Throws SnapshotCorruptError on a corrupt file. */
export async function inspectSnapshot(path: string, opts: InspectOptions = {}): Promise<SnapshotReport> {
  const file = await BoltFile.open(path);
  try {
    const keys = new KeyIndexSink();
    const { status, small } = await walkAll(file, keys, { signal: opts.signal, onProgress: opts.onProgress, status: true });
    const depth = opts.prefixDepth ?? 'auto';
    const byPrefix = new Map<string, PrefixFigures>();
    let live = 0;
    let liveBytes = 0;
    let deleted = 0;
    let withLease = 0;
    const s = keys.slots;
    // The largest live keys: a small sorted list, replaced from its smallest end.
    const TOP = 20;
    const largest: { key: string; bytes: number; revisions: number }[] = [];
    for (const [key, slot] of keys.map) {
      if (!(s.flags[slot] & 1) && (largest.length < TOP || s.size[slot] > largest[largest.length - 1].bytes)) {
        if (largest.length === TOP) largest.pop();
        const item = { key, bytes: s.size[slot], revisions: s.revs[slot] };
        let i = largest.length;
        while (i > 0 && largest[i - 1].bytes < item.bytes) i--;
        largest.splice(i, 0, item);
      }
      const prefix = prefixOf(key, depth);
      let f = byPrefix.get(prefix);
      if (!f) {
        f = { prefix: Buffer.from(prefix, 'latin1').toString('utf8'), liveKeys: 0, liveBytes: 0, revisions: 0, revisionBytes: 0 };
        byPrefix.set(prefix, f);
      }
      f.revisions += s.revs[slot];
      f.revisionBytes += s.revBytes[slot];
      if (s.flags[slot] & 1) {
        deleted++;
      } else {
        live++;
        liveBytes += s.size[slot];
        f.liveKeys++;
        f.liveBytes += s.size[slot];
        if (s.flags[slot] & 2) withLease++;
      }
    }
    const prefixes = [...byPrefix.values()].sort(
      (a, b) => b.liveBytes - a.liveBytes || b.revisionBytes - a.revisionBytes || (a.prefix < b.prefix ? -1 : 1),
    );
    const entries = (n: string): { key: Buffer; value: Buffer; bucket: boolean }[] => small.get(n)?.entries ?? [];
    const value = (bucket: string, key: string): Buffer | undefined => entries(bucket).find((e) => e.key.toString('latin1') === key)?.value;
    const compact = (k: string): number | undefined => {
      const v = value('meta', k);
      return v && v.length >= 8 ? revisionMain(v, 0) : undefined;
    };
    const st = status as SnapshotStatus;
    const authV = value('auth', 'authEnabled');
    const report: SnapshotReport = {
      path,
      status: st,
      members: parseMembers(entries('members')),
      removedMemberIds: entries('members_removed').map((e) => e.key.toString('latin1').toLowerCase()),
      clusterVersion: st.clusterVersion,
      consistentIndex: st.consistentIndex,
      term: st.term,
      storageVersion: st.version,
      compactRevision: compact('finishedCompactRev'),
      scheduledCompactRevision: compact('scheduledCompactRev'),
      authEnabled: authV ? authV.length > 0 && authV[0] === 1 : undefined,
      users: entries('authUsers').map((e) => e.key.toString('utf8')),
      roles: entries('authRoles').map((e) => e.key.toString('utf8')),
      leases: entries('lease').length,
      keyspace: {
        prefixDepth: depth,
        liveKeys: live,
        liveBytes,
        revisions: keys.revisions,
        revisionBytes: keys.revisionBytes,
        tombstones: keys.tombstones,
        deletedKeys: deleted,
        keysWithLease: withLease,
        oldestRevision: keys.oldest,
        newestRevision: keys.newest,
        prefixes,
        largest: largest.map((l) => ({ ...l, key: Buffer.from(l.key, 'latin1').toString('utf8') })),
      },
    };
    return report;
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------
// Listing and searching

export interface ListedKey {
  key: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: string;
  valueSize: number;
  value?: ValueView;
  /** The key's exact bytes in base64 (as `etcdctl get -w json` prints them), when asked for. */
  keyBase64?: string;
  /** The value's exact bytes in base64, when asked for. */
  valueBase64?: string;
}

export interface ListOptions extends KeyFilter {
  signal?: AbortSignal;
  /** At most this many keys (sorted by key), default 100. */
  limit?: number;
  /** Skip this many first. */
  offset?: number;
  /** Describe the values (default true). */
  values?: boolean;
  /** Longest text shown per value (characters), default 4096. */
  maxText?: number;
  /** Also give each key's and value's exact bytes in base64 (`keyBase64`, `valueBase64`). */
  base64?: boolean;
}

export interface ListResult {
  /** Live keys that match, in all. */
  matched: number;
  keys: ListedKey[];
}

/** Live keys at the snapshot's revision that match the filter, sorted by key, with their values described. */
export async function listKeys(path: string, opts: ListOptions = {}): Promise<ListResult> {
  const file = await BoltFile.open(path);
  try {
    const sink = new KeyIndexSink(opts);
    sink.keepLeases = true;
    const walk = await walkTree(file, (name) => (name.toString('latin1') === 'key' ? sink : 'skip'), { signal: opts.signal });
    if (walk.problemCount) throw corruptError(path, walk.problems, walk.problemCount);
    const s = sink.slots;
    const hits: [string, number][] = [];
    for (const [key, slot] of sink.map) {
      if (s.flags[slot] & 1) continue;
      if (opts.valueContains && !(s.flags[slot] & 4)) continue;
      hits.push([key, slot]);
    }
    hits.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const from = opts.offset ?? 0;
    const page = hits.slice(from, from + (opts.limit ?? 100));
    const keys: ListedKey[] = page.map(([key, slot]) => {
      const k = Buffer.from(key, 'latin1');
      const valueSize = s.size[slot] - k.length;
      const item: ListedKey = {
        key: k.toString('utf8'),
        createRevision: s.create[slot],
        modRevision: s.latest[slot],
        version: s.version[slot],
        valueSize,
      };
      const describe = (opts.values ?? true) && s.pos[slot] >= 0;
      if ((describe || opts.base64) && s.pos[slot] >= 0) {
        const v = file.readAt(s.pos[slot], valueSize);
        if (describe) item.value = describeValue(v, opts.maxText);
        if (opts.base64) {
          item.keyBase64 = k.toString('base64');
          item.valueBase64 = v.toString('base64');
        }
      }
      if (s.flags[slot] & 2) item.lease = sink.leases.get(slot);
      return item;
    });
    return { matched: hits.length, keys };
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------
// Diff

export interface PrefixDiff {
  prefix: string;
  added: number;
  removed: number;
  changed: number;
  /** Live bytes in b minus live bytes in a. */
  bytesDelta: number;
}

export interface SnapshotDiff {
  a: { path: string; revision: number; liveKeys: number };
  b: { path: string; revision: number; liveKeys: number };
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  prefixes: PrefixDiff[];
  /** Some keys of each kind (sorted, at most `limit` each). */
  samples: { added: string[]; removed: string[]; changed: string[] };
}

async function liveIndex(path: string, signal?: AbortSignal): Promise<{ sink: KeyIndexSink; revision: number }> {
  const file = await BoltFile.open(path);
  try {
    const sink = new KeyIndexSink({}, true);
    const walk = await walkTree(file, (name) => (name.toString('latin1') === 'key' ? sink : 'skip'), { signal });
    if (walk.problemCount) throw corruptError(path, walk.problems, walk.problemCount);
    return { sink, revision: sink.newest };
  } finally {
    await file.close();
  }
}

/**
 * Keys added, removed and changed from snapshot `a` to snapshot `b` (live keys at each one's
 * revision; changed = the value differs), summed up by prefix.
 */
export async function diffSnapshots(
  a: string,
  b: string,
  opts: { signal?: AbortSignal; prefixDepth?: number | 'auto'; limit?: number } = {},
): Promise<SnapshotDiff> {
  const A = await liveIndex(a, opts.signal);
  const B = await liveIndex(b, opts.signal);
  const depth = opts.prefixDepth ?? 'auto';
  const limit = opts.limit ?? 50;
  const byPrefix = new Map<string, PrefixDiff>();
  const fig = (key: string): PrefixDiff => {
    const p = prefixOf(key, depth);
    let f = byPrefix.get(p);
    if (!f) {
      f = { prefix: Buffer.from(p, 'latin1').toString('utf8'), added: 0, removed: 0, changed: 0, bytesDelta: 0 };
      byPrefix.set(p, f);
    }
    return f;
  };
  const samples = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
  let added = 0;
  let removed = 0;
  let changed = 0;
  let unchanged = 0;
  const sa = A.sink.slots;
  const sb = B.sink.slots;
  const liveA = (slot: number | undefined): boolean => slot !== undefined && !(sa.flags[slot] & 1);
  const liveB = (slot: number | undefined): boolean => slot !== undefined && !(sb.flags[slot] & 1);
  let liveCountA = 0;
  let liveCountB = 0;
  for (const [key, slotA] of A.sink.map) {
    if (!liveA(slotA)) continue;
    liveCountA++;
    const slotB = B.sink.map.get(key);
    if (!liveB(slotB)) {
      removed++;
      const f = fig(key);
      f.removed++;
      f.bytesDelta -= sa.size[slotA];
      samples.removed.push(key);
    } else if (sa.crc[slotA] !== sb.crc[slotB as number] || sa.size[slotA] !== sb.size[slotB as number]) {
      changed++;
      const f = fig(key);
      f.changed++;
      f.bytesDelta += sb.size[slotB as number] - sa.size[slotA];
      samples.changed.push(key);
    } else {
      unchanged++;
    }
  }
  for (const [key, slotB] of B.sink.map) {
    if (!liveB(slotB)) continue;
    liveCountB++;
    if (!liveA(A.sink.map.get(key))) {
      added++;
      const f = fig(key);
      f.added++;
      f.bytesDelta += sb.size[slotB];
      samples.added.push(key);
    }
  }
  const pick = (list: string[]): string[] =>
    list
      .sort()
      .slice(0, limit)
      .map((k) => Buffer.from(k, 'latin1').toString('utf8'));
  return {
    a: { path: a, revision: A.revision, liveKeys: liveCountA },
    b: { path: b, revision: B.revision, liveKeys: liveCountB },
    added,
    removed,
    changed,
    unchanged,
    prefixes: [...byPrefix.values()].sort(
      (x, y) => y.added + y.removed + y.changed - (x.added + x.removed + x.changed) || (x.prefix < y.prefix ? -1 : 1),
    ),
    samples: { added: pick(samples.added), removed: pick(samples.removed), changed: pick(samples.changed) },
  };
}

export { beU64String };
