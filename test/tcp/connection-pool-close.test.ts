/**
 * TcpConnectionPool.close() with acquires in flight: one connecting to a peer that never answers
 * the SYN (a loopback listener whose accept queue is full) and one waiting behind it for the
 * endpoint's only slot. Every acquire settles with a typed error at once, nothing keeps the
 * process alive, and every descriptor is released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidStateError } from '../../src/errors.js';
import { TcpConnectionPool } from '../../src/tcp/connection-pool.js';
import { assertFdsBackToBaseline, openFdCount } from '../helpers/fds.js';
import { startStalledListener } from './fixtures/stalled-listener.js';

/** Resolves with the outcome of `promise`, or `'pending'` once `ms` have passed. */
async function outcome(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (v) => v,
        (e: unknown) => e,
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test('close() settles an acquire still connecting and the one waiting behind it', async (t) => {
  const stalled = await startStalledListener();
  t.after(() => stalled.close());
  const baseline = openFdCount();
  const pool = new TcpConnectionPool({ maxPerKey: 1 });
  const endpoint = `127.0.0.1:${stalled.port}`;
  const connecting = pool.acquire(endpoint);
  const waiting = pool.acquire(endpoint);
  // Both in flight: one SYN unanswered, one caller in line for the only slot.
  for (let i = 0; i < 100 && pool.stats().total.waiting < 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(
    [pool.stats().total.connecting, pool.stats().total.waiting],
    [1, 1],
    'one connecting, one waiting',
  );
  const closed = pool.close();
  const [first, second, done] = await Promise.all([
    outcome(connecting, 3000),
    outcome(waiting, 3000),
    outcome(closed, 3000),
  ]);
  assert.ok(first instanceof InvalidStateError, `the connecting acquire: ${String(first)}`);
  assert.ok(second instanceof InvalidStateError, `the waiting acquire: ${String(second)}`);
  assert.equal(done, undefined, 'close() resolves');
  assert.equal(pool.stats().total.connecting, 0);
  await assertFdsBackToBaseline(baseline);
});

test('close() right after a release handed the slot to a waiter: the waiter does not connect', async (t) => {
  // One free place in the accept queue: the first connect completes, any later one hangs.
  const stalled = await startStalledListener(1);
  t.after(() => stalled.close());
  const baseline = openFdCount();
  const pool = new TcpConnectionPool({ maxPerKey: 1 });
  const endpoint = `127.0.0.1:${stalled.port}`;
  const first = await pool.acquire(endpoint, { timeoutMs: 5000 });
  const waiting = pool.acquire(endpoint);
  for (let i = 0; i < 100 && pool.stats().total.waiting < 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(pool.stats().total.waiting, 1, 'the second acquire waits');
  // destroy() grants the freed slot to the waiter, which would connect on its next tick.
  pool.destroy(first);
  const closed = pool.close();
  const [second, done] = await Promise.all([outcome(waiting, 3000), outcome(closed, 3000)]);
  assert.ok(second instanceof InvalidStateError, `the waiting acquire: ${String(second)}`);
  assert.equal(done, undefined, 'close() resolves');
  assert.equal(pool.stats().total.connecting, 0);
  await assertFdsBackToBaseline(baseline);
});
