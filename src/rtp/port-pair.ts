/**
 * RTP/RTCP port pairs: an even port P for RTP and P+1 for RTCP (RFC 3550 §11), bound as two UDP
 * sockets, or one socket for rtcp-mux (RFC 5761).
 *
 * Two ways to find a pair:
 *
 * - **Ephemeral** (no `portRange`): bind port 0 and look at what the kernel chose. If the port is
 *   even, bind P+1 next to it; if odd, bind P-1 below it. A socket that cannot be paired stays
 *   open ("parked", as live555's `MediaSubsession::initiate` does) until a pair is found, so the
 *   kernel cannot hand the same unusable port out again; then every parked socket is closed.
 * - **Inside a range**: scan the range's even ports from a random start, wrapping once, binding
 *   P and P+1 (as GStreamer's rtspsrc does, but from a random start so that concurrent allocators
 *   do not all collide on the first port).
 *
 * Both are bounded by `maxAttempts` and end in `PortRangeExhaustedError`. Probing never uses
 * address reuse (`exclusive: true`), so a busy port really fails to bind. An in-process
 * reservation set (`port-reservations.ts`) keeps concurrent allocations of this process apart.
 *
 * What it does not do: hold ports on behalf of a remote peer, or guard against another process.
 * Between another process's probe and ours, only the kernel decides; and a caller that closes a
 * pair and binds the same numbers again (ristgo's `ListenEphemeralEvenOdd`) has a TOCTOU window in
 * which another process may take them. Keep the pair's sockets open and use them instead.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { assertFactory, kFactory } from '../internal/factory-only.js';

import { addressFamily } from '../address.js';
import { AbortError, InvalidArgumentError, PortRangeExhaustedError } from '../errors.js';
import { UdpSocket } from '../udp/udp-socket.js';
import type { UdpSocketOptions, UdpSocketType } from '../udp/udp-socket.js';
import { validateAbortSignal, validateBoolean, validateInteger } from '../validate.js';
import { releasePort, reservePort } from './port-reservations.js';

/** An inclusive range of ports. */
export interface PortRange {
  /** The first port; even for pairs (the RTP port of the first pair). 1..65535. */
  min: number;
  /** The last port; odd for pairs (the RTCP port of the last pair). 1..65535. */
  max: number;
}

/** Options of {@link openRtpPortPair}. Socket options apply to both sockets. */
export interface RtpPortPairOptions extends Omit<
  UdpSocketOptions,
  'port' | 'reuseAddr' | 'reusePort' | 'exclusive' | 'signal' | 'type'
> {
  /** Address family of both sockets. */
  type: UdpSocketType;
  /**
   * Where to look. Default: ephemeral (the kernel's `ip_local_port_range`). For pairs `min` must
   * be even and `max` odd; with `rtcpMux` any `min <= max`.
   */
  portRange?: PortRange;
  /**
   * How many candidate ports to try binding before giving up with `PortRangeExhaustedError`.
   * Default: 100 for ephemeral allocation (ristgo's bound); inside a range, every candidate.
   * 1..65536.
   */
  maxAttempts?: number;
  /** One socket for RTP and RTCP (RFC 5761); its port need not be even. Default `false`. */
  rtcpMux?: boolean;
  /** Cancels the allocation: every socket opened so far is closed, and it rejects with `AbortError`. */
  signal?: AbortSignal;
}

/** The default bound of ephemeral pair allocation (ristgo's `ListenEphemeralEvenOdd` uses 100). */
const kEphemeralAttempts = 100;

/**
 * An RTP/RTCP port pair, bound. With rtcp-mux, `rtp` and `rtcp` are the same socket and the two
 * port numbers are equal.
 */
export class RtpPortPair {
  /** The RTP socket, on {@link rtpPort}. */
  readonly rtp: UdpSocket;
  /** The RTCP socket, on {@link rtcpPort}; the RTP socket itself with rtcp-mux. */
  readonly rtcp: UdpSocket;
  /** The RTP port: even (any port with rtcp-mux). */
  readonly rtpPort: number;
  /** `rtpPort + 1`, or `rtpPort` with rtcp-mux. */
  readonly rtcpPort: number;
  /** Whether RTP and RTCP share one socket. */
  readonly rtcpMux: boolean;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openRtpPortPair}. */
  /** @internal */
  constructor(token: symbol, rtp: UdpSocket, rtcp: UdpSocket) {
    assertFactory(token, 'RtpPortPair', 'openRtpPortPair()');
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.rtcpMux = rtp === rtcp;
    this.rtpPort = rtp.address().port;
    this.rtcpPort = rtcp.address().port;
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes both sockets (the one socket with rtcp-mux) and gives the ports back to the
   * in-process reservation set. Idempotent: a second call returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closes = this.rtcpMux ? [this.rtp.close()] : [this.rtp.close(), this.rtcp.close()];
      const results = await Promise.allSettled(closes);
      releasePort(this.rtpPort);
      releasePort(this.rtcpPort);
      const failures = results.flatMap((r): unknown[] =>
        r.status === 'rejected' ? [r.reason as unknown] : [],
      );
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) throw new AggregateError(failures, 'closing the port pair failed');
    })();
    return this.#closing;
  }
}

/**
 * Opens an RTP/RTCP port pair: RTP on an even port P, RTCP on P+1, or one socket with `rtcpMux`.
 * See the module comment for how ports are chosen.
 *
 * @throws InvalidArgumentError for a malformed range (odd `min`, even `max`, `min > max`, a range
 *   too small for one pair), a bad `maxAttempts`, or address reuse asked for.
 * @throws PortRangeExhaustedError when no pair could be bound within `maxAttempts`.
 * @throws AbortError when `signal` aborts; every socket opened so far is closed.
 * @throws SystemCallError when a bind fails for another reason than a busy port (`EADDRNOTAVAIL`
 *   for an address this host does not have).
 */
export async function openRtpPortPair(options: RtpPortPairOptions): Promise<RtpPortPair> {
  const o = checkPairOptions(options);
  const socketOptions = socketOptionsOf(o);
  if (o.portRange !== undefined) return openInRange(o, o.portRange, socketOptions);
  return openEphemeral(o, socketOptions);
}

/** Validates {@link RtpPortPairOptions}; shared with `PortPool`. */
export function checkPairOptions(options: RtpPortPairOptions): RtpPortPairOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'options',
      options,
      "must be an object with at least { type: 'udp4' | 'udp6' }",
    );
  }
  if (options.type !== 'udp4' && options.type !== 'udp6')
    throw new InvalidArgumentError('type', options.type, "must be 'udp4' or 'udp6'");
  const loose = options as RtpPortPairOptions & Partial<UdpSocketOptions>;
  for (const name of ['reuseAddr', 'reusePort'] as const) {
    if (loose[name] === true) {
      throw new InvalidArgumentError(
        name,
        true,
        'cannot be used for port-pair probing (a busy port must fail to bind)',
      );
    }
  }
  if (loose.port !== undefined)
    throw new InvalidArgumentError('port', loose.port, 'is not an option here; use portRange');
  if (options.rtcpMux !== undefined) validateBoolean(options.rtcpMux, 'rtcpMux');
  if (options.maxAttempts !== undefined)
    validateInteger(options.maxAttempts, 'maxAttempts', 1, 65536);
  validateAbortSignal(options.signal, 'signal');
  if (options.portRange !== undefined) checkPortRange(options.portRange, options.rtcpMux === true);
  return options;
}

/**
 * Validates a port range for pairs (`min` even, `max` odd, room for one pair) or, with `rtcpMux`,
 * for single ports.
 */
export function checkPortRange(range: PortRange, rtcpMux: boolean): void {
  if (typeof range !== 'object' || range === null)
    throw new InvalidArgumentError('portRange', range, 'must be an object { min, max }');
  validateInteger(range.min, 'portRange.min', 1, 65535);
  validateInteger(range.max, 'portRange.max', 1, 65535);
  if (range.min > range.max) {
    throw new InvalidArgumentError(
      'portRange',
      `${range.min}..${range.max}`,
      'must have min <= max',
    );
  }
  if (rtcpMux) return;
  if (range.max - range.min + 1 < 2) {
    throw new InvalidArgumentError(
      'portRange',
      `${range.min}..${range.max}`,
      'is too small for one RTP/RTCP pair (it needs an even port and the odd port after it)',
    );
  }
  if (range.min % 2 !== 0) {
    throw new InvalidArgumentError(
      'portRange.min',
      range.min,
      'must be even (it is the RTP port of the first pair)',
    );
  }
  if (range.max % 2 !== 1) {
    throw new InvalidArgumentError(
      'portRange.max',
      range.max,
      'must be odd (it is the RTCP port of the last pair)',
    );
  }
}

function socketOptionsOf(o: RtpPortPairOptions): UdpSocketOptions {
  const rest: Partial<RtpPortPairOptions> = { ...o };
  delete rest.portRange;
  delete rest.maxAttempts;
  delete rest.rtcpMux;
  const socketOptions: UdpSocketOptions = { ...(rest as UdpSocketOptions), exclusive: true };
  if (socketOptions.address !== undefined && addressFamily(socketOptions.address) === 0) {
    // UdpSocket.open reports this too, but before any probing is the right time.
    throw new InvalidArgumentError('address', socketOptions.address, 'must be an IP address');
  }
  return socketOptions;
}

/** Whether a bind failed because the port is taken (or privileged), so the next one may do. */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EADDRINUSE' || code === 'EACCES';
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError('openRtpPortPair', signal.reason);
}

/** Binds `port`, returning `undefined` when it is busy. */
async function tryBind(options: UdpSocketOptions, port: number): Promise<UdpSocket | undefined> {
  try {
    return await UdpSocket.open({ ...options, port });
  } catch (err) {
    if (isBusy(err)) return undefined;
    throw err;
  }
}

async function openEphemeral(
  o: RtpPortPairOptions,
  socketOptions: UdpSocketOptions,
): Promise<RtpPortPair> {
  const maxAttempts = o.maxAttempts ?? kEphemeralAttempts;
  const parked: UdpSocket[] = [];
  let attempts = 0;
  let found: RtpPortPair | undefined;
  try {
    while (attempts < maxAttempts) {
      throwIfAborted(o.signal);
      attempts++;
      const first = await UdpSocket.open({ ...socketOptions, port: 0 });
      const port = first.address().port;
      if (!reservePort(port)) {
        // Another allocation of this process is binding this number right now; leave it be.
        parked.push(first);
        continue;
      }
      if (o.rtcpMux === true) return (found = new RtpPortPair(kFactory, first, first));
      const partnerPort = port % 2 === 0 ? port + 1 : port - 1;
      if (partnerPort > 65535 || !reservePort(partnerPort)) {
        releasePort(port);
        parked.push(first);
        continue;
      }
      let partner: UdpSocket | undefined;
      try {
        partner = await tryBind(socketOptions, partnerPort);
      } catch (err) {
        releasePort(port);
        releasePort(partnerPort);
        await first.close();
        throw err;
      }
      if (partner === undefined) {
        releasePort(port);
        releasePort(partnerPort);
        parked.push(first);
        continue;
      }
      const pair =
        port % 2 === 0
          ? new RtpPortPair(kFactory, first, partner)
          : new RtpPortPair(kFactory, partner, first);
      if (o.signal?.aborted) {
        await pair.close();
        throwIfAborted(o.signal);
      }
      return (found = pair);
    }
    const [min, max] = ephemeralRange();
    throw new PortRangeExhaustedError(min, max, attempts, 'RTP/RTCP port pair');
  } finally {
    // The parked probes go in every case. Should closing one fail, the allocation fails as a
    // whole: the pair found is closed too, so nothing is left open behind the error.
    try {
      await closeAll(parked);
    } catch (err) {
      if (found !== undefined) await found.close();
      // eslint-disable-next-line no-unsafe-finally -- the close failure replaces the result on purpose
      throw err;
    }
  }
}

async function openInRange(
  o: RtpPortPairOptions,
  range: PortRange,
  socketOptions: UdpSocketOptions,
): Promise<RtpPortPair> {
  const mux = o.rtcpMux === true;
  const step = mux ? 1 : 2;
  const candidates = Math.floor((range.max - range.min + 1) / step);
  const maxAttempts = o.maxAttempts ?? candidates;
  const start = Math.floor(Math.random() * candidates);
  let attempts = 0;
  for (let i = 0; i < candidates && attempts < maxAttempts; i++) {
    throwIfAborted(o.signal);
    const rtpPort = range.min + ((start + i) % candidates) * step;
    const rtcpPort = rtpPort + (mux ? 0 : 1);
    if (!reservePort(rtpPort)) continue;
    if (!mux && !reservePort(rtcpPort)) {
      releasePort(rtpPort);
      continue;
    }
    attempts++;
    let rtp: UdpSocket | undefined;
    let rtcp: UdpSocket | undefined;
    try {
      rtp = await tryBind(socketOptions, rtpPort);
      if (rtp !== undefined) rtcp = mux ? rtp : await tryBind(socketOptions, rtcpPort);
    } catch (err) {
      await rtp?.close();
      releasePort(rtpPort);
      releasePort(rtcpPort);
      throw err;
    }
    if (rtp === undefined || rtcp === undefined) {
      await rtp?.close();
      releasePort(rtpPort);
      releasePort(rtcpPort);
      continue;
    }
    const pair = new RtpPortPair(kFactory, rtp, rtcp);
    if (o.signal?.aborted) {
      await pair.close();
      throwIfAborted(o.signal);
    }
    return pair;
  }
  throw new PortRangeExhaustedError(
    range.min,
    range.max,
    attempts,
    mux ? 'RTP/RTCP port' : 'RTP/RTCP port pair',
  );
}

async function closeAll(sockets: readonly UdpSocket[]): Promise<void> {
  const results = await Promise.allSettled(sockets.map((s) => s.close()));
  const failures = results.flatMap((r): unknown[] =>
    r.status === 'rejected' ? [r.reason as unknown] : [],
  );
  if (failures.length > 0)
    throw new AggregateError(failures, 'closing parked probe sockets failed');
}

/** The kernel's ephemeral port range (Linux `ip_local_port_range`), for error messages. */
function ephemeralRange(): [number, number] {
  if (process.platform === 'linux') {
    try {
      const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number);
      if (lo !== undefined && hi !== undefined && lo > 0 && hi >= lo) return [lo, hi];
    } catch (err) {
      // Unreadable /proc (a sandbox): report the whole port space instead.
      const code = (err as { code?: unknown }).code;
      if (code !== 'ENOENT' && code !== 'EACCES') throw err;
    }
  }
  return [1, 65535];
}
