/** The bounded reader queue: FIFO, waiting readers first, drops counted, abort, end. */
import assert from 'node:assert/strict';
import test from 'node:test';

import { AbortError } from '../../src/errors.js';
import { ReaderQueue } from '../../src/internal/reader-queue.js';

test('items go to waiting readers first, then queue in order', async () => {
  const q = new ReaderQueue<number>(10);
  const first = q.next(undefined, 'test');
  assert.equal(q.waiting, 1);
  q.push(1);
  q.push(2);
  q.push(3);
  assert.equal(await first, 1);
  assert.equal(q.length, 2);
  assert.equal(await q.next(undefined, 'test'), 2);
  assert.equal(await q.next(undefined, 'test'), 3);
  assert.equal(q.length, 0);
});

test('past the bound the oldest is dropped and counted', async () => {
  const q = new ReaderQueue<number>(3);
  for (let i = 0; i < 10; i++) q.push(i);
  assert.equal(q.length, 3);
  assert.equal(q.drops, 7);
  assert.deepEqual([await q.next(undefined, 't'), await q.next(undefined, 't')], [7, 8]);
});

test('a long run stays bounded in memory (the consumed prefix is compacted)', async () => {
  const q = new ReaderQueue<number>(5000);
  for (let round = 0; round < 100; round++) {
    for (let i = 0; i < 3000; i++) q.push(i);
    for (let i = 0; i < 3000; i++) assert.equal(await q.next(undefined, 't'), i);
  }
  assert.equal(q.length, 0);
  assert.equal(q.drops, 0);
});

test('abort rejects a waiting reader with AbortError and removes it', async () => {
  const q = new ReaderQueue<number>(3);
  const ac = new AbortController();
  const waiting = q.next(ac.signal, 'op');
  ac.abort();
  await assert.rejects(waiting, AbortError);
  assert.equal(q.waiting, 0);
  q.push(1);
  assert.equal(q.length, 1, 'the aborted reader took nothing');
  await assert.rejects(q.next(AbortSignal.abort(), 'op'), AbortError);
});

test('end() resolves waiting readers with undefined and discards the queue', async () => {
  const q = new ReaderQueue<number>(3);
  q.push(1);
  q.end();
  assert.equal(await q.next(undefined, 't'), undefined);
  const q2 = new ReaderQueue<number>(3);
  const waiting = q2.next(undefined, 't');
  q2.end();
  assert.equal(await waiting, undefined);
  q2.push(5);
  assert.equal(q2.length, 0, 'nothing is queued after the end');
});
