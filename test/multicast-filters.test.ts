/**
 * Source filters on any group, exclude mode, address reuse on receivers, and the interface watch,
 * on the loopback interface of the root namespace: every join names `lo`, every sender is bound to
 * a 127.x address (distinct sources) and pinned to `lo` with TTL 0, so nothing leaves the machine.
 * Both engines; the node engine without the addon in a child process (`MEDIASOCK_NO_NATIVE=1`).
 * Groups: 239.255.43.x (RFC 2365, outside the SSM range: filters are not an SSM privilege).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { UdpSocket } from '../src/udp/udp-socket.js';
import type { Datagram, UdpSocketOptions } from '../src/udp/udp-socket.js';
import { InvalidArgumentError, InvalidStateError, SystemCallError } from '../src/errors.js';
import { findInterface, networkInterfaces } from '../src/interfaces.js';
import { interfaceWatcherCount } from '../src/interface-watch.js';
import { openFdCount, settleFdCount } from './helpers/fds.js';
import { nativeStatus } from '../src/native/index.js';
import { openMediaReceiver, openMediaSender } from '../src/media/media-sockets.js';

type T = { after(fn: () => Promise<void> | void): void };

const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);
/** Exclude mode needs the addon on every engine (node:dgram has no block call). */
const noBlock = nativeStatus().loaded
  ? false
  : 'exclude-mode filters need the native addon (node:dgram has no block call; the refusal is tested below)';

async function open(t: T, options: UdpSocketOptions): Promise<UdpSocket> {
  const s = await UdpSocket.open(options);
  t.after(() => s.close());
  return s;
}

function sender(t: T, source: string): Promise<UdpSocket> {
  return open(t, {
    type: 'udp4',
    address: source,
    multicastInterface: 'lo',
    multicastTtl: 0,
    multicastLoopback: true,
  });
}

async function collect(s: UdpSocket, ms: number, max = 100): Promise<Datagram[]> {
  const got: Datagram[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    while (got.length < max) got.push(await s.receive({ signal: ac.signal }));
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'MEDIASOCK_ERR_ABORTED')) throw err;
  } finally {
    clearTimeout(timer);
  }
  return got;
}

/** Sends 3 datagrams from each of 127.0.0.2 and 127.0.0.3; returns "source text" of what arrived. */
async function exchange(t: T, rx: UdpSocket, group: string): Promise<string[]> {
  const a = await sender(t, '127.0.0.2');
  const b = await sender(t, '127.0.0.3');
  const port = rx.address().port;
  for (let i = 0; i < 3; i++) {
    await a.send(`a${i}`, port, group);
    await b.send(`b${i}`, port, group);
  }
  return (await collect(rx, 400, 20)).map((d) => `${d.address} ${d.data.toString()}`);
}

const fromA = ['127.0.0.2 a0', '127.0.0.2 a1', '127.0.0.2 a2'];
const fromB = ['127.0.0.3 b0', '127.0.0.3 b1', '127.0.0.3 b2'];

for (const engine of engines) {
  test(`${engine} engine: include filter on a group outside the SSM range (239/8)`, async (t) => {
    const group = '239.255.43.1';
    const rx = await open(t, { type: 'udp4', address: group, engine });
    const joined = rx.addSourceSpecificMembership('127.0.0.2', group, 'lo');
    assert.equal(joined[0]?.source, '127.0.0.2');
    assert.deepEqual(await exchange(t, rx, group), fromA);
  });

  test(
    `${engine} engine: exclude filter (blockSource), then unblockSource`,
    { skip: noBlock },
    async (t) => {
      const group = '239.255.43.2';
      const rx = await open(t, { type: 'udp4', address: group, engine });
      rx.addMembership(group, 'lo');
      const blocked = rx.blockSource('127.0.0.3', group, 'lo');
      assert.deepEqual(blocked[0]?.blocked, ['127.0.0.3']);
      assert.deepEqual(rx.memberships()[0]?.blocked, ['127.0.0.3']);
      assert.deepEqual(await exchange(t, rx, group), fromA, '127.0.0.3 is blocked');
      rx.unblockSource('127.0.0.3', group, 'lo');
      assert.deepEqual(rx.memberships()[0]?.blocked, []);
      const both = await exchange(t, rx, group);
      assert.deepEqual(
        both.filter((l) => l.startsWith('127.0.0.2')),
        fromA,
      );
      assert.deepEqual(
        both.filter((l) => l.startsWith('127.0.0.3')),
        fromB,
      );
    },
  );

  test(`${engine} engine: addSourceFilteredMembership include and exclude`, async (t) => {
    const inc = await open(t, { type: 'udp4', address: '239.255.43.3', engine });
    inc.addSourceFilteredMembership(
      '239.255.43.3',
      { mode: 'include', sources: ['127.0.0.3'] },
      'lo',
    );
    assert.deepEqual(await exchange(t, inc, '239.255.43.3'), fromB);
    if (noBlock !== false) return;
    const exc = await open(t, { type: 'udp4', address: '239.255.43.4', engine });
    const m = exc.addSourceFilteredMembership(
      '239.255.43.4',
      { mode: 'exclude', sources: ['127.0.0.2'] },
      'lo',
    );
    assert.deepEqual(
      m.map((x) => [x.source, x.blocked]),
      [[undefined, ['127.0.0.2']]],
    );
    assert.deepEqual(await exchange(t, exc, '239.255.43.4'), fromB);
  });

  test(`${engine} engine: two receivers of one group and port both get the stream (reuse by default)`, async (t) => {
    const group = '239.255.43.5';
    const first = await open(t, { type: 'udp4', address: group, engine });
    const second = await open(t, {
      type: 'udp4',
      address: group,
      port: first.address().port,
      engine,
    });
    first.addMembership(group, 'lo');
    second.addMembership(group, 'lo');
    const tx = await sender(t, '127.0.0.2');
    await tx.send('both', first.address().port, group);
    const [a, b] = await Promise.all([collect(first, 300, 1), collect(second, 300, 1)]);
    assert.equal(a[0]?.data.toString(), 'both');
    assert.equal(b[0]?.data.toString(), 'both');
    // reuseAddr: false turns it off: the port is taken.
    await assert.rejects(
      UdpSocket.open({
        type: 'udp4',
        address: group,
        port: first.address().port,
        reuseAddr: false,
        engine,
      }),
      (err: unknown) => err instanceof SystemCallError && err.code === 'EADDRINUSE',
    );
  });
}

test(
  'exclude-mode input errors: not joined, blocked twice, not blocked, bad filter',
  { skip: noBlock },
  async (t) => {
    const group = '239.255.43.6';
    const rx = await open(t, { type: 'udp4', address: group });
    assert.throws(
      () => rx.blockSource('127.0.0.3', group, 'lo'),
      (err: unknown) =>
        err instanceof InvalidStateError && /needs the any-source membership/.test(err.message),
    );
    rx.addMembership(group, 'lo');
    rx.blockSource('127.0.0.3', group, 'lo');
    assert.throws(() => rx.blockSource('127.0.0.3', group, 'lo'), /already blocked/);
    assert.throws(() => rx.unblockSource('127.0.0.4', group, 'lo'), /is not blocked/);
    assert.throws(() => rx.blockSource('239.1.1.1', group, 'lo'), InvalidArgumentError);
    assert.throws(
      () => rx.addSourceFilteredMembership(group, { mode: 'both' as 'include', sources: [] }),
      InvalidArgumentError,
    );
    assert.throws(
      () => rx.addSourceFilteredMembership(group, { mode: 'include', sources: [] }),
      /at least one source/,
    );
    // A failing step undoes the whole call: the include join of 127.0.0.2 is left again.
    const other = await open(t, { type: 'udp4', address: '239.255.43.7' });
    assert.throws(
      () =>
        other.addSourceFilteredMembership(
          '239.255.43.7',
          { mode: 'include', sources: ['127.0.0.2', 'not-an-address'] },
          'lo',
        ),
      InvalidArgumentError,
    );
    assert.deepEqual(other.memberships(), []);
  },
);

test('URL forms: S@G on 239/8, sources=, block= open receivers that filter', async (t) => {
  const check = async (url: string, want: string[], description: RegExp): Promise<void> => {
    const r = await openMediaReceiver(url);
    t.after(() => r.socket.close());
    assert.match(r.description, description);
    const group = r.url.host;
    assert.deepEqual(await exchange(t, r.socket, group), want, url);
  };
  await check(
    'udp://127.0.0.2@239.255.43.10:0?iface=lo',
    fromA,
    /source-filtered from 127\.0\.0\.2\) on lo/,
  );
  await check('udp://239.255.43.11:0?sources=127.0.0.3&iface=lo', fromB, /from 127\.0\.0\.3/);
  if (nativeStatus().loaded) {
    await check(
      'udp://@239.255.43.12:0?block=127.0.0.3&iface=lo',
      fromA,
      /any source but 127\.0\.0\.3\) on lo/,
    );
  }
});

test('interface watch: runs while a membership names an interface, stops at close', async () => {
  // Warm up (first open loads the engine), then take the fd baseline.
  await (await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' })).close();
  const fds = openFdCount();
  const before = interfaceWatcherCount();
  const rx = await UdpSocket.open({ type: 'udp4', address: '239.255.43.20' });
  rx.addMembership('239.255.43.20'.toString(), findInterface('lo').index); // by index: not watched
  assert.equal(interfaceWatcherCount(), before);
  rx.addMembership('239.255.43.21', 'lo');
  assert.equal(interfaceWatcherCount(), before + 1);
  rx.dropMembership('239.255.43.21', 'lo');
  assert.equal(interfaceWatcherCount(), before, 'dropping the last named membership stops it');
  rx.addMembership('239.255.43.21', 'lo');
  assert.equal(interfaceWatcherCount(), before + 1);
  assert.equal(rx.stats.rejoins, 0);
  // Polls run meanwhile (500 ms) and hold no descriptor.
  await new Promise((r) => setTimeout(r, 1100));
  await rx.close();
  assert.equal(interfaceWatcherCount(), before, 'close stops it');
  assert.equal(await settleFdCount(fds), fds, 'the fd count is back to its baseline');
});

test('node engine without the addon: blockSource is a NativeUnavailableError naming the option', () => {
  const script = `
    import('./src/udp/udp-socket.ts').then(async ({ UdpSocket }) => {
      const s = await UdpSocket.open({ type: 'udp4', address: '239.255.43.30' });
      s.addMembership('239.255.43.30', 'lo');
      const out = { engine: s.engine };
      try { s.blockSource('127.0.0.3', '239.255.43.30', 'lo'); } catch (e) { out.err = [e.name, e.code, e.message]; }
      out.blocked = s.memberships()[0].blocked;
      await s.close();
      console.log(JSON.stringify(out));
    });`;
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { env: { ...process.env, MEDIASOCK_NO_NATIVE: '1' }, encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim()) as {
    engine: string;
    err: string[];
    blocked: string[];
  };
  assert.equal(out.engine, 'node');
  assert.equal(out.err[0], 'NativeUnavailableError');
  assert.equal(out.err[1], 'MEDIASOCK_ERR_NATIVE_UNAVAILABLE');
  assert.match(out.err[2] ?? '', /MCAST_BLOCK_SOURCE/);
  assert.deepEqual(out.blocked, [], 'nothing is recorded as blocked');
});

test('sender status line names the interface the zone picked; zone and iface must agree', async (t) => {
  // Nothing is sent: the socket is only opened (pinned to lo), its description read.
  const s = await openMediaSender('udp://[ff12::1%lo]:5000');
  t.after(() => s.socket.close());
  assert.match(s.description, /\(via lo, TTL \d+\)/);
  assert.equal(s.address, 'ff12::1%lo');
  const byIface = await openMediaSender('udp://[ff12::1]:5000?iface=lo');
  t.after(() => byIface.socket.close());
  assert.equal(byIface.address, 'ff12::1%lo', 'a link-local-scope group gets the scope of iface');
  const other = networkInterfaces().find((i) => i.name !== 'lo');
  if (other !== undefined) {
    await assert.rejects(
      openMediaSender(`udp://[ff12::1%lo]:5000?iface=${other.name}`),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.message.includes(`zone %lo is lo, the interface ${other.name} is not`),
    );
  }
});
