/**
 * `mediasock send URL FILE.ts` without a rate option plays out at the PCR rate: FFmpeg-made CBR
 * files (`-muxrate`) arrive in real time, with the native sender thread and with the timer pacer
 * (MEDIASOCK_NO_NATIVE=1); a `--loop` steps over the PCR jump without a gap or a burst; a file
 * without PCR goes at the fixed default rate and says so; `--bitrate` overrides the PCRs; stdin
 * plays out too. The receiver is a dgram socket on loopback that notes arrival times.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { REPO, runCli, summary } from './cli-process.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { makeCbrTs, packetsWithoutPcr } from '../helpers/ts-files.js';
import { loadNative } from '../../src/native/index.js';

const skip = commandSkipReason('ffmpeg', 'it makes the CBR transport streams');
const nativePacer =
  typeof (loadNative() as unknown as Record<string, unknown> | undefined)?.msock_pacer_open ===
  'function';

interface Receiver {
  port: number;
  arrivals: { t: number; bytes: number }[];
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const s = dgram.createSocket('udp4');
  const arrivals: { t: number; bytes: number }[] = [];
  s.on('message', (m: Buffer) => arrivals.push({ t: performance.now(), bytes: m.length }));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  s.setRecvBufferSize(4 << 20);
  return {
    port: s.address().port,
    arrivals,
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}

/** Bytes after the first datagram over the span first to last arrival, in bit/s. */
function receivedRate(rx: Receiver): {
  bps: number;
  span: number;
  bytes: number;
  maxGapMs: number;
} {
  const a = rx.arrivals;
  const span = (a.at(-1)!.t - a[0]!.t) / 1000;
  const bytes = a.reduce((n, x) => n + x.bytes, 0);
  let maxGapMs = 0;
  for (let i = 1; i < a.length; i++) maxGapMs = Math.max(maxGapMs, a[i]!.t - a[i - 1]!.t);
  return { bps: ((bytes - a[0]!.bytes) * 8) / span, span, bytes, maxGapMs };
}

async function settle(rx: Receiver, bytes: number): Promise<void> {
  for (let i = 0; i < 100 && rx.arrivals.reduce((n, x) => n + x.bytes, 0) < bytes; i++)
    await sleep(20);
}

let dir: string;
let cbr: string;
let short: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mediasock-send-playout-'));
  if (skip !== undefined) return;
  cbr = makeCbrTs(dir, 'cbr-2m.ts', 2, '2M');
  short = makeCbrTs(dir, 'cbr-1s.ts', 1, '3M');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

for (const engine of ['thread', 'timer'] as const) {
  const why =
    skip ??
    (engine === 'thread' && !nativePacer
      ? 'the native addon with the pacer is not loaded (npm run build:native)'
      : undefined);
  test(
    `send FILE.ts with no rate option plays in real time (${engine})`,
    { skip: why },
    async () => {
      const rx = await receiver();
      try {
        const size = readFileSync(cbr).length;
        const r = await runCli(['send', `udp://127.0.0.1:${rx.port}`, cbr, '--json'], {
          timeoutMs: 30_000,
          env: engine === 'timer' ? { ...process.env, MEDIASOCK_NO_NATIVE: '1' } : process.env,
        });
        assert.equal(r.code, 0, r.stderr);
        const s = summary(r.stdout);
        assert.equal(s.pacing, 'pcr');
        assert.equal(s.pacer, engine);
        assert.equal(s.bytes, size);
        assert.ok(
          Math.abs((s.pcr_mbit_per_s as number) / 2 - 1) < 0.001,
          `PCR rate ${String(s.pcr_mbit_per_s)}`,
        );
        // Sender clock: the achieved rate within 1 % of the PCR rate (both engines).
        assert.ok(
          Math.abs((s.achieved_mbit_per_s as number) / (s.pcr_mbit_per_s as number) - 1) < 0.01,
          `achieved ${String(s.achieved_mbit_per_s)} Mbit/s`,
        );
        await settle(rx, size);
        const got = receivedRate(rx);
        assert.equal(got.bytes, size, 'every byte arrived');
        // Real time: about 2 s, not a burst (the receiver's event loop adds its own jitter).
        assert.ok(got.span > 1.8 && got.span < 2.3, `arrivals span ${got.span} s`);
        assert.ok(Math.abs(got.bps / 2e6 - 1) < 0.05, `received ${got.bps} bit/s`);
      } finally {
        await rx.close();
      }
    },
  );
}

test(
  'send FILE.ts --loop: the PCR jump at each restart costs no gap and no burst',
  { skip },
  async () => {
    const rx = await receiver();
    try {
      const r = await runCli(
        ['send', `udp://127.0.0.1:${rx.port}`, short, '--loop', '--duration', '3.2', '--json'],
        { timeoutMs: 30_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const s = summary(r.stdout);
      assert.equal(s.pacing, 'pcr');
      assert.ok((s.discontinuities as number) >= 2, `discontinuities ${String(s.discontinuities)}`);
      const got = receivedRate(rx);
      // Three restarts inside ~3 s: a jump taken as a rate would stall (the PCR going back) or burst.
      assert.ok(Math.abs(got.bps / 3e6 - 1) < 0.03, `received ${got.bps} bit/s over ${got.span} s`);
      assert.ok(got.maxGapMs < 250, `largest gap ${got.maxGapMs} ms`);
    } finally {
      await rx.close();
    }
  },
);

test('send FILE.ts without PCR: the fixed default rate, and a note that says so', async () => {
  const rx = await receiver();
  const file = join(dir, 'nopcr.ts');
  writeFileSync(file, packetsWithoutPcr(2100));
  try {
    const r = await runCli(['send', `udp://127.0.0.1:${rx.port}`, file, '--json'], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no PCR/);
    const s = summary(r.stdout);
    assert.equal(s.pacing, 'bitrate (no PCR)');
    assert.equal(s.pcr_pid, null);
    assert.equal(s.packets, 300);
    // 300 datagrams at 1000/s: about 0.3 s, not a burst.
    await settle(rx, 2100 * 188);
    const got = receivedRate(rx);
    assert.equal(got.bytes, 2100 * 188);
    assert.ok(got.span > 0.25 && got.span < 0.6, `span ${got.span} s`);
  } finally {
    await rx.close();
  }
});

test(
  'send FILE.ts --bitrate overrides the PCRs; stdin plays out at the PCR rate',
  { skip },
  async () => {
    const rx = await receiver();
    try {
      const fixed = await runCli(
        ['send', `udp://127.0.0.1:${rx.port}`, short, '--bitrate', '12M', '--json'],
        { timeoutMs: 30_000 },
      );
      assert.equal(fixed.code, 0, fixed.stderr);
      assert.equal(summary(fixed.stdout).pacing, 'fixed');
      const piped = await runCli(['send', `udp://127.0.0.1:${rx.port}`, '-', '--json'], {
        timeoutMs: 30_000,
        input: readFileSync(short),
      });
      assert.equal(piped.code, 0, piped.stderr);
      const s = summary(piped.stdout);
      assert.equal(s.pacing, 'pcr');
      assert.ok(Math.abs((s.pcr_mbit_per_s as number) / 3 - 1) < 0.001);
      // At the PCR rate the 1 s file takes about 1 s (at --bitrate 12M it took a quarter of that).
      assert.ok((s.seconds as number) > 0.9, `stdin playout took ${String(s.seconds)} s`);
      assert.ok((summary(fixed.stdout).seconds as number) < 0.6);
    } finally {
      await rx.close();
    }
  },
);

test('send: --preload, --pacer, --rt-priority and a payload size for playout are checked', async () => {
  const file = join(dir, 'nopcr-small.ts');
  writeFileSync(file, packetsWithoutPcr(10));
  for (const args of [
    ['--preload', '-1'],
    ['--preload', '61'],
    ['--preload', ''],
    ['--pacer', 'fast'],
    ['--rt-priority', '100'],
    ['--pps', '10', '--preload', '1'],
    ['--payload-size', '1000'],
  ]) {
    const r = await runCli(['send', 'udp://127.0.0.1:9', file, ...args], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

/** Root can drop to `nobody` (setpriv), whose thread may not take SCHED_FIFO. */
function unprivilegedSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run the command line as nobody';
  if (!nativePacer) return 'the native addon with the pacer is not loaded';
  const probe = spawnSync('setpriv', [
    '--reuid=nobody',
    '--regid=nogroup',
    '--clear-groups',
    'true',
  ]);
  if (probe.status !== 0) return 'setpriv cannot switch to nobody here';
  const read = spawnSync('setpriv', [
    '--reuid=nobody',
    '--regid=nogroup',
    '--clear-groups',
    'test',
    '-r',
    join(REPO, 'src/cli/main.ts'),
  ]);
  if (read.status !== 0) return 'nobody cannot read the repository';
  return undefined;
}

test(
  'send --rt-priority refused (an unprivileged user): a note says so and the playout goes on',
  { skip: unprivilegedSkipReason() },
  async () => {
    const rx = await receiver();
    try {
      const r = spawnSync(
        'setpriv',
        [
          '--reuid=nobody',
          '--regid=nogroup',
          '--clear-groups',
          process.execPath,
          '--import',
          'tsx',
          'src/cli/main.ts',
          'send',
          `udp://127.0.0.1:${rx.port}`,
          '-',
          '--rt-priority',
          '10',
          '--json',
        ],
        {
          cwd: REPO,
          encoding: 'utf8',
          timeout: 30_000,
          env: { ...process.env, HOME: '/tmp' },
          // On stdin: the scratch directory is the test's own (mode 0700).
          input: packetsWithoutPcr(700),
        },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /--rt-priority 10 was refused \(EPERM/);
      const s = summary(r.stdout);
      assert.equal(s.realtime, 'EPERM');
      assert.equal(s.packets, 100);
    } finally {
      await rx.close();
    }
  },
);
