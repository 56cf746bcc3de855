/**
 * `UdpSocket`: a UDP socket for media, IPv4 or IPv6, on Node's own `node:dgram` engine.
 *
 * What it adds to `node:dgram`: promises and an `AbortSignal` on open, bind and connect; datagrams
 * as `'message'` events and as async iteration; a per-send TTL; receive and send buffers raised
 * toward the kernel's maximum with the effective size reported; reuse address, reuse port, and an
 * exclusive no-reuse mode for port probing; multicast membership bookkeeping (any-source and
 * source-specific, IPv4 and IPv6, on interfaces given by name, index or address); statistics;
 * and a `close()` that is idempotent, wakes every pending reader with `SocketClosedError`, leaves
 * every group it joined and resolves once the port is released.
 *
 * With the native addon loaded, the socket's fd is created and configured by the addon before bind
 * (reuse port on Node 20, `IP_MULTICAST_ALL` off, DSCP, bind to device, forced buffer sizes) and
 * then adopted by `node:dgram` with `bind({ fd })`. Without it every option Node cannot set throws
 * `NotSupportedError` naming the option; nothing is silently ignored.
 *
 * What it does not do: parse RTP, pace, or retransmit. It moves datagrams.
 *
 * @module
 */
import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';

import { addressFamily, classifyAddress, splitZone } from '../address.js';
import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  NotSupportedError,
  SocketClosedError,
  SystemCallError,
} from '../errors.js';
import { MembershipTable } from '../multicast.js';
import type { InterfaceSelection, Membership } from '../multicast.js';
import type { InterfaceSpec } from '../interfaces.js';
import { findInterface, interfaceAddress } from '../interfaces.js';
import { loadNative, nativeStatus } from '../native/index.js';
import type { NativeBinding, NativeUdpSocketOptions } from '../native/binding.js';
import { getSocketOption, ifNameToIndex, setSocketOption } from '../options.js';
import { hasBatchEngine, SingleBatch } from './batch-engine.js';
import type { BatchCapabilities, DatagramBatch } from './batch-engine.js';
import { BatchSocket } from './batch-socket.js';
import { KernelDrops } from './kernel-drops.js';
import type { BatchSendResult } from './batch-socket.js';

export type { BatchCapabilities, DatagramBatch } from './batch-engine.js';
export type { BatchSendResult } from './batch-socket.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateByteCount,
  validateDscp,
  validateInteger,
  validatePort,
  validateString,
  validateTtl,
} from '../validate.js';
import { nodeHasReusePort } from '../node-features.js';

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
  /** Receive calls per readable wake-up before other work gets the event loop, 1..65536. Default 16. */
  maxBatchesPerWake?: number;
}

/** One datagram of {@link UdpSocket.sendBatch}. */
export interface OutgoingDatagram {
  data: Uint8Array;
  /** Destination; omit both on a connected socket. */
  address?: string;
  port?: number;
}

/**
 * A train of datagrams in one buffer for {@link UdpSocket.sendBatch}: `buffer` cut into datagrams of
 * `segmentSize` bytes (the last may be shorter; sent with UDP GSO where the kernel has it), or into
 * consecutive datagrams of the given `lengths`.
 */
export interface DatagramTrain {
  buffer: Uint8Array;
  segmentSize?: number;
  lengths?: ArrayLike<number>;
  address?: string;
  port?: number;
}

/** How the socket shares its port with other sockets. */
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
  /** `SO_REUSEADDR`: share the port with other sockets that set it too (multicast receivers). Default `false`. */
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
   * How many datagrams async iteration and {@link UdpSocket.receive} keep while nobody reads.
   * Past it the oldest is dropped and counted in `stats.readerDrops`. Default 4096.
   */
  readerQueueLength?: number;
}

/** Options of one send. */
export interface SendOptions {
  /**
   * TTL of this datagram (`IP_MULTICAST_TTL` for a multicast destination, else `IP_TTL`; the IPv6
   * hop-limit twins on `udp6`). The socket's TTL is changed for this send and restored after.
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
  /** Datagrams received and handed to listeners or readers. */
  packetsReceived: number;
  /** Payload bytes received. */
  bytesReceived: number;
  /** Datagrams sent. */
  packetsSent: number;
  /** Payload bytes sent. */
  bytesSent: number;
  /** Sends that failed (each also rejected its promise). */
  sendErrors: number;
  /** Receive errors reported by the OS (each also emitted as `'error'`). */
  receiveErrors: number;
  /** Datagrams dropped because async readers did not keep up (see `readerQueueLength`). */
  readerDrops: number;
  /**
   * Datagrams the kernel dropped on this socket because its receive buffer was full: `SO_RXQ_OVFL`
   * on the batch engine, the `drops` column of `/proc/net/udp` on the node engine (read on each
   * access of `stats`). Platforms: Linux; `undefined` where the count cannot be had.
   */
  kernelDrops: number | undefined;
  /** Datagrams cut because they did not fit a batch slot (batch engine; flagged `truncated`). */
  truncated: number;
}

/** The `node:dgram` calls `UdpSocket` makes; the batch engine's {@link BatchSocket} has them too. */
interface DgramLike {
  address(): { address: string; port: number };
  remoteAddress(): { address: string; port: number };
  getRecvBufferSize(): number;
  getSendBufferSize(): number;
  setRecvBufferSize(bytes: number): void;
  setSendBufferSize(bytes: number): void;
  setTTL(ttl: number): unknown;
  setMulticastTTL(ttl: number): unknown;
  setMulticastLoopback(on: boolean): unknown;
  setMulticastInterface(iface: string): void;
  setBroadcast(on: boolean): void;
  connect(port: number, address: string, callback: (err?: Error) => void): void;
  disconnect(): void;
  close(): void;
  ref(): unknown;
  unref(): unknown;
  once(event: 'close', listener: () => void): unknown;
}

const kDefaultReaderQueue = 4096;

/** The address a UDP socket is bound to. */
export interface UdpAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

interface PendingRead {
  resolve(d: Datagram): void;
  reject(e: unknown): void;
  cleanup(): void;
}

/**
 * A UDP socket. Create and bind it with {@link UdpSocket.open}.
 *
 * Events: `'message'` `(data: Buffer, rinfo: dgram.RemoteInfo)` as in `node:dgram`; `'error'` for
 * receive errors reported by the OS; `'close'` once the socket is closed.
 */
export class UdpSocket extends EventEmitter {
  readonly #type: UdpSocketType;
  readonly #family: 4 | 6;
  readonly #socket: DgramLike;
  readonly #dgram: dgram.Socket | undefined;
  readonly #batch: BatchSocket | undefined;
  readonly #native: { binding: NativeBinding; fd: number } | undefined;
  readonly #memberships: MembershipTable;
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
  };
  #address: UdpAddress;
  #closed = false;
  #closing: Promise<void> | undefined;
  #connected = false;
  readonly #queueLimit: number;
  #queue: Datagram[] = [];
  #queueing = false;
  readonly #readers = new Set<PendingRead>();
  #ttlChain: Promise<unknown> = Promise.resolve();
  #recvBufferBytes: number;
  #sendBufferBytes: number;

  private constructor(
    type: UdpSocketType,
    socket: dgram.Socket | BatchSocket,
    native: { binding: NativeBinding; fd: number } | undefined,
    queueLimit: number,
  ) {
    super();
    this.#type = type;
    this.#family = type === 'udp4' ? 4 : 6;
    this.#socket = socket;
    this.#native = native;
    this.#queueLimit = queueLimit;
    // The table calls only the membership methods, which BatchSocket implements on its fd.
    this.#memberships = new MembershipTable(this.#family, socket as dgram.Socket, native);
    const a = socket.address();
    this.#address = { address: a.address, port: a.port, family: this.#family };
    this.#recvBufferBytes = socket.getRecvBufferSize();
    this.#sendBufferBytes = socket.getSendBufferSize();
    if (socket instanceof BatchSocket) {
      this.#batch = socket;
      socket.on('batch', (batch: DatagramBatch) => this.#onBatch(batch));
      socket.on('drain', () => this.emit('drain'));
    } else {
      this.#dgram = socket;
      socket.on('message', (data: Buffer, rinfo: dgram.RemoteInfo) => this.#onMessage(data, rinfo));
    }
    socket.on('error', (err: unknown) => {
      this.#stats.receiveErrors++;
      this.emit('error', SystemCallError.from(err, { syscall: 'recvmsg' }));
    });
  }

  /**
   * Creates a UDP socket, applies its options and binds it.
   *
   * @throws InvalidArgumentError for a malformed option, before any system call.
   * @throws NotSupportedError for an option this platform, Node version or a missing addon cannot set.
   * @throws SystemCallError when a system call fails (`EADDRINUSE` …); the socket is closed again.
   * @throws AbortError when `signal` aborts first; the socket is closed again.
   */
  static async open(options: UdpSocketOptions): Promise<UdpSocket> {
    const o = checkOptions(options);
    if (o.signal?.aborted) throw new AbortError('UdpSocket.open', o.signal.reason);
    const binding = loadNative();
    const family = o.type === 'udp4' ? 4 : 6;
    const address = o.address ?? (family === 4 ? '0.0.0.0' : '::');
    const port = o.port ?? 0;
    const recvBytes = bufferRequest(o.recvBufferBytes, 'rmem_max');
    const sendBytes = bufferRequest(o.sendBufferBytes, 'wmem_max');
    const nodeReusePort = nodeHasReusePort();
    const engine = o.engine ?? 'auto';
    const useBatch = engine === 'batch' || (engine === 'auto' && hasBatchEngine(binding));
    if (useBatch && !hasBatchEngine(binding)) {
      throw new NotSupportedError(
        "engine: 'batch'",
        binding === undefined
          ? (nativeStatus().loadError?.message ?? 'the native addon is not loaded')
          : `the batch engine needs Linux (this is ${process.platform})`,
      );
    }
    if (!useBatch && (o.pktinfo === true || o.timestamps === true)) {
      throw new NotSupportedError(
        o.pktinfo === true ? 'IP_PKTINFO (pktinfo)' : 'SO_TIMESTAMPNS (timestamps)',
        "it needs the batch engine (engine: 'batch'; Linux with the native addon)",
      );
    }

    let native: { binding: NativeBinding; fd: number } | undefined;
    let socket: dgram.Socket | BatchSocket;
    // A link-local bind address carries its interface as a zone (`fe80::1%eth0`); the addon takes
    // it as the scope id.
    const { address: bareAddress, zone } = splitZone(address);
    const nativeOptions: NativeUdpSocketOptions = {
      family,
      address: bareAddress,
      port,
      scopeId: zone === undefined ? undefined : zoneIndex(zone),
      reuseAddr: o.reuseAddr === true,
      reusePort: o.reusePort === true,
      ipv6Only: o.ipv6Only === true,
      bindToDevice: o.bindToDevice,
      recvBufferBytes: recvBytes,
      sendBufferBytes: sendBytes,
      multicastAll: o.multicastAll ?? false,
      tos: o.dscp === undefined ? undefined : o.dscp << 2,
    };
    if (binding && useBatch) {
      const created = binding.msock_udp_socket({
        ...nativeOptions,
        pktinfo: o.pktinfo === true,
        timestamps: o.timestamps === true,
        rxqOvfl: true,
      });
      native = { binding, fd: created.fd };
      try {
        socket = new BatchSocket(binding, created, family, {
          slots: o.batch?.slots ?? 64,
          slotBytes: o.batch?.slotBytes ?? 65536,
          gro: o.batch?.gro === true,
          maxBatchesPerWake: o.batch?.maxBatchesPerWake ?? 16,
          pktinfo: o.pktinfo === true,
          timestamps: o.timestamps === true,
        });
      } catch (err) {
        binding.msock_close(created.fd);
        throw err;
      }
      if (o.signal?.aborted) {
        socket.close();
        throw new AbortError('UdpSocket.open', o.signal.reason);
      }
    } else if (binding) {
      const created = binding.msock_udp_socket(nativeOptions);
      native = { binding, fd: created.fd };
      socket = dgram.createSocket({ type: o.type });
      try {
        // dgram opens the fd synchronously (uv_udp_open) and owns it from then on.
        socket.bind({ fd: created.fd });
      } catch (err) {
        binding.msock_close(created.fd);
        socket.close();
        throw SystemCallError.from(err, { syscall: 'open', address, port });
      }
      if (o.signal?.aborted) {
        socket.close();
        throw new AbortError('UdpSocket.open', o.signal.reason);
      }
    } else {
      const reason = nativeStatus().loadError?.message ?? 'the native addon is not loaded';
      if (o.dscp !== undefined) throw new NotSupportedError('IP_TOS (dscp)', reason);
      if (o.bindToDevice !== undefined)
        throw new NotSupportedError('SO_BINDTODEVICE (bindToDevice)', reason);
      if (o.multicastAll === false) {
        throw new NotSupportedError(
          'IP_MULTICAST_ALL (multicastAll: false)',
          `${reason}; bind the group address instead`,
        );
      }
      if (o.reusePort === true && !nodeReusePort) {
        throw new NotSupportedError(
          'SO_REUSEPORT (reusePort)',
          `${reason}, and Node ${process.version} has no dgram reusePort (added in 22.12)`,
        );
      }
      const createOptions: dgram.SocketOptions & { reusePort?: boolean } = {
        type: o.type,
        reuseAddr: o.reuseAddr === true,
        ipv6Only: o.ipv6Only === true,
      };
      if (o.reusePort === true) createOptions.reusePort = true;
      if (recvBytes !== undefined) createOptions.recvBufferSize = recvBytes;
      if (sendBytes !== undefined) createOptions.sendBufferSize = sendBytes;
      socket = dgram.createSocket(createOptions);
      try {
        await bindSocket(socket, { address, port, exclusive: true }, o.signal, address, port);
      } catch (err) {
        socket.close();
        throw err;
      }
    }

    const udp = new UdpSocket(o.type, socket, native, o.readerQueueLength ?? kDefaultReaderQueue);
    try {
      udp.#applyAfterBind(o);
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

  #kernelDrops: KernelDrops | undefined;

  /** Counters; a snapshot. */
  get stats(): Readonly<UdpSocketStats> {
    if (this.#batch && !this.#batch.engine.closed) {
      this.#stats.kernelDrops = this.#batch.engine.kernelDrops;
      this.#stats.truncated = this.#batch.engine.truncated;
    } else if (!this.#batch && !this.#closed) {
      this.#kernelDrops ??= new KernelDrops(this.#address.port, this.#native?.fd);
      this.#stats.kernelDrops = this.#kernelDrops.read();
    }
    return { ...this.#stats };
  }

  /** The engine in use: `'batch'` or `'node'` (see {@link UdpEngine}). */
  get engine(): 'batch' | 'node' {
    return this.#batch ? 'batch' : 'node';
  }

  /**
   * Kernel features the socket uses, probed once at open: `gso` (`UDP_SEGMENT`), `gro` (`UDP_GRO`),
   * `recvmmsg`, `sendmmsg`, `pktinfo`, `timestamps`. All `false` on the node engine. GSO turns off
   * for good when the kernel answers a GSO send with `EIO`/`EINVAL`.
   * Platforms: Linux (batch engine).
   */
  get capabilities(): Readonly<BatchCapabilities> {
    if (this.#batch) return this.#batch.engine.capabilities();
    return {
      gso: false,
      gro: false,
      recvmmsg: false,
      sendmmsg: false,
      pktinfo: false,
      timestamps: false,
      gsoMaxSegments: 1,
    };
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
    return this.#native?.fd;
  }

  /** The local address, as `dgram.Socket#address()`. */
  address(): UdpAddress {
    this.#assertOpen('address');
    return { ...this.#address };
  }

  /** The connected peer, as `dgram.Socket#remoteAddress()`. */
  remoteAddress(): UdpAddress {
    this.#assertOpen('remoteAddress');
    if (!this.#connected) throw new InvalidStateError('remoteAddress: the socket is not connected');
    const r = this.#socket.remoteAddress();
    return { address: r.address, port: r.port, family: this.#family };
  }

  /**
   * Associates the socket with one peer (`connect(2)`): `send()` then needs no destination, and
   * only that peer's datagrams are received.
   */
  async connect(
    port: number,
    address: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#assertOpen('connect');
    validatePort(port, 'port');
    this.#checkPeer(address, 'address');
    validateAbortSignal(options.signal, 'signal');
    if (port === 0)
      throw new InvalidArgumentError('port', port, 'must be a port in 1..65535 to connect to');
    if (this.#connected)
      throw new InvalidStateError('connect: the socket is already connected; disconnect() first');
    if (options.signal?.aborted) throw new AbortError('UdpSocket.connect', options.signal.reason);
    // An abort cannot stop a connect(2) in flight: wait for it, then undo it, so the socket's
    // state never disagrees with the kernel's.
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        this.#socket.connect(port, address, (err?: Error) => {
          if (err) reject(SystemCallError.from(err, { syscall: 'connect', address, port }));
          else resolve();
        });
      });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (aborted) {
      this.#socket.disconnect();
      throw new AbortError('UdpSocket.connect', options.signal?.reason);
    }
    this.#connected = true;
  }

  /** Dissolves the association made by {@link connect}. */
  disconnect(): void {
    this.#assertOpen('disconnect');
    if (!this.#connected) throw new InvalidStateError('disconnect: the socket is not connected');
    this.#socket.disconnect();
    this.#connected = false;
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
    if (!(payload instanceof Uint8Array)) {
      throw new InvalidArgumentError('data', data, 'must be a Buffer, a Uint8Array or a string');
    }
    if (this.#connected) {
      if (port !== undefined || address !== undefined) {
        throw new InvalidArgumentError(
          'port',
          port,
          'must be omitted on a connected socket (it sends to its peer)',
        );
      }
    } else {
      if (port === undefined || address === undefined) {
        throw new InvalidStateError(
          'send: the socket is not connected, so port and address are required',
        );
      }
      validatePort(port, 'port');
      if (port === 0)
        throw new InvalidArgumentError('port', port, 'must be a port in 1..65535 to send to');
      this.#checkPeer(address, 'address');
    }
    if (options.ttl !== undefined) {
      validateTtl(options.ttl, 'ttl');
      const multicast = classifyAddress(address ?? this.remoteAddress().address).multicast;
      if (!multicast && options.ttl === 0) {
        throw new InvalidArgumentError(
          'ttl',
          0,
          'must be in 1..255 for a unicast destination (0 applies to multicast only)',
        );
      }
      return this.#sendWithTtl(payload, port, address, options.ttl, multicast);
    }
    // While a send with its own TTL is in flight, the socket's TTL is not the socket's: queue behind it.
    if (this.#ttlSendsPending > 0) {
      const run = (): Promise<number> => this.#sendNow(payload, port, address);
      const result = this.#ttlChain.then(run, run);
      this.#ttlChain = result.catch(() => undefined);
      return result;
    }
    return this.#sendNow(payload, port, address);
  }

  #ttlSendsPending = 0;

  #sendNow(
    payload: Uint8Array,
    port: number | undefined,
    address: string | undefined,
  ): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const done = (err: Error | null, bytes: number): void => {
        if (err) {
          this.#stats.sendErrors++;
          reject(SystemCallError.from(err, { syscall: 'send', address, port }));
          return;
        }
        this.#stats.packetsSent++;
        this.#stats.bytesSent += bytes;
        resolve(bytes);
      };
      try {
        if (this.#batch) this.#batch.send(payload, port, address, done);
        else if (port === undefined) this.#dgram!.send(payload, done);
        else this.#dgram!.send(payload, port, address, done);
      } catch (err) {
        this.#stats.sendErrors++;
        reject(SystemCallError.from(err, { syscall: 'send', address, port }));
      }
    });
  }

  #sendWithTtl(
    payload: Uint8Array,
    port: number | undefined,
    address: string | undefined,
    ttl: number,
    multicast: boolean,
  ): Promise<number> {
    // Serialize: the TTL is a socket option, so sends with their own TTL must not overlap, and plain
    // sends made meanwhile wait behind them (see send()).
    const run = async (): Promise<number> => {
      this.#assertOpen('send');
      if (multicast) this.#socket.setMulticastTTL(ttl);
      else this.#socket.setTTL(ttl);
      try {
        return await this.#sendNow(payload, port, address);
      } finally {
        // Restore what the socket's TTL is now, which setTTL() may have changed meanwhile.
        if (!this.#closed) {
          if (multicast) this.#socket.setMulticastTTL(this.getMulticastTTL());
          else this.#socket.setTTL(this.getTTL());
        }
        this.#ttlSendsPending--;
      }
    };
    this.#ttlSendsPending++;
    const result = this.#ttlChain.then(run, run);
    this.#ttlChain = result.catch(() => undefined);
    return result;
  }

  /** Sets the unicast TTL (`IP_TTL`) or hop limit (`IPV6_UNICAST_HOPS`), 1..255. */
  setTTL(ttl: number): void {
    this.#assertOpen('setTTL');
    validateInteger(ttl, 'ttl', 1, 255);
    this.#call('setsockopt', this.#family === 4 ? 'IP_TTL' : 'IPV6_UNICAST_HOPS', () =>
      this.#socket.setTTL(ttl),
    );
    this.#ttl = ttl;
  }

  #ttl: number | undefined;
  #multicastTtl: number | undefined;

  /** The unicast TTL set with {@link setTTL}, or the system default (`net.ipv4.ip_default_ttl`, `net.ipv6.conf.default.hop_limit`). */
  getTTL(): number {
    if (this.#ttl !== undefined) return this.#ttl;
    if (this.#native)
      return Number(
        getSocketOption(this.#native.fd, this.#family === 4 ? 'IP_TTL' : 'IPV6_UNICAST_HOPS'),
      );
    return defaultUnicastTtl(this.#family);
  }

  /** Sets `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`, 0..255 (0 keeps datagrams on this host). */
  setMulticastTTL(ttl: number): void {
    this.#assertOpen('setMulticastTTL');
    validateTtl(ttl, 'ttl');
    this.#call('setsockopt', this.#family === 4 ? 'IP_MULTICAST_TTL' : 'IPV6_MULTICAST_HOPS', () =>
      this.#socket.setMulticastTTL(ttl),
    );
    this.#multicastTtl = ttl;
  }

  /** The multicast TTL set with {@link setMulticastTTL}, or the default 1. */
  getMulticastTTL(): number {
    return this.#multicastTtl ?? 1;
  }

  /** Sets `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`. */
  setMulticastLoopback(on: boolean): void {
    this.#assertOpen('setMulticastLoopback');
    validateBoolean(on, 'on');
    this.#call('setsockopt', this.#family === 4 ? 'IP_MULTICAST_LOOP' : 'IPV6_MULTICAST_LOOP', () =>
      this.#socket.setMulticastLoopback(on),
    );
  }

  /**
   * Sets the egress interface of multicast sends (`IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`) by name,
   * index or address.
   */
  setMulticastInterface(iface: InterfaceSpec): void {
    this.#assertOpen('setMulticastInterface');
    const info = findInterface(iface);
    const value = this.#family === 4 ? interfaceAddress(info, 4) : `::%${info.name}`;
    this.#call('setsockopt', this.#family === 4 ? 'IP_MULTICAST_IF' : 'IPV6_MULTICAST_IF', () =>
      this.#socket.setMulticastInterface(value),
    );
  }

  /** Sets `SO_BROADCAST`. */
  setBroadcast(on: boolean): void {
    this.#assertOpen('setBroadcast');
    validateBoolean(on, 'on');
    this.#call('setsockopt', 'SO_BROADCAST', () => this.#socket.setBroadcast(on));
  }

  /**
   * Sets DSCP (0..63) as `IP_TOS` / `IPV6_TCLASS` = `dscp << 2`. Needs the native addon.
   * Platforms: Linux, macOS, FreeBSD.
   */
  setDSCP(dscp: number): void {
    this.#assertOpen('setDSCP');
    validateDscp(dscp, 'dscp');
    const native = this.#requireNativeFd(this.#family === 4 ? 'IP_TOS' : 'IPV6_TCLASS');
    setSocketOption(native.fd, this.#family === 4 ? 'IP_TOS' : 'IPV6_TCLASS', dscp << 2);
  }

  /**
   * Sets `SO_RCVBUF`, never failing because the kernel clamped it to `net.core.rmem_max`; returns
   * the effective size the kernel reports. To go past `rmem_max`, give `recvBufferBytes` to
   * {@link UdpSocket.open}: with the addon and CAP_NET_ADMIN it uses `SO_RCVBUFFORCE` before bind.
   */
  setRecvBufferSize(bytes: number | 'max'): number {
    this.#assertOpen('setRecvBufferSize');
    const request = bufferRequest(bytes, 'rmem_max') ?? 0;
    validateByteCount(request, 'bytes');
    if (this.#native) {
      setSocketOption(this.#native.fd, 'SO_RCVBUF', request);
    } else {
      this.#call('setsockopt', 'SO_RCVBUF', () => this.#socket.setRecvBufferSize(request));
    }
    this.#recvBufferBytes = this.#socket.getRecvBufferSize();
    return this.#recvBufferBytes;
  }

  /** Sets `SO_SNDBUF`; as {@link setRecvBufferSize}. */
  setSendBufferSize(bytes: number | 'max'): number {
    this.#assertOpen('setSendBufferSize');
    const request = bufferRequest(bytes, 'wmem_max') ?? 0;
    validateByteCount(request, 'bytes');
    if (this.#native) {
      setSocketOption(this.#native.fd, 'SO_SNDBUF', request);
    } else {
      this.#call('setsockopt', 'SO_SNDBUF', () => this.#socket.setSendBufferSize(request));
    }
    this.#sendBufferBytes = this.#socket.getSendBufferSize();
    return this.#sendBufferBytes;
  }

  /**
   * Joins the any-source group on the given interfaces (`IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP`,
   * or `MCAST_JOIN_GROUP` by index with the addon). With no interface the kernel picks one from
   * its routing table.
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
   * Joins the source-specific channel (`source`, `group`) (`IP_ADD_SOURCE_MEMBERSHIP` /
   * `MCAST_JOIN_SOURCE_GROUP`, RFC 4607). The group must be in 232.0.0.0/8 or ff3x::/96.
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

  /** The memberships the socket holds now. */
  memberships(): Membership[] {
    return this.#memberships.list();
  }

  /**
   * Resolves with the next datagram. Datagrams that arrive while nobody reads are queued (up to
   * `readerQueueLength`) from the first call of `receive()` or of async iteration on.
   *
   * @throws SocketClosedError when the socket is closed, including while waiting.
   * @throws AbortError when `signal` aborts while waiting.
   */
  receive(options: { signal?: AbortSignal } = {}): Promise<Datagram> {
    validateAbortSignal(options.signal, 'signal');
    if (this.#closed) return Promise.reject(new SocketClosedError('receive'));
    this.#queueing = true;
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortError('UdpSocket.receive', signal.reason));
    return new Promise<Datagram>((resolve, reject) => {
      const onAbort = (): void => {
        reader.cleanup();
        reject(new AbortError('UdpSocket.receive', signal?.reason));
      };
      const reader: PendingRead = {
        resolve,
        reject,
        cleanup: () => {
          this.#readers.delete(reader);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readers.add(reader);
    });
  }

  /**
   * Async iteration over received datagrams. The loop ends by throwing `SocketClosedError` when
   * the socket closes (match on `err.code === 'MEDIASOCK_ERR_SOCKET_CLOSED'`), so a loop never
   * waits forever on a closed socket.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Datagram, void, undefined> {
    for (;;) yield await this.receive();
  }

  /** Keeps the process alive while the socket is open (the default), as `dgram.Socket#ref`. */
  ref(): this {
    this.#socket.ref();
    return this;
  }

  /** Lets the process exit while the socket is open, as `dgram.Socket#unref`. */
  unref(): this {
    this.#socket.unref();
    return this;
  }

  /**
   * Closes the socket: leaves every group it joined, rejects every pending reader with
   * `SocketClosedError`, and resolves once the fd is closed and the port released. Idempotent: a
   * second call returns the same promise. Rejects (after closing) with the error of a group leave
   * that failed, or an `AggregateError` of several.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    void this.stats; // the last kernel drop count, read while the socket still exists
    this.#closed = true;
    const leaveErrors = this.#memberships.dropAll();
    const closedError = new SocketClosedError('receive');
    this.#queue = [];
    this.#closing = (async () => {
      const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
      this.#socket.close();
      await closed;
      // Readers are woken once the fd is closed (the batch engine closes it from the event loop).
      for (const reader of [...this.#readers]) {
        reader.cleanup();
        reader.reject(closedError);
      }
      this.emit('close');
      if (leaveErrors.length === 1) throw leaveErrors[0];
      if (leaveErrors.length > 1)
        throw new AggregateError(leaveErrors, 'leaving multicast groups at close failed');
    })();
    return this.#closing;
  }

  /**
   * Sends many datagrams with as few system calls as the engine can: `sendmmsg(2)`, and UDP GSO
   * (`UDP_SEGMENT`) for runs of equal-size datagrams to one destination, on the batch engine; one
   * `send` per datagram on the node engine. Takes an array of payloads / {@link OutgoingDatagram}s
   * (destination per datagram, else `port`/`address` of the call, else the connected peer), or one
   * {@link DatagramTrain}.
   *
   * A full send queue is backpressure, never loss: the promise resolves once every datagram went
   * out, waiting for room (POLLOUT; `'drain'` is emitted then) as often as needed. Sends keep their
   * order. Do not change the buffers until the promise settles.
   *
   * Platforms: GSO on Linux >= 4.18 (see {@link capabilities}); elsewhere one datagram per message.
   *
   * @returns `{ sent }`, and `error` when the kernel refused a datagram after some were sent
   *   (`sent` says how many went; the rest did not), as libuv's `uv_udp_try_send2`.
   * @throws InvalidArgumentError for a malformed batch, before any system call.
   * @throws SystemCallError when the first datagram fails (`EMSGSIZE`, `ENETUNREACH` …).
   */
  async sendBatch(
    datagrams: readonly (Uint8Array | OutgoingDatagram)[] | DatagramTrain,
    port?: number,
    address?: string,
  ): Promise<BatchSendResult> {
    this.#assertOpen('sendBatch');
    if (port !== undefined || address !== undefined) {
      validatePort(port, 'port');
      if (address === undefined)
        throw new InvalidArgumentError('address', address, 'must be given with port');
      this.#checkPeer(address, 'address');
    }
    const plan = this.#planBatch(datagrams, port, address);
    if (plan.length === 0) return { sent: 0 };
    let result: BatchSendResult;
    if (this.#batch) {
      const rows = this.#batch.rows;
      rows.reset();
      const payload = plan.payload;
      for (const d of plan.rows) rows.push(d.offset, d.length, d.segment, d.address, d.port ?? 0);
      try {
        result = await this.#batch.submit(payload, rows);
      } catch (err) {
        this.#stats.sendErrors++;
        throw err;
      }
      this.#stats.packetsSent += result.sent;
      this.#stats.bytesSent += plan.bytesOf(result.sent);
      if (result.error) this.#stats.sendErrors++;
      return result;
    }
    // The node engine's sends count themselves.
    return this.#sendBatchNode(plan);
  }

  #planBatch(
    datagrams: readonly (Uint8Array | OutgoingDatagram)[] | DatagramTrain,
    port: number | undefined,
    address: string | undefined,
  ): BatchPlan {
    const plan = new BatchPlan();
    const dest = (p: number | undefined, a: string | undefined, at: string): void => {
      if (this.#connected) {
        if (p !== undefined || a !== undefined)
          throw new InvalidArgumentError(`${at}.port`, p, 'must be omitted on a connected socket');
        return;
      }
      if (p === undefined || a === undefined)
        throw new InvalidStateError(
          `sendBatch: the socket is not connected, so ${at} needs port and address`,
        );
    };
    if (Array.isArray(datagrams)) {
      const list = datagrams as readonly (Uint8Array | OutgoingDatagram)[];
      let total = 0;
      let shared: ArrayBufferLike | undefined;
      for (let i = 0; i < list.length; i++) {
        const d = list[i];
        const data = d instanceof Uint8Array ? d : d?.data;
        if (!(data instanceof Uint8Array))
          throw new InvalidArgumentError(
            `datagrams[${i}]`,
            d,
            'must be a Uint8Array or { data, address?, port? }',
          );
        checkDatagramLength(data.length, `datagrams[${i}]`);
        total += data.length;
        if (i === 0) shared = data.buffer;
        else if (shared !== data.buffer) shared = undefined;
      }
      // One payload buffer for the addon: the shared ArrayBuffer when all are views of one, else a copy.
      let payload: Uint8Array;
      let base = 0;
      if (shared !== undefined && list.length > 0) {
        payload = new Uint8Array(shared);
      } else {
        payload = new Uint8Array(total);
      }
      for (let i = 0; i < list.length; i++) {
        const d = list[i]!;
        const data = d instanceof Uint8Array ? d : d.data;
        const p = d instanceof Uint8Array ? port : (d.port ?? port);
        const a = d instanceof Uint8Array ? address : (d.address ?? address);
        if (!(d instanceof Uint8Array) && (d.port !== undefined || d.address !== undefined)) {
          validatePort(p, `datagrams[${i}].port`);
          this.#checkPeer(a as string, `datagrams[${i}].address`);
        }
        dest(p, a, `datagrams[${i}]`);
        if (p === 0)
          throw new InvalidArgumentError(
            `datagrams[${i}].port`,
            0,
            'must be a port in 1..65535 to send to',
          );
        let offset: number;
        if (shared !== undefined) {
          offset = data.byteOffset;
        } else {
          payload.set(data, base);
          offset = base;
          base += data.length;
        }
        plan.add(
          offset,
          data.length,
          0,
          this.#connected ? undefined : a,
          this.#connected ? undefined : p,
        );
      }
      plan.payload = payload;
      return plan;
    }
    const train = datagrams as DatagramTrain;
    if (typeof train !== 'object' || train === null || !(train.buffer instanceof Uint8Array))
      throw new InvalidArgumentError(
        'datagrams',
        datagrams,
        'must be an array of datagrams or { buffer, segmentSize | lengths }',
      );
    const p = train.port ?? port;
    const a = train.address ?? address;
    if (train.port !== undefined || train.address !== undefined) {
      validatePort(p, 'port');
      this.#checkPeer(a as string, 'address');
    }
    dest(p, a, 'the train');
    if (p === 0) throw new InvalidArgumentError('port', 0, 'must be a port in 1..65535 to send to');
    const to = this.#connected ? undefined : a;
    const toPort = this.#connected ? undefined : p;
    const buffer = train.buffer;
    plan.payload = buffer;
    if (train.segmentSize !== undefined) {
      if (train.lengths !== undefined)
        throw new InvalidArgumentError(
          'lengths',
          train.lengths,
          'cannot be combined with segmentSize',
        );
      validateInteger(train.segmentSize, 'segmentSize', 1, 65507);
      const seg = train.segmentSize;
      // One row per GSO super-packet: at most 64 segments and 65507 bytes each.
      const perRow = Math.max(1, Math.min(64, Math.floor(65507 / seg)));
      for (let off = 0; off < buffer.length; off += perRow * seg) {
        const len = Math.min(perRow * seg, buffer.length - off);
        plan.add(buffer.byteOffset + off, len, len > seg ? seg : 0, to, toPort);
      }
      plan.payload = new Uint8Array(buffer.buffer);
      return plan;
    }
    const lengths = train.lengths;
    if (lengths === undefined || typeof lengths.length !== 'number')
      throw new InvalidArgumentError(
        'lengths',
        lengths,
        'must be given (an array of datagram sizes) or segmentSize',
      );
    let off = 0;
    let i = 0;
    while (i < lengths.length) {
      const len = lengths[i]!;
      validateInteger(len, `lengths[${i}]`, 0, 65507);
      // A run of equal lengths (plus one shorter tail) goes out as one GSO row.
      let j = i + 1;
      while (j < lengths.length && lengths[j] === len && j - i < 64 && (j - i + 1) * len <= 65507)
        j++;
      let runBytes = (j - i) * len;
      if (j < lengths.length && j - i < 64 && len > 0) {
        const tail = lengths[j]!;
        validateInteger(tail, `lengths[${j}]`, 0, 65507);
        if (tail < len && tail > 0 && runBytes + tail <= 65507) {
          runBytes += tail;
          j++;
        }
      }
      if (off + runBytes > buffer.length)
        throw new InvalidArgumentError(
          'lengths',
          lengths,
          `must add up to at most buffer.length (${buffer.length})`,
        );
      const segs = j - i;
      plan.add(buffer.byteOffset + off, runBytes, segs > 1 ? len : 0, to, toPort);
      off += runBytes;
      i = j;
    }
    plan.payload = new Uint8Array(buffer.buffer);
    return plan;
  }

  async #sendBatchNode(plan: BatchPlan): Promise<BatchSendResult> {
    const sends: Promise<number>[] = [];
    for (const row of plan.rows) {
      const seg = row.segment > 0 ? row.segment : row.length;
      for (let off = 0; off < row.length || (row.length === 0 && off === 0); off += seg) {
        const view = plan.payload.subarray(
          row.offset + off,
          row.offset + Math.min(off + seg, row.length),
        );
        sends.push(this.#sendNow(view, row.port, row.address));
        if (row.length === 0) break;
      }
    }
    const settled = await Promise.allSettled(sends);
    let sent = 0;
    for (const r of settled) {
      if (r.status === 'fulfilled') {
        sent++;
        continue;
      }
      if (sent === 0) throw r.reason;
      return { sent, error: r.reason as SystemCallError };
    }
    return { sent };
  }

  /**
   * Async iteration over batches (see {@link DatagramBatch}). While the loop body runs the socket
   * does not read (the kernel's queue holds what arrives), so a batch stays valid until the next
   * step of the loop. Ends with `SocketClosedError` when the socket closes, like the datagram
   * iterator. On the node engine each batch holds one datagram.
   */
  async *batches(): AsyncGenerator<DatagramBatch, void, undefined> {
    const pending: DatagramBatch[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const onBatch = (batch: DatagramBatch): void => {
      pending.push(batch);
      // Keep the shared memory: pause reading until the loop asks for the next batch.
      this.#batch?.engine.hold();
      wake?.();
    };
    const onClose = (): void => {
      closed = true;
      wake?.();
    };
    this.on('batch', onBatch);
    this.once('close', onClose);
    try {
      for (;;) {
        if (this.#closed || closed) throw new SocketClosedError('batches');
        const next = pending.shift();
        if (next) {
          yield next;
          if (pending.length === 0) this.#batch?.engine.release();
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.off('batch', onBatch);
      this.off('close', onClose);
      this.#batch?.engine.release();
    }
  }

  #onBatch(batch: DatagramBatch): void {
    const count = batch.count;
    const wantMessages = this.listenerCount('message') > 0;
    if (!wantMessages && !this.#queueing) {
      let bytes = 0;
      for (let i = 0; i < count; i++) bytes += batch.length(i);
      this.#stats.packetsReceived += count;
      this.#stats.bytesReceived += bytes;
      if (this.listenerCount('batch') > 0) this.emit('batch', batch);
      return;
    }
    if (this.listenerCount('batch') > 0) this.emit('batch', batch);
    for (let i = 0; i < count; i++) {
      // As with dgram: nothing is delivered (or counted) once close() was called, a listener may
      // call it in the middle of a batch.
      if (this.#closed) return;
      const data = Buffer.from(batch.payload(i));
      this.#stats.packetsReceived++;
      this.#stats.bytesReceived += data.length;
      const family = batch.family(i);
      const address = batch.address(i);
      const port = batch.port(i);
      if (wantMessages) {
        const rinfo: dgram.RemoteInfo = {
          address,
          family: family === 6 ? 'IPv6' : 'IPv4',
          port,
          size: data.length,
        };
        this.emit('message', data, rinfo);
      }
      if (this.#queueing) {
        const localAddress = batch.localAddress(i);
        const timestampNs = batch.timestampNs(i);
        const datagram: Datagram = {
          data,
          address,
          port,
          family,
          ...(localAddress !== undefined ? { localAddress, ifindex: batch.ifindex(i) } : {}),
          ...(timestampNs !== undefined ? { timestampNs } : {}),
          ...(batch.truncated(i) ? { truncated: true } : {}),
        };
        this.#deliver(datagram);
      }
    }
  }

  #deliver(datagram: Datagram): void {
    const reader = this.#readers.values().next();
    if (!reader.done) {
      reader.value.cleanup();
      reader.value.resolve(datagram);
      return;
    }
    if (this.#queue.length >= this.#queueLimit) {
      this.#queue.shift();
      this.#stats.readerDrops++;
    }
    this.#queue.push(datagram);
  }

  #onMessage(data: Buffer, rinfo: dgram.RemoteInfo): void {
    this.#stats.packetsReceived++;
    this.#stats.bytesReceived += data.length;
    if (this.listenerCount('message') > 0) this.emit('message', data, rinfo);
    const family = rinfo.family === 'IPv6' ? 6 : 4;
    if (this.listenerCount('batch') > 0)
      this.emit('batch', new SingleBatch(data, rinfo.address, rinfo.port, family));
    if (!this.#queueing) return;
    this.#deliver({ data, address: rinfo.address, port: rinfo.port, family });
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new SocketClosedError(operation);
  }

  #checkPeer(address: string, argument: string): void {
    validateString(address, argument);
    const family = addressFamily(address);
    if (family === 0)
      throw new InvalidArgumentError(
        argument,
        address,
        'must be an IPv4 or IPv6 address (resolve names first)',
      );
    if (family === 4 && this.#family === 6) {
      throw new InvalidArgumentError(
        argument,
        address,
        'must be an IPv6 address on a udp6 socket (use the v4-mapped form ::ffff:a.b.c.d, or a udp4 socket)',
      );
    }
    if (family === 6 && this.#family === 4)
      throw new InvalidArgumentError(argument, address, 'must be an IPv4 address on a udp4 socket');
  }

  #requireNativeFd(feature: string): { binding: NativeBinding; fd: number } {
    if (this.#native) return this.#native;
    throw new NotSupportedError(
      feature,
      nativeStatus().loadError?.message ?? 'the native addon is not loaded',
    );
  }

  #call(syscall: string, option: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      throw SystemCallError.from(err, { syscall, option });
    }
  }
}

function checkOptions(options: UdpSocketOptions): UdpSocketOptions {
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
    const f = addressFamily(options.address.split('%')[0] ?? '');
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
    if (v !== undefined && v !== 'max') validateByteCount(v, name);
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
  if (options.batch !== undefined) {
    const b = options.batch;
    if (typeof b !== 'object' || b === null)
      throw new InvalidArgumentError(
        'batch',
        b,
        'must be an object { slots?, slotBytes?, gro?, maxBatchesPerWake? }',
      );
    if (b.slots !== undefined) validateInteger(b.slots, 'batch.slots', 1, 1024);
    if (b.slotBytes !== undefined) validateInteger(b.slotBytes, 'batch.slotBytes', 1, 1 << 20);
    if (b.gro !== undefined) validateBoolean(b.gro, 'batch.gro');
    if (b.maxBatchesPerWake !== undefined)
      validateInteger(b.maxBatchesPerWake, 'batch.maxBatchesPerWake', 1, 65536);
  }
  if (options.readerQueueLength !== undefined)
    validateInteger(options.readerQueueLength, 'readerQueueLength', 1, 1 << 20);
  validateAbortSignal(options.signal, 'signal');
  return options;
}

function checkDatagramLength(length: number, argument: string): void {
  if (length > 65507)
    throw new InvalidArgumentError(
      argument,
      length,
      'must be at most 65507 bytes (the largest UDP payload)',
    );
}

/** The rows of one sendBatch before they reach an engine. */
class BatchPlan {
  payload: Uint8Array = new Uint8Array(0);
  readonly rows: {
    offset: number;
    length: number;
    segment: number;
    address: string | undefined;
    port: number | undefined;
    datagrams: number;
  }[] = [];
  length = 0;

  add(
    offset: number,
    length: number,
    segment: number,
    address: string | undefined,
    port: number | undefined,
  ): void {
    const datagrams = segment > 0 && length > segment ? Math.ceil(length / segment) : 1;
    this.rows.push({ offset, length, segment, address, port, datagrams });
    this.length += datagrams;
  }

  /** Payload bytes of the first `n` datagrams. */
  bytesOf(n: number): number {
    let bytes = 0;
    for (const row of this.rows) {
      if (n <= 0) break;
      if (row.datagrams <= n) {
        bytes += row.length;
        n -= row.datagrams;
      } else {
        bytes += n * row.segment;
        n = 0;
      }
    }
    return bytes;
  }
}

function bufferRequest(
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

/** The interface index a zone names: digits are an index, anything else an interface name. */
function zoneIndex(zone: string): number {
  return /^\d+$/.test(zone) ? Number(zone) : ifNameToIndex(zone);
}

/** The system's default unicast TTL / hop limit. Platforms: Linux reads sysctl; elsewhere 64. */
function defaultUnicastTtl(family: 4 | 6): number {
  const path =
    family === 4
      ? '/proc/sys/net/ipv4/ip_default_ttl'
      : '/proc/sys/net/ipv6/conf/default/hop_limit';
  if (process.platform !== 'linux') return 64;
  return Number.parseInt(readFileSync(path, 'utf8'), 10);
}

function bindSocket(
  socket: dgram.Socket,
  bindOptions: dgram.BindOptions,
  signal: AbortSignal | undefined,
  address: string,
  port: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      cleanup();
      reject(new AbortError('UdpSocket.open', signal?.reason));
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(SystemCallError.from(err, { syscall: 'bind', address, port }));
    };
    const onListening = (): void => {
      cleanup();
      if (signal?.aborted) reject(new AbortError('UdpSocket.open', signal.reason));
      else resolve();
    };
    const cleanup = (): void => {
      socket.off('error', onError);
      socket.off('listening', onListening);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind(bindOptions);
  });
}
