/**
 * TsPlayout: departure times from PCRs, on FFmpeg-made CBR files (`-muxrate`) and on packets built
 * by hand for the cases a file rarely shows (a PCR wrap-around, the discontinuity indicator, a PCR
 * on a PID other than the PMT's, no PCR at all, garbage before the sync byte).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { InvalidArgumentError, PCR_HZ, PCR_WRAP, TsPlayout } from '../../src/index.js';
import type { PacedDatagram } from '../../src/index.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { makeCbrTs, packetsWithoutPcr, tsPacket } from '../helpers/ts-files.js';

const skip = commandSkipReason('ffmpeg', 'it makes the CBR transport streams');

/** Feeds `bytes` in chunks of varying size (1 byte up to 5000) and ends the stream. */
function playAll(p: TsPlayout, bytes: Buffer, end = true): PacedDatagram[] {
  const out: PacedDatagram[] = [];
  const sizes = [1, 187, 188, 189, 1316, 5000, 7];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(...p.push(bytes.subarray(i, i + n)));
    i += n;
  }
  if (end) out.push(...p.end());
  return out;
}

function pcrOf(b: Buffer, o = 0): number | undefined {
  if ((b[o + 3]! & 0x20) === 0 || b[o + 4]! < 7 || (b[o + 5]! & 0x10) === 0) return undefined;
  const base =
    b[o + 6]! * 2 ** 25 +
    b[o + 7]! * 2 ** 17 +
    b[o + 8]! * 2 ** 9 +
    b[o + 9]! * 2 +
    (b[o + 10]! >> 7);
  return base * 300 + (((b[o + 10]! & 1) << 8) | b[o + 11]!);
}

function assertMonotonic(ds: PacedDatagram[]): void {
  for (let i = 1; i < ds.length; i++)
    assert.ok(ds[i]!.departure >= ds[i - 1]!.departure, `departure ${i} goes backwards`);
}

test(
  'an FFmpeg CBR file: the PCR PID from the PMT, the mux rate, and PCR datagrams at their PCR times',
  { skip },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'mediasock-playout-'));
    try {
      const bytes = readFileSync(makeCbrTs(dir, 'cbr.ts', 3, '2M'));
      const p = new TsPlayout();
      const ds = playAll(p, bytes);
      const s = p.stats();
      assert.equal(s.pacing, 'pcr');
      assert.equal(s.pcrPid, s.pmtPcrPid);
      assert.notEqual(s.pcrPid, null);
      assert.ok(s.pcrs > 20, `${s.pcrs} PCRs`);
      assert.equal(s.discontinuities, 0);
      assert.ok(Math.abs(s.pcrBitsPerSecond! / 2e6 - 1) < 0.001, `PCR rate ${s.pcrBitsPerSecond}`);
      assert.equal(
        Buffer.concat(ds.map((d) => d.payload)).equals(bytes),
        true,
        'every byte, in order',
      );
      assert.equal(ds.length, Math.ceil(bytes.length / 1316));
      assert.equal(ds[0]!.departure, 0);
      assertMonotonic(ds);
      // A datagram that starts with a PCR packet leaves at its PCR, on one offset for the whole file.
      let offset: number | undefined;
      let checked = 0;
      for (const d of ds) {
        const pid = ((d.payload[1]! & 0x1f) << 8) | d.payload[2]!;
        const pcr = pid === s.pcrPid ? pcrOf(d.payload) : undefined;
        if (pcr === undefined) continue;
        offset ??= d.departure - pcr / PCR_HZ;
        assert.ok(
          Math.abs(d.departure - pcr / PCR_HZ - offset) < 1e-7,
          `datagram at ${d.departure}`,
        );
        checked++;
      }
      assert.ok(checked > 3, `${checked} datagrams starting with a PCR`);
      // CBR: every gap is the same, 1316 bytes at 2 Mbit/s.
      for (let i = 1; i < ds.length - 1; i++) {
        const gap = ds[i]!.departure - ds[i - 1]!.departure;
        assert.ok(Math.abs(gap - (1316 * 8) / 2e6) < 2e-6, `gap ${i}: ${gap}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a loop: the PCR jump at the restart is a discontinuity, the schedule carries on without a gap',
  { skip },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'mediasock-playout-'));
    try {
      const bytes = readFileSync(makeCbrTs(dir, 'loop.ts', 1, '2M'));
      const p = new TsPlayout();
      const first = playAll(p, bytes, false);
      p.markDiscontinuity();
      const second = playAll(p, bytes, false);
      p.markDiscontinuity();
      const third = playAll(p, bytes, true);
      const ds = [...first, ...second, ...third];
      assertMonotonic(ds);
      const s = p.stats();
      assert.equal(s.discontinuities, 2);
      const nominal = (1316 * 8) / 2e6;
      for (let i = 1; i < ds.length - 1; i++) {
        const gap = ds[i]!.departure - ds[i - 1]!.departure;
        assert.ok(Math.abs(gap - nominal) < nominal * 0.01, `gap ${i}: ${gap}`);
      }
      const seconds = ds.at(-1)!.departure + nominal;
      assert.ok(Math.abs((3 * bytes.length * 8) / seconds / 2e6 - 1) < 0.002, `rate over 3 loops`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** A stream on PID 0x100 with a PCR every `every` packets, `step` ticks apart, from `start`. */
function pcrStream(
  packets: number,
  every: number,
  start: number,
  step: number,
  at: (i: number) => { pcr?: number; discontinuity?: boolean } | undefined = () => undefined,
): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < packets; i++) {
    const special = at(i);
    if (special !== undefined) out.push(tsPacket(0x100, i, special));
    else if (i % every === 0)
      out.push(tsPacket(0x100, i, { pcr: (start + (i / every) * step) % PCR_WRAP }));
    else out.push(tsPacket(0x100, i));
  }
  return Buffer.concat(out);
}

test('a PCR wrap-around (2^33 x 300) keeps the rate', () => {
  // 10 packets per 10 ms: 1880 bytes per 10 ms = 1.504 Mbit/s; the wrap comes after 50 PCRs.
  const step = PCR_HZ / 100;
  const bytes = pcrStream(2000, 10, PCR_WRAP - 50 * step, step);
  const p = new TsPlayout({ packetsPerDatagram: 1 });
  const ds = playAll(p, bytes);
  const s = p.stats();
  assert.equal(s.wraps, 1);
  assert.equal(s.discontinuities, 0);
  assertMonotonic(ds);
  for (let i = 1; i < ds.length; i++)
    assert.ok(Math.abs(ds[i]!.departure - ds[i - 1]!.departure - 0.001) < 1e-9, `gap ${i}`);
  assert.ok(Math.abs(s.pcrBitsPerSecond! - 1.504e6) < 1);
});

test('the discontinuity indicator and a PCR jump keep the last interval instead of the jump', () => {
  const step = PCR_HZ / 100;
  // At packet 500 the PCR jumps 1 hour ahead, flagged; at packet 1000 it goes back 5 s, unflagged.
  const bytes = pcrStream(1500, 10, 1e9, step, (i) => {
    if (i === 500) return { pcr: 1e9 + 3600 * PCR_HZ, discontinuity: true };
    if (i > 500 && i % 10 === 0)
      return { pcr: 1e9 + 3600 * PCR_HZ + ((i - 500) / 10) * step - (i >= 1000 ? 5 * PCR_HZ : 0) };
    return undefined;
  });
  const p = new TsPlayout({ packetsPerDatagram: 1 });
  const ds = playAll(p, bytes);
  assert.equal(p.stats().discontinuities, 2);
  for (let i = 1; i < ds.length; i++)
    assert.ok(Math.abs(ds[i]!.departure - ds[i - 1]!.departure - 0.001) < 1e-9, `gap ${i}`);
});

test('the PCR PID the PMT names wins over another PID that carries PCRs first', () => {
  const pat = Buffer.alloc(188, 0xff);
  // PAT: program 1 -> PMT PID 0x1000.
  Buffer.from([
    0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0,
    0x00, 0, 0, 0, 0,
  ]).copy(pat);
  const pmt = Buffer.alloc(188, 0xff);
  // PMT of program 1: PCR_PID 0x101.
  Buffer.from([
    0x47, 0x50, 0x00, 0x10, 0x00, 0x02, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x01, 0xf0,
    0x00, 0, 0, 0, 0,
  ]).copy(pmt);
  const packets: Buffer[] = [pat, pmt];
  // PID 0x100 carries PCRs at a rate 10x wrong; PID 0x101 the right ones (10 ms per 10 packets).
  for (let i = 0; i < 400; i++) {
    if (i % 10 === 0) packets.push(tsPacket(0x101, i, { pcr: 1e6 + (i / 10) * (PCR_HZ / 100) }));
    else if (i % 10 === 5)
      packets.push(tsPacket(0x100, i, { pcr: 1e6 + (i / 10) * (PCR_HZ / 10) }));
    else packets.push(tsPacket(0x100, i));
  }
  const p = new TsPlayout({ packetsPerDatagram: 2 });
  const ds = playAll(p, Buffer.concat(packets));
  const s = p.stats();
  assert.equal(s.pmtPcrPid, 0x101);
  assert.equal(s.pcrPid, 0x101);
  assert.ok(Math.abs(s.pcrBitsPerSecond! - 1.504e6) < 1, `rate ${s.pcrBitsPerSecond}`);
  assert.ok(Math.abs(ds[50]!.departure - ds[49]!.departure - 0.002) < 1e-9);
});

test('without PCR the stream is timed at the fallback rate, and stats say so', () => {
  const p = new TsPlayout({ fallbackBitsPerSecond: 1316 * 8 * 100, maxSearchPackets: 700 });
  const out: PacedDatagram[] = [];
  const bytes = packetsWithoutPcr(1400);
  out.push(...p.push(bytes.subarray(0, 188 * 700)));
  assert.equal(out.length, 0, 'held while looking for a PCR');
  out.push(...p.push(bytes.subarray(188 * 700, 188 * 701)));
  assert.equal(p.stats().pacing, 'bitrate');
  assert.ok(out.length >= 100, `${out.length} datagrams once the search gave up`);
  out.push(...p.push(bytes.subarray(188 * 701)), ...p.end());
  assert.equal(out.length, 200);
  assert.equal(p.stats().pcrPid, null);
  for (let i = 1; i < out.length; i++)
    assert.ok(Math.abs(out[i]!.departure - out[i - 1]!.departure - 0.01) < 1e-9, `gap ${i}`);
});

test('bytes before a sync byte and a partial packet at the end are skipped and counted', () => {
  const step = PCR_HZ / 100;
  const bytes = Buffer.concat([
    Buffer.from([1, 2, 3]),
    pcrStream(100, 10, 0, step),
    Buffer.alloc(50, 0x47),
  ]);
  const p = new TsPlayout();
  const ds = playAll(p, bytes);
  assert.equal(
    ds.reduce((n, d) => n + d.payload.length, 0),
    100 * 188,
  );
  // Three bytes before the first sync, one 0x47-filled partial packet (its bytes after the first are skipped or dropped).
  assert.equal(p.stats().skippedBytes, 3 + 50);
});

test('bad arguments are InvalidArgumentErrors', () => {
  assert.throws(() => new TsPlayout({ packetsPerDatagram: 0 }), InvalidArgumentError);
  assert.throws(() => new TsPlayout({ packetsPerDatagram: 349 }), InvalidArgumentError);
  assert.throws(() => new TsPlayout({ packetsPerDatagram: 1.5 }), InvalidArgumentError);
  assert.throws(() => new TsPlayout({ fallbackBitsPerSecond: -1 }), InvalidArgumentError);
  assert.throws(() => new TsPlayout({ maxPcrGapSeconds: Number.NaN }), InvalidArgumentError);
  assert.throws(() => new TsPlayout(null as never), InvalidArgumentError);
  const p = new TsPlayout();
  assert.throws(() => p.push('abc' as never), InvalidArgumentError);
  p.end();
  assert.throws(() => p.push(Buffer.alloc(188)), InvalidArgumentError);
  assert.deepEqual(p.end(), []);
});

test('PCRs that start after the search gave up take over from the fallback rate', () => {
  const p = new TsPlayout({
    packetsPerDatagram: 1,
    fallbackBitsPerSecond: 188 * 8 * 100,
    maxSearchPackets: 50,
  });
  const out: PacedDatagram[] = [];
  out.push(...p.push(packetsWithoutPcr(100)));
  assert.equal(p.stats().pacing, 'bitrate');
  // Then PCRs every 10 packets, 10 ms apart (1 ms per packet).
  out.push(...p.push(pcrStream(200, 10, 5e6, PCR_HZ / 100)), ...p.end());
  assert.equal(p.stats().pacing, 'pcr');
  assertMonotonic(out);
  assert.equal(out.length, 300);
  // 10 ms per packet at the fallback rate, 1 ms once the PCRs give the rate.
  assert.ok(Math.abs(out[20]!.departure - out[19]!.departure - 0.01) < 1e-9);
  assert.ok(Math.abs(out[250]!.departure - out[249]!.departure - 0.001) < 1e-9);
});
