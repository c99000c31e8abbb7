/**
 * Writing a value back in the file's own style: the same quotes where they still read back as
 * the value, double quotes (with escapes) where they would not. Each rendering is checked by
 * reading it back the way its file format does.
 */
import { parse as parseYaml } from 'yaml';
import { ValueQuote } from './types';

export type ValueContext = 'yaml-block' | 'yaml-flow' | 'env' | 'unit';

function yamlText(content: string, quote: ValueQuote): string {
  if (quote === 'double') return JSON.stringify(content);
  if (quote === 'single') return `'${content.replace(/'/g, "''")}'`;
  return content;
}

function readsBackYaml(text: string, content: string, flow: boolean): boolean {
  try {
    const v: unknown = parseYaml(flow ? `[${text}]` : `- ${text}`, { strict: true });
    return Array.isArray(v) && v.length === 1 && v[0] === content;
  } catch {
    return false;
  }
}

function envText(content: string, quote: ValueQuote): string | undefined {
  if (quote === 'none') return /^[^\s"'\\#;]*$/.test(content) && !/^\s/.test(content) ? content : undefined;
  if (quote === 'single') return content.includes("'") || /[\r\n]/.test(content) ? undefined : `'${content}'`;
  return /[\r\n]/.test(content) ? undefined : `"${content.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** systemd command-line word: `%` is a specifier and `$` a variable, both doubled; quotes as needed. */
function unitText(content: string, quote: ValueQuote): string | undefined {
  if (/[\r\n]/.test(content)) return undefined;
  const esc = content.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (quote === 'none') return /^[^\s"'\\;]+$/.test(esc) ? esc : undefined;
  if (quote === 'single') return esc.includes("'") || esc.includes('\\') ? undefined : `'${esc}'`;
  return `"${esc.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The text of a value (a whole YAML scalar, env value or unit word) holding `content`, in the
 * preferred quoting when it reads back as `content`, else double-quoted. Undefined when the
 * content cannot be written there at all (a line break in an env value).
 */
export function renderValue(content: string, preferred: ValueQuote, ctx: ValueContext): string | undefined {
  const order: ValueQuote[] = [preferred, 'double'];
  for (const q of order) {
    if (ctx === 'yaml-block' || ctx === 'yaml-flow') {
      const t = yamlText(content, q);
      if (readsBackYaml(t, content, ctx === 'yaml-flow')) return t;
    } else if (ctx === 'env') {
      const t = envText(content, q);
      if (t !== undefined) return t;
    } else {
      const t = unitText(content, q);
      if (t !== undefined) return t;
    }
  }
  return undefined;
}
