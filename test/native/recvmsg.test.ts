/**
 * msock_recvmsg and the ancillary data it parses (native/src/cmsg.c), verified on the wire over
 * loopback: DSCP set by the sender (IP_TOS / IPV6_TCLASS) read back by the receiver (IP_RECVTOS /
 * IPV6_RECVTCLASS), destination address and interface (pktinfo), kernel timestamps, truncation,
 * and the SO_RXQ_OVFL drop counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeStatus, requireNative } from '../../src/native/index.js';
import type { NativeBinding, NativeDatagram } from '../../src/native/index.js';
import { preBindRows } from '../../src/option-rows.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';

const status = nativeStatus();
const skipNoNative = status.loaded
  ? false
  : `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`;

/** DSCP 46 (EF, RFC 3246) in the TOS byte: 46 << 2. */
const TOS_EF = 0xb8;

function native(): NativeBinding {
  return requireNative('test');
}

/** Polls msock_recvmsg until a datagram arrives: at most 400 tries and `timeoutMs`. */
async function recvOne(
  fd: number,
  buffer: Buffer,
  timeoutMs = 3000,
): Promise<NativeDatagram | null> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    const d = native().msock_recvmsg(fd, buffer);
    if (d !== null) return d;
    await sleep(5);
  }
  return null;
}

/** A dgram sender on an addon-made fd (so pre-bind options such as tos apply). */
async function adoptedSender(
  family: 4 | 6,
  tos: number,
): Promise<{ socket: dgram.Socket; port: number }> {
  const s = native().msock_udp_socket({
    family,
    address: family === 4 ? '127.0.0.1' : '::1',
    port: 0,
    options: preBindRows({ family, protocol: 'udp' }, [
      ...(family === 6 ? [['IPV6_V6ONLY', true] as const] : []),
      ['IP_TOS', tos],
    ]),
  });
  const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  const listening = once(socket, 'listening');
  socket.bind({ fd: s.fd });
  await listening;
  return { socket, port: s.port };
}

function probeIPv6(): string | false {
  if (!status.loaded) return false;
  try {
    const s = native().msock_udp_socket({ family: 6, address: '::1', port: 0 });
    native().msock_close(s.fd);
    return false;
  } catch (err) {
    return `no IPv6 loopback: ${(err as Error).message}`;
  }
}

for (const family of [4, 6] as const) {
  const loopback = family === 4 ? '127.0.0.1' : '::1';
  const skip = skipNoNative || (family === 6 ? probeIPv6() : false);

  test(`IPv${family}: DSCP 46 set by the sender is read on the wire, with pktinfo and a timestamp`, {
    skip,
  }, async (t) => {
    const b = native();
    const lo = b.msock_if_nametoindex('lo');
    const rx = b.msock_udp_socket({
      family,
      address: loopback,
      port: 0,
      options: preBindRows({ family, protocol: 'udp' }, [
        ...(family === 6 ? [['IPV6_V6ONLY', true] as const] : []),
        ['IP_PKTINFO', true],
        ['IP_RECVTOS', true],
        ['SO_TIMESTAMPNS', true],
        ['SO_RXQ_OVFL', true],
      ]),
    });
    t.after(() => b.msock_close(rx.fd));
    const tx = await adoptedSender(family, TOS_EF);
    t.after(() => tx.socket.close());

    const before = Date.now();
    await new Promise<void>((resolve, reject) =>
      tx.socket.send('dscp', rx.port, loopback, (err) => (err ? reject(err) : resolve())),
    );
    const d = await recvOne(rx.fd, Buffer.alloc(64));
    assert.ok(d, 'datagram did not arrive within 3 s');
    assert.equal(d.bytes, 4);
    assert.equal(d.truncated, false);
    assert.equal(d.address, loopback);
    assert.equal(d.port, tx.port);
    assert.equal(d.family, family === 4 ? 'IPv4' : 'IPv6');
    assert.equal(d.tos, TOS_EF, 'receiver saw a different TOS/traffic class');
    assert.equal(d.localAddress, loopback);
    assert.equal(d.ifindex, lo);
    assert.equal(typeof d.timestampNs, 'bigint');
    // Wall-clock sanity only (no timing assertion): within a minute of when we sent it.
    const ms = Number((d.timestampNs ?? 0n) / 1_000_000n);
    assert.ok(Math.abs(ms - before) < 60_000, `timestamp ${ms} far from ${before}`);
    assert.equal(d.drops, undefined, 'no drops yet, so no SO_RXQ_OVFL message');
  });

  test(`IPv${family}: a datagram longer than the buffer is reported truncated`, { skip }, async (t) => {
    const b = native();
    const rx = b.msock_udp_socket({ family, address: loopback, port: 0 });
    t.after(() => b.msock_close(rx.fd));
    const tx = await adoptedSender(family, 0);
    t.after(() => tx.socket.close());
    tx.socket.send(Buffer.alloc(100, 7), rx.port, loopback);
    const buffer = Buffer.alloc(10);
    const d = await recvOne(rx.fd, buffer);
    assert.ok(d);
    assert.equal(d.bytes, 10);
    assert.equal(d.truncated, true);
    assert.deepEqual(buffer, Buffer.alloc(10, 7));
    assert.equal(d.tos, undefined, 'recvTos was not asked for');
    assert.equal(d.localAddress, undefined, 'pktinfo was not asked for');
  });
}

test('SO_RXQ_OVFL: the drop counter rises when a tiny receive buffer overflows', {
  skip: skipNoNative,
}, async (t) => {
  const b = native();
  const rx = b.msock_udp_socket({
    family: 4,
    address: '127.0.0.1',
    port: 0,
    options: preBindRows({ family: 4, protocol: 'udp' }, [
      ['SO_RCVBUFFORCE', 1], // raised to the kernel minimum: room for a datagram or two
      ['SO_RXQ_OVFL', true],
    ]),
  });
  t.after(() => b.msock_close(rx.fd));
  const tx = await adoptedSender(4, 0);
  t.after(() => tx.socket.close());

  const payload = Buffer.alloc(1200, 1);
  const sends: Array<Promise<void>> = [];
  for (let i = 0; i < 200; i++) {
    sends.push(
      new Promise((resolve, reject) =>
        tx.socket.send(payload, rx.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      ),
    );
  }
  await Promise.all(sends);
  // Datagrams queued before the overflow carry no counter; drain them, then send one that
  // is queued after the drops and so carries the count.
  const buffer = Buffer.alloc(2048);
  let drained = 0;
  while (drained < 300 && b.msock_recvmsg(rx.fd, buffer) !== null) drained++;
  assert.ok(drained < 200, `only ${drained} of 200 should have fit`);
  tx.socket.send('after', rx.port, '127.0.0.1');
  const d = await recvOne(rx.fd, buffer);
  assert.ok(d);
  assert.equal(d.bytes, 5);
  assert.ok((d.drops ?? 0) > 0, `expected drops > 0, got ${String(d.drops)}`);
  assert.ok((d.drops ?? 0) <= 200 - drained);
});

test('msock_recvmsg returns null when nothing is queued and keeps fds balanced', {
  skip: skipNoNative,
}, async () => {
  const b = native();
  const baseline = openFdCount();
  const rx = b.msock_udp_socket({
    family: 4,
    address: '127.0.0.1',
    port: 0,
    options: preBindRows({ family: 4, protocol: 'udp' }, [['IP_PKTINFO', true]]),
  });
  const buffer = Buffer.alloc(16);
  for (let i = 0; i < 100; i++) assert.equal(b.msock_recvmsg(rx.fd, buffer), null);
  b.msock_close(rx.fd);
  assert.throws(() => b.msock_recvmsg(rx.fd, buffer), {
    name: 'SystemCallError',
    code: 'EBADF',
    syscall: 'recvmsg',
  });
  await assertFdsBackToBaseline(baseline);
});
