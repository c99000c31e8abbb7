/**
 * What a plan's backups are called and how they are recognised. A backup is
 * `<slug>-<YYYYMMDDTHHMMSSZ>` (UTC): locally `<name>.db` with its sidecar `<name>.json`; remotely
 * `<name>.db[.gz][.age]` with a metadata object `<name>.meta.json` beside it, written after
 * the data object is complete.
 *
 * A file or object is the tool's only when its name fits that pattern for this plan's cluster
 * AND its sidecar/metadata says so (our format, this cluster, this very file): anything else
 * in the folder or under the prefix is listed as foreign and never touched. A backup is
 * "good" when the run checked it: locally the sidecar carries `backup.verified: true` (set
 * after the SHA-256 trailer and the native reader passed), remotely the metadata exists and
 * the data object has the size it records.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import type { MemberInfo } from '../types';
import { parseSidecar, SIDECAR_FORMAT, sidecarPathFor } from '../snapshot/sidecar';
import type { BackupPlan } from './plan';
import type { ObjectStore } from './store';

export const METADATA_FORMAT = 'etcd-backup/backup-metadata';

/** `20261201T060000Z` for a date. */
export function stampOf(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function parseStamp(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function backupName(plan: Pick<BackupPlan, 'slug'>, d: Date): string {
  return `${plan.slug}-${stampOf(d)}`;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Split a file/object name into the backup name, its time and the suffix; undefined when it is not one of ours by name. */
export function parseBackupFileName(
  plan: Pick<BackupPlan, 'slug'>,
  file: string,
): { name: string; time: Date; suffix: string } | undefined {
  const m = new RegExp(`^(${escapeRe(plan.slug)}-(\\d{8}T\\d{6}Z))(\\.db(?:\\.gz)?(?:\\.age)?|\\.json|\\.meta\\.json)$`).exec(file);
  const time = m ? parseStamp(m[2]) : undefined;
  return m && time ? { name: m[1], time, suffix: m[3] } : undefined;
}

/** The remote data object's suffix for a plan: `.db`, `.db.gz`, `.db.age` or `.db.gz.age`. */
export function remoteSuffix(plan: Pick<BackupPlan, 'compress' | 'encrypt'>): string {
  return `.db${plan.compress === 'gzip' ? '.gz' : ''}${plan.encrypt ? '.age' : ''}`;
}

export interface BackupMetadata {
  format: typeof METADATA_FORMAT;
  version: 1;
  name: string;
  /** The data object's name (relative to the prefix). */
  object: string;
  cluster: string;
  clusterId: string;
  members: MemberInfo[];
  source: { endpoint: string; memberId: string; memberName: string; isLeader: boolean };
  etcdVersion: string;
  revision: number;
  /** When the snapshot was taken (ISO 8601). */
  createdAt: string;
  /** When the upload completed. */
  uploadedAt: string;
  /** The plain snapshot file (what `etcdctl snapshot restore` reads). */
  plain: { size: number; sha256: string; dbSha256: string };
  /** The object as stored (compressed and encrypted). */
  stored: { size: number; sha256: string };
  compress: 'gzip' | 'none';
  /** age-encryption.org/v1 to these recipients (SHA-256 fingerprints of their age1... text); null when stored plain. */
  encryption: { format: 'age-encryption.org/v1'; recipients: string[] } | null;
  tool: string;
}

/** Parse a metadata object; undefined when it is not ours or not for this plan's cluster. */
export function parseMetadata(text: string, plan: Pick<BackupPlan, 'cluster'>): BackupMetadata | undefined {
  try {
    const m = JSON.parse(text) as BackupMetadata;
    if (m?.format !== METADATA_FORMAT || m.cluster !== plan.cluster.name) return undefined;
    if (typeof m.object !== 'string' || typeof m.name !== 'string') return undefined;
    if (typeof m.stored?.size !== 'number' || typeof m.stored?.sha256 !== 'string' || typeof m.plain?.sha256 !== 'string') return undefined;
    return m;
  } catch {
    return undefined;
  }
}

export interface LocalBackup {
  where: 'local';
  name: string;
  file: string;
  sidecarFile: string;
  time: Date;
  size: number;
  revision?: number;
  sha256?: string;
  good: boolean;
}

export interface RemoteBackup {
  where: 'remote';
  name: string;
  object?: string;
  metadataObject: string;
  time: Date;
  size: number;
  revision?: number;
  metadata: BackupMetadata;
  good: boolean;
}

/** The plan's local backups (newest first) and the names in the folder that are not ours. */
export async function listLocal(plan: BackupPlan): Promise<{ backups: LocalBackup[]; foreign: string[] }> {
  let entries: string[];
  try {
    entries = await fs.readdir(plan.local.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { backups: [], foreign: [] };
    throw err;
  }
  const backups: LocalBackup[] = [];
  const foreign: string[] = [];
  const claimed = new Set<string>();
  for (const e of entries) {
    const p = parseBackupFileName(plan, e);
    if (!p || p.suffix !== '.db') continue;
    const file = join(plan.local.dir, e);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    const sidecarFile = sidecarPathFor(file);
    const text = await fs.readFile(sidecarFile, 'utf8').catch(() => undefined);
    const sc = text !== undefined ? parseSidecar(sidecarFile, text) : undefined;
    type Raw = { format?: string; cluster?: string; file?: { name?: string; size?: number }; backup?: { verified?: boolean } };
    const raw = sc?.raw as Raw | undefined;
    if (!sc || raw?.format !== SIDECAR_FORMAT || raw.cluster !== plan.cluster.name || raw.file?.name !== e) continue;
    claimed.add(e).add(`${p.name}.json`);
    backups.push({
      where: 'local',
      name: p.name,
      file,
      sidecarFile,
      time: p.time,
      size: st.size,
      revision: sc.revision,
      sha256: sc.sha256,
      good: raw.backup?.verified === true && raw.file?.size === st.size,
    });
  }
  for (const e of entries) {
    if (!claimed.has(e) && !e.startsWith('.etcd-backup-') && e !== 'changelog') foreign.push(e); // changelog/: the follower's segments
  }
  backups.sort((a, b) => b.time.getTime() - a.time.getTime());
  return { backups, foreign };
}

/** The plan's remote backups (newest first) and the objects under the prefix that are not ours. */
export async function listRemote(
  plan: BackupPlan,
  store: ObjectStore,
  signal?: AbortSignal,
): Promise<{ backups: RemoteBackup[]; foreign: string[] }> {
  const objects = await store.list(signal);
  const byName = new Map(objects.map((o) => [o.name, o]));
  const backups: RemoteBackup[] = [];
  const claimed = new Set<string>();
  for (const o of objects) {
    const p = parseBackupFileName(plan, o.name);
    if (!p || p.suffix !== '.meta.json') continue;
    const meta = parseMetadata((await store.getSmall(o.name, signal)).toString('utf8'), plan);
    if (!meta || meta.name !== p.name || parseBackupFileName(plan, meta.object)?.name !== p.name) continue;
    const data = byName.get(meta.object);
    claimed.add(o.name);
    if (data) claimed.add(meta.object);
    backups.push({
      where: 'remote',
      name: p.name,
      object: data ? meta.object : undefined,
      metadataObject: o.name,
      time: p.time,
      size: data?.size ?? 0,
      revision: meta.revision,
      metadata: meta,
      good: Boolean(data) && data?.size === meta.stored.size,
    });
  }
  // Change-log segments (`<slug>-changes-…`) belong to the plan too.
  const foreign = objects.map((o) => o.name).filter((n) => !claimed.has(n) && !n.startsWith(`${plan.slug}-changes-`));
  backups.sort((a, b) => b.time.getTime() - a.time.getTime());
  return { backups, foreign };
}
