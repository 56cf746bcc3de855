/**
 * The one interface under `UdpSocket`: what an engine that moves datagrams must do. Two engines
 * implement it, the node engine over `node:dgram` (`dgram-engine.ts`) and the batch engine over the
 * addon's `recvmmsg`/`sendmmsg` (`batch-datagram-engine.ts`).
 *
 * Values cross it as numbers and literals (ports, scope ids, interface indexes, option names of the
 * option table), never as `node:dgram`'s strings, so nothing is formatted on one side and parsed
 * back on the other. `UdpSocket` validates every argument before it calls an engine; an engine
 * checks nothing twice.
 *
 * Reading is flow-controlled: an engine starts paused, and reads from the kernel only between
 * `resume()` and `pause()`. While it is paused the kernel keeps what arrives (up to `SO_RCVBUF`,
 * past which the kernel counts drops), so nothing is read that nobody consumes.
 *
 * @module
 * @internal
 */
import type { SocketClosedError, SystemCallError } from '../errors.js';
import type { SocketOptionName, SocketOptionSetValue } from '../options.js';
import type { BatchCapabilities, DatagramBatch, DatagramBatchView } from './batch-engine.js';
import type { Destination } from './destination.js';
import type { SendPlan } from './send-plan.js';

/** What a batch send resolves with (the `uv_udp_try_send2` contract). */
export interface BatchSendResult {
  /** Datagrams sent. */
  sent: number;
  /** Payload bytes of the datagrams sent. */
  bytes: number;
  /** Why the send stopped before the end, when it did; datagrams after `sent` were not sent. */
  error?: SystemCallError | SocketClosedError;
}

/** An interface to join a group on: its index (0: the kernel chooses), name and IPv4 address. */
export interface MembershipInterface {
  readonly index: number;
  readonly name: string | undefined;
  /** The interface's IPv4 address, for `ip_mreq` joins on IPv4 sockets without the addon. */
  readonly ipv4: string | undefined;
}

/**
 * One join or leave, or a source blocked or unblocked on an any-source membership (exclude mode:
 * `MCAST_BLOCK_SOURCE` / `MCAST_UNBLOCK_SOURCE`).
 */
export interface MembershipRequest {
  readonly op: 'join' | 'leave' | 'block' | 'unblock';
  readonly group: string;
  /** The source of a source-specific membership, or the source to block or unblock. */
  readonly source: string | undefined;
  readonly iface: MembershipInterface;
}

/** What an engine tells the socket it runs under; set once with {@link DatagramEngine.attach}. */
export interface EngineSink {
  /** Datagrams read from the kernel; the batch is valid until this returns (or while paused). */
  batch(batch: DatagramBatch): void;
  /** An error the kernel reported on the receive side (`ECONNREFUSED` after ICMP port unreachable). */
  error(err: SystemCallError): void;
  /** The send queue has room again after a send waited for it. */
  drain(): void;
}

/** Integer options an engine can read back. */
export type ReadableOption =
  | 'SO_RCVBUF'
  | 'SO_SNDBUF'
  | 'IP_TTL'
  | 'IPV6_UNICAST_HOPS'
  | 'IP_MULTICAST_TTL'
  | 'IPV6_MULTICAST_HOPS';

/** A datagram engine: one bound socket. */
export interface DatagramEngine {
  /** `'node'` or `'batch'`. */
  readonly name: 'node' | 'batch';
  /** Whether received datagrams carry their source (off with `batch: { sourceAddress: false }`). */
  readonly sourceAddresses: boolean;
  /** The descriptor when the addon created it, else `undefined`. */
  readonly fd: number | undefined;
  /** The bound address (`getsockname`). */
  localAddress(): { address: string; port: number };
  /** Receives the engine's events; called once, before anything is read or sent. */
  attach(sink: EngineSink): void;
  /** Sets an option of the option table (`setsockopt(2)`); the value is already validated. */
  setOption<N extends SocketOptionName>(name: N, value: SocketOptionSetValue<N>): void;
  /** Reads an integer option back, or `undefined` where this engine cannot (no addon). */
  getOption(name: ReadableOption): number | undefined;
  /** Joins or leaves a group. @throws SystemCallError with `option` set. */
  membership(request: MembershipRequest): void;
  /** `connect(2)` to `peer`, or dissolves the association when `peer` is `undefined`. */
  connect(peer: Destination | undefined): Promise<void>;
  /**
   * Sends one datagram, to `to` or (undefined) the connected peer, with its own TTL / hop limit
   * when `ttl` is given (the socket's own setting is untouched for every other datagram).
   * @returns the bytes sent.
   */
  send(payload: Uint8Array, to: Destination | undefined, ttl: number | undefined): Promise<number>;
  /** Sends the rows of a plan in order; see `UdpSocket.sendBatch`. */
  sendBatch(plan: SendPlan): Promise<BatchSendResult>;
  /** Sends every datagram of a view, one message each, to `to` (or the connected peer). */
  sendView(view: DatagramBatchView, to: Destination | undefined): Promise<BatchSendResult>;
  /**
   * Sends what the kernel takes of the view now, in order, without waiting, queueing or copying
   * (see `UdpSocket.trySendBatch`): the datagrams sent, 0 while earlier sends are queued. An engine
   * without a synchronous send returns 0.
   * @throws SystemCallError when the first datagram fails.
   */
  trySendView(view: DatagramBatchView, to: Destination | undefined): number;
  /**
   * The error that stopped the last {@link trySendView} after at least one datagram, once (it is
   * cleared by this call); `undefined` when it stopped on a full send queue.
   */
  takeTrySendError(): SystemCallError | undefined;
  /** Starts reading from the kernel. */
  resume(): void;
  /**
   * Stops reading from the kernel. Called while a batch is being delivered, it also keeps that
   * batch's memory valid until {@link resume}.
   */
  pause(): void;
  /** Datagrams the kernel dropped on this socket (`SO_MEMINFO` or `/proc/net/udp`), if known. */
  kernelDrops(): number | undefined;
  /** Datagrams cut because they were longer than a receive slot. */
  truncated(): number;
  /** Kernel features in use; see `BatchCapabilities`. */
  capabilities(): BatchCapabilities;
  /** Keeps the event loop alive (`true`, the default) or not. */
  ref(on: boolean): void;
  /** Closes the descriptor; resolves once it is closed and the port released. Idempotent. */
  close(): Promise<void>;
}

/** Capabilities of an engine that has no kernel batch features. */
export const noBatchCapabilities: Readonly<BatchCapabilities> = Object.freeze({
  gso: false,
  gro: false,
  recvmmsg: false,
  sendmmsg: false,
  pktinfo: false,
  timestamps: false,
  gsoMaxSegments: 1,
});
