/**
 * The batch engine (recvmmsg/sendmmsg/GSO/GRO through the addon) against the node engine
 * (node:dgram): randomized parity of received sequences and stats, IPv4 and IPv6; truncation,
 * pktinfo, kernel drops, GRO, close in the middle of a batch, engine selection and fallback.
 * Loopback only; every loop is bounded in count and time; no timing assertions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { DatagramBatch, UdpEngine, UdpSocketOptions } from '../../src/udp/udp-socket.js';
import { InvalidArgumentError, NotSupportedError, SocketClosedError } from '../../src/errors.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';
import { ipv6LoopbackSkipReason } from '../helpers/capabilities.js';

const binding = loadNative();
const batchSkip =
  binding === undefined
    ? `the native addon is not loaded (${nativeStatus().loadError?.message ?? 'unknown'})`
    : process.platform !== 'linux'
      ? `the batch engine needs Linux (this is ${process.platform})`
      : typeof (binding as unknown as Record<string, unknown>).msock_batch_open !== 'function'
        ? 'the loaded addon was built without the batch engine (run npm run build:native)'
        : undefined;
const v6Skip = ipv6LoopbackSkipReason();
const engines: UdpEngine[] = batchSkip === undefined ? ['node', 'batch'] : ['node'];

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function open(
  t: { after(fn: () => Promise<void> | void): void },
  options: UdpSocketOptions,
): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

/** Polls (bounded in count and time) until `done()` holds. */
async function until(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 2000 && !done(); i++) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(done(), `timed out waiting for ${what}`);
}

interface Plan {
  sizes: number[];
  senders: number[];
  bytes: Uint8Array[];
}

function makePlan(seed: number, count: number): Plan {
  const rand = prng(seed);
  const big = [8972, 65507];
  const sizes: number[] = [];
  const senders: number[] = [];
  const bytes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const size =
      rand() < 0.05 ? big[Math.floor(rand() * big.length)]! : 1 + Math.floor(rand() * 1472);
    sizes.push(size);
    senders.push(Math.floor(rand() * 3));
    const b = new Uint8Array(size);
    for (let j = 0; j < size; j++) b[j] = (rand() * 256) | 0;
    if (size >= 4) new DataView(b.buffer).setUint32(0, i);
    bytes.push(b);
  }
  return { sizes, senders, bytes };
}

/** Receives `plan` on an `engine` receiver; returns what arrived in order, senders by index. */
async function runParity(
  t: { after(fn: () => Promise<void> | void): void },
  engine: UdpEngine,
  family: 4 | 6,
  plan: Plan,
): Promise<{ seq: string[]; stats: Record<string, number | undefined> }> {
  const type = family === 4 ? 'udp4' : 'udp6';
  const rxAddress = family === 4 ? '127.0.0.1' : '::1';
  // IPv4 senders use distinct loopback sources; IPv6 has only ::1.
  const txAddresses =
    family === 4 ? ['127.0.0.1', '127.0.0.2', '127.0.0.3'] : ['::1', '::1', '::1'];
  const rx = await open(t, { type, address: rxAddress, engine, recvBufferBytes: 4 << 20 });
  const txs: UdpSocket[] = [];
  for (const a of txAddresses) txs.push(await open(t, { type, address: a, engine: 'node' }));
  const senderOf = new Map(txs.map((s, i) => [`${s.address().address}|${s.address().port}`, i]));
  const seq: string[] = [];
  rx.on('message', (data: Buffer, rinfo: { address: string; port: number }) => {
    const who = senderOf.get(`${rinfo.address}|${rinfo.port}`);
    seq.push(
      `${who}:${rinfo.address}:${data.length}:${Buffer.from(data).toString('base64').slice(0, 64)}:${hash(data)}`,
    );
  });
  const port = rx.address().port;
  for (let i = 0; i < plan.sizes.length; i++) {
    await txs[plan.senders[i]!]!.send(plan.bytes[i]!, port, rxAddress);
  }
  await until(() => seq.length >= plan.sizes.length, `${plan.sizes.length} datagrams on ${engine}`);
  const s = rx.stats;
  return {
    seq,
    stats: {
      packetsReceived: s.packetsReceived,
      bytesReceived: s.bytesReceived,
      readerDrops: s.readerDrops,
      receiveErrors: s.receiveErrors,
      kernelDrops: s.kernelDrops,
      truncated: s.truncated,
    },
  };
}

function hash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

for (const family of [4, 6] as const) {
  test(
    `parity IPv${family}: both engines receive identical sequences and stats (randomized)`,
    { skip: batchSkip ?? (family === 6 ? v6Skip : undefined) },
    async (t) => {
      for (const seed of [1, 2, 3]) {
        const plan = makePlan(seed * 7919 + family, 120);
        const node = await runParity(t, 'node', family, plan);
        const batch = await runParity(t, 'batch', family, plan);
        assert.equal(
          node.seq.length,
          plan.sizes.length,
          `seed ${seed}: node engine got everything`,
        );
        assert.deepEqual(batch.seq, node.seq, `seed ${seed}: same datagrams, sources, order`);
        assert.deepEqual(batch.stats, node.stats, `seed ${seed}: same stats`);
      }
    },
  );
}

test(
  'parity of sendBatch: a GSO train and an array arrive the same on both engines',
  { skip: batchSkip },
  async (t) => {
    const results: string[][] = [];
    for (const engine of engines) {
      const rx = await open(t, {
        type: 'udp4',
        address: '127.0.0.1',
        engine: 'node',
        recvBufferBytes: 4 << 20,
      });
      const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
      const got: string[] = [];
      rx.on('message', (d: Buffer) => got.push(`${d.length}:${hash(d)}`));
      const train = new Uint8Array(1316 * 100 + 500);
      for (let i = 0; i < train.length; i++) train[i] = (i * 31 + 7) & 0xff;
      const r1 = await tx.sendBatch(
        { buffer: train, segmentSize: 1316 },
        rx.address().port,
        '127.0.0.1',
      );
      assert.deepEqual(
        r1,
        { sent: 101, bytes: train.length },
        `${engine}: every segment of the train was sent`,
      );
      const list = [
        new Uint8Array(10).fill(1),
        new Uint8Array(1472).fill(2),
        new Uint8Array(1).fill(3),
      ];
      const r2 = await tx.sendBatch(
        list.map((data) => ({ data, port: rx.address().port, address: '127.0.0.1' })),
      );
      assert.deepEqual(r2, { sent: 3, bytes: 1483 });
      const r3 = await tx.sendBatch(
        { buffer: train.subarray(0, 600), lengths: [200, 200, 100, 100] },
        rx.address().port,
        '127.0.0.1',
      );
      assert.deepEqual(r3, { sent: 4, bytes: 600 });
      await until(() => got.length >= 108, `108 datagrams from the ${engine} sender`);
      assert.equal(tx.stats.packetsSent, 108);
      assert.equal(tx.stats.bytesSent, train.length + 1483 + 600);
      results.push(got);
    }
    if (results.length === 2) assert.deepEqual(results[1], results[0]);
  },
);

test(
  'batch events: one call per batch, views over shared memory, valid only inside the listener',
  { skip: batchSkip },
  async (t) => {
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      recvBufferBytes: 4 << 20,
    });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    assert.equal(rx.engine, 'batch');
    const caps = rx.capabilities;
    assert.equal(caps.recvmmsg, true);
    assert.equal(caps.sendmmsg, true);
    let kept: DatagramBatch | undefined;
    let total = 0;
    let calls = 0;
    const firstBytes: number[] = [];
    rx.on('batch', (b: DatagramBatch) => {
      calls++;
      kept = b;
      for (let i = 0; i < b.count; i++) {
        firstBytes.push(b.data[b.offset(i)]!);
        assert.equal(b.payload(i).length, b.length(i));
        assert.equal(b.address(i), '127.0.0.1');
        assert.equal(b.port(i), tx.address().port);
        assert.equal(b.family(i), 4);
        assert.equal(b.truncated(i), false);
      }
      total += b.count;
    });
    const buf = new Uint8Array(200 * 256);
    for (let i = 0; i < 256; i++) buf[i * 200] = i;
    await tx.sendBatch({ buffer: buf, segmentSize: 200 }, rx.address().port, '127.0.0.1');
    await until(() => total >= 256, '256 datagrams');
    assert.ok(calls < 256, `fewer listener calls (${calls}) than datagrams (256)`);
    assert.deepEqual(
      firstBytes,
      Array.from({ length: 256 }, (_, i) => i),
      'in order',
    );
    assert.ok(kept);
    assert.equal(kept.count, 0, 'a batch is invalid after its listener returned');
    assert.throws(() => kept!.payload(0), RangeError);
  },
);

test(
  'batches() iterates, holds the memory while the body runs, ends on close',
  { skip: batchSkip },
  async (t) => {
    const rx = await open(t, { type: 'udp6', address: '::1', engine: 'batch' });
    const tx = await open(t, { type: 'udp6', address: '::1', engine: 'batch' });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const b of rx.batches()) {
        // Let the sender run while this batch is held: its payloads must not change.
        const before = Array.from({ length: b.count }, (_, i) => b.data[b.offset(i)]!);
        await new Promise((r) => setTimeout(r, 2));
        for (let i = 0; i < b.count; i++) assert.equal(b.data[b.offset(i)], before[i]);
        seen.push(...before);
        if (seen.length >= 50) void rx.close();
      }
    })();
    for (let i = 0; i < 50; i++) await tx.send(new Uint8Array([i, 0, 0]), rx.address().port, '::1');
    await loop; // ends normally on close
    assert.deepEqual(
      seen.slice(0, 50),
      Array.from({ length: 50 }, (_, i) => i),
    );
  },
);

test('truncation is flagged and counted, never silent', { skip: batchSkip }, async (t) => {
  const rx = await open(t, {
    type: 'udp4',
    address: '127.0.0.1',
    engine: 'batch',
    batch: { slots: 4, slotBytes: 100 },
  });
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  const p = rx.receive();
  await tx.send(new Uint8Array(300).fill(9), rx.address().port, '127.0.0.1');
  const d = await p;
  assert.equal(d.data.length, 100);
  assert.equal(d.truncated, true);
  assert.equal(rx.stats.truncated, 1);
});

test(
  'pktinfo gives destination address and ifindex per datagram',
  { skip: batchSkip },
  async (t) => {
    const rx = await open(t, { type: 'udp4', engine: 'batch', pktinfo: true });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
    assert.equal(rx.capabilities.pktinfo, true);
    const p = rx.receive();
    await tx.send('x', rx.address().port, '127.0.0.2');
    const d = await p;
    assert.equal(d.localAddress, '127.0.0.2');
    assert.equal(d.ifindex, binding!.msock_if_nametoindex('lo'));
  },
);

test(
  'kernel drops are counted: held reading + a flood = received + kernelDrops',
  { skip: batchSkip },
  async (t) => {
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      recvBufferBytes: 4096,
    });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const port = rx.address().port;
    let received = 0;
    const it = rx.batches();
    const first = it.next();
    await tx.send(new Uint8Array(100), port, '127.0.0.1');
    const b = await first; // reading is now held
    received += b.value ? b.value.count : 0;
    const flood = await tx.sendBatch(
      { buffer: new Uint8Array(100 * 500), segmentSize: 100 },
      port,
      '127.0.0.1',
    );
    assert.equal(flood.sent, 500);
    // One more after the flood, once there is room.
    const counting = (async () => {
      for (let i = 0; i < 600; i++) {
        const n = await it.next();
        if (n.done) break;
        received += n.value.count;
        if (received + (rx.stats.kernelDrops ?? 0) >= 502) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    await tx.send(new Uint8Array(100), port, '127.0.0.1');
    await counting;
    await it.return();
    assert.ok((rx.stats.kernelDrops ?? 0) > 0, 'the kernel dropped some');
    assert.equal(
      received + (rx.stats.kernelDrops ?? 0),
      502,
      'every datagram is received or counted',
    );
  },
);

for (const engine of engines) {
  test(`${engine} engine: kernel drops are read from the kernel, before any datagram is read`, async (t) => {
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1', engine, recvBufferBytes: 4096 });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const port = rx.address().port;
    assert.equal(rx.stats.kernelDrops, 0);
    // Nothing reads: the datagrams wait in the kernel, and most of the flood cannot fit.
    for (let i = 0; i < 5; i++) {
      const r = await tx.sendBatch(
        { buffer: new Uint8Array(100 * 100), segmentSize: 100 },
        port,
        '127.0.0.1',
      );
      assert.equal(r.sent, 100);
    }
    // Counted at once: no datagram has been read that could have carried the count.
    const drops = rx.stats.kernelDrops ?? 0;
    assert.ok(drops > 0, `the kernel dropped some (${String(rx.stats.kernelDrops)})`);
    let received = 0;
    const it = rx.batches();
    for (let i = 0; i < 600 && received + drops < 500; i++) {
      const n = await it.next();
      if (n.done) break;
      received += n.value.count;
    }
    await it.return();
    assert.equal(rx.stats.kernelDrops, drops, 'no drop after the flood');
    assert.equal(received + drops, 500, 'every datagram is received or counted');
  });
}

test(
  'GRO: a GSO train arrives whole and is split into datagrams',
  { skip: batchSkip },
  async (t) => {
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      batch: { gro: true, slots: 8 },
      recvBufferBytes: 4 << 20,
    });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    if (!rx.capabilities.gro) {
      t.skip('the kernel refused UDP_GRO');
      return;
    }
    const got: number[] = [];
    const sizes: number[] = [];
    rx.on('batch', (b: DatagramBatch) => {
      for (let i = 0; i < b.count; i++) {
        got.push(b.data[b.offset(i)]!);
        sizes.push(b.length(i));
      }
    });
    const buf = new Uint8Array(200 * 64 + 50);
    for (let i = 0; i < 65; i++) buf[i * 200] = i;
    await tx.sendBatch({ buffer: buf, segmentSize: 200 }, rx.address().port, '127.0.0.1');
    await until(() => got.length >= 65, '65 datagrams');
    assert.deepEqual(
      got,
      Array.from({ length: 65 }, (_, i) => i),
    );
    assert.deepEqual(sizes, [...new Array<number>(64).fill(200), 50]);
    assert.equal(rx.stats.packetsReceived, 65);
  },
);

test(
  'closing inside a batch listener stops delivery, wakes readers, frees the fd',
  { skip: batchSkip },
  async (t) => {
    const before = openFdCount();
    const rx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    let batches = 0;
    let closing: Promise<void> | undefined;
    rx.on('batch', () => {
      batches++;
      closing ??= rx.close();
    });
    // The first datagram (delivered before the close) or SocketClosedError from the close.
    const reader = rx.receive().then(
      (d) => assert.equal(d.data.length, 100),
      (err: unknown) => assert.ok(err instanceof SocketClosedError),
    );
    // Several wake-ups' worth: the first batch closes the socket.
    await tx.sendBatch(
      { buffer: new Uint8Array(100 * 64 * 4), segmentSize: 100 },
      rx.address().port,
      '127.0.0.1',
    );
    await until(() => closing !== undefined, 'the first batch');
    await closing;
    assert.equal(batches, 1, 'no batch after close');
    await reader;
    await assert.rejects(rx.receive(), SocketClosedError);
    await assert.rejects(rx.sendBatch([new Uint8Array(1)], 9, '127.0.0.1'), SocketClosedError);
    await tx.close();
    await assertFdsBackToBaseline(before, 'fds back to baseline');
  },
);

test(
  'connected batch sockets send and receive; 1000 opens and closes leak nothing',
  { skip: batchSkip },
  async (t) => {
    const a = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    const b = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    await a.connect(b.address().port, '127.0.0.1');
    assert.deepEqual(a.remoteAddress(), {
      address: '127.0.0.1',
      port: b.address().port,
      family: 4,
    });
    const p = b.receive();
    assert.equal(await a.send('hi'), 2);
    assert.equal((await p).data.toString(), 'hi');
    assert.deepEqual(await a.sendBatch({ buffer: new Uint8Array(30), segmentSize: 10 }), {
      sent: 3,
      bytes: 30,
    });
    a.disconnect();
    const before = openFdCount();
    for (let i = 0; i < 1000; i++) {
      const s = await UdpSocket.open({ type: i % 2 ? 'udp4' : 'udp6', engine: 'batch' });
      await s.close();
    }
    await assertFdsBackToBaseline(before);
  },
);

test(
  'a send refused at the first datagram rejects; later ones resolve { sent, error }',
  { skip: batchSkip },
  async (t) => {
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    // EMSGSIZE: larger than the largest UDP datagram cannot be built in JS, so use an unreachable
    // destination class instead: a broadcast without SO_BROADCAST is EACCES.
    await assert.rejects(
      tx.sendBatch([new Uint8Array(10)], 9, '255.255.255.255'),
      (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'EACCES');
        return true;
      },
    );
    const r = await tx.sendBatch([
      { data: new Uint8Array(10), address: '127.0.0.1', port: 9 },
      { data: new Uint8Array(10), address: '255.255.255.255', port: 9 },
    ]);
    assert.equal(r.sent, 1);
    assert.equal((r.error as { code?: string } | undefined)?.code, 'EACCES');
    assert.equal(tx.stats.sendErrors, 2);
  },
);

test('engine selection: auto picks batch with the addon on Linux, else node; batch without it throws', async (t) => {
  const s = await open(t, { type: 'udp4', address: '127.0.0.1' });
  assert.equal(s.engine, batchSkip === undefined ? 'batch' : 'node');
  const n = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'node' });
  assert.equal(n.engine, 'node');
  assert.deepEqual(n.capabilities.gso, false);
  if (batchSkip !== undefined) {
    await assert.rejects(UdpSocket.open({ type: 'udp4', engine: 'batch' }), NotSupportedError);
    await assert.rejects(UdpSocket.open({ type: 'udp4', pktinfo: true }), NotSupportedError);
  }
  await assert.rejects(
    UdpSocket.open({ type: 'udp4', engine: 'fast' as UdpEngine }),
    InvalidArgumentError,
  );
  await assert.rejects(UdpSocket.open({ type: 'udp4', batch: { slots: 0 } }), InvalidArgumentError);
});

test('sendBatch validates before any system call', async (t) => {
  const tx = await open(t, { type: 'udp4', address: '127.0.0.1' });
  await assert.rejects(tx.sendBatch([new Uint8Array(65508)], 9, '127.0.0.1'), InvalidArgumentError);
  await assert.rejects(tx.sendBatch([{} as Uint8Array], 9, '127.0.0.1'), InvalidArgumentError);
  await assert.rejects(
    tx.sendBatch({ buffer: new Uint8Array(10), lengths: [6, 6] }, 9, '127.0.0.1'),
    InvalidArgumentError,
  );
  await assert.rejects(tx.sendBatch([new Uint8Array(1)], 9, '::1'), InvalidArgumentError);
  assert.equal(tx.stats.sendErrors, 0);
});
