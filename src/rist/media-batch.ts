/**
 * Media of a RIST receiver as batches: a view over the socket's receive memory with the verdict of
 * address learning per datagram, so a receiver reads without a copy or an allocation per datagram
 * (the Go transport's read path does the same with its buffers).
 *
 * @module
 */
import { unmapIPv4 } from '../address.js';
import type { DatagramBatch } from '../udp/batch-engine.js';
import type { AddressLearner } from './address-learning.js';

/**
 * One batch of media datagrams. Valid until the next step of the loop that yielded it: copy what
 * you keep (`Buffer.from(batch.payload(i))`). Datagrams address learning rejected stay in the batch
 * with `accepted(i) === false` (and are counted in `stats.mediaRejected`); skip them.
 */
export class RistMediaBatch {
  #batch: DatagramBatch | undefined;
  #verdicts = new Uint8Array(64);
  #accepted = 0;

  /** Datagrams in the batch, accepted or not. */
  get count(): number {
    return this.#batch?.count ?? 0;
  }

  /** Datagrams address learning accepted. */
  get acceptedCount(): number {
    return this.#accepted;
  }

  /** The memory the payloads live in; see {@link offset} and {@link length}. */
  get data(): Uint8Array {
    return this.#batch?.data ?? new Uint8Array(0);
  }

  /** Whether datagram `i` came from the learned source. */
  accepted(i: number): boolean {
    this.#check(i);
    return this.#verdicts[i] === 1;
  }

  /** Byte offset of datagram `i` in {@link data}. */
  offset(i: number): number {
    return this.#batch!.offset(this.#check(i));
  }

  /** Payload bytes of datagram `i`. */
  length(i: number): number {
    return this.#batch!.length(this.#check(i));
  }

  /** A view of datagram `i`'s payload (one small object). */
  payload(i: number): Uint8Array {
    return this.#batch!.payload(this.#check(i));
  }

  /** Source port of datagram `i`. */
  port(i: number): number {
    return this.#batch!.port(this.#check(i));
  }

  /** Source address of datagram `i`; IPv4-mapped sources as IPv4. */
  address(i: number): string {
    return unmapIPv4(this.#batch!.address(this.#check(i)));
  }

  /**
   * Points the view at `batch` and runs address learning over it at `nowMs` (with no learner every
   * datagram is accepted). @returns the datagrams accepted.
   * @internal
   */
  load(batch: DatagramBatch, learner: AddressLearner | undefined, nowMs: number): number {
    const count = batch.count;
    if (this.#verdicts.length < count) this.#verdicts = new Uint8Array(count * 2);
    let accepted = 0;
    for (let i = 0; i < count; i++) {
      const ok =
        learner === undefined ||
        learner.learnMediaSource(batch.address(i), batch.port(i), nowMs) !== 'rejected';
      this.#verdicts[i] = ok ? 1 : 0;
      if (ok) accepted++;
    }
    this.#batch = batch;
    this.#accepted = accepted;
    return accepted;
  }

  #check(i: number): number {
    if (!(i >= 0 && i < this.count && Number.isInteger(i)))
      throw new RangeError(
        `datagram index ${i} is outside 0..${this.count - 1} (a batch is valid until the next step of its loop)`,
      );
    return i;
  }
}
