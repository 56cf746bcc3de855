/**
 * RtspConnection with requests in flight at once, against a scripted server on 127.0.0.1 (real
 * sockets): a request given up on (time limit, abort) can still be answered later, and that late
 * answer must neither fail the other pending requests nor close the connection. A response whose
 * CSeq was never sent still loses framing and closes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RtspConnection } from '../../src/rtsp/connection.js';
import { ErrorCodes, type MediasockError } from '../../src/errors.js';
import { assertFdsBackToBaseline, openFdCount } from '../helpers/fds.js';
import { within } from '../helpers/settle.js';
import { reply, startScriptedServer, type ScriptedServer } from './scripted-server.js';

/**
 * A server that answers `GET_PARAMETER /late` only after `/next` was asked (so the late answer
 * comes after the client gave up on it), then answers `/next`.
 */
async function lateServer(): Promise<ScriptedServer> {
  let late: string | undefined;
  return startScriptedServer((r, socket) => {
    if (r.url.endsWith('/late')) {
      late = r.cseq;
      return 'ignore';
    }
    if (r.url.endsWith('/next')) {
      const next = reply(r.cseq, '200 OK', { 'X-Which': 'next' });
      // The late answer first, then the next one after a pause, in separate writes.
      if (late !== undefined) socket.write(reply(late, '200 OK', { 'X-Which': 'late' }));
      setTimeout(() => {
        if (!socket.destroyed) socket.write(next);
      }, 100);
      return 'ignore';
    }
    return reply(r.cseq, '200 OK');
  });
}

async function connect(server: ScriptedServer): Promise<RtspConnection> {
  return RtspConnection.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5000 });
}

test('a late response to a request that timed out leaves the next request and the connection alone', async () => {
  const server = await lateServer();
  const baseline = openFdCount();
  const connection = await connect(server);
  let closeError: MediasockError | undefined;
  connection.on('close', (e) => (closeError = e));
  try {
    await assert.rejects(
      within(
        connection.request(
          { method: 'GET_PARAMETER', url: server.url('/late'), headers: {} },
          { timeoutMs: 200 },
        ),
        5000,
        'the late request',
      ),
      (err: MediasockError) => err.code === ErrorCodes.TIMEOUT,
    );
    const response = await within(
      connection.request(
        { method: 'GET_PARAMETER', url: server.url('/next'), headers: {} },
        { timeoutMs: 5000 },
      ),
      8000,
      'the next request',
    );
    assert.equal(response.headers['x-which'], 'next');
    assert.equal(
      connection.closed,
      false,
      `closed with ${closeError?.code}: ${closeError?.message}`,
    );
    // The connection still works afterwards.
    const again = await within(
      connection.request(
        { method: 'OPTIONS', url: server.url('/x'), headers: {} },
        { timeoutMs: 5000 },
      ),
      8000,
      'a third request',
    );
    assert.equal(again.status, 200);
  } finally {
    await connection.close();
    await server.close();
  }
  await assertFdsBackToBaseline(baseline);
});

test('a late response to an aborted request does not fail a request pending beside it', async () => {
  const server = await lateServer();
  const baseline = openFdCount();
  const connection = await connect(server);
  try {
    const controller = new AbortController();
    const first = connection.request(
      { method: 'GET_PARAMETER', url: server.url('/late'), headers: {} },
      { timeoutMs: 5000, signal: controller.signal },
    );
    controller.abort();
    await assert.rejects(
      within(first, 5000, 'the aborted request'),
      (err: MediasockError) => err.code === ErrorCodes.ABORTED,
    );
    // Two concurrent requests: the /next one triggers the late answer while both are pending.
    const [next, options] = await within(
      Promise.all([
        connection.request(
          { method: 'GET_PARAMETER', url: server.url('/next'), headers: {} },
          { timeoutMs: 5000 },
        ),
        connection.request(
          { method: 'OPTIONS', url: server.url('/x'), headers: {} },
          { timeoutMs: 5000 },
        ),
      ]),
      8000,
      'the concurrent requests',
    );
    assert.equal(next.headers['x-which'], 'next');
    assert.equal(options.status, 200);
    assert.equal(connection.closed, false);
  } finally {
    await connection.close();
    await server.close();
  }
  await assertFdsBackToBaseline(baseline);
});

test('a response with a CSeq that was never sent still fails the pending request and closes', async () => {
  const server = await startScriptedServer((r) => reply(String(Number(r.cseq) + 100), '200 OK'));
  const baseline = openFdCount();
  const connection = await connect(server);
  try {
    await assert.rejects(
      within(
        connection.request(
          { method: 'OPTIONS', url: server.url('/x'), headers: {} },
          { timeoutMs: 5000 },
        ),
        8000,
        'the request',
      ),
      (err: MediasockError) => err.code === ErrorCodes.RTSP_PROTOCOL,
    );
    assert.equal(connection.closed, true);
  } finally {
    await connection.close();
    await server.close();
  }
  await assertFdsBackToBaseline(baseline);
});
