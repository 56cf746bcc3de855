/**
 * Smooth pacing of a packet rate: the pacer wakes every few milliseconds and lets out the packets
 * due by then, so a rate is spread evenly over each second rather than sent in bursts. When the
 * sender falls behind (a stalled event loop, a slow pipe on stdin) it lets out at most
 * `maxBurstMs` worth of packets and moves its schedule forward instead of catching up in one burst.
 *
 * What it does not do: hardware or kernel pacing (`SO_TXTIME`, `SO_MAX_PACING_RATE`), or a rate
 * taken from the stream itself (PCR-based playout is `TsPlayout` with `PlayoutSender`).
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidArgumentError } from '../errors.js';

/** Options of {@link Pacer}. */
export interface PacerOptions {
  /** Packets per second; > 0. */
  packetsPerSecond: number;
  /** How often the pacer wakes, in ms. Default 2. */
  tickMs?: number;
  /** The most the pacer lets out at once after falling behind, in ms of the rate. Default 20. */
  maxBurstMs?: number;
}

/**
 * Hands out send permits at a steady packet rate.
 *
 * @example
 * ```ts
 * const pacer = new Pacer({ packetsPerSecond: 1000 });
 * for (;;) {
 *   let n = await pacer.next(signal);
 *   while (n-- > 0) await socket.send(nextPayload(), port, address);
 * }
 * ```
 */
export class Pacer {
  readonly #pps: number;
  readonly #tickMs: number;
  readonly #maxBurst: number;
  #start = performance.now();
  #granted = 0;

  /** @throws InvalidArgumentError when a rate or time is not a positive finite number. */
  constructor(options: PacerOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError(
        'options',
        options,
        'must be an object { packetsPerSecond, … }',
      );
    for (const [name, value] of [
      ['packetsPerSecond', options.packetsPerSecond],
      ['tickMs', options.tickMs ?? 2],
      ['maxBurstMs', options.maxBurstMs ?? 20],
    ] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new InvalidArgumentError(name, value, 'must be a positive finite number');
      }
    }
    this.#pps = options.packetsPerSecond;
    this.#tickMs = options.tickMs ?? 2;
    this.#maxBurst = Math.max(1, Math.ceil(((options.maxBurstMs ?? 20) * this.#pps) / 1000));
  }

  /**
   * Waits until at least one packet is due and returns how many may be sent now (≥ 1).
   *
   * @throws the signal's reason (an `AbortError`) when `signal` aborts while waiting.
   */
  async next(signal?: AbortSignal): Promise<number> {
    for (;;) {
      const due = Math.floor(((performance.now() - this.#start) * this.#pps) / 1000) + 1;
      let n = due - this.#granted;
      if (n > this.#maxBurst) {
        // Behind schedule: shift the schedule instead of bursting to catch up.
        this.#granted = due - this.#maxBurst;
        n = this.#maxBurst;
      }
      if (n > 0) {
        this.#granted += n;
        return n;
      }
      const waitMs = Math.max(this.#tickMs, ((1 - n) * 1000) / this.#pps - 1);
      await sleep(Math.min(waitMs, 100), undefined, { signal });
    }
  }
}
