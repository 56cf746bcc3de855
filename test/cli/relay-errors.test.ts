/**
 * `mediasock relay` counts refused datagrams exactly: from udp:// to rtp:// every datagram gets a
 * 12-byte RTP header, so a 65,500-byte input datagram becomes 65,512 bytes, over the largest UDP
 * payload (65,507), and the kernel refuses it (`EMSGSIZE`) while the small datagrams around it
 * go. The refusal comes anywhere in a batch: first (thrown by the synchronous send), or after
 * some datagrams went (the count of those, then the error from the next call). Either way exactly
 * the refused datagrams are errors, the ones after them still go, the receiver gets exactly the
 * datagrams counted as sent, and the output's `last_error` names the refusal. Loopback, on
 * whichever engine is loaded (the node engine's batches hold one datagram each).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import { startCli, summary } from './cli-process.js';

const ROUNDS = 200;

test('relay udp:// to rtp://: datagrams too large once wrapped are errors, the rest sent, each counted once', async (t) => {
  const sink = await UdpSocket.open({
    type: 'udp4',
    address: '127.0.0.1',
    recvBufferBytes: 8 << 20,
  });
  const feed = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  t.after(async () => {
    await Promise.all([sink.close(), feed.close()]);
  });
  let received = 0;
  let receivedBytes = 0;
  sink.on('message', (d) => {
    received++;
    receivedBytes += d.length;
  });
  // Rounds of small, too large (once wrapped), small, small: 4 datagrams per round.
  const round = [
    Buffer.alloc(100, 1),
    Buffer.alloc(65_500, 2),
    Buffer.alloc(200, 3),
    Buffer.alloc(300, 4),
  ];
  const relay = startCli(
    [
      'relay',
      'udp://@127.0.0.1:0?buffer=8388608',
      `rtp://127.0.0.1:${sink.address().port}`,
      '--count',
      String(ROUNDS * round.length),
      '--duration',
      '30',
      '--json',
    ],
    { timeoutMs: 40_000 },
  );
  const start = (await relay.firstRecord('start')) as { input: { url: string } };
  const port = Number(/:(\d+)$/.exec(start.input.url)?.[1]);
  let exited = false;
  void relay.done.then(() => (exited = true));
  // Rounds as one sendBatch each, a short pause between some, so batches split differently.
  for (let i = 0; i < ROUNDS && !exited; i++) {
    await feed.sendBatch(round, port, '127.0.0.1');
    if (i % 3 === 0) await sleep(1);
  }
  const r = await relay.done;
  assert.equal(r.code, 0, r.stderr);
  const s = summary(r.stdout) as {
    input: { packets: number };
    outputs: {
      mode: string;
      packets: number;
      bytes: number;
      errors: number;
      dropped: number;
      last_error: string | null;
    }[];
  };
  const o = s.outputs[0];
  assert.ok(o);
  const detail = JSON.stringify(s);
  assert.equal(s.input.packets, ROUNDS * round.length, detail);
  assert.equal(o.mode, 'wrap');
  assert.equal(
    o.packets + o.errors + o.dropped,
    s.input.packets,
    `each datagram counted once: ${detail}`,
  );
  assert.equal(o.dropped, 0, detail);
  // Exactly the large datagrams are refused; the small ones after them in a batch still go.
  assert.equal(o.errors, ROUNDS, detail);
  assert.equal(o.packets, 3 * ROUNDS, detail);
  assert.equal(o.bytes, ROUNDS * (100 + 200 + 300 + 3 * 12), detail);
  assert.match(o.last_error ?? '', /EMSGSIZE|message too long/i, detail);
  for (let i = 0; i < 300 && received < o.packets; i++) await sleep(10);
  assert.equal(received, o.packets, `the receiver got exactly what was counted as sent: ${detail}`);
  assert.equal(receivedBytes, o.bytes, detail);
});

test('relay outputs are connected unless connect=0: a closed destination port shows as ECONNREFUSED errors', async (t) => {
  // A port nothing listens on: bound, then closed.
  const gone = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const closedPort = gone.address().port;
  await gone.close();
  const feed = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  t.after(() => feed.close());
  const run = async (
    suffix: string,
  ): Promise<{ url: string; errors: number; packets: number; lastError: string | null }> => {
    const relay = startCli(
      [
        'relay',
        'udp://@127.0.0.1:0',
        `udp://127.0.0.1:${closedPort}${suffix}`,
        '--count',
        '200',
        '--duration',
        '20',
        '--json',
      ],
      { timeoutMs: 30_000 },
    );
    const start = (await relay.firstRecord('start')) as { input: { url: string } };
    const port = Number(/:(\d+)$/.exec(start.input.url)?.[1]);
    let exited = false;
    void relay.done.then(() => (exited = true));
    // One datagram at a time, so each port-unreachable reply is back before the next send.
    for (let i = 0; i < 200 && !exited; i++) {
      await feed.send(Buffer.alloc(100, i), port, '127.0.0.1');
      await sleep(2);
    }
    const r = await relay.done;
    assert.equal(r.code, 0, r.stderr);
    const s = summary(r.stdout) as {
      outputs: { url: string; packets: number; errors: number; last_error: string | null }[];
    };
    const o = s.outputs[0]!;
    return { url: o.url, errors: o.errors, packets: o.packets, lastError: o.last_error };
  };
  const connected = await run('');
  assert.match(connected.url, /\(connected\)$/);
  assert.ok(connected.errors > 0, `refusals counted: ${JSON.stringify(connected)}`);
  assert.equal(connected.packets + connected.errors, 200, JSON.stringify(connected));
  assert.match(connected.lastError ?? '', /ECONNREFUSED|refused/i, JSON.stringify(connected));
  const unconnected = await run('?connect=0');
  assert.deepEqual(
    { errors: unconnected.errors, packets: unconnected.packets },
    { errors: 0, packets: 200 },
    'an unconnected socket never hears of the port-unreachable replies',
  );
  assert.doesNotMatch(unconnected.url, /connected/);
});
