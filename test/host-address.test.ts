/**
 * live555's address discovery with its hostname fallback (`findOurIPAddress`,
 * `weHaveAnIPv4Address`, `weHaveAnIPv6Address`, `weHaveAnIPAddress`), each case in a private
 * network namespace with its own hostname (UTS namespace) and its own /etc/hosts (a bind mount
 * in a private mount namespace), so nothing of the host is read or changed:
 * - only lo, the hostname resolves to 10.77.0.9 and fd00:77::9: both come from the hostname;
 * - only lo, the hostname resolves to 127.0.1.1 only (Debian's style): no address, every
 *   helper says false;
 * - an up veth with 10.66.0.1: the interface answers first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { commandSkipReason } from './helpers/capabilities.js';
import { netnsSkipReason } from './helpers/netns.js';
import { REPO } from './cli/cli-process.js';
import { InvalidArgumentError } from '../src/errors.js';
import { findOurIPAddress } from '../src/host-address.js';

const skip =
  netnsSkipReason() ??
  commandSkipReason('unshare', 'the hostname is set in a private UTS namespace (util-linux)');

/** Runs the fixture in a fresh namespace set up by `setup`, with `hosts` as /etc/hosts. */
function runIn(name: string, hosts: string, setup: (ns: string) => void): Record<string, unknown> {
  const ns = `msk${process.pid}ha${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-hosts-'));
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, hosts);
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    setup(ns);
    const script = `mount --bind "$1" /etc/hosts && hostname msock-fallback && exec "$2" --import tsx test/fixtures/host-address-child.ts`;
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'unshare',
        '--uts',
        '--mount',
        'sh',
        '-c',
        script,
        'sh',
        hostsFile,
        process.execPath,
      ],
      { cwd: REPO, encoding: 'utf8', timeout: 60_000 },
    );
    return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('no interface answers: the hostname does, IPv4 and IPv6', { skip, timeout: 90_000 }, () => {
  const r = runIn(
    'a',
    '127.0.0.1 localhost\n10.77.0.9 msock-fallback\nfd00:77::9 msock-fallback\n',
    () => {},
  );
  assert.deepEqual(r, {
    hostname: 'msock-fallback',
    v4: { address: '10.77.0.9', from: 'hostname' },
    v6: { address: 'fd00:77::9', from: 'hostname' },
    we4: true,
    we6: true,
    weAny: true,
  });
});

test(
  'neither answers: a loopback hostname is no address of ours',
  { skip, timeout: 90_000 },
  () => {
    const r = runIn(
      'b',
      '127.0.0.1 localhost\n127.0.1.1 msock-fallback\n::1 localhost\n',
      () => {},
    );
    assert.deepEqual(r, {
      hostname: 'msock-fallback',
      v4: null,
      v6: null,
      we4: false,
      we6: false,
      weAny: false,
    });
  },
);

test('an interface answers before the hostname', { skip, timeout: 90_000 }, () => {
  const r = runIn('c', '10.77.0.9 msock-fallback\n', (ns) => {
    execFileSync('ip', ['-n', ns, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.66.0.1/24', 'dev', 'va']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'vb', 'up']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'va', 'up']);
  });
  assert.deepEqual(r.v4, { address: '10.66.0.1', from: 'interface' });
  assert.equal(r.we4, true);
});

test('findOurIPAddress checks its arguments', async () => {
  await assert.rejects(findOurIPAddress(5 as 4), InvalidArgumentError);
  await assert.rejects(findOurIPAddress(4, null as never), InvalidArgumentError);
  await assert.rejects(findOurIPAddress(4, { signal: AbortSignal.abort() }), {
    name: 'AbortError',
  });
});
