/**
 * Error classes and codes.
 *
 * Every error mediasock raises is a {@link MediasockError} with a stable `code`. Our own codes start
 * with `MEDIASOCK_ERR_` and are listed in `docs/errors.md`; a code is never renamed or reused.
 * Failed system calls keep Node's own shape ({@link SystemCallError}: `code` is the errno name such
 * as `EADDRINUSE`), so handlers written for `node:dgram` and `node:net` keep working.
 *
 * How errors surface: synchronous calls throw, promises reject, long-lived sockets emit `'error'`.
 * Each failure goes through exactly one of these channels. Nothing is swallowed.
 *
 * `instanceof` works across two installed copies of the package: each class brands its instances
 * with a `Symbol.for` key and checks the brand in `Symbol.hasInstance`. Prefer matching on `code`.
 *
 * @module
 */

import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';

/** Every code of mediasock's own errors; errno names (`EADDRINUSE` …) come on {@link SystemCallError}. */
export const ErrorCodes = {
  INVALID_ARG: 'MEDIASOCK_ERR_INVALID_ARG',
  NOT_SUPPORTED: 'MEDIASOCK_ERR_NOT_SUPPORTED',
  SOCKET_CLOSED: 'MEDIASOCK_ERR_SOCKET_CLOSED',
  INVALID_STATE: 'MEDIASOCK_ERR_INVALID_STATE',
  PORT_RANGE_EXHAUSTED: 'MEDIASOCK_ERR_PORT_RANGE_EXHAUSTED',
  NATIVE_UNAVAILABLE: 'MEDIASOCK_ERR_NATIVE_UNAVAILABLE',
  ABORTED: 'MEDIASOCK_ERR_ABORTED',
  TIMEOUT: 'MEDIASOCK_ERR_TIMEOUT',
  FRAMING: 'MEDIASOCK_ERR_FRAMING',
  DTLS: 'MEDIASOCK_ERR_DTLS',
  MESSAGE_TOO_LARGE: 'MEDIASOCK_ERR_MESSAGE_TOO_LARGE',
  RTSP_PROTOCOL: 'MEDIASOCK_ERR_RTSP_PROTOCOL',
  RTSP_TOO_LARGE: 'MEDIASOCK_ERR_RTSP_TOO_LARGE',
  RTSP_CLOSED: 'MEDIASOCK_ERR_RTSP_CLOSED',
  RTSP_UNAUTHORIZED: 'MEDIASOCK_ERR_RTSP_UNAUTHORIZED',
  RTSP_TRANSPORT: 'MEDIASOCK_ERR_RTSP_TRANSPORT',
  RTSP_STATUS: 'MEDIASOCK_ERR_RTSP_STATUS',
  SDP: 'MEDIASOCK_ERR_SDP',
} as const;

/** A code of mediasock's own errors. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const kBrand = Symbol.for('mediasock.error');

function branded(value: unknown, name: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const brands = (value as { [kBrand]?: unknown })[kBrand];
  return Array.isArray(brands) && brands.includes(name);
}

/** The base of every error mediasock raises. */
export class MediasockError extends Error {
  /** A stable, documented code: `MEDIASOCK_ERR_*`, or an errno name on {@link SystemCallError}. */
  readonly code: string;
  declare readonly [kBrand]: readonly string[];

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const chain: string[] = [];
    for (
      let p: object | null = new.target.prototype;
      p && p !== Error.prototype;
      p = Object.getPrototypeOf(p) as object | null
    ) {
      chain.push((p.constructor as { name: string }).name);
    }
    Object.defineProperty(this, kBrand, { value: chain, enumerable: false });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, this.name);
  }
}

/**
 * An argument was malformed or out of range. Raised before any system call is made.
 *
 * The message names the argument, the value received and what was expected, for example
 * `port must be an integer in 0..65535 (received 70000)`.
 */
export class InvalidArgumentError extends MediasockError {
  /** The name of the offending argument or option (`port`, `ttl`, `url` …). */
  readonly argument: string;
  /** The value that was received. */
  readonly value: unknown;

  constructor(argument: string, value: unknown, expected: string, options?: { cause?: unknown }) {
    super(`${argument} ${expected} (received ${describe(value)})`, ErrorCodes.INVALID_ARG, options);
    this.argument = argument;
    this.value = value;
  }
}

/** The operating system, the Node version or a missing native addon cannot do what was asked. */
export class NotSupportedError extends MediasockError {
  /** What was asked for: a socket option (`IP_MULTICAST_ALL`) or a feature (`UDP_SEGMENT`). */
  readonly feature: string;
  /** `process.platform/process.arch`, for example `linux/x64`. */
  readonly platform: string;

  constructor(feature: string, reason: string, options?: { cause?: unknown }) {
    const platform = `${process.platform}/${process.arch}`;
    super(
      `${feature} is not supported on ${platform}: ${reason}`,
      ErrorCodes.NOT_SUPPORTED,
      options,
    );
    this.feature = feature;
    this.platform = platform;
  }
}

/** The socket was closed; raised by operations on it and by reads that were pending at close. */
export class SocketClosedError extends MediasockError {
  constructor(operation: string) {
    super(`${operation} failed: the socket is closed`, ErrorCodes.SOCKET_CLOSED);
  }
}

/** The call is valid in general but not in the object's current state (bind twice, send unbound). */
export class InvalidStateError extends MediasockError {
  constructor(message: string) {
    super(message, ErrorCodes.INVALID_STATE);
  }
}

/** No port (or even/odd pair of ports) could be had inside the range, within the attempts allowed. */
export class PortRangeExhaustedError extends MediasockError {
  /** The first port of the range searched. */
  readonly min: number;
  /** The last port of the range searched. */
  readonly max: number;
  /** How many binds were tried. */
  readonly attempts: number;

  constructor(min: number, max: number, attempts: number, what = 'port') {
    super(
      `no free ${what} in ${min}..${max} after ${attempts} attempts`,
      ErrorCodes.PORT_RANGE_EXHAUSTED,
    );
    this.min = min;
    this.max = max;
    this.attempts = attempts;
  }
}

/** An operation needs the native addon, and it is not loaded (see `nativeStatus()`). */
export class NativeUnavailableError extends MediasockError {
  /** The operation that needed the addon. */
  readonly feature: string;

  constructor(feature: string, loadError: unknown) {
    super(
      `${feature} needs the mediasock native addon, which is not loaded: ${reason(loadError)}`,
      ErrorCodes.NATIVE_UNAVAILABLE,
      {
        cause: loadError,
      },
    );
    this.feature = feature;
  }
}

/** An operation was cancelled through its `AbortSignal`; `cause` holds the signal's reason. */
export class AbortError extends MediasockError {
  constructor(operation: string, signalReason?: unknown) {
    super(`${operation} was aborted`, ErrorCodes.ABORTED, { cause: signalReason });
  }
}

/** An operation did not finish within its time limit. */
export class TimeoutError extends MediasockError {
  /** The limit that ran out, in milliseconds. */
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(`${operation} timed out after ${timeoutMs} ms`, ErrorCodes.TIMEOUT);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A byte stream carried something malformed: an RTSP interleaved frame with a bad length or an
 * unknown channel, an RTSP message that does not parse, a stream that ended inside a frame. The
 * stream goes on with what follows; only the malformed part is dropped.
 */
export class FramingError extends MediasockError {
  /** The field that was wrong (`channel`, `length`, `stream` …). */
  readonly field: string;
  /** The value found in the stream. */
  readonly value: unknown;

  constructor(field: string, value: unknown, expected: string) {
    super(`${field} ${expected} (received ${describe(value)})`, ErrorCodes.FRAMING);
    this.field = field;
    this.value = value;
  }
}

/**
 * Why a DTLS operation failed:
 * - `'config'`: the context could not be built (PEM that does not parse, a key that does not match
 *   the certificate, a cipher list that selects nothing);
 * - `'verify'`: the peer's certificate chain did not verify (`verifyResult` says why);
 * - `'fingerprint'`: the peer's certificate is not the one pinned with `fingerprint`;
 * - `'alert'`: a fatal alert was sent or received (wrong PSK, unknown CA, no shared cipher...);
 * - `'handshake'`: the handshake failed otherwise;
 * - `'timeout'`: OpenSSL gave up retransmitting;
 * - `'peer-closed'`: the peer sent `close_notify`; nothing more will come from it;
 * - `'state'`: the call does not fit the connection's state (internal misuse).
 */
export type DtlsFailure =
  'config' | 'verify' | 'fingerprint' | 'alert' | 'handshake' | 'timeout' | 'peer-closed' | 'state';

/**
 * A DTLS handshake, certificate or record operation failed (`MEDIASOCK_ERR_DTLS`). The message
 * carries OpenSSL's own error strings (`ERR_error_string_n`); `reason` classifies the failure.
 */
export class DtlsError extends MediasockError {
  /** What kind of failure this is; see {@link DtlsFailure}. */
  readonly reason: DtlsFailure;
  /** OpenSSL's error queue at the failure, `ERR_error_string_n` texts joined by `; ` (may be ''). */
  readonly openssl: string;
  /** The fatal alert, as `'received <description>'` or `'sent <description>'`, if there was one. */
  readonly alert: string | undefined;
  /** `X509_verify_cert_error_string` of a failed certificate verification. */
  readonly verifyResult: string | undefined;

  constructor(
    reason: DtlsFailure,
    message: string,
    details: { openssl?: string; alert?: string; verifyResult?: string; cause?: unknown } = {},
  ) {
    super(message, ErrorCodes.DTLS, { cause: details.cause });
    this.reason = reason;
    this.openssl = details.openssl ?? '';
    this.alert = details.alert;
    this.verifyResult = details.verifyResult;
  }
}

/**
 * A datagram would be larger than the path allows (`MEDIASOCK_ERR_MESSAGE_TOO_LARGE`): for DTLS,
 * the data plus the record overhead exceeds `maxDatagramBytes`. Nothing was sent.
 */
export class MessageTooLargeError extends MediasockError {
  /** Bytes of data offered. */
  readonly size: number;
  /** The most data bytes one datagram can carry on this path. */
  readonly maxBytes: number;

  constructor(size: number, maxBytes: number, what = 'a DTLS record') {
    super(
      `${what} of ${size} bytes does not fit: at most ${maxBytes} bytes of data per datagram`,
      ErrorCodes.MESSAGE_TOO_LARGE,
    );
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

/**
 * An RTSP server sent something that is not RTSP (`MEDIASOCK_ERR_RTSP_PROTOCOL`): a status line
 * that does not parse, a response without (or with the wrong) CSeq, a Transport or Session header
 * that cannot be read. The request it answered fails; `detail` holds the offending text.
 */
export class RtspProtocolError extends MediasockError {
  /** The offending text (a start line, a header value), shortened. */
  readonly detail: string;

  constructor(message: string, detail: string, options?: { cause?: unknown }) {
    super(`${message} (received ${describe(detail)})`, ErrorCodes.RTSP_PROTOCOL, options);
    this.detail = detail;
  }
}

/**
 * An RTSP message went past a size bound (`MEDIASOCK_ERR_RTSP_TOO_LARGE`): its headers past
 * `maxHeaderBytes`, or its body (`Content-Length`) past `maxBodyBytes`. A server cannot make the
 * client buffer without limit; the request fails and the connection is closed.
 */
export class RtspMessageTooLargeError extends MediasockError {
  /** Which part was too large. */
  readonly part: 'header' | 'body';
  /** Bytes announced or seen. */
  readonly size: number;
  /** The bound. */
  readonly maxBytes: number;

  constructor(part: 'header' | 'body', size: number, maxBytes: number) {
    super(
      `RTSP message ${part} of ${size} bytes is over the bound of ${maxBytes} bytes`,
      ErrorCodes.RTSP_TOO_LARGE,
    );
    this.part = part;
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

/**
 * The RTSP server closed the control connection while a session or a request needed it
 * (`MEDIASOCK_ERR_RTSP_CLOSED`). Every pending request fails with it, and the session ends.
 */
export class RtspConnectionClosedError extends MediasockError {
  constructor(what: string, options?: { cause?: unknown }) {
    super(`the RTSP server closed the connection ${what}`, ErrorCodes.RTSP_CLOSED, options);
  }
}

/**
 * The server refused the credentials (`MEDIASOCK_ERR_RTSP_UNAUTHORIZED`): 401 again after the
 * request was retried with an Authorization built from its challenge, or 401 with no credentials
 * given, or a challenge of a scheme or algorithm the client does not implement.
 */
export class RtspAuthError extends MediasockError {
  /** The request URL. */
  readonly url: string;

  constructor(url: string, why: string) {
    super(`authentication for ${url} failed: ${why}`, ErrorCodes.RTSP_UNAUTHORIZED);
    this.url = url;
  }
}

/**
 * No transport both sides support (`MEDIASOCK_ERR_RTSP_TRANSPORT`): the server answered
 * 461 Unsupported Transport, or its Transport reply names a profile, delivery or channel the
 * client did not ask for, or an `auto` fallback ran out of transports to try.
 */
export class RtspTransportError extends MediasockError {
  /** The transport that was asked for (`udp`, `tcp`, `multicast`). */
  readonly transport: string;

  constructor(transport: string, why: string) {
    super(`RTSP transport ${transport} is not usable: ${why}`, ErrorCodes.RTSP_TRANSPORT);
    this.transport = transport;
  }
}

/**
 * The server answered a request with a status that ends it (`MEDIASOCK_ERR_RTSP_STATUS`):
 * 404 Not Found, 454 Session Not Found, 5xx, a redirect loop. `status` and `reason` are the server's.
 */
export class RtspStatusError extends MediasockError {
  /** The request method. */
  readonly method: string;
  /** The status code, 100..999. */
  readonly status: number;
  /** The reason phrase. */
  readonly reason: string;

  constructor(method: string, url: string, status: number, reason: string) {
    super(`RTSP ${method} ${url} failed: ${status} ${reason}`, ErrorCodes.RTSP_STATUS);
    this.method = method;
    this.status = status;
    this.reason = reason;
  }
}

/**
 * A session description (RFC 4566) does not parse (`MEDIASOCK_ERR_SDP`): a line that is not
 * `x=value`, no `v=0`, a media line that cannot be read, a bad `rtpmap`. `line` is the 1-based
 * line number.
 */
export class SdpError extends MediasockError {
  /** 1-based line number of the problem (0 for the description as a whole). */
  readonly line: number;

  constructor(line: number, why: string) {
    super(`SDP ${line > 0 ? `line ${line} ` : ''}${why}`, ErrorCodes.SDP);
    this.line = line;
  }
}

/** Where a failed system call was aimed, and which socket option it concerned. */
export interface SystemCallContext {
  /** The socket option involved, by its C name (`IP_ADD_SOURCE_MEMBERSHIP`). */
  option?: string;
  /** The address the call was about. */
  address?: string;
  /** The port the call was about. */
  port?: number;
  /** The original error, when this one wraps another. */
  cause?: unknown;
}

/**
 * A system call failed. Keeps Node's own shape: `code` is the errno name (`EADDRINUSE`), `errno` the
 * negative errno number as Node and libuv report it, `syscall` the call (`bind`, `setsockopt` …), and
 * where known `address`, `port` and the socket `option`.
 *
 * The message reads like Node's: `bind EADDRINUSE: address already in use 127.0.0.1:5004`, with
 * ` (option IP_ADD_MEMBERSHIP)` appended when an option was involved.
 */
export class SystemCallError extends MediasockError {
  /** The negative errno number, as Node and libuv report it. */
  readonly errno: number;
  /** The system call that failed. */
  readonly syscall: string;
  /** The socket option involved, if any. */
  readonly option: string | undefined;
  /** The address involved, if any. */
  readonly address: string | undefined;
  /** The port involved, if any. */
  readonly port: number | undefined;

  constructor(syscall: string, errno: number, context: SystemCallContext = {}) {
    const negative = errno > 0 ? -errno : errno;
    const name = errnoName(negative);
    let where = '';
    if (context.address !== undefined) {
      where =
        context.port !== undefined
          ? ` ${formatHostPort(context.address, context.port)}`
          : ` ${context.address}`;
    }
    const option = context.option !== undefined ? ` (option ${context.option})` : '';
    super(`${syscall} ${name}: ${errnoMessage(name)}${where}${option}`, name, {
      cause: context.cause,
    });
    this.errno = negative;
    this.syscall = syscall;
    this.option = context.option;
    this.address = context.address;
    this.port = context.port;
  }

  /**
   * Wraps an error that Node raised for a system call (it has `code`, `errno`, `syscall`) so that it
   * carries the option and address context too. Anything else is returned unchanged.
   */
  static from(err: unknown, context: SystemCallContext & { syscall?: string } = {}): unknown {
    if (err instanceof MediasockError) return err;
    if (typeof err !== 'object' || err === null) return err;
    const e = err as {
      errno?: unknown;
      code?: unknown;
      syscall?: unknown;
      address?: unknown;
      port?: unknown;
    };
    let errno = typeof e.errno === 'number' ? e.errno : undefined;
    if (errno === undefined && typeof e.code === 'string') {
      const n = (osConstants.errno as Record<string, number | undefined>)[e.code];
      if (n !== undefined) errno = -n;
    }
    if (errno === undefined) return err;
    const syscall = typeof e.syscall === 'string' ? e.syscall : (context.syscall ?? 'unknown');
    return new SystemCallError(syscall, errno, {
      option: context.option,
      address: context.address ?? (typeof e.address === 'string' ? e.address : undefined),
      port: context.port ?? (typeof e.port === 'number' ? e.port : undefined),
      cause: err,
    });
  }
}

function errnoName(negative: number): string {
  try {
    return getSystemErrorName(negative);
  } catch (err) {
    // getSystemErrorName throws a RangeError for numbers that are not errnos; keep the number.
    if (err instanceof RangeError) return `E${-negative}`;
    throw err;
  }
}

function errnoMessage(name: string): string {
  return messages[name] ?? 'system call failed';
}

/** Texts of the errnos a socket layer meets, as strerror(3) words them on Linux. */
const messages: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EAFNOSUPPORT: 'address family not supported',
  EAGAIN: 'resource temporarily unavailable',
  EBADF: 'bad file descriptor',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host is unreachable',
  EINVAL: 'invalid argument',
  EIO: 'input/output error',
  EMSGSIZE: 'message too long',
  ENETUNREACH: 'network is unreachable',
  ENOBUFS: 'no buffer space available',
  ENODEV: 'no such device',
  ENOMEM: 'cannot allocate memory',
  ENOPROTOOPT: 'protocol not available',
  ENOTCONN: 'socket is not connected',
  ENOTSOCK: 'socket operation on non-socket',
  EOPNOTSUPP: 'operation not supported',
  EPERM: 'operation not permitted',
  EPIPE: 'broken pipe',
  ETIMEDOUT: 'connection timed out',
  ENOENT: 'no such file or directory',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  ESRCH: 'no such process',
  ENOTFOUND: 'name not found',
  EAI_AGAIN: 'temporary failure in name resolution',
  EAI_NODATA: 'no address of the requested family',
};

/** Formats `host:port`, bracketing IPv6 literals. */
function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `an object of type ${value.constructor?.name ?? 'Object'}`;
}

function reason(err: unknown): string {
  if (err instanceof Error) return err.message;
  return err === undefined
    ? 'no reason recorded'
    : typeof err === 'string'
      ? err
      : JSON.stringify(err);
}
