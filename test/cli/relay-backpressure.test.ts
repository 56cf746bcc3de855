/**
 * `mediasock relay` to an output whose send queue fills: the relay sends what the queue takes at
 * once (`trySendBatch`), keeps at most `--max-in-flight` datagrams pending on that output
 * (`sendBatch` of the rest) and drops and counts the rest; what it sends arrives in order.
 *
 * On loopback a send queue never fills (the kernel frees the sender's buffer as it queues each
 * datagram), so this runs across a slow link: two hosts in private network namespaces
 * (test/helpers/netns.ts), a `tbf` qdisc of 10 Mbit/s on the relay host's veth and a 4 KiB
 * `SO_SNDBUF` on the output (`?buffer=4096`). The relay and its feed (`batch-flood.ts`, numbered
 * datagrams to the relay's input on the host's own 127.0.0.1) run on one host, the receiver
 * (`batch-counter.ts`) on the other. Every wait is bounded; skips, saying why, without the addon's
 * batch engine (the node engine has no synchronous send), network namespaces or `tc`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { loadNative, nativeStatus } from '../../src/native/index.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { createTopology, netnsSkipReason, spawnNodeInNamespace } from '../helpers/netns.js';
import type { NamespaceChild, Topology, TopologyHost } from '../helpers/netns.js';

const execFileAsync = promisify(execFile);

function nativeSkipReason(): string | undefined {
  if (process.env.MEDIASOCK_NO_NATIVE === '1')
    return 'MEDIASOCK_NO_NATIVE=1: the synchronous send needs the batch engine of the native addon';
  const binding = loadNative();
  if (binding === undefined)
    return `the native addon is not loaded (${nativeStatus().loadError?.message ?? 'unknown'})`;
  if (process.platform !== 'linux')
    return `the batch engine needs Linux (this is ${process.platform})`;
  return undefined;
}

const skip =
  nativeSkipReason() ??
  netnsSkipReason() ??
  commandSkipReason('tc', 'iproute2 traffic control, for the slow tbf qdisc');

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../udp/fixtures/${name}`, import.meta.url));
const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const COUNT = 2000;
const SIZE = 1000;
const MAX_IN_FLIGHT = 64;
const TBF = ['tbf', 'rate', '10mbit', 'burst', '4kb', 'latency', '400ms'];

async function inNs(ns: string, ...argv: string[]): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', ns, ...argv], {
    timeout: 10_000,
  });
  return stdout;
}

interface QdiscStats {
  kind: string;
  packets: number;
  drops: number;
  qlen: number;
  backlog: number;
  root?: boolean;
}

async function rootQdisc(host: TopologyHost): Promise<QdiscStats> {
  const list = JSON.parse(
    await inNs(host.ns, 'tc', '-s', '-j', 'qdisc', 'show', 'dev', host.ifname),
  ) as QdiscStats[];
  const root = list.find((q) => q.root === true);
  assert.ok(root, `no root qdisc on ${host.ifname}: ${JSON.stringify(list)}`);
  return root;
}

/** Resolves with the child's exit, or kills it and fails after `ms`. */
async function exitWithin(child: NamespaceChild, what: string, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${ms} ms: ${child.stderr()}`));
    }, ms);
  });
  try {
    return (await Promise.race([child.exited, timeout])).code;
  } finally {
    clearTimeout(timer);
  }
}

interface Summary {
  type: string;
  input: { packets: number };
  outputs: { packets: number; bytes: number; errors: number; dropped: number }[];
}

interface Report {
  event: string;
  received: number;
  distinct: number;
  duplicates: number;
  corrupt: number;
  outOfRange: number;
  reordered: number;
}

describe('relay across a slow link (tbf qdisc)', { skip: skip ?? false }, () => {
  let topo: Topology | undefined;
  let tx: TopologyHost;
  let rx: TopologyHost;

  before(async () => {
    topo = await createTopology({ hosts: 2, ipv6: false });
    const [h0, h1] = topo.hosts;
    assert.ok(h0 && h1);
    tx = h0;
    rx = h1;
  });
  after(async () => {
    await topo?.destroy();
  });

  test(`--max-in-flight ${MAX_IN_FLIGHT}: sends what the queue takes, drops and counts the rest, delivers in order`, async (t) => {
    try {
      await inNs(tx.ns, 'tc', 'qdisc', 'replace', 'dev', tx.ifname, 'root', ...TBF);
    } catch (err) {
      t.skip(`cannot install a tbf qdisc in a namespace (sch_tbf missing?): ${String(err)}`);
      return;
    }
    const receiver = spawnNodeInNamespace(
      rx.ns,
      fixture('batch-counter.ts'),
      ['--expect', String(COUNT)],
      { timeoutMs: 60_000 },
    );
    let relay: NamespaceChild | undefined;
    let feed: NamespaceChild | undefined;
    try {
      const ready = await receiver.waitForJson<{ event: string; port: number }>(
        (l) => l.event === 'ready',
        20_000,
      );
      relay = spawnNodeInNamespace(
        tx.ns,
        CLI_MAIN,
        [
          'relay',
          'udp://@127.0.0.1:0?buffer=8388608',
          `udp://${rx.ipv4}:${ready.port}?buffer=4096`,
          '--max-in-flight',
          String(MAX_IN_FLIGHT),
          '--count',
          String(COUNT),
          '--duration',
          '30',
          '--json',
        ],
        { timeoutMs: 60_000 },
      );
      const start = await relay.waitForJson<{ type: string; input: { url: string } }>(
        (l) => l.type === 'start',
        20_000,
      );
      const inPort = Number(/:(\d+)$/.exec(start.input.url)?.[1]);
      // The feed on the host's loopback, 50 datagrams every 25 ms: about 16 Mbit/s for 1 s,
      // faster than the 10 Mbit/s link, long enough for the output's queue to drain again.
      feed = spawnNodeInNamespace(
        tx.ns,
        fixture('batch-flood.ts'),
        [
          '--to',
          '127.0.0.1',
          '--port',
          String(inPort),
          '--count',
          String(COUNT),
          '--sndbuf',
          String(1 << 20),
          '--chunk',
          '50',
          '--pause-ms',
          '25',
        ],
        { timeoutMs: 30_000 },
      );
      const summary = await relay.waitForJson<Summary>((l) => l.type === 'summary', 40_000);
      assert.equal(await exitWithin(relay, 'the relay', 10_000), 0, relay.stderr());
      // Everything handed to the kernel leaves through the qdisc (bounded: 10 s).
      let q = await rootQdisc(tx);
      for (let i = 0; i < 500 && (q.qlen > 0 || q.backlog > 0); i++) {
        await new Promise((r) => setTimeout(r, 20));
        q = await rootQdisc(tx);
      }
      receiver.process.stdin?.write('report\n');
      const report = await receiver.waitForJson<Report>((l) => l.event === 'report', 15_000);
      const out = summary.outputs[0];
      assert.ok(out);
      const detail = JSON.stringify({ summary, report, qdisc: q });
      t.diagnostic(`output ${JSON.stringify(out)}; receiver got ${report.received}`);
      assert.equal(summary.input.packets, COUNT, detail);
      assert.equal(out.errors, 0, detail);
      assert.equal(out.packets + out.dropped, COUNT, `each datagram sent or dropped: ${detail}`);
      assert.ok(out.dropped > 0, `the full queue held the output up, past the cap: ${detail}`);
      assert.ok(
        out.packets > 2 * MAX_IN_FLIGHT,
        `the output sent again once its queue drained (more than twice the cap went): ${detail}`,
      );
      assert.equal(out.bytes, out.packets * SIZE, detail);
      assert.equal(report.duplicates, 0, detail);
      assert.equal(report.corrupt, 0, detail);
      assert.equal(report.outOfRange, 0, detail);
      assert.equal(
        report.reordered,
        0,
        `the synchronous and the waiting sends kept order: ${detail}`,
      );
      assert.ok(report.received <= out.packets, `nothing arrives that was not counted: ${detail}`);
      assert.ok(
        report.received + q.drops >= out.packets,
        `every datagram counted as sent arrived or the qdisc dropped it: ${detail}`,
      );
    } finally {
      relay?.kill('SIGKILL');
      feed?.kill('SIGKILL');
      receiver.process.stdin?.end();
      await exitWithin(receiver, 'the receiver', 10_000).catch(() => receiver.kill('SIGKILL'));
      await inNs(tx.ns, 'tc', 'qdisc', 'del', 'dev', tx.ifname, 'root').catch(() => undefined);
    }
  });
});
