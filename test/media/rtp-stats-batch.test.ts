/**
 * RtpStats and TsChecker on batches from real sockets: a crafted RTP/MP2T stream (two SSRCs,
 * losses, duplicates, swaps, datagrams that are not RTP) goes over loopback to a UdpSocket on each
 * engine; every `'batch'` is fed to one RtpStats through `addBatch` and, datagram by datagram with
 * the same arrival time, to another through `addDatagram`. Both must agree exactly, and with what
 * was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { RtpStats, TsChecker, UdpSocket, nativeStatus, writeRtpHeader } from '../../src/index.js';
import type { DatagramBatchView } from '../../src/index.js';
import type { DatagramBatch } from '../../src/udp/batch-engine.js';

/**
 * Compile-time check: the UDP engine's batch is a DatagramBatchView, so the media helpers take
 * `socket.on('batch', …)` batches as they are (type-checking fails here if that ever changes).
 */
export const batchIsView = (batch: DatagramBatch): DatagramBatchView => batch;

/** The datagrams to send: RTP/MP2T of SSRC 0xa and 0xb, with known defects, and some junk. */
function stream(): { datagrams: Buffer[]; lost: Map<number, number>; dups: Map<number, number> } {
  const datagrams: Buffer[] = [];
  const lost = new Map<number, number>();
  const dups = new Map<number, number>();
  for (const ssrc of [0xa, 0xb]) {
    lost.set(ssrc, 0);
    dups.set(ssrc, 0);
  }
  for (let i = 0; i < 600; i++) {
    const ssrc = i % 2 === 0 ? 0xa : 0xb;
    const n = i >> 1;
    if (n > 3 && n < 299 && n % 17 === 0) {
      lost.set(ssrc, (lost.get(ssrc) ?? 0) + 1);
      continue;
    }
    const d = Buffer.alloc(12 + 7 * 188, 0xff);
    writeRtpHeader(d, {
      payloadType: 33,
      sequenceNumber: (65_400 + n) & 0xffff,
      timestamp: n * 3000,
      ssrc,
    });
    for (let k = 0; k < 7; k++) {
      const at = 12 + k * 188;
      d[at] = 0x47;
      d[at + 1] = ssrc === 0xa ? 0x01 : 0x02;
      d[at + 2] = 0x00;
      d[at + 3] = 0x10 | ((n * 7 + k) & 0x0f);
    }
    datagrams.push(d);
    if (n > 3 && n % 29 === 0) {
      datagrams.push(d);
      dups.set(ssrc, (dups.get(ssrc) ?? 0) + 1);
    }
    if (i % 101 === 0) datagrams.push(Buffer.from('not rtp at all'));
  }
  return { datagrams, lost, dups };
}

const engines: Array<'node' | 'batch'> = ['node', 'batch'];

for (const engine of engines) {
  const skip =
    engine === 'batch' && !nativeStatus().loaded
      ? 'the batch engine needs the native addon, which is not loaded'
      : undefined;
  test(`addBatch equals addDatagram on real ${engine}-engine batches`, { skip }, async () => {
    const rx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine });
    const tx = dgram.createSocket('udp4');
    try {
      const batchStats = new RtpStats(90000);
      const singleStats = new RtpStats(90000);
      const tsBatch = new TsChecker();
      const tsSingle = new TsChecker();
      let received = 0;
      let batches = 0;
      rx.on('batch', (batch: DatagramBatchView) => {
        const t = performance.now();
        batches++;
        received += batch.count;
        batchStats.addBatch(batch, t);
        for (let i = 0; i < batch.count; i++) {
          const d = batch.data.subarray(batch.offset(i), batch.offset(i) + batch.length(i));
          singleStats.addDatagram(d, t);
          if (d.length > 12) tsSingle.addPackets(d, 12);
        }
        // The TS packets after the 12-byte RTP header, as a view of the same batch.
        tsBatch.addBatch({
          count: batch.count,
          data: batch.data,
          offset: (i) => batch.offset(i) + 12,
          length: (i) => Math.max(0, batch.length(i) - 12),
        });
      });
      tx.bind(0, '127.0.0.1');
      await once(tx, 'listening');
      const { datagrams, lost, dups } = stream();
      const port = rx.address().port;
      // Bursts of 20 with a pause: loopback keeps them all, and batches hold several.
      for (let i = 0; i < datagrams.length; i += 20) {
        await Promise.all(
          datagrams
            .slice(i, i + 20)
            .map(
              (d) =>
                new Promise<void>((resolve, reject) =>
                  tx.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
                ),
            ),
        );
        await sleep(1);
      }
      for (let i = 0; i < 500 && received < datagrams.length; i++) await sleep(10);
      assert.equal(received, datagrams.length, 'every datagram arrived');
      assert.ok(batches > 0);
      if (engine === 'batch') assert.ok(batches < received, 'some batches held several datagrams');
      assert.equal(batchStats.notRtp, singleStats.notRtp);
      assert.equal(batchStats.notRtp, datagrams.filter((d) => d[0] !== 0x80).length);
      assert.deepEqual(batchStats.ssrcs, singleStats.ssrcs);
      for (const ssrc of [0xa, 0xb]) {
        const b = batchStats.snapshot(ssrc);
        assert.deepEqual(b, singleStats.snapshot(ssrc), `ssrc ${ssrc}`);
        assert.equal(b.lost, lost.get(ssrc), `lost of ssrc ${ssrc}`);
        assert.equal(b.duplicates, dups.get(ssrc), `duplicates of ssrc ${ssrc}`);
        assert.equal(b.reordered, 0);
      }
      assert.deepEqual(tsBatch.snapshot(), tsSingle.snapshot());
      assert.ok(tsBatch.snapshot().ccErrors > 0, 'the lost datagrams show as CC errors');
    } finally {
      tx.close();
      await rx.close();
    }
  });
}
