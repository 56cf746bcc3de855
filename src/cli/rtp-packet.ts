/**
 * The RTP fixed header (RFC 3550 §5.1), read and written: enough for the command line to strip
 * the header on receive and to wrap payloads on send. CSRCs, the header extension and padding are
 * skipped on read; the writer emits a plain 12-byte header.
 *
 * What it does not do: RTCP, header extensions' contents, or payload formats.
 *
 * @module
 */

/** The fields of an RTP header the command line uses. */
export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Offset of the payload in the datagram. */
  payloadOffset: number;
  /** End of the payload (before any padding). */
  payloadEnd: number;
}

/** The RTP fixed header length without CSRCs. */
export const RTP_HEADER_BYTES = 12;

/** RFC 3551 static payload type of MPEG-2 transport streams (MP2T). */
export const PAYLOAD_TYPE_MP2T = 33;

/** Parses an RTP header; `undefined` when `data` is not an RTP version 2 packet. */
export function parseRtpHeader(data: Uint8Array): RtpHeader | undefined {
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
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadOffset: offset,
    payloadEnd: end,
  };
}

/** Writes a 12-byte RTP version 2 header into `target` at offset 0. */
export function writeRtpHeader(
  target: Buffer,
  header: {
    payloadType: number;
    marker?: boolean;
    sequence: number;
    timestamp: number;
    ssrc: number;
  },
): void {
  target[0] = 0x80;
  target[1] = (header.marker === true ? 0x80 : 0) | (header.payloadType & 0x7f);
  target.writeUInt16BE(header.sequence & 0xffff, 2);
  target.writeUInt32BE(header.timestamp >>> 0, 4);
  target.writeUInt32BE(header.ssrc >>> 0, 8);
}
