/**
 * A bounded queue of received items with abortable waiting readers: what `UdpSocket.receive()`
 * and its async iteration read from. An item goes to the oldest waiting reader, else into the
 * queue; past the bound the oldest queued item is dropped and counted. Ending the queue wakes every
 * waiting reader with "ended" (`undefined`), so a `for await` loop can end normally.
 *
 * What it does not do: flow control. Its owner watches {@link ReaderQueue.waiting} and
 * {@link ReaderQueue.length} to decide whether to read more from the kernel.
 *
 * @module
 * @internal
 */
import { addAbortListener } from 'node:events';

import { AbortError } from '../errors.js';

interface Waiter<T> {
  resolve(item: T | undefined): void;
  reject(err: unknown): void;
  dispose: Disposable | undefined;
}

/** A bounded FIFO with waiting readers. */
export class ReaderQueue<T> {
  readonly #limit: number;
  #items: T[] = [];
  #head = 0;
  readonly #waiters = new Set<Waiter<T>>();
  #ended = false;
  /** Items dropped because the queue was full. */
  drops = 0;

  /** @param limit the most items kept while nobody reads (>= 1). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Readers waiting for an item. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether {@link end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Hands `item` to the oldest waiting reader, or queues it (dropping the oldest past the bound). */
  push(item: T): void {
    if (this.#ended) return;
    for (const waiter of this.#waiters) {
      this.#settle(waiter);
      waiter.resolve(item);
      return;
    }
    if (this.length >= this.#limit) {
      this.#items[this.#head] = undefined as T;
      this.#head++;
      this.drops++;
    }
    this.#items.push(item);
  }

  /**
   * The next item: at once when one is queued, else when one is pushed; `undefined` once the queue
   * has ended.
   *
   * @throws AbortError (rejects) when `signal` aborts first; `operation` names the caller.
   */
  next(signal: AbortSignal | undefined, operation: string): Promise<T | undefined> {
    if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
    if (this.length > 0) return Promise.resolve(this.#shift());
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, dispose: undefined };
      if (signal) {
        waiter.dispose = addAbortListener(signal, () => {
          this.#settle(waiter);
          reject(new AbortError(operation, signal.reason));
        });
      }
      this.#waiters.add(waiter);
    });
  }

  /**
   * Ends the queue: nothing more is queued, every waiting reader resolves with `undefined`, and the
   * items queued are discarded, or with `keepQueued` still handed out before the end.
   */
  end(keepQueued = false): void {
    this.#ended = true;
    if (!keepQueued) {
      this.#items = [];
      this.#head = 0;
    }
    for (const waiter of [...this.#waiters]) {
      this.#settle(waiter);
      waiter.resolve(undefined);
    }
  }

  #shift(): T {
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    // Compact once the consumed prefix dominates, so the array does not grow without bound.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    } else if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    }
    return item;
  }

  #settle(waiter: Waiter<T>): void {
    this.#waiters.delete(waiter);
    waiter.dispose?.[Symbol.dispose]();
  }
}
