/**
 * Env files of `ETCD_*` variables (`etcd.env`, systemd `EnvironmentFile=` targets): one
 * `KEY=VALUE` a line, values unquoted, "double" or 'single' quoted, `#`/`;` comment lines,
 * an optional `export ` (shell-sourced files).
 */
import { flagNameOfEnv } from './flags';
import { EtcdSetting, ParsedEtcdFile, TextRange, ValueQuote } from './types';

const ASSIGN = /^([ \t]*)(export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=/;

/** One `KEY=VALUE` assignment, with where its value is. */
export interface EnvAssignment {
  key: string;
  keyRange: TextRange;
  value: string;
  valueRange: TextRange;
  exactValue: boolean;
  quote: ValueQuote;
  exported: boolean;
  entryRange: TextRange;
}

/**
 * Read a value starting at `pos` up to `end` (the line's end). Returns the value, its range and
 * where the assignment ends (after a closing quote), or an error sentence.
 */
export function readEnvValue(
  text: string,
  pos: number,
  end: number,
): { value: string; valueRange: TextRange; exact: boolean; quote: ValueQuote; end: number; error?: string } {
  const c = text[pos];
  if (c === '"' || c === "'") {
    let value = '';
    let exact = true;
    let i = pos + 1;
    for (; i < end; i++) {
      const ch = text[i];
      if (ch === c) break;
      if (c === '"' && ch === '\\' && i + 1 < end) {
        value += text[++i];
        exact = false;
        continue;
      }
      value += ch;
    }
    if (i >= end) {
      return {
        value,
        valueRange: { start: pos, end },
        exact: false,
        quote: c === '"' ? 'double' : 'single',
        end,
        error: `the ${c === '"' ? 'double' : 'single'} quote is not closed on this line`,
      };
    }
    const rest = text.slice(i + 1, end);
    if (rest.trim() && !/^[ \t]+#/.test(rest)) {
      return {
        value,
        valueRange: { start: pos + 1, end: i },
        exact,
        quote: c === '"' ? 'double' : 'single',
        end: i + 1,
        error: `"${rest.trim()}" follows the closing quote`,
      };
    }
    return {
      value,
      valueRange: exact ? { start: pos + 1, end: i } : { start: pos, end: i + 1 },
      exact,
      quote: c === '"' ? 'double' : 'single',
      end: i + 1,
    };
  }
  let e = end;
  while (e > pos && (text[e - 1] === ' ' || text[e - 1] === '\t')) e--;
  return { value: text.slice(pos, e), valueRange: { start: pos, end: e }, exact: true, quote: 'none', end: e };
}

/** Every assignment of an env text, and the lines that are not `KEY=VALUE`. */
export function readEnvLines(
  text: string,
  from = 0,
  to = text.length,
): { assignments: EnvAssignment[]; bad: { range: TextRange; message: string; code: string }[] } {
  const assignments: EnvAssignment[] = [];
  const bad: { range: TextRange; message: string; code: string }[] = [];
  let ls = from === 0 && text.charCodeAt(0) === 0xfeff ? 1 : from; // a UTF-8 byte order mark
  while (ls < to) {
    let le = text.indexOf('\n', ls);
    if (le < 0 || le > to) le = to;
    const next = le < to ? le + 1 : to;
    const contentEnd = le > ls && text[le - 1] === '\r' ? le - 1 : le;
    const line = text.slice(ls, contentEnd);
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      ls = next;
      continue;
    }
    const m = ASSIGN.exec(line);
    if (!m) {
      const s = ls + (line.length - line.trimStart().length);
      bad.push({
        code: 'not-key-value',
        range: { start: s, end: contentEnd },
        message:
          `"${trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed}" is not ` +
          `KEY=VALUE: systemd ignores this line ("Ignoring invalid environment assignment").`,
      });
      ls = next;
      continue;
    }
    const keyStart = ls + m[1].length + (m[2]?.length ?? 0);
    const valueStart = ls + m[0].length;
    const v = readEnvValue(text, valueStart, contentEnd);
    if (v.error) {
      bad.push({
        code: 'bad-quoting',
        range: { start: ls + m[1].length, end: contentEnd },
        message: `${m[3]}: ${v.error}; the value is not what it looks like.`,
      });
    }
    if (v.quote === 'none' && v.value.endsWith('\\')) {
      bad.push({
        code: 'continued-line',
        range: v.valueRange,
        message: `${m[3]} ends with a backslash: systemd joins the next line to this value.`,
      });
    }
    assignments.push({
      key: m[3],
      keyRange: { start: keyStart, end: keyStart + m[3].length },
      value: v.value,
      valueRange: v.valueRange,
      exactValue: v.exact,
      quote: v.quote,
      exported: Boolean(m[2]),
      entryRange: { start: ls + m[1].length, end: v.end },
    });
    ls = next;
  }
  return { assignments, bad };
}

/** Is this text an env file of etcd's (at least one `ETCD_*=` line)? */
export function looksLikeEnv(text: string): boolean {
  return /^\uFEFF?[ \t]*(export[ \t]+)?ETCD_[A-Z0-9_]*[ \t]*=/m.test(text);
}

export function envSetting(a: EnvAssignment, source?: 'environment'): EtcdSetting {
  return {
    name: flagNameOfEnv(a.key),
    key: a.key,
    value: a.value,
    valueRange: a.valueRange,
    exactValue: a.exactValue,
    entryRange: a.entryRange,
    keyRange: a.keyRange,
    form: 'env',
    quote: a.quote,
    ...(a.exported ? { exported: true } : {}),
    ...(source ? { source } : {}),
  };
}

/** Fill a ParsedEtcdFile from an env file. */
export function readEnv(text: string, out: ParsedEtcdFile): void {
  const { assignments, bad } = readEnvLines(text);
  for (const b of bad) out.problems.push({ code: b.code, range: b.range, severity: 'error', message: b.message });
  for (const a of assignments) {
    if (a.key.startsWith('ETCD_')) out.settings.push(envSetting(a));
  }
  const lastEtcd = [...assignments].reverse().find((a) => a.key.startsWith('ETCD_')) ?? assignments[assignments.length - 1];
  if (lastEtcd) out.flagList = { insertAfter: lastEtcd.entryRange.end };
}
