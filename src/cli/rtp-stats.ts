/**
 * Receive statistics of one RTP stream: sequence number bookkeeping as in RFC 3550 Appendix A.1
 * (probation of a new source, 16-bit wrap into an extended sequence number, restart after a large
 * jump), loss as in A.3 (expected − received) and interarrival jitter as in A.8.
 *
 * Additions to the RFC's reference code, which counts a duplicate as received: duplicates are
 * recognised (an extended sequence number seen before, within the last 65536) and counted
 * separately, so they do not hide losses; a packet older than the highest sequence number seen is
 * counted as reordered. A new SSRC starts the bookkeeping afresh (`sourceChanges` counts it).
 *
 * What it does not do: RTCP, several sources at once, or per-payload-type clock rates.
 *
 * @module
 */

const RTP_SEQ_MOD = 1 << 16;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const MIN_SEQUENTIAL = 2;

/** A snapshot of {@link RtpStats}. */
export interface RtpStatsSnapshot {
  /** The SSRC of the stream followed, or `undefined` before the first packet. */
  ssrc: number | undefined;
  /** Packets counted as received (validated source, duplicates left out). */
  received: number;
  /** Packets expected from the first validated sequence number to the highest (A.3). */
  expected: number;
  /** expected − received, never below 0. */
  lost: number;
  /** Packets whose sequence number was seen before. */
  duplicates: number;
  /** Packets that arrived after a higher sequence number. */
  reordered: number;
  /** Interarrival jitter (A.8) in milliseconds. */
  jitterMs: number;
  /** How often the SSRC changed. */
  sourceChanges: number;
  /** Sequence restarts after a jump larger than the dropout window (A.1 `bad_seq`). */
  restarts: number;
}

/** RTP receive statistics (RFC 3550 A.1, A.3, A.8) of one stream. */
export class RtpStats {
  readonly #clockRate: number;
  #ssrc: number | undefined;
  #maxSeq = 0;
  #cycles = 0;
  #baseSeq = 0;
  #badSeq = RTP_SEQ_MOD + 1;
  #probation = MIN_SEQUENTIAL;
  #received = 0;
  #duplicates = 0;
  #reordered = 0;
  #sourceChanges = 0;
  #restarts = 0;
  #transit: number | undefined;
  #jitter = 0;
  /** Extended sequence number last seen in each of the 65536 slots; -1 for none. */
  readonly #seen = new Float64Array(RTP_SEQ_MOD).fill(-1);

  /** @param clockRate - The RTP timestamp clock in Hz (90000 for video and MP2T). */
  constructor(clockRate: number) {
    this.#clockRate = clockRate;
  }

  /**
   * Accounts for one packet.
   *
   * @param arrivalMs - Arrival time in milliseconds on a monotonic clock (`performance.now()`).
   */
  update(ssrc: number, sequence: number, timestamp: number, arrivalMs: number): void {
    if (this.#ssrc !== ssrc) {
      if (this.#ssrc !== undefined) this.#sourceChanges++;
      this.#reset(ssrc, sequence);
    }
    if (!this.#updateSeq(sequence)) return;
    // A.8: transit time in timestamp units; jitter is its smoothed absolute difference.
    const arrival = (arrivalMs * this.#clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.#transit !== undefined) {
      let d = Math.abs(transit - this.#transit);
      // A timestamp wrap (2^32) shows as a jump of about 2^32: fold it back.
      if (d > 2 ** 31) d = Math.abs(d - 2 ** 32);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#transit = transit;
  }

  /** The counters now. */
  snapshot(): RtpStatsSnapshot {
    const expected = this.#received === 0 ? 0 : this.#extendedMax() - this.#baseSeq + 1;
    return {
      ssrc: this.#ssrc,
      received: this.#received,
      expected,
      lost: Math.max(0, expected - this.#received),
      duplicates: this.#duplicates,
      reordered: this.#reordered,
      jitterMs: (this.#jitter / this.#clockRate) * 1000,
      sourceChanges: this.#sourceChanges,
      restarts: this.#restarts,
    };
  }

  #extendedMax(): number {
    return this.#cycles + this.#maxSeq;
  }

  #reset(ssrc: number, sequence: number): void {
    this.#ssrc = ssrc;
    this.#initSeq(sequence);
    this.#maxSeq = (sequence - 1) & 0xffff;
    this.#probation = MIN_SEQUENTIAL;
    this.#received = 0;
    this.#transit = undefined;
    this.#jitter = 0;
    this.#seen.fill(-1);
  }

  #initSeq(seq: number): void {
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#badSeq = RTP_SEQ_MOD + 1;
    this.#cycles = 0;
    this.#seen.fill(-1);
    this.#seen[seq] = seq;
  }

  /** A.1 `update_seq`, with duplicate and reorder detection; `true` when the packet counts. */
  #updateSeq(seq: number): boolean {
    const udelta = (seq - this.#maxSeq) & 0xffff;
    if (this.#probation > 0) {
      if (seq === ((this.#maxSeq + 1) & 0xffff)) {
        this.#probation--;
        this.#maxSeq = seq;
        if (this.#probation === 0) {
          this.#initSeq(seq);
          this.#received++;
          return true;
        }
      } else {
        this.#probation = MIN_SEQUENTIAL - 1;
        this.#maxSeq = seq;
      }
      return false;
    }
    if (udelta < MAX_DROPOUT) {
      // In order, with a permissible gap.
      if (udelta === 0) {
        this.#duplicates++;
        return false;
      }
      if (seq < this.#maxSeq) this.#cycles += RTP_SEQ_MOD;
      this.#maxSeq = seq;
      this.#seen[seq] = this.#extendedMax();
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A very large jump: restart when the next packet follows this one.
      if (seq === this.#badSeq) {
        this.#restarts++;
        this.#initSeq(seq);
        this.#received = 0;
        this.#transit = undefined;
      } else {
        this.#badSeq = (seq + 1) & (RTP_SEQ_MOD - 1);
        return false;
      }
    } else {
      // Duplicate or reordered packet, behind the highest sequence number.
      const extended = this.#extendedMax() - (RTP_SEQ_MOD - udelta);
      if (extended < this.#baseSeq || this.#seen[seq] === extended) {
        this.#duplicates++;
        return false;
      }
      this.#seen[seq] = extended;
      this.#reordered++;
    }
    this.#received++;
    return true;
  }
}
