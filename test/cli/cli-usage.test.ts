/**
 * The command line's contract for people and scripts: --help on every command, exit codes
 * (0 ok, 1 runtime failure, 2 usage error), one line on stderr for bad input, nothing left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { records, runCli } from './cli-process.js';

for (const command of ['ifaces', 'recv', 'send', 'relay', 'bench', 'demo']) {
  test(`${command} --help shows usage, examples and exit codes`, async () => {
    const r = await runCli([command, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: mediasock ${command}`));
    assert.match(r.stdout, /Examples:\n {2}mediasock /);
    assert.match(r.stdout, /Exit codes: 0 .*, 1 .*, 2 usage error/);
  });
}

test('mediasock with no command prints the command list and exits 2', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Commands:/);
});

test('ifaces lists lo and gives JSON with --json', async () => {
  const text = await runCli(['ifaces']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^INDEX +NAME +FLAGS +MTU +ADDRESSES$/m);
  assert.match(text.stdout, /^ +\d+ +lo +UP,RUNNING,LOOPBACK +\d+ +127\.0\.0\.1\/8$/m);
  assert.match(text.stdout, /^our IPv4 address: /m);
  const json = await runCli(['ifaces', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const [obj] = records(json.stdout);
  const list = (obj as { interfaces: Array<{ name: string; index: number; mtu: number }> })
    .interfaces;
  const lo = list.find((i) => i.name === 'lo');
  assert.ok(lo !== undefined);
  assert.equal(typeof lo.index, 'number');
  assert.ok('ourIPv4Address' in (obj ?? {}));
});

test('bad input: one line on stderr, exit 2, no output file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const unreadable = join(dir, 'unreadable.ts');
  writeFileSync(unreadable, Buffer.alloc(1316, 0x47));
  chmodSync(unreadable, 0o000);
  const out = join(dir, 'out.ts');
  const cases: Array<{ args: string[]; message: RegExp }> = [
    {
      args: ['recv', 'http://@:5004', '--out', out],
      message: /url must have the scheme udp or rtp/,
    },
    {
      args: ['recv', 'udp://@239.255.1.1:5004?iface=nosuch0', '--out', out],
      message: /interface must name a local interface.*nosuch0/,
    },
    { args: ['recv', 'udp://@:5004?ttl=300', '--out', out], message: /ttl/ },
    { args: ['recv', 'udp://@232.0.1.254:5004', '--out', out], message: /SSM/ },
    {
      args: ['recv', 'udp://@:5004', '--count', '0', '--out', out],
      message: /--count must be a positive integer/,
    },
    { args: ['recv', 'udp://@:5004', '--bogus'], message: /Unknown option '--bogus'/ },
    {
      args: ['send', 'udp://127.0.0.1:5004', '--pps', '0'],
      message: /--pps must be a positive number/,
    },
    {
      args: ['send', 'udp://127.0.0.1:5004', '--pps=-5'],
      message: /--pps must be a positive number/,
    },
    {
      args: ['send', 'udp://127.0.0.1:5004', '--bitrate=-1M'],
      message: /--bitrate must be a positive number/,
    },
    {
      args: ['send', 'udp://127.0.0.1:5004', join(dir, 'missing.ts')],
      message: /cannot read .*missing\.ts: ENOENT/,
    },
    { args: ['send', 'udp://@:5004'], message: /is a listen URL/ },
    { args: ['send', 'udp://[fe80::1%nosuch0]:5004'], message: /interface .*nosuch0/ },
    { args: ['recv', 'udp://@[fe80::1%nosuch0]:5004'], message: /interface .*nosuch0/ },
    { args: ['send', 'udp://239.255.1.1:5004?iface=nosuch0&ttl=0'], message: /nosuch0/ },
    {
      args: ['send', 'udp://127.0.0.1:5004', '--gap', '10'],
      message: /--gap skips RTP sequence numbers/,
    },
    { args: ['relay', 'udp://@:5004'], message: /at least one output/ },
    { args: ['nosuchcommand'], message: /unknown command "nosuchcommand"/ },
  ];
  // Root reads files regardless of their mode; check unreadability only where it holds.
  if (process.getuid?.() !== 0) {
    cases.push({
      args: ['send', 'udp://127.0.0.1:5004', unreadable],
      message: /cannot read .*EACCES/,
    });
  }
  for (const c of cases) {
    const r = await runCli(c.args, { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${c.args.join(' ')}: ${r.stderr}`);
    assert.equal(
      r.stderr.trimEnd().split('\n').length,
      1,
      `one line for ${c.args.join(' ')}: ${r.stderr}`,
    );
    assert.match(r.stderr, c.message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack without --debug');
    assert.equal(existsSync(out), false, `no output file after ${c.args.join(' ')}`);
  }
});

test('--debug adds the stack; a directory as --out is exit 2 with nothing left open', async (t) => {
  const r = await runCli(['recv', 'bogus://x', '--debug']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\n\s+at /);
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outDir = await runCli(
    ['recv', 'udp://@127.0.0.1:0', '--out', join(dir, 'no', 'such', 'dir.ts')],
    {
      timeoutMs: 20_000,
    },
  );
  assert.equal(outDir.code, 2, outDir.stderr);
  assert.match(outDir.stderr, /cannot write --out/);
});

test('a runtime failure (port in use without reuse) exits 1 with one line', async () => {
  const holder = await import('node:dgram').then((d) => d.createSocket('udp4'));
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
  try {
    const r = await runCli([
      'recv',
      `udp://@127.0.0.1:${holder.address().port}`,
      '--duration',
      '1',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /EADDRINUSE/);
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
});
