import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RtpStats } from '../../src/index.js';

/** Feeds sequence numbers at a constant 1 ms spacing with matching 90 kHz timestamps. */
function feed(stats: RtpStats, seqs: number[], ssrc = 1): void {
  seqs.forEach((seq, i) => stats.update(ssrc, seq & 0xffff, (seq * 90) >>> 0, 1000 + i));
}

test('in-order stream: nothing lost, zero jitter at a constant transit time', () => {
  const s = new RtpStats(90000);
  feed(
    s,
    Array.from({ length: 100 }, (_, i) => i + 10),
  );
  const r = s.snapshot();
  // RFC 3550 A.1: the first packet is the probation packet and is not counted.
  assert.equal(r.received, 99);
  assert.equal(r.expected, 99);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicates, 0);
  assert.equal(r.reordered, 0);
  assert.equal(r.jitterMs, 0);
});

test('gaps are counted as lost, across the 16-bit wrap', () => {
  const s = new RtpStats(90000);
  const seqs: number[] = [];
  for (let i = 65500; i < 65700; i++) if (i % 10 !== 5) seqs.push(i);
  feed(s, seqs);
  const r = s.snapshot();
  assert.equal(r.lost, 20);
  assert.equal(r.expected - r.received, 20);
});

test('duplicates do not hide losses; late packets count as reordered and refill the gap', () => {
  const s = new RtpStats(90000);
  feed(s, [1, 2, 3, 4, 6, 7, 7, 8, 5, 9, 3]);
  const r = s.snapshot();
  assert.equal(r.duplicates, 2); // 7 again and 3 again
  assert.equal(r.reordered, 1); // 5 after 8
  assert.equal(r.lost, 0);
});

test('jitter follows RFC 3550 A.8 for a known transit variation', () => {
  const s = new RtpStats(90000);
  // Transit alternates by 90 ticks (1 ms): |D| is 90 each step after the first two.
  for (let i = 0; i < 400; i++) s.update(7, i, i * 900, i * 10 + (i % 2 === 0 ? 0 : 1));
  const r = s.snapshot();
  // J converges toward |D| = 1 ms: J_n = 1 - (15/16)^n.
  assert.ok(r.jitterMs > 0.99 && r.jitterMs <= 1, `jitter ${r.jitterMs}`);
});

test('a new SSRC starts the bookkeeping afresh', () => {
  const s = new RtpStats(90000);
  feed(s, [1, 2, 3, 10, 11], 1);
  feed(s, [500, 501, 502], 2);
  const r = s.snapshot();
  assert.equal(r.sourceChanges, 1);
  assert.equal(r.ssrc, 2);
  assert.equal(r.lost, 0);
  assert.equal(r.received, 2);
});
