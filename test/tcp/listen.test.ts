import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, Server } from 'node:net';
import { once } from 'node:events';

import { InvalidArgumentError, NotSupportedError, SystemCallError } from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { connectTcp, type TcpConnection } from '../../src/tcp/connect.js';
import { listenTcp } from '../../src/tcp/listen.js';
import { openFdCount, settleFdCount } from '../helpers/fds.js';
import { nodeHasReusePort } from '../../src/node-features.js';

/**
 * Node's own `listen({ reusePort })` (22.12+, 23.1+): decided here independently of listen.ts, so
 * the test checks which path listenTcp took rather than trusting it.
 */

/** Why a dual-stack [::] listener cannot be tested here, or '' (probed by binding ::). */
async function dualStackUnavailable(): Promise<string> {
  const srv = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: '::', port: 0, ipv6Only: false }, () => resolve());
    });
    return '';
  } catch (err) {
    return `cannot bind [::]: ${(err as Error).message}`;
  } finally {
    srv.close();
  }
}

test('connections are delivered by async iteration, and close() releases the port', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0, backlog: 16 });
  const { port, family, address } = listener.address();
  assert.equal(address, '127.0.0.1');
  assert.equal(family, 'IPv4');
  const clients = await Promise.all([0, 1, 2].map(() => connectTcp({ host: '127.0.0.1', port })));
  const accepted: TcpConnection[] = [];
  for await (const conn of listener) {
    accepted.push(conn);
    if (accepted.length === 3) break;
  }
  assert.deepEqual(
    accepted.map((c) => c.remotePort).sort(),
    clients.map((c) => c.localPort).sort(),
  );
  await listener.close({ destroyConnections: true });
  assert.equal(listener.listening, false);
  for (const c of clients) c.destroy();
  // The port can be bound again at once, without SO_REUSEADDR tricks on our side.
  const again = await listenTcp({ host: '127.0.0.1', port });
  assert.equal(again.address().port, port);
  await again.close();
});

test("'connection' events, and an iteration that ends when the listener closes", async () => {
  const listener = await listenTcp({ host: '127.0.0.1' });
  const { port } = listener.address();
  const got = once(listener, 'connection') as Promise<[TcpConnection]>;
  const client = await connectTcp({ host: '127.0.0.1', port });
  const [conn] = await got;
  assert.equal(conn.remotePort, client.localPort);
  listener.removeAllListeners('connection');
  const iteration = (async () => {
    let n = 0;
    for await (const c of listener) {
      c.destroy();
      n++;
    }
    return n;
  })();
  await listener.close({ destroyConnections: true });
  assert.equal(await iteration, 0);
  client.destroy();
});

// Probed once, before the tests are declared, so the skip is an option of the test.
const noDualStack = await dualStackUnavailable();

test(
  'a dual-stack [::] listener accepts IPv4 and IPv6 clients',
  { skip: noDualStack || false },
  async (t) => {
    const listener = await listenTcp({ host: '::', port: 0 });
    t.after(() => listener.close({ destroyConnections: true }));
    const { port } = listener.address();
    const v4 = await connectTcp({ host: '127.0.0.1', port });
    const v6 = await connectTcp({ host: '::1', port });
    const seen: string[] = [];
    for await (const c of listener) {
      seen.push(c.remoteAddress ?? '');
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen.sort(), ['::1', '::ffff:127.0.0.1']);
    v4.destroy();
    v6.destroy();
  },
);

test('a second listener on a used port fails with EADDRINUSE; with reusePort both listen', async (t) => {
  const first = await listenTcp({ host: '127.0.0.1', port: 0 });
  t.after(() => first.close());
  const { port } = first.address();
  const err = await listenTcp({ host: '127.0.0.1', port }).then(
    () => assert.fail('two listeners on one port without reusePort'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SystemCallError, String(err));
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.port, port);

  const canReusePort = nodeHasReusePort() || nativeStatus().loaded;
  if (!canReusePort) {
    await assert.rejects(listenTcp({ host: '127.0.0.1', reusePort: true }), NotSupportedError);
    return;
  }
  const a = await listenTcp({ host: '127.0.0.1', port: 0, reusePort: true });
  t.after(() => a.close({ destroyConnections: true }));
  const shared = a.address().port;
  const b = await listenTcp({ host: '127.0.0.1', port: shared, reusePort: true });
  t.after(() => b.close({ destroyConnections: true }));
  assert.equal(b.address().port, shared);
  // Both accept: connect until each has had one (the kernel hashes 4-tuples), bounded.
  let countA = 0;
  let countB = 0;
  a.on('connection', (c) => {
    countA++;
    c.destroy();
  });
  b.on('connection', (c) => {
    countB++;
    c.destroy();
  });
  for (let i = 0; i < 200 && (countA === 0 || countB === 0); i++) {
    const s = connect({ host: '127.0.0.1', port: shared });
    s.on('error', () => undefined); // the listener destroys it right away
    await once(s, 'connect');
    s.destroy();
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(countA > 0 && countB > 0, `a got ${countA}, b got ${countB}`);
});

test('connections nobody takes are queued up to backlog, then reset and counted', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', backlog: 2 });
  const { port } = listener.address();
  const clients = [];
  for (let i = 0; i < 4; i++) {
    // Plain sockets: a dropped one may be reset before its connect completes.
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    clients.push(s);
  }
  for (let i = 0; i < 300 && listener.connections + listener.droppedConnections < 4; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(listener.droppedConnections, 2);
  const it = listener[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  await it.return();
  for (const c of clients) c.destroy();
  await listener.close({ destroyConnections: true });
});

test('a queued connection reset by its peer is counted, not an uncaught exception', async (t) => {
  const listener = await listenTcp({ host: '127.0.0.1', backlog: 8 });
  t.after(() => listener.close({ destroyConnections: true }));
  const { port } = listener.address();
  // Nobody iterates and nobody listens for 'connection': both connections wait in the queue.
  const doomed = await connectTcp({ host: '127.0.0.1', port });
  const kept = await connectTcp({ host: '127.0.0.1', port });
  for (let i = 0; i < 300 && listener.connections < 2; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(listener.connections, 2);
  // RST from the peer: the queued server-side socket reads ECONNRESET. Without a handler on it
  // that 'error' is an uncaught exception and this test process dies.
  doomed.resetAndDestroy();
  for (let i = 0; i < 300 && listener.queuedConnectionErrors < 1; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(listener.queuedConnectionErrors, 1);
  for (let i = 0; i < 300 && listener.connections > 1; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(listener.connections, 1, 'the reset connection left the queue');
  // The survivor is handed out without the queue's error handler: its errors are the new owner's.
  const it = listener[Symbol.asyncIterator]();
  const next = await it.next();
  assert.equal(next.done, false);
  const conn = next.value;
  assert.ok(conn !== undefined);
  assert.equal(conn.remotePort, kept.localPort);
  assert.equal(conn.socket.listenerCount('error'), 0);
  await it.return();
  kept.destroy();
});

const noAddonFd = nodeHasReusePort()
  ? `Node ${process.version} sets SO_REUSEPORT itself; no addon fd is created`
  : !nativeStatus().loaded
    ? 'the native addon is not loaded (MEDIASOCK_NO_NATIVE=1 or not built): no addon fd'
    : false;

test(
  'when Node cannot adopt the SO_REUSEPORT fd, listenTcp closes it',
  { skip: noAddonFd },
  async (t) => {
    // A real fd from the addon; only its adoption by Node is made to fail, as createServerHandle
    // does for an fd it cannot listen on (the error is emitted on the next tick, the fd untouched).
    const warm = await listenTcp({ host: '127.0.0.1', reusePort: true });
    await warm.close();
    const baseline = await settleFdCount(openFdCount());
    t.mock.method(Server.prototype, 'listen', function (this: Server) {
      process.nextTick(() =>
        this.emit(
          'error',
          Object.assign(new Error('listen EINVAL: invalid argument'), {
            code: 'EINVAL',
            errno: -22,
            syscall: 'listen',
          }),
        ),
      );
      return this;
    });
    for (let i = 0; i < 20; i++) {
      const err = await listenTcp({ host: '127.0.0.1', reusePort: true }).then(
        () => assert.fail('listen succeeded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SystemCallError, String(err));
      assert.equal(err.code, 'EINVAL');
    }
    t.mock.restoreAll();
    const after = await settleFdCount(baseline);
    assert.ok(after <= baseline, `fd count ${after} > baseline ${baseline}: the addon fd leaked`);
    // And the success path still works after the mock is gone.
    const ok = await listenTcp({ host: '127.0.0.1', reusePort: true });
    await ok.close();
  },
);

test('malformed listen options are refused with InvalidArgumentError', async () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ host: 'localhost' }, 'host'],
    [{ port: -1 }, 'port'],
    [{ backlog: 0 }, 'backlog'],
    [{ reusePort: 1 }, 'reusePort'],
    [{ ipv6Only: 'no' }, 'ipv6Only'],
    [{ exclusive: null }, 'exclusive'],
    [{ host: '127.0.0.1', ipv6Only: true }, 'ipv6Only'],
    [{ connectionOptions: { tos: 999 } }, 'connectionOptions.tos'],
  ];
  for (const [options, argument] of cases) {
    const err = await listenTcp(options as never).then(
      (l) => {
        void l.close();
        assert.fail(`accepted ${JSON.stringify(options)}`);
      },
      (e: unknown) => e,
    );
    assert.ok(err instanceof InvalidArgumentError, String(err));
    assert.equal(err.argument, argument);
  }
});

test('500 short connections leave the fd count at its baseline', async () => {
  const listener = await listenTcp({ host: '127.0.0.1', backlog: 128 });
  const { port } = listener.address();
  let served = 0;
  listener.on('connection', (c) => {
    served++;
    c.socket.on('error', () => undefined); // clients may reset first
    c.socket.end('bye');
  });
  const warm = await connectTcp({ host: '127.0.0.1', port });
  warm.destroy();
  const baseline = await settleFdCount(openFdCount());
  const total = 500;
  const parallel = 20;
  for (let i = 0; i < total; i += parallel) {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        const conn = await connectTcp({ host: '127.0.0.1', port, timeoutMs: 10_000 });
        conn.socket.resume();
        await conn.end({ timeoutMs: 10_000 });
      }),
    );
  }
  for (let i = 0; i < 300 && served < total + 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(served, total + 1);
  const after = await settleFdCount(baseline, 0, 5000);
  assert.ok(after <= baseline, `fd count ${after} > baseline ${baseline}`);
  await listener.close();
});
