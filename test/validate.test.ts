import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../src/errors.js';
import {
  validateAbortSignal,
  validateBoolean,
  validateByteCount,
  validateDscp,
  validateHopLimit,
  validateInteger,
  validatePort,
  validateString,
  validateTimeoutMs,
  validateTos,
  validateTtl,
} from '../src/validate.js';

interface Row {
  name: string;
  check: (value: unknown) => void;
  argument: string;
  message: RegExp;
  good: unknown[];
  bad: unknown[];
}

const notNumbers = ['1', null, undefined, true, {}, [], 1n];

const table: Row[] = [
  {
    name: 'validatePort',
    check: (v) => validatePort(v),
    argument: 'port',
    message: /^port must be an integer in 0\.\.65535 \(received /,
    good: [0, 1, 5004, 65535],
    bad: [-1, 65536, 1.5, NaN, Infinity, ...notNumbers],
  },
  {
    name: 'validateTtl',
    check: (v) => validateTtl(v),
    argument: 'ttl',
    message: /^ttl must be an integer in 0\.\.255 /,
    good: [0, 1, 64, 255],
    bad: [-1, 256, 2.5, NaN, ...notNumbers],
  },
  {
    name: 'validateHopLimit',
    check: (v) => validateHopLimit(v),
    argument: 'hopLimit',
    message: /^hopLimit must be an integer in 0\.\.255 /,
    good: [0, 255],
    bad: [-1, 256, ...notNumbers],
  },
  {
    name: 'validateDscp',
    check: (v) => validateDscp(v),
    argument: 'dscp',
    message: /^dscp must be an integer in 0\.\.63 /,
    good: [0, 34, 46, 63],
    bad: [-1, 64, 255, 0.5, ...notNumbers],
  },
  {
    name: 'validateTos',
    check: (v) => validateTos(v),
    argument: 'tos',
    message: /^tos must be an integer in 0\.\.255 /,
    good: [0, 0xb8, 255],
    bad: [-1, 256, ...notNumbers],
  },
  {
    name: 'validateByteCount',
    check: (v) => validateByteCount(v, 'recvBufferBytes'),
    argument: 'recvBufferBytes',
    message: /^recvBufferBytes must be a positive safe integer of bytes /,
    good: [1, 1500, 2 ** 31, Number.MAX_SAFE_INTEGER],
    bad: [0, -1, 1.5, 2 ** 53, Infinity, NaN, ...notNumbers],
  },
  {
    name: 'validateTimeoutMs',
    check: (v) => validateTimeoutMs(v),
    argument: 'timeoutMs',
    message: /^timeoutMs must be a finite, non-negative number of milliseconds /,
    good: [0, 0.5, 1000, 2 ** 40],
    bad: [-1, -0.1, Infinity, NaN, ...notNumbers],
  },
  {
    name: 'validateInteger',
    check: (v) => validateInteger(v, 'count', -3, 3),
    argument: 'count',
    message: /^count must be an integer in -3\.\.3 /,
    good: [-3, 0, 3],
    bad: [-4, 4, 0.1, ...notNumbers],
  },
  {
    name: 'validateBoolean',
    check: (v) => validateBoolean(v, 'reuseAddress'),
    argument: 'reuseAddress',
    message: /^reuseAddress must be a boolean /,
    good: [true, false],
    bad: [0, 1, 'true', null, undefined],
  },
  {
    name: 'validateString',
    check: (v) => validateString(v, 'iface'),
    argument: 'iface',
    message: /^iface must be a string /,
    good: ['', 'eth0'],
    bad: [0, null, undefined, ['eth0']],
  },
  {
    name: 'validateString nonEmpty',
    check: (v) => validateString(v, 'iface', { nonEmpty: true }),
    argument: 'iface',
    message: /^iface must be (a string|a non-empty string) /,
    good: ['eth0'],
    bad: ['', 0],
  },
  {
    name: 'validateAbortSignal',
    check: (v) => validateAbortSignal(v),
    argument: 'signal',
    message: /^signal must be an AbortSignal or undefined /,
    good: [undefined, new AbortController().signal, AbortSignal.abort()],
    bad: [null, {}, { aborted: false }, new AbortController()],
  },
];

for (const row of table) {
  test(`${row.name} accepts good values and names the argument for bad ones`, () => {
    for (const value of row.good) {
      assert.doesNotThrow(() => row.check(value), `${row.name} should accept ${String(value)}`);
    }
    for (const value of row.bad) {
      assert.throws(
        () => row.check(value),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError, `${row.name}(${String(value)})`);
          assert.equal(err.code, 'MEDIASOCK_ERR_INVALID_ARG');
          assert.equal(err.argument, row.argument);
          assert.equal(err.value, value);
          assert.match(err.message, row.message);
          return true;
        },
        `${row.name} should reject ${String(value)}`,
      );
    }
  });
}

test('validatePort reports the received value in the message', () => {
  assert.throws(() => validatePort(70000, 'options.port'), {
    message: 'options.port must be an integer in 0..65535 (received 70000)',
  });
});
