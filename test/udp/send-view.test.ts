/**
 * sendBatch(view): a received batch forwarded as it is (a relay's path, no copy), on both engines;
 * and on the batch engine a send that has to wait keeps its own copy, so the caller's memory (the
 * socket's receive memory included) is free once the call returns.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { nativeStatus } from '../../src/native/index.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { DatagramBatchView, UdpSocketOptions } from '../../src/udp/udp-socket.js';

const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);

async function open(t: test.TestContext, options: UdpSocketOptions): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

for (const engine of engines) {
  test(`${engine} engine: a received batch forwarded from its listener arrives intact`, async (t) => {
    const source = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const relay = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const sink = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const got: string[] = [];
    sink.on('message', (d) => got.push(d.toString()));
    const forwarded: Promise<unknown>[] = [];
    relay.on('batch', (batch) => {
      forwarded.push(relay.sendBatch(batch, sink.address().port, '127.0.0.1'));
    });
    const sent = Array.from({ length: 200 }, (_, i) =>
      Buffer.from(`datagram ${i} `.repeat(1 + (i % 7))),
    );
    for (let i = 0; i < sent.length; i += 50)
      await source.sendBatch(sent.slice(i, i + 50), relay.address().port, '127.0.0.1');
    for (let i = 0; i < 300 && got.length < sent.length; i++) await sleep(10);
    await Promise.all(forwarded);
    assert.deepEqual(
      got,
      sent.map((b) => b.toString()),
    );
    assert.equal(relay.stats.packetsSent, 200);
  });
}

test(
  'batch engine: a send that waits for room keeps a copy; the caller may reuse its buffer',
  { skip: nativeStatus().loaded ? false : 'the batch engine needs the native addon' },
  async (t) => {
    const tx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      sendBufferBytes: 4096,
    });
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      recvBufferBytes: 8 << 20,
    });
    const got: number[] = [];
    rx.on('batch', (b) => {
      for (let i = 0; i < b.count; i++) got.push(b.data[b.offset(i)]!);
    });
    // 400 datagrams of 1200 bytes through a 4 KiB send buffer: the send has to wait for room.
    const memory = new Uint8Array(400 * 1200);
    const view: DatagramBatchView = {
      count: 400,
      data: memory,
      offset: (i) => i * 1200,
      length: () => 1200,
    };
    for (let i = 0; i < 400; i++) memory[i * 1200] = i & 0xff;
    const sending = tx.sendBatch(view, rx.address().port, '127.0.0.1');
    memory.fill(0xee); // reused at once, as a receive buffer would be
    const result = await sending;
    assert.equal(result.sent, 400);
    for (let i = 0; i < 200 && got.length < 400; i++) await sleep(10);
    assert.equal(got.length, 400);
    assert.deepEqual(
      got,
      Array.from({ length: 400 }, (_, i) => i & 0xff),
      'every datagram as it was when sendBatch was called',
    );
  },
);
