/**
 * systemd units that run etcd: the `ExecStart=` command line (words split as systemd does:
 * "double" and 'single' quotes, backslash escapes, lines continued with a trailing `\`),
 * `Environment=` assignments and `EnvironmentFile=` references.
 */
import { flagNameOfEnv } from './flags';
import { ParsedEtcdFile, TextRange } from './types';
import { etcdMinorOf, releaseList } from './flags';
import { LauncherRead, readLauncher } from './launchers';
import { runsEtcd } from './shellScript';
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
    } else if (
      !escapes &&
      quoteKinds === 1 &&
      (src[0] === '"' || src[0] === "'") &&
      src[src.length - 1] === src[0] &&
      src.slice(1, -1) === value
    ) {
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
  let launcherEnv: LauncherRead['envWords'] = [];
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
      if (runsEtcd(exe)) {
        exec = { line, words: ws };
        out.launcher = undefined;
        continue;
      }
      const l = readLauncher(ws);
      if (!l) continue;
      out.launcher = l.launcher;
      exec = l.etcdWords?.length ? { line, words: l.etcdWords } : undefined;
      launcherEnv = l.envWords;
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
  if (out.launcher) launcherProblems(text, out, launcherEnv);
  if (!exec) {
    return;
  }
  const [exe, ...rest] = exec.words;
  for (const w of rest) {
    if (/\$/.test(w.value)) {
      out.problems.push({
        code: 'not-expanded',
        range: w.range,
        severity: 'warning',
        message: `${w.value} is expanded by systemd ` + `when etcd starts: the flags in it are not analysed or edited.`,
      });
    }
  }
  const flagWords = rest.filter((w) => !/^\$\{?[A-Za-z_]/.test(w.value));
  for (const x of settingsFromWords(flagWords, { source: 'command' }, out.problems)) out.settings.push(x);
  const last = exec.words[exec.words.length - 1];
  const lastLineStart = exec.line.lineStarts[exec.line.lineStarts.length - 1];
  out.flagList = {
    insertAfter: last.range.end,
    executableRange: exe.range,
    ...(exec.line.lineStarts.length > 1 ? { indent: /^[ \t]*/.exec(text.slice(lastLineStart))?.[0] ?? '' } : {}),
  };
}

/**
 * What a unit that starts etcd through something else gets said about it: the release its image
 * or ETCD_IMAGE_TAG names, `-e ETCD_*` words of a container command, and why it is not edited
 * where that is so (a shell script; a container with no etcd flags on this line).
 */
function launcherProblems(text: string, out: ParsedEtcdFile, envWords: LauncherRead['envWords']): void {
  const l = out.launcher;
  if (!l) return;
  const tag = out.settings.find((s) => s.key === 'ETCD_IMAGE_TAG')?.value;
  const minor = etcdMinorOf(l.image) ?? etcdMinorOf(tag);
  if (minor) {
    out.etcdVersion = minor;
    out.etcdVersionSource = l.image && etcdMinorOf(l.image) ? `the image ${l.image}` : `ETCD_IMAGE_TAG=${tag ?? ''}`;
  }
  const envKeys = [...new Set(envWords.map((e) => e.key).filter((k) => k.startsWith('ETCD_')))];
  if (envKeys.length) {
    out.problems.push({
      code: 'container-env',
      range: envWords[0].word.range,
      severity: 'info',
      message:
        `The container gets ${releaseList(envKeys, 'and')} from -e on this line: change ` +
        `${envKeys.length === 1 ? 'it' : 'them'} there by hand (not edited).`,
    });
  }
  if (l.kind === 'shell') {
    const vars = l.scriptVariables ?? [];
    const files = out.environmentFiles.map((f) => f.path);
    out.problems.push({
      code: 'shell-command',
      range: l.range,
      severity: 'info',
      blocksEdits: true,
      message:
        `etcd runs through a shell script here (${l.program} -c): the flags inside the script are not checked, and the script ` +
        `is not edited.${
          vars.length && files.length
            ? ` It passes ${releaseList(vars, 'and')} from ${releaseList(files, 'and')} (EnvironmentFile=): ` + `change them there.`
            : ' Edit the script by hand.'
        }`,
    });
  } else if (l.kind === 'other') {
    const etcdVars = out.settings.filter((s) => s.source === 'environment').map((s) => s.key);
    if (!etcdVars.length && !out.environmentFiles.length) return;
    out.problems.push({
      code: 'not-etcd-command',
      range: l.range,
      severity: 'info',
      message:
        `ExecStart= runs ${l.program}, not etcd: its arguments are not ` +
        `checked.${etcdVars.length ? ` The ETCD_* variables of Environment= are passed to it.` : ''}`,
    });
  }
  void text;
}
