/**
 * Retention with restic's `forget --keep-*` meaning, plus our two rules: the newest good backup
 * always stays, and `within` is measured from the prune time.
 */
import * as assert from 'assert';
import { applyRetention, isoWeek, KeepPolicy, parseKeepDuration, RetentionItem } from '../../src/core/backup/retention';

/** Local-time dates, as restic buckets them. */
function at(y: number, mo: number, d: number, h = 12, mi = 0): Date {
  return new Date(y, mo - 1, d, h, mi);
}

function items(dates: Date[], good = true): RetentionItem[] {
  return dates.map((time, i) => ({ name: `b${i}`, time, good }));
}

function kept(list: RetentionItem[], p: KeepPolicy, now?: Date): string[] {
  return applyRetention(list, p, now)
    .filter((d) => d.keep)
    .map((d) => d.item.name);
}

describe('backup retention (restic semantics)', () => {
  it('last N keeps the N newest, whatever order they come in', () => {
    const list = items([at(2026, 1, 1), at(2026, 1, 3), at(2026, 1, 2), at(2026, 1, 4)]);
    assert.deepStrictEqual(kept(list, { last: 2 }), ['b3', 'b1']);
  });

  it('daily N keeps the newest backup of each of the N most recent days that have one', () => {
    const list = items([
      at(2026, 3, 1, 1),
      at(2026, 3, 1, 13),
      at(2026, 3, 2, 6),
      at(2026, 3, 2, 18),
      at(2026, 3, 5, 0),
      at(2026, 3, 5, 23),
    ]);
    assert.deepStrictEqual(kept(list, { daily: 2 }), ['b5', 'b3']);
    assert.deepStrictEqual(kept(list, { daily: 10 }), ['b5', 'b3', 'b1']);
  });

  it('hourly, weekly (ISO weeks), monthly and yearly buckets', () => {
    const hourly = items([at(2026, 3, 1, 10, 5), at(2026, 3, 1, 10, 55), at(2026, 3, 1, 11, 1)]);
    assert.deepStrictEqual(kept(hourly, { hourly: 5 }), ['b2', 'b1']);
    // Sunday 2026-01-04 is ISO week 2026-W01, Monday 2026-01-05 is W02; 2025-12-29 (Mon) is W01 of 2026.
    assert.deepStrictEqual(isoWeek(at(2026, 1, 4)), { year: 2026, week: 1 });
    assert.deepStrictEqual(isoWeek(at(2025, 12, 29)), { year: 2026, week: 1 });
    assert.deepStrictEqual(isoWeek(at(2026, 1, 5)), { year: 2026, week: 2 });
    assert.deepStrictEqual(isoWeek(at(2027, 1, 1)), { year: 2026, week: 53 });
    const weekly = items([at(2025, 12, 29), at(2026, 1, 4), at(2026, 1, 5)]);
    assert.deepStrictEqual(kept(weekly, { weekly: 2 }), ['b2', 'b1']);
    const monthly = items([at(2026, 1, 31), at(2026, 2, 1), at(2026, 2, 28), at(2026, 4, 1)]);
    assert.deepStrictEqual(kept(monthly, { monthly: 3 }), ['b3', 'b2', 'b0']);
    assert.deepStrictEqual(kept(items([at(2024, 6, 1), at(2025, 1, 1), at(2025, 12, 31)]), { yearly: 5 }), ['b2', 'b0']);
  });

  it('rules combine: a backup stays when any rule keeps it, with every reason', () => {
    const list = items([at(2026, 1, 1), at(2026, 1, 2), at(2026, 1, 3), at(2026, 2, 1), at(2026, 2, 2)]);
    const d = applyRetention(list, { last: 1, daily: 2, monthly: 2 });
    assert.deepStrictEqual(
      d.map((x) => [x.item.name, x.keep]),
      [['b4', true], ['b3', true], ['b2', true], ['b1', false], ['b0', false]],
    );
    assert.deepStrictEqual(d[0].reasons, ['last 1', 'daily 2026-02-02', 'monthly 2026-02', 'newest good backup']);
    assert.deepStrictEqual(d[2].reasons, ['monthly 2026-01']);
  });

  it('the newest good backup stays even when every rule lets everything go', () => {
    const now = at(2027, 1, 1);
    const list = items([at(2026, 1, 1), at(2026, 1, 2), at(2026, 1, 3)]);
    assert.deepStrictEqual(kept(list, { withinMs: 3600_000 }, now), ['b2']);
    // A newer backup that is not good does not count: the newest good one stays too.
    list.push({ name: 'bad', time: at(2026, 1, 4), good: false });
    assert.deepStrictEqual(kept(list, { withinMs: 3600_000 }, now), ['b2']);
    assert.deepStrictEqual(kept(list, { last: 1 }, now), ['bad', 'b2']);
  });

  it('within keeps what is younger than the duration at prune time', () => {
    const list = items([at(2026, 1, 1), at(2026, 1, 5), at(2026, 1, 9)]);
    assert.deepStrictEqual(kept(list, { withinMs: 5 * 86400_000 }, at(2026, 1, 10, 0)), ['b2', 'b1']);
    assert.strictEqual(parseKeepDuration('7d'), 7 * 86400_000);
    assert.strictEqual(parseKeepDuration('1d12h'), 36 * 3600_000);
    assert.strictEqual(parseKeepDuration('2w'), 14 * 86400_000);
    assert.strictEqual(parseKeepDuration('7 days'), undefined);
    assert.strictEqual(parseKeepDuration('0d'), undefined);
  });
});
