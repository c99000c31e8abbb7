// The packaged VSIX: built with vsce, its file list read with `zipinfo -1` (Info-ZIP), and the
// checks on what it must and must not carry.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as assert from 'node:assert/strict';
import { printResults } from './results.mjs';

/** Entry names of a zip file (the VSIX). */
export function zipEntries(file) {
  return execFileSync('zipinfo', ['-1', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n').filter(Boolean);
}

/** `vsce package` into `dir` (runs vscode:prepublish); the VSIX's path. */
export function packageVsix(root, dir, log) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const vsix = join(dir, `${pkg.name}-${pkg.version}.vsix`);
  log('packaging the VSIX (vsce package --no-dependencies; runs vscode:prepublish)');
  const r = spawnSync(join(root, 'node_modules', '.bin', 'vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vsce package exited with ${r.status ?? r.signal}`);
  return vsix;
}

function contentChecks(root, names) {
  return [
    ['carries dist/proto/rpc.proto where the bundled etcd3 loads it', () => assert.ok(names.includes('extension/dist/proto/rpc.proto'), names.join('\n'))],
    ['carries the hardware CRC-32C binding where the snapshot reader looks for it (dist/native/)', () => {
      const built = readdirSync(join(root, 'dist', 'native')).filter((n) => n.endsWith('.node'));
      assert.ok(built.length > 0, 'npm run build copied no @node-rs/crc32 binding into dist/native');
      for (const f of built) assert.ok(names.includes(`extension/dist/native/${f}`), `extension/dist/native/${f} missing`);
    }],
    ['carries dist/extension.js and dist/cli.js', () => {
      assert.ok(names.includes('extension/dist/extension.js'));
      assert.ok(names.includes('extension/dist/cli.js'));
      for (const v of ['etcd', 's3', 'yaml']) assert.ok(names.includes(`extension/dist/vendor/${v}.js`), `extension/dist/vendor/${v}.js missing`);
    }],
    ['carries package.json, README.md, LICENSE and the icon', () => {
      // vsce stores LICENSE as extension/LICENSE.txt.
      for (const f of ['package.json', 'readme.md', 'license(\\.txt)?', 'media/etcd\\.svg']) {
        assert.ok(names.some((n) => new RegExp(`^extension/${f}$`, 'i').test(n)), `extension/${f} missing from: ${names.join(', ')}`);
      }
    }],
    ['carries the walkthrough\'s markdown; not the README screenshots', () => {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
      for (const s of pkg.contributes.walkthroughs.flatMap((w) => w.steps)) {
        assert.ok(names.includes(`extension/${s.media.markdown}`), `extension/${s.media.markdown} missing`);
      }
      assert.deepStrictEqual(names.filter((n) => n.startsWith('extension/media/screenshots/')), []);
    }],
    ['ships no sources, tests, node_modules or source maps (allow-list .vscodeignore)', () => {
      const unwanted = names.filter((n) => /^extension\/(src|test|out|node_modules|scripts|\.vscode-test|test-results)\//.test(n) || n.endsWith('.map') || n.endsWith('.ts'));
      assert.deepStrictEqual(unwanted, []);
    }],
  ];
}

/** Check the VSIX's file list; each check is a result. */
export function checkVsixContents(root, vsix, results) {
  const t0 = Date.now();
  const names = zipEntries(vsix);
  const tests = contentChecks(root, names).map(([title, fn]) => {
    try {
      fn();
      return results.record('vsix contents', ['VSIX contents', title], 'passed', 0);
    } catch (err) {
      return results.record('vsix contents', ['VSIX contents', title], 'failed', Date.now() - t0, err.message);
    }
  });
  printResults(`VSIX ${basename(vsix)} (${names.length} files)`, tests);
}
