/**
 * MPEG-TS transport checks (ISO/IEC 13818-1 §2.4.3.2–2.4.3.5), the first-priority checks of
 * ETSI TR 101 290 that need no tables:
 *
 * - sync byte 0x47 on every 188-byte packet;
 * - continuity counters per PID: +1 (mod 16) on each packet with a payload, unchanged on a packet
 *   without one; a jump is allowed where the adaptation field's discontinuity indicator is set;
 *   a packet may be sent twice in a row (the duplicate rule: same counter, same bytes apart from
 *   the PCR), a third copy is an error. Duplicates are recognised by a fingerprint of four 32-bit
 *   words of the payload, so a counter that repeats on a different payload is an error too;
 * - the null PID 0x1FFF is not checked; packets with the transport error indicator are counted
 *   and left out of the counter check; a reserved adaptation_field_control (00) is counted;
 * - PCRs: which PIDs carry them, how many, and the last value per PID (27 MHz units).
 *
 * Input: a buffer of packets ({@link TsChecker.addPackets}) or a batch from `UdpSocket`'s
 * `'batch'` event ({@link TsChecker.addBatch}), read in place: no allocation per packet or
 * datagram; fixed memory (about 170 KiB of per-PID tables).
 *
 * What it does not do: parse PSI/SI tables, PES headers, or check PCR accuracy and intervals.
 *
 * @module
 */
import type { DatagramBatchView } from './datagram-view.js';
import { InvalidArgumentError } from '../errors.js';

/** The MPEG-TS packet size. */
export const TS_PACKET_BYTES = 188;

/** The sync byte that starts every MPEG-TS packet. */
export const TS_SYNC_BYTE = 0x47;

/** The null packet PID (stuffing, never checked). */
export const TS_NULL_PID = 0x1fff;

const PIDS = 8192;

/** Whether a payload looks like MPEG-TS: a whole number of 188-byte packets, each starting 0x47. */
export function looksLikeTransportStream(payload: Uint8Array): boolean {
  if (!(payload instanceof Uint8Array))
    throw new InvalidArgumentError('payload', payload, 'must be a Uint8Array');
  if (payload.length === 0 || payload.length % TS_PACKET_BYTES !== 0) return false;
  for (let i = 0; i < payload.length; i += TS_PACKET_BYTES) {
    if (payload[i] !== TS_SYNC_BYTE) return false;
  }
  return true;
}

/** The counters of a {@link TsChecker}. */
export interface TsCheckSnapshot {
  /** 188-byte packets seen. */
  packets: number;
  /** Packets without the 0x47 sync byte. */
  syncErrors: number;
  /** Continuity counter errors. */
  ccErrors: number;
  /** Allowed duplicates (a packet sent twice in a row). */
  duplicates: number;
  /** Packets whose discontinuity indicator was set. */
  discontinuities: number;
  /** Packets with the transport error indicator set. */
  transportErrors: number;
  /** Packets with the reserved adaptation_field_control value 00 (decoders discard them). */
  reservedAdaptationControl: number;
  /** PCRs seen. */
  pcrs: number;
  /** PIDs that carried a PCR, ascending. */
  pcrPids: number[];
}

/** Sync, continuity and PCR checks on one transport stream. */
export class TsChecker {
  /** Last counter per PID (-1: none yet). */
  readonly #last = new Int8Array(PIDS).fill(-1);
  /** Whether the last packet of the PID was already a duplicate. */
  readonly #repeated = new Uint8Array(PIDS);
  /** Payload fingerprint of the last packet with a payload, per PID. */
  readonly #fingerprint = new Int32Array(PIDS);
  /** PCRs per PID, and the last one (27 MHz units). */
  readonly #pcrCount = new Uint32Array(PIDS);
  readonly #lastPcr = new Float64Array(PIDS);
  #packets = 0;
  #syncErrors = 0;
  #ccErrors = 0;
  #duplicates = 0;
  #discontinuities = 0;
  #transportErrors = 0;
  #reserved = 0;
  #pcrs = 0;

  /**
   * Checks the 188-byte packets in `data[offset .. offset + length)` (a trailing partial packet is
   * ignored); returns how many packets were checked.
   */
  addPackets(data: Uint8Array, offset = 0, length: number = data.length - offset): number {
    const end = Math.min(data.length, offset + length);
    let n = 0;
    for (let i = offset; i + TS_PACKET_BYTES <= end; i += TS_PACKET_BYTES) {
      this.#packet(data, i);
      n++;
    }
    return n;
  }

  /** Checks every datagram of a batch as a buffer of packets; returns how many packets. */
  addBatch(batch: DatagramBatchView): number {
    const data = batch.data;
    let n = 0;
    for (let i = 0; i < batch.count; i++)
      n += this.addPackets(data, batch.offset(i), batch.length(i));
    return n;
  }

  #packet(p: Uint8Array, i: number): void {
    this.#packets++;
    if (p[i] !== TS_SYNC_BYTE) {
      this.#syncErrors++;
      return;
    }
    const b1 = p[i + 1] as number;
    const b3 = p[i + 3] as number;
    const pid = ((b1 & 0x1f) << 8) | (p[i + 2] as number);
    const afc = (b3 >> 4) & 0x3;
    const cc = b3 & 0x0f;
    if (afc === 0) {
      this.#reserved++;
      return;
    }
    const hasAdaptation = (afc & 0x2) !== 0;
    const afLength = hasAdaptation ? (p[i + 4] as number) : 0;
    const flags = afLength > 0 ? (p[i + 5] as number) : 0;
    const discontinuity = (flags & 0x80) !== 0;
    if (discontinuity) this.#discontinuities++;
    if ((flags & 0x10) !== 0 && afLength >= 7) {
      // PCR: 33-bit base at 90 kHz, 6 reserved bits, 9-bit extension at 27 MHz.
      const base =
        (p[i + 6] as number) * 0x2000000 +
        (((p[i + 7] as number) << 17) | ((p[i + 8] as number) << 9) | ((p[i + 9] as number) << 1)) +
        ((p[i + 10] as number) >> 7);
      const ext = (((p[i + 10] as number) & 0x01) << 8) | (p[i + 11] as number);
      this.#lastPcr[pid] = base * 300 + ext;
      this.#pcrCount[pid] = (this.#pcrCount[pid] as number) + 1;
      this.#pcrs++;
    }
    if ((b1 & 0x80) !== 0) {
      this.#transportErrors++;
      return;
    }
    if (pid === TS_NULL_PID) return;
    const hasPayload = (afc & 0x1) !== 0;
    const last = this.#last[pid] as number;
    if (!hasPayload) {
      if (last >= 0 && !discontinuity && cc !== last) this.#ccErrors++;
      this.#last[pid] = cc;
      this.#repeated[pid] = 0;
      return;
    }
    const payloadStart = i + 4 + (hasAdaptation ? 1 + afLength : 0);
    const fingerprint = payloadFingerprint(p, payloadStart, i + TS_PACKET_BYTES);
    if (last >= 0 && !discontinuity) {
      if (cc === last) {
        if (this.#repeated[pid] === 0 && this.#fingerprint[pid] === fingerprint) {
          // The duplicate rule: one copy of the previous packet is allowed.
          this.#duplicates++;
          this.#repeated[pid] = 1;
          return;
        }
        this.#ccErrors++;
      } else if (cc !== ((last + 1) & 0x0f)) {
        this.#ccErrors++;
      }
    }
    this.#last[pid] = cc;
    this.#repeated[pid] = 0;
    this.#fingerprint[pid] = fingerprint;
  }

  /** 188-byte packets seen. */
  get packets(): number {
    return this.#packets;
  }

  /** Continuity counter errors. */
  get ccErrors(): number {
    return this.#ccErrors;
  }

  /** Packets without the 0x47 sync byte. */
  get syncErrors(): number {
    return this.#syncErrors;
  }

  /** The last PCR of `pid` in 27 MHz units, `undefined` when it carried none. */
  lastPcr(pid: number): number | undefined {
    return (this.#pcrCount[pid] ?? 0) > 0 ? this.#lastPcr[pid] : undefined;
  }

  /** All counters. */
  snapshot(): TsCheckSnapshot {
    const pcrPids: number[] = [];
    for (let pid = 0; pid < PIDS; pid++) if ((this.#pcrCount[pid] as number) > 0) pcrPids.push(pid);
    return {
      packets: this.#packets,
      syncErrors: this.#syncErrors,
      ccErrors: this.#ccErrors,
      duplicates: this.#duplicates,
      discontinuities: this.#discontinuities,
      transportErrors: this.#transportErrors,
      reservedAdaptationControl: this.#reserved,
      pcrs: this.#pcrs,
      pcrPids,
    };
  }
}

/** Four 32-bit words of the payload (start, thirds, end) mixed into one; 0 for no payload. */
function payloadFingerprint(p: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  let h = n;
  for (let k = 0; k < 4; k++) {
    const at = start + Math.floor(((n - 1) * k) / 3);
    h = Math.imul(h ^ (p[at] as number), 0x01000193);
    h = Math.imul(h ^ (p[Math.max(start, at - 1)] as number), 0x01000193);
    h = Math.imul(h ^ (p[Math.max(start, at - 2)] as number), 0x01000193);
    h = Math.imul(h ^ (p[Math.max(start, at - 3)] as number), 0x01000193);
  }
  return h;
}
