/**
 * systemd units that run etcd: the `ExecStart=` command line (words split as systemd does:
 * "double" and 'single' quotes, backslash escapes, lines continued with a trailing `\`),
 * `Environment=` assignments and `EnvironmentFile=` references.
 */
import { flagNameOfEnv } from './flags';
import { ParsedEtcdFile, TextRange } from './types';
import { runsEtcd } from './yamlFiles';
import { settingsFromWords, Word } from './words';

/** A logical line of a unit: its characters with their offsets in the text. */
interface LogicalLine {
  chars: { c: string; at: number }[];
  /** Offsets of the start of each physical line it spans. */
  lineStarts: number[];
  start: number;
  end: number;
}

function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let cur: LogicalLine | undefined;
  let ls = 0;
  while (ls < text.length) {
    let le = text.indexOf('\n', ls);
    if (le < 0) le = text.length;
    const ce = le > ls && text[le - 1] === '\r' ? le - 1 : le;
    const raw = text.slice(ls, ce);
    if (!cur) {
      const t = raw.trimStart();
      if (t.startsWith('#') || t.startsWith(';') || !t) {
        ls = le + 1;
        continue;
      }
      cur = { chars: [], lineStarts: [], start: ls, end: ce };
    } else if (/^[ \t]*[#;]/.test(raw)) {
      // systemd skips comment lines inside a continued line
      ls = le + 1;
      continue;
    }
    cur.lineStarts.push(ls);
    const continued = raw.endsWith('\\');
    const upto = continued ? ce - 1 : ce;
    for (let i = ls; i < upto; i++) cur.chars.push({ c: text[i], at: i });
    cur.end = ce;
    if (continued) {
      cur.chars.push({ c: ' ', at: ce - 1 });
    } else {
      out.push(cur);
      cur = undefined;
    }
    ls = le + 1;
  }
  if (cur) out.push(cur);
  return out;
}

/** Split characters into words as systemd does for command lines and `Environment=`. */
function words(text: string, chars: { c: string; at: number }[], dollars = false): Word[] {
  const out: Word[] = [];
  let i = 0;
  while (i < chars.length) {
    while (i < chars.length && /[ \t]/.test(chars[i].c)) i++;
    if (i >= chars.length) break;
    const start = chars[i].at;
    let value = '';
    let lastAt = start;
    let quoted: '"' | "'" | undefined;
    let quoteKinds = 0;
    let escapes = false;
    for (; i < chars.length; i++) {
      const { c, at } = chars[i];
      if (!quoted && /[ \t]/.test(c)) break;
      lastAt = at;
      if (!quoted && (c === '"' || c === "'")) {
        quoted = c;
        quoteKinds++;
        continue;
      }
      if (quoted && c === quoted) {
        quoted = undefined;
        continue;
      }
      if (c === '\\' && i + 1 < chars.length && quoted !== "'") {
        value += chars[++i].c;
        lastAt = chars[i].at;
        escapes = true;
        continue;
      }
      value += c;
    }
    // `%%` is a literal % (specifiers), and on a command line `$$` a literal $
    value = value.replace(/%%/g, '%');
    if (dollars) value = value.replace(/\$\$/g, '$');
    const range = { start, end: lastAt + 1 };
    const src = text.slice(range.start, range.end);
    let inner: TextRange | undefined;
    let quote: Word['quote'] = 'none';
    if (src === value) {
      inner = range;
    } else if (!escapes && quoteKinds === 1 && (src[0] === '"' || src[0] === "'") && src[src.length - 1] === src[0] && src.slice(1, -1) === value) {
      inner = { start: range.start + 1, end: range.end - 1 };
      quote = src[0] === '"' ? 'double' : 'single';
    } else if (src[0] === '"' || src[0] === "'") {
      quote = src[0] === '"' ? 'double' : 'single';
    }
    out.push({ value, range, inner, quote, entryStart: start });
  }
  return out;
}

/** Is this text a systemd unit (a section header or an `ExecStart=`)? */
export function looksLikeUnit(text: string): boolean {
  return /^[ \t]*\[(Unit|Service|Install)\][ \t]*\r?$/m.test(text) || /^[ \t]*ExecStart[ \t]*=/m.test(text);
}

/** Fill a ParsedEtcdFile from a systemd unit. */
export function readUnit(text: string, out: ParsedEtcdFile): void {
  let section = '';
  let exec: { line: LogicalLine; words: Word[] } | undefined;
  for (const line of logicalLines(text)) {
    const s = line.chars.map((x) => x.c).join('');
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(s);
    if (header) {
      section = header[1];
      continue;
    }
    const eq = s.indexOf('=');
    if (eq < 0) continue;
    const key = s.slice(0, eq).trim();
    let vi = eq + 1;
    while (vi < line.chars.length && /[ \t]/.test(line.chars[vi].c)) vi++;
    const valueChars = line.chars.slice(vi);
    if (section && section !== 'Service') continue;
    if (key === 'ExecStart') {
      const ws = words(text, valueChars, true);
      if (!ws.length) {
        exec = undefined; // an empty ExecStart= resets the list (drop-ins)
        continue;
      }
      const exe = ws[0].value.replace(/^[-@:+!]+/, '');
      if (runsEtcd(exe)) exec = { line, words: ws };
    } else if (key === 'Environment') {
      for (const w of words(text, valueChars)) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(w.value);
        if (!m || !m[1].startsWith('ETCD_')) continue;
        const k = m[1];
        const keyStart = w.inner ? w.inner.start : w.range.start;
        out.settings.push({
          name: flagNameOfEnv(k),
          key: k,
          value: w.value.slice(m[0].length),
          valueRange: w.inner ? { start: w.inner.start + m[0].length, end: w.inner.end } : w.range,
          exactValue: Boolean(w.inner),
          entryRange: w.range,
          keyRange: { start: keyStart, end: keyStart + k.length },
          form: 'env',
          quote: w.quote,
          source: 'environment',
        });
      }
    } else if (key === 'EnvironmentFile') {
      const ws = words(text, valueChars);
      for (const w of ws) {
        const optional = w.value.startsWith('-');
        out.environmentFiles.push({ path: optional ? w.value.slice(1) : w.value, optional, range: w.range });
      }
    }
  }
  if (!exec) {
    return;
  }
  const [exe, ...rest] = exec.words;
  for (const w of rest) {
    if (/\$/.test(w.value)) {
      out.problems.push({ code: 'not-expanded', range: w.range, severity: 'warning', message: `${w.value} is expanded by systemd when etcd starts: the flags in it are not analysed or edited.` });
    }
  }
  out.settings.push(...settingsFromWords(rest.filter((w) => !/^\$\{?[A-Za-z_]/.test(w.value)), { source: 'command' }, out.problems));
  const last = exec.words[exec.words.length - 1];
  const lastLineStart = exec.line.lineStarts[exec.line.lineStarts.length - 1];
  out.flagList = {
    insertAfter: last.range.end,
    executableRange: exe.range,
    ...(exec.line.lineStarts.length > 1 ? { indent: /^[ \t]*/.exec(text.slice(lastLineStart))?.[0] ?? '' } : {}),
  };
}
