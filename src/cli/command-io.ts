/**
 * What a command gets from `main`: its output streams and the signal that SIGINT/SIGTERM abort.
 * Commands return their exit code (0 ok, 1 runtime failure); usage errors are thrown.
 *
 * @module
 */
import type { DisplayStream } from './live-display.js';

/** The process around a command. */
export interface CommandIo {
  stdout: DisplayStream;
  stderr: DisplayStream;
  stdin: NodeJS.ReadableStream;
  /** Aborted by SIGINT or SIGTERM: the command stops cleanly and prints its summary. */
  signal: AbortSignal;
}

/** Exit codes of every command. */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
} as const;

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The longest delay `setTimeout` takes (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once after `ms` milliseconds, for any finite delay: delays beyond what `setTimeout`
 * takes are waited out in steps against a monotonic deadline. Returns a function that cancels.
 */
export function setLongTimeout(fn: () => void, ms: number): () => void {
  const deadline = performance.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = deadline - performance.now();
    if (left <= 0) {
      timer = undefined;
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(Math.ceil(left), MAX_TIMER_MS));
  };
  timer = setTimeout(arm, Math.min(Math.max(0, Math.ceil(ms)), MAX_TIMER_MS));
  return () => clearTimeout(timer);
}
