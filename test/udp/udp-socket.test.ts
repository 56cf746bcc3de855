import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as dgram from 'node:dgram';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { UdpSocketOptions } from '../../src/udp/udp-socket.js';
import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  SocketClosedError,
  SystemCallError,
} from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';
import { ipv6LoopbackSkipReason } from '../helpers/capabilities.js';
import { nodeHasReusePort } from '../../src/node-features.js';

const v6Skip = ipv6LoopbackSkipReason();

async function open(
  t: { after(fn: () => Promise<void> | void): void },
  options: UdpSocketOptions,
): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

test('unicast IPv4: events, receive() and async iteration carry payload and source', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const { port } = rx.address();
  assert.ok(port > 0);

  const viaEvent = new Promise<[Buffer, dgram.RemoteInfo]>((resolve) =>
    rx.once('message', (d: Buffer, r: dgram.RemoteInfo) => resolve([d, r])),
  );
  const first = rx.receive();
  assert.equal(await tx.send(Buffer.from('one'), port, '127.0.0.1'), 3);
  const [data, rinfo] = await viaEvent;
  assert.equal(data.toString(), 'one');
  assert.equal(rinfo.port, tx.address().port);
  const d1 = await first;
  assert.equal(d1.data.toString(), 'one');
  assert.equal(d1.address, '127.0.0.1');
  assert.equal(d1.family, 4);

  const sent = ['a', 'bb', 'ccc'];
  for (const s of sent) await tx.send(s, port, '127.0.0.1');
  const got: string[] = [];
  for await (const d of rx) {
    got.push(d.data.toString());
    if (got.length === sent.length) break;
  }
  assert.deepEqual(got, sent);
  assert.equal(tx.stats.packetsSent, 4);
  assert.equal(tx.stats.bytesSent, 3 + 1 + 2 + 3);
  assert.equal(rx.stats.packetsReceived, 4);
  assert.equal(rx.stats.bytesReceived, 9);
});

test('unicast IPv6 on ::1', { skip: v6Skip ?? false }, async (t) => {
  const rx = await open(t, { type: 'udp6', address: '::1' });
  const tx = await open(t, { type: 'udp6', address: '::1' });
  const next = rx.receive();
  await tx.send('six', rx.address().port, '::1');
  const d = await next;
  assert.equal(d.data.toString(), 'six');
  assert.equal(d.address, '::1');
  assert.equal(d.family, 6);
});

test(
  'dual-stack: a udp6 socket on :: receives IPv4 as v4-mapped; ipv6Only leaves the IPv4 port free',
  { skip: v6Skip ?? false },
  async (t) => {
    const dual = await open(t, { type: 'udp6', address: '::' });
    const tx4 = await open(t, { type: 'udp4', address: '127.0.0.1' });
    const next = dual.receive();
    await tx4.send('mapped', dual.address().port, '127.0.0.1');
    const d = await next;
    assert.equal(d.data.toString(), 'mapped');
    assert.equal(d.address, '::ffff:127.0.0.1');

    // Without ipv6Only the dual-stack socket holds the IPv4 port too.
    await assert.rejects(
      UdpSocket.open({ type: 'udp4', address: '0.0.0.0', port: dual.address().port }),
      (err: unknown) => {
        assert.ok(err instanceof SystemCallError);
        assert.equal(err.code, 'EADDRINUSE');
        assert.equal(err.syscall, 'bind');
        return true;
      },
    );
    const v6only = await open(t, { type: 'udp6', address: '::', ipv6Only: true });
    const v4 = await open(t, { type: 'udp4', address: '0.0.0.0', port: v6only.address().port });
    assert.equal(v4.address().port, v6only.address().port);
  },
);

test('connect: send without destination, remoteAddress, only the peer is heard', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  await tx.connect(rx.address().port, '127.0.0.1');
  assert.deepEqual(tx.remoteAddress(), {
    address: '127.0.0.1',
    port: rx.address().port,
    family: 4,
  });
  const next = rx.receive();
  await tx.send('via connect');
  assert.equal((await next).data.toString(), 'via connect');
  await assert.rejects(tx.send('x', 1, '127.0.0.1'), InvalidArgumentError);
  await assert.rejects(tx.connect(1, '127.0.0.1'), InvalidStateError);
  tx.disconnect();
  assert.throws(() => tx.remoteAddress(), InvalidStateError);
  await assert.rejects(tx.send('no destination'), InvalidStateError);
});

test('per-send TTL is applied to that send only and the socket TTL is restored', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1', ttl: 33 });
  const next = rx.receive();
  await tx.send('ttl', rx.address().port, '127.0.0.1', { ttl: 7 });
  assert.equal((await next).data.toString(), 'ttl');
  assert.equal(tx.getTTL(), 33);
  await assert.rejects(
    tx.send('x', rx.address().port, '127.0.0.1', { ttl: 0 }),
    InvalidArgumentError,
  );
  await assert.rejects(
    tx.send('x', rx.address().port, '127.0.0.1', { ttl: 256 }),
    InvalidArgumentError,
  );
});

test('buffer sizes are raised and the effective size is reported, never failing on a clamp', async (t) => {
  const rmemMax = Number.parseInt(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'), 10);
  const s = await open(t, {
    type: 'udp4',
    address: '127.0.0.1',
    recvBufferBytes: 1 << 20,
    sendBufferBytes: 1 << 19,
  });
  // Linux doubles the requested value to account for bookkeeping overhead.
  assert.equal(s.recvBufferBytes, 2 << 20);
  assert.equal(s.sendBufferBytes, 2 << 19);
  const max = s.setRecvBufferSize('max');
  assert.ok(max >= 2 * rmemMax, `effective ${max} >= 2 x rmem_max ${rmemMax}`);
  // Far past rmem_max: without the privileged FORCE variant the kernel clamps; either way no error.
  const huge = s.setRecvBufferSize(64 * rmemMax);
  assert.ok(huge >= 2 * rmemMax);
  assert.equal(s.recvBufferBytes, huge);
});

test('reuseAddr shares a port; exclusive (the probing mode) fails with EADDRINUSE', async (t) => {
  const a = await open(t, { type: 'udp4', address: '127.0.0.1', reuseAddr: true });
  const b = await open(t, {
    type: 'udp4',
    address: '127.0.0.1',
    port: a.address().port,
    reuseAddr: true,
  });
  assert.equal(b.address().port, a.address().port);
  await assert.rejects(
    UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: a.address().port, exclusive: true }),
    (err: unknown) => {
      assert.ok(err instanceof SystemCallError);
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.port, a.address().port);
      return true;
    },
  );
});

test('reusePort: supported through the addon or Node, else NotSupportedError', async (t) => {
  const nodeHas = nodeHasReusePort();
  if (!nativeStatus().loaded && !nodeHas) {
    await assert.rejects(UdpSocket.open({ type: 'udp4', address: '127.0.0.1', reusePort: true }), {
      code: 'MEDIASOCK_ERR_NOT_SUPPORTED',
    });
    return;
  }
  const a = await open(t, { type: 'udp4', address: '127.0.0.1', reusePort: true });
  const b = await open(t, {
    type: 'udp4',
    address: '127.0.0.1',
    port: a.address().port,
    reusePort: true,
  });
  assert.equal(a.address().port, b.address().port);
});

test('close is idempotent, wakes pending readers, ends iteration, releases the port', async () => {
  const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const { port } = s.address();
  const pending = [s.receive(), s.receive()];
  const iterating = (async () => {
    for await (const _ of s) assert.fail('no datagram was sent');
  })();
  const first = s.close();
  assert.equal(s.close(), first, 'a second close returns the same promise');
  await first;
  for (const p of pending) await assert.rejects(p, SocketClosedError);
  await iterating; // ends normally, as a stream that ends
  await assert.rejects(s.receive(), SocketClosedError);
  await assert.rejects(s.send('x', port, '127.0.0.1'), SocketClosedError);
  assert.throws(() => s.addMembership('239.255.0.1', 'lo'), SocketClosedError);
  assert.throws(() => s.address(), SocketClosedError);
  assert.equal(s.closed, true);
  // The port is free again, even for a socket that refuses to share it.
  const again = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port, exclusive: true });
  assert.equal(again.address().port, port);
  await again.close();
});

test(
  'the reader queue is bounded: a read bringing more than it holds drops the oldest, counted',
  {
    skip: nativeStatus().loaded ? false : 'one read brings many datagrams on the batch engine only',
  },
  async (t) => {
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      readerQueueLength: 4,
      engine: 'batch',
    });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
    for (let i = 0; i < 10; i++) await tx.send(String(i), rx.address().port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    // One recvmmsg brings all 10: the first to the reader, 4 kept, 5 dropped and counted.
    assert.equal((await rx.receive()).data.toString(), '0');
    assert.equal(rx.stats.packetsReceived, 10);
    assert.equal(rx.stats.readerDrops, 5);
    const rest: string[] = [];
    for (let i = 0; i < 4; i++) rest.push((await rx.receive()).data.toString());
    assert.deepEqual(rest, ['6', '7', '8', '9']);
  },
);

test('the node engine reads one datagram ahead at most: the kernel keeps the rest, none dropped', async (t) => {
  const rx = await open(t, {
    type: 'udp4',
    address: '127.0.0.1',
    readerQueueLength: 4,
    engine: 'node',
  });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  for (let i = 0; i < 10; i++) await tx.send(String(i), rx.address().port, '127.0.0.1');
  const got: string[] = [];
  for (let i = 0; i < 10; i++) got.push((await rx.receive()).data.toString());
  assert.deepEqual(got, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(rx.stats.readerDrops, 0);
});

test('AbortSignal on open and on receive', async (t) => {
  const before = openFdCount();
  await assert.rejects(
    UdpSocket.open({ type: 'udp4', address: '127.0.0.1', signal: AbortSignal.abort('stop') }),
    (err: unknown) => {
      assert.ok(err instanceof AbortError);
      assert.equal(err.cause, 'stop');
      return true;
    },
  );
  await assertFdsBackToBaseline(before);
  const s = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const ac = new AbortController();
  const p = s.receive({ signal: ac.signal });
  ac.abort('enough');
  await assert.rejects(p, AbortError);
});

test('fd count returns to baseline after 1000 open/close cycles, failing binds included', async () => {
  const warm = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  await warm.close();
  const baseline = openFdCount();
  const holder = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const busy = holder.address().port;
  for (let i = 0; i < 1000; i++) {
    if (i % 10 === 0) {
      await assert.rejects(
        UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: busy, exclusive: true }),
        { code: 'EADDRINUSE' },
      );
    } else {
      // Every other cycle on IPv6, where the machine has an IPv6 loopback.
      const v4 = i % 2 === 1 || v6Skip !== undefined;
      const s = await UdpSocket.open({
        type: v4 ? 'udp4' : 'udp6',
        address: v4 ? '127.0.0.1' : '::1',
      });
      await s.close();
    }
  }
  await holder.close();
  await assertFdsBackToBaseline(baseline);
});

test('bad input gives InvalidArgumentError naming the value', async (t) => {
  const cases: Array<[UdpSocketOptions, RegExp]> = [
    [{ type: 'udp5' as 'udp4' }, /type must be 'udp4' or 'udp6' \(received "udp5"\)/],
    [{ type: 'udp4', port: 70000 }, /port .*65535.*70000/],
    [{ type: 'udp4', port: -1 }, /port .*-1/],
    [{ type: 'udp4', address: '::1' }, /address must be an IPv4 address on a udp4 socket/],
    [{ type: 'udp4', address: 'not-an-ip' }, /address must be an IPv4 or IPv6 address/],
    [{ type: 'udp4', ttl: 0 }, /ttl/],
    [{ type: 'udp4', multicastTtl: 256 }, /multicastTtl/],
    [{ type: 'udp4', dscp: 64 }, /dscp/],
    [{ type: 'udp4', exclusive: true, reuseAddr: true }, /exclusive cannot be combined/],
    [{ type: 'udp4', ipv6Only: true }, /ipv6Only applies to udp6/],
    [{ type: 'udp4', recvBufferBytes: -5 }, /recvBufferBytes/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(UdpSocket.open(options), (err: unknown) => {
      assert.ok(
        err instanceof InvalidArgumentError,
        `${JSON.stringify(options)} -> ${String(err)}`,
      );
      assert.match(err.message, message);
      return true;
    });
  }
  const s = await open(t, { type: 'udp4', address: '127.0.0.1' });
  await assert.rejects(s.send('x', 0, '127.0.0.1'), InvalidArgumentError);
  await assert.rejects(s.send('x', 5004, '::1'), /must be an IPv4 address on a udp4 socket/);
  await assert.rejects(s.send('x', 5004, 'localhost'), /resolve names first/);
  await assert.rejects(s.send(42 as unknown as string, 5004, '127.0.0.1'), InvalidArgumentError);
  assert.throws(() => s.setMulticastTTL(-1), InvalidArgumentError);
  assert.throws(() => s.setMulticastInterface('no-such-if0'), InvalidArgumentError);
});

test('a send the kernel refuses rejects with SystemCallError and is counted', async (t) => {
  const s = await open(t, { type: 'udp4', address: '127.0.0.1' });
  // 70000 bytes exceed the largest UDP payload over IPv4 (65507).
  await assert.rejects(s.send(Buffer.alloc(70000), 9, '127.0.0.1'), (err: unknown) => {
    assert.ok(err instanceof SystemCallError);
    assert.equal(err.code, 'EMSGSIZE');
    return true;
  });
  assert.equal(s.stats.sendErrors, 1);
});

test(
  'a bind address with a zone (fe80::…%eth0 style) works with and without the addon',
  { skip: v6Skip ?? false },
  async (t) => {
    const s = await open(t, { type: 'udp6', address: '::1%lo' });
    assert.equal(s.address().address, '::1');
    const tx = await open(t, { type: 'udp6', address: '::1' });
    const next = s.receive();
    await tx.send('zoned', s.address().port, '::1');
    assert.equal((await next).data.toString(), 'zoned');
  },
);

test('an aborted connect leaves the socket unconnected and usable', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const ac = new AbortController();
  const connecting = tx.connect(rx.address().port, '127.0.0.1', { signal: ac.signal });
  ac.abort('changed my mind');
  await assert.rejects(connecting, AbortError);
  assert.throws(() => tx.remoteAddress(), InvalidStateError);
  const next = rx.receive();
  await tx.send('still unconnected', rx.address().port, '127.0.0.1');
  assert.equal((await next).data.toString(), 'still unconnected');
  await tx.connect(rx.address().port, '127.0.0.1');
  assert.equal(tx.remoteAddress().port, rx.address().port);
});

for (const engine of nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const)) {
  test(`${engine} engine: a second connect while one is in progress is refused; the first one holds`, async (t) => {
    const a = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const b = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const first = tx.connect(a.address().port, '127.0.0.1');
    await assert.rejects(tx.connect(b.address().port, '127.0.0.1'), InvalidStateError);
    await first;
    assert.equal(tx.remoteAddress().port, a.address().port);
    // The kernel agrees: the datagram reaches the first peer.
    const next = a.receive();
    await tx.send('to the first peer');
    assert.equal((await next).data.toString(), 'to the first peer');
  });
}

test('sends made while a per-send TTL is in flight keep their order and the socket TTL', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1', ttl: 40 });
  const port = rx.address().port;
  const got: string[] = [];
  rx.on('message', (d: Buffer) => got.push(d.toString()));
  await Promise.all([
    tx.send('a', port, '127.0.0.1', { ttl: 3 }),
    tx.send('b', port, '127.0.0.1'),
    tx.send('c', port, '127.0.0.1', { ttl: 5 }),
    tx.send('d', port, '127.0.0.1'),
  ]);
  for (let i = 0; i < 200 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, ['a', 'b', 'c', 'd']);
  assert.equal(tx.getTTL(), 40);
});

test(
  'node engine: kernel drops are counted from /proc/net/udp',
  { skip: process.platform === 'linux' ? false : 'reads /proc/net/udp (Linux)' },
  async (t) => {
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'node',
      recvBufferBytes: 4096,
    });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'node' });
    assert.equal(rx.stats.kernelDrops, 0);
    let received = 0;
    rx.on('message', () => received++);
    // Sends leave at once (libuv writes when its queue is empty) while this loop keeps the receiver
    // from reading, so its small buffer overflows.
    const sends: Promise<number>[] = [];
    for (let i = 0; i < 500; i++)
      sends.push(tx.send(Buffer.alloc(200), rx.address().port, '127.0.0.1'));
    await Promise.all(sends);
    for (let i = 0; i < 200 && received + (rx.stats.kernelDrops ?? 0) < 500; i++)
      await new Promise((r) => setTimeout(r, 5));
    const drops = rx.stats.kernelDrops ?? 0;
    assert.ok(drops > 0, 'the kernel dropped some');
    assert.equal(received + drops, 500, 'every datagram is received or counted');
  },
);
