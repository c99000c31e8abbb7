/**
 * The change-log segment: every change etcd made between two revisions, in revision order, as
 * the follower saw it through the watch API. One segment is a text file of JSON lines:
 *
 *   {"format":"etcd-backup/changelog-segment","version":1,"cluster":"prod","first":101,...}
 *   {"lease":"7587869876","ttl":60,"r":101}                  a lease seen attached to a key
 *   {"r":101,"t":1764633600123,"e":[{"o":"p","k":"<b64>","v":"<b64>","c":90,"m":101,"n":3,"l":"0"}]}
 *   ...                                                        one line per revision
 *   {"end":{"first":101,"last":250,"revisions":150,"events":300,"sha256":"<hex of every byte above>"}}
 *
 * Every revision from `first` to `last` has exactly one line (etcd bumps its revision only for
 * a write that changed a key, and every such write is at least one watch event), its events in
 * etcd's order within the revision (a multi-key transaction is one revision). `t` is the time
 * the follower received the revision (epoch ms), used for `--to-time`. The last line carries
 * the SHA-256 of every byte before it: a segment whose end line is missing, or whose bytes do
 * not hash to it, is corrupt.
 */
import { createHash } from 'crypto';
import { EtcdBackupError } from '../errors';

export const SEGMENT_FORMAT = 'etcd-backup/changelog-segment';
export const SEGMENT_VERSION = 1;

/** One change of one key, as the watch reported it. */
export interface ChangeEvent {
  op: 'put' | 'delete';
  key: Buffer;
  /** The new value (puts; empty for deletes). */
  value: Buffer;
  /** For a delete, 0 (etcd reports the tombstone without one). */
  createRevision: number;
  modRevision: number;
  /** For a delete, 0. */
  version: number;
  /** Lease ID as a decimal string, "0" for none. */
  lease: string;
}

/** Every event of one revision (one put, one delete, or one transaction). */
export interface RevisionRecord {
  revision: number;
  /** When the follower received it (epoch ms). */
  time: number;
  events: ChangeEvent[];
}

/** A lease the follower saw attached to a key, with the TTL it was granted (seconds; -1 unknown). */
export interface LeaseRecord {
  id: string;
  ttl: number;
  /** The revision of the first put in this segment that used it. */
  revision: number;
}

export interface SegmentHeader {
  format: typeof SEGMENT_FORMAT;
  version: number;
  cluster: string;
  clusterId?: string;
  first: number;
  createdAt: string;
}

export interface Segment {
  header: SegmentHeader;
  first: number;
  last: number;
  revisions: RevisionRecord[];
  leases: LeaseRecord[];
  events: number;
  sha256: string;
}

const b64 = (b: Buffer): string => b.toString('base64');

/** The canonical JSON of one event (also what the replay check hashes). */
export function eventJson(e: ChangeEvent): string {
  if (e.op === 'delete') {
    return JSON.stringify({ o: 'd', k: b64(e.key), m: e.modRevision });
  }
  return JSON.stringify({ o: 'p', k: b64(e.key), v: b64(e.value), c: e.createRevision, m: e.modRevision, n: e.version, l: e.lease });
}

/** The line of one revision, without its newline. */
export function revisionLine(r: RevisionRecord): string {
  return `{"r":${r.revision},"t":${r.time},"e":[${r.events.map(eventJson).join(',')}]}`;
}

export function leaseLine(l: LeaseRecord): string {
  return JSON.stringify({ lease: l.id, ttl: l.ttl, r: l.revision });
}

/** `changes-<first>-<last>.log`, zero-padded so names sort in revision order. */
export function segmentName(first: number, last: number): string {
  return `changes-${String(first).padStart(16, '0')}-${String(last).padStart(16, '0')}.log`;
}

/** The revision range a segment's name says, or undefined for a name that is not a segment's. */
export function parseSegmentName(name: string): { first: number; last: number } | undefined {
  const m = /^changes-(\d{16})-(\d{16})\.log(\..+)?$/.exec(name);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return first >= 1 && last >= first ? { first, last } : undefined;
}

/**
 * Builds one segment line by line. In memory (`finish` returns the whole file's bytes), or
 * spooled: the caller takes the bytes written so far with `takePending` (the follower appends
 * them to a file every few hundred KiB, so its memory does not grow with the segment) and
 * `finish` then returns only the rest. Revisions must come in order, each one more than the last.
 */
export class SegmentBuilder {
  /** Lines not yet taken, as strings (one allocation when taken, not one small buffer per line). */
  private pending: string[] = [];
  private pendingCount = 0;
  private readonly hash = createHash('sha256');
  private bytesSoFar = 0;
  private lastRevision: number | undefined;
  private eventCount = 0;
  private revisionCount = 0;
  private readonly leasesHere = new Set<string>();
  readonly startedAt = Date.now();

  constructor(readonly header: Omit<SegmentHeader, 'format' | 'version' | 'createdAt'> & { createdAt?: string }) {
    this.push(
      JSON.stringify({
        format: SEGMENT_FORMAT,
        version: SEGMENT_VERSION,
        ...header,
        createdAt: header.createdAt ?? new Date().toISOString(),
      }),
    );
  }

  private push(line: string): void {
    const s = `${line}\n`;
    const n = Buffer.byteLength(s, 'utf8');
    this.pending.push(s);
    this.hash.update(s, 'utf8');
    this.bytesSoFar += n;
    this.pendingCount += n;
  }

  get first(): number {
    return this.header.first;
  }

  get last(): number | undefined {
    return this.lastRevision;
  }

  /** Every byte so far (taken or not), without the end line. */
  get bytes(): number {
    return this.bytesSoFar;
  }

  /** The bytes not yet taken with {@link takePending}. */
  get pendingBytes(): number {
    return this.pendingCount;
  }

  get revisions(): number {
    return this.revisionCount;
  }

  /** True when this segment already records the lease. */
  hasLease(id: string): boolean {
    return this.leasesHere.has(id);
  }

  addLease(l: LeaseRecord): void {
    if (this.leasesHere.has(l.id)) return;
    this.leasesHere.add(l.id);
    this.push(leaseLine(l));
  }

  addRevision(r: RevisionRecord): void {
    const expected = this.lastRevision === undefined ? this.header.first : this.lastRevision + 1;
    if (r.revision !== expected) {
      throw new EtcdBackupError(
        'internal',
        `Revision ${r.revision} cannot follow ${expected - 1} in a change-log segment: revisions must be consecutive.`,
      );
    }
    this.push(revisionLine(r));
    this.lastRevision = r.revision;
    this.revisionCount++;
    this.eventCount += r.events.length;
  }

  /** The bytes added since the last call (the file's next bytes), as one buffer. */
  takePending(): Buffer {
    const b = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingCount = 0;
    return b;
  }

  /**
   * The file's remaining bytes, with the end line (the whole file when nothing was taken with
   * {@link takePending}). Throws when no revision was added.
   */
  finish(): Buffer {
    if (this.lastRevision === undefined) {
      throw new EtcdBackupError('internal', 'An empty change-log segment is never written.');
    }
    const sha256 = this.hash.digest('hex');
    const end = JSON.stringify({
      end: { first: this.header.first, last: this.lastRevision, revisions: this.revisionCount, events: this.eventCount, sha256 },
    });
    this.pending.push(`${end}\n`);
    return this.takePending();
  }
}

/** A segment that cannot be used: its name and why, in one sentence. */
export class SegmentCorruptError extends EtcdBackupError {
  constructor(
    readonly segment: string,
    reason: string,
  ) {
    super(
      'corrupt',
      `The change-log segment ${segment} is corrupt (${reason}): the revisions it holds cannot be replayed. ` +
        'Restore to a revision before it, or from a full snapshot.',
    );
    this.name = 'SegmentCorruptError';
  }
}

interface RawEvent {
  o: string;
  k: string;
  v?: string;
  c?: number;
  m: number;
  n?: number;
  l?: string;
}

function decodeEvent(raw: RawEvent): ChangeEvent {
  if (raw.o === 'd') {
    return {
      op: 'delete',
      key: Buffer.from(raw.k, 'base64'),
      value: Buffer.alloc(0),
      createRevision: 0,
      modRevision: raw.m,
      version: 0,
      lease: '0',
    };
  }
  if (raw.o !== 'p') throw new Error(`unknown operation "${String(raw.o)}"`);
  return {
    op: 'put',
    key: Buffer.from(raw.k, 'base64'),
    value: Buffer.from(raw.v ?? '', 'base64'),
    createRevision: Number(raw.c),
    modRevision: raw.m,
    version: Number(raw.n),
    lease: String(raw.l ?? '0'),
  };
}

function parseLines(name: string, text: string): { header: SegmentHeader; body: string[]; end: Record<string, unknown>; hashed: number } {
  if (!text.endsWith('\n')) throw new SegmentCorruptError(name, 'it does not end with a complete line: it was cut short');
  const lastNl = text.lastIndexOf('\n', text.length - 2);
  if (lastNl < 0) throw new SegmentCorruptError(name, 'it has no end line');
  const endLine = text.slice(lastNl + 1, -1);
  let end: Record<string, unknown>;
  try {
    end = (JSON.parse(endLine) as { end?: Record<string, unknown> }).end ?? {};
  } catch {
    throw new SegmentCorruptError(name, 'its end line is not JSON: it was cut short or changed');
  }
  const lines = text.slice(0, lastNl + 1).split('\n');
  lines.pop();
  let header: SegmentHeader;
  try {
    header = JSON.parse(lines[0] ?? '') as SegmentHeader;
  } catch {
    throw new SegmentCorruptError(name, 'its first line is not a segment header');
  }
  if (header.format !== SEGMENT_FORMAT) throw new SegmentCorruptError(name, 'its first line is not a segment header');
  if (header.version !== SEGMENT_VERSION) {
    throw new EtcdBackupError(
      'invalidInput',
      `The change-log segment ${name} has format version ${header.version}; ` +
        `this etcd-backup reads version ${SEGMENT_VERSION}. Use a newer etcd-backup.`,
    );
  }
  return { header, body: lines.slice(1), end, hashed: Buffer.byteLength(text.slice(0, lastNl + 1), 'utf8') };
}

/**
 * Parse and check one segment: the SHA-256 of its content, its end line's figures, and every
 * revision from `first` to `last` present once, in order, with its events' mod revision.
 * Throws {@link SegmentCorruptError} naming the segment.
 */
export function parseSegment(name: string, data: Buffer): Segment {
  const text = data.toString('utf8');
  const { header, body, end, hashed } = parseLines(name, text);
  const sha256 = createHash('sha256').update(data.subarray(0, hashed)).digest('hex');
  if (end.sha256 !== sha256) throw new SegmentCorruptError(name, 'its SHA-256 does not match its content');
  const revisions: RevisionRecord[] = [];
  const leases: LeaseRecord[] = [];
  let events = 0;
  for (const line of body) {
    let raw: { r?: number; t?: number; e?: RawEvent[]; lease?: string; ttl?: number };
    try {
      raw = JSON.parse(line) as typeof raw;
    } catch {
      throw new SegmentCorruptError(name, 'a line is not JSON');
    }
    if (raw.lease !== undefined) {
      leases.push({ id: String(raw.lease), ttl: Number(raw.ttl), revision: Number(raw.r) });
      continue;
    }
    const revision = Number(raw.r);
    const expected = revisions.length ? revisions[revisions.length - 1].revision + 1 : header.first;
    if (revision !== expected) throw new SegmentCorruptError(name, `revision ${expected} is missing`);
    let evs: ChangeEvent[];
    try {
      evs = (raw.e ?? []).map(decodeEvent);
    } catch (err) {
      throw new SegmentCorruptError(name, `revision ${revision} holds an event that cannot be read: ${(err as Error).message}`);
    }
    if (!evs.length || evs.some((e) => e.modRevision !== revision)) {
      throw new SegmentCorruptError(name, `revision ${revision} has no events or events of another revision`);
    }
    events += evs.length;
    revisions.push({ revision, time: Number(raw.t), events: evs });
  }
  const last = revisions.length ? revisions[revisions.length - 1].revision : header.first - 1;
  if (end.first !== header.first || end.last !== last || end.revisions !== revisions.length || end.events !== events || !revisions.length) {
    throw new SegmentCorruptError(
      name,
      `its end line says revisions ${String(end.first)} to ${String(end.last)}, its content holds ${header.first} to ${last}`,
    );
  }
  const fromName = parseSegmentName(name.replace(/^.*\//, ''));
  if (fromName && (fromName.first !== header.first || fromName.last !== last)) {
    throw new SegmentCorruptError(
      name,
      `its name says revisions ${fromName.first} to ${fromName.last}, its content holds ${header.first} to ${last}`,
    );
  }
  return { header, first: header.first, last, revisions, leases, events, sha256 };
}
