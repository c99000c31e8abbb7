/**
 * The follower's systemd service, `etcd-backup-<slug>-follow.service`: long-running
 * (`Type=simple`), restarted whatever ends it (`Restart=always`; it resumes after the last
 * stored segment), started at boot. `backup schedule` writes it beside the plan's timer when the
 * plan says `follow: { enabled: true }`.
 */
import { join } from 'path';
import type { BackupPlan } from '../backup/plan';
import { writeFileAtomic } from '../backup/status';
import { systemdQuote } from '../backup/units';

/**
 * V8 flags the follower runs with. Its heap holds little that lives long (the open segment is
 * spooled to a file), but V8 grows the young generation to 2 x 16 MiB under a steady stream of
 * watch events, which alone took the follower over its 128 MiB budget; 2 MiB semi-spaces cost a
 * scavenge of well under a millisecond every few MiB received (measured in `npm run bench:pitr`).
 * They must be given when the process starts (V8 sizes its heap then): the unit sets them in
 * NODE_OPTIONS, so the service is a single process; `backup follow` started any other way
 * starts itself again with them (src/cli/followLaunch.ts).
 */
export const FOLLOWER_NODE_FLAGS = ['--max-semi-space-size=2'];

/** True when these node flags (process.execArgv and NODE_OPTIONS) already give the follower's. */
export function hasFollowerFlags(execArgv: string[], nodeOptions: string | undefined): boolean {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  return FOLLOWER_NODE_FLAGS.every((f) => given.some((g) => g.split('=')[0] === f.split('=')[0]));
}

export function followUnit(plan: Pick<BackupPlan, 'slug' | 'path' | 'cluster'>, execStart: string[]): { name: string; text: string } {
  const cmd = [...execStart, 'backup', 'follow', '--config', plan.path].map(systemdQuote).join(' ');
  const text = [
    '[Unit]',
    `Description=etcd change log (point-in-time recovery) of cluster ${plan.cluster.name}`.replace(/%/g, '%%'),
    `Documentation=file://${plan.path.replace(/%/g, '%%')}`,
    'Wants=network-online.target',
    'After=network-online.target',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    // A value of its own for the follower, whatever the environment had (see FOLLOWER_NODE_FLAGS).
    `Environment=${systemdQuote(`NODE_OPTIONS=${FOLLOWER_NODE_FLAGS.join(' ')}`)}`,
    `ExecStart=${cmd}`,
    'Restart=always',
    'RestartSec=5',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=60',
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  return { name: `etcd-backup-${plan.slug}-follow.service`, text };
}

/** Write the follower's unit into `dir` (0644, temp file and rename); returns its path. */
export async function writeFollowUnit(unit: { name: string; text: string }, dir: string): Promise<string> {
  const path = join(dir, unit.name);
  await writeFileAtomic(path, unit.text, 0o644);
  return path;
}
