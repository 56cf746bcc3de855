/**
 * FFmpeg's `timeout=` for the commands that receive (`recv`, `relay`): fires once when no datagram
 * came for `idleMs`. The receive path only sets a flag per batch ({@link IdleWatch.touch}); a timer
 * at a quarter of the timeout (10 ms to 1 s) looks at it, so the timeout fires between `idleMs`
 * and `idleMs` plus one check after the last datagram.
 *
 * @module
 */

/** What {@link watchIdle} returns. */
export interface IdleWatch {
  /** Call when a datagram (or batch) arrives. */
  touch(): void;
  /** Stops watching. */
  stop(): void;
  /** Whether the timeout fired. */
  readonly fired: boolean;
}

/** Calls `onIdle` once after `idleMs` without a {@link IdleWatch.touch}; nothing when `idleMs` is undefined. */
export function watchIdle(idleMs: number | undefined, onIdle: () => void): IdleWatch {
  let seen = false;
  let fired = false;
  let last = performance.now();
  const timer =
    idleMs === undefined
      ? undefined
      : setInterval(
          () => {
            const now = performance.now();
            if (seen) {
              seen = false;
              last = now;
              return;
            }
            if (now - last < idleMs) return;
            fired = true;
            clearInterval(timer);
            onIdle();
          },
          Math.min(1000, Math.max(10, idleMs / 4)),
        );
  return {
    touch: () => {
      seen = true;
    },
    stop: () => clearInterval(timer),
    get fired() {
      return fired;
    },
  };
}
