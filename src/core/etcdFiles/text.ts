/** Small text helpers over offsets: lines, line endings, applying edits. */
import { TextEdit } from './types';

/** The file's line ending: CRLF when its first line break is one. */
export function eolOf(text: string): '\n' | '\r\n' {
  const i = text.indexOf('\n');
  return i > 0 && text[i - 1] === '\r' ? '\r\n' : '\n';
}

/** Offset of the start of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset of the end of the line holding `offset` (before `\r\n` or `\n`; the text's end on the last line). */
export function lineEnd(text: string, offset: number): number {
  const n = text.indexOf('\n', offset);
  if (n < 0) return text.length;
  return n > 0 && text[n - 1] === '\r' ? n - 1 : n;
}

/** Offset just after the line break that ends the line holding `offset` (the text's end on the last line). */
export function nextLineStart(text: string, offset: number): number {
  const n = text.indexOf('\n', offset);
  return n < 0 ? text.length : n + 1;
}

/** 1-based line number of an offset (for messages). */
export function lineNumber(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Apply edits to a text. Edits refer to the original text; they must not overlap (two inserts
 * at the same offset are applied in the given order). Throws on overlapping or out-of-range edits.
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = edits.map((e, i) => ({ e, i })).sort((a, b) => a.e.offset - b.e.offset || a.i - b.i);
  let out = '';
  let pos = 0;
  for (const { e } of sorted) {
    if (e.offset < pos || e.length < 0 || e.offset + e.length > text.length) {
      throw new Error(`Overlapping or out-of-range edit at offset ${e.offset}.`);
    }
    out += text.slice(pos, e.offset) + e.newText;
    pos = e.offset + e.length;
  }
  return out + text.slice(pos);
}

/**
 * The smallest edit that turns `oldText` (found at `offset`) into `newText`: the common prefix
 * and suffix are left out. Undefined when nothing changes.
 */
export function minimalEdit(offset: number, oldText: string, newText: string): TextEdit | undefined {
  if (oldText === newText) return undefined;
  let p = 0;
  const max = Math.min(oldText.length, newText.length);
  while (p < max && oldText[p] === newText[p]) p++;
  let s = 0;
  while (s < max - p && oldText[oldText.length - 1 - s] === newText[newText.length - 1 - s]) s++;
  return { offset: offset + p, length: oldText.length - p - s, newText: newText.slice(p, newText.length - s) };
}
