/**
 * Backpressure of the batch engine, made deterministic: on loopback the kernel frees the sender's
 * buffer as it queues each datagram, so a full send queue never happens there. Here two hosts in
 * private network namespaces (test/helpers/netns.ts) are joined by veths, and the sender's veth gets
 * a slow `tbf` qdisc, so datagrams wait in the qdisc still charged to the sender's small `SO_SNDBUF`
 * and `sendmmsg` meets `EAGAIN`. What is checked:
 *
 * - `sendBatch` of 2000 datagrams waits for room (`'drain'` events) and resolves `{ sent: 2000 }`
 *   with no error, as an array (sendmmsg) and as a GSO train;
 * - `trySendBatch` of a view sends what the full queue takes (0 < k < n) and nothing while a
 *   `sendBatch` of the rest waits (order kept: the receiver sees every datagram in order);
 * - the socket layer never loses silently: every datagram reported sent reached the kernel (the
 *   namespace's `Udp: OutDatagrams`, the qdisc's packet count), and everything the receiver misses
 *   is counted by the network (qdisc drops) or the receiver's kernel drops;
 * - `close()` while a backpressured `sendBatch` waits settles it at once with `{ sent < n, error:
 *   SocketClosedError }` (or rejects with it), and the fd count is back to its baseline;
 * - GSO downgrade: a socket on which the kernel refuses UDP GSO with `EINVAL` (`SO_NO_CHECK`) turns
 *   `capabilities.gso` off and still delivers the whole batch; a GSO segment larger than the path
 *   MTU is delivered as the plain path would (fragmented), not refused.
 *
 * The programs run as fixtures in the namespaces (`fixtures/batch-flood.ts`,
 * `fixtures/batch-counter.ts`). Every wait is bounded; no timing is asserted except that a close
 * settles the pending send within a generous bound. Skips, with the reason, when the addon (or its
 * batch engine), network namespaces or `tc` are unavailable, or `MEDIASOCK_NO_NATIVE=1`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { loadNative, nativeStatus } from '../../src/native/index.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { createTopology, netnsSkipReason, spawnNodeInNamespace } from '../helpers/netns.js';
import type { NamespaceChild, Topology, TopologyHost } from '../helpers/netns.js';

const execFileAsync = promisify(execFile);

function nativeSkipReason(): string | undefined {
  if (process.env.MEDIASOCK_NO_NATIVE === '1')
    return 'MEDIASOCK_NO_NATIVE=1: the batch engine needs the native addon';
  const binding = loadNative();
  if (binding === undefined)
    return `the native addon is not loaded (${nativeStatus().loadError?.message ?? 'unknown'})`;
  if (process.platform !== 'linux')
    return `the batch engine needs Linux (this is ${process.platform})`;
  if (typeof (binding as unknown as Record<string, unknown>).msock_batch_open !== 'function')
    return 'the loaded addon was built without the batch engine (run npm run build:native)';
  return undefined;
}

const nativeSkip = nativeSkipReason();
const netnsSkip = nativeSkip ?? netnsSkipReason();
const tcSkip =
  netnsSkip ?? commandSkipReason('tc', 'iproute2 traffic control, for the slow tbf qdisc');

const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** 2000 datagrams of 1000 bytes through 10 Mbit/s: about 1.7 s on the wire. */
const COUNT = 2000;
const SIZE = 1000;
/** Slow enough that the CPU always outruns it, fast enough for a short test (1mbit: 17 s). */
const TBF = ['tbf', 'rate', '10mbit', 'burst', '4kb', 'latency', '400ms'];

interface FloodResult {
  event: string;
  outcome: 'resolved' | 'rejected';
  sent?: number;
  trySent?: number;
  trySentWhilePending?: number;
  errorName?: string;
  errorCode?: string;
  errorMessage?: string;
  drains: number;
  elapsedMs: number;
  settleAfterCloseMs?: number;
  stats: { packetsSent: number; bytesSent: number; sendErrors: number };
  sendBufferBytes: number;
  capabilitiesBefore: { gso: boolean };
  capabilitiesAfter: { gso: boolean };
  outDatagrams: number;
  sndbufErrors: number;
  fdBaseline: number;
  fdAfter: number;
}

interface Report {
  event: string;
  received: number;
  distinct: number;
  duplicates: number;
  corrupt: number;
  outOfRange: number;
  reordered: number;
  bytes: number;
  kernelDrops: number | undefined;
}

interface QdiscStats {
  kind: string;
  packets: number;
  drops: number;
  backlog: number;
  qlen: number;
}

async function inNs(ns: string, ...argv: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', ns, ...argv], {
      timeout: 10_000,
    });
    return stdout;
  } catch (err) {
    const raw = (err as { stderr?: string | Buffer }).stderr;
    const stderr = raw === undefined ? '' : raw.toString().trim();
    const message = stderr !== '' ? stderr : err instanceof Error ? err.message : 'unknown error';
    throw new Error(`${argv.join(' ')} in ${ns} failed: ${message}`, { cause: err });
  }
}

async function rootQdisc(host: TopologyHost): Promise<QdiscStats> {
  const list = JSON.parse(
    await inNs(host.ns, 'tc', '-s', '-j', 'qdisc', 'show', 'dev', host.ifname),
  ) as (QdiscStats & { root?: boolean })[];
  const root = list.find((q) => q.root === true);
  assert.ok(root, `no root qdisc on ${host.ifname} in ${host.ns}: ${JSON.stringify(list)}`);
  return root;
}

/** Waits (bounded: 10 s) until the sender's qdisc has sent or dropped everything it held. */
async function qdiscDrained(host: TopologyHost): Promise<QdiscStats> {
  const deadline = Date.now() + 10_000;
  let q = await rootQdisc(host);
  for (let i = 0; i < 500 && (q.qlen > 0 || q.backlog > 0) && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 20));
    q = await rootQdisc(host);
  }
  assert.equal(q.qlen, 0, `the qdisc still holds ${q.qlen} packets after 10 s`);
  return q;
}

/** Resolves with the child's exit status, or fails after `timeoutMs` (then kills it). */
async function exitOf(
  child: NamespaceChild,
  what: string,
  timeoutMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${timeoutMs} ms; stderr: ${child.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Run {
  result: FloodResult;
  report: Report;
  qdisc: QdiscStats | undefined;
}

/**
 * Receiver (`batch-counter.ts`) on `rxHost`, one `batch-flood.ts` send on `txHost`; returns the
 * sender's result, the qdisc's counters once it drained (with `tbf`), and the receiver's count.
 */
async function flood(
  txHost: TopologyHost,
  rxHost: TopologyHost,
  count: number,
  args: string[],
  tbf: boolean,
): Promise<Run> {
  const rx = spawnNodeInNamespace(
    rxHost.ns,
    fixture('batch-counter.ts'),
    ['--expect', String(count)],
    {
      timeoutMs: 90_000,
    },
  );
  let tx: NamespaceChild | undefined;
  try {
    const ready = await rx.waitForJson<{ event: string; port: number }>(
      (l) => l.event === 'ready',
      20_000,
    );
    tx = spawnNodeInNamespace(
      txHost.ns,
      fixture('batch-flood.ts'),
      ['--to', rxHost.ipv4, '--port', String(ready.port), '--count', String(count), ...args],
      { timeoutMs: 90_000 },
    );
    const result = await tx.waitForJson<FloodResult>(
      (l) => l.event === 'result' || l.event === 'timeout',
      60_000,
    );
    assert.equal(result.event, 'result', `the send did not settle: ${JSON.stringify(result)}`);
    const status = await exitOf(tx, 'the sender');
    assert.deepEqual(
      status,
      { code: 0, signal: null },
      `the sender exits by itself once its socket is closed (nothing left holding the loop); stderr: ${tx.stderr()}`,
    );
    const qdisc = tbf ? await qdiscDrained(txHost) : undefined;
    rx.process.stdin?.write('report\n');
    const report = await rx.waitForJson<Report>((l) => l.event === 'report', 15_000);
    return { result, report, qdisc };
  } finally {
    tx?.kill('SIGKILL');
    rx.process.stdin?.end();
    await exitOf(rx, 'the receiver').catch(() => rx.kill('SIGKILL'));
  }
}

/** What the receiver counted is consistent, and whatever it misses the network counted. */
function assertNoSilentLoss(run: Run, sent: number): void {
  const { report, qdisc } = run;
  const detail = JSON.stringify({ sent, report, qdisc });
  assert.equal(report.duplicates, 0, `no duplicate datagrams: ${detail}`);
  assert.equal(report.corrupt, 0, `no corrupt datagrams: ${detail}`);
  assert.equal(report.outOfRange, 0, `no unknown datagrams: ${detail}`);
  assert.equal(report.distinct, report.received, detail);
  assert.ok(report.received <= sent, `nothing arrives that was not sent: ${detail}`);
  const networkDrops = (qdisc?.drops ?? 0) + (report.kernelDrops ?? 0);
  assert.ok(
    report.received + networkDrops >= sent,
    `every datagram reported sent arrived or was counted as dropped by the network: ${detail}`,
  );
  if (qdisc !== undefined) {
    // The qdisc saw every datagram the socket reported sent (plus at most a few ARP frames; the
    // hosts have no IPv6, so nothing else crosses veth0).
    assert.ok(qdisc.packets + qdisc.drops >= sent, `the qdisc saw every datagram: ${detail}`);
    assert.ok(qdisc.packets + qdisc.drops <= sent + 16, `the qdisc saw only ours: ${detail}`);
  }
}

describe(
  'batch engine backpressure across a slow link (tbf qdisc)',
  { skip: tcSkip ?? false },
  () => {
    let topo: Topology | undefined;
    let tx: TopologyHost;
    let rx: TopologyHost;
    let tbfSkip: string | undefined;

    before(async () => {
      topo = await createTopology({ hosts: 2, ipv6: false });
      const [h0, h1] = topo.hosts;
      assert.ok(h0 && h1);
      tx = h0;
      rx = h1;
      try {
        await inNs(tx.ns, 'tc', 'qdisc', 'replace', 'dev', tx.ifname, 'root', ...TBF);
      } catch (err) {
        tbfSkip = `cannot install a tbf qdisc in a namespace (sch_tbf missing?): ${(err as Error).message}`;
      }
    });
    after(async () => {
      await topo?.destroy();
    });

    /** A fresh tbf (fresh counters) on the sender's veth. */
    async function slowLink(t: { skip(reason: string): void }): Promise<boolean> {
      if (tbfSkip !== undefined) {
        t.skip(tbfSkip);
        return false;
      }
      await inNs(tx.ns, 'tc', 'qdisc', 'del', 'dev', tx.ifname, 'root');
      await inNs(tx.ns, 'tc', 'qdisc', 'replace', 'dev', tx.ifname, 'root', ...TBF);
      const q = await rootQdisc(tx);
      assert.equal(q.kind, 'tbf');
      assert.equal(q.packets, 0);
      return true;
    }

    for (const form of ['array', 'train'] as const) {
      test(`sendBatch of ${COUNT} x ${SIZE} B (${form === 'array' ? 'array, sendmmsg' : 'train, GSO'}) waits for room and resolves { sent: ${COUNT} }`, async (t) => {
        if (!(await slowLink(t))) return;
        const run = await flood(
          tx,
          rx,
          COUNT,
          ['--size', String(SIZE), '--sndbuf', '4096', '--form', form],
          true,
        );
        const { result } = run;
        const detail = JSON.stringify(result);
        assert.equal(result.outcome, 'resolved', detail);
        assert.equal(result.sent, COUNT, detail);
        assert.equal(result.errorName, undefined, `no error: ${detail}`);
        assert.ok(result.sendBufferBytes <= 16_384, `the small SO_SNDBUF took effect: ${detail}`);
        assert.ok(
          result.drains > 0,
          `the engine hit a full send queue and waited for 'drain': ${detail}`,
        );
        assert.equal(result.stats.packetsSent, COUNT, detail);
        assert.equal(result.stats.bytesSent, COUNT * SIZE, detail);
        assert.equal(result.stats.sendErrors, 0, detail);
        if (form === 'array') {
          // One kernel datagram per message: every one reported sent was taken by the kernel's UDP
          // layer (a qdisc refusing at enqueue would count it in SndbufErrors instead, and in drops).
          assert.ok(result.outDatagrams <= COUNT, detail);
          assert.ok(result.outDatagrams + (run.qdisc?.drops ?? 0) >= COUNT, detail);
        } else {
          // The kernel counts a GSO super-packet once.
          assert.ok(
            result.outDatagrams >= Math.ceil(COUNT / 64) && result.outDatagrams <= COUNT,
            detail,
          );
        }
        assert.ok(result.fdAfter <= result.fdBaseline, `fds back to baseline: ${detail}`);
        assertNoSilentLoss(run, COUNT);
      });
    }

    test(`trySendBatch of ${COUNT} x ${SIZE} B sends what the full queue takes, 0 while the rest waits in sendBatch; all arrive in order`, async (t) => {
      if (!(await slowLink(t))) return;
      const run = await flood(
        tx,
        rx,
        COUNT,
        ['--size', String(SIZE), '--sndbuf', '4096', '--form', 'try'],
        true,
      );
      const { result, report } = run;
      const detail = JSON.stringify({ result, report });
      assert.ok(
        result.trySent !== undefined && result.trySent > 0 && result.trySent < COUNT,
        `trySendBatch stopped at the full send queue, after sending some: ${detail}`,
      );
      assert.equal(
        result.trySentWhilePending,
        0,
        `nothing overtakes the sendBatch that waits: ${detail}`,
      );
      assert.equal(result.outcome, 'resolved', detail);
      assert.equal(result.sent, COUNT, `trySendBatch + sendBatch sent everything: ${detail}`);
      assert.equal(result.errorName, undefined, detail);
      assert.ok(result.drains > 0, `the rest waited for room: ${detail}`);
      assert.equal(result.stats.packetsSent, COUNT, detail);
      assert.equal(result.stats.bytesSent, COUNT * SIZE, detail);
      assert.equal(result.stats.sendErrors, 0, detail);
      assert.ok(result.outDatagrams <= COUNT, detail);
      assertNoSilentLoss(run, COUNT);
      assert.equal(report.reordered, 0, `in order at the receiver: ${detail}`);
    });

    test('close() while a backpressured sendBatch waits settles it at once with SocketClosedError; fds back to baseline', async (t) => {
      if (!(await slowLink(t))) return;
      const run = await flood(
        tx,
        rx,
        COUNT,
        [
          '--size',
          String(SIZE),
          '--sndbuf',
          '4096',
          '--form',
          'array',
          '--close-after-drain-ms',
          '50',
        ],
        true,
      );
      const { result } = run;
      const detail = JSON.stringify(result);
      assert.ok(result.drains > 0, detail);
      assert.equal(result.errorName, 'SocketClosedError', detail);
      assert.equal(result.errorCode, 'MEDIASOCK_ERR_SOCKET_CLOSED', detail);
      let sent: number;
      if (result.outcome === 'resolved') {
        sent = result.sent ?? -1;
        assert.ok(sent > 0 && sent < COUNT, `{ sent < n, error }: ${detail}`);
      } else {
        sent = 0;
      }
      assert.equal(result.stats.packetsSent, sent, detail);
      assert.ok(
        result.settleAfterCloseMs !== undefined && result.settleAfterCloseMs < 2000,
        `the pending send settled promptly after close: ${detail}`,
      );
      assert.ok(result.fdAfter <= result.fdBaseline, `fds back to baseline: ${detail}`);
      // What was handed to the kernel before the close still leaves through the qdisc.
      assertNoSilentLoss(run, sent);
    });
  },
);

describe('batch engine GSO downgrade across hosts', { skip: netnsSkip ?? false }, () => {
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

  test('EINVAL for UDP_SEGMENT (SO_NO_CHECK) turns capabilities.gso off for good and the batch is still delivered', async (t) => {
    const count = 256;
    const run = await flood(
      tx,
      rx,
      count,
      ['--size', String(SIZE), '--sndbuf', String(4 << 20), '--form', 'train', '--no-check-tx'],
      false,
    );
    const { result, report } = run;
    const detail = JSON.stringify({ result, report });
    if (!result.capabilitiesBefore.gso) {
      t.skip(
        'the kernel has no UDP GSO (UDP_SEGMENT) on this socket, so there is nothing to downgrade',
      );
      return;
    }
    assert.equal(result.outcome, 'resolved', detail);
    assert.equal(result.sent, count, detail);
    assert.equal(result.errorName, undefined, detail);
    assert.equal(result.capabilitiesAfter.gso, false, `GSO is off after EINVAL: ${detail}`);
    assert.equal(result.outDatagrams, count, `one kernel datagram each once GSO is off: ${detail}`);
    assert.equal(report.received, count, `all delivered: ${detail}`);
    assertNoSilentLoss(run, count);
  });

  test('a GSO segment larger than the path MTU (veth mtu 576) is delivered as the plain path delivers it', async (t) => {
    const count = 256;
    await inNs(tx.ns, 'ip', 'link', 'set', 'dev', tx.ifname, 'mtu', '576');
    t.after(() => inNs(tx.ns, 'ip', 'link', 'set', 'dev', tx.ifname, 'mtu', '1500'));
    // The plain path first (array: no GSO): 1000-byte datagrams leave as IP fragments.
    const plain = await flood(
      tx,
      rx,
      count,
      ['--size', String(SIZE), '--sndbuf', String(4 << 20), '--form', 'array'],
      false,
    );
    assert.equal(plain.result.sent, count, JSON.stringify(plain.result));
    assert.equal(plain.report.received, count, JSON.stringify(plain.report));
    // The same datagrams as a GSO train: the kernel refuses the super-packet (EINVAL on older
    // kernels, EMSGSIZE on newer ones); the engine must send them one by one instead of failing.
    const run = await flood(
      tx,
      rx,
      count,
      ['--size', String(SIZE), '--sndbuf', String(4 << 20), '--form', 'train'],
      false,
    );
    const { result, report } = run;
    const detail = JSON.stringify({ result, report });
    assert.equal(result.outcome, 'resolved', detail);
    assert.equal(result.sent, count, detail);
    assert.equal(result.errorName, undefined, detail);
    assert.equal(report.received, count, `all delivered, as on the plain path: ${detail}`);
    assertNoSilentLoss(run, count);
  });
});
