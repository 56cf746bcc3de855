import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parseResponse, serializeRequest, splitHeaderList } from '../../src/rtsp/message.js';
import type { RtspMessage } from '../../src/tcp/interleaved.js';
import { formatTransport, parseTransport } from '../../src/rtsp/transport-header.js';
import { keepaliveIntervalMs, parseSessionHeader } from '../../src/rtsp/session.js';
import { ErrorCodes, InvalidArgumentError, RtspProtocolError } from '../../src/errors.js';

const bounds = { maxHeaderBytes: 512, maxBodyBytes: 100 };

test('requests serialize with CSeq and Content-Length; header injection is refused', () => {
  const bytes = serializeRequest(
    {
      method: 'SET_PARAMETER',
      url: 'rtsp://h/x',
      headers: { Session: 'abc' },
      body: Buffer.from('a: b\r\n'),
    },
    7,
  );
  assert.equal(
    bytes.toString(),
    'SET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 7\r\nSession: abc\r\nContent-Length: 6\r\n\r\na: b\r\n',
  );
  assert.throws(
    () => serializeRequest({ method: 'GET', url: 'rtsp://h/x', headers: { X: 'a\r\nY: b' } }, 1),
    InvalidArgumentError,
  );
  assert.throws(
    () => serializeRequest({ method: 'BAD METHOD', url: 'rtsp://h/x', headers: {} }, 1),
    InvalidArgumentError,
  );
  assert.throws(
    () => serializeRequest({ method: 'GET', url: 'rtsp://h/ x', headers: {} }, 1),
    InvalidArgumentError,
  );
});

test('responses: status, reason, CSeq; bounds and malformed lines are typed errors', () => {
  const ok = parseResponse(
    { startLine: 'RTSP/1.0 200 OK', headers: { cseq: '3' }, body: Buffer.alloc(0) },
    bounds,
  );
  assert.deepEqual([ok.status, ok.reason, ok.cseq], [200, 'OK', 3]);
  const bad: RtspMessage[] = [
    { startLine: 'HTTP/1.1 200 OK', headers: { cseq: '1' }, body: Buffer.alloc(0) },
    { startLine: 'RTSP/1.0 2000 OK', headers: { cseq: '1' }, body: Buffer.alloc(0) },
    { startLine: 'RTSP/1.0 200 OK', headers: {}, body: Buffer.alloc(0) },
    { startLine: 'RTSP/1.0 200 OK', headers: { cseq: 'x' }, body: Buffer.alloc(0) },
  ];
  for (const m of bad) assert.throws(() => parseResponse(m, bounds), RtspProtocolError);
  assert.throws(
    () =>
      parseResponse(
        {
          startLine: 'RTSP/1.0 200 OK',
          headers: { cseq: '1', x: 'a'.repeat(600) },
          body: Buffer.alloc(0),
        },
        bounds,
      ),
    (e: { code: string; part: string }) =>
      e.code === ErrorCodes.RTSP_TOO_LARGE && e.part === 'header',
  );
  assert.throws(
    () =>
      parseResponse(
        { startLine: 'RTSP/1.0 200 OK', headers: { cseq: '1' }, body: Buffer.alloc(101) },
        bounds,
      ),
    (e: { code: string; part: string }) =>
      e.code === ErrorCodes.RTSP_TOO_LARGE && e.part === 'body',
  );
  assert.deepEqual(splitHeaderList('OPTIONS, DESCRIBE ,"a,b", ,PLAY'), [
    'OPTIONS',
    'DESCRIBE',
    '"a,b"',
    'PLAY',
  ]);
});

test('Transport replies: UDP, TCP, multicast with source; offers format back', () => {
  assert.deepEqual(
    parseTransport(
      'RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;ssrc=1A2B3C4D;source=127.0.0.1;mode="PLAY"',
    ),
    {
      protocol: 'RTP/AVP',
      delivery: 'unicast',
      clientPorts: [5000, 5001],
      serverPorts: [6000, 6001],
      ssrc: 0x1a2b3c4d,
      source: '127.0.0.1',
    },
  );
  assert.deepEqual(parseTransport('RTP/AVP/TCP;unicast;interleaved=2-3'), {
    protocol: 'RTP/AVP/TCP',
    delivery: 'unicast',
    interleaved: [2, 3],
  });
  assert.deepEqual(
    parseTransport(
      'RTP/AVP/UDP;multicast;destination=232.1.1.1;port=5000-5001;ttl=1;source=10.0.0.1',
    ),
    {
      protocol: 'RTP/AVP',
      delivery: 'multicast',
      destination: '232.1.1.1',
      ports: [5000, 5001],
      ttl: 1,
      source: '10.0.0.1',
    },
  );
  assert.deepEqual(parseTransport('RTP/AVP;unicast;server_port=6000').serverPorts, [6000, 6001]);
  for (const bad of [
    'RAW/RAW/UDP;unicast',
    'RTP/AVP;unicast;client_port=a-b',
    'RTP/AVP;ttl=300',
    'RTP/AVP/TCP;interleaved=256-257',
  ]) {
    assert.throws(() => parseTransport(bad), RtspProtocolError, bad);
  }
  assert.equal(
    formatTransport({ protocol: 'RTP/AVP', delivery: 'unicast', clientPorts: [5000, 5001] }),
    'RTP/AVP;unicast;client_port=5000-5001',
  );
});

test('Session header: id and timeout; keepalive at half the timeout', () => {
  assert.deepEqual(parseSessionHeader('VWG.9jxJvjJW_Q4g;timeout=3'), {
    id: 'VWG.9jxJvjJW_Q4g',
    timeoutS: 3,
  });
  assert.deepEqual(parseSessionHeader('12345678'), { id: '12345678', timeoutS: 60 });
  for (const bad of ['', ';timeout=3', 'a b', 'id;timeout=x', 'id;timeout=0']) {
    assert.throws(() => parseSessionHeader(bad), RtspProtocolError, bad);
  }
  assert.equal(keepaliveIntervalMs(60), 30_000);
  assert.equal(keepaliveIntervalMs(2), 1000);
  assert.equal(keepaliveIntervalMs(1), 500);
});
