/**
 * `SO_REUSEPORT` listening sockets for Node versions that cannot set it (Node < 22.12): the native
 * addon creates the socket, sets `SO_REUSEADDR` + `SO_REUSEPORT` (and `IPV6_V6ONLY`) before
 * `bind(2)`, binds and calls `listen(2)`; the caller hands the fd to `server.listen({ fd })`.
 *
 * What this module does not do: anything on Node >= 22.12, where `listen.ts` uses Node's own
 * `reusePort` option.
 *
 * @module
 */

import { isIP } from 'node:net';

import { NotSupportedError } from '../errors.js';
import { loadNative, nativeStatus } from '../native/index.js';
import { preBindRows, type PreBindOption } from '../option-rows.js';

/** Where and how to listen. */
export interface ReusePortListenSpec {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
}

/**
 * Creates a listening TCP socket with `SO_REUSEPORT` through the addon and returns its fd.
 *
 * @throws NotSupportedError when the addon is not loaded.
 * @throws SystemCallError from `socket`/`setsockopt`/`bind`/`listen`.
 */
export function createReusePortListenFd(spec: ReusePortListenSpec): number {
  const binding = loadNative();
  if (binding === undefined) {
    const status = nativeStatus();
    throw new NotSupportedError(
      'SO_REUSEPORT',
      `Node ${process.version} has no reusePort option (it arrived in 22.12) and the native addon is not loaded`,
      { cause: status.loadError },
    );
  }
  const family = isIP(spec.host) === 6 ? 6 : 4;
  const list: PreBindOption[] = [
    ['SO_REUSEADDR', true],
    ['SO_REUSEPORT', true],
  ];
  if (family === 6) list.push(['IPV6_V6ONLY', spec.ipv6Only]);
  return binding.msock_tcp_socket({
    family,
    address: spec.host,
    port: spec.port,
    options: preBindRows({ family, protocol: 'tcp' }, list),
    listen: true,
    backlog: spec.backlog,
  }).fd;
}
