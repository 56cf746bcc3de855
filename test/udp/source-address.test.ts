/**
 * `batch: { sourceAddress: false }`: the batch engine does not ask the kernel for each datagram's
 * source (`msg_name` of `recvmmsg`). Payloads arrive as before in `'batch'` events; everything
 * that would hand out a source refuses with `InvalidStateError` instead of making one up: a
 * batch's `address(i)` / `port(i)` / `family(i)`, adding a `'message'` listener, `receive()` and
 * iterating datagrams. The node engine ignores the option. Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';

import { InvalidArgumentError, InvalidStateError, UdpSocket } from '../../src/index.js';
import type { DatagramBatch } from '../../src/index.js';
import { nativeStatus } from '../../src/native/index.js';

const batchSkip = nativeStatus().loaded
  ? false
  : `the batch engine needs the native addon (${nativeStatus().loadError?.message ?? 'not loaded'})`;

test(
  'sourceAddress false: payloads arrive in batches, sources are refused',
  { skip: batchSkip },
  async (t) => {
    const rx = await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      batch: { sourceAddress: false },
    });
    const tx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    t.after(() => Promise.all([rx.close(), tx.close()]));
    const got: string[] = [];
    const refusals: unknown[] = [];
    rx.on('batch', (b: DatagramBatch) => {
      for (let i = 0; i < b.count; i++) {
        got.push(Buffer.from(b.data.subarray(b.offset(i), b.offset(i) + b.length(i))).toString());
        for (const read of [() => b.address(i), () => b.port(i), () => b.family(i)]) {
          try {
            read();
          } catch (err) {
            refusals.push(err);
          }
        }
      }
    });
    for (let i = 0; i < 5; i++) await tx.send(Buffer.from(`d${i}`), rx.address().port, '127.0.0.1');
    for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, ['d0', 'd1', 'd2', 'd3', 'd4']);
    assert.equal(refusals.length, 15, 'address, port and family of every datagram refused');
    for (const err of refusals) {
      assert.ok(err instanceof InvalidStateError);
      assert.match((err as Error).message, /sourceAddress: false/);
    }
    assert.equal(rx.stats.packetsReceived, 5);

    // Everything that hands out a source refuses, and adds nothing.
    assert.throws(
      () => rx.on('message', () => undefined),
      (err: unknown) => err instanceof InvalidStateError,
    );
    assert.equal(rx.listenerCount('message'), 0);
    await assert.rejects(rx.receive(), (err: unknown) => err instanceof InvalidStateError);
    assert.throws(
      () => rx.datagrams(),
      (err: unknown) => err instanceof InvalidStateError,
    );
  },
);

test('sourceAddress true (the default) and on the node engine: sources as before', async (t) => {
  const sockets = [
    ...(batchSkip === false
      ? [await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'batch' })]
      : []),
    await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'node',
      batch: { sourceAddress: false },
    }),
  ];
  const tx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  t.after(() => Promise.all([...sockets.map((s) => s.close()), tx.close()]));
  for (const rx of sockets) {
    const message = once(rx, 'message');
    await tx.send(Buffer.from('x'), rx.address().port, '127.0.0.1');
    const [data, rinfo] = (await message) as [Buffer, { address: string; port: number }];
    assert.equal(data.toString(), 'x');
    assert.deepEqual(
      { address: rinfo.address, port: rinfo.port },
      { address: '127.0.0.1', port: tx.address().port },
    );
  }
});

test('sourceAddress must be a boolean', async () => {
  await assert.rejects(
    UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      batch: { sourceAddress: 'no' as unknown as boolean },
    }),
    (err: unknown) =>
      err instanceof InvalidArgumentError && /batch\.sourceAddress/.test(err.message),
  );
});
