/**
 * The options, results and counters of `RistTransport`, and the checks of its options: every
 * malformed option throws `InvalidArgumentError` here, before any socket exists.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { addressFamily } from '../address.js';
import { InvalidArgumentError } from '../errors.js';
import type { InterfaceSpec } from '../interfaces.js';
import type { UdpSocketOptions, UdpSocketType } from '../udp/udp-socket.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateInteger,
  validateString,
} from '../validate.js';
import type { DtlsStats } from './dtls.js';

/** RIST profile of a transport: two sockets (`'simple'`) or one (`'main'`). */
export type RistProfile = 'simple' | 'main';

/** Options of the {@link RistTransport} constructors. */
export interface RistTransportOptions {
  /**
   * Address family for the ephemeral constructors, whose local address defaults to the wildcard.
   * Default: the family of `address` when given, else `'udp6'` dual-stack (`[::]`, reaching IPv4
   * and IPv6 peers, as Go's `net.ListenUDP("udp", nil)` in the Go RIST transport), or `'udp4'` on
   * a host without IPv6 (Linux: no `/proc/net/if_inet6`). `'udp6'` is dual-stack unless
   * `ipv6Only`; a multicast sender must use the group's family (`type: 'udp4'` for an IPv4
   * group: a dual-stack socket refuses IPv4 multicast options). The `listen*` constructors take
   * the family from `host`.
   */
  type?: UdpSocketType;
  /** Local address for the ephemeral constructors. Default: the wildcard of `type`. */
  address?: string;
  /** `IPV6_V6ONLY` on `udp6` sockets. Default `false`. */
  ipv6Only?: boolean;
  /**
   * `SO_RCVBUF` of each socket. Default 2 MiB (Linux's ~208 KB default overflows on a sender's
   * start-up burst); the kernel may clamp it, which never fails the open.
   */
  recvBufferBytes?: number | 'max';
  /** `SO_SNDBUF` of each socket. Default 2 MiB, as `recvBufferBytes`. */
  sendBufferBytes?: number | 'max';
  /**
   * Learn the peer's addresses and drop datagrams from other sources (see `address-learning.ts`).
   * Default `true`. With `false` every datagram is returned and nothing is learned.
   */
  learn?: boolean;
  /** Silence after which a new media source replaces the learned one; 0 (default) never. */
  rebindAfterMs?: number;
  /** Datagrams queued per socket while nobody reads; see `UdpSocketOptions.readerQueueLength`. */
  readerQueueLength?: number;
  /** Cancels the open; sockets opened so far are closed. */
  signal?: AbortSignal;
}

/** A datagram read from a {@link RistTransport}. */
export interface RistDatagram {
  /** The payload. */
  readonly data: Buffer;
  /** Source address; IPv4-mapped sources are reported as IPv4. */
  readonly address: string;
  /** Source port. */
  readonly port: number;
}

/** Counters of a {@link RistTransport}; a snapshot. */
export interface RistTransportStats {
  /** Media datagrams returned by {@link RistTransport.readMedia}. */
  mediaReceived: number;
  /** RTCP datagrams returned by {@link RistTransport.readRtcp}. */
  rtcpReceived: number;
  /** Media datagrams dropped: not from the learned source. */
  mediaRejected: number;
  /** RTCP datagrams dropped: not from the media host, or not from the learned RTCP source. */
  rtcpRejected: number;
  /** Times the learned media source was replaced after silence. */
  rebinds: number;
  /** Media datagrams sent. */
  mediaSent: number;
  /** RTCP datagrams sent. */
  rtcpSent: number;
  /** DTLS counters; present once DTLS is enabled (see {@link DtlsStats}). */
  dtls?: DtlsStats;
}

/** Egress options of a multicast sender. */
export interface RistMulticastOptions {
  /** Egress interface (`IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`), by name, index or address. */
  iface?: InterfaceSpec;
  /** `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`, 0..255. */
  ttl?: number;
  /** `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`. */
  loopback?: boolean;
}

const kDefaultBufferBytes = 2 * 1024 * 1024;

/** The socket type a host literal needs. */
export function hostType(host: string): UdpSocketType {
  validateString(host, 'host');
  const family = addressFamily(host.split('%')[0] ?? '');
  if (family === 0) {
    throw new InvalidArgumentError(
      'host',
      host,
      "must be an IP address literal ('0.0.0.0' or '::' for every interface; resolve names first)",
    );
  }
  return family === 4 ? 'udp4' : 'udp6';
}

/**
 * The family of an ephemeral constructor: `o.type`, else the family of `o.address`, else
 * dual-stack `'udp6'` where the host has IPv6, else `'udp4'`.
 */
export function ephemeralType(o: RistTransportOptions): UdpSocketType {
  if (o.type !== undefined) return o.type;
  if (o.address !== undefined) return hostType(o.address);
  return hostHasIPv6() ? 'udp6' : 'udp4';
}

let ipv6: boolean | undefined;

/** Whether the host has IPv6 (Linux: the kernel lists IPv6 addresses; elsewhere assumed). */
function hostHasIPv6(): boolean {
  ipv6 ??= process.platform !== 'linux' || existsSync('/proc/net/if_inet6');
  return ipv6;
}

/** Checks the options of the `RistTransport` constructors; returns them. */
export function checkOptions(options: RistTransportOptions): RistTransportOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object');
  if (options.type !== undefined && options.type !== 'udp4' && options.type !== 'udp6')
    throw new InvalidArgumentError('type', options.type, "must be 'udp4' or 'udp6'");
  if (options.address !== undefined) hostType(options.address);
  if (options.learn !== undefined) validateBoolean(options.learn, 'learn');
  if (options.rebindAfterMs !== undefined)
    validateInteger(options.rebindAfterMs, 'rebindAfterMs', 0, 2 ** 31 - 1);
  validateAbortSignal(options.signal, 'signal');
  return options;
}

/** The `UdpSocket` options of one of the transport's sockets. */
export function socketOptions(
  o: RistTransportOptions,
  type: UdpSocketType,
  address: string | undefined,
): UdpSocketOptions {
  const base: UdpSocketOptions = {
    type,
    recvBufferBytes: o.recvBufferBytes ?? kDefaultBufferBytes,
    sendBufferBytes: o.sendBufferBytes ?? kDefaultBufferBytes,
  };
  if (address !== undefined) base.address = address;
  if (o.ipv6Only !== undefined) base.ipv6Only = o.ipv6Only;
  if (o.readerQueueLength !== undefined) base.readerQueueLength = o.readerQueueLength;
  if (o.signal !== undefined) base.signal = o.signal;
  return base;
}
