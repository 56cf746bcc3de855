/**
 * RTSP interleaved framing (RFC 7826 §14, RFC 2326 §10.12): RTP and RTCP packets carried on the
 * RTSP control connection as `$`, a one-byte channel, a two-byte big-endian length and the payload,
 * between ordinary RTSP requests and responses.
 *
 * {@link InterleavedDemuxer} is fed byte chunks split anywhere (one `'data'` event of a socket at a
 * time) and emits `'frame'` for each binary frame and `'message'` for each RTSP message (start line,
 * headers ending in CRLFCRLF, then `Content-Length` bytes of body). With a channel map
 * (`{ video: { rtp: 0, rtcp: 1 } }`, the `interleaved=0-1` of the Transport header) frames are also
 * routed to `'rtp'` and `'rtcp'` with the media they belong to.
 *
 * Bad input never stops the stream: a frame on an unmapped channel, a frame of length 0 or longer
 * than `maxFrameBytes`, and a malformed or oversized message each raise one `'error'` (an
 * `FramingError` (`MEDIASOCK_ERR_FRAMING`) saying what and where) and are skipped, and parsing continues with the
 * next frame or message. Only a stream that ends inside a frame or message loses that one item (an
 * `'error'` from `end()`). Every skip is counted in {@link InterleavedDemuxer.stats}.
 *
 * Memory and skips are bounded by `maxMessageBytes` (default 64 KiB): an RTSP message is a start
 * line, a few headers and at most an SDP body of a few KB (live555 reads requests and responses
 * into 20,000-byte buffers), so 64 KiB is generous for real servers and small enough that a peer
 * cannot make us buffer much. A message whose headers do not end within the limit is dropped up to
 * the next `$`. A message whose `Content-Length` would take it past the limit is an error on the
 * field `Content-Length`: only its headers are dropped, and its declared body is *not* skipped,
 * because trusting the length (`Content-Length: 9999999999`) would discard the next 10 GB of the
 * stream, frames included. The bytes after the headers are parsed afresh: interleaved frames that
 * follow are delivered, and a body that does follow is met as data that does not parse and is
 * dropped with errors of its own. Raise `maxMessageBytes` for a server that really sends larger
 * messages.
 *
 * {@link writeInterleaved} frames a payload onto a writable stream and respects backpressure.
 *
 * What this module does not do: RTSP semantics (methods, CSeq, sessions, authentication), RTP
 * parsing, or TLS. Header values are decoded as UTF-8 (RFC 7826 §20) and names lower-cased.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';

import { FramingError, InvalidArgumentError, SocketClosedError } from '../errors.js';
import { validateInteger } from '../validate.js';

/** The byte that starts an interleaved frame: `$` (0x24). */
export const INTERLEAVED_MAGIC = 0x24;
/** Bytes before the payload: `$`, channel, 16-bit length. */
export const INTERLEAVED_HEADER_BYTES = 4;

/** Channels of one media stream on the connection: the `interleaved=` pair of its Transport. */
export interface InterleavedMediaChannels {
  /** Channel of RTP packets (often even). */
  rtp: number;
  /** Channel of RTCP packets (often `rtp + 1`); absent with rtcp-mux. */
  rtcp?: number;
}

/** Media name (e.g. the SDP `a=control` or `video`) to its channels. */
export type InterleavedChannelMap = Record<string, InterleavedMediaChannels>;

/** One binary frame. */
export interface InterleavedFrame {
  /** The channel byte, 0..255. */
  channel: number;
  /**
   * The payload, 1..65535 bytes. It may be a view into a chunk that was written; the demuxer never
   * modifies it, and chunks passed to `write()` must not be modified afterwards either.
   */
  payload: Buffer;
  /** The media the channel is mapped to, when a channel map was given. */
  media?: string;
  /** Whether the channel is the media's RTP or RTCP channel, when a channel map was given. */
  kind?: 'rtp' | 'rtcp';
}

/** One RTSP request or response. */
export interface RtspMessage {
  /** `DESCRIBE rtsp://host/x RTSP/1.0` or `RTSP/1.0 200 OK`, without the CRLF. */
  startLine: string;
  /** Header fields, names lower-cased; repeated fields joined with `, `. */
  headers: Record<string, string>;
  /** `Content-Length` bytes of body (empty without the header). */
  body: Buffer;
}

/** Options of an {@link InterleavedDemuxer}. */
export interface InterleavedDemuxerOptions {
  /** Channel map; frames on channels not in it raise `'error'` and are skipped. Default: accept all. */
  channels?: InterleavedChannelMap;
  /** Largest frame payload accepted, 1..65535. Larger frames raise `'error'` and are skipped. Default: 65535. */
  maxFrameBytes?: number;
  /**
   * Largest RTSP message (headers and body) accepted, in bytes, 16..2147483647; also the most the
   * demuxer buffers while it waits for the end of a message's headers. A `Content-Length` past it
   * is not trusted (see the module notes). Default: 65536.
   */
  maxMessageBytes?: number;
}

/** Events of an {@link InterleavedDemuxer}. */
export interface InterleavedDemuxerEvents {
  /** Every binary frame that was accepted. */
  frame: [InterleavedFrame];
  /** Frames on a mapped RTP channel (also emitted as `'frame'`). */
  rtp: [InterleavedFrame & { media: string; kind: 'rtp' }];
  /** Frames on a mapped RTCP channel (also emitted as `'frame'`). */
  rtcp: [InterleavedFrame & { media: string; kind: 'rtcp' }];
  /** Every complete RTSP message. */
  message: [RtspMessage];
  /** A frame or message was skipped; parsing continues. */
  error: [FramingError];
  /** `end()` was called and everything before it was delivered. */
  end: [];
}

/** Counters of an {@link InterleavedDemuxer}. */
export interface InterleavedDemuxerStats {
  /** Frames emitted. */
  frames: number;
  /** Messages emitted. */
  messages: number;
  /** Frames and messages skipped with an `'error'`. */
  errors: number;
  /** Bytes discarded by those skips (headers included). */
  skippedBytes: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Splits an RTSP connection's byte stream into interleaved frames and RTSP messages. */
export class InterleavedDemuxer extends EventEmitter<InterleavedDemuxerEvents> {
  readonly #routes: Array<{ media: string; kind: 'rtp' | 'rtcp' } | undefined> | undefined;
  readonly #maxFrameBytes: number;
  readonly #maxMessageBytes: number;
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes still to discard from a skipped frame or message. */
  #skip = 0;
  /** Where to resume the search for CRLFCRLF in #buf. */
  #scanFrom = 0;
  #ended = false;
  readonly #stats: InterleavedDemuxerStats = { frames: 0, messages: 0, errors: 0, skippedBytes: 0 };

  /** @throws InvalidArgumentError for a malformed channel map or limits. */
  constructor(options: InterleavedDemuxerOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', options, 'must be an object');
    }
    const maxFrameBytes = options.maxFrameBytes ?? 65535;
    validateInteger(maxFrameBytes, 'maxFrameBytes', 1, 65535);
    const maxMessageBytes = options.maxMessageBytes ?? 65536;
    validateInteger(maxMessageBytes, 'maxMessageBytes', 16, 0x7fffffff);
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxMessageBytes = maxMessageBytes;
    this.#routes = options.channels === undefined ? undefined : buildRoutes(options.channels);
  }

  /** Counters since creation. */
  get stats(): InterleavedDemuxerStats {
    return { ...this.#stats };
  }

  /**
   * Parses the next chunk of the stream and emits every frame and message it completes, in order.
   * Listeners run synchronously; the demuxer's state is updated before each emit, so a listener
   * that throws leaves it consistent (the rest of the chunk is parsed on the next `write()`).
   *
   * @throws InvalidArgumentError when `chunk` is not a Uint8Array; SocketClosedError after `end()`.
   */
  write(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError('chunk', chunk, 'must be a Buffer or Uint8Array');
    }
    if (this.#ended) throw new SocketClosedError('InterleavedDemuxer.write after end()');
    if (chunk.length === 0) return;
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#buf = this.#buf.length === 0 ? bytes : Buffer.concat([this.#buf, bytes]);
    this.#parse();
  }

  /**
   * Marks the end of the stream. If it ended inside a frame or message, emits one `'error'` for
   * that truncated item. Then emits `'end'`. Idempotent.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const pending = this.#buf.length;
    this.#buf = Buffer.alloc(0);
    // A frame being skipped was reported when the skip began; its missing tail is no new error.
    this.#skip = 0;
    if (pending > 0) {
      this.#stats.errors++;
      this.#stats.skippedBytes += pending;
      this.emit(
        'error',
        new FramingError(
          'stream',
          `${pending} trailing bytes`,
          'must end between interleaved frames and RTSP messages; the stream ended inside one, which was dropped',
        ),
      );
    }
    this.emit('end');
  }

  #parse(): void {
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, this.#buf.length);
        this.#skip -= n;
        this.#buf = this.#buf.subarray(n);
        if (this.#skip > 0) return;
      }
      const buf = this.#buf;
      if (buf.length === 0) return;
      if (buf[0] === INTERLEAVED_MAGIC) {
        if (!this.#parseFrame(buf)) return;
      } else if (buf[0] === 0x0d || buf[0] === 0x0a) {
        // Empty lines between messages are allowed (and some servers send CRLF as keepalive).
        this.#buf = buf.subarray(1);
        this.#scanFrom = 0;
      } else if (!this.#parseMessage(buf)) {
        return;
      }
    }
  }

  /** Returns false when more bytes are needed. */
  #parseFrame(buf: Buffer): boolean {
    if (buf.length < INTERLEAVED_HEADER_BYTES) return false;
    const channel = buf[1] as number;
    const length = buf.readUInt16BE(2);
    const route = this.#routes?.[channel];
    let problem: FramingError | undefined;
    if (length === 0) {
      problem = new FramingError(
        'length',
        length,
        `of an interleaved frame on channel ${channel} must be in 1..${this.#maxFrameBytes}; the empty frame was skipped`,
      );
    } else if (length > this.#maxFrameBytes) {
      problem = new FramingError(
        'length',
        length,
        `of an interleaved frame on channel ${channel} must be at most maxFrameBytes (${this.#maxFrameBytes}); the frame was skipped`,
      );
    } else if (this.#routes !== undefined && route === undefined) {
      problem = new FramingError(
        'channel',
        channel,
        `must be one of the mapped interleaved channels (${mappedChannels(this.#routes)}); the frame of ${length} bytes was skipped`,
      );
    }
    if (problem !== undefined) {
      this.#buf = buf.subarray(INTERLEAVED_HEADER_BYTES);
      this.#skip = length;
      this.#stats.errors++;
      this.#stats.skippedBytes += INTERLEAVED_HEADER_BYTES + length;
      this.emit('error', problem);
      return true;
    }
    const total = INTERLEAVED_HEADER_BYTES + length;
    if (buf.length < total) return false;
    const payload = buf.subarray(INTERLEAVED_HEADER_BYTES, total);
    this.#buf = buf.subarray(total);
    this.#stats.frames++;
    if (route === undefined) {
      this.emit('frame', { channel, payload });
      return true;
    }
    const frame = { channel, payload, media: route.media, kind: route.kind };
    this.emit('frame', frame);
    if (route.kind === 'rtp') this.emit('rtp', { ...frame, kind: 'rtp' });
    else this.emit('rtcp', { ...frame, kind: 'rtcp' });
    return true;
  }

  /** Returns false when more bytes are needed. */
  #parseMessage(buf: Buffer): boolean {
    const end = buf.indexOf(CRLFCRLF, this.#scanFrom);
    if (end < 0) {
      if (buf.length > this.#maxMessageBytes) {
        // No end of headers within the limit: drop what we have up to the next '$', the only
        // byte that can start something we understand.
        const next = buf.indexOf(INTERLEAVED_MAGIC, 1);
        const drop = next < 0 ? buf.length : next;
        this.#skipMessage(
          buf,
          drop,
          new FramingError(
            'message',
            buf.subarray(0, Math.min(buf.length, 60)).toString('latin1'),
            `must end its headers with CRLFCRLF within maxMessageBytes (${this.#maxMessageBytes}); ${drop} bytes were skipped`,
          ),
        );
        return true;
      }
      this.#scanFrom = Math.max(0, buf.length - (CRLFCRLF.length - 1));
      return false;
    }
    const headerBytes = end + CRLFCRLF.length;
    const parsed = parseHead(buf.subarray(0, end).toString('utf8'));
    if (typeof parsed === 'string') {
      this.#skipMessage(
        buf,
        headerBytes,
        new FramingError('message', firstLine(buf, end), `${parsed}; the message was skipped`),
      );
      return true;
    }
    const lengthField = parsed.headers['content-length'];
    let bodyBytes = 0;
    if (lengthField !== undefined) {
      if (!/^\d{1,10}$/.test(lengthField)) {
        this.#skipMessage(
          buf,
          headerBytes,
          new FramingError(
            'Content-Length',
            lengthField,
            `must be a decimal byte count in "${parsed.startLine}"; the message headers were skipped`,
          ),
        );
        return true;
      }
      bodyBytes = Number(lengthField);
    }
    if (headerBytes + bodyBytes > this.#maxMessageBytes) {
      // The declared body is not skipped: a lying Content-Length would make us discard (and wait
      // for) that many bytes of the stream. Only the headers go; what follows is parsed afresh.
      this.#skipMessage(
        buf,
        headerBytes,
        new FramingError(
          'Content-Length',
          lengthField,
          `must keep the message within maxMessageBytes (${this.#maxMessageBytes}), headers and body, in "${parsed.startLine}"; its ${headerBytes} header bytes were skipped and the ${bodyBytes} body bytes it declares were not trusted`,
        ),
      );
      return true;
    }
    if (buf.length < headerBytes + bodyBytes) {
      this.#scanFrom = end; // the headers are complete; wait for the body
      return false;
    }
    const body = buf.subarray(headerBytes, headerBytes + bodyBytes);
    this.#buf = buf.subarray(headerBytes + bodyBytes);
    this.#scanFrom = 0;
    this.#stats.messages++;
    this.emit('message', { startLine: parsed.startLine, headers: parsed.headers, body });
    return true;
  }

  #skipMessage(buf: Buffer, bytes: number, problem: FramingError): void {
    const now = Math.min(bytes, buf.length);
    this.#buf = buf.subarray(now);
    this.#skip = bytes - now;
    this.#scanFrom = 0;
    this.#stats.errors++;
    this.#stats.skippedBytes += bytes;
    this.emit('error', problem);
  }
}

function firstLine(buf: Buffer, end: number): string {
  const eol = buf.indexOf('\r\n');
  return buf.subarray(0, eol >= 0 && eol < end ? eol : Math.min(end, 60)).toString('utf8');
}

/** Parses a start line and header fields; returns what is wrong as a string. */
function parseHead(text: string): { startLine: string; headers: Record<string, string> } | string {
  const lines = text.split('\r\n');
  const startLine = lines[0] ?? '';
  if (!/^(RTSP\/\d\.\d \d{3}( .*)?|[A-Za-z_-]+ \S+ RTSP\/\d\.\d)$/.test(startLine)) {
    return 'must start with an RTSP request line (METHOD uri RTSP/x.y) or status line (RTSP/x.y code reason)';
  }
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0)
      return `must have header fields of the form "Name: value", not ${JSON.stringify(line)}`;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return { startLine, headers };
}

function buildRoutes(
  channels: InterleavedChannelMap,
): Array<{ media: string; kind: 'rtp' | 'rtcp' } | undefined> {
  if (typeof channels !== 'object' || channels === null) {
    throw new InvalidArgumentError(
      'channels',
      channels,
      'must be an object { media: { rtp, rtcp? } }',
    );
  }
  const routes: Array<{ media: string; kind: 'rtp' | 'rtcp' } | undefined> = new Array<
    { media: string; kind: 'rtp' | 'rtcp' } | undefined
  >(256).fill(undefined);
  for (const [media, pair] of Object.entries(channels)) {
    if (typeof pair !== 'object' || pair === null) {
      throw new InvalidArgumentError(`channels.${media}`, pair, 'must be an object { rtp, rtcp? }');
    }
    for (const kind of ['rtp', 'rtcp'] as const) {
      const channel = pair[kind];
      if (channel === undefined && kind === 'rtcp') continue;
      validateInteger(channel, `channels.${media}.${kind}`, 0, 255);
      const taken = routes[channel];
      if (taken !== undefined) {
        throw new InvalidArgumentError(
          `channels.${media}.${kind}`,
          channel,
          `must be a channel not already used (by ${taken.media} ${taken.kind})`,
        );
      }
      routes[channel] = { media, kind };
    }
  }
  return routes;
}

function mappedChannels(routes: ReadonlyArray<unknown>): string {
  const list: number[] = [];
  routes.forEach((r, i) => {
    if (r !== undefined) list.push(i);
  });
  return list.length === 0 ? 'none' : list.join(', ');
}

/**
 * Encodes the 4-byte header of an interleaved frame.
 *
 * @throws InvalidArgumentError for a channel outside 0..255 or a length outside 1..65535.
 */
export function encodeInterleavedHeader(channel: number, length: number): Buffer {
  validateInteger(channel, 'channel', 0, 255);
  validateInteger(length, 'payload length', 1, 65535);
  const header = Buffer.allocUnsafe(INTERLEAVED_HEADER_BYTES);
  header[0] = INTERLEAVED_MAGIC;
  header[1] = channel;
  header.writeUInt16BE(length, 2);
  return header;
}

/**
 * Writes one interleaved frame (`$`, channel, length, payload) to `stream` (the RTSP connection's
 * socket) and resolves when the stream can take more: at once if `write()` accepted it, else on
 * `'drain'`. Header and payload go out in one corked write so no other frame can come between.
 *
 * @throws InvalidArgumentError for a stream that is not Writable, a channel outside 0..255 or a
 *   payload of 0 or more than 65535 bytes; SocketClosedError when the stream is (or gets, while waiting for `'drain'`) closed.
 *   Write errors themselves are emitted on the stream's `'error'`, as for any write.
 */
export function writeInterleaved(
  stream: Writable,
  channel: number,
  payload: Uint8Array,
): Promise<void> {
  if (!(payload instanceof Uint8Array)) {
    return Promise.reject(
      new InvalidArgumentError('payload', payload, 'must be a Buffer or Uint8Array'),
    );
  }
  if (
    typeof stream !== 'object' ||
    stream === null ||
    typeof stream.write !== 'function' ||
    typeof stream.cork !== 'function'
  ) {
    return Promise.reject(
      new InvalidArgumentError('stream', stream, 'must be a Writable stream (the RTSP socket)'),
    );
  }
  let header: Buffer;
  try {
    header = encodeInterleavedHeader(channel, payload.length);
  } catch (err) {
    return Promise.reject(err);
  }
  if (stream.destroyed || stream.writableEnded) {
    return Promise.reject(new SocketClosedError('writeInterleaved'));
  }
  stream.cork();
  stream.write(header);
  const ok = stream.write(payload);
  stream.uncork();
  if (ok) return Promise.resolve();
  return drained(stream);
}

/**
 * One `'drain'` waiter per stream, shared by every write that found the buffer full: a burst of
 * writes adds two listeners in all, not two per write (which tripped `MaxListenersExceededWarning`
 * past ten pending writes). Removed from the map as soon as it settles.
 */
const drainWaiters = new WeakMap<Writable, Promise<void>>();

function drained(stream: Writable): Promise<void> {
  const pending = drainWaiters.get(stream);
  if (pending !== undefined) return pending;
  const waiter = new Promise<void>((resolve, reject) => {
    const done = (): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      drainWaiters.delete(stream);
    };
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onClose = (): void => {
      done();
      reject(new SocketClosedError('writeInterleaved (waiting for drain)'));
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
  drainWaiters.set(stream, waiter);
  return waiter;
}
