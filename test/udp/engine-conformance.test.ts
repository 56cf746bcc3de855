/**
 * One suite, both engines, through the engine interface `UdpSocket` runs on: reading starts paused
 * and follows resume()/pause(), options round-trip through the option table, sends, connects,
 * batches, memberships and close behave the same. Without the addon only the node engine runs
 * (the batch engine needs it).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { nativeStatus } from '../../src/native/index.js';
import type { DatagramBatch } from '../../src/udp/batch-engine.js';
import type { DatagramEngine } from '../../src/udp/engine.js';
import type { Destination } from '../../src/udp/destination.js';
import { openEngine } from '../../src/udp/open.js';
import { planSend } from '../../src/udp/send-plan.js';
import { toDestination } from '../../src/udp/destination.js';

const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);

interface Probe {
  engine: DatagramEngine;
  got: string[];
  errors: string[];
}

async function probe(t: test.TestContext, engine: 'node' | 'batch'): Promise<Probe> {
  const e = await openEngine({ type: 'udp4', address: '127.0.0.1', engine });
  t.after(() => e.close());
  const got: string[] = [];
  const errors: string[] = [];
  e.attach({
    batch: (b: DatagramBatch) => {
      for (let i = 0; i < b.count; i++) got.push(Buffer.from(b.payload(i)).toString());
    },
    error: (err) => errors.push(String(err.code)),
    drain: () => undefined,
  });
  return { engine: e, got, errors };
}

function to(e: DatagramEngine): Destination {
  return toDestination(4, e.localAddress().port, '127.0.0.1', 'address');
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  for (let waited = 0; !check() && waited < ms; waited += 10) await sleep(10);
}

for (const name of engines) {
  test(`${name} engine: starts paused; reads only between resume() and pause()`, async (t) => {
    const rx = await probe(t, name);
    const tx = await probe(t, name);
    assert.equal(rx.engine.name, name);
    for (let i = 0; i < 5; i++)
      await tx.engine.send(Buffer.from(`p${i}`), to(rx.engine), undefined);
    await sleep(50);
    assert.deepEqual(rx.got, [], 'paused: the kernel keeps the datagrams');
    rx.engine.resume();
    await until(() => rx.got.length === 5);
    assert.deepEqual(rx.got, ['p0', 'p1', 'p2', 'p3', 'p4']);
    rx.engine.pause();
    await tx.engine.send(Buffer.from('late'), to(rx.engine), undefined);
    await sleep(50);
    assert.equal(rx.got.length, 5, 'paused again');
    rx.engine.resume();
    await until(() => rx.got.length === 6);
    assert.equal(rx.got[5], 'late');
  });

  test(`${name} engine: options round-trip; per-send TTL leaves the option as it was`, async (t) => {
    const { engine } = await probe(t, name);
    engine.setOption('SO_RCVBUF', 65536);
    assert.ok((engine.getOption('SO_RCVBUF') ?? 0) >= 65536);
    engine.setOption('IP_TTL', 33);
    assert.equal(engine.getOption('IP_TTL'), 33);
    const rx = await probe(t, name);
    await engine.send(Buffer.from('x'), to(rx.engine), 5);
    assert.equal(engine.getOption('IP_TTL'), 33);
  });

  test(`${name} engine: connect, send to the peer, disconnect`, async (t) => {
    const rx = await probe(t, name);
    const tx = await probe(t, name);
    rx.engine.resume();
    await tx.engine.connect(to(rx.engine));
    await tx.engine.send(Buffer.from('c'), undefined, undefined);
    await until(() => rx.got.length === 1);
    await tx.engine.connect(undefined);
    await tx.engine.send(Buffer.from('u'), to(rx.engine), undefined);
    await until(() => rx.got.length === 2);
    assert.deepEqual(rx.got, ['c', 'u']);
  });

  test(`${name} engine: sendBatch sends a planned train in order`, async (t) => {
    const rx = await probe(t, name);
    const tx = await probe(t, name);
    rx.engine.resume();
    const dest = to(rx.engine);
    const plan = planSend({ buffer: Buffer.from('aabbccd'), segmentSize: 2 }, 0, '', () => dest);
    const result = await tx.engine.sendBatch(plan);
    assert.deepEqual(result, { sent: 4, bytes: 7 });
    await until(() => rx.got.length === 4);
    assert.deepEqual(rx.got, ['aa', 'bb', 'cc', 'd']);
  });

  test(`${name} engine: joins and leaves a group on lo`, async (t) => {
    const { engine } = await probe(t, name);
    const lo = { index: 1, name: 'lo', ipv4: '127.0.0.1' };
    engine.membership({ op: 'join', group: '239.255.72.1', source: undefined, iface: lo });
    assert.throws(
      () => engine.membership({ op: 'join', group: '239.255.72.1', source: undefined, iface: lo }),
      (err: { code?: string; option?: string }) => err.code === 'EADDRINUSE' && !!err.option,
    );
    engine.membership({ op: 'leave', group: '239.255.72.1', source: undefined, iface: lo });
  });

  // Exclude mode needs the addon on both engines (node:dgram has no block call); without it the
  // node engine's refusal is tested in test/multicast-filters.test.ts.
  const noBlock = nativeStatus().loaded
    ? false
    : 'exclude-mode filters need the native addon (node:dgram has no block call)';
  test(
    `${name} engine: blocks and unblocks a source on a joined group (exclude mode)`,
    { skip: noBlock },
    async (t) => {
      const { engine } = await probe(t, name);
      const lo = { index: 1, name: 'lo', ipv4: '127.0.0.1' };
      const g = '239.255.72.2';
      engine.membership({ op: 'join', group: g, source: undefined, iface: lo });
      engine.membership({ op: 'block', group: g, source: '127.0.0.3', iface: lo });
      // The kernel keeps one filter entry per source: a second block of it is refused.
      assert.throws(
        () => engine.membership({ op: 'block', group: g, source: '127.0.0.3', iface: lo }),
        (err: { code?: string; option?: string }) =>
          err.code === 'EADDRNOTAVAIL' && err.option === 'MCAST_BLOCK_SOURCE',
      );
      engine.membership({ op: 'unblock', group: g, source: '127.0.0.3', iface: lo });
      engine.membership({ op: 'leave', group: g, source: undefined, iface: lo });
    },
  );

  test(`${name} engine: close resolves once the port is free; a second close is the same`, async (t) => {
    const { engine } = await probe(t, name);
    const port = engine.localAddress().port;
    const closing = engine.close();
    assert.equal(engine.close(), closing);
    await closing;
    const again = await openEngine({ type: 'udp4', address: '127.0.0.1', port, exclusive: true });
    t.after(() => again.close());
    assert.equal(again.localAddress().port, port);
  });
}

for (const name of engines) {
  test(`${name} engine: sends made in the tick a close starts all settle: sent, or refused as closed`, async () => {
    const rx = await openEngine({ type: 'udp4', address: '127.0.0.1', engine: name });
    const tx = await openEngine({ type: 'udp4', address: '127.0.0.1', engine: name });
    try {
      const sends = Array.from({ length: 20 }, (_, i) =>
        tx.send(Buffer.alloc(100, i), to(rx), undefined),
      );
      const closing = tx.close();
      const settled = await Promise.race([
        Promise.allSettled(sends),
        sleep(3000).then(() => 'stuck' as const),
      ]);
      assert.notEqual(settled, 'stuck', 'every send settled within 3 s of the close');
      for (const r of settled as PromiseSettledResult<number>[]) {
        if (r.status === 'fulfilled') assert.equal(r.value, 100);
        else assert.equal((r.reason as { code?: string }).code, 'MEDIASOCK_ERR_SOCKET_CLOSED');
      }
      await closing;
    } finally {
      await tx.close();
      await rx.close();
    }
  });
}

for (const name of engines) {
  test(`${name} engine: a connect made in the tick a close starts settles`, async () => {
    const peer = await openEngine({ type: 'udp4', address: '127.0.0.1', engine: name });
    const e = await openEngine({ type: 'udp4', address: '127.0.0.1', engine: name });
    try {
      const connecting = e.connect(to(peer));
      const closing = e.close();
      const settled = await Promise.race([
        connecting.then(
          () => 'connected',
          (err: { code?: string }) => String(err.code),
        ),
        sleep(3000).then(() => 'stuck'),
      ]);
      assert.ok(
        settled === 'connected' || settled === 'MEDIASOCK_ERR_SOCKET_CLOSED',
        `the connect settled: ${settled}`,
      );
      await closing;
    } finally {
      await e.close();
      await peer.close();
    }
  });
}
