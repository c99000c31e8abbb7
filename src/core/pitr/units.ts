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
