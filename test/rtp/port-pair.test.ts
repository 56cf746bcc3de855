/**
 * RTP/RTCP port pairs: adjacency and parity, ephemeral and ranged allocation, rtcp-mux, range
 * exhaustion, busy ports skipped, concurrent allocations never sharing a port, bad input, and no
 * fd left behind (parked probe sockets included). Every socket is on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { openRtpPortPair } from '../../src/rtp/port-pair.js';
import type { RtpPortPair } from '../../src/rtp/port-pair.js';
import { reservedPortCount } from '../../src/rtp/port-reservations.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import {
  AbortError,
  InvalidArgumentError,
  PortRangeExhaustedError,
  SystemCallError,
} from '../../src/errors.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';

/** A random even base below the kernel's ephemeral range, so the kernel never hands these out. */
function randomBase(span: number): number {
  return 2 * Math.floor((20000 + Math.random() * (12000 - span)) / 2);
}

async function closeAll(pairs: readonly RtpPortPair[]): Promise<void> {
  await Promise.all(pairs.map((p) => p.close()));
}

test('ephemeral pair: even RTP port, RTCP on the next port, both bound and usable', async (t) => {
  const pair = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1' });
  t.after(() => pair.close());
  assert.equal(pair.rtpPort % 2, 0);
  assert.equal(pair.rtcpPort, pair.rtpPort + 1);
  assert.equal(pair.rtp.address().port, pair.rtpPort);
  assert.equal(pair.rtcp.address().port, pair.rtcpPort);
  assert.notEqual(pair.rtp, pair.rtcp);
  assert.equal(pair.rtcpMux, false);

  // Both ports are really held: an exclusive bind of either fails with EADDRINUSE.
  for (const port of [pair.rtpPort, pair.rtcpPort]) {
    await assert.rejects(
      UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port, exclusive: true }),
      (err: unknown) => err instanceof SystemCallError && err.code === 'EADDRINUSE',
    );
  }
  const probe = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  t.after(() => probe.close());
  const got = pair.rtcp.receive();
  await probe.send('rtcp', pair.rtcpPort, '127.0.0.1');
  assert.equal((await got).data.toString(), 'rtcp');
});

test('close() is idempotent and gives the ports back', async () => {
  const pair = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1' });
  const before = reservedPortCount();
  const first = pair.close();
  assert.equal(pair.close(), first);
  await first;
  assert.equal(pair.closed, true);
  assert.equal(pair.rtp.closed && pair.rtcp.closed, true);
  assert.equal(reservedPortCount(), before - 2);
  const again = await UdpSocket.open({
    type: 'udp4',
    address: '127.0.0.1',
    port: pair.rtpPort,
    exclusive: true,
  });
  await again.close();
});

test('rtcp-mux: one socket, rtp and rtcp are the same object', async (t) => {
  const pair = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1', rtcpMux: true });
  t.after(() => pair.close());
  assert.equal(pair.rtp, pair.rtcp);
  assert.equal(pair.rtcpMux, true);
  assert.equal(pair.rtpPort, pair.rtcpPort);
  await pair.close();
  assert.equal(pair.rtp.closed, true);
});

test('inside a range: pairs are even/odd inside the range, then PortRangeExhaustedError', async (t) => {
  const min = randomBase(8);
  const range = { min, max: min + 5 }; // three pairs
  const pairs: RtpPortPair[] = [];
  t.after(() => closeAll(pairs));
  for (let i = 0; i < 3; i++) {
    pairs.push(await openRtpPortPair({ type: 'udp4', address: '127.0.0.1', portRange: range }));
  }
  const rtpPorts = pairs.map((p) => p.rtpPort).sort((a, b) => a - b);
  assert.deepEqual(rtpPorts, [min, min + 2, min + 4]);
  for (const p of pairs) assert.equal(p.rtcpPort, p.rtpPort + 1);

  await assert.rejects(
    openRtpPortPair({ type: 'udp4', address: '127.0.0.1', portRange: range }),
    (err: unknown) => {
      assert.ok(err instanceof PortRangeExhaustedError);
      assert.equal(err.code, 'MEDIASOCK_ERR_PORT_RANGE_EXHAUSTED');
      assert.equal(err.min, min);
      assert.equal(err.max, min + 5);
      return true;
    },
  );
});

test('a range pair whose port another socket holds is skipped; maxAttempts bounds the scan', async (t) => {
  const min = randomBase(4);
  // Another socket (not ours, not reserved) holds the RTCP port of the first pair.
  const squatter = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: min + 1 });
  t.after(() => squatter.close());
  const pairs: RtpPortPair[] = [];
  t.after(() => closeAll(pairs));
  for (let i = 0; i < 5; i++) {
    const pair = await openRtpPortPair({
      type: 'udp4',
      address: '127.0.0.1',
      portRange: { min, max: min + 3 },
    });
    assert.equal(pair.rtpPort, min + 2);
    await pair.close();
  }
  // With the second pair held too, every candidate is busy: one bind attempt per candidate.
  pairs.push(
    await openRtpPortPair({ type: 'udp4', address: '127.0.0.1', portRange: { min, max: min + 3 } }),
  );
  const baseline = openFdCount();
  await assert.rejects(
    openRtpPortPair({
      type: 'udp4',
      address: '127.0.0.1',
      portRange: { min: min, max: min + 1 },
      maxAttempts: 1,
    }),
    (err: unknown) => err instanceof PortRangeExhaustedError && err.attempts === 1,
  );
  await assertFdsBackToBaseline(baseline, 'the failed probe closed its socket');
});

test('many concurrent allocations never return the same port twice', async (t) => {
  const baseline = openFdCount();
  const reservedBefore = reservedPortCount();
  const min = randomBase(200);
  const ranged = Array.from({ length: 40 }, () =>
    openRtpPortPair({ type: 'udp4', address: '127.0.0.1', portRange: { min, max: min + 199 } }),
  );
  const ephemeral = Array.from({ length: 40 }, () =>
    openRtpPortPair({ type: 'udp4', address: '127.0.0.1' }),
  );
  const pairs = await Promise.all([...ranged, ...ephemeral]);
  t.after(() => closeAll(pairs));
  const ports = pairs.flatMap((p) => [p.rtpPort, p.rtcpPort]);
  assert.equal(new Set(ports).size, ports.length, 'a port was handed out twice');
  for (const p of pairs) {
    assert.equal(p.rtpPort % 2, 0);
    assert.equal(p.rtcpPort, p.rtpPort + 1);
  }
  for (const p of pairs.slice(0, 40)) assert.ok(p.rtpPort >= min && p.rtcpPort <= min + 199);
  assert.equal(reservedPortCount(), reservedBefore + ports.length);
  await closeAll(pairs);
  assert.equal(reservedPortCount(), reservedBefore);
  await assertFdsBackToBaseline(baseline, 'parked and paired sockets all closed');
});

test('ephemeral allocation, repeated: fd count back to baseline (parked sockets closed)', async () => {
  const warm = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1' });
  await warm.close();
  const baseline = openFdCount();
  for (let i = 0; i < 50; i++) {
    const pair = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1' });
    assert.equal(pair.rtpPort % 2, 0);
    await pair.close();
  }
  await assertFdsBackToBaseline(baseline);
});

test('an aborted signal rejects with AbortError and leaves nothing open', async () => {
  const baseline = openFdCount();
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await assert.rejects(
    openRtpPortPair({ type: 'udp4', address: '127.0.0.1', signal: controller.signal }),
    AbortError,
  );
  await assertFdsBackToBaseline(baseline);
});

test('bad input: odd/even bounds, zero, out of range, too small, reuse, maxAttempts', async () => {
  const bad: Array<[string, unknown, string]> = [
    ['odd min', { min: 5001, max: 5003 }, 'portRange.min'],
    ['even max', { min: 5000, max: 5002 }, 'portRange.max'],
    ['zero min', { min: 0, max: 5001 }, 'portRange.min'],
    ['max out of range', { min: 65534, max: 65537 }, 'portRange.max'],
    ['min > max', { min: 5002, max: 5001 }, 'portRange'],
    ['too small for a pair', { min: 5000, max: 5000 }, 'portRange'],
    ['not an object', 5000, 'portRange'],
    ['fractional', { min: 5000.5, max: 5001 }, 'portRange.min'],
  ];
  for (const [what, portRange, argument] of bad) {
    await assert.rejects(
      openRtpPortPair({ type: 'udp4', portRange: portRange as { min: number; max: number } }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, what);
        assert.equal(err.argument, argument, what);
        assert.match(err.message, /received/, what);
        return true;
      },
    );
  }
  // rtcp-mux takes any min <= max, even a single odd port.
  const min = randomBase(2) + 1;
  const mux = await openRtpPortPair({
    type: 'udp4',
    address: '127.0.0.1',
    rtcpMux: true,
    portRange: { min, max: min },
  });
  assert.equal(mux.rtpPort, min);
  await mux.close();

  const others: Array<[string, unknown]> = [
    ['reuseAddr', { type: 'udp4', reuseAddr: true }],
    ['reusePort', { type: 'udp4', reusePort: true }],
    ['maxAttempts', { type: 'udp4', maxAttempts: 0 }],
    ['type', { type: 'tcp' }],
    ['port', { type: 'udp4', port: 5000 }],
    ['options', null],
  ];
  for (const [argument, options] of others) {
    await assert.rejects(
      openRtpPortPair(options as Parameters<typeof openRtpPortPair>[0]),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === argument,
      argument,
    );
  }
});

test('an address this host does not have fails with the bind error, not exhaustion', async () => {
  const baseline = openFdCount();
  await assert.rejects(
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
    openRtpPortPair({ type: 'udp4', address: '192.0.2.1' }),
    (err: unknown) => err instanceof SystemCallError && err.code === 'EADDRNOTAVAIL',
  );
  await assertFdsBackToBaseline(baseline);
});
