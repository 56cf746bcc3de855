/**
 * Receive statistics of one RTP source, as an RTCP receiver report needs them (RFC 3550 §6.4.1):
 * extended highest sequence number (A.1), cumulative and interval loss (A.3) and interarrival
 * jitter (A.8), plus duplicates and reordering for display.
 *
 * This is the RTSP client's own small copy on purpose: the library's general RTP statistics are
 * moving to `src/media/`; the class keeps the narrow interface {@link RtpReceptionStats}
 * (`record`, `snapshot`, `reportBlock`) so it can be swapped for that module later.
 *
 * Duplicates are found in a window of the last 1024 sequence numbers; a packet older than the
 * window counts as reordered, not duplicate.
 *
 * @module
 */

/** What one source's statistics say at a moment. */
export interface ReceptionSnapshot {
  /** Packets received, duplicates included. */
  packets: number;
  /** Payload bytes of those packets (RTP header included). */
  bytes: number;
  /** Packets expected but never received (never negative here; RFC 3550 allows negative). */
  lost: number;
  duplicates: number;
  reordered: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Interarrival jitter in milliseconds. */
  jitterMs: number;
  /** Extended highest sequence number received (cycles << 16 | seq), -1 before any. */
  highestSequence: number;
  /** The SSRC of the source, once a packet came. */
  ssrc: number | undefined;
}

/** Fields of one RTCP report block (RFC 3550 §6.4.1), less LSR/DLSR which come from SRs. */
export interface ReportBlockFields {
  ssrc: number;
  /** Fraction lost since the last report, 0..255 (loss / expected * 256). */
  fractionLost: number;
  /** Cumulative lost, clamped to the signed 24-bit range. */
  cumulativeLost: number;
  highestSequence: number;
  /** Jitter in timestamp units, integer. */
  jitter: number;
}

/** The interface an RTCP receiver report needs from a statistics module. */
export interface RtpReceptionStats {
  record(sequence: number, timestamp: number, ssrc: number, bytes: number, arrivalMs: number): void;
  snapshot(): ReceptionSnapshot;
  reportBlock(): ReportBlockFields | undefined;
}

const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const WINDOW = 1024;

/** RFC 3550 receive statistics of one source. */
export class ReceptionStatistics implements RtpReceptionStats {
  readonly #clockRate: number;
  #ssrc: number | undefined;
  #baseSeq = 0;
  #maxSeq = 0;
  #cycles = 0;
  #received = 0;
  #unique = 0;
  #bytes = 0;
  #duplicates = 0;
  #reordered = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #jitter = 0;
  #lastTransit: number | undefined;
  readonly #seen = new Uint8Array(WINDOW);

  /** @param clockRate - The RTP clock of the payload format (90000 for video and MP2T). */
  constructor(clockRate: number) {
    this.#clockRate = clockRate > 0 ? clockRate : 90000;
  }

  /** Accounts one packet; `arrivalMs` is a monotonic clock in milliseconds. */
  record(
    sequence: number,
    timestamp: number,
    ssrc: number,
    bytes: number,
    arrivalMs: number,
  ): void {
    this.#received++;
    this.#bytes += bytes;
    if (this.#ssrc !== ssrc) {
      // A new source (first packet, or the server changed SSRC): start over, as A.1's init_seq.
      this.#ssrc = ssrc;
      this.#baseSeq = sequence;
      this.#maxSeq = sequence;
      this.#cycles = 0;
      this.#unique = 1;
      this.#expectedPrior = 0;
      this.#receivedPrior = 0;
      this.#lastTransit = undefined;
      this.#seen.fill(0);
      this.#mark(sequence);
      this.#updateJitter(timestamp, arrivalMs);
      return;
    }
    const delta = (sequence - this.#maxSeq) & 0xffff;
    if (delta === 0 || (delta >= 0x10000 - MAX_MISORDER && this.#isSeen(sequence))) {
      this.#duplicates++;
      return;
    }
    if (delta < MAX_DROPOUT) {
      if (sequence < this.#maxSeq) this.#cycles += 0x10000;
      for (let s = 1; s < Math.min(delta, WINDOW); s++)
        this.#seen[(this.#maxSeq + s) & (WINDOW - 1)] = 0;
      this.#maxSeq = sequence;
    } else if (delta < 0x10000 - MAX_MISORDER) {
      // A jump too large to be loss: the source restarted its numbering (A.1 resync, simplified).
      this.#baseSeq = sequence;
      this.#maxSeq = sequence;
      this.#cycles = 0;
      this.#unique = 0;
      this.#expectedPrior = 0;
      this.#receivedPrior = 0;
      this.#seen.fill(0);
    } else {
      this.#reordered++;
    }
    this.#unique++;
    this.#mark(sequence);
    this.#updateJitter(timestamp, arrivalMs);
  }

  #mark(sequence: number): void {
    this.#seen[sequence & (WINDOW - 1)] = 1;
  }

  #isSeen(sequence: number): boolean {
    return this.#seen[sequence & (WINDOW - 1)] === 1;
  }

  /** RFC 3550 A.8: J += (|D| - J) / 16, with arrival converted to timestamp units. */
  #updateJitter(timestamp: number, arrivalMs: number): void {
    const arrival = (arrivalMs * this.#clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.#lastTransit !== undefined) {
      let d = Math.abs(transit - this.#lastTransit);
      // Timestamps wrap at 2^32; a difference that large is a wrap, not jitter.
      if (d > 0x80000000) d = Math.abs(0x100000000 - d);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }

  #expected(): number {
    return this.#cycles + this.#maxSeq - this.#baseSeq + 1;
  }

  /** The statistics now. */
  snapshot(): ReceptionSnapshot {
    const started = this.#ssrc !== undefined;
    return {
      packets: this.#received,
      bytes: this.#bytes,
      lost: started ? Math.max(0, this.#expected() - this.#unique) : 0,
      duplicates: this.#duplicates,
      reordered: this.#reordered,
      jitter: this.#jitter,
      jitterMs: (this.#jitter * 1000) / this.#clockRate,
      highestSequence: started ? this.#cycles + this.#maxSeq : -1,
      ssrc: this.#ssrc,
    };
  }

  /**
   * The fields of a report block, and starts a new interval for the fraction lost (A.3).
   * Undefined before the first packet.
   */
  reportBlock(): ReportBlockFields | undefined {
    if (this.#ssrc === undefined) return undefined;
    const expected = this.#expected();
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#unique - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#unique;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost =
      expectedInterval <= 0 || lostInterval <= 0
        ? 0
        : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    const cumulative = expected - this.#unique;
    return {
      ssrc: this.#ssrc,
      fractionLost,
      cumulativeLost: Math.max(-0x800000, Math.min(0x7fffff, cumulative)),
      highestSequence: (this.#cycles + this.#maxSeq) >>> 0,
      jitter: Math.floor(this.#jitter) >>> 0,
    };
  }
}
