/**
 * The netns helper works: two hosts on a private bridge exchange IPv4 and IPv6 unicast, and
 * any-source multicast sent by one host reaches a socket that joined on the other, with the bridge
 * flooding (default) and with IGMPv3/MLDv2 snooping. Every datagram stays inside namespaces the test
 * creates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  createTopology,
  listNamespaces,
  netnsSkipReason,
  spawnNodeInNamespace,
  type NamespaceChild,
  type Topology,
} from '../helpers/netns.js';

const skip = netnsSkipReason() ?? false;
const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

// Administratively scoped groups (RFC 2365) and a site-local transient IPv6 group (RFC 4291 §2.7);
// they never leave the private bridge anyway.
const GROUP_V4 = '239.255.77.1';
const GROUP_V6 = 'ff15::77:1';

interface Line {
  event: string;
  port?: number;
  from?: string;
  data?: string;
}

/** Kills the children and waits for them, so no process outlives its test. */
async function stop(...children: Array<NamespaceChild | undefined>): Promise<void> {
  const running = children.filter((c) => c !== undefined);
  for (const c of running) c.kill();
  await Promise.all(running.map((c) => c.exited));
}

async function echoRoundTrip(
  topo: Topology,
  family: 4 | 6,
  target: (host: Topology['hosts'][number]) => string,
): Promise<void> {
  const [h0, h1] = topo.hosts;
  assert.ok(h0 && h1);
  let echo: NamespaceChild | undefined;
  let sender: NamespaceChild | undefined;
  try {
    echo = spawnNodeInNamespace(h1.ns, fixture('udp-echo.ts'), ['--family', String(family)]);
    const listening = await echo.waitForJson<Line>((l) => l.event === 'listening', 20_000);
    assert.ok(listening.port !== undefined && listening.port > 0);
    sender = spawnNodeInNamespace(h0.ns, fixture('udp-send.ts'), [
      '--family',
      String(family),
      '--to',
      target(h1),
      '--port',
      String(listening.port),
      '--expect-reply',
    ]);
    const reply = await sender.waitForJson<Line>((l) => l.event === 'reply', 20_000);
    assert.equal(reply.from, target(h1));
    assert.match(reply.data ?? '', /^ping \d+$/);
    const status = await sender.exited;
    assert.equal(status.code, 0, sender.stderr());
  } finally {
    await stop(sender, echo);
  }
}

async function multicastReaches(
  topo: Topology,
  family: 4 | 6,
  whileJoined?: () => Promise<void>,
): Promise<{ from: string | undefined }> {
  const [h0, h1] = topo.hosts;
  assert.ok(h0 && h1);
  let receiver: NamespaceChild | undefined;
  let sender: NamespaceChild | undefined;
  try {
    receiver = spawnNodeInNamespace(h1.ns, fixture('udp-join-count.ts'), [
      '--family',
      String(family),
      '--group',
      family === 4 ? GROUP_V4 : GROUP_V6,
      '--interface',
      family === 4 ? h1.ipv4 : `::%${h1.ifname}`,
    ]);
    const joined = await receiver.waitForJson<Line>((l) => l.event === 'joined', 20_000);
    sender = spawnNodeInNamespace(h0.ns, fixture('udp-send.ts'), [
      '--family',
      String(family),
      '--to',
      family === 4 ? GROUP_V4 : GROUP_V6,
      '--port',
      String(joined.port),
      '--multicast-interface',
      family === 4 ? h0.ipv4 : `::%${h0.ifname}`,
      '--count',
      '200',
      '--interval-ms',
      '50',
    ]);
    const got = await receiver.waitForJson<Line>((l) => l.event === 'datagram', 20_000);
    await whileJoined?.();
    return { from: got.from };
  } finally {
    await stop(sender, receiver);
  }
}

describe('netns topology (flooding bridge)', { skip }, () => {
  let topo: Topology | undefined;
  before(async () => {
    topo = await createTopology({ hosts: 2 });
  });
  after(async () => {
    await topo?.destroy();
  });

  test('hosts get distinct names and the documented addresses', () => {
    assert.ok(topo);
    assert.equal(topo.hosts.length, 2);
    assert.notEqual(topo.hosts[0]?.ns, topo.hosts[1]?.ns);
    const namespaces = listNamespaces();
    assert.ok(namespaces.includes(topo.hub));
    for (const [i, host] of topo.hosts.entries()) {
      assert.ok(namespaces.includes(host.ns), `${host.ns} missing from ip netns list`);
      assert.match(host.ipv4, new RegExp(`^10\\.77\\.\\d+\\.${i + 1}$`));
      assert.match(host.ipv6, new RegExp(`^fd77:[0-9a-f]+::${i + 1}$`));
      assert.match(host.ipv6LinkLocal, /^fe80::/);
      const link = JSON.parse(
        execFileSync('ip', ['-n', host.ns, '-j', 'addr', 'show', 'dev', host.ifname], {
          encoding: 'utf8',
        }),
      ) as Array<{ ifindex: number; flags: string[]; addr_info: Array<{ local: string }> }>;
      assert.equal(link[0]?.ifindex, host.ifindex);
      assert.ok(link[0]?.flags.includes('UP'));
      const locals = link[0]?.addr_info.map((a) => a.local) ?? [];
      for (const a of [host.ipv4, host.ipv6, host.ipv6LinkLocal]) assert.ok(locals.includes(a));
    }
  });

  test('IPv4 unicast crosses the bridge', async () => {
    assert.ok(topo);
    await echoRoundTrip(topo, 4, (h) => h.ipv4);
  });

  test('IPv6 unicast crosses the bridge', async () => {
    assert.ok(topo);
    await echoRoundTrip(topo, 6, (h) => h.ipv6);
  });

  test('IPv6 link-local unicast with a zone crosses the bridge', async () => {
    assert.ok(topo);
    await echoRoundTrip(topo, 6, (h) => `${h.ipv6LinkLocal}%${h.ifname}`);
  });

  test('IPv4 any-source multicast reaches a host that joined', async () => {
    assert.ok(topo);
    const { from } = await multicastReaches(topo, 4);
    assert.equal(from, topo.hosts[0]?.ipv4);
  });

  test('IPv6 any-source multicast reaches a host that joined', async () => {
    assert.ok(topo);
    const { from } = await multicastReaches(topo, 6);
    // The kernel picks the source address; it is one of the sender's.
    const h0 = topo.hosts[0];
    assert.ok(from === h0?.ipv6 || from === h0?.ipv6LinkLocal, `unexpected source ${from}`);
  });
});

describe('netns topology (snooping bridge)', { skip }, () => {
  let topo: Topology | undefined;
  before(async () => {
    topo = await createTopology({ hosts: 2, snooping: true });
  });
  after(async () => {
    await topo?.destroy();
  });

  test('the bridge is configured for IGMPv3/MLDv2 snooping with a querier', () => {
    assert.ok(topo);
    const link = JSON.parse(
      execFileSync('ip', ['-n', topo.hub, '-d', '-j', 'link', 'show', 'br0'], { encoding: 'utf8' }),
    ) as Array<{ linkinfo: { info_data: Record<string, unknown> } }>;
    const data = link[0]?.linkinfo.info_data;
    assert.equal(data?.mcast_snooping, 1);
    assert.equal(data?.mcast_querier, 1);
    assert.equal(data?.mcast_igmp_version, 3);
    assert.equal(data?.mcast_mld_version, 2);
  });

  /** Waits (bounded) until the bridge's multicast database has `group` on host 1's port. */
  async function inMdb(group: string): Promise<void> {
    assert.ok(topo);
    let last = '';
    for (let i = 0; i < 100; i++) {
      last = execFileSync('bridge', ['-n', topo.hub, '-j', 'mdb', 'show'], { encoding: 'utf8' });
      const entries = (
        JSON.parse(last) as Array<{ mdb?: Array<{ port: string; grp: string }> }>
      ).flatMap((b) => b.mdb ?? []);
      if (entries.some((e) => e.grp === group && e.port === 'p1')) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`${group} never appeared on port p1 in the bridge mdb: ${last}`);
  }

  test('IPv4 and IPv6 joins are snooped and the multicast reaches the host that joined', async () => {
    assert.ok(topo);
    const v4 = await multicastReaches(topo, 4, () => inMdb(GROUP_V4));
    assert.equal(v4.from, topo.hosts[0]?.ipv4);
    const v6 = await multicastReaches(topo, 6, () => inMdb(GROUP_V6));
    assert.ok(v6.from !== undefined);
  });
});

describe('netns topology cleanup', { skip }, () => {
  test('destroy() deletes every namespace and is idempotent', async () => {
    const topo = await createTopology({ hosts: 3, ipv6: false });
    const names = [topo.hub, ...topo.hosts.map((h) => h.ns)];
    // ipv6: false makes IPv4-only hosts: IPv6 is disabled on them, so there is no link-local.
    assert.equal(topo.hosts[2]?.ipv6LinkLocal, '');
    const v6 = execFileSync('ip', ['-n', topo.hosts[2]?.ns ?? '', '-6', '-j', 'addr', 'show'], {
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(v6), []);
    for (const n of names) assert.ok(listNamespaces().includes(n), `${n} was not created`);
    await topo.destroy();
    await topo.destroy();
    const left = listNamespaces().filter((n) => names.includes(n));
    assert.deepEqual(left, []);
  });

  test('createTopology rejects a bad host count', async () => {
    await assert.rejects(createTopology({ hosts: 0 }), RangeError);
  });
});
