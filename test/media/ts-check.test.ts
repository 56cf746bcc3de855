import { test } from 'node:test';
import assert from 'node:assert/strict';

import { TsChecker, looksLikeTransportStream } from '../../src/index.js';

function packet(
  pid: number,
  cc: number,
  options: { payload?: boolean; discontinuity?: boolean } = {},
): Buffer {
  const b = Buffer.alloc(188, 0xff);
  b[0] = 0x47;
  b[1] = (pid >> 8) & 0x1f;
  b[2] = pid & 0xff;
  const payload = options.payload ?? true;
  // A packet without payload carries an adaptation field (adaptation_field_control 10).
  const adaptation = options.discontinuity === true || !payload;
  b[3] = (((adaptation ? 0x2 : 0) | (payload ? 0x1 : 0)) << 4) | (cc & 0x0f);
  if (adaptation) {
    b[4] = payload ? 1 : 183;
    b[5] = options.discontinuity === true ? 0x80 : 0;
  }
  return b;
}

test('in-order counters, a single repeat and the null PID are not errors', () => {
  const c = new TsChecker();
  const ps = [];
  for (let i = 0; i < 40; i++) ps.push(packet(0x100, i));
  ps.push(packet(0x100, 39)); // repeated once: allowed
  ps.push(packet(0x1fff, 3), packet(0x1fff, 9)); // null packets: not checked
  ps.push(packet(0x100, 40));
  c.addPackets(Buffer.concat(ps));
  assert.equal(c.ccErrors, 0);
  assert.equal(c.packets, 44);
});

test('a skipped counter, a second repeat and a bad sync byte are counted', () => {
  const c = new TsChecker();
  const bad = packet(0x101, 0);
  bad[0] = 0x00;
  c.addPackets(
    Buffer.concat([packet(0x100, 0), packet(0x100, 2), packet(0x100, 2), packet(0x100, 2), bad]),
  );
  assert.equal(c.ccErrors, 2);
  assert.equal(c.syncErrors, 1);
});

test('the discontinuity indicator allows a jump; packets without payload keep the counter', () => {
  const c = new TsChecker();
  c.addPackets(
    Buffer.concat([
      packet(0x100, 0),
      packet(0x100, 9, { discontinuity: true }),
      packet(0x100, 9, { payload: false }),
      packet(0x100, 10),
    ]),
  );
  assert.equal(c.ccErrors, 0);
});

test('looksLikeTransportStream wants whole 188-byte packets with sync bytes', () => {
  assert.equal(looksLikeTransportStream(Buffer.concat([packet(1, 0), packet(1, 1)])), true);
  assert.equal(looksLikeTransportStream(Buffer.alloc(188)), false);
  assert.equal(looksLikeTransportStream(Buffer.alloc(100, 0x47)), false);
});
