/**
 * The client's `signal` aborting after `open()` resolved, against a scripted server on 127.0.0.1
 * (real sockets): the session is torn down (TEARDOWN reaches the server), `'close'` is emitted and
 * every descriptor is released, at once rather than at the next keepalive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RtspClient } from '../../src/rtsp/client.js';
import { assertFdsBackToBaseline, openFdCount } from '../helpers/fds.js';
import { reply, standard, startScriptedServer } from './scripted-server.js';

test('an abort after open() tears the session down at once', async () => {
  const server = await startScriptedServer((r, _socket, base) => {
    if (r.method === 'SETUP') {
      return reply(r.cseq, '200 OK', {
        Session: 'abc123;timeout=60',
        Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1',
      });
    }
    if (r.method === 'PLAY' || r.method === 'TEARDOWN') {
      return reply(r.cseq, '200 OK', { Session: 'abc123' });
    }
    return standard(r, base) ?? reply(r.cseq, '200 OK');
  });
  const baseline = openFdCount();
  const controller = new AbortController();
  try {
    const client = await RtspClient.open(server.url('/x'), {
      transport: 'tcp',
      requestTimeoutMs: 5000,
      signal: controller.signal,
    });
    let timer: NodeJS.Timeout | undefined;
    const closed = new Promise<string>((resolve) => {
      client.once('close', () => resolve('closed'));
      // The keepalive (half of the 60 s session timeout) is far beyond this limit.
      timer = setTimeout(() => resolve('not closed within 3 s'), 3000);
    });
    controller.abort();
    assert.equal(await closed, 'closed');
    clearTimeout(timer);
    assert.ok(
      server.requests.some((r) => r.method === 'TEARDOWN'),
      `requests: ${server.requests.map((r) => r.method).join(' ')}`,
    );
    await client.close(); // idempotent after the abort
    await assertFdsBackToBaseline(baseline);
  } finally {
    controller.abort();
    await server.close();
  }
});
