/**
 * DTLS 1.2 (RFC 6347) on the single socket of a RIST Main-profile transport (VSF TR-06-2 §8.3):
 * the sender is the DTLS client, the receiver the DTLS server, as in ristgo and libRIST.
 *
 * The engine is the OpenSSL that Node itself ships, reached through the native addon
 * (`native/src/dtls.c`); nothing is linked or downloaded. JS keeps the socket: each received
 * datagram is fed to OpenSSL through an in-memory datagram BIO, and what OpenSSL writes comes back
 * as datagrams, each one as OpenSSL laid it out for the MTU, which this module sends. OpenSSL's
 * retransmission timer (`DTLSv1_get_timeout` / `DTLSv1_handle_timeout`) is driven by a
 * `setTimeout`. Without the addon there is no DTLS: the `enableDtls*` methods throw
 * `NativeUnavailableError` with the reason the addon did not load.
 *
 * Server binding and its denial-of-service trade-off. The server's socket is unconnected, so
 * before the handshake anyone can send to it. The server binds to the first peer that completes
 * a handshake and then drops every datagram from any other source (counted in
 * `stats.foreignDropped`) until it is closed. Someone who completes a handshake first therefore
 * holds the receiver; that needs valid credentials (a certificate the server accepts, or the
 * PSK), so it is a risk from credential holders, not from the whole network. Before that, a
 * flood of ClientHellos could exhaust handshake state; this is limited by:
 * - cookies (HelloVerifyRequest, on by default): a ClientHello without a valid cookie gets a
 *   stateless reply (an HMAC of its source address under a per-context secret), so a spoofed
 *   source creates no state at all, and only peers that receive at their claimed address can
 *   start a handshake;
 * - `maxPendingHandshakes` (default 4): handshakes in progress at once, each candidate peer
 *   with a deadline (`candidateTimeoutMs`, default 5 s) after which its slot is freed
 *   (`stats.candidatesExpired`); when every slot is taken, a newcomer that passes the cookie
 *   check evicts the oldest candidate that has sent nothing since its own cookie check and is
 *   past a short protection (four of its round trips, 10 to 100 ms by default;
 *   `stats.candidatesEvicted`), else it is dropped (`stats.pendingRejected`). So peers that answer the cookie exchange and then
 *   go silent cannot lock real clients out: see `dtls-admission.ts` for the rule, why it holds
 *   and what it leaves open;
 * - `allowPeers`: an allow-list of addresses and subnets; other sources are dropped before any
 *   DTLS processing (`stats.notAllowed`);
 * - the handshake `timeoutMs`, after which every half-open handshake is freed.
 * ristgo binds to the first datagram's source instead, before the cookie exchange, and documents
 * that as a first-datagram DoS; binding after the handshake closes that hole.
 *
 * Versions: DTLS 1.2 only. The OpenSSL 3.x that Node 20 to 24 ship (3.0 .. 3.5; `nativeStatus`
 * and `process.versions.openssl` tell which) has no DTLS 1.3, and DTLS 1.0 is deprecated (RFC 8996). Certificates are verified against `ca`, pinned by SHA-256
 * `fingerprint` (checked inside the handshake, which then fails with an alert), or both; PSK uses
 * the DTLS 1.2 PSK cipher suites (`-psk` of `openssl s_server`).
 *
 * What it does not do: renegotiation (refused), session resumption across transports, DTLS 1.3,
 * SRTP key export, or several peers per server socket (one socket, one peer, as RIST Main
 * profile has it).
 *
 * @module
 */
import { BlockList, isIPv6 } from 'node:net';

import { formatHostPort, unmapIPv4 } from '../address.js';
import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  SocketClosedError,
  TimeoutError,
} from '../errors.js';
import { ReaderQueue } from '../internal/reader-queue.js';
import type { NativeBinding, NativeDtlsConnection, NativeDtlsContext } from '../native/index.js';
import { validateAbortSignal, validateTimeoutMs } from '../validate.js';
import type { Endpoint } from './address-learning.js';
import { CandidateTable } from './dtls-admission.js';
import {
  checkConfig,
  type DtlsClientConfig,
  type DtlsServerConfig,
  type Role,
} from './dtls-config.js';
import { DtlsError, MessageTooLargeError } from '../errors.js';

/** Options of `RistTransport.handshake`. */
export interface DtlsHandshakeOptions {
  /**
   * Give up after this long with `TimeoutError`. Default 10000 ms; at most 2147483647.
   *
   * 0 sets no limit of our own, but OpenSSL still has one: a handshake whose peer stops answering
   * (a silent address, or a wrong PSK key, whose Finished the peer cannot decrypt and drops) ends
   * when OpenSSL gives up after 12 retransmissions, 13 timer periods of `retransmitInitialMs`
   * doubling up to 60 s: about 8 minutes with the default 1000 ms (1+2+4+...+32+7*60 s), about 8 s
   * with 1 ms. On the client `handshake()` then rejects with `DtlsError` reason `'timeout'`. On
   * the server only that candidate peer is dropped (counted in `handshakeFailures`, kept as
   * `lastError`) and the server keeps waiting for another: with 0 it waits forever.
   */
  timeoutMs?: number;
  /** Cancels the handshake with `AbortError`. */
  signal?: AbortSignal;
}

/** The established DTLS session. */
export interface DtlsSessionInfo {
  /** The peer's address (IPv4-mapped addresses unmapped) and port. */
  readonly peer: Endpoint;
  /** `'DTLSv1.2'`. */
  readonly version: string;
  /** OpenSSL name of the negotiated cipher suite (`ECDHE-ECDSA-AES256-GCM-SHA384`, `PSK-AES128-GCM-SHA256`). */
  readonly cipher: string;
  /** The most application bytes one datagram carries (`DTLS_get_data_mtu`). */
  readonly maxDataBytes: number;
  /** SHA-256 fingerprint of the peer's certificate, `AB:CD:...`, when it sent one. */
  readonly peerFingerprint: string | undefined;
  /** The PSK identity, when a PSK cipher suite was negotiated. */
  readonly pskIdentity: string | undefined;
}

/** Counters of the DTLS layer; a snapshot (`RistTransport.stats.dtls`). */
export interface DtlsStats {
  /** Application records decrypted from the peer. */
  recordsReceived: number;
  /** Application records sent to the peer. */
  recordsSent: number;
  /** Datagrams dropped after the handshake because they came from another source than the peer. */
  foreignDropped: number;
  /** Datagrams dropped because no handshake was running (server before `handshake()`, client before it). */
  idleDropped: number;
  /** Datagrams dropped because the source is not in `allowPeers`. */
  notAllowed: number;
  /** HelloVerifyRequests sent (server). */
  cookiesSent: number;
  /**
   * New handshakes refused because `maxPendingHandshakes` were in progress and none of them
   * could be evicted (server).
   */
  pendingRejected: number;
  /** Handshakes in progress now: candidate peers past the cookie check (server; a gauge). */
  pendingHandshakes: number;
  /** Candidates that gave their slot to a newcomer: they had sent nothing since admission (server). */
  candidatesEvicted: number;
  /** Candidates dropped because they did not complete within `candidateTimeoutMs` (server). */
  candidatesExpired: number;
  /** Handshakes that failed (server: each candidate peer; client: each attempt). */
  handshakeFailures: number;
  /** Handshake flights retransmitted on timeout. */
  retransmits: number;
  /** Decrypted records dropped because nobody read them (`readerQueueLength`). */
  readerDrops: number;
  /** Handshake or close_notify datagrams whose send failed (see `lastError`). */
  sendErrors: number;
  /**
   * Errors the native DTLS engine threw while handling a received datagram or a timer, or while
   * freeing its objects: there is no caller to throw to, so each is counted here and kept as
   * `lastError`. It ends the handshake attempt concerned (counted in `handshakeFailures` too; a
   * client's `handshake()` rejects with it) or, once established, the session (reads reject
   * with it).
   */
  internalErrors: number;
}

interface Session {
  readonly conn: NativeDtlsConnection;
  readonly peer: Endpoint;
  timer: NodeJS.Timeout | undefined;
  freed: boolean;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  cleanup(): void;
}

/** What a datagram read through DTLS carries. */
export interface DtlsRecord {
  readonly data: Buffer;
  readonly address: string;
  readonly port: number;
}

const kDefaultHandshakeTimeoutMs = 10_000;

/**
 * One DTLS endpoint over a datagram socket it does not own: `send` puts a datagram on the wire,
 * {@link DtlsChannel.onDatagram} is called with every datagram the socket receives. Internal to
 * `RistTransport`; exported for it and for tests.
 */
export class DtlsChannel {
  readonly #b: NativeBinding;
  readonly #role: Role;
  readonly #ctx: NativeDtlsContext;
  readonly #send: (data: Buffer, peer: Endpoint) => Promise<unknown>;
  readonly #remote: Endpoint | undefined;
  readonly #mtu: number;
  readonly #hostname: string | undefined;
  readonly #cookies: boolean;
  readonly #allow: BlockList | undefined;
  readonly #candidateTimeoutMs: number;
  readonly #pending: CandidateTable<Session>;
  #listener: NativeDtlsConnection | undefined;
  #session: Session | undefined;
  #info: DtlsSessionInfo | undefined;
  #handshake: Waiter<DtlsSessionInfo> | undefined;
  readonly #queue: ReaderQueue<DtlsRecord>;
  #failure: Error | undefined;
  #closed = false;
  #lastError: unknown;
  readonly #stats: DtlsStats = {
    recordsReceived: 0,
    recordsSent: 0,
    foreignDropped: 0,
    idleDropped: 0,
    notAllowed: 0,
    cookiesSent: 0,
    pendingRejected: 0,
    pendingHandshakes: 0,
    candidatesEvicted: 0,
    candidatesExpired: 0,
    handshakeFailures: 0,
    retransmits: 0,
    readerDrops: 0,
    sendErrors: 0,
    internalErrors: 0,
  };

  constructor(
    binding: NativeBinding,
    role: Role,
    config: DtlsClientConfig | DtlsServerConfig,
    io: {
      send: (data: Buffer, peer: Endpoint) => Promise<unknown>;
      remote?: Endpoint;
      family: 4 | 6;
      readerQueueLength?: number;
    },
  ) {
    const checked = checkConfig(role, config, io.family);
    this.#b = binding;
    this.#role = role;
    this.#send = io.send;
    this.#remote = io.remote;
    this.#mtu = checked.mtu;
    this.#hostname = role === 'client' ? (config as DtlsClientConfig).hostname : undefined;
    const server = config as DtlsServerConfig;
    this.#cookies = role === 'server' ? (server.cookies ?? true) : false;
    this.#allow = role === 'server' ? checked.allow : undefined;
    this.#candidateTimeoutMs = role === 'server' ? (server.candidateTimeoutMs ?? 5000) : 5000;
    this.#pending = new CandidateTable<Session>(
      role === 'server' ? (server.maxPendingHandshakes ?? 4) : 1,
      this.#candidateTimeoutMs,
      config.retransmitInitialMs ?? 1000,
      (session) => this.#candidateExpired(session),
    );
    this.#queue = new ReaderQueue<DtlsRecord>(io.readerQueueLength ?? 4096);
    this.#ctx = binding.msock_dtls_context(checked.native);
  }

  /** The established session, or `undefined` before the handshake. */
  get info(): DtlsSessionInfo | undefined {
    return this.#info;
  }

  /** Counters; a snapshot. */
  get stats(): DtlsStats {
    return {
      ...this.#stats,
      pendingHandshakes: this.#pending.size,
      readerDrops: this.#queue.drops,
    };
  }

  /** The last error met in the background (a failed candidate handshake, a failed send). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /**
   * Runs the handshake: the client sends its ClientHello to the remote; the server waits for the
   * first peer to complete one. Resolves with the session; resolves at once if it is already
   * established.
   *
   * Every failure is a rejection, never a synchronous throw.
   *
   * @throws DtlsError on a failed client handshake: wrong certificate (`'verify'`), fingerprint
   *   (`'fingerprint'`), unknown PSK identity (`'alert'`); reason `'timeout'` when OpenSSL gives
   *   up retransmitting (see {@link DtlsHandshakeOptions.timeoutMs}; a wrong PSK key ends so, or
   *   with `TimeoutError` first). Also the addon's error if it fails mid-handshake.
   * @throws TimeoutError after `timeoutMs`; AbortError when `signal` aborts; SocketClosedError
   *   when the transport is closed meanwhile. Half-open handshakes are freed in each case.
   * @throws InvalidStateError when a handshake is already running; InvalidArgumentError for bad
   *   options.
   */
  handshake(options: DtlsHandshakeOptions = {}): Promise<DtlsSessionInfo> {
    try {
      return this.#startHandshake(options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #startHandshake(options: DtlsHandshakeOptions): Promise<DtlsSessionInfo> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', options, 'must be an object');
    const timeoutMs = options.timeoutMs ?? kDefaultHandshakeTimeoutMs;
    validateTimeoutMs(timeoutMs);
    if (timeoutMs > 2 ** 31 - 1)
      throw new InvalidArgumentError('timeoutMs', timeoutMs, 'must be at most 2147483647');
    const signal = options.signal;
    validateAbortSignal(signal);
    if (this.#closed) return Promise.reject(new SocketClosedError('handshake'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#info) return Promise.resolve(this.#info);
    if (this.#handshake) throw new InvalidStateError('a DTLS handshake is already running');
    if (signal?.aborted) return Promise.reject(new AbortError('handshake', signal.reason));

    const promise = new Promise<DtlsSessionInfo>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.#endHandshake(new AbortError('handshake', signal?.reason));
      this.#handshake = {
        resolve,
        reject,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0) {
        timer = setTimeout(
          () => this.#endHandshake(new TimeoutError('DTLS handshake', timeoutMs)),
          timeoutMs,
        );
      }
    });
    if (this.#role === 'client') {
      const remote = this.#remote as Endpoint;
      let conn: NativeDtlsConnection;
      try {
        conn = this.#newConnection();
      } catch (err) {
        this.#endHandshake(err);
        return promise;
      }
      const session: Session = { conn, peer: remote, timer: undefined, freed: false };
      this.#session = session;
      this.#guarded(session, () => this.#step(session, undefined));
    }
    return promise;
  }

  /**
   * Feeds one datagram received on the socket. Before the handshake it drives the handshake;
   * after, datagrams from the peer are decrypted and queued for {@link read}, and datagrams from
   * any other source are dropped and counted.
   *
   * Never throws (it runs in the socket's `'message'` listener): an error from the addon is
   * counted in `stats.internalErrors`, kept as {@link lastError}, and ends the handshake attempt
   * or session it happened in.
   */
  onDatagram(data: Buffer, address: string, port: number): void {
    if (this.#closed || this.#failure !== undefined) return;
    let peer: Endpoint | undefined;
    try {
      peer = { address: unmapIPv4(address), port };
      this.#dispatch(data, peer);
    } catch (err) {
      this.#backgroundError(err, peer === undefined ? undefined : this.#sessionOf(peer));
    }
  }

  #dispatch(data: Buffer, peer: Endpoint): void {
    const established = this.#info !== undefined ? this.#session : undefined;
    if (established) {
      if (!sameEndpoint(peer, established.peer)) {
        this.#stats.foreignDropped++;
        return;
      }
      this.#readRecords(established, data);
      return;
    }
    if (this.#role === 'client') {
      const session = this.#session;
      if (session === undefined) {
        this.#stats.idleDropped++;
        return;
      }
      if (!sameEndpoint(peer, session.peer)) {
        this.#stats.foreignDropped++;
        return;
      }
      this.#step(session, data);
      return;
    }
    this.#serverDatagram(data, peer);
  }

  /**
   * Resolves with the next decrypted record from the peer (waits through the handshake).
   *
   * @throws SocketClosedError when closed, also while waiting; AbortError on `signal`.
   * @throws DtlsError `'peer-closed'` after the peer's close_notify, or the fatal error that
   *   ended the session.
   */
  read(options: { signal?: AbortSignal } = {}): Promise<DtlsRecord> {
    if (typeof options !== 'object' || options === null)
      return Promise.reject(
        new InvalidArgumentError('options', options, 'must be an object { signal? }'),
      );
    const signal = options.signal;
    validateAbortSignal(signal);
    if (this.#closed) return Promise.reject(new SocketClosedError('readMedia'));
    return this.#queue.next(signal, 'readMedia').then((record) => {
      if (record !== undefined) return record;
      throw this.#closed || this.#failure === undefined
        ? new SocketClosedError('readMedia')
        : this.#failure;
    });
  }

  /**
   * Encrypts `data` as one record and sends it to the peer in one datagram.
   *
   * @returns the number of data bytes sent.
   * @throws MessageTooLargeError when data plus record overhead exceeds `maxDatagramBytes`
   *   (`info.maxDataBytes` is the limit); nothing is sent.
   * @throws InvalidStateError before the handshake; SocketClosedError after close.
   */
  async write(data: Uint8Array, operation = 'writeMedia'): Promise<number> {
    if (!(data instanceof Uint8Array))
      throw new InvalidArgumentError('data', data, 'must be a Uint8Array');
    if (this.#closed) throw new SocketClosedError(operation);
    if (this.#failure !== undefined) throw this.#failure;
    const session = this.#session;
    const info = this.#info;
    if (session === undefined || info === undefined)
      throw new InvalidStateError(`${operation} before the DTLS handshake completed`);
    if (data.length === 0 || data.length > info.maxDataBytes)
      throw new MessageTooLargeError(data.length, info.maxDataBytes);
    this.#b.msock_dtls_write(session.conn, data);
    const out = this.#b.msock_dtls_take_output(session.conn);
    await Promise.all(out.map((d) => this.#send(d, session.peer)));
    this.#stats.recordsSent++;
    return data.length;
  }

  /**
   * Sends close_notify to an established peer (best effort, send failures counted in
   * `stats.sendErrors`), frees every native object, and rejects a running handshake and pending
   * reads with `SocketClosedError`. Idempotent.
   *
   * @throws the addon's error when close_notify could not be produced (nothing is then sent);
   *   everything is freed and every waiter rejected all the same.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let farewell: Buffer[] = [];
    const session = this.#session;
    try {
      if (session && this.#info && this.#failure === undefined && !session.freed) {
        this.#b.msock_dtls_shutdown(session.conn);
        farewell = this.#b.msock_dtls_take_output(session.conn);
      }
    } finally {
      this.#endHandshake(new SocketClosedError('handshake'));
      this.#queue.end();
      this.#freeAll();
    }
    if (session) {
      const results = await Promise.allSettled(farewell.map((d) => this.#send(d, session.peer)));
      for (const r of results) {
        if (r.status === 'rejected') {
          this.#stats.sendErrors++;
          this.#lastError = r.reason;
        }
      }
    }
  }

  #serverDatagram(data: Buffer, peer: Endpoint): void {
    if (this.#handshake === undefined) {
      this.#stats.idleDropped++;
      return;
    }
    if (this.#allow && !this.#allow.check(peer.address, isIPv6(peer.address) ? 'ipv6' : 'ipv4')) {
      this.#stats.notAllowed++;
      return;
    }
    const key = endpointKey(peer);
    const known = this.#pending.get(key);
    if (known) {
      this.#pending.answered(key);
      this.#step(known, data);
      return;
    }
    if (!this.#pending.canAdmit()) {
      this.#stats.pendingRejected++;
      return;
    }
    if (!this.#cookies) {
      const session: Session = {
        conn: this.#newConnection(),
        peer,
        timer: undefined,
        freed: false,
      };
      this.#admit(key, session);
      this.#step(session, data);
      return;
    }
    this.#listener ??= this.#newConnection();
    const listener = this.#listener;
    let verified: boolean;
    try {
      verified = this.#b.msock_dtls_listen(listener, data, key);
    } catch (err) {
      // A datagram OpenSSL's listener could not take: start over with a fresh listener.
      this.#stats.handshakeFailures++;
      this.#lastError = err;
      this.#listener = undefined;
      this.#nativeFree(listener);
      return;
    }
    const out = this.#b.msock_dtls_take_output(listener);
    if (!verified) {
      if (out.length > 0) {
        this.#stats.cookiesSent++;
        this.#pending.cookieSent(key);
      }
      this.#flush(out, peer, undefined);
      return;
    }
    this.#listener = undefined;
    const session: Session = { conn: listener, peer, timer: undefined, freed: false };
    this.#admit(key, session);
    this.#flush(out, peer, session);
    this.#step(session, undefined);
  }

  /** Gives a candidate a handshake slot, freeing the one it evicts (see `dtls-admission.ts`). */
  #admit(key: string, session: Session): void {
    const evicted = this.#pending.admit(key, session);
    if (evicted === undefined) return;
    this.#stats.candidatesEvicted++;
    this.#free(evicted);
  }

  /** A candidate's `candidateTimeoutMs` ran out: it has left the table; free it. */
  #candidateExpired(session: Session): void {
    this.#stats.candidatesExpired++;
    this.#lastError = new TimeoutError(
      `DTLS handshake of candidate peer ${endpointKey(session.peer)}`,
      this.#candidateTimeoutMs,
    );
    this.#free(session);
  }

  #newConnection(): NativeDtlsConnection {
    const options: { mtu: number; hostname?: string } = { mtu: this.#mtu };
    if (this.#hostname !== undefined) options.hostname = this.#hostname;
    return this.#b.msock_dtls_connection(this.#ctx, options);
  }

  /** One handshake step: feed, run, send what came out, then either finish or re-arm the timer. */
  #step(session: Session, data: Buffer | undefined): void {
    let done: boolean;
    try {
      done = this.#b.msock_dtls_handshake(session.conn, data);
    } catch (err) {
      this.#sendAlert(session);
      this.#sessionFailed(session, err);
      return;
    }
    this.#flush(this.#b.msock_dtls_take_output(session.conn), session.peer, session);
    if (done) this.#established(session);
    else this.#arm(session);
  }

  #established(session: Session): void {
    const raw = this.#b.msock_dtls_info(session.conn);
    this.#session = session;
    this.#info = Object.freeze({
      peer: { ...session.peer },
      version: raw.version,
      cipher: raw.cipher ?? '',
      maxDataBytes: raw.maxDataBytes ?? 0,
      peerFingerprint: raw.peerFingerprint,
      pskIdentity: raw.pskIdentity,
    });
    this.#pending.delete(endpointKey(session.peer));
    for (const other of this.#pending.clear()) this.#free(other);
    if (this.#listener) {
      this.#nativeFree(this.#listener);
      this.#listener = undefined;
    }
    const waiter = this.#handshake;
    this.#handshake = undefined;
    waiter?.cleanup();
    waiter?.resolve(this.#info);
    this.#arm(session);
  }

  #sessionFailed(session: Session, err: unknown): void {
    this.#stats.handshakeFailures++;
    this.#lastError = err;
    this.#free(session);
    if (this.#role === 'server') {
      // Only its own slot: an evicted session's late failure must not free its successor's.
      const key = endpointKey(session.peer);
      if (this.#pending.get(key) === session) this.#pending.delete(key);
      return;
    }
    this.#session = undefined;
    this.#endHandshake(err);
  }

  /** Ends a running handshake with `err` and frees every half-open session. */
  #endHandshake(err: unknown): void {
    const waiter = this.#handshake;
    if (waiter === undefined) return;
    this.#handshake = undefined;
    waiter.cleanup();
    if (this.#info === undefined) {
      for (const s of this.#pending.clear()) this.#free(s);
      if (this.#role === 'client' && this.#session) {
        this.#free(this.#session);
        this.#session = undefined;
      }
    }
    waiter.reject(err);
  }

  #readRecords(session: Session, data: Buffer): void {
    let records: Buffer[] | null;
    try {
      records = this.#b.msock_dtls_read(session.conn, data);
    } catch (err) {
      this.#sendAlert(session);
      this.#fail(err);
      return;
    }
    this.#flush(this.#b.msock_dtls_take_output(session.conn), session.peer, session);
    this.#arm(session);
    if (records === null) {
      this.#fail(
        new DtlsError('peer-closed', 'the DTLS peer closed the session (close_notify)', {
          openssl: '',
        }),
      );
      return;
    }
    for (const record of records) {
      this.#stats.recordsReceived++;
      this.#deliver({ data: record, address: session.peer.address, port: session.peer.port });
    }
  }

  #deliver(record: DtlsRecord): void {
    this.#queue.push(record);
  }

  /** The established session ended (fatal alert, close_notify): reads and writes now fail. */
  #fail(err: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = err instanceof Error ? err : new Error(String(err), { cause: err });
    this.#lastError = err;
    this.#endHandshake(err);
    this.#freeAll();
    // Records already decrypted are still handed out; then reads fail with the error.
    this.#queue.end(true);
  }

  /** Sends datagrams in the background; a failure is counted and, for a handshake, fatal to it. */
  #flush(out: Buffer[], peer: Endpoint, session: Session | undefined): void {
    for (const d of out) {
      this.#send(d, peer).catch((err: unknown) => {
        if (this.#closed) return;
        this.#stats.sendErrors++;
        this.#lastError = err;
        if (session && !session.freed && this.#info === undefined)
          this.#sessionFailed(session, err);
      });
    }
  }

  #arm(session: Session): void {
    if (session.timer) clearTimeout(session.timer);
    session.timer = undefined;
    if (session.freed) return;
    const ms = this.#b.msock_dtls_timeout(session.conn);
    if (ms < 0) return;
    session.timer = setTimeout(() => {
      session.timer = undefined;
      if (session.freed || this.#closed) return;
      this.#guarded(session, () => this.#onTimer(session));
    }, ms);
  }

  #onTimer(session: Session): void {
    let resent: boolean;
    try {
      resent = this.#b.msock_dtls_handle_timeout(session.conn);
    } catch (err) {
      if (this.#info === undefined) this.#sessionFailed(session, err);
      else this.#fail(err);
      return;
    }
    if (resent) this.#stats.retransmits++;
    this.#flush(this.#b.msock_dtls_take_output(session.conn), session.peer, session);
    this.#arm(session);
  }

  /** Runs `fn` for `session` in the background (a handshake step, a timer): see {@link #backgroundError}. */
  #guarded(session: Session, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#backgroundError(err, session);
    }
  }

  /** The session a datagram from `peer` concerns, if any. Never throws. */
  #sessionOf(peer: Endpoint): Session | undefined {
    if (this.#info !== undefined || this.#role === 'client') return this.#session;
    try {
      return this.#pending.get(endpointKey(peer));
    } catch {
      return undefined; // an address endpointKey refuses never got a pending session
    }
  }

  /**
   * An error the addon threw where no caller can take it (a datagram, a timer): counted, kept as
   * `lastError`, and fatal to what it happened in: the established session, the handshake attempt
   * of `session`, or the server's cookie listener (a fresh one is made for the next datagram).
   * Never throws.
   */
  #backgroundError(err: unknown, session: Session | undefined): void {
    this.#stats.internalErrors++;
    this.#lastError = err;
    if (this.#closed) return;
    if (this.#info !== undefined) {
      this.#fail(err);
      return;
    }
    if (session !== undefined && !session.freed) {
      this.#sessionFailed(session, err);
      return;
    }
    if (session === undefined && this.#listener !== undefined) {
      const listener = this.#listener;
      this.#listener = undefined;
      this.#nativeFree(listener);
    }
  }

  /** Sends what OpenSSL queued for a failing session (its alert); an addon error is counted. */
  #sendAlert(session: Session): void {
    try {
      this.#flush(this.#b.msock_dtls_take_output(session.conn), session.peer, undefined);
    } catch (err) {
      this.#stats.internalErrors++;
      this.#lastError = err;
    }
  }

  /** `msock_dtls_free`, counting a throw instead of passing it on (the finalizer frees it then). */
  #nativeFree(conn: NativeDtlsConnection): void {
    try {
      this.#b.msock_dtls_free(conn);
    } catch (err) {
      this.#stats.internalErrors++;
      this.#lastError = err;
    }
  }

  #free(session: Session): void {
    if (session.freed) return;
    session.freed = true;
    if (session.timer) clearTimeout(session.timer);
    session.timer = undefined;
    this.#nativeFree(session.conn);
  }

  #freeAll(): void {
    for (const s of this.#pending.clear()) this.#free(s);
    if (this.#session) this.#free(this.#session);
    if (this.#listener) {
      this.#nativeFree(this.#listener);
      this.#listener = undefined;
    }
    if (this.#closed) {
      try {
        this.#b.msock_dtls_context_free(this.#ctx);
      } catch (err) {
        this.#stats.internalErrors++;
        this.#lastError = err;
      }
    }
  }
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && a.address === b.address;
}

/** `host:port` / `[v6]:port`: the key of a pending handshake and the peer the cookie is bound to. */
function endpointKey(e: Endpoint): string {
  return formatHostPort({ host: e.address, port: e.port });
}
