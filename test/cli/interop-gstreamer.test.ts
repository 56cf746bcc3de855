/**
 * Interop with GStreamer 1.22 on loopback: `udpsrc num-buffers=N` receives exactly what
 * `mediasock send --count N` sends, and `mediasock recv` counts RTP/MP2T from `rtpmp2tpay`
 * without loss or continuity errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { commandSkipReason } from '../helpers/capabilities.js';
import { withBoundPeer } from '../helpers/udp-port.js';
import { freePort, runCli, startCli, startTool, summary } from './cli-process.js';

const skip = commandSkipReason(
  'gst-launch-1.0',
  'GStreamer is the interop peer; .ci/run installs gstreamer1.0-tools',
);

test('gst udpsrc receives every datagram mediasock send makes', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-gst-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'received.ts');
  // udpsrc binds a port picked a moment before; retried once if another process took it.
  const { peer: gst, port } = await withBoundPeer(
    freePort,
    (p) =>
      startTool(
        'gst-launch-1.0',
        [
          '-q',
          'udpsrc',
          `port=${p}`,
          'address=127.0.0.1',
          'num-buffers=150',
          '!',
          'filesink',
          `location=${out}`,
        ],
        30_000,
      ),
    { describe: (peer) => peer.stderr().trim().split('\n').slice(-2).join(' | ') },
  );
  t.after(() => gst.kill());
  const send = await runCli([
    'send',
    `udp://127.0.0.1:${port}`,
    '--count',
    '150',
    '--pps',
    '300',
    '--json',
  ]);
  assert.equal(send.code, 0, send.stderr);
  const r = await gst.done;
  assert.equal(r.code, 0, r.stderr);
  const data = readFileSync(out);
  assert.equal(data.length, 150 * 1316);
  // The generated pattern: PID 0x100, continuity counter and a packet counter in order.
  for (let i = 0, n = 0; i < data.length; i += 188, n++) {
    assert.equal(data[i], 0x47);
    assert.equal((data[i + 3] ?? 0) & 0x0f, n & 0x0f);
    assert.equal(data.readUInt32BE(i + 4), n);
  }
});

test('mediasock recv counts RTP/MP2T from gst rtpmp2tpay without loss', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-gst-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // 300 TS packets with in-order continuity counters on one PID.
  const file = join(dir, 'pattern.ts');
  const ts = Buffer.alloc(300 * 188, 0xff);
  for (let n = 0; n < 300; n++) {
    const i = n * 188;
    ts[i] = 0x47;
    ts[i + 1] = 0x01;
    ts[i + 2] = 0x00;
    ts[i + 3] = 0x10 | (n & 0x0f);
  }
  writeFileSync(file, ts);
  const recv = startCli(
    ['recv', 'rtp://@127.0.0.1:0', '--json', '--count', String((300 / 7) | 0), '--duration', '25'],
    {
      timeoutMs: 40_000,
    },
  );
  const { port } = (await recv.firstRecord('start')) as { port: number };
  const gst = await startTool(
    'gst-launch-1.0',
    [
      '-q',
      'filesrc',
      `location=${file}`,
      'blocksize=1316',
      '!',
      'video/mpegts,systemstream=(boolean)true,packetsize=(int)188',
      '!',
      'rtpmp2tpay',
      '!',
      'udpsink',
      'host=127.0.0.1',
      `port=${port}`,
    ],
    30_000,
  ).done;
  assert.equal(gst.code, 0, gst.stderr);
  const r = await recv.done;
  assert.equal(r.code, 0, r.stderr);
  const s = summary(r.stdout);
  assert.equal(s.packets, 42);
  assert.equal(s.lost, 0);
  assert.equal(s.duplicates, 0);
  assert.equal(s.reordered, 0);
  assert.equal(s.ts_cc_errors, 0);
  assert.equal(s.ts_packets, 42 * 7);
});
