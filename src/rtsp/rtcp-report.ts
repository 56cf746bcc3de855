/**
 * RTCP for a receiving RTSP client: receiver reports out (RFC 3550 §6.4.2, RR + SDES CNAME, the
 * compound RFC 3550 §6.1 requires) and sender reports in (§6.4.1), which map the server's RTP
 * timestamps to its NTP wall clock.
 *
 * Each media keeps a {@link SenderReportTracker}: it records the last SR of the server's source
 * (for the LSR and DLSR fields, from which the server computes the round-trip time) and exposes
 * the NTP ↔ RTP mapping.
 *
 * @module
 */
import { buildSourceDescription, parseRtcpCompound, RtcpPacketType } from '../rist/rtcp-packet.js';
import type { ReportBlockFields } from './reception-stats.js';

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** A sender report received from the server. */
export interface SenderReportInfo {
  /** The server's SSRC. */
  ssrc: number;
  /** NTP timestamp, as milliseconds since the Unix epoch. */
  ntpUnixMs: number;
  /** The middle 32 bits of the NTP timestamp (the LSR of our next report). */
  ntpMiddle: number;
  /** The RTP timestamp that corresponds to the NTP timestamp. */
  rtpTimestamp: number;
  /** Packets the server sent. */
  packetCount: number;
  /** Payload octets the server sent. */
  octetCount: number;
}

/**
 * Reads the sender reports of a compound RTCP packet.
 *
 * @throws InvalidArgumentError when the compound packet's lengths do not tile it.
 */
export function parseSenderReports(data: Uint8Array): SenderReportInfo[] {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: SenderReportInfo[] = [];
  let offset = 0;
  for (const header of parseRtcpCompound(b)) {
    if (header.packetType === RtcpPacketType.SR && header.byteLength >= 28) {
      const msw = b.readUInt32BE(offset + 8);
      const lsw = b.readUInt32BE(offset + 12);
      out.push({
        ssrc: b.readUInt32BE(offset + 4),
        ntpUnixMs: (msw - NTP_UNIX_OFFSET_S) * 1000 + (lsw / 0x100000000) * 1000,
        ntpMiddle: (((msw & 0xffff) << 16) | (lsw >>> 16)) >>> 0,
        rtpTimestamp: b.readUInt32BE(offset + 16),
        packetCount: b.readUInt32BE(offset + 20),
        octetCount: b.readUInt32BE(offset + 24),
      });
    }
    offset += header.byteLength;
  }
  return out;
}

/** The last sender report of one media and when it arrived. */
export class SenderReportTracker {
  #last: SenderReportInfo | undefined;
  #arrivalMs = 0;
  #count = 0;
  readonly #clockRate: number;

  constructor(clockRate: number) {
    this.#clockRate = clockRate > 0 ? clockRate : 90000;
  }

  /** Records a sender report that arrived at `arrivalMs` (monotonic milliseconds). */
  record(sr: SenderReportInfo, arrivalMs: number): void {
    this.#last = sr;
    this.#arrivalMs = arrivalMs;
    this.#count++;
  }

  /** The last sender report, if any. */
  get last(): SenderReportInfo | undefined {
    return this.#last;
  }

  /** Sender reports received. */
  get count(): number {
    return this.#count;
  }

  /**
   * The server's wall-clock time (Unix milliseconds) of an RTP timestamp, from the last SR; the
   * RTP difference is taken modulo 2^32 as a signed value so timestamps just before the SR work.
   */
  wallClockOf(rtpTimestamp: number): number | undefined {
    const sr = this.#last;
    if (sr === undefined) return undefined;
    let diff = (rtpTimestamp - sr.rtpTimestamp) >>> 0;
    if (diff >= 0x80000000) diff -= 0x100000000;
    return sr.ntpUnixMs + (diff * 1000) / this.#clockRate;
  }

  /** LSR and DLSR (units of 1/65536 s) for a report sent at `nowMs`. */
  lsrDlsr(nowMs: number): { lsr: number; dlsr: number } {
    if (this.#last === undefined) return { lsr: 0, dlsr: 0 };
    const dlsr = Math.max(0, Math.floor(((nowMs - this.#arrivalMs) * 65536) / 1000));
    return { lsr: this.#last.ntpMiddle, dlsr: Math.min(dlsr, 0xffffffff) };
  }
}

/** One report block with the SR-derived fields. */
export interface ReportBlock extends ReportBlockFields {
  lsr: number;
  dlsr: number;
}

/**
 * Builds a compound RTCP packet: RR with up to 31 report blocks, then SDES with our CNAME.
 */
export function buildReceiverReport(
  senderSsrc: number,
  blocks: readonly ReportBlock[],
  cname: string,
): Buffer {
  const count = Math.min(blocks.length, 31);
  const rr = Buffer.alloc(8 + 24 * count);
  rr[0] = 0x80 | count;
  rr[1] = RtcpPacketType.RR;
  rr.writeUInt16BE(rr.length / 4 - 1, 2);
  rr.writeUInt32BE(senderSsrc >>> 0, 4);
  for (let i = 0; i < count; i++) {
    const b = blocks[i] as ReportBlock;
    const o = 8 + 24 * i;
    rr.writeUInt32BE(b.ssrc >>> 0, o);
    rr[o + 4] = b.fractionLost & 0xff;
    rr.writeIntBE(b.cumulativeLost, o + 5, 3);
    rr.writeUInt32BE(b.highestSequence >>> 0, o + 8);
    rr.writeUInt32BE(b.jitter >>> 0, o + 12);
    rr.writeUInt32BE(b.lsr >>> 0, o + 16);
    rr.writeUInt32BE(b.dlsr >>> 0, o + 20);
  }
  return Buffer.concat([rr, buildSourceDescription(senderSsrc, cname)]);
}
