/** The small RTP and RTCP builders/parsers RIST interop uses: round trips, RFC 3550 layout, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  buildRtpPacket,
  parseRtpHeader,
  parseRtpPacket,
  writeRtpHeader,
} from '../../src/rtp/rtp-packet.js';
import {
  buildSenderReport,
  buildSenderRtcp,
  buildSourceDescription,
  parseRtcpCompound,
} from '../../src/rist/rtcp-packet.js';
import { InvalidArgumentError } from '../../src/errors.js';

test('RTP: header layout and round trip', () => {
  const payload = Buffer.from([0x47, 1, 2, 3]);
  const b = buildRtpPacket({
    sequenceNumber: 0xfffe,
    timestamp: 0xdeadbeef,
    ssrc: 0x10,
    marker: true,
    payload,
  });
  assert.deepEqual([...b.subarray(0, 2)], [0x80, 0x80 | 33]);
  assert.deepEqual(parseRtpPacket(b), {
    payloadType: 33,
    marker: true,
    sequenceNumber: 0xfffe,
    timestamp: 0xdeadbeef,
    ssrc: 0x10,
    payload,
  });
  assert.throws(() => parseRtpPacket(Buffer.alloc(11)), InvalidArgumentError);
  assert.throws(() => parseRtpPacket(Buffer.alloc(12)), InvalidArgumentError); // version 0
  assert.throws(
    () => buildRtpPacket({ sequenceNumber: 65536, timestamp: 0, ssrc: 0, payload }),
    InvalidArgumentError,
  );
});

test('RTCP: SR is 28 bytes with an NTP time; SDES padded; compound parses back', () => {
  const sr = buildSenderReport({
    ssrc: 7,
    wallclockMs: 1500,
    rtpTimestamp: 9,
    packetCount: 2,
    octetCount: 3,
  });
  assert.equal(sr.length, 28);
  assert.equal(sr.readUInt32BE(8), 2208988800 + 1);
  assert.equal(sr.readUInt32BE(12), 2 ** 31);
  const sdes = buildSourceDescription(7, 'abc');
  assert.equal(sdes.length % 4, 0);
  assert.equal(sdes.toString('latin1', 10, 13), 'abc');
  const compound = buildSenderRtcp(
    { ssrc: 7, rtpTimestamp: 0, packetCount: 0, octetCount: 0 },
    'x',
  );
  assert.deepEqual(
    parseRtcpCompound(compound).map((p) => [p.packetType, p.ssrc]),
    [
      [200, 7],
      [202, 7],
    ],
  );
  assert.throws(() => parseRtcpCompound(compound.subarray(0, 30)), InvalidArgumentError);
  assert.throws(() => buildSourceDescription(1, ''), InvalidArgumentError);
});

/** The argument name an InvalidArgumentError must carry. */
function invalid(argument: string) {
  return (err: unknown): boolean =>
    err instanceof InvalidArgumentError &&
    err.code === 'MEDIASOCK_ERR_INVALID_ARG' &&
    err.argument === argument;
}

test('wrong types are InvalidArgumentError, never a TypeError', () => {
  const header = { payloadType: 33, sequenceNumber: 1, timestamp: 2, ssrc: 3 };
  for (const bad of [null, undefined, 42, 'rtp', true]) {
    assert.throws(() => buildRtpPacket(bad as never), invalid('packet'), String(bad));
    assert.throws(() => parseRtpHeader(bad as never), invalid('data'), String(bad));
    assert.throws(() => parseRtpPacket(bad as never), invalid('data'), String(bad));
    assert.throws(() => writeRtpHeader(bad as never, header), invalid('target'), String(bad));
    assert.throws(
      () => writeRtpHeader(Buffer.alloc(12), bad as never),
      invalid('header'),
      String(bad),
    );
    assert.throws(() => buildSenderReport(bad as never), invalid('sr'), String(bad));
    assert.throws(() => buildSenderRtcp(bad as never, 'cname'), invalid('sr'), String(bad));
  }
  assert.throws(() => writeRtpHeader(Buffer.alloc(11), header), invalid('target'));
  assert.throws(() => writeRtpHeader(new Uint8Array(12) as Buffer, header), invalid('target'));
  assert.throws(
    () => buildRtpPacket({ sequenceNumber: 1, timestamp: 2, ssrc: 3, payload: null as never }),
    invalid('payload'),
  );
  // A datagram that is not RTP is still `undefined`, not an error.
  assert.equal(parseRtpHeader(Buffer.alloc(4)), undefined);
});
