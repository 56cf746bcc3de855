import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbortError, InvalidArgumentError } from '../src/errors.js';
import { interleave, resolveEndpoint, resolveHost } from '../src/resolve.js';

// No lookup here may leave the machine: the root namespace only resolves names that /etc/hosts
// answers ('localhost', IPv4 only); everything else runs in a private network + mount namespace
// with its own /etc/hosts and no interface to send a DNS query through.

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

function isInvalidArgument(argument: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(
      err instanceof InvalidArgumentError,
      `expected InvalidArgumentError, got ${String(err)}`,
    );
    assert.equal(err.argument, argument);
    if (message) assert.match(err.message, message);
    return true;
  };
}

function hostsHasLocalhostV4(): string | false {
  let text: string;
  try {
    text = readFileSync('/etc/hosts', 'utf8');
  } catch (err) {
    return `cannot read /etc/hosts: ${(err as Error).message}`;
  }
  const found = text
    .split('\n')
    .some((line) => /^\s*127\.\d+\.\d+\.\d+\s.*\blocalhost\b/.test(line.replace(/#.*/, '')));
  return found
    ? false
    : '/etc/hosts has no IPv4 entry for localhost, so looking it up could query DNS';
}

const noLocalhost = hostsHasLocalhostV4();

test('address literals are answered without a lookup', async () => {
  assert.deepEqual(await resolveHost('127.0.0.1'), [{ address: '127.0.0.1', family: 4 }]);
  assert.deepEqual(await resolveHost('::1'), [{ address: '::1', family: 6 }]);
  assert.deepEqual(await resolveHost('FE80::0001%lo', { family: 6 }), [
    { address: 'fe80::1%lo', family: 6 },
  ]);
  assert.deepEqual(await resolveEndpoint('[::1]:5004'), [
    { address: '::1', family: 6, port: 5004 },
  ]);
  assert.deepEqual(await resolveEndpoint('[fe80::1%lo]:1'), [
    { address: 'fe80::1%lo', family: 6, port: 1 },
  ]);
  assert.deepEqual(await resolveEndpoint('127.0.0.1', { defaultPort: 9 }), [
    { address: '127.0.0.1', family: 4, port: 9 },
  ]);
  await assert.rejects(
    resolveHost('::1', { family: 4 }),
    isInvalidArgument('host', /must be an IPv4 address or a name when options.family is 4/),
  );
  await assert.rejects(resolveHost('127.0.0.1', { family: 6 }), isInvalidArgument('host'));
});

test('bad hosts and options are InvalidArgumentError before any lookup', async () => {
  const hosts: Array<[unknown, RegExp]> = [
    ['', /non-empty/],
    ['a_b.example', /RFC 1123 host name, and has a character other than/],
    ['-x.example', /starts or ends with "-"/],
    ['1.2.3', /all-numeric label/],
    ['[::1]', /RFC 1123/],
    ['fe80::1%', /RFC 1123/],
    [5, /must be a string/],
  ];
  for (const [host, message] of hosts) {
    await assert.rejects(
      resolveHost(host as string),
      isInvalidArgument('host', message),
      String(host),
    );
  }
  await assert.rejects(
    resolveHost('localhost', { family: 5 as 4 }),
    isInvalidArgument('options.family'),
  );
  await assert.rejects(
    resolveHost('localhost', { prefer: 0 as 4 }),
    isInvalidArgument('options.prefer'),
  );
  await assert.rejects(
    resolveHost('localhost', { signal: {} as AbortSignal }),
    isInvalidArgument('options.signal'),
  );
  await assert.rejects(resolveEndpoint('localhost'), isInvalidArgument('address', /":port"/));
});

test('localhost resolves from /etc/hosts, filtered by family', { skip: noLocalhost }, async () => {
  const found = await resolveHost('localhost', { family: 4 });
  assert.ok(found.length >= 1);
  assert.ok(found.every((a) => a.family === 4 && a.address.startsWith('127.')));
  const endpoints = await resolveEndpoint('LOCALHOST:5004', { family: 4 });
  assert.deepEqual(
    endpoints.map((e) => e.port),
    found.map(() => 5004),
  );
});

test('an aborted signal rejects at once with AbortError', async () => {
  const reason = new Error('stop');
  for (const host of ['localhost', '127.0.0.1']) {
    await assert.rejects(
      resolveHost(host, { signal: AbortSignal.abort(reason) }),
      (err: unknown) => {
        assert.ok(err instanceof AbortError);
        assert.equal(err.code, 'MEDIASOCK_ERR_ABORTED');
        assert.equal(err.cause, reason);
        assert.match(err.message, new RegExp(`^resolve "${host}" was aborted$`));
        return true;
      },
    );
  }
});

test('an abort during a lookup rejects with AbortError', { skip: noLocalhost }, async () => {
  // Control: the same lookup without an abort succeeds.
  assert.ok((await resolveHost('localhost', { family: 4 })).length > 0);
  const controller = new AbortController();
  const reason = new Error('changed my mind');
  // The lookup is in flight once resolveHost returns: its answer cannot arrive before we yield.
  const pending = resolveHost('localhost', { family: 4, signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(pending, (err: unknown) => {
    assert.ok(err instanceof AbortError);
    assert.equal(err.cause, reason);
    return true;
  });
});

test('interleave orders for Happy Eyeballs (RFC 8305)', () => {
  const a = (address: string, family: 4 | 6) => ({ address, family });
  const list = [a('v6a', 6), a('v6b', 6), a('v6c', 6), a('v4a', 4)];
  assert.deepEqual(
    interleave(list).map((x) => x.address),
    ['v6a', 'v4a', 'v6b', 'v6c'],
  );
  assert.deepEqual(
    interleave(list, 4).map((x) => x.address),
    ['v4a', 'v6a', 'v6b', 'v6c'],
  );
  assert.deepEqual(
    interleave([a('v4a', 4), a('v4b', 4), a('v6a', 6), a('v6b', 6)]).map((x) => x.address),
    ['v4a', 'v6a', 'v4b', 'v6b'],
  );
  assert.deepEqual(interleave([]), []);
});

/** Whether a private network + mount namespace with its own /etc/hosts can be made here. */
function probeIsolation(): string | false {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-resolve-probe-'));
  try {
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n');
    const r = spawnSync(
      'unshare',
      ['-mn', 'sh', '-c', 'mount --bind "$1" /etc/hosts', 'sh', hosts],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    if (r.error) return `cannot run unshare: ${r.error.message}`;
    if (r.status !== 0) {
      return `cannot make a network + mount namespace (needs root or CAP_SYS_ADMIN): ${r.stderr.trim()}`;
    }
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noIsolation = probeIsolation();

/** Runs `code` (an ES module body using `resolveHost` / `resolveEndpoint`) in the namespace. */
function runIsolated(hostsText: string, code: string): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-resolve-'));
  try {
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, hostsText);
    const moduleUrl = new URL('../src/resolve.ts', import.meta.url).href;
    const script = `import { resolveHost, resolveEndpoint } from ${JSON.stringify(moduleUrl)};
const out = {};
const run = async (name, fn) => {
  try { out[name] = { ok: await fn() }; }
  catch (e) { out[name] = { err: { name: e.name, code: e.code, syscall: e.syscall, address: e.address, message: e.message } }; }
};
${code}
process.stdout.write(JSON.stringify(out));`;
    const r = spawnSync(
      'unshare',
      [
        '-mn',
        'sh',
        '-c',
        'mount --bind "$1" /etc/hosts && exec "$2" --import tsx --input-type=module -e "$3"',
        'sh',
        hosts,
        process.execPath,
        script,
      ],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.error, undefined);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  'names with both families: filter, preference and Happy Eyeballs order (isolated /etc/hosts)',
  { skip: noIsolation },
  () => {
    const hosts = [
      '127.0.0.1 localhost',
      '10.1.0.1 dual.test',
      '10.1.0.2 dual.test',
      'fd00::1 dual.test',
      'fd00::2 dual.test',
      'fd00::3 dual.test',
      '10.2.0.1 v4only.test',
    ].join('\n');
    const out = runIsolated(
      `${hosts}\n`,
      `await run('all', () => resolveHost('dual.test'));
await run('prefer4', () => resolveHost('dual.test', { prefer: 4 }));
await run('prefer6', () => resolveHost('DUAL.test', { prefer: 6 }));
await run('only4', () => resolveHost('dual.test', { family: 4 }));
await run('only6', () => resolveHost('dual.test', { family: 6 }));
await run('endpoint', () => resolveEndpoint('dual.test:5004', { prefer: 4, family: 4 }));
await run('missing', () => resolveHost('missing.test'));
await run('v4only6', () => resolveHost('v4only.test', { family: 6 }));`,
    ) as Record<
      string,
      { ok?: Array<{ address: string; family: number }>; err?: Record<string, unknown> }
    >;

    const addresses = (name: string): string[] => {
      const r = out[name];
      assert.ok(r?.ok, `${name}: ${JSON.stringify(r)}`);
      return r.ok.map((a) => a.address);
    };
    const all = addresses('all');
    // Whatever family the resolver put first leads; the families then alternate.
    assert.equal(all.length, 5);
    const firstIs6 = all[0]?.includes(':') ?? false;
    assert.deepEqual(
      all,
      firstIs6
        ? ['fd00::1', '10.1.0.1', 'fd00::2', '10.1.0.2', 'fd00::3']
        : ['10.1.0.1', 'fd00::1', '10.1.0.2', 'fd00::2', 'fd00::3'],
    );
    assert.deepEqual(addresses('prefer4'), [
      '10.1.0.1',
      'fd00::1',
      '10.1.0.2',
      'fd00::2',
      'fd00::3',
    ]);
    assert.deepEqual(addresses('prefer6'), [
      'fd00::1',
      '10.1.0.1',
      'fd00::2',
      '10.1.0.2',
      'fd00::3',
    ]);
    assert.deepEqual(addresses('only4'), ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual(addresses('only6'), ['fd00::1', 'fd00::2', 'fd00::3']);
    assert.deepEqual(out.endpoint?.ok, [
      { address: '10.1.0.1', family: 4, port: 5004 },
      { address: '10.1.0.2', family: 4, port: 5004 },
    ]);
    for (const name of ['missing', 'v4only6']) {
      const err = out[name]?.err;
      assert.ok(err, `${name} should fail: ${JSON.stringify(out[name])}`);
      assert.equal(err.name, 'SystemCallError');
      assert.equal(err.syscall, 'getaddrinfo');
      assert.match(String(err.code), /^(ENOTFOUND|EAI_AGAIN|EAI_NODATA)$/);
      assert.match(String(err.message), /^getaddrinfo \w+: .* \w+\.test$/);
    }
    assert.equal(out.missing?.err?.address, 'missing.test');
  },
);
