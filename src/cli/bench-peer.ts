/**
 * The peer process of `mediasock bench`: this module again in a child process, driven by JSON
 * lines on stdin and answering on stdout. It feeds the receive rows (sending as fast as it can:
 * the batch engine with UDP GSO when the addon is loaded, else raw `node:dgram`) and is the
 * receiver the send rows send to (the batch engine when available, else `node:dgram`), so the
 * bench process measures only its own CPU and loss is exact: sent by one side, counted by the
 * other.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

import { NotSupportedError, UdpSocket, nativeStatus } from '../index.js';
import { endsWithThisProcess } from './child-processes.js';
import { ChildRecords } from './child-records.js';
import type { ChildRecord } from './child-records.js';

/** The address every socket of the bench binds and sends to. */
export const HOST = '127.0.0.1';
/** Datagrams per `sendBatch` call (fewer for large datagrams: at most 4 MiB per call). */
export const BATCH_DATAGRAMS = 1024;

/** What a `'batch'` event carries, as far as the bench reads it. */
export interface BatchView {
  readonly count: number;
  length(i: number): number;
}

type Reply = ChildRecord;

export /** Why the batch engine cannot run here, or `undefined` when it can. */
async function batchUnavailable(): Promise<string | undefined> {
  const status = nativeStatus();
  if (!status.loaded)
    return `n/a: ${status.loadError?.message ?? 'the native addon is not loaded'}`;
  try {
    const s = await UdpSocket.open({ type: 'udp4', address: HOST, engine: 'batch' });
    await s.close();
    return undefined;
  } catch (err) {
    if (err instanceof NotSupportedError) return `n/a: ${err.message}`;
    throw err;
  }
}

export function numberOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`bench: the peer process answered ${JSON.stringify(v)} for a number`);
  return v;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export class Peer {
  readonly #child: ChildProcess;
  readonly #replies: ChildRecords;
  #chain: Promise<unknown> = Promise.resolve();
  feeder = '';
  sink = '';

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#replies = new ChildRecords(child);
  }

  static async start(): Promise<Peer> {
    // The same loader flags (`--import tsx` when run from source), minus debugger and test flags.
    const flags = process.execArgv.filter((a) => !/^--(inspect|test|eval|print)/.test(a));
    const code = `const m = await import(${JSON.stringify(import.meta.url)}); await m.runBenchPeer();`;
    const child = endsWithThisProcess(
      spawn(process.execPath, [...flags, '--input-type=module', '-e', code], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    child.stdin?.on('error', () => undefined);
    const peer = new Peer(child);
    const hello = await peer.#next();
    peer.feeder = String(hello.feeder);
    peer.sink = String(hello.sink);
    return peer;
  }

  /** Sends one command; resolves with its reply (commands are answered in order). */
  request(command: Reply): Promise<Reply> {
    const p = this.#chain.then(() => {
      this.#child.stdin?.write(`${JSON.stringify(command)}\n`);
      return this.#next();
    });
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /** The next reply; a peer silent for `timeoutMs` is killed and the bench fails, never hangs. */
  async #next(timeoutMs = 60_000): Promise<Reply> {
    const r = await this.#replies.find(() => true, timeoutMs, true);
    if (r !== undefined) {
      if (typeof r.error === 'string') throw new Error(`bench peer: ${r.error}`);
      return r;
    }
    if (this.#replies.exited)
      throw new Error(
        `bench: the peer process exited (code ${String(this.#child.exitCode)}) before answering`,
      );
    this.#child.kill('SIGKILL');
    throw new Error(`bench: the peer process did not answer within ${timeoutMs / 1000} s`);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The peer's side, run in the child process: a feeder (`feed`: send to a port as fast as it can
 * for some seconds, answer how many went) and a sink (`sink`: open a counting receiver, answer its
 * port; `report`: wait until nothing arrives for 30 ms, close it, answer how many arrived).
 *
 * @internal
 */
export async function runBenchPeer(): Promise<void> {
  const out = (r: Reply): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  // Ctrl-C reaches the whole process group: the parent stops the run and then closes our stdin.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  const batch = (await batchUnavailable()) === undefined;
  out({
    ready: true,
    feeder: batch ? 'batch-engine UDP GSO' : 'node:dgram',
    sink: batch ? 'batch-engine' : 'node:dgram',
  });
  let sink: Awaited<ReturnType<typeof openSink>> | undefined;
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const c = JSON.parse(line) as Reply;
      if (c.cmd === 'feed') {
        out(await feed(batch, numberOf(c.port), numberOf(c.size), numberOf(c.seconds)));
      } else if (c.cmd === 'sink') {
        await sink?.close();
        sink = await openSink(batch, numberOf(c.size));
        out({ port: sink.port });
      } else if (c.cmd === 'report') {
        if (sink === undefined) throw new Error('report without a sink');
        let seen = -1;
        for (let i = 0; i < 500 && sink.count() !== seen; i++) {
          seen = sink.count();
          await sleep(30);
        }
        const received = sink.count();
        await sink.close();
        sink = undefined;
        out({ received });
      } else {
        throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
      }
    } catch (err) {
      out({ error: err instanceof Error ? err.message : String(err) });
    }
  }
  await sink?.close();
}

async function openSink(
  batch: boolean,
  size: number,
): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let count = 0;
  if (batch) {
    const s = await UdpSocket.open({
      type: 'udp4',
      address: HOST,
      engine: 'batch',
      recvBufferBytes: 1 << 22,
      batch: { slotBytes: size },
    });
    s.on('batch', (b: BatchView) => (count += b.count));
    return { port: s.address().port, count: () => count, close: () => s.close() };
  }
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
  s.bind(0, HOST);
  await once(s, 'listening');
  s.on('message', () => count++);
  return {
    port: s.address().port,
    count: () => count,
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}

/** Sends for `seconds` as fast as it can; answers how many went and the window's length. */
async function feed(
  batch: boolean,
  port: number,
  size: number,
  seconds: number,
): Promise<{ sent: number; seconds: number }> {
  let sent = 0;
  let from: number;
  if (batch) {
    const s = await UdpSocket.open({ type: 'udp4', address: HOST, engine: 'batch' });
    // The window starts once the socket is ready, so a slow open cannot eat it.
    from = performance.now();
    const until = from + seconds * 1000;
    try {
      const n = Math.max(1, Math.min(BATCH_DATAGRAMS, Math.floor((4 << 20) / size)));
      const train = { buffer: new Uint8Array(size * n), segmentSize: size, address: HOST, port };
      while (performance.now() < until) {
        sent += (await s.sendBatch(train)).sent;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      await s.close();
    }
    return { sent, seconds: (performance.now() - from) / 1000 };
  }
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  from = performance.now();
  const until = from + seconds * 1000;
  const buf = Buffer.alloc(size);
  await new Promise<void>((resolve, reject) => {
    let inflight = 0;
    let failed = false;
    const pump = (): void => {
      // Nothing in flight and the window over (even before the first send): done.
      if (inflight === 0 && performance.now() >= until) {
        resolve();
        return;
      }
      while (inflight < 64 && !failed && performance.now() < until) {
        inflight++;
        s.send(buf, port, HOST, (err) => {
          inflight--;
          if (err && !failed) {
            failed = true;
            reject(err);
            return;
          }
          if (!err) sent++;
          if (inflight === 0 && performance.now() >= until) resolve();
          else setImmediate(pump);
        });
      }
    };
    pump();
  });
  const window = (performance.now() - from) / 1000;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return { sent, seconds: window };
}
