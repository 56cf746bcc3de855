/**
 * Where the local tools for building the native addon are: npm's own node-gyp and the Node headers
 * already on this machine. Shared by scripts/build-native.mjs (the install script) and
 * scripts/prebuilds.mjs, so that neither ever lets node-gyp download headers.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';

/** npm's own node-gyp: the one npm passes in, else the one inside the npm next to this node. */
export function findNodeGyp() {
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

/** A directory whose include/node/node_api.h belongs to the running node, so nothing is fetched. */
export function findNodeDir() {
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm && existsSync(join(fromNpm, 'include/node/node_api.h'))) return fromNpm;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include/node/node_api.h'))) return prefix;
  if (existsSync('/usr/include/node/node_api.h')) return '/usr';
  return undefined;
}
