/**
 * The batch paths of RtpStats and TsChecker allocate nothing per datagram: 1M RTP datagrams
 * (7M MPEG-TS packets) through `addBatch` cause at most one young-generation GC (an allocation of
 * even 32 bytes per datagram would fill the 16 MiB semi-space twice over).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';

import { RtpStats, TsChecker, writeRtpHeader } from '../../src/index.js';
import type { DatagramBatchView } from '../../src/index.js';

const N = 64;
const SIZE = 12 + 7 * 188;
const ROUNDS = 16_000; // × 64 = 1,024,000 datagrams

test('addBatch: 1M datagrams without a per-datagram allocation', async () => {
  const data = Buffer.alloc(N * SIZE, 0xff);
  for (let i = 0; i < N; i++) {
    writeRtpHeader(data.subarray(i * SIZE), {
      payloadType: 33,
      sequenceNumber: 0,
      timestamp: i * 3000,
      ssrc: 5,
    });
    for (let k = 0; k < 7; k++) {
      const at = i * SIZE + 12 + k * 188;
      data.set([0x47, 0x01, 0x00, 0x10], at);
    }
  }
  const rtpView: DatagramBatchView = {
    count: N,
    data,
    offset: (i) => i * SIZE,
    length: () => SIZE,
  };
  const tsView: DatagramBatchView = {
    count: N,
    data,
    offset: (i) => i * SIZE + 12,
    length: () => SIZE - 12,
  };
  let seq = 0;
  let cc = 0;
  /** Next sequence numbers and continuity counters, written in place. */
  const advance = (): void => {
    for (let i = 0; i < N; i++) {
      const at = i * SIZE;
      data[at + 2] = seq >> 8;
      data[at + 3] = seq & 0xff;
      seq = (seq + 1) & 0xffff;
      for (let k = 0; k < 7; k++) {
        data[at + 12 + k * 188 + 3] = 0x10 | cc;
        cc = (cc + 1) & 0x0f;
      }
    }
  };
  const rtp = new RtpStats(90000);
  const ts = new TsChecker();
  // Warm up (optimised code), then count GCs over the measured run.
  for (let r = 0; r < 1000; r++) {
    advance();
    rtp.addBatch(rtpView, r);
    ts.addBatch(tsView);
  }
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  for (let r = 0; r < ROUNDS; r++) {
    advance();
    rtp.addBatch(rtpView, 1000 + r * 0.25);
    ts.addBatch(tsView);
  }
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  const r = rtp.snapshot();
  assert.equal(r.received, (1000 + ROUNDS) * N - 1, 'all counted (the first is probation)');
  assert.equal(r.lost + r.duplicates + r.reordered, 0);
  assert.equal(ts.snapshot().ccErrors, 0);
  assert.equal(ts.packets, (1000 + ROUNDS) * N * 7);
  // One object per datagram (a subarray each) costs about 24 collections here; Node 24 collects
  // 0-4 times in this loop without any allocation of ours (its own bookkeeping), so the bound
  // sits between the two.
  assert.ok(gcs <= 6, `${gcs} garbage collections during 1M datagrams`);
});
