/**
 * A unified diff of two texts (as `diff -u` prints it), for showing an edit before it is written.
 */

function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

/** Line operations turning `a` into `b` (longest common subsequence over the part that differs). */
function diffLines(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: Op[] = [];
  for (let i = 0; i < pre; i++) ops.push({ kind: ' ', line: a[i], a: i, b: i });
  if (am.length * bm.length > 4_000_000) {
    am.forEach((l, i) => ops.push({ kind: '-', line: l, a: pre + i, b: pre }));
    bm.forEach((l, j) => ops.push({ kind: '+', line: l, a: pre + am.length, b: pre + j }));
  } else {
    const n = am.length;
    const m = bm.length;
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = am[i] === bm[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        ops.push({ kind: ' ', line: am[i], a: pre + i, b: pre + j });
        i++;
        j++;
      } else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        ops.push({ kind: '-', line: am[i], a: pre + i, b: pre + j });
        i++;
      } else {
        ops.push({ kind: '+', line: bm[j], a: pre + i, b: pre + j });
        j++;
      }
    }
  }
  for (let k = 0; k < suf; k++) ops.push({ kind: ' ', line: a[a.length - suf + k], a: a.length - suf + k, b: b.length - suf + k });
  return ops;
}

/**
 * `--- a/<name>` / `+++ b/<name>` and hunks with `context` lines around each change; empty when
 * the texts are equal. A last line without a line break is marked as diff does.
 */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName = oldName, context = 3): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const ops = diffLines(a, b);
  const aNoEol = oldText.length > 0 && !oldText.endsWith('\n');
  const bNoEol = newText.length > 0 && !newText.endsWith('\n');
  // A line that is the last one without a line break on one side only differs: show it as a change.
  const noEolA = (o: Op): boolean => aNoEol && o.a === a.length - 1;
  const noEolB = (o: Op): boolean => bNoEol && o.b === b.length - 1;
  for (let k = 0; k < ops.length; k++) {
    const o = ops[k];
    if (o.kind === ' ' && noEolA(o) !== noEolB(o)) {
      ops.splice(k, 1, { kind: '-', line: o.line, a: o.a, b: o.b }, { kind: '+', line: o.line, a: o.a + 1, b: o.b });
      k++;
    }
  }
  const out: string[] = [`--- ${oldName}`, `+++ ${newName}`];
  const changed = ops.map((o, i) => (o.kind !== ' ' ? i : -1)).filter((i) => i >= 0);
  let h = 0;
  while (h < changed.length) {
    let start = Math.max(0, changed[h] - context);
    let end = Math.min(ops.length, changed[h] + context + 1);
    while (h + 1 < changed.length && changed[h + 1] - context <= end) {
      h++;
      end = Math.min(ops.length, changed[h] + context + 1);
    }
    h++;
    start = Math.max(0, start);
    const slice = ops.slice(start, end);
    const aStart = slice.find((o) => o.kind !== '+')?.a ?? slice[0].a;
    const bStart = slice.find((o) => o.kind !== '-')?.b ?? slice[0].b;
    const aLen = slice.filter((o) => o.kind !== '+').length;
    const bLen = slice.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aLen ? aStart + 1 : aStart},${aLen} +${bLen ? bStart + 1 : bStart},${bLen} @@`);
    for (const o of slice) {
      out.push(`${o.kind}${o.line}`);
      if ((o.kind !== '+' && noEolA(o)) || (o.kind === '+' && noEolB(o))) {
        out.push('\\ No newline at end of file');
      }
    }
  }
  return `${out.join('\n')}\n`;
}
