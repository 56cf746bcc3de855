/**
 * The smallest RTCP a RIST Simple-profile sender needs (RFC 3550 §6): a compound packet of a
 * sender report (SR, PT 200) with no report blocks and a source description (SDES, PT 202) with a
 * CNAME, sent on the odd port P+1 so the receiver sees the sender alive and knows where its
 * feedback goes. Plus a parser of compound packets that lists what is inside (type, count,
 * SSRC), enough to recognise a receiver's RR, SDES and NACK (RTPFB, PT 205; RIST also uses APP
 * PT 204).
 *
 * What it does not do: report blocks, NACK building, RTT echo (RIST's APP packets), or decoding
 * the contents of anything but the headers.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { validateInteger, validateString } from '../validate.js';

/** RTCP packet types (RFC 3550, RFC 4585). */
export const RtcpPacketType = {
  SR: 200,
  RR: 201,
  SDES: 202,
  BYE: 203,
  APP: 204,
  RTPFB: 205,
  PSFB: 206,
} as const;

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const kNtpUnixOffset = 2208988800;

/** Fields of a sender report without report blocks. */
export interface SenderReport {
  /** SSRC of the sender. */
  ssrc: number;
  /** Wallclock of the report, milliseconds since the Unix epoch. Default `Date.now()`. */
  wallclockMs?: number;
  /** RTP timestamp matching the wallclock. */
  rtpTimestamp: number;
  /** Packets sent so far (32 bit, wraps). */
  packetCount: number;
  /** Payload octets sent so far (32 bit, wraps). */
  octetCount: number;
}

/**
 * Builds an SR (PT 200) without report blocks: 28 bytes.
 *
 * @throws InvalidArgumentError when `sr` is not an object, or for a field out of range.
 */
export function buildSenderReport(sr: SenderReport): Buffer {
  if (typeof sr !== 'object' || sr === null)
    throw new InvalidArgumentError(
      'sr',
      sr,
      'must be an object { ssrc, rtpTimestamp, packetCount, octetCount, wallclockMs? }',
    );
  validateInteger(sr.ssrc, 'ssrc', 0, 0xffffffff);
  validateInteger(sr.rtpTimestamp, 'rtpTimestamp', 0, 0xffffffff);
  validateInteger(sr.packetCount, 'packetCount', 0, Number.MAX_SAFE_INTEGER);
  validateInteger(sr.octetCount, 'octetCount', 0, Number.MAX_SAFE_INTEGER);
  const ms = sr.wallclockMs ?? Date.now();
  validateInteger(ms, 'wallclockMs', 0, Number.MAX_SAFE_INTEGER);
  const out = Buffer.alloc(28);
  out[0] = 0x80; // V=2, P=0, RC=0
  out[1] = RtcpPacketType.SR;
  out.writeUInt16BE(28 / 4 - 1, 2);
  out.writeUInt32BE(sr.ssrc, 4);
  const seconds = Math.floor(ms / 1000);
  out.writeUInt32BE((seconds + kNtpUnixOffset) >>> 0, 8);
  out.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  out.writeUInt32BE(sr.rtpTimestamp, 16);
  out.writeUInt32BE(sr.packetCount % 2 ** 32, 20);
  out.writeUInt32BE(sr.octetCount % 2 ** 32, 24);
  return out;
}

/** Builds an SDES (PT 202) with one chunk: `ssrc` and its CNAME (1..255 bytes of UTF-8). */
export function buildSourceDescription(ssrc: number, cname: string): Buffer {
  validateInteger(ssrc, 'ssrc', 0, 0xffffffff);
  validateString(cname, 'cname');
  const text = Buffer.from(cname, 'utf8');
  if (text.length < 1 || text.length > 255)
    throw new InvalidArgumentError('cname', cname, 'must be 1..255 bytes of UTF-8');
  // chunk: SSRC, CNAME item (type 1, length, text), END (0), padded to 32 bits
  const chunk = 4 + 2 + text.length + 1;
  const padded = Math.ceil(chunk / 4) * 4;
  const out = Buffer.alloc(4 + padded);
  out[0] = 0x81; // V=2, P=0, SC=1
  out[1] = RtcpPacketType.SDES;
  out.writeUInt16BE(out.length / 4 - 1, 2);
  out.writeUInt32BE(ssrc, 4);
  out[8] = 1; // CNAME
  out[9] = text.length;
  text.copy(out, 10);
  return out;
}

/** Builds the compound SR + SDES(CNAME) a RIST sender sends on P+1 (RFC 3550 §6.1). */
export function buildSenderRtcp(sr: SenderReport, cname: string): Buffer {
  return Buffer.concat([buildSenderReport(sr), buildSourceDescription(sr.ssrc, cname)]);
}

/** The header of one RTCP packet in a compound packet. */
export interface RtcpHeader {
  /** Packet type (200 SR, 201 RR, 202 SDES, 204 APP, 205 RTPFB …). */
  packetType: number;
  /** The 5-bit count field (report count, source count, or FMT for feedback). */
  count: number;
  /** Length of this packet in bytes, header included. */
  byteLength: number;
  /** The first SSRC (sender's), when the packet is long enough to carry one. */
  ssrc: number | undefined;
}

/**
 * Lists the packets of a compound RTCP packet.
 *
 * @throws InvalidArgumentError when the lengths do not tile the datagram or the version is not 2.
 */
export function parseRtcpCompound(data: Uint8Array): RtcpHeader[] {
  if (!(data instanceof Uint8Array))
    throw new InvalidArgumentError('data', data, 'must be a Buffer or Uint8Array');
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: RtcpHeader[] = [];
  let offset = 0;
  while (offset < b.length && out.length < 64) {
    if (b.length - offset < 4)
      throw new InvalidArgumentError('data', `${b.length} bytes`, 'ends inside an RTCP header');
    const first = b[offset] ?? 0;
    if (first >> 6 !== 2)
      throw new InvalidArgumentError(
        'data',
        `version ${first >> 6} at byte ${offset}`,
        'must be RTCP version 2',
      );
    const byteLength = (b.readUInt16BE(offset + 2) + 1) * 4;
    if (offset + byteLength > b.length)
      throw new InvalidArgumentError(
        'data',
        `${b.length} bytes`,
        `is shorter than the RTCP packet at byte ${offset} says (${byteLength})`,
      );
    out.push({
      packetType: b[offset + 1] ?? 0,
      count: first & 0x1f,
      byteLength,
      ssrc: byteLength >= 8 ? b.readUInt32BE(offset + 4) : undefined,
    });
    offset += byteLength;
  }
  if (offset < b.length)
    throw new InvalidArgumentError('data', `${b.length} bytes`, 'has more than 64 RTCP packets');
  return out;
}
