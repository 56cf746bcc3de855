/**
 * `mediasock send` into `mediasock recv` on loopback: any-source and source-specific multicast
 * pinned to lo with TTL 0, unicast, stdin to --out, the RTP loss matching the --gap hook, and
 * relay to two outputs. Receivers bind port 0 and announce the port in their "start" record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startCli, runCli, summary } from './cli-process.js';

// 224.0.0.254 is reserved for experiments (RFC 4727); 232.0.1.254 is in the SSM range (RFC 4607),
// with 127.0.0.2 as a loopback source. Both stay on lo: receivers join on lo, senders use TTL 0.
const kAsmGroup = '224.0.0.254';
const kSsmGroup = '232.0.1.254';

test('RTP multicast on lo: recv reports exactly the sequence numbers send --gap skipped', async () => {
  const recv = startCli(
    ['recv', `rtp://@${kAsmGroup}:0?iface=lo`, '--json', '--duration', '20', '--count', '270'],
    {
      timeoutMs: 40_000,
    },
  );
  const { port } = (await recv.firstRecord('start')) as { port: number };
  const send = await runCli(
    [
      'send',
      `rtp://${kAsmGroup}:${port}?iface=lo&ttl=0`,
      '--pps',
      '300',
      '--count',
      '270',
      '--gap',
      '9',
      '--json',
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(send.code, 0, send.stderr);
  const sent = summary(send.stdout);
  assert.equal(sent.packets, 270);
  assert.equal(sent.skipped_sequence_numbers, 30);
  const r = await recv.done;
  assert.equal(r.code, 0, r.stderr);
  const got = summary(r.stdout);
  assert.equal(got.packets, 270);
  assert.equal(got.bytes, 270 * (12 + 1316));
  assert.equal(got.lost, 30, 'every skipped sequence number is reported lost, nothing else');
  assert.equal(got.duplicates, 0);
  assert.equal(got.reordered, 0);
  assert.equal(got.ts_cc_errors, 0, 'the generated MPEG-TS pattern has continuous counters');
  assert.equal(typeof got.jitter_ms, 'number');
  assert.equal(got.kernel_drops, 0);
  for (const key of [
    'seconds',
    'lost',
    'duplicates',
    'reordered',
    'jitter_ms',
    'kernel_drops',
    'ts_cc_errors',
  ]) {
    assert.ok(key in got, key);
  }
});

test('source-specific multicast: recv joins (127.0.0.2, 232.0.1.254) on lo and counts send --bind 127.0.0.2', async () => {
  const recv = startCli(
    [
      'recv',
      `udp://127.0.0.2@${kSsmGroup}:0?iface=lo`,
      '--json',
      '--count',
      '100',
      '--duration',
      '20',
    ],
    {
      timeoutMs: 40_000,
    },
  );
  const { port, url } = (await recv.firstRecord('start')) as { port: number; url: string };
  assert.match(url, /source-specific from 127\.0\.0\.2/);
  // A sender from another source is not received (the join is source-specific)...
  const other = await runCli([
    'send',
    `udp://${kSsmGroup}:${port}?iface=lo&ttl=0`,
    '--bind',
    '127.0.0.3',
    '--count',
    '20',
    '--pps',
    '200',
    '--json',
  ]);
  assert.equal(other.code, 0, other.stderr);
  // ...the joined source is.
  const send = await runCli([
    'send',
    `udp://${kSsmGroup}:${port}?iface=lo&ttl=0`,
    '--bind',
    '127.0.0.2',
    '--count',
    '100',
    '--pps',
    '200',
    '--json',
  ]);
  assert.equal(send.code, 0, send.stderr);
  const r = await recv.done;
  assert.equal(r.code, 0, r.stderr);
  const got = summary(r.stdout);
  assert.equal(got.packets, 100);
  assert.equal(got.ts_cc_errors, 0, 'no datagram of the other source slipped in');
  assert.equal(got.lost, null, 'udp:// is not RTP: no loss figure');
});

test('unicast from stdin to --out: the file holds exactly what was sent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'capture.bin');
  const input = Buffer.alloc(1000 * 50);
  for (let i = 0; i < input.length; i++) input[i] = (i * 31 + (i >> 8)) & 0xff;
  const recv = startCli(
    ['recv', 'udp://@127.0.0.1:0', '--json', '--out', out, '--count', '50', '--duration', '20'],
    {
      timeoutMs: 40_000,
    },
  );
  const { port } = (await recv.firstRecord('start')) as { port: number };
  const send = await runCli(
    ['send', `udp://127.0.0.1:${port}`, '-', '--payload-size', '1000', '--pps', '200', '--json'],
    {
      input,
      timeoutMs: 30_000,
    },
  );
  assert.equal(send.code, 0, send.stderr);
  assert.equal(summary(send.stdout).packets, 50);
  const r = await recv.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(summary(r.stdout).packets, 50);
  assert.deepEqual(readFileSync(out), input);
});

test('rtp:// --out strips the RTP header', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'capture.ts');
  const recv = startCli(
    ['recv', 'rtp://@127.0.0.1:0', '--json', '--out', out, '--count', '20', '--duration', '20'],
    {
      timeoutMs: 40_000,
    },
  );
  const { port } = (await recv.firstRecord('start')) as { port: number };
  const send = await runCli([
    'send',
    `rtp://127.0.0.1:${port}`,
    '--count',
    '20',
    '--pps',
    '200',
    '--json',
  ]);
  assert.equal(send.code, 0, send.stderr);
  const r = await recv.done;
  assert.equal(r.code, 0, r.stderr);
  const data = readFileSync(out);
  assert.equal(data.length, 20 * 1316);
  for (let i = 0; i < data.length; i += 188) assert.equal(data[i], 0x47, `sync byte at ${i}`);
});

test('relay: one input to two outputs, RTP stripped to udp://, counters per output', async () => {
  const outA = startCli(
    ['recv', 'udp://@127.0.0.1:0', '--json', '--count', '60', '--duration', '25'],
    { timeoutMs: 40_000 },
  );
  const outB = startCli(
    ['recv', `udp://@${kAsmGroup}:0?iface=lo`, '--json', '--count', '60', '--duration', '25'],
    {
      timeoutMs: 40_000,
    },
  );
  const portA = ((await outA.firstRecord('start')) as { port: number }).port;
  const portB = ((await outB.firstRecord('start')) as { port: number }).port;
  const relay = startCli(
    [
      'relay',
      'rtp://@127.0.0.1:0',
      `udp://127.0.0.1:${portA}`,
      `udp://${kAsmGroup}:${portB}?iface=lo&ttl=0`,
      '--json',
      '--count',
      '60',
      '--duration',
      '25',
    ],
    { timeoutMs: 40_000 },
  );
  const start = (await relay.firstRecord('start')) as { input: { url: string } };
  const inPort = Number(/:(\d+)$/.exec(start.input.url)?.[1]);
  const send = await runCli([
    'send',
    `rtp://127.0.0.1:${inPort}`,
    '--count',
    '60',
    '--pps',
    '200',
    '--json',
  ]);
  assert.equal(send.code, 0, send.stderr);
  const [rr, ra, rb] = await Promise.all([relay.done, outA.done, outB.done]);
  assert.equal(rr.code, 0, rr.stderr);
  const s = summary(rr.stdout) as {
    input: { packets: number };
    outputs: Array<{ packets: number; bytes: number; errors: number; mode: string }>;
  };
  assert.equal(s.input.packets, 60);
  assert.equal(s.outputs.length, 2);
  for (const o of s.outputs) {
    assert.deepEqual([o.packets, o.bytes, o.errors, o.mode], [60, 60 * 1316, 0, 'strip']);
  }
  for (const r of [ra, rb]) {
    assert.equal(r.code, 0, r.stderr);
    const got = summary(r.stdout);
    assert.equal(got.packets, 60);
    assert.equal(got.bytes, 60 * 1316);
    assert.equal(got.ts_cc_errors, 0);
  }
});

test('relay: udp:// in, rtp:// out wraps each datagram in RTP: no loss, in order, TS intact', async () => {
  const out = startCli(
    ['recv', 'rtp://@127.0.0.1:0', '--json', '--count', '300', '--duration', '25'],
    { timeoutMs: 40_000 },
  );
  const port = ((await out.firstRecord('start')) as { port: number }).port;
  const relay = startCli(
    [
      'relay',
      'udp://@127.0.0.1:0',
      `rtp://127.0.0.1:${port}`,
      '--json',
      '--count',
      '300',
      '--duration',
      '25',
    ],
    { timeoutMs: 40_000 },
  );
  const start = (await relay.firstRecord('start')) as { input: { url: string } };
  const inPort = Number(/:(\d+)$/.exec(start.input.url)?.[1]);
  // Bursts of 50 at 3000/s: the relay reads and wraps whole batches.
  const send = await runCli([
    'send',
    `udp://127.0.0.1:${inPort}`,
    '--count',
    '300',
    '--pps',
    '3000',
    '--json',
  ]);
  assert.equal(send.code, 0, send.stderr);
  const [rr, ro] = await Promise.all([relay.done, out.done]);
  assert.equal(rr.code, 0, rr.stderr);
  const s = summary(rr.stdout) as {
    outputs: Array<{ packets: number; bytes: number; errors: number; mode: string }>;
  };
  assert.deepEqual(
    s.outputs.map((o) => [o.packets, o.bytes, o.errors, o.mode]),
    [[300, 300 * (1316 + 12), 0, 'wrap']],
  );
  assert.equal(ro.code, 0, ro.stderr);
  const got = summary(ro.stdout);
  assert.equal(got.packets, 300);
  assert.deepEqual([got.lost, got.duplicates, got.reordered, got.ts_cc_errors], [0, 0, 0, 0]);
});

test('demo: exits 0 after a short run with a JSON summary', async () => {
  const r = await runCli(['demo', '--duration', '1', '--pps', '500', '--json'], {
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const s = summary(r.stdout);
  assert.equal(s.lost, 0);
  assert.ok((s.packets as number) > 0);
  assert.equal(s.packets, s.sent);
});
