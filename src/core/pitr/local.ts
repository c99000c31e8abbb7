/**
 * Full snapshots as plain files in a local folder (the plan's local copy: `<name>.db` with its
 * sidecar). A snapshot's revision is its sidecar's (a lower bound when writes ran during the
 * save, which is what the follower needs: it may record a few revisions the snapshot already
 * holds, and the replay skips them), else read from the file.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { ClusterConfig, ClusterSecrets } from '../types';
import { FullSnapshotRef, FullSnapshots } from './store';
import { saveSnapshot } from '../snapshot/save';
import { readSidecarFor } from '../snapshot/sidecar';
import { snapshotStatus } from '../snapshot/status';

export class LocalFullSnapshots implements FullSnapshots {
  private readonly revisions = new Map<string, number>();

  constructor(
    readonly dir: string,
    private readonly taker?: { cluster: ClusterConfig; secrets?: ClusterSecrets },
  ) {}

  get where(): string {
    return this.dir;
  }

  async list(): Promise<FullSnapshotRef[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw explain(err);
    }
    const out: FullSnapshotRef[] = [];
    for (const name of names.filter((n) => n.endsWith('.db') && !n.startsWith('.'))) {
      const path = join(this.dir, name);
      const st = await fs.lstat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      const ref = await this.describe(name, path, st.mtimeMs);
      if (ref) out.push(ref);
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  private async describe(name: string, path: string, mtimeMs: number): Promise<FullSnapshotRef | undefined> {
    const side = await readSidecarFor(path).catch(() => undefined);
    let revision = side?.revision && side.revision > 0 ? side.revision : this.revisions.get(path);
    if (revision === undefined) {
      revision = await snapshotStatus(path).then((st) => st.revision).catch(() => undefined);
      if (revision === undefined) return undefined; // not a snapshot this tool can use
      this.revisions.set(path, revision);
    }
    const created = typeof side?.raw.createdAt === 'string' ? Date.parse(side.raw.createdAt) : NaN;
    const time = Number.isNaN(created) ? mtimeMs : created;
    return { name, revision, time, path };
  }

  async open(ref: FullSnapshotRef): Promise<{ path: string; done(): Promise<void> }> {
    const path = ref.path ?? join(this.dir, ref.name);
    if (!(await fs.lstat(path).catch(() => undefined))?.isFile()) {
      throw new EtcdBackupError('notFound', `The full snapshot ${path} is missing: it is the base the change log starts from.`);
    }
    return { path, done: async () => undefined };
  }

  /** Save a new full snapshot here from the first endpoint that serves one. */
  async take(): Promise<FullSnapshotRef> {
    if (!this.taker) throw new EtcdBackupError('internal', 'No cluster to take a snapshot from.');
    let last: unknown;
    for (const endpoint of this.taker.cluster.endpoints) {
      try {
        const saved = await saveSnapshot(this.taker.cluster, this.taker.secrets ?? {}, { endpoint, dir: this.dir });
        const ref = await this.describe(saved.file.slice(this.dir.length + 1), saved.file, Date.now());
        if (ref) return ref;
        throw new EtcdBackupError('corrupt', `The new full snapshot ${saved.file} cannot be read back.`);
      } catch (err) {
        last = err;
      }
    }
    throw explain(last);
  }
}
