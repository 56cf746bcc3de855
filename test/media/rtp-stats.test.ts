import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RtpStats, writeRtpHeader } from '../../src/index.js';

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

/** A small deterministic PRNG (mulberry32), so crafted streams are the same on every run. */
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

interface Crafted {
  /** Packets in arrival order. */
  packets: Array<{ ssrc: number; seq: number; timestamp: number; arrivalMs: number }>;
  lost: number;
  duplicates: number;
  reordered: number;
  /** Reference RFC 3550 A.8 jitter (ms) over the packets that count, computed independently. */
  jitterMs: number;
}

/**
 * One SSRC, `n` packets from sequence `first` (across the 16-bit wrap when near 65535), 20 ms of
 * media each (90 kHz), with random network delay; every 37th packet lost, every 23rd duplicated
 * right away, every 41st pair swapped. Losses, duplicates and swaps never touch each other nor the
 * first 3 packets (the RFC's probation) nor the last.
 */
function craft(ssrc: number, first: number, n: number, seed: number): Crafted {
  const random = prng(seed);
  const order: number[] = [];
  let lost = 0;
  let duplicates = 0;
  let reordered = 0;
  for (let i = 0; i < n; i++) {
    if (i > 3 && i < n - 1 && i % 37 === 0) {
      lost++;
      continue;
    }
    order.push(i);
    if (i > 3 && i % 23 === 0 && i % 37 !== 1) {
      order.push(i);
      duplicates++;
    }
  }
  for (let k = 5; k + 1 < order.length; k++) {
    const a = order[k] as number;
    const b = order[k + 1] as number;
    if (a % 41 === 0 && b === a + 1 && order[k - 1] !== a && order[k + 2] !== b) {
      order[k] = b;
      order[k + 1] = a;
      reordered++;
      k++;
    }
  }
  const packets = order.map((i) => ({
    ssrc,
    seq: (first + i) & 0xffff,
    timestamp: (1_000_000 + i * 1800) >>> 0,
    arrivalMs: 0,
  }));
  // Arrival times: sending time + a random delay, never going backwards.
  let clock = 0;
  packets.forEach((p, k) => {
    const i = order[k] as number;
    clock = Math.max(clock, i * 20 + random() * 8);
    p.arrivalMs = 5000 + clock;
  });
  // Reference jitter: over packets that count (first two are probation; duplicates do not count).
  let jitter = 0;
  let transit: number | undefined;
  const seen = new Set<number>();
  packets.forEach((p, k) => {
    const i = order[k] as number;
    if (k < 1 || seen.has(i)) {
      seen.add(i);
      return;
    }
    seen.add(i);
    const t = (p.arrivalMs * 90000) / 1000 - p.timestamp;
    if (transit !== undefined) jitter += (Math.abs(t - transit) - jitter) / 16;
    transit = t;
  });
  return { packets, lost, duplicates, reordered, jitterMs: (jitter / 90000) * 1000 };
}

test('a crafted stream: loss, duplicates, reordering and jitter match a reference computed here', () => {
  for (const first of [100, 65_000]) {
    const c = craft(0x1234, first, 3000, first);
    const s = new RtpStats(90000);
    for (const p of c.packets) s.update(p.ssrc, p.seq, p.timestamp, p.arrivalMs);
    const r = s.snapshot();
    assert.equal(r.lost, c.lost, `lost from ${first}`);
    assert.equal(r.duplicates, c.duplicates, `duplicates from ${first}`);
    assert.equal(r.reordered, c.reordered, `reordered from ${first}`);
    assert.ok(c.lost > 50 && c.duplicates > 50 && c.reordered > 30, 'the stream has each kind');
    assert.ok(
      Math.abs(r.jitterMs - c.jitterMs) < 1e-9,
      `jitter ${r.jitterMs} ms, reference ${c.jitterMs} ms`,
    );
  }
});

test('several SSRCs interleaved are followed separately', () => {
  const a = craft(1, 10, 1000, 1);
  const b = craft(2, 40_000, 1000, 2);
  const s = new RtpStats(90000);
  const all = [...a.packets, ...b.packets].sort((x, y) => x.arrivalMs - y.arrivalMs);
  for (const p of all) s.update(p.ssrc, p.seq, p.timestamp, p.arrivalMs);
  assert.deepEqual(s.ssrcs.sort(), [1, 2]);
  for (const [ssrc, c] of [
    [1, a],
    [2, b],
  ] as const) {
    const r = s.snapshot(ssrc);
    assert.equal(r.lost, c.lost);
    assert.equal(r.duplicates, c.duplicates);
    assert.equal(r.reordered, c.reordered);
    assert.ok(Math.abs(r.jitterMs - c.jitterMs) < 1e-9);
  }
});

test('sources beyond maxSources are counted and left out; bad options throw', () => {
  const s = new RtpStats(90000, { maxSources: 2 });
  for (let ssrc = 1; ssrc <= 4; ssrc++) for (let i = 0; i < 5; i++) s.update(ssrc, i, i, i);
  assert.deepEqual(s.ssrcs, [1, 2]);
  assert.equal(s.ignoredPackets, 10);
  assert.throws(() => new RtpStats(0), { code: 'MEDIASOCK_ERR_INVALID_ARG' });
  assert.throws(() => new RtpStats(90000, { maxSources: 0 }), {
    code: 'MEDIASOCK_ERR_INVALID_ARG',
  });
});

test('addDatagram reads the header in place and counts what is not RTP', () => {
  const s = new RtpStats(90000);
  const rtp = (seq: number, extra: Partial<{ b0: number; b1: number }> = {}): Buffer => {
    const b = Buffer.alloc(12 + 188);
    writeRtpHeader(b, { payloadType: 33, sequenceNumber: seq, timestamp: seq * 90, ssrc: 9 });
    if (extra.b0 !== undefined) b[0] = extra.b0;
    if (extra.b1 !== undefined) b[1] = extra.b1;
    return b;
  };
  for (let i = 0; i < 10; i++) assert.equal(s.addDatagram(rtp(i), i), true);
  assert.equal(s.addDatagram(Buffer.alloc(11)), false); // too short
  assert.equal(s.addDatagram(rtp(10, { b0: 0x40 })), false); // version 1
  assert.equal(s.addDatagram(rtp(10, { b0: 0x8f })), true); // 15 CSRCs fit in 200 bytes
  assert.equal(s.addDatagram(rtp(11, { b0: 0x90 }).subarray(0, 14)), false); // extension cut off
  assert.equal(s.addDatagram(rtp(12, { b1: 200 })), false); // RTCP SR on a muxed port
  assert.equal(s.notRtp, 4);
  assert.equal(s.snapshot(9).received, 10);
  assert.equal(s.snapshot(9).lost, 0);
});
