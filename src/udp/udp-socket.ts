/**
 * `UdpSocket`: a UDP socket for media, IPv4 or IPv6, over one of two engines (see `engine.ts`):
 * the batch engine (`recvmmsg`/`sendmmsg`, UDP GSO/GRO; Linux with the native addon, the default
 * there) or the node engine (`node:dgram`).
 *
 * What it adds to `node:dgram`: promises and an `AbortSignal` on open and connect; datagrams as
 * `'message'` events, as batches without a copy, and as async iteration that ends when the socket
 * closes; a per-send TTL that never touches other sends; receive and send buffers raised toward the
 * kernel's maximum with the effective size reported; reuse address, reuse port, and an exclusive
 * no-reuse mode for port probing; multicast membership bookkeeping (any-source and
 * source-specific, IPv4 and IPv6, on interfaces by name, index or address); statistics; and a
 * `close()` that is idempotent, ends every reader, leaves every group it joined and resolves once
 * the port is released.
 *
 * Reading follows consumption: the socket reads from the kernel only while something consumes (a
 * `'message'` or `'batch'` listener, a pending `receive()`, an iteration waiting for its next
 * step). Until then datagrams wait in the kernel's receive queue, as with any socket.
 *
 * What it does not do: parse RTP, pace, or retransmit. It moves datagrams.
 *
 * @module
 */
import type * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';

import { classifyAddress } from '../address.js';
import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  SocketClosedError,
} from '../errors.js';
import type { SystemCallError } from '../errors.js';
import { findInterface, interfaceAddress } from '../interfaces.js';
import type { InterfaceSpec } from '../interfaces.js';
import type { InterfaceSelection, Membership } from '../multicast.js';
import { SocketMemberships } from '../socket-memberships.js';
import { ifNameToIndex } from '../options.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateDscp,
  validateInteger,
  validateOptionsObject,
  validatePort,
  validateTtl,
} from '../validate.js';
import { noSourceAddress } from './batch-engine.js';
import type { BatchCapabilities, DatagramBatch, DatagramBatchView } from './batch-engine.js';
import type { Destination } from './destination.js';
import type { BatchSendResult, DatagramEngine } from './engine.js';
import { toDestination } from './destination.js';
import { assertFactory, kFactory } from '../internal/factory-only.js';
import { openEngine } from './open.js';
import { adoptDescriptor, adoptDgramSocket, checkAdoptOptions } from './adopt.js';
import type { Adopted, AdoptOptions } from './adopt.js';
import { Reception } from './reception.js';
import { isDatagramBatchView, planSend } from './send-plan.js';
import type { DatagramTrain, OutgoingDatagram } from './send-plan.js';
import { bufferRequest, checkOptions } from './socket-options.js';
import type {
  Datagram,
  SendOptions,
  UdpAddress,
  UdpSocketOptions,
  UdpSocketStats,
  UdpSocketType,
} from './socket-options.js';

export type { BatchCapabilities, DatagramBatch, DatagramBatchView } from './batch-engine.js';
export type { BatchSendResult } from './engine.js';
export type { AdoptOptions } from './adopt.js';
export type { DatagramTrain, OutgoingDatagram } from './send-plan.js';
export type {
  BatchOptions,
  Datagram,
  SendOptions,
  UdpAddress,
  UdpEngine,
  UdpSocketOptions,
  UdpSocketStats,
  UdpSocketType,
} from './socket-options.js';

const kDefaultReaderQueue = 4096;
const INT32_MAX = 0x7fffffff;

/** The events of a {@link UdpSocket}, with their arguments. */
export interface UdpSocketEvents {
  /** One datagram, as in `node:dgram` (a copy the listener may keep). */
  message: [data: Buffer, rinfo: dgram.RemoteInfo];
  /** Datagrams read in one go; see {@link DatagramBatch} (valid until the listener returns). */
  batch: [batch: DatagramBatch];
  /** A receive error the kernel reported (never fatal: see `UdpSocketStats.receiveErrors`). */
  error: [err: SystemCallError];
  /** The send queue has room again after a send waited for it. */
  drain: [];
  /**
   * A membership was joined again after its interface came back (see
   * {@link UdpSocket.addMembership}); counted in `UdpSocketStats.rejoins`.
   */
  rejoin: [membership: Membership];
  /**
   * A membership could not be joined again on an interface that came back; it is tried again on
   * the next interface poll. Counted in `UdpSocketStats.rejoinErrors` whether or not the socket
   * has a listener; emitted only when it has one (it is not an `'error'`: the socket still works).
   */
  rejoinError: [err: unknown, membership: Membership];
  /** The socket closed. */
  close: [];
}

/** Options of async iteration. */
export interface IterationOptions {
  /** Ends the iteration with `AbortError`. */
  signal?: AbortSignal;
}

/**
 * A UDP socket. Create and bind it with {@link UdpSocket.open}; see {@link UdpSocketEvents}.
 */
export class UdpSocket extends EventEmitter<UdpSocketEvents> {
  readonly #type: UdpSocketType;
  readonly #family: 4 | 6;
  readonly #engine: DatagramEngine;
  readonly #memberships: SocketMemberships;
  readonly #stats: UdpSocketStats = {
    packetsReceived: 0,
    bytesReceived: 0,
    packetsSent: 0,
    bytesSent: 0,
    sendErrors: 0,
    receiveErrors: 0,
    readerDrops: 0,
    kernelDrops: 0,
    truncated: 0,
    rejoins: 0,
    rejoinErrors: 0,
  };
  readonly #reception: Reception;
  readonly #address: UdpAddress;
  #peer: Destination | undefined;
  /** A {@link connect} is waiting for the kernel (a second one is refused meanwhile). */
  #connecting = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #ttl: number | undefined;
  #multicastTtl: number | undefined;
  #recvBufferBytes: number;
  #sendBufferBytes: number;
  #lastReceiveError: SystemCallError | undefined;
  #lastDestination: Destination | undefined;
  /** An error that stopped a `trySendBatch` after some datagrams went; thrown by the next one. */
  #trySendError: SystemCallError | undefined;

  private constructor(
    token: symbol,
    type: UdpSocketType,
    engine: DatagramEngine,
    queueLimit: number,
  ) {
    assertFactory(token, 'UdpSocket', 'UdpSocket.open()');
    super();
    this.#type = type;
    this.#family = type === 'udp4' ? 4 : 6;
    this.#engine = engine;
    this.#reception = new Reception(
      engine,
      {
        emitMessage: (data, rinfo) => this.emit('message', data, rinfo),
        emitBatch: (batch) => this.emit('batch', batch),
      },
      queueLimit,
    );
    this.#memberships = new SocketMemberships(this.#family, engine, {
      rejoin: (m) => {
        this.#stats.rejoins++;
        this.emit('rejoin', m);
      },
      rejoinError: (err, m) => {
        this.#stats.rejoinErrors++;
        if (this.listenerCount('rejoinError') > 0) this.emit('rejoinError', err, m);
      },
    });
    const local = engine.localAddress();
    this.#address = { address: local.address, port: local.port, family: this.#family };
    this.#recvBufferBytes = engine.getOption('SO_RCVBUF') ?? 0;
    this.#sendBufferBytes = engine.getOption('SO_SNDBUF') ?? 0;
    engine.attach({
      batch: (batch) => this.#reception.deliver(batch),
      error: (err) => this.#onError(err),
      drain: () => this.emit('drain'),
    });
    // 'newListener' fires before the listener is added, 'removeListener' after it is removed.
    const emitter = this as EventEmitter;
    emitter.on('newListener', (event: string | symbol) => {
      // A 'message' carries its source: refused (thrown by on()) when there is none.
      if (event === 'message' && !engine.sourceAddresses) throw noSourceAddress();
      if (event === 'message' || event === 'batch') this.#countListeners(event);
    });
    emitter.on('removeListener', (event: string | symbol) => {
      if (event === 'message' || event === 'batch') this.#countListeners();
    });
  }

  /**
   * Creates a UDP socket, applies its options and binds it.
   *
   * @throws InvalidArgumentError for a malformed option, before any system call.
   * @throws NotSupportedError for an option this platform, Node version or a missing addon cannot set.
   * @throws SystemCallError when a system call fails (`EADDRINUSE` …); the socket is closed again.
   * @throws AbortError when `signal` aborts before the socket is ready; the socket is closed again.
   */
  static async open(options: UdpSocketOptions): Promise<UdpSocket> {
    const o = checkOptions(options);
    if (o.signal?.aborted) throw new AbortError('UdpSocket.open', o.signal.reason);
    const engine = await openEngine(o);
    const udp = new UdpSocket(kFactory, o.type, engine, o.readerQueueLength ?? kDefaultReaderQueue);
    try {
      udp.#applyAfterBind(o);
      // An abort right after the call (in the same tick) still counts.
      await Promise.resolve();
      if (o.signal?.aborted) throw new AbortError('UdpSocket.open', o.signal.reason);
    } catch (err) {
      await udp.close().catch(() => undefined);
      throw err;
    }
    return udp;
  }

  /**
   * Takes over a bound UDP socket made elsewhere, by its descriptor: one a parent process passed
   * (`stdio` inheritance, `SCM_RIGHTS`), systemd socket activation (`LISTEN_FDS`, from fd 3), or
   * Go's `FromConns` counterpart. The addon reads what it is (`SO_TYPE`, `getsockname`), makes it
   * non-blocking and close-on-exec, and either engine runs on it (`options.engine`, default the
   * batch engine where it runs). Options already set stay and read back from the kernel
   * (`recvBufferBytes`, `getTTL()`, `getMulticastTTL()`); groups joined before are not known
   * and are not left at close (the kernel leaves them when the descriptor closes); groups joined
   * from now on are bookkept as usual. The `UdpSocket` owns the descriptor from then on:
   * `close()` closes it. A connected descriptor keeps its peer (`remoteAddress()`, `send(data)`).
   * Platforms: Linux, macOS, FreeBSD (the batch engine: Linux); needs the native addon.
   *
   * @throws InvalidArgumentError for a descriptor that is not a bound UDP socket of IPv4 or IPv6
   *   (a TCP or Unix socket, a file); it is left as it was.
   * @throws SystemCallError for `EBADF` (not open) or `ENOTSOCK`.
   * @throws NativeUnavailableError without the addon.
   */
  static async adopt(fd: number, options: AdoptOptions = {}): Promise<UdpSocket> {
    const o = checkAdoptOptions(options);
    return UdpSocket.#adopted(adoptDescriptor(fd, o), o);
  }

  /**
   * Takes over a bound `dgram.Socket` (made by another module): the node engine runs on its
   * handle, and with the addon options go to its descriptor. As {@link adopt} for options and
   * memberships. Use the socket only through the `UdpSocket` from then on (its `'message'`
   * events come as this socket's); `close()` closes it.
   *
   * @throws InvalidArgumentError for something else than a `dgram.Socket`.
   * @throws InvalidStateError for a socket that is not bound yet or already closed.
   * @throws NotSupportedError for `engine: 'batch'` (libuv owns the descriptor).
   */
  static async fromDgramSocket(
    socket: dgram.Socket,
    options: AdoptOptions = {},
  ): Promise<UdpSocket> {
    const o = checkAdoptOptions(options);
    return UdpSocket.#adopted(adoptDgramSocket(socket, o), o);
  }

  /** The `UdpSocket` of an adopted engine; a connected socket keeps its peer. */
  static async #adopted(adopted: Adopted, o: AdoptOptions): Promise<UdpSocket> {
    const { engine, type, peer, reconnect } = adopted;
    const udp = new UdpSocket(kFactory, type, engine, o.readerQueueLength ?? kDefaultReaderQueue);
    if (peer === undefined) return udp;
    try {
      const to = toDestination(udp.#family, peer.port, peer.address, 'peer');
      // connect(2) again to the same peer: the engine learns it, the kernel's association stays.
      if (reconnect) await engine.connect(to);
      udp.#peer = to;
    } catch (err) {
      await udp.close().catch(() => undefined);
      throw err;
    }
    return udp;
  }

  #applyAfterBind(o: UdpSocketOptions): void {
    if (o.ttl !== undefined) this.setTTL(o.ttl);
    if (o.multicastTtl !== undefined) this.setMulticastTTL(o.multicastTtl);
    if (o.multicastLoopback !== undefined) this.setMulticastLoopback(o.multicastLoopback);
    if (o.multicastInterface !== undefined) this.setMulticastInterface(o.multicastInterface);
    if (o.broadcast !== undefined) this.setBroadcast(o.broadcast);
  }

  /** `'udp4'` or `'udp6'`. */
  get type(): UdpSocketType {
    return this.#type;
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The engine in use: `'batch'` or `'node'` (see `UdpEngine`). */
  get engine(): 'batch' | 'node' {
    return this.#engine.name;
  }

  /** Counters; a snapshot. `kernelDrops` is read from the kernel each time (`SO_MEMINFO` or `/proc/net/udp`). */
  get stats(): Readonly<UdpSocketStats> {
    if (!this.#closed) {
      this.#stats.kernelDrops = this.#engine.kernelDrops();
      this.#stats.truncated = this.#engine.truncated();
    }
    const reception = this.#reception;
    return {
      ...this.#stats,
      packetsReceived: reception.packets,
      bytesReceived: reception.bytes,
      readerDrops: reception.drops,
    };
  }

  /** The last receive error the kernel reported (see `UdpSocketStats.receiveErrors`). */
  get lastReceiveError(): SystemCallError | undefined {
    return this.#lastReceiveError;
  }

  /**
   * Kernel features the socket uses, probed once at open: `gso` (`UDP_SEGMENT`), `gro` (`UDP_GRO`),
   * `recvmmsg`, `sendmmsg`, `pktinfo`, `timestamps`. All `false` on the node engine. GSO turns off
   * for good when the kernel answers a GSO send with `EIO`/`EINVAL`.
   * Platforms: Linux (batch engine).
   */
  get capabilities(): Readonly<BatchCapabilities> {
    return this.#engine.capabilities();
  }

  /** The effective `SO_RCVBUF` as the kernel reports it (Linux reports double the request). */
  get recvBufferBytes(): number {
    return this.#recvBufferBytes;
  }

  /** The effective `SO_SNDBUF` as the kernel reports it. */
  get sendBufferBytes(): number {
    return this.#sendBufferBytes;
  }

  /** The file descriptor when the native addon created it, else `undefined`. */
  get fd(): number | undefined {
    return this.#engine.fd;
  }

  /** The local address, as `dgram.Socket#address()`. */
  address(): UdpAddress {
    this.#assertOpen('address');
    return { ...this.#address };
  }

  /** The connected peer, as `dgram.Socket#remoteAddress()`. */
  remoteAddress(): UdpAddress {
    this.#assertOpen('remoteAddress');
    if (this.#peer === undefined)
      throw new InvalidStateError('remoteAddress: the socket is not connected');
    return { address: this.#peer.address, port: this.#peer.port, family: this.#family };
  }

  /**
   * Associates the socket with one peer (`connect(2)`): `send()` then needs no destination, and
   * only that peer's datagrams are received. A link-local IPv6 peer carries its zone (`%eth0`).
   *
   * @throws InvalidStateError when the socket is connected already, or while another `connect`
   *   of it is in progress.
   */
  async connect(
    port: number,
    address: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#assertOpen('connect');
    validateOptionsObject(options);
    validatePort(port, 'port');
    validateAbortSignal(options.signal, 'signal');
    const peer = toDestination(this.#family, port, address, 'address');
    if (this.#peer !== undefined)
      throw new InvalidStateError('connect: the socket is already connected; disconnect() first');
    if (this.#connecting)
      throw new InvalidStateError('connect: a connect() of this socket is still in progress');
    const signal = options.signal;
    if (signal?.aborted) throw new AbortError('UdpSocket.connect', signal.reason);
    this.#connecting = true;
    try {
      // An abort cannot stop a connect(2) in flight: wait for it, then undo it, so the socket's
      // state never disagrees with the kernel's.
      await this.#engine.connect(peer);
      if (signal?.aborted) {
        await this.#engine.connect(undefined);
        throw new AbortError('UdpSocket.connect', signal.reason);
      }
    } finally {
      this.#connecting = false;
    }
    this.#peer = peer;
  }

  /** Dissolves the association made by {@link connect}. */
  disconnect(): void {
    this.#assertOpen('disconnect');
    if (this.#peer === undefined)
      throw new InvalidStateError('disconnect: the socket is not connected');
    void this.#engine.connect(undefined);
    this.#peer = undefined;
  }

  /**
   * Sends one datagram. On a connected socket omit `port` and `address`.
   *
   * @returns the number of bytes sent.
   * @throws SocketClosedError on a closed socket; InvalidArgumentError for a bad destination or TTL;
   *   SystemCallError when the kernel refuses the send (`EMSGSIZE`, `ENETUNREACH` …).
   */
  async send(
    data: Uint8Array | string,
    port?: number,
    address?: string,
    options: SendOptions = {},
  ): Promise<number> {
    this.#assertOpen('send');
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(payload instanceof Uint8Array))
      throw new InvalidArgumentError('data', data, 'must be a Buffer, a Uint8Array or a string');
    validateOptionsObject(options);
    const to = this.#resolve(port, address, 'address');
    const ttl = options.ttl;
    if (ttl !== undefined) {
      validateTtl(ttl, 'ttl');
      if (ttl === 0 && !classifyAddress((to ?? this.#peer!).literal).multicast)
        throw new InvalidArgumentError(
          'ttl',
          0,
          'must be in 1..255 for a unicast destination (0 applies to multicast only)',
        );
    }
    try {
      const bytes = await this.#engine.send(payload, to, ttl);
      this.#stats.packetsSent++;
      this.#stats.bytesSent += bytes;
      return bytes;
    } catch (err) {
      this.#stats.sendErrors++;
      throw err;
    }
  }

  /**
   * Sends many datagrams with as few system calls as the engine can: `sendmmsg(2)`, and UDP GSO
   * (`UDP_SEGMENT`) for runs of equal-size datagrams to one destination, on the batch engine; one
   * `send` per datagram on the node engine. Takes an array of payloads / {@link OutgoingDatagram}s
   * (destination per datagram, else `port`/`address` of the call, else the connected peer), one
   * {@link DatagramTrain}, or a {@link DatagramBatchView} such as a received batch, sent as it is
   * (a relay forwards what it received without a copy).
   *
   * A full send queue is backpressure, never loss: the promise resolves once every datagram went
   * out, waiting for room (POLLOUT; `'drain'` is emitted then) as often as needed. Sends keep their
   * order. Do not change the buffers until the promise settles (the batch engine copies what has to
   * wait, so a received batch may be forwarded from inside its listener).
   *
   * Platforms: GSO on Linux >= 4.18 (see {@link capabilities}); elsewhere one datagram per message.
   *
   * @returns `{ sent, bytes }`, and `error` when the kernel refused a datagram after some were
   *   sent (`sent` says how many went; the rest did not), as libuv's `uv_udp_try_send2`.
   * @throws InvalidArgumentError for a malformed batch, before any system call.
   * @throws SystemCallError when the first datagram fails (`EMSGSIZE`, `ENETUNREACH` …).
   */
  async sendBatch(
    datagrams: readonly (Uint8Array | OutgoingDatagram)[] | DatagramTrain | DatagramBatchView,
    port?: number,
    address?: string,
  ): Promise<BatchSendResult> {
    this.#assertOpen('sendBatch');
    if (isDatagramBatchView(datagrams)) return this.#sendView(datagrams, port, address);
    const plan = planSend(datagrams, port, address, (p, a, argument) =>
      this.#resolve(p, a, `${argument}.address`),
    );
    if (plan.length === 0) return { sent: 0, bytes: 0 };
    let result: BatchSendResult;
    try {
      result = await this.#engine.sendBatch(plan);
    } catch (err) {
      this.#stats.sendErrors++;
      throw err;
    }
    this.#stats.packetsSent += result.sent;
    this.#stats.bytesSent += result.bytes;
    if (result.error) this.#stats.sendErrors++;
    return result;
  }

  /**
   * Sends the datagrams of a {@link DatagramBatchView} (a received batch, say) synchronously: what
   * the kernel's send queue takes now, in order, one message per datagram, without waiting,
   * queueing or copying, as libuv's `uv_udp_try_send2` and quinn-udp's `try_send` do. Returns the
   * number of datagrams sent, from the first on; the caller sends the rest (`view.count` minus
   * that) with {@link sendBatch}, which waits for room. Allocates nothing on the batch engine:
   * the relay's fast path.
   *
   * - Fewer than `view.count`: the send queue is full (`EAGAIN`/`ENOBUFS`), or the kernel refused
   *   a datagram after some were sent (see below).
   * - 0 while sends made with {@link send} / {@link sendBatch} still wait in this socket's queue:
   *   sending now would overtake them.
   * - On the node engine (`node:dgram` has no synchronous send) always 0: every datagram goes with
   *   {@link sendBatch}.
   *
   * Errors: when the first datagram is refused it throws what {@link sendBatch} would reject with
   * (`SystemCallError`: `EMSGSIZE`, `ENETUNREACH` …). When a datagram is refused after `k > 0`
   * went, it returns `k` and keeps the error: the next `trySendBatch` on this socket throws it
   * before sending anything (nothing is swallowed; a refusal the kernel repeats also comes back
   * from {@link sendBatch} of the rest). Statistics count as {@link sendBatch} counts them:
   * `packetsSent`/`bytesSent` for what went, one `sendErrors` per call the kernel refused (the
   * deferred throw is not counted twice).
   *
   * OS calls: `sendmmsg(2)` with `MSG_DONTWAIT` (one `sendmsg(2)` per datagram where the kernel
   * lacks `sendmmsg`). Platforms: Linux with the native addon (the batch engine); elsewhere 0.
   *
   * @returns datagrams sent, `0 <= n <= view.count`.
   * @throws SocketClosedError on a closed socket; InvalidArgumentError for something that is not a
   *   view or a bad destination; InvalidStateError without a destination on an unconnected socket.
   */
  trySendBatch(view: DatagramBatchView, port?: number, address?: string): number {
    this.#assertOpen('trySendBatch');
    if (!isDatagramBatchView(view))
      throw new InvalidArgumentError(
        'view',
        view,
        'must be a DatagramBatchView ({ count, data, offset(i), length(i) })',
      );
    const count = view.count;
    if (!Number.isInteger(count) || count < 0)
      throw new InvalidArgumentError('view.count', count, 'must be an integer >= 0');
    const to = this.#resolve(port, address, 'address');
    const deferred = this.#trySendError;
    if (deferred !== undefined) {
      this.#trySendError = undefined;
      throw deferred;
    }
    if (count === 0) return 0;
    let sent: number;
    try {
      sent = this.#engine.trySendView(view, to);
    } catch (err) {
      this.#stats.sendErrors++;
      throw err;
    }
    if (sent > 0) {
      let bytes = 0;
      for (let i = 0; i < sent; i++) bytes += view.length(i);
      this.#stats.packetsSent += sent;
      this.#stats.bytesSent += bytes;
    }
    if (sent < count) {
      const err = this.#engine.takeTrySendError();
      if (err !== undefined) {
        this.#stats.sendErrors++;
        this.#trySendError = err;
      }
    }
    return sent;
  }

  /** A batch view as it is: one message per datagram, no copy (the batch engine copies what waits). */
  #sendView(
    view: DatagramBatchView,
    port: number | undefined,
    address: string | undefined,
  ): Promise<BatchSendResult> {
    const to = this.#resolve(port, address, 'address');
    if (view.count === 0) return Promise.resolve({ sent: 0, bytes: 0 });
    // A relay's hot path: one promise per call, no async frame around it.
    return this.#engine.sendView(view, to).then(this.#countSent, this.#countFailed);
  }

  readonly #countSent = (result: BatchSendResult): BatchSendResult => {
    this.#stats.packetsSent += result.sent;
    this.#stats.bytesSent += result.bytes;
    if (result.error) this.#stats.sendErrors++;
    return result;
  };

  readonly #countFailed = (err: unknown): never => {
    this.#stats.sendErrors++;
    throw err;
  };

  /** The destination of a send: `undefined` for the connected peer. */
  #resolve(
    port: number | undefined,
    address: string | undefined,
    argument: string,
  ): Destination | undefined {
    if (this.#peer !== undefined) {
      if (port !== undefined || address !== undefined)
        throw new InvalidArgumentError(
          argument.replace(/address$/, 'port'),
          port,
          'must be omitted on a connected socket (it sends to its peer)',
        );
      return undefined;
    }
    if (port === undefined || address === undefined)
      throw new InvalidStateError(
        'send: the socket is not connected, so port and address are required',
      );
    const last = this.#lastDestination;
    if (last !== undefined && last.address === address && last.port === port) return last;
    validatePort(port, argument.replace(/address$/, 'port'));
    const to = toDestination(this.#family, port, address, argument);
    this.#lastDestination = to;
    return to;
  }

  // --- SOL_SOCKET options ---------------------------------------------------------------------

  /** Sets `SO_BROADCAST`. */
  setBroadcast(on: boolean): void {
    this.#assertOpen('setBroadcast');
    validateBoolean(on, 'on');
    this.#engine.setOption('SO_BROADCAST', on);
  }

  /**
   * Sets `SO_RCVBUF`, never failing because the kernel clamped it to `net.core.rmem_max`; returns
   * the effective size the kernel reports. To go past `rmem_max`, give `recvBufferBytes` to
   * {@link UdpSocket.open}: with the addon and CAP_NET_ADMIN it uses `SO_RCVBUFFORCE` before bind.
   */
  setRecvBufferSize(bytes: number | 'max'): number {
    this.#assertOpen('setRecvBufferSize');
    const request = bufferRequest(bytes, 'rmem_max');
    validateInteger(request, 'bytes', 1, INT32_MAX);
    this.#engine.setOption('SO_RCVBUF', request);
    this.#recvBufferBytes = this.#engine.getOption('SO_RCVBUF') ?? request;
    return this.#recvBufferBytes;
  }

  /** Sets `SO_SNDBUF`; as {@link setRecvBufferSize}. */
  setSendBufferSize(bytes: number | 'max'): number {
    this.#assertOpen('setSendBufferSize');
    const request = bufferRequest(bytes, 'wmem_max');
    validateInteger(request, 'bytes', 1, INT32_MAX);
    this.#engine.setOption('SO_SNDBUF', request);
    this.#sendBufferBytes = this.#engine.getOption('SO_SNDBUF') ?? request;
    return this.#sendBufferBytes;
  }

  // --- IPPROTO_IP / IPPROTO_IPV6 options ------------------------------------------------------

  /** Sets the unicast TTL (`IP_TTL`) or hop limit (`IPV6_UNICAST_HOPS`), 1..255. */
  setTTL(ttl: number): void {
    this.#assertOpen('setTTL');
    validateInteger(ttl, 'ttl', 1, 255);
    this.#engine.setOption(this.#family === 4 ? 'IP_TTL' : 'IPV6_UNICAST_HOPS', ttl);
    this.#ttl = ttl;
  }

  /** The unicast TTL set with {@link setTTL}, else as the kernel reports it (or the system default). */
  getTTL(): number {
    this.#assertOpen('getTTL');
    if (this.#ttl !== undefined) return this.#ttl;
    const option = this.#family === 4 ? 'IP_TTL' : 'IPV6_UNICAST_HOPS';
    return this.#engine.getOption(option) ?? 64;
  }

  /** Sets `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`, 0..255 (0 keeps datagrams on this host). */
  setMulticastTTL(ttl: number): void {
    this.#assertOpen('setMulticastTTL');
    validateTtl(ttl, 'ttl');
    this.#engine.setOption(this.#family === 4 ? 'IP_MULTICAST_TTL' : 'IPV6_MULTICAST_HOPS', ttl);
    this.#multicastTtl = ttl;
  }

  /**
   * The multicast TTL set with {@link setMulticastTTL}, else as the kernel reports it (an adopted
   * socket keeps what its maker set), else the default 1.
   */
  getMulticastTTL(): number {
    this.#assertOpen('getMulticastTTL');
    if (this.#multicastTtl !== undefined) return this.#multicastTtl;
    const option = this.#family === 4 ? 'IP_MULTICAST_TTL' : 'IPV6_MULTICAST_HOPS';
    return this.#engine.getOption(option) ?? 1;
  }

  /** Sets `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`. */
  setMulticastLoopback(on: boolean): void {
    this.#assertOpen('setMulticastLoopback');
    validateBoolean(on, 'on');
    this.#engine.setOption(this.#family === 4 ? 'IP_MULTICAST_LOOP' : 'IPV6_MULTICAST_LOOP', on);
  }

  /**
   * Sets the egress interface of multicast sends (`IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`) by name,
   * index or address.
   */
  setMulticastInterface(iface: InterfaceSpec): void {
    this.#assertOpen('setMulticastInterface');
    const info = findInterface(iface);
    if (this.#family === 4) this.#engine.setOption('IP_MULTICAST_IF', interfaceAddress(info, 4));
    else this.#engine.setOption('IPV6_MULTICAST_IF', info.index ?? ifNameToIndex(info.name));
  }

  /**
   * Sets DSCP (0..63) as `IP_TOS` / `IPV6_TCLASS` = `dscp << 2`. Needs the native addon.
   * Platforms: Linux, macOS, FreeBSD.
   */
  setDSCP(dscp: number): void {
    this.#assertOpen('setDSCP');
    validateDscp(dscp, 'dscp');
    this.#engine.setOption(this.#family === 4 ? 'IP_TOS' : 'IPV6_TCLASS', dscp << 2);
  }

  // --- Multicast membership -------------------------------------------------------------------

  /**
   * Joins the any-source group on the given interfaces (`IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP`,
   * or `MCAST_JOIN_GROUP` by index with the addon). With no interface the kernel picks one from
   * its routing table.
   *
   * A membership given by interface name (not index or address) is joined again when that
   * interface goes away or down and comes back, also re-created with a new index or with a new
   * address: `'rejoin'` is emitted and `stats.rejoins` counts it (an interface poll every 500 ms
   * while such memberships exist; see docs/multicast.md). The same holds for the source-filtered
   * joins below.
   *
   * @throws InvalidArgumentError for a unicast group, a group of the other family, an unknown interface.
   * @throws SystemCallError when the kernel refuses (`EADDRINUSE` for a second join of the same group,
   *   `ENOBUFS` past `igmp_max_memberships`).
   */
  addMembership(group: string, iface?: InterfaceSelection): Membership[] {
    this.#assertOpen('addMembership');
    return this.#memberships.add(group, iface);
  }

  /** Leaves an any-source group joined with {@link addMembership}. */
  dropMembership(group: string, iface?: InterfaceSelection): void {
    this.#assertOpen('dropMembership');
    this.#memberships.drop(group, iface);
  }

  /**
   * Joins `group` for datagrams from `source` only (include mode: `IP_ADD_SOURCE_MEMBERSHIP` /
   * `MCAST_JOIN_SOURCE_GROUP`, RFC 3678), IPv4 and IPv6. In the SSM range (232.0.0.0/8,
   * ff3x::/96) this is RFC 4607's channel; on any other group it is an IGMPv3/MLDv2 INCLUDE filter,
   * as IPTV networks use on 239/8. Call once per source to include several.
   */
  addSourceSpecificMembership(
    source: string,
    group: string,
    iface?: InterfaceSelection,
  ): Membership[] {
    this.#assertOpen('addSourceSpecificMembership');
    return this.#memberships.addSourceSpecific(source, group, iface);
  }

  /** Leaves a channel joined with {@link addSourceSpecificMembership}. */
  dropSourceSpecificMembership(source: string, group: string, iface?: InterfaceSelection): void {
    this.#assertOpen('dropSourceSpecificMembership');
    this.#memberships.dropSourceSpecific(source, group, iface);
  }

  /**
   * Blocks `source` on the any-source membership of `group` (exclude mode: every source but the
   * blocked ones; `MCAST_BLOCK_SOURCE`, RFC 3678, what FFmpeg's `block=` sets with
   * `IP_BLOCK_SOURCE`). Join the group with {@link addMembership} first, on the same interfaces.
   * Platforms: Linux, macOS, FreeBSD; needs the native addon (`node:dgram` has no such call).
   *
   * @throws InvalidArgumentError for a bad group or source, an unknown interface.
   * @throws InvalidStateError when the group is not joined on an interface, or the source is
   *   already blocked there.
   * @throws NativeUnavailableError on the node engine without the addon.
   * @throws SystemCallError when the kernel refuses (`ENOBUFS` past `igmp_max_msf`).
   */
  blockSource(source: string, group: string, iface?: InterfaceSelection): Membership[] {
    this.#assertOpen('blockSource');
    return this.#memberships.filter('block', source, group, iface);
  }

  /** Lets `source` through again on `group` (`MCAST_UNBLOCK_SOURCE`); see {@link blockSource}. */
  unblockSource(source: string, group: string, iface?: InterfaceSelection): Membership[] {
    this.#assertOpen('unblockSource');
    return this.#memberships.filter('unblock', source, group, iface);
  }

  /**
   * Joins `group` with a source filter in one call: `{ mode: 'include', sources }` joins for those
   * sources only (one {@link addSourceSpecificMembership} each), `{ mode: 'exclude', sources }`
   * joins for every source but those ({@link addMembership}, then {@link blockSource} each). All
   * or nothing: when a step fails, what this call did is undone before the error is thrown.
   * Returns the memberships it made (with their blocked sources, in exclude mode).
   * Mirrors `setsourcefilter(3)` (RFC 3678) in effect, through the per-source calls every kernel
   * has.
   */
  addSourceFilteredMembership(
    group: string,
    filter: { mode: 'include' | 'exclude'; sources: readonly string[] },
    iface?: InterfaceSelection,
  ): Membership[] {
    this.#assertOpen('addSourceFilteredMembership');
    return this.#memberships.addSourceFiltered(group, filter, iface);
  }

  /** The memberships the socket holds now. */
  memberships(): Membership[] {
    return this.#memberships.list();
  }

  // --- Receiving ------------------------------------------------------------------------------

  /**
   * Resolves with the next datagram. The socket reads from the kernel while a `receive()` waits;
   * what one read brings beyond the first datagram is kept for the next calls.
   *
   * @throws SocketClosedError when the socket is closed, including while waiting.
   * @throws AbortError when `signal` aborts while waiting.
   * @throws InvalidStateError on a socket opened with `batch: { sourceAddress: false }`.
   */
  async receive(options: { signal?: AbortSignal } = {}): Promise<Datagram> {
    validateOptionsObject(options);
    validateAbortSignal(options.signal, 'signal');
    if (this.#closed) throw new SocketClosedError('receive');
    if (!this.#engine.sourceAddresses) throw noSourceAddress();
    const datagram = await this.#reception.next(options.signal, 'UdpSocket.receive');
    if (datagram === undefined) throw new SocketClosedError('receive');
    return datagram;
  }

  /**
   * Async iteration over received datagrams; ends (normally) when the socket closes, and with
   * `AbortError` when `signal` aborts. While the iteration runs, every datagram the socket reads
   * is kept for it (up to `readerQueueLength`).
   *
   * @throws InvalidStateError on a socket opened with `batch: { sourceAddress: false }`.
   */
  datagrams(options: IterationOptions = {}): AsyncGenerator<Datagram, void, undefined> {
    validateOptionsObject(options);
    validateAbortSignal(options.signal, 'signal');
    if (!this.#engine.sourceAddresses) throw noSourceAddress();
    return this.#reception.datagrams(options.signal);
  }

  /** `for await (const d of socket)`: {@link datagrams} without options. */
  [Symbol.asyncIterator](): AsyncGenerator<Datagram, void, undefined> {
    return this.datagrams();
  }

  /**
   * Async iteration over batches (see {@link DatagramBatch}), without a copy. While the loop body
   * runs the socket does not read (the kernel's queue holds what arrives), so a batch stays valid
   * until the next step of the loop. Ends (normally) when the socket closes, and with `AbortError`
   * when `signal` aborts. On the node engine each batch holds one datagram.
   */
  batches(options: IterationOptions = {}): AsyncGenerator<DatagramBatch, void, undefined> {
    validateOptionsObject(options);
    validateAbortSignal(options.signal, 'signal');
    return this.#reception.batches(options.signal);
  }

  /** Tells reception how many listeners consume; `coming` is one about to be added. */
  #countListeners(coming?: 'message' | 'batch'): void {
    this.#reception.listeners(
      this.listenerCount('message') + (coming === 'message' ? 1 : 0),
      this.listenerCount('batch') + (coming === 'batch' ? 1 : 0),
    );
  }

  #onError(err: SystemCallError): void {
    this.#stats.receiveErrors++;
    this.#lastReceiveError = err;
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // --- Lifecycle ------------------------------------------------------------------------------

  /** Keeps the process alive while the socket is open (the default), as `dgram.Socket#ref`. */
  ref(): this {
    if (!this.#closed) this.#engine.ref(true);
    return this;
  }

  /** Lets the process exit while the socket is open, as `dgram.Socket#unref`. */
  unref(): this {
    if (!this.#closed) this.#engine.ref(false);
    return this;
  }

  /**
   * Closes the socket: leaves every group it joined, ends every reader (`receive()` rejects with
   * `SocketClosedError`, iterations end), and resolves once the fd is closed and the port
   * released. Idempotent: a second call returns the same promise. Rejects (after closing) with the
   * error of a group leave that failed, or an `AggregateError` of several.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    void this.stats; // the last kernel drop count, read while the socket still exists
    this.#closed = true;
    this.#reception.stop();
    const leaveErrors = this.#memberships.close();
    this.#closing = (async () => {
      await this.#engine.close();
      // Readers are woken once the fd is closed and the port free.
      this.#reception.end();
      this.emit('close');
      if (leaveErrors.length === 1) throw leaveErrors[0];
      if (leaveErrors.length > 1)
        throw new AggregateError(leaveErrors, 'leaving multicast groups at close failed');
    })();
    return this.#closing;
  }

  /** `await using socket = await UdpSocket.open(…)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new SocketClosedError(operation);
  }
}
