import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parseSdp, resolveControl } from '../../src/rtsp/sdp.js';
import { ErrorCodes, SdpError } from '../../src/errors.js';

const GST = [
  'v=0',
  'o=- 1188340656180883 1 IN IP4 127.0.0.1',
  's=Session streamed with GStreamer',
  'c=IN IP4 0.0.0.0',
  't=0 0',
  'a=tool:GStreamer',
  'a=range:npt=now-',
  'a=control:*',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 packetization-mode=1;profile-level-id=42c00d',
  'a=control:stream=0',
  'm=audio 0 RTP/AVP 0',
  'a=control:stream=1',
  'm=video 5000 RTP/AVP 33',
  'c=IN IP4 239.255.42.1/1',
  'a=control:rtsp://other.example/abs',
  '',
].join('\r\n');

test('a GStreamer description: media, rtpmap (static and dynamic), fmtp, controls', () => {
  const sdp = parseSdp(GST, 'rtsp://127.0.0.1:8554/av/');
  assert.equal(sdp.name, 'Session streamed with GStreamer');
  assert.equal(sdp.controlUrl, 'rtsp://127.0.0.1:8554/av/');
  assert.equal(sdp.range, 'npt=now-');
  assert.equal(sdp.media.length, 3);
  const [video, audio, ts] = sdp.media;
  assert.deepEqual(video?.rtpmap[96], { encoding: 'H264', clockRate: 90000 });
  assert.equal(video?.fmtp[96], 'packetization-mode=1;profile-level-id=42c00d');
  assert.equal(video?.controlUrl, 'rtsp://127.0.0.1:8554/av/stream=0');
  assert.deepEqual(audio?.rtpmap[0], { encoding: 'PCMU', clockRate: 8000, parameters: '1' });
  assert.equal(audio?.controlUrl, 'rtsp://127.0.0.1:8554/av/stream=1');
  assert.equal(ts?.rtpmap[33]?.encoding, 'MP2T');
  assert.equal(ts?.connection, '239.255.42.1/1');
  assert.equal(ts?.controlUrl, 'rtsp://other.example/abs');
  assert.equal(sdp.connection, '0.0.0.0');
  assert.ok(sdp.attributes.includes('tool:GStreamer'));
});

test('control resolution: base without a slash, absolute session control, root-relative', () => {
  assert.equal(resolveControl('trackID=1', 'rtsp://h/stream'), 'rtsp://h/stream/trackID=1');
  assert.equal(resolveControl('*', 'rtsp://h/s/'), 'rtsp://h/s/');
  assert.equal(resolveControl(undefined, 'rtsp://h/s'), 'rtsp://h/s');
  assert.equal(resolveControl('/x/y', 'rtsp://h:554/s/t'), 'rtsp://h:554/x/y');
  const sdp = parseSdp(
    'v=0\r\ns=x\r\na=control:rtsp://h/agg\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:t1\r\n',
    'rtsp://base/other',
  );
  assert.equal(sdp.controlUrl, 'rtsp://h/agg');
  assert.equal(sdp.media[0]?.controlUrl, 'rtsp://h/agg/t1');
});

test('bad descriptions are SdpError with the line number', () => {
  const cases: Array<[string, number]> = [
    ['', 0],
    ['s=no version\r\n', 1],
    ['v=0\r\ns=x\r\n', 0],
    ['v=0\r\nnot a line\r\n', 2],
    ['v=0\r\nm=video x RTP/AVP 96\r\n', 2],
    ['v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264\r\n', 3],
    ['v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/0\r\n', 3],
    ['v=0\r\nc=IN IP9 x\r\nm=video 0 RTP/AVP 96\r\n', 2],
  ];
  for (const [text, line] of cases) {
    assert.throws(
      () => parseSdp(text, 'rtsp://h/'),
      (err: SdpError) => err.code === ErrorCodes.SDP && err.line === line,
      JSON.stringify(text),
    );
  }
  assert.throws(() => parseSdp('v=0\r\n'.repeat(5000), 'rtsp://h/'), SdpError);
});
