/**
 * A bounded poll for a condition, for the auto transport's "did any UDP arrive" check: a packet
 * count is a number, not an event stream the client could await without racing its own listeners.
 *
 * @module
 */
import { AbortError } from '../errors.js';

/**
 * Resolves `true` as soon as `condition()` holds (checked every 20 ms), `false` after `timeoutMs`.
 *
 * @throws AbortError when `signal` aborts.
 */
export function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    if (condition()) return resolve(true);
    const started = performance.now();
    const finish = (value: boolean | Error): void => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      if (value instanceof Error) reject(value);
      else resolve(value);
    };
    const onAbort = (): void => finish(new AbortError('waiting for data', signal?.reason));
    const timer = setInterval(() => {
      if (condition()) finish(true);
      else if (performance.now() - started >= timeoutMs) finish(false);
    }, 20);
    if (signal?.aborted === true) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
