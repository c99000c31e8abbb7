import * as assert from 'assert';
import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Lines that import or require `vscode`. */
export function vscodeImports(source: string): string[] {
  return source
    .split('\n')
    .filter((l) => /(from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\(\s*['"]vscode['"]\s*\))/.test(l));
}

describe('architecture', () => {
  it('the import detector finds every form of a vscode import', () => {
    assert.strictEqual(vscodeImports("import * as vscode from 'vscode';\nconst v = require(\"vscode\");\nawait import('vscode');").length, 3);
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
});
