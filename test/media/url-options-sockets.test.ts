/**
 * FFmpeg's URL options on real loopback sockets, both engines: `fifo_size` bounds the reader
 * queue (a reader that falls behind loses datagrams to it, counted in `readerDrops`), `localport`
 * is the source port a receiver sees, `connect=1` connects the sender (the kernel's ICMP port
 * unreachable comes back as ECONNREFUSED), `broadcast` sets `SO_BROADCAST`, `timeout` becomes
 * `idleTimeoutMs`, and options of the other direction open the socket with a notice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { openMediaReceiver, openMediaSender } from '../../src/media/media-sockets.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { UdpEngine } from '../../src/udp/udp-socket.js';
import { loadNative } from '../../src/native/index.js';
import { getSocketOption } from '../../src/options.js';

const binding = loadNative();
const engines: UdpEngine[] =
  binding !== undefined &&
  process.platform === 'linux' &&
  typeof (binding as unknown as Record<string, unknown>).msock_batch_open === 'function'
    ? ['node', 'batch']
    : ['node'];

/** A port free on 127.0.0.1 right now (bound once and released). */
async function freeUdpPort(): Promise<number> {
  const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'node' });
  const { port } = s.address();
  await s.close();
  return port;
}

// The reader queue only ever holds what one read brought beyond what the reader took (reading
// stops while it holds anything): on the node engine a read is one datagram, so only the batch
// engine (up to 64 per read) can reach a small bound.
test(
  'batch: fifo_size bounds the queue of a reader that falls behind',
  { skip: engines.includes('batch') ? undefined : 'the batch engine needs Linux and the addon' },
  async () => {
    const engine = 'batch';
    const counts: number[] = [];
    for (const query of ['?fifo_size=7&overrun_nonfatal=1', '']) {
      const rx = await openMediaReceiver(`udp://@127.0.0.1:0${query}`, { engine });
      const tx = await UdpSocket.open({ type: 'udp4', engine });
      try {
        const port = rx.socket.address().port;
        const it = rx.socket.datagrams();
        const first = it.next();
        await tx.send('first', port, '127.0.0.1');
        assert.equal((await first).done, false);
        // The iteration is running but nobody asks for the next datagram: what arrives queues.
        for (let i = 0; i < 40; i++) await tx.send(`d${i}`, port, '127.0.0.1');
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          const s = rx.socket.stats;
          if (s.packetsReceived + s.readerDrops >= 41 || s.readerDrops > 0) break;
          await sleep(20);
        }
        await sleep(100);
        counts.push(rx.socket.stats.readerDrops);
        await it.return(undefined);
      } finally {
        await Promise.all([rx.socket.close(), tx.close()]);
      }
    }
    const [bounded, unbounded] = counts;
    assert.ok((bounded ?? 0) >= 30, `fifo_size=7 (one datagram): ${bounded} dropped of 40`);
    assert.equal(unbounded, 0, 'the default queue (4096) holds all 40');
  },
);

for (const engine of engines) {
  test(`${engine}: localport and connect=1 apply to a sender; timeout and ttl to nothing on it`, async () => {
    const rx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
    const local = await freeUdpPort();
    const port = rx.address().port;
    const sender = await openMediaSender(
      `udp://127.0.0.1:${port}?localport=${local}&connect=1&timeout=1000&fifo_size=10`,
      { engine },
    );
    try {
      assert.equal(sender.connected, true);
      assert.deepEqual(sender.socket.remoteAddress(), {
        address: '127.0.0.1',
        port,
        family: 4,
      });
      assert.equal(sender.socket.address().port, local);
      assert.match(sender.description, new RegExp(`from port ${local}, connected`));
      assert.deepEqual(sender.notices, [
        'fifo_size=10 is ignored: it applies to receiving',
        'timeout=1000 is ignored: it applies to receiving',
      ]);
      const got = rx.receive({ signal: AbortSignal.timeout(5000) });
      await sender.socket.send('hello');
      const d = await got;
      assert.equal(d.data.toString(), 'hello');
      assert.equal(d.port, local, 'the receiver sees localport as the source port');
    } finally {
      await Promise.all([rx.close(), sender.socket.close()]);
    }
  });

  test(`${engine}: reuse=1 lets a sender share its localport; without it the bind fails`, async () => {
    const holder = await UdpSocket.open({
      type: 'udp4',
      address: '0.0.0.0',
      reuseAddr: true,
      engine,
    });
    const local = holder.address().port;
    try {
      await assert.rejects(
        openMediaSender(`udp://127.0.0.1:9?localport=${local}`, { engine }),
        (err: unknown) => (err as { code?: string }).code === 'EADDRINUSE',
      );
      const shared = await openMediaSender(`udp://127.0.0.1:9?localport=${local}&reuse=1`, {
        engine,
      });
      assert.equal(shared.socket.address().port, local);
      await shared.socket.close();
    } finally {
      await holder.close();
    }
  });

  test(`${engine}: a connected sender hears ECONNREFUSED from a closed port`, async () => {
    const closed = await freeUdpPort();
    const sender = await openMediaSender(`udp://127.0.0.1:${closed}?connect=1`, { engine });
    try {
      let refused: unknown;
      for (let i = 0; i < 10 && refused === undefined; i++) {
        try {
          await sender.socket.send(`x${i}`);
          await sleep(20);
        } catch (err) {
          refused = err;
        }
      }
      assert.equal(
        (refused as { code?: string } | undefined)?.code,
        'ECONNREFUSED',
        String(refused),
      );
    } finally {
      await sender.socket.close();
    }
  });
}

test('a receiver opens with sending options and FFmpeg-only ones, listing each as a notice', async () => {
  const rx = await openMediaReceiver(
    'udp://@127.0.0.1:0?ttl=16&dscp=10&pkt_size=1316&overrun_nonfatal=1&timeout=2500',
  );
  try {
    assert.deepEqual(rx.notices, [
      'ttl=16 is ignored: it applies to sending',
      'dscp=10 is ignored: it applies to sending',
      'pkt_size=1316 is ignored: a receiver reads whole datagrams (up to 64 KiB)',
      "overrun_nonfatal=1 is ignored: an overrun of FFmpeg's own FIFO; mediasock never stops on one (kernel drops are counted)",
    ]);
    assert.equal(rx.idleTimeoutMs, 3, '2500 µs round up to 3 ms');
  } finally {
    await rx.socket.close();
  }
  const none = await openMediaReceiver('udp://@127.0.0.1:0?timeout=0');
  assert.equal(none.idleTimeoutMs, undefined, 'timeout=0 is no timeout');
  await none.socket.close();
});

test(
  'broadcast=1 sets SO_BROADCAST on the sending socket',
  { skip: binding === undefined ? 'reading SO_BROADCAST back needs the native addon' : undefined },
  async () => {
    for (const [query, expected] of [
      ['?broadcast=1', true],
      ['?broadcast=0', false],
    ] as const) {
      const sender = await openMediaSender(`udp://127.0.0.1:9${query}`);
      try {
        const fd = sender.socket.fd;
        assert.ok(fd !== undefined);
        assert.equal(Boolean(getSocketOption(fd, 'SO_BROADCAST')), expected, query);
      } finally {
        await sender.socket.close();
      }
    }
  },
);
