/**
 * etcd's MVCC records as they sit in the `key` bucket, decoded by hand without allocating:
 *
 * - the bucket key is a revision: 8-byte big-endian main revision, '_', 8-byte big-endian sub
 *   revision, and an 18th byte 't' for a tombstone (a delete); byte order is revision order;
 * - the value is an mvccpb.KeyValue (proto3): key=1 (bytes), create_revision=2, mod_revision=3,
 *   version=4 (varints), value=5 (bytes), lease=6 (varint). Unknown fields are skipped.
 */

/** Fields of one KeyValue, as offsets into the buffer it was decoded from. */
export class KeyValueView {
  keyOff = 0;
  keyLen = 0;
  valueOff = 0;
  valueLen = 0;
  createRevision = 0;
  modRevision = 0;
  version = 0;
  /** Lease id varint bytes (offset and length; 0 length: no lease). */
  leaseOff = 0;
  leaseLen = 0;

  reset(): void {
    this.keyOff = this.keyLen = this.valueOff = this.valueLen = 0;
    this.createRevision = this.modRevision = this.version = 0;
    this.leaseOff = this.leaseLen = 0;
  }

  /** The lease id as lowercase hex (as etcdctl prints lease ids), or undefined for none. */
  leaseHex(buf: Buffer): string | undefined {
    if (!this.leaseLen) return undefined;
    const v = varintBig(buf, this.leaseOff);
    return v === 0n ? undefined : BigInt.asUintN(64, v).toString(16);
  }
}

// Varint decoding state (module-level to avoid returning tuples).
let vpos = 0;

/** Decode a varint at `off` (up to 2^53 exactly); leaves the next position in `vpos`. Returns -1 on a bad varint. */
function varint(buf: Buffer, off: number, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (off >= end) return -1;
    const b = buf[off++];
    result += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      vpos = off;
      return result;
    }
  }
  return -1;
}

function varintBig(buf: Buffer, off: number): bigint {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    const b = buf[off + i];
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  return result;
}

/**
 * Decode the KeyValue in buf[off, off + len) into `kv`. Returns false when it is not a
 * well-formed message (truncated field, bad wire type).
 */
export function decodeKeyValue(buf: Buffer, off: number, len: number, kv: KeyValueView): boolean {
  kv.reset();
  const end = off + len;
  let p = off;
  while (p < end) {
    const tag = varint(buf, p, end);
    if (tag < 0) return false;
    p = vpos;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const start = p;
      const v = varint(buf, p, end);
      if (v < 0) return false;
      p = vpos;
      if (field === 2) kv.createRevision = v;
      else if (field === 3) kv.modRevision = v;
      else if (field === 4) kv.version = v;
      else if (field === 6) {
        kv.leaseOff = start;
        kv.leaseLen = p - start;
      }
    } else if (wire === 2) {
      const n = varint(buf, p, end);
      if (n < 0) return false;
      p = vpos;
      if (p + n > end) return false;
      if (field === 1) {
        kv.keyOff = p;
        kv.keyLen = n;
      } else if (field === 5) {
        kv.valueOff = p;
        kv.valueLen = n;
      }
      p += n;
    } else if (wire === 1) {
      p += 8;
    } else if (wire === 5) {
      p += 4;
    } else {
      return false;
    }
  }
  return p === end;
}

/** Main revision of a revision key at buf[off] (8 bytes big-endian). */
export function revisionMain(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off) * 0x100000000 + buf.readUInt32BE(off + 4);
}

/** A revision key of 17 bytes, or 18 ending in 't' (tombstone). */
export function isRevisionKey(buf: Buffer, off: number, len: number): boolean {
  return (len === 17 || (len === 18 && buf[off + 17] === 0x74)) && buf[off + 8] === 0x5f;
}

/** How a value looks, for listing. */
export type ValueKind = 'text' | 'json' | 'k8s-protobuf' | 'binary' | 'empty';

export interface ValueView {
  kind: ValueKind;
  /** The value as text (UTF-8) when it is text or JSON, possibly shortened. */
  text?: string;
  /** For Kubernetes protobuf envelopes: apiVersion and kind from the runtime.Unknown header. */
  k8s?: { apiVersion?: string; kind?: string; name?: string; namespace?: string };
  /** Hex of the first bytes, for binary values. */
  hex?: string;
  /** Printable runs found in a binary value (names, namespaces), to read it at a glance. */
  strings?: string[];
  size: number;
  truncated: boolean;
}

const K8S_MAGIC = Buffer.from('k8s\0', 'latin1');

/** True when the bytes are UTF-8 text without control characters other than tab/CR/LF. */
export function isText(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
    if (c === 0x7f) return false;
  }
  // Valid UTF-8: a round trip gives the same bytes.
  const s = b.toString('utf8');
  return !s.includes('\ufffd') || Buffer.from(s, 'utf8').equals(b);
}

/** Read length-delimited field `want` of a protobuf message in b[off, end); returns [start, len] or undefined. */
function pbField(b: Buffer, off: number, end: number, want: number): [number, number] | undefined {
  let p = off;
  while (p < end) {
    const tag = varint(b, p, end);
    if (tag < 0) return undefined;
    p = vpos;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2) {
      const n = varint(b, p, end);
      if (n < 0 || vpos + n > end) return undefined;
      p = vpos;
      if (field === want) return [p, n];
      p += n;
    } else if (wire === 0) {
      if (varint(b, p, end) < 0) return undefined;
      p = vpos;
    } else if (wire === 1) {
      p += 8;
    } else if (wire === 5) {
      p += 4;
    } else {
      return undefined;
    }
  }
  return undefined;
}

function pbString(b: Buffer, off: number, end: number, want: number): string | undefined {
  const f = pbField(b, off, end, want);
  return f ? b.toString('utf8', f[0], f[0] + f[1]) : undefined;
}

/** Printable ASCII runs of at least `min` characters (at most `max` of them). */
export function printableRuns(b: Buffer, min = 4, max = 12): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= b.length && out.length < max; i++) {
    const c = i < b.length ? b[i] : 0;
    const printable = c >= 0x20 && c < 0x7f;
    if (printable && start < 0) start = i;
    if (!printable && start >= 0) {
      if (i - start >= min) out.push(b.toString('latin1', start, Math.min(i, start + 120)));
      start = -1;
    }
  }
  return out;
}

/**
 * Describe a value for a listing: text and JSON as text (shortened to `maxText` characters),
 * Kubernetes protobuf envelopes (`k8s\0` + runtime.Unknown) by their type and object name,
 * anything else as hex and printable runs.
 */
export function describeValue(v: Buffer, maxText = 4096): ValueView {
  if (v.length === 0) return { kind: 'empty', size: 0, truncated: false };
  if (v.length >= 4 && v.subarray(0, 4).equals(K8S_MAGIC)) {
    const end = v.length;
    const typeMeta = pbField(v, 4, end, 1);
    const raw = pbField(v, 4, end, 2);
    const k8s: ValueView['k8s'] = {};
    if (typeMeta) {
      k8s.apiVersion = pbString(v, typeMeta[0], typeMeta[0] + typeMeta[1], 1);
      k8s.kind = pbString(v, typeMeta[0], typeMeta[0] + typeMeta[1], 2);
    }
    if (raw) {
      // Built-in objects start with field 1 = ObjectMeta {name=1, namespace=3}.
      const meta = pbField(v, raw[0], raw[0] + raw[1], 1);
      if (meta) {
        k8s.name = pbString(v, meta[0], meta[0] + meta[1], 1);
        k8s.namespace = pbString(v, meta[0], meta[0] + meta[1], 3);
      }
    }
    return {
      kind: 'k8s-protobuf',
      k8s,
      strings: printableRuns(v.subarray(4, Math.min(end, 4096))),
      hex: v.toString('hex', 0, Math.min(64, end)),
      size: v.length,
      truncated: false,
    };
  }
  let cut = Math.min(v.length, maxText * 4);
  // Do not cut a UTF-8 sequence in two.
  while (cut < v.length && cut > 0 && (v[cut] & 0xc0) === 0x80) cut--;
  const sample = v.subarray(0, cut);
  if (isText(sample)) {
    let text = sample.toString('utf8');
    const truncated = text.length > maxText || sample.length < v.length;
    if (text.length > maxText) text = text.slice(0, maxText);
    const t = text.trimStart();
    return { kind: t.startsWith('{') || t.startsWith('[') ? 'json' : 'text', text, size: v.length, truncated };
  }
  return {
    kind: 'binary',
    hex: v.toString('hex', 0, Math.min(64, v.length)),
    strings: printableRuns(v.subarray(0, Math.min(v.length, 4096))),
    size: v.length,
    truncated: v.length > 64,
  };
}
