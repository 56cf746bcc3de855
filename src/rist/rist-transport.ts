/**
 * `RistTransport`: the UDP transport of RIST (VSF TR-06-1 Simple profile, TR-06-2 Main profile),
 * after ristgo's `internal/socket` and libRIST's `udpsocket.c`.
 *
 * - **Simple profile**: two sockets, RTP media on an even port P and compound RTCP on P+1.
 *   {@link RistTransport.listen} binds a receiver's well-known pair; a sender binds ephemeral
 *   ports ({@link RistTransport.listenEphemeral}, or an adjacent pair with
 *   {@link RistTransport.listenEphemeralEvenOdd}) and addresses the receiver's pair.
 * - **Main profile**: one socket carries everything (GRE tunnel); `media` and `rtcp` are the same
 *   socket ({@link RistTransport.listenSingle}): it is closed once and joins a group once.
 *
 * The sockets are unconnected and every send names its destination, so one transport serves both
 * roles. Received datagrams pass through address learning (`address-learning.ts`): the first media
 * source wins, RTCP is accepted only from the media host, and what is rejected is counted and
 * dropped. Multicast: receivers join on both sockets; senders set the egress interface, TTL and
 * loopback. A dual-stack `[::]` socket rejects IPv4 multicast options (`EINVAL`), so a multicast
 * sender must be opened in the group's family (`type: 'udp4'` for an IPv4 group).
 *
 * What it does not do: parse or build RIST packets beyond the small RTCP/RTP builders beside it,
 * retransmit, reorder, or encrypt (no PSK, no DTLS yet). It only moves bytes. The even/odd
 * pair of {@link RistTransport.listenEphemeralEvenOdd} is found by probing with parking
 * (`openRtpPortPair`), so unlike ristgo it has no close-then-rebind window.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';

import { addressFamily, classifyAddress, unmapIPv4 } from '../address.js';
import { InvalidArgumentError, SocketClosedError } from '../errors.js';
import type { InterfaceSpec } from '../interfaces.js';
import type { InterfaceSelection } from '../multicast.js';
import { openRtpPortPair } from '../rtp/port-pair.js';
import { UdpSocket } from '../udp/udp-socket.js';
import type { UdpSocketOptions, UdpSocketType } from '../udp/udp-socket.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateInteger,
  validatePort,
  validateString,
  validateTtl,
} from '../validate.js';
import { AddressLearner } from './address-learning.js';
import type { Endpoint } from './address-learning.js';

/** RIST profile of a transport: two sockets (`'simple'`) or one (`'main'`). */
export type RistProfile = 'simple' | 'main';

/** Options of the {@link RistTransport} constructors. */
export interface RistTransportOptions {
  /**
   * Address family for the ephemeral constructors, whose local address defaults to the wildcard.
   * Default `'udp4'`. `'udp6'` is dual-stack unless `ipv6Only`; a multicast sender must use the
   * group's family. The `listen*` constructors take the family from `host`.
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

/** The UDP transport of a RIST peer; see the module comment. */
export class RistTransport {
  readonly #media: UdpSocket;
  readonly #rtcp: UdpSocket;
  readonly #learner: AddressLearner | undefined;
  readonly #counters = { mediaReceived: 0, rtcpReceived: 0, mediaSent: 0, rtcpSent: 0 };
  #closing: Promise<void> | undefined;

  private constructor(media: UdpSocket, rtcp: UdpSocket, options: RistTransportOptions) {
    this.#media = media;
    this.#rtcp = rtcp;
    this.#learner =
      options.learn === false
        ? undefined
        : new AddressLearner({ rebindAfterMs: options.rebindAfterMs ?? 0 });
  }

  /**
   * Binds a Simple-profile receiver: media on `host:evenPort`, RTCP on `host:evenPort+1`. `host`
   * may be a wildcard (`0.0.0.0`, `::`), a local address, or a multicast group (the kernel then
   * delivers only that group; join it with {@link joinMulticast}).
   *
   * @throws InvalidArgumentError for an odd port, port 0 or 65535, or a host that is not an IP literal.
   * @throws SystemCallError when either bind fails (`EADDRINUSE`); the other socket is closed.
   */
  static async listen(
    host: string,
    evenPort: number,
    options: RistTransportOptions = {},
  ): Promise<RistTransport> {
    const type = hostType(host);
    validatePort(evenPort, 'evenPort');
    if (evenPort === 0 || evenPort % 2 !== 0 || evenPort > 65534) {
      throw new InvalidArgumentError(
        'evenPort',
        evenPort,
        'must be an even port in 2..65534 (RTP on P, RTCP on P+1; port 0 cannot give a pair, use listenEphemeralEvenOdd)',
      );
    }
    const o = checkOptions(options);
    const base = socketOptions(o, type, host);
    const media = await UdpSocket.open({ ...base, port: evenPort });
    let rtcp: UdpSocket;
    try {
      rtcp = await UdpSocket.open({ ...base, port: evenPort + 1 });
    } catch (err) {
      await media.close();
      throw err;
    }
    return new RistTransport(media, rtcp, o);
  }

  /**
   * Binds a Simple-profile sender: two sockets on kernel-chosen, unrelated ports (the receiver
   * learns them). The family is `options.type` (default `'udp4'`).
   */
  static async listenEphemeral(options: RistTransportOptions = {}): Promise<RistTransport> {
    const o = checkOptions(options);
    const type = o.type ?? 'udp4';
    const base = socketOptions(o, type, o.address);
    const media = await UdpSocket.open({ ...base, port: 0 });
    let rtcp: UdpSocket;
    try {
      rtcp = await UdpSocket.open({ ...base, port: 0 });
    } catch (err) {
      await media.close();
      throw err;
    }
    return new RistTransport(media, rtcp, o);
  }

  /**
   * Binds a Simple-profile pair on an adjacent even/odd pair of kernel-chosen ports, probing with
   * parking (`openRtpPortPair`, at most 100 attempts).
   *
   * @throws PortRangeExhaustedError when no pair was found.
   */
  static async listenEphemeralEvenOdd(options: RistTransportOptions = {}): Promise<RistTransport> {
    const o = checkOptions(options);
    const type = o.type ?? 'udp4';
    const base = socketOptions(o, type, o.address);
    const pair = await openRtpPortPair({ ...base, type, maxAttempts: 100 });
    return new RistTransport(pair.rtp, pair.rtcp, o);
  }

  /**
   * Binds a Main-profile socket on `host:port` (any port 1..65535): media and RTCP are the same
   * socket.
   */
  static async listenSingle(
    host: string,
    port: number,
    options: RistTransportOptions = {},
  ): Promise<RistTransport> {
    const type = hostType(host);
    validateInteger(port, 'port', 1, 65535);
    const o = checkOptions(options);
    const socket = await UdpSocket.open({ ...socketOptions(o, type, host), port });
    return new RistTransport(socket, socket, o);
  }

  /** Binds a Main-profile sender on one kernel-chosen port; family from `options.type`. */
  static async listenEphemeralSingle(options: RistTransportOptions = {}): Promise<RistTransport> {
    const o = checkOptions(options);
    const type = o.type ?? 'udp4';
    const socket = await UdpSocket.open({ ...socketOptions(o, type, o.address), port: 0 });
    return new RistTransport(socket, socket, o);
  }

  /** `'simple'` (two sockets) or `'main'` (one). */
  get profile(): RistProfile {
    return this.#media === this.#rtcp ? 'main' : 'simple';
  }

  /** `'udp4'` or `'udp6'`. */
  get type(): UdpSocketType {
    return this.#media.type;
  }

  /** The media socket (for options this class does not wrap). */
  get mediaSocket(): UdpSocket {
    return this.#media;
  }

  /** The RTCP socket; the media socket itself in the Main profile. */
  get rtcpSocket(): UdpSocket {
    return this.#rtcp;
  }

  /** The local media port. */
  get mediaPort(): number {
    return this.#media.address().port;
  }

  /** The local RTCP port (the media port in the Main profile). */
  get rtcpPort(): number {
    return this.#rtcp.address().port;
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The learned peer addresses (both `undefined` when learning is off or nothing came yet). */
  get learned(): { media: Endpoint | undefined; rtcp: Endpoint | undefined } {
    return { media: this.#learner?.media, rtcp: this.#learner?.rtcp };
  }

  /** Counters; a snapshot. */
  get stats(): RistTransportStats {
    const l = this.#learner?.stats ?? { mediaRejected: 0, rtcpRejected: 0, rebinds: 0 };
    return { ...this.#counters, ...l };
  }

  /**
   * Milliseconds since the last datagram accepted from the peer; `Infinity` before the first (and
   * always when learning is off). Drives re-association and teardown (ristgo's `SilentFor`).
   */
  silentFor(): number {
    return this.#learner?.silentFor(performance.now()) ?? Infinity;
  }

  /** Forgets the learned addresses, so the next sources are learned afresh. */
  forget(): void {
    this.#learner?.forget();
  }

  /**
   * Reads the next media datagram from an accepted source. Datagrams from other sources are
   * counted (`stats.mediaRejected`) and dropped. In the Main profile this reads the one socket.
   *
   * @throws SocketClosedError when the transport is closed, including while waiting.
   * @throws AbortError when `signal` aborts while waiting.
   */
  async readMedia(options: { signal?: AbortSignal } = {}): Promise<RistDatagram> {
    validateAbortSignal(options.signal, 'signal');
    for (;;) {
      const d = await this.#media.receive(options);
      const datagram = { data: d.data, address: unmapIPv4(d.address), port: d.port };
      if (this.#learner?.learnMedia(datagram, performance.now()) === 'rejected') continue;
      this.#counters.mediaReceived++;
      return datagram;
    }
  }

  /**
   * Reads the next RTCP datagram from an accepted source (the media host, see the module
   * comment); others are counted (`stats.rtcpRejected`) and dropped. In the Main profile there is
   * one socket and one stream: this is {@link readMedia}.
   *
   * @throws SocketClosedError / AbortError as {@link readMedia}.
   */
  async readRtcp(options: { signal?: AbortSignal } = {}): Promise<RistDatagram> {
    if (this.profile === 'main') return this.readMedia(options);
    validateAbortSignal(options.signal, 'signal');
    for (;;) {
      const d = await this.#rtcp.receive(options);
      const datagram = { data: d.data, address: unmapIPv4(d.address), port: d.port };
      if (this.#learner?.learnRtcp(datagram, performance.now()) === 'rejected') continue;
      this.#counters.rtcpReceived++;
      return datagram;
    }
  }

  /**
   * Sends a media datagram from the media socket to `dest`. An IPv4 destination on a `udp6`
   * socket is sent to its IPv4-mapped address.
   *
   * @returns the number of bytes sent.
   * @throws InvalidArgumentError for a bad destination (an IPv4 multicast group on a `udp6`
   *   socket: open the sender with `type: 'udp4'`).
   * @throws SocketClosedError on a closed transport.
   */
  async writeMedia(data: Uint8Array, dest: Endpoint): Promise<number> {
    const n = await this.#media.send(data, ...this.#destination(dest, 'writeMedia'));
    this.#counters.mediaSent++;
    return n;
  }

  /** Sends an RTCP datagram from the RTCP socket to `dest`; as {@link writeMedia}. */
  async writeRtcp(data: Uint8Array, dest: Endpoint): Promise<number> {
    const n = await this.#rtcp.send(data, ...this.#destination(dest, 'writeRtcp'));
    this.#counters.rtcpSent++;
    return n;
  }

  /**
   * Joins `group` on both sockets (once in the Main profile): any-source, or source-specific with
   * `source` (RFC 4607). If the second join fails the first is left again.
   *
   * @throws InvalidArgumentError for a unicast group or one of the other family.
   * @throws SystemCallError when the kernel refuses the join.
   */
  joinMulticast(
    group: string,
    options: { iface?: InterfaceSelection; source?: string } = {},
  ): void {
    this.#assertOpen('joinMulticast');
    validateString(group, 'group');
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { iface?, source? }');
    const { iface, source } = options;
    if (source !== undefined) validateString(source, 'source');
    const joined: UdpSocket[] = [];
    try {
      for (const socket of this.#sockets()) {
        if (source === undefined) socket.addMembership(group, iface);
        else socket.addSourceSpecificMembership(source, group, iface);
        joined.push(socket);
      }
    } catch (err) {
      for (const socket of joined) {
        if (source === undefined) socket.dropMembership(group, iface);
        else socket.dropSourceSpecificMembership(source, group, iface);
      }
      throw err;
    }
  }

  /** Leaves a group joined with {@link joinMulticast}, on both sockets. */
  leaveMulticast(
    group: string,
    options: { iface?: InterfaceSelection; source?: string } = {},
  ): void {
    this.#assertOpen('leaveMulticast');
    const { iface, source } = options;
    for (const socket of this.#sockets()) {
      if (source === undefined) socket.dropMembership(group, iface);
      else socket.dropSourceSpecificMembership(source, group, iface);
    }
  }

  /**
   * Sets the multicast egress options of both sockets, for a sender. The transport must be in the
   * group's family (see the module comment).
   */
  setMulticast(options: RistMulticastOptions): void {
    this.#assertOpen('setMulticast');
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError(
        'options',
        options,
        'must be an object { iface?, ttl?, loopback? }',
      );
    if (options.ttl !== undefined) validateTtl(options.ttl, 'ttl');
    if (options.loopback !== undefined) validateBoolean(options.loopback, 'loopback');
    for (const socket of this.#sockets()) {
      if (options.iface !== undefined) socket.setMulticastInterface(options.iface);
      if (options.ttl !== undefined) socket.setMulticastTTL(options.ttl);
      if (options.loopback !== undefined) socket.setMulticastLoopback(options.loopback);
    }
  }

  /**
   * Closes both sockets (one in the Main profile): pending reads reject with `SocketClosedError`,
   * groups are left, ports released. Idempotent: a second call returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled(this.#sockets().map((s) => s.close()));
      const failures = results.flatMap((r): unknown[] =>
        r.status === 'rejected' ? [r.reason as unknown] : [],
      );
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1)
        throw new AggregateError(failures, 'closing the RIST transport failed');
    })();
    return this.#closing;
  }

  #sockets(): UdpSocket[] {
    return this.#media === this.#rtcp ? [this.#media] : [this.#media, this.#rtcp];
  }

  #assertOpen(operation: string): void {
    if (this.#closing) throw new SocketClosedError(operation);
  }

  #destination(dest: Endpoint, operation: string): [number, string] {
    this.#assertOpen(operation);
    if (typeof dest !== 'object' || dest === null)
      throw new InvalidArgumentError('dest', dest, 'must be an object { address, port }');
    validateString(dest.address, 'dest.address');
    validatePort(dest.port, 'dest.port');
    const family = addressFamily(dest.address);
    if (family === 0)
      throw new InvalidArgumentError('dest.address', dest.address, 'must be an IP address literal');
    if (family === 4 && this.type === 'udp6') {
      if (classifyAddress(dest.address).multicast) {
        throw new InvalidArgumentError(
          'dest.address',
          dest.address,
          "must not be an IPv4 multicast group on a udp6 transport (a dual-stack socket rejects IPv4 multicast options; open the sender with type: 'udp4')",
        );
      }
      return [dest.port, `::ffff:${dest.address}`];
    }
    return [dest.port, dest.address];
  }
}

function hostType(host: string): UdpSocketType {
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

function checkOptions(options: RistTransportOptions): RistTransportOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object');
  if (options.type !== undefined && options.type !== 'udp4' && options.type !== 'udp6')
    throw new InvalidArgumentError('type', options.type, "must be 'udp4' or 'udp6'");
  if (options.learn !== undefined) validateBoolean(options.learn, 'learn');
  if (options.rebindAfterMs !== undefined)
    validateInteger(options.rebindAfterMs, 'rebindAfterMs', 0, 2 ** 31 - 1);
  validateAbortSignal(options.signal, 'signal');
  return options;
}

function socketOptions(
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
