/**
 * An RTSP 1.0 client (RFC 2326) that receives: OPTIONS, DESCRIBE, SETUP of every media, PLAY,
 * keepalive, TEARDOWN, over UDP unicast, TCP interleaved or multicast, with Basic/Digest
 * authentication, redirects and an automatic UDP → TCP fallback.
 *
 * {@link RtspClient.open} does the whole exchange and resolves once the session plays; packets then
 * arrive as `'rtp'` events. {@link RtspClient.close} sends TEARDOWN (with a short time limit: a
 * server that went away must not hold the close), stops the keepalive and releases every socket.
 *
 * `transport: 'auto'` (the default) follows rtspsrc: UDP first; TCP when the server answers
 * SETUP with 461 Unsupported Transport, or when no RTP arrives within `autoTimeoutMs` after PLAY
 * (a firewall or NAT that drops the UDP): the session is torn down and set up again interleaved.
 *
 * Every step takes the client's `AbortSignal` and has a time limit; failures are typed errors
 * (see docs/errors.md): {@link RtspStatusError}, {@link RtspAuthError}, {@link RtspTransportError},
 * {@link RtspProtocolError}, {@link RtspMessageTooLargeError}, {@link RtspConnectionClosedError},
 * `SdpError`, `TimeoutError`, `AbortError`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';

import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  RtspAuthError,
  RtspProtocolError,
  RtspStatusError,
  RtspTransportError,
  TimeoutError,
  type MediasockError,
} from '../errors.js';
import type { InterfaceSelection } from '../multicast.js';
import type { RtpHeader } from '../rtp/rtp-packet.js';
import type { PortPool } from '../rtp/port-pool.js';
import { Authenticator, type Credentials } from './auth.js';
import { RtspConnection } from './connection.js';
import { RtspMediaReceiver, randomSsrc, type MediaStats } from './media-receiver.js';
import { splitHeaderList, type RtspResponse } from './message.js';
import type { SenderReportInfo } from './rtcp-report.js';
import { parseSdp, primaryFormat, type SdpMedia, type SdpSession } from './sdp.js';
import {
  Keepalive,
  keepaliveIntervalMs,
  parseSessionHeader,
  type SessionHeader,
} from './session.js';
import { parseTransport } from './transport-header.js';
import { MulticastTransport } from './transport-multicast.js';
import { TcpInterleavedTransport } from './transport-tcp.js';
import { UdpTransport } from './transport-udp.js';
import type { MediaTransport, RtspTransportName } from './transport.js';
import { waitFor } from './wait.js';

/** Transports to ask for: one, or `auto` (UDP, then TCP). */
export type RtspTransportChoice = RtspTransportName | 'auto';

/** Options of an {@link RtspClient}. */
export interface RtspClientOptions {
  /** Default `'auto'`. */
  transport?: RtspTransportChoice;
  /** Credentials; default: the URL's `user:password@`. */
  username?: string;
  password?: string;
  /** Lease UDP client ports from this pool (even/odd pairs); default ephemeral pairs. */
  portPool?: PortPool;
  /** Interface for multicast joins; default: the kernel's route. */
  multicastInterface?: InterfaceSelection;
  /** Time limit of each request, in ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** Time limit of the TCP connect, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** With `auto`: how long to wait for the first UDP packet before falling back to TCP. Default 3000. */
  autoTimeoutMs?: number;
  /** Mean interval of receiver reports, in ms (randomized ×0.5..1.5, RFC 3550 §6.3.1). Default 5000. */
  rtcpIntervalMs?: number;
  /** Redirects (3xx) followed at most. Default 5. */
  maxRedirects?: number;
  /** Bounds of a response's header block and body, in bytes. Defaults 16 KiB and 64 KiB. */
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
  /**
   * Send keepalives (default `true`). Turn off only for servers known to count RTCP receiver
   * reports as liveness (RFC 2326 §12.37 allows it; not every server does).
   */
  keepalive?: boolean;
  /**
   * Cancels every step of `open()`; the session is torn down. After `open()` resolved, an abort
   * closes the client as {@link RtspClient.close} does (TEARDOWN, then `'close'`).
   */
  signal?: AbortSignal;
  /**
   * Called for every RTP packet from the first one on. Packets can arrive between PLAY and the
   * moment `open()` resolves, before an `'rtp'` listener can be attached; a recorder that must
   * not miss the start of the stream passes this. `media` describes the packet's SDP media.
   */
  onRtp?: (index: number, packet: Buffer, header: RtpHeader, media: SdpMedia) => void;
}

/** Events of an {@link RtspClient}. */
export interface RtspClientEvents {
  /** One RTP packet of media `media` (index in the SDP). */
  rtp: [media: number, packet: Buffer, header: RtpHeader];
  /** A sender report of media `media`. */
  senderReport: [media: number, report: SenderReportInfo];
  /** The transports were set up again (auto fallback to TCP). */
  transport: [name: RtspTransportName];
  /** The session ended: `error` when the server closed or a keepalive failed, else undefined. */
  close: [error: MediasockError | undefined];
}

const USER_AGENT = 'mediasock';
const REDIRECTS = new Set([301, 302, 303, 305, 307]);

interface Target {
  url: URL;
  /** The URL without credentials, as requests carry it. */
  requestUrl: string;
}

function target(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new InvalidArgumentError('url', url, 'must be an rtsp:// URL', { cause: err });
  }
  if (parsed.protocol !== 'rtsp:' || parsed.hostname === '') {
    throw new InvalidArgumentError('url', url, 'must be an rtsp://host[:port]/path URL');
  }
  const clean = new URL(parsed.href);
  clean.username = '';
  clean.password = '';
  return { url: parsed, requestUrl: clean.href };
}

/** An RTSP client session. */
export class RtspClient extends EventEmitter<RtspClientEvents> {
  #target: Target;
  readonly #options: RtspClientOptions;
  readonly #requestTimeoutMs: number;
  #connection: RtspConnection | undefined;
  #auth: Authenticator | undefined;
  #public: string[] = [];
  #sdp: SdpSession | undefined;
  #session: SessionHeader | undefined;
  #keepalive: Keepalive | undefined;
  #receivers: RtspMediaReceiver[] = [];
  #rtcpTimer: NodeJS.Timeout | undefined;
  #transportName: RtspTransportName | undefined;
  readonly #ssrc = randomSsrc();
  readonly #cname = `mediasock@${hostname()}`;
  #closing: Promise<void> | undefined;
  #ended = false;

  private constructor(url: string, options: RtspClientOptions) {
    super();
    this.#target = target(url);
    this.#options = options;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const username = options.username ?? decodeURIComponent(this.#target.url.username);
    const password = options.password ?? decodeURIComponent(this.#target.url.password);
    if (username !== '')
      this.#auth = new Authenticator({ username, password } satisfies Credentials);
  }

  /**
   * Connects, describes, sets up every media and plays. Resolves with a playing client.
   *
   * @throws see the module notes; on any failure everything opened is closed first.
   */
  static async open(url: string, options: RtspClientOptions = {}): Promise<RtspClient> {
    const client = new RtspClient(url, options);
    try {
      await client.#connect();
      await client.#describe();
      await client.#startWith(options.transport ?? 'auto');
      client.#watchSignal();
      return client;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Connects and describes only (for `rtsp describe`): resolves with the SDP and closes.
   */
  static async describe(url: string, options: RtspClientOptions = {}): Promise<SdpSession> {
    const client = new RtspClient(url, options);
    try {
      await client.#connect();
      return await client.#describe();
    } finally {
      await client.close();
    }
  }

  /**
   * Once playing, the client's `signal` ends the session as `close()` does (TEARDOWN included);
   * without this an abort showed only at the next keepalive, which ended it without TEARDOWN.
   */
  #watchSignal(): void {
    const signal = this.#options.signal;
    if (signal === undefined) return;
    const onAbort = (): void => {
      this.close().catch(() => undefined);
    };
    // Aborted after the last step settled: open() fails as if a step had seen it.
    if (signal.aborted) throw new AbortError('RTSP open', signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.#unwatchSignal = () => signal.removeEventListener('abort', onAbort);
  }

  #unwatchSignal: (() => void) | undefined;

  /** The session description. */
  get sdp(): SdpSession | undefined {
    return this.#sdp;
  }

  /** The transport in use once playing. */
  get transport(): RtspTransportName | undefined {
    return this.#transportName;
  }

  /** The session id and timeout, once set up. */
  get session(): SessionHeader | undefined {
    return this.#session;
  }

  /** Methods the server listed in `Public`. */
  get publicMethods(): readonly string[] {
    return this.#public;
  }

  /** Keepalives sent and failed. */
  get keepalives(): { sent: number; failed: number } {
    return this.#keepalive?.counts ?? { sent: 0, failed: 0 };
  }

  /** Statistics per media. */
  stats(): MediaStats[] {
    return this.#receivers.map((r) => r.stats());
  }

  /** The receivers (one per media), for sender-report mappings. */
  get media(): readonly RtspMediaReceiver[] {
    return this.#receivers;
  }

  async #connect(): Promise<void> {
    await this.#openConnection();
    const options = await this.#request('OPTIONS', this.#target.requestUrl, {}, true);
    this.#public = splitHeaderList(options.headers.public ?? '').map((m) => m.toUpperCase());
  }

  async #describe(): Promise<SdpSession> {
    const response = await this.#request(
      'DESCRIBE',
      this.#target.requestUrl,
      { Accept: 'application/sdp' },
      true,
    );
    const base =
      response.headers['content-base'] ??
      response.headers['content-location'] ??
      this.#target.requestUrl;
    this.#sdp = parseSdp(response.body.toString('utf8'), base);
    return this.#sdp;
  }

  /**
   * Sends a request with the session and credentials, answering one 401 (two when the server says
   * the nonce was stale) and following redirects when `redirectable`.
   */
  async #request(
    method: string,
    url: string,
    headers: Record<string, string>,
    redirectable = false,
    timeoutMs = this.#requestTimeoutMs,
  ): Promise<RtspResponse> {
    for (
      let attempt = 0, redirects = 0;
      attempt < 3 + (this.#options.maxRedirects ?? 5);
      attempt++
    ) {
      const connection = this.#connection;
      if (connection === undefined) throw new InvalidStateError(`RTSP ${method}: not connected`);
      const all: Record<string, string> = { 'User-Agent': USER_AGENT, ...headers };
      if (this.#session !== undefined) all.Session = this.#session.id;
      const authorization = this.#auth?.header(method, url);
      if (authorization !== undefined) all.Authorization = authorization;
      // TEARDOWN ignores the signal: closing after an abort (Ctrl-C) must still end the session.
      const signal = method === 'TEARDOWN' ? undefined : this.#options.signal;
      const response = await connection.request(
        { method, url, headers: all },
        { timeoutMs, signal },
      );
      if (response.status === 401) {
        if (this.#auth === undefined)
          throw new RtspAuthError(url, '401 Unauthorized and no credentials were given');
        const retried = authorization !== undefined && !this.#auth.stale;
        const problem = this.#auth.answer(response.headers['www-authenticate']);
        if (problem !== undefined) throw new RtspAuthError(url, problem);
        if (retried || attempt >= 2)
          throw new RtspAuthError(
            url,
            '401 Unauthorized after a retry with credentials (wrong user name or password)',
          );
        continue;
      }
      if (redirectable && REDIRECTS.has(response.status)) {
        const location = response.headers.location;
        if (location === undefined || ++redirects > (this.#options.maxRedirects ?? 5)) {
          throw new RtspStatusError(
            method,
            url,
            response.status,
            `${response.reason} (redirect without Location, or too many redirects)`,
          );
        }
        await this.#redirect(location);
        url = this.#target.requestUrl;
        continue;
      }
      if (response.status < 200 || response.status >= 300) {
        if (response.status === 461)
          throw new RtspTransportError(
            headers.Transport ?? method,
            `${response.status} ${response.reason}`,
          );
        throw new RtspStatusError(method, url, response.status, response.reason);
      }
      return response;
    }
    throw new RtspStatusError(method, url, 0, 'too many retries');
  }

  /** Moves to a redirect target: a new connection when host or port differ. */
  async #redirect(location: string): Promise<void> {
    const next = target(new URL(location, this.#target.requestUrl).href);
    const sameServer = next.url.host === this.#target.url.host;
    if (next.url.username === '' && this.#target.url.username !== '') {
      next.url.username = this.#target.url.username;
      next.url.password = this.#target.url.password;
    }
    this.#target = next;
    if (sameServer) return;
    const old = this.#connection;
    this.#connection = undefined;
    old?.removeAllListeners('close');
    await old?.close();
    await this.#openConnection();
  }

  /** Connects to the current target with the client's bounds and time limits. */
  async #openConnection(): Promise<RtspConnection> {
    const { url } = this.#target;
    const { maxHeaderBytes, maxBodyBytes } = this.#options;
    const connection = await RtspConnection.connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 554 : Number(url.port),
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 10_000,
      signal: this.#options.signal,
      ...(maxHeaderBytes !== undefined ? { maxHeaderBytes } : {}),
      ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    });
    connection.on('close', (error) => this.#onConnectionClose(error));
    this.#connection = connection;
    return connection;
  }

  /** SETUP and PLAY with one transport, or auto's UDP-then-TCP. */
  async #startWith(choice: RtspTransportChoice): Promise<void> {
    if (choice !== 'auto') {
      await this.#setupAll(choice);
      await this.#play();
      return;
    }
    try {
      await this.#setupAll('udp');
    } catch (err) {
      if (!(err instanceof RtspTransportError)) throw err;
      await this.#teardownSession();
      await this.#setupAll('tcp');
      await this.#play();
      this.emit('transport', 'tcp');
      return;
    }
    await this.#play();
    const timeoutMs = this.#options.autoTimeoutMs ?? 3000;
    const got = await waitFor(
      () => this.#receivers.some((r) => r.stats().packets > 0),
      timeoutMs,
      this.#options.signal,
    );
    if (got) return;
    await this.#teardownSession();
    await this.#setupAll('tcp');
    await this.#play();
    this.emit('transport', 'tcp');
  }

  async #setupAll(name: RtspTransportName): Promise<void> {
    const sdp = this.#sdp;
    const connection = this.#connection;
    if (sdp === undefined || connection === undefined)
      throw new InvalidStateError('RTSP SETUP: no session description (DESCRIBE first)');
    this.#transportName = name;
    for (const [index, media] of sdp.media.entries()) {
      const transport = await this.#makeTransport(name, index, connection);
      const { map } = primaryFormat(media);
      const receiver = new RtspMediaReceiver(index, media, transport, map?.clockRate ?? 90000, {
        rtp: (m, p, h) => {
          this.#options.onRtp?.(m, p, h, media);
          this.emit('rtp', m, p, h);
        },
        senderReport: (m, r) => this.emit('senderReport', m, r),
      });
      this.#receivers.push(receiver);
      const response = await this.#request('SETUP', media.controlUrl, {
        Transport: transport.offer(),
      });
      const sessionValue = response.headers.session;
      if (sessionValue === undefined) {
        throw new RtspProtocolError('a SETUP reply must carry a Session header', response.reason);
      }
      this.#session ??= parseSessionHeader(sessionValue);
      const replyText = response.headers.transport;
      if (replyText === undefined)
        throw new RtspTransportError(name, 'the SETUP reply carries no Transport header');
      await transport.accept(parseTransport(replyText), receiver);
    }
  }

  async #makeTransport(
    name: RtspTransportName,
    index: number,
    connection: RtspConnection,
  ): Promise<MediaTransport> {
    const serverAddress = connection.remoteAddress ?? this.#target.url.hostname;
    if (name === 'tcp') return new TcpInterleavedTransport(connection, index);
    if (name === 'multicast') {
      return new MulticastTransport({ serverAddress, iface: this.#options.multicastInterface });
    }
    return UdpTransport.open({
      serverAddress,
      localAddress: connection.localAddress ?? '0.0.0.0',
      portPool: this.#options.portPool,
      signal: this.#options.signal,
    });
  }

  async #play(): Promise<void> {
    const sdp = this.#sdp as SdpSession;
    await this.#request('PLAY', sdp.controlUrl, { Range: 'npt=0.000-' });
    const session = this.#session;
    if (session !== undefined && this.#options.keepalive !== false) {
      const method = this.#public.includes('GET_PARAMETER') ? 'GET_PARAMETER' : 'OPTIONS';
      this.#keepalive = new Keepalive(
        keepaliveIntervalMs(session.timeoutS),
        () => this.#request(method, sdp.controlUrl, {}),
        (err) => {
          // A keepalive that timed out is counted (`keepalives.failed`) and the next one may
          // land; anything else (454 Session Not Found, the connection gone) ends the session.
          if (!(err instanceof TimeoutError)) this.#end(err as MediasockError);
        },
      );
      this.#keepalive.start();
    }
    this.#scheduleReport();
  }

  #scheduleReport(): void {
    const mean = this.#options.rtcpIntervalMs ?? 5000;
    const delay = mean * (0.5 + Math.random());
    this.#rtcpTimer = setTimeout(() => {
      for (const r of this.#receivers) {
        r.sendReport(this.#ssrc, this.#cname).catch((err: unknown) =>
          this.#end(err as MediasockError),
        );
      }
      this.#scheduleReport();
    }, delay);
    this.#rtcpTimer.unref();
  }

  /** TEARDOWN the current session (if any) and release its transports; the connection stays. */
  async #teardownSession(): Promise<void> {
    this.#keepalive?.stop();
    this.#keepalive = undefined;
    clearTimeout(this.#rtcpTimer);
    const session = this.#session;
    const sdp = this.#sdp;
    const receivers = this.#receivers;
    this.#receivers = [];
    try {
      if (session !== undefined && sdp !== undefined && this.#connection?.closed === false) {
        await this.#request(
          'TEARDOWN',
          sdp.controlUrl,
          {},
          false,
          Math.min(this.#requestTimeoutMs, 2000),
        );
      }
    } finally {
      this.#session = undefined;
      await Promise.all(receivers.map((r) => r.transport.close()));
    }
  }

  #onConnectionClose(error: MediasockError | undefined): void {
    if (error !== undefined) this.#end(error);
  }

  /** The session ended on its own (server closed, keepalive failed): release and report once. */
  #end(error: MediasockError): void {
    if (this.#ended || this.#closing !== undefined) return;
    this.#ended = true;
    void this.#release().then(() => this.emit('close', error));
  }

  async #release(): Promise<void> {
    this.#unwatchSignal?.();
    this.#unwatchSignal = undefined;
    this.#keepalive?.stop();
    clearTimeout(this.#rtcpTimer);
    const receivers = this.#receivers;
    this.#receivers = receivers; // keep them for final statistics
    await Promise.all(receivers.map((r) => r.transport.close()));
    await this.#connection?.close();
  }

  /**
   * Sends TEARDOWN (at most 2 s), stops the keepalive and receiver reports, closes the transports
   * and the connection. Idempotent; never rejects because the server is gone.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#keepalive?.stop();
      clearTimeout(this.#rtcpTimer);
      const session = this.#session;
      const sdp = this.#sdp;
      if (
        !this.#ended &&
        session !== undefined &&
        sdp !== undefined &&
        this.#connection?.closed === false
      ) {
        await this.#request(
          'TEARDOWN',
          sdp.controlUrl,
          {},
          false,
          Math.min(this.#requestTimeoutMs, 2000),
        ).catch((err: unknown) => {
          this.#teardownError = err;
        });
      }
      await this.#release();
      if (!this.#ended) {
        this.#ended = true;
        this.emit('close', undefined);
      }
    })();
    return this.#closing;
  }

  #teardownError: unknown;

  /** Why the last TEARDOWN failed, if it did (a server that already left). */
  get teardownError(): unknown {
    return this.#teardownError;
  }
}
