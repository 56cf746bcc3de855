import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

import {
  AbortError,
  InvalidArgumentError,
  NotSupportedError,
  SocketClosedError,
  SystemCallError,
  TimeoutError,
} from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { connectTcp } from '../../src/tcp/connect.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';
import { startStalledListener } from './fixtures/stalled-listener.js';

const native = nativeStatus().loaded;

/** An echo-less server that records accepted sockets. */
async function server(host: string): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const srv = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined); // peers reset on purpose in some tests
  });
  srv.listen({ host, port: 0 });
  await once(srv, 'listening');
  const addr = srv.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return { server: srv, port: addr.port, sockets };
}

async function closeServer(s: { server: Server; sockets: Socket[] }): Promise<void> {
  for (const sock of s.sockets) sock.destroy();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

/** Why IPv6 loopback tests cannot run here, or '' when they can (probed by binding ::1). */
async function ipv6Unavailable(): Promise<string> {
  const srv = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: '::1', port: 0 }, () => resolve());
    });
    return '';
  } catch (err) {
    return `cannot bind [::1]: ${(err as Error).message}`;
  } finally {
    srv.close();
  }
}

test('connectTcp connects over IPv4 loopback and reports both ends', async (t) => {
  const s = await server('127.0.0.1');
  t.after(() => closeServer(s));
  const conn = await connectTcp({ host: '127.0.0.1', port: s.port, noDelay: true });
  assert.equal(conn.remoteAddress, '127.0.0.1');
  assert.equal(conn.remotePort, s.port);
  assert.equal(conn.remoteFamily, 'IPv4');
  assert.ok(typeof conn.fd === 'number' && conn.fd >= 0);
  await conn.end({ timeoutMs: 5000 });
  assert.equal(conn.destroyed, true);
});

// Probed once, before the tests are declared, so the skip is an option of the test.
const noIPv6 = await ipv6Unavailable();

test('connectTcp connects over IPv6 loopback', { skip: noIPv6 || false }, async (t) => {
  const s = await server('::1');
  t.after(() => closeServer(s));
  const conn = await connectTcp({ host: '::1', port: s.port });
  assert.equal(conn.remoteAddress, '::1');
  assert.equal(conn.remoteFamily, 'IPv6');
  conn.destroy();
});

test('connectTcp resolves names with Happy Eyeballs and binds a local address', async (t) => {
  const s = await server('127.0.0.1');
  t.after(() => closeServer(s));
  const conn = await connectTcp({ host: 'localhost', port: s.port, localAddress: '127.0.0.2' });
  assert.equal(conn.localAddress, '127.0.0.2');
  assert.equal(conn.remoteAddress, '127.0.0.1');
  conn.destroy();
});

test('a refused connect rejects with SystemCallError ECONNREFUSED naming address and port', async () => {
  // Take a port the kernel just handed out and released: nothing listens on it.
  const s = await server('127.0.0.1');
  const port = s.port;
  await closeServer(s);
  const err = await connectTcp({ host: '127.0.0.1', port }).then(
    () => assert.fail('connected to a closed port'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SystemCallError, String(err));
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(err.syscall, 'connect');
  assert.equal(err.address, '127.0.0.1');
  assert.equal(err.port, port);
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('a connect that gets no answer rejects with TimeoutError and leaks no fd', async (t) => {
  const stalled = await startStalledListener();
  t.after(() => stalled.close());
  const baseline = openFdCount();
  const err = await connectTcp({ host: '127.0.0.1', port: stalled.port, timeoutMs: 200 }).then(
    () => assert.fail('connected to a listener whose queue is full'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TimeoutError, String(err));
  assert.equal(err.code, 'MEDIASOCK_ERR_TIMEOUT');
  assert.equal(err.timeoutMs, 200);
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${stalled.port}`));
  await assertFdsBackToBaseline(baseline);
});

test('abort before connect rejects at once with AbortError carrying the reason', async () => {
  const controller = new AbortController();
  const reason = new Error('user cancelled');
  controller.abort(reason);
  const err = await connectTcp({ host: '127.0.0.1', port: 9, signal: controller.signal }).then(
    () => assert.fail('connected despite an aborted signal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortError);
  assert.equal(err.cause, reason);
});

test('abort during a hanging connect rejects with AbortError and leaks no fd', async (t) => {
  const stalled = await startStalledListener();
  t.after(() => stalled.close());
  const baseline = openFdCount();
  const controller = new AbortController();
  const pending = connectTcp({ host: '127.0.0.1', port: stalled.port, signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  const err = await pending.then(
    () => assert.fail('connected to a listener whose queue is full'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AbortError, String(err));
  await assertFdsBackToBaseline(baseline);
});

test('malformed options are rejected with InvalidArgumentError before any connect', async () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ host: '', port: 80 }, 'host'],
    [{ host: 'no spaces.example', port: 80 }, 'host'],
    [{ host: 'a..b', port: 80 }, 'host'],
    [{ host: '127.0.0.1', port: 0 }, 'port'],
    [{ host: '127.0.0.1', port: 70000 }, 'port'],
    [{ host: '127.0.0.1', port: 80, family: 5 }, 'family'],
    [{ host: '127.0.0.1', port: 80, timeoutMs: -1 }, 'timeoutMs'],
    [{ host: '127.0.0.1', port: 80, localAddress: 'nope' }, 'localAddress'],
    [{ host: '::1', port: 80, localAddress: '127.0.0.1' }, 'localAddress'],
    [{ host: '127.0.0.1', port: 80, keepAlive: { idleMs: 1500 } }, 'keepAlive.idleMs'],
    [{ host: '127.0.0.1', port: 80, keepAlive: { count: 0 } }, 'keepAlive.count'],
    [{ host: '127.0.0.1', port: 80, tos: 256 }, 'tos'],
    [{ host: '127.0.0.1', port: 80, noDelay: 'yes' }, 'noDelay'],
    [{ host: '127.0.0.1', port: 80, signal: {} }, 'signal'],
    [{ host: '127.0.0.1', port: 80, signal: null }, 'signal'],
  ];
  for (const [options, argument] of cases) {
    const err = await connectTcp(options as never).then(
      () => assert.fail(`accepted ${JSON.stringify(options)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(options)}: ${String(err)}`);
    assert.equal(err.argument, argument);
  }
});

test('keepalive, user timeout, no-delay and TOS are applied and read back from the kernel', async (t) => {
  const s = await server('127.0.0.1');
  t.after(() => closeServer(s));
  const options = {
    host: '127.0.0.1',
    port: s.port,
    noDelay: true,
    keepAlive: { idleMs: 7000, intervalMs: 3000, count: 4 },
    userTimeoutMs: 12_345,
    tos: 0xb8,
  };
  if (!native) {
    // Without the addon, interval/count/user timeout cannot be set on Node 20, nor TOS before the
    // SYN on any Node: refused up front. (With the addon, `tos` takes the pre-connect path.)
    const before = s.sockets.length;
    const err = await connectTcp(options).then(
      () => assert.fail('options needing the addon were accepted without it'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NotSupportedError, String(err));
    assert.match(err.feature, /TCP_KEEPINTVL/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.sockets.length, before, 'no connection may be made before refusing');
    // What Node can do itself still works.
    const conn = await connectTcp({ host: '127.0.0.1', port: s.port, keepAlive: { idleMs: 7000 } });
    assert.throws(() => conn.getKeepAlive(), NotSupportedError);
    conn.destroy();
    return;
  }
  const conn = await connectTcp(options);
  t.after(() => conn.destroy());
  assert.deepEqual(conn.getKeepAlive(), {
    enabled: true,
    idleMs: 7000,
    intervalMs: 3000,
    count: 4,
  });
  assert.equal(conn.getUserTimeout(), 12_345);
  assert.equal(conn.getNoDelay(), true);
  assert.equal(conn.getTypeOfService(), 0xb8);
  conn.setKeepAlive(false).setNoDelay(false).setUserTimeout(0);
  assert.equal(conn.getKeepAlive().enabled, false);
  assert.equal(conn.getNoDelay(), false);
  assert.equal(conn.getUserTimeout(), 0);
});

test('setters on a destroyed connection throw SocketClosedError', async (t) => {
  const s = await server('127.0.0.1');
  t.after(() => closeServer(s));
  const conn = await connectTcp({ host: '127.0.0.1', port: s.port });
  conn.destroy();
  assert.throws(() => conn.setNoDelay(true), SocketClosedError);
  assert.throws(() => conn.getKeepAlive(), SocketClosedError);
});

test('end() closes gracefully (peer sees end) and resetAndDestroy() sends RST (peer sees ECONNRESET)', async (t) => {
  const s = await server('127.0.0.1');
  t.after(() => closeServer(s));

  const graceful = await connectTcp({ host: '127.0.0.1', port: s.port });
  for (let i = 0; i < 500 && s.sockets.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  const peer1 = s.sockets[0];
  assert.ok(peer1);
  const peerEnded = once(peer1, 'end');
  await graceful.end({ timeoutMs: 5000 });
  await peerEnded;

  const abortive = await connectTcp({ host: '127.0.0.1', port: s.port });
  for (let i = 0; i < 500 && s.sockets.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  const peer2 = s.sockets[1];
  assert.ok(peer2);
  const peerError = new Promise<NodeJS.ErrnoException>((resolve) => {
    peer2.removeAllListeners('error');
    peer2.once('error', resolve);
  });
  peer2.resume();
  abortive.resetAndDestroy();
  const err = await peerError;
  assert.equal(err.code, 'ECONNRESET');
});
