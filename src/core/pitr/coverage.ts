/**
 * What a plan's change log covers, for choosing a point in time (the revisions and times from
 * the oldest full snapshot to the last recorded revision), whether a given revision or time lies
 * in it (one sentence naming the range when not), and the follower's state from its status file
 * (running or not, the last recorded revision, how far behind the cluster). Plain Node.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { changelogDir } from './followPlan';
import type { FollowStatus } from './follower';
import { parseSegment } from './segment';
import type { FullSnapshots, SegmentStore } from './store';

export interface Coverage {
  /** The oldest full snapshot's revision (the first restorable point). */
  fromRevision: number;
  fromTime: number;
  /** The last revision recorded (a segment's end, or the newest full snapshot's). */
  toRevision: number;
  /** When it was recorded (epoch ms); undefined when only a remote segment holds it. */
  toTime?: number;
  fullSnapshots: number;
  segments: number;
}

/** The covered range; undefined when there is no full snapshot. Reads the last segment (when local) for its time. */
export async function coverage(segments: SegmentStore, snapshots: FullSnapshots, localDir?: string): Promise<Coverage | undefined> {
  const fulls = (await snapshots.list()).sort((a, b) => a.revision - b.revision);
  if (!fulls.length) return undefined;
  const refs = await segments.list();
  const newestFull = fulls[fulls.length - 1];
  const last = refs[refs.length - 1];
  let toRevision = newestFull.revision;
  let toTime: number | undefined = newestFull.time;
  if (last && last.last > toRevision) {
    toRevision = last.last;
    toTime = undefined;
    const file = localDir ? join(localDir, last.name) : undefined;
    const data = file ? await fs.readFile(file).catch(() => undefined) : undefined;
    if (data) {
      try {
        toTime = parseSegment(last.name, data).revisions.at(-1)?.time;
      } catch {
        // A corrupt last segment: the fetch names it; here the time is only unknown.
      }
    }
  }
  return {
    fromRevision: fulls[0].revision,
    fromTime: fulls[0].time,
    toRevision,
    toTime,
    fullSnapshots: fulls.length,
    segments: refs.length,
  };
}

/** "revisions 120 to 5012 (2026-12-01T10:00:00.000Z to 2026-12-01T17:58:03.120Z)". */
export function coverageText(c: Coverage): string {
  const to = c.toTime !== undefined ? new Date(c.toTime).toISOString() : 'the last recorded revision';
  return `revisions ${c.fromRevision} to ${c.toRevision} (${new Date(c.fromTime).toISOString()} to ${to})`;
}

/** A point as typed: a revision (digits) or a time (ISO 8601; a time without a zone is local time). */
export type PointInTime = { revision: number } | { time: Date };

/**
 * Read a typed point and check it against the covered range: the point, or one sentence saying
 * what is wrong and naming the range.
 */
export function checkPoint(text: string, c: Coverage): { point?: PointInTime; problem?: string } {
  const t = text.trim();
  const range = `The change log covers ${coverageText(c)}.`;
  if (!t) return { problem: `Give a revision or a time. ${range}` };
  if (/^\d+$/.test(t)) {
    const revision = Number(t);
    if (!Number.isSafeInteger(revision) || revision < c.fromRevision || revision > c.toRevision) {
      return { problem: `Revision ${t} is outside the recorded range. ${range}` };
    }
    return { point: { revision } };
  }
  const time = new Date(t);
  if (Number.isNaN(time.getTime())) {
    return { problem: `"${t}" is neither a revision number nor a time such as 2026-12-01T17:55:00Z. ${range}` };
  }
  const latest = c.toTime ?? Date.now();
  if (time.getTime() < c.fromTime || time.getTime() > latest) {
    return { problem: `${time.toISOString()} is outside the recorded range. ${range}` };
  }
  return { point: { time } };
}

export type FollowerState = 'running' | 'stalled' | 'stopped' | 'unknown';

export interface FollowerReport {
  state: FollowerState;
  /** The status file read (or looked for). */
  file: string;
  status?: FollowStatus;
  /** The last revision the follower received. */
  recorded?: number;
  /** Revisions the cluster had that the follower had not received at its last progress answer. */
  behindRevisions?: number;
  /** Milliseconds since the follower last knew it was caught up (when it is behind), or 0. */
  lagMs?: number;
  /** Milliseconds since the status was last written. */
  ageMs?: number;
}

/** The status file the follower of a plan writes by default. */
export function followStatusFile(localDir: string): string {
  return join(changelogDir(localDir), 'follow-status.json');
}

function pidAlive(pid: number): boolean | undefined {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EPERM' ? true : code === 'ESRCH' ? false : undefined;
  }
}

/**
 * The follower's state from its status file (rewritten every 2 s or so while it is connected):
 * running when written within `freshMs` by a live process; stalled when its process lives but
 * the file is older (reconnecting, or the cluster unreachable); stopped when the process is gone
 * or there is no file.
 */
export async function followerReport(file: string, now = Date.now(), freshMs = 15_000): Promise<FollowerReport> {
  let status: FollowStatus;
  try {
    status = JSON.parse(await fs.readFile(file, 'utf8')) as FollowStatus;
  } catch (err) {
    return { state: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'stopped' : 'unknown', file };
  }
  const ageMs = Math.max(0, now - Date.parse(status.updatedAt));
  const alive = typeof status.pid === 'number' ? pidAlive(status.pid) : undefined;
  const state: FollowerState = alive === false ? 'stopped' : ageMs <= freshMs ? 'running' : alive ? 'stalled' : 'unknown';
  const recorded = status.receivedRevision;
  const behind = status.clusterRevision !== undefined ? Math.max(0, status.clusterRevision - recorded) : undefined;
  const caught = status.caughtUpAt ? Date.parse(status.caughtUpAt) : undefined;
  const lagMs = behind === 0 ? 0 : caught !== undefined ? Math.max(0, now - caught) : undefined;
  return { state, file, status, recorded, behindRevisions: behind, lagMs, ageMs };
}
