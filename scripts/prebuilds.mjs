#!/usr/bin/env node
/**
 * `npm run prebuilds`: builds the native addon for shipping, with prebuildify (N-API, stripped,
 * tagged with the C library), into prebuilds/<platform>-<arch>/mediasock.<libc>.node. node-gyp-build
 * loads it when build/Release has no addon (an install with --ignore-scripts, or an install script
 * that found the prebuild usable: scripts/build-native.mjs --prefer-prebuild).
 *
 * Built against the running node's own headers (N-API 8, so one binary serves every Node from 20
 * on) with npm's node-gyp: nothing is downloaded. prebuildify moves build/Release/mediasock.node
 * into prebuilds/; a copy is put back so the checkout keeps loading its local build.
 *
 * Only the host's C library is built: a musl binary needs a musl toolchain with Linux headers and a
 * musl node to test it on, which this script does not fetch. On musl (Alpine) node-gyp-build skips
 * the glibc-tagged binary and the install script builds from source.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { findNodeDir, findNodeGyp } from './native-toolchain.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function fail(message) {
  process.stderr.write(`prebuilds: ${message}\n`);
  process.exit(1);
}

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) fail('node-gyp (bundled with npm) was not found');
const nodedir = findNodeDir();
if (nodedir === undefined) fail('no local Node headers (include/node/node_api.h)');
const libc = process.report.getReport().header.glibcVersionRuntime === undefined ? 'musl' : 'glibc';

const prebuildify = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
const args = [
  prebuildify,
  '--napi',
  '--strip',
  '--tag-libc',
  `--target=node@${process.versions.node}`,
  ...process.argv.slice(2),
];
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  // node-gyp takes npm_config_nodedir as --nodedir: the local headers, never a download.
  env: {
    ...process.env,
    npm_config_nodedir: nodedir,
    PREBUILD_NODE_GYP: nodeGyp,
    PREBUILD_LIBC: libc,
  },
});
if (result.error) fail(`could not run prebuildify: ${result.error.message}`);
if (result.status !== 0) fail(`prebuildify failed (${result.signal ?? `exit ${result.status}`})`);

const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const file = `mediasock.${libc}.node`;
if (!existsSync(join(dir, file))) fail(`prebuildify produced no ${join(dir, file)}`);
const local = join(root, 'build', 'Release', 'mediasock.node');
if (!existsSync(local)) {
  mkdirSync(dirname(local), { recursive: true });
  copyFileSync(join(dir, file), local);
}
process.stdout.write(
  `prebuilds: ${readdirSync(dir)
    .map((f) => join(dir, f))
    .join(', ')}\n`,
);
if (libc === 'glibc') {
  process.stdout.write(
    'prebuilds: musl not built (no musl toolchain here); on Alpine the install script builds from source\n',
  );
}
