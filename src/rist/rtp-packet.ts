/**
 * The RTP fixed header (RFC 3550 §5.1) as the RIST Simple profile uses it (VSF TR-06-1 §5.1):
 * version 2, no padding, extension or CSRCs, payload type 33 (MPEG-2 TS, RFC 3551) and a 90 kHz
 * timestamp. RIST marks retransmissions in the SSRC's least significant bit (0 original, 1
 * retransmitted), so a sender's SSRC is even.
 *
 * What it does not do: CSRC lists, header extensions or padding on build (parse skips them),
 * sequence or timestamp bookkeeping (the caller keeps counters), or any RIST tunnel (GRE) framing.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { validateBoolean, validateInteger } from '../validate.js';

/** RTP payload type of MPEG-2 transport streams (RFC 3551), which RIST carries. */
export const RTP_PAYLOAD_TYPE_MP2T = 33;

/** The fields of one RTP packet. */
export interface RtpPacket {
  /** 0..127. Default {@link RTP_PAYLOAD_TYPE_MP2T} when building. */
  payloadType?: number;
  /** 16-bit sequence number. */
  sequenceNumber: number;
  /** 32-bit timestamp (90 kHz for MPEG-2 TS). */
  timestamp: number;
  /** 32-bit synchronisation source. */
  ssrc: number;
  /** The marker bit. Default `false`. */
  marker?: boolean;
  /** The payload (188-byte TS packets for RIST). */
  payload: Uint8Array;
}

/** Size of the RTP fixed header without CSRCs. */
export const RTP_HEADER_BYTES = 12;

/**
 * Builds an RTP packet (12-byte header + payload).
 *
 * @throws InvalidArgumentError for a field out of range.
 */
export function buildRtpPacket(packet: RtpPacket): Buffer {
  const payloadType = packet.payloadType ?? RTP_PAYLOAD_TYPE_MP2T;
  validateInteger(payloadType, 'payloadType', 0, 127);
  validateInteger(packet.sequenceNumber, 'sequenceNumber', 0, 0xffff);
  validateInteger(packet.timestamp, 'timestamp', 0, 0xffffffff);
  validateInteger(packet.ssrc, 'ssrc', 0, 0xffffffff);
  if (packet.marker !== undefined) validateBoolean(packet.marker, 'marker');
  if (!(packet.payload instanceof Uint8Array))
    throw new InvalidArgumentError('payload', packet.payload, 'must be a Buffer or Uint8Array');
  const out = Buffer.allocUnsafe(RTP_HEADER_BYTES + packet.payload.length);
  out[0] = 0x80; // V=2, P=0, X=0, CC=0
  out[1] = (packet.marker === true ? 0x80 : 0) | payloadType;
  out.writeUInt16BE(packet.sequenceNumber, 2);
  out.writeUInt32BE(packet.timestamp, 4);
  out.writeUInt32BE(packet.ssrc, 8);
  out.set(packet.payload, RTP_HEADER_BYTES);
  return out;
}

/**
 * Parses an RTP packet, skipping CSRCs and a header extension and removing padding. The payload
 * is a view into `data`, not a copy.
 *
 * @throws InvalidArgumentError when `data` is not a well-formed RTP version 2 packet.
 */
export function parseRtpPacket(data: Uint8Array): Required<RtpPacket> {
  if (!(data instanceof Uint8Array))
    throw new InvalidArgumentError('data', data, 'must be a Buffer or Uint8Array');
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < RTP_HEADER_BYTES)
    throw new InvalidArgumentError('data', `${b.length} bytes`, 'must be at least 12 bytes of RTP');
  const first = b[0] ?? 0;
  if (first >> 6 !== 2)
    throw new InvalidArgumentError('data', `version ${first >> 6}`, 'must be RTP version 2');
  let offset = RTP_HEADER_BYTES + (first & 0x0f) * 4;
  if ((first & 0x10) !== 0) {
    if (b.length < offset + 4)
      throw new InvalidArgumentError(
        'data',
        `${b.length} bytes`,
        'is too short for its header extension',
      );
    offset += 4 + b.readUInt16BE(offset + 2) * 4;
  }
  let end = b.length;
  if ((first & 0x20) !== 0) end -= b[b.length - 1] ?? 0;
  if (offset > end)
    throw new InvalidArgumentError(
      'data',
      `${b.length} bytes`,
      'is too short for its RTP header and padding',
    );
  const second = b[1] ?? 0;
  return {
    payloadType: second & 0x7f,
    marker: (second & 0x80) !== 0,
    sequenceNumber: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(offset, end),
  };
}
