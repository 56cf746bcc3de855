/**
 * The batch engine: {@link DatagramEngine} over the addon's {@link BatchEngine} (`recvmmsg(2)` /
 * `sendmmsg(2)`, UDP GSO and GRO) on a descriptor the addon created. The descriptor is never
 * adopted by `node:dgram` (libuv forbids two watchers on one fd), so options go through the option
 * table on the fd, memberships through `MCAST_JOIN_GROUP` by index, and `connect(2)` through the
 * engine.
 *
 * Sends keep their order: while one send waits for room in the kernel's send queue (POLLOUT), later
 * sends queue behind it. A full queue is never loss: a send resolves once everything went out, or
 * with `{ sent, error }` when the kernel refused a datagram after some were sent.
 *
 * A per-send TTL travels with its datagram as an `IP_TTL` / `IPV6_HOPLIMIT` control message, so
 * the socket's own TTL never changes. The one exception is TTL 0 to an IPv4 group (Linux refuses an
 * `IP_TTL` control message of 0): that send sets `IP_MULTICAST_TTL`, goes out, and restores it, in
 * its place in the send order.
 *
 * Platforms: Linux. Needs the native addon.
 *
 * @module
 * @internal
 */
import { constants as osConstants } from 'node:os';

import { SocketClosedError, SystemCallError } from '../errors.js';
import { SendOrder } from '../internal/send-order.js';
import type { NativeSocketResult } from '../native/binding.js';
import type { NativeBinding } from '../native/binding.js';
import { getSocketOption, setSocketOption } from '../options.js';
import type { SocketOptionName, SocketOptionSetValue } from '../options.js';
import { BatchEngine, SendRows } from './batch-engine.js';
import { KernelDrops } from './kernel-drops.js';
import { zoneIndex } from './destination.js';
import type {
  BatchCapabilities,
  BatchEngineOptions,
  DatagramBatch,
  DatagramBatchView,
} from './batch-engine.js';
import type { Destination } from './destination.js';
import type {
  BatchSendResult,
  DatagramEngine,
  EngineSink,
  MembershipRequest,
  ReadableOption,
} from './engine.js';
import { membershipOption } from '../multicast.js';
import type { SendPlan } from './send-plan.js';

/** Work done just before a send's first try and after its last (a socket option around it). */
interface Around {
  before(): void;
  after(): void;
}

/** Where a queued send stands. */
interface Cursor {
  row: number;
  skip: number;
  sent: number;
  bytes: number;
}

/** The batch engine. */
export class BatchDatagramEngine implements DatagramEngine {
  readonly name = 'batch';
  readonly sourceAddresses: boolean;
  readonly #binding: NativeBinding;
  readonly #fd: number;
  readonly #family: 4 | 6;
  readonly #engine: BatchEngine;
  readonly #local: { address: string; port: number };
  readonly #rows: SendRows;
  #sink: EngineSink | undefined;
  readonly #order = new SendOrder();
  #writableWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  #closed: (() => void) | undefined;
  #kernelDrops: KernelDrops | undefined;
  #trySendError: SystemCallError | undefined;

  /**
   * Starts the engine on `created.fd`, paused. On failure the fd is left open for the caller.
   * @throws SystemCallError when the addon cannot start the engine.
   */
  constructor(
    binding: NativeBinding,
    created: NativeSocketResult,
    family: 4 | 6,
    options: BatchEngineOptions,
  ) {
    this.#binding = binding;
    this.#fd = created.fd;
    this.#family = family;
    this.sourceAddresses = options.sourceAddress;
    this.#local = { address: created.address, port: created.port };
    this.#rows = new SendRows(zoneIndex);
    this.#engine = new BatchEngine(binding, created.fd, options, {
      batch: (batch: DatagramBatch) => this.#sink?.batch(batch),
      error: (err) => this.#sink?.error(err),
      writable: () => {
        this.#wakeWriters();
        this.#sink?.drain();
      },
      closed: () => {
        this.#wakeWriters();
        this.#closed?.();
      },
    });
    this.#engine.hold();
  }

  get fd(): number {
    return this.#fd;
  }

  localAddress(): { address: string; port: number } {
    return { ...this.#local };
  }

  attach(sink: EngineSink): void {
    this.#sink = sink;
  }

  resume(): void {
    if (!this.#closing) this.#engine.release();
  }

  pause(): void {
    if (!this.#closing) this.#engine.hold();
  }

  setOption<N extends SocketOptionName>(name: N, value: SocketOptionSetValue<N>): void {
    setSocketOption(this.#fd, name, value);
  }

  getOption(name: ReadableOption): number {
    return Number(getSocketOption(this.#fd, name));
  }

  membership(request: MembershipRequest): void {
    const { op, group, source, iface } = request;
    try {
      this.#binding.msock_mcast_membership(this.#fd, {
        family: this.#family,
        op,
        group,
        source,
        ifindex: iface.index,
      });
    } catch (err) {
      const option = membershipOption(op, this.#family, source !== undefined, true);
      throw SystemCallError.from(err, { syscall: 'setsockopt', option, address: group });
    }
  }

  connect(peer: Destination | undefined): Promise<void> {
    const rows = new SendRows(zoneIndex);
    try {
      rows.push(0, 0, 0, peer?.address, peer?.port ?? 0);
      this.#engine.connect(rows.rows);
    } catch (err) {
      return Promise.reject(
        SystemCallError.from(err, { syscall: 'connect', address: peer?.address, port: peer?.port }),
      );
    }
    return Promise.resolve();
  }

  async send(
    payload: Uint8Array,
    to: Destination | undefined,
    ttl: number | undefined,
  ): Promise<number> {
    const rows = this.#rows;
    rows.reset();
    const viaOption = ttl === 0 && this.#family === 4;
    rows.push(0, payload.length, 0, to?.address, to?.port ?? 0, viaOption ? -1 : (ttl ?? -1));
    const result = await this.#submit(
      payload,
      rows,
      viaOption ? this.#multicastTtlZero() : undefined,
    );
    if (result.error) throw result.error;
    return payload.length;
  }

  /** TTL 0 to an IPv4 group: `IP_MULTICAST_TTL` 0 around the send, in its place in send order. */
  #multicastTtlZero(): Around {
    let before = 1;
    return {
      before: () => {
        before = Number(getSocketOption(this.#fd, 'IP_MULTICAST_TTL'));
        setSocketOption(this.#fd, 'IP_MULTICAST_TTL', 0);
      },
      after: () => {
        if (!this.#closing) setSocketOption(this.#fd, 'IP_MULTICAST_TTL', before);
      },
    };
  }

  sendView(view: DatagramBatchView, to: Destination | undefined): Promise<BatchSendResult> {
    const rows = this.#rows;
    rows.reset();
    for (let i = 0; i < view.count; i++)
      rows.push(view.offset(i), view.length(i), 0, to?.address, to?.port ?? 0);
    return this.#submit(view.data, rows);
  }

  /**
   * One `sendmmsg(2)` of the view's datagrams (one message each) now, without waiting or queueing:
   * 0 while earlier sends wait in {@link SendOrder} (order is kept), else the datagrams the kernel
   * took. An error after the first datagram stops it and is kept for {@link takeTrySendError}.
   * Allocates nothing: the rows are the engine's own, the result is read from the control words.
   * @throws SystemCallError when the first datagram fails; SocketClosedError once closing.
   */
  trySendView(view: DatagramBatchView, to: Destination | undefined): number {
    if (this.#closing) throw new SocketClosedError('trySendBatch');
    if (this.#order.busy) return 0;
    const rows = this.#rows;
    rows.reset();
    const count = view.count;
    const address = to?.address;
    const port = to?.port ?? 0;
    for (let i = 0; i < count; i++) rows.push(view.offset(i), view.length(i), 0, address, port);
    const engine = this.#engine;
    const sent = engine.send(view.data, rows.rows, 0, count, 0);
    if (sent < count) {
      const errno = engine.sendErrno;
      if (errno !== 0) this.#trySendError = new SystemCallError('sendmmsg', -errno);
    }
    return sent;
  }

  takeTrySendError(): SystemCallError | undefined {
    const err = this.#trySendError;
    this.#trySendError = undefined;
    return err;
  }

  async sendBatch(plan: SendPlan): Promise<BatchSendResult> {
    const rows = this.#rows;
    rows.reset();
    for (const r of plan.rows)
      rows.push(r.offset, r.length, r.segment, r.to?.address, r.to?.port ?? 0);
    return this.#submit(plan.payload, rows);
  }

  /**
   * Sends `rows` from `payload` in order after every earlier send, waiting for room in the send
   * queue as often as needed, with `around` run just before the first try and after the last.
   * Rejects when the first datagram fails.
   */
  #submit(payload: Uint8Array, rows: SendRows, around?: Around): Promise<BatchSendResult> {
    if (this.#closing) return Promise.reject(new SocketClosedError('send'));
    const count = rows.count;
    const cursor: Cursor = { row: 0, skip: 0, sent: 0, bytes: 0 };
    if (!this.#order.busy) {
      // Nothing queued: try now, and copy the rows only when the send has to wait.
      let done: BatchSendResult | undefined;
      around?.before();
      try {
        done = this.#attempt(payload, rows.rows, count, cursor);
      } catch (err) {
        around?.after();
        return Promise.reject(err);
      }
      if (done) {
        around?.after();
        return Promise.resolve(done);
      }
      // It has to wait: keep a copy of what is left, so the caller's memory is free at once.
      const left = SendRows.detach(payload, rows.rows, cursor.row, count);
      const remaining = count - cursor.row;
      cursor.row = 0;
      const job = this.#drive(left.payload, left.rows, remaining, cursor, true);
      return this.#order.track(around ? job.finally(() => around.after()) : job);
    }
    const left = SendRows.detach(payload, rows.rows, 0, count);
    return this.#order.after(() => {
      around?.before();
      const driven = this.#drive(left.payload, left.rows, count, cursor, false);
      return around ? driven.finally(() => around.after()) : driven;
    });
  }

  /** One try: the result when finished (or stopped by an error), `undefined` when blocked. */
  #attempt(
    payload: Uint8Array,
    rows: Int32Array,
    count: number,
    cursor: Cursor,
  ): BatchSendResult | undefined {
    // Bounded: each round sends at least one datagram or returns.
    for (let round = 0; round <= count * 64; round++) {
      const engine = this.#engine;
      let sent;
      try {
        sent = engine.send(payload, rows, cursor.row, count - cursor.row, cursor.skip);
      } catch (err) {
        if (cursor.sent === 0) throw err;
        return { sent: cursor.sent, bytes: cursor.bytes, error: err as SystemCallError };
      }
      cursor.sent += sent;
      advance(rows, count, cursor, sent);
      if (cursor.row >= count) return { sent: cursor.sent, bytes: cursor.bytes };
      const errno = engine.sendErrno;
      if (errno !== 0)
        return {
          sent: cursor.sent,
          bytes: cursor.bytes,
          error: new SystemCallError('sendmmsg', -errno),
        };
      if (engine.sendBlocked) return undefined;
    }
    return {
      sent: cursor.sent,
      bytes: cursor.bytes,
      error: new SystemCallError('sendmmsg', -osConstants.errno.EIO),
    };
  }

  async #drive(
    payload: Uint8Array,
    rows: Int32Array,
    count: number,
    cursor: Cursor,
    blocked: boolean,
  ): Promise<BatchSendResult> {
    let wait = blocked;
    for (;;) {
      if (wait) await this.#writable();
      if (this.#closing)
        return {
          sent: cursor.sent,
          bytes: cursor.bytes,
          error: new SocketClosedError('sendBatch'),
        };
      const done = this.#attempt(payload, rows, count, cursor);
      if (done) return done;
      wait = true;
    }
  }

  #writable(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#writableWaiters.push(resolve);
      this.#engine.pollWritable();
    });
  }

  #wakeWriters(): void {
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const wake of waiters) wake();
  }

  kernelDrops(): number | undefined {
    if (this.#closing) return undefined;
    this.#kernelDrops ??= new KernelDrops(this.localAddress().port, this.#fd, this.#binding);
    return this.#kernelDrops.read();
  }

  truncated(): number {
    return this.#engine.truncated;
  }

  capabilities(): BatchCapabilities {
    return this.#engine.capabilities();
  }

  ref(on: boolean): void {
    this.#engine.ref(on);
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#closed = resolve;
      this.#wakeWriters();
      this.#engine.close();
    });
    return this.#closing;
  }
}

/** Moves `cursor` past `sent` datagrams of `rows`. */
function advance(rows: Int32Array, count: number, cursor: Cursor, sent: number): void {
  let left = sent;
  while (left > 0 && cursor.row < count) {
    const n = BatchEngine.rowDatagrams(rows, cursor.row) - cursor.skip;
    const taken = Math.min(left, n);
    cursor.bytes += BatchEngine.rowBytes(rows, cursor.row, cursor.skip, taken);
    if (left >= n) {
      left -= n;
      cursor.row++;
      cursor.skip = 0;
    } else {
      cursor.skip += left;
      left = 0;
    }
  }
}
