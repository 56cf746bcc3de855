/**
 * openMediaReceiver / openMediaSender over loopback: unicast, any-source multicast and
 * source-specific multicast pinned to lo, and the bad input each refuses before a socket opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';

import { InvalidArgumentError, openMediaReceiver, openMediaSender } from '../../src/index.js';
import type { MediaReceiver, MediaSender } from '../../src/index.js';

/** Sends `count` datagrams from `tx` and resolves with what `rx` got within `ms`. */
async function exchange(
  tx: MediaSender,
  rx: MediaReceiver,
  count: number,
  ms = 3000,
): Promise<Array<{ data: string; from: string }>> {
  const got: Array<{ data: string; from: string }> = [];
  const onMessage = (data: Buffer, rinfo: { address: string }): void => {
    got.push({ data: data.toString(), from: rinfo.address });
  };
  rx.socket.on('message', onMessage);
  for (let i = 0; i < count; i++) await tx.socket.send(Buffer.from(`d${i}`), tx.port, tx.address);
  const deadline = Date.now() + ms;
  while (got.length < count && Date.now() < deadline) {
    await Promise.race([once(rx.socket, 'message'), new Promise((r) => setTimeout(r, 50))]);
  }
  rx.socket.off('message', onMessage);
  return got;
}

test('unicast: a receiver on 127.0.0.1 gets what a sender aims at it', async () => {
  const rx = await openMediaReceiver('udp://@127.0.0.1:0');
  const port = rx.socket.address().port;
  const tx = await openMediaSender(`rtp://127.0.0.1:${port}?ttl=4`, {
    localAddress: '127.0.0.1',
  });
  const named = await openMediaSender(`udp://localhost:${port}`);
  try {
    assert.deepEqual(rx.memberships, []);
    assert.equal(rx.description, `udp://127.0.0.1:${port}`);
    assert.equal(tx.port, port);
    assert.equal(tx.description, `rtp://127.0.0.1:${port} (TTL 4)`);
    assert.match(named.address, /^(127\.0\.0\.1|::1)$/, 'a name resolves to loopback');
    const got = await exchange(tx, rx, 3);
    assert.deepEqual(
      got.map((g) => g.data),
      ['d0', 'd1', 'd2'],
    );
  } finally {
    await Promise.all([rx.socket.close(), tx.socket.close(), named.socket.close()]);
  }
});

test('any-source multicast on lo: joined, received, and left on close', async () => {
  const rx = await openMediaReceiver('udp://@239.255.73.1:0?iface=lo');
  const port = rx.socket.address().port;
  const tx = await openMediaSender(`udp://239.255.73.1:${port}`, { iface: 'lo', ttl: 0 });
  try {
    assert.equal(rx.memberships.length, 1);
    assert.equal(rx.memberships[0]?.interface, 'lo');
    assert.match(rx.description, /\(any-source\) on lo$/);
    assert.match(tx.description, /via lo, TTL 0/);
    const got = await exchange(tx, rx, 3);
    assert.equal(got.length, 3);
  } finally {
    await Promise.all([rx.socket.close(), tx.socket.close()]);
  }
});

test('source-specific multicast on lo: only the joined source gets through', async () => {
  const rx = await openMediaReceiver('udp://127.0.0.2@232.0.73.1:0?iface=lo');
  const port = rx.socket.address().port;
  const url = `udp://232.0.73.1:${port}?iface=lo&ttl=0`;
  const good = await openMediaSender(url, { localAddress: '127.0.0.2' });
  const other = await openMediaSender(url, { localAddress: '127.0.0.3' });
  try {
    assert.match(rx.description, /source-specific from 127\.0\.0\.2/);
    assert.equal((await exchange(other, rx, 2, 500)).length, 0, 'another source is filtered');
    const got = await exchange(good, rx, 2);
    assert.equal(got.length, 2);
    assert.ok(got.every((g) => g.from === '127.0.0.2'));
  } finally {
    await Promise.all([rx.socket.close(), good.socket.close(), other.socket.close()]);
  }
});

test('bad input is an InvalidArgumentError before any socket opens', async () => {
  const cases: Array<[() => Promise<unknown>, RegExp]> = [
    [() => openMediaSender('udp://@:5004'), /is a listen URL/],
    [() => openMediaSender('udp://127.0.0.1:0'), /needs a port from 1 to 65535/],
    [() => openMediaSender('udp://127.0.0.1:5004?ttl=3', { ttl: 5 }), /contradicts ttl=3/],
    [() => openMediaSender('udp://127.0.0.1:5004?ttl=0'), /of 0 applies to multicast only/],
    [() => openMediaSender('udp://127.0.0.1:5004', { iface: 'nosuch0' }), /nosuch0/],
    [() => openMediaSender('udp://[::1]:5004', { localAddress: '127.0.0.1' }), /family/],
    [() => openMediaSender('udp://127.0.0.1:5004', { dscp: 64 }), /dscp must be an integer/],
    [() => openMediaReceiver('udp://@localhost:5004'), /address literal/],
    [() => openMediaReceiver('udp://@127.0.0.1:5004?iface=nosuch0'), /nosuch0/],
    [() => openMediaReceiver('udp://@[fe80::1%nosuch0]:5004'), /nosuch0/],
    [
      () => openMediaReceiver('udp://@127.0.0.1:5004', { interfaces: ['lo', '127.0.0.1'] }),
      /one interface for a unicast receiver/,
    ],
  ];
  for (const [open, message] of cases) {
    await assert.rejects(open, (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.equal(err.code, 'MEDIASOCK_ERR_INVALID_ARG');
      assert.match(err.message, message);
      return true;
    });
  }
});

test('connect option: the socket is connected unless the URL says connect=0; ICMP errors then surface', async () => {
  const rx = await openMediaReceiver('udp://@127.0.0.1:0');
  const port = rx.socket.address().port;
  const plain = await openMediaSender(`udp://127.0.0.1:${port}`);
  const asked = await openMediaSender(`udp://127.0.0.1:${port}`, { connect: true });
  const urlWins = await openMediaSender(`udp://127.0.0.1:${port}?connect=0`, { connect: true });
  try {
    assert.equal(plain.connected, false);
    assert.throws(() => plain.socket.remoteAddress(), { code: 'MEDIASOCK_ERR_INVALID_STATE' });
    assert.equal(asked.connected, true);
    assert.equal(asked.description, `udp://127.0.0.1:${port} (connected)`);
    assert.deepEqual(
      { address: asked.socket.remoteAddress().address, port: asked.socket.remoteAddress().port },
      { address: '127.0.0.1', port },
    );
    assert.equal(urlWins.connected, false, 'connect=0 in the URL wins over the option');
    const got: string[] = [];
    rx.socket.on('message', (d: Buffer) => got.push(d.toString()));
    await asked.socket.send(Buffer.from('via connect'));
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, ['via connect']);
  } finally {
    await Promise.all([plain.socket.close(), urlWins.socket.close()]);
  }
  // Nothing listens any more: the port-unreachable reply comes back as ECONNREFUSED on a later
  // send of the connected socket (an unconnected one never hears of it).
  await rx.socket.close();
  let refused: unknown;
  for (let i = 0; i < 50 && refused === undefined; i++) {
    try {
      await asked.socket.send(Buffer.from('x'));
    } catch (err) {
      refused = err;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await asked.socket.close();
  assert.equal((refused as { code?: string } | undefined)?.code, 'ECONNREFUSED');
  await assert.rejects(
    openMediaSender(`udp://127.0.0.1:${port}`, { connect: 'yes' as unknown as boolean }),
    (err: unknown) => err instanceof InvalidArgumentError && /connect/.test(err.message),
  );
});
