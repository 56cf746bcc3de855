/**
 * `PortPool`: leases RTP/RTCP port pairs from a fixed range and takes them back.
 *
 * A lease is a bound pair (`openRtpPortPair` inside the pool's range): the sockets stay open for
 * as long as the lease is held, so nobody else can take the ports, and the holder uses those very
 * sockets. Releasing closes them. The pool counts what it hands out (`stats`), refuses at once
 * when every pair of its range is leased, and reports `PortRangeExhaustedError` when the free
 * pairs left are all taken by someone else. `close()` releases every lease still held.
 *
 * What it does not do: keep a free list of bound sockets (a free pair is just a number; it is
 * bound when leased), share ports between leases, or reserve ports against other processes
 * beyond holding the bound sockets. Between a release and the next lease another process may
 * bind the numbers; the next lease then moves on to another pair.
 *
 * @module
 */
import { InvalidArgumentError, InvalidStateError, PortRangeExhaustedError } from '../errors.js';
import type { UdpSocket } from '../udp/udp-socket.js';
import { validateAbortSignal } from '../validate.js';
import { checkPairOptions, openRtpPortPair } from './port-pair.js';
import type { RtpPortPair, RtpPortPairOptions } from './port-pair.js';

/** Options of {@link PortPool}. Socket options apply to every leased socket. */
export interface PortPoolOptions extends Omit<
  RtpPortPairOptions,
  'portRange' | 'maxAttempts' | 'signal'
> {
  /** First port of the range: even (the RTP port of the first pair). */
  min: number;
  /** Last port of the range: odd (the RTCP port of the last pair). */
  max: number;
}

/** Counters of a {@link PortPool}; a snapshot. */
export interface PortPoolStats {
  /** Leases held now. */
  leased: number;
  /** Pairs not leased by this pool (some may be bound by other processes). */
  free: number;
  /** Pairs in the range (ports with rtcp-mux). */
  capacity: number;
  /** Leases handed out since the pool was made. */
  leasesTotal: number;
  /** `lease()` calls that failed with `PortRangeExhaustedError`. */
  exhausted: number;
}

/** A leased RTP/RTCP pair. Release it with {@link PortLease.release} or {@link PortPool.release}. */
export interface PortLease {
  /** The RTP socket. */
  readonly rtp: UdpSocket;
  /** The RTCP socket (the RTP socket itself with rtcp-mux). */
  readonly rtcp: UdpSocket;
  /** The RTP port (even, unless rtcp-mux). */
  readonly rtpPort: number;
  /** The RTCP port. */
  readonly rtcpPort: number;
  /** Whether the lease has been released (by its holder or by {@link PortPool.close}). */
  readonly released: boolean;
  /**
   * Closes the sockets and returns the pair to the pool.
   *
   * @throws InvalidStateError when the lease was already released.
   */
  release(): Promise<void>;
}

class Lease implements PortLease {
  readonly #pair: RtpPortPair;
  readonly #pool: PortPool;
  readonly #onRelease: (lease: Lease) => void;
  #releasedBy: 'holder' | 'pool close' | undefined;

  constructor(pair: RtpPortPair, pool: PortPool, onRelease: (lease: Lease) => void) {
    this.#pair = pair;
    this.#pool = pool;
    this.#onRelease = onRelease;
  }

  get rtp(): UdpSocket {
    return this.#pair.rtp;
  }
  get rtcp(): UdpSocket {
    return this.#pair.rtcp;
  }
  get rtpPort(): number {
    return this.#pair.rtpPort;
  }
  get rtcpPort(): number {
    return this.#pair.rtcpPort;
  }
  get released(): boolean {
    return this.#releasedBy !== undefined;
  }

  belongsTo(pool: PortPool): boolean {
    return this.#pool === pool;
  }

  release(by: 'holder' | 'pool close' = 'holder'): Promise<void> {
    if (this.#releasedBy !== undefined) {
      return Promise.reject(
        new InvalidStateError(
          `release: the lease of ports ${this.rtpPort}/${this.rtcpPort} was already released (by ${this.#releasedBy})`,
        ),
      );
    }
    this.#releasedBy = by;
    this.#onRelease(this);
    return this.#pair.close();
  }
}

/**
 * Leases RTP/RTCP port pairs from `min..max`.
 *
 * @example
 * ```ts
 * const pool = new PortPool({ type: 'udp4', address: '127.0.0.1', min: 20000, max: 20999 });
 * const lease = await pool.lease();
 * // … use lease.rtp / lease.rtcp …
 * await lease.release();
 * await pool.close();
 * ```
 */
export class PortPool {
  readonly #options: PortPoolOptions;
  readonly #capacity: number;
  readonly #leases = new Set<Lease>();
  #pending = 0;
  #leasesTotal = 0;
  #exhausted = 0;
  #closing: Promise<void> | undefined;

  /**
   * @throws InvalidArgumentError for a malformed range (odd `min`, even `max`, too small for one
   *   pair) or socket options, before any socket is opened.
   */
  constructor(options: PortPoolOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { type, min, max }');
    const pairOptions = this.#pairOptions(options);
    checkPairOptions(pairOptions);
    this.#options = { ...options };
    const step = options.rtcpMux === true ? 1 : 2;
    this.#capacity = Math.floor((options.max - options.min + 1) / step);
  }

  /** Counters; a snapshot. */
  get stats(): PortPoolStats {
    return {
      leased: this.#leases.size,
      free: this.#capacity - this.#leases.size,
      capacity: this.#capacity,
      leasesTotal: this.#leasesTotal,
      exhausted: this.#exhausted,
    };
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Leases a pair: binds an even port and the odd one after it inside the range.
   *
   * @throws PortRangeExhaustedError when every pair is leased or the rest are busy.
   * @throws InvalidStateError when the pool is closed.
   * @throws AbortError when `signal` aborts.
   */
  async lease(options: { signal?: AbortSignal } = {}): Promise<PortLease> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { signal? }');
    validateAbortSignal(options.signal, 'signal');
    if (this.#closing) throw new InvalidStateError('lease: the PortPool is closed');
    const { min, max } = this.#options;
    if (this.#leases.size + this.#pending >= this.#capacity) {
      this.#exhausted++;
      throw new PortRangeExhaustedError(
        min,
        max,
        0,
        'RTP/RTCP port pair (every pair of the pool is leased)',
      );
    }
    this.#pending++;
    let pair: RtpPortPair;
    try {
      pair = await openRtpPortPair({ ...this.#pairOptions(this.#options), signal: options.signal });
    } catch (err) {
      if (err instanceof PortRangeExhaustedError) this.#exhausted++;
      throw err;
    } finally {
      this.#pending--;
    }
    if (this.#closing) {
      await pair.close();
      throw new InvalidStateError('lease: the PortPool was closed while the lease was being made');
    }
    const lease = new Lease(pair, this, (l) => this.#leases.delete(l));
    this.#leases.add(lease);
    this.#leasesTotal++;
    return lease;
  }

  /**
   * Releases a lease of this pool; the same as `lease.release()`.
   *
   * @throws InvalidArgumentError for a lease of another pool.
   * @throws InvalidStateError when the lease was already released.
   */
  release(lease: PortLease): Promise<void> {
    if (!(lease instanceof Lease) || !lease.belongsTo(this)) {
      return Promise.reject(
        new InvalidArgumentError('lease', lease, 'must be a lease made by this PortPool'),
      );
    }
    return lease.release();
  }

  /**
   * Releases every lease still held and refuses new ones. Idempotent. Holders that release a
   * lease afterwards get `InvalidStateError` (already released, by pool close).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled(
        [...this.#leases].map((l) => l.release('pool close')),
      );
      const failures = results.flatMap((r): unknown[] =>
        r.status === 'rejected' ? [r.reason as unknown] : [],
      );
      if (failures.length > 0) throw new AggregateError(failures, 'closing the PortPool failed');
    })();
    return this.#closing;
  }

  #pairOptions(options: PortPoolOptions): RtpPortPairOptions {
    const rest: Partial<PortPoolOptions> = { ...options };
    delete rest.min;
    delete rest.max;
    return {
      ...(rest as RtpPortPairOptions),
      portRange: { min: options.min, max: options.max },
    };
  }
}
