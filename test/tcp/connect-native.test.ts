/**
 * connectTcp's pre-connect options (issue 3): receive / send buffer, TOS and device binding set
 * on the socket before the SYN, through the addon's `msock_tcp_socket({ listen: false })` and a
 * `net.Socket` adopting the descriptor. Real sockets on loopback only. Without the addon
 * (`MEDIASOCK_NO_NATIVE=1`) the same options must be refused before any connection is attempted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

import {
  AbortError,
  InvalidArgumentError,
  NotSupportedError,
  SystemCallError,
  TimeoutError,
} from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { getSocketOption } from '../../src/options.js';
import { connectTcp, type ConnectTcpOptions } from '../../src/tcp/connect.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';
import { startStalledListener } from './fixtures/stalled-listener.js';

const native = nativeStatus().loaded;
const noNative = native ? false : 'the native addon is not loaded (MEDIASOCK_NO_NATIVE=1?)';
const linux = process.platform === 'linux';

interface TestServer {
  server: Server;
  port: number;
  sockets: Socket[];
}

/** A server that keeps the sockets it accepted. */
async function server(host: string): Promise<TestServer> {
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

async function closeServer(s: TestServer): Promise<void> {
  for (const sock of s.sockets) sock.destroy();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

/** Waits (bounded) until the server has accepted `n` connections and returns the n-th. */
async function accepted(s: TestServer, n: number): Promise<Socket> {
  for (let i = 0; i < 500 && s.sockets.length < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const sock = s.sockets[n - 1];
  assert.ok(sock, `the server accepted ${s.sockets.length} connections, expected ${n}`);
  return sock;
}

/**
 * A port on `host` that nothing listens on, below the kernel's ephemeral range
 * (`net.ipv4.ip_local_port_range`): a connect to a closed port inside that range can draw the same
 * port as its own source and connect to itself (TCP simultaneous open), which in 200 attempts
 * happens now and then. Checked free by listening on it once.
 */
async function closedPort(host: string): Promise<number> {
  let low = 32768;
  try {
    low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
  } catch {
    // Not Linux: keep the common default.
  }
  // Bounded: at most 2000 candidates below the range.
  for (let port = Math.min(low, 65536) - 1; port > Math.max(1024, low - 2001); port--) {
    const srv = createServer();
    const free = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen({ host, port }, () => resolve(true));
    });
    if (free) {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      return port;
    }
  }
  throw new Error(`no free port below ${low} on ${host}`);
}

/**
 * The fd count once the process is quiet: descriptors closed by earlier steps (a destroyed
 * socket's handle closes on a later loop turn) are gone before the baseline is taken.
 */
async function quietFdBaseline(): Promise<number> {
  await new Promise((r) => setTimeout(r, 50));
  let count = openFdCount();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const now = openFdCount();
    if (now === count) break;
    count = now;
  }
  return count;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (connection) => {
      // Closed first, so a failure here never leaves a socket holding the process open.
      (connection as { destroy?: () => void } | null)?.destroy?.();
      assert.fail('connectTcp resolved where it had to reject');
    },
    (e: unknown) => e,
  );
}

/** Why IPv6 loopback cannot be used here, or undefined when it can (probed by binding ::1). */
async function ipv6Unavailable(): Promise<string | undefined> {
  const srv = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: '::1', port: 0 }, () => resolve());
    });
    return undefined;
  } catch (err) {
    return `cannot bind [::1]: ${(err as Error).message}`;
  } finally {
    srv.close();
  }
}

/** The receive window scale this host advertised in the SYN of the connection from `localPort`. */
function advertisedWindowScale(localPort: number): number {
  const out = spawnSync('ss', ['-tniH', 'state', 'established', `( sport = :${localPort} )`], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(out.status, 0, `ss failed: ${out.stderr}`);
  // `wscale:<peer's>,<ours>`: the second number is the scale we sent in our SYN.
  const m = /wscale:(\d+),(\d+)/.exec(out.stdout);
  assert.ok(m, `no wscale in ss output: ${out.stdout}`);
  return Number(m[2]);
}

const ssMissing =
  spawnSync('sh', ['-c', 'command -v ss'], { encoding: 'utf8' }).status === 0
    ? false
    : 'ss (iproute2) is not installed';

test(
  'buffers and TOS asked for are on the connected socket (read back from the kernel)',
  {
    skip: noNative,
  },
  async (t) => {
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    const conn = await connectTcp({
      host: '127.0.0.1',
      port: s.port,
      recvBufferBytes: 300_000,
      sendBufferBytes: 200_000,
      tos: 0xb8,
      noDelay: true,
      keepAlive: { idleMs: 5000 },
    });
    t.after(() => conn.destroy());
    // Linux reads back twice the request (bookkeeping overhead); elsewhere the request itself.
    const factor = linux ? 2 : 1;
    assert.equal(getSocketOption(conn.fd, 'SO_RCVBUF'), 300_000 * factor);
    assert.equal(getSocketOption(conn.fd, 'SO_SNDBUF'), 200_000 * factor);
    assert.equal(getSocketOption(conn.fd, 'IP_TOS'), 0xb8);
    assert.equal(conn.getTypeOfService(), 0xb8);
    // The options applied after connecting still are.
    assert.equal(conn.getNoDelay(), true);
    assert.equal(conn.getKeepAlive().idleMs, 5000);
    // And the adopted socket is an ordinary Duplex both ways.
    const peer = await accepted(s, 1);
    conn.socket.write('ping');
    const [fromClient] = (await once(peer, 'data')) as [Buffer];
    assert.equal(String(fromClient), 'ping');
    peer.write('pong');
    const [fromServer] = (await once(conn.socket, 'data')) as [Buffer];
    assert.equal(String(fromServer), 'pong');
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.equal(conn.remotePort, s.port);
  },
);

test(
  'the receive buffer is in place before the SYN: it sets the advertised window scale',
  {
    skip: noNative || ssMissing || (linux ? false : 'reads the window scale with Linux ss'),
  },
  async (t) => {
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    const plain = await connectTcp({ host: '127.0.0.1', port: s.port });
    t.after(() => plain.destroy());
    const small = await connectTcp({ host: '127.0.0.1', port: s.port, recvBufferBytes: 4096 });
    t.after(() => small.destroy());
    // The default scale comes from tcp_rmem / rmem_max (7 or more on any current Linux). A 4 KiB
    // buffer needs no scaling: 0 proves the buffer was set when the SYN was built; set after the
    // handshake it could no longer change the scale.
    assert.ok(advertisedWindowScale(plain.localPort ?? 0) > 0);
    assert.equal(advertisedWindowScale(small.localPort ?? 0), 0);
  },
);

test(
  'the server sees the connection from the local address and port asked for',
  {
    skip: noNative,
  },
  async (t) => {
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    const localPort = await closedPort('127.0.0.2');
    const conn = await connectTcp({
      host: '127.0.0.1',
      port: s.port,
      localAddress: '127.0.0.2',
      localPort,
      recvBufferBytes: 128 * 1024,
    });
    t.after(() => conn.destroy());
    assert.equal(conn.localAddress, '127.0.0.2');
    assert.equal(conn.localPort, localPort);
    const peer = await accepted(s, 1);
    assert.equal(peer.remoteAddress, '127.0.0.2');
    assert.equal(peer.remotePort, localPort);
    assert.equal(getSocketOption(conn.fd, 'SO_REUSEADDR'), true);
  },
);

test(
  'a refused connect through the addon is SystemCallError ECONNREFUSED and leaks no fd',
  {
    skip: noNative,
  },
  async () => {
    const port = await closedPort('127.0.0.1');
    const options: ConnectTcpOptions = {
      host: '127.0.0.1',
      port,
      recvBufferBytes: 65536,
      tos: 0x20,
    };
    // Warm up (lazy loads, timers) before taking the baseline.
    await rejection(connectTcp(options));
    const baseline = await quietFdBaseline();
    for (let i = 0; i < 200; i++) {
      const err = await rejection(connectTcp(options));
      assert.ok(err instanceof SystemCallError, String(err));
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.syscall, 'connect');
      assert.equal(err.address, '127.0.0.1');
      assert.equal(err.port, port);
    }
    await assertFdsBackToBaseline(baseline);
  },
);

test(
  'a host name is resolved and connected through the addon',
  {
    skip: noNative,
  },
  async (t) => {
    // localhost may resolve to ::1 and 127.0.0.1 (here: 127.0.0.1 only); only 127.0.0.1
    // listens, so an IPv6 attempt, if any, is refused and the next address connects.
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    const baseline = await quietFdBaseline();
    const conn = await connectTcp({
      host: 'localhost',
      port: s.port,
      recvBufferBytes: 100_000,
      attemptTimeoutMs: 1000,
    });
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.equal(getSocketOption(conn.fd, 'SO_RCVBUF'), linux ? 200_000 : 100_000);
    conn.destroy();
    await assertFdsBackToBaseline(baseline);
  },
);

/**
 * Makes `name` resolve to `addresses` (in that order) for the rest of the test. Only name
 * resolution is stood in for (loopback has one name with one address here); every socket is real.
 */
function fakeName(
  t: { after(fn: () => void): void },
  name: string,
  addresses: Array<{ address: string; family: 4 | 6 }>,
): void {
  const real = dnsPromises.lookup;
  const fake = async (host: string, ...rest: unknown[]): Promise<unknown> => {
    if (host === name) return addresses;
    return (real as (...a: unknown[]) => Promise<unknown>)(host, ...rest);
  };
  dnsPromises.lookup = fake as typeof dnsPromises.lookup;
  t.after(() => {
    dnsPromises.lookup = real;
  });
}

test(
  'a refused address is followed by the next one, each attempt on a configured socket',
  {
    skip: noNative,
  },
  async (t) => {
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    // Nothing listens on 127.0.0.3:port: the first attempt is refused at once.
    fakeName(t, 'two.mediasock.test', [
      { address: '127.0.0.3', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    const baseline = await quietFdBaseline();
    const conn = await connectTcp({
      host: 'two.mediasock.test',
      port: s.port,
      sendBufferBytes: 90_000,
    });
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.equal(getSocketOption(conn.fd, 'SO_SNDBUF'), linux ? 180_000 : 90_000);
    conn.destroy();
    await assertFdsBackToBaseline(baseline);
  },
);

test(
  'an attempt that hangs is abandoned after attemptTimeoutMs for the next address',
  {
    skip: noNative,
  },
  async (t) => {
    // 127.0.0.1:P never answers (full accept queue); 127.0.0.2:P, the same port, accepts.
    const stalled = await startStalledListener();
    t.after(() => stalled.close());
    const sockets: Socket[] = [];
    const srv = createServer((sock) => sockets.push(sock));
    srv.listen({ host: '127.0.0.2', port: stalled.port });
    await once(srv, 'listening');
    t.after(() => closeServer({ server: srv, port: stalled.port, sockets }));
    fakeName(t, 'hang.mediasock.test', [
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
    ]);
    const baseline = await quietFdBaseline();
    const started = Date.now();
    const conn = await connectTcp({
      host: 'hang.mediasock.test',
      port: stalled.port,
      tos: 0x10,
      attemptTimeoutMs: 100,
      timeoutMs: 5000,
    });
    const elapsed = Date.now() - started;
    assert.equal(conn.remoteAddress, '127.0.0.2');
    assert.equal(getSocketOption(conn.fd, 'IP_TOS'), 0x10);
    assert.ok(elapsed >= 90 && elapsed < 4000, `connected after ${elapsed} ms`);
    conn.destroy();
    await assertFdsBackToBaseline(baseline);
  },
);

test(
  'when every address fails, the last failure is reported with all of them as cause',
  {
    skip: noNative,
  },
  async (t) => {
    const port = await closedPort('127.0.0.1');
    fakeName(t, 'none.mediasock.test', [
      { address: '127.0.0.3', family: 4 },
      { address: '127.0.0.4', family: 4 },
    ]);
    const baseline = await quietFdBaseline();
    const err = await rejection(
      connectTcp({ host: 'none.mediasock.test', port, recvBufferBytes: 65536 }),
    );
    assert.ok(err instanceof SystemCallError, String(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.address, '127.0.0.4');
    assert.equal(err.port, port);
    assert.ok(err.cause instanceof AggregateError);
    assert.deepEqual(
      err.cause.errors.map((e: SystemCallError) => e.address),
      ['127.0.0.3', '127.0.0.4'],
    );
    await assertFdsBackToBaseline(baseline);
  },
);

// Probed once, before the tests are declared, so the skip is an option of the test.
const noIPv6 = await ipv6Unavailable();

test(
  'TOS on an IPv6 connection is the traffic class',
  { skip: noNative || noIPv6 || false },
  async (t) => {
    const s = await server('::1');
    t.after(() => closeServer(s));
    const conn = await connectTcp({ host: '::1', port: s.port, tos: 0x28 });
    t.after(() => conn.destroy());
    assert.equal(conn.remoteFamily, 'IPv6');
    assert.equal(getSocketOption(conn.fd, 'IPV6_TCLASS'), 0x28);
    assert.equal(conn.getTypeOfService(), 0x28);
  },
);

test(
  'bindToDevice lo works and an unknown device is SystemCallError ENODEV',
  {
    skip: noNative || (linux ? false : 'SO_BINDTODEVICE is Linux only'),
  },
  async (t) => {
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    const conn = await connectTcp({ host: '127.0.0.1', port: s.port, bindToDevice: 'lo' });
    assert.equal(getSocketOption(conn.fd, 'SO_BINDTODEVICE'), 'lo');
    conn.destroy();

    const baseline = await quietFdBaseline();
    for (let i = 0; i < 20; i++) {
      const err = await rejection(
        connectTcp({ host: '127.0.0.1', port: s.port, bindToDevice: 'nosuchdev0' }),
      );
      assert.ok(err instanceof SystemCallError, String(err));
      assert.equal(err.code, 'ENODEV');
      assert.equal(err.option, 'SO_BINDTODEVICE');
      assert.equal(err.syscall, 'setsockopt');
    }
    await assertFdsBackToBaseline(baseline);
    assert.equal(s.sockets.length, 1, 'no connection may be made with a failed device binding');
  },
);

test(
  'timeoutMs bounds a hanging connect through the addon, and no fd leaks',
  {
    skip: noNative,
  },
  async (t) => {
    const stalled = await startStalledListener();
    t.after(() => stalled.close());
    const baseline = await quietFdBaseline();
    const started = Date.now();
    const err = await rejection(
      connectTcp({ host: '127.0.0.1', port: stalled.port, timeoutMs: 200, recvBufferBytes: 65536 }),
    );
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.timeoutMs, 200);
    assert.ok(Date.now() - started < 5000);
    await assertFdsBackToBaseline(baseline);
  },
);

test(
  'an AbortSignal stops a hanging connect through the addon, and no fd leaks',
  {
    skip: noNative,
  },
  async (t) => {
    const stalled = await startStalledListener();
    t.after(() => stalled.close());
    const baseline = await quietFdBaseline();
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const pending = connectTcp({
      host: '127.0.0.1',
      port: stalled.port,
      tos: 0xb8,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 50);
    const err = await rejection(pending);
    assert.ok(err instanceof AbortError, String(err));
    assert.equal(err.cause, reason);
    await assertFdsBackToBaseline(baseline);
  },
);

test(
  'without the addon, pre-connect options are refused before any connection',
  {
    skip: native ? 'the native addon is loaded (run with MEDIASOCK_NO_NATIVE=1)' : false,
  },
  async (t) => {
    const s = await server('127.0.0.1');
    t.after(() => closeServer(s));
    const cases: Array<[Partial<ConnectTcpOptions>, RegExp]> = [
      [{ recvBufferBytes: 1 << 20 }, /SO_RCVBUF/],
      [{ sendBufferBytes: 1 << 20 }, /SO_SNDBUF/],
      [{ bindToDevice: 'lo' }, /SO_BINDTODEVICE/],
      // Even where Node has setTypeOfService (>= 24.15), it acts only after the handshake.
      [{ tos: 0xb8 }, /IP_TOS/],
      [{ recvBufferBytes: 65536, keepAlive: { intervalMs: 2000 } }, /SO_RCVBUF, TCP_KEEPINTVL/],
    ];
    for (const [extra, feature] of cases) {
      const err = await rejection(connectTcp({ host: '127.0.0.1', port: s.port, ...extra }));
      assert.ok(err instanceof NotSupportedError, `${JSON.stringify(extra)}: ${String(err)}`);
      assert.equal(err.code, 'MEDIASOCK_ERR_NOT_SUPPORTED');
      assert.match(err.feature, feature);
      assert.match(err.message, /before the SYN/);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.sockets.length, 0, 'no connection may be made before refusing');
  },
);

test('malformed pre-connect options are InvalidArgumentError before anything else', async () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ recvBufferBytes: 0 }, 'recvBufferBytes'],
    [{ recvBufferBytes: -1 }, 'recvBufferBytes'],
    [{ recvBufferBytes: 1.5 }, 'recvBufferBytes'],
    [{ recvBufferBytes: 2 ** 31 }, 'recvBufferBytes'],
    [{ sendBufferBytes: '64k' }, 'sendBufferBytes'],
    [{ bindToDevice: '' }, 'bindToDevice'],
    [{ bindToDevice: 7 }, 'bindToDevice'],
    [{ bindToDevice: 'a-name-too-long0' }, 'bindToDevice'],
  ];
  for (const [extra, argument] of cases) {
    const err = await rejection(connectTcp({ host: '127.0.0.1', port: 9, ...extra }));
    assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(extra)}: ${String(err)}`);
    assert.equal(err.argument, argument);
  }
});
