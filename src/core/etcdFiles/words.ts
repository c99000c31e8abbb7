/**
 * Command-line words (YAML sequence items of a manifest, words of a systemd `ExecStart=`) turned
 * into etcd settings, the same way for both: `--flag=value`, `--flag value`, bare booleans.
 */
import { BOOLEAN_FLAGS } from './flags';
import { EtcdSetting, ParseProblem, TextRange, ValueQuote } from './types';

/** One word of a command line with its place in the text. */
export interface Word {
  /** The word after unquoting. */
  value: string;
  /** The whole word as written (quotes included). */
  range: TextRange;
  /** Where `value` is, character for character (undefined when escapes or folding prevent it). */
  inner?: TextRange;
  quote: ValueQuote;
  /** Where the entry starts (a YAML item's `-`; the word itself otherwise). */
  entryStart: number;
  /** YAML: inside a flow collection. */
  inFlow?: boolean;
}

/**
 * Settings from the words after the executable. etcd (Go's `flag` package) stops at the first
 * word that is not a flag and then refuses it; such words come back as problems.
 */
export function settingsFromWords(words: Word[], extra: Pick<EtcdSetting, 'source' | 'list'>, problems: ParseProblem[]): EtcdSetting[] {
  const out: EtcdSetting[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!/^--?[A-Za-z0-9]/.test(w.value)) {
      problems.push({
        code: 'stray-argument',
        range: w.range,
        severity: 'warning',
        message: `"${w.value}" is not a flag: etcd takes no arguments and exits at start ("${w.value}" is not a valid flag).`,
      });
      continue;
    }
    const dashes = w.value.startsWith('--') ? 2 : 1;
    const eq = w.value.indexOf('=');
    const name = w.value.slice(dashes, eq >= 0 ? eq : undefined);
    const keyText = eq >= 0 ? w.value.slice(0, eq) : w.value;
    const keyRange: TextRange = w.inner ? { start: w.inner.start, end: w.inner.start + keyText.length } : w.range;
    if (eq >= 0) {
      out.push({
        name,
        key: keyText,
        value: w.value.slice(eq + 1),
        valueRange: w.inner ? { start: w.inner.start + eq + 1, end: w.inner.end } : w.range,
        exactValue: Boolean(w.inner),
        entryRange: { start: w.entryStart, end: w.range.end },
        keyRange,
        form: 'flag=value',
        quote: w.quote,
        ...(w.inFlow ? { inFlow: true } : {}),
        ...extra,
      });
      continue;
    }
    const next = words[i + 1];
    if (BOOLEAN_FLAGS.has(name) || !next) {
      out.push({
        name,
        key: keyText,
        value: 'true',
        valueRange: { start: w.range.end, end: w.range.end },
        exactValue: false,
        entryRange: { start: w.entryStart, end: w.range.end },
        keyRange,
        form: 'flag',
        quote: w.quote,
        ...extra,
      });
      continue;
    }
    i++;
    out.push({
      name,
      key: keyText,
      value: next.value,
      valueRange: next.inner ?? next.range,
      exactValue: Boolean(next.inner),
      entryRange: { start: w.entryStart, end: next.range.end },
      keyRange,
      form: 'flag value',
      quote: next.quote,
      ...(next.inFlow ? { inFlow: true } : {}),
      ...extra,
    });
  }
  return out;
}
