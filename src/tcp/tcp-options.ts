/**
 * TCP socket options on a `net.Socket`: keepalive (idle, interval, count), `TCP_NODELAY`,
 * `TCP_USER_TIMEOUT` and the TOS byte / IPv6 traffic class, validated, applied and read back.
 *
 * What Node does itself is done through Node (`setNoDelay`, `setKeepAlive(true, idle)`, and on
 * Node >= 24.15 `setTypeOfService`), so it works without the native addon. What Node 20 cannot do
 * (`TCP_KEEPINTVL`, `TCP_KEEPCNT`, `TCP_USER_TIMEOUT`, `IP_TOS`/`IPV6_TCLASS` on older Node, and
 * every read-back) goes through `setSocketOption`/`getSocketOption` of `options.ts`, which needs
 * the addon. {@link checkTcpOptionsSupported} tells *before* a connection is made whether the
 * options asked for can be honoured, so a request is never silently ignored.
 *
 * Some options only do their job when they are on the socket before the SYN leaves
 * ({@link TcpPreConnectOptions}, plus `tos` for outgoing connections): the receive buffer bounds
 * the window scale negotiated in the SYN, the TOS byte should mark the handshake too, and a device
 * binding must route the SYN. Node cannot set any of them before it connects, so `connectTcp`
 * creates such sockets through the addon; {@link checkTcpConnectOptionsSupported} refuses them up
 * front when the addon is not loaded.
 *
 * What this module does not do: create sockets or connect (see `connect.ts`), or set options on
 * listening sockets.
 *
 * Units: the kernel counts `TCP_KEEPIDLE` and `TCP_KEEPINTVL` in whole seconds, so `idleMs` and
 * `intervalMs` must be multiples of 1000; a value that would be rounded is rejected rather than
 * changed behind the caller's back.
 *
 * @module
 */

import { Socket } from 'node:net';

import { InvalidArgumentError, InvalidStateError, NotSupportedError } from '../errors.js';
import { nativeStatus } from '../native/index.js';
import { getSocketOption, setSocketOption } from '../options.js';
import { validateBoolean, validateInteger, validateString } from '../validate.js';

/**
 * TCP keepalive settings. Each field left `undefined` keeps the value Node / the OS would use
 * (Node's libuv pins interval 1 s and count 10 once keepalive is on).
 */
export interface TcpKeepAliveOptions {
  /**
   * Idle time before the first probe, `TCP_KEEPIDLE`, in milliseconds (a multiple of 1000, at
   * most 32 767 000). Set through Node's `setKeepAlive`, so it works without the addon.
   * Default: Node's default (the OS `tcp_keepalive_time` when never set).
   */
  idleMs?: number;
  /**
   * Time between probes, `TCP_KEEPINTVL`, in milliseconds (a multiple of 1000, at most
   * 32 767 000). Needs the native addon. Default: 1000 (libuv's fixed value).
   */
  intervalMs?: number;
  /** Unanswered probes before the connection is dropped, `TCP_KEEPCNT`, 1..127. Needs the addon. Default: 10. */
  count?: number;
}

/** TCP options that can be applied to a connected socket. */
export interface TcpSocketOptions {
  /** Disables Nagle's algorithm (`TCP_NODELAY`). Default: `undefined`, Node's default (Nagle on). */
  noDelay?: boolean | undefined;
  /** `SO_KEEPALIVE` on (`true` or an object) or off (`false`). Default: `undefined`, leave as is. */
  keepAlive?: boolean | TcpKeepAliveOptions | undefined;
  /**
   * `TCP_USER_TIMEOUT`: how long, in milliseconds, transmitted data may stay unacknowledged before
   * the kernel drops the connection (RFC 5482). 0 restores the system default. Needs the addon.
   * Platforms: Linux.
   */
  userTimeoutMs?: number | undefined;
  /**
   * The IPv4 TOS byte (`IP_TOS`) or IPv6 traffic class (`IPV6_TCLASS`), 0..255: DSCP in the upper
   * six bits. Uses Node's `setTypeOfService` where it exists (Node >= 24.15), otherwise the addon.
   */
  tos?: number | undefined;
}

/**
 * Options of an outgoing connection that must be in place before the SYN is sent, so
 * `connectTcp` creates the socket through the native addon (`msock_tcp_socket`) when any of them
 * (or `tos`) is given. Without the addon they are refused with `NotSupportedError` before any
 * connection is attempted; they are never applied after the handshake instead.
 */
export interface TcpPreConnectOptions {
  /**
   * `SO_RCVBUF` in bytes, 1..2147483647. TCP negotiates its window scale in the SYN from the
   * receive buffer at that moment, so a buffer raised after connecting cannot open the window past
   * 64 KiB × the scale already chosen. The addon tries `SO_RCVBUFFORCE` first (with
   * `CAP_NET_ADMIN` it goes past `net.core.rmem_max`), else `SO_RCVBUF`, which the kernel clamps to
   * `rmem_max` instead of failing; Linux reads back twice the effective size. Setting it turns off
   * the kernel's receive-buffer autotuning for the connection. Needs the addon.
   * Default: the OS default (autotuned, `net.ipv4.tcp_rmem`).
   */
  recvBufferBytes?: number | undefined;
  /**
   * `SO_SNDBUF` in bytes, 1..2147483647 (`SO_SNDBUFFORCE` first, as `recvBufferBytes`). Turns off
   * send-buffer autotuning. Needs the addon. Default: the OS default (`net.ipv4.tcp_wmem`).
   */
  sendBufferBytes?: number | undefined;
  /**
   * `SO_BINDTODEVICE`: send and receive only through this interface (by name, at most 15 bytes),
   * the SYN included. An unknown name fails with `SystemCallError` `ENODEV`. Needs the addon
   * (and `CAP_NET_RAW` before Linux 5.7). Platforms: Linux.
   */
  bindToDevice?: string | undefined;
}

/** Keepalive settings read back from the kernel. */
export interface TcpKeepAliveState {
  /** `SO_KEEPALIVE`. */
  enabled: boolean;
  /** `TCP_KEEPIDLE`, in milliseconds. */
  idleMs: number;
  /** `TCP_KEEPINTVL`, in milliseconds. */
  intervalMs: number;
  /** `TCP_KEEPCNT`. */
  count: number;
}

/** Largest `TCP_KEEPIDLE` / `TCP_KEEPINTVL` Linux accepts, in seconds (`MAX_TCP_KEEPIDLE`). */
const MAX_KEEPALIVE_SECONDS = 32767;

interface SocketWithTos {
  setTypeOfService?: (tos: number) => unknown;
}

interface HandleWithFd {
  fd?: unknown;
}

/**
 * The file descriptor of a connected `net.Socket` (its libuv handle's `fd`). It reaches into
 * Node's private `_handle`, so it stays internal to `src/tcp`; callers use
 * `TcpConnection.fd`.
 *
 * @internal
 *
 * @throws InvalidStateError `MEDIASOCK_ERR_INVALID_STATE` when the socket has no descriptor (not
 *   yet connected, destroyed, or not a TCP socket).
 */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: HandleWithFd | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new InvalidStateError(
      'the socket has no file descriptor: it is not connected yet, already destroyed, or not backed by a TCP handle',
    );
  }
  return fd;
}

/**
 * Validates `options` and throws {@link InvalidArgumentError} for a malformed value. Runs before
 * any system call.
 */
export function validateTcpSocketOptions(options: TcpSocketOptions, prefix = ''): void {
  const { noDelay, keepAlive, userTimeoutMs, tos } = options;
  if (noDelay !== undefined) validateBoolean(noDelay, `${prefix}noDelay`);
  if (keepAlive !== undefined && typeof keepAlive !== 'boolean') {
    if (typeof keepAlive !== 'object' || keepAlive === null) {
      throw new InvalidArgumentError(
        `${prefix}keepAlive`,
        keepAlive,
        'must be a boolean or an object { idleMs?, intervalMs?, count? }',
      );
    }
    validateSeconds(keepAlive.idleMs, `${prefix}keepAlive.idleMs`);
    validateSeconds(keepAlive.intervalMs, `${prefix}keepAlive.intervalMs`);
    if (keepAlive.count !== undefined) {
      validateInteger(keepAlive.count, `${prefix}keepAlive.count`, 1, 127);
    }
  }
  if (userTimeoutMs !== undefined) {
    validateInteger(userTimeoutMs, `${prefix}userTimeoutMs`, 0, 0x7fffffff);
  }
  if (tos !== undefined) validateInteger(tos, `${prefix}tos`, 0, 255);
}

/**
 * Validates the {@link TcpPreConnectOptions} of `options` and throws {@link InvalidArgumentError}
 * for a malformed value. Runs before any system call.
 */
export function validateTcpPreConnectOptions(options: TcpPreConnectOptions, prefix = ''): void {
  const { recvBufferBytes, sendBufferBytes, bindToDevice } = options;
  if (recvBufferBytes !== undefined) {
    validateInteger(recvBufferBytes, `${prefix}recvBufferBytes`, 1, 0x7fffffff);
  }
  if (sendBufferBytes !== undefined) {
    validateInteger(sendBufferBytes, `${prefix}sendBufferBytes`, 1, 0x7fffffff);
  }
  if (bindToDevice !== undefined) {
    validateString(bindToDevice, `${prefix}bindToDevice`, { nonEmpty: true });
    if (Buffer.byteLength(bindToDevice) > 15 || bindToDevice.includes('\0')) {
      throw new InvalidArgumentError(
        `${prefix}bindToDevice`,
        bindToDevice,
        'must be an interface name of at most 15 bytes (IFNAMSIZ) without NUL',
      );
    }
  }
}

/**
 * The C names of the options among `options` that must be set before the SYN: `SO_RCVBUF`,
 * `SO_SNDBUF`, `SO_BINDTODEVICE` and `IP_TOS` (`IPV6_TCLASS` on IPv6). Empty when none is asked
 * for, in which case `connectTcp` lets Node create the socket.
 *
 * @internal
 */
export function tcpPreConnectOptionNames(
  options: TcpPreConnectOptions & TcpSocketOptions,
): string[] {
  const names: string[] = [];
  if (options.recvBufferBytes !== undefined) names.push('SO_RCVBUF');
  if (options.sendBufferBytes !== undefined) names.push('SO_SNDBUF');
  if (options.bindToDevice !== undefined) names.push('SO_BINDTODEVICE');
  if (options.tos !== undefined) names.push('IP_TOS');
  return names;
}

function validateSeconds(value: number | undefined, argument: string): void {
  if (value === undefined) return;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1000 ||
    value > MAX_KEEPALIVE_SECONDS * 1000 ||
    value % 1000 !== 0
  ) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be a whole number of seconds in milliseconds, 1000..${MAX_KEEPALIVE_SECONDS * 1000} (the kernel counts whole seconds)`,
    );
  }
}

/** The socket options among `options` that need the native addon (by C name). */
function optionsNeedingAddon(options: TcpSocketOptions, socket?: Socket): string[] {
  const needed: string[] = [];
  const { keepAlive } = options;
  if (typeof keepAlive === 'object') {
    if (keepAlive.intervalMs !== undefined) needed.push('TCP_KEEPINTVL');
    if (keepAlive.count !== undefined) needed.push('TCP_KEEPCNT');
  }
  if (options.userTimeoutMs !== undefined) needed.push('TCP_USER_TIMEOUT');
  if (options.tos !== undefined && !nodeHasSetTypeOfService(socket)) needed.push('IP_TOS');
  return needed;
}

function nodeHasSetTypeOfService(socket?: Socket): boolean {
  if (socket !== undefined) return typeof (socket as SocketWithTos).setTypeOfService === 'function';
  return typeof (Socket.prototype as SocketWithTos).setTypeOfService === 'function';
}

/**
 * Throws {@link NotSupportedError} when `options` ask for something this process cannot set (an
 * option that needs the native addon while it is not loaded). Call it before connecting so that a
 * request is refused up front instead of being ignored.
 *
 * @throws NotSupportedError `MEDIASOCK_ERR_NOT_SUPPORTED`, naming the first such option.
 */
export function checkTcpOptionsSupported(options: TcpSocketOptions): void {
  const needed = optionsNeedingAddon(options);
  if (needed.length === 0) return;
  const status = nativeStatus();
  if (status.loaded) return;
  throw new NotSupportedError(
    needed.join(', '),
    `Node ${process.version} cannot set ${needed.length > 1 ? 'them' : 'it'} and the native addon is not loaded (${describeLoadError(status.loadError)})`,
    { cause: status.loadError },
  );
}

/**
 * Like {@link checkTcpOptionsSupported}, for an outgoing connection: also refuses the options that
 * must be set before the SYN ({@link tcpPreConnectOptionNames}, `tos` included even where Node has
 * `setTypeOfService`, which only acts once the handshake is done) when the addon is not loaded,
 * and `bindToDevice` on systems without `SO_BINDTODEVICE`. One error names every option refused.
 *
 * @throws NotSupportedError `MEDIASOCK_ERR_NOT_SUPPORTED`, before any connection is attempted.
 */
export function checkTcpConnectOptionsSupported(
  options: TcpPreConnectOptions & TcpSocketOptions,
): void {
  if (
    options.bindToDevice !== undefined &&
    process.platform !== 'linux' &&
    process.platform !== 'android'
  ) {
    throw new NotSupportedError('SO_BINDTODEVICE', 'it exists on Linux only');
  }
  const before = tcpPreConnectOptionNames(options);
  const after = optionsNeedingAddon({ ...options, tos: undefined });
  if (before.length + after.length === 0) return;
  const status = nativeStatus();
  if (status.loaded) return;
  const reasons: string[] = [];
  if (before.length > 0) {
    reasons.push(
      `${before.join(', ')} must be set before the SYN, which Node cannot do (it would only set ${before.length > 1 ? 'them' : 'it'} after the handshake)`,
    );
  }
  if (after.length > 0) reasons.push(`Node ${process.version} cannot set ${after.join(', ')}`);
  throw new NotSupportedError(
    [...before, ...after].join(', '),
    `${reasons.join('; ')}, and the native addon is not loaded (${describeLoadError(status.loadError)})`,
    { cause: status.loadError },
  );
}

function describeLoadError(err: Error | undefined): string {
  return err === undefined ? 'no load error recorded' : err.message;
}

/**
 * Applies `options` to a connected socket: Node's own setters where they exist, the addon for the
 * rest. Keepalive idle is applied before interval and count, because Node's `setKeepAlive` resets
 * the interval and count to libuv's fixed values.
 *
 * @throws InvalidArgumentError for malformed options, NotSupportedError when an option needs the
 *   addon and it is not loaded, SystemCallError when the kernel refuses a value.
 */
export function applyTcpSocketOptions(socket: Socket, options: TcpSocketOptions): void {
  validateTcpSocketOptions(options);
  checkTcpOptionsSupported(options);
  if (options.noDelay !== undefined) socket.setNoDelay(options.noDelay);
  const { keepAlive } = options;
  if (keepAlive === false) socket.setKeepAlive(false);
  else if (keepAlive === true) socket.setKeepAlive(true);
  else if (keepAlive !== undefined) {
    socket.setKeepAlive(true, keepAlive.idleMs ?? 0);
    if (keepAlive.intervalMs !== undefined) {
      setSocketOption(socketFd(socket), 'TCP_KEEPINTVL', keepAlive.intervalMs / 1000);
    }
    if (keepAlive.count !== undefined) {
      setSocketOption(socketFd(socket), 'TCP_KEEPCNT', keepAlive.count);
    }
  }
  if (options.userTimeoutMs !== undefined) {
    setSocketOption(socketFd(socket), 'TCP_USER_TIMEOUT', options.userTimeoutMs);
  }
  if (options.tos !== undefined) setTos(socket, options.tos);
}

function setTos(socket: Socket, tos: number): void {
  const native = (socket as SocketWithTos).setTypeOfService;
  if (typeof native === 'function') {
    native.call(socket, tos);
    return;
  }
  const fd = socketFd(socket);
  if (socket.remoteFamily === 'IPv6') {
    setSocketOption(fd, 'IPV6_TCLASS', tos);
    // A v4-mapped peer is reached with IPv4 packets, whose TOS byte comes from IP_TOS.
    if (socket.remoteAddress?.toLowerCase().startsWith('::ffff:') === true) {
      setSocketOption(fd, 'IP_TOS', tos);
    }
  } else {
    setSocketOption(fd, 'IP_TOS', tos);
  }
}

/**
 * Reads the keepalive settings back from the kernel (`SO_KEEPALIVE`, `TCP_KEEPIDLE`,
 * `TCP_KEEPINTVL`, `TCP_KEEPCNT`). Needs the native addon.
 *
 * @throws NotSupportedError when the addon is not loaded; SystemCallError from `getsockopt`.
 */
export function getTcpKeepAlive(socket: Socket): TcpKeepAliveState {
  const fd = socketFd(socket);
  return {
    enabled: Boolean(getSocketOption(fd, 'SO_KEEPALIVE')),
    idleMs: Number(getSocketOption(fd, 'TCP_KEEPIDLE')) * 1000,
    intervalMs: Number(getSocketOption(fd, 'TCP_KEEPINTVL')) * 1000,
    count: Number(getSocketOption(fd, 'TCP_KEEPCNT')),
  };
}

/** Reads `TCP_USER_TIMEOUT` in milliseconds. Needs the native addon. Platforms: Linux. */
export function getTcpUserTimeout(socket: Socket): number {
  return Number(getSocketOption(socketFd(socket), 'TCP_USER_TIMEOUT'));
}

/** Reads `TCP_NODELAY`. Needs the native addon (Node has a setter only). */
export function getTcpNoDelay(socket: Socket): boolean {
  return Boolean(getSocketOption(socketFd(socket), 'TCP_NODELAY'));
}

/** Reads `IP_TOS` (IPv4 peers) or `IPV6_TCLASS` (IPv6 peers). Needs the native addon. */
export function getTcpTypeOfService(socket: Socket): number {
  const fd = socketFd(socket);
  return Number(getSocketOption(fd, socket.remoteFamily === 'IPv6' ? 'IPV6_TCLASS' : 'IP_TOS'));
}
