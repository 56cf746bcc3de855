/**
 * Multicast through the addon on the loopback interface: joins by interface INDEX
 * (MCAST_JOIN_GROUP, which Node cannot do for IPv4), source-specific joins, and IP_MULTICAST_ALL.
 *
 * Network safety: every join names lo's ifindex and every sender is pinned to 127.0.0.1
 * (IP_MULTICAST_IF) with TTL 1, so nothing leaves the host. Groups are from 239.255.0.0/16
 * (organization-local scope, RFC 2365) and SSM from 232.0.1.0/24 (RFC 4607).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemCallError } from '../../src/errors.js';
import { nativeStatus, requireNative } from '../../src/native/index.js';
import type { NativeBinding } from '../../src/native/index.js';
import { preBindRows } from '../../src/option-rows.js';

const status = nativeStatus();
const skipNoNative = status.loaded
  ? false
  : `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`;
const skipNotLinux = process.platform === 'linux' ? false : 'IP_MULTICAST_ALL is Linux only';

const G1 = '239.255.77.1';
const G2 = '239.255.77.2';

function native(): NativeBinding {
  return requireNative('test');
}

/** Probes an IPv4 join on lo; returns a skip reason when the kernel refuses. */
function probeLoMulticast(): string | false {
  if (!status.loaded) return false;
  const b = native();
  const s = b.msock_udp_socket({ family: 4, address: '0.0.0.0', port: 0 });
  try {
    b.msock_mcast_membership(s.fd, {
      family: 4,
      op: 'join',
      group: '239.255.77.254',
      ifindex: b.msock_if_nametoindex('lo'),
    });
    return false;
  } catch (err) {
    return `cannot join a group on lo: ${(err as Error).message}`;
  } finally {
    b.msock_close(s.fd);
  }
}

const skip = skipNoNative || probeLoMulticast();

/** A sender pinned to lo: IP_MULTICAST_IF 127.0.0.1, TTL 1. */
async function loSender(source = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  const listening = once(s, 'listening');
  s.bind(0, source);
  await listening;
  s.setMulticastInterface('127.0.0.1');
  s.setMulticastTTL(1);
  s.setMulticastLoopback(true);
  return s;
}

function send(s: dgram.Socket, text: string, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) =>
    s.send(text, port, address, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Reads `fd` until every payload in `until` was seen (at most 600 polls and 3 s), then drains
 * what is still queued; returns every payload seen.
 */
async function collect(fd: number, until: readonly string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const buffer = Buffer.alloc(256);
  const deadline = Date.now() + 3000;
  for (let i = 0; i < 600 && Date.now() < deadline; i++) {
    const d = native().msock_recvmsg(fd, buffer);
    if (d === null) {
      if (until.every((u) => seen.has(u))) break;
      await sleep(5);
      continue;
    }
    seen.add(buffer.subarray(0, d.bytes).toString());
  }
  return seen;
}

async function twoGroups(multicastAll: boolean | undefined): Promise<[Set<string>, Set<string>]> {
  const b = native();
  const lo = b.msock_if_nametoindex('lo');
  const rows = preBindRows({ family: 4, protocol: 'udp' }, [
    ['SO_REUSEADDR', true],
    ...(multicastAll === undefined ? [] : [['IP_MULTICAST_ALL', multicastAll] as const]),
  ]);
  const a = b.msock_udp_socket({ family: 4, address: '0.0.0.0', port: 0, options: rows });
  const c = b.msock_udp_socket({
    family: 4,
    address: '0.0.0.0',
    port: a.port,
    options: rows,
  });
  const sender = await loSender();
  try {
    b.msock_mcast_membership(a.fd, { family: 4, op: 'join', group: G1, ifindex: lo });
    b.msock_mcast_membership(c.fd, { family: 4, op: 'join', group: G2, ifindex: lo });
    for (let i = 0; i < 3; i++) {
      await send(sender, `G1:${i}`, a.port, G1);
      await send(sender, `G2:${i}`, a.port, G2);
    }
    // Each group's last datagram goes out after everything else: once a receiver has it, the
    // earlier datagrams of both groups have been through the stack too.
    await send(sender, 'G2:end', a.port, G2);
    await send(sender, 'G1:end', a.port, G1);
    const all = multicastAll !== false;
    return [
      await collect(a.fd, all ? ['G1:end', 'G2:end'] : ['G1:end']),
      await collect(c.fd, all ? ['G1:end', 'G2:end'] : ['G2:end']),
    ];
  } finally {
    sender.close();
    b.msock_close(a.fd);
    b.msock_close(c.fd);
  }
}

test('IP_MULTICAST_ALL off: each socket sees only the group it joined', {
  skip: skip || skipNotLinux,
}, async () => {
  const [a, c] = await twoGroups(false);
  assert.deepEqual([...a].sort(), ['G1:0', 'G1:1', 'G1:2', 'G1:end']);
  assert.deepEqual([...c].sort(), ['G2:0', 'G2:1', 'G2:2', 'G2:end']);
});

test('IP_MULTICAST_ALL left on (Linux default): each socket sees both groups', {
  skip: skip || skipNotLinux,
}, async () => {
  const [a, c] = await twoGroups(undefined);
  const both = ['G1:0', 'G1:1', 'G1:2', 'G1:end', 'G2:0', 'G2:1', 'G2:2', 'G2:end'];
  assert.deepEqual([...a].sort(), both);
  assert.deepEqual([...c].sort(), both);
});

test('source-specific join by ifindex: only the joined source is delivered; a second leave fails', {
  skip,
}, async () => {
  const b = native();
  const lo = b.msock_if_nametoindex('lo');
  const group = '232.0.1.254';
  const rx = b.msock_udp_socket({
    family: 4,
    address: '0.0.0.0',
    port: 0,
    options: preBindRows({ family: 4, protocol: 'udp' }, [['IP_MULTICAST_ALL', false]]),
  });
  const good = await loSender('127.0.0.1');
  const other = await loSender('127.0.0.2');
  try {
    b.msock_mcast_membership(rx.fd, { family: 4, op: 'join', group, source: '127.0.0.1', ifindex: lo });
    await send(other, 'other:0', rx.port, group);
    await send(good, 'good:0', rx.port, group);
    await send(other, 'other:1', rx.port, group);
    await send(good, 'good:end', rx.port, group);
    const seen = await collect(rx.fd, ['good:end']);
    assert.deepEqual([...seen].sort(), ['good:0', 'good:end']);

    b.msock_mcast_membership(rx.fd, { family: 4, op: 'leave', group, source: '127.0.0.1', ifindex: lo });
    assert.throws(
      () =>
        b.msock_mcast_membership(rx.fd, {
          family: 4,
          op: 'leave',
          group,
          source: '127.0.0.1',
          ifindex: lo,
        }),
      (err: unknown) => {
        assert.ok(err instanceof SystemCallError);
        // Linux: leaving the last source left the group; ip_mc_source() then finds no group on
        // the socket and answers EINVAL (an any-source leave answers EADDRNOTAVAIL, below).
        assert.equal(err.code, 'EINVAL');
        assert.equal(err.syscall, 'setsockopt');
        assert.equal(err.option, 'MCAST_LEAVE_SOURCE_GROUP');
        assert.equal(err.address, group);
        return true;
      },
    );
  } finally {
    good.close();
    other.close();
    b.msock_close(rx.fd);
  }
});

test('any-source leave without a join fails with EADDRNOTAVAIL naming MCAST_LEAVE_GROUP', {
  skip,
}, () => {
  const b = native();
  const rx = b.msock_udp_socket({ family: 4, address: '0.0.0.0', port: 0 });
  try {
    assert.throws(
      () =>
        b.msock_mcast_membership(rx.fd, {
          family: 4,
          op: 'leave',
          group: G1,
          ifindex: b.msock_if_nametoindex('lo'),
        }),
      { name: 'SystemCallError', code: 'EADDRNOTAVAIL', option: 'MCAST_LEAVE_GROUP' },
    );
  } finally {
    b.msock_close(rx.fd);
  }
});
