import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ReceptionStatistics } from '../../src/rtsp/reception-stats.js';
import {
  buildReceiverReport,
  parseSenderReports,
  SenderReportTracker,
} from '../../src/rtsp/rtcp-report.js';
import { buildSenderRtcp } from '../../src/rist/rtcp-packet.js';
import { parseRtcpCompound } from '../../src/rist/rtcp-packet.js';

test('loss, duplicates, reordering and wrap of the sequence number', () => {
  const s = new ReceptionStatistics(90000);
  const seqs = [65530, 65531, 65533, 65532, 65532, 65534, 65535, 0, 1, 4, 5];
  seqs.forEach((seq, i) => s.record(seq, i * 3000, 7, 100, i * (1000 / 30)));
  const snap = s.snapshot();
  assert.equal(snap.packets, 11);
  assert.equal(snap.duplicates, 1);
  assert.equal(snap.reordered, 1);
  assert.equal(snap.lost, 2, '2 and 3 never came');
  assert.equal(snap.highestSequence, 0x10000 + 5);
  assert.ok(snap.jitter < 1e-6, `packets on their clock: jitter ${snap.jitter}`);
  const block = s.reportBlock();
  assert.deepEqual(
    { ...block, jitter: 0 },
    {
      ssrc: 7,
      fractionLost: Math.floor((2 * 256) / 12),
      cumulativeLost: 2,
      highestSequence: 0x10005,
      jitter: 0,
    },
  );
  assert.equal(s.reportBlock()?.fractionLost, 0, 'a new interval');
});

test('RFC 3550 A.8 jitter converges to the arrival spread', () => {
  const s = new ReceptionStatistics(90000);
  // Packets every 10 ms of media time arriving alternately 2 ms early and 2 ms late.
  for (let i = 0; i < 2000; i++)
    s.record(i & 0xffff, i * 900, 1, 100, i * 10 + (i % 2 === 0 ? -2 : 2));
  const { jitterMs } = s.snapshot();
  assert.ok(Math.abs(jitterMs - 4) < 0.3, `jitter ${jitterMs} ms (|D| = 4 ms each time)`);
});

test('sender reports: NTP/RTP mapping, LSR/DLSR into the receiver report', () => {
  const ms = Date.UTC(2026, 0, 1);
  const compound = buildSenderRtcp(
    { ssrc: 0xabc, wallclockMs: ms, rtpTimestamp: 90000, packetCount: 10, octetCount: 1000 },
    'srv',
  );
  const [sr] = parseSenderReports(compound);
  assert.ok(sr !== undefined);
  assert.equal(sr.ssrc, 0xabc);
  assert.ok(Math.abs(sr.ntpUnixMs - ms) < 1);
  const tracker = new SenderReportTracker(90000);
  tracker.record(sr, 1000);
  assert.ok(Math.abs((tracker.wallClockOf(90000 + 45000) ?? 0) - (ms + 500)) < 1);
  assert.ok(Math.abs((tracker.wallClockOf(90000 - 9000) ?? 0) - (ms - 100)) < 1);
  const { lsr, dlsr } = tracker.lsrDlsr(1500);
  assert.equal(lsr, sr.ntpMiddle);
  assert.equal(dlsr, 32768, 'half a second in 1/65536 s');
  const rr = buildReceiverReport(
    0x55,
    [
      {
        ssrc: 0xabc,
        fractionLost: 3,
        cumulativeLost: -1,
        highestSequence: 9,
        jitter: 12,
        lsr,
        dlsr,
      },
    ],
    'me@host',
  );
  const packets = parseRtcpCompound(rr);
  assert.deepEqual(
    packets.map((p) => [p.packetType, p.count]),
    [
      [201, 1],
      [202, 1],
    ],
  );
  assert.equal(rr.readIntBE(8 + 5, 3), -1);
  assert.equal(rr.readUInt32BE(8 + 16), lsr);
  assert.throws(() => parseSenderReports(Buffer.from([0x80, 200, 0, 9])));
});
