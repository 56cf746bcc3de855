/**
 * Admission of candidate peers to a DTLS server's handshake slots: who may hold one of the
 * `maxPendingHandshakes` half-open handshakes, for how long, and who gives way to a newcomer.
 *
 * The attack this answers. Cookies (HelloVerifyRequest) only prove that a peer receives at its
 * address; they cost an attacker nothing more. Four peers that each answer the cookie exchange
 * and then go silent used to hold all four default slots for as long as OpenSSL kept
 * retransmitting to them (12 retransmissions, about 8 minutes), and every real client meanwhile
 * was refused. Two rules now bound what a peer without credentials can hold:
 *
 * 1. **Deadline.** A candidate (a peer past the cookie exchange) must finish its handshake within
 *    `candidateTimeoutMs` (default 5000 ms) of being admitted, whatever OpenSSL's retransmission
 *    timer says; then its slot is freed (`stats.candidatesExpired`). 5 s covers a handshake's
 *    two round trips plus two lost flights at the RFC 6347 timer (1 s, then 2 s).
 * 2. **Eviction.** When every slot is taken and a newcomer passes the cookie check, the oldest
 *    candidate that is *late* gives its slot to the newcomer (`stats.candidatesEvicted`). Late
 *    means: it has sent nothing since it was admitted, and its protection has run out. A real
 *    client answers the server's flight within one round trip, and from then on it cannot be
 *    evicted, only expired (the deadline covers a whole handshake); a silent peer holds a slot
 *    only until the next newcomer after its protection. Oldest first, so a client that was just
 *    admitted is the last to go. When no candidate is late, the newcomer is refused as before
 *    (`stats.pendingRejected`) and retries on its own timer.
 *
 * The protection is four of the candidate's own round trips, as the cookie exchange measured
 * them (HelloVerifyRequest sent to ClientHello with the cookie received): one for its answer,
 * three to absorb jitter and the time the server itself takes to read through a burst. It is
 * kept within 1/100 and 1/10 of `retransmitInitialMs` (10 to 100 ms by default), and is 1/10
 * when there was no measure (cookies off, or the exchange fell out of the bounded record of 256
 * exchanges in flight). Why protect at all: a client evicted after the server sent its flight
 * answers into a void (its next flight is no ClientHello, the only thing a stranger may send)
 * and stays stuck until its own handshake timeout, so admission must be final for a client that
 * answers in time. Why so little, and why capped: newcomers are admitted only as fast as
 * candidates turn late, at most `maxPendingHandshakes` per protection period, so a long
 * protection lets a stream of silent peers keep real clients waiting; and a peer that answers
 * its cookie slowly on purpose gains at most the cap. Users on slow links raise
 * `retransmitInitialMs`, and the bounds grow with it.
 *
 * What is left: peers that complete more than `maxPendingHandshakes` cookie exchanges per
 * protection period (40 to 400 a second by default), and keep it up, keep every slot young and real
 * clients out for as long as they do; after they stop, a waiting client gets in at its next
 * retransmission. A peer that does answer (it keeps sending without completing) holds its slot
 * for `candidateTimeoutMs`. Cookies make each such peer receive at a real address; against
 * sustained attacks `allowPeers` is the remedy. Memory is bounded throughout: at most
 * `maxPendingHandshakes` candidates with their OpenSSL objects, and one stateless cookie
 * listener.
 *
 * @module
 */

/** Cookie exchanges in flight whose start is remembered: enough for any real client, bounded. */
const kCookieRecords = 256;

/** One admitted candidate. */
interface Slot<T> {
  readonly value: T;
  /** `performance.now()` after which it may be evicted if it has not answered. */
  readonly lateAt: number;
  /** The candidate sent a datagram after the one that admitted it (it answers). */
  answered: boolean;
  readonly timer: NodeJS.Timeout;
}

/** The handshake slots of a DTLS server, keyed by the peer's `host:port`. Internal to `dtls.ts`. */
export class CandidateTable<T> {
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #minProtectionMs: number;
  readonly #maxProtectionMs: number;
  readonly #onExpire: (value: T) => void;
  /** When the HelloVerifyRequest went to each peer still in its cookie exchange (bounded). */
  readonly #cookieAt = new Map<string, number>();
  /** In admission order (a Map iterates in insertion order): the first unanswered is the oldest. */
  readonly #slots = new Map<string, Slot<T>>();

  /**
   * @param max - `maxPendingHandshakes`.
   * @param timeoutMs - `candidateTimeoutMs`: each candidate's deadline.
   * @param retransmitInitialMs - the server's first retransmission timeout: the protection of a
   *   silent candidate is 1/100 to 1/10 of it (see the module notes).
   * @param onExpire - called with a candidate whose deadline passed, after it left the table.
   */
  constructor(
    max: number,
    timeoutMs: number,
    retransmitInitialMs: number,
    onExpire: (value: T) => void,
  ) {
    this.#max = max;
    this.#timeoutMs = timeoutMs;
    this.#minProtectionMs = retransmitInitialMs / 100;
    this.#maxProtectionMs = retransmitInitialMs / 10;
    this.#onExpire = onExpire;
  }

  /** Candidates holding a slot now. */
  get size(): number {
    return this.#slots.size;
  }

  /** The candidate of `key`, if it holds a slot. */
  get(key: string): T | undefined {
    return this.#slots.get(key)?.value;
  }

  /** Records that the candidate of `key` sent another datagram: it can no longer be evicted. */
  answered(key: string): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) slot.answered = true;
  }

  /** Records that a HelloVerifyRequest went to `key`, to measure its round trip at admission. */
  cookieSent(key: string): void {
    this.#cookieAt.delete(key); // re-inserted last: the record stays in sending order
    if (this.#cookieAt.size >= kCookieRecords) {
      const oldest = this.#cookieAt.keys().next();
      if (!oldest.done) this.#cookieAt.delete(oldest.value);
    }
    this.#cookieAt.set(key, performance.now());
  }

  /** Whether a newcomer could have a slot: one is free, or one may be evicted. */
  canAdmit(): boolean {
    return this.#slots.size < this.#max || this.#evictable() !== undefined;
  }

  /**
   * Gives `key` a slot, evicting the oldest late candidate when every slot is taken. Returns the evicted candidate, for the caller to free; `undefined` when none was.
   * Call only after {@link canAdmit} said yes, with a key not in the table.
   */
  admit(key: string, value: T): T | undefined {
    let evicted: T | undefined;
    if (this.#slots.size >= this.#max) {
      const victim = this.#evictable();
      if (victim !== undefined) evicted = this.delete(victim);
    }
    const timer = setTimeout(() => {
      const slot = this.#slots.get(key);
      if (slot === undefined || slot.value !== value) return;
      this.#slots.delete(key);
      this.#onExpire(value);
    }, this.#timeoutMs);
    const now = performance.now();
    const sentAt = this.#cookieAt.get(key);
    this.#cookieAt.delete(key);
    const protection =
      sentAt === undefined
        ? this.#maxProtectionMs
        : Math.min(this.#maxProtectionMs, Math.max(this.#minProtectionMs, 4 * (now - sentAt)));
    this.#slots.set(key, { value, lateAt: now + protection, answered: false, timer });
    return evicted;
  }

  /** Frees the slot of `key` (handshake done or failed); returns its candidate. */
  delete(key: string): T | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    clearTimeout(slot.timer);
    this.#slots.delete(key);
    return slot.value;
  }

  /** Empties the table; returns every candidate that held a slot, for the caller to free. */
  clear(): T[] {
    this.#cookieAt.clear();
    const values: T[] = [];
    for (const slot of this.#slots.values()) {
      clearTimeout(slot.timer);
      values.push(slot.value);
    }
    this.#slots.clear();
    return values;
  }

  /** The key of the oldest late candidate: silent since admission, past its protection. */
  #evictable(): string | undefined {
    const now = performance.now();
    for (const [key, slot] of this.#slots) if (!slot.answered && slot.lateAt <= now) return key;
    return undefined;
  }
}
