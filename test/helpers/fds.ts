/**
 * File-descriptor accounting for leak checks: counts the entries of `/proc/self/fd`.
 *
 * Node opens and closes a few fds of its own (timers, the inspector, stdio), so a check compares
 * against a baseline taken in the same test after warming up, and waits briefly for `close` to
 * settle, in a loop bounded in count and time.
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Number of open file descriptors of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Waits until the fd count is at most `baseline + slack`, polling every 10 ms for at most
 * `timeoutMs`; returns the last count seen (the caller asserts on it).
 */
export async function settleFdCount(
  baseline: number,
  slack = 0,
  timeoutMs = 2000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = openFdCount();
  for (let i = 0; i < 1000 && count > baseline + slack && Date.now() < deadline; i++) {
    await sleep(10);
    count = openFdCount();
  }
  return count;
}

/**
 * Asserts that no file descriptor leaked: after settling, the count is at most `baseline`. (It may
 * be lower: Node itself closes fds it opened lazily before the baseline was taken, as Node 24's
 * test runner does.)
 */
export async function assertFdsBackToBaseline(
  baseline: number,
  message = 'fd count back to baseline',
): Promise<void> {
  const count = await settleFdCount(baseline);
  if (count > baseline) throw new Error(`${message}: ${count} fds open, baseline ${baseline}`);
}
