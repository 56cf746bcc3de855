/**
 * The command line's contract for people and scripts: --help on every command, exit codes
 * (0 ok, 1 runtime failure, 2 usage error), one line on stderr for bad input, nothing left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO, records, runCli } from './cli-process.js';

for (const command of ['ifaces', 'recv', 'send', 'relay', 'bench', 'demo']) {
  test(`${command} --help shows usage, examples and exit codes`, async () => {
    const r = await runCli([command, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: mediasock ${command}`));
    assert.match(r.stdout, /Examples:\n {2}mediasock /);
    assert.match(r.stdout, /Exit codes: 0 .*, 1 .*, 2 usage error/);
  });
}

test('--version and -V print the version in package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    version: string;
  };
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `mediasock ${version}\n`);
    assert.equal(r.stderr, '');
  }
  const extra = await runCli(['--version', 'recv']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^mediasock: --version takes no arguments \(received recv\)\n$/);
  const help = await runCli(['--help']);
  assert.match(help.stdout, /^ {2}-V, --version +print the version of mediasock$/m);
});

/** Words of a shell command line as sh splits it, with whether each was single-quoted. */
function shellWords(line: string): Array<{ word: string; quoted: boolean }> {
  const words: Array<{ word: string; quoted: boolean }> = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) {
    if (m[1] !== undefined) words.push({ word: m[1], quoted: true });
    else words.push({ word: m[2] ?? '', quoted: false });
  }
  return words;
}

test('help examples: every URL with & or ? is single-quoted, and sh passes it whole', async (t) => {
  const helps: Array<[string, string[]]> = [
    ['mediasock --help', ['--help']],
    ...['ifaces', 'recv', 'send', 'relay', 'bench', 'demo', 'rtsp'].map((c): [string, string[]] => [
      `mediasock ${c} --help`,
      [c, '--help'],
    ]),
    ['mediasock recv rtsp://… --help', ['recv', 'rtsp://127.0.0.1/x', '--help']],
  ];
  // An empty directory: nothing for a glob (?) to match, so only quoting decides what sh passes.
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-help-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let quotedUrls = 0;
  let examples = 0;
  for (const [name, args] of helps) {
    const r = await runCli(args);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const lines = r.stdout.split('\n');
    const start = lines.indexOf('Examples:');
    if (start === -1) continue;
    for (const line of lines.slice(start + 1)) {
      if (line.trim() === '') break;
      examples++;
      const words = shellWords(line.trim());
      for (const { word, quoted } of words) {
        if (!word.includes('://')) continue;
        if (/[&?]/.test(word)) {
          assert.ok(quoted, `${name}: ${word} must be single-quoted in: ${line}`);
          quotedUrls++;
        }
      }
      // The mediasock command of the line (after an environment variable or a pipe into it,
      // before a pipe out of it), as sh splits it: the same words, each URL whole.
      const from = words.findIndex((w) => w.word === 'mediasock' && !w.quoted);
      const until = words.findIndex((w, i) => i > from && w.word === '|' && !w.quoted);
      const own = words.slice(from + 1, until === -1 ? undefined : until);
      const text = own.map((w) => (w.quoted ? `'${w.word}'` : w.word)).join(' ');
      const sh = spawnSync('sh', ['-c', `printf '%s\\n' ${text}`], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 10_000,
      });
      assert.equal(sh.status, 0, `${name}: sh on ${text}: ${sh.stderr}`);
      assert.deepEqual(
        sh.stdout.split('\n').slice(0, -1),
        own.map((w) => w.word),
        `${name}: sh splits: ${line}`,
      );
    }
  }
  assert.ok(examples >= 15, `examples checked: ${examples}`);
  assert.ok(quotedUrls >= 4, `quoted URLs with & or ?: ${quotedUrls}`);
});

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
