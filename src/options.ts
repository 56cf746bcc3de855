/**
 * Socket options: one table from option name to level, C name, value type, address family,
 * platforms and unit, and typed {@link setSocketOption} / {@link getSocketOption} on a descriptor.
 *
 * The table ({@link socketOptions}) is the single source of truth for which options mediasock can
 * set, on which systems, and what values they take; `docs/options.md` documents the same rows.
 * Option names are the C names (`IP_TOS`, `TCP_KEEPINTVL`), so they grep across TypeScript, C and
 * man pages. The numbers behind them come from the addon's `constants`, as the system headers
 * define them, never from this file.
 *
 * Values are validated here, before any system call ({@link InvalidArgumentError}). Getting or
 * setting needs the native addon, because Node exposes neither `setsockopt(2)` nor
 * `getsockopt(2)`; without it, or on a system lacking the option, calls throw
 * {@link NotSupportedError} naming the option and the platform. Interface name/index lookups fall
 * back to `/sys/class/net` on Linux when the addon is not loaded.
 *
 * What this module does not do: it does not know which descriptor belongs to which Node socket
 * (callers pass the fd of a socket they own) and it keeps no state: every call reads or writes the
 * kernel directly.
 *
 * @module
 */

import { isIPv4 } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { InvalidArgumentError, NotSupportedError, SystemCallError } from './errors.js';
import { loadNative, nativeStatus } from './native/index.js';
import type { NativeBinding, NativeOptionKind } from './native/index.js';

/** The option's protocol level, by the C name of the level constant. */
export type SocketOptionLevel = 'SOL_SOCKET' | 'IPPROTO_IP' | 'IPPROTO_IPV6' | 'IPPROTO_TCP';

/** Which sockets an option applies to: any socket, IPv4, IPv6, or TCP. */
export type SocketOptionFamily = 'socket' | 'ip' | 'ipv6' | 'tcp';

/**
 * How a value is represented:
 * - `int`: an integer inside `range`;
 * - `bool`: `true` / `false` (an int 0/1 in C);
 * - `string`: an interface name (`SO_BINDTODEVICE`), `''` to unbind;
 * - `mtu-discover`: one of {@link MtuDiscoverMode};
 * - `interface-v4`: set by interface index (number), interface name or IPv4 address (string);
 *   read back as the IPv4 address, because the kernel keeps no index it can report;
 * - `interface-v6`: set by interface index or name; read back as the index.
 */
export type SocketOptionType =
  'int' | 'bool' | 'string' | 'mtu-discover' | 'interface-v4' | 'interface-v6';

/**
 * `IP_MTU_DISCOVER` modes (`ip(7)`): `dont` never sets DF; `want` sets DF and fragments locally
 * when the path MTU is exceeded; `do` always sets DF and fails sends above the path MTU with
 * `EMSGSIZE`; `probe` sets DF and ignores the path MTU. `interface` and `omit` are read back when
 * something else set them.
 */
export type MtuDiscoverMode = 'dont' | 'want' | 'do' | 'probe' | 'interface' | 'omit';

/** One row of the option table. */
export interface SocketOptionSpec {
  /** The C name of the option, also its key in the table. */
  readonly name: string;
  /** The protocol level, by the C name of its constant. */
  readonly level: SocketOptionLevel;
  /** The value representation, see {@link SocketOptionType}. */
  readonly type: SocketOptionType;
  /** Which sockets it applies to. */
  readonly family: SocketOptionFamily;
  /** Operating systems (`process.platform` values) where it exists. */
  readonly platforms: readonly NodeJS.Platform[];
  /** Inclusive bounds of an `int` value. */
  readonly range?: readonly [min: number, max: number];
  /** Unit of a numeric value. */
  readonly unit?: 'bytes' | 'seconds' | 'milliseconds' | 'hops' | 'priority' | 'tos';
  /** BSD-derived stacks store this option in one byte (`u_char`); Linux takes an int. */
  readonly byteSized?: boolean;
  /** One line on what it does. */
  readonly doc: string;
}

const POSIX: readonly NodeJS.Platform[] = [
  'linux',
  'android',
  'darwin',
  'freebsd',
  'openbsd',
  'netbsd',
];
const LINUX: readonly NodeJS.Platform[] = ['linux', 'android'];
const LINUX_MAC_BSD: readonly NodeJS.Platform[] = ['linux', 'android', 'darwin', 'freebsd'];
const INT32_MAX = 0x7fffffff;

/**
 * The option table. Read-only; see `docs/options.md` for the same rows with longer notes.
 */
export const socketOptions = Object.freeze({
  IP_TOS: {
    name: 'IP_TOS',
    level: 'IPPROTO_IP',
    type: 'int',
    family: 'ip',
    platforms: POSIX,
    range: [0, 255],
    unit: 'tos',
    doc: 'TOS byte of outgoing IPv4 packets: DSCP << 2 | ECN (DSCP 46 EF = 0xb8).',
  },
  IPV6_TCLASS: {
    name: 'IPV6_TCLASS',
    level: 'IPPROTO_IPV6',
    type: 'int',
    family: 'ipv6',
    platforms: POSIX,
    range: [-1, 255],
    unit: 'tos',
    doc: 'Traffic class of outgoing IPv6 packets (DSCP << 2 | ECN); -1 restores the default.',
  },
  IP_TTL: {
    name: 'IP_TTL',
    level: 'IPPROTO_IP',
    type: 'int',
    family: 'ip',
    platforms: POSIX,
    range: [1, 255],
    unit: 'hops',
    doc: 'Time to live of outgoing unicast IPv4 packets.',
  },
  IPV6_UNICAST_HOPS: {
    name: 'IPV6_UNICAST_HOPS',
    level: 'IPPROTO_IPV6',
    type: 'int',
    family: 'ipv6',
    platforms: POSIX,
    range: [-1, 255],
    unit: 'hops',
    doc: 'Hop limit of outgoing unicast IPv6 packets; -1 restores the route default.',
  },
  IP_MULTICAST_TTL: {
    name: 'IP_MULTICAST_TTL',
    level: 'IPPROTO_IP',
    type: 'int',
    family: 'ip',
    platforms: POSIX,
    range: [0, 255],
    unit: 'hops',
    byteSized: true,
    doc: 'Time to live of outgoing multicast IPv4 packets (default 1: the local link only).',
  },
  IPV6_MULTICAST_HOPS: {
    name: 'IPV6_MULTICAST_HOPS',
    level: 'IPPROTO_IPV6',
    type: 'int',
    family: 'ipv6',
    platforms: POSIX,
    range: [-1, 255],
    unit: 'hops',
    doc: 'Hop limit of outgoing multicast IPv6 packets; -1 restores the default (1).',
  },
  IP_MULTICAST_IF: {
    name: 'IP_MULTICAST_IF',
    level: 'IPPROTO_IP',
    type: 'interface-v4',
    family: 'ip',
    platforms: POSIX,
    doc: 'Egress interface of multicast IPv4 packets, by index (Linux, struct ip_mreqn), name or address.',
  },
  IPV6_MULTICAST_IF: {
    name: 'IPV6_MULTICAST_IF',
    level: 'IPPROTO_IPV6',
    type: 'interface-v6',
    family: 'ipv6',
    platforms: POSIX,
    doc: 'Egress interface of multicast IPv6 packets, by index or name; 0 lets the route decide.',
  },
  IP_MULTICAST_LOOP: {
    name: 'IP_MULTICAST_LOOP',
    level: 'IPPROTO_IP',
    type: 'bool',
    family: 'ip',
    platforms: POSIX,
    byteSized: true,
    doc: 'Whether multicast IPv4 packets sent are looped back to local receivers (default on).',
  },
  IPV6_MULTICAST_LOOP: {
    name: 'IPV6_MULTICAST_LOOP',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: POSIX,
    doc: 'Whether multicast IPv6 packets sent are looped back to local receivers (default on).',
  },
  IP_MULTICAST_ALL: {
    name: 'IP_MULTICAST_ALL',
    level: 'IPPROTO_IP',
    type: 'bool',
    family: 'ip',
    platforms: LINUX,
    doc: 'Off: the socket receives only the IPv4 groups it joined itself (Linux default on: every group joined by any socket on the host).',
  },
  IPV6_MULTICAST_ALL: {
    name: 'IPV6_MULTICAST_ALL',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: LINUX,
    doc: 'IPv6 twin of IP_MULTICAST_ALL (Linux >= 4.20).',
  },
  IP_MTU_DISCOVER: {
    name: 'IP_MTU_DISCOVER',
    level: 'IPPROTO_IP',
    type: 'mtu-discover',
    family: 'ip',
    platforms: LINUX,
    doc: "Path MTU discovery and the DF bit for IPv4: 'dont' | 'want' | 'do' | 'probe'.",
  },
  IPV6_DONTFRAG: {
    name: 'IPV6_DONTFRAG',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: POSIX,
    doc: 'Do not fragment outgoing IPv6 packets locally; larger sends fail with EMSGSIZE.',
  },
  SO_PRIORITY: {
    name: 'SO_PRIORITY',
    level: 'SOL_SOCKET',
    type: 'int',
    family: 'socket',
    platforms: LINUX,
    range: [0, INT32_MAX],
    unit: 'priority',
    doc: 'Queueing priority of outgoing packets (0..6 unprivileged; more needs CAP_NET_ADMIN).',
  },
  SO_RCVBUF: {
    name: 'SO_RCVBUF',
    level: 'SOL_SOCKET',
    type: 'int',
    family: 'socket',
    platforms: POSIX,
    range: [0, INT32_MAX],
    unit: 'bytes',
    doc: 'Receive buffer size; Linux clamps to net.core.rmem_max and reports twice the effective request.',
  },
  SO_SNDBUF: {
    name: 'SO_SNDBUF',
    level: 'SOL_SOCKET',
    type: 'int',
    family: 'socket',
    platforms: POSIX,
    range: [0, INT32_MAX],
    unit: 'bytes',
    doc: 'Send buffer size; Linux clamps to net.core.wmem_max and reports twice the effective request.',
  },
  SO_REUSEADDR: {
    name: 'SO_REUSEADDR',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: POSIX,
    doc: 'Allow binding an address in use (UDP: share a port; TCP: rebind over TIME_WAIT). Effective before bind.',
  },
  SO_REUSEPORT: {
    name: 'SO_REUSEPORT',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: LINUX_MAC_BSD,
    doc: 'Let several sockets bind the same address and port (Linux: load-balanced). Effective before bind.',
  },
  SO_BROADCAST: {
    name: 'SO_BROADCAST',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: POSIX,
    doc: 'Allow sending to broadcast addresses.',
  },
  SO_BINDTODEVICE: {
    name: 'SO_BINDTODEVICE',
    level: 'SOL_SOCKET',
    type: 'string',
    family: 'socket',
    platforms: LINUX,
    doc: "Restrict the socket to one interface, by name ('' unbinds).",
  },
  SO_KEEPALIVE: {
    name: 'SO_KEEPALIVE',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: POSIX,
    doc: 'Send TCP keepalive probes on an idle connection.',
  },
  TCP_KEEPIDLE: {
    name: 'TCP_KEEPIDLE',
    level: 'IPPROTO_TCP',
    type: 'int',
    family: 'tcp',
    platforms: LINUX_MAC_BSD,
    range: [1, 32767],
    unit: 'seconds',
    doc: 'Idle time before the first keepalive probe (macOS: TCP_KEEPALIVE).',
  },
  TCP_KEEPINTVL: {
    name: 'TCP_KEEPINTVL',
    level: 'IPPROTO_TCP',
    type: 'int',
    family: 'tcp',
    platforms: LINUX_MAC_BSD,
    range: [1, 32767],
    unit: 'seconds',
    doc: 'Time between keepalive probes.',
  },
  TCP_KEEPCNT: {
    name: 'TCP_KEEPCNT',
    level: 'IPPROTO_TCP',
    type: 'int',
    family: 'tcp',
    platforms: LINUX_MAC_BSD,
    range: [1, 127],
    doc: 'Unanswered keepalive probes before the connection is dropped.',
  },
  TCP_USER_TIMEOUT: {
    name: 'TCP_USER_TIMEOUT',
    level: 'IPPROTO_TCP',
    type: 'int',
    family: 'tcp',
    platforms: LINUX,
    range: [0, INT32_MAX],
    unit: 'milliseconds',
    doc: 'How long sent data may stay unacknowledged before the connection is dropped; 0 = system default (RFC 5482).',
  },
  TCP_NODELAY: {
    name: 'TCP_NODELAY',
    level: 'IPPROTO_TCP',
    type: 'bool',
    family: 'tcp',
    platforms: POSIX,
    doc: "Disable Nagle's algorithm: send small segments at once.",
  },
} as const satisfies Record<string, SocketOptionSpec>);

/** Every option name in {@link socketOptions}. */
export type SocketOptionName = keyof typeof socketOptions;

/** The value type {@link setSocketOption} accepts, by the option's value type in {@link socketOptions}. */
export interface SetValueByType {
  int: number;
  bool: boolean;
  string: string;
  'mtu-discover': MtuDiscoverMode;
  'interface-v4': number | string;
  'interface-v6': number | string;
}

/** The value type {@link getSocketOption} returns, by the option's value type in {@link socketOptions}. */
export interface GetValueByType {
  int: number;
  bool: boolean;
  string: string;
  'mtu-discover': MtuDiscoverMode;
  'interface-v4': string;
  'interface-v6': number;
}

/** The value {@link setSocketOption} accepts for option `N`. */
export type SocketOptionSetValue<N extends SocketOptionName> =
  SetValueByType[(typeof socketOptions)[N]['type']];

/** The value {@link getSocketOption} returns for option `N`. */
export type SocketOptionValue<N extends SocketOptionName> =
  GetValueByType[(typeof socketOptions)[N]['type']];

const MTU_MODES: ReadonlyArray<readonly [MtuDiscoverMode, string]> = [
  ['dont', 'IP_PMTUDISC_DONT'],
  ['want', 'IP_PMTUDISC_WANT'],
  ['do', 'IP_PMTUDISC_DO'],
  ['probe', 'IP_PMTUDISC_PROBE'],
  ['interface', 'IP_PMTUDISC_INTERFACE'],
  ['omit', 'IP_PMTUDISC_OMIT'],
];

const IFNAMSIZ = 16;

function specOf(name: unknown): SocketOptionSpec {
  if (typeof name !== 'string' || !Object.hasOwn(socketOptions, name)) {
    throw new InvalidArgumentError(
      'name',
      name,
      `must be one of ${Object.keys(socketOptions).join(', ')}`,
    );
  }
  return socketOptions[name as SocketOptionName];
}

function validateFd(fd: unknown): asserts fd is number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > INT32_MAX) {
    throw new InvalidArgumentError('fd', fd, 'must be a file descriptor: an integer >= 0');
  }
}

function validateInterfaceName(argument: string, value: unknown): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    Buffer.byteLength(value) >= IFNAMSIZ ||
    /[\0/\s]/.test(value) ||
    value === '.' ||
    value === '..'
  ) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be an interface name of 1..${IFNAMSIZ - 1} bytes without '/', whitespace or NUL`,
    );
  }
}

function validateIfIndex(argument: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > INT32_MAX) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be an interface index: an integer in ${min}..${INT32_MAX}`,
    );
  }
}

/** The binding and the option's level/name numbers, or NotSupportedError saying why not. */
function resolve(spec: SocketOptionSpec): { binding: NativeBinding; level: number; name: number } {
  if (!spec.platforms.includes(process.platform)) {
    throw new NotSupportedError(spec.name, `it exists only on ${spec.platforms.join(', ')}`);
  }
  const binding = loadNative();
  if (binding === undefined) {
    const { loadError } = nativeStatus();
    throw new NotSupportedError(
      spec.name,
      `setting and reading socket options needs the native addon, which is not loaded (${loadError?.message ?? 'unknown reason'})`,
      { cause: loadError },
    );
  }
  const level = binding.constants[spec.level];
  const name = binding.constants[spec.name];
  if (level === undefined || name === undefined) {
    throw new NotSupportedError(spec.name, 'the system headers the addon was built with lack it');
  }
  return { binding, level, name };
}

function byteKind(spec: SocketOptionSpec): boolean {
  return spec.byteSized === true && process.platform !== 'linux' && process.platform !== 'android';
}

/**
 * Sets a socket option on a descriptor with `setsockopt(2)`.
 *
 * `fd` is a socket the caller owns: one made by the addon, or the descriptor of a `net.Socket` /
 * `dgram.Socket`. The value type follows the option (see {@link socketOptions} and
 * `docs/options.md`).
 *
 * Platforms: per option, see {@link SocketOptionSpec.platforms}; needs the native addon.
 *
 * @example
 * ```ts
 * setSocketOption(fd, 'IP_TOS', 0xb8); // DSCP 46 (EF)
 * setSocketOption(fd, 'TCP_KEEPINTVL', 5);
 * ```
 * @throws InvalidArgumentError (`MEDIASOCK_ERR_INVALID_ARG`) for an unknown option, a bad fd or
 *   an out-of-range value, before any system call.
 * @throws NotSupportedError (`MEDIASOCK_ERR_NOT_SUPPORTED`) without the addon or on a system
 *   lacking the option.
 * @throws SystemCallError (`EBADF`, `ENOTSOCK`, `ENOPROTOOPT`, `EPERM`, `ENODEV` …) with
 *   `syscall: 'setsockopt'` and `option` set to the option name.
 */
export function setSocketOption<N extends SocketOptionName>(
  fd: number,
  name: N,
  value: SocketOptionSetValue<N>,
): void {
  const spec = specOf(name);
  validateFd(fd);
  const v: unknown = value;
  let kind: NativeOptionKind;
  let prepared: (() => number | boolean | string | { ifindex?: number; address?: string }) | number;
  switch (spec.type) {
    case 'int': {
      const [min, max] = spec.range ?? [-INT32_MAX - 1, INT32_MAX];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new InvalidArgumentError(spec.name, v, `must be an integer in ${min}..${max}`);
      }
      kind = byteKind(spec) ? 'uchar' : 'int';
      prepared = v;
      break;
    }
    case 'bool': {
      if (typeof v !== 'boolean') throw new InvalidArgumentError(spec.name, v, 'must be a boolean');
      kind = byteKind(spec) ? 'uchar' : 'bool';
      prepared = () => (kind === 'uchar' ? (v ? 1 : 0) : v);
      break;
    }
    case 'string': {
      if (v !== '') validateInterfaceName(spec.name, v);
      kind = 'string';
      prepared = () => v;
      break;
    }
    case 'mtu-discover': {
      const entry = MTU_MODES.find(([mode]) => mode === v);
      if (entry === undefined) {
        throw new InvalidArgumentError(
          spec.name,
          v,
          `must be one of ${MTU_MODES.map(([m]) => `'${m}'`).join(', ')}`,
        );
      }
      kind = 'int';
      prepared = () => {
        const n = loadNative()?.constants[entry[1]];
        if (n === undefined)
          throw new NotSupportedError(`${spec.name} '${entry[0]}'`, `${entry[1]} is not defined`);
        return n;
      };
      break;
    }
    case 'interface-v4': {
      if (typeof v === 'number') {
        validateIfIndex(spec.name, v, 0);
        if (process.platform !== 'linux' && process.platform !== 'android' && v !== 0) {
          throw new NotSupportedError(
            `${spec.name} by interface index`,
            'only Linux takes an index (struct ip_mreqn); pass the interface address',
          );
        }
        prepared = () => ({ ifindex: v });
      } else if (typeof v === 'string' && isIPv4(v)) {
        prepared = () => ({ address: v });
      } else if (typeof v === 'string') {
        validateInterfaceName(spec.name, v);
        prepared = () => ({ ifindex: ifNameToIndex(v) });
      } else {
        throw new InvalidArgumentError(
          spec.name,
          v,
          'must be an interface index, an interface name or an IPv4 address',
        );
      }
      kind = 'mreqn';
      break;
    }
    case 'interface-v6': {
      if (typeof v === 'number') {
        validateIfIndex(spec.name, v, 0);
        prepared = v;
      } else if (typeof v === 'string') {
        validateInterfaceName(spec.name, v);
        prepared = () => ifNameToIndex(v);
      } else {
        throw new InvalidArgumentError(spec.name, v, 'must be an interface index or name');
      }
      kind = 'int';
      break;
    }
  }
  const { binding, level, name: optname } = resolve(spec);
  const raw = typeof prepared === 'function' ? prepared() : prepared;
  binding.msock_setsockopt(fd, level, optname, kind, raw, spec.name);
}

/**
 * Reads a socket option from a descriptor with `getsockopt(2)`. See {@link setSocketOption} for
 * the values; `IP_MULTICAST_IF` reads back as an IPv4 address (`'0.0.0.0'` when set by index).
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
  const spec = specOf(name);
  validateFd(fd);
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

function errnoOf(name: 'ENODEV' | 'ENXIO'): number {
  return osConstants.errno[name];
}

/**
 * The index of the interface called `name`, via `if_nametoindex(3)`; without the addon on Linux,
 * from `/sys/class/net/<name>/ifindex`.
 *
 * Platforms: all POSIX with the addon; Linux without it.
 *
 * @throws InvalidArgumentError for a malformed name.
 * @throws SystemCallError `ENODEV` (`syscall: 'if_nametoindex'`) when no such interface exists.
 * @throws NotSupportedError without the addon outside Linux.
 */
export function ifNameToIndex(name: string): number {
  validateInterfaceName('name', name);
  const binding = loadNative();
  if (binding !== undefined) return binding.msock_if_nametoindex(name);
  if (process.platform !== 'linux' && process.platform !== 'android') {
    throw new NotSupportedError('if_nametoindex', 'needs the native addon outside Linux');
  }
  let text: string;
  try {
    text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') {
      throw new SystemCallError('if_nametoindex', errnoOf('ENODEV'), { address: name, cause: err });
    }
    throw SystemCallError.from(err, { syscall: 'if_nametoindex' });
  }
  return Number.parseInt(text.trim(), 10);
}

/**
 * The name of the interface with index `index`, via `if_indextoname(3)`; without the addon on
 * Linux, by scanning `/sys/class/net/*\/ifindex`.
 *
 * Platforms: all POSIX with the addon; Linux without it.
 *
 * @throws InvalidArgumentError for an index that is not an integer in 1..2147483647.
 * @throws SystemCallError `ENXIO` (`syscall: 'if_indextoname'`) when no interface has it.
 * @throws NotSupportedError without the addon outside Linux.
 */
export function ifIndexToName(index: number): string {
  validateIfIndex('index', index, 1);
  const binding = loadNative();
  if (binding !== undefined) return binding.msock_if_indextoname(index);
  if (process.platform !== 'linux' && process.platform !== 'android') {
    throw new NotSupportedError('if_indextoname', 'needs the native addon outside Linux');
  }
  let names: string[];
  try {
    names = readdirSync('/sys/class/net');
  } catch (err) {
    throw SystemCallError.from(err, { syscall: 'if_indextoname' });
  }
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
    } catch (err) {
      // An interface can vanish between readdir and read: that one just is not a match.
      if ((err as { code?: unknown }).code === 'ENOENT') continue;
      throw SystemCallError.from(err, { syscall: 'if_indextoname' });
    }
    if (Number.parseInt(text.trim(), 10) === index) return name;
  }
  throw new SystemCallError('if_indextoname', errnoOf('ENXIO'));
}
