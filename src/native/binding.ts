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

/**
 * One socket option as the addon applies it with `setsockopt(2)`: numbers from
 * {@link NativeBinding.constants}, the value marshalled by `kind`, and the C name for errors. Made
 * from the option table by `optionRow` / `preBindRows` in `src/options.ts`, never by hand outside
 * tests.
 */
export interface NativeOptionRow {
  /** Protocol level (`SOL_SOCKET`, `IPPROTO_IP` …). */
  level: number;
  /** Option number (`IP_TOS` …). */
  name: number;
  /** How the value is marshalled. */
  kind: NativeOptionKind;
  /** The value, of the type `kind` says (`mreqn`: {@link NativeMreqn}). */
  value: number | boolean | string | NativeMreqn;
  /** The option's C name, set as `option` on a `SystemCallError`. */
  option: string;
  /**
   * Policy "clamp": when the option is refused as not permitted (`EPERM`, or `ENOPROTOOPT` from a
   * kernel without it), set this option of the same level with the same value instead
   * (`SO_RCVBUFFORCE` → `SO_RCVBUF`, which the kernel clamps rather than fails).
   */
  fallback?: { name: number; option: string };
  /**
   * Policy "IPv4 side": an `IPPROTO_IP` option meant for the IPv4 traffic of the socket. On an
   * `AF_INET6` socket it is set only when the socket carries IPv4 (`IPV6_V6ONLY` off, as the
   * kernel reports it when the row comes) on a system that takes IPv4 options there (Linux), and
   * skipped otherwise; on an `AF_INET` socket it is a plain row.
   */
  ipv4Side?: boolean;
}

/**
 * What {@link NativeBinding.msock_udp_socket} and {@link NativeBinding.msock_tcp_socket} take: the
 * parts of socket creation that are not socket options, and the options, applied in order before
 * `bind(2)`.
 */
export interface NativeSocketOptions {
  /** Address family: 4 (`AF_INET`) or 6 (`AF_INET6`). */
  family: 4 | 6;
  /** Local address literal to bind (`0.0.0.0`, `::`, `127.0.0.1` …), without a zone. */
  address: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /** IPv6 scope (interface index) of a link-local `address`; default 0. */
  scopeId?: number;
  /** Socket options set in this order between `socket(2)` and `bind(2)`; at most 64. */
  options?: readonly NativeOptionRow[];
}

/** What {@link NativeBinding.msock_udp_socket} takes. */
export type NativeUdpSocketOptions = NativeSocketOptions;

/** What {@link NativeBinding.msock_tcp_socket} takes. */
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
  /** `block` / `unblock`: `MCAST_BLOCK_SOURCE` / `MCAST_UNBLOCK_SOURCE` (needs `source`). */
  op: 'join' | 'leave' | 'block' | 'unblock';
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
  /** Destination address (`IP_PKTINFO` / `IPV6_RECVPKTINFO` set on the fd). */
  localAddress?: string;
  /** Arrival interface index (`IP_PKTINFO` / `IPV6_RECVPKTINFO`). */
  ifindex?: number;
  /** TOS byte / IPv6 traffic class (`IP_RECVTOS` / `IPV6_RECVTCLASS` set on the fd). */
  tos?: number;
  /** TTL / hop limit the datagram arrived with (`IP_RECVTTL` / `IPV6_RECVHOPLIMIT` set on the fd). */
  ttl?: number;
  /** Kernel receive time in nanoseconds since the epoch (`SO_TIMESTAMPNS` set on the fd). */
  timestampNs?: bigint;
  /** Datagrams the kernel dropped on this socket so far (`SO_RXQ_OVFL` set on the fd; present once non-zero). */
  drops?: number;
}

/** The C constants the option table needs, present only where the system headers define them. */
export type NativeConstants = Readonly<Record<string, number | undefined>>;

/** An opaque DTLS context (`SSL_CTX`) made by {@link NativeBinding.msock_dtls_context}. */
export interface NativeDtlsContext {
  readonly __brand: 'msock_dtls_context';
}

/** An opaque DTLS connection (`SSL` + datagram BIO) made by {@link NativeBinding.msock_dtls_connection}. */
export interface NativeDtlsConnection {
  readonly __brand: 'msock_dtls_connection';
}

/** Options of {@link NativeBinding.msock_dtls_context}; validated by `src/rist/dtls.ts` first. */
export interface NativeDtlsContextOptions {
  role: 'client' | 'server';
  /** PEM certificate (then its chain). */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** PEM CA certificates trusted for the peer. */
  ca?: string;
  /** Verify the peer's certificate (server: request one and require it). */
  verifyPeer?: boolean;
  /** SHA-256 digest (32 bytes) the peer certificate must have. */
  fingerprint?: Uint8Array;
  /** PSK identity (with `psk`). */
  pskIdentity?: string;
  /** PSK key, 1..256 bytes. */
  psk?: Uint8Array;
  /** OpenSSL cipher list (`SSL_CTX_set_cipher_list`). */
  ciphers?: string;
  /** First retransmission timeout in ms (doubling up to 60 s); default 1000. */
  retransmitInitialMs?: number;
}

/** What {@link NativeBinding.msock_dtls_info} reports. */
export interface NativeDtlsInfo {
  established: boolean;
  /** `SSL_get_version`: `'DTLSv1.2'`. */
  version: string;
  /** `SSL_get_cipher_name`, once established. */
  cipher?: string;
  /** `DTLS_get_data_mtu`: the most application bytes per datagram, once established. */
  maxDataBytes?: number;
  /** SHA-256 of the peer certificate's DER, `AB:CD:...`, when it sent one. */
  peerFingerprint?: string;
  /** The PSK identity, when a PSK cipher suite was negotiated. */
  pskIdentity?: string;
}

/** Everything the addon exports. */
export interface NativeBinding {
  /** Creates a UDP socket, applies `options` in order, binds. */
  msock_udp_socket(options: NativeUdpSocketOptions): NativeSocketResult;
  /** Creates a TCP socket, applies `options` in order, binds, listens if asked. */
  msock_tcp_socket(options: NativeTcpSocketOptions): NativeSocketResult;
  /**
   * What an existing descriptor is (`SO_TYPE`, `getsockname`, `getpeername`); a UDP socket of IPv4/IPv6 is made
   * non-blocking and close-on-exec and its buffer sizes read (`fd` is then the descriptor, else
   * -1). Never closes it.
   */
  msock_udp_adopt(fd: number): Omit<NativeSocketResult, 'family'> & {
    family: 'IPv4' | 'IPv6' | 'unknown';
    kind: 'dgram' | 'stream' | 'other';
    /** The peer of a connected socket (`getpeername`). */
    peerAddress?: string;
    peerPort?: number;
  };
  /** `close(2)`; only for descriptors no Node handle has adopted. */
  msock_close(fd: number): void;
  /** `setsockopt(2)` of one row's parts; `option` is the C name used in errors. */
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
  /**
   * `MCAST_JOIN_GROUP` / `MCAST_LEAVE_GROUP` / `MCAST_JOIN_SOURCE_GROUP` / `MCAST_LEAVE_SOURCE_GROUP`,
   * and `MCAST_BLOCK_SOURCE` / `MCAST_UNBLOCK_SOURCE` for exclude-mode filters.
   */
  msock_mcast_membership(fd: number, options: NativeMembershipOptions): void;
  /**
   * One non-blocking `recvmsg(2)` into `buffer` with its ancillary data parsed; `null` when nothing
   * is queued (`EAGAIN`). For tests and diagnostics (what a datagram carried on the wire); the
   * library's receive paths are `node:dgram` and the batch engine.
   */
  msock_recvmsg(fd: number, buffer: Uint8Array): NativeDatagram | null;
  /**
   * The socket's kernel drop counter, read with `getsockopt(SO_MEMINFO)` (`SK_MEMINFO_DROPS`);
   * throws `ENOPROTOOPT` where the kernel (before Linux 4.6) or the platform has no `SO_MEMINFO`.
   */
  msock_kernel_drops(fd: number): number;
  /** Creates a DTLS 1.2 context (`SSL_CTX` on `DTLS_method`). */
  msock_dtls_context(options: NativeDtlsContextOptions): NativeDtlsContext;
  /** Drops the context's own reference; connections made from it keep theirs. */
  msock_dtls_context_free(context: NativeDtlsContext): void;
  /** Creates a connection (`SSL`) over an in-memory datagram BIO; `mtu` is the largest UDP payload. */
  msock_dtls_connection(
    context: NativeDtlsContext,
    options: { mtu: number; hostname?: string },
  ): NativeDtlsConnection;
  /** `DTLSv1_listen` on one datagram from `peer`: true once a ClientHello carries a valid cookie. */
  msock_dtls_listen(connection: NativeDtlsConnection, datagram: Uint8Array, peer: string): boolean;
  /** Feeds a datagram (or nothing) and runs `SSL_do_handshake`; true when complete. */
  msock_dtls_handshake(connection: NativeDtlsConnection, datagram?: Uint8Array): boolean;
  /** Feeds a datagram and returns its application records; `null` after `close_notify`. */
  msock_dtls_read(connection: NativeDtlsConnection, datagram: Uint8Array): Buffer[] | null;
  /** `SSL_write` of one record; refuses data larger than `DTLS_get_data_mtu`. */
  msock_dtls_write(connection: NativeDtlsConnection, data: Uint8Array): number;
  /** The datagrams OpenSSL wrote since the last call, in order. */
  msock_dtls_take_output(connection: NativeDtlsConnection): Buffer[];
  /** `DTLSv1_get_timeout` in ms, or -1 when no timer runs. */
  msock_dtls_timeout(connection: NativeDtlsConnection): number;
  /** `DTLSv1_handle_timeout`: true when a flight was retransmitted. */
  msock_dtls_handle_timeout(connection: NativeDtlsConnection): boolean;
  /** `SSL_shutdown`: queues `close_notify` on an established connection. */
  msock_dtls_shutdown(connection: NativeDtlsConnection): void;
  /** Version, cipher, data MTU, peer fingerprint, PSK identity. */
  msock_dtls_info(connection: NativeDtlsConnection): NativeDtlsInfo;
  /** Frees the `SSL` and its BIO now (the finalizer does it otherwise); idempotent. */
  msock_dtls_free(connection: NativeDtlsConnection): void;
  /** Live `SSL_CTX` / `SSL` objects made by the addon in this process (leak checks). */
  msock_dtls_live(): { contexts: number; connections: number };
  /** `OpenSSL_version(OPENSSL_VERSION)` of the running process: Node's own OpenSSL. */
  readonly dtlsOpenssl: string;
  /** C constants (`SOL_SOCKET`, `IP_TOS` …) as the system headers define them. */
  readonly constants: NativeConstants;
  /** The platform the addon was compiled for: `linux`, `darwin`, `freebsd` or `posix`. */
  readonly platform: string;
}
