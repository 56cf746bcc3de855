/**
 * MPEG-TS continuity checking (ISO/IEC 13818-1 §2.4.3.3): per PID, the 4-bit continuity counter
 * goes up by one with every packet that carries a payload; a packet may be repeated once (same
 * counter); the discontinuity indicator of the adaptation field allows a jump; the null PID 0x1FFF
 * is not checked. Also counts packets whose sync byte is not 0x47.
 *
 * What it does not do: parse PSI, PES or PCR.
 *
 * @module
 */

/** The MPEG-TS packet size. */
export const TS_PACKET_BYTES = 188;

const NULL_PID = 0x1fff;

/** Whether a payload looks like MPEG-TS: a whole number of 188-byte packets, each starting 0x47. */
export function looksLikeTransportStream(payload: Uint8Array): boolean {
  if (payload.length === 0 || payload.length % TS_PACKET_BYTES !== 0) return false;
  for (let i = 0; i < payload.length; i += TS_PACKET_BYTES) {
    if (payload[i] !== 0x47) return false;
  }
  return true;
}

/** Continuity counter errors of one transport stream. */
export class TsContinuity {
  /** Last counter per PID (-1: none yet), and whether the last packet was already a repeat. */
  readonly #last = new Int8Array(8192).fill(-1);
  readonly #repeated = new Uint8Array(8192);
  #packets = 0;
  #ccErrors = 0;
  #syncErrors = 0;

  /** Checks the 188-byte packets in `payload` (a trailing partial packet is ignored). */
  update(payload: Uint8Array): void {
    for (let i = 0; i + TS_PACKET_BYTES <= payload.length; i += TS_PACKET_BYTES) {
      this.#packets++;
      if (payload[i] !== 0x47) {
        this.#syncErrors++;
        continue;
      }
      const b1 = payload[i + 1] ?? 0;
      const b3 = payload[i + 3] ?? 0;
      const pid = ((b1 & 0x1f) << 8) | (payload[i + 2] ?? 0);
      if (pid === NULL_PID) continue;
      const afc = (b3 >> 4) & 0x3;
      const cc = b3 & 0x0f;
      const hasPayload = (afc & 0x1) !== 0;
      const discontinuity =
        (afc & 0x2) !== 0 && (payload[i + 4] ?? 0) > 0 && ((payload[i + 5] ?? 0) & 0x80) !== 0;
      const last = this.#last[pid] ?? -1;
      if (last >= 0 && !discontinuity) {
        if (!hasPayload) {
          if (cc !== last) this.#ccErrors++;
        } else if (cc === last) {
          if (this.#repeated[pid] === 1) this.#ccErrors++;
          this.#repeated[pid] = 1;
          continue;
        } else if (cc !== ((last + 1) & 0x0f)) {
          this.#ccErrors++;
        }
      }
      this.#last[pid] = cc;
      this.#repeated[pid] = 0;
    }
  }

  /** TS packets seen. */
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
}
