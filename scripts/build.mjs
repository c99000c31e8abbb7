// Bundles the extension and the CLI with esbuild.
// etcd3 loads `${__dirname}/../proto/rpc.proto` at run time; in a bundle __dirname is dist/,
// so the plugin below points it at dist/proto and the protos are copied there.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const etcd3ProtoDir = join(dirname(require.resolve('etcd3/package.json')), 'proto');

/** Rewrite etcd3's proto path so the bundled code finds dist/proto/rpc.proto. */
const etcd3Protos = {
  name: 'etcd3-protos',
  setup(build) {
    build.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const needle = '`${__dirname}/../proto/rpc.proto`';
      if (!src.includes(needle)) {
        throw new Error(`etcd3's connection-pool.js no longer loads ${needle}; update scripts/build.mjs`);
      }
      return { contents: src.replace(needle, '`${__dirname}/proto/rpc.proto`'), loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  // Loaded at run time from node_modules when dist/native/ has no binding for the platform.
  external: ['@node-rs/crc32'],
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  plugins: [etcd3Protos],
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(join(root, 'dist', 'proto'), { recursive: true });
cpSync(etcd3ProtoDir, join(root, 'dist', 'proto'), { recursive: true });

// The hardware CRC-32C of the optional dependency @node-rs/crc32 (the snapshot reader's hash):
// each platform binding npm installed goes to dist/native/, where src/core/snapshot/crc32c.ts
// looks first. Without one the reader hashes in plain JavaScript, with the same results.
mkdirSync(join(root, 'dist', 'native'), { recursive: true });
const nodeRs = join(root, 'node_modules', '@node-rs');
for (const pkg of existsSync(nodeRs) ? readdirSync(nodeRs).filter((d) => d.startsWith('crc32-')) : []) {
  for (const f of readdirSync(join(nodeRs, pkg)).filter((n) => n.endsWith('.node'))) cpSync(join(nodeRs, pkg, f), join(root, 'dist', 'native', f));
}

// The extension host parses all of dist/extension.js at activation, even the code only reached by a
// lazy import(). The big packages (etcd3 with grpc and protobufjs, the AWS SDK, yaml) are therefore
// bundled apart, in dist/vendor/*.js, and required from there on first use: activation parses the
// extension's own code only. Packages that must share one instance (grpc-js credentials, cockatiel
// policies passed to etcd3) live in one vendor file.
const vendors = {
  etcd: { etcd3: 'etcd3', '@grpc/grpc-js': 'grpc', cockatiel: 'cockatiel' },
  s3: { '@aws-sdk/client-s3': 's3', '@aws-sdk/lib-storage': 'storage', '@smithy/node-http-handler': 'http' },
  yaml: { yaml: 'yaml' },
};
const vendorOf = new Map(Object.entries(vendors).flatMap(([file, pkgs]) => Object.entries(pkgs).map(([pkg, key]) => [pkg, { file, key }])));
const vendorSplit = {
  name: 'vendor-split',
  setup(build) {
    const filter = new RegExp(`^(${[...vendorOf.keys()].map((k) => k.replace(/[/.]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'vendor' }));
    build.onResolve({ filter: /^\.\/vendor\// }, (args) => ({ path: args.path, external: true }));
    build.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => {
      const v = vendorOf.get(args.path);
      return { contents: `module.exports = require('./vendor/${v.file}.js')[${JSON.stringify(v.key)}];`, loader: 'js' };
    });
  },
};
const vendorBuilds = Object.entries(vendors).map(([file, pkgs]) => ({
  ...common,
  // etcd3 finds `${__dirname}/../proto/rpc.proto` from dist/vendor/ as it is: no rewrite.
  plugins: [],
  stdin: {
    contents: `module.exports = {${Object.entries(pkgs).map(([pkg, key]) => `${JSON.stringify(key)}: require(${JSON.stringify(pkg)})`).join(', ')}};`,
    resolveDir: root,
    sourcefile: `vendor-${file}.js`,
  },
  outfile: join(root, 'dist', 'vendor', `${file}.js`),
}));

const builds = [
  {
    ...common,
    entryPoints: [join(root, 'src/extension.ts')],
    outfile: join(root, 'dist/extension.js'),
    external: ['vscode', '@node-rs/crc32'],
    plugins: [vendorSplit],
  },
  ...vendorBuilds,
  { ...common, entryPoints: [join(root, 'src/cli.ts')], outfile: join(root, 'dist/cli.js'), banner: { js: '#!/usr/bin/env node' } },
];

if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
  console.log('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  console.log(`esbuild: dist/extension.js, dist/vendor/, dist/cli.js, dist/proto/, dist/native/ (${readdirSync(join(root, 'dist', 'native')).join(', ') || 'no CRC-32C binding'})`);
}
