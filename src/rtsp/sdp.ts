/**
 * Session descriptions (SDP, RFC 4566) as DESCRIBE returns them, read for what an RTSP client
 * needs: the media (`m=`), their payload formats (`a=rtpmap`, `a=fmtp`), connection addresses
 * (`c=`, for multicast) and control URLs (`a=control`), resolved to absolute URLs.
 *
 * Control URL resolution (RFC 2326 §C.1.1): the base is `Content-Base`, else `Content-Location`,
 * else the DESCRIBE request URL. A media `a=control` that is absolute is used as is; `*` means the
 * base itself; anything else is appended to the session-level control (when that is an absolute
 * URL) or to the base. Appending inserts a `/` when the base lacks one, as live555's
 * `MediaSession` does, rather than RFC 3986 resolution: servers send `a=control:trackID=1` with a
 * base of `rtsp://host/stream` and mean `rtsp://host/stream/trackID=1`, where RFC 3986 would give
 * `rtsp://host/trackID=1`.
 *
 * Bad input throws {@link SdpError} with the line number; unknown lines and attributes are kept
 * (`attributes`) but do not fail, as RFC 4566 §5 asks.
 *
 * @module
 */
import { SdpError } from '../errors.js';
import { InvalidArgumentError } from '../errors.js';

/** `a=rtpmap` of one payload type. */
export interface SdpRtpMap {
  /** Encoding name as written (`H264`, `MP2T`, `MPEG4-GENERIC`). */
  encoding: string;
  /** Clock rate in Hz. */
  clockRate: number;
  /** Encoding parameters (audio channels), when present. */
  parameters?: string;
}

/** One `m=` section. */
export interface SdpMedia {
  /** `video`, `audio`, `application` … */
  type: string;
  /** Port from the `m=` line (0 for RTSP unicast). */
  port: number;
  /** Transport protocol, such as `RTP/AVP`. */
  protocol: string;
  /** Payload types listed on the `m=` line. */
  formats: number[];
  /** `a=rtpmap` by payload type. Static types without one get RFC 3551's mapping. */
  rtpmap: Record<number, SdpRtpMap>;
  /** `a=fmtp` by payload type, as raw parameter strings. */
  fmtp: Record<number, string>;
  /** The `a=control` value as written, if any. */
  control: string | undefined;
  /** The media's control URL, resolved (see the module notes). */
  controlUrl: string;
  /** The connection address of the media (or of the session), such as `224.2.0.1/16`. */
  connection: string | undefined;
  /** Every other attribute, `name` or `name:value`. */
  attributes: string[];
}

/** A parsed session description. */
export interface SdpSession {
  /** `s=` */
  name: string;
  /** Session-level `c=` address, if any. */
  connection: string | undefined;
  /** Session-level `a=control` as written. */
  control: string | undefined;
  /** The aggregate control URL (for PLAY and TEARDOWN). */
  controlUrl: string;
  /** Session-level `a=range`, if any. */
  range: string | undefined;
  /** The media, in order. */
  media: SdpMedia[];
  /** Other session attributes. */
  attributes: string[];
  /** The description as received. */
  raw: string;
}

/** Static payload types of RFC 3551 the client may meet without an `a=rtpmap`. */
const STATIC_TYPES: Record<number, SdpRtpMap> = {
  0: { encoding: 'PCMU', clockRate: 8000, parameters: '1' },
  8: { encoding: 'PCMA', clockRate: 8000, parameters: '1' },
  10: { encoding: 'L16', clockRate: 44100, parameters: '2' },
  11: { encoding: 'L16', clockRate: 44100, parameters: '1' },
  14: { encoding: 'MPA', clockRate: 90000 },
  26: { encoding: 'JPEG', clockRate: 90000 },
  32: { encoding: 'MPV', clockRate: 90000 },
  33: { encoding: 'MP2T', clockRate: 90000 },
};

/** Most lines accepted: a description is a few dozen lines; 4096 bounds a hostile one. */
const MAX_LINES = 4096;
/** Most media sections accepted. */
const MAX_MEDIA = 64;

/**
 * Parses an SDP body.
 *
 * @param text - The body of a DESCRIBE response.
 * @param baseUrl - Content-Base, else Content-Location, else the request URL.
 * @throws SdpError when a line does not parse, `v=0` is missing, or no media is described.
 */
export function parseSdp(text: string, baseUrl: string): SdpSession {
  if (typeof text !== 'string') throw new InvalidArgumentError('text', text, 'must be a string');
  if (typeof baseUrl !== 'string')
    throw new InvalidArgumentError('baseUrl', baseUrl, 'must be the URL the SDP came from');
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new SdpError(0, `has more than ${MAX_LINES} lines`);
  const session: SdpSession = {
    name: '',
    connection: undefined,
    control: undefined,
    controlUrl: baseUrl,
    range: undefined,
    media: [],
    attributes: [],
    raw: text,
  };
  let sawVersion = false;
  let current: SdpMedia | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trimEnd();
    if (line.length === 0) continue;
    const n = i + 1;
    if (line.length < 2 || line[1] !== '=' || !/^[a-z]$/.test(line[0] as string)) {
      throw new SdpError(
        n,
        `must be of the form x=value, not ${JSON.stringify(line.slice(0, 60))}`,
      );
    }
    const kind = line[0] as string;
    const value = line.slice(2);
    if (!sawVersion) {
      if (kind !== 'v' || value !== '0') throw new SdpError(n, 'must be v=0 (the first line)');
      sawVersion = true;
      continue;
    }
    if (kind === 'm') {
      if (session.media.length >= MAX_MEDIA) throw new SdpError(n, `more than ${MAX_MEDIA} media`);
      current = parseMediaLine(value, n);
      session.media.push(current);
    } else if (kind === 's' && current === undefined) {
      session.name = value;
    } else if (kind === 'c') {
      const address = parseConnection(value, n);
      if (current === undefined) session.connection = address;
      else current.connection = address;
    } else if (kind === 'a') {
      applyAttribute(session, current, value, n);
    }
  }
  if (!sawVersion) throw new SdpError(0, 'is empty (no v=0 line)');
  if (session.media.length === 0) throw new SdpError(0, 'describes no media (no m= line)');
  resolveControls(session, baseUrl);
  return session;
}

function parseMediaLine(value: string, line: number): SdpMedia {
  const parts = value.split(/\s+/);
  const [type, portText, protocol, ...formatTexts] = parts;
  const port = Number((portText ?? '').split('/')[0]);
  if (
    type === undefined ||
    protocol === undefined ||
    !Number.isInteger(port) ||
    port < 0 ||
    port > 65535
  ) {
    throw new SdpError(line, `m= must be "media port proto fmt...", not ${JSON.stringify(value)}`);
  }
  const formats: number[] = [];
  for (const f of formatTexts) {
    const pt = Number(f);
    // Non-RTP protocols list format names (not numbers); keep only RTP payload types.
    if (/^\d{1,3}$/.test(f) && pt <= 127) formats.push(pt);
  }
  const rtpmap: Record<number, SdpRtpMap> = {};
  for (const pt of formats) {
    const known = STATIC_TYPES[pt];
    if (known !== undefined) rtpmap[pt] = known;
  }
  return {
    type,
    port,
    protocol,
    formats,
    rtpmap,
    fmtp: {},
    control: undefined,
    controlUrl: '',
    connection: undefined,
    attributes: [],
  };
}

function parseConnection(value: string, line: number): string {
  const parts = value.split(/\s+/);
  if (parts.length !== 3 || parts[0] !== 'IN' || (parts[1] !== 'IP4' && parts[1] !== 'IP6')) {
    throw new SdpError(line, `c= must be "IN IP4|IP6 address", not ${JSON.stringify(value)}`);
  }
  return parts[2] as string;
}

function applyAttribute(
  session: SdpSession,
  media: SdpMedia | undefined,
  value: string,
  line: number,
): void {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  const arg = colon < 0 ? '' : value.slice(colon + 1).trim();
  if (name === 'control') {
    if (media === undefined) session.control = arg;
    else media.control = arg;
  } else if (name === 'range' && media === undefined) {
    session.range = arg;
  } else if (name === 'rtpmap' && media !== undefined) {
    const m = /^(\d{1,3})\s+([^/\s]+)\/(\d+)(?:\/(\S+))?$/.exec(arg);
    if (m === null) {
      throw new SdpError(
        line,
        `a=rtpmap must be "pt encoding/clock[/params]", not ${JSON.stringify(arg)}`,
      );
    }
    const clockRate = Number(m[3]);
    if (clockRate <= 0) throw new SdpError(line, `a=rtpmap clock rate must be positive`);
    const entry: SdpRtpMap = { encoding: m[2] as string, clockRate };
    if (m[4] !== undefined) entry.parameters = m[4];
    media.rtpmap[Number(m[1])] = entry;
  } else if (name === 'fmtp' && media !== undefined) {
    const m = /^(\d{1,3})\s+(.*)$/.exec(arg);
    if (m === null)
      throw new SdpError(line, `a=fmtp must be "pt params", not ${JSON.stringify(arg)}`);
    media.fmtp[Number(m[1])] = m[2] as string;
  } else {
    (media ?? session).attributes.push(value);
  }
}

function resolveControls(session: SdpSession, baseUrl: string): void {
  session.controlUrl = resolveControl(session.control, baseUrl);
  const sessionIsAbsolute = session.control !== undefined && isAbsolute(session.control);
  const mediaBase = sessionIsAbsolute ? session.controlUrl : baseUrl;
  for (const media of session.media) {
    media.controlUrl = resolveControl(media.control, mediaBase);
  }
}

/**
 * Resolves one `a=control` value against a base URL (see the module notes for why it appends).
 */
export function resolveControl(control: string | undefined, base: string): string {
  if (control !== undefined && typeof control !== 'string')
    throw new InvalidArgumentError('control', control, 'must be a string or undefined');
  if (typeof base !== 'string') throw new InvalidArgumentError('base', base, 'must be a URL');
  if (control === undefined || control === '' || control === '*') return base;
  if (isAbsolute(control)) return control;
  if (control.startsWith('/')) {
    if (!URL.canParse(base))
      throw new InvalidArgumentError('base', base, 'must be an absolute URL (rtsp://host/path)');
    const url = new URL(base);
    return `${url.protocol}//${url.host}${control}`;
  }
  return base.endsWith('/') ? `${base}${control}` : `${base}/${control}`;
}

function isAbsolute(control: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(control);
}

/** The payload type and map of a media's first format: what a receiver decodes by default. */
export function primaryFormat(media: SdpMedia): {
  payloadType: number;
  map: SdpRtpMap | undefined;
} {
  const payloadType = media.formats[0] ?? -1;
  return { payloadType, map: media.rtpmap[payloadType] };
}
