/**
 * The RTP stream of the soak run (`bench/soak.ts`, `bench/soak-dtls.ts`): valid RTP version 2
 * packets, payload type 33 (MP2T), 90 kHz timestamps following the packet schedule, each carrying
 * seven 188-byte MPEG-TS packets on one PID with continuity counters in order (so `mediasock recv
 * --rtp` checks RTP loss and TS continuity on it), and a sequence tracker for the receiving end.
 *
 * @module
 */
import { RTP_HEADER_BYTES, RTP_PAYLOAD_TYPE_MP2T, writeRtpHeader } from '../src/index.js';

/** MPEG-TS packet size. */
export const TS_PACKET_BYTES = 188;
/** TS packets per RTP packet (1316 bytes, the usual IPTV payload). */
export const TS_PER_RTP = 7;
/** RTP payload bytes. */
export const RTP_PAYLOAD_BYTES = TS_PACKET_BYTES * TS_PER_RTP;
/** Whole RTP datagram: 12-byte header + 1316 bytes. */
export const RTP_PACKET_BYTES = RTP_HEADER_BYTES + RTP_PAYLOAD_BYTES;
/** The PID the TS packets carry. */
const TS_PID = 0x100;

/** Writes consecutive RTP/MPEG-TS packets into caller-owned memory, without allocating. */
export class RtpTsWriter {
  readonly #ssrc: number;
  readonly #ticksPerPacket: number;
  #index = 0;
  #cc = 0;

  /** `packetsPerSecond` sets the timestamp step (90 kHz clock). */
  constructor(ssrc: number, packetsPerSecond: number) {
    this.#ssrc = ssrc >>> 0;
    this.#ticksPerPacket = 90_000 / packetsPerSecond;
  }

  /** Packets written so far. */
  get written(): number {
    return this.#index;
  }

  /** Fills `target[offset .. offset + RTP_PACKET_BYTES)` with the TS template (once per buffer). */
  static template(target: Buffer, offset: number): void {
    target.fill(0xff, offset, offset + RTP_PACKET_BYTES);
    for (let k = 0; k < TS_PER_RTP; k++) {
      const at = offset + RTP_HEADER_BYTES + k * TS_PACKET_BYTES;
      target[at] = 0x47;
      target[at + 1] = (TS_PID >> 8) & 0x1f;
      target[at + 2] = TS_PID & 0xff;
      target[at + 3] = 0x10; // payload only; the continuity counter goes in the low nibble
    }
  }

  /** Writes the next packet's RTP header and TS continuity counters over a templated slot. */
  next(target: Buffer, offset: number): void {
    const header = target.subarray(offset, offset + RTP_HEADER_BYTES);
    writeRtpHeader(header, {
      payloadType: RTP_PAYLOAD_TYPE_MP2T,
      sequenceNumber: this.#index & 0xffff,
      timestamp: Math.floor(this.#index * this.#ticksPerPacket) >>> 0,
      ssrc: this.#ssrc,
    });
    for (let k = 0; k < TS_PER_RTP; k++) {
      target[offset + RTP_HEADER_BYTES + k * TS_PACKET_BYTES + 3] = 0x10 | this.#cc;
      this.#cc = (this.#cc + 1) & 0x0f;
    }
    this.#index++;
  }
}

/**
 * Received / lost of one RTP stream, as RFC 3550 A.3 counts them: expected = highest extended
 * sequence number - first + 1, lost = expected - received (late and duplicate packets count as
 * received, so `lost` may dip by them).
 */
export class SeqTracker {
  received = 0;
  /** Datagrams that were not a 1328-byte RTP version 2 packet. */
  malformed = 0;
  #first = 0;
  #highest = 0;

  /** Feeds one datagram's bytes (`data[offset .. offset + length)`). */
  update(data: Uint8Array, offset: number, length: number): void {
    if (length !== RTP_PACKET_BYTES || (data[offset]! & 0xc0) !== 0x80) {
      this.malformed++;
      return;
    }
    const seq = (data[offset + 2]! << 8) | data[offset + 3]!;
    if (this.received === 0) {
      this.#first = seq;
      this.#highest = seq;
    } else {
      const delta = (seq - (this.#highest & 0xffff)) & 0xffff;
      if (delta < 0x8000) this.#highest += delta;
    }
    this.received++;
  }

  /** Expected - received; 0 before the first packet. */
  get lost(): number {
    return this.received === 0 ? 0 : this.#highest - this.#first + 1 - this.received;
  }
}
