/**
 * One output of `mediasock relay`: forwards each batch view to its sender and counts packets,
 * bytes, errors and drops. The fast path is synchronous (`UdpSocket.trySendBatch`): when nothing of
 * this output is pending, the kernel takes the batch at once and nothing is allocated, no promise,
 * no closure; a datagram the kernel refuses (`EMSGSIZE` …) is counted as an error and the ones after
 * it still go. What it does not take (a full send queue, or every datagram on the node engine, which
 * has no synchronous send) goes with `sendBatch`, at most `maxInFlight` datagrams pending per
 * output; past that the rest of the batch is dropped and counted. The slow path's callbacks are
 * objects of a small pool, their methods bound once, so even it allocates only the send's promises.
 *
 * @module
 */
import type { DatagramBatchView, MediaSender } from '../index.js';
import type { BatchSendResult } from '../index.js';
import { LaterDatagrams, StrippedPayloads, WrappedPayloads } from './relay-payloads.js';

/** How a relay output rewrites what it forwards. */
export type RelayMode = 'as-is' | 'strip' | 'wrap';

/** One relay output and its counters. */
export class RelayOutput {
  readonly sender: MediaSender;
  readonly mode: RelayMode;
  /** Datagrams sent. */
  packets = 0;
  /** Payload bytes sent. */
  bytes = 0;
  /** Datagrams the kernel refused (or that a closed socket did not send). */
  errors = 0;
  /** Datagrams not sent because `maxInFlight` datagrams were pending on this output. */
  dropped = 0;
  /** Datagrams in asynchronous sends not yet completed (at most `maxInFlight`). */
  pending = 0;
  lastError: string | undefined;
  readonly stripped = new StrippedPayloads();
  readonly wrapped: WrappedPayloads;
  readonly #maxInFlight: number;
  readonly #later = new LaterDatagrams();
  readonly #idle: PendingSend[] = [];

  constructor(sender: MediaSender, mode: RelayMode, maxInFlight: number, wrap: WrappedPayloads) {
    this.sender = sender;
    this.mode = mode;
    this.#maxInFlight = maxInFlight;
    this.wrapped = wrap;
  }

  /** Whether a buffer this output sent from may be written again: no send of it is pending. */
  get idle(): boolean {
    return this.pending === 0;
  }

  /**
   * Sends `view` (valid only during this call): at once what the kernel takes, skipping (and
   * counting) each datagram it refuses; what a full send queue does not take, later.
   */
  forward(view: DatagramBatchView): void {
    const n = view.count;
    if (n === 0) return;
    let first = 0;
    if (this.pending === 0) {
      // Bounded: each round sends at least one datagram, skips a refused one, or ends the loop.
      while (first < n) {
        const rest = first === 0 ? view : this.#later.load(view, first);
        let k: number;
        try {
          k = this.#trySend(rest);
        } catch (err) {
          // Datagram `first` was refused: by this call, or by the call before, which stopped
          // there after sending the datagrams before it (the socket keeps that error for the
          // next call). Counted, and the rest goes on.
          this.errors++;
          this.lastError = message(err);
          first++;
          continue;
        }
        if (k === 0) break; // the send queue is full: the rest waits below
        this.packets += k;
        for (let i = 0; i < k; i++) this.bytes += rest.length(i);
        first += k;
      }
      if (first === n) return;
    }
    const rest = first === 0 ? view : this.#later.load(view, first);
    const left = rest.count;
    if (this.pending + left > this.#maxInFlight) {
      this.dropped += left;
      return;
    }
    this.pending += left;
    const job = this.#idle.pop() ?? new PendingSend(this);
    job.datagrams = left;
    const sender = this.sender;
    const sent = sender.connected
      ? sender.socket.sendBatch(rest)
      : sender.socket.sendBatch(rest, sender.port, sender.address);
    sent.then(job.onSent, job.onFailed);
  }

  #trySend(view: DatagramBatchView): number {
    const sender = this.sender;
    return sender.connected
      ? sender.socket.trySendBatch(view)
      : sender.socket.trySendBatch(view, sender.port, sender.address);
  }

  /** Counts a completed slow-path send and returns its callbacks to the pool. */
  settle(job: PendingSend, result: BatchSendResult | undefined, err: unknown): void {
    const n = job.datagrams;
    this.pending -= n;
    if (result !== undefined) {
      this.packets += result.sent;
      this.bytes += result.bytes;
      if (result.error !== undefined) {
        this.errors += n - result.sent;
        this.lastError = result.error.message;
      }
    } else {
      this.errors += n;
      this.lastError = message(err);
    }
    this.#idle.push(job);
  }
}

/** The callbacks of one pending `sendBatch`, bound once and reused. */
class PendingSend {
  datagrams = 0;
  readonly onSent: (result: BatchSendResult) => void;
  readonly onFailed: (err: unknown) => void;

  constructor(output: RelayOutput) {
    this.onSent = (result) => output.settle(this, result, undefined);
    this.onFailed = (err) => output.settle(this, undefined, err);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
