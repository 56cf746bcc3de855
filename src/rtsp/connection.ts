/**
 * One RTSP control connection: a TCP connection (the project's `connectTcp`, with keepalive and
 * no-delay) whose byte stream the {@link InterleavedDemuxer} splits into RTSP messages and
 * interleaved RTP/RTCP frames.
 *
 * Requests are matched to responses by CSeq (RFC 2326 §12.17). Each request has a time limit
 * ({@link TimeoutError}) and an optional `AbortSignal`. When the server closes the connection every
 * pending request fails with {@link RtspConnectionClosedError} and `'close'` carries that error.
 * A response that is malformed or over a size bound fails the request it answers and closes the
 * connection: once framing is lost nothing after it can be trusted. The late response of a request
 * given up on (time limit, abort) is dropped; one whose CSeq was never sent loses framing. Requests
 * the server sends to the client (OPTIONS as a keepalive, ANNOUNCE, REDIRECT) are answered with
 * status 501 and counted, as live555 does for commands it does not handle.
 *
 * @module
 */
import { EventEmitter } from 'node:events';

import { connectTcp, type TcpConnection } from '../tcp/connect.js';
import { InterleavedDemuxer, writeInterleaved, type RtspMessage } from '../tcp/interleaved.js';
import {
  AbortError,
  FramingError,
  MediasockError,
  RtspConnectionClosedError,
  RtspMessageTooLargeError,
  RtspProtocolError,
  TimeoutError,
} from '../errors.js';
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_HEADER_BYTES,
  isRequestLine,
  parseResponse,
  serializeRequest,
  type RtspMessageBounds,
  type RtspRequest,
  type RtspResponse,
} from './message.js';

/** Options of {@link RtspConnection.connect}. */
export interface RtspConnectionOptions extends Partial<RtspMessageBounds> {
  host: string;
  port: number;
  /** Limit on the TCP connect, in milliseconds. */
  connectTimeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** Events of an {@link RtspConnection}. */
export interface RtspConnectionEvents {
  /** An interleaved frame. */
  frame: [channel: number, payload: Buffer];
  /** The connection closed; `error` says why when it was not our own `close()`. */
  close: [error: MediasockError | undefined];
}

/** Counters of an {@link RtspConnection}. */
export interface RtspConnectionStats {
  requests: number;
  responses: number;
  /** Interleaved frames received. */
  frames: number;
  /** Frames skipped by the demuxer as malformed. */
  framingErrors: number;
  /** Requests from the server answered 501. */
  serverRequests: number;
}

/** CSeqs of requests given up on that are remembered, to drop their late responses. */
const MAX_ABANDONED = 64;

interface Pending {
  method: string;
  url: string;
  resolve: (response: RtspResponse) => void;
  reject: (err: unknown) => void;
}

/** An RTSP control connection. */
export class RtspConnection extends EventEmitter<RtspConnectionEvents> {
  readonly #tcp: TcpConnection;
  readonly #demuxer: InterleavedDemuxer;
  readonly #bounds: RtspMessageBounds;
  readonly #pending = new Map<number, Pending>();
  /**
   * CSeqs of requests given up on (time limit, abort) whose response may still come: it is
   * dropped, not taken for a lost framing. Oldest forgotten past {@link MAX_ABANDONED}.
   */
  readonly #abandoned = new Set<number>();
  #cseq = 0;
  #closed = false;
  #closeError: MediasockError | undefined;
  readonly #stats: RtspConnectionStats = {
    requests: 0,
    responses: 0,
    frames: 0,
    framingErrors: 0,
    serverRequests: 0,
  };

  private constructor(tcp: TcpConnection, bounds: RtspMessageBounds) {
    super();
    this.#tcp = tcp;
    this.#bounds = bounds;
    this.#demuxer = new InterleavedDemuxer({
      maxMessageBytes: bounds.maxHeaderBytes + bounds.maxBodyBytes,
    });
    this.#demuxer.on('message', (m) => this.#onMessage(m));
    this.#demuxer.on('frame', (f) => {
      this.#stats.frames++;
      this.emit('frame', f.channel, f.payload);
    });
    this.#demuxer.on('error', (e) => this.#onFramingError(e));
    const socket = tcp.socket;
    socket.on('data', (chunk: Buffer) => {
      if (!this.#closed) this.#demuxer.write(chunk);
    });
    socket.on('error', (err) => {
      this.#fail(new RtspConnectionClosedError(`with an error: ${err.message}`, { cause: err }));
    });
    socket.on('close', () => {
      this.#fail(new RtspConnectionClosedError('while the session was open'));
    });
  }

  /** Connects to the server. */
  static async connect(options: RtspConnectionOptions): Promise<RtspConnection> {
    const tcp = await connectTcp({
      host: options.host,
      port: options.port,
      timeoutMs: options.connectTimeoutMs,
      signal: options.signal,
      noDelay: true,
    });
    return new RtspConnection(tcp, {
      maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    });
  }

  /** Counters since the connection was made. */
  get stats(): RtspConnectionStats {
    return { ...this.#stats, framingErrors: this.#demuxer.stats.errors };
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The server's address as connected (for UDP transports that lack `source`). */
  get remoteAddress(): string | undefined {
    return this.#tcp.remoteAddress;
  }

  /** Our local address on the connection (the interface the server reaches us on). */
  get localAddress(): string | undefined {
    return this.#tcp.localAddress;
  }

  /**
   * Sends a request and resolves with the response that carries its CSeq.
   *
   * @throws TimeoutError after `timeoutMs` without a response; AbortError when `signal` aborts;
   *   RtspConnectionClosedError when the connection closes first; RtspProtocolError /
   *   RtspMessageTooLargeError when the response is malformed or too large.
   */
  request(
    request: RtspRequest,
    options: { timeoutMs: number; signal?: AbortSignal | undefined },
  ): Promise<RtspResponse> {
    if (this.#closed) {
      return Promise.reject(
        this.#closeError ?? new RtspConnectionClosedError('before the request'),
      );
    }
    const what = `RTSP ${request.method} ${request.url}`;
    if (options.signal?.aborted === true) {
      return Promise.reject(new AbortError(what, options.signal.reason));
    }
    const cseq = ++this.#cseq;
    const bytes = serializeRequest(request, cseq);
    return new Promise<RtspResponse>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(cseq);
      };
      const onAbort = (): void => {
        cleanup();
        this.#gaveUp(cseq);
        reject(new AbortError(what, options.signal?.reason));
      };
      const timer = setTimeout(() => {
        cleanup();
        this.#gaveUp(cseq);
        reject(new TimeoutError(what, options.timeoutMs));
      }, options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(cseq, {
        method: request.method,
        url: request.url,
        resolve: (r) => {
          cleanup();
          resolve(r);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      this.#stats.requests++;
      this.#tcp.socket.write(bytes);
    });
  }

  /** Sends one interleaved frame (RTCP receiver reports on TCP). */
  sendFrame(channel: number, payload: Uint8Array): Promise<void> {
    if (this.#closed)
      return Promise.reject(new RtspConnectionClosedError('before a frame was sent'));
    return writeInterleaved(this.#tcp.socket, channel, payload);
  }

  /**
   * Closes the connection gracefully (FIN), with a reset after `timeoutMs`. Pending requests fail
   * with RtspConnectionClosedError. Idempotent.
   */
  async close(timeoutMs = 2000): Promise<void> {
    const wasClosed = this.#closed;
    this.#closed = true;
    this.#rejectAll(this.#closeError ?? new RtspConnectionClosedError('(closed by the client)'));
    if (wasClosed && this.#tcp.destroyed) return;
    try {
      await this.#tcp.end({ timeoutMs });
    } catch (err) {
      // The graceful close ran out of time; end() has already reset the connection.
      if (!(err instanceof TimeoutError)) throw err;
    }
  }

  #onMessage(message: RtspMessage): void {
    if (isRequestLine(message.startLine)) {
      this.#stats.serverRequests++;
      const cseq = message.headers.cseq ?? '0';
      this.#tcp.socket.write(
        `RTSP/1.0 501 Not Implemented\r\nCSeq: ${cseq.replace(/[\r\n]/g, '')}\r\n\r\n`,
      );
      return;
    }
    let response: RtspResponse;
    try {
      response = parseResponse(message, this.#bounds);
    } catch (err) {
      this.#abandon(err as MediasockError);
      return;
    }
    this.#stats.responses++;
    const pending = this.#pending.get(response.cseq);
    if (pending === undefined && this.#abandoned.delete(response.cseq)) return; // late: dropped
    if (pending === undefined) {
      this.#abandon(
        new RtspProtocolError(
          'an RTSP response must carry the CSeq of a pending request',
          `CSeq ${response.cseq} (${message.startLine})`,
        ),
      );
      return;
    }
    pending.resolve(response);
  }

  #onFramingError(error: FramingError): void {
    if (error.field === 'length' || error.field === 'channel') return; // a frame: counted, skipped
    const message = error.message;
    const bound = this.#bounds.maxHeaderBytes + this.#bounds.maxBodyBytes;
    if (message.includes('must end its headers')) {
      this.#abandon(new RtspMessageTooLargeError('header', bound + 1, this.#bounds.maxHeaderBytes));
    } else if (message.includes('maxMessageBytes')) {
      const size = /(\d+) bytes were skipped/.exec(message)?.[1];
      this.#abandon(
        new RtspMessageTooLargeError('body', Number(size ?? bound + 1), this.#bounds.maxBodyBytes),
      );
    } else {
      this.#abandon(new RtspProtocolError('the RTSP server sent a malformed message', message));
    }
  }

  /** Remembers the CSeq of a request given up on, so that its late response is dropped. */
  #gaveUp(cseq: number): void {
    this.#abandoned.add(cseq);
    if (this.#abandoned.size > MAX_ABANDONED) {
      const oldest = this.#abandoned.values().next().value;
      if (oldest !== undefined) this.#abandoned.delete(oldest);
    }
  }

  /** Framing is lost: fail every pending request with `error` and drop the connection. */
  #abandon(error: MediasockError): void {
    this.#closeError = error;
    this.#rejectAll(error);
    this.#fail(error);
    this.#tcp.destroy();
  }

  #fail(error: MediasockError): void {
    if (this.#closed && this.#closeError !== undefined) {
      this.#rejectAll(this.#closeError);
      return;
    }
    const ours = this.#closed;
    this.#closed = true;
    this.#closeError ??= error;
    this.#rejectAll(this.#closeError);
    this.emit('close', ours ? undefined : this.#closeError);
  }

  #rejectAll(error: MediasockError): void {
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    this.#pending.clear();
  }
}
