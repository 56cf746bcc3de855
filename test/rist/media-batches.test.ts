/**
 * RistTransport.mediaBatches(): media read as views over the socket's receive memory, address
 * learning checked per datagram inside the batch, and no allocation per datagram (GC flat over a
 * million datagrams from a flooding sender in another process).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { InvalidStateError } from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { RistTransport } from '../../src/rist/rist-transport.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { REPO } from '../cli/cli-process.js';

const batchSkip = nativeStatus().loaded ? false : 'the batch engine needs the native addon';

test('address learning is checked per datagram inside a batch', async (t) => {
  const rx = await RistTransport.listenEphemeralSingle({ type: 'udp4' });
  t.after(() => rx.close());
  const port = rx.mediaSocket.address().port;
  const first = await UdpSocket.open({ type: 'udp4', address: '127.0.0.2' });
  const other = await UdpSocket.open({ type: 'udp4', address: '127.0.0.3' });
  t.after(() => first.close());
  t.after(() => other.close());
  await first.send(Buffer.from('a0'), port, '127.0.0.1');
  for (let i = 1; i <= 5; i++) {
    await other.send(Buffer.from(`x${i}`), port, '127.0.0.1');
    await first.send(Buffer.from(`a${i}`), port, '127.0.0.1');
  }
  await sleep(50);
  const accepted: string[] = [];
  let rejected = 0;
  for await (const batch of rx.mediaBatches({ signal: AbortSignal.timeout(5000) })) {
    for (let i = 0; i < batch.count; i++) {
      if (batch.accepted(i)) {
        accepted.push(Buffer.from(batch.payload(i)).toString());
        assert.equal(batch.address(i), '127.0.0.2');
      } else {
        rejected++;
        assert.equal(batch.address(i), '127.0.0.3');
      }
    }
    if (accepted.length + rejected >= 11) break;
  }
  assert.deepEqual(accepted, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  assert.equal(rejected, 5);
  assert.equal(rx.stats.mediaRejected, 5);
  assert.equal(rx.stats.mediaReceived, 6);
});

test('mediaBatches() ends when the transport closes', async () => {
  const rx = await RistTransport.listenEphemeralSingle({ type: 'udp4' });
  const loop = (async () => {
    for await (const _ of rx.mediaBatches()) assert.fail('nothing was sent');
    return 'ended';
  })();
  setTimeout(() => void rx.close(), 20);
  assert.equal(await loop, 'ended');
});

/** Garbage collections while `read` runs (until it resolves with the datagrams it read). */
async function collections(
  read: () => Promise<number>,
): Promise<{ gcs: number; datagrams: number }> {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  try {
    const datagrams = await read();
    return { gcs, datagrams };
  } finally {
    observer.disconnect();
  }
}

test(
  'a million media datagrams through mediaBatches(): no garbage per datagram',
  { skip: batchSkip, timeout: 120_000 },
  async (t) => {
    const rx = await RistTransport.listenEphemeralSingle({ type: 'udp4' });
    t.after(() => rx.close());
    const port = rx.mediaSocket.address().port;
    const sender = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/rist/fixtures/flood-sender.ts', String(port)],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    t.after(() => sender.kill('SIGKILL'));
    const lines = createInterface({ input: sender.stdout });
    await new Promise<void>((resolve) => lines.once('line', () => resolve()));
    const deadline = Date.now() + 80_000;

    // The per-datagram read, for reference: a Buffer and an object per datagram.
    const single = await collections(async () => {
      let n = 0;
      while (n < 200_000 && Date.now() < deadline) {
        await rx.readMedia();
        n++;
      }
      return n;
    });
    let batches = 0;
    let checksum = 0;
    const batched = await collections(async () => {
      let n = 0;
      for await (const batch of rx.mediaBatches()) {
        batches++;
        const data = batch.data;
        for (let i = 0; i < batch.count; i++) {
          if (!batch.accepted(i)) continue;
          checksum = (checksum + data[batch.offset(i) + 1]!) | 0;
          n++;
        }
        if (n >= 1_000_000 || Date.now() > deadline) break;
      }
      return n;
    });
    sender.stdin.end();
    assert.ok(batched.datagrams >= 1_000_000, `read ${batched.datagrams} datagrams in time`);
    assert.ok(checksum !== 0);
    const perMillion = (r: { gcs: number; datagrams: number }): number =>
      (r.gcs * 1e6) / r.datagrams;
    t.diagnostic(
      `readMedia: ${perMillion(single).toFixed(1)} collections per million datagrams; ` +
        `mediaBatches: ${perMillion(batched).toFixed(1)} per million (${batches} batches)`,
    );
    // What is left is the loop's own per-batch objects (iterator results, one promise per step).
    assert.ok(perMillion(batched) <= 25, 'no garbage per datagram');
    assert.ok(perMillion(batched) * 10 <= perMillion(single), 'at least 10x less than readMedia');
  },
);

test('mediaBatches() with DTLS is an InvalidStateError', { skip: batchSkip }, async (t) => {
  const rx = await RistTransport.listenEphemeralSingle({ type: 'udp4' });
  t.after(() => rx.close());
  rx.enableDtlsServer({ psk: { identity: 'id', key: Buffer.alloc(16, 1) } });
  await assert.rejects(rx.mediaBatches().next(), InvalidStateError);
});
