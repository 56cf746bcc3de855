/**
 * Multicast as real networks run it, in private namespaces (test/helpers/netns.ts):
 *
 * - **Source filters on any group**, include (`S@G`) and exclude (`block=`), IPv4 and IPv6, every
 *   engine: two senders (h0, h1) and a receiver (h2) on a bridge with IGMPv3/MLDv2 snooping; what
 *   arrives is checked, and so are the bridge's `mdb` entries (INCLUDE with the source, EXCLUDE with
 *   the blocked source), which show the filter went out on the wire.
 * - **Link-local-scope IPv6 groups** (ff12::): h2 has two multicast interfaces, veth0 on the
 *   bridge that carries the stream and veth1 on a second, silent bridge, and its multicast route
 *   points at veth1, so a join on "the default interface" hears nothing. The zone alone, `iface`
 *   alone, or both agreeing, must receive; a zone and `iface` that disagree are refused.
 * - **Interface flaps**: the receiver's veth is deleted and re-created (new index, new address),
 *   or set down and up, while a sender keeps sending; the stream must come back within 2 s of the
 *   link coming back, with `rejoins` counted.
 *
 * Groups: 239.255.92.x and ff15::92:x (outside the SSM ranges: filters are not an SSM privilege),
 * ff12::92:x (link-local scope), 239.255.93.x / ff15::93:x for flaps.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { nativeStatus } from '../../src/native/index.js';
import {
  createTopology,
  netnsSkipReason,
  spawnInNamespace,
  spawnNodeInNamespace,
} from '../helpers/netns.js';
import type { NamespaceChild, Topology, TopologyHost } from '../helpers/netns.js';

const skip = netnsSkipReason() ?? false;
const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Engines to run: the batch and node engines with the addon, and the node engine without it. */
type EngineCase = 'batch' | 'node' | 'node-no-addon';
const engineCases: EngineCase[] = nativeStatus().loaded
  ? ['batch', 'node', 'node-no-addon']
  : ['node-no-addon'];

interface Line {
  event: string;
  port?: number;
  from?: string;
  data?: string;
  t?: number;
  description?: string;
  code?: string;
  message?: string;
  rejoins?: number;
  index?: number;
  memberships?: { interfaceIndex: number; blocked: string[] }[];
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
}

/** Runs the URL receiver fixture in `ns` with one engine case. */
function receiver(ns: string, url: string, engine: EngineCase): NamespaceChild {
  const tsx = import.meta.resolve('tsx');
  const argv = [
    process.execPath,
    '--import',
    tsx,
    fixture('url-receiver.ts'),
    url,
    '--engine',
    engine === 'batch' ? 'batch' : 'node',
  ];
  return spawnInNamespace(
    ns,
    engine === 'node-no-addon' ? ['env', 'MEDIASOCK_NO_NATIVE=1', ...argv] : argv,
    { timeoutMs: 60_000 },
  );
}

function sender(
  h: TopologyHost,
  ifname: string,
  group: string,
  port: number,
  label: string,
  count: number,
): NamespaceChild {
  return spawnNodeInNamespace(
    h.ns,
    fixture('mediasock-sender.ts'),
    [
      '--group',
      group,
      '--port',
      String(port),
      '--interface',
      ifname,
      '--family',
      group.includes(':') ? '6' : '4',
      '--label',
      label,
      '--count',
      String(count),
    ],
    { timeoutMs: 60_000 },
  );
}

async function stop(...children: NamespaceChild[]): Promise<void> {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.exited));
}

/** Reads datagram lines until nothing new comes for `quietMs` (bounded by `max` lines). */
async function drain(rx: NamespaceChild, quietMs: number, max: number): Promise<Line[]> {
  const got: Line[] = [];
  for (let i = 0; i < max; i++) {
    const line = await rx.nextJson<Line>(quietMs).catch(() => undefined);
    if (!line) break;
    if (line.event === 'datagram') got.push(line);
  }
  return got;
}

interface MdbEntry {
  port: string;
  grp: string;
  src?: string;
  filter_mode?: string;
  source_list?: { address: string }[];
  flags?: string[];
}

function mdb(hub: string): MdbEntry[] {
  const json = JSON.parse(
    execFileSync('bridge', ['-n', hub, '-d', '-j', 'mdb', 'show'], { encoding: 'utf8' }),
  ) as { mdb: MdbEntry[] }[];
  return json.flatMap((b) => b.mdb);
}

/** Waits (bounded: 40 × 50 ms) for the bridge to list an entry for `group` on `port`. */
async function mdbEntries(hub: string, port: string, group: string): Promise<MdbEntry[]> {
  let found: MdbEntry[] = [];
  for (let i = 0; i < 40; i++) {
    found = mdb(hub).filter((e) => e.port === port && e.grp === group);
    if (found.some((e) => e.filter_mode !== undefined && e.src === undefined)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return found;
}

describe('source filters on any group, with a snooping bridge', { skip }, () => {
  let topo: Topology;
  let n = 0;
  before(async () => {
    topo = await createTopology({ hosts: 3, snooping: true });
  });
  after(() => topo?.destroy());

  for (const family of [4, 6] as const) {
    for (const engine of engineCases) {
      for (const mode of ['include', 'exclude'] as const) {
        test(`IPv${family} ${mode} (${mode === 'include' ? 'S@G' : 'block='}), ${engine} engine`, async () => {
          const [h0, h1, h2] = topo.hosts;
          assert.ok(h0 && h1 && h2);
          const addr = (h: TopologyHost): string => (family === 4 ? h.ipv4 : h.ipv6);
          const bracket = (a: string): string => (family === 4 ? a : `[${a}]`);
          const k = ++n;
          const group = family === 4 ? `239.255.92.${k}` : `ff15::92:${k.toString(16)}`;
          const url =
            mode === 'include'
              ? `udp://${bracket(addr(h0))}@${bracket(group)}:0?iface=veth0`
              : `udp://@${bracket(group)}:0?iface=veth0&block=${bracket(addr(h1))}`;
          const rx = receiver(h2.ns, url, engine);
          const senders: NamespaceChild[] = [];
          try {
            const opened = await rx.nextJson<Line>(30_000);
            if (mode === 'exclude' && engine === 'node-no-addon') {
              // node:dgram has no MCAST_BLOCK_SOURCE: a typed error that says the addon is needed.
              assert.equal(opened.event, 'error', JSON.stringify(opened));
              assert.equal(opened.code, 'MEDIASOCK_ERR_NATIVE_UNAVAILABLE');
              assert.match(opened.message ?? '', /MCAST_BLOCK_SOURCE.*native addon/);
              return;
            }
            assert.equal(opened.event, 'open', `${JSON.stringify(opened)} ${rx.stderr()}`);
            assert.match(opened.description ?? '', /on veth0$/);
            // The bridge learnt the filter from the host's IGMPv3/MLDv2 report.
            const entries = await mdbEntries(topo.hub, 'p2', group);
            const star = entries.find((e) => e.src === undefined && e.filter_mode !== undefined);
            assert.ok(star, `mdb has ${group} on p2: ${JSON.stringify(mdb(topo.hub))}`);
            const listed = (star.source_list ?? []).map((s) => s.address);
            if (mode === 'include') {
              assert.equal(star.filter_mode, 'include');
              assert.deepEqual(listed, [addr(h0)]);
            } else {
              assert.equal(star.filter_mode, 'exclude');
              assert.deepEqual(listed, [addr(h1)]);
              const blocked = entries.find((e) => e.src === addr(h1));
              assert.ok(blocked?.flags?.includes('blocked'), JSON.stringify(entries));
            }
            const port = opened.port ?? 0;
            senders.push(sender(h0, 'veth0', group, port, 'h0', 20));
            senders.push(sender(h1, 'veth0', group, port, 'h1', 20));
            for (const s of senders) await s.waitForJson<Line>((l) => l.event === 'done', 30_000);
            const got = await drain(rx, 400, 60);
            const fromH0 = got.filter((d) => d.from === addr(h0) && d.data?.startsWith('h0 '));
            const fromH1 = got.filter((d) => d.from === addr(h1));
            assert.equal(
              fromH0.length,
              20,
              `all of h0 arrives: ${JSON.stringify(got.slice(0, 3))}`,
            );
            assert.deepEqual(fromH1, [], `nothing of h1 (${addr(h1)}) arrives`);
          } finally {
            await stop(rx, ...senders);
          }
        });
      }
    }
  }
});

describe('link-local-scope IPv6 groups on a host with two multicast interfaces', { skip }, () => {
  let topo: Topology;
  let n = 0;
  before(async () => {
    topo = await createTopology({ hosts: 2 });
    const h1 = topo.hosts[1];
    assert.ok(h1);
    // A second, silent segment: br1 in the hub, veth1 in h1. h1's multicast route points at it,
    // so a join on "the default interface" lands on veth1, where nothing is sent.
    ip('-n', topo.hub, 'link', 'add', 'name', 'br1', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', topo.hub, 'link', 'set', 'br1', 'up');
    ip(
      '-n',
      topo.hub,
      'link',
      'add',
      'q1',
      'type',
      'veth',
      'peer',
      'name',
      'veth1',
      'netns',
      h1.ns,
    );
    ip('-n', topo.hub, 'link', 'set', 'q1', 'master', 'br1', 'up');
    ip('-n', h1.ns, 'link', 'set', 'veth1', 'up');
    ip('-n', h1.ns, '-6', 'route', 'replace', 'ff00::/8', 'dev', 'veth1');
  });
  after(() => topo?.destroy());

  const engines = engineCases;
  const forms = [
    ['the zone alone', (g: string) => `udp://@[${g}%veth0]:0`],
    ['iface alone', (g: string) => `udp://@[${g}]:0?iface=veth0`],
    ['zone and iface agreeing', (g: string) => `udp://@[${g}%veth0]:0?iface=veth0`],
  ] as const;
  for (const engine of engines) {
    for (const [what, form] of forms) {
      test(`${engine} engine, ${what}: joined on veth0 and bound with its scope, the stream arrives`, async () => {
        const [h0, h1] = topo.hosts;
        assert.ok(h0 && h1);
        const group = `ff12::92:${(++n).toString(16)}`;
        const rx = receiver(h1.ns, form(group), engine);
        let tx: NamespaceChild | undefined;
        try {
          const opened = await rx.nextJson<Line>(30_000);
          assert.equal(opened.event, 'open', `${JSON.stringify(opened)} ${rx.stderr()}`);
          assert.match(opened.description ?? '', /\(any-source\) on veth0$/);
          tx = sender(h0, 'veth0', group, opened.port ?? 0, 'h0', 10);
          await tx.waitForJson<Line>((l) => l.event === 'done', 30_000);
          const got = await drain(rx, 400, 30);
          assert.equal(got.length, 10, `${JSON.stringify(got.slice(0, 2))} ${rx.stderr()}`);
        } finally {
          await stop(rx, ...(tx ? [tx] : []));
        }
      });
    }
  }

  test('the zone picks the join interface: with %veth1 (the silent segment) nothing arrives', async () => {
    const [h0, h1] = topo.hosts;
    assert.ok(h0 && h1);
    const group = `ff12::92:${(++n).toString(16)}`;
    const rx = receiver(h1.ns, `udp://@[${group}%veth1]:0`, engineCases[0] ?? 'node-no-addon');
    let tx: NamespaceChild | undefined;
    try {
      const opened = await rx.nextJson<Line>(30_000);
      assert.equal(opened.event, 'open', `${JSON.stringify(opened)} ${rx.stderr()}`);
      assert.match(opened.description ?? '', /on veth1$/);
      tx = sender(h0, 'veth0', group, opened.port ?? 0, 'h0', 10);
      await tx.waitForJson<Line>((l) => l.event === 'done', 30_000);
      assert.deepEqual(await drain(rx, 400, 30), []);
    } finally {
      await stop(rx, ...(tx ? [tx] : []));
    }
  });

  test('a zone and iface naming different interfaces are refused, saying which', async () => {
    const h1 = topo.hosts[1];
    assert.ok(h1);
    const rx = receiver(h1.ns, 'udp://@[ff12::92:ff%veth0]:0?iface=veth1', 'node');
    try {
      const line = await rx.nextJson<Line>(30_000);
      assert.equal(line.event, 'error');
      assert.equal(line.code, 'MEDIASOCK_ERR_INVALID_ARG');
      assert.match(line.message ?? '', /zone %veth0 is veth0, the interface veth1 is not/);
    } finally {
      await stop(rx);
    }
  });

  test('a link-local-scope group without iface or zone is refused before anything opens', async () => {
    const h1 = topo.hosts[1];
    assert.ok(h1);
    const rx = receiver(h1.ns, 'udp://@[ff12::92:fe]:0', 'node');
    try {
      const line = await rx.nextJson<Line>(30_000);
      assert.equal(line.event, 'error');
      assert.match(line.message ?? '', /link-local-scope group ff12::92:fe.*none is given/);
    } finally {
      await stop(rx);
    }
  });
});

describe('interface flaps: memberships by name come back with the interface', { skip }, () => {
  let topo: Topology;
  let n = 0;
  let round = 0;
  before(async () => {
    topo = await createTopology({ hosts: 2, snooping: true });
  });
  after(() => topo?.destroy());

  /** Deletes h1's veth pair and makes a new one (new index) with new addresses; returns when up. */
  function recreate(h1: TopologyHost): { ipv4: string; ipv6: string } {
    round++;
    const [a, b, c] = h1.ipv4.split('.');
    const ipv4 = `${a}.${b}.${c}.${100 + round}`;
    const ipv6 = `${h1.ipv6.replace(/::[0-9a-f]+$/, '')}::${(0x100 + round).toString(16)}`;
    ip('-n', topo.hub, 'link', 'del', 'p1');
    ip(
      '-n',
      topo.hub,
      'link',
      'add',
      'p1',
      'type',
      'veth',
      'peer',
      'name',
      'veth0',
      'netns',
      h1.ns,
    );
    ip('-n', topo.hub, 'link', 'set', 'p1', 'master', 'br0', 'up');
    ip('-n', h1.ns, 'addr', 'add', `${ipv4}/24`, 'dev', 'veth0');
    ip('-n', h1.ns, 'addr', 'add', `${ipv6}/64`, 'dev', 'veth0', 'nodad');
    ip('-n', h1.ns, 'link', 'set', 'veth0', 'up');
    return { ipv4, ipv6 };
  }

  const cases: [4 | 6, EngineCase, 'recreate' | 'down-up'][] = [];
  for (const engine of engineCases) {
    cases.push([4, engine, 'recreate'], [6, engine, 'recreate']);
  }
  cases.push([4, engineCases[0] ?? 'node-no-addon', 'down-up']);

  for (const [family, engine, how] of cases) {
    test(`IPv${family}, ${engine} engine, link ${how === 'recreate' ? 'deleted and re-created (new index, new address)' : 'down and up'}: the stream resumes within 2 s`, async () => {
      const [h0, h1] = topo.hosts;
      assert.ok(h0 && h1);
      const k = ++n;
      const group = family === 4 ? `239.255.93.${k}` : `ff15::93:${k.toString(16)}`;
      const url =
        family === 4 ? `udp://@${group}:0?iface=veth0` : `udp://@[${group}]:0?iface=veth0`;
      const rx = receiver(h1.ns, url, engine);
      let tx: NamespaceChild | undefined;
      try {
        const opened = await rx.nextJson<Line>(30_000);
        assert.equal(opened.event, 'open', `${JSON.stringify(opened)} ${rx.stderr()}`);
        const index0 = opened.memberships?.[0]?.interfaceIndex;
        // 600 datagrams 20 ms apart: 12 s of stream, longer than the whole flap.
        tx = sender(h0, 'veth0', group, opened.port ?? 0, 'h0', 600);
        await rx.waitForJson<Line>((l) => l.event === 'datagram', 10_000);
        if (how === 'recreate') {
          recreate(h1);
        } else {
          ip('-n', h1.ns, 'link', 'set', 'veth0', 'down');
          // Long enough for the watch to see it down (it polls every 500 ms).
          await new Promise((r) => setTimeout(r, 1200));
          ip('-n', h1.ns, 'link', 'set', 'veth0', 'up');
        }
        const upAt = Date.now();
        const rejoin = await rx.waitForJson<Line>((l) => l.event === 'rejoin', 10_000);
        assert.equal(rejoin.rejoins, 1);
        if (how === 'recreate') assert.notEqual(rejoin.index, index0, 'joined on the new index');
        const resumed = await rx.waitForJson<Line>(
          (l) => l.event === 'datagram' && (l.t ?? 0) >= upAt,
          10_000,
        );
        const gap = (resumed.t ?? 0) - upAt;
        process.stdout.write(
          `# IPv${family} ${engine} ${how}: stream back ${gap} ms after link up\n`,
        );
        assert.ok(gap < 2000, `stream back ${gap} ms after the link came back (limit 2000)`);
      } finally {
        await stop(rx, ...(tx ? [tx] : []));
      }
    });
  }

  test('mediasock recv shows the rejoin (JSON stats: rejoins 1) and keeps counting', async () => {
    const [h0, h1] = topo.hosts;
    assert.ok(h0 && h1);
    const group = `239.255.93.${++n}`;
    const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const recv = spawnNodeInNamespace(
      h1.ns,
      cli,
      ['recv', `udp://@${group}:0?iface=veth0`, '--json', '--interval', '0.2', '--duration', '15'],
      { timeoutMs: 60_000 },
    );
    let tx: NamespaceChild | undefined;
    try {
      const start = await recv.waitForJson<Line & { type?: string }>((l) => l.type === 'start');
      tx = sender(h0, 'veth0', group, start.port ?? 0, 'h0', 600);
      type Stats = { type?: string; packets?: number; rejoins?: number };
      const before = await recv.waitForJson<Stats>(
        (l) => l.type === 'stats' && (l.packets ?? 0) > 0,
        10_000,
      );
      assert.equal(before.rejoins, 0);
      recreate(h1);
      const after = await recv.waitForJson<Stats>(
        (l) =>
          l.type === 'stats' && l.rejoins === 1 && (l.packets ?? 0) > (before.packets ?? 0) + 50,
        10_000,
      );
      assert.equal(after.rejoins, 1);
    } finally {
      await stop(recv, ...(tx ? [tx] : []));
    }
  });
});
