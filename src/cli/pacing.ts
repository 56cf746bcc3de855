/**
 * Smooth pacing of a packet rate: the pacer wakes every few milliseconds and lets out the packets
 * due by then, so a rate is spread evenly over each second rather than sent in bursts. When the
 * sender falls behind (a stalled event loop, a slow pipe on stdin) it lets out at most
 * `maxBurstMs` worth of packets and moves its schedule forward instead of catching up in one burst.
 *
 * What it does not do: hardware or kernel pacing (`SO_TXTIME`, `SO_MAX_PACING_RATE`).
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link Pacer}. */
export interface PacerOptions {
  /** Packets per second; > 0. */
  packetsPerSecond: number;
  /** How often the pacer wakes, in ms. Default 2. */
  tickMs?: number;
  /** The most the pacer lets out at once after falling behind, in ms of the rate. Default 20. */
  maxBurstMs?: number;
}

/** Hands out send permits at a steady packet rate. */
export class Pacer {
  readonly #pps: number;
  readonly #tickMs: number;
  readonly #maxBurst: number;
  #start = performance.now();
  #granted = 0;

  constructor(options: PacerOptions) {
    this.#pps = options.packetsPerSecond;
    this.#tickMs = options.tickMs ?? 2;
    this.#maxBurst = Math.max(1, Math.ceil(((options.maxBurstMs ?? 20) * this.#pps) / 1000));
  }

  /** Waits until at least one packet is due and returns how many may be sent now (≥ 1). */
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
