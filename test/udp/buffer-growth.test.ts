/**
 * Grow-only buffers (live555's `increaseReceiveBufferTo` / `increaseSendBufferTo`) on real
 * sockets, both engines: a smaller request leaves the buffer as it is (where `setRecvBufferSize`
 * shrinks it), a larger one grows it to what the kernel grants, and a buffer forced past
 * `rmem_max` at open is not pulled back down to the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { UdpEngine } from '../../src/udp/udp-socket.js';
import { increaseRecvBufferTo, increaseSendBufferTo } from '../../src/udp/buffer-growth.js';
import { InvalidArgumentError, SocketClosedError } from '../../src/errors.js';
import { loadNative } from '../../src/native/index.js';

const binding = loadNative();
const engines: UdpEngine[] =
  binding !== undefined &&
  process.platform === 'linux' &&
  typeof (binding as unknown as Record<string, unknown>).msock_batch_open === 'function'
    ? ['node', 'batch']
    : ['node'];

function sysctl(name: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(`/proc/sys/net/core/${name}`, 'utf8'), 10);
  } catch {
    return undefined;
  }
}

for (const engine of engines) {
  test(`${engine}: increaseRecvBufferTo and increaseSendBufferTo only ever grow`, async () => {
    const s = await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      engine,
      recvBufferBytes: 65536,
      sendBufferBytes: 65536,
    });
    try {
      const rcv = s.recvBufferBytes;
      const snd = s.sendBufferBytes;
      assert.equal(increaseRecvBufferTo(s, 4096), rcv, 'a smaller request changes nothing');
      assert.equal(s.recvBufferBytes, rcv);
      assert.equal(increaseSendBufferTo(s, 4096), snd);
      assert.equal(s.sendBufferBytes, snd);
      const rmax = sysctl('rmem_max');
      const grown = increaseRecvBufferTo(s, 1 << 20);
      assert.equal(grown, s.recvBufferBytes);
      if (rmax === undefined || rmax > 65536) assert.ok(grown > rcv, `${grown} > ${rcv}`);
      if (rmax !== undefined)
        assert.equal(grown, 2 * Math.min(1 << 20, rmax), 'Linux: 2 x request, clamped');
      const sent = increaseSendBufferTo(s, 1 << 20);
      assert.ok(sent >= snd);
      // The plain setter, by contrast, shrinks.
      assert.ok(s.setRecvBufferSize(4096) < grown);
    } finally {
      await s.close();
    }
    assert.throws(() => increaseRecvBufferTo(s, 1 << 20), SocketClosedError);
    assert.throws(() => increaseRecvBufferTo({} as UdpSocket, 1), InvalidArgumentError);
    assert.throws(() => increaseRecvBufferTo(s, 0), InvalidArgumentError);
  });
}

const rmemMax = sysctl('rmem_max');
test(
  'a buffer forced past rmem_max at open is not pulled down to the limit',
  {
    skip:
      binding === undefined
        ? 'SO_RCVBUFFORCE needs the native addon'
        : rmemMax === undefined
          ? 'needs /proc/sys/net/core/rmem_max (Linux)'
          : undefined,
  },
  async () => {
    const want = rmemMax! * 4;
    const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', recvBufferBytes: want });
    try {
      const forced = s.recvBufferBytes;
      if (forced <= 2 * rmemMax!) {
        // Without CAP_NET_ADMIN SO_RCVBUFFORCE falls back to SO_RCVBUF: nothing past the limit.
        assert.equal(increaseRecvBufferTo(s, want), s.recvBufferBytes);
        return;
      }
      // More than the socket has: Linux would clamp this to rmem_max, far below what it has.
      assert.equal(increaseRecvBufferTo(s, forced + 1), forced, 'not clamped back to rmem_max');
      assert.equal(s.recvBufferBytes, forced);
    } finally {
      await s.close();
    }
  },
);
