/**
 * RTSP 1.0 messages (RFC 2326 §6, §7): requests serialized for the wire, responses checked and
 * turned into objects.
 *
 * The byte stream itself is split by the project's {@link InterleavedDemuxer} (which also carries
 * RTP/RTCP frames on the same connection); this module takes one message it produced and applies
 * what the client needs on top: the status line must be `RTSP/1.x NNN reason`, the header block and
 * the body must each stay under a bound (a server cannot make the client buffer without limit), and
 * CSeq must be a number. Header names are lower-cased, values trimmed.
 *
 * @module
 */
import type { RtspMessage } from '../tcp/interleaved.js';
import { InvalidArgumentError, RtspMessageTooLargeError, RtspProtocolError } from '../errors.js';

/** Default bound of a response's header block, in bytes (live555 reads into 20 000 bytes). */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** Default bound of a response's body (`Content-Length`), in bytes: SDP is small. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** An RTSP request to send. */
export interface RtspRequest {
  /** `OPTIONS`, `DESCRIBE`, `SETUP`, `PLAY`, `TEARDOWN`, `GET_PARAMETER` … */
  method: string;
  /** Absolute `rtsp://` URL, or `*` for OPTIONS. */
  url: string;
  /** Header fields (CSeq is added by the connection). */
  headers: Record<string, string>;
  /** Optional body; `Content-Length` is set from it. */
  body?: Buffer;
}

/** A parsed RTSP response. */
export interface RtspResponse {
  /** Status code, 100..999. */
  status: number;
  /** Reason phrase. */
  reason: string;
  /** Header fields, names lower-cased; repeated fields joined with `, `. */
  headers: Record<string, string>;
  /** The body (`Content-Length` bytes). */
  body: Buffer;
  /** The CSeq the response carries. */
  cseq: number;
}

/** Bounds applied to each response. */
export interface RtspMessageBounds {
  /** Largest header block, in bytes. */
  maxHeaderBytes: number;
  /** Largest body, in bytes. */
  maxBodyBytes: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^RTSP\/1\.\d (\d{3})(?: (.*))?$/;

/**
 * Serializes a request: request line, `CSeq`, the headers, `Content-Length` when there is a body,
 * CRLF, body.
 *
 * @throws InvalidArgumentError for a method that is not a token, a URL or header value with CR/LF
 *   (header injection), or a header name that is not a token.
 */
export function serializeRequest(request: RtspRequest, cseq: number): Buffer {
  if (!TOKEN.test(request.method)) {
    throw new InvalidArgumentError('method', request.method, 'must be an RTSP method token');
  }
  if (/[\s]/.test(request.url) || request.url.length === 0) {
    throw new InvalidArgumentError('url', request.url, 'must be a URL without white space');
  }
  let head = `${request.method} ${request.url} RTSP/1.0\r\nCSeq: ${cseq}\r\n`;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!TOKEN.test(name)) throw new InvalidArgumentError('header name', name, 'must be a token');
    if (/[\r\n]/.test(value)) {
      throw new InvalidArgumentError(`header ${name}`, value, 'must not contain CR or LF');
    }
    head += `${name}: ${value}\r\n`;
  }
  const body = request.body ?? Buffer.alloc(0);
  if (body.length > 0) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body.length > 0 ? Buffer.concat([Buffer.from(head, 'utf8'), body]) : Buffer.from(head);
}

/**
 * Checks one message from the demuxer and returns it as a response.
 *
 * @throws RtspProtocolError when it is a request (servers may send those; the caller answers) or
 *   the status line or CSeq does not parse.
 * @throws RtspMessageTooLargeError when the header block or body is over its bound.
 */
export function parseResponse(message: RtspMessage, bounds: RtspMessageBounds): RtspResponse {
  const headerBytes =
    message.startLine.length +
    2 +
    Object.entries(message.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  if (headerBytes > bounds.maxHeaderBytes) {
    throw new RtspMessageTooLargeError('header', headerBytes, bounds.maxHeaderBytes);
  }
  if (message.body.length > bounds.maxBodyBytes) {
    throw new RtspMessageTooLargeError('body', message.body.length, bounds.maxBodyBytes);
  }
  const match = STATUS_LINE.exec(message.startLine);
  if (match === null) {
    throw new RtspProtocolError(
      'an RTSP response must start with "RTSP/1.x NNN reason"',
      message.startLine.slice(0, 120),
    );
  }
  const cseqText = message.headers.cseq;
  if (cseqText === undefined || !/^\d{1,9}$/.test(cseqText.trim())) {
    throw new RtspProtocolError('an RTSP response must carry a numeric CSeq', cseqText ?? '');
  }
  return {
    status: Number(match[1]),
    reason: match[2] ?? '',
    headers: message.headers,
    body: message.body,
    cseq: Number(cseqText.trim()),
  };
}

/** Whether a start line is a request (a server-to-client request such as ANNOUNCE or OPTIONS). */
export function isRequestLine(startLine: string): boolean {
  return !startLine.startsWith('RTSP/');
}

/**
 * Splits a comma-separated header value (`Public: OPTIONS, DESCRIBE`) into trimmed items,
 * keeping commas inside double quotes.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      if (current.trim().length > 0) out.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (current.trim().length > 0) out.push(current.trim());
  return out;
}
