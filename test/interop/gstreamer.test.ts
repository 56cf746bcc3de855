/**
 * Interop with GStreamer 1.22 (`gst-launch-1.0`, Debian's gstreamer1.0-tools and -plugins-good,
 * installed by .ci/run): mediasock receives what `udpsink` sends, and sends what `udpsrc` counts
 * exactly. Loopback only; the multicast case pins `lo` with TTL 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { Datagram } from '../../src/udp/udp-socket.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { withBoundPeer } from '../helpers/udp-port.js';

const skip = commandSkipReason(
  'gst-launch-1.0',
  'GStreamer is the interop peer; .ci/run installs gstreamer1.0-tools',
);
const kSize = 1316;
const kCount = 200;

function pattern(i: number): Buffer {
  const b = Buffer.alloc(kSize);
  for (let j = 0; j < kSize; j++) b[j] = (i * 7 + j) & 0xff;
  b.writeUInt32BE(i, 0);
  return b;
}

interface Gst {
  /** Resolves when gst-launch has exited. */
  done: Promise<{ code: number | null; stderr: string }>;
  /** Process id, to tell its sockets from other processes' in /proc. */
  pid: number;
  /** Whether it has exited (a bind failure ends it at once). */
  exited(): boolean;
  stderr(): string;
  kill(): void;
}

function gst(args: string[], timeoutMs: number): Gst {
  const child = spawn('gst-launch-1.0', ['-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let gone = false;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  child.once('exit', () => (gone = true));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      gone = true;
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
  return {
    done,
    pid: child.pid ?? -1,
    exited: () => gone,
    stderr: () => stderr,
    kill: () => child.kill('SIGKILL'),
  };
}

async function freePort(): Promise<number> {
  const probe = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', exclusive: true });
  const { port } = probe.address();
  await probe.close();
  return port;
}

async function receiveAll(rx: UdpSocket, count: number, timeoutMs: number): Promise<Datagram[]> {
  const got: Datagram[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  while (got.length < count) got.push(await rx.receive({ signal }));
  return got;
}

test(
  'mediasock receives what GStreamer udpsink sends (unicast)',
  { skip: skip ?? false },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mediasock-gst-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'in.bin');
    writeFileSync(file, Buffer.concat(Array.from({ length: kCount }, (_, i) => pattern(i))));

    const rx = await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      recvBufferBytes: 4 << 20,
    });
    t.after(() => rx.close());
    const all = receiveAll(rx, kCount, 20_000);
    const sender = gst(
      [
        'filesrc',
        `location=${file}`,
        `blocksize=${kSize}`,
        '!',
        'udpsink',
        'host=127.0.0.1',
        `port=${rx.address().port}`,
        'sync=false',
      ],
      20_000,
    );
    const { code, stderr } = await sender.done;
    assert.equal(code, 0, stderr);
    const got = await all;
    assert.equal(got.length, kCount);
    got.forEach((d, i) =>
      assert.ok(d.data.equals(pattern(i)), `datagram ${i} intact and in order`),
    );
  },
);

test(
  'mediasock receives GStreamer multicast on lo (udpsink multicast-iface=lo ttl-mc=0)',
  { skip: skip ?? false },
  async (t) => {
    const group = '239.255.50.1';
    const rx = await UdpSocket.open({
      type: 'udp4',
      address: group,
      reuseAddr: true,
      recvBufferBytes: 4 << 20,
    });
    t.after(() => rx.close());
    rx.addMembership(group, 'lo');
    const count = 50;
    const all = receiveAll(rx, count, 20_000);
    const sender = gst(
      [
        'fakesrc',
        `num-buffers=${count}`,
        'sizetype=fixed',
        `sizemax=${kSize}`,
        'filltype=nothing',
        '!',
        'udpsink',
        `host=${group}`,
        `port=${rx.address().port}`,
        'multicast-iface=lo',
        'ttl-mc=0',
        'loop=true',
        'auto-multicast=true',
        'sync=false',
      ],
      20_000,
    );
    const { code, stderr } = await sender.done;
    assert.equal(code, 0, stderr);
    const got = await all;
    assert.equal(got.length, count);
    for (const d of got) assert.equal(d.data.length, kSize);
  },
);

test('GStreamer udpsrc counts exactly what mediasock sends', { skip: skip ?? false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-gst-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'out.bin');
  // udpsrc binds a port probed free a moment before; if another process took it in between,
  // udpsrc exits with a bind error and the step is retried once on a new port.
  const { peer: receiver, port } = await withBoundPeer(
    freePort,
    (p) =>
      gst(
        [
          'udpsrc',
          'address=127.0.0.1',
          `port=${p}`,
          `num-buffers=${kCount}`,
          'buffer-size=4194304',
          '!',
          'filesink',
          `location=${out}`,
        ],
        30_000,
      ),
    { describe: (g) => g.stderr().trim().split('\n').slice(-2).join(' | ') },
  );
  t.after(() => receiver.kill());

  const tx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  t.after(() => tx.close());
  for (let i = 0; i < kCount; i++) await tx.send(pattern(i), port, '127.0.0.1');
  const { code, stderr } = await receiver.done;
  assert.equal(code, 0, stderr);
  const written = readFileSync(out);
  assert.equal(written.length, kCount * kSize, 'udpsrc got exactly the datagrams sent');
  for (let i = 0; i < kCount; i++)
    assert.ok(written.subarray(i * kSize, (i + 1) * kSize).equals(pattern(i)), `datagram ${i}`);
  assert.equal(tx.stats.packetsSent, kCount);
});
