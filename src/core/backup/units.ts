/**
 * The systemd service and timer that run a plan unattended: `etcd-backup-<slug>.service`
 * (`Type=oneshot`, low CPU and I/O priority) and `etcd-backup-<slug>.timer` (the plan's
 * `OnCalendar=`, `Persistent=true` so a run missed while the machine was off happens at boot,
 * and a randomized delay so many nodes do not hit the store at once). Both pass
 * `systemd-analyze verify` without a word.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import type { BackupPlan } from './plan';
import { parseCalendar } from './schedule';
import { writeFileAtomic } from './status';

export interface PlanUnits {
  serviceName: string;
  timerName: string;
  service: string;
  timer: string;
}

/** Quote one ExecStart word the way systemd reads it (and double `%`, systemd's specifier). */
export function systemdQuote(word: string): string {
  const w = word.replace(/%/g, '%%');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  return `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$')}"`;
}

/** Randomized delay: a tenth of the interval, between 1 and 15 minutes. */
export function randomizedDelaySec(schedule: string): number {
  const ms = parseCalendar(schedule).intervalMs();
  return Math.max(60, Math.min(900, Math.round(ms / 10 / 1000)));
}

/**
 * The unit files for `plan`. `execStart` is the command line that runs the plan once, its
 * first word an absolute path (e.g. [process.execPath, '/usr/lib/etcd-backup/dist/cli.js']);
 * `backup run --config <plan>` is appended.
 */
export function planUnits(plan: BackupPlan, execStart: string[]): PlanUnits {
  const base = `etcd-backup-${plan.slug}`;
  const desc = `etcd backup of cluster ${plan.cluster.name}`.replace(/%/g, '%%');
  const cmd = [...execStart, 'backup', 'run', '--config', plan.path].map(systemdQuote).join(' ');
  const service = [
    '[Unit]',
    `Description=${desc}`,
    `Documentation=file://${plan.path.replace(/%/g, '%%')}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${cmd}`,
    'Nice=10',
    'IOSchedulingClass=idle',
    'UMask=0077',
    '',
  ].join('\n');
  const timer = [
    '[Unit]',
    `Description=Schedule of the ${desc}`,
    '',
    '[Timer]',
    `OnCalendar=${plan.schedule.replace(/%/g, '%%')}`,
    'Persistent=true',
    `RandomizedDelaySec=${randomizedDelaySec(plan.schedule)}`,
    `Unit=${base}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  return { serviceName: `${base}.service`, timerName: `${base}.timer`, service, timer };
}

/** Write both units into `dir` (0644, temp file and rename). Returns their paths. */
export async function writeUnits(units: PlanUnits, dir: string): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const paths = [join(dir, units.serviceName), join(dir, units.timerName)];
  await writeFileAtomic(paths[0], units.service, 0o644);
  await writeFileAtomic(paths[1], units.timer, 0o644);
  return paths;
}

/** True when systemd is the init system here (so `systemctl` can load the units). */
export async function systemdRuns(): Promise<boolean> {
  return fs.stat('/run/systemd/system').then(
    (s) => s.isDirectory(),
    () => false,
  );
}
