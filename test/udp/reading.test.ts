/**
 * Reading semantics: the socket reads from the kernel only while something consumes, so datagrams
 * that arrive before the first reader wait in the kernel (before the redesign they were read,
 * counted as received and dropped); iteration ends normally on close and takes an AbortSignal;
 * `await using` closes the socket; a peer that went away (ICMP port unreachable) never kills the
 * process. Both engines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { AbortError } from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { UdpSocketOptions } from '../../src/udp/udp-socket.js';
import { REPO } from '../cli/cli-process.js';

const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);

async function open(t: test.TestContext, options: UdpSocketOptions): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

for (const engine of engines) {
  test(`${engine} engine: datagrams sent before the first receive() wait in the kernel`, async (t) => {
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    for (let i = 0; i < 20; i++) await tx.send(`early ${i}`, rx.address().port, '127.0.0.1');
    await sleep(100);
    assert.equal(rx.stats.packetsReceived, 0, 'nothing is read while nobody consumes');
    const got: string[] = [];
    for (let i = 0; i < 20; i++) got.push((await rx.receive()).data.toString());
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => `early ${i}`),
    );
    assert.equal(rx.stats.packetsReceived, 20);
    assert.equal(rx.stats.readerDrops, 0);
  });

  test(`${engine} engine: a 'message' listener added later gets what waited in the kernel`, async (t) => {
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    for (let i = 0; i < 10; i++) await tx.send(`m${i}`, rx.address().port, '127.0.0.1');
    await sleep(50);
    const got: string[] = [];
    rx.on('message', (data) => got.push(data.toString()));
    for (let i = 0; i < 100 && got.length < 10; i++) await sleep(10);
    assert.deepEqual(
      got,
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
  });

  test(`${engine} engine: a burst beyond one receive() stays queued for the next calls, not re-read`, async (t) => {
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    await tx.sendBatch(
      Array.from({ length: 30 }, (_, i) => Buffer.from(`b${i}`)),
      rx.address().port,
      '127.0.0.1',
    );
    await sleep(50);
    const first = await rx.receive();
    assert.equal(first.data.toString(), 'b0');
    await sleep(50);
    const readSoFar = rx.stats.packetsReceived;
    assert.ok(readSoFar >= 1 && readSoFar <= 30);
    const rest: string[] = [];
    for (let i = 1; i < 30; i++) rest.push((await rx.receive()).data.toString());
    assert.deepEqual(
      rest,
      Array.from({ length: 29 }, (_, i) => `b${i + 1}`),
    );
  });

  test(`${engine} engine: iteration ends normally on close, and with AbortError on abort`, async (t) => {
    const rx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const seen: string[] = [];
    const loop = (async () => {
      for await (const d of rx) {
        seen.push(d.data.toString());
        if (seen.length === 3) void rx.close();
      }
      return 'ended';
    })();
    for (let i = 0; i < 3; i++) await tx.send(`i${i}`, rx.address().port, '127.0.0.1');
    assert.equal(await loop, 'ended');
    assert.deepEqual(seen, ['i0', 'i1', 'i2']);

    const other = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    const ac = new AbortController();
    const aborted = (async () => {
      for await (const _ of other.datagrams({ signal: ac.signal })) assert.fail('nothing was sent');
    })();
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(aborted, AbortError);
    const batches = (async () => {
      for await (const _ of other.batches({ signal: AbortSignal.timeout(20) }))
        assert.fail('nothing was sent');
    })();
    await assert.rejects(batches, AbortError);
    assert.equal(other.closed, false, 'an aborted iteration leaves the socket open');
  });

  test(`${engine} engine: await using closes the socket at the end of the scope`, async () => {
    let port = 0;
    let socket: UdpSocket | undefined;
    {
      await using s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
      port = s.address().port;
      socket = s;
    }
    assert.equal(socket.closed, true);
    const again = await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      port,
      exclusive: true,
    });
    await again.close();
  });

  test(`${engine} engine: ICMP port unreachable on a connected socket is counted, never fatal`, () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/udp/fixtures/icmp-refused.ts', engine],
      { cwd: REPO, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(run.status, 0, `the process survived: ${run.stderr}`);
    const result = JSON.parse(run.stdout.trim()) as {
      receiveErrors: number;
      last: string;
      datagrams: number;
    };
    assert.ok(result.receiveErrors >= 1, `receive errors counted: ${run.stdout}`);
    assert.equal(result.last, 'ECONNREFUSED');
    assert.equal(result.datagrams, 0);
  });

  test(`${engine} engine: with an 'error' listener the ICMP error is emitted too`, async (t) => {
    const probe = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    const port = probe.address().port;
    await probe.close();
    const s = await open(t, { type: 'udp4', address: '127.0.0.1', engine });
    await s.connect(port, '127.0.0.1');
    const errors: string[] = [];
    s.on('error', (err) => errors.push(String(err.code)));
    s.on('message', () => assert.fail('nothing should arrive'));
    for (let i = 0; i < 50 && errors.length === 0; i++) {
      await s.send('x').catch(() => undefined);
      await sleep(10);
    }
    assert.equal(errors[0], 'ECONNREFUSED');
    assert.equal(s.stats.receiveErrors, errors.length);
  });
}

test(
  'batch engine: a batch held by batches() is not overwritten by the rest of the wake-up',
  { skip: nativeStatus().loaded ? false : 'the batch engine needs the native addon' },
  async (t) => {
    // Small slots and many batches per wake-up: the engine must stop reading as soon as the loop
    // holds a batch, not fill the same memory again before the wake-up ends.
    const rx = await open(t, {
      type: 'udp4',
      address: '127.0.0.1',
      engine: 'batch',
      batch: { slots: 4, maxBatchesPerWake: 16 },
    });
    const tx = await open(t, { type: 'udp4', address: '127.0.0.1', engine: 'batch' });
    await tx.sendBatch(
      Array.from({ length: 40 }, (_, i) => new Uint8Array([i])),
      rx.address().port,
      '127.0.0.1',
    );
    await sleep(50);
    const seen: number[] = [];
    for await (const b of rx.batches()) {
      const before = Array.from({ length: b.count }, (_, i) => b.data[b.offset(i)]!);
      await sleep(1);
      assert.deepEqual(
        Array.from({ length: b.count }, (_, i) => b.data[b.offset(i)]!),
        before,
        'the held batch is unchanged',
      );
      seen.push(...before);
      if (seen.length >= 40) break;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 40 }, (_, i) => i),
    );
  },
);
