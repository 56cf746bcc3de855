/**
 * Outgoing TCP connections: {@link connectTcp} and the {@link TcpConnection} it resolves to.
 *
 * `connectTcp` adds to `net.connect` what a media client needs: a connect timeout that covers name
 * resolution and every address tried, an `AbortSignal`, typed errors (`SystemCallError` carrying the
 * address and port, `TimeoutError`, `AbortError`), keepalive / no-delay / user-timeout options
 * applied before the promise resolves, and the options that only work when set before the SYN
 * (receive and send buffers, TOS / traffic class, device binding). Options Node 20 cannot set need
 * the native addon; without it the call rejects with `NotSupportedError` before any connection is
 * attempted.
 *
 * Two ways to a connection:
 * - **Node's** (no pre-connect option asked for): `net.connect` with Node's own Happy Eyeballs,
 *   `autoSelectFamily` (RFC 8305: resolve every address, interleave the families, give each attempt
 *   `autoSelectFamilyAttemptTimeout` before abandoning it for the next, first to connect wins),
 *   available since Node 18.13 and on by default in 20. Node binds `localAddress` / `localPort`
 *   itself (libuv sets `SO_REUSEADDR` on every TCP bind).
 * - **The addon's** (`recvBufferBytes`, `sendBufferBytes`, `tos` or `bindToDevice` asked for): the
 *   addon's `msock_tcp_socket({ listen: false })` creates the socket, sets those options, and binds
 *   it (to `localAddress` / `localPort`, `SO_REUSEADDR` on when a port is given; else to the
 *   wildcard address and an ephemeral port, which takes the port at bind time rather than at
 *   connect time). `new net.Socket({ fd })` adopts the unconnected descriptor and `connect()` on
 *   it issues `connect(2)` on that same descriptor: libuv's `uv_tcp_connect` reuses a handle that
 *   already has a socket (it creates one only for a handle without), so every option is in place
 *   when the SYN leaves. Checked on Node 20.20 and 24.21 (`connect-native.test.ts`): the connection
 *   reads back the buffer sizes and TOS asked for, a 4 KiB receive buffer shows in the window
 *   scale advertised in the SYN, and the peer sees the bound local port.
 *
 * Happy Eyeballs on the addon's way: a descriptor has one family and cannot be reused after a
 * failed `connect(2)`, so Node's `autoSelectFamily` (which swaps in a new handle of its own per
 * attempt, without our options) cannot be used. Instead the name is resolved here (`resolveHost`:
 * families interleaved, RFC 8305 §4) and the addresses are tried **one after another, each with a
 * new descriptor** created with every option: an attempt that neither connects nor fails within
 * `attemptTimeoutMs` is abandoned (its descriptor closed) and the next one starts, the last one
 * runs until `timeoutMs` or the kernel gives up. That is the schedule Node's own implementation
 * follows; attempts are not raced in parallel.
 *
 * What this module does not do: TLS, proxying, reconnecting, or reading and writing (use
 * `connection.socket`, a plain `net.Socket`).
 *
 * @module
 */

import { isIP, Socket, connect as netConnect } from 'node:net';
import { constants as osConstants } from 'node:os';

import {
  AbortError,
  InvalidArgumentError,
  NotSupportedError,
  SocketClosedError,
  SystemCallError,
  TimeoutError,
} from '../errors.js';
import { formatHostPort, hostnameProblem, splitZone } from '../address.js';
import {
  loadNative,
  nativeStatus,
  type NativeBinding,
  type NativeOptionRow,
} from '../native/index.js';
import { ifNameToIndex } from '../options.js';
import { preBindRows, type PreBindOption } from '../option-rows.js';
import { resolveHost, type ResolvedAddress } from '../resolve.js';
import { validateAbortSignal, validateInteger, validatePort } from '../validate.js';
import {
  applyTcpSocketOptions,
  checkTcpConnectOptionsSupported,
  getTcpKeepAlive,
  getTcpNoDelay,
  getTcpTypeOfService,
  getTcpUserTimeout,
  socketFd,
  tcpPreConnectOptionNames,
  validateTcpPreConnectOptions,
  validateTcpSocketOptions,
  type TcpKeepAliveOptions,
  type TcpKeepAliveState,
  type TcpPreConnectOptions,
  type TcpSocketOptions,
} from './tcp-options.js';

/**
 * Options of {@link connectTcp}.
 *
 * `recvBufferBytes`, `sendBufferBytes`, `bindToDevice` and `tos` are set before the SYN, through
 * the native addon (see the module notes for how addresses are then tried); without the addon
 * they are refused with `NotSupportedError`. Keepalive, no-delay and user timeout are applied
 * once connected, before the promise resolves.
 */
export interface ConnectTcpOptions extends TcpSocketOptions, TcpPreConnectOptions {
  /** Host name or IP literal of the peer. Names are resolved with `dns.lookup`. */
  host: string;
  /** Port of the peer, 1..65535. */
  port: number;
  /** Restrict to one address family: 4 or 6. Default: 0, both (Happy Eyeballs). */
  family?: 0 | 4 | 6 | undefined;
  /**
   * Local address to bind before connecting (an IPv6 link-local one may carry its `%zone`). Its
   * family restricts the peer's. Default: any.
   */
  localAddress?: string | undefined;
  /**
   * Local port to bind before connecting, 0..65535, with `SO_REUSEADDR` so that a port whose
   * previous connection is in `TIME_WAIT` can be bound again. Default: ephemeral.
   */
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
   * How long, in milliseconds, each Happy Eyeballs attempt but the last runs before it is
   * abandoned and the next address is tried (Node's `autoSelectFamilyAttemptTimeout`, at least
   * 10; the same schedule on the addon's path). Default: 250 (RFC 8305 recommends 250).
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
  validateTcpPreConnectOptions(options);
}

/**
 * Connects to `host:port` over TCP, trying every resolved address with Happy Eyeballs (RFC 8305),
 * and resolves once connected and every requested option is applied.
 *
 * When `recvBufferBytes`, `sendBufferBytes`, `tos` or `bindToDevice` is given, the socket is
 * created and configured by the native addon before it connects, one descriptor per address tried,
 * the addresses tried one after another (each but the last for at most `attemptTimeoutMs`); see
 * the module notes. Otherwise Node creates it (`net.connect` with `autoSelectFamily`).
 *
 * @throws InvalidArgumentError (synchronously validated, rejected) for malformed options.
 * @throws NotSupportedError before connecting when an option needs the addon and it is not loaded
 *   (every pre-connect option, `tos` included, and keepalive interval / count / user timeout), or
 *   `bindToDevice` off Linux.
 * @throws SystemCallError for `connect` / `getaddrinfo` failures (`ECONNREFUSED`, `ENOTFOUND` …)
 *   with `address` and `port`, and on the addon's path for socket set-up failures (`ENODEV` with
 *   `option` `SO_BINDTODEVICE`, `EADDRINUSE` from `bind` …, with the local address and port);
 *   when several addresses were tried, the last failure, with the `AggregateError` of all of them
 *   as `cause`.
 * @throws TimeoutError when `timeoutMs` runs out; AbortError when `signal` aborts.
 */
export async function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  validateConnectOptions(options);
  checkTcpConnectOptionsSupported(options);
  const { host, port, localAddress, localPort, timeoutMs, signal } = options;
  if (signal?.aborted === true) throw new AbortError('connectTcp', signal.reason);
  const where = formatHostPort({ host, port });
  // A local bind fixes the family: an IPv4 local address cannot reach an IPv6 peer.
  const localFamily = localAddress === undefined ? 0 : isIP(localAddress);
  const family =
    options.family !== undefined && options.family !== 0 ? options.family : localFamily;
  if (tcpPreConnectOptionNames(options).length > 0) {
    const binding = loadNative();
    if (binding === undefined) {
      // checkTcpConnectOptionsSupported refused this already; kept for the type checker.
      throw new NotSupportedError(
        tcpPreConnectOptionNames(options).join(', '),
        'the native addon is not loaded',
        { cause: nativeStatus().loadError },
      );
    }
    return connectThroughAddon(binding, options, family as 0 | 4 | 6, where);
  }
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

/**
 * The addon's way (see the module notes): resolve, then try each address in turn with a
 * descriptor of its own, created and configured by `msock_tcp_socket` before `connect(2)`.
 * `timeoutMs` and `signal` cover the lookup and every attempt; each attempt but the last is
 * abandoned after `attemptTimeoutMs`. Every descriptor is closed on every failure: by us until
 * `net.Socket` has adopted it, by `socket.destroy()` after.
 */
async function connectThroughAddon(
  binding: NativeBinding,
  options: ConnectTcpOptions,
  family: 0 | 4 | 6,
  where: string,
): Promise<TcpConnection> {
  const { host, port, timeoutMs, signal } = options;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 250;
  // One signal for "stop everything", whose reason is the error connectTcp rejects with.
  const stop = new AbortController();
  const onAbort = (): void => {
    stop.abort(new AbortError(`connectTcp to ${where}`, signal?.reason));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          stop.abort(new TimeoutError(`TCP connect to ${where}`, timeoutMs));
        }, timeoutMs);
  try {
    let targets: ResolvedAddress[];
    try {
      targets = await resolveHost(host, { family, signal: stop.signal });
    } catch (err) {
      if (stop.signal.aborted) throw stop.signal.reason;
      throw withPort(err, port);
    }
    if (targets.length === 0) {
      throw new SystemCallError('getaddrinfo', UV_EAI_NONAME, { address: host, port });
    }
    const failures: unknown[] = [];
    let socket: Socket | undefined;
    for (let i = 0; i < targets.length && socket === undefined; i++) {
      if (stop.signal.aborted) throw stop.signal.reason;
      const target = targets[i] as ResolvedAddress;
      const last = i === targets.length - 1;
      try {
        socket = await attemptThroughAddon(
          binding,
          options,
          target,
          last ? undefined : attemptTimeoutMs,
          stop.signal,
        );
      } catch (err) {
        if (stop.signal.aborted) throw stop.signal.reason;
        failures.push(err);
      }
    }
    if (socket === undefined) throw lastFailure(failures);
    // The pre-connect options are set; what remains is applied to the connected socket.
    const after: TcpSocketOptions = {};
    if (options.noDelay !== undefined) after.noDelay = options.noDelay;
    if (options.keepAlive !== undefined) after.keepAlive = options.keepAlive;
    if (options.userTimeoutMs !== undefined) after.userTimeoutMs = options.userTimeoutMs;
    try {
      applyTcpSocketOptions(socket, after);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return new TcpConnection(socket);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** libuv's `UV_EAI_NONAME`, which Node names `ENOTFOUND`. */
const UV_EAI_NONAME = -3008;

/**
 * One attempt of the addon's way: a new descriptor for `target`'s family with every pre-connect
 * option and the local bind, adopted by a `net.Socket`, connected. Resolves with the connected
 * socket; rejects with the attempt's failure (the descriptor closed), with an `ETIMEDOUT`
 * `SystemCallError` when `attemptTimeoutMs` runs out, or with `stop.reason` when `stop` aborts.
 */
function attemptThroughAddon(
  binding: NativeBinding,
  options: ConnectTcpOptions,
  target: ResolvedAddress,
  attemptTimeoutMs: number | undefined,
  stop: AbortSignal,
): Promise<Socket> {
  const { port, localAddress, localPort } = options;
  const { address: bindAddress, zone } = splitZone(
    localAddress ?? (target.family === 4 ? '0.0.0.0' : '::'),
  );
  // Throws SystemCallError (ENODEV for SO_BINDTODEVICE, EADDRINUSE from bind …); the addon closes
  // the descriptor itself on every failure.
  const created = binding.msock_tcp_socket({
    family: target.family,
    address: bindAddress,
    port: localPort ?? 0,
    ...(zone !== undefined ? { scopeId: zoneIndex(zone) } : {}),
    options: preConnectRows(options, target.family),
    listen: false,
  });
  let socket: Socket;
  try {
    // `readable: true`: Node makes an fd-backed socket readable only when told so.
    socket = new Socket({ fd: created.fd, readable: true, writable: true });
  } catch (err) {
    // Not adopted (the constructor throws before or at uv_tcp_open): the descriptor is still ours.
    binding.msock_close(created.fd);
    throw SystemCallError.from(err, { syscall: 'open', address: target.address, port });
  }
  return new Promise<Socket>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const fail = (err: unknown): void => {
      cleanup();
      // destroy() closes the adopted descriptor; keep a listener for a late error of the attempt.
      socket.on('error', noteLateError);
      socket.destroy();
      reject(err);
    };
    function onError(err: Error): void {
      fail(connectError(err, target.address, port));
    }
    function onStop(): void {
      fail(stop.reason);
    }
    function onConnect(): void {
      cleanup();
      resolve(socket);
    }
    socket.once('connect', onConnect);
    socket.once('error', onError);
    stop.addEventListener('abort', onStop, { once: true });
    if (attemptTimeoutMs !== undefined) {
      timer = setTimeout(() => {
        fail(new SystemCallError('connect', -ETIMEDOUT, { address: target.address, port }));
      }, attemptTimeoutMs);
    }
    // An IP literal: no lookup, and with autoSelectFamily off Node keeps this handle (its own
    // Happy Eyeballs would replace it by a fresh socket without our options).
    try {
      socket.connect({ port, host: target.address, autoSelectFamily: false });
    } catch (err) {
      fail(SystemCallError.from(err, { syscall: 'connect', address: target.address, port }));
    }
  });
}

const ETIMEDOUT = osConstants.errno.ETIMEDOUT;

/**
 * The option-table rows of one attempt, set before `bind(2)` and the SYN: `SO_REUSEADDR` when a
 * local port is given, the device, the buffers (`SO_RCVBUFFORCE` with its clamp to `SO_RCVBUF`),
 * and `IP_TOS` (on IPv6 `IPV6_TCLASS`, plus `IP_TOS` for the IPv4 side of a dual-stack socket).
 */
function preConnectRows(options: ConnectTcpOptions, family: 4 | 6): NativeOptionRow[] {
  const list: PreBindOption[] = [];
  if (options.localPort !== undefined && options.localPort !== 0) {
    list.push(['SO_REUSEADDR', true]);
  }
  if (options.bindToDevice !== undefined) list.push(['SO_BINDTODEVICE', options.bindToDevice]);
  if (options.recvBufferBytes !== undefined) {
    list.push(['SO_RCVBUFFORCE', options.recvBufferBytes]);
  }
  if (options.sendBufferBytes !== undefined) {
    list.push(['SO_SNDBUFFORCE', options.sendBufferBytes]);
  }
  if (options.tos !== undefined) list.push(['IP_TOS', options.tos]);
  return preBindRows({ family, protocol: 'tcp' }, list);
}

/** The interface index a zone names: digits are an index, anything else an interface name. */
function zoneIndex(zone: string): number {
  return /^\d+$/.test(zone) ? Number(zone) : ifNameToIndex(zone);
}

/** A `getaddrinfo` failure of `resolveHost` (which knows no port) with the port added. */
function withPort(err: unknown, port: number): unknown {
  if (err instanceof SystemCallError && err.port === undefined) {
    return new SystemCallError(err.syscall, err.errno, {
      option: err.option,
      address: err.address,
      port,
      cause: err.cause,
    });
  }
  return err;
}

/** The last failure of several attempts, carrying all of them as an `AggregateError` `cause`. */
function lastFailure(failures: unknown[]): unknown {
  const last = failures[failures.length - 1];
  if (failures.length < 2 || !(last instanceof SystemCallError)) return last;
  return new SystemCallError(last.syscall, last.errno, {
    option: last.option,
    address: last.address,
    port: last.port,
    cause: new AggregateError(failures, `all ${failures.length} connect attempts failed`),
  });
}
