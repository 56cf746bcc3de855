/**
 * A RIST Simple-profile receiver joined to an IPv4 group on both sockets, fed by a sender on
 * another host, inside private network namespaces (test/helpers/netns.ts): media arrives on P and
 * RTCP on P+1, both from the sender's host. Nothing is sent or joined in the root namespace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import {
  createTopology,
  netnsSkipReason,
  spawnNodeInNamespace,
  type NamespaceChild,
  type Topology,
} from '../helpers/netns.js';

const skip = netnsSkipReason() ?? false;
const fixture = fileURLToPath(new URL('./fixtures/rist-multicast.ts', import.meta.url));
// Administratively scoped (RFC 2365); it never leaves the private bridge anyway.
const GROUP = '239.255.77.33';
const PORT = 5004;

let topo: Topology | undefined;
before(async () => {
  if (!skip) topo = await createTopology({ hosts: 2, ipv6: false });
});
after(() => topo?.destroy());

interface Line {
  event: string;
  from?: string;
  data?: string;
  mediaGroups?: number;
  rtcpGroups?: number;
}

test(
  'multicast pair: joined on both sockets, media on P and RTCP on P+1 from the sender host',
  { skip, timeout: 60_000 },
  async () => {
    assert.ok(topo);
    const [h0, h1] = topo.hosts;
    assert.ok(h0 && h1);
    let rx: NamespaceChild | undefined;
    let tx: NamespaceChild | undefined;
    try {
      rx = spawnNodeInNamespace(h1.ns, fixture, [
        '--role',
        'receiver',
        '--group',
        GROUP,
        '--port',
        String(PORT),
        '--iface',
        h1.ifname,
      ]);
      const ready = await rx.waitForJson<Line>((l) => l.event === 'ready', 20_000);
      assert.deepEqual([ready.mediaGroups, ready.rtcpGroups], [1, 1], 'joined on both sockets');
      tx = spawnNodeInNamespace(h0.ns, fixture, [
        '--role',
        'sender',
        '--group',
        GROUP,
        '--port',
        String(PORT),
        '--iface',
        h0.ifname,
        '--count',
        '100',
      ]);
      const seen = new Set<string>();
      const receiver = rx;
      await receiver.waitForJson<Line>((l) => {
        if (l.event === 'media' || l.event === 'rtcp') {
          assert.equal(l.from, h0.ipv4, `${l.event} from the sender's host`);
          assert.match(l.data ?? '', l.event === 'media' ? /^media \d+$/ : /^rtcp \d+$/);
          seen.add(l.event);
        }
        return seen.size === 2;
      }, 20_000);
    } finally {
      for (const c of [tx, rx]) c?.kill();
      await Promise.all([tx?.exited, rx?.exited]);
    }
  },
);
