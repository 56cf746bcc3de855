/**
 * Per-row TTL on the batch engine's sends, checked on the wire: the row's TTL goes out as a
 * control message on that datagram only (IP_TTL / IPV6_HOPLIMIT), and rows without one (-1) leave
 * with the socket's TTL, before and after. The receiver turns on IP_RECVTTL / IPV6_RECVHOPLIMIT
 * and reads each datagram's TTL with msock_recvmsg.
 *
 * Network safety: unicast goes to 127.0.0.1 and ::1; the multicast sender is pinned to lo
 * (IP_MULTICAST_IF 127.0.0.1 by lo's index, checked before the first send) and the receiver
 * joins on lo's index only. Group from 239.255.0.0/16 (organization-local, RFC 2365).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from '../../src/errors.js';
import { nativeStatus, requireNative } from '../../src/native/index.js';
import type { NativeBinding, NativeDatagram } from '../../src/native/index.js';
import { preBindRows } from '../../src/option-rows.js';
import { BatchEngine, SendRows } from '../../src/udp/batch-engine.js';
import type { BatchEngineSink } from '../../src/udp/batch-engine.js';
import { ipv6LoopbackSkipReason } from '../helpers/capabilities.js';

const status = nativeStatus();
const skip = !status.loaded
  ? `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`
  : process.platform !== 'linux'
    ? `the batch engine needs Linux (this is ${process.platform})`
    : undefined;
const v6Skip = skip ?? ipv6LoopbackSkipReason();

const GROUP = '239.255.77.40';

function native(): NativeBinding {
  return requireNative('test');
}

function constant(name: string): number {
  const v = native().constants[name];
  assert.equal(typeof v, 'number', `${name} is not defined by this addon`);
  return v!;
}

/** A batch engine on a fresh socket of `family` bound to loopback; errors are collected. */
function engineOn(
  family: 4 | 6,
  dualStack = false,
): { engine: BatchEngine; fd: number; errors: Error[] } {
  const s = native().msock_udp_socket({
    family,
    address: family === 4 ? '127.0.0.1' : dualStack ? '::' : '::1',
    port: 0,
    options: family === 6 ? preBindRows({ family, protocol: 'udp' }, [['IPV6_V6ONLY', !dualStack]]) : [],
  });
  const errors: Error[] = [];
  const sink: BatchEngineSink = {
    batch: () => undefined,
    error: (err) => errors.push(err),
    writable: () => undefined,
    closed: (err) => {
      if (err) errors.push(err);
    },
  };
  const engine = new BatchEngine(
    native(),
    s.fd,
    { slots: 4, slotBytes: 2048, gro: false, sourceAddress: true, maxBatchesPerWake: 1, pktinfo: false, timestamps: false },
    sink,
  );
  return { engine, fd: s.fd, errors };
}

/** Reads `count` datagrams from `fd` (at most 600 polls and 3 s). */
async function receive(fd: number, count: number): Promise<NativeDatagram[]> {
  const got: NativeDatagram[] = [];
  const buffer = Buffer.alloc(2048);
  const deadline = Date.now() + 3000;
  for (let i = 0; i < 600 && got.length < count && Date.now() < deadline; i++) {
    const d = native().msock_recvmsg(fd, buffer);
    if (d === null) await sleep(5);
    else got.push(d);
  }
  return got;
}

interface Case {
  family: 4 | 6;
  /** The sender is a dual-stack AF_INET6 socket sending to a v4-mapped address. */
  mapped?: boolean;
  receiverAddress: string;
  destination: string;
  /** The socket's own TTL for this destination, read back from the sender. */
  defaultOption: string;
  recvOption: [string, string];
  prepare?: (b: NativeBinding, senderFd: number, receiverFd: number) => void;
}

/**
 * Sends rows with TTL 5, -1, 7, a GSO row of three datagrams with TTL 9, and a last row with -1,
 * and checks what each datagram carried.
 */
async function checkTtls(c: Case): Promise<void> {
  const b = native();
  const rx = b.msock_udp_socket({
    family: c.family,
    address: c.receiverAddress,
    port: 0,
    options: c.family === 6 ? preBindRows({ family: 6, protocol: 'udp' }, [['IPV6_V6ONLY', true]]) : [],
  });
  const tx = engineOn(c.mapped ? 6 : c.family, c.mapped);
  try {
    b.msock_setsockopt(rx.fd, constant(c.recvOption[0]), constant(c.recvOption[1]), 'int', 1);
    c.prepare?.(b, tx.fd, rx.fd);
    // A v4-mapped destination leaves over IPv4: the IPPROTO_IP value applies (Linux keeps it on the
    // AF_INET6 socket too).
    const level = c.family === 4 ? constant('IPPROTO_IP') : constant('IPPROTO_IPV6');
    const socketTtl = b.msock_getsockopt(tx.fd, level, constant(c.defaultOption), 'int') as number;
    const payload = new Uint8Array(600);
    for (let i = 0; i < 6; i++) payload[i * 100] = i + 1;
    const rows = new SendRows(() => 0);
    rows.push(0, 100, 0, c.destination, rx.port, 5);
    rows.push(100, 100, 0, c.destination, rx.port);
    rows.push(200, 100, 0, c.destination, rx.port, 7);
    rows.push(300, 300, 100, c.destination, rx.port, 9);
    rows.push(0, 100, 0, c.destination, rx.port, -1);
    const sent = tx.engine.send(payload, rows.rows, 0, rows.count, 0);
    assert.deepEqual(
      { sent, blocked: tx.engine.sendBlocked, errno: tx.engine.sendErrno },
      { sent: 7, blocked: false, errno: 0 },
    );
    const got = await receive(rx.fd, 7);
    assert.deepEqual(
      got.map((d) => [d.bytes, d.ttl]),
      [
        [100, 5],
        [100, socketTtl],
        [100, 7],
        [100, 9],
        [100, 9],
        [100, 9],
        [100, socketTtl],
      ],
    );
    assert.notEqual(socketTtl, 5);
    assert.notEqual(socketTtl, 7);
    assert.deepEqual(tx.errors, []);
  } finally {
    tx.engine.close();
    b.msock_close(rx.fd);
  }
}

test('per-row TTL on the wire: IPv4 unicast (IP_TTL control message)', { skip }, async () => {
  await checkTtls({
    family: 4,
    receiverAddress: '127.0.0.1',
    destination: '127.0.0.1',
    defaultOption: 'IP_TTL',
    recvOption: ['IPPROTO_IP', 'IP_RECVTTL'],
  });
});

test('per-row TTL on the wire: IPv6 unicast on ::1 (IPV6_HOPLIMIT control message)', {
  skip: v6Skip,
}, async () => {
  await checkTtls({
    family: 6,
    receiverAddress: '::1',
    destination: '::1',
    defaultOption: 'IPV6_UNICAST_HOPS',
    recvOption: ['IPPROTO_IPV6', 'IPV6_RECVHOPLIMIT'],
  });
});

test('per-row TTL on the wire: dual-stack socket to a v4-mapped address (IP_TTL)', {
  skip: v6Skip,
}, async () => {
  await checkTtls({
    family: 4,
    mapped: true,
    receiverAddress: '127.0.0.1',
    destination: '::ffff:127.0.0.1',
    defaultOption: 'IP_TTL',
    recvOption: ['IPPROTO_IP', 'IP_RECVTTL'],
  });
});

test('per-row TTL on the wire: IPv4 multicast pinned to lo', { skip }, async () => {
  await checkTtls({
    family: 4,
    receiverAddress: GROUP,
    destination: GROUP,
    defaultOption: 'IP_MULTICAST_TTL',
    recvOption: ['IPPROTO_IP', 'IP_RECVTTL'],
    prepare: (b, senderFd, receiverFd) => {
      const lo = b.msock_if_nametoindex('lo');
      const ip = constant('IPPROTO_IP');
      b.msock_setsockopt(senderFd, ip, constant('IP_MULTICAST_IF'), 'mreqn', {
        ifindex: lo,
        address: '127.0.0.1',
      });
      // Never send multicast that is not pinned to lo.
      assert.equal(b.msock_getsockopt(senderFd, ip, constant('IP_MULTICAST_IF'), 'mreqn'), '127.0.0.1');
      b.msock_setsockopt(senderFd, ip, constant('IP_MULTICAST_LOOP'), 'uchar', 1);
      b.msock_mcast_membership(receiverFd, { family: 4, op: 'join', group: GROUP, ifindex: lo });
    },
  });
});

test('send rows with a TTL outside -1..255, or 0 for IPv4, are refused before any send', {
  skip,
}, () => {
  const tx = engineOn(4);
  try {
    const payload = new Uint8Array(10);
    for (const ttl of [256, -2, 0]) {
      const rows = new SendRows(() => 0);
      rows.push(0, 10, 0, '127.0.0.1', 9, ttl);
      assert.throws(
        () => tx.engine.send(payload, rows.rows, 0, 1, 0),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError, String(err));
          assert.equal(err.argument, 'rows');
          return true;
        },
        `ttl ${ttl}`,
      );
    }
  } finally {
    tx.engine.close();
  }
});
