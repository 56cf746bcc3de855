/**
 * A per-send TTL applies to its datagram only, on both engines: a receiver independent of mediasock
 * (Python with IP_RECVTTL / IPV6_RECVHOPLIMIT) reads the TTL of every datagram on the wire.
 * Before the redesign, with the addon, `send(x, port, addr, { ttl: 5 })` left the socket at TTL 5.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'node:test';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import { nativeStatus } from '../../src/native/index.js';
import { commandSkipReason, ipv6LoopbackSkipReason } from '../helpers/capabilities.js';

const RECEIVER = fileURLToPath(new URL('./fixtures/ttl-receiver.py', import.meta.url));
const pythonSkip = commandSkipReason('python3', 'the TTL receiver is a Python script');
const v6Skip = pythonSkip ?? ipv6LoopbackSkipReason();
const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);

interface Received {
  data: string;
  ttl: number;
}

/** Starts the receiver; resolves with its port and a function that waits for `n` datagrams. */
async function receiver(
  family: 4 | 6,
  address: string,
  group?: string,
): Promise<{ port: number; take(n: number): Promise<Received[]>; stop(): void }> {
  const child = spawn('python3', [RECEIVER, String(family), address, ...(group ? [group] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const got: Received[] = [];
  let port = 0;
  let wake: (() => void) | undefined;
  lines.on('line', (line) => {
    const m = JSON.parse(line) as { port?: number } & Received;
    if (m.port !== undefined) port = m.port;
    else got.push(m);
    wake?.();
  });
  const deadline = Date.now() + 10_000;
  while (port === 0 && Date.now() < deadline) await new Promise<void>((r) => (wake = r));
  assert.ok(port > 0, 'the receiver reported its port');
  return {
    port,
    async take(n: number): Promise<Received[]> {
      const until = Date.now() + 10_000;
      while (got.length < n && Date.now() < until) {
        await Promise.race([
          new Promise<void>((r) => (wake = r)),
          new Promise((r) => setTimeout(r, 200)),
        ]);
      }
      return got.splice(0, n);
    },
    stop(): void {
      child.stdin.end();
      child.kill();
    },
  };
}

for (const engine of engines) {
  test(
    `${engine} engine: a per-send TTL applies to its datagram only (IPv4 unicast)`,
    { skip: pythonSkip },
    async (t) => {
      const rx = await receiver(4, '127.0.0.1');
      t.after(() => rx.stop());
      const tx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
      t.after(() => tx.close());
      const base = tx.getTTL();
      // Not awaited one by one: the sends overlap, and each must still leave with its own TTL.
      await Promise.all([
        tx.send('a', rx.port, '127.0.0.1', { ttl: 5 }),
        tx.send('b', rx.port, '127.0.0.1'),
        tx.send('c', rx.port, '127.0.0.1', { ttl: 7 }),
        tx.send('d', rx.port, '127.0.0.1'),
      ]);
      await tx.send('e', rx.port, '127.0.0.1');
      tx.setTTL(20);
      await tx.send('f', rx.port, '127.0.0.1', { ttl: 3 });
      await tx.send('g', rx.port, '127.0.0.1');
      const got = await rx.take(7);
      assert.deepEqual(
        got.map((d) => `${d.data}:${d.ttl}`),
        ['a:5', `b:${base}`, 'c:7', `d:${base}`, `e:${base}`, 'f:3', 'g:20'],
      );
      assert.equal(tx.getTTL(), 20);
    },
  );

  test(
    `${engine} engine: a per-send TTL applies to its datagram only (IPv6 unicast)`,
    { skip: v6Skip },
    async (t) => {
      const rx = await receiver(6, '::1');
      t.after(() => rx.stop());
      const tx = await UdpSocket.open({ type: 'udp6', address: '::1', engine });
      t.after(() => tx.close());
      const base = tx.getTTL();
      await Promise.all([
        tx.send('a', rx.port, '::1', { ttl: 5 }),
        tx.send('b', rx.port, '::1'),
        tx.send('c', rx.port, '::1', { ttl: 9 }),
      ]);
      await tx.send('d', rx.port, '::1');
      const got = await rx.take(4);
      assert.deepEqual(
        got.map((d) => `${d.data}:${d.ttl}`),
        ['a:5', `b:${base}`, 'c:9', `d:${base}`],
      );
    },
  );

  test(
    `${engine} engine: a per-send TTL applies to its datagram only (IPv4 multicast on lo)`,
    { skip: pythonSkip },
    async (t) => {
      const group = '239.255.71.1';
      const rx = await receiver(4, '127.0.0.1', group);
      t.after(() => rx.stop());
      // Egress pinned to lo: nothing leaves the machine.
      const tx = await UdpSocket.open({
        type: 'udp4',
        address: '127.0.0.1',
        engine,
        multicastInterface: '127.0.0.1',
        multicastLoopback: true,
        multicastTtl: 3,
      });
      t.after(() => tx.close());
      await Promise.all([
        tx.send('a', rx.port, group, { ttl: 0 }),
        tx.send('b', rx.port, group),
        tx.send('c', rx.port, group, { ttl: 9 }),
      ]);
      await tx.send('d', rx.port, group);
      const got = await rx.take(4);
      assert.deepEqual(
        got.map((d) => `${d.data}:${d.ttl}`),
        ['a:0', 'b:3', 'c:9', 'd:3'],
      );
      assert.equal(tx.getMulticastTTL(), 3);
    },
  );
}
