/**
 * TsChecker on transport streams FFmpeg made (testsrc video in MPEG-2 and a sine in MP2, muxed by
 * FFmpeg's mpegts muxer into a scratch directory), clean and with injected defects: a dropped
 * packet, a duplicate (allowed once), a triplicate, a jump marked by the discontinuity indicator,
 * a broken sync byte; and the batch path over the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TS_PACKET_BYTES, TsChecker } from '../../src/index.js';
import type { DatagramBatchView } from '../../src/index.js';
import { commandSkipReason } from '../helpers/capabilities.js';

const skip = commandSkipReason('ffmpeg', 'it makes the reference transport streams');

/** Makes a 2-second transport stream with FFmpeg; returns its packets. */
function ffmpegStream(dir: string): Buffer[] {
  const file = join(dir, 'test.ts');
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=duration=2:size=160x120:rate=25',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=1000:duration=2',
      '-c:v',
      'mpeg2video',
      '-c:a',
      'mp2',
      '-f',
      'mpegts',
      file,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const bytes = readFileSync(file);
  assert.equal(bytes.length % TS_PACKET_BYTES, 0);
  const packets: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += TS_PACKET_BYTES) {
    packets.push(Buffer.from(bytes.subarray(i, i + TS_PACKET_BYTES)));
  }
  return packets;
}

const pidOf = (p: Buffer): number => ((p[1]! & 0x1f) << 8) | p[2]!;
const hasPayload = (p: Buffer): boolean => (p[3]! & 0x10) !== 0;
const afLength = (p: Buffer): number => ((p[3]! & 0x20) !== 0 ? p[4]! : 0);

function check(packets: Buffer[]): ReturnType<TsChecker['snapshot']> {
  const c = new TsChecker();
  c.addPackets(Buffer.concat(packets));
  return c.snapshot();
}

/** Index of the `nth` payload packet of `pid` (from the middle of the stream). */
function nthOf(packets: Buffer[], pid: number, nth: number): number {
  let seen = 0;
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i]!;
    if (pidOf(p) === pid && hasPayload(p) && seen++ === nth) return i;
  }
  throw new Error(`no payload packet ${nth} on PID ${pid}`);
}

test('FFmpeg transport streams: clean, then with injected defects', { skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-ts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const packets = ffmpegStream(dir);
  const video = 0x100;
  const audio = 0x101;

  const clean = check(packets);
  assert.equal(clean.packets, packets.length);
  assert.equal(clean.syncErrors, 0);
  assert.equal(clean.ccErrors, 0);
  assert.equal(clean.duplicates, 0);
  assert.ok(clean.pcrPids.includes(video), `PCR PIDs ${clean.pcrPids.join(', ')}`);
  assert.ok(clean.pcrs >= 2);

  const at = nthOf(packets, video, 20);
  // A dropped packet: one error.
  assert.equal(check(packets.filter((_, i) => i !== at)).ccErrors, 1);
  // Sent twice in a row: the duplicate rule allows it.
  const twice = [...packets.slice(0, at + 1), packets[at]!, ...packets.slice(at + 1)];
  const d = check(twice);
  assert.equal(d.ccErrors, 0);
  assert.equal(d.duplicates, 1);
  // Three times: the third copy is an error.
  const thrice = [
    ...packets.slice(0, at + 1),
    packets[at]!,
    packets[at]!,
    ...packets.slice(at + 1),
  ];
  assert.equal(check(thrice).ccErrors, 1);
  // The same counter on a different payload is not a duplicate: one error (the next one follows).
  const other = Buffer.from(packets[at]!);
  for (const k of [TS_PACKET_BYTES - 1, TS_PACKET_BYTES - 60]) other[k] = other[k]! ^ 0xff;
  assert.equal(check([...packets.slice(0, at + 1), other, ...packets.slice(at + 1)]).ccErrors, 1);

  // A jump where the discontinuity indicator is set: no error. Take a video packet with an
  // adaptation field (FFmpeg puts one on PCR and stuffing packets) and drop the one before it.
  let marked = -1;
  for (let n = 10; n < 400 && marked < 0; n++) {
    const i = nthOf(packets, video, n);
    if (afLength(packets[i]!) > 0) marked = i;
  }
  assert.ok(marked > 0, 'a video packet with an adaptation field');
  let before = marked - 1;
  while (pidOf(packets[before]!) !== video) before--;
  const jumped = packets.map((p, i) => {
    if (i !== marked) return p;
    const q = Buffer.from(p);
    q[5] = q[5]! | 0x80;
    return q;
  });
  const withGap = jumped.filter((_, i) => i !== before);
  const j = check(withGap);
  assert.equal(j.ccErrors, 0);
  assert.equal(j.discontinuities, 1);
  // The same gap without the indicator is an error.
  assert.equal(check(packets.filter((_, i) => i !== before)).ccErrors, 1);

  // A broken sync byte on an audio packet: a sync error, and its PID sees a gap.
  const a = nthOf(packets, audio, 5);
  const broken = packets.map((p, i) => (i === a ? Buffer.from([0x00, ...p.subarray(1)]) : p));
  const s = check(broken);
  assert.equal(s.syncErrors, 1);
  assert.equal(s.ccErrors, 1);

  // The batch path over datagrams of 7 packets gives the same counters.
  const bytes = Buffer.concat(thrice);
  const count = Math.ceil(bytes.length / (7 * TS_PACKET_BYTES));
  const batch: DatagramBatchView = {
    count,
    data: bytes,
    offset: (i) => i * 7 * TS_PACKET_BYTES,
    length: (i) => Math.min(7 * TS_PACKET_BYTES, bytes.length - i * 7 * TS_PACKET_BYTES),
  };
  const b = new TsChecker();
  assert.equal(b.addBatch(batch), thrice.length);
  assert.deepEqual(b.snapshot(), check(thrice));
  assert.ok(b.lastPcr(video)! > 0);
  assert.equal(b.lastPcr(audio), undefined);
});
