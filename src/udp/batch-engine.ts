/**
 * The batch engine of `UdpSocket`: the addon polls the socket on Node's event loop and drains it
 * with `recvmmsg(2)` into receive memory it maps per socket (`mmap(2)`, anonymous: pages the kernel
 * never writes stay unbacked), then calls JS once per filled batch; sends go out with
 * `sendmmsg(2)`, one UDP GSO super-packet (`UDP_SEGMENT`) per run of equal-size datagrams where the
 * kernel has GSO, and a send row may carry its own TTL as a control message (`IP_TTL` /
 * `IPV6_HOPLIMIT`). See `native/src/batch.c` for the C half and the memory layout.
 *
 * Receive memory follows the socket: `close()` detaches the ArrayBuffer (views of a batch read as
 * length 0 from then on) and unmaps it at once, so RSS and the count of mappings drop when the
 * socket closes, not at some later GC.
 *
 * What it does not do: it is not a `dgram.Socket`. libuv forbids two watchers on one fd, so a
 * batch-engine socket is never adopted by `node:dgram`; this module implements the few dgram calls
 * `UdpSocket` makes (options through `setsockopt`, connect, membership) on the fd itself.
 *
 * Platforms: Linux (recvmmsg, sendmmsg; GSO from 4.18, GRO from 5.0). Needs the native addon.
 *
 * @module
 * @internal
 */
import { constants as osConstants } from 'node:os';
import { InvalidStateError, SystemCallError, SocketClosedError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import { AddressCache, parseIPv4, parseIPv6 } from './ip-bytes.js';

/** Layout words shared with `native/src/batch.c` (checked against `msock_batch_layout()`). */
const L = {
  RX_OFFSET: 0,
  RX_LENGTH: 1,
  RX_FLAGS: 2,
  RX_PORT: 3,
  RX_FAMILY: 4,
  RX_SCOPE: 5,
  RX_ADDR: 6,
  RX_IFINDEX: 10,
  RX_LOCAL: 11,
  RX_LOCAL_FAMILY: 15,
  RX_TS_SEC: 16,
  RX_TS_NSEC: 17,
  RX_TOS: 18,
  RX_SEGMENT: 19,
  RX_STRIDE: 20,
  RX_F_TRUNC: 1,
  RX_F_CTRUNC: 2,
  RX_F_LOCAL: 4,
  RX_F_TIMESTAMP: 8,
  RX_F_TOS: 16,
  RX_F_GRO: 32,
  TX_OFFSET: 0,
  TX_LENGTH: 1,
  TX_SEGMENT: 2,
  TX_PORT: 3,
  TX_FAMILY: 4,
  TX_SCOPE: 5,
  TX_ADDR: 6,
  TX_TTL: 10,
  TX_STRIDE: 12,
  CTRL_COUNT: 0,
  CTRL_DROPS: 1,
  CTRL_TRUNCATED: 2,
  CTRL_SEND_ERRNO: 3,
  CTRL_SEND_BLOCKED: 4,
  CTRL_CAP_GSO: 5,
  CTRL_CAP_GRO: 6,
  CTRL_CAP_RECVMMSG: 7,
  CTRL_CAP_SENDMMSG: 8,
  CTRL_GSO_MAX_SEGMENTS: 9,
  CTRL_LENGTH: 16,
  GRO_MAX_SEGMENTS: 128,
  GSO_MAX_SEGMENTS: 64,
  EV_BATCH: 0,
  EV_WRITABLE: 1,
  EV_ERROR: 3,
  EV_POLL_ERROR: 4,
} as const;

/** `-EFAULT`: the engine's receive memory was detached (transferred away) while it was open. */
const DETACHED = -osConstants.errno.EFAULT;

/**
 * The batch exports of the addon (`native/src/batch.c`), one to one with the C names. Declared
 * here rather than in `src/native/binding.ts` because only this module calls them.
 */
export interface BatchBinding {
  msock_batch_layout(): Record<string, number>;
  /**
   * Starts the engine on `fd` and maps its receive memory: `meta` (receive rows) and `arena`
   * (`slots x slotBytes` payload bytes; `RX_OFFSET` counts from its start) are views of one
   * external ArrayBuffer that `msock_batch_close` detaches and unmaps.
   */
  msock_batch_open(
    fd: number,
    control: Int32Array,
    callback: (kind: number, value: number) => void,
    options: {
      slots: number;
      slotBytes: number;
      gro: boolean;
      sourceAddress: boolean;
      maxBatchesPerWake: number;
    },
  ): { handle: unknown; meta: Int32Array; arena: Uint8Array };
  msock_batch_close(handle: unknown): number;
  msock_batch_ref(handle: unknown, on: boolean): void;
  msock_batch_read(handle: unknown, on: boolean): void;
  msock_batch_poll_writable(handle: unknown): void;
  msock_batch_connect(handle: unknown, row: Int32Array): void;
  msock_batch_send(
    handle: unknown,
    payload: Uint8Array,
    rows: Int32Array,
    first: number,
    count: number,
    skip: number,
  ): number;
}

/** Whether this addon has the batch engine (Linux builds). */
export function hasBatchEngine(binding: NativeBinding | undefined): boolean {
  return (
    binding !== undefined &&
    binding.platform === 'linux' &&
    typeof (binding as Partial<BatchBinding>).msock_batch_open === 'function'
  );
}

let layoutChecked = false;

function checkLayout(binding: BatchBinding): void {
  if (layoutChecked) return;
  const native = binding.msock_batch_layout();
  for (const [key, value] of Object.entries(L)) {
    if (native[key] !== value) {
      throw new Error(
        `mediasock: the native addon's batch layout differs (${key}: ${native[key]} != ${value}); rebuild it with npm run build:native`,
      );
    }
  }
  layoutChecked = true;
}

/** Kernel features the batch engine uses on this socket, probed once at open. */
export interface BatchCapabilities {
  /** `UDP_SEGMENT` sends (GSO); turned off for good when the kernel answers `EIO`/`EINVAL`. */
  gso: boolean;
  /** `UDP_GRO` receives (asked for with `gro: true`). */
  gro: boolean;
  /** `recvmmsg(2)`; off after `ENOSYS` (then one `recvmsg` per datagram). */
  recvmmsg: boolean;
  /** `sendmmsg(2)`; off after `ENOSYS`. */
  sendmmsg: boolean;
  /** Destination address and ifindex per datagram (`IP_PKTINFO` / `IPV6_RECVPKTINFO`). */
  pktinfo: boolean;
  /** Kernel receive timestamps (`SO_TIMESTAMPNS`). */
  timestamps: boolean;
  /** Datagrams per GSO send (1 without GSO). */
  gsoMaxSegments: number;
}

/**
 * Datagrams laid out in one buffer: datagram `i` is `data[offset(i) .. offset(i) + length(i))`. A
 * received {@link DatagramBatch} is one; `UdpSocket.sendBatch` sends one as it is (a relay sends
 * what it received without a copy), and the media helpers read one without allocating.
 */
export interface DatagramBatchView {
  /** Datagrams in the batch. */
  readonly count: number;
  /** The memory the datagrams live in. */
  readonly data: Uint8Array;
  /** Byte offset of datagram `i` in {@link data}. */
  offset(i: number): number;
  /** Bytes of datagram `i`. */
  length(i: number): number;
}

/**
 * The datagrams of one wake-up of the receive engine. Read it inside the `'batch'` listener (or
 * before the next step of a `batches()` loop): the memory is reused for the next batch, so a
 * payload view must be copied (`Buffer.from(view)`) to be kept. Accessors throw `RangeError` for an
 * index outside `0..count-1`, including on a batch that is no longer valid (its count is then 0).
 *
 * `offset(i)` / `length(i)` into {@link DatagramBatch.data} read a payload without allocating;
 * `payload(i)` allocates one small view object.
 */
export interface DatagramBatch extends DatagramBatchView {
  /** Datagrams in the batch (0 once the batch is no longer valid). */
  readonly count: number;
  /** The memory the payloads live in; see {@link offset} and {@link length}. */
  readonly data: Uint8Array;
  /** Byte offset of datagram `i` in {@link data}. */
  offset(i: number): number;
  /** Payload bytes of datagram `i` (with {@link truncated}: the bytes kept). */
  length(i: number): number;
  /** A view of datagram `i`'s payload; valid while the batch is. */
  payload(i: number): Uint8Array;
  /**
   * Source address (`node:dgram`'s text form; link-local IPv6 sources carry `%zone`). Throws
   * `InvalidStateError` on a socket opened with `batch: { sourceAddress: false }`, as do
   * {@link port} and {@link family}.
   */
  address(i: number): string;
  /** Source port. */
  port(i: number): number;
  /** Source family. */
  family(i: number): 4 | 6;
  /** `MSG_TRUNC`: the datagram was longer than a slot and was cut (counted in `stats.truncated`). */
  truncated(i: number): boolean;
  /** Destination address (with `pktinfo: true`), else `undefined`. */
  localAddress(i: number): string | undefined;
  /** Arrival interface index (with `pktinfo: true`), else `undefined`. */
  ifindex(i: number): number | undefined;
  /** Kernel receive time in ns since the epoch (with `timestamps: true`), else `undefined`. */
  timestampNs(i: number): bigint | undefined;
  /** The GRO segment size when datagram `i` was split from a coalesced message, else 0. */
  segmentSize(i: number): number;
}

/** What reading a source throws on a socket opened with `batch: { sourceAddress: false }`. */
export function noSourceAddress(): InvalidStateError {
  return new InvalidStateError(
    'the socket was opened with batch: { sourceAddress: false }: the kernel was not asked for source addresses',
  );
}

function outOfRange(i: number, count: number): RangeError {
  return new RangeError(
    `datagram index ${i} is outside 0..${count - 1} (a batch is valid only until its listener returns)`,
  );
}

/** A batch over the engine's shared memory. */
export class SharedBatch implements DatagramBatch {
  readonly data: Uint8Array;
  readonly #meta: Int32Array;
  readonly #metaBytes: Uint8Array;
  readonly #names: AddressCache;
  #count = 0;

  constructor(data: Uint8Array, meta: Int32Array, names: AddressCache) {
    this.data = data;
    this.#meta = meta;
    this.#metaBytes = new Uint8Array(meta.buffer, meta.byteOffset, meta.byteLength);
    this.#names = names;
  }

  get count(): number {
    return this.#count;
  }

  set(count: number): void {
    this.#count = count;
  }

  #row(i: number): number {
    if (!(i >= 0 && i < this.#count && Number.isInteger(i))) throw outOfRange(i, this.#count);
    return i * L.RX_STRIDE;
  }

  offset(i: number): number {
    return this.#meta[this.#row(i) + L.RX_OFFSET]!;
  }

  length(i: number): number {
    return this.#meta[this.#row(i) + L.RX_LENGTH]!;
  }

  /** Payload bytes of every datagram, read straight from the rows (for the socket's counters). */
  totalBytes(): number {
    const m = this.#meta;
    const end = this.#count * L.RX_STRIDE;
    let bytes = 0;
    for (let r = L.RX_LENGTH; r < end; r += L.RX_STRIDE) bytes += m[r]!;
    return bytes;
  }

  payload(i: number): Uint8Array {
    const r = this.#row(i);
    const start = this.#meta[r + L.RX_OFFSET]!;
    return this.data.subarray(start, start + this.#meta[r + L.RX_LENGTH]!);
  }

  /** The row of datagram `i`, which must carry its source (not with `sourceAddress: false`). */
  #source(i: number): number {
    const r = this.#row(i);
    if (this.#meta[r + L.RX_FAMILY] === 0) throw noSourceAddress();
    return r;
  }

  address(i: number): string {
    const r = this.#source(i);
    const m = this.#meta;
    return this.#names.format(
      m,
      this.#metaBytes,
      r + L.RX_ADDR,
      m[r + L.RX_FAMILY]!,
      m[r + L.RX_SCOPE]!,
    );
  }

  port(i: number): number {
    return this.#meta[this.#source(i) + L.RX_PORT]!;
  }

  family(i: number): 4 | 6 {
    return this.#meta[this.#source(i) + L.RX_FAMILY] === 6 ? 6 : 4;
  }

  truncated(i: number): boolean {
    return (this.#meta[this.#row(i) + L.RX_FLAGS]! & L.RX_F_TRUNC) !== 0;
  }

  localAddress(i: number): string | undefined {
    const r = this.#row(i);
    const m = this.#meta;
    if ((m[r + L.RX_FLAGS]! & L.RX_F_LOCAL) === 0) return undefined;
    return this.#names.format(m, this.#metaBytes, r + L.RX_LOCAL, m[r + L.RX_LOCAL_FAMILY]!, 0);
  }

  ifindex(i: number): number | undefined {
    const r = this.#row(i);
    if ((this.#meta[r + L.RX_FLAGS]! & L.RX_F_LOCAL) === 0) return undefined;
    return this.#meta[r + L.RX_IFINDEX]!;
  }

  timestampNs(i: number): bigint | undefined {
    const r = this.#row(i);
    const m = this.#meta;
    if ((m[r + L.RX_FLAGS]! & L.RX_F_TIMESTAMP) === 0) return undefined;
    return BigInt(m[r + L.RX_TS_SEC]! >>> 0) * 1_000_000_000n + BigInt(m[r + L.RX_TS_NSEC]!);
  }

  segmentSize(i: number): number {
    return this.#meta[this.#row(i) + L.RX_SEGMENT]!;
  }
}

/** Receive memory of one engine. */
export interface BatchEngineOptions {
  /** Datagrams per receive call (`recvmmsg` vlen). */
  slots: number;
  /** Bytes per slot: the largest datagram kept whole (65536 by default, so nothing is cut). */
  slotBytes: number;
  /** Ask for `UDP_GRO`. */
  gro: boolean;
  /** Ask for each datagram's source address (`msg_name`); without, rows carry family 0. */
  sourceAddress: boolean;
  /** Receive calls per readable wake-up before yielding to the event loop. */
  maxBatchesPerWake: number;
  /** The socket has `IP_PKTINFO` / `IPV6_RECVPKTINFO` on. */
  pktinfo: boolean;
  /** The socket has `SO_TIMESTAMPNS` on. */
  timestamps: boolean;
}

/** What the engine tells its owner. */
export interface BatchEngineSink {
  batch(batch: DatagramBatch): void;
  error(err: SystemCallError): void;
  writable(): void;
  closed(err: SystemCallError | undefined): void;
}

/**
 * Send rows being built: one Int32Array (grown as needed) plus a byte view to write addresses.
 * Rows: offset, length, segment size, port, family (0 = connected), scope, 16 address bytes, TTL.
 *
 * Each row goes out as its own message (one GSO super-packet when it is segmented), so rows with
 * different TTLs are never merged into one send.
 */
export class SendRows {
  /** Words per row. */
  static readonly stride: number = L.TX_STRIDE;

  /**
   * Copies rows `first .. count` of `rows` and the part of `payload` they point into, with the
   * copied rows' offsets rebased onto the copy: what a send keeps when it has to wait, so the
   * caller's buffers (the socket's own receive memory among them) are free once the call returns.
   */
  static detach(
    payload: Uint8Array,
    rows: Int32Array,
    first: number,
    count: number,
  ): { payload: Uint8Array; rows: Int32Array } {
    const copy = rows.slice(first * L.TX_STRIDE, count * L.TX_STRIDE);
    let start = Infinity;
    let end = 0;
    for (let r = 0; r < copy.length; r += L.TX_STRIDE) {
      const offset = copy[r + L.TX_OFFSET]!;
      start = Math.min(start, offset);
      end = Math.max(end, offset + copy[r + L.TX_LENGTH]!);
    }
    if (copy.length === 0) return { payload: new Uint8Array(0), rows: copy };
    const bytes = payload.slice(start, end);
    for (let r = 0; r < copy.length; r += L.TX_STRIDE)
      copy[r + L.TX_OFFSET] = copy[r + L.TX_OFFSET]! - start;
    return { payload: bytes, rows: copy };
  }
  rows = new Int32Array(64 * L.TX_STRIDE);
  #bytes = new Uint8Array(this.rows.buffer);
  count = 0;
  #lastAddress: string | undefined;
  readonly #last = new Uint8Array(16);
  #lastFamily = 0;
  #lastScope = 0;
  readonly #scope: (zone: string) => number;

  constructor(scope: (zone: string) => number) {
    this.#scope = scope;
  }

  reset(): void {
    this.count = 0;
  }

  /**
   * Appends a row; `address` undefined sends to the connected peer. Throws on a bad literal.
   *
   * @param ttl - this row's TTL / hop limit, sent as a control message on its datagrams only
   *   (`IP_TTL` for IPv4 and v4-mapped destinations, 1..255; `IPV6_HOPLIMIT` for IPv6, 0..255);
   *   Linux applies it to unicast and multicast destinations alike. -1 (the default) leaves the
   *   socket's TTL (`IP_TTL`/`IP_MULTICAST_TTL`, `IPV6_UNICAST_HOPS`/`IPV6_MULTICAST_HOPS`). Linux
   *   rejects `IP_TTL` 0, so a host-local multicast TTL of 0 on IPv4 needs `IP_MULTICAST_TTL` on
   *   the socket instead; the addon refuses such a row with a TypeError.
   */
  push(
    offset: number,
    length: number,
    segment: number,
    address: string | undefined,
    port: number,
    ttl = -1,
  ): void {
    if ((this.count + 1) * L.TX_STRIDE > this.rows.length) {
      const grown = new Int32Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
      this.#bytes = new Uint8Array(grown.buffer);
    }
    const r = this.count * L.TX_STRIDE;
    const rows = this.rows;
    rows[r + L.TX_OFFSET] = offset;
    rows[r + L.TX_LENGTH] = length;
    rows[r + L.TX_SEGMENT] = segment;
    rows[r + L.TX_PORT] = port;
    rows[r + L.TX_TTL] = ttl;
    if (address === undefined) {
      rows[r + L.TX_FAMILY] = 0;
    } else {
      if (address !== this.#lastAddress) this.#parse(address);
      rows[r + L.TX_FAMILY] = this.#lastFamily;
      rows[r + L.TX_SCOPE] = this.#lastScope;
      this.#bytes.set(this.#last, (r + L.TX_ADDR) * 4);
    }
    this.count++;
  }

  #parse(address: string): void {
    const percent = address.indexOf('%');
    const literal = percent === -1 ? address : address.slice(0, percent);
    this.#last.fill(0);
    if (parseIPv4(literal, this.#last, 0)) {
      this.#lastFamily = 4;
      this.#lastScope = 0;
    } else if (parseIPv6(literal, this.#last, 0)) {
      this.#lastFamily = 6;
      this.#lastScope = percent === -1 ? 0 : this.#scope(address.slice(percent + 1));
    } else {
      throw new TypeError(`not an IP address literal: ${address}`);
    }
    this.#lastAddress = address;
  }
}

/** The native batch engine on one fd. Owns the fd from construction on. */
export class BatchEngine {
  readonly #binding: NativeBinding & BatchBinding;
  readonly #handle: unknown;
  readonly #control: Int32Array;
  readonly #batch: SharedBatch;
  readonly #options: BatchEngineOptions;
  readonly #sink: BatchEngineSink;
  #held = false;
  #closed = false;
  #closing = false;

  /**
   * Starts polling `fd`. On failure the fd is left open for the caller to close.
   * @throws SystemCallError when the addon cannot start (`ENOSYS` off Linux).
   */
  constructor(
    binding: NativeBinding,
    fd: number,
    options: BatchEngineOptions,
    sink: BatchEngineSink,
  ) {
    const batchBinding = binding as NativeBinding & BatchBinding;
    checkLayout(batchBinding);
    this.#binding = batchBinding;
    this.#options = options;
    this.#sink = sink;
    this.#control = new Int32Array(L.CTRL_LENGTH);
    const names = new AddressCache((scope) => {
      try {
        return binding.msock_if_indextoname(scope);
      } catch {
        return String(scope);
      }
    });
    // The receive memory comes from the addon (the SharedBatch needs it first); the callback reaches
    // the batch through this box and only ever runs after open returned.
    const box: { batch?: SharedBatch } = {};
    const onEvent = (kind: number, value: number): void => {
      switch (kind) {
        case L.EV_BATCH: {
          const batch = box.batch!;
          batch.set(value);
          try {
            sink.batch(batch);
          } finally {
            if (!this.#held) batch.set(0);
          }
          break;
        }
        case L.EV_WRITABLE:
          sink.writable();
          break;
        case L.EV_POLL_ERROR:
          // libuv could not (re-)arm the poll: the engine reads no more until it is reopened.
          sink.error(new SystemCallError('uv_poll', value));
          break;
        default:
          sink.error(
            new SystemCallError(
              value === DETACHED ? 'recvmmsg (shared memory detached)' : 'recvmmsg',
              value,
            ),
          );
      }
    };
    const opened = batchBinding.msock_batch_open(fd, this.#control, onEvent, {
      slots: options.slots,
      slotBytes: options.slotBytes,
      gro: options.gro,
      sourceAddress: options.sourceAddress,
      maxBatchesPerWake: options.maxBatchesPerWake,
    });
    this.#handle = opened.handle;
    this.#batch = box.batch = new SharedBatch(opened.arena, opened.meta, names);
  }

  /** The probed kernel features; see {@link BatchCapabilities}. */
  capabilities(): BatchCapabilities {
    const c = this.#control;
    return {
      gso: c[L.CTRL_CAP_GSO] === 1,
      gro: c[L.CTRL_CAP_GRO] === 1,
      recvmmsg: c[L.CTRL_CAP_RECVMMSG] === 1,
      sendmmsg: c[L.CTRL_CAP_SENDMMSG] === 1,
      pktinfo: this.#options.pktinfo,
      timestamps: this.#options.timestamps,
      gsoMaxSegments: c[L.CTRL_GSO_MAX_SEGMENTS]!,
    };
  }

  /** Datagrams cut by `MSG_TRUNC` so far. */
  get truncated(): number {
    return this.#control[L.CTRL_TRUNCATED]! >>> 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Keeps the current batch valid and stops reading, until {@link release}. */
  hold(): void {
    if (this.#held || this.#closing) return;
    this.#held = true;
    this.#binding.msock_batch_read(this.#handle, false);
  }

  /** Invalidates a held batch and reads again. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#batch.set(0);
    if (!this.#closing) this.#binding.msock_batch_read(this.#handle, true);
  }

  /**
   * Sends `rows[first .. first+count)` from `payload`, starting at datagram `skip` of the first;
   * returns the datagrams sent. Why it stopped early is read from the control words the call just
   * wrote ({@link sendBlocked}, {@link sendErrno}): no result object, so a send allocates nothing.
   * @throws SystemCallError when the very first datagram fails; SocketClosedError once closing.
   */
  send(payload: Uint8Array, rows: Int32Array, first: number, count: number, skip: number): number {
    if (this.#closing) throw new SocketClosedError('sendBatch');
    return this.#binding.msock_batch_send(this.#handle, payload, rows, first, count, skip);
  }

  /** The last {@link send} stopped on a full send queue: wait for {@link BatchEngineSink.writable}. */
  get sendBlocked(): boolean {
    return this.#control[L.CTRL_SEND_BLOCKED] === 1;
  }

  /** errno (positive) that stopped the last {@link send} after at least one datagram, else 0. */
  get sendErrno(): number {
    return this.#control[L.CTRL_SEND_ERRNO]!;
  }

  /** One `writable` event once the send queue has room (POLLOUT). */
  pollWritable(): void {
    this.#binding.msock_batch_poll_writable(this.#handle);
  }

  /** `connect(2)` to the destination of `rows` row 0, or dissolve with `AF_UNSPEC` (family 0). */
  connect(rows: Int32Array): void {
    this.#binding.msock_batch_connect(this.#handle, rows);
  }

  ref(on: boolean): void {
    if (!this.#closing) this.#binding.msock_batch_ref(this.#handle, on);
  }

  /**
   * Stops polling, closes the fd (`close(2)` now) and gives the receive memory back (detached, so
   * views of a batch read as length 0, and unmapped); the sink hears `closed` on the next tick.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const rc = this.#binding.msock_batch_close(this.#handle);
    this.#closed = true;
    this.#batch.set(0);
    // Like dgram: 'close' on the next tick, the fd already closed and the port free.
    process.nextTick(() =>
      this.#sink.closed(rc < 0 ? new SystemCallError('close', rc) : undefined),
    );
  }

  /** The number of datagrams in a send row. */
  /** Payload bytes of `n` datagrams of send row `row`, from its datagram `skip` on. */
  static rowBytes(rows: Int32Array, row: number, skip: number, n: number): number {
    const r = row * L.TX_STRIDE;
    const len = rows[r + L.TX_LENGTH]!;
    const seg = rows[r + L.TX_SEGMENT]!;
    if (seg <= 0 || len <= seg) return n > 0 ? len : 0;
    return Math.max(0, Math.min(len, (skip + n) * seg) - skip * seg);
  }

  static rowDatagrams(rows: Int32Array, row: number): number {
    const r = row * L.TX_STRIDE;
    const len = rows[r + L.TX_LENGTH]!;
    const seg = rows[r + L.TX_SEGMENT]!;
    return seg <= 0 || len <= seg ? 1 : Math.ceil(len / seg);
  }
}
