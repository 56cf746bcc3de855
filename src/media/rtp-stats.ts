/**
 * RTP receive statistics per SSRC: sequence number bookkeeping as in RFC 3550 Appendix A.1
 * (probation of a new source, 16-bit wrap into an extended sequence number, restart after a large
 * jump), loss as in A.3 (expected − received) and interarrival jitter as in A.8.
 *
 * Additions to the RFC's reference code, which counts a duplicate as received: duplicates are
 * recognised (an extended sequence number seen before, within the last 65536) and counted
 * separately, so they do not hide losses; a packet older than the highest sequence number seen is
 * counted as reordered.
 *
 * Input: header fields ({@link RtpStats.update}), whole datagrams ({@link RtpStats.addDatagram}) or
 * a batch from `UdpSocket`'s `'batch'` event ({@link RtpStats.addBatch}). The datagram and batch
 * paths read the header straight from the bytes and allocate nothing per packet; memory is fixed
 * per source (256 KiB for the duplicate window) and the number of sources is bounded.
 *
 * What it does not do: RTCP (reports, SR timing), per-payload-type clock rates, or repair.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { DatagramBatchView } from './datagram-view.js';

const RTP_SEQ_MOD = 1 << 16;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const MIN_SEQUENTIAL = 2;
const RTP_FIXED_HEADER_BYTES = 12;

/** Default of {@link RtpStatsOptions.maxSources}. */
export const RTP_STATS_DEFAULT_MAX_SOURCES = 16;

/** Statistics of one RTP source (SSRC). */
export interface RtpStatsSnapshot {
  /** The SSRC, or `undefined` before the first packet. */
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
  /** How often consecutive packets came from different SSRCs (over all sources). */
  sourceChanges: number;
  /** Sequence restarts after a jump larger than the dropout window (A.1 `bad_seq`). */
  restarts: number;
}

/** Options of {@link RtpStats}. */
export interface RtpStatsOptions {
  /**
   * Sources followed at most (each holds 256 KiB); packets of further SSRCs are counted in
   * {@link RtpStats.ignoredPackets} and otherwise left out. Default 16.
   */
  maxSources?: number;
}

/** Sequence, loss, duplicate, reorder and jitter bookkeeping of one SSRC. */
class SourceState {
  maxSeq = 0;
  cycles = 0;
  baseSeq = 0;
  badSeq = RTP_SEQ_MOD + 1;
  probation = MIN_SEQUENTIAL;
  received = 0;
  duplicates = 0;
  reordered = 0;
  restarts = 0;
  hasTransit = false;
  transit = 0;
  jitter = 0;
  /** Per sequence number: 1 + the cycle (extended >>> 16) it was last seen in; 0 for never. */
  readonly seen = new Uint32Array(RTP_SEQ_MOD);

  constructor(sequence: number) {
    this.initSeq(sequence);
    this.maxSeq = (sequence - 1) & 0xffff;
    this.probation = MIN_SEQUENTIAL;
  }

  extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  mark(seq: number, extended: number): void {
    this.seen[seq] = Math.floor(extended / RTP_SEQ_MOD) + 1;
  }

  seenAs(seq: number, extended: number): boolean {
    return this.seen[seq] === Math.floor(extended / RTP_SEQ_MOD) + 1;
  }

  initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.seen.fill(0);
    this.mark(seq, seq);
  }

  /** A.1 `update_seq`, with duplicate and reorder detection; `true` when the packet counts. */
  updateSeq(seq: number): boolean {
    const udelta = (seq - this.maxSeq) & 0xffff;
    if (this.probation > 0) {
      if (seq === ((this.maxSeq + 1) & 0xffff)) {
        this.probation--;
        this.maxSeq = seq;
        if (this.probation === 0) {
          this.initSeq(seq);
          this.received++;
          return true;
        }
      } else {
        this.probation = MIN_SEQUENTIAL - 1;
        this.maxSeq = seq;
      }
      return false;
    }
    if (udelta < MAX_DROPOUT) {
      // In order, with a permissible gap.
      if (udelta === 0) {
        this.duplicates++;
        return false;
      }
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.maxSeq = seq;
      this.mark(seq, this.extendedMax());
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A very large jump: restart when the next packet follows this one.
      if (seq === this.badSeq) {
        this.restarts++;
        this.initSeq(seq);
        this.received = 0;
        this.hasTransit = false;
      } else {
        this.badSeq = (seq + 1) & (RTP_SEQ_MOD - 1);
        return false;
      }
    } else {
      // Duplicate or reordered packet, behind the highest sequence number.
      const extended = this.extendedMax() - (RTP_SEQ_MOD - udelta);
      if (extended < this.baseSeq || this.seenAs(seq, extended)) {
        this.duplicates++;
        return false;
      }
      this.mark(seq, extended);
      this.reordered++;
    }
    this.received++;
    return true;
  }

  /** A.8: transit time in timestamp units; jitter is its smoothed absolute difference. */
  updateJitter(timestamp: number, arrivalUnits: number): void {
    const transit = arrivalUnits - timestamp;
    if (this.hasTransit) {
      let d = Math.abs(transit - this.transit);
      // A timestamp wrap (2^32) shows as a jump of about 2^32: fold it back.
      if (d > 2 ** 31) d = Math.abs(d - 2 ** 32);
      this.jitter += (d - this.jitter) / 16;
    }
    this.transit = transit;
    this.hasTransit = true;
  }
}

/** RTP receive statistics (RFC 3550 A.1, A.3, A.8), per SSRC. */
export class RtpStats {
  readonly #clockRate: number;
  readonly #maxSources: number;
  readonly #sources = new Map<number, SourceState>();
  #lastSsrc: number | undefined;
  #last: SourceState | undefined;
  #sourceChanges = 0;
  #notRtp = 0;
  #ignored = 0;

  /**
   * @param clockRate - The RTP timestamp clock in Hz (90000 for video and MP2T).
   * @throws InvalidArgumentError when `clockRate` or `maxSources` is not a positive integer.
   */
  constructor(clockRate = 90_000, options: RtpStatsOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object { maxSources? }');
    if (!Number.isSafeInteger(clockRate) || clockRate <= 0) {
      throw new InvalidArgumentError('clockRate', clockRate, 'must be a positive integer (Hz)');
    }
    const maxSources = options.maxSources ?? RTP_STATS_DEFAULT_MAX_SOURCES;
    if (!Number.isSafeInteger(maxSources) || maxSources <= 0) {
      throw new InvalidArgumentError('maxSources', maxSources, 'must be a positive integer');
    }
    this.#clockRate = clockRate;
    this.#maxSources = maxSources;
  }

  /**
   * Accounts for one packet by its header fields. Returns `true` when it counts as received
   * (`false` for probation, duplicates and packets of sources beyond `maxSources`).
   *
   * @param arrivalMs - Arrival time in milliseconds on a monotonic clock (`performance.now()`).
   */
  update(ssrc: number, sequence: number, timestamp: number, arrivalMs: number): boolean {
    let s = this.#last;
    if (ssrc !== this.#lastSsrc || s === undefined) {
      s = this.#sources.get(ssrc);
      if (s === undefined) {
        if (this.#sources.size >= this.#maxSources) {
          this.#ignored++;
          return false;
        }
        s = new SourceState(sequence);
        this.#sources.set(ssrc, s);
      }
      if (this.#lastSsrc !== undefined) this.#sourceChanges++;
      this.#lastSsrc = ssrc;
      this.#last = s;
    }
    if (!s.updateSeq(sequence)) return false;
    s.updateJitter(timestamp, (arrivalMs * this.#clockRate) / 1000);
    return true;
  }

  /**
   * Accounts for one datagram: its RTP header is read in place (no copy, no allocation). A
   * datagram that is not RTP version 2 (too short, bad version, CSRCs or extension past the end,
   * RTCP multiplexed on the port) is counted in {@link notRtp}; returns whether it was RTP.
   */
  addDatagram(data: Uint8Array, arrivalMs: number = performance.now()): boolean {
    return this.addAt(data, 0, data.length, arrivalMs);
  }

  /**
   * Accounts for every datagram of a batch (`socket.on('batch', b => stats.addBatch(b))`), reading
   * the headers straight from `batch.data`. All datagrams get the one arrival time; returns how
   * many were RTP.
   */
  addBatch(batch: DatagramBatchView, arrivalMs: number = performance.now()): number {
    const data = batch.data;
    let rtp = 0;
    for (let i = 0; i < batch.count; i++) {
      if (this.addAt(data, batch.offset(i), batch.length(i), arrivalMs)) rtp++;
    }
    return rtp;
  }

  /**
   * Accounts for the datagram at `data[offset .. offset + length)`, read in place: what
   * {@link addBatch} does per datagram, for a caller that walks a batch itself.
   */
  addAt(data: Uint8Array, offset: number, length: number, arrivalMs: number): boolean {
    if (!isRtpAt(data, offset, length)) {
      this.#notRtp++;
      return false;
    }
    const sequence = ((data[offset + 2] as number) << 8) | (data[offset + 3] as number);
    const timestamp = readUint32(data, offset + 4);
    const ssrc = readUint32(data, offset + 8);
    this.update(ssrc, sequence, timestamp, arrivalMs);
    return true;
  }

  /**
   * The statistics of `ssrc`, or of the source of the latest packet when omitted. An unknown SSRC
   * (or no packet yet) gives zeros with `ssrc` as asked.
   */
  snapshot(ssrc: number | undefined = this.#lastSsrc): RtpStatsSnapshot {
    const s = ssrc === undefined ? undefined : this.#sources.get(ssrc);
    if (s === undefined) {
      return {
        ssrc,
        received: 0,
        expected: 0,
        lost: 0,
        duplicates: 0,
        reordered: 0,
        jitterMs: 0,
        sourceChanges: this.#sourceChanges,
        restarts: 0,
      };
    }
    const expected = s.received === 0 ? 0 : s.extendedMax() - s.baseSeq + 1;
    return {
      ssrc,
      received: s.received,
      expected,
      lost: Math.max(0, expected - s.received),
      duplicates: s.duplicates,
      reordered: s.reordered,
      jitterMs: (s.jitter / this.#clockRate) * 1000,
      sourceChanges: this.#sourceChanges,
      restarts: s.restarts,
    };
  }

  /** The SSRCs followed, in the order they first appeared. */
  get ssrcs(): number[] {
    return [...this.#sources.keys()];
  }

  /** Datagrams that were not RTP (see {@link addDatagram}). */
  get notRtp(): number {
    return this.#notRtp;
  }

  /** Packets of sources beyond `maxSources`, left out of the statistics. */
  get ignoredPackets(): number {
    return this.#ignored;
  }

  /** The SSRC of the latest packet, `undefined` before the first. */
  get lastSsrc(): number | undefined {
    return this.#lastSsrc;
  }
}

/**
 * Whether `length` bytes at `offset` of `data` are a well-formed RTP version 2 packet: the fixed
 * header, CSRCs and any header extension inside the datagram, padding not past the header, and not
 * an RTCP packet multiplexed on the port (RFC 5761 §4: second byte 192..223).
 */
export function isRtpAt(data: Uint8Array, offset: number, length: number): boolean {
  // The per-datagram path of RtpStats: written out in full rather than through rtpPayloadStart.
  if (!(data instanceof Uint8Array))
    throw new InvalidArgumentError('data', data, 'must be a Uint8Array');
  if (length < RTP_FIXED_HEADER_BYTES || offset < 0 || offset + length > data.length) return false;
  const b0 = data[offset] as number;
  if (b0 >> 6 !== 2) return false;
  const b1 = data[offset + 1] as number;
  if (b1 >= 192 && b1 <= 223) return false;
  let header = RTP_FIXED_HEADER_BYTES + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) {
    if (length < header + 4) return false;
    const words =
      ((data[offset + header + 2] as number) << 8) | (data[offset + header + 3] as number);
    header += 4 + words * 4;
  }
  let end = length;
  if ((b0 & 0x20) !== 0) end -= data[offset + length - 1] as number;
  return header <= end;
}

/**
 * Where the payload of the RTP packet at `data[offset .. offset + length)` starts (after the
 * fixed header, CSRCs and any header extension), as an index into `data`; -1 when it is not RTP
 * (see {@link isRtpAt}). Reads in place, allocates nothing.
 */
export function rtpPayloadStart(data: Uint8Array, offset: number, length: number): number {
  checkRange(data, offset, length);
  if (length < RTP_FIXED_HEADER_BYTES || offset + length > data.length) return -1;
  const b0 = data[offset] as number;
  if (b0 >> 6 !== 2) return -1;
  const b1 = data[offset + 1] as number;
  if (b1 >= 192 && b1 <= 223) return -1;
  let header = RTP_FIXED_HEADER_BYTES + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) {
    if (length < header + 4) return -1;
    const words =
      ((data[offset + header + 2] as number) << 8) | (data[offset + header + 3] as number);
    header += 4 + words * 4;
  }
  return header <= rtpPayloadEnd(data, offset, length) - offset ? offset + header : -1;
}

/** Where the payload of the RTP packet at `data[offset ..]` ends: before any padding (index). */
export function rtpPayloadEnd(data: Uint8Array, offset: number, length: number): number {
  checkRange(data, offset, length);
  if (length === 0) return offset;
  const padded = ((data[offset] as number) & 0x20) !== 0;
  return offset + length - (padded ? (data[offset + length - 1] as number) : 0);
}

/** A datagram's place in a buffer: a Uint8Array and two integers >= 0 (cheap: a hot path). */
function checkRange(data: Uint8Array, offset: number, length: number): void {
  if (!(data instanceof Uint8Array))
    throw new InvalidArgumentError('data', data, 'must be a Uint8Array');
  if (!Number.isInteger(offset) || offset < 0)
    throw new InvalidArgumentError('offset', offset, 'must be an integer >= 0');
  if (!Number.isInteger(length) || length < 0)
    throw new InvalidArgumentError('length', length, 'must be an integer >= 0');
}

function readUint32(data: Uint8Array, at: number): number {
  return (
    (data[at] as number) * 0x1000000 +
    (((data[at + 1] as number) << 16) | ((data[at + 2] as number) << 8) | (data[at + 3] as number))
  );
}
