// Bundles the extension-host test entry and suites with esbuild:
//   test/vscode/index.ts          -> out/test/vscode/index.js
//   test/vscode/<dir>/*.test.ts   -> out/test/vscode/<dir>/*.test.js
// `vscode` is provided by the host; mocha and etcd3 are required from node_modules at run
// time (out/ sits inside the repository, so Node finds them).
// Used by scripts/test-vscode.mjs and scripts/test-electron.mjs; runnable on its own.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const outDir = join(root, 'out', 'test', 'vscode');

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      return testFiles(p);
    }
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

export async function buildVscodeTests() {
  const src = join(root, 'test', 'vscode');
  rmSync(outDir, { recursive: true, force: true });
  const entryPoints = [join(src, 'index.ts'), ...testFiles(src)];
  await esbuild.build({
    entryPoints,
    outbase: src,
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    sourcemap: 'inline',
    logLevel: 'warning',
    external: ['vscode', 'mocha', 'etcd3'],
  });
  return { outDir, entryPoints };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { entryPoints } = await buildVscodeTests();
  console.log(`esbuild: ${entryPoints.length} files -> ${outDir}`);
}
