/**
 * `mediasock bench`: the datagram engines side by side on loopback, as a table. Each row runs
 * for `--seconds` and reports datagrams per second, Mbit/s, CPU microseconds per datagram of this
 * process (user + system, `process.cpuUsage()`) and loss.
 *
 * One peer process (bench-peer) runs next to this one for the whole run: it feeds the receive
 * rows, sending as fast as it can (the batch engine with UDP GSO when the addon is loaded, else
 * raw `node:dgram`), and it is the receiver the send rows send to (the batch engine when
 * available, else `node:dgram`). So the CPU measured is this process's own
 * (on loopback plus part of the kernel's delivery work), and loss is exact: sent by one side,
 * counted by the other.
 *
 * Rows: receive with raw `node:dgram`, the node engine (`'message'`) and the batch engine
 * (`'batch'`, each datagram's length read from the batch, nothing allocated per datagram); send
 * with raw `node:dgram`, the node engine's `send()`, and the batch engine's `sendBatch` as one
 * train cut by `segmentSize` (UDP GSO) and as an array of datagrams (one `sendmmsg` message each,
 * no GSO). Without the batch engine (addon not loaded, not Linux) its rows say why instead.
 * Then the command line itself (bench-cli-rows): `mediasock recv` and `mediasock relay` as child
 * processes fed by the same peer, with the child's CPU. The table gives each row's CPU per
 * datagram as a ratio to the raw `node:dgram` row (for the relay: receive and send rows added).
 *
 * What it does not do: compare across machines or runs; read the ratios within one run.
 *
 * @module
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';

import { UdpSocket, nativeStatus } from '../index.js';
import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  MAX_UDP_PAYLOAD_BYTES,
  positiveInteger,
  positiveNumber,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';
import { roundTo } from './live-display.js';
import { benchCliRecv, benchCliRelay, cliRowsUnavailable } from './bench-cli-rows.js';
import { BATCH_DATAGRAMS, HOST, Peer, batchUnavailable, numberOf, sleep } from './bench-peer.js';
import type { BatchView } from './bench-peer.js';

export const BENCH_HELP = `Usage: mediasock bench [options]

Runs each datagram engine on loopback (127.0.0.1), then the recv and relay commands, and prints
a table: datagrams per second, Mbit/s, CPU microseconds per datagram (user + system of this
process, or of the command's process) with its ratio to the node:dgram row, and loss. A peer
process feeds the receive rows as fast as it can (batch engine with UDP GSO when the addon is
loaded, else node:dgram) and counts what the send rows send (batch engine, else node:dgram).

Rows:
  recv  dgram   raw node:dgram, 'message' event (the baseline)
  recv  node    mediasock UdpSocket, engine 'node', 'message' event
  recv  batch   engine 'batch', 'batch' event, length(i) per datagram (no allocation)
  send  dgram   raw node:dgram send() with a callback, 16 in flight
  send  node    UdpSocket engine 'node', send(), 16 in flight
  send  batch   engine 'batch', sendBatch({ buffer, segmentSize }): UDP GSO
  send  batch   engine 'batch', sendBatch([datagrams]): sendmmsg, no GSO
  recv  cli     mediasock recv, this command line as a child process fed by the peer
  relay cli     mediasock relay to one output (the peer's receiver), as a child process
The batch rows need the native addon on Linux; without it they read "n/a: <reason>".
The cli rows measure the child's CPU (/proc, Linux) from the start of the feed until it is
idle again, per datagram it received (loss: of what the peer sent, what it received); CPU vs
DGRAM of the relay row is against the dgram receive and send rows together (what a node:dgram
relay spends per datagram).

Options:
  --seconds S      duration of each row, at most 60 (default 1)
  --size B         datagram payload bytes, 1 to 65507 (default 1316)
  --json           one JSON object with the rows
  --debug          print stacks of errors
  -h, --help       this help

Examples:
  mediasock bench
  mediasock bench --seconds 2 --size 188 --json
  MEDIASOCK_NO_NATIVE=1 mediasock bench

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  seconds: { type: 'string' },
  size: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Sends the node and dgram send rows keep in flight. */
const IN_FLIGHT = 16;

/** The engines measured in this process; `cli` rows run the command line as a child. */
type InProcessEngine = 'dgram' | 'node' | 'batch';
type Engine = InProcessEngine | 'cli';
type Direction = 'recv' | 'send' | 'relay';

/** One row of the table (`null` numbers on a row that could not run, `na` then says why). */
export interface BenchRow {
  engine: Engine;
  direction: Direction;
  /** How the datagrams are moved: the event or call used. */
  method: string;
  /** Datagrams moved within the measured window. */
  datagrams: number | null;
  /** The measured window. */
  seconds: number | null;
  pps: number | null;
  mbit_per_s: number | null;
  cpu_us_per_datagram: number | null;
  /** Datagrams sent by the sending side over the whole row (receive rows: the peer). */
  sent: number | null;
  /** Datagrams counted by the receiving side over the whole row (send rows: the peer). */
  received: number | null;
  /** `100 * (1 - received / sent)`, at least 0. */
  loss_pct: number | null;
  /** `"n/a: <reason>"` when the row could not run, else `null`. */
  na: string | null;
}

interface Measured {
  datagrams: number;
  bytes: number;
  seconds: number;
  cpuMicros: number;
}

/** Runs `mediasock bench`. */
export async function benchCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(BENCH_HELP);
    return ExitCode.OK;
  }
  if (positionals.length > 0)
    throw new UsageError(`bench takes no arguments (received ${positionals[0]})`);
  const seconds = positiveNumber('seconds', values.seconds, { max: 60, unit: ' of seconds' }) ?? 1;
  const size = positiveInteger('size', values.size, MAX_UDP_PAYLOAD_BYTES) ?? 1316;

  const native = nativeStatus();
  const batchNa = await batchUnavailable();
  const peer = await Peer.start();
  const rows: BenchRow[] = [];
  let failed = false;
  try {
    const recv: Array<[InProcessEngine, string]> = [
      ['dgram', "'message' event"],
      ['node', "'message' event"],
      ['batch', "'batch' event, length(i)"],
    ];
    for (const [engine, method] of recv) {
      if (io.signal.aborted) break;
      if (engine === 'batch' && batchNa !== undefined) {
        rows.push(naRow(engine, 'recv', method, batchNa));
        continue;
      }
      rows.push(await benchReceive(engine, method, peer, size, seconds, io.signal));
    }
    const send: Array<[InProcessEngine, SendMode, string]> = [
      ['dgram', 'one', 'send()'],
      ['node', 'one', 'send()'],
      ['batch', 'gso', 'sendBatch, GSO'],
      ['batch', 'mmsg', 'sendBatch, sendmmsg (no GSO)'],
    ];
    for (const [engine, mode, method] of send) {
      if (io.signal.aborted) break;
      if (engine === 'batch' && batchNa !== undefined) {
        rows.push(naRow(engine, 'send', method, batchNa));
        continue;
      }
      rows.push(await benchSend(engine, mode, method, peer, size, seconds, io.signal));
    }
    const cliNa = cliRowsUnavailable();
    const cli: Array<[Direction, string, typeof benchCliRecv]> = [
      ['recv', 'mediasock recv (child process)', benchCliRecv],
      ['relay', 'mediasock relay, 1 output (child process)', benchCliRelay],
    ];
    for (const [direction, method, measure] of cli) {
      if (io.signal.aborted) break;
      if (cliNa !== undefined) {
        rows.push(naRow('cli', direction, method, cliNa));
        continue;
      }
      try {
        const m = await measure(peer, size, seconds, io.signal);
        rows.push(row('cli', direction, method, m, m.sent, m.received));
      } catch (err) {
        if (io.signal.aborted) break;
        // The table still comes, with the reason on the row; the exit code says it failed.
        failed = true;
        rows.push(naRow('cli', direction, method, `n/a: failed: ${(err as Error).message}`));
      }
    }
  } finally {
    await peer.stop();
  }
  const code = failed ? ExitCode.FAILURE : ExitCode.OK;

  if (values.json === true) {
    io.stdout.write(
      `${JSON.stringify({
        size,
        seconds,
        host: HOST,
        native: native.loaded,
        native_error: native.loadError?.message ?? null,
        feeder: peer.feeder,
        sink: peer.sink,
        rows,
      })}\n`,
    );
    return code;
  }
  io.stdout.write(
    `mediasock bench: ${size}-byte datagrams on ${HOST}, ${seconds} s per row; native addon ${
      native.loaded ? 'loaded' : `not loaded (${native.loadError?.message ?? 'unknown reason'})`
    }\n` +
      `receive rows fed by a ${peer.feeder} sender process; send rows into a ${peer.sink} receiver process\n` +
      `command-line rows: this mediasock as a child process, fed by the same sender, CPU of the child\n\n` +
      `${formatTable(rows)}\n`,
  );
  return code;
}

function naRow(engine: Engine, direction: Direction, method: string, na: string): BenchRow {
  return {
    engine,
    direction,
    method,
    datagrams: null,
    seconds: null,
    pps: null,
    mbit_per_s: null,
    cpu_us_per_datagram: null,
    sent: null,
    received: null,
    loss_pct: null,
    na,
  };
}

function row(
  engine: Engine,
  direction: Direction,
  method: string,
  m: Measured,
  sent: number,
  received: number,
): BenchRow {
  const pps = m.seconds > 0 ? m.datagrams / m.seconds : 0;
  return {
    engine,
    direction,
    method,
    datagrams: m.datagrams,
    seconds: roundTo(m.seconds, 3),
    pps: roundTo(pps, 0),
    mbit_per_s: roundTo(m.seconds > 0 ? (m.bytes * 8) / m.seconds / 1e6 : 0, 1),
    cpu_us_per_datagram: m.datagrams > 0 ? roundTo(m.cpuMicros / m.datagrams, 3) : null,
    sent,
    received,
    loss_pct: sent > 0 ? roundTo(Math.max(0, 100 * (1 - received / sent)), 2) : null,
    na: null,
  };
}

/**
 * CPU µs per datagram of the raw node:dgram rows, the base of the ratios: the receive row for
 * receiving, the send row for sending, both together for a relay (one receive and one send per
 * datagram, as a node:dgram relay would do); `null` when a row it needs did not run.
 */
function dgramCpu(rows: BenchRow[], direction: Direction): number | null {
  const of = (d: Direction): number | null =>
    rows.find((b) => b.engine === 'dgram' && b.direction === d)?.cpu_us_per_datagram ?? null;
  if (direction !== 'relay') return of(direction);
  const r = of('recv');
  const s = of('send');
  return r !== null && s !== null ? r + s : null;
}

function formatTable(rows: BenchRow[]): string {
  const head = [
    'DIR',
    'ENGINE',
    'METHOD',
    'DATAGRAMS/S',
    'Mbit/s',
    'CPU µs/DGRAM',
    'CPU vs DGRAM',
    'LOSS %',
  ];
  const body = rows.map((r): string[] => {
    if (r.na !== null) return [r.direction, r.engine, r.method, r.na];
    const base = dgramCpu(rows, r.direction);
    const ratio =
      base !== null && base > 0 && r.cpu_us_per_datagram !== null
        ? r.cpu_us_per_datagram / base
        : NaN;
    return [
      r.direction,
      r.engine,
      r.method,
      String(r.pps ?? '-'),
      r.mbit_per_s?.toFixed(1) ?? '-',
      r.cpu_us_per_datagram?.toFixed(3) ?? '-',
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-',
      r.loss_pct?.toFixed(1) ?? '-',
    ];
  });
  // An n/a row's reason spans the numeric columns, so it widens only the first three.
  const widths = head.map((h, i) =>
    Math.max(
      h.length,
      ...body.filter((b) => i < 3 || b.length === head.length).map((b) => b[i]!.length),
    ),
  );
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => {
        if (i === cells.length - 1 && cells.length < head.length) return c;
        return i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0);
      })
      .join('  ')
      .trimEnd();
  return [fmt(head), ...body.map(fmt)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The rows, in this process.

async function benchReceive(
  engine: InProcessEngine,
  method: string,
  peer: Peer,
  size: number,
  seconds: number,
  signal: AbortSignal,
): Promise<BenchRow> {
  let count = 0;
  let bytes = 0;
  let port: number;
  let close: () => Promise<void>;
  if (engine === 'dgram') {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
    s.bind(0, HOST);
    await once(s, 'listening');
    s.on('message', (data: Buffer) => {
      count++;
      bytes += data.length;
    });
    port = s.address().port;
    close = () => new Promise((resolve) => s.close(() => resolve()));
  } else {
    const s = await UdpSocket.open({
      type: 'udp4',
      address: HOST,
      engine,
      recvBufferBytes: 1 << 22,
      ...(engine === 'batch' ? { batch: { slotBytes: size } } : {}),
    });
    if (engine === 'batch') {
      s.on('batch', (b: BatchView) => {
        const n = b.count;
        for (let i = 0; i < n; i++) bytes += b.length(i);
        count += n;
      });
    } else {
      s.on('message', (data: Buffer) => {
        count++;
        bytes += data.length;
      });
    }
    port = s.address().port;
    close = () => s.close();
  }
  try {
    const fed = peer.request({ cmd: 'feed', port, size, seconds });
    // The window opens at the first datagram (bounded wait) and closes at the last one.
    for (let i = 0; i < 600 && count === 0 && !signal.aborted; i++) await sleep(5);
    if (count === 0 && !signal.aborted)
      throw new Error('bench: no datagrams arrived from the sender process within 3 s');
    const c0 = count;
    const b0 = bytes;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let settled = false;
    const reply = fed.finally(() => (settled = true));
    let last = { t: t0, count: c0, bytes: b0 };
    let idle = 0;
    // Until the peer has sent everything and nothing arrived for 3 polls (bounded: 5 s past the end).
    const limit = t0 + (seconds + 5) * 1000;
    while (!signal.aborted && performance.now() < limit) {
      await sleep(10);
      if (count !== last.count) {
        last = { t: performance.now(), count, bytes };
        idle = 0;
      } else if (settled && ++idle >= 3) {
        break;
      }
    }
    const cpu = process.cpuUsage(cpu0);
    const { sent } = await reply;
    return row(
      engine,
      'recv',
      method,
      {
        datagrams: last.count - c0,
        bytes: last.bytes - b0,
        seconds: (last.t - t0) / 1000,
        cpuMicros: cpu.user + cpu.system,
      },
      numberOf(sent),
      count,
    );
  } finally {
    await close();
  }
}

type SendMode = 'one' | 'gso' | 'mmsg';

async function benchSend(
  engine: InProcessEngine,
  mode: SendMode,
  method: string,
  peer: Peer,
  size: number,
  seconds: number,
  signal: AbortSignal,
): Promise<BenchRow> {
  const port = numberOf((await peer.request({ cmd: 'sink', size })).port);
  let count = 0;
  let running = true;
  let loops: Array<Promise<void>>;
  let close: () => Promise<void>;
  if (engine === 'dgram') {
    const buf = Buffer.alloc(size);
    const s = dgram.createSocket('udp4');
    s.bind(0, HOST);
    await once(s, 'listening');
    const send = (): Promise<void> =>
      new Promise<void>((resolve, reject) =>
        s.send(buf, port, HOST, (err) => (err ? reject(err) : resolve())),
      );
    loops = inFlightLoops(
      send,
      () => running,
      () => count++,
    );
    close = () => new Promise((resolve) => s.close(() => resolve()));
  } else if (engine === 'node') {
    const buf = Buffer.alloc(size);
    const s = await UdpSocket.open({ type: 'udp4', address: HOST, engine: 'node' });
    loops = inFlightLoops(
      () => s.send(buf, port, HOST),
      () => running,
      () => count++,
    );
    close = () => s.close();
  } else {
    const s = await UdpSocket.open({ type: 'udp4', address: HOST, engine: 'batch' });
    close = () => s.close();
    if (mode === 'gso' && !s.capabilities.gso) method += ' (kernel has no GSO: sendmmsg)';
    const n = Math.max(1, Math.min(BATCH_DATAGRAMS, Math.floor((4 << 20) / size)));
    const buffer = new Uint8Array(size * n);
    // GSO: one train cut by segmentSize. sendmmsg: views of the same buffer, one message each.
    const views = Array.from({ length: n }, (_, i) => buffer.subarray(i * size, (i + 1) * size));
    const train = { buffer, segmentSize: size, address: HOST, port };
    const sendOnce = (): Promise<{ sent: number }> =>
      mode === 'gso' ? s.sendBatch(train) : s.sendBatch(views, port, HOST);
    loops = [
      (async () => {
        while (running) {
          const r = await sendOnce();
          count += r.sent;
          // A batch the kernel took at once settles in a microtask: let timers run.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })(),
    ];
  }
  let m: Measured;
  try {
    const c0 = count;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    while (performance.now() < deadline && !signal.aborted)
      await sleep(Math.min(50, deadline - performance.now()));
    const cpu = process.cpuUsage(cpu0);
    const n = count - c0;
    m = {
      datagrams: n,
      bytes: n * size,
      seconds: (performance.now() - t0) / 1000,
      cpuMicros: cpu.user + cpu.system,
    };
  } finally {
    running = false;
    await Promise.allSettled(loops);
    await close();
  }
  // Every loop ends without an error, or the row fails with the first one.
  for (const r of await Promise.allSettled(loops)) if (r.status === 'rejected') throw r.reason;
  const { received } = await peer.request({ cmd: 'report' });
  return row(engine, 'send', method, m, count, numberOf(received));
}

/** `IN_FLIGHT` loops of `send()`, each yielding to the event loop every 64 sends. */
function inFlightLoops(
  send: () => Promise<unknown>,
  running: () => boolean,
  sent: () => void,
): Array<Promise<void>> {
  return Array.from({ length: IN_FLIGHT }, async () => {
    for (let i = 1; running(); i++) {
      await send();
      sent();
      // A send that completes at once settles in a microtask: let timers run now and then.
      if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  });
}
