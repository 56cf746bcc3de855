import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import {
  AbortError,
  ErrorCodes,
  DtlsError,
  FramingError,
  MessageTooLargeError,
  InvalidArgumentError,
  InvalidStateError,
  MediasockError,
  NativeUnavailableError,
  NotSupportedError,
  PortRangeExhaustedError,
  RtspAuthError,
  RtspConnectionClosedError,
  RtspMessageTooLargeError,
  RtspProtocolError,
  RtspStatusError,
  RtspTransportError,
  SdpError,
  SocketClosedError,
  SystemCallError,
  TimeoutError,
} from '../src/errors.js';

const table: Array<{
  make: () => MediasockError;
  cls: abstract new (...a: never[]) => MediasockError;
  code: string;
  message: RegExp;
}> = [
  {
    make: () => new InvalidArgumentError('port', 70000, 'must be an integer in 0..65535'),
    cls: InvalidArgumentError,
    code: 'MEDIASOCK_ERR_INVALID_ARG',
    message: /^port must be an integer in 0\.\.65535 \(received 70000\)$/,
  },
  {
    make: () => new NotSupportedError('IP_MULTICAST_ALL', 'the native addon is not loaded'),
    cls: NotSupportedError,
    code: 'MEDIASOCK_ERR_NOT_SUPPORTED',
    message: /^IP_MULTICAST_ALL is not supported on \w+\/\w+: the native addon is not loaded$/,
  },
  {
    make: () => new SocketClosedError('send'),
    cls: SocketClosedError,
    code: 'MEDIASOCK_ERR_SOCKET_CLOSED',
    message: /^send failed: the socket is closed$/,
  },
  {
    make: () => new InvalidStateError('already bound'),
    cls: InvalidStateError,
    code: 'MEDIASOCK_ERR_INVALID_STATE',
    message: /^already bound$/,
  },
  {
    make: () => new PortRangeExhaustedError(5000, 5003, 4, 'even/odd pair'),
    cls: PortRangeExhaustedError,
    code: 'MEDIASOCK_ERR_PORT_RANGE_EXHAUSTED',
    message: /^no free even\/odd pair in 5000\.\.5003 after 4 attempts$/,
  },
  {
    make: () => new NativeUnavailableError('recvmmsg', new Error('MEDIASOCK_NO_NATIVE=1')),
    cls: NativeUnavailableError,
    code: 'MEDIASOCK_ERR_NATIVE_UNAVAILABLE',
    message:
      /^recvmmsg needs the mediasock native addon, which is not loaded: MEDIASOCK_NO_NATIVE=1$/,
  },
  {
    make: () => new AbortError('resolve', 'stop'),
    cls: AbortError,
    code: 'MEDIASOCK_ERR_ABORTED',
    message: /^resolve was aborted$/,
  },
  {
    make: () =>
      new FramingError('channel', 9, 'must be one of the mapped interleaved channels (0, 1)'),
    cls: FramingError,
    code: 'MEDIASOCK_ERR_FRAMING',
    message: /^channel must be one of the mapped interleaved channels \(0, 1\) \(received 9\)$/,
  },
  {
    make: () =>
      new DtlsError('verify', 'DTLS handshake failed: certificate verify failed', {
        verifyResult: 'unable to get local issuer certificate',
      }),
    cls: DtlsError,
    code: 'MEDIASOCK_ERR_DTLS',
    message: /^DTLS handshake failed: certificate verify failed$/,
  },
  {
    make: () => new MessageTooLargeError(2000, 1419),
    cls: MessageTooLargeError,
    code: 'MEDIASOCK_ERR_MESSAGE_TOO_LARGE',
    message: /^a DTLS record of 2000 bytes does not fit: at most 1419 bytes of data per datagram$/,
  },
  {
    make: () => new TimeoutError('connect', 250),
    cls: TimeoutError,
    code: 'MEDIASOCK_ERR_TIMEOUT',
    message: /^connect timed out after 250 ms$/,
  },
  {
    make: () => new RtspProtocolError('the status line does not parse', 'HTTP/1.1 200 OK'),
    cls: RtspProtocolError,
    code: 'MEDIASOCK_ERR_RTSP_PROTOCOL',
    message: /^the status line does not parse \(received "HTTP\/1.1 200 OK"\)$/,
  },
  {
    make: () => new RtspMessageTooLargeError('body', 70000, 65536),
    cls: RtspMessageTooLargeError,
    code: 'MEDIASOCK_ERR_RTSP_TOO_LARGE',
    message: /^RTSP message body of 70000 bytes is over the bound of 65536 bytes$/,
  },
  {
    make: () => new RtspConnectionClosedError('during PLAY'),
    cls: RtspConnectionClosedError,
    code: 'MEDIASOCK_ERR_RTSP_CLOSED',
    message: /^the RTSP server closed the connection during PLAY$/,
  },
  {
    make: () => new RtspAuthError('rtsp://127.0.0.1/x', '401 after retry'),
    cls: RtspAuthError,
    code: 'MEDIASOCK_ERR_RTSP_UNAUTHORIZED',
    message: /^authentication for rtsp:\/\/127.0.0.1\/x failed: 401 after retry$/,
  },
  {
    make: () => new RtspTransportError('udp', '461 Unsupported Transport'),
    cls: RtspTransportError,
    code: 'MEDIASOCK_ERR_RTSP_TRANSPORT',
    message: /^RTSP transport udp is not usable: 461 Unsupported Transport$/,
  },
  {
    make: () => new RtspStatusError('DESCRIBE', 'rtsp://h/x', 404, 'Not Found'),
    cls: RtspStatusError,
    code: 'MEDIASOCK_ERR_RTSP_STATUS',
    message: /^RTSP DESCRIBE rtsp:\/\/h\/x failed: 404 Not Found$/,
  },
  {
    make: () => new SdpError(3, 'm= line does not parse'),
    cls: SdpError,
    code: 'MEDIASOCK_ERR_SDP',
    message: /^SDP line 3 m= line does not parse$/,
  },
];

test('every code has a class, a message and a heading in docs/errors.md', () => {
  const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const seen = new Set<string>();
  for (const row of table) {
    const err = row.make();
    assert.ok(err instanceof row.cls, `${row.code} instanceof its class`);
    assert.ok(err instanceof MediasockError);
    assert.ok(err instanceof Error);
    assert.equal(err.code, row.code);
    assert.match(err.message, row.message);
    assert.equal(err.name, row.cls.name);
    assert.ok(docs.includes(`## ${row.code}`), `docs/errors.md has a heading for ${row.code}`);
    seen.add(row.code);
  }
  assert.deepEqual(
    [...seen].sort(),
    Object.values(ErrorCodes).sort(),
    'the table covers every code',
  );
});

test('classes do not match each other', () => {
  const closed = new SocketClosedError('read');
  assert.ok(!(closed instanceof InvalidArgumentError));
  assert.ok(!(new Error('x') instanceof MediasockError));
  assert.ok(!((null as unknown) instanceof MediasockError));
});

test('the brand survives a second copy of the class (Symbol.for)', () => {
  const err = new InvalidArgumentError('ttl', -1, 'must be an integer in 0..255');
  const clone = Object.create(Object.getPrototypeOf({}) as object) as Record<symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(err))
    clone[key] = (err as unknown as Record<symbol, unknown>)[key];
  assert.ok(clone instanceof InvalidArgumentError);
});

test('SystemCallError keeps Node shape and names the option', () => {
  const err = new SystemCallError('setsockopt', constants.errno.EINVAL, {
    option: 'IP_MULTICAST_IF',
    address: '::',
    port: 5004,
  });
  assert.equal(err.code, 'EINVAL');
  assert.equal(err.errno, -constants.errno.EINVAL);
  assert.equal(err.syscall, 'setsockopt');
  assert.equal(err.option, 'IP_MULTICAST_IF');
  assert.equal(
    err.message,
    'setsockopt EINVAL: invalid argument [::]:5004 (option IP_MULTICAST_IF)',
  );
  assert.ok(err instanceof SystemCallError);
});

test('SystemCallError.from wraps a real Node bind failure', async () => {
  const a = dgram.createSocket('udp4');
  const b = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      a.once('error', reject);
      a.bind(0, '127.0.0.1', resolve);
    });
    const port = a.address().port;
    const raw = await new Promise<unknown>((resolve) => {
      b.once('error', resolve);
      b.bind({ port, address: '127.0.0.1', exclusive: true });
    });
    const err = SystemCallError.from(raw, { option: 'SO_REUSEADDR' });
    assert.ok(err instanceof SystemCallError);
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'bind');
    assert.equal(err.port, port);
    assert.equal(err.cause, raw);
    assert.match(
      err.message,
      new RegExp(
        `^bind EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port} \\(option SO_REUSEADDR\\)$`,
      ),
    );
    // Non-errno values pass through untouched.
    const plain = new Error('x');
    assert.equal(SystemCallError.from(plain), plain);
  } finally {
    a.close();
    b.close();
  }
});
