/**
 * Multicast on the loopback interface of the root namespace. Every join names `lo` and every sender
 * pins its egress to `lo` with TTL 0, so nothing leaves the machine. Groups: 239.255.x (RFC 2365
 * administratively scoped) for ASM, 232.0.1.x (RFC 4607 SSM range) for SSM; the distinct 127.x
 * addresses of `lo` serve as distinct SSM sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { UdpSocket } from '../src/udp/udp-socket.js';
import type { UdpSocketOptions } from '../src/udp/udp-socket.js';
import { InvalidArgumentError, SystemCallError } from '../src/errors.js';
import { findInterface } from '../src/interfaces.js';
import type { Datagram } from '../src/udp/udp-socket.js';

async function open(
  t: { after(fn: () => Promise<void> | void): void },
  options: UdpSocketOptions,
): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

/** A sender bound to `source` on lo, pinned to lo, TTL 0. */
function sender(
  t: { after(fn: () => Promise<void> | void): void },
  source = '127.0.0.1',
): Promise<UdpSocket> {
  return open(t, {
    type: 'udp4',
    address: source,
    multicastInterface: 'lo',
    multicastTtl: 0,
    multicastLoopback: true,
  });
}

/** Collects what arrives within `ms` (bounded by `max` datagrams). */
async function collect(s: UdpSocket, ms: number, max = 100): Promise<Datagram[]> {
  const got: Datagram[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    while (got.length < max) got.push(await s.receive({ signal: ac.signal }));
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'MEDIASOCK_ERR_ABORTED')) throw err;
  } finally {
    clearTimeout(timer);
  }
  return got;
}

/** Groups joined on lo according to the kernel (/proc/net/igmp lists them in little-endian hex). */
function loGroups(): string[] {
  const lines = readFileSync('/proc/net/igmp', 'utf8').split('\n');
  const groups: string[] = [];
  let inLo = false;
  for (const line of lines) {
    if (/^\d+\s/.test(line)) inLo = /^\d+\s+lo\s*:/.test(line);
    else if (inLo) {
      const hex = line.trim().split(/\s+/)[0];
      if (hex && /^[0-9A-F]{8}$/.test(hex)) {
        const n = Number.parseInt(hex, 16);
        groups.push([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'));
      }
    }
  }
  return groups;
}

test('ASM IPv4 on lo: join by name, index and address; sender pinned to lo receives', async (t) => {
  const lo = findInterface('lo');
  for (const [i, iface] of (['lo', lo.index, '127.0.0.1'] as const).entries()) {
    const group = `239.255.42.${10 + i}`;
    const rx = await open(t, { type: 'udp4', address: '0.0.0.0', reuseAddr: true });
    const joined = rx.addMembership(group, iface);
    assert.deepEqual(joined, [
      { group, source: undefined, interface: 'lo', interfaceIndex: lo.index, blocked: [] },
    ]);
    assert.ok(loGroups().includes(group), `${group} listed on lo in /proc/net/igmp`);
    const tx = await sender(t);
    const next = rx.receive();
    await tx.send(`hello ${i}`, rx.address().port, group);
    const d = await next;
    assert.equal(d.data.toString(), `hello ${i}`);
    assert.equal(d.address, '127.0.0.1');
    rx.dropMembership(group, iface);
    assert.deepEqual(rx.memberships(), []);
  }
});

test('SSM IPv4 on lo: only the joined source is delivered (127.x addresses as distinct sources)', async (t) => {
  const group = '232.0.1.254';
  const rx = await open(t, { type: 'udp4', address: group, reuseAddr: true });
  rx.addSourceSpecificMembership('127.0.0.2', group, 'lo');
  assert.deepEqual(rx.memberships(), [
    {
      group,
      source: '127.0.0.2',
      interface: 'lo',
      interfaceIndex: findInterface('lo').index,
      blocked: [],
    },
  ]);
  const wanted = await sender(t, '127.0.0.2');
  const other = await sender(t, '127.0.0.3');
  const port = rx.address().port;
  for (let i = 0; i < 5; i++) {
    await other.send(`other ${i}`, port, group);
    await wanted.send(`wanted ${i}`, port, group);
  }
  const got = await collect(rx, 300, 20);
  assert.deepEqual(
    got.map((d) => `${d.address} ${d.data.toString()}`),
    [0, 1, 2, 3, 4].map((i) => `127.0.0.2 wanted ${i}`),
  );
});

test('close leaves every group it joined', async () => {
  const rx = await UdpSocket.open({ type: 'udp4', address: '0.0.0.0', reuseAddr: true });
  rx.addMembership('239.255.42.30', 'lo');
  rx.addMembership('239.255.42.31', 'lo');
  rx.addSourceSpecificMembership('127.0.0.2', '232.0.1.30', 'lo');
  assert.equal(rx.memberships().length, 3);
  assert.ok(loGroups().includes('239.255.42.30'));
  await rx.close();
  for (let i = 0; i < 50 && loGroups().includes('239.255.42.30'); i++) await sleep(10);
  const left = loGroups();
  for (const g of ['239.255.42.30', '239.255.42.31', '232.0.1.30'])
    assert.ok(!left.includes(g), `${g} left`);
});

test('bad multicast input: unicast group, family mismatch, unknown interface, second join', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '0.0.0.0', reuseAddr: true });
  assert.throws(
    () => rx.addMembership('10.0.0.1', 'lo'),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /group must be a multicast address .*\(received "10\.0\.0\.1"\)/);
      return true;
    },
  );
  assert.throws(
    () => rx.addSourceSpecificMembership('::1', '232.1.1.1', 'lo'),
    /source must be an IPv4 address/,
  );
  assert.throws(
    () => rx.addSourceSpecificMembership('232.0.0.9', '232.1.1.1', 'lo'),
    /source must be a unicast address/,
  );
  assert.throws(
    () => rx.addMembership('ff15::1', 'lo'),
    /must be an IPv4 group on this udp4 socket/,
  );
  assert.throws(() => rx.addMembership('not an address', 'lo'), InvalidArgumentError);
  assert.throws(() => rx.addMembership('239.255.42.40', 'no-such-if0'), InvalidArgumentError);
  assert.throws(() => rx.addMembership('239.255.42.40', []), InvalidArgumentError);
  rx.addMembership('239.255.42.40', 'lo');
  assert.throws(
    () => rx.addMembership('239.255.42.40', 'lo'),
    (err: unknown) => err instanceof SystemCallError && err.code === 'EADDRINUSE',
  );
  assert.equal(rx.memberships().length, 1);

  const dual = await open(t, { type: 'udp6', address: '::' });
  assert.throws(
    () => dual.addMembership('239.255.42.41', 'lo'),
    /open the socket in the group's family/,
  );
});

test('a join on several interfaces is all or nothing: a failure leaves the joins it made', async (t) => {
  const rx = await open(t, { type: 'udp4', address: '0.0.0.0', reuseAddr: true });
  // The second join of the same group on the same interface fails (EADDRINUSE), so the first must
  // be left again.
  assert.throws(
    () => rx.addMembership('239.255.42.50', ['lo', 'lo']),
    (err: unknown) => err instanceof SystemCallError && err.code === 'EADDRINUSE',
  );
  assert.deepEqual(rx.memberships(), []);
  for (let i = 0; i < 50 && loGroups().includes('239.255.42.50'); i++) await sleep(10);
  assert.ok(!loGroups().includes('239.255.42.50'), 'the first join was left again');
  // And the group can be joined normally afterwards.
  rx.addMembership('239.255.42.50', 'lo');
  assert.equal(rx.memberships().length, 1);
});
