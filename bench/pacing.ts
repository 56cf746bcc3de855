/**
 * `npm run bench:pacing`: MPEG-TS playout at the PCR rate, measured at the receiver with kernel
 * timestamps (`SO_TIMESTAMPNS`, bench/pacing-recv.py), side by side in one run:
 *
 * - `mediasock send FILE` (no rate option: PCR pacing, the native sender thread);
 * - the same with `--rt-priority 10` (the thread `SCHED_FIFO`, when the kernel allows it);
 * - the same without the addon (`MEDIASOCK_NO_NATIVE=1`: the timer pacer);
 * - `ffmpeg -re -i FILE -c copy -f mpegts -muxrate RATE udp://…?pkt_size=1316` (`-muxrate`, or
 *   the remux drops the null packets and sends only the elementary streams' bytes);
 * - `multicat -U FILE HOST:PORT` after `ingests -p PCR_PID FILE` (when multicat is installed; the
 *   output says when it is not), and `multicat -i 10` (its own real-time priority option);
 * - the C floor `bench/c/pace_nanosleep.c`: one `clock_nanosleep` + `sendto` per 1316-byte
 *   datagram at the PCR rate, no parsing (built here with `cc` into bench/.build/), normal and
 *   `SCHED_FIFO` 10: what one wake-up per datagram costs on this machine;
 * - the same C loop with nothing sent (`wake`): the CPU of the wake-ups alone, the floor under any
 *   sender that wakes once per datagram (only its CPU is reported; nothing reaches the receiver).
 *
 * Files: CBR transport streams FFmpeg makes for the run (`-muxrate`, testsrc in MPEG-2), one per
 * rate (default 4M and 40M), `--seconds` long (default 10), in a scratch directory. The PCR rate
 * is what `TsPlayout` measures over the file.
 *
 * Figures per sender and rate: achieved rate (bytes after the first datagram over first-to-last
 * arrival) and its ratio to the PCR rate, gaps between datagrams (mean, sd, p50, p99, max, share
 * under 20 µs), and the sender's CPU (utime + stime from /proc/<pid>/stat, all threads) as a share
 * of one core over the steady part of the run (1 s after the first datagram to 1 s before the
 * end, so start-up is left out). Targets (issue 16) are checked on each mediasock row: rate within
 * 0.2 %, gap sd ≤ 0.15 ms, p99 ≤ mean + 0.5 ms, CPU ≤ 10 % at the highest rate.
 *
 * Flags: --seconds N (default 10), --rates 4M,40M, --json (end with one JSON line of every row),
 * --only mediasock (skip the other senders). Loopback only.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { TsPlayout } from '../src/media/ts-playout.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rates: { type: 'string' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const seconds = Number(values.seconds ?? 10);
const rates = (values.rates ?? '4M,40M').split(',');

interface Row {
  sender: string;
  rate: string;
  pcr_mbit_per_s: number;
  mbit_per_s?: number;
  rate_ratio?: number;
  datagrams?: number;
  gap_mean_ms?: number;
  gap_sd_ms?: number;
  gap_p50_ms?: number;
  gap_p99_ms?: number;
  gap_max_ms?: number;
  bursts_below_20us?: number;
  cpu_core_share?: number;
  late_datagrams?: number;
  realtime?: unknown;
  targets?: Record<string, boolean>;
  note?: string;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function makeFile(dir: string, rate: string): string {
  const file = join(dir, `cbr-${rate}.ts`);
  const mbit = Number(rate.replace(/[mM]$/, ''));
  const video = `${Math.max(1, Math.floor(mbit * 0.6))}M`;
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc=duration=${seconds}:size=${mbit > 10 ? '1280x720' : '640x360'}:rate=25`,
      '-c:v',
      'mpeg2video',
      '-b:v',
      video,
      '-maxrate',
      video,
      '-bufsize',
      `${Math.max(1, Math.floor(mbit * 0.3))}M`,
      '-f',
      'mpegts',
      '-muxrate',
      rate,
      file,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${file}: ${r.stderr}`);
  return file;
}

function pcrOf(file: string): { bps: number; pid: number } {
  const p = new TsPlayout();
  const bytes = readFileSync(file);
  for (let i = 0; i < bytes.length; i += 1 << 20) p.push(bytes.subarray(i, i + (1 << 20)));
  p.end();
  const s = p.stats();
  if (s.pcrBitsPerSecond === null || s.pcrPid === null) throw new Error(`${file} has no PCR`);
  return { bps: s.pcrBitsPerSecond, pid: s.pcrPid };
}

/** Runs one sender into a fresh receiver; returns the receiver's figures and the sender's CPU. */
async function measure(
  cmd: string[],
  port: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ rx: Record<string, number>; cpu?: number; stdout: string; stderr: string }> {
  const rx = spawn('python3', [join(here, 'pacing-recv.py'), String(port), '--idle', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let rxOut = '';
  let firstAt: number | undefined;
  rx.stdout.on('data', (d: Buffer) => (rxOut += d.toString()));
  let rxErr = '';
  const ready = new Promise<void>((resolve) => {
    rx.stderr.on('data', (d: Buffer) => {
      rxErr += d.toString();
      if (rxErr.includes('ready')) resolve();
      if (firstAt === undefined && rxErr.includes('first')) firstAt = performance.now();
    });
  });
  await ready;
  const tx: ChildProcess = spawn(cmd[0]!, cmd.slice(1), {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  tx.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  tx.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const samples: { t: number; cpu: number }[] = [];
  const exited = once(tx, 'exit');
  let done = false;
  void exited.then(() => (done = true));
  const killAt = performance.now() + (seconds + 60) * 1000;
  // Bounded: one sample per 100 ms until the sender exits or its deadline passes.
  while (!done && performance.now() < killAt) {
    const c = cpuSeconds(tx.pid!);
    if (c !== undefined) samples.push({ t: performance.now(), cpu: c });
    await sleep(100);
  }
  if (!done) tx.kill('SIGKILL');
  await exited;
  await once(rx, 'exit');
  const result = JSON.parse(rxOut.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
  let cpu: number | undefined;
  if (firstAt !== undefined) {
    const from = firstAt + 1000;
    const to = firstAt + (seconds - 1) * 1000;
    const a = samples.find((s) => s.t >= from);
    const b = [...samples].reverse().find((s) => s.t <= to);
    if (a !== undefined && b !== undefined && b.t - a.t > 2000)
      cpu = (b.cpu - a.cpu) / ((b.t - a.t) / 1000);
  }
  return { rx: result, cpu, stdout, stderr };
}

async function main(): Promise<void> {
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Linux ${release()}, Node ${process.versions.node}`;
  const load = loadavg().map((l) => l.toFixed(2));
  console.log(`pacing bench: ${machine}; load average ${load.join(' ')} at the start`);
  if (!has('ffmpeg')) throw new Error('ffmpeg is needed to make the CBR files');
  const multicat = has('multicat') && has('ingests');
  if (!multicat)
    console.log(
      'multicat / ingests are not installed: their rows are left out (Debian: apt-get install multicat)',
    );
  const build = join(here, '.build');
  mkdirSync(build, { recursive: true });
  const floor = join(build, 'pace_nanosleep');
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', floor, join(here, 'c', 'pace_nanosleep.c')], {
    encoding: 'utf8',
  });
  const haveFloor = cc.status === 0;
  if (!haveFloor) console.log(`the C floor is left out: cc failed: ${cc.stderr}`);
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-pacing-'));
  const rows: Row[] = [];
  try {
    for (const rate of rates) {
      const file = makeFile(dir, rate);
      const pcr = pcrOf(file);
      const pcrMbit = pcr.bps / 1e6;
      console.log(
        `\n${rate}: ${file.split('/').at(-1)} ${(readFileSync(file).length / 1e6).toFixed(1)} MB, PCR PID 0x${pcr.pid.toString(16)}, PCR rate ${pcrMbit.toFixed(4)} Mbit/s`,
      );
      const cli = (...extra: string[]): ((port: number) => string[]) => {
        return (port) => [
          process.execPath,
          '--import',
          'tsx',
          'src/cli/main.ts',
          'send',
          `udp://127.0.0.1:${port}`,
          file,
          '--json',
          '--interval',
          '5',
          ...extra,
        ];
      };
      const senders: {
        name: string;
        cmd: (port: number) => string[];
        env?: NodeJS.ProcessEnv;
        mediasock: boolean;
      }[] = [
        { name: 'mediasock (thread)', cmd: cli(), mediasock: true },
        {
          name: 'mediasock (thread, --rt-priority 10)',
          cmd: cli('--rt-priority', '10'),
          mediasock: true,
        },
        {
          name: 'mediasock (timer, no addon)',
          cmd: cli(),
          env: { ...process.env, MEDIASOCK_NO_NATIVE: '1' },
          mediasock: true,
        },
      ];
      if (values.only !== 'mediasock' && haveFloor) {
        for (const prio of ['0', '10'])
          senders.push({
            name: `C clock_nanosleep floor${prio === '0' ? '' : ' (SCHED_FIFO 10)'}`,
            cmd: (port) => [
              floor,
              '127.0.0.1',
              String(port),
              '1316',
              String(pcr.bps),
              String(seconds),
              prio,
            ],
            mediasock: false,
          });
      }
      if (values.only !== 'mediasock') {
        senders.push({
          name: 'ffmpeg -re',
          cmd: (port) => [
            'ffmpeg',
            '-hide_banner',
            '-loglevel',
            'error',
            '-re',
            '-i',
            file,
            '-c',
            'copy',
            '-f',
            'mpegts',
            '-muxrate',
            rate,
            `udp://127.0.0.1:${port}?pkt_size=1316`,
          ],
          mediasock: false,
        });
        if (multicat) {
          const ing = spawnSync('ingests', ['-p', String(pcr.pid), file], { encoding: 'utf8' });
          if (ing.status !== 0) console.log(`ingests failed: ${ing.stderr}`);
          else {
            senders.push({
              name: 'multicat',
              cmd: (port) => ['multicat', '-U', file, `127.0.0.1:${port}`],
              mediasock: false,
            });
            senders.push({
              name: 'multicat -i 10',
              cmd: (port) => ['multicat', '-i', '10', '-U', file, `127.0.0.1:${port}`],
              mediasock: false,
            });
          }
        }
      }
      if (values.only !== 'mediasock' && haveFloor) {
        // The wake-ups alone: no datagram leaves, the loop reports its own CPU (getrusage).
        const wake = spawnSync(
          floor,
          ['127.0.0.1', '9', '1316', String(pcr.bps), String(seconds), '0', 'wake'],
          { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
        );
        const share = /"cpu_core_share":([\d.]+)/.exec(wake.stdout)?.[1];
        const row: Row = {
          sender: 'C clock_nanosleep, wake-ups only',
          rate,
          pcr_mbit_per_s: round(pcrMbit, 4),
        };
        if (share === undefined) row.note = `not measured: ${wake.stderr.trim().slice(0, 200)}`;
        else row.cpu_core_share = Number(share);
        rows.push(row);
        console.log(
          `  ${row.sender.padEnd(38)} ${share === undefined ? row.note : `nothing sent  CPU ${(Number(share) * 100).toFixed(1)} %`}`,
        );
      }
      for (const s of senders) {
        const port = await freePort();
        const m = await measure(s.cmd(port), port, s.env);
        const row: Row = { sender: s.name, rate, pcr_mbit_per_s: round(pcrMbit, 4) };
        if (m.rx.mbit_per_s === undefined) {
          row.note = `not measured: ${m.stderr.trim().slice(0, 200) || 'nothing arrived'}`;
        } else {
          Object.assign(row, {
            mbit_per_s: m.rx.mbit_per_s,
            rate_ratio: round(m.rx.mbit_per_s / pcrMbit, 5),
            datagrams: m.rx.datagrams,
            gap_mean_ms: m.rx.gap_mean_ms,
            gap_sd_ms: m.rx.gap_sd_ms,
            gap_p50_ms: m.rx.gap_p50_ms,
            gap_p99_ms: m.rx.gap_p99_ms,
            gap_max_ms: m.rx.gap_max_ms,
            bursts_below_20us: m.rx.bursts_below_20us,
          });
          if (m.cpu !== undefined) row.cpu_core_share = round(m.cpu, 4);
        }
        if (s.mediasock) {
          const line = m.stdout
            .trim()
            .split('\n')
            .reverse()
            .find((l) => l.includes('"summary"'));
          if (line !== undefined) {
            const sum = JSON.parse(line) as Record<string, unknown>;
            row.late_datagrams = sum.late_datagrams as number;
            row.realtime = sum.realtime;
          }
          if (row.mbit_per_s !== undefined) {
            row.targets = {
              rate_within_0_2_percent: Math.abs(row.rate_ratio! - 1) <= 0.002,
              gap_sd_at_most_0_15_ms: row.gap_sd_ms! <= 0.15,
              p99_at_most_mean_plus_0_5_ms: row.gap_p99_ms! <= row.gap_mean_ms! + 0.5,
              ...(rate === rates.at(-1) && row.cpu_core_share !== undefined
                ? { cpu_at_most_10_percent: row.cpu_core_share <= 0.1 }
                : {}),
            };
          }
        }
        rows.push(row);
        console.log(
          `  ${s.name.padEnd(38)} ${
            row.mbit_per_s === undefined
              ? row.note
              : `${row.mbit_per_s.toFixed(4)} Mbit/s (x${row.rate_ratio!.toFixed(4)})  gap mean ${row.gap_mean_ms} sd ${row.gap_sd_ms} p99 ${row.gap_p99_ms} max ${row.gap_max_ms} ms  bursts ${(row.bursts_below_20us! * 100).toFixed(1)} %  CPU ${row.cpu_core_share === undefined ? '-' : `${(row.cpu_core_share * 100).toFixed(1)} %`}${row.late_datagrams !== undefined ? `  late ${row.late_datagrams}` : ''}${
                  row.targets !== undefined
                    ? `  targets ${
                        Object.values(row.targets).every(Boolean)
                          ? 'met'
                          : `missed: ${Object.entries(row.targets)
                              .filter(([, ok]) => !ok)
                              .map(([k]) => k)
                              .join(', ')}`
                      }`
                    : ''
                }`
          }`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end`,
  );
  if (values.json === true)
    console.log(
      JSON.stringify({
        bench: 'pacing',
        machine,
        load_start: load,
        load_end: loadavg().map((l) => Number(l.toFixed(2))),
        seconds,
        multicat: multicat ? 'installed' : 'not installed',
        rows,
      }),
    );
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

await main();
