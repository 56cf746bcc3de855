/**
 * Socket options: typed {@link setSocketOption} / {@link getSocketOption} on a descriptor, from
 * one table ({@link socketOptions}, in `option-table.ts`, re-exported here with the interface
 * name/index lookups of `interface-index.ts`).
 *
 * The table is the single source of truth for which options mediasock can set, on which systems,
 * and what values they take, and the only route to `setsockopt(2)`: one function
 * (`option-rows.ts`) turns an option name and a value into a row `{ level, name, kind, value,
 * option }` (validate, then resolve the numbers, then marshal the value), and that row is what the
 * addon applies, either at once ({@link setSocketOption}) or in order before `bind(2)` when it
 * creates a socket (`preBindRows`, for `msock_udp_socket` / `msock_tcp_socket`). Option names are
 * the C names (`IP_TOS`, `TCP_KEEPINTVL`), so they grep across TypeScript, C and man pages. The
 * numbers behind them come from the addon's `constants`, as the system headers define them, never
 * from this file.
 *
 * Values are validated here, before any system call ({@link InvalidArgumentError}). Getting or
 * setting needs the native addon, because Node exposes neither `setsockopt(2)` nor
 * `getsockopt(2)`; without it, or on a system lacking the option, calls throw
 * {@link NotSupportedError} naming the option and the platform. Interface name/index lookups fall
 * back to `/sys/class/net` on Linux when the addon is not loaded.
 *
 * What this module does not do: it does not know which descriptor belongs to which Node socket
 * (callers pass the fd of a socket they own, and its family and protocol when they want a row of
 * the wrong kind refused before the kernel sees it) and it keeps no state: every call reads or
 * writes the kernel directly.
 *
 * @module
 */

import { InvalidArgumentError, NotSupportedError } from './errors.js';
import { loadNative } from './native/index.js';
import type { NativeBinding, NativeOptionKind } from './native/index.js';
import { MTU_MODES, byteKind, checkTarget, optionRow, resolve, specOf } from './option-rows.js';
import type { SocketOptionTarget } from './option-rows.js';
import type { SocketOptionName, SocketOptionSetValue, SocketOptionValue } from './option-table.js';

export * from './option-table.js';
export { ifIndexToName, ifNameToIndex } from './interface-index.js';
export { socketOptionSupported } from './option-rows.js';
export type { SocketOptionTarget } from './option-rows.js';

const INT32_MAX = 0x7fffffff;

function validateFd(fd: unknown): asserts fd is number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > INT32_MAX) {
    throw new InvalidArgumentError('fd', fd, 'must be a file descriptor: an integer >= 0');
  }
}

/**
 * Sets a socket option on a descriptor with `setsockopt(2)`.
 *
 * `fd` is a socket the caller owns: one made by the addon, or the descriptor of a `net.Socket` /
 * `dgram.Socket`. The value type follows the option (see {@link socketOptions} and
 * `docs/options.md`). With `target`, an option of the wrong kind for the socket (a TCP option on
 * a UDP socket, an IPv6 option on an IPv4 socket) is refused before the system call.
 *
 * Platforms: per option, see {@link SocketOptionSpec.platforms}; needs the native addon.
 *
 * @example
 * ```ts
 * setSocketOption(fd, 'IP_TOS', 0xb8); // DSCP 46 (EF)
 * setSocketOption(fd, 'TCP_KEEPINTVL', 5, { protocol: 'tcp' });
 * ```
 * @throws InvalidArgumentError (`MEDIASOCK_ERR_INVALID_ARG`) for an unknown option, a bad fd, an
 *   out-of-range value or an option of the wrong kind for `target`, before any system call.
 * @throws NotSupportedError (`MEDIASOCK_ERR_NOT_SUPPORTED`) without the addon or on a system
 *   lacking the option.
 * @throws SystemCallError (`EBADF`, `ENOTSOCK`, `ENOPROTOOPT`, `EPERM`, `ENODEV` …) with
 *   `syscall: 'setsockopt'` and `option` set to the option name.
 */
export function setSocketOption<N extends SocketOptionName>(
  fd: number,
  name: N,
  value: SocketOptionSetValue<N>,
  target?: SocketOptionTarget,
): void {
  const spec = specOf(name);
  validateFd(fd);
  checkTarget(spec, target);
  const row = optionRow(name, value);
  const binding = loadNative() as NativeBinding; // optionRow resolved it
  binding.msock_setsockopt(fd, row.level, row.name, row.kind, row.value, row.option);
}

/**
 * Reads a socket option from a descriptor with `getsockopt(2)`. See {@link setSocketOption} for
 * the values; `IP_MULTICAST_IF` reads back as an IPv4 address (`'0.0.0.0'` when set by index);
 * an option `getsockopt` does not know reads its `readAs` row (`SO_RCVBUFFORCE` reads `SO_RCVBUF`).
 *
 * Platforms: per option, see {@link SocketOptionSpec.platforms}; needs the native addon.
 *
 * @throws InvalidArgumentError for an unknown option or a bad fd.
 * @throws NotSupportedError without the addon or on a system lacking the option.
 * @throws SystemCallError with `syscall: 'getsockopt'` and `option` set.
 */
export function getSocketOption<N extends SocketOptionName>(
  fd: number,
  name: N,
): SocketOptionValue<N> {
  const asked = specOf(name);
  validateFd(fd);
  if (asked.readAs !== undefined) resolve(asked);
  const spec = asked.readAs === undefined ? asked : specOf(asked.readAs);
  const { binding, level, name: optname } = resolve(spec);
  let kind: NativeOptionKind;
  switch (spec.type) {
    case 'int':
    case 'interface-v6':
    case 'mtu-discover':
      kind = byteKind(spec) ? 'uchar' : 'int';
      break;
    case 'bool':
      kind = byteKind(spec) ? 'uchar' : 'bool';
      break;
    case 'string':
      kind = 'string';
      break;
    case 'interface-v4':
      kind = 'mreqn';
      break;
  }
  const raw = binding.msock_getsockopt(fd, level, optname, kind, spec.name);
  if (spec.type === 'bool' && typeof raw === 'number') return (raw !== 0) as SocketOptionValue<N>;
  if (spec.type === 'mtu-discover') {
    const entry = MTU_MODES.find(([, c]) => binding.constants[c] === raw);
    if (entry === undefined) {
      throw new NotSupportedError(`${spec.name} value ${String(raw)}`, 'the mode is not known');
    }
    return entry[0] as SocketOptionValue<N>;
  }
  return raw as SocketOptionValue<N>;
}
