/**
 * PortPool: leases are even/odd pairs inside the range, 1000 lease/release cycles leave the fd
 * count at its baseline, exhaustion is typed and counted, double release is typed, close()
 * releases everything, concurrent leases never share a port. Every socket is on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { PortPool } from '../../src/rtp/port-pool.js';
import type { PortLease } from '../../src/rtp/port-pool.js';
import { reservedPortCount } from '../../src/rtp/port-reservations.js';
import {
  InvalidArgumentError,
  InvalidStateError,
  PortRangeExhaustedError,
} from '../../src/errors.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';

/** A random even base below the kernel's ephemeral range, so the kernel never hands these out. */
function randomBase(span: number): number {
  return 2 * Math.floor((20000 + Math.random() * (12000 - span)) / 2);
}

function pool(min: number, pairs: number): PortPool {
  return new PortPool({ type: 'udp4', address: '127.0.0.1', min, max: min + 2 * pairs - 1 });
}

test('1000 pairs leased and released: fd count and reservations back to baseline', async () => {
  const p = pool(randomBase(64), 32);
  const warm = await p.lease();
  await warm.release();
  const baseline = openFdCount();
  const reserved = reservedPortCount();
  const held: PortLease[] = [];
  for (let i = 0; i < 1000; i++) {
    const lease = await p.lease();
    assert.equal(lease.rtpPort % 2, 0);
    assert.equal(lease.rtcpPort, lease.rtpPort + 1);
    held.push(lease);
    // Hold up to 16 at a time so leases overlap, then release the oldest.
    if (held.length === 16) await held.shift()?.release();
  }
  await Promise.all(held.map((l) => l.release()));
  const stats = p.stats;
  assert.equal(stats.leased, 0);
  assert.equal(stats.leasesTotal, 1001);
  assert.equal(stats.free, 32);
  assert.equal(stats.capacity, 32);
  await assertFdsBackToBaseline(baseline);
  assert.equal(reservedPortCount(), reserved);
  await p.close();
});

test('exhaustion: every pair leased -> PortRangeExhaustedError, counted; release frees one', async (t) => {
  const min = randomBase(6);
  const p = pool(min, 3);
  t.after(() => p.close());
  const leases = await Promise.all([p.lease(), p.lease(), p.lease()]);
  assert.deepEqual(
    leases.map((l) => l.rtpPort).sort((a, b) => a - b),
    [min, min + 2, min + 4],
  );
  assert.deepEqual(p.stats, { leased: 3, free: 0, capacity: 3, leasesTotal: 3, exhausted: 0 });
  await assert.rejects(p.lease(), (err: unknown) => {
    assert.ok(err instanceof PortRangeExhaustedError);
    assert.equal(err.min, min);
    assert.equal(err.max, min + 5);
    return true;
  });
  assert.equal(p.stats.exhausted, 1);
  const freed = leases[1];
  assert.ok(freed);
  await p.release(freed);
  const again = await p.lease();
  assert.equal(again.rtpPort, freed.rtpPort);
});

test('exhaustion by ports busy elsewhere is reported after binding tries, and counted', async (t) => {
  const min = randomBase(4);
  const a = pool(min, 2);
  const b = pool(min, 2);
  t.after(() => Promise.all([a.close(), b.close()]));
  await a.lease();
  await a.lease();
  await assert.rejects(b.lease(), PortRangeExhaustedError);
  assert.equal(b.stats.exhausted, 1);
  assert.equal(b.stats.leased, 0);
});

test('concurrent leases never share a port', async (t) => {
  const p = pool(randomBase(100), 50);
  t.after(() => p.close());
  const leases = await Promise.all(Array.from({ length: 50 }, () => p.lease()));
  const ports = leases.flatMap((l) => [l.rtpPort, l.rtcpPort]);
  assert.equal(new Set(ports).size, 100);
  await assert.rejects(p.lease(), PortRangeExhaustedError);
});

test('double release and a foreign lease are typed errors', async (t) => {
  const min = randomBase(8);
  const p = pool(min, 2);
  const other = pool(min + 4, 2);
  t.after(() => Promise.all([p.close(), other.close()]));
  const lease = await p.lease();
  await lease.release();
  assert.equal(lease.released, true);
  await assert.rejects(lease.release(), InvalidStateError);
  await assert.rejects(p.release(lease), InvalidStateError);
  const foreign = await other.lease();
  await assert.rejects(
    p.release(foreign),
    (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'lease',
  );
  await assert.rejects(
    p.release({} as PortLease),
    (err: unknown) => err instanceof InvalidArgumentError,
  );
  for (const bad of [null, 42, 'x']) {
    await assert.rejects(
      p.lease(bad as never),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'options',
      String(bad),
    );
  }
});

test('close() releases every lease, refuses new ones, and is idempotent', async () => {
  const baseline = openFdCount();
  const p = pool(randomBase(8), 4);
  const leases = await Promise.all([p.lease(), p.lease()]);
  const closing = p.close();
  assert.equal(p.close(), closing);
  await closing;
  assert.equal(p.closed, true);
  for (const l of leases) {
    assert.equal(l.released, true);
    assert.equal(l.rtp.closed && l.rtcp.closed, true);
    await assert.rejects(l.release(), /by pool close/);
  }
  await assert.rejects(p.lease(), InvalidStateError);
  assert.equal(p.stats.leased, 0);
  await assertFdsBackToBaseline(baseline);
});

test('bad ranges are rejected when the pool is made', () => {
  const cases: Array<[unknown, string]> = [
    [{ type: 'udp4', min: 5001, max: 5100 }, 'portRange.min'],
    [{ type: 'udp4', min: 5000, max: 5100 }, 'portRange.max'],
    [{ type: 'udp4', min: 5000, max: 5000 }, 'portRange'],
    [{ type: 'udp4', min: 0, max: 5001 }, 'portRange.min'],
    [{ type: 'udp4', min: 70000, max: 70001 }, 'portRange.min'],
    [{ type: 'udp7', min: 5000, max: 5001 }, 'type'],
    [undefined, 'options'],
  ];
  for (const [options, argument] of cases) {
    assert.throws(
      () => new PortPool(options as ConstructorParameters<typeof PortPool>[0]),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === argument,
      JSON.stringify(options),
    );
  }
});
