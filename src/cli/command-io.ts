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
