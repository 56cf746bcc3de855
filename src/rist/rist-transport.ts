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
 * DTLS (Main profile only, needs the native addon): {@link RistTransport.enableDtlsClient} on the
 * sender, {@link RistTransport.enableDtlsServer} on the receiver, then
 * {@link RistTransport.handshake}; afterwards `readMedia` / `writeMedia` carry application
 * records to and from the one peer. The server binds to the first peer that completes a handshake
 * and drops everyone else; `dtls.ts` documents that denial-of-service trade-off and its limits.
 *
 * What it does not do: parse or build RIST packets beyond the small RTCP/RTP builders beside it,
 * retransmit, reorder, or apply the RIST PSK (AES) mode. It only moves bytes. The even/odd
 * pair of {@link RistTransport.listenEphemeralEvenOdd} is found by probing with parking
 * (`openRtpPortPair`), so unlike ristgo it has no close-then-rebind window.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';

import { addressFamily, classifyAddress, unmapIPv4 } from '../address.js';
import { InvalidArgumentError, InvalidStateError, SocketClosedError } from '../errors.js';
import type { InterfaceSelection } from '../multicast.js';
import { openRtpPortPair } from '../rtp/port-pair.js';
import { UdpSocket } from '../udp/udp-socket.js';
import type { UdpSocketType } from '../udp/udp-socket.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateInteger,
  validatePort,
  validateString,
  validateTtl,
} from '../validate.js';
import { assertFactory, kFactory } from '../internal/factory-only.js';
import { requireNative } from '../native/index.js';
import { AddressLearner } from './address-learning.js';
import type { Endpoint } from './address-learning.js';
import { DtlsChannel } from './dtls.js';
import { checkOptions, ephemeralType, hostType, socketOptions } from './rist-options.js';
import type {
  RistDatagram,
  RistMulticastOptions,
  RistProfile,
  RistTransportOptions,
  RistTransportStats,
} from './rist-options.js';
import type { DtlsClientConfig, DtlsServerConfig } from './dtls-config.js';
import type { DtlsHandshakeOptions, DtlsSessionInfo } from './dtls.js';
import { RistMediaBatch } from './media-batch.js';

export type {
  RistDatagram,
  RistMulticastOptions,
  RistProfile,
  RistTransportOptions,
  RistTransportStats,
} from './rist-options.js';

/** The UDP transport of a RIST peer; see the module comment. */
export class RistTransport {
  readonly #media: UdpSocket;
  readonly #rtcp: UdpSocket;
  readonly #learner: AddressLearner | undefined;
  readonly #counters = { mediaReceived: 0, rtcpReceived: 0, mediaSent: 0, rtcpSent: 0 };
  readonly #readerQueueLength: number | undefined;
  #dtls: DtlsChannel | undefined;
  #dtlsListener: ((data: Buffer, rinfo: { address: string; port: number }) => void) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    token: symbol,
    media: UdpSocket,
    rtcp: UdpSocket,
    options: RistTransportOptions,
  ) {
    assertFactory(token, 'RistTransport', 'RistTransport.listen() and its siblings');
    this.#media = media;
    this.#rtcp = rtcp;
    this.#readerQueueLength = options.readerQueueLength;
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
    return new RistTransport(kFactory, media, rtcp, o);
  }

  /**
   * Binds a Simple-profile sender: two sockets on kernel-chosen, unrelated ports (the receiver
   * learns them). The family is `options.type`, else that of `options.address`, else dual-stack
   * `'udp6'` (IPv4 peers are reached as IPv4-mapped addresses and reported as IPv4), as the Go
   * RIST transport's ephemeral constructors; `'udp4'` on a host without IPv6.
   */
  static async listenEphemeral(options: RistTransportOptions = {}): Promise<RistTransport> {
    const o = checkOptions(options);
    const type = ephemeralType(o);
    const base = socketOptions(o, type, o.address);
    const media = await UdpSocket.open({ ...base, port: 0 });
    let rtcp: UdpSocket;
    try {
      rtcp = await UdpSocket.open({ ...base, port: 0 });
    } catch (err) {
      await media.close();
      throw err;
    }
    return new RistTransport(kFactory, media, rtcp, o);
  }

  /**
   * Binds a Simple-profile pair on an adjacent even/odd pair of kernel-chosen ports, probing with
   * parking (`openRtpPortPair`, at most 100 attempts).
   *
   * @throws PortRangeExhaustedError when no pair was found.
   */
  static async listenEphemeralEvenOdd(options: RistTransportOptions = {}): Promise<RistTransport> {
    const o = checkOptions(options);
    const type = ephemeralType(o);
    const base = socketOptions(o, type, o.address);
    const pair = await openRtpPortPair({ ...base, type, maxAttempts: 100 });
    return new RistTransport(kFactory, pair.rtp, pair.rtcp, o);
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
    return new RistTransport(kFactory, socket, socket, o);
  }

  /** Binds a Main-profile sender on one kernel-chosen port; family as `listenEphemeral`. */
  static async listenEphemeralSingle(options: RistTransportOptions = {}): Promise<RistTransport> {
    const o = checkOptions(options);
    const type = ephemeralType(o);
    const socket = await UdpSocket.open({ ...socketOptions(o, type, o.address), port: 0 });
    return new RistTransport(kFactory, socket, socket, o);
  }

  /**
   * A transport over sockets made elsewhere — typically adopted ones (`UdpSocket.adopt(fd)`,
   * `UdpSocket.fromDgramSocket`), as ristgo's `FromConns`: two sockets for the Simple profile,
   * the same socket twice for the Main profile. The transport owns them from then on (`close()`
   * closes them). Only `learn` and `rebindAfterMs` of `options` apply; the sockets keep their own
   * buffers and ports.
   *
   * @throws InvalidArgumentError for something else than two `UdpSocket`s of one family.
   * @throws InvalidStateError for a closed socket.
   */
  static fromSockets(
    media: UdpSocket,
    rtcp: UdpSocket,
    options: Pick<RistTransportOptions, 'learn' | 'rebindAfterMs'> = {},
  ): RistTransport {
    for (const [name, socket] of [
      ['media', media],
      ['rtcp', rtcp],
    ] as const) {
      if (!(socket instanceof UdpSocket)) {
        throw new InvalidArgumentError(name, socket, 'must be a UdpSocket');
      }
      if (socket.closed) throw new InvalidStateError(`fromSockets: the ${name} socket is closed`);
    }
    if (media.type !== rtcp.type) {
      throw new InvalidArgumentError(
        'rtcp',
        rtcp.type,
        `must be of the media socket's family (${media.type})`,
      );
    }
    const o = checkOptions(options);
    return new RistTransport(kFactory, media, rtcp, {
      learn: o.learn,
      rebindAfterMs: o.rebindAfterMs,
    });
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
    const stats: RistTransportStats = { ...this.#counters, ...l };
    if (this.#dtls) stats.dtls = this.#dtls.stats;
    return stats;
  }

  /**
   * Whether DTLS is configured ({@link enableDtlsClient} or {@link enableDtlsServer} was called),
   * so {@link handshake} must run before media flows; the Go transport's `DTLSEnabled()`.
   * Unlike Go's `Handshake()`, {@link handshake} without DTLS is an error, not a no-op: port
   * `conn.Handshake()` as `if (t.dtlsEnabled) await t.handshake()`.
   */
  get dtlsEnabled(): boolean {
    return this.#dtls !== undefined;
  }

  /** The established DTLS session; `undefined` without DTLS or before the handshake. */
  get dtls(): DtlsSessionInfo | undefined {
    return this.#dtls?.info;
  }

  /**
   * Makes this Main-profile transport a DTLS 1.2 client (the RIST sender) of the server at
   * `remote`; run {@link handshake} next. Call it before any read: a {@link readMedia} already
   * waiting then resolves with the first decrypted record (never with handshake bytes), and a
   * {@link mediaBatches} loop already running ends with `InvalidStateError` at its next batch.
   * Datagrams from other sources are dropped and counted (`stats.dtls.foreignDropped`).
   *
   * @throws NativeUnavailableError when the addon is not loaded (DTLS runs on Node's OpenSSL
   *   through it).
   * @throws InvalidStateError on a Simple-profile transport or when DTLS is already enabled.
   * @throws InvalidArgumentError for a bad `remote` or configuration (for example a client with
   *   neither `ca`, `fingerprint`, `psk` nor `verifyPeer: false`).
   * @throws DtlsError (`MEDIASOCK_ERR_DTLS`, reason `'config'`) for PEM that does not load or a
   *   cipher list that selects nothing.
   */
  enableDtlsClient(remote: Endpoint, config: DtlsClientConfig): void {
    this.#assertDtlsPossible('enableDtlsClient');
    const [port, address] = this.#destination(remote, 'enableDtlsClient');
    const binding = requireNative('DTLS');
    const peer = { address: unmapIPv4(address), port };
    this.#attachDtls(
      new DtlsChannel(binding, 'client', config, {
        send: (data, to) => this.#dtlsSend(data, to),
        remote: peer,
        family: this.type === 'udp4' ? 4 : 6,
        readerQueueLength: this.#readerQueueLength,
      }),
    );
  }

  /**
   * Makes this Main-profile transport a DTLS 1.2 server (the RIST receiver); run
   * {@link handshake} next; reads already waiting as with {@link enableDtlsClient}. The server
   * binds to the first peer that completes a handshake; see
   * `dtls.ts` for the denial-of-service trade-off and the options that limit it (`cookies`,
   * `allowPeers`, `maxPendingHandshakes`, the handshake timeout).
   *
   * @throws as {@link enableDtlsClient}; a server needs `cert` + `key` or `psk`.
   */
  enableDtlsServer(config: DtlsServerConfig): void {
    this.#assertDtlsPossible('enableDtlsServer');
    const binding = requireNative('DTLS');
    this.#attachDtls(
      new DtlsChannel(binding, 'server', config, {
        send: (data, to) => this.#dtlsSend(data, to),
        family: this.type === 'udp4' ? 4 : 6,
        readerQueueLength: this.#readerQueueLength,
      }),
    );
  }

  /**
   * Runs the DTLS handshake enabled with {@link enableDtlsClient} / {@link enableDtlsServer};
   * resolves with the session. Lost flights are retransmitted by OpenSSL's timer. Resolves at
   * once when the session is already established.
   *
   * Default `timeoutMs` 10000. 0 sets no limit of our own, but a client whose server stops
   * answering still fails when OpenSSL gives up retransmitting (`DtlsError` reason `'timeout'`,
   * about 8 minutes with the default `retransmitInitialMs`); a server waits for another peer
   * forever. See {@link DtlsHandshakeOptions.timeoutMs}. Every failure is a rejection.
   *
   * @throws InvalidStateError when DTLS is not enabled, or a handshake is already running.
   * @throws DtlsError (`MEDIASOCK_ERR_DTLS`) when the client's handshake fails: wrong
   *   certificate (`reason: 'verify'`), wrong fingerprint (`'fingerprint'`), unknown PSK identity
   *   or no shared cipher (`'alert'`), OpenSSL giving up retransmitting (`'timeout'`). A wrong
   *   PSK key with a known identity gets no alert (the server cannot decrypt the client's
   *   Finished and DTLS drops such records silently, RFC 6347 §4.1.2.7): the handshake ends with
   *   `TimeoutError` at `timeoutMs`, or with `'timeout'` when OpenSSL gives up first (always with
   *   `timeoutMs: 0`). A server keeps waiting for another peer instead, counting each failed
   *   candidate (`stats.dtls.handshakeFailures`, `dtlsLastError`).
   * @throws TimeoutError (`MEDIASOCK_ERR_TIMEOUT`), AbortError, or SocketClosedError when the
   *   transport is closed meanwhile; half-open handshakes are freed.
   */
  handshake(options: DtlsHandshakeOptions = {}): Promise<DtlsSessionInfo> {
    if (this.#closing) return Promise.reject(new SocketClosedError('handshake'));
    if (this.#dtls === undefined)
      return Promise.reject(
        new InvalidStateError('handshake needs enableDtlsClient or enableDtlsServer first'),
      );
    return this.#dtls.handshake(options);
  }

  /** The last DTLS error met in the background (a failed candidate handshake, a failed send). */
  get dtlsLastError(): unknown {
    return this.#dtls?.lastError;
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
    checkReadOptions(options);
    validateAbortSignal(options.signal, 'signal');
    if (this.#dtls) return this.#readDtls(this.#dtls, options);
    for (;;) {
      const d = await this.#media.receive(options);
      // DTLS was enabled while this read waited: the datagram went to the DTLS layer as well
      // (its 'message' listener), so this read becomes a read of the decrypted records.
      if (this.#dtls) return this.#readDtls(this.#dtls, options);
      if (this.#learner?.learnMediaSource(d.address, d.port, performance.now()) === 'rejected')
        continue;
      this.#counters.mediaReceived++;
      return { data: d.data, address: unmapIPv4(d.address), port: d.port };
    }
  }

  /**
   * Media as batches, without a copy or an allocation per datagram: each {@link RistMediaBatch}
   * views the socket's receive memory until the next step of the loop, with address learning's
   * verdict per datagram (rejected ones are counted in `stats.mediaRejected`). In the Main profile
   * this reads the one socket. Ends when the transport closes; with `AbortError` when `signal`
   * aborts. Without the batch engine each batch holds one datagram.
   *
   * @throws InvalidStateError with DTLS, also when it is enabled while the loop runs: records are
   *   decrypted one by one, read them with {@link readMedia}.
   */
  async *mediaBatches(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<RistMediaBatch, void, undefined> {
    validateAbortSignal(options.signal, 'signal');
    if (this.#dtls)
      throw new InvalidStateError(
        'mediaBatches: with DTLS, read the decrypted records with readMedia()',
      );
    const view = new RistMediaBatch();
    for await (const batch of this.#media.batches(options)) {
      if (this.#dtls)
        throw new InvalidStateError(
          'mediaBatches: DTLS was enabled while the loop ran; read the decrypted records with readMedia()',
        );
      this.#counters.mediaReceived += view.load(batch, this.#learner, performance.now());
      yield view;
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
    checkReadOptions(options);
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
   * With DTLS, `data` goes as one encrypted record to the established peer; `dest` may be
   * omitted, and if given must be that peer.
   *
   * @returns the number of bytes sent (of `data`, with DTLS).
   * @throws InvalidArgumentError for a bad destination (an IPv4 multicast group on a `udp6`
   *   socket: open the sender with `type: 'udp4'`).
   * @throws SocketClosedError on a closed transport.
   * @throws MessageTooLargeError (`MEDIASOCK_ERR_MESSAGE_TOO_LARGE`) with DTLS, when data plus
   *   record overhead exceed `maxDatagramBytes` (`dtls.maxDataBytes` is the limit).
   * @throws InvalidStateError with DTLS before the handshake completed.
   */
  async writeMedia(data: Uint8Array, dest?: Endpoint): Promise<number> {
    if (this.#dtls) {
      const n = await this.#dtlsWrite(data, dest, 'writeMedia');
      this.#counters.mediaSent++;
      return n;
    }
    const n = await this.#media.send(data, ...this.#destination(dest, 'writeMedia'));
    this.#counters.mediaSent++;
    return n;
  }

  /** Sends an RTCP datagram from the RTCP socket to `dest`; as {@link writeMedia}. */
  async writeRtcp(data: Uint8Array, dest?: Endpoint): Promise<number> {
    if (this.#dtls) {
      const n = await this.#dtlsWrite(data, dest, 'writeRtcp');
      this.#counters.rtcpSent++;
      return n;
    }
    const n = await this.#rtcp.send(data, ...this.#destination(dest, 'writeRtcp'));
    this.#counters.rtcpSent++;
    return n;
  }

  /**
   * Joins `group` on both sockets (once in the Main profile): any-source, or for `source` only
   * (an IGMPv3/MLDv2 include filter, on any group; RFC 4607's channel in the SSM range). If the
   * second join fails the first is left again.
   *
   * @throws InvalidArgumentError for a unicast group or one of the other family.
   * @throws SystemCallError when the kernel refuses the join (the error of that join, as is).
   * @throws AggregateError when, in addition, leaving the group again on a socket already joined
   *   failed: `errors[0]` (and `cause`) is the join's error, the rest are the failed leaves, and
   *   those sockets are still members of the group.
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
      const rollbackFailures: unknown[] = [];
      for (const socket of joined) {
        try {
          if (source === undefined) socket.dropMembership(group, iface);
          else socket.dropSourceSpecificMembership(source, group, iface);
        } catch (dropErr) {
          rollbackFailures.push(dropErr);
        }
      }
      if (rollbackFailures.length === 0) throw err;
      throw new AggregateError(
        [err, ...rollbackFailures],
        `joinMulticast ${group} failed, and leaving it again on the sockets already joined failed too`,
        { cause: err },
      );
    }
  }

  /** Leaves a group joined with {@link joinMulticast}, on both sockets. */
  leaveMulticast(
    group: string,
    options: { iface?: InterfaceSelection; source?: string } = {},
  ): void {
    this.#assertOpen('leaveMulticast');
    validateString(group, 'group');
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { iface?, source? }');
    const { iface, source } = options;
    if (source !== undefined) validateString(source, 'source');
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
   * groups are left, ports released. With DTLS, an established peer is sent close_notify first,
   * a running handshake rejects with `SocketClosedError`, and every native object is freed.
   * Idempotent: a second call returns the same promise.
   *
   * The sockets are closed whatever failed before them (the DTLS layer's close included).
   *
   * @throws the one error met (the DTLS layer's, or a socket's), or AggregateError of all of them
   *   when there were several.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const failures: unknown[] = [];
      if (this.#dtls) {
        try {
          await this.#dtls.close();
        } catch (err) {
          failures.push(err);
        } finally {
          if (this.#dtlsListener) this.#media.off('message', this.#dtlsListener);
          this.#dtlsListener = undefined;
        }
      }
      const results = await Promise.allSettled(this.#sockets().map((s) => s.close()));
      for (const r of results) if (r.status === 'rejected') failures.push(r.reason);
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

  #assertDtlsPossible(operation: string): void {
    this.#assertOpen(operation);
    if (this.profile !== 'main')
      throw new InvalidStateError(
        `${operation}: DTLS runs on the Main-profile single socket (listenSingle / listenEphemeralSingle)`,
      );
    if (this.#dtls) throw new InvalidStateError(`${operation}: DTLS is already enabled`);
  }

  #attachDtls(channel: DtlsChannel): void {
    const listener = (data: Buffer, rinfo: { address: string; port: number }): void =>
      channel.onDatagram(data, rinfo.address, rinfo.port);
    this.#dtls = channel;
    this.#dtlsListener = listener;
    this.#media.on('message', listener);
  }

  async #readDtls(dtls: DtlsChannel, options: { signal?: AbortSignal }): Promise<RistDatagram> {
    const record = await dtls.read(options);
    this.#counters.mediaReceived++;
    return record;
  }

  async #dtlsWrite(
    data: Uint8Array,
    dest: Endpoint | undefined,
    operation: string,
  ): Promise<number> {
    const dtls = this.#dtls as DtlsChannel;
    this.#assertOpen(operation);
    if (dest !== undefined) {
      const [port, address] = this.#destination(dest, operation);
      const peer = dtls.info?.peer;
      if (peer && (peer.port !== port || peer.address !== unmapIPv4(address)))
        throw new InvalidArgumentError(
          'dest',
          dest,
          `must be the DTLS peer ${peer.address}:${peer.port} (or omitted)`,
        );
    }
    return dtls.write(data, operation);
  }

  /** Sends a DTLS datagram; also during close (close_notify), unlike the public writes. */
  async #dtlsSend(data: Buffer, to: Endpoint): Promise<number> {
    return this.#media.send(data, ...this.#wireDestination(to));
  }

  #destination(dest: Endpoint | undefined, operation: string): [number, string] {
    this.#assertOpen(operation);
    return this.#wireDestination(dest);
  }

  #wireDestination(dest: Endpoint | undefined): [number, string] {
    if (typeof dest !== 'object' || dest === null)
      throw new InvalidArgumentError('dest', dest, 'must be an object { address, port }');
    validateString(dest.address, 'dest.address');
    // Port 0 is no destination: the kernel refuses it (EINVAL), and a DTLS peer cannot be there.
    validateInteger(dest.port, 'dest.port', 1, 65535);
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

/** The options of a read: an object (possibly empty), never `null` or a primitive. */
function checkReadOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object { signal? }');
}
