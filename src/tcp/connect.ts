/**
 * Outgoing TCP connections: {@link connectTcp} and the {@link TcpConnection} it resolves to.
 *
 * `connectTcp` adds to `net.connect` what a media client needs: a connect timeout that covers name
 * resolution and every address tried, an `AbortSignal`, typed errors (`SystemCallError` carrying the
 * address and port, `TimeoutError`, `AbortError`), and keepalive / no-delay / user-timeout / TOS
 * options applied before the promise resolves. Options Node 20 cannot set (keepalive interval and
 * count, `TCP_USER_TIMEOUT`, TOS) need the native addon; without it the call rejects with
 * `NotSupportedError` before any connection is attempted.
 *
 * Happy Eyeballs: we use Node's own `autoSelectFamily` (RFC 8305: resolve every address, interleave
 * families, start the next attempt after `autoSelectFamilyAttemptTimeout`, first to connect wins),
 * available since Node 18.13 and on by default in 20. Racing attempts ourselves would duplicate
 * that logic and open extra sockets from JS; the one thing Node lacks, a limit on the whole
 * connect, is the `timeoutMs` added here.
 *
 * What this module does not do: TLS, proxying, reconnecting, or reading and writing (use
 * `connection.socket`, a plain `net.Socket`).
 *
 * @module
 */

import { isIP, Socket, connect as netConnect } from 'node:net';

import {
  AbortError,
  InvalidArgumentError,
  SocketClosedError,
  SystemCallError,
  TimeoutError,
} from '../errors.js';
import { formatHostPort, hostnameProblem } from '../address.js';
import { validateAbortSignal, validateInteger, validatePort } from '../validate.js';
import {
  applyTcpSocketOptions,
  checkTcpOptionsSupported,
  getTcpKeepAlive,
  getTcpNoDelay,
  getTcpTypeOfService,
  getTcpUserTimeout,
  socketFd,
  validateTcpSocketOptions,
  type TcpKeepAliveOptions,
  type TcpKeepAliveState,
  type TcpSocketOptions,
} from './tcp-options.js';

/** Options of {@link connectTcp}. */
export interface ConnectTcpOptions extends TcpSocketOptions {
  /** Host name or IP literal of the peer. Names are resolved with `dns.lookup`. */
  host: string;
  /** Port of the peer, 1..65535. */
  port: number;
  /** Restrict to one address family: 4 or 6. Default: 0, both (Happy Eyeballs). */
  family?: 0 | 4 | 6 | undefined;
  /** Local address to bind before connecting. Its family restricts the peer's. Default: any. */
  localAddress?: string | undefined;
  /** Local port to bind before connecting, 0..65535. Default: ephemeral. */
  localPort?: number | undefined;
  /**
   * Limit on the whole connect (name resolution and every address tried), in milliseconds;
   * `TimeoutError` when it runs out. Default: `undefined`, no limit of ours (the kernel gives up
   * after `tcp_syn_retries`, about 2 minutes on Linux).
   */
  timeoutMs?: number | undefined;
  /** Aborts the connect; the promise rejects with `AbortError` whose `cause` is the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * How long, in milliseconds, each Happy Eyeballs attempt runs before the next address is tried
   * in parallel (Node's `autoSelectFamilyAttemptTimeout`, at least 10). Default: 250 (RFC 8305
   * recommends 250).
   */
  attemptTimeoutMs?: number | undefined;
}

/**
 * A connected TCP socket with option setters and getters Node lacks, and a graceful `end()` that
 * can be awaited. Read and write through {@link TcpConnection.socket}, a plain `net.Socket`.
 */
export class TcpConnection {
  /** The underlying Node socket: a Duplex stream, an async iterable of chunks. */
  readonly socket: Socket;

  /** Wraps a connected `net.Socket` (from `connectTcp`, a `TcpListener`, or your own). */
  constructor(socket: Socket) {
    if (!(socket instanceof Socket)) {
      throw new InvalidArgumentError('socket', socket, 'must be a net.Socket');
    }
    this.socket = socket;
  }

  /** The peer's address (`undefined` once destroyed). */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  /** `'IPv4'` or `'IPv6'`. */
  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }
  /** The local address the connection is bound to. */
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  /** The local port. */
  get localPort(): number | undefined {
    return this.socket.localPort;
  }
  /** True once the socket is destroyed (closed, reset, or failed). */
  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /**
   * The file descriptor, for options of your own.
   *
   * @throws InvalidStateError when the socket is destroyed.
   */
  get fd(): number {
    return socketFd(this.socket);
  }

  /** Sets `TCP_NODELAY` (through Node). Platforms: all. */
  setNoDelay(noDelay = true): this {
    return this.#apply({ noDelay });
  }

  /**
   * Turns `SO_KEEPALIVE` on or off and sets `TCP_KEEPIDLE` (through Node), `TCP_KEEPINTVL` and
   * `TCP_KEEPCNT` (through the addon). Platforms: Linux, macOS, FreeBSD (interval and count need
   * the addon).
   *
   * @throws NotSupportedError when interval or count is asked for and the addon is not loaded.
   */
  setKeepAlive(keepAlive: boolean | TcpKeepAliveOptions): this {
    return this.#apply({ keepAlive });
  }

  /**
   * Sets `TCP_USER_TIMEOUT` (RFC 5482) in milliseconds; 0 restores the system default.
   * Platforms: Linux, through the addon.
   */
  setUserTimeout(userTimeoutMs: number): this {
    return this.#apply({ userTimeoutMs });
  }

  /** Sets `IP_TOS` or `IPV6_TCLASS` (0..255), through Node >= 24.15 or the addon. */
  setTypeOfService(tos: number): this {
    return this.#apply({ tos });
  }

  /** Reads keepalive settings from the kernel; see {@link TcpConnection.setKeepAlive}. Needs the addon. */
  getKeepAlive(): TcpKeepAliveState {
    this.#checkOpen('getKeepAlive');
    return getTcpKeepAlive(this.socket);
  }
  /** Reads `TCP_NODELAY`; see {@link TcpConnection.setNoDelay}. Needs the addon. */
  getNoDelay(): boolean {
    this.#checkOpen('getNoDelay');
    return getTcpNoDelay(this.socket);
  }
  /** Reads `TCP_USER_TIMEOUT`; see {@link TcpConnection.setUserTimeout}. Needs the addon. */
  getUserTimeout(): number {
    this.#checkOpen('getUserTimeout');
    return getTcpUserTimeout(this.socket);
  }
  /** Reads `IP_TOS` / `IPV6_TCLASS`; see {@link TcpConnection.setTypeOfService}. Needs the addon. */
  getTypeOfService(): number {
    this.#checkOpen('getTypeOfService');
    return getTcpTypeOfService(this.socket);
  }

  /**
   * Closes gracefully: flushes pending writes, sends FIN, and resolves once the socket is closed
   * (the peer's FIN received, or the socket destroyed). Errors on the way are emitted on the
   * socket's `'error'` event, as for any `net.Socket`, and not reported a second time here.
   *
   * @param options.timeoutMs - If the close has not completed after this many milliseconds the
   *   connection is reset ({@link TcpConnection.resetAndDestroy}) and the promise rejects with
   *   `TimeoutError`. Default: no limit.
   */
  end(options: { timeoutMs?: number } = {}): Promise<void> {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined) validateInteger(timeoutMs, 'timeoutMs', 1, 0x7fffffff);
    const socket = this.socket;
    if (socket.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      socket.once('close', () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          reject(new TimeoutError('graceful TCP close', timeoutMs));
          this.resetAndDestroy();
        }, timeoutMs);
      }
      if (!socket.destroyed) socket.end();
    });
  }

  /**
   * Closes abortively: sends RST instead of FIN and discards unsent data (`SO_LINGER` 0 through
   * Node's `resetAndDestroy`). Use it to drop a misbehaving peer without a TIME_WAIT.
   */
  resetAndDestroy(): void {
    if (this.socket.destroyed) return;
    this.socket.resetAndDestroy();
  }

  /** Destroys the socket at once (FIN if nothing is pending, no wait); idempotent. */
  destroy(error?: Error): void {
    this.socket.destroy(error);
  }

  #apply(options: TcpSocketOptions): this {
    this.#checkOpen('setting a TCP option');
    applyTcpSocketOptions(this.socket, options);
    return this;
  }

  #checkOpen(operation: string): void {
    if (this.socket.destroyed) throw new SocketClosedError(operation);
  }
}

function validateConnectOptions(options: ConnectTcpOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', options, 'must be an object { host, port, ... }');
  }
  const { host, port, family, localAddress, localPort, timeoutMs, signal, attemptTimeoutMs } =
    options;
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidArgumentError('host', host, 'must be a non-empty host name or IP address');
  }
  const nameProblem = isIP(host) === 0 ? hostnameProblem(host) : undefined;
  if (nameProblem !== undefined) {
    throw new InvalidArgumentError(
      'host',
      host,
      `must be an IP address or a host name, and ${nameProblem}`,
    );
  }
  validatePort(port);
  if (port === 0) throw new InvalidArgumentError('port', port, 'must be in 1..65535 to connect');
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) {
    throw new InvalidArgumentError('family', family, 'must be 0, 4 or 6');
  }
  if (
    localAddress !== undefined &&
    (typeof localAddress !== 'string' || isIP(localAddress) === 0)
  ) {
    throw new InvalidArgumentError('localAddress', localAddress, 'must be an IPv4 or IPv6 address');
  }
  if (localPort !== undefined) validatePort(localPort, 'localPort');
  if (timeoutMs !== undefined) validateInteger(timeoutMs, 'timeoutMs', 1, 0x7fffffff);
  if (attemptTimeoutMs !== undefined) {
    validateInteger(attemptTimeoutMs, 'attemptTimeoutMs', 10, 0x7fffffff);
  }
  validateAbortSignal(signal);
  const hostFamily = isIP(host);
  const localFamily = localAddress === undefined ? 0 : isIP(localAddress);
  if (hostFamily !== 0 && localFamily !== 0 && hostFamily !== localFamily) {
    throw new InvalidArgumentError(
      'localAddress',
      localAddress,
      `must be of the same family as host ${host} (IPv${hostFamily})`,
    );
  }
  validateTcpSocketOptions(options);
}

/**
 * Connects to `host:port` over TCP, trying every resolved address with Happy Eyeballs (RFC 8305),
 * and resolves once connected and every requested option is applied.
 *
 * @throws InvalidArgumentError (synchronously validated, rejected) for malformed options.
 * @throws NotSupportedError before connecting when an option needs the addon and it is not loaded.
 * @throws SystemCallError for `connect` / `getaddrinfo` failures (`ECONNREFUSED`, `ENOTFOUND` …)
 *   with `address` and `port`; when several addresses were tried, the last failure, with the
 *   `AggregateError` of all of them as `cause`.
 * @throws TimeoutError when `timeoutMs` runs out; AbortError when `signal` aborts.
 */
export async function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  validateConnectOptions(options);
  checkTcpOptionsSupported(options);
  const { host, port, localAddress, localPort, timeoutMs, signal } = options;
  if (signal?.aborted === true) throw new AbortError('connectTcp', signal.reason);
  const where = formatHostPort({ host, port });
  // A local bind fixes the family: an IPv4 local address cannot reach an IPv6 peer.
  const localFamily = localAddress === undefined ? 0 : isIP(localAddress);
  const family =
    options.family !== undefined && options.family !== 0 ? options.family : localFamily;
  const socket = netConnect({
    host,
    port,
    ...(family !== 0 ? { family } : {}),
    ...(localAddress !== undefined ? { localAddress } : {}),
    ...(localPort !== undefined ? { localPort } : {}),
    autoSelectFamily: family === 0,
    autoSelectFamilyAttemptTimeout: options.attemptTimeoutMs ?? 250,
  });

  return new Promise<TcpConnection>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const fail = (err: unknown): void => {
      cleanup();
      // Keep a listener: destroy() after a failure must not raise an unhandled 'error'.
      socket.on('error', noteLateError);
      socket.destroy();
      reject(err);
    };
    function onError(err: Error): void {
      fail(connectError(err, host, port));
    }
    function onAbort(): void {
      fail(new AbortError(`connectTcp to ${where}`, signal?.reason));
    }
    function onConnect(): void {
      cleanup();
      try {
        applyTcpSocketOptions(socket, options);
      } catch (err) {
        socket.destroy();
        reject(err);
        return;
      }
      resolve(new TcpConnection(socket));
    }
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        fail(new TimeoutError(`TCP connect to ${where}`, timeoutMs));
      }, timeoutMs);
    }
  });
}

/**
 * After a failed connect the socket is destroyed; Node may still report an error of the aborted
 * attempt. That error belongs to an operation already reported (rejected) and is dropped here on
 * purpose, the only such place: reporting it would report one failure twice.
 */
function noteLateError(_err: Error): void {
  // The connect promise has already rejected with the failure that ended the attempt.
  lateErrors++;
}
let lateErrors = 0;

/** @internal Errors raised by already-failed connect attempts after they were reported. */
export function lateConnectErrorCount(): number {
  return lateErrors;
}

/** Maps Node's connect error (possibly an AggregateError of several attempts) to ours. */
function connectError(err: Error, host: string, port: number): unknown {
  const attempts = (err as { errors?: unknown }).errors;
  if (Array.isArray(attempts) && attempts.length > 0) {
    const last = attempts[attempts.length - 1] as {
      errno?: unknown;
      syscall?: unknown;
      address?: unknown;
      port?: unknown;
    };
    if (typeof last.errno === 'number') {
      return new SystemCallError(
        typeof last.syscall === 'string' ? last.syscall : 'connect',
        last.errno,
        {
          address: typeof last.address === 'string' ? last.address : host,
          port: typeof last.port === 'number' ? last.port : port,
          cause: err,
        },
      );
    }
  }
  const e = err as { address?: unknown; hostname?: unknown };
  const address = typeof e.address === 'string' ? e.address : host;
  return SystemCallError.from(err, { address, port });
}
