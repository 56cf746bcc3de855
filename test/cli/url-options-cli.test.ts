/**
 * FFmpeg's URL options on the command line, loopback only: `recv` fails after FFmpeg's `timeout`
 * (microseconds) without a datagram, exit 1 with the summary; `send` takes `pkt_size` as the
 * datagram size (RTP header included), `bitrate` as its rate, `localport` as its source port and
 * `connect=1`; and an option of the other direction is one note on stderr, not a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import { freePort, runCli, startCli, summary } from './cli-process.js';

test('recv: timeout= (µs) ends a silent receive with exit 1, the summary and one line why', async () => {
  const started = performance.now();
  const r = await runCli(
    ['recv', 'udp://@127.0.0.1:0?timeout=400000&ttl=4&overrun_nonfatal=1', '--json'],
    { timeoutMs: 30_000 },
  );
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.timedOut, false);
  assert.match(r.stderr, /^mediasock recv: note: ttl=4 is ignored: it applies to sending$/m);
  assert.match(r.stderr, /^mediasock recv: note: overrun_nonfatal=1 is ignored: /m);
  assert.match(
    r.stderr,
    /^mediasock recv: no datagram for 0\.4 s \(timeout=400000 microseconds in the URL\)$/m,
  );
  const s = summary(r.stdout);
  assert.equal(s.packets, 0);
  assert.ok((s.seconds as number) >= 0.4, `stopped after ${String(s.seconds)} s, not before 0.4`);
  // Generous: a loaded 2-core machine starts Node slowly; the point is that it ends by itself.
  assert.ok(seconds < 20, `recv ended after ${seconds.toFixed(1)} s`);
});

test('relay: timeout= on the input ends a silent relay with exit 1', async () => {
  const r = await runCli(
    [
      'relay',
      'udp://@127.0.0.1:0?timeout=300000&overrun_nonfatal=1',
      'udp://127.0.0.1:9',
      '--json',
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^mediasock relay: note: overrun_nonfatal=1 is ignored: /m);
  assert.match(
    r.stderr,
    /^mediasock relay: no datagram for 0\.3 s on the input \(timeout=300000 microseconds in the URL\)$/m,
  );
  assert.equal((summary(r.stdout).input as { packets: number }).packets, 0);
});

test('recv: a stream that keeps coming never trips timeout=', async () => {
  const port = await freePort();
  // The sender runs first (200 datagrams/s for 6 s); recv joins it with a 300 ms timeout.
  const send = startCli(['send', `udp://127.0.0.1:${port}`, '--pps', '200', '--duration', '6'], {
    timeoutMs: 30_000,
  });
  try {
    await send.firstRecord('stats');
    const recv = await runCli(
      ['recv', `udp://@127.0.0.1:${port}?timeout=300000`, '--json', '--duration', '2'],
      { timeoutMs: 30_000 },
    );
    assert.equal(recv.code, 0, recv.stderr);
    assert.doesNotMatch(recv.stderr, /no datagram/);
    const s = summary(recv.stdout);
    assert.ok((s.packets as number) > 100, `packets ${String(s.packets)}`);
  } finally {
    send.kill();
    await send.done;
  }
});

test('send: pkt_size, bitrate, localport and connect=1 from the URL', async () => {
  const rx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  try {
    const port = rx.address().port;
    const local = await freePort();
    const sizes: number[] = [];
    const ports = new Set<number>();
    rx.on('message', (data, rinfo) => {
      sizes.push(data.length);
      ports.add(rinfo.port);
    });
    const r = await runCli([
      'send',
      `rtp://127.0.0.1:${port}?pkt_size=388&bitrate=310400&localport=${local}&connect=1&fifo_size=9`,
      '--count',
      '20',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^mediasock send: note: fifo_size=9 is ignored: it applies to receiving$/m,
    );
    const s = summary(r.stdout);
    // 388 bytes = 12 of RTP header + 376 of payload (2 TS packets); 310400 bit/s = 100 datagrams/s
    // of 388 bytes.
    assert.equal(s.packets, 20);
    assert.equal(s.bytes, 20 * 388);
    assert.ok((s.seconds as number) >= 0.15, `paced: 20 datagrams took ${String(s.seconds)} s`);
    assert.match(String(s.url), new RegExp(`from port ${local}, connected`));
    const deadline = Date.now() + 5000;
    while (sizes.length < 20 && Date.now() < deadline) await new Promise((t) => setTimeout(t, 20));
    assert.equal(sizes.length, 20);
    assert.ok(
      sizes.every((n) => n === 388),
      `sizes ${[...new Set(sizes)].join(',')}`,
    );
    assert.deepEqual([...ports], [local]);
  } finally {
    await rx.close();
  }
});

test('send: pkt_size and bitrate that contradict the flags are usage errors (exit 2)', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['udp://127.0.0.1:9?pkt_size=376', '--payload-size', '188'], /contradicts pkt_size=376/],
    [['udp://127.0.0.1:9?bitrate=1000000', '--bitrate', '2M'], /contradicts bitrate=1000000/],
    [['udp://127.0.0.1:9?bitrate=1000000', '--pps', '10'], /--pps or bitrate=/],
    [['rtp://127.0.0.1:9?pkt_size=12'], /pkt_size=12 must leave 1 to/],
    [['udp://127.0.0.1:9?fec=prompeg'], /fec: refused/],
    [['udp://127.0.0.1:9?nosuch=1'], /"nosuch" is not one/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['send', ...args, '--count', '1']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});
