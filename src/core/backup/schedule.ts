/**
 * A subset of systemd's `OnCalendar=` syntax (systemd.time(7)), enough to know when a plan
 * runs next and how far apart its runs are (a backup older than twice that is stale):
 *
 * - the shorthands `minutely`, `hourly`, `daily`, `weekly`, `monthly`, `quarterly`,
 *   `semiannually`, `yearly`/`annually`;
 * - `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [UTC]`, each number field being `*`,
 *   a value, a list `a,b`, a range `a..b`, or a repetition `a/step` (`a..b/step`); weekdays as
 *   `Mon`, `Mon..Fri`, `Sat,Sun`. A missing date is `*-*-*`, a missing time `00:00:00`.
 *
 * Not supported (refused with a sentence): `~` (from the end of the month), fractional
 * seconds, time zones other than UTC. Times are local unless the expression ends in `UTC`,
 * as systemd reads them.
 */

export interface CalendarSpec {
  /** The expression as given. */
  text: string;
  /** Next elapse strictly after `after`, or undefined when there is none within 10 years. */
  next(after: Date): Date | undefined;
  /** The longest gap between consecutive elapses over the next year (at least one gap), in ms. */
  intervalMs(from?: Date): number;
}

const SHORTHANDS: Record<string, string> = {
  minutely: '*-*-* *:*:00',
  hourly: '*-*-* *:00:00',
  daily: '*-*-* 00:00:00',
  weekly: 'Mon *-*-* 00:00:00',
  monthly: '*-*-01 00:00:00',
  quarterly: '*-01,04,07,10-01 00:00:00',
  semiannually: '*-01,07-01 00:00:00',
  yearly: '*-01-01 00:00:00',
  annually: '*-01-01 00:00:00',
};

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** A calendar expression systemd would accept but this reader does not, or one that is wrong. */
export class CalendarError extends Error {}

/** Allowed values of one field, or undefined for every value. */
type Field = number[] | undefined;

function parseField(text: string, min: number, max: number, what: string): Field {
  if (text === '*') return undefined;
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(item);
    if (!m || (m[1] === '*' && (!m[3] || m[2]))) {
      throw new CalendarError(`"${item}" is not a ${what} value (use a number, a..b, a,b or a/step).`);
    }
    if (m[1] === '*') {
      throw new CalendarError(`"${item}": systemd does not accept */step; write ${min}/${m[3]} instead.`);
    }
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? max : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (from < min || to > max || from > to || step < 1) {
      throw new CalendarError(`"${item}" is out of range for the ${what} (${min} to ${max}).`);
    }
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function parseWeekdays(text: string): Field {
  const out = new Set<number>();
  for (const item of text.toLowerCase().split(',')) {
    const [a, b] = item.split('..');
    const ia = DAYS.indexOf(a.slice(0, 3));
    const ib = b === undefined ? ia : DAYS.indexOf(b.slice(0, 3));
    if (ia < 0 || ib < 0) throw new CalendarError(`"${item}" is not a weekday (Mon, Tue, ... or a range Mon..Fri).`);
    // systemd's week starts on Monday and its ranges do not wrap (Fri..Mon is refused).
    const mondayFirst = (d: number): number => (d + 6) % 7;
    if (mondayFirst(ib) < mondayFirst(ia))
      throw new CalendarError(`"${item}": a weekday range runs from Monday to Sunday (write ` + `Fri..Sun,Mon).`);
    for (let d = mondayFirst(ia); d <= mondayFirst(ib); d++) out.add((d + 1) % 7);
  }
  return [...out];
}

interface Parsed {
  weekdays: Field;
  years: Field;
  months: Field;
  days: Field;
  hours: Field;
  minutes: Field;
  seconds: Field;
  utc: boolean;
}

function parseExpression(input: string): Parsed {
  const given = input.trim().replace(/\s+/g, ' ').split(' ');
  let utc = false;
  if (given.length > 1 && /^utc$/i.test(given[given.length - 1])) {
    utc = true;
    given.pop();
  }
  const text = SHORTHANDS[given.join(' ').toLowerCase()] ?? given.join(' ');
  const words = text.split(' ');
  let weekdays: Field;
  if (words.length && /^[a-z]/i.test(words[0])) {
    weekdays = parseWeekdays(words.shift() as string);
  }
  let date = '*-*-*';
  let time = '00:00:00';
  for (const w of words) {
    if (w.includes('~')) throw new CalendarError(`"${w}": days counted from the end of the month (~) are not supported here.`);
    if (w.includes('-') && !w.includes(':')) date = w;
    else if (w.includes(':')) time = w;
    else throw new CalendarError(`"${w}" is neither a date (Y-M-D) nor a time (H:M:S).`);
  }
  if (words.length > 2) throw new CalendarError('too many parts (expected [weekdays] [date] [time]).');
  const dp = date.split('-');
  if (dp.length === 2) dp.unshift('*');
  if (dp.length !== 3) throw new CalendarError(`"${date}" is not a date (YEAR-MONTH-DAY or MONTH-DAY).`);
  const tp = time.split(':');
  if (tp.length === 2) tp.push('00');
  if (tp.length !== 3) throw new CalendarError(`"${time}" is not a time (HOUR:MINUTE[:SECOND]).`);
  if (tp[2].includes('.')) throw new CalendarError('fractional seconds are not supported here.');
  return {
    weekdays,
    years: parseField(dp[0], 1970, 2199, 'year'),
    months: parseField(dp[1], 1, 12, 'month'),
    days: parseField(dp[2], 1, 31, 'day'),
    hours: parseField(tp[0], 0, 23, 'hour'),
    minutes: parseField(tp[1], 0, 59, 'minute'),
    seconds: parseField(tp[2], 0, 59, 'second'),
    utc,
  };
}

const has = (f: Field, v: number): boolean => !f || f.includes(v);
const range = (f: Field, min: number, max: number): number[] => f ?? Array.from({ length: max - min + 1 }, (_, i) => min + i);

function nextElapse(p: Parsed, after: Date): Date | undefined {
  const get = p.utc
    ? (d: Date) => ({
        y: d.getUTCFullYear(),
        mo: d.getUTCMonth() + 1,
        d: d.getUTCDate(),
        h: d.getUTCHours(),
        mi: d.getUTCMinutes(),
        s: d.getUTCSeconds(),
      })
    : (d: Date) => ({ y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() });
  const make = (y: number, mo: number, d: number, h: number, mi: number, s: number): Date =>
    p.utc ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
  const start = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const s0 = get(start);
  const hours = range(p.hours, 0, 23);
  const minutes = range(p.minutes, 0, 59);
  const seconds = range(p.seconds, 0, 59);
  for (let i = 0; i < 3700; i++) {
    const day = make(s0.y, s0.mo, s0.d + i, 12, 0, 0);
    const c = get(day);
    const weekday = p.utc ? day.getUTCDay() : day.getDay();
    if (!has(p.years, c.y) || !has(p.months, c.mo) || !has(p.days, c.d) || !has(p.weekdays, weekday)) continue;
    for (const h of hours) {
      for (const mi of minutes) {
        for (const s of seconds) {
          const t = make(c.y, c.mo, c.d, h, mi, s);
          if (t.getTime() >= start.getTime()) return t;
        }
      }
    }
  }
  return undefined;
}

/** Parse an OnCalendar expression; throws CalendarError with a sentence fragment. */
export function parseCalendar(text: string): CalendarSpec {
  if (typeof text !== 'string' || !text.trim()) throw new CalendarError('the schedule is empty.');
  const p = parseExpression(text);
  const spec: CalendarSpec = {
    text: text.trim(),
    next: (after) => nextElapse(p, after),
    intervalMs(from = new Date()) {
      let prev = nextElapse(p, from);
      if (!prev) return Infinity;
      const end = prev.getTime() + 366 * 86400_000;
      let longest = 0;
      for (let i = 0; i < 2000; i++) {
        const n = nextElapse(p, prev);
        if (!n) break;
        longest = Math.max(longest, n.getTime() - prev.getTime());
        if (n.getTime() > end) break;
        prev = n;
      }
      return longest || Infinity;
    },
  };
  if (!spec.next(new Date())) throw new CalendarError(`"${text}" never elapses in the next ten years.`);
  return spec;
}

/** "6 h", "1 day", "30 min": a duration as a person reads it. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} days`;
}
