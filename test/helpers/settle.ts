/**
 * Bounded waits for tests: a promise that is still pending after its time is a failure that names
 * what hung, never a stuck test run.
 */

/** `p`, or a rejection naming `what` when it is still pending after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rejection reason of `p` (or its value), so a pending promise is never left unhandled. */
export function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}
