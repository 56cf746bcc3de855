#!/usr/bin/env node
/**
 * Builds the optional native addon (binding.gyp -> build/Release/mediasock.node) with the node-gyp
 * bundled with npm. Wired as `npm run build:native` and as the package's `install` script.
 *
 * The library works without the addon, so a failed build prints a warning saying what is lost and
 * exits 0. Headers are taken locally (`npm_config_nodedir`, else `<prefix>/include/node` next to
 * the running node): this script never makes node-gyp download anything.
 *
 * With `--prefer-prebuild` (the install script) in an installed package, nothing is built when a
 * prebuilt binary shipped in `prebuilds/` (`npm run prebuilds`) matches this platform and loads in
 * this node: node-gyp-build picks it at run time. Any other case (no prebuild for the platform or
 * libc, a glibc too old for it, a load error) builds from source. A git checkout (a `.git` at the
 * package root) always builds, so edited C sources are never shadowed by an older prebuild there.
 * `npm run build:native` always builds.
 *
 * Environment: MEDIASOCK_NO_NATIVE=1 skips the build; MEDIASOCK_NATIVE_STRICT=1 makes a failed
 * build exit non-zero (CI and scripts/sanitize-native.sh use it). Other arguments are passed to
 * node-gyp (for example `--debug`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeDir, findNodeGyp } from './native-toolchain.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.env.MEDIASOCK_NATIVE_STRICT === '1';

function warn(message) {
  process.stderr.write(
    `mediasock: ${message}\n` +
      'mediasock: the native addon is not built; the library still works on node:dgram/node:net,\n' +
      'mediasock: and options Node cannot set (IP_MULTICAST_ALL, IP_TOS on UDP, pktinfo, ...)\n' +
      'mediasock: throw NotSupportedError. See docs/options.md.\n',
  );
  process.exit(strict ? 1 : 0);
}

if (process.env.MEDIASOCK_NO_NATIVE === '1') {
  process.stderr.write('mediasock: MEDIASOCK_NO_NATIVE=1, not building the native addon\n');
  process.exit(0);
}
if (process.platform === 'win32') warn('the native addon is POSIX only');

const preferPrebuild = process.argv.includes('--prefer-prebuild');
const gypArgs = process.argv.slice(2).filter((a) => a !== '--prefer-prebuild');

/** The prebuilt binary node-gyp-build would pick from prebuilds/, if it exists and loads here. */
function usablePrebuild() {
  // node-gyp-build reads PREBUILDS_ONLY when it is loaded: look at prebuilds/ only, not build/.
  const before = process.env.PREBUILDS_ONLY;
  process.env.PREBUILDS_ONLY = '1';
  const require = createRequire(import.meta.url);
  let path;
  try {
    path = require('node-gyp-build').resolve(root);
  } catch (err) {
    return { reason: String(err?.message ?? err).split('\n')[0] };
  } finally {
    if (before === undefined) delete process.env.PREBUILDS_ONLY;
    else process.env.PREBUILDS_ONLY = before;
  }
  try {
    require(path);
  } catch (err) {
    return { reason: `${path} does not load: ${String(err?.message ?? err).split('\n')[0]}` };
  }
  return { path };
}

if (preferPrebuild && !existsSync(join(root, '.git'))) {
  const prebuild = usablePrebuild();
  if (prebuild.path !== undefined) {
    process.stderr.write(`mediasock: using the prebuilt native addon ${prebuild.path}\n`);
    process.exit(0);
  }
  process.stderr.write(`mediasock: no usable prebuilt addon (${prebuild.reason}); building it\n`);
}

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) warn('node-gyp (bundled with npm) was not found');
const nodedir = findNodeDir();
if (nodedir === undefined) {
  warn('no local Node headers (include/node/node_api.h); refusing to let node-gyp download them');
}

const args = [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, ...gypArgs];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: process.env });
if (result.error) warn(`could not run node-gyp: ${result.error.message}`);
if (result.status !== 0) {
  warn(`node-gyp rebuild failed (${result.signal ?? `exit ${result.status}`})`);
}
process.stderr.write(
  `mediasock: native addon built: ${join(root, 'build/Release/mediasock.node')}\n`,
);
