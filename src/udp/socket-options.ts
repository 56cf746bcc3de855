/**
 * The options and result types of `UdpSocket`, and the check of its open options: every malformed
 * option throws `InvalidArgumentError` here, before any system call.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

import { addressFamily, classifyAddress, splitZone } from '../address.js';
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { InterfaceSpec } from '../interfaces.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateDscp,
  validateInteger,
  validatePort,
  validateString,
  validateTtl,
} from '../validate.js';

const INT32_MAX = 0x7fffffff;

/** `'udp4'` for IPv4, `'udp6'` for IPv6 (dual-stack unless `ipv6Only`), as in `node:dgram`. */
export type UdpSocketType = 'udp4' | 'udp6';

/**
 * Which engine moves the datagrams.
 * - `'node'`: `node:dgram` (one `recvmsg` and one JS call per datagram);
 * - `'batch'`: the addon's batch engine (`recvmmsg`/`sendmmsg`, UDP GSO/GRO, one JS call per batch).
 *   Platforms: Linux; needs the native addon, else opening throws `NotSupportedError`;
 * - `'auto'` (the default): `'batch'` where it is available (addon loaded, Linux), else `'node'`.
 */
export type UdpEngine = 'auto' | 'node' | 'batch';

/** Receive memory of the batch engine. */
export interface BatchOptions {
  /** Datagrams per `recvmmsg` call, 1..1024. Default 64. */
  slots?: number;
  /**
   * Bytes kept per datagram, 1..1048576. Default 65536, so no UDP datagram is ever cut; a longer
   * datagram is flagged `truncated` and counted in `stats.truncated`, never silently cut. The
   * memory is `slots x slotBytes`, allocated once (pages the kernel never writes stay unbacked).
   */
  slotBytes?: number;
  /** `UDP_GRO`: take coalesced GSO trains whole and split them by their `gso_size`. Default `false`. */
  gro?: boolean;
  /**
   * Ask the kernel for each datagram's source address (the `msg_name` of `recvmmsg(2)`). Default
   * `true`. `false` spares the kernel copying one address out per datagram (about 7 % of the
   * receive CPU per datagram on loopback), for a receiver that never looks at where datagrams come
   * from, as GStreamer's `udpsrc retrieve-sender-address=false`. Then a batch's `address(i)`,
   * `port(i)` and `family(i)` throw `InvalidStateError`, and so do adding a `'message'` listener,
   * `receive()` and iterating datagrams (they all carry the source): read `'batch'` events or
   * `batches()`.
   */
  sourceAddress?: boolean;
  /** Receive calls per readable wake-up before other work gets the event loop, 1..65536. Default 16. */
  maxBatchesPerWake?: number;
}

/** Options of {@link UdpSocket.open}. */
export interface UdpSocketOptions {
  /** Address family, as in `dgram.createSocket`. */
  type: UdpSocketType;
  /**
   * Local address to bind. Default: the wildcard (`0.0.0.0` or `::`). Binding a multicast group
   * address makes the kernel deliver only that group's datagrams to this socket.
   */
  address?: string;
  /** Local port; 0 (the default) lets the kernel pick one. */
  port?: number;
  /**
   * `SO_REUSEADDR`: share the port with other sockets that set it too (multicast receivers).
   * Default `true` when `address` is a multicast group (a receiver bound to its group, as FFmpeg
   * and VLC set it on multicast receivers), `false` otherwise; `false` turns it off.
   */
  reuseAddr?: boolean;
  /**
   * `SO_REUSEPORT`: share the port with sockets of the same user, the kernel spreading flows among
   * them. Platforms: Linux, FreeBSD, macOS. Needs Node >= 22.12 or the native addon. Default `false`.
   */
  reusePort?: boolean;
  /**
   * No reuse of any kind, so that a bind fails with `EADDRINUSE` if anything holds the port: the
   * mode for port probing. Contradicts `reuseAddr` and `reusePort`. Default `false`.
   */
  exclusive?: boolean;
  /** `IPV6_V6ONLY` on a `udp6` socket: no IPv4 traffic through v4-mapped addresses. Default `false`. */
  ipv6Only?: boolean;
  /**
   * `SO_RCVBUF` in bytes, or `'max'` for the kernel's `net.core.rmem_max`. With the addon and the
   * privilege, `SO_RCVBUFFORCE` goes past `rmem_max`. Never fails because the kernel clamped: read
   * the effective size from {@link UdpSocket.recvBufferBytes}. Default: the OS default.
   */
  recvBufferBytes?: number | 'max';
  /** `SO_SNDBUF` in bytes, or `'max'`; as {@link recvBufferBytes}. */
  sendBufferBytes?: number | 'max';
  /** Unicast TTL / hop limit (`IP_TTL`, `IPV6_UNICAST_HOPS`), 1..255. Default: the OS default (64). */
  ttl?: number;
  /** `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`, 0..255. Default: the OS default (1). */
  multicastTtl?: number;
  /** `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`: deliver our own multicast to local receivers. Default: the OS default (on). */
  multicastLoopback?: boolean;
  /** Egress interface for multicast (`IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`), by name, index or address. */
  multicastInterface?: InterfaceSpec;
  /** `SO_BROADCAST`. Default `false`. */
  broadcast?: boolean;
  /** DSCP (0..63) written into `IP_TOS` / `IPV6_TCLASS` as `dscp << 2`. Needs the native addon. */
  dscp?: number;
  /** `SO_BINDTODEVICE`: bind to one interface by name. Platforms: Linux. Needs the native addon (and CAP_NET_RAW before Linux 5.7). */
  bindToDevice?: string;
  /**
   * `IP_MULTICAST_ALL` (and `IPV6_MULTICAST_ALL`): when `false`, a socket bound to the wildcard
   * receives only the groups it joined itself, not every group any socket on the host joined on its
   * port. Platforms: Linux. Default: `false` when the addon is loaded; without the addon the kernel
   * default (on) stays, and asking for `false` throws `NotSupportedError`; bind the group address
   * instead.
   */
  multicastAll?: boolean;
  /** Cancels the open: the socket is closed and the promise rejects with `AbortError`. */
  signal?: AbortSignal;
  /** The engine; see {@link UdpEngine}. Default `'auto'`. */
  engine?: UdpEngine;
  /** Receive memory of the batch engine; ignored by the node engine. */
  batch?: BatchOptions;
  /**
   * `IP_PKTINFO` / `IPV6_RECVPKTINFO`: destination address and arrival interface index of every
   * datagram (`localAddress`, `ifindex`). Needs the batch engine. Default `false`.
   */
  pktinfo?: boolean;
  /** `SO_TIMESTAMPNS`: kernel receive timestamp of every datagram (`timestampNs`). Needs the batch engine. Default `false`. */
  timestamps?: boolean;
  /**
   * The most datagrams {@link UdpSocket.receive} and async iteration keep read but not yet taken.
   * The socket reads from the kernel only while something consumes (a `'message'` or `'batch'`
   * listener, a pending `receive()`, a running iteration), so this holds at most the rest of one
   * batch; past it the oldest is dropped and counted in `stats.readerDrops`. Default 4096.
   */
  readerQueueLength?: number;
}

/** Options of one send. */
export interface SendOptions {
  /**
   * TTL of this datagram (`IP_MULTICAST_TTL` for a multicast destination, else `IP_TTL`; the IPv6
   * hop-limit twins on `udp6`), for this datagram only. The batch engine sends it as an `IP_TTL` /
   * `IPV6_HOPLIMIT` control message; the node engine sets the option, sends and restores the value
   * it had, holding later sends back meanwhile.
   */
  ttl?: number;
}

/** A received datagram. */
export interface Datagram {
  /** The payload. */
  readonly data: Buffer;
  /** Source address (IPv6 link-local sources carry `%zone`). */
  readonly address: string;
  /** Source port. */
  readonly port: number;
  /** Source family. */
  readonly family: 4 | 6;
  /** Destination address (with `pktinfo: true`). */
  readonly localAddress?: string;
  /** Arrival interface index (with `pktinfo: true`). */
  readonly ifindex?: number;
  /** Kernel receive time, ns since the epoch (with `timestamps: true`). */
  readonly timestampNs?: bigint;
  /** The datagram was longer than a batch slot and was cut (batch engine; see `BatchOptions.slotBytes`). */
  readonly truncated?: boolean;
}

/** Counters of one socket; all start at 0. */
export interface UdpSocketStats {
  /** Datagrams read from the kernel (handed to listeners or readers, or queued for them). */
  packetsReceived: number;
  /** Payload bytes received. */
  bytesReceived: number;
  /** Datagrams sent. */
  packetsSent: number;
  /** Payload bytes sent. */
  bytesSent: number;
  /** Sends that failed (each also rejected its promise). */
  sendErrors: number;
  /**
   * Errors the kernel reported on the receive side, such as `ECONNREFUSED` on a connected socket
   * after an ICMP port unreachable. Never fatal: each is emitted as `'error'` only when the socket
   * has an `'error'` listener, and kept in {@link UdpSocket.lastReceiveError}.
   */
  receiveErrors: number;
  /** Datagrams read but dropped because the reader queue was full (see `readerQueueLength`). */
  readerDrops: number;
  /**
   * Datagrams the kernel dropped on this socket because its receive buffer was full, read on each
   * access of `stats`: `getsockopt(SO_MEMINFO)` when the addon is loaded (Linux 4.6+), else the
   * `drops` column of `/proc/net/udp`. Counts drops after the last datagram read too. Platforms:
   * Linux; `undefined` where the count cannot be had.
   */
  kernelDrops: number | undefined;
  /** Datagrams cut because they did not fit a batch slot (batch engine; flagged `truncated`). */
  truncated: number;
  /**
   * Memberships joined again after their interface (given by name) came back: link up again,
   * re-created with a new index, or a new address. See `UdpSocket.addMembership`.
   */
  rejoins: number;
  /**
   * Failed attempts to join a membership again on an interface that came back (each is tried
   * again on the next interface poll; the `'rejoinError'` event says why).
   */
  rejoinErrors: number;
}

/** The address a UDP socket is bound to. */
export interface UdpAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/** Checks the options of `UdpSocket.open`; returns them. */
export function checkOptions(options: UdpSocketOptions): UdpSocketOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'options',
      options,
      "must be an object with at least { type: 'udp4' | 'udp6' }",
    );
  }
  if (options.type !== 'udp4' && options.type !== 'udp6') {
    throw new InvalidArgumentError('type', options.type, "must be 'udp4' or 'udp6'");
  }
  const family = options.type === 'udp4' ? 4 : 6;
  if (options.address !== undefined) {
    validateString(options.address, 'address');
    const f = addressFamily(splitZone(options.address).address);
    if (f === 0)
      throw new InvalidArgumentError(
        'address',
        options.address,
        'must be an IPv4 or IPv6 address to bind',
      );
    if (f !== family)
      throw new InvalidArgumentError(
        'address',
        options.address,
        `must be an IPv${family} address on a ${options.type} socket`,
      );
  }
  if (options.port !== undefined) validatePort(options.port, 'port');
  for (const name of [
    'reuseAddr',
    'reusePort',
    'exclusive',
    'ipv6Only',
    'multicastLoopback',
    'broadcast',
    'multicastAll',
  ] as const) {
    if (options[name] !== undefined) validateBoolean(options[name], name);
  }
  if (options.exclusive && (options.reuseAddr || options.reusePort)) {
    throw new InvalidArgumentError(
      'exclusive',
      true,
      'cannot be combined with reuseAddr or reusePort',
    );
  }
  if (options.ipv6Only && family === 4)
    throw new InvalidArgumentError('ipv6Only', true, 'applies to udp6 sockets only');
  for (const name of ['recvBufferBytes', 'sendBufferBytes'] as const) {
    const v = options[name];
    // The kernel takes an int: past INT32_MAX no engine could set it.
    if (v !== undefined && v !== 'max') validateInteger(v, name, 1, INT32_MAX);
  }
  if (options.ttl !== undefined) validateInteger(options.ttl, 'ttl', 1, 255);
  if (options.multicastTtl !== undefined) validateTtl(options.multicastTtl, 'multicastTtl');
  if (options.dscp !== undefined) validateDscp(options.dscp, 'dscp');
  if (options.bindToDevice !== undefined) validateString(options.bindToDevice, 'bindToDevice');
  if (
    options.engine !== undefined &&
    options.engine !== 'auto' &&
    options.engine !== 'node' &&
    options.engine !== 'batch'
  )
    throw new InvalidArgumentError('engine', options.engine, "must be 'auto', 'node' or 'batch'");
  for (const name of ['pktinfo', 'timestamps'] as const) {
    if (options[name] !== undefined) validateBoolean(options[name], name);
  }
  if (options.batch !== undefined) checkBatchOptions(options.batch);
  if (options.readerQueueLength !== undefined)
    validateInteger(options.readerQueueLength, 'readerQueueLength', 1, 1 << 20);
  validateAbortSignal(options.signal, 'signal');
  // A multicast receiver (bound to a group) shares its port by default, as FFmpeg and VLC do:
  // a second receiver of the same group and port works. `reuseAddr: false` turns it off.
  if (
    options.reuseAddr === undefined &&
    options.exclusive !== true &&
    options.address !== undefined &&
    classifyAddress(splitZone(options.address).address).multicast
  ) {
    return { ...options, reuseAddr: true };
  }
  return options;
}

/** Checks `UdpSocketOptions.batch` (also the adoption factories'). */
export function checkBatchOptions(b: BatchOptions): void {
  if (typeof b !== 'object' || b === null)
    throw new InvalidArgumentError(
      'batch',
      b,
      'must be an object { slots?, slotBytes?, gro?, sourceAddress?, maxBatchesPerWake? }',
    );
  if (b.slots !== undefined) validateInteger(b.slots, 'batch.slots', 1, 1024);
  if (b.slotBytes !== undefined) validateInteger(b.slotBytes, 'batch.slotBytes', 1, 1 << 20);
  if (b.gro !== undefined) validateBoolean(b.gro, 'batch.gro');
  if (b.sourceAddress !== undefined) validateBoolean(b.sourceAddress, 'batch.sourceAddress');
  if (b.maxBatchesPerWake !== undefined)
    validateInteger(b.maxBatchesPerWake, 'batch.maxBatchesPerWake', 1, 65536);
}

/**
 * A buffer size request: bytes, or `'max'` read from `net.core.rmem_max` / `wmem_max`.
 * @throws NotSupportedError when the sysctl cannot be read.
 */
export function bufferRequest(
  value: number | 'max' | undefined,
  sysctl: 'rmem_max' | 'wmem_max',
): number | undefined {
  if (value !== 'max') return value;
  try {
    return Number.parseInt(readFileSync(`/proc/sys/net/core/${sysctl}`, 'utf8'), 10);
  } catch (err) {
    throw new NotSupportedError(
      `${sysctl === 'rmem_max' ? 'recvBufferBytes' : 'sendBufferBytes'}: 'max'`,
      `cannot read /proc/sys/net/core/${sysctl}`,
      { cause: err },
    );
  }
}

/** Batch engine receive memory when `batch` does not say: 64 slots of 64 KiB, 16 reads per wake-up. */
export const BATCH_DEFAULTS = { slots: 64, slotBytes: 65536, maxBatchesPerWake: 16 } as const;
