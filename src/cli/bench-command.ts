/**
 * `mediasock bench`: the datagram engines side by side on loopback, as a table. Each row runs
 * for `--seconds` and reports datagrams per second and CPU microseconds per datagram of this
 * process (user + system, `process.cpuUsage()`).
 *
 * Receive rows are fed by a separate process that sends as fast as it can with raw `node:dgram`,
 * so the CPU measured is the receiver's (plus, on loopback, part of the kernel's delivery work).
 * Send rows send to a socket in that process that does not read. For now the engines are
 * mediasock's node engine (`UdpSocket`) and raw `node:dgram`; the batch engine joins later.
 *
 * What it does not do: compare across machines or runs; read the ratios within one run.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';

import { UdpSocket, nativeStatus } from '../index.js';
import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  positiveInteger,
  positiveNumber,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';
import { roundTo } from './live-display.js';

export const BENCH_HELP = `Usage: mediasock bench [options]

Runs each datagram engine on loopback (127.0.0.1) and prints a table of datagrams per
second and CPU microseconds per datagram (this process, user + system). Receive rows are fed
by a separate sender process; send rows send to a socket that does not read.

Engines: "node" (mediasock UdpSocket), "dgram" (raw node:dgram, the baseline).

Options:
  --seconds S      duration of each row (default 1)
  --size B         datagram payload bytes (default 1316)
  --json           one JSON object with the rows
  --debug          print stacks of errors
  -h, --help       this help

Examples:
  mediasock bench
  mediasock bench --seconds 2 --size 188 --json

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  seconds: { type: 'string' },
  size: { type: 'string' },
  json: { type: 'boolean' },
} as const;

interface Row {
  engine: string;
  direction: 'recv' | 'send';
  datagrams: number;
  seconds: number;
  pps: number;
  cpu_us_per_datagram: number;
}

/** The blaster/sink child: `send PORT SIZE` blasts datagrams; `sink` prints a port and discards. */
const CHILD = `
const dgram = require('node:dgram');
const [mode, port, size] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
if (mode === 'sink') {
  s.bind(0, '127.0.0.1', () => { process.stdout.write(s.address().port + '\\n'); s.setRecvBufferSize(4096); });
  s.on('message', () => {});
} else {
  const buf = Buffer.alloc(Number(size));
  s.bind(0, '127.0.0.1', () => {
    let inflight = 0;
    const pump = () => { while (inflight < 64) { inflight++; s.send(buf, Number(port), '127.0.0.1', () => { inflight--; setImmediate(pump); }); } };
    pump();
  });
}
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

/** Runs `mediasock bench`. */
export async function benchCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(BENCH_HELP);
    return ExitCode.OK;
  }
  if (positionals.length > 0)
    throw new UsageError(`bench takes no arguments (received ${positionals[0]})`);
  const seconds = positiveNumber('seconds', values.seconds) ?? 1;
  if (seconds > 60) throw new UsageError('--seconds must be at most 60');
  const size = positiveInteger('size', values.size) ?? 1316;
  if (size > 65507) throw new UsageError('--size must be at most 65507');

  const rows: Row[] = [];
  for (const engine of ['node', 'dgram'] as const) {
    if (io.signal.aborted) break;
    rows.push(await benchReceive(engine, size, seconds, io.signal));
  }
  for (const engine of ['node', 'dgram'] as const) {
    if (io.signal.aborted) break;
    rows.push(await benchSend(engine, size, seconds, io.signal));
  }
  const native = nativeStatus();
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify({ size, seconds, native: native.loaded, rows })}\n`);
    return ExitCode.OK;
  }
  const head = ['ENGINE', 'DIRECTION', 'DATAGRAMS/S', 'CPU µs/DATAGRAM', 'VS DGRAM'];
  const table = rows.map((r) => {
    const base = rows.find((b) => b.engine === 'dgram' && b.direction === r.direction);
    const ratio =
      base !== undefined && base.cpu_us_per_datagram > 0
        ? r.cpu_us_per_datagram / base.cpu_us_per_datagram
        : NaN;
    return [
      r.engine,
      r.direction,
      String(Math.round(r.pps)),
      r.cpu_us_per_datagram.toFixed(2),
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}x CPU` : '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  io.stdout.write(
    `mediasock bench: ${size}-byte datagrams on 127.0.0.1, ${seconds} s per row; native addon ${native.loaded ? 'loaded' : 'not loaded'}\n` +
      `${[fmt(head), ...table.map(fmt)].join('\n')}\n`,
  );
  return ExitCode.OK;
}

function startChild(args: string[]): { child: ReturnType<typeof spawn>; stdout: Promise<string> } {
  const child = spawn(process.execPath, ['-e', CHILD, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stdout = new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(text.trim());
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`bench helper exited with code ${String(code)}`)),
    );
  });
  // Marked handled here: the receive rows never read the port line; the send rows await it.
  stdout.catch(() => undefined);
  return { child, stdout };
}

async function stopChild(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

async function benchReceive(
  engine: 'node' | 'dgram',
  size: number,
  seconds: number,
  signal: AbortSignal,
): Promise<Row> {
  let count = 0;
  let port: number;
  let close: () => Promise<void>;
  if (engine === 'node') {
    const s = await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      recvBufferBytes: 1 << 22,
    });
    s.on('message', () => count++);
    port = s.address().port;
    close = () => s.close();
  } else {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    s.on('message', () => count++);
    port = s.address().port;
    close = () => new Promise((resolve) => s.close(() => resolve()));
  }
  const { child } = startChild(['send', String(port), String(size)]);
  try {
    // Warm up until datagrams flow (bounded), then measure.
    for (let i = 0; i < 100 && count === 0 && !signal.aborted; i++) await sleep(20);
    if (count === 0)
      throw new Error('bench: no datagrams arrived from the sender process within 2 s');
    return await measure(engine, 'recv', seconds, () => count, signal);
  } finally {
    await stopChild(child);
    await close();
  }
}

async function benchSend(
  engine: 'node' | 'dgram',
  size: number,
  seconds: number,
  signal: AbortSignal,
): Promise<Row> {
  const { child, stdout } = startChild(['sink']);
  try {
    const port = Number(await stdout);
    const buf = Buffer.alloc(size);
    let count = 0;
    let running = true;
    let send: () => Promise<unknown>;
    let close: () => Promise<void>;
    if (engine === 'node') {
      const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      send = () => s.send(buf, port, '127.0.0.1');
      close = () => s.close();
    } else {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1');
      await once(s, 'listening');
      send = () =>
        new Promise<void>((resolve, reject) =>
          s.send(buf, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
        );
      close = () => new Promise((resolve) => s.close(() => resolve()));
    }
    // 16 sends in flight, each engine the same way. A send that completes at once settles in
    // a microtask, so each loop yields to the event loop now and then to let timers run.
    const loops = Array.from({ length: 16 }, async () => {
      for (let i = 1; running; i++) {
        await send();
        count++;
        if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    });
    try {
      return await measure(engine, 'send', seconds, () => count, signal);
    } finally {
      running = false;
      await Promise.all(loops);
      await close();
    }
  } finally {
    await stopChild(child);
  }
}

async function measure(
  engine: string,
  direction: 'recv' | 'send',
  seconds: number,
  counter: () => number,
  signal: AbortSignal,
): Promise<Row> {
  const c0 = counter();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline && !signal.aborted)
    await sleep(Math.min(50, deadline - performance.now()));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const n = counter() - c0;
  return {
    engine,
    direction,
    datagrams: n,
    seconds: roundTo(elapsed, 3),
    pps: roundTo(n / elapsed, 0),
    cpu_us_per_datagram: n > 0 ? roundTo((cpu.user + cpu.system) / n, 3) : 0,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
