/**
 * RTSP multicast (`RTP/AVP;multicast`) inside a private network: the GStreamer RTSP server runs in
 * one namespace with a multicast address pool, the client in another (`fixtures/rtsp-receive.ts`),
 * joined through a bridge. Nothing reaches the root namespace. Any-source (239.255/16) and a pool in
 * the source-specific range (232/8), where the join is source-specific when the server names the
 * source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import {
  createTopology,
  netnsSkipReason,
  spawnInNamespace,
  spawnNodeInNamespace,
} from '../helpers/netns.js';
import { gstPython, gstServerSkipReason, SERVER_SCRIPT } from './gst-server.js';

const skip = gstServerSkipReason() ?? netnsSkipReason();
const CLIENT = fileURLToPath(new URL('./fixtures/rtsp-receive.ts', import.meta.url));

interface Result {
  ok: boolean;
  transport?: string;
  code?: string;
  message?: string;
  stats?: Array<{ packets: number; lost: number; transport: string; receiverReports: number }>;
}

async function multicastRun(range: string, path: string): Promise<Result> {
  const topology = await createTopology({ hosts: 2, ipv6: false });
  try {
    const [server, client] = topology.hosts;
    assert.ok(server !== undefined && client !== undefined);
    const srv = spawnInNamespace(server.ns, [
      gstPython(),
      SERVER_SCRIPT,
      '--address',
      server.ipv4,
      '--protocols',
      'mcast',
      '--mcast-range',
      range,
    ]);
    try {
      const { port } = await srv.nextJson<{ port: number }>(20_000);
      const cli = spawnNodeInNamespace(
        client.ns,
        CLIENT,
        [`rtsp://${server.ipv4}:${port}${path}`, '--transport', 'multicast', '--ms', '2500'],
        { timeoutMs: 60_000 },
      );
      const result = await cli.nextJson<Result>(40_000);
      await cli.exited;
      return result;
    } finally {
      srv.kill();
      await srv.exited;
    }
  } finally {
    await topology.destroy();
  }
}

test(
  'multicast: the client joins the group the server chose and loses nothing',
  { skip },
  async () => {
    const result = await multicastRun('239.255.42.1-239.255.42.20', '/av');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.transport, 'multicast');
    assert.equal(result.stats?.length, 2);
    for (const s of result.stats ?? []) {
      assert.match(s.transport, /^multicast 239\.255\.42\.\d+:\d+-\d+ ttl=1$/);
      assert.ok(s.packets > 5, `packets ${s.packets}`);
      assert.equal(s.lost, 0);
      assert.ok(s.receiverReports >= 1);
    }
  },
);

test('multicast in the SSM range (232/8)', { skip }, async () => {
  const result = await multicastRun('232.7.7.1-232.7.7.20', '/ts');
  assert.equal(result.ok, true, JSON.stringify(result));
  const [ts] = result.stats ?? [];
  assert.ok(ts !== undefined);
  assert.match(ts.transport, /^multicast (10\.77\.\d+\.1@)?232\.7\.7\.\d+:\d+-\d+ ttl=1$/);
  assert.ok(ts.packets > 5, `packets ${ts.packets}`);
  assert.equal(ts.lost, 0);
});
