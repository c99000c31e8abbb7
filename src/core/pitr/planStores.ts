/**
 * The change log on a backup plan's destinations. Segments are kept as plain files in
 * `<local.dir>/changelog/` (like the local snapshots: the node already holds the same data in
 * etcd's data dir) and, when the plan has a remote, uploaded beside the snapshots compressed and
 * encrypted as they are (`<slug>-changes-<first>-<last>.log.gz.age`). A failed upload never stops
 * the follower: the segment is stored locally, the failure is reported, and every later roll
 * uploads what the remote still misses. Full snapshots are the plan's backups (local first;
 * remote ones are fetched, decrypted and checked by the engine when needed); a new one is a
 * whole `backup run`.
 */
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { pipeline } from 'stream/promises';
import { createGunzip, createGzip } from 'zlib';
import { createDecryptStream, createEncryptStream, AgeIdentity } from '../backup/age';
import { listLocal, listRemote } from '../backup/catalog';
import { fetchBackup } from '../backup/fetch';
import { BackupPlan } from '../backup/plan';
import { openPlanStore, runBackup } from '../backup/run';
import type { ObjectStore } from '../backup/store';
import { EtcdBackupError, explain } from '../errors';
import { changelogDir } from './followPlan';
import { parseSegmentName } from './segment';
import { FullSnapshotRef, FullSnapshots, LocalSegmentStore, SegmentRef, SegmentStore } from './store';

async function collect(stages: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<never> {
    for await (const c of source) chunks.push(c);
  };
  await (pipeline as unknown as (...s: unknown[]) => Promise<void>)(...stages, sink);
  return Buffer.concat(chunks);
}

/** The remote object name of a segment. */
export function remoteSegmentName(plan: Pick<BackupPlan, 'slug' | 'compress' | 'encrypt'>, name: string): string {
  return `${plan.slug}-${name}${plan.compress === 'gzip' ? '.gz' : ''}${plan.encrypt ? '.age' : ''}`;
}

/** The segment name inside a remote object name of this plan, or undefined. */
export function segmentOfRemote(plan: Pick<BackupPlan, 'slug'>, object: string): string | undefined {
  if (!object.startsWith(`${plan.slug}-changes-`)) return undefined;
  const name = object.slice(plan.slug.length + 1).replace(/(\.gz)?(\.age)?$/, '');
  return parseSegmentName(name) ? name : undefined;
}

export interface PlanSegmentOptions {
  /** The remote store (when the plan has one and it could be opened). */
  store?: ObjectStore;
  /** Keys to read encrypted remote segments (fetch only). */
  identities?: AgeIdentity[];
  /** Upload failures and retries, for the log. */
  onRemoteError?: (message: string) => void;
}

export class PlanSegmentStore implements SegmentStore {
  readonly local: LocalSegmentStore;
  private uploaded: Set<string> | undefined;

  constructor(
    private readonly plan: BackupPlan,
    private readonly opts: PlanSegmentOptions = {},
  ) {
    this.local = new LocalSegmentStore(changelogDir(plan.local.dir));
  }

  get where(): string {
    return this.opts.store ? `${this.local.dir} and ${this.opts.store.where}` : this.local.dir;
  }

  private async remoteRefs(): Promise<Map<string, SegmentRef & { object: string }>> {
    const out = new Map<string, SegmentRef & { object: string }>();
    if (!this.opts.store) return out;
    for (const o of await this.opts.store.list()) {
      const name = segmentOfRemote(this.plan, o.name);
      const r = name ? parseSegmentName(name) : undefined;
      if (name && r) out.set(name, { name, ...r, object: o.name });
    }
    return out;
  }

  async list(): Promise<SegmentRef[]> {
    const all = new Map<string, SegmentRef>();
    for (const r of await this.local.list()) all.set(r.name, r);
    for (const [name, r] of await this.remoteRefs().catch(() => new Map<string, SegmentRef>())) if (!all.has(name)) all.set(name, r);
    return [...all.values()].sort((a, b) => a.first - b.first || a.last - b.last);
  }

  async read(ref: SegmentRef): Promise<Buffer> {
    const localHas = (await this.local.list()).some((r) => r.name === ref.name);
    if (localHas || !this.opts.store) return this.local.read(ref);
    const object = remoteSegmentName(this.plan, ref.name);
    const stages: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[] = [await this.opts.store.download(object)];
    if (object.endsWith('.age')) {
      if (!this.opts.identities?.length) {
        throw new EtcdBackupError(
          'invalidInput',
          `The change-log segment ${object} is encrypted: give the age key file of one of the plan's recipients with --identity FILE.`,
        );
      }
      stages.push(createDecryptStream(this.opts.identities));
    }
    if (/\.gz(\.age)?$/.test(object)) stages.push(createGunzip());
    try {
      return await collect(stages);
    } catch (err) {
      throw new EtcdBackupError('corrupt', `${explain(err).message}`, { cause: err });
    }
  }

  /** Store locally (that is what counts), then bring the remote up to date. */
  async write(name: string, data: Buffer): Promise<void> {
    await this.local.write(name, data);
    if (this.opts.store) await this.syncRemote();
  }

  spoolFile(): Promise<string> {
    return this.local.spoolFile();
  }

  /** As `write`, from the follower's spool file. */
  async commit(name: string, spool: string): Promise<void> {
    await this.local.commit(name, spool);
    if (this.opts.store) await this.syncRemote();
  }

  /** Upload every local segment the remote does not hold yet; failures are reported, not thrown. */
  async syncRemote(): Promise<void> {
    const store = this.opts.store;
    if (!store) return;
    try {
      this.uploaded ??= new Set((await this.remoteRefs()).keys());
      for (const ref of await this.local.list()) {
        if (this.uploaded.has(ref.name)) continue;
        // Streamed from the file: only the compressed (and encrypted) object is held, not the plain segment too.
        const stages: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[] = [await this.local.readStream(ref)];
        if (this.plan.compress === 'gzip') stages.push(createGzip({ level: this.plan.compressLevel }));
        if (this.plan.encrypt) stages.push(createEncryptStream(this.plan.encrypt.recipients));
        await store.putSmall(remoteSegmentName(this.plan, ref.name), await collect(stages), 'application/octet-stream');
        this.uploaded.add(ref.name);
      }
    } catch (err) {
      this.uploaded = undefined;
      this.opts.onRemoteError?.(
        `The change log could not be uploaded to ${store.where} (${explain(err).message}); ` +
          `it is kept in ${this.local.dir} and uploaded at the next roll.`,
      );
    }
  }

  async remove(ref: SegmentRef): Promise<void> {
    await this.local.remove(ref);
    await this.opts.store?.remove(remoteSegmentName(this.plan, ref.name));
  }

  /**
   * Prune the change log with its chains, on each destination separately: a segment whose last
   * revision is at or before the oldest good backup there serves no backup that is kept, so it
   * goes; with no good backup there, nothing goes. Returns the names removed.
   */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    const oldestLocal = (await listLocal(this.plan)).backups.filter((b) => b.good && b.revision).map((b) => b.revision as number);
    if (oldestLocal.length) {
      const floor = Math.min(...oldestLocal);
      for (const ref of await this.local.list()) {
        if (ref.last > floor) continue;
        await this.local.remove(ref);
        removed.push(ref.name);
      }
    }
    const store = this.opts.store;
    if (store) {
      const remote = (await listRemote(this.plan, store)).backups.filter((b) => b.good && b.revision).map((b) => b.revision as number);
      if (remote.length) {
        const floor = Math.min(...remote);
        for (const ref of (await this.remoteRefs()).values()) {
          if (ref.last > floor) continue;
          await store.remove(ref.object);
          this.uploaded?.delete(ref.name);
          removed.push(ref.object);
        }
      }
    }
    return removed;
  }
}

/** The plan's backups as the chain's full snapshots. */
export class PlanFullSnapshots implements FullSnapshots {
  constructor(
    private readonly plan: BackupPlan,
    private readonly opts: { store?: ObjectStore; identities?: AgeIdentity[]; log?: (line: string) => void } = {},
  ) {}

  get where(): string {
    return this.opts.store ? `${this.plan.local.dir} and ${this.opts.store.where}` : this.plan.local.dir;
  }

  async list(): Promise<FullSnapshotRef[]> {
    const out = new Map<string, FullSnapshotRef>();
    for (const b of (await listLocal(this.plan)).backups) {
      if (b.good && b.revision) out.set(b.name, { name: b.name, revision: b.revision, time: b.time.getTime(), path: b.file });
    }
    if (this.opts.store) {
      const remote = await listRemote(this.plan, this.opts.store).catch(() => ({ backups: [] }));
      for (const b of remote.backups) {
        if (b.good && b.revision && !out.has(b.name)) out.set(b.name, { name: b.name, revision: b.revision, time: b.time.getTime() });
      }
    }
    return [...out.values()].sort((a, b) => a.revision - b.revision);
  }

  async open(ref: FullSnapshotRef): Promise<{ path: string; done(): Promise<void> }> {
    if (ref.path) return { path: ref.path, done: async () => undefined };
    const dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-base-'));
    const done = (): Promise<void> => fs.rm(dir, { recursive: true, force: true });
    try {
      const out = join(dir, `${ref.name}.db`);
      await fetchBackup(this.plan, { name: ref.name, out, identities: this.opts.identities, from: 'remote', log: this.opts.log });
      return { path: out, done };
    } catch (err) {
      await done();
      throw err;
    }
  }

  /** A whole `backup run`: the new chain's snapshot reaches every destination like any other. */
  async take(): Promise<FullSnapshotRef> {
    const r = await runBackup(this.plan, { log: this.opts.log });
    if (!r.file || !r.name || !r.revision) {
      throw new EtcdBackupError(
        'unreachable',
        `A full snapshot for the new chain could not be taken: ${r.message ?? "see the run's status"}.`,
      );
    }
    if (!r.ok)
      this.opts.log?.(
        `The full snapshot ${r.name} is stored locally, but not on every destination: ${r.destinations
          .filter((d) => !d.ok)
          .map((d) => d.error)
          .join('; ')}`,
      );
    return { name: r.name, revision: r.revision, time: Date.now(), path: r.file };
  }
}

/** The plan's stores for the change log: local, and the remote when the plan has one (opened now; `close` releases it). */
export async function openPitrStores(
  plan: BackupPlan,
  opts: { identities?: AgeIdentity[]; log: (line: string) => void; needRemote: boolean },
): Promise<{ segments: PlanSegmentStore; snapshots: PlanFullSnapshots; close(): void }> {
  let store: ObjectStore | undefined;
  if (plan.remote) {
    try {
      store = await openPlanStore(plan);
    } catch (err) {
      if (opts.needRemote) throw err;
      opts.log(
        `The remote ${plan.remote.s3.bucket} cannot be opened (${explain(err).message}); the change log is kept locally until it can.`,
      );
    }
  }
  return {
    segments: new PlanSegmentStore(plan, { store, identities: opts.identities, onRemoteError: opts.log }),
    snapshots: new PlanFullSnapshots(plan, { store, identities: opts.identities, log: opts.log }),
    close: () => store?.close(),
  };
}
