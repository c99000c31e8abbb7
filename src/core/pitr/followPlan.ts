/**
 * The part of a backup plan the follower and the point-in-time fetch read: the cluster, the
 * local folder, and `follow: { enabled, segmentSeconds, segmentMiB }`. Validated here with one
 * sentence per problem.
 */
import { join } from 'path';
import { EtcdBackupError } from '../errors';
import { ClusterConfig } from '../types';

export interface FollowSettings {
  enabled: boolean;
  /** Roll a segment after this many seconds (default 60). */
  segmentSeconds: number;
  /** Roll a segment at this many MiB (default 16). */
  segmentMiB: number;
}

export const FOLLOW_DEFAULTS: FollowSettings = { enabled: false, segmentSeconds: 60, segmentMiB: 16 };

/** The change log's folder beside the plan's local snapshots. */
export function changelogDir(localDir: string): string {
  return join(localDir, 'changelog');
}

/** `follow:` of a plan, with its defaults; throws a sentence naming the field on bad input. */
export function parseFollowSettings(raw: unknown, file: string): FollowSettings {
  if (raw === undefined || raw === null) return { ...FOLLOW_DEFAULTS };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new EtcdBackupError('invalidInput', `${file}: "follow" must be a mapping such as { enabled: true, segmentSeconds: 60, segmentMiB: 16 }.`);
  }
  const f = raw as Record<string, unknown>;
  for (const k of Object.keys(f)) {
    if (!['enabled', 'segmentSeconds', 'segmentMiB'].includes(k)) {
      throw new EtcdBackupError('invalidInput', `${file}: "follow.${k}" is not a setting; use enabled, segmentSeconds and segmentMiB.`);
    }
  }
  const num = (k: 'segmentSeconds' | 'segmentMiB', min: number, max: number): number => {
    const v = f[k];
    if (v === undefined) return FOLLOW_DEFAULTS[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new EtcdBackupError('invalidInput', `${file}: "follow.${k}" must be a number from ${min} to ${max} (got ${JSON.stringify(v)}).`);
    }
    return v;
  };
  if (f.enabled !== undefined && typeof f.enabled !== 'boolean') {
    throw new EtcdBackupError('invalidInput', `${file}: "follow.enabled" must be true or false.`);
  }
  return { enabled: f.enabled === true, segmentSeconds: num('segmentSeconds', 1, 86_400), segmentMiB: num('segmentMiB', 0.01, 1024) };
}

/** What the point-in-time commands need from a plan. */
export interface PitrPlan {
  file: string;
  cluster: ClusterConfig;
  localDir: string;
  follow: FollowSettings;
}

/**
 * Read the fields this module needs from a plan file's parsed YAML. (The backup engine's plan
 * loader checks the rest of the file.)
 */
export function pitrPlanFrom(doc: unknown, file: string): PitrPlan {
  const d = (doc ?? {}) as Record<string, unknown>;
  const cluster = d.cluster as ClusterConfig | undefined;
  if (!cluster || typeof cluster !== 'object' || typeof cluster.name !== 'string' || !Array.isArray(cluster.endpoints) || !cluster.endpoints.length) {
    throw new EtcdBackupError('invalidInput', `${file}: "cluster" needs a name and at least one endpoint.`);
  }
  const local = d.local as { dir?: unknown } | undefined;
  if (!local || typeof local.dir !== 'string' || !local.dir) {
    throw new EtcdBackupError('invalidInput', `${file}: "local.dir" is needed: the change log is kept beside the local snapshots.`);
  }
  return { file, cluster, localDir: local.dir, follow: parseFollowSettings(d.follow, file) };
}
