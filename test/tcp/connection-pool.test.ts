import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  SystemCallError,
  TimeoutError,
} from '../../src/errors.js';
import { connectTcp } from '../../src/tcp/connect.js';
import { TcpConnectionPool } from '../../src/tcp/connection-pool.js';
import { openFdCount, settleFdCount } from '../helpers/fds.js';

interface TestServer {
  server: Server;
  endpoint: string;
  accepted: Socket[];
  close(): Promise<void>;
}

/** A loopback server; `onSocket` decides what it does with each connection. */
async function startServer(onSocket: (s: Socket) => void = () => undefined): Promise<TestServer> {
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    accepted.push(s);
    s.on('error', () => undefined); // the pool destroys connections; resets are expected
    onSocket(s);
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return {
    server,
    endpoint: `127.0.0.1:${addr.port}`,
    accepted,
    async close() {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `cond` every 10 ms, at most 300 times. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('a released connection is reused, and stats account for every connection', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool({ maxPerKey: 2 });
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const a = await pool.acquire(srv.endpoint);
  const port = a.localPort;
  pool.release(a);
  assert.deepEqual(pool.stats().byKey[srv.endpoint], {
    open: 1,
    idle: 1,
    inUse: 0,
    connecting: 0,
    waiting: 0,
    created: 1,
    reused: 0,
    evicted: 0,
    destroyed: 0,
    errors: 0,
  });
  const b = await pool.acquire(srv.endpoint);
  assert.equal(b, a);
  assert.equal(b.localPort, port);
  assert.equal(pool.stats().total.reused, 1);
  // Data still flows on the reused connection.
  await waitFor(() => srv.accepted.length === 1, 'the server to accept');
  b.socket.write('ping');
  const [chunk] = (await once(srv.accepted[0]!, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'ping');
  pool.destroy(b);
  const total = pool.stats().total;
  assert.equal(total.open, total.created - total.destroyed);
  assert.equal(total.open, 0);
});

test('at maxPerKey, acquire waits for a release, and times out or aborts while waiting', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool({ maxPerKey: 1 });
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const first = await pool.acquire(srv.endpoint);
  const waiting = pool.acquire(srv.endpoint);
  await waitFor(() => pool.stats().total.waiting === 1, 'the waiter to queue');
  pool.release(first);
  assert.equal(await waiting, first);
  assert.equal(pool.stats().total.created, 1);

  await assert.rejects(pool.acquire(srv.endpoint, { timeoutMs: 50 }), TimeoutError);
  const controller = new AbortController();
  const aborted = pool.acquire(srv.endpoint, { signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, AbortError);
  assert.equal(pool.stats().total.waiting, 0);
  // A destroy frees the slot for a waiter, which then connects anew.
  const third = pool.acquire(srv.endpoint);
  pool.destroy(first);
  const conn = await third;
  assert.notEqual(conn, first);
  assert.equal(pool.stats().total.created, 2);
  assert.equal(pool.stats().total.open, 1);
});

test('idle connections are evicted after idleTimeoutMs', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool({ idleTimeoutMs: 50 });
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  pool.release(await pool.acquire(srv.endpoint));
  await waitFor(() => pool.stats().total.evicted === 1, 'the idle timeout');
  assert.equal(pool.stats().total.open, 0);
  assert.equal(pool.stats().total.idle, 0);
  const again = await pool.acquire(srv.endpoint);
  assert.equal(pool.stats().total.created, 2);
  pool.release(again);
});

test('beyond maxIdle a released connection is closed', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool({ maxPerKey: 3, maxIdle: 1 });
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const a = await pool.acquire(srv.endpoint);
  const b = await pool.acquire(srv.endpoint);
  pool.release(a);
  pool.release(b);
  const s = pool.stats().total;
  assert.equal(s.idle, 1);
  assert.equal(s.evicted, 1);
  assert.equal(b.destroyed, true);
});

test('a connection the server closes while idle is never handed out again', async (t) => {
  // The server closes every connection 30 ms after accepting it, like an RTSP server's idle timeout.
  const srv = await startServer((s) => {
    setTimeout(() => s.end(), 30);
  });
  const pool = new TcpConnectionPool();
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const first = await pool.acquire(srv.endpoint);
  pool.release(first);
  await waitFor(() => first.socket.destroyed, 'the pool to notice the FIN');
  assert.equal(pool.stats().total.evicted, 1);
  const second = await pool.acquire(srv.endpoint);
  assert.notEqual(second, first);
  assert.equal(second.destroyed, false);
  pool.destroy(second);
});

test('data arriving on an idle connection is not consumed: the connection is retired unread', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool();
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const conn = await pool.acquire(srv.endpoint);
  pool.release(conn);
  await waitFor(() => srv.accepted.length === 1, 'the server to accept');
  srv.accepted[0]!.write('RTSP/1.0 408 Request Timeout\r\n\r\n');
  await waitFor(() => pool.stats().total.evicted === 1, 'the pool to retire the connection');
  const next = await pool.acquire(srv.endpoint);
  assert.notEqual(next, conn);
  pool.release(next);
});

test('misuse raises typed errors', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool();
  t.after(() => srv.close());
  const conn = await pool.acquire(srv.endpoint);
  conn.socket.on('data', () => undefined);
  assert.throws(() => pool.release(conn), InvalidStateError, 'release with a data listener');
  conn.socket.removeAllListeners('data');
  pool.release(conn);
  assert.throws(() => pool.release(conn), InvalidStateError, 'release twice');
  assert.throws(() => pool.destroy(conn), InvalidStateError, 'destroy an idle one');

  const foreign = await connectTcp({ host: '127.0.0.1', port: Number(srv.endpoint.split(':')[1]) });
  assert.throws(() => pool.release(foreign), InvalidArgumentError);
  foreign.destroy();

  assert.throws(() => new TcpConnectionPool({ maxPerKey: 0 }), InvalidArgumentError);
  assert.throws(() => new TcpConnectionPool({ maxPerKey: 2, maxIdle: 3 }), InvalidArgumentError);
  await assert.rejects(pool.acquire('no-port'), InvalidArgumentError);
  await assert.rejects(pool.acquire({ host: '127.0.0.1', port: 0 }), InvalidArgumentError);
  await assert.rejects(
    pool.acquire('127.0.0.1:9', { signal: 'stop' as never }),
    (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'signal',
  );

  const held = await pool.acquire(srv.endpoint);
  const other = new TcpConnectionPool({ maxPerKey: 1 });
  const o1 = await other.acquire(srv.endpoint);
  const waiter = assert.rejects(other.acquire(srv.endpoint), InvalidStateError);
  await other.close();
  await waiter;
  assert.equal(o1.destroyed, true);
  await assert.rejects(other.acquire(srv.endpoint), InvalidStateError);
  other.release(o1); // after close: a no-op, close already destroyed it

  await pool.close();
  assert.equal(held.destroyed, true);
  const s = pool.stats().total;
  assert.equal(s.open, 0);
  assert.equal(s.created, s.destroyed);
});

test('many acquire/release cycles leave no fd behind', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const baseline = openFdCount();
  const pool = new TcpConnectionPool({ maxPerKey: 4 });
  for (let round = 0; round < 50; round++) {
    const conns = await Promise.all(
      Array.from({ length: 6 }, () =>
        pool.acquire(srv.endpoint, { timeoutMs: 5000 }).then((c) => {
          setImmediate(() => pool.release(c));
          return c;
        }),
      ),
    );
    assert.equal(conns.length, 6);
  }
  const s = pool.stats().total;
  assert.ok(s.created <= 4, `created ${s.created} > maxPerKey`);
  assert.equal(s.open, s.created - s.destroyed);
  await pool.close();
  for (const sock of srv.accepted) sock.destroy();
  // Other tests' sockets may still be closing when the baseline is taken: at most, not exactly.
  const after = await settleFdCount(baseline);
  assert.ok(after <= baseline, `fd count ${after} > baseline ${baseline}`);
});

test('a peer resets a leased connection with no listener of the user: the process survives, the error is counted', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool();
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const conn = await pool.acquire(srv.endpoint);
  // Only the pool's own listener: the user attached none (an 'error' without one would throw).
  assert.equal(conn.socket.listenerCount('error'), 1);
  await waitFor(() => srv.accepted.length === 1, 'the server to accept');
  srv.accepted[0]!.resetAndDestroy();
  await waitFor(() => conn.destroyed, 'the reset to reach the client');

  const stats = pool.stats();
  assert.equal(stats.total.errors, 1);
  assert.equal(stats.byKey[srv.endpoint]?.errors, 1);
  const err = pool.lastError;
  assert.ok(err instanceof SystemCallError, `lastError is ${String(err)}`);
  assert.equal(err.code, 'ECONNRESET');
  assert.equal(err.port, Number(srv.endpoint.split(':')[1]));

  // The dead connection goes back like any other and is not pooled; the next one is fresh.
  pool.release(conn);
  assert.equal(pool.stats().total.idle, 0);
  const next = await pool.acquire(srv.endpoint);
  assert.notEqual(next, conn);
  assert.equal(next.destroyed, false);
  pool.release(next);
  const total = pool.stats().total;
  assert.equal(total.open, total.created - total.destroyed);
});

test('a user listener on a leased connection receives the reset too', async (t) => {
  const srv = await startServer();
  const pool = new TcpConnectionPool();
  t.after(async () => {
    await pool.close();
    await srv.close();
  });
  const conn = await pool.acquire(srv.endpoint);
  const seen: unknown[] = [];
  conn.socket.on('error', (e) => seen.push(e));
  await waitFor(() => srv.accepted.length === 1, 'the server to accept');
  srv.accepted[0]!.resetAndDestroy();
  await waitFor(() => seen.length === 1, 'the user listener to see the reset');
  assert.equal((seen[0] as { code?: string }).code, 'ECONNRESET');
  assert.equal(pool.stats().total.errors, 1);
  pool.destroy(conn);
});

test('acquire with options that are not an object is InvalidArgumentError', async (t) => {
  const pool = new TcpConnectionPool();
  t.after(() => pool.close());
  for (const bad of [null, 42, 'x', Symbol('s')]) {
    await assert.rejects(
      pool.acquire('127.0.0.1:9', bad as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'options',
      String(bad),
    );
  }
  assert.equal(pool.stats().total.created, 0);
});
