/**
 * Zones everywhere: bind, send and connect with zoned link-local IPv6 addresses (`fe80::…%veth0`,
 * and the zone as an index) behave the same on both engines. Two hosts on a private bridge; the
 * peer is a `node:dgram` echo server. Before the redesign, a batch-engine connect() to a zoned
 * peer lost its scope (the kernel answered EINVAL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { nativeStatus } from '../../src/native/index.js';
import {
  createTopology,
  netnsSkipReason,
  spawnNodeInNamespace,
  type NamespaceChild,
  type Topology,
} from '../helpers/netns.js';

const skip = netnsSkipReason() ?? false;
const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const engines = nativeStatus().loaded ? (['node', 'batch'] as const) : (['node'] as const);

describe('link-local IPv6 with zones', { skip }, () => {
  let topo: Topology;
  let echo: NamespaceChild;
  let echoPort = 0;

  before(async () => {
    topo = await createTopology({ hosts: 2 });
    const h1 = topo.hosts[1]!;
    echo = spawnNodeInNamespace(h1.ns, fixture('udp-echo.ts'), ['--family', '6']);
    const line = await echo.nextJson<{ port: number }>();
    echoPort = line.port;
  });

  after(async () => {
    echo?.kill();
    await echo?.exited;
    await topo?.destroy();
  });

  for (const engine of engines) {
    for (const [zoneKind, bind] of [
      ['name', 'zoned'],
      ['index', 'zoned'],
      ['name', 'wildcard'],
      ['index', 'wildcard'],
    ] as const) {
      test(`${engine} engine: send, connect and sendBatch with the zone as ${zoneKind}, ${bind} bind`, async () => {
        const [h0, h1] = topo.hosts;
        assert.ok(h0 && h1);
        const zone = zoneKind === 'name' ? h0.ifname : String(h0.ifindex);
        // A zoned bind ties the socket to the interface; from the wildcard only the peer's zone does.
        const client = spawnNodeInNamespace(h0.ns, fixture('zone-client.ts'), [
          '--engine',
          engine,
          '--bind',
          bind === 'zoned' ? `${h0.ipv6LinkLocal}%${zone}` : '::',
          '--peer',
          `${h1.ipv6LinkLocal}%${zone}`,
          '--port',
          String(echoPort),
        ]);
        const result = await client.nextJson<{
          event: string;
          engine?: string;
          echoes?: string[];
          step?: string;
          message?: string;
        }>(20_000);
        await client.exited;
        assert.equal(result.event, 'done', `${result.step}: ${result.message}`);
        assert.equal(result.engine, engine);
        const from = `${h1.ipv6LinkLocal}%${h0.ifname}`;
        assert.deepEqual(result.echoes, [
          `send:unconnected:${from}`,
          `connect:connected:${from}`,
          `batch:b1:${from}`,
          `batch:b2:${from}`,
        ]);
      });
    }
  }
});
