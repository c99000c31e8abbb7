import * as assert from 'assert';
import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative, sep } from 'path';

const root = join(__dirname, '..', '..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Lines that import or require `vscode`. */
export function vscodeImports(source: string): string[] {
  return source.split('\n').filter((l) => /(from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\(\s*['"]vscode['"]\s*\))/.test(l));
}

/** Lines over `max` characters, as `file:line (length)`; `file` is the name given. */
export function longLines(file: string, source: string, max = 140): string[] {
  return source.split('\n').flatMap((l, i) => ([...l.replace(/\r$/, '')].length > max ? [`${file}:${i + 1} (${[...l].length})`] : []));
}

/** Generated files may keep long lines (none today: every file in src is written by hand). */
const GENERATED = new Set<string>([]);

describe('architecture', () => {
  it('the import detector finds every form of a vscode import', () => {
    assert.strictEqual(
      vscodeImports("import * as vscode from 'vscode';\nconst v = require(\"vscode\");\nawait import('vscode');").length,
      3,
    );
    assert.strictEqual(vscodeImports("import { x } from './vscodeish';").length, 0);
  });

  it('nothing under src/core imports vscode', () => {
    const offenders = filesUnder(join(root, 'src', 'core')).filter((f) => vscodeImports(readFileSync(f, 'utf8')).length > 0);
    assert.deepStrictEqual(offenders, []);
  });

  it('activation does not load etcd3 eagerly: extension.ts has no static etcd3 import', () => {
    const src = filesUnder(join(root, 'src')).filter((f) => !f.includes(`${join('src', 'core')}`));
    const offenders = src.filter((f) => /from\s+['"]etcd3['"]/.test(readFileSync(f, 'utf8').replace(/import type[^;]+;/g, '')));
    assert.deepStrictEqual(offenders, []);
  });

  it('the long-line finder counts characters, not bytes, and names file:line', () => {
    assert.deepStrictEqual(longLines('a.ts', `ok\n${'x'.repeat(141)}\n${'…'.repeat(140)}`), ['a.ts:2 (141)']);
  });

  it('no line in src is over 140 characters (npm run format formats src; split long strings by hand)', () => {
    const offenders = filesUnder(join(root, 'src'))
      .map((f) => relative(root, f).split(sep).join('/'))
      .filter((f) => !GENERATED.has(f))
      .flatMap((f) => longLines(f, readFileSync(join(root, f), 'utf8')));
    assert.deepStrictEqual(offenders, []);
  });
});
