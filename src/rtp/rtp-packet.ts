/**
 * The RTP fixed header (RFC 3550 §5.1), built and parsed. Two flavours: `buildRtpPacket` /
 * `parseRtpPacket` validate and throw on malformed input; `writeRtpHeader` / `parseRtpHeader` are
 * the hot-path pair (write in place into a caller's buffer; parse to offsets, `undefined` for a
 * datagram that is not RTP) for code that handles every packet of a stream.
 *
 * The RIST Simple profile (VSF TR-06-1 §5.1) uses version 2 with no padding, extension or CSRCs,
 * payload type 33 (MPEG-2 TS, RFC 3551) and a 90 kHz timestamp; RIST marks retransmissions in the
 * SSRC's least significant bit (0 original, 1 retransmitted), so a sender's SSRC is even.
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
 * @throws InvalidArgumentError when `packet` is not an object, or for a field out of range.
 */
export function buildRtpPacket(packet: RtpPacket): Buffer {
  if (typeof packet !== 'object' || packet === null)
    throw new InvalidArgumentError(
      'packet',
      packet,
      'must be an object { sequenceNumber, timestamp, ssrc, payload, payloadType?, marker? }',
    );
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

/** Where the fields and the payload of an RTP packet are, as {@link parseRtpHeader} finds them. */
export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** Offset of the payload in the datagram (after CSRCs and any header extension). */
  payloadOffset: number;
  /** End of the payload (before any padding). */
  payloadEnd: number;
}

/**
 * Parses the RTP header of a datagram without copying: `undefined` when `data` is not a
 * well-formed RTP version 2 packet. For per-packet statistics on a stream.
 *
 * @throws InvalidArgumentError when `data` is not a Uint8Array (a caller's mistake, not a bad
 *   datagram; one `instanceof` per call).
 */
export function parseRtpHeader(data: Uint8Array): RtpHeader | undefined {
  if (!(data instanceof Uint8Array))
    throw new InvalidArgumentError('data', data, 'must be a Buffer or Uint8Array');
  if (data.length < RTP_HEADER_BYTES) return undefined;
  const b0 = data[0] ?? 0;
  if (b0 >> 6 !== 2) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = RTP_HEADER_BYTES + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (data.length < offset + 4) return undefined;
    offset += 4 + view.getUint16(offset + 2) * 4;
  }
  let end = data.length;
  if (b0 & 0x20) end -= data[data.length - 1] ?? 0;
  if (offset > end) return undefined;
  const b1 = data[1] ?? 0;
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadOffset: offset,
    payloadEnd: end,
  };
}

/**
 * Writes a 12-byte RTP version 2 header into `target` at offset 0, in place. The caller checks
 * ranges; values are masked to their field widths.
 *
 * @throws InvalidArgumentError when `target` is not a Buffer of at least 12 bytes or `header` is
 *   not an object (two checks per call; the field values are not checked).
 */
export function writeRtpHeader(
  target: Buffer,
  header: {
    payloadType: number;
    marker?: boolean;
    sequenceNumber: number;
    timestamp: number;
    ssrc: number;
  },
): void {
  if (!Buffer.isBuffer(target) || target.length < RTP_HEADER_BYTES)
    throw new InvalidArgumentError('target', target, 'must be a Buffer of at least 12 bytes');
  if (typeof header !== 'object' || header === null)
    throw new InvalidArgumentError(
      'header',
      header,
      'must be an object { payloadType, sequenceNumber, timestamp, ssrc, marker? }',
    );
  target[0] = 0x80;
  target[1] = (header.marker === true ? 0x80 : 0) | (header.payloadType & 0x7f);
  target.writeUInt16BE(header.sequenceNumber & 0xffff, 2);
  target.writeUInt32BE(header.timestamp >>> 0, 4);
  target.writeUInt32BE(header.ssrc >>> 0, 8);
}
