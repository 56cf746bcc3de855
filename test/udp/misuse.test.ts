/**
 * Careless use of `UdpSocket` gets typed errors with codes, never Node's plain RangeError or
 * TypeError, and never a query on a closed descriptor (issue 13, item 12). Both engines.
 */
import assert from 'node:assert/strict';
import test from 'node:test';

import { AbortError, InvalidArgumentError, SocketClosedError } from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';

const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);

for (const engine of engines) {
  test(`${engine} engine: out-of-range buffer sizes are InvalidArgumentError`, async () => {
    for (const recvBufferBytes of [2 ** 40, 2 ** 31, 0, -1, 1.5]) {
      await assert.rejects(
        UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine, recvBufferBytes }),
        InvalidArgumentError,
        String(recvBufferBytes),
      );
    }
    const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
    try {
      assert.throws(() => s.setRecvBufferSize(2 ** 40), InvalidArgumentError);
      assert.throws(() => s.setSendBufferSize(2 ** 31), InvalidArgumentError);
    } finally {
      await s.close();
    }
  });

  test(`${engine} engine: null options and payloads are InvalidArgumentError`, async () => {
    const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
    try {
      const port = s.address().port;
      // @ts-expect-error: null options on purpose
      await assert.rejects(s.send('x', port, '127.0.0.1', null), InvalidArgumentError);
      // @ts-expect-error: null payload on purpose
      await assert.rejects(s.send(null, port, '127.0.0.1'), InvalidArgumentError);
      // @ts-expect-error: null options on purpose
      await assert.rejects(s.receive(null), InvalidArgumentError);
      // @ts-expect-error: null options on purpose
      assert.throws(() => s.datagrams(null), InvalidArgumentError);
      // @ts-expect-error: null options on purpose
      await assert.rejects(s.connect(port, '127.0.0.1', null), InvalidArgumentError);
      // @ts-expect-error: a number where a string belongs
      await assert.rejects(s.send('x', port, 127), InvalidArgumentError);
      await assert.rejects(s.send('x', port, 'not-an-address'), InvalidArgumentError);
      await assert.rejects(s.send('x', 0, '127.0.0.1'), InvalidArgumentError);
    } finally {
      await s.close();
    }
  });

  test(`${engine} engine: TTL getters after close throw SocketClosedError`, async () => {
    const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
    await s.close();
    assert.throws(() => s.getTTL(), SocketClosedError);
    assert.throws(() => s.getMulticastTTL(), SocketClosedError);
  });

  test(`${engine} engine: an abort right after open() is honoured`, async () => {
    const ac = new AbortController();
    const opening = UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      engine,
      signal: ac.signal,
    });
    ac.abort();
    await assert.rejects(opening, AbortError);
  });
}
