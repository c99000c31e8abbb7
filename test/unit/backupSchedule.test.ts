/**
 * The OnCalendar subset: next elapses equal what `systemd-analyze calendar` (Debian's systemd)
 * prints for the same expressions, in UTC; intervals; refusals with a sentence.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { existsSync } from 'fs';
import { CalendarError, parseCalendar } from '../../src/core/backup/schedule';

const ANALYZE = '/usr/bin/systemd-analyze';

/** systemd's next `n` elapses after now, in UTC, as Dates. */
function systemdNext(expr: string, n: number): Date[] {
  const out = execFileSync(
    ANALYZE,
    ['calendar', `--iterations=${n}`, expr],
    { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } },
  ).toString();
  const re = /(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC/g;
  return [...out.matchAll(re)].map((m) => new Date(`${m[1].replace(' ', 'T')}Z`));
}

describe('backup schedule (OnCalendar subset)', () => {
  const exprs = [
    '*-*-* 00/6:00:00',
    'hourly',
    'daily',
    'weekly',
    'monthly',
    'quarterly',
    'Mon..Fri 02:30',
    'Sat,Sun *-*-* 04:00:00',
    '*:0/15',
    '*-*-1/2 3:00',
    '*-02-29 00:00',
    '12:00',
    'Fri..Sun,Mon 23:59:30',
    '*-*-* 01,13:20',
  ];
  for (const e of exprs) {
    it(`"${e}" elapses when systemd says (UTC)`, function () {
      if (!existsSync(ANALYZE)) this.skip();
      const want = systemdNext(`${e} UTC`, 5);
      assert.strictEqual(want.length, 5, `systemd-analyze printed 5 elapses for ${e}`);
      const cal = parseCalendar(`${e} UTC`);
      const got: Date[] = [];
      let t = new Date(want[0].getTime() - 1000);
      for (let i = 0; i < 5; i++) {
        const nx = cal.next(t) as Date;
        got.push(nx);
        t = nx;
      }
      assert.deepStrictEqual(got.map((d) => d.toISOString()), want.map((d) => d.toISOString()));
    });
  }

  it('the interval is the longest gap between runs', () => {
    const from = new Date('2026-12-01T00:00:00Z');
    assert.strictEqual(parseCalendar('*-*-* 00/6:00:00 UTC').intervalMs(from), 6 * 3600_000);
    assert.strictEqual(parseCalendar('hourly').intervalMs(from), 3600_000);
    assert.strictEqual(parseCalendar('Mon..Fri 02:30 UTC').intervalMs(from), 3 * 86400_000);
    assert.strictEqual(parseCalendar('*-*-* 01,13:20 UTC').intervalMs(from), 12 * 3600_000);
    assert.strictEqual(parseCalendar('monthly UTC').intervalMs(from), 31 * 86400_000);
  });

  it('refuses what it does not read, with a sentence', () => {
    for (const [e, re] of [
      ['*-*-* */6:00:00', /systemd does not accept \*\/step; write 0\/6/],
      ['*-*-* 25:00', /out of range for the hour/],
      ['*-*~03', /end of the month/],
      ['Funday 10:00', /not a weekday/],
      ['', /empty/],
      ['*-*-* 00:00:00.5', /fractional/],
    ] as const) {
      assert.throws(() => parseCalendar(e), (err: Error) => err instanceof CalendarError && re.test(err.message), e);
    }
  });
});
