/**
 * Which backups to keep, with restic's `forget --keep-*` meaning (restic's
 * internal/restic/snapshot_policy.go): walk the backups newest first; `last: N` keeps the N
 * newest; `hourly/daily/weekly/monthly/yearly: N` keep the newest backup of each of the N most
 * recent hours/days/ISO weeks/months/years that hold a backup (local time, as restic); a
 * backup is kept when any rule keeps it. `within` (a duration such as `7d`) keeps every backup
 * younger than that at prune time (unlike restic's --keep-within, measured from "now", so that
 * `prune --now` can show what a later prune will do).
 *
 * Two rules above restic's: the newest good backup is always kept (even when every rule would
 * let it go), and only backups this tool made are ever considered (callers pass only those).
 */

export interface KeepPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Keep everything younger than this many milliseconds at prune time. */
  withinMs?: number;
}

export const KEEP_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type KeepRule = (typeof KEEP_RULES)[number];

export interface RetentionItem {
  /** Unique name (file or object name). */
  name: string;
  /** When the backup was taken. */
  time: Date;
  /** A complete, checked backup (only good backups count for "the newest good one"). */
  good: boolean;
}

export interface RetentionDecision<T extends RetentionItem> {
  item: T;
  keep: boolean;
  /** Why it is kept ("last 3", "daily 2026-12-01", "newest good backup") or why it goes. */
  reasons: string[];
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** ISO 8601 week-numbering year and week, as Go's `Time.ISOWeek` (restic's weekly bucket). */
export function isoWeek(d: Date): { year: number; week: number } {
  const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  const day = t.getUTCDay() || 7; // Monday = 1 ... Sunday = 7
  t.setUTCDate(t.getUTCDate() + 4 - day); // the Thursday of this week decides the year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return { year: t.getUTCFullYear(), week: Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7) };
}

function bucket(rule: KeepRule, d: Date): string {
  switch (rule) {
    case 'hourly':
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}h`;
    case 'daily':
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    case 'weekly': {
      const w = isoWeek(d);
      return `${w.year}-W${pad(w.week)}`;
    }
    case 'monthly':
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
    case 'yearly':
      return String(d.getFullYear());
    default:
      return '';
  }
}

/** True when the policy keeps at least something by its own rules. */
export function policyKeepsAnything(p: KeepPolicy): boolean {
  return KEEP_RULES.some((r) => (p[r] ?? 0) > 0) || (p.withinMs ?? 0) > 0;
}

/**
 * Decide, for each item, whether it stays. Returns the decisions newest first. Items with the
 * same time keep their given order.
 */
export function applyRetention<T extends RetentionItem>(items: T[], policy: KeepPolicy, now: Date = new Date()): RetentionDecision<T>[] {
  const sorted = items.map((item, i) => ({ item, i })).sort((a, b) => b.item.time.getTime() - a.item.time.getTime() || a.i - b.i);
  const left: Record<KeepRule, number> = { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 };
  for (const r of KEEP_RULES) left[r] = Math.max(0, Math.floor(policy[r] ?? 0));
  const lastBucket: Partial<Record<KeepRule, string>> = {};
  const newestGood = sorted.find((s) => s.item.good)?.item;
  return sorted.map(({ item }) => {
    const reasons: string[] = [];
    for (const r of KEEP_RULES) {
      if (left[r] <= 0) continue;
      if (r === 'last') {
        reasons.push(`last ${Math.floor(policy.last ?? 0) - left.last + 1}`);
        left.last--;
        continue;
      }
      const b = bucket(r, item.time);
      if (b !== lastBucket[r]) {
        lastBucket[r] = b;
        left[r]--;
        reasons.push(`${r} ${b}`);
      }
    }
    if (policy.withinMs && now.getTime() - item.time.getTime() < policy.withinMs) {
      reasons.push('within');
    }
    if (item === newestGood) {
      reasons.push('newest good backup');
    }
    const keep = reasons.length > 0;
    if (!keep) {
      reasons.push('no keep rule holds it');
    }
    return { item, keep, reasons };
  });
}

/** Parse `30d`, `12h`, `2w`, `90m`, `1y` (and combinations such as `1d12h`) into milliseconds. */
export function parseKeepDuration(text: string): number | undefined {
  const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };
  const t = text.trim();
  if (!/^(\d+[mhdwy])+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+)([mhdwy])/g)) total += Number(m[1]) * units[m[2]];
  return total > 0 ? total : undefined;
}
