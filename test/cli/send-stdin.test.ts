/**
 * `mediasock send URL -` reading a pipe whose writer sends pieces that are not multiples of the
 * payload size and then pauses: every byte arrives in order, the process stays idle while stdin
 * stalls, and SIGINT ends it while it waits. Loopback only; the receiver is a dgram socket here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { cpuTimeMs, startCli, summary } from './cli-process.js';

async function receiver(): Promise<{ socket: dgram.Socket; port: number; datagrams: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  const datagrams: Buffer[] = [];
  socket.on('message', (d: Buffer) => datagrams.push(d));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port, datagrams };
}

/** Waits until `pred()` holds, polling every 20 ms, at most `ms`. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) await sleep(20);
  return pred();
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

test('send - with a stalling writer: the exact bytes arrive and the stall costs no CPU', async (t) => {
  const rx = await receiver();
  t.after(() => rx.socket.close());
  const input = pattern(2000 + 2632);
  const run = startCli(['send', `udp://127.0.0.1:${rx.port}`, '-', '--pps', '100', '--json'], {
    keepStdin: true,
    timeoutMs: 30_000,
  });
  const pid = run.child.pid ?? -1;
  run.child.stdin?.write(input.subarray(0, 2000));
  // The first full payload (1316 bytes) goes out; 684 bytes wait for more.
  assert.ok(await until(() => rx.datagrams.length >= 1, 15_000), 'first datagram');
  await sleep(300);
  const cpuBefore = cpuTimeMs(pid);
  const wallBefore = performance.now();
  await sleep(1500);
  const cpu = cpuTimeMs(pid) - cpuBefore;
  const wall = performance.now() - wallBefore;
  assert.ok(cpu < wall * 0.2, `stalled stdin used ${cpu} ms of CPU in ${Math.round(wall)} ms`);
  assert.equal(rx.datagrams.length, 1, 'nothing more sent while stdin stalls');
  run.child.stdin?.end(input.subarray(2000));
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(await until(() => rx.datagrams.length >= 4, 2000));
  assert.deepEqual(
    rx.datagrams.map((d) => d.length),
    [1316, 1316, 1316, 684],
  );
  assert.ok(Buffer.concat(rx.datagrams).equals(input), 'the bytes arrive unchanged, in order');
  assert.equal(summary(r.stdout).packets, 4);
});

test('send - : SIGINT ends it while stdin stalls, with the summary', async (t) => {
  const rx = await receiver();
  t.after(() => rx.socket.close());
  const run = startCli(['send', `udp://127.0.0.1:${rx.port}`, '-', '--pps', '100', '--json'], {
    keepStdin: true,
    timeoutMs: 30_000,
  });
  run.child.stdin?.write(pattern(2000));
  assert.ok(await until(() => rx.datagrams.length >= 1, 15_000), 'first datagram');
  await sleep(200);
  const sent = performance.now();
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.ok(performance.now() - sent < 5000, 'ended promptly');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.timedOut, false);
  const s = summary(r.stdout);
  assert.equal(s.packets, 1);
  run.child.stdin?.destroy();
});
