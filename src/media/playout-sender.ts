/**
 * Sends datagrams at given departure times on a {@link UdpSocket}: the sending half of MPEG-TS
 * playout ({@link TsPlayout} gives the times).
 *
 * Two engines, chosen at open:
 * - `'thread'` (native addon, Linux): a sender thread in the addon waits for each datagram's time
 *   with `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` and sends it with `sendto(2)` on a
 *   `dup(2)` of the socket's fd, from a ring this class fills (lock-free); the gaps do not depend
 *   on the event loop, and are even to tens of microseconds when the thread's core is free or the
 *   thread runs `SCHED_FIFO` (`realtimePriority`).
 * - `'timer'` (no addon, or `engine: 'timer'`): Node timers wake the event loop and the datagrams
 *   due are sent with `socket.send`; gaps follow Node's 1 ms timer granularity, the average rate
 *   still follows the times.
 *
 * Either way the schedule is absolute: a datagram whose time has passed goes at once and is counted
 * as late when it leaves more than `lateMs` after its time, and later datagrams keep their own
 * times (lateness never accumulates). The start is `preloadSeconds` after open, so the queue fills
 * before the first departure.
 *
 * What it does not do: kernel pacing (`SO_TXTIME` with the ETF qdisc), or reorder datagrams
 * (times must not decrease; a time earlier than the previous one leaves in queue order).
 *
 * @module
 */
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { AbortError, InvalidArgumentError, InvalidStateError } from '../errors.js';
import { assertFactory, kFactory } from '../internal/factory-only.js';
import { loadNative } from '../native/index.js';
import type { NativeBinding } from '../native/binding.js';
import type { UdpSocket } from '../udp/udp-socket.js';

/** Options of {@link PlayoutSender.open}. */
export interface PlayoutSenderOptions {
  /** Destination port. */
  port: number;
  /** Destination address literal (the resolved address of a `MediaSender`). */
  address: string;
  /** Seconds between open and departure time 0. Default 0.1. */
  preloadSeconds?: number;
  /** A datagram leaving more than this many ms after its time counts as late. Default 1. */
  lateMs?: number;
  /** Datagrams queued ahead of their time, 2..1 048 576. Default 1024. */
  queueDatagrams?: number;
  /** The largest datagram, bytes (the thread's ring slot). Default 2048. */
  maxDatagramBytes?: number;
  /**
   * Thread engine: run the sender thread `SCHED_FIFO` at this priority, 1..99 (Linux; needs
   * `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` that allows it; when refused the thread runs as a normal
   * one and {@link PlayoutSenderStats.realtime} says why). Keeps CPU-bound processes from delaying
   * its wake-ups. Default 0: a normal thread.
   */
  realtimePriority?: number;
  /** `'auto'` (default): the thread when the addon has it, else timers. */
  engine?: 'auto' | 'thread' | 'timer';
}

/** What {@link PlayoutSender.stats} reports. */
export interface PlayoutSenderStats {
  /** `'thread'` or `'timer'`. */
  engine: 'thread' | 'timer';
  /** Datagrams sent. */
  sent: number;
  /** Bytes sent. */
  bytes: number;
  /** Datagrams that left more than `lateMs` after their time. */
  late: number;
  /** Largest lateness seen, ms. */
  maxLatenessMs: number;
  /** Mean lateness over the datagrams handled, ms. */
  meanLatenessMs: number;
  /** Datagrams the kernel refused (dropped). */
  sendErrors: number;
  /** The errno name of the last refusal, or `null`. */
  lastError: string | null;
  /** Datagrams queued, not sent yet. */
  queued: number;
  /** Seconds after departure time 0 at which the first and the last datagram left (`null`: none). */
  firstSentSeconds: number | null;
  lastSentSeconds: number | null;
  /**
   * Thread engine: `true` when the thread runs `SCHED_FIFO`, the errno name when that was refused
   * (`'EPERM'`), `false` when not asked (and always with the timer engine).
   */
  realtime: boolean | string;
}

interface PacerBinding {
  msock_pacer_open(
    fd: number,
    options: {
      address: string;
      port: number;
      scopeId: number;
      slots: number;
      slotBytes: number;
      lateUs: number;
      priority: number;
    },
  ): unknown;
  msock_pacer_now(handle: unknown): number;
  msock_pacer_push(handle: unknown, payload: Uint8Array, departureNs: number): boolean;
  msock_pacer_stats(handle: unknown, out: Float64Array): void;
  msock_pacer_close(handle: unknown): void;
  msock_pacer_live(): number;
}

/** Bounds of the wait for room in a full ring, ms. */
const MIN_REFILL_WAIT_MS = 5;
const MAX_REFILL_WAIT_MS = 250;

/** Slots of the stats array (`ST_*` in `native/src/pacer.c`). */
const ST = {
  SENT: 0,
  BYTES: 1,
  LATE: 2,
  MAX_LATE_NS: 3,
  SUM_LATE_NS: 4,
  SEND_ERRORS: 5,
  LAST_ERRNO: 6,
  QUEUED: 7,
  FIRST_NS: 8,
  LAST_NS: 9,
  REALTIME: 11,
  LENGTH: 12,
} as const;

function pacerBinding(binding: NativeBinding | undefined): PacerBinding | undefined {
  if (binding === undefined || binding.platform !== 'linux') return undefined;
  const b = binding as NativeBinding & Partial<PacerBinding>;
  return typeof b.msock_pacer_open === 'function' ? (b as NativeBinding & PacerBinding) : undefined;
}

/** Sender threads running in this process (0 without the addon); for leak checks. */
export function playoutThreadsLive(): number {
  return pacerBinding(loadNative())?.msock_pacer_live() ?? 0;
}

/** Resolves `true` when `p` settles, `false` when `signal` aborts first. */
function settledBeforeAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal === undefined) return p.then(() => true);
  if (signal.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const settled = (): void => {
      signal.removeEventListener('abort', aborted);
      resolve(true);
    };
    const aborted = (): void => resolve(false);
    signal.addEventListener('abort', aborted, { once: true });
    void p.then(settled, settled);
  });
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

/**
 * Sends datagrams at departure times (seconds after open + `preloadSeconds`).
 *
 * @example
 * ```ts
 * const playout = new TsPlayout();
 * const out = PlayoutSender.open(socket, { port: 5004, address: '127.0.0.1' });
 * for await (const chunk of createReadStream('in.ts'))
 *   for (const d of playout.push(chunk)) await out.send(d.payload, d.departure);
 * for (const d of playout.end()) await out.send(d.payload, d.departure);
 * await out.drain();
 * await out.close();
 * ```
 */
export class PlayoutSender {
  readonly #socket: UdpSocket;
  readonly #port: number;
  readonly #address: string;
  readonly #preload: number;
  readonly #lateSeconds: number;
  readonly #capacity: number;
  readonly #maxBytes: number;
  readonly #native: PacerBinding | undefined;
  readonly #handle: unknown;
  readonly #stats = new Float64Array(ST.LENGTH);
  /** Departure (ns) of each datagram in the ring, by push count modulo the capacity. */
  readonly #pushed: Float64Array;
  #pushCount = 0;
  /** performance.now() (ms) of departure time 0, timer engine. */
  readonly #zeroMs: number;
  #closed = false;
  // timer engine
  readonly #queue: { payload: Uint8Array; at: number }[] = [];
  #queueHead = 0;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #bytes = 0;
  #late = 0;
  #maxLate = 0;
  #sumLate = 0;
  #handled = 0;
  #errors = 0;
  #lastError: string | null = null;
  #first: number | null = null;
  #last: number | null = null;
  #inFlight = 0;
  /** The send at the head of the line, timer engine: woken when a datagram left. */
  #wake: (() => void) | undefined;
  /** Sends waiting for room, and the end of their line (settles when the last one is done). */
  #waiting = 0;
  #line: Promise<void> = Promise.resolve();

  private constructor(token: unknown, socket: UdpSocket, options: PlayoutSenderOptions) {
    assertFactory(token, 'PlayoutSender', 'PlayoutSender.open()');
    this.#socket = socket;
    this.#port = options.port;
    this.#address = options.address;
    this.#preload = options.preloadSeconds ?? 0.1;
    this.#lateSeconds = (options.lateMs ?? 1) / 1000;
    this.#capacity = options.queueDatagrams ?? 1024;
    this.#maxBytes = options.maxDatagramBytes ?? 2048;
    this.#pushed = new Float64Array(this.#capacity);
    const engine = options.engine ?? 'auto';
    const binding = engine === 'timer' ? undefined : pacerBinding(loadNative());
    const fd = socket.fd;
    if (engine === 'thread' && (binding === undefined || fd === undefined))
      throw new InvalidStateError(
        "engine 'thread' needs the native addon on Linux and a socket with an fd (see nativeStatus())",
      );
    if (binding !== undefined && fd !== undefined) {
      const percent = this.#address.indexOf('%');
      const literal = percent === -1 ? this.#address : this.#address.slice(0, percent);
      let scopeId = 0;
      if (percent !== -1) {
        const zone = this.#address.slice(percent + 1);
        scopeId = /^\d+$/.test(zone) ? Number(zone) : loadNative()!.msock_if_nametoindex(zone);
      }
      this.#handle = binding.msock_pacer_open(fd, {
        address: literal,
        port: this.#port,
        scopeId,
        slots: this.#capacity,
        slotBytes: this.#maxBytes,
        lateUs: Math.round(this.#lateSeconds * 1e6),
        priority: options.realtimePriority ?? 0,
      });
      this.#native = binding;
    }
    this.#zeroMs = performance.now() + this.#preload * 1000;
  }

  /**
   * Starts a sender on `socket` to `address:port`. The socket stays the caller's: close the sender
   * first, then the socket (the thread sends on its own `dup` of the fd, which keeps the socket and
   * its port open until the sender closes).
   *
   * @throws InvalidArgumentError for an option out of range; InvalidStateError for
   *   `engine: 'thread'` without the addon; SystemCallError when the thread cannot start.
   */
  static open(socket: UdpSocket, options: PlayoutSenderOptions): PlayoutSender {
    if (typeof socket !== 'object' || socket === null || typeof socket.send !== 'function')
      throw new InvalidArgumentError('socket', socket, 'must be a UdpSocket');
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { port, address, … }');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)
      throw new InvalidArgumentError('port', options.port, 'must be an integer in 1..65535');
    if (
      typeof options.address !== 'string' ||
      isIP(options.address.split('%')[0] ?? '') === 0 ||
      options.address.endsWith('%')
    )
      throw new InvalidArgumentError(
        'address',
        options.address,
        'must be an IPv4 or IPv6 address literal (with %zone for a scoped IPv6 address)',
      );
    const checks: [string, unknown, number, number][] = [
      ['preloadSeconds', options.preloadSeconds, 0, 60],
      ['lateMs', options.lateMs, 0, 60_000],
      ['queueDatagrams', options.queueDatagrams, 2, 1 << 20],
      ['maxDatagramBytes', options.maxDatagramBytes, 1, 65535],
      ['realtimePriority', options.realtimePriority, 0, 99],
    ];
    if (options.realtimePriority !== undefined && !Number.isInteger(options.realtimePriority))
      throw new InvalidArgumentError(
        'realtimePriority',
        options.realtimePriority,
        'must be an integer in 0..99',
      );
    for (const [name, value, min, max] of checks) {
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
        throw new InvalidArgumentError(name, value, `must be a number in ${min}..${max}`);
    }
    if (
      options.engine !== undefined &&
      options.engine !== 'auto' &&
      options.engine !== 'thread' &&
      options.engine !== 'timer'
    )
      throw new InvalidArgumentError(
        'engine',
        options.engine,
        "must be 'auto', 'thread' or 'timer'",
      );
    return new PlayoutSender(kFactory, socket, options);
  }

  /** `'thread'` or `'timer'`. */
  get engine(): 'thread' | 'timer' {
    return this.#native !== undefined ? 'thread' : 'timer';
  }

  /** Seconds on the departure clock now (negative during the preload). */
  now(): number {
    if (this.#native !== undefined && !this.#closed)
      return this.#native.msock_pacer_now(this.#handle) / 1e9 - this.#preload;
    return (performance.now() - this.#zeroMs) / 1000;
  }

  /**
   * Queues `payload` (copied) to leave `departure` seconds after departure time 0; waits while
   * the queue is full.
   *
   * @throws InvalidArgumentError for an empty or oversized payload or a negative time;
   *   InvalidStateError once closed; AbortError when `signal` aborts while waiting.
   */
  async send(payload: Uint8Array, departure: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new InvalidStateError('the playout sender is closed');
    if (!(payload instanceof Uint8Array) || payload.length === 0 || payload.length > this.#maxBytes)
      throw new InvalidArgumentError(
        'payload',
        payload,
        `must be a Uint8Array of 1..${this.#maxBytes} bytes`,
      );
    if (typeof departure !== 'number' || !Number.isFinite(departure) || departure < 0)
      throw new InvalidArgumentError('departure', departure, 'must be a number of seconds >= 0');
    if (this.#waiting === 0 && this.#push(payload, departure)) return;
    // The queue is full, or earlier sends wait for room: this one waits in line behind them, so
    // datagrams enter the queue in the order send() was called, whatever wakes first.
    this.#waiting++;
    const before = this.#line;
    let release!: () => void;
    this.#line = new Promise<void>((resolve) => (release = resolve));
    let inTurn = false;
    try {
      inTurn = await settledBeforeAbort(before, signal);
      if (!inTurn) throw new AbortError('PlayoutSender.send', signal?.reason);
      for (;;) {
        if (this.#closed) throw new InvalidStateError('the playout sender is closed');
        if (signal?.aborted === true) throw new AbortError('PlayoutSender.send', signal.reason);
        if (this.#push(payload, departure)) return;
        await this.#room(signal);
      }
    } finally {
      this.#waiting--;
      // A send that leaves the line before its turn (aborted) lets the next go only once the
      // sends before it are done: one send at a time waits for room.
      if (inTurn) release();
      else void before.then(release);
    }
  }

  /** Queues a datagram if there is room now (the ring of the thread, the timer's queue). */
  #push(payload: Uint8Array, departure: number): boolean {
    if (this.#native !== undefined) {
      const at = (departure + this.#preload) * 1e9;
      if (!this.#native.msock_pacer_push(this.#handle, payload, at)) return false;
      this.#pushed[this.#pushCount % this.#capacity] = at;
      this.#pushCount++;
      return true;
    }
    if (this.#queue.length - this.#queueHead >= this.#capacity) return false;
    this.#queue.push({ payload: Uint8Array.prototype.slice.call(payload), at: departure });
    this.#arm();
    return true;
  }

  /**
   * Resolves once there may be room (or `signal` aborts, or the sender closes): the timer engine
   * wakes the one send at the head of the line when a datagram left; the thread engine's ring is
   * refilled once half of it has left (a few wake-ups per second at any rate), not one datagram
   * at a time.
   */
  async #room(signal: AbortSignal | undefined): Promise<void> {
    if (this.#native !== undefined) {
      const k = this.#pushCount - (this.#capacity >> 1);
      const half = k >= 0 ? this.#pushed[k % this.#capacity]! : 0;
      const waitMs = (half / 1e9 - this.#preload - this.now()) * 1000;
      try {
        await sleep(
          Number.isFinite(waitMs)
            ? Math.min(MAX_REFILL_WAIT_MS, Math.max(MIN_REFILL_WAIT_MS, waitMs))
            : MIN_REFILL_WAIT_MS,
          undefined,
          { signal },
        );
      } catch (err) {
        // An abort ends the wait; the caller then throws the AbortError.
        if (signal?.aborted !== true) throw err;
      }
      return;
    }
    await new Promise<void>((resolve) => {
      const onAbort = (): void => wake();
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        if (this.#wake === wake) this.#wake = undefined;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#wake = wake;
    });
  }

  /** Resolves once every queued datagram has left (or `signal` aborts). */
  async drain(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.#closed || signal?.aborted === true) return;
      const s = this.stats();
      if (s.queued === 0 && this.#inFlight === 0) return;
      await sleep(10);
    }
  }

  /** Counters; see {@link PlayoutSenderStats}. */
  stats(): PlayoutSenderStats {
    if (this.#native !== undefined && !this.#closed) {
      this.#native.msock_pacer_stats(this.#handle, this.#stats);
    }
    if (this.#native !== undefined) {
      const s = this.#stats;
      const sent = s[ST.SENT]!;
      const handled = sent + s[ST.SEND_ERRORS]!;
      return {
        engine: 'thread',
        sent,
        bytes: s[ST.BYTES]!,
        late: s[ST.LATE]!,
        maxLatenessMs: s[ST.MAX_LATE_NS]! / 1e6,
        meanLatenessMs: handled > 0 ? s[ST.SUM_LATE_NS]! / 1e6 / handled : 0,
        sendErrors: s[ST.SEND_ERRORS]!,
        lastError: s[ST.LAST_ERRNO]! > 0 ? errnoName(s[ST.LAST_ERRNO]!) : null,
        queued: this.#closed ? 0 : s[ST.QUEUED]!,
        firstSentSeconds: sent > 0 ? s[ST.FIRST_NS]! / 1e9 - this.#preload : null,
        lastSentSeconds: sent > 0 ? s[ST.LAST_NS]! / 1e9 - this.#preload : null,
        realtime:
          s[ST.REALTIME]! > 0 ? true : s[ST.REALTIME]! < 0 ? errnoName(-s[ST.REALTIME]!) : false,
      };
    }
    return {
      engine: 'timer',
      sent: this.#sent,
      bytes: this.#bytes,
      late: this.#late,
      maxLatenessMs: this.#maxLate * 1000,
      meanLatenessMs: this.#handled > 0 ? (this.#sumLate * 1000) / this.#handled : 0,
      sendErrors: this.#errors,
      lastError: this.#lastError,
      queued: this.#queue.length - this.#queueHead,
      firstSentSeconds: this.#first,
      lastSentSeconds: this.#last,
      realtime: false,
    };
  }

  /**
   * Stops: datagrams still queued are dropped (call {@link PlayoutSender.drain} first to send
   * them), the thread is joined and its fd closed. The socket stays open. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#native !== undefined) {
      this.#native.msock_pacer_stats(this.#handle, this.#stats);
      this.#native.msock_pacer_close(this.#handle);
    }
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queueHead = 0;
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
    return Promise.resolve();
  }

  /** Timer engine: wakes at the head's time (Node timers: 1 ms granularity). */
  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const head = this.#queue[this.#queueHead];
    if (head === undefined) return;
    const waitMs = Math.max(0, (head.at - this.now()) * 1000);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run();
    }, Math.floor(waitMs));
  }

  #run(): void {
    const now = this.now();
    // Everything due (within a quarter of a timer tick) goes now; the rest waits for its time.
    while (this.#queueHead < this.#queue.length) {
      const item = this.#queue[this.#queueHead]!;
      if (item.at > now + 0.00025) break;
      this.#queueHead++;
      const late = Math.max(0, now - item.at);
      this.#handled++;
      this.#sumLate += late;
      if (late > this.#maxLate) this.#maxLate = late;
      if (late > this.#lateSeconds) this.#late++;
      this.#inFlight++;
      const bytes = item.payload.length;
      this.#socket.send(item.payload, this.#port, this.#address).then(
        () => {
          this.#inFlight--;
          this.#sent++;
          this.#bytes += bytes;
          this.#first ??= now;
          this.#last = now;
        },
        (err: unknown) => {
          this.#inFlight--;
          this.#errors++;
          this.#lastError = (err as { code?: string }).code ?? String(err);
        },
      );
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
    this.#arm();
  }
}
