/**
 * `UdpSocket.trySendBatch(view)`: the synchronous send of a batch view, on loopback. What the
 * kernel takes goes at once, in order and intact; refusals come back typed (the first datagram:
 * thrown; a later one: the count of what went, then thrown by the next call); statistics count as
 * `sendBatch` counts; a closed socket and bad arguments are typed errors; the node engine sends
 * nothing (0) and leaves every datagram to `sendBatch`; and on the batch engine a call allocates
 * nothing (no garbage collection over a hundred thousand calls).
 *
 * A full send queue never happens on loopback (the kernel frees the sender's buffer as it queues
 * each datagram): the short counts and the order behind a waiting `sendBatch` are checked across
 * a slow link in try-send-backpressure.test.ts.
 */
import assert from 'node:assert/strict';
import { PerformanceObserver, constants as perfConstants, performance } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { SystemCallError } from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { DatagramBatchView, UdpSocketOptions } from '../../src/udp/udp-socket.js';

const batchSkip = nativeStatus().loaded
  ? false
  : 'the batch engine needs the native addon (not loaded here)';

async function open(t: test.TestContext, options: UdpSocketOptions): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

/** `sizes.length` datagrams in one buffer, datagram i filled with byte `i & 0xff`. */
function viewOf(sizes: readonly number[]): DatagramBatchView {
  const offsets: number[] = [];
  let total = 0;
  for (const n of sizes) {
    offsets.push(total);
    total += n;
  }
  const data = new Uint8Array(total);
  sizes.forEach((n, i) => data.fill(i & 0xff, offsets[i], offsets[i]! + n));
  return { count: sizes.length, data, offset: (i) => offsets[i]!, length: (i) => sizes[i]! };
}

/** Collects datagrams on `rx` until `n` arrived or 3 s passed. */
async function collect(rx: UdpSocket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  rx.on('message', (d) => got.push(d));
  for (let i = 0; i < 300 && got.length < n; i++) await sleep(10);
  return got;
}

test(
  'batch engine: sends every datagram when there is room, in order and intact, counted in stats',
  { skip: batchSkip },
  async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1', recvBufferBytes: 4 << 20 });
    const sizes = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 1400));
    const view = viewOf(sizes);
    const arriving = collect(rx, 200);
    assert.equal(tx.trySendBatch(view, rx.address().port, '127.0.0.1'), 200);
    const got = await arriving;
    assert.equal(got.length, 200);
    got.forEach((d, i) => {
      assert.equal(d.length, sizes[i], `datagram ${i} length`);
      assert.ok(
        d.every((b) => b === (i & 0xff)),
        `datagram ${i} content, in order`,
      );
    });
    const stats = tx.stats;
    assert.equal(stats.packetsSent, 200);
    assert.equal(
      stats.bytesSent,
      sizes.reduce((a, b) => a + b, 0),
    );
    assert.equal(stats.sendErrors, 0);
  },
);

test(
  'batch engine: a connected socket sends without a destination; one is refused then',
  { skip: batchSkip },
  async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
    await tx.connect(rx.address().port, '127.0.0.1');
    const arriving = collect(rx, 3);
    assert.equal(tx.trySendBatch(viewOf([10, 20, 30])), 3);
    assert.deepEqual(
      (await arriving).map((d) => d.length),
      [10, 20, 30],
    );
    assert.throws(() => tx.trySendBatch(viewOf([1]), rx.address().port, '127.0.0.1'), {
      code: 'MEDIASOCK_ERR_INVALID_ARG',
    });
  },
);

test(
  'batch engine: the first datagram refused (EMSGSIZE) throws what sendBatch rejects with; stats count one error',
  { skip: batchSkip },
  async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
    const port = rx.address().port;
    const view = viewOf([70_000, 10]); // over the 65507-byte IPv4 UDP maximum
    let thrown: unknown;
    try {
      tx.trySendBatch(view, port, '127.0.0.1');
    } catch (err) {
      thrown = err;
    }
    assert.ok(thrown instanceof SystemCallError, `a SystemCallError: ${String(thrown)}`);
    assert.equal((thrown as { code?: string }).code, 'EMSGSIZE');
    assert.equal((thrown as { syscall?: string }).syscall, 'sendmmsg');
    assert.deepEqual(tx.stats.sendErrors, 1);
    assert.equal(tx.stats.packetsSent, 0);
    await assert.rejects(tx.sendBatch(view, port, '127.0.0.1'), {
      code: (thrown as { code?: string }).code,
      name: (thrown as Error).name,
    });
    assert.equal(tx.stats.sendErrors, 2);
  },
);

test(
  'batch engine: a datagram refused after some went: their count, then the next call throws the error once',
  { skip: batchSkip },
  async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
    const port = rx.address().port;
    const arriving = collect(rx, 3);
    assert.equal(tx.trySendBatch(viewOf([100, 200, 70_000, 300]), port, '127.0.0.1'), 2);
    assert.equal(tx.stats.packetsSent, 2, 'the two that went');
    assert.equal(tx.stats.bytesSent, 300);
    assert.equal(tx.stats.sendErrors, 1, 'one error, as sendBatch counts it');
    // The next call throws the kept error before it sends anything, and counts nothing more.
    assert.throws(() => tx.trySendBatch(viewOf([5]), port, '127.0.0.1'), { code: 'EMSGSIZE' });
    assert.equal(tx.stats.sendErrors, 1);
    assert.equal(tx.stats.packetsSent, 2);
    // Then sending works as before.
    assert.equal(tx.trySendBatch(viewOf([7]), port, '127.0.0.1'), 1);
    assert.deepEqual(
      (await arriving).map((d) => d.length),
      [100, 200, 7],
    );
    assert.equal(tx.stats.packetsSent, 3);
    assert.equal(tx.stats.bytesSent, 307);
  },
);

for (const engine of nativeStatus().loaded ? (['batch', 'node'] as const) : (['node'] as const)) {
  test(`${engine} engine: bad arguments and a closed socket are typed errors`, async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const view = viewOf([10]);
    assert.throws(() => tx.trySendBatch(view, 0, '127.0.0.1'), {
      code: 'MEDIASOCK_ERR_INVALID_ARG',
    });
    assert.throws(() => tx.trySendBatch(view, 5000, '::1'), { code: 'MEDIASOCK_ERR_INVALID_ARG' });
    assert.throws(() => tx.trySendBatch(view, 5000, 'localhost'), {
      code: 'MEDIASOCK_ERR_INVALID_ARG',
    });
    assert.throws(() => tx.trySendBatch(view), { code: 'MEDIASOCK_ERR_INVALID_STATE' });
    assert.throws(() => tx.trySendBatch([Buffer.from('x')] as never, 5000, '127.0.0.1'), {
      code: 'MEDIASOCK_ERR_INVALID_ARG',
    });
    assert.throws(
      () =>
        tx.trySendBatch(
          { count: -1, data: view.data, offset: () => 0, length: () => 1 },
          5000,
          '127.0.0.1',
        ),
      {
        code: 'MEDIASOCK_ERR_INVALID_ARG',
      },
    );
    assert.equal(tx.trySendBatch(viewOf([]), 5000, '127.0.0.1'), 0);
    assert.equal(tx.stats.sendErrors, 0, 'argument errors are not send errors');
    await tx.close();
    assert.throws(() => tx.trySendBatch(view, 5000, '127.0.0.1'), {
      code: 'MEDIASOCK_ERR_SOCKET_CLOSED',
    });
  });
}

test('node engine: sends nothing (0, no stats); sendBatch then sends every datagram', async (t) => {
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'node' });
  const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const view = viewOf([10, 20, 30]);
  const arriving = collect(rx, 3);
  assert.equal(tx.trySendBatch(view, rx.address().port, '127.0.0.1'), 0);
  assert.equal(tx.stats.packetsSent, 0);
  const r = await tx.sendBatch(view, rx.address().port, '127.0.0.1');
  assert.equal(r.sent, 3);
  assert.deepEqual(
    (await arriving).map((d) => d.length),
    [10, 20, 30],
  );
  assert.equal(tx.stats.packetsSent, 3);
});

test(
  'batch engine: 100,000 calls of 16 datagrams allocate nothing (no scavenge, no heap growth)',
  { skip: batchSkip },
  async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    // A sink that never reads: the kernel drops what overflows its queue, the sender's path is the same.
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
    const port = rx.address().port;
    const view = viewOf(Array.from({ length: 16 }, () => 64));
    // Warm up (the JIT, the engine's rows), then count scavenges over the measured calls: garbage
    // made per call is young and shows as scavenges. Full collections V8 schedules by itself (its
    // memory reducer, seconds after start-up, whatever the code does) are not counted.
    for (let i = 0; i < 5_000; i++) tx.trySendBatch(view, port, '127.0.0.1');
    // Counted: scavenges that started inside the measured loop. The loop is synchronous, so only
    // its own allocations can start one there; a scavenge V8 runs later as a task (for what the
    // warm-up or the test runner left) falls outside it.
    let gcs = 0;
    let from = Infinity;
    let to = Infinity;
    const scavenges = (entries: PerformanceEntry[]): number =>
      entries.filter(
        (e) =>
          (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ===
            perfConstants.NODE_PERFORMANCE_GC_MINOR &&
          e.startTime >= from &&
          e.startTime <= to,
      ).length;
    const observer = new PerformanceObserver((list) => (gcs += scavenges(list.getEntries())));
    observer.observe({ entryTypes: ['gc'] });
    t.after(() => observer.disconnect());
    let sent = 0;
    // Without a collection in between, the heap grows by what the loop allocates.
    const before = process.memoryUsage().heapUsed;
    from = performance.now();
    for (let i = 0; i < 100_000; i++) sent += tx.trySendBatch(view, port, '127.0.0.1');
    to = performance.now();
    const grown = process.memoryUsage().heapUsed - before;
    await sleep(50); // the observer reports asynchronously
    gcs += scavenges(observer.takeRecords());
    t.diagnostic(`${gcs} scavenges; the heap grew by ${grown} bytes`);
    assert.equal(sent, 1_600_000, 'loopback takes everything');
    // Garbage per datagram would be 1.6 million objects: hundreds of scavenges.
    assert.equal(gcs, 0, `${gcs} scavenges over 100,000 calls`);
    // 100,000 calls allocating even 8 bytes each would be 800 KB.
    assert.ok(grown < 256 * 1024, `the heap grew by ${grown} bytes over 100,000 calls`);
  },
);
