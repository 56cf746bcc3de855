/**
 * `BatchSocket`: what `UdpSocket` drives in batch mode in place of a `dgram.Socket`. It owns an fd
 * created by the addon, runs the {@link BatchEngine} on it, and implements the dgram calls
 * `UdpSocket` makes (`send`, `connect`, `setTTL`, memberships, buffer sizes …) with `setsockopt(2)`
 * and the engine, since the fd must not also be adopted by `node:dgram` (libuv forbids two watchers
 * on one fd).
 *
 * Sends keep their order: while one send waits for room in the kernel's send queue (POLLOUT), later
 * sends queue behind it. A full queue is never loss: the send resolves once everything went out, or
 * with `{ sent, error }` when the kernel refused a datagram after some were sent.
 *
 * Platforms: Linux. Needs the native addon.
 *
 * @module
 * @internal
 */
import { EventEmitter } from 'node:events';

import { SocketClosedError, SystemCallError } from '../errors.js';
import type { NativeBinding, NativeSocketResult } from '../native/binding.js';
import { getSocketOption, setSocketOption } from '../options.js';
import { BatchEngine, SendRows } from './batch-engine.js';
import type { BatchEngineOptions, DatagramBatch } from './batch-engine.js';

/** What a batch send resolves with (the `uv_udp_try_send2` contract). */
export interface BatchSendResult {
  /** Datagrams sent. */
  sent: number;
  /** Why the send stopped before the end, when it did; datagrams after `sent` were not sent. */
  error?: SystemCallError | SocketClosedError;
}

/** The fd + engine of a batch-mode `UdpSocket`, with the dgram-like calls `UdpSocket` uses. */
export class BatchSocket extends EventEmitter {
  readonly #binding: NativeBinding;
  readonly #fd: number;
  readonly #family: 4 | 6;
  readonly #engine: BatchEngine;
  readonly #local: { address: string; port: number };
  #remote: { address: string; port: number } | undefined;
  readonly rows: SendRows;
  #tail: Promise<unknown> | undefined;
  #writableWaiters: (() => void)[] = [];
  #closing = false;

  constructor(
    binding: NativeBinding,
    created: NativeSocketResult,
    family: 4 | 6,
    options: BatchEngineOptions,
  ) {
    super();
    this.#binding = binding;
    this.#fd = created.fd;
    this.#family = family;
    this.#local = { address: created.address, port: created.port };
    const scope = (zone: string): number =>
      /^[0-9]+$/.test(zone) ? Number(zone) : binding.msock_if_nametoindex(zone);
    this.rows = new SendRows(scope);
    this.#engine = new BatchEngine(binding, created.fd, options, {
      batch: (batch: DatagramBatch) => this.emit('batch', batch),
      error: (err) => this.emit('error', err),
      writable: () => {
        const waiters = this.#writableWaiters;
        this.#writableWaiters = [];
        for (const wake of waiters) wake();
        this.emit('drain');
      },
      closed: (err) => {
        const waiters = this.#writableWaiters;
        this.#writableWaiters = [];
        for (const wake of waiters) wake();
        this.emit('close', err);
      },
    });
  }

  get engine(): BatchEngine {
    return this.#engine;
  }

  get fd(): number {
    return this.#fd;
  }

  address(): { address: string; port: number } {
    return this.#local;
  }

  remoteAddress(): { address: string; port: number } {
    if (this.#remote === undefined) throw new Error('not connected');
    return this.#remote;
  }

  getRecvBufferSize(): number {
    return Number(getSocketOption(this.#fd, 'SO_RCVBUF'));
  }

  getSendBufferSize(): number {
    return Number(getSocketOption(this.#fd, 'SO_SNDBUF'));
  }

  setRecvBufferSize(bytes: number): void {
    setSocketOption(this.#fd, 'SO_RCVBUF', bytes);
  }

  setSendBufferSize(bytes: number): void {
    setSocketOption(this.#fd, 'SO_SNDBUF', bytes);
  }

  setTTL(ttl: number): void {
    setSocketOption(this.#fd, this.#family === 4 ? 'IP_TTL' : 'IPV6_UNICAST_HOPS', ttl);
  }

  setMulticastTTL(ttl: number): void {
    setSocketOption(this.#fd, this.#family === 4 ? 'IP_MULTICAST_TTL' : 'IPV6_MULTICAST_HOPS', ttl);
  }

  setMulticastLoopback(on: boolean): void {
    setSocketOption(this.#fd, this.#family === 4 ? 'IP_MULTICAST_LOOP' : 'IPV6_MULTICAST_LOOP', on);
  }

  /** As dgram: an IPv4 address, or `::%ifname` / `::%index` for IPv6. */
  setMulticastInterface(value: string): void {
    if (this.#family === 4) {
      setSocketOption(this.#fd, 'IP_MULTICAST_IF', value);
    } else {
      const zone = value.slice(value.indexOf('%') + 1);
      setSocketOption(this.#fd, 'IPV6_MULTICAST_IF', /^[0-9]+$/.test(zone) ? Number(zone) : zone);
    }
  }

  setBroadcast(on: boolean): void {
    setSocketOption(this.#fd, 'SO_BROADCAST', on);
  }

  /** Membership with the kernel's choice of interface (the table uses ifindex joins otherwise). */
  addMembership(group: string): void {
    this.#membership('join', group);
  }

  dropMembership(group: string): void {
    this.#membership('leave', group);
  }

  addSourceSpecificMembership(source: string, group: string): void {
    this.#membership('join', group, source);
  }

  dropSourceSpecificMembership(source: string, group: string): void {
    this.#membership('leave', group, source);
  }

  #membership(op: 'join' | 'leave', group: string, source?: string): void {
    this.#binding.msock_mcast_membership(this.#fd, {
      family: this.#family,
      op,
      group,
      source,
      ifindex: 0,
    });
  }

  connect(port: number, address: string, callback: (err?: Error) => void): void {
    const rows = new SendRows(() => 0);
    try {
      rows.push(0, 0, 0, address, port);
      this.#engine.connect(rows.rows);
      this.#remote = { address, port };
    } catch (err) {
      queueMicrotask(() => callback(err as Error));
      return;
    }
    queueMicrotask(() => callback());
  }

  disconnect(): void {
    const rows = new SendRows(() => 0);
    rows.push(0, 0, 0, undefined, 0);
    this.#engine.connect(rows.rows);
    this.#remote = undefined;
  }

  /** One datagram, as dgram's `send` (callback with the bytes sent). */
  send(
    payload: Uint8Array,
    port: number | undefined,
    address: string | undefined,
    callback: (err: Error | null, bytes: number) => void,
  ): void {
    let rows = this.rows;
    if (this.#tail !== undefined) rows = new SendRows(() => 0);
    rows.reset();
    try {
      rows.push(0, payload.length, 0, port === undefined ? undefined : address, port ?? 0);
    } catch (err) {
      callback(err as Error, 0);
      return;
    }
    this.submit(payload, rows).then(
      (r) => callback(r.error ?? null, r.error ? 0 : payload.length),
      (err: Error) => callback(err, 0),
    );
  }

  /**
   * Sends the rows in `rows` from `payload`, in order after every earlier send; waits for room in
   * the send queue as often as needed. Throws (rejects) when the first datagram fails.
   */
  submit(payload: Uint8Array, rows: SendRows): Promise<BatchSendResult> {
    if (this.#closing) return Promise.reject(new SocketClosedError('send'));
    const count = rows.count;
    if (this.#tail === undefined) {
      // Fast path: nothing queued, try now.
      const state = { row: 0, skip: 0, sent: 0 };
      let done: BatchSendResult | undefined;
      try {
        done = this.#attempt(payload, rows.rows, count, state);
      } catch (err) {
        return Promise.reject(err);
      }
      if (done) return Promise.resolve(done);
      const copy = rows.rows.slice(0, count * 12);
      const job = this.#drive(payload, copy, count, state, true);
      this.#track(job);
      return job;
    }
    const copy = rows.rows.slice(0, count * 12);
    const state = { row: 0, skip: 0, sent: 0 };
    const job = this.#tail.then(() => this.#drive(payload, copy, count, state, false));
    this.#track(job);
    return job;
  }

  #track(job: Promise<unknown>): void {
    const settled = job.then(
      () => undefined,
      () => undefined,
    );
    this.#tail = settled;
    void settled.then(() => {
      if (this.#tail === settled) this.#tail = undefined;
    });
  }

  /** One try: the result when finished (or stopped by an error), undefined when blocked. */
  #attempt(
    payload: Uint8Array,
    rows: Int32Array,
    count: number,
    state: { row: number; skip: number; sent: number },
  ): BatchSendResult | undefined {
    for (let round = 0; round < 1_000_000; round++) {
      let r;
      try {
        r = this.#engine.send(payload, rows, state.row, count - state.row, state.skip);
      } catch (err) {
        if (state.sent === 0) throw err;
        return { sent: state.sent, error: err as SystemCallError };
      }
      state.sent += r.sent;
      let left = r.sent;
      while (left > 0 && state.row < count) {
        const n = BatchEngine.rowDatagrams(rows, state.row) - state.skip;
        if (left >= n) {
          left -= n;
          state.row++;
          state.skip = 0;
        } else {
          state.skip += left;
          left = 0;
        }
      }
      if (state.row >= count) return { sent: state.sent };
      if (r.errno !== 0)
        return { sent: state.sent, error: new SystemCallError('sendmmsg', -r.errno) };
      if (r.blocked) return undefined;
    }
    return { sent: state.sent };
  }

  async #drive(
    payload: Uint8Array,
    rows: Int32Array,
    count: number,
    state: { row: number; skip: number; sent: number },
    blocked: boolean,
  ): Promise<BatchSendResult> {
    let wait = blocked;
    for (;;) {
      if (wait) await this.#writable();
      if (this.#closing) return { sent: state.sent, error: new SocketClosedError('sendBatch') };
      const done = this.#attempt(payload, rows, count, state);
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

  ref(): this {
    this.#engine.ref(true);
    return this;
  }

  unref(): this {
    this.#engine.ref(false);
    return this;
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const wake of waiters) wake();
    this.#engine.close();
  }
}
