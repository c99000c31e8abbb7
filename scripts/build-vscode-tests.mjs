// Bundles the extension-host test entry and suites with esbuild:
//   test/vscode/index.ts          -> <out>/index.js
//   test/vscode/<dir>/*.test.ts   -> <out>/<dir>/*.test.js
// <out> is out/test/vscode by default; the drivers build into a folder of their own run
// (out/test/runs/<mode>-<pid>) so that runs started at the same time do not clobber each other.
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

/**
 * @param out where to write the bundles
 * @param suites optional { dir, as }: bundle the *.test.ts under `dir` (any folder) into
 *   <out>/<as>/ instead of test/vscode's own suites (the driver's --suites option).
 */
export async function buildVscodeTests(out = outDir, suites = undefined) {
  const src = join(root, 'test', 'vscode');
  rmSync(out, { recursive: true, force: true });
  if (suites) {
    const files = testFiles(suites.dir);
    await esbuild.build({ ...options(out), entryPoints: [join(src, 'index.ts')], outbase: src });
    await esbuild.build({ ...options(join(out, suites.as)), entryPoints: files, outbase: suites.dir });
    return { outDir: out, entryPoints: [join(src, 'index.ts'), ...files] };
  }
  const entryPoints = [join(src, 'index.ts'), ...testFiles(src)];
  await esbuild.build({ ...options(out), entryPoints, outbase: src });
  return { outDir: out, entryPoints };
}

function options(out) {
  return {
    outdir: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    sourcemap: 'inline',
    logLevel: 'warning',
    external: ['vscode', 'mocha', 'etcd3'],
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { entryPoints } = await buildVscodeTests();
  console.log(`esbuild: ${entryPoints.length} files -> ${outDir}`);
}
