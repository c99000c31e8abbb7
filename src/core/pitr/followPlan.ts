/**
 * The part of a backup plan the follower and the point-in-time fetch read: the cluster, the
 * local folder, and `follow: { enabled, segmentSeconds, segmentMiB }`. Validated here with one
 * sentence per problem.
 */
import { join } from 'path';

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

/** `follow:` of a plan, with its defaults, and one sentence per problem. */
export function checkFollow(raw: unknown): { follow: FollowSettings; problems: string[] } {
  const problems: string[] = [];
  const follow = { ...FOLLOW_DEFAULTS };
  if (raw === undefined || raw === null) return { follow, problems };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { follow, problems: ['follow must be a map such as { enabled: true, segmentSeconds: 60, segmentMiB: 16 }.'] };
  }
  const f = raw as Record<string, unknown>;
  for (const k of Object.keys(f)) {
    if (!['enabled', 'segmentSeconds', 'segmentMiB'].includes(k))
      problems.push(`follow: unknown field "${k}" (expected enabled, segmentSeconds, segmentMiB).`);
  }
  if (f.enabled !== undefined && typeof f.enabled !== 'boolean') problems.push('follow.enabled must be true or false.');
  else follow.enabled = f.enabled === true;
  const num = (k: 'segmentSeconds' | 'segmentMiB', min: number, max: number): void => {
    const v = f[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      problems.push(`follow.${k} must be a number from ${min} to ${max} (got ${JSON.stringify(v)}).`);
    else follow[k] = v;
  };
  num('segmentSeconds', 1, 86_400);
  num('segmentMiB', 0.01, 1024);
  return { follow, problems };
}
