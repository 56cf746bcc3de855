/**
 * The command-line rows of `mediasock bench`: `mediasock recv` and `mediasock relay` run as child
 * processes (this CLI again: `process.execPath`, the same loader flags, the CLI's own entry file),
 * fed by the bench's peer process, with the CPU time of the child (user + system) read from
 * `/proc/<pid>/stat` (Linux) before the feed and once the child is idle again. The child writes
 * JSON lines (its stdout is a pipe): its `start` record gives the port it bound, its summary (after
 * SIGINT) the datagrams it counted.
 *
 * What it does not do: subtract the child's idle CPU (one statistics line a second, next to
 * nothing), pin processes to cores, or run anywhere without `/proc`.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { endsWithThisProcess } from './child-processes.js';
import { ChildRecords } from './child-records.js';

/** The peer process as these rows use it: one JSON command, one JSON reply. */
export interface BenchPeer {
  request(command: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** What one command-line row measured. */
export interface CliMeasured {
  /** Datagrams the command received (recv: counted; relay: its input). */
  datagrams: number;
  bytes: number;
  /** The peer's feed window. */
  seconds: number;
  /** CPU time of the child from just before the feed until it was idle again. */
  cpuMicros: number;
  /** Datagrams the peer sent. */
  sent: number;
  /** Datagrams of those the command received (relay: its input). */
  received: number;
}

/** Receive buffer of the commands' sockets: as the in-process receive rows (4 MiB). */
const BUFFER_BYTES = 1 << 22;
const HOST = '127.0.0.1';
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Why the command-line rows cannot run here, or `undefined`. */
export function cliRowsUnavailable(): string | undefined {
  try {
    readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    return undefined;
  } catch {
    return 'n/a: the CPU time of a child process is read from /proc (Linux)';
  }
}

/** `mediasock recv udp://@127.0.0.1:0?buffer=… --json`, fed by the peer. */
export async function benchCliRecv(
  peer: BenchPeer,
  size: number,
  seconds: number,
  signal: AbortSignal,
): Promise<CliMeasured> {
  const child = await CliChild.start(['recv', `udp://@${HOST}:0?buffer=${BUFFER_BYTES}`, '--json']);
  try {
    const port = portOf(child.first.port);
    const m = await child.measure(peer, { cmd: 'feed', port, size, seconds }, signal);
    const summary = await child.stop();
    return {
      datagrams: countOf(summary.packets),
      bytes: countOf(summary.bytes),
      seconds: m.seconds,
      cpuMicros: m.cpuMicros,
      sent: m.sent,
      received: countOf(summary.packets),
    };
  } finally {
    child.kill();
  }
}

/** `mediasock relay udp://@127.0.0.1:0?buffer=… udp://127.0.0.1:SINK --json`, fed by the peer. */
export async function benchCliRelay(
  peer: BenchPeer,
  size: number,
  seconds: number,
  signal: AbortSignal,
): Promise<CliMeasured> {
  const sink = portOf((await peer.request({ cmd: 'sink', size })).port);
  const child = await CliChild.start([
    'relay',
    `udp://@${HOST}:0?buffer=${BUFFER_BYTES}`,
    `udp://${HOST}:${sink}`,
    '--json',
  ]);
  try {
    // The start record names the input with the port it bound: udp://127.0.0.1:PORT.
    const url = String((child.first.input as { url?: unknown } | undefined)?.url);
    const port = portOf(Number(/:(\d+)$/.exec(url)?.[1]));
    const m = await child.measure(peer, { cmd: 'feed', port, size, seconds }, signal);
    const summary = await child.stop();
    // The peer's receiver shares its process with the feeder, so what it counts says more
    // about the peer than the relay: only that the relay forwarded at all is checked.
    const { received: delivered } = await peer.request({ cmd: 'report' });
    const input = summary.input as { packets?: unknown; bytes?: unknown } | undefined;
    const packets = countOf(input?.packets);
    if (packets > 0 && countOf(delivered) === 0)
      throw new Error(`the relay received ${packets} datagrams and forwarded none`);
    return {
      datagrams: packets,
      bytes: countOf(input?.bytes),
      seconds: m.seconds,
      cpuMicros: m.cpuMicros,
      sent: m.sent,
      received: packets,
    };
  } finally {
    child.kill();
  }
}

function countOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new Error(`bench: a count of ${JSON.stringify(v)} from the command`);
  return v;
}

function portOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
    throw new Error(`bench: no port in the command's start record (${JSON.stringify(v)})`);
  return v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU time (user + system) of process `pid` so far, in microseconds. */
function cpuMicrosOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** The CLI's own entry file, next to this module (`main.ts` from source, `main.js` built). */
function cliEntry(): string {
  const self = import.meta.url;
  return fileURLToPath(new URL(self.endsWith('.ts') ? './main.ts' : './main.js', self));
}

/** One command-line child: its JSON records, bounded waits, killed on every path. */
class CliChild {
  readonly #child: ChildProcess;
  readonly #pid: number;
  readonly #records: ChildRecords;
  #stderr = '';
  /** The `start` record. */
  first: Record<string, unknown> = {};

  private constructor(child: ChildProcess, pid: number) {
    this.#child = child;
    this.#pid = pid;
    this.#records = new ChildRecords(child);
    child.stderr!.on('data', (d: Buffer) => {
      if (this.#stderr.length < 4096) this.#stderr += d.toString();
    });
  }

  static async start(args: string[]): Promise<CliChild> {
    // The same loader flags (`--import tsx` from source), minus debugger and test flags.
    const flags = process.execArgv.filter((a) => !/^--(inspect|test|eval|print)/.test(a));
    const child = endsWithThisProcess(
      spawn(process.execPath, [...flags, cliEntry(), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    if (child.pid === undefined) {
      const failed = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`bench: cannot start mediasock ${args[0]}: ${failed.message}`);
    }
    const c = new CliChild(child, child.pid);
    c.first = await c.#record('start', 30_000).catch((err: unknown) => {
      c.kill();
      throw err;
    });
    return c;
  }

  /**
   * Asks the peer to feed, and measures the child's CPU from just before the feed until a 100 ms
   * step costs at most one clock tick after the feed ended (its backlog done; at most 5 s).
   */
  async measure(
    peer: BenchPeer,
    feed: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ seconds: number; cpuMicros: number; sent: number }> {
    const c0 = cpuMicrosOf(this.#pid);
    const reply = await peer.request(feed);
    let c1 = cpuMicrosOf(this.#pid);
    for (let i = 0; i < 50 && !signal.aborted && !this.#records.exited; i++) {
      await sleep(100);
      const c = cpuMicrosOf(this.#pid);
      const step = c - c1;
      c1 = c;
      if (step <= 1e6 / CLOCK_TICKS_PER_SECOND) break;
    }
    const seconds = reply.seconds;
    if (typeof seconds !== 'number' || !(seconds > 0))
      throw new Error(`bench: the peer fed for ${JSON.stringify(seconds)} s`);
    return { seconds, cpuMicros: c1 - c0, sent: countOf(reply.sent) };
  }

  /** Ends the command with SIGINT and returns its summary (at most 20 s). */
  async stop(): Promise<Record<string, unknown>> {
    if (!this.#records.exited) this.#child.kill('SIGINT');
    return this.#record('summary', 20_000);
  }

  kill(): void {
    if (!this.#records.exited) this.#child.kill('SIGKILL');
  }

  /** The first record of `type`, waiting at most `ms`; fails if the child exits without it. */
  async #record(type: string, ms: number): Promise<Record<string, unknown>> {
    const r = await this.#records.find((x) => x.type === type, ms);
    if (r !== undefined) return r;
    const exited = this.#records.exited;
    const why = this.#stderr.trim().split('\n')[0] ?? '';
    throw new Error(
      `mediasock ${exited ? 'exited' : 'gave'} no "${type}" record${why ? `: ${why}` : ''}`,
    );
  }
}
