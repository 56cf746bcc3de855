/**
 * `mediasock relay` to four outputs allocates nothing per batch at steady state: the count of
 * scavenges (young-generation collections, where garbage made per batch shows) while it forwards
 * a few hundred thousand datagrams stays at about zero.
 * Small batches (bursts of 4 datagrams) make it a hard case: whatever a relay allocates per batch
 * and output (a promise, a result object, a closure) is then allocated for every few datagrams,
 * and a relay that allocates a few hundred bytes per batch and output collects every few thousand
 * batches.
 *
 * The relay runs as a process with the benchmark's GC counter preloaded (`bench/cli-gc.ts`: the
 * start of every collection and of every scavenge, in ms since the epoch, on stderr at exit);
 * scavenges are counted
 * from the end of a warm-up to the end of the run. Real sockets on loopback: a `UdpSocket` feeds
 * the input, four bound `UdpSocket`s that do not read are the outputs (the kernel drops what
 * overflows their queues; the relay's send path is the same). Bounded: the feed stops after
 * 40 s, the relay is killed after 90 s.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { nativeStatus } from '../../src/native/index.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { CLI, REPO, records } from './cli-process.js';

const GC_PRELOAD = new URL('../../bench/cli-gc.ts', import.meta.url).href;
const WARM_UP = 20_000;
const MEASURED = 300_000;
const BURST = 4;
const SIZE = 200;
/**
 * Scavenges (young-generation collections) allowed in the measured window: a relay that allocates
 * per batch has 16 or more here; one that does not has 0–1, from its statistics lines (ten a
 * second). Full collections are not counted: V8's memory reducer runs some seconds after start-up
 * whatever the code does.
 */
const MAX_GCS = 4;

const skip = nativeStatus().loaded
  ? false
  : 'the native addon is not loaded: the node engine sends through node:dgram, one promise per datagram, so there is no allocation-free path to check';

/**
 * Forwarded as it is, and with the RTP header stripped (views of the received batch). Not wrap:
 * it copies each datagram behind a new header with `TypedArray.set` of a `subarray`, one small
 * view object per datagram (cheaper in CPU than a copy loop in JS, but not allocation-free).
 */
const CASES = [
  { mode: 'as-is', input: 'udp', output: 'udp' },
  { mode: 'strip', input: 'rtp', output: 'udp' },
] as const;

for (const { mode, input, output } of CASES) {
  test(
    `relay ${input}:// to four ${output}:// outputs (${mode}): about zero GCs over ${MEASURED} datagrams in bursts of ${BURST}`,
    { skip },
    async (t) => {
      const sinks = await Promise.all(
        [0, 1, 2, 3].map(() => UdpSocket.open({ type: 'udp4', address: '127.0.0.1' })),
      );
      const feed = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      t.after(async () => {
        await Promise.all([feed.close(), ...sinks.map((s) => s.close())]);
      });
      const child = spawn(
        process.execPath,
        [
          // A young generation of 1 MiB (the default grows to 16 MiB): a collection every MiB
          // allocated, so any allocation per batch shows as dozens of collections.
          '--max-semi-space-size=1',
          // tsx first (it loads the .ts preload), then the GC counter, then the CLI.
          ...CLI.slice(0, 2),
          '--import',
          GC_PRELOAD,
          ...CLI.slice(2),
          'relay',
          `${input}://@127.0.0.1:0?buffer=8388608`,
          ...sinks.map((s) => `${output}://127.0.0.1:${s.address().port}`),
          '--count',
          String(WARM_UP + MEASURED),
          '--duration',
          '60',
          '--interval',
          '0.1',
          '--json',
        ],
        { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      let stdout = '';
      let stderr = '';
      let port = 0;
      /** Datagrams the relay had read at its last statistics record. */
      let relayed = 0;
      let pending = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        pending += d.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          const r = JSON.parse(line) as { type: string; input: { url: string; packets: number } };
          if (r.type === 'start') port = Number(/:(\d+)$/.exec(r.input.url)?.[1]);
          relayed = r.input.packets;
        }
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let exited = false;
      const done = new Promise<number | null>((resolve) =>
        child.once('close', (code) => {
          exited = true;
          clearTimeout(killer);
          resolve(code);
        }),
      );
      // Bounded by the relay's own kill timer: each wait is 10 ms.
      for (let i = 0; i < 9000 && port === 0 && !exited; i++) await sleep(10);
      assert.ok(port > 0, `the relay started: ${stderr}`);
      const started = Date.now();

      // RTP-shaped datagrams (version 2, payload type 33): forwarded whole or stripped alike.
      const burst = Array.from({ length: BURST }, (_, i) => {
        const d = Buffer.alloc(SIZE, i);
        d[0] = 0x80;
        d[1] = 33;
        return d;
      });
      // Feeds bursts until --count ends the relay (datagrams its input queue dropped are made
      // up), never more than 20,000 ahead of what it has read; the measured window starts once the
      // warm-up has been read.
      const deadline = Date.now() + 40_000;
      let sent = 0;
      let t0 = 0;
      for (let i = 0; i < 10_000_000 && !exited && Date.now() < deadline; i++) {
        if (t0 === 0 && relayed >= WARM_UP) t0 = Date.now();
        if (sent - relayed > 20_000) {
          await sleep(5);
          continue;
        }
        await feed.sendBatch(burst, port, '127.0.0.1');
        sent += BURST;
        // A pause now and then, so the relay reads small batches.
        if (i % 32 === 31) await sleep(1);
      }
      const code = await done;
      const t1 = Date.now();
      assert.equal(code, 0, stderr);
      const gcLine = /^\{"type":"bench-gc".*$/m.exec(stderr)?.[0];
      assert.ok(gcLine, `the GC counter reported: ${stderr}`);
      const starts = (JSON.parse(gcLine) as { scavenge_epoch_ms: number[] }).scavenge_epoch_ms;
      assert.ok(t0 > 0, 'the relay read the warm-up');
      const gcs = starts.filter((ms) => ms >= t0 && ms <= t1).length;
      const all = records(stdout);
      const summary = all[all.length - 1] as {
        type: string;
        input: { packets: number };
        outputs: { mode: string; packets: number; errors: number; dropped: number }[];
      };
      const warmUpGcs = starts.filter((ms) => ms >= started && ms < t0).length;
      t.diagnostic(
        `${gcs} scavenges in ${t1 - t0} ms (${warmUpGcs} during the warm-up); outputs ${JSON.stringify(summary.outputs)}`,
      );
      assert.equal(summary.type, 'summary');
      assert.equal(summary.input.packets, WARM_UP + MEASURED, 'the relay read what --count asked');
      for (const o of summary.outputs) {
        assert.equal(o.packets + o.errors + o.dropped, summary.input.packets, JSON.stringify(o));
        assert.equal(o.errors, 0, JSON.stringify(o));
        assert.equal(o.mode, mode);
      }
      assert.ok(
        gcs <= MAX_GCS,
        `${gcs} scavenges while relaying ${MEASURED} datagrams to 4 outputs (at most ${MAX_GCS} allowed; ${((1e6 * gcs) / MEASURED).toFixed(1)} per million, ${t1 - t0} ms)`,
      );
    },
  );
}
