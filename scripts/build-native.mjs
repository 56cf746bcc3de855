#!/usr/bin/env node
/**
 * Builds the optional native addon (binding.gyp -> build/Release/mediasock.node) with the node-gyp
 * bundled with npm. Wired as `npm run build:native` and as the package's `install` script.
 *
 * The library works without the addon, so a failed build prints a warning saying what is lost and
 * exits 0. Headers are taken locally (`npm_config_nodedir`, else `<prefix>/include/node` next to
 * the running node): this script never makes node-gyp download anything.
 *
 * Environment: MEDIASOCK_NO_NATIVE=1 skips the build; MEDIASOCK_NATIVE_STRICT=1 makes a failed
 * build exit non-zero (CI and scripts/sanitize-native.sh use it). Extra arguments are passed to
 * node-gyp (for example `--debug`).
 */
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** npm's own node-gyp: the one npm passes in, else the one inside the npm next to this node. */
function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(prefix, 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((c) => existsSync(c));
}

/** Local Node headers, so node-gyp never downloads them. */
function findNodeDir() {
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm && existsSync(join(fromNpm, 'include/node/node_api.h'))) return fromNpm;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include/node/node_api.h'))) return prefix;
  if (existsSync('/usr/include/node/node_api.h')) return '/usr';
  return undefined;
}

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) warn('node-gyp (bundled with npm) was not found');
const nodedir = findNodeDir();
if (nodedir === undefined) {
  warn('no local Node headers (include/node/node_api.h); refusing to let node-gyp download them');
}

const args = [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, ...process.argv.slice(2)];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: process.env });
if (result.error) warn(`could not run node-gyp: ${result.error.message}`);
if (result.status !== 0) {
  warn(`node-gyp rebuild failed (${result.signal ?? `exit ${result.status}`})`);
}
process.stderr.write(
  `mediasock: native addon built: ${join(root, 'build/Release/mediasock.node')}\n`,
);
