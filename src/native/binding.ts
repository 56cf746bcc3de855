/**
 * Types of what the C addon exports, one to one with the C names (`msock_udp_socket` in
 * `native/src/addon.c` is `binding.msock_udp_socket` here), so one grep crosses the boundary.
 *
 * These are the raw calls. Get them from `loadNative()` / `requireNative()` in `./index.js`,
 * which wrap every function so that a failed system call comes out as a `SystemCallError` (with
 * `errno`, `syscall`, `option`, `address`, `port`) and a malformed argument as an
 * `InvalidArgumentError`. Callers still validate their values first: the C checks are a safety
 * net, not the place where users learn what they did wrong.
 *
 * @module
 */

/** Options of {@link NativeBinding.msock_udp_socket} and {@link NativeBinding.msock_tcp_socket}. */
export interface NativeSocketOptions {
  /** Address family: 4 (`AF_INET`) or 6 (`AF_INET6`). */
  family: 4 | 6;
  /** Local address literal to bind (`0.0.0.0`, `::`, `127.0.0.1` …), without a zone. */
  address: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /** IPv6 scope (interface index) of a link-local `address`; default 0. */
  scopeId?: number;
  /** `SO_REUSEADDR` before bind. */
  reuseAddr?: boolean;
  /** `SO_REUSEPORT` before bind (Linux ≥ 3.9, BSDs, macOS). */
  reusePort?: boolean;
  /** `IPV6_V6ONLY` before bind (family 6 only); absent keeps the system default. */
  ipv6Only?: boolean;
  /** `SO_BINDTODEVICE` (Linux): interface name, at most 15 bytes. */
  bindToDevice?: string;
  /** Receive buffer request: `SO_RCVBUFFORCE` first (privileged), else `SO_RCVBUF` (clamped). */
  recvBufferBytes?: number;
  /** Send buffer request: `SO_SNDBUFFORCE` first (privileged), else `SO_SNDBUF` (clamped). */
  sendBufferBytes?: number;
  /** `IP_TOS` (and `IPV6_TCLASS` on family 6): 0..255. */
  tos?: number;
}

/** Options of {@link NativeBinding.msock_udp_socket}. */
export interface NativeUdpSocketOptions extends NativeSocketOptions {
  /** `false` sets `IP_MULTICAST_ALL` (and `IPV6_MULTICAST_ALL`) to 0 (Linux). */
  multicastAll?: boolean;
  /** `IP_PKTINFO` / `IPV6_RECVPKTINFO`: destination address and ifindex per datagram. */
  pktinfo?: boolean;
  /** `SO_TIMESTAMPNS`: kernel receive timestamp per datagram. */
  timestamps?: boolean;
  /** `SO_RXQ_OVFL`: kernel drop counter on each datagram once drops happened. */
  rxqOvfl?: boolean;
  /** `IP_RECVTOS` / `IPV6_RECVTCLASS`: TOS byte / traffic class per datagram. */
  recvTos?: boolean;
}

/** Options of {@link NativeBinding.msock_tcp_socket}. */
export interface NativeTcpSocketOptions extends NativeSocketOptions {
  /** Call `listen(2)` after bind. */
  listen?: boolean;
  /** `listen(2)` backlog; default 511 (as Node). */
  backlog?: number;
}

/** What socket creation returns; values are read back from the kernel. */
export interface NativeSocketResult {
  /** The new descriptor: non-blocking, close-on-exec, bound (and listening if asked). */
  fd: number;
  /** `getsockname` address (IPv6 zone as `%ifname`). */
  address: string;
  /** `getsockname` port. */
  port: number;
  /** `'IPv4'` or `'IPv6'`, as `node:dgram` reports it. */
  family: 'IPv4' | 'IPv6';
  /** `getsockopt(SO_RCVBUF)`: on Linux twice the effective request (the kernel doubles it). */
  recvBufferBytes: number;
  /** `getsockopt(SO_SNDBUF)`: on Linux twice the effective request. */
  sendBufferBytes: number;
}

/** How `msock_setsockopt` / `msock_getsockopt` marshal the value. */
export type NativeOptionKind = 'int' | 'bool' | 'uchar' | 'string' | 'mreqn';

/** Value of the `mreqn` kind (`IP_MULTICAST_IF`): by interface index (Linux) or address. */
export interface NativeMreqn {
  ifindex?: number;
  address?: string;
}

/** Options of {@link NativeBinding.msock_mcast_membership}. */
export interface NativeMembershipOptions {
  family: 4 | 6;
  op: 'join' | 'leave';
  /** Group address literal. */
  group: string;
  /** Source address literal for source-specific (SSM) membership. */
  source?: string;
  /** Interface index; 0 lets the kernel choose by route (never do that in tests). */
  ifindex: number;
}

/** One datagram read by {@link NativeBinding.msock_recvmsg}. */
export interface NativeDatagram {
  /** Bytes copied into the buffer (with `truncated`, the datagram was longer). */
  bytes: number;
  /** `MSG_TRUNC`: the datagram did not fit in the buffer; the rest is lost. */
  truncated: boolean;
  /** `MSG_CTRUNC`: ancillary data did not fit (present only when set). */
  controlTruncated?: boolean;
  /** Source address. */
  address: string;
  /** Source port. */
  port: number;
  /** `'IPv4'` or `'IPv6'` (v4-mapped sources on a dual-stack socket are `'IPv6'`). */
  family: 'IPv4' | 'IPv6' | 'unknown';
  /** Destination address (pktinfo). */
  localAddress?: string;
  /** Arrival interface index (pktinfo). */
  ifindex?: number;
  /** TOS byte / IPv6 traffic class (recvTos). */
  tos?: number;
  /** Kernel receive time in nanoseconds since the epoch (timestamps). */
  timestampNs?: bigint;
  /** Datagrams the kernel dropped on this socket so far (rxqOvfl; present once non-zero). */
  drops?: number;
}

/** The C constants the option table needs, present only where the system headers define them. */
export type NativeConstants = Readonly<Record<string, number | undefined>>;

/** Everything the addon exports. */
export interface NativeBinding {
  /** Creates a UDP socket, applies every option before bind, binds. */
  msock_udp_socket(options: NativeUdpSocketOptions): NativeSocketResult;
  /** Creates a TCP socket, applies every option before bind, binds, listens if asked. */
  msock_tcp_socket(options: NativeTcpSocketOptions): NativeSocketResult;
  /** `close(2)`; only for descriptors no Node handle has adopted. */
  msock_close(fd: number): void;
  /** `setsockopt(2)`; `option` is the C name used in errors. */
  msock_setsockopt(
    fd: number,
    level: number,
    name: number,
    kind: NativeOptionKind,
    value: number | boolean | string | NativeMreqn,
    option?: string,
  ): void;
  /** `getsockopt(2)`; `mreqn` reads back the IPv4 address only (the kernel keeps no index). */
  msock_getsockopt(
    fd: number,
    level: number,
    name: number,
    kind: NativeOptionKind,
    option?: string,
  ): number | boolean | string;
  /** `if_nametoindex(3)`. */
  msock_if_nametoindex(name: string): number;
  /** `if_indextoname(3)`. */
  msock_if_indextoname(index: number): string;
  /** `MCAST_JOIN_GROUP` / `MCAST_LEAVE_GROUP` / `MCAST_JOIN_SOURCE_GROUP` / `MCAST_LEAVE_SOURCE_GROUP`. */
  msock_mcast_membership(fd: number, options: NativeMembershipOptions): void;
  /** One non-blocking `recvmsg(2)` into `buffer`; `null` when nothing is queued (`EAGAIN`). */
  msock_recvmsg(fd: number, buffer: Uint8Array): NativeDatagram | null;
  /** C constants (`SOL_SOCKET`, `IP_TOS` …) as the system headers define them. */
  readonly constants: NativeConstants;
  /** The platform the addon was compiled for: `linux`, `darwin`, `freebsd` or `posix`. */
  readonly platform: string;
}
