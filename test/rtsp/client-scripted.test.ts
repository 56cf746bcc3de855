/**
 * The RTSP client against a scripted server on 127.0.0.1 (real sockets), for what a well-behaved
 * server never does: each failure is a typed error with its code and nothing is left open
 * afterwards; plus redirects, interleaved data with junk, auto's fallback when UDP data never
 * comes, and a source-filtered multicast join (232/8 and 239/8) pinned to lo with TTL 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RtspClient } from '../../src/rtsp/client.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { ErrorCodes, type MediasockError } from '../../src/errors.js';
import { assertFdsBackToBaseline, openFdCount } from '../helpers/fds.js';
import {
  reply,
  standard,
  startScriptedServer,
  type ScriptedAction,
  type ScriptedRequest,
} from './scripted-server.js';

type Script = (request: ScriptedRequest, base: string) => ScriptedAction;

async function expectFailure(
  script: Script,
  code: string,
  options: Parameters<typeof RtspClient.open>[1] = {},
  check?: (err: MediasockError) => void,
): Promise<void> {
  const server = await startScriptedServer((r, _s, base) => script(r, base));
  const baseline = openFdCount();
  try {
    await assert.rejects(
      RtspClient.open(server.url('/x'), { transport: 'tcp', requestTimeoutMs: 1500, ...options }),
      (err: MediasockError) => {
        assert.equal(err.code, code, `${err.code}: ${err.message}`);
        check?.(err);
        return true;
      },
    );
    await assertFdsBackToBaseline(baseline);
  } finally {
    await server.close();
  }
}

/** A SETUP/PLAY that succeeds over TCP interleaved. */
function playing(r: ScriptedRequest): ScriptedAction | undefined {
  if (r.method === 'SETUP') {
    return reply(r.cseq, '200 OK', {
      Session: 'abc123;timeout=60',
      Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1',
    });
  }
  if (r.method === 'PLAY' || r.method === 'TEARDOWN') {
    return reply(r.cseq, '200 OK', { Session: 'abc123' });
  }
  return undefined;
}

test('a status line that is not RTSP is RtspProtocolError', async () => {
  await expectFailure(
    (r) => (r.method === 'OPTIONS' ? `HTTP/1.1 200 OK\r\nCSeq: ${r.cseq}\r\n\r\n` : 'ignore'),
    ErrorCodes.RTSP_PROTOCOL,
  );
});

test('a response without CSeq is RtspProtocolError', async () => {
  await expectFailure(() => 'RTSP/1.0 200 OK\r\nServer: x\r\n\r\n', ErrorCodes.RTSP_PROTOCOL);
});

test('headers over maxHeaderBytes are RtspMessageTooLargeError (header)', async () => {
  await expectFailure(
    (r) => `RTSP/1.0 200 OK\r\nCSeq: ${r.cseq}\r\nX-Pad: ${'a'.repeat(4000)}\r\n`,
    ErrorCodes.RTSP_TOO_LARGE,
    { maxHeaderBytes: 1024, maxBodyBytes: 1024 },
    (err) => assert.equal((err as unknown as { part: string }).part, 'header'),
  );
});

test('a body over maxBodyBytes is RtspMessageTooLargeError (body)', async () => {
  await expectFailure(
    (r, base) =>
      r.method === 'DESCRIBE'
        ? reply(r.cseq, '200 OK', { 'Content-Base': base }, 'v=0\r\n'.padEnd(5000, 'x'))
        : (standard(r, base) ?? 'ignore'),
    ErrorCodes.RTSP_TOO_LARGE,
    { maxBodyBytes: 2048 },
    (err) => assert.equal((err as unknown as { part: string }).part, 'body'),
  );
});

test('SDP that does not parse is SdpError', async () => {
  await expectFailure(
    (r, base) => standard(r, base, 'v=0\r\ns=x\r\nm=video zero RTP/AVP 96\r\n') ?? 'ignore',
    ErrorCodes.SDP,
  );
});

test('no answer within requestTimeoutMs is TimeoutError naming the method', async () => {
  await expectFailure(
    (r, base) => (r.method === 'DESCRIBE' ? 'ignore' : (standard(r, base) ?? 'ignore')),
    ErrorCodes.TIMEOUT,
    { requestTimeoutMs: 300 },
    (err) => assert.match(err.message, /^RTSP DESCRIBE rtsp:\/\/127\.0\.0\.1:\d+\/x timed out/),
  );
});

test('404 is RtspStatusError with the status', async () => {
  await expectFailure(
    (r) => reply(r.cseq, '404 Not Found'),
    ErrorCodes.RTSP_STATUS,
    {},
    (err) => assert.equal((err as unknown as { status: number }).status, 404),
  );
});

test('a Transport reply the client did not offer is RtspTransportError', async () => {
  await expectFailure(
    (r, base) =>
      r.method === 'SETUP'
        ? reply(r.cseq, '200 OK', { Session: 's1', Transport: 'RTP/AVP;unicast;server_port=1-2' })
        : (standard(r, base) ?? reply(r.cseq, '200 OK')),
    ErrorCodes.RTSP_TRANSPORT,
  );
});

test('a 401 without credentials is RtspAuthError', async () => {
  await expectFailure(
    (r) => reply(r.cseq, '401 Unauthorized', { 'WWW-Authenticate': 'Basic realm="x"' }),
    ErrorCodes.RTSP_UNAUTHORIZED,
  );
});

test('an abort signal ends open() with AbortError', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  await expectFailure(
    (r, base) => (r.method === 'DESCRIBE' ? 'ignore' : (standard(r, base) ?? 'ignore')),
    ErrorCodes.ABORTED,
    { signal: controller.signal, requestTimeoutMs: 5000 },
  );
});

test('the server closing mid-session ends it with RtspConnectionClosedError', async () => {
  let sessionSocketClose: (() => void) | undefined;
  const server = await startScriptedServer((r, socket, base) => {
    sessionSocketClose = () => socket.destroy();
    return standard(r, base) ?? playing(r) ?? 'ignore';
  });
  const baseline = openFdCount();
  try {
    const client = await RtspClient.open(server.url('/x'), { transport: 'tcp' });
    const closed = new Promise<MediasockError | undefined>((resolve) =>
      client.once('close', resolve),
    );
    sessionSocketClose?.();
    const error = await closed;
    assert.equal(error?.code, ErrorCodes.RTSP_CLOSED);
    await client.close();
    await assertFdsBackToBaseline(baseline);
  } finally {
    await server.close();
  }
});

test('a 302 to another server is followed; TEARDOWN on close', async () => {
  const target = await startScriptedServer(
    (r, _s, base) => standard(r, base) ?? playing(r) ?? 'ignore',
  );
  const front = await startScriptedServer((r) =>
    reply(r.cseq, '302 Moved', { Location: target.url('/moved') }),
  );
  try {
    const client = await RtspClient.open(front.url('/x'), { transport: 'tcp' });
    assert.equal(client.sdp?.media[0]?.controlUrl, target.url('/stream=0'));
    assert.equal(target.requests[1]?.url, target.url('/moved'), 'DESCRIBE of the new location');
    await client.close();
    const methods = target.requests.map((r) => r.method);
    assert.deepEqual(methods, ['OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY', 'TEARDOWN']);
    assert.equal(target.requests.at(-1)?.headers.session, 'abc123');
  } finally {
    await front.close();
    await target.close();
  }
});

test('interleaved RTP on the control connection reaches the client; junk frames are counted', async () => {
  const server = await startScriptedServer((r, socket, base) => {
    const action = standard(r, base) ?? playing(r) ?? 'ignore';
    if (r.method === 'PLAY') {
      setImmediate(() => {
        for (let seq = 0; seq < 10; seq++) {
          const rtp = Buffer.alloc(12 + 188);
          rtp[0] = 0x80;
          rtp[1] = 33;
          rtp.writeUInt16BE(seq === 5 ? 4 : seq, 2); // one duplicate
          rtp.writeUInt32BE(seq * 3000, 4);
          rtp.writeUInt32BE(0x1234, 8);
          socket.write(Buffer.concat([Buffer.from([0x24, 0, 0, rtp.length]), rtp]));
        }
        socket.write(Buffer.from([0x24, 0, 0, 3, 1, 2, 3])); // too short to be RTP
      });
    }
    return action;
  });
  try {
    const client = await RtspClient.open(server.url('/x'), { transport: 'tcp' });
    for (let i = 0; i < 100 && (client.stats()[0]?.packets ?? 0) < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [s] = client.stats();
    assert.equal(s?.packets, 10);
    assert.equal(s?.duplicates, 1);
    assert.equal(s?.lost, 1, 'sequence 5 never came');
    assert.equal(s?.malformedRtp, 1);
    await client.close();
  } finally {
    await server.close();
  }
});

test('auto: no UDP data within autoTimeoutMs → TEARDOWN, SETUP over TCP, data flows', async () => {
  let tcp = false;
  const server = await startScriptedServer((r, socket, base) => {
    const std = standard(r, base);
    if (std !== undefined) return std;
    if (r.method === 'SETUP') {
      tcp = (r.headers.transport ?? '').startsWith('RTP/AVP/TCP');
      const transport = tcp
        ? 'RTP/AVP/TCP;unicast;interleaved=0-1'
        : `${r.headers.transport ?? ''};server_port=9-10`;
      return reply(r.cseq, '200 OK', { Session: tcp ? 'two' : 'one', Transport: transport });
    }
    if (r.method === 'PLAY' && tcp) {
      setImmediate(() => {
        for (let seq = 0; seq < 5; seq++) {
          const rtp = Buffer.alloc(12 + 188);
          rtp[0] = 0x80;
          rtp[1] = 33;
          rtp.writeUInt16BE(seq, 2);
          socket.write(Buffer.concat([Buffer.from([0x24, 0, 0, rtp.length]), rtp]));
        }
      });
    }
    return reply(r.cseq, '200 OK');
  });
  const baseline = openFdCount();
  try {
    const client = await RtspClient.open(server.url('/x'), { autoTimeoutMs: 500 });
    assert.equal(client.transport, 'tcp');
    for (let i = 0; i < 100 && (client.stats()[0]?.packets ?? 0) < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(client.stats()[0]?.packets, 5);
    await client.close();
    const trace = server.requests.map(
      (r) => `${r.method}${r.headers.session ? `(${r.headers.session})` : ''}`,
    );
    assert.deepEqual(trace, [
      'OPTIONS',
      'DESCRIBE',
      'SETUP',
      'PLAY(one)',
      'TEARDOWN(one)',
      'SETUP',
      'PLAY(two)',
      'TEARDOWN(two)',
    ]);
    await assertFdsBackToBaseline(baseline);
  } finally {
    await server.close();
  }
});

for (const group of ['232.0.9.17', '239.255.9.17']) {
  test(`multicast with a source on ${group} joins source-filtered (on lo, TTL 0): other sources never reach the socket`, async () => {
    const base = 40000 + 2 * Math.floor(Math.random() * 5000);
    const server = await startScriptedServer((r, _socket, b) => {
      const std = standard(r, b);
      if (std !== undefined) return std;
      if (r.method === 'SETUP') {
        return reply(r.cseq, '200 OK', {
          Session: 'm1',
          Transport: `RTP/AVP;multicast;destination=${group};port=${base}-${base + 1};ttl=0;source=127.0.0.2`,
        });
      }
      return reply(r.cseq, '200 OK');
    });
    const open = (address: string) =>
      UdpSocket.open({ type: 'udp4', address, multicastInterface: 'lo', multicastTtl: 0 });
    const wanted = await open('127.0.0.2');
    const other = await open('127.0.0.3');
    try {
      const client = await RtspClient.open(server.url('/x'), {
        transport: 'multicast',
        multicastInterface: 'lo',
      });
      assert.equal(
        client.stats()[0]?.transport,
        `multicast 127.0.0.2@${group}:${base}-${base + 1} ttl=0`,
      );
      for (let seq = 0; seq < 10; seq++) {
        const rtp = Buffer.alloc(12 + 188);
        rtp[0] = 0x80;
        rtp[1] = 33;
        rtp.writeUInt16BE(seq, 2);
        rtp.writeUInt32BE(seq === 0 ? 1 : 2, 8);
        await other.send(rtp, base, group);
        rtp.writeUInt32BE(7, 8);
        await wanted.send(rtp, base, group);
      }
      for (let i = 0; i < 100 && (client.stats()[0]?.packets ?? 0) < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const [s] = client.stats();
      assert.equal(s?.packets, 10);
      assert.equal(s?.ssrc, 7, 'only the source the server named');
      assert.equal(s?.lost, 0);
      // The kernel filtered them (an INCLUDE join), not the client after the fact.
      assert.equal(s?.foreignSource, 0, 'no datagram of another source reached the socket');
      await client.close();
    } finally {
      await wanted.close();
      await other.close();
      await server.close();
    }
  });
}
