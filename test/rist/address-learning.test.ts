/** AddressLearner: first media source wins, RTCP only from the media host, unmapped comparison, rebind after silence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { AddressLearner } from '../../src/rist/address-learning.js';
import { InvalidArgumentError } from '../../src/errors.js';

test('first media source wins; a second source is rejected and counted', () => {
  const l = new AddressLearner();
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 5000 }, 0), 'learned');
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 5000 }, 1), 'known');
  assert.equal(l.learnMedia({ address: '10.0.0.2', port: 5000 }, 2), 'rejected');
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 5002 }, 3), 'rejected');
  assert.deepEqual(l.media, { address: '10.0.0.1', port: 5000 });
  assert.equal(l.stats.mediaRejected, 2);
});

test('RTCP is accepted from the media host only (any port), compared unmapped', () => {
  const l = new AddressLearner();
  l.learnMedia({ address: '::ffff:10.0.0.1', port: 5000 }, 0);
  assert.deepEqual(l.media, { address: '10.0.0.1', port: 5000 });
  assert.equal(l.learnRtcp({ address: '10.0.0.9', port: 5001 }, 1), 'rejected');
  assert.equal(l.learnRtcp({ address: '10.0.0.1', port: 40001 }, 2), 'learned');
  assert.equal(l.learnRtcp({ address: '::ffff:10.0.0.1', port: 40001 }, 3), 'known');
  assert.equal(l.learnRtcp({ address: '10.0.0.1', port: 40003 }, 4), 'rejected');
  assert.equal(l.stats.rtcpRejected, 2);
});

test('RTCP before media: learned, then dropped when media comes from another host', () => {
  const l = new AddressLearner();
  assert.equal(l.learnRtcp({ address: '10.0.0.7', port: 1 }, 0), 'learned');
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 5000 }, 1), 'learned');
  assert.equal(l.rtcp, undefined);
  assert.equal(l.learnRtcp({ address: '10.0.0.7', port: 1 }, 2), 'rejected');
});

test('rebind after silence; silentFor; forget', () => {
  const l = new AddressLearner({ rebindAfterMs: 1000 });
  assert.equal(l.silentFor(0), Infinity);
  l.learnMedia({ address: '10.0.0.1', port: 5000 }, 0);
  l.learnRtcp({ address: '10.0.0.1', port: 5001 }, 10);
  assert.equal(l.silentFor(510), 500);
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 6000 }, 500), 'rejected');
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 6000 }, 1010), 'rebound');
  assert.equal(l.rtcp, undefined, 'the old RTCP address goes with the old media address');
  assert.equal(l.stats.rebinds, 1);
  l.forget();
  assert.equal(l.media, undefined);
  assert.equal(l.learnMedia({ address: '10.0.0.3', port: 1 }, 1020), 'learned');
});

test('bad input is a typed error', () => {
  const l = new AddressLearner();
  assert.throws(() => l.learnMedia({ address: 'nope', port: 1 }, 0), InvalidArgumentError);
  assert.throws(() => l.learnMedia({ address: '10.0.0.1', port: 70000 }, 0), InvalidArgumentError);
  assert.throws(() => new AddressLearner({ rebindAfterMs: -1 }), InvalidArgumentError);
});

test('a clock reading that is not a finite number is refused and learns nothing', () => {
  const l = new AddressLearner({ rebindAfterMs: 10 });
  for (const bad of [Number.NaN, Infinity, '5', null, undefined]) {
    assert.throws(
      () => l.learnMedia({ address: '10.0.0.1', port: 5000 }, bad as number),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'nowMs',
      String(bad),
    );
    assert.throws(
      () => l.learnRtcp({ address: '10.0.0.1', port: 5001 }, bad as number),
      InvalidArgumentError,
    );
    assert.throws(() => l.silentFor(bad as number), InvalidArgumentError);
  }
  assert.equal(l.media, undefined);
  assert.equal(l.learnMedia({ address: '10.0.0.1', port: 5000 }, 0), 'learned');
  assert.equal(l.silentFor(4), 4);
});
