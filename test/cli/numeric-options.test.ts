/**
 * Every numeric option of every command, and destination ports: out-of-range, negative and
 * malformed values are usage errors (exit 2, one line) that name the option and its range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { runCli } from './cli-process.js';

const U = 'udp://127.0.0.1:9';
const L = 'udp://@127.0.0.1:0';

const cases: Array<{ args: string[]; message: RegExp }> = [
  { args: ['send', 'udp://127.0.0.1:0'], message: /needs a port from 1 to 65535/ },
  { args: ['relay', L, 'udp://127.0.0.1:0'], message: /needs a port from 1 to 65535/ },
  { args: ['send', U, '--count', '-5'], message: /--count must be a positive integer.*"-5"/ },
  { args: ['send', U, '--count', '1.5'], message: /--count must be a positive integer/ },
  { args: ['send', U, '--pps', '-5'], message: /--pps must be a positive number.*"-5"/ },
  { args: ['send', U, '--pps', '1e12'], message: /--pps must be a positive number, at most 10M/ },
  { args: ['send', U, '--pps', 'fast'], message: /--pps must be a positive number, at most 10M/ },
  { args: ['send', U, '--bitrate', '-1M'], message: /--bitrate must be a positive number/ },
  { args: ['send', U, '--bitrate', '1T'], message: /--bitrate .*at most 100G/ },
  {
    args: ['send', U, '--bitrate', '90G', '--payload-size', '188'],
    message: /--bitrate 90G needs \d+ datagrams per second/,
  },
  { args: ['send', U, '--ttl', '256'], message: /--ttl must be an integer from 0 to 255/ },
  { args: ['send', U, '--ttl', '-1'], message: /--ttl must be an integer from 0 to 255.*"-1"/ },
  { args: ['send', U, '--dscp', '64'], message: /--dscp must be an integer from 0 to 63/ },
  {
    args: ['send', U, '--payload-size', '70000'],
    message: /--payload-size must be a positive integer from 1 to 65507/,
  },
  {
    args: ['send', 'rtp://127.0.0.1:9', '--payload-size', '65500'],
    message: /--payload-size must be a positive integer from 1 to 65495/,
  },
  {
    args: ['send', U, '--rtp', '--payload-type', '128'],
    message: /--payload-type must be an integer from 0 to 127/,
  },
  {
    args: ['send', U, '--rtp', '--ssrc', '0x100000000'],
    message: /--ssrc must be an integer from 0 to 4294967295/,
  },
  {
    args: ['send', U, '--clock-rate', '0'],
    message: /--clock-rate must be a positive integer from 1 to 4294967295/,
  },
  {
    args: ['send', U, '--rtp', '--gap', '1'],
    message: /--gap must be an integer from 2 to/,
  },
  {
    args: ['send', U, '--interval', '0.001'],
    message: /--interval must be a positive number of seconds, from 0.01 to 86400/,
  },
  { args: ['recv', L, '--interval', '1e6'], message: /--interval .*from 0.01 to 86400/ },
  { args: ['recv', L, '--duration', '-3'], message: /--duration must be a positive number/ },
  { args: ['recv', L, '--duration', 'Infinity'], message: /--duration must be a positive/ },
  { args: ['recv', L, '--clock-rate', '-1'], message: /--clock-rate must be a positive integer/ },
  {
    args: ['recv', L, '--out', '-', '--out-buffer', '-1'],
    message: /--out-buffer must be a positive integer/,
  },
  {
    args: ['relay', L, U, '--max-in-flight', '2000000'],
    message: /--max-in-flight must be a positive integer from 1 to 1048576/,
  },
  { args: ['relay', L, U, '--count', '0'], message: /--count must be a positive integer/ },
  { args: ['bench', '--seconds', '61'], message: /--seconds must be a positive number.*60/ },
  { args: ['bench', '--size', '0'], message: /--size must be a positive integer from 1 to 65507/ },
  { args: ['demo', '--pps', '1e12'], message: /--pps must be a positive number, at most 10M/ },
  { args: ['demo', '--duration', '-1'], message: /--duration must be a positive number/ },
  { args: ['demo', '--group', '239.999.1.1'], message: /--group must be an IPv4 multicast/ },
];

test('numeric options: out of range, negative or malformed is exit 2 with the range named', async () => {
  for (const c of cases) {
    const r = await runCli(c.args, { timeoutMs: 20_000 });
    const what = c.args.join(' ');
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, c.message, what);
    assert.doesNotMatch(r.stderr, /ambiguous|\n\s+at /, what);
    assert.equal(r.stdout, '', `${what}: nothing started`);
  }
});

test('numeric options in range are accepted (exponent, hex, suffixes)', async () => {
  const r = await runCli(
    ['send', U, '--pps', '1e3', '--count', '3', '--rtp', '--ssrc', '0xdeadbeef', '--json'],
    { timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, r.stderr);
});
