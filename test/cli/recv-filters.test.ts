/**
 * `mediasock recv` with source filters on a group outside the SSM range, on loopback: include
 * (`S@G`) and exclude (`block=`), each fed by `mediasock send` from two 127.x sources pinned to lo
 * with TTL 0. The summary counts only the wanted source and reports `rejoins`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { nativeStatus } from '../../src/native/index.js';
import { runCli, startCli, summary } from './cli-process.js';

const kGroup = '239.255.45.1';

async function feed(port: number, source: string, count: number): Promise<void> {
  const r = await runCli([
    'send',
    `udp://${kGroup}:${port}?iface=lo&ttl=0`,
    '--bind',
    source,
    '--count',
    String(count),
    '--pps',
    '200',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
}

for (const [mode, url, description] of [
  ['include', `udp://127.0.0.2@${kGroup}:0?iface=lo`, /source-filtered from 127\.0\.0\.2\) on lo/],
  ['exclude', `udp://@${kGroup}:0?iface=lo&block=127.0.0.3`, /any source but 127\.0\.0\.3\) on lo/],
] as const) {
  test(
    `recv ${mode}: only 127.0.0.2 of two sources is counted`,
    {
      skip: mode === 'exclude' && !nativeStatus().loaded ? 'block= needs the native addon' : false,
    },
    async () => {
      const recv = startCli(['recv', url, '--json', '--count', '50', '--duration', '20'], {
        timeoutMs: 40_000,
      });
      const { port, url: shown } = (await recv.firstRecord('start')) as {
        port: number;
        url: string;
      };
      assert.match(shown, description);
      await feed(port, '127.0.0.3', 20); // filtered out
      await feed(port, '127.0.0.2', 50);
      const r = await recv.done;
      assert.equal(r.code, 0, r.stderr);
      const got = summary(r.stdout);
      assert.equal(got.packets, 50);
      assert.equal(got.ts_cc_errors, 0, 'no datagram of the other source slipped in');
      assert.equal(got.rejoins, 0);
    },
  );
}
