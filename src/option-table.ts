/**
 * The socket option table: one row per option mediasock can set, from its C name to its protocol
 * level, value type, socket family, platforms and unit, and whether socket creation may apply it
 * before `bind(2)`.
 *
 * This module is data and types only; `options.ts` turns a row and a value into a `setsockopt(2)`
 * call (or into a row of the socket-creation list) and re-exports everything here.
 * `docs/options.md` documents the same rows (a test checks it lists every one).
 *
 * @module
 */

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
  /**
   * Socket creation (`msock_udp_socket` / `msock_tcp_socket`) may apply it before `bind(2)`. Only
   * these rows are accepted in a creation list; any row can be set after creation.
   */
  readonly preBind?: boolean;
  /**
   * The IPv6 counterpart of an IPv4 (`IPPROTO_IP`) pre-bind option. Asked for at the creation of an
   * IPv6 socket, the counterpart is set, and this option too for the IPv4 side of a dual-stack
   * socket (the C policy "IPv4 side", Linux).
   */
  readonly ipv6?: string;
  /**
   * At socket creation: the option set instead when this one is refused as not permitted (`EPERM`,
   * `ENOPROTOOPT`) or is missing from the platform (the C policy "clamp": `SO_RCVBUFFORCE` needs
   * `CAP_NET_ADMIN`, `SO_RCVBUF` is clamped by the kernel instead of failing).
   */
  readonly fallback?: string;
  /** `getsockopt(2)` does not know this option: reading it reads this one. */
  readonly readAs?: string;
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
    preBind: true,
    ipv6: 'IPV6_TCLASS',
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
    preBind: true,
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
    preBind: true,
    ipv6: 'IPV6_MULTICAST_ALL',
    doc: 'Off: the socket receives only the IPv4 groups it joined itself (Linux default on: every group joined by any socket on the host).',
  },
  IPV6_MULTICAST_ALL: {
    name: 'IPV6_MULTICAST_ALL',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: LINUX,
    preBind: true,
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
  IPV6_V6ONLY: {
    name: 'IPV6_V6ONLY',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: POSIX,
    preBind: true,
    doc: 'IPv6 traffic only: no IPv4 through v4-mapped addresses (default net.ipv6.bindv6only). Before bind.',
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
    preBind: true,
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
    preBind: true,
    doc: 'Send buffer size; Linux clamps to net.core.wmem_max and reports twice the effective request.',
  },
  SO_RCVBUFFORCE: {
    name: 'SO_RCVBUFFORCE',
    level: 'SOL_SOCKET',
    type: 'int',
    family: 'socket',
    platforms: LINUX,
    range: [0, INT32_MAX],
    unit: 'bytes',
    preBind: true,
    fallback: 'SO_RCVBUF',
    readAs: 'SO_RCVBUF',
    doc: 'Receive buffer size past net.core.rmem_max (needs CAP_NET_ADMIN, else EPERM); reads back as SO_RCVBUF.',
  },
  SO_SNDBUFFORCE: {
    name: 'SO_SNDBUFFORCE',
    level: 'SOL_SOCKET',
    type: 'int',
    family: 'socket',
    platforms: LINUX,
    range: [0, INT32_MAX],
    unit: 'bytes',
    preBind: true,
    fallback: 'SO_SNDBUF',
    readAs: 'SO_SNDBUF',
    doc: 'Send buffer size past net.core.wmem_max (needs CAP_NET_ADMIN, else EPERM); reads back as SO_SNDBUF.',
  },
  SO_REUSEADDR: {
    name: 'SO_REUSEADDR',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: POSIX,
    preBind: true,
    doc: 'Allow binding an address in use (UDP: share a port; TCP: rebind over TIME_WAIT). Effective before bind.',
  },
  SO_REUSEPORT: {
    name: 'SO_REUSEPORT',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: LINUX_MAC_BSD,
    preBind: true,
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
    preBind: true,
    doc: "Restrict the socket to one interface, by name ('' unbinds).",
  },
  IP_PKTINFO: {
    name: 'IP_PKTINFO',
    level: 'IPPROTO_IP',
    type: 'bool',
    family: 'ip',
    platforms: LINUX,
    preBind: true,
    ipv6: 'IPV6_RECVPKTINFO',
    doc: 'Deliver the destination address and arrival interface of each IPv4 datagram (IP_PKTINFO control message).',
  },
  IPV6_RECVPKTINFO: {
    name: 'IPV6_RECVPKTINFO',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: POSIX,
    preBind: true,
    doc: 'Deliver the destination address and arrival interface of each IPv6 datagram (RFC 3542 IPV6_PKTINFO).',
  },
  IP_RECVTOS: {
    name: 'IP_RECVTOS',
    level: 'IPPROTO_IP',
    type: 'bool',
    family: 'ip',
    platforms: LINUX_MAC_BSD,
    preBind: true,
    ipv6: 'IPV6_RECVTCLASS',
    doc: 'Deliver the TOS byte of each IPv4 datagram (IP_TOS control message).',
  },
  IPV6_RECVTCLASS: {
    name: 'IPV6_RECVTCLASS',
    level: 'IPPROTO_IPV6',
    type: 'bool',
    family: 'ipv6',
    platforms: POSIX,
    preBind: true,
    doc: 'Deliver the traffic class of each IPv6 datagram (RFC 3542 IPV6_TCLASS control message).',
  },
  SO_TIMESTAMPNS: {
    name: 'SO_TIMESTAMPNS',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: LINUX,
    preBind: true,
    doc: 'Deliver the kernel receive time of each datagram in nanoseconds (SCM_TIMESTAMPNS control message).',
  },
  SO_RXQ_OVFL: {
    name: 'SO_RXQ_OVFL',
    level: 'SOL_SOCKET',
    type: 'bool',
    family: 'socket',
    platforms: LINUX,
    preBind: true,
    doc: 'Attach the count of datagrams the kernel dropped on this socket to each datagram, once non-zero.',
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
