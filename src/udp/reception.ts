/**
 * Reception: how datagrams the engine read reach their consumers, and when the engine reads at all.
 *
 * Consumers are `'batch'` listeners and `batches()` loops (the batch itself, no copy), `'message'`
 * listeners (a copy per datagram), and readers, `receive()` and `datagrams()`, through a bounded
 * {@link ReaderQueue}. The engine reads from the kernel exactly while something consumes: a
 * listener, a waiting `batches()` loop, or readers with nothing queued for them; and never while a
 * `batches()` loop holds a batch. What one read brings beyond what a reader takes waits in the
 * queue, and reading stops until the queue is taken. So a socket nobody has read yet keeps its
 * datagrams in the kernel, as any socket does, and one that is read holds at most one read ahead.
 *
 * @module
 * @internal
 */
import type * as dgram from 'node:dgram';
import { addAbortListener } from 'node:events';

import { AbortError } from '../errors.js';
import { ReaderQueue } from '../internal/reader-queue.js';
import { SharedBatch } from './batch-engine.js';
import type { DatagramBatch } from './batch-engine.js';
import { DgramBatch } from './dgram-engine.js';
import type { DatagramEngine } from './engine.js';
import type { Datagram } from './socket-options.js';

/** What reception needs from the socket it serves. */
export interface ReceptionHost {
  emitMessage(data: Buffer, rinfo: dgram.RemoteInfo): void;
  emitBatch(batch: DatagramBatch): void;
}

/** The receive side of one socket. */
export class Reception {
  readonly #engine: DatagramEngine;
  readonly #host: ReceptionHost;
  readonly #queue: ReaderQueue<Datagram>;
  #ended = false;
  /** Whether the engine reads from the kernel now. */
  #reading = false;
  /** Batches held by `batches()` loops: reading stays off while any is held. */
  #holds = 0;
  /** `batches()` loops waiting for a batch. */
  #batchWaiters = 0;
  /** Live datagram iterations: while any runs, every datagram is queued for it. */
  #datagramIterations = 0;
  readonly #batchLoops = new Set<(batch: DatagramBatch | undefined) => void>();
  /**
   * Whether anyone has read with `receive()` or `datagrams()`: from then on reading goes on while the
   * queue is empty, so a reader that comes straight back finds the next datagram without a restart
   * of reading (a queue that holds something stops it).
   */
  #readers = false;
  /** `'message'` and `'batch'` listeners of the socket (kept by {@link listeners}). */
  #messageListeners = 0;
  #batchListeners = 0;
  /** Datagrams read from the kernel, and their payload bytes. */
  packets = 0;
  bytes = 0;

  constructor(engine: DatagramEngine, host: ReceptionHost, queueLimit: number) {
    this.#engine = engine;
    this.#host = host;
    this.#queue = new ReaderQueue<Datagram>(queueLimit);
  }

  /** Datagrams dropped because the reader queue was full. */
  get drops(): number {
    return this.#queue.drops;
  }

  /** The next datagram for a reader; `undefined` once reception has ended. */
  next(signal: AbortSignal | undefined, operation: string): Promise<Datagram | undefined> {
    this.#readers = true;
    const next = this.#queue.next(signal, operation);
    this.update();
    return next;
  }

  /** Datagrams until reception ends; see `UdpSocket.datagrams`. */
  async *datagrams(signal: AbortSignal | undefined): AsyncGenerator<Datagram, void, undefined> {
    this.#datagramIterations++;
    try {
      for (;;) {
        if (this.#ended) return;
        const datagram = await this.next(signal, 'UdpSocket.datagrams');
        if (datagram === undefined) return;
        yield datagram;
      }
    } finally {
      this.#datagramIterations--;
    }
  }

  /** Batches until reception ends; see `UdpSocket.batches`. */
  async *batches(signal: AbortSignal | undefined): AsyncGenerator<DatagramBatch, void, undefined> {
    let ready: DatagramBatch | undefined;
    let wake: (() => void) | undefined;
    const loop = (batch: DatagramBatch | undefined): void => {
      if (batch !== undefined && ready === undefined) {
        ready = batch;
        this.#holds++;
      }
      wake?.();
    };
    this.#batchLoops.add(loop);
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortError('UdpSocket.batches', signal.reason);
        if (this.#ended) return;
        if (ready !== undefined) {
          yield ready;
          ready = undefined;
          this.#holds--;
          continue;
        }
        this.#batchWaiters++;
        this.update();
        const aborted = signal ? addAbortListener(signal, () => wake?.()) : undefined;
        try {
          await new Promise<void>((resolve) => (wake = resolve));
        } finally {
          wake = undefined;
          aborted?.[Symbol.dispose]();
          this.#batchWaiters--;
        }
      }
    } finally {
      this.#batchLoops.delete(loop);
      if (ready !== undefined) this.#holds--;
      this.update();
    }
  }

  /** The socket's `'message'` and `'batch'` listener counts changed. */
  listeners(messages: number, batches: number): void {
    this.#messageListeners = messages;
    this.#batchListeners = batches;
    this.update();
  }

  /** Turns reading on or off to match consumption. */
  update(): void {
    if (this.#ended) return;
    const want =
      this.#holds === 0 &&
      (this.#messageListeners > 0 ||
        this.#batchListeners > 0 ||
        this.#queue.waiting > 0 ||
        this.#batchWaiters > 0 ||
        (this.#readers && this.#queue.length === 0));
    if (want === this.#reading) return;
    this.#reading = want;
    if (want) this.#engine.resume();
    else this.#engine.pause();
  }

  /** Hands one batch from the engine to every consumer. */
  deliver(batch: DatagramBatch): void {
    if (this.#ended) return;
    if (batch instanceof DgramBatch) {
      this.#deliverOne(batch);
      return;
    }
    const count = batch.count;
    this.packets += count;
    if (batch instanceof SharedBatch) {
      this.bytes += batch.totalBytes();
    } else {
      for (let i = 0; i < count; i++) this.bytes += batch.length(i);
    }
    const batchListeners = this.#batchListeners > 0;
    if (batchListeners) this.#host.emitBatch(batch);
    // Guarded: iterating a Set makes an iterator, and the optimizing tiers do not always elide it.
    if (this.#batchLoops.size > 0) for (const loop of this.#batchLoops) loop(batch);
    const messages = this.#messageListeners > 0;
    const queue = this.#queues(messages || batchListeners);
    if (messages || queue) this.#deliverEach(batch, messages, queue);
    this.update();
  }

  /** Readers get every datagram while they wait or iterate, and whatever no one else took. */
  #queues(othersConsume: boolean): boolean {
    // Without source addresses there are no readers (they are refused): nothing is kept.
    if (!this.#engine.sourceAddresses) return false;
    return (
      this.#queue.waiting > 0 ||
      this.#datagramIterations > 0 ||
      (!othersConsume && this.#batchLoops.size === 0)
    );
  }

  /** The node engine's datagram: its payload is a fresh Buffer, handed on without a copy. */
  #deliverOne(batch: DgramBatch): void {
    const data = batch.data as Buffer;
    this.packets++;
    this.bytes += data.length;
    if (this.#batchListeners > 0) this.#host.emitBatch(batch);
    if (this.#batchLoops.size > 0) for (const loop of this.#batchLoops) loop(batch);
    const messages = this.#messageListeners > 0;
    if (messages) this.#host.emitMessage(data, batch.rinfo);
    if (this.#queues(messages || this.#batchListeners > 0)) {
      if (this.#ended) return;
      const rinfo = batch.rinfo;
      const family = rinfo.family === 'IPv6' ? 6 : 4;
      this.#queue.push({ data, address: rinfo.address, port: rinfo.port, family });
      this.update();
    } else if (this.#batchLoops.size > 0) {
      this.update();
    }
  }

  /** Ends reception: readers get `undefined`, loops end, nothing more is delivered. */
  end(): void {
    this.#ended = true;
    this.#queue.end();
    for (const loop of this.#batchLoops) loop(undefined);
  }

  /** Marks reception as closing: nothing more is delivered, readers wait for {@link end}. */
  stop(): void {
    this.#ended = true;
  }

  #deliverEach(batch: DatagramBatch, messages: boolean, queue: boolean): void {
    // The batch engine's payloads live in shared memory: each is copied once.
    for (let i = 0; i < batch.count; i++) {
      // As with dgram: nothing is delivered once close() was called; a listener may call it.
      if (this.#ended) return;
      const data = Buffer.from(batch.payload(i));
      const family = batch.family(i);
      const address = batch.address(i);
      const port = batch.port(i);
      if (messages) {
        const rinfo: dgram.RemoteInfo = {
          address,
          family: family === 6 ? 'IPv6' : 'IPv4',
          port,
          size: data.length,
        };
        this.#host.emitMessage(data, rinfo);
      }
      if (queue) this.#queue.push(datagramOf(batch, i, data, address, port, family));
    }
  }
}

function datagramOf(
  batch: DatagramBatch,
  i: number,
  data: Buffer,
  address: string,
  port: number,
  family: 4 | 6,
): Datagram {
  const localAddress = batch.localAddress(i);
  const timestampNs = batch.timestampNs(i);
  return {
    data,
    address,
    port,
    family,
    ...(localAddress !== undefined ? { localAddress, ifindex: batch.ifindex(i) } : {}),
    ...(timestampNs !== undefined ? { timestampNs } : {}),
    ...(batch.truncated(i) ? { truncated: true } : {}),
  };
}
