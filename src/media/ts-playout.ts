/**
 * MPEG-TS playout timing (ISO/IEC 13818-1 §2.4.2.2, §2.4.3.5): gives each datagram of a transport
 * stream the time at which it should leave, from the stream's own Program Clock References, the
 * way a real-time playout (a set-top box's T-STD model, TSDuck's `regulate`) reads them.
 *
 * - The PCR PID is the one the PMT names (PAT → first program's PMT → `PCR_PID`), or, when no PMT
 *   was seen before the first PCR, the first PID that carries one.
 * - PCRs are 27 MHz values: a 33-bit base at 90 kHz times 300 plus a 9-bit extension; the base wraps
 *   every 2^33 / 90 000 s (26.5 h), and differences are taken modulo that wrap.
 * - Each packet's time is interpolated between the PCR before it and the PCR after it (packets
 *   before the first PCR are extrapolated back from the first measured rate); a datagram
 *   (`packetsPerDatagram` packets, 7 by default) leaves at the time of its first packet.
 * - A discontinuity (the adaptation field's `discontinuity_indicator` on the PCR PID, a PCR that
 *   goes backwards or jumps forward by more than `maxPcrGapSeconds`, or {@link TsPlayout.markDiscontinuity},
 *   the jump at the end of a loop) does not move the schedule: the packets up to the new PCR keep
 *   the last measured packet interval, and the new PCR becomes the next anchor.
 * - A stream without PCR (none within `maxSearchPackets` packets) is timed at
 *   `fallbackBitsPerSecond`, and {@link TsPlayout.stats} says so (`pacing: 'bitrate'`).
 *
 * Input may come in chunks of any size (a file read, a pipe); bytes before a sync byte are skipped
 * and counted. The times are seconds on the stream's own timeline, starting at 0 for the first
 * datagram and never decreasing; a sender adds its own start time (see `PlayoutSender`).
 *
 * What it does not do: send anything or read a clock (it is pure), re-stamp PCRs, or time on PTS/DTS.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { TS_PACKET_BYTES, TS_SYNC_BYTE } from './ts-check.js';

/** The 27 MHz PCR clock. */
export const PCR_HZ = 27_000_000;

/** The PCR wraps at 2^33 (base) × 300 (extension) ticks of 27 MHz. */
export const PCR_WRAP = 2 ** 33 * 300;

/** Options of {@link TsPlayout}. */
export interface TsPlayoutOptions {
  /** 188-byte packets per datagram, 1..348. Default 7 (1316 bytes). */
  packetsPerDatagram?: number;
  /**
   * Bit rate (of TS bytes) at which a stream without PCR is timed. Default: 1000 datagrams per
   * second (10.528 Mbit/s at 7 packets per datagram).
   */
  fallbackBitsPerSecond?: number;
  /**
   * Packets held while no PCR has come (at the start, or since the last one) before the held
   * packets are timed at the fallback or last rate. Default 20 000 (3.76 MB).
   */
  maxSearchPackets?: number;
  /** A PCR step longer than this (seconds) is a discontinuity, not a rate. Default 1. */
  maxPcrGapSeconds?: number;
}

/** One datagram and the time it should leave. */
export interface PacedDatagram {
  /** Whole TS packets (a fresh buffer, safe to keep or hand to an asynchronous send). */
  payload: Buffer;
  /** Seconds from the first datagram on the stream's timeline. */
  departure: number;
}

/** What {@link TsPlayout.stats} reports. */
export interface TsPlayoutStats {
  /**
   * `'pcr'` once a PCR pair has given the current rate; `'bitrate'` while timed at the fallback
   * rate (no PCR found); `'searching'` before either.
   */
  pacing: 'pcr' | 'bitrate' | 'searching';
  /** The PID whose PCRs time the stream, or `null` while none. */
  pcrPid: number | null;
  /** The PCR PID named by a PMT, or `null` when none was parsed. */
  pmtPcrPid: number | null;
  /** PCRs read on the PCR PID. */
  pcrs: number;
  /** Discontinuities the schedule stepped over (flag, jump, wrap-free backwards step, loop). */
  discontinuities: number;
  /** PCR base wrap-arounds crossed. */
  wraps: number;
  /** TS bit rate measured over the PCR intervals so far (`null` before the first pair). */
  pcrBitsPerSecond: number | null;
  /** 188-byte packets timed. */
  packets: number;
  /** Bytes skipped to find sync bytes. */
  skippedBytes: number;
  /** Datagrams handed out. */
  datagrams: number;
}

function positive(name: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  )
    throw new InvalidArgumentError(
      name,
      value,
      integer ? 'must be a positive integer' : 'must be a positive finite number',
    );
  return value;
}

/**
 * Times the datagrams of one MPEG-TS stream from its PCRs.
 *
 * @example
 * ```ts
 * const playout = new TsPlayout();
 * for await (const chunk of createReadStream('in.ts')) {
 *   for (const { payload, departure } of playout.push(chunk)) schedule(payload, departure);
 * }
 * for (const d of playout.end()) schedule(d.payload, d.departure);
 * ```
 */
export class TsPlayout {
  readonly #ppd: number;
  readonly #fallbackInterval: number;
  readonly #maxSearch: number;
  readonly #maxGap: number;

  /** Whole packets not yet handed out: packets [#head, #count) of #store; #partial bytes after. */
  #store = Buffer.allocUnsafe(TS_PACKET_BYTES * 4096);
  #times = new Float64Array(4096);
  #head = 0;
  #count = 0;
  /** Packets of #store with a time: [#head, #timed). */
  #timed = 0;
  readonly #partial = Buffer.allocUnsafe(TS_PACKET_BYTES);
  #partialBytes = 0;

  /** Absolute index of #store[0]. */
  #base = 0;
  /** Anchor: absolute packet index, its time, its PCR (undefined for a virtual anchor). */
  #anchorIndex = 0;
  #anchorTime = 0;
  #anchorPcr: number | undefined;
  /** Whether #anchorTime is known (false: the first PCR, before any interval). */
  #anchorTimed = false;
  /** Seconds per packet, once known. */
  #interval: number | undefined;
  #discontinuityPending = false;
  #lastTime = 0;
  #anyTime = false;

  #pcrPid: number | null = null;
  #pmtPcrPid: number | null = null;
  #pmtPid = -1;
  #pcrs = 0;
  #discontinuities = 0;
  #wraps = 0;
  #pcrPackets = 0;
  #pcrSeconds = 0;
  #skipped = 0;
  #datagrams = 0;
  #fallbackUsed = false;
  /** Whether the current packet interval was measured between two PCRs. */
  #rateFromPcr = false;
  #ended = false;

  /** @throws InvalidArgumentError for an option out of range. */
  constructor(options: TsPlayoutOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object');
    this.#ppd = positive('packetsPerDatagram', options.packetsPerDatagram, 7, true);
    if (this.#ppd > 348)
      throw new InvalidArgumentError(
        'packetsPerDatagram',
        options.packetsPerDatagram,
        'must be at most 348 (65 424 bytes)',
      );
    const fallback = positive(
      'fallbackBitsPerSecond',
      options.fallbackBitsPerSecond,
      1000 * this.#ppd * TS_PACKET_BYTES * 8,
    );
    this.#fallbackInterval = (TS_PACKET_BYTES * 8) / fallback;
    this.#maxSearch = positive('maxSearchPackets', options.maxSearchPackets, 20_000, true);
    this.#maxGap = positive('maxPcrGapSeconds', options.maxPcrGapSeconds, 1);
  }

  /** 188-byte packets per datagram. */
  get packetsPerDatagram(): number {
    return this.#ppd;
  }

  /**
   * Takes the next bytes of the stream and returns the datagrams whose times are now known (those
   * up to the last PCR read; the rest come with later calls or {@link TsPlayout.end}).
   *
   * @throws InvalidArgumentError when `chunk` is not a Uint8Array, or after {@link TsPlayout.end}.
   */
  push(chunk: Uint8Array): PacedDatagram[] {
    if (!(chunk instanceof Uint8Array))
      throw new InvalidArgumentError('chunk', chunk, 'must be a Uint8Array');
    if (this.#ended) throw new InvalidArgumentError('chunk', chunk, 'push after end()');
    let i = 0;
    const n = chunk.length;
    if (this.#partialBytes > 0) {
      const take = Math.min(TS_PACKET_BYTES - this.#partialBytes, n);
      this.#partial.set(chunk.subarray(0, take), this.#partialBytes);
      this.#partialBytes += take;
      i = take;
      if (this.#partialBytes === TS_PACKET_BYTES) {
        this.#partialBytes = 0;
        this.#reserve(1);
        this.#store.set(this.#partial, this.#count * TS_PACKET_BYTES);
        this.#packet();
      }
    }
    while (i < n) {
      if (chunk[i] !== TS_SYNC_BYTE) {
        this.#skipped++;
        i++;
        continue;
      }
      if (n - i < TS_PACKET_BYTES) {
        this.#partial.set(chunk.subarray(i), 0);
        this.#partialBytes = n - i;
        break;
      }
      // A run of whole packets in sync: copied in one piece, then read in place.
      let m = 1;
      while (i + (m + 1) * TS_PACKET_BYTES <= n && chunk[i + m * TS_PACKET_BYTES] === TS_SYNC_BYTE)
        m++;
      this.#reserve(m);
      this.#store.set(chunk.subarray(i, i + m * TS_PACKET_BYTES), this.#count * TS_PACKET_BYTES);
      for (let k = 0; k < m; k++) this.#packet();
      i += m * TS_PACKET_BYTES;
    }
    return this.#emit(false);
  }

  /**
   * The stream starts again (the jump at the end of a loop, a new input): a partial packet held is
   * dropped and the next PCR starts a new anchor instead of giving a rate.
   */
  markDiscontinuity(): void {
    if (this.#partialBytes > 0) {
      this.#skipped += this.#partialBytes;
      this.#partialBytes = 0;
    }
    this.#discontinuityPending = true;
  }

  /**
   * The end of the stream: times the packets after the last PCR at the last rate (or the fallback)
   * and returns the remaining datagrams, the last one possibly shorter. A partial packet at the end
   * is dropped (counted in `skippedBytes`).
   */
  end(): PacedDatagram[] {
    if (this.#ended) return [];
    this.#ended = true;
    this.#skipped += this.#partialBytes;
    this.#partialBytes = 0;
    this.#extrapolate(this.#base + this.#count);
    return this.#emit(true);
  }

  /** Counters and the measured rate. */
  stats(): TsPlayoutStats {
    return {
      pacing: this.#rateFromPcr ? 'pcr' : this.#fallbackUsed ? 'bitrate' : 'searching',
      pcrPid: this.#pcrPid,
      pmtPcrPid: this.#pmtPcrPid,
      pcrs: this.#pcrs,
      discontinuities: this.#discontinuities,
      wraps: this.#wraps,
      pcrBitsPerSecond:
        this.#pcrSeconds > 0 ? (this.#pcrPackets * TS_PACKET_BYTES * 8) / this.#pcrSeconds : null,
      packets: this.#base + this.#timed,
      skippedBytes: this.#skipped,
      datagrams: this.#datagrams,
    };
  }

  /** The packet at #count of #store (written there already). */
  #packet(): void {
    const b = this.#store;
    const o = this.#count * TS_PACKET_BYTES;
    const index = this.#base + this.#count;
    this.#count++;
    const pid = ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;
    const afc = (b[o + 3]! >> 4) & 3;
    let payloadStart = 4;
    if ((afc & 2) !== 0) {
      const afLength = b[o + 4]!;
      payloadStart = 5 + afLength;
      if (afLength > 0 && pid === this.#pcrPidFor(pid, b, o)) {
        const flags = b[o + 5]!;
        const discontinuity = (flags & 0x80) !== 0;
        if ((flags & 0x10) !== 0 && afLength >= 7) {
          const pcrBase =
            b[o + 6]! * 2 ** 25 +
            b[o + 7]! * 2 ** 17 +
            b[o + 8]! * 2 ** 9 +
            b[o + 9]! * 2 +
            (b[o + 10]! >> 7);
          const pcr = pcrBase * 300 + (((b[o + 10]! & 1) << 8) | b[o + 11]!);
          this.#onPcr(index, pcr, discontinuity);
        } else if (discontinuity) {
          this.#discontinuityPending = true;
        }
      }
    }
    if ((afc & 1) !== 0 && (b[o + 1]! & 0x40) !== 0 && payloadStart < TS_PACKET_BYTES) {
      if (pid === 0) this.#pat(b, o + payloadStart, o + TS_PACKET_BYTES);
      else if (pid === this.#pmtPid) this.#pmt(b, o + payloadStart, o + TS_PACKET_BYTES);
    }
    if (
      this.#count - this.#timed > this.#maxSearch ||
      (this.#fallbackUsed && this.#pcrPid === null)
    ) {
      // No PCR for too long: time what is held at the last rate (or the fallback) and go on.
      this.#extrapolate(this.#base + this.#count);
      this.#discontinuityPending = true;
    }
  }

  /** The PCR PID to read on this packet: the chosen one, else the PMT's, else this one if it has a PCR. */
  #pcrPidFor(pid: number, b: Uint8Array, o: number): number {
    if (this.#pcrPid !== null) return this.#pcrPid;
    if (this.#pmtPcrPid !== null) {
      this.#pcrPid = this.#pmtPcrPid;
      return this.#pcrPid;
    }
    if ((b[o + 5]! & 0x10) !== 0 && b[o + 4]! >= 7) this.#pcrPid = pid;
    return this.#pcrPid ?? -1;
  }

  /** PAT: the PMT PID of the first program (program_number ≠ 0). */
  #pat(b: Uint8Array, start: number, end: number): void {
    const s = start + 1 + b[start]!;
    if (s + 8 > end || b[s] !== 0x00) return;
    const sectionEnd = Math.min(end, s + 3 + (((b[s + 1]! & 0x0f) << 8) | b[s + 2]!) - 4);
    for (let p = s + 8; p + 4 <= sectionEnd; p += 4) {
      const program = (b[p]! << 8) | b[p + 1]!;
      if (program !== 0) {
        this.#pmtPid = ((b[p + 2]! & 0x1f) << 8) | b[p + 3]!;
        return;
      }
    }
  }

  /** PMT: PCR_PID (0x1FFF: the program has none). */
  #pmt(b: Uint8Array, start: number, end: number): void {
    const s = start + 1 + b[start]!;
    if (s + 10 > end || b[s] !== 0x02) return;
    const pcrPid = ((b[s + 8]! & 0x1f) << 8) | b[s + 9]!;
    if (pcrPid !== 0x1fff && this.#pmtPcrPid === null) this.#pmtPcrPid = pcrPid;
  }

  #onPcr(index: number, pcr: number, flagged: boolean): void {
    this.#pcrs++;
    const prev = this.#anchorPcr;
    let delta = prev === undefined ? 0 : pcr - prev;
    let wrapped = false;
    if (delta < 0 && prev !== undefined && prev - pcr > PCR_WRAP / 2) {
      delta += PCR_WRAP;
      wrapped = true;
    }
    const seconds = delta / PCR_HZ;
    const packets = index - this.#anchorIndex;
    const jump =
      flagged ||
      this.#discontinuityPending ||
      prev === undefined ||
      packets <= 0 ||
      seconds <= 0 ||
      seconds > this.#maxGap;
    if (!jump) {
      if (wrapped) this.#wraps++;
      if (!this.#anchorTimed) {
        // The first pair: packets before the first PCR are extrapolated back from this rate.
        this.#interval = seconds / packets;
        this.#anchorTime =
          this.#startTime() + (this.#anchorIndex - this.#firstUntimed()) * this.#interval;
        this.#anchorTimed = true;
      }
      this.#interval = seconds / packets;
      this.#rateFromPcr = true;
      this.#pcrPackets += packets;
      this.#pcrSeconds += seconds;
      this.#fill(index, this.#anchorTime + seconds);
    } else {
      if (prev !== undefined || this.#anchorTimed) this.#discontinuities++;
      this.#discontinuityPending = false;
      if (this.#anchorTimed && this.#interval !== undefined) {
        this.#fill(index, this.#anchorTime + packets * this.#interval);
      } else {
        // No rate yet: this PCR becomes the (untimed) first anchor.
        this.#anchorIndex = index;
        this.#anchorPcr = pcr;
        this.#anchorTimed = false;
        return;
      }
    }
    this.#anchorIndex = index;
    this.#anchorPcr = pcr;
  }

  /** Time of the next packet after those already timed. */
  #startTime(): number {
    if (!this.#anyTime) return 0;
    return this.#lastTime + (this.#interval ?? this.#fallbackInterval);
  }

  /** Absolute index of the first packet without a time. */
  #firstUntimed(): number {
    return this.#base + this.#timed;
  }

  /** Times packets up to and including `index` linearly from the anchor to `time`. */
  #fill(index: number, time: number): void {
    const from = this.#firstUntimed();
    const a = this.#anchorIndex;
    const ta = this.#anchorTime;
    const step = index > a ? (time - ta) / (index - a) : 0;
    for (let k = from; k <= index; k++) {
      let t = ta + (k - a) * step;
      if (this.#anyTime && t < this.#lastTime) t = this.#lastTime;
      this.#times[k - this.#base] = t;
      this.#lastTime = t;
      this.#anyTime = true;
    }
    if (index + 1 - this.#base > this.#timed) this.#timed = index + 1 - this.#base;
    this.#anchorTime = time < this.#lastTime ? this.#lastTime : time;
  }

  /** Times every packet before absolute index `end` at the last rate (or the fallback). */
  #extrapolate(end: number): void {
    const last = end - 1;
    if (last < this.#firstUntimed()) return;
    if (this.#interval === undefined) {
      this.#interval = this.#fallbackInterval;
      this.#fallbackUsed = true;
      this.#rateFromPcr = false;
    }
    if (!this.#anchorTimed) {
      if (this.#anchorPcr === undefined) {
        this.#anchorIndex = this.#firstUntimed();
        this.#anchorTime = this.#startTime();
      } else {
        // A single PCR: the held packets around it at the next free time.
        this.#anchorTime =
          this.#startTime() + (this.#anchorIndex - this.#firstUntimed()) * this.#interval;
      }
      this.#anchorTimed = true;
    }
    this.#fill(last, this.#anchorTime + (last - this.#anchorIndex) * this.#interval);
    this.#anchorIndex = last;
    // The next PCR is measured from this extrapolated point, so it starts a new anchor.
    this.#discontinuityPending = true;
  }

  /** Room for `m` more packets: the handed-out ones moved out, or the store doubled. */
  #reserve(m: number): void {
    while (this.#count + m > this.#times.length) {
      if (this.#head > 0 && this.#head >= this.#count / 2) {
        this.#store.copyWithin(0, this.#head * TS_PACKET_BYTES, this.#count * TS_PACKET_BYTES);
        this.#times.copyWithin(0, this.#head, this.#count);
        this.#base += this.#head;
        this.#count -= this.#head;
        this.#timed -= this.#head;
        this.#head = 0;
      } else {
        const store = Buffer.allocUnsafe(this.#store.length * 2);
        this.#store.copy(store, 0, 0, this.#count * TS_PACKET_BYTES);
        this.#store = store;
        const times = new Float64Array(this.#times.length * 2);
        times.set(this.#times);
        this.#times = times;
      }
    }
  }

  #emit(all: boolean): PacedDatagram[] {
    const out: PacedDatagram[] = [];
    const ppd = this.#ppd;
    while (this.#timed - this.#head >= ppd || (all && this.#timed > this.#head)) {
      const k = Math.min(ppd, this.#timed - this.#head);
      const payload = Buffer.allocUnsafe(k * TS_PACKET_BYTES);
      this.#store.copy(
        payload,
        0,
        this.#head * TS_PACKET_BYTES,
        (this.#head + k) * TS_PACKET_BYTES,
      );
      out.push({ payload, departure: this.#times[this.#head]! });
      this.#head += k;
      this.#datagrams++;
    }
    if (this.#head === this.#count) {
      this.#base += this.#head;
      this.#timed -= this.#head;
      this.#count = 0;
      this.#head = 0;
    }
    return out;
  }
}
