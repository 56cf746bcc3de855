import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import fc from 'fast-check';

import { FramingError, InvalidArgumentError, SocketClosedError } from '../../src/errors.js';
import {
  InterleavedDemuxer,
  writeInterleaved,
  type InterleavedFrame,
  type RtspMessage,
} from '../../src/tcp/interleaved.js';

type Item =
  | { type: 'frame'; channel: number; payload: Buffer }
  | { type: 'message'; startLine: string; headers: Array<[string, string]>; body: Buffer };

function encodeItem(item: Item): Buffer {
  if (item.type === 'frame') {
    const h = Buffer.alloc(4);
    h[0] = 0x24;
    h[1] = item.channel;
    h.writeUInt16BE(item.payload.length, 2);
    return Buffer.concat([h, item.payload]);
  }
  const headers = [...item.headers];
  if (item.body.length > 0) headers.push(['Content-Length', String(item.body.length)]);
  const head = [item.startLine, ...headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';
  return Buffer.concat([Buffer.from(head), item.body]);
}

/** Feeds `bytes` cut at `cuts` (sorted offsets) and records everything emitted. */
function run(
  bytes: Buffer,
  cuts: number[],
  demuxer = new InterleavedDemuxer({
    channels: { video: { rtp: 0, rtcp: 1 }, audio: { rtp: 2, rtcp: 3 } },
  }),
): {
  items: Array<InterleavedFrame | RtspMessage>;
  errors: FramingError[];
  ended: boolean;
} {
  const items: Array<InterleavedFrame | RtspMessage> = [];
  const errors: FramingError[] = [];
  let ended = false;
  demuxer.on('frame', (f) => items.push({ ...f, payload: Buffer.from(f.payload) }));
  demuxer.on('message', (m) => items.push({ ...m, body: Buffer.from(m.body) }));
  demuxer.on('error', (e) => errors.push(e));
  demuxer.on('end', () => (ended = true));
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    demuxer.write(bytes.subarray(from, cut));
    from = cut;
  }
  demuxer.end();
  return { items, errors, ended };
}

const routes: Record<number, { media: string; kind: 'rtp' | 'rtcp' }> = {
  0: { media: 'video', kind: 'rtp' },
  1: { media: 'video', kind: 'rtcp' },
  2: { media: 'audio', kind: 'rtp' },
  3: { media: 'audio', kind: 'rtcp' },
};

function expected(items: Item[]): Array<InterleavedFrame | RtspMessage> {
  return items.map((item) => {
    if (item.type === 'frame') {
      return { channel: item.channel, payload: item.payload, ...routes[item.channel] };
    }
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of item.headers) headers[k.toLowerCase()] = v;
    if (item.body.length > 0) headers['content-length'] = String(item.body.length);
    return { startLine: item.startLine, headers, body: item.body };
  });
}

const frameArb = fc.record({
  type: fc.constant('frame' as const),
  channel: fc.integer({ min: 0, max: 3 }),
  payload: fc.uint8Array({ minLength: 1, maxLength: 1500 }).map((u) => Buffer.from(u)),
});
const messageArb = fc.record({
  type: fc.constant('message' as const),
  startLine: fc.constantFrom(
    'RTSP/1.0 200 OK',
    'GET_PARAMETER rtsp://127.0.0.1/live RTSP/1.0',
    'RTSP/2.0 454 Session Not Found',
  ),
  headers: fc.uniqueArray(
    fc.tuple(
      fc.constantFrom('CSeq', 'Session', 'X-Test', 'Content-Type'),
      fc.stringMatching(/^[A-Za-z0-9;=.-]{1,20}$/),
    ),
    { maxLength: 3, selector: ([k]) => k },
  ),
  // Bodies may contain '$' and CRLFCRLF: they must not confuse the demuxer.
  body: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)),
    fc.constant(Buffer.from('v=0\r\n\r\n$\x00\x00\x05')),
  ),
});

test('random splits of a mixed stream give exactly the frames and messages that were encoded', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(frameArb, messageArb), { minLength: 1, maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (items, rawCuts) => {
        const bytes = Buffer.concat(items.map(encodeItem));
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const out = run(bytes, cuts);
        assert.deepEqual(out.errors, []);
        assert.equal(out.ended, true);
        assert.deepEqual(out.items, expected(items));
      },
    ),
    { numRuns: 300 },
  );
});

test('frames route to rtp and rtcp handlers by the channel map', () => {
  const demuxer = new InterleavedDemuxer({ channels: { video: { rtp: 0, rtcp: 1 } } });
  const seen: string[] = [];
  demuxer.on('rtp', (f) => seen.push(`rtp:${f.media}:${f.payload.length}`));
  demuxer.on('rtcp', (f) => seen.push(`rtcp:${f.media}:${f.payload.length}`));
  demuxer.write(encodeItem({ type: 'frame', channel: 1, payload: Buffer.alloc(8) }));
  demuxer.write(encodeItem({ type: 'frame', channel: 0, payload: Buffer.alloc(12) }));
  assert.deepEqual(seen, ['rtcp:video:8', 'rtp:video:12']);
});

test('bad frames raise a typed error each and nothing else is lost, under any split', () => {
  const good1 = { type: 'frame', channel: 0, payload: Buffer.from('first') } as const;
  const unknown = encodeItem({ type: 'frame', channel: 9, payload: Buffer.alloc(300, 0x24) });
  const empty = Buffer.from([0x24, 1, 0, 0]);
  const tooLong = encodeItem({ type: 'frame', channel: 2, payload: Buffer.alloc(1000, 0x24) });
  const msg: Item = {
    type: 'message',
    startLine: 'RTSP/1.0 200 OK',
    headers: [['CSeq', '3']],
    body: Buffer.from('ok'),
  };
  const good2 = { type: 'frame', channel: 3, payload: Buffer.from('last') } as const;
  const bytes = Buffer.concat([
    encodeItem(good1),
    unknown,
    empty,
    encodeItem(msg),
    tooLong,
    encodeItem(good2),
  ]);
  fc.assert(
    fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 20 }), (raw) => {
      const cuts = [...new Set(raw)].sort((a, b) => a - b);
      const out = run(
        bytes,
        cuts,
        new InterleavedDemuxer({
          channels: { video: { rtp: 0, rtcp: 1 }, audio: { rtp: 2, rtcp: 3 } },
          maxFrameBytes: 999,
        }),
      );
      assert.deepEqual(out.items, expected([good1, msg, good2]));
      assert.deepEqual(
        out.errors.map((e) => [e.constructor.name, e.field, e.value]),
        [
          ['FramingError', 'channel', 9],
          ['FramingError', 'length', 0],
          ['FramingError', 'length', 1000],
        ],
      );
      assert.match(out.errors[0]!.message, /mapped interleaved channels \(0, 1, 2, 3\)/);
    }),
    { numRuns: 200 },
  );
});

test('a stream truncated inside a frame or a message reports it at end()', () => {
  const frame = encodeItem({ type: 'frame', channel: 0, payload: Buffer.alloc(100) });
  const out = run(Buffer.concat([frame, frame.subarray(0, 50)]), [10, 104]);
  assert.equal(out.items.length, 1);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.field, 'stream');
  assert.match(out.errors[0]!.message, /50 trailing bytes/);
  assert.equal(out.ended, true);

  const partial = run(Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc'), [5]);
  assert.equal(partial.items.length, 0);
  assert.equal(partial.errors.length, 1);
});

test('malformed messages are skipped with an error and parsing resumes', () => {
  const bytes = Buffer.concat([
    Buffer.from('HELLO\r\nfoo\r\n\r\n'),
    Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: x1\r\n\r\n'),
    encodeItem({ type: 'frame', channel: 0, payload: Buffer.from('rtp') }),
  ]);
  const out = run(bytes, [3, 20]);
  assert.equal(out.errors.length, 2);
  assert.equal(out.errors[1]!.field, 'Content-Length');
  assert.equal(out.items.length, 1);

  const demuxer = new InterleavedDemuxer({ maxMessageBytes: 64 });
  const big = run(
    Buffer.concat([
      Buffer.from(`RTSP/1.0 200 OK\r\nX: ${'a'.repeat(100)}`),
      encodeItem({ type: 'frame', channel: 7, payload: Buffer.from('x') }),
    ]),
    [],
    demuxer,
  );
  assert.equal(big.errors.length, 1);
  assert.deepEqual(big.items, [{ channel: 7, payload: Buffer.from('x') }]);
  assert.equal(demuxer.stats.errors, 1);
  assert.equal(demuxer.stats.frames, 1);
});

test('invalid options and misuse throw typed errors', () => {
  assert.throws(() => new InterleavedDemuxer({ maxFrameBytes: 0 }), InvalidArgumentError);
  assert.throws(
    () => new InterleavedDemuxer({ channels: { a: { rtp: 0, rtcp: 0 } } }),
    InvalidArgumentError,
  );
  assert.throws(
    () => new InterleavedDemuxer({ channels: { a: { rtp: 256 } } }),
    InvalidArgumentError,
  );
  const d = new InterleavedDemuxer();
  assert.throws(() => d.write('text' as never), InvalidArgumentError);
  d.end();
  assert.throws(() => d.write(Buffer.from('x')), SocketClosedError);
});

test('writeInterleaved frames payloads over a socket, waits for drain, and rejects bad input', async (t) => {
  const received: Buffer[] = [];
  let peer: Socket | undefined;
  const server = createServer((s) => {
    peer = s;
    s.pause(); // do not read at first: the writer must meet backpressure
    s.on('data', (d: Buffer) => received.push(d));
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  const client = connect({ host: '127.0.0.1', port: addr.port });
  await once(client, 'connect');
  t.after(() => {
    client.destroy();
    peer?.destroy();
    server.close();
  });

  await assert.rejects(writeInterleaved(client, 256, Buffer.from('x')), InvalidArgumentError);
  await assert.rejects(writeInterleaved(client, 0, Buffer.alloc(0)), InvalidArgumentError);
  await assert.rejects(writeInterleaved(client, 0, Buffer.alloc(65536)), InvalidArgumentError);

  const payload = Buffer.alloc(60000, 0xab);
  let sawBackpressure = false;
  const count = 200;
  const writes: Array<Promise<void>> = [];
  let drains = 0;
  client.on('drain', () => drains++);
  for (let i = 0; i < 500 && peer === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(peer, 'the server did not accept');
  for (let i = 0; i < count; i++) {
    const p = writeInterleaved(client, i % 4, payload);
    writes.push(p);
    if (client.writableNeedDrain) {
      sawBackpressure = true;
      const drainsBefore = drains;
      // Resume the reader once the writer has hit backpressure, so that 'drain' comes.
      if (peer.isPaused()) peer.resume();
      await p;
      // Under backpressure the promise may only resolve after a 'drain' event.
      assert.ok(drains > drainsBefore, 'writeInterleaved resolved before drain');
    } else {
      await p;
    }
  }
  await Promise.all(writes);
  assert.ok(sawBackpressure, 'expected write() to report backpressure at least once');
  client.end();
  peer?.resume();
  await once(peer, 'end');
  const demuxer = new InterleavedDemuxer();
  let frames = 0;
  demuxer.on('frame', (f) => {
    assert.equal(f.channel, frames % 4);
    assert.equal(f.payload.length, payload.length);
    frames++;
  });
  for (const chunk of received) demuxer.write(chunk);
  demuxer.end();
  assert.equal(frames, count);

  await assert.rejects(writeInterleaved(client, 0, Buffer.from('late')), SocketClosedError);
});

test('many writes pending on one drain share one listener: no MaxListenersExceededWarning', async (t) => {
  let peer: Socket | undefined;
  const server = createServer((s) => {
    peer = s;
    s.pause(); // the writer meets backpressure and stays there until the reader resumes
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  const client = connect({ host: '127.0.0.1', port: addr.port });
  await once(client, 'connect');
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on('warning', onWarning);
  t.after(() => {
    process.off('warning', onWarning);
    client.destroy();
    peer?.destroy();
    server.close();
  });
  for (let i = 0; i < 500 && peer === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(peer, 'the server did not accept');

  const drainBefore = client.listenerCount('drain');
  const closeBefore = client.listenerCount('close');
  const payload = Buffer.alloc(60000, 0x5a);
  const count = 64;
  const writes: Array<Promise<void>> = [];
  let pendingWrites = 0;
  // Corked, the writes stay in the stream's own buffer whatever the kernel's socket buffers hold
  // (they differ between machines and Node versions), so backpressure is certain.
  client.cork();
  for (let i = 0; i < count; i++) {
    writes.push(writeInterleaved(client, i % 2, payload));
    if (client.writableNeedDrain) pendingWrites++;
  }
  assert.ok(pendingWrites > 10, `only ${pendingWrites} writes met backpressure`);
  assert.equal(client.listenerCount('drain'), drainBefore + 1, 'one shared drain waiter');
  assert.equal(client.listenerCount('close'), closeBefore + 1, 'one shared close waiter');
  // Let the 'warning' (emitted on the next tick) arrive if it is going to.
  await new Promise((r) => setImmediate(r));
  client.uncork();
  peer.resume();
  await Promise.all(writes);
  assert.equal(client.listenerCount('drain'), drainBefore, 'the waiter is gone after drain');
  assert.equal(client.listenerCount('close'), closeBefore);
  assert.deepEqual(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
    [],
  );

  // Writes pending when the socket closes all reject with SocketClosedError, and clean up.
  peer.pause();
  const stalled: Array<Promise<void>> = [];
  for (let i = 0; i < 500 && !client.writableNeedDrain; i++) {
    stalled.push(writeInterleaved(client, 0, payload));
  }
  assert.ok(client.writableNeedDrain, 'backpressure again');
  stalled.push(writeInterleaved(client, 1, payload), writeInterleaved(client, 1, payload));
  client.destroy();
  const settled = await Promise.allSettled(stalled);
  const rejected = settled.filter((r) => r.status === 'rejected');
  assert.ok(rejected.length >= 2, `${rejected.length} writes rejected`);
  for (const r of rejected) assert.ok(r.reason instanceof SocketClosedError, String(r.reason));
  assert.equal(client.listenerCount('drain'), drainBefore);
});

test('a Content-Length past maxMessageBytes, over TCP: an error, and the frames and messages after it arrive', async (t) => {
  // The server lies about a body of 10 GB, then sends what a real server sends next.
  const lie = 'RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 9999999999\r\n\r\n';
  const after = Buffer.concat([
    encodeItem({ type: 'frame', channel: 0, payload: Buffer.from('rtp after the lie') }),
    encodeItem({
      type: 'message',
      startLine: 'RTSP/1.0 200 OK',
      headers: [['CSeq', '3']],
      body: Buffer.from('v=0\r\n'),
    }),
  ]);
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.write(lie);
    s.end(after);
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  const client = connect({ host: '127.0.0.1', port: addr.port });
  t.after(() => {
    client.destroy();
    server.close();
  });

  const demuxer = new InterleavedDemuxer({ channels: { video: { rtp: 0, rtcp: 1 } } });
  const errors: FramingError[] = [];
  const frames: string[] = [];
  const messages: RtspMessage[] = [];
  demuxer.on('error', (e) => errors.push(e));
  demuxer.on('frame', (f) => frames.push(f.payload.toString()));
  demuxer.on('message', (m) => messages.push(m));
  client.on('data', (d: Buffer) => demuxer.write(d));
  // Not events.once(): it would reject on the 'error' this test expects.
  const ended = new Promise<void>((resolve) => demuxer.on('end', resolve));
  client.on('end', () => demuxer.end());
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 5000);
  });
  const outcome = await Promise.race([ended.then(() => 'ended' as const), timedOut]);
  clearTimeout(timer);
  assert.equal(outcome, 'ended', 'the stream after the lie never arrived within 5 s');

  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof FramingError);
  assert.equal(errors[0].code, 'MEDIASOCK_ERR_FRAMING');
  assert.equal(errors[0].field, 'Content-Length');
  assert.equal(errors[0].value, '9999999999');
  assert.match(errors[0].message, /maxMessageBytes \(65536\)/);
  assert.deepEqual(frames, ['rtp after the lie']);
  assert.deepEqual(
    messages.map((m) => [m.startLine, m.headers['cseq'], m.body.toString()]),
    [['RTSP/1.0 200 OK', '3', 'v=0\r\n']],
  );
  const stats = demuxer.stats;
  assert.equal(stats.errors, 1);
  assert.equal(stats.skippedBytes, Buffer.byteLength(lie), 'only the headers were skipped');
});

test('maxMessageBytes is configurable: a body inside the limit is kept, one past it is not trusted', () => {
  const body = Buffer.alloc(100_000, 'a');
  const message = encodeItem({
    type: 'message',
    startLine: 'RTSP/1.0 200 OK',
    headers: [['CSeq', '4']],
    body,
  });
  const frame = encodeItem({ type: 'frame', channel: 0, payload: Buffer.from('x') });
  const roomy = run(
    Buffer.concat([message, frame]),
    [1000],
    new InterleavedDemuxer({ maxMessageBytes: 200_000 }),
  );
  assert.deepEqual(roomy.errors, []);
  assert.equal(roomy.items.length, 2);

  const tight = run(Buffer.concat([message, frame]), [1000], new InterleavedDemuxer());
  // The headers are one error; the 100,000 body bytes that do follow parse as nothing and go too.
  assert.ok(tight.errors.length >= 1);
  assert.equal(tight.errors[0]!.field, 'Content-Length');
  assert.deepEqual(tight.items, [{ channel: 0, payload: Buffer.from('x') }]);
});

test('writeInterleaved to something that is not a Writable rejects with InvalidArgumentError', async () => {
  for (const bad of [null, undefined, 42, 'socket', {}]) {
    await assert.rejects(
      writeInterleaved(bad as never, 0, Buffer.from('x')),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'stream',
      JSON.stringify(bad) ?? 'undefined',
    );
  }
});
