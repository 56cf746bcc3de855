/**
 * The RTSP commands are wired into the command line: `recv rtsp://…` takes the RTSP path (a
 * refused connection is one line and exit 1), `rtsp describe` checks its arguments (exit 2).
 * The sessions themselves are tested against the GStreamer RTSP server in test/rtsp/.
 */
import assert from 'node:assert/strict';
import test from 'node:test';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import { startCli } from './cli-process.js';

test('recv rtsp:// to a closed port: one line on stderr, exit 1, no stack', async () => {
  // A TCP port nobody listens on: the UDP port of a socket we hold (TCP and UDP ports differ, but
  // nothing on this machine listens on a random high TCP port we just picked).
  const probe = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const port = probe.address().port;
  await probe.close();
  const r = await startCli(['recv', `rtsp://127.0.0.1:${port}/stream`, '--timeout', '2']).done;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /ECONNREFUSED/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('rtsp describe without a URL is a usage error', async () => {
  const r = await startCli(['rtsp', 'describe']).done;
  assert.equal(r.code, 2, r.stderr);
  const help = await startCli(['--help']).done;
  assert.match(help.stdout, /rtsp describe URL/);
});
