/**
 * Address learning for a RIST receiver: where the peer's media and RTCP come from, and therefore
 * where feedback goes.
 *
 * Rules (ristgo's `peer.LearnMedia` / `LearnRTCP`, libRIST's `address_compare`):
 *
 * - **Media, first source wins.** The first media datagram fixes the peer's media address and
 *   port. Media from any other address or port is rejected and counted, until the peer has been
 *   silent for `rebindAfterMs`; then the next source is learned afresh (a NAT that rebound the
 *   sender's port, a sender that restarted) and the RTCP address is forgotten with it.
 * - **RTCP only from the media host.** Once media is known, RTCP is accepted only from the same
 *   IP (any port: a sender's two sockets have different ports), and then first source wins as for
 *   media: a datagram spoofed to the RTCP
 *   port must not redirect NACK/RR feedback to a victim (reflection). Before media is known the
 *   first RTCP source is learned, since the session is still forming; media that arrives then from
 *   another host wins, and that RTCP address is dropped.
 * - IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 peers) are
 *   compared unmapped.
 *
 * What it does not do: authenticate anything. A spoofed first datagram still wins the race; RIST's
 * PSK/DTLS are the defence against that, not address learning. It keeps no sockets and no timers;
 * time comes in as arguments (milliseconds from any monotonic clock).
 *
 * @module
 */
import { normalizeAddress } from '../address.js';
import { InvalidArgumentError } from '../errors.js';
import { validateInteger, validatePort, validateString } from '../validate.js';

/** A transport address: IP literal and port. */
export interface Endpoint {
  /** IPv4 or IPv6 literal; IPv4-mapped addresses are reported unmapped. */
  readonly address: string;
  /** UDP port. */
  readonly port: number;
}

/** What {@link AddressLearner.learnMedia} / {@link AddressLearner.learnRtcp} decided. */
export type LearnVerdict = 'learned' | 'known' | 'rebound' | 'rejected';

/** Counters of an {@link AddressLearner}. */
export interface AddressLearnerStats {
  /** Media datagrams from a source other than the learned one. */
  mediaRejected: number;
  /** RTCP datagrams from a host other than the media host, or from a second RTCP source. */
  rtcpRejected: number;
  /** Times the media address was replaced after silence. */
  rebinds: number;
}

/** Options of {@link AddressLearner}. */
export interface AddressLearnerOptions {
  /**
   * After this many milliseconds without an accepted datagram, a new media source replaces the
   * learned one. `0` (the default) never rebinds: first source wins for the session's life.
   */
  rebindAfterMs?: number;
}

/** Learns and checks the peer's media and RTCP addresses; see the module comment. */
export class AddressLearner {
  readonly #rebindAfterMs: number;
  #media: Endpoint | undefined;
  /** The learned media source as a socket last reported it (maybe `::ffff:`-mapped). */
  #mediaText: string | undefined;
  #rtcp: Endpoint | undefined;
  #lastSeenMs: number | undefined;
  readonly #stats: AddressLearnerStats = { mediaRejected: 0, rtcpRejected: 0, rebinds: 0 };

  constructor(options: AddressLearnerOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { rebindAfterMs? }');
    if (options.rebindAfterMs !== undefined)
      validateInteger(options.rebindAfterMs, 'rebindAfterMs', 0, 2 ** 31 - 1);
    this.#rebindAfterMs = options.rebindAfterMs ?? 0;
  }

  /** The learned media address, if any. */
  get media(): Endpoint | undefined {
    return this.#media;
  }

  /** The learned RTCP address, if any. */
  get rtcp(): Endpoint | undefined {
    return this.#rtcp;
  }

  /** Counters; a snapshot. */
  get stats(): AddressLearnerStats {
    return { ...this.#stats };
  }

  /**
   * Offers the source of a media datagram received at `nowMs`.
   *
   * @returns `'learned'` (first source), `'known'` (the learned source), `'rebound'` (a new
   *   source after `rebindAfterMs` of silence) or `'rejected'` (drop the datagram).
   * @throws InvalidArgumentError for a malformed address or port, or a `nowMs` that is not a
   *   finite number (nothing is learned then).
   */
  learnMedia(source: Endpoint, nowMs: number): LearnVerdict {
    const src = checkEndpoint(source, 'source');
    checkNow(nowMs);
    this.#mediaText = undefined;
    if (this.#media === undefined) {
      this.#media = src;
      if (this.#rtcp !== undefined && this.#rtcp.address !== src.address) {
        // RTCP learned before media, from another host: media is authoritative.
        this.#rtcp = undefined;
      }
      this.#lastSeenMs = nowMs;
      return 'learned';
    }
    if (sameEndpoint(this.#media, src)) {
      this.#lastSeenMs = nowMs;
      return 'known';
    }
    if (this.#rebindAfterMs > 0 && this.silentFor(nowMs) >= this.#rebindAfterMs) {
      this.#media = src;
      this.#rtcp = undefined;
      this.#lastSeenMs = nowMs;
      this.#stats.rebinds++;
      return 'rebound';
    }
    this.#stats.mediaRejected++;
    return 'rejected';
  }

  /**
   * {@link learnMedia} for a source as a socket reports it (text, maybe IPv4-mapped, and a port):
   * the batch read path. The learned source is recognised by comparing the text, without
   * normalizing or allocating anything; other sources go through {@link learnMedia}.
   */
  learnMediaSource(address: string, port: number, nowMs: number): LearnVerdict {
    if (address === this.#mediaText && port === this.#media?.port) {
      this.#lastSeenMs = nowMs;
      return 'known';
    }
    const verdict = this.learnMedia({ address, port }, nowMs);
    if (verdict !== 'rejected') this.#mediaText = address;
    return verdict;
  }

  /**
   * Offers the source of an RTCP datagram received at `nowMs`: accepted from the media host only
   * (see the module comment).
   *
   * @returns `'learned'`, `'known'`, `'rebound'` (another port of the media host after
   *   `rebindAfterMs` of silence) or `'rejected'` (drop the datagram).
   */
  learnRtcp(source: Endpoint, nowMs: number): LearnVerdict {
    const src = checkEndpoint(source, 'source');
    checkNow(nowMs);
    if (this.#media !== undefined && this.#media.address !== src.address) {
      this.#stats.rtcpRejected++;
      return 'rejected';
    }
    if (this.#rtcp === undefined) {
      this.#rtcp = src;
      this.#lastSeenMs = nowMs;
      return 'learned';
    }
    if (sameEndpoint(this.#rtcp, src)) {
      this.#lastSeenMs = nowMs;
      return 'known';
    }
    if (this.#rebindAfterMs > 0 && this.silentFor(nowMs) >= this.#rebindAfterMs) {
      this.#rtcp = src;
      this.#lastSeenMs = nowMs;
      return 'rebound';
    }
    this.#stats.rtcpRejected++;
    return 'rejected';
  }

  /**
   * Milliseconds since the last accepted datagram at `nowMs`; `Infinity` before the first one
   * (ristgo's `SilentFor`).
   *
   * @throws InvalidArgumentError when `nowMs` is not a finite number.
   */
  silentFor(nowMs: number): number {
    checkNow(nowMs);
    return this.#lastSeenMs === undefined ? Infinity : Math.max(0, nowMs - this.#lastSeenMs);
  }

  /** Forgets both addresses, so the next sources are learned afresh. Counters stay. */
  forget(): void {
    this.#media = undefined;
    this.#mediaText = undefined;
    this.#rtcp = undefined;
    this.#lastSeenMs = undefined;
  }
}

function checkEndpoint(endpoint: Endpoint, argument: string): Endpoint {
  if (typeof endpoint !== 'object' || endpoint === null)
    throw new InvalidArgumentError(argument, endpoint, 'must be an object { address, port }');
  validateString(endpoint.address, `${argument}.address`);
  validatePort(endpoint.port, `${argument}.port`);
  return { address: normalizeAddress(endpoint.address, { unmap: true }), port: endpoint.port };
}

/** A clock reading (`performance.now()`): a finite number, or the learner's times go NaN. */
function checkNow(nowMs: unknown): asserts nowMs is number {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs))
    throw new InvalidArgumentError('nowMs', nowMs, 'must be a finite number of milliseconds');
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}
