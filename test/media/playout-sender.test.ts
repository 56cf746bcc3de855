/**
 * PlayoutSender on loopback: datagrams leave at their departure times (the native sender thread and
 * the timer engine), late ones go at once without moving the schedule, and closing gives back the
 * thread and its fd on every path (drained, closed with datagrams queued, the socket closed first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  PlayoutSender,
  UdpSocket,
  playoutThreadsLive,
} from '../../src/index.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';
import { openFdCount, settleFdCount } from '../helpers/fds.js';

function threadSkipReason(): string | undefined {
  if (process.env.MEDIASOCK_NO_NATIVE === '1')
    return 'MEDIASOCK_NO_NATIVE=1: the sender thread is in the native addon';
  const binding = loadNative();
  if (binding === undefined)
    return `the native addon is not loaded (${nativeStatus().loadError?.message ?? 'unknown'})`;
  if (process.platform !== 'linux')
    return `the sender thread needs Linux (this is ${process.platform})`;
  if (typeof (binding as unknown as Record<string, unknown>).msock_pacer_open !== 'function')
    return 'the loaded addon was built without the pacer (run npm run build:native)';
  return undefined;
}
const threadSkip = threadSkipReason();

/** A receiver that records the arrival time (ms, performance.now) and first byte of each datagram. */
async function receiver(): Promise<{
  port: number;
  arrivals: { t: number; id: number }[];
  close(): Promise<void>;
}> {
  const rx = dgram.createSocket('udp4');
  const arrivals: { t: number; id: number }[] = [];
  rx.on('message', (m) => arrivals.push({ t: performance.now(), id: m.readUInt16BE(0) }));
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  return {
    port: rx.address().port,
    arrivals,
    close: () => new Promise<void>((resolve) => rx.close(() => resolve())),
  };
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1000 && !cond() && Date.now() < deadline; i++) await sleep(10);
}

/** A sender with a queue of two datagrams (so sends soon wait for room) to a recording receiver. */
async function queueOfTwo(engine: 'thread' | 'timer'): Promise<{
  rx: Awaited<ReturnType<typeof receiver>>;
  socket: UdpSocket;
  out: PlayoutSender;
}> {
  const rx = await receiver();
  const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const out = PlayoutSender.open(socket, {
    port: rx.port,
    address: '127.0.0.1',
    engine,
    queueDatagrams: 2,
    preloadSeconds: 0.01,
  });
  return { rx, socket, out };
}

const datagram = (id: number): Buffer => {
  const b = Buffer.alloc(1316, 0x47);
  b.writeUInt16BE(id, 0);
  return b;
};

for (const engine of ['thread', 'timer'] as const) {
  test(
    `${engine}: 300 datagrams 2 ms apart leave in order at their times`,
    { skip: engine === 'thread' ? threadSkip : undefined },
    async () => {
      const rx = await receiver();
      const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const out = PlayoutSender.open(socket, {
        port: rx.port,
        address: '127.0.0.1',
        engine,
        preloadSeconds: 0.05,
      });
      try {
        assert.equal(out.engine, engine);
        const started = performance.now();
        for (let i = 0; i < 300; i++) await out.send(datagram(i), i * 0.002);
        await out.drain();
        await waitFor(() => rx.arrivals.length >= 300, 2000);
        const s = out.stats();
        assert.equal(s.sent, 300);
        assert.equal(s.bytes, 300 * 1316);
        assert.equal(s.queued, 0);
        assert.deepEqual(
          rx.arrivals.map((a) => a.id),
          Array.from({ length: 300 }, (_, i) => i),
        );
        // 0.598 s of schedule after a 0.05 s preload: the span holds to 10 % on a loaded machine.
        const span = (rx.arrivals.at(-1)!.t - rx.arrivals[0]!.t) / 1000;
        assert.ok(Math.abs(span - 0.598) < 0.06, `span ${span} s`);
        assert.ok(rx.arrivals[0]!.t - started > 30, 'the first datagram waits for the preload');
        assert.ok(s.firstSentSeconds !== null && s.lastSentSeconds !== null);
        assert.ok(Math.abs(s.lastSentSeconds - s.firstSentSeconds - 0.598) < 0.06);
      } finally {
        await out.close();
        await socket.close();
        await rx.close();
      }
    },
  );

  test(
    `${engine}: late datagrams go at once and the schedule stays on its clock`,
    { skip: engine === 'thread' ? threadSkip : undefined },
    async () => {
      const rx = await receiver();
      const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const out = PlayoutSender.open(socket, {
        port: rx.port,
        address: '127.0.0.1',
        engine,
        preloadSeconds: 0,
      });
      try {
        await sleep(200);
        // 50 datagrams due between 0 and 98 ms (all in the past), then 50 due from 400 ms on.
        for (let i = 0; i < 50; i++) await out.send(datagram(i), i * 0.002);
        for (let i = 50; i < 100; i++) await out.send(datagram(i), 0.4 + (i - 50) * 0.002);
        await out.drain();
        await waitFor(() => rx.arrivals.length >= 100, 2000);
        const s = out.stats();
        assert.equal(s.sent, 100);
        assert.ok(s.late >= 50, `${s.late} late`);
        assert.ok(s.maxLatenessMs >= 100, `max lateness ${s.maxLatenessMs} ms`);
        // The late ones left in a burst; the later ones kept their times (not pushed back by 100+ ms).
        const burst = rx.arrivals[49]!.t - rx.arrivals[0]!.t;
        assert.ok(burst < 60, `late burst took ${burst} ms`);
        const onTime = (rx.arrivals[99]!.t - rx.arrivals[50]!.t) / 1000;
        assert.ok(Math.abs(onTime - 0.098) < 0.03, `on-time part spans ${onTime} s`);
        const wait = rx.arrivals[50]!.t - rx.arrivals[49]!.t;
        assert.ok(wait > 120, `the schedule waited ${wait} ms for 400 ms`);
      } finally {
        await out.close();
        await socket.close();
        await rx.close();
      }
    },
  );
}

test(
  'thread: close with datagrams queued, and after the socket closed, gives back the thread and its fd',
  { skip: threadSkip },
  async () => {
    const rx = await receiver();
    // Warm up (addon loaded, first thread made and gone) before the baseline.
    {
      const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const o = PlayoutSender.open(s, { port: rx.port, address: '127.0.0.1' });
      await o.close();
      await s.close();
    }
    const fds = await settleFdCount(openFdCount());
    const threads = playoutThreadsLive();
    for (let round = 0; round < 5; round++) {
      const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const out = PlayoutSender.open(socket, {
        port: rx.port,
        address: '127.0.0.1',
        engine: 'thread',
      });
      assert.equal(playoutThreadsLive(), threads + 1);
      // Queued a minute ahead: close must not wait for them.
      for (let i = 0; i < 20; i++) await out.send(datagram(i), 60 + i);
      if (round % 2 === 1) await socket.close(); // the dup keeps the thread's fd valid meanwhile
      const t0 = performance.now();
      await out.close();
      assert.ok(performance.now() - t0 < 500, 'close wakes the thread from its wait');
      assert.equal(playoutThreadsLive(), threads);
      assert.equal(out.stats().sent, 0);
      await assert.rejects(out.send(datagram(0), 0), InvalidStateError);
      await out.close(); // idempotent
      await socket.close();
    }
    assert.equal(await settleFdCount(fds), fds, 'fd count back to baseline');
    await rx.close();
  },
);

test('bad arguments are InvalidArgumentErrors', async () => {
  const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  try {
    assert.throws(
      () => PlayoutSender.open(null as never, { port: 1, address: '127.0.0.1' }),
      InvalidArgumentError,
    );
    assert.throws(
      () => PlayoutSender.open(socket, { port: 0, address: '127.0.0.1' }),
      InvalidArgumentError,
    );
    assert.throws(() => PlayoutSender.open(socket, { port: 9, address: '' }), InvalidArgumentError);
    assert.throws(
      () => PlayoutSender.open(socket, { port: 9, address: '127.0.0.1', preloadSeconds: -1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => PlayoutSender.open(socket, { port: 9, address: '127.0.0.1', queueDatagrams: 1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => PlayoutSender.open(socket, { port: 9, address: '127.0.0.1', realtimePriority: 1.5 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => PlayoutSender.open(socket, { port: 9, address: '127.0.0.1', engine: 'fast' as never }),
      InvalidArgumentError,
    );
    const out = PlayoutSender.open(socket, {
      port: 9,
      address: '127.0.0.1',
      maxDatagramBytes: 100,
    });
    try {
      await assert.rejects(out.send(Buffer.alloc(101), 0), InvalidArgumentError);
      await assert.rejects(out.send(Buffer.alloc(0), 0), InvalidArgumentError);
      await assert.rejects(out.send(Buffer.alloc(10), -1), InvalidArgumentError);
      await assert.rejects(out.send(Buffer.alloc(10), Number.NaN), InvalidArgumentError);
    } finally {
      await out.close();
    }
  } finally {
    await socket.close();
  }
});

test(
  'thread: a process that exits with datagrams queued (never closed) ends at once',
  { skip: threadSkip },
  async () => {
    const { spawnSync } = await import('node:child_process');
    const { REPO } = await import('../cli/cli-process.js');
    // One process leaves its sender for the environment cleanup hook, the other calls process.exit.
    for (const ending of ['', 'process.exit(0);']) {
      const script = `
      import { PlayoutSender, UdpSocket, playoutThreadsLive } from './src/index.ts';
      const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const out = PlayoutSender.open(socket, { port: 9, address: '127.0.0.1', engine: 'thread' });
      for (let i = 0; i < 10; i++) await out.send(Buffer.alloc(100), 60 + i);
      console.log(playoutThreadsLive());
      socket.unref?.();
      await socket.close();
      ${ending}`;
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: REPO,
          encoding: 'utf8',
          timeout: 20_000,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), '1');
      assert.ok(performance.now() - t0 < 15_000, 'the process did not wait for the queued minute');
    }
  },
);

for (const engine of ['thread', 'timer'] as const) {
  test(
    `${engine}: a send waiting for room ends with AbortError when its signal aborts; the one behind it waits on`,
    { skip: engine === 'thread' ? threadSkip : undefined },
    async () => {
      const socket = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const out = PlayoutSender.open(socket, {
        port: 9,
        address: '127.0.0.1',
        queueDatagrams: 4,
        engine,
      });
      try {
        for (let i = 0; i < 4; i++) await out.send(datagram(i), 30 + i);
        const ac = new AbortController();
        const pending = out.send(datagram(4), 40, ac.signal);
        let behindSettled = false;
        const behind = out.send(datagram(5), 41);
        behind.then(
          () => (behindSettled = true),
          () => (behindSettled = true),
        );
        setTimeout(() => ac.abort(), 50);
        const t0 = performance.now();
        await assert.rejects(pending, (err: unknown) => err instanceof AbortError);
        assert.ok(performance.now() - t0 < 1000, 'aborted promptly, not after the queue drained');
        await sleep(100);
        assert.equal(behindSettled, false, 'the send behind it still waits for room');
        await out.close();
        await assert.rejects(behind, InvalidStateError);
      } finally {
        await out.close();
        await socket.close();
      }
    },
  );
}

for (const engine of ['thread', 'timer'] as const) {
  test(
    `${engine}: several sends waiting on a full queue all go, in order; close ends every waiter`,
    { skip: engine === 'thread' ? threadSkip : undefined },
    async () => {
      const { rx, socket, out } = await queueOfTwo(engine);
      try {
        // Not awaited one by one: six sends wait at once on a queue of two.
        const sends = Array.from({ length: 8 }, (_, i) => out.send(datagram(i), 0.005 * i));
        const all = Promise.all(sends).then(() => 'sent');
        const raced = await Promise.race([all, sleep(3000).then(() => 'stuck')]);
        assert.equal(raced, 'sent', 'every waiting send went within 3 s');
        await waitFor(() => rx.arrivals.length === 8, 2000);
        assert.deepEqual(
          rx.arrivals.map((a) => a.id),
          [0, 1, 2, 3, 4, 5, 6, 7],
        );
        // Departures a minute ahead fill the queue; the waiters behind it end when it closes.
        const queued = [out.send(datagram(100), 60), out.send(datagram(101), 60)];
        const waiting = [out.send(datagram(102), 60), out.send(datagram(103), 60)];
        await Promise.all(queued);
        await sleep(20);
        await out.close();
        const settled = await Promise.race([
          Promise.allSettled(waiting),
          sleep(3000).then(() => 'stuck' as const),
        ]);
        assert.notEqual(settled, 'stuck', 'close ended every waiting send');
        for (const r of settled as PromiseSettledResult<void>[]) {
          assert.equal(r.status, 'rejected');
          assert.ok(r.reason instanceof InvalidStateError);
        }
      } finally {
        await out.close();
        await socket.close();
        await rx.close();
      }
    },
  );
}

for (const engine of ['thread', 'timer'] as const) {
  test(
    `${engine}: a send aborted in the middle of the line leaves the sends around it to go, in order`,
    { skip: engine === 'thread' ? threadSkip : undefined },
    async () => {
      const { rx, socket, out } = await queueOfTwo(engine);
      try {
        // The queue holds two datagrams due in 200 ms; three sends wait behind them.
        await out.send(datagram(0), 0.2);
        await out.send(datagram(1), 0.2);
        const ac = new AbortController();
        const first = out.send(datagram(2), 0.2);
        const middle = out.send(datagram(3), 0.2, ac.signal);
        const last = out.send(datagram(4), 0.2);
        await sleep(20);
        ac.abort();
        await assert.rejects(middle, (err: unknown) => err instanceof AbortError);
        const raced = await Promise.race([
          Promise.all([first, last]).then(() => 'sent'),
          sleep(3000).then(() => 'stuck'),
        ]);
        assert.equal(raced, 'sent', 'the sends before and after the aborted one went');
        await waitFor(() => rx.arrivals.length === 4, 2000);
        assert.deepEqual(
          rx.arrivals.map((a) => a.id),
          [0, 1, 2, 4],
        );
      } finally {
        await out.close();
        await socket.close();
        await rx.close();
      }
    },
  );
}
