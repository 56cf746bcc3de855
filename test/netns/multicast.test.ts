/**
 * Multicast with mediasock across hosts: three network namespaces on a private bridge (made by
 * test/helpers/netns.ts), two senders (host 0 and host 1) and one receiver (host 2). Any-source and
 * source-specific membership, IPv4 and IPv6; with IGMPv3/MLDv2 snooping the bridge forwards a group
 * only where a join was reported, so the joins are real on the wire. Nothing here touches the root
 * namespace's interfaces.
 *
 * Groups: 239.255.0.0/16 (RFC 2365) and ff15:: (site-local transient, RFC 4291) for ASM;
 * 232.0.1.0/24 and ff35::8000:x (RFC 4607 SSM ranges) for SSM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { createTopology, netnsSkipReason, spawnNodeInNamespace } from '../helpers/netns.js';
import type { NamespaceChild, Topology } from '../helpers/netns.js';

const skip = netnsSkipReason() ?? false;
const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface Line {
  event: string;
  port?: number;
  from?: string;
  data?: string;
  count?: number;
}

async function stop(...children: NamespaceChild[]): Promise<void> {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.exited));
}

/**
 * Receiver in host 2, senders in hosts 0 and 1 (20 datagrams each); returns the labels of what the
 * receiver got, e.g. ["h0 0", "h1 0", ...], once both senders are done and a short grace passed.
 */
async function scenario(
  topo: Topology,
  family: 4 | 6,
  group: string,
  sourceHosts: number[],
): Promise<{ from: string; data: string }[]> {
  const [h0, h1, h2] = topo.hosts;
  assert.ok(h0 && h1 && h2);
  const addr = (h: typeof h0): string => (family === 4 ? h.ipv4 : h.ipv6);
  const sources = sourceHosts.map((i) => addr(topo.hosts[i] ?? h0));
  const rx = spawnNodeInNamespace(h2.ns, fixture('mediasock-receiver.ts'), [
    '--group',
    group,
    '--interface',
    h2.ifname,
    '--family',
    String(family),
    ...sources.flatMap((s) => ['--source', s]),
    // Bound to the group, the socket gets that group's datagrams only, whatever else the host
    // joined on the port (IP_MULTICAST_ALL stays on without the addon).
    '--bind-group',
  ]);
  const senders: NamespaceChild[] = [];
  try {
    const joined = await rx.waitForJson<Line>((l) => l.event === 'joined', 20_000);
    const port = String(joined.port);
    for (const [i, h] of [h0, h1].entries()) {
      senders.push(
        spawnNodeInNamespace(h.ns, fixture('mediasock-sender.ts'), [
          '--group',
          group,
          '--port',
          port,
          '--interface',
          h.ifname,
          '--family',
          String(family),
          '--label',
          `h${i}`,
          '--count',
          '20',
        ]),
      );
    }
    for (const s of senders) await s.waitForJson<Line>((l) => l.event === 'done', 20_000);
    const got: { from: string; data: string }[] = [];
    // Drain what arrived: stop when nothing new shows up for 300 ms (bounded by 40 lines).
    for (let i = 0; i < 40; i++) {
      const line = await rx.nextJson<Line>(300).catch(() => undefined);
      if (!line) break;
      if (line.event === 'datagram') got.push({ from: line.from ?? '', data: line.data ?? '' });
    }
    return got;
  } finally {
    await stop(rx, ...senders);
  }
}

for (const snooping of [false, true]) {
  describe(
    `multicast across namespaces (bridge ${snooping ? 'with IGMPv3/MLDv2 snooping' : 'flooding'})`,
    { skip },
    () => {
      let topo: Topology;
      before(async () => {
        topo = await createTopology({ hosts: 3, ipv6: true, snooping });
      });
      after(() => topo?.destroy());

      test('ASM IPv4: both senders are heard', async () => {
        const got = await scenario(topo, 4, '239.255.91.1', []);
        assert.equal(got.filter((d) => d.data.startsWith('h0 ')).length, 20);
        assert.equal(got.filter((d) => d.data.startsWith('h1 ')).length, 20);
      });

      test('SSM IPv4: only the joined source is heard', async () => {
        const got = await scenario(topo, 4, '232.0.1.91', [0]);
        assert.equal(got.length, 20, JSON.stringify(got.slice(0, 3)));
        const stray = got.filter(
          (d) => d.from !== topo.hosts[0]?.ipv4 || !d.data.startsWith('h0 '),
        );
        assert.deepEqual(stray, [], `only ${topo.hosts[0]?.ipv4} (h0) is heard`);
      });

      test('ASM IPv6: both senders are heard', async () => {
        const got = await scenario(topo, 6, 'ff15::91:1', []);
        assert.equal(got.filter((d) => d.data.startsWith('h0 ')).length, 20);
        assert.equal(got.filter((d) => d.data.startsWith('h1 ')).length, 20);
      });

      test('SSM IPv6: only the joined source is heard', async () => {
        const got = await scenario(topo, 6, 'ff35::8000:91', [1]);
        assert.equal(got.length, 20, JSON.stringify(got.slice(0, 3)));
        const stray = got.filter(
          (d) => d.from !== topo.hosts[1]?.ipv6 || !d.data.startsWith('h1 '),
        );
        assert.deepEqual(stray, [], `only ${topo.hosts[1]?.ipv6} (h1) is heard`);
      });

      test('SSM with two sources: both joined sources are heard', async () => {
        const got = await scenario(topo, 4, '232.0.1.92', [0, 1]);
        assert.equal(got.length, 40);
      });
    },
  );
}
