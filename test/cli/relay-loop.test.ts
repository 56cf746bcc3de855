/**
 * `mediasock relay` refuses an output that is its own input (one datagram would become an endless
 * storm): exit 2, one line, whatever spelling reaches the input (wildcard vs 127.x or a local
 * interface address, a name, the multicast group itself). Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { networkInterfaces } from '../../src/index.js';
import { freePort, runCli } from './cli-process.js';

async function assertRefused(input: string, output: string): Promise<void> {
  const r = await runCli(['relay', input, output, '--duration', '5', '--json'], {
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 2, `${input} -> ${output}: ${r.stderr}`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /sends to the input .*would come back/);
  assert.equal(r.stdout, '', 'nothing relayed');
}

test('relay refuses an output that is the input', async () => {
  const p = await freePort();
  await assertRefused(`udp://@127.0.0.1:${p}`, `udp://127.0.0.1:${p}`);
  await assertRefused(`udp://@:${p}`, `udp://127.0.0.1:${p}`);
  await assertRefused(`udp://@:${p}`, `udp://127.0.0.9:${p}`);
  await assertRefused(`udp://@127.0.0.1:${p}`, `rtp://localhost:${p}`);
  await assertRefused(`udp://@[::1]:${p}`, `udp://[::1]:${p}`);
  // An IPv6 wildcard input is dual-stack: IPv4 loopback reaches it too.
  await assertRefused(`udp://@[::]:${p}`, `udp://127.0.0.1:${p}`);
  await assertRefused(`udp://@239.255.7.7:${p}?iface=lo`, `udp://239.255.7.7:${p}?iface=lo&ttl=0`);
  // Any address of a local interface reaches a wildcard input.
  const local = networkInterfaces()
    .flatMap((i) => i.addresses)
    .find((a) => a.family === 4 && !a.address.startsWith('127.'));
  if (local !== undefined) await assertRefused(`udp://@:${p}`, `udp://${local.address}:${p}`);
});

test('relay accepts an output on another port or another loopback address of a bound input', async () => {
  const p = await freePort();
  const q = await freePort();
  for (const [input, output] of [
    [`udp://@127.0.0.1:${p}`, `udp://127.0.0.1:${q}`],
    [`udp://@127.0.0.1:${p}`, `udp://127.0.0.2:${p}`],
    // An IPv4 wildcard input gets no IPv6 datagrams.
    [`udp://@:${p}`, `udp://[::1]:${p}`],
  ] as const) {
    const r = await runCli(['relay', input, output, '--duration', '0.3', '--json'], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 0, `${input} -> ${output}: ${r.stderr}`);
  }
});
