/**
 * The soak run's memory probe, preloaded into the processes under test
 * (`node --import tsx --import bench/soak-probe.ts src/cli/main.ts recv ...`) because the CLI's
 * `--json` statistics carry no memory figures and a JS heap cannot be read from outside.
 *
 * With `MEDIASOCK_SOAK_PROBE_FD=N` in the environment it listens on fd N (a socket pair the soak
 * harness passes as an extra stdio entry). For each line `sample` it reads it runs two full
 * garbage collections and answers one JSON line: the live JS heap after them (`heapUsed`), `heapTotal`,
 * `external`, `arrayBuffers`, the longer collection's duration, and whatever {@link reportAlso} adds.
 * RSS and fds are read from `/proc/<pid>` by the harness, from outside.
 *
 * The handle is unref'd: the probe never keeps a process alive, and the CLI's own stdout and exit
 * codes are untouched. The full collections (a few ms each on these heaps, once per sample) are
 * what make `heapUsed` and `external` the memory held rather than a point on the garbage sawtooth.
 *
 * @module
 */
import { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let extra: (() => Record<string, unknown>) | undefined;

/** Adds `fn()`'s fields to every probe answer (used by the DTLS child for its counters). */
export function reportAlso(fn: () => Record<string, unknown>): void {
  extra = fn;
}

let gcFn: (() => void) | undefined;

/** A full, synchronous garbage collection (exposed at run time; no command-line flag needed). */
export function fullGc(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/**
 * Live heap figures after two full collections, in bytes, and how long the collections took.
 *
 * Two collections 20 ms apart: V8 frees the backing stores of collected Buffers in a background
 * task after a collection returns, so right after one `gc()` `external` / `arrayBuffers` still
 * count up to ~12 MB of dead Buffers on a receiver that makes one per datagram. After the second
 * collection they are stable within ~0.5 MB.
 */
export async function memorySample(): Promise<Record<string, number>> {
  const t0 = performance.now();
  fullGc();
  const gcMs = performance.now() - t0;
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  const t1 = performance.now();
  fullGc();
  const gc2Ms = performance.now() - t1;
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    gcMs: Math.round(Math.max(gcMs, gc2Ms) * 100) / 100,
  };
}

function start(fd: number): void {
  const channel = new Socket({ fd, readable: true, writable: true });
  channel.unref();
  channel.setEncoding('utf8');
  let buffered = '';
  channel.on('data', (chunk: string) => {
    buffered += chunk;
    // Bounded: at most one answer per complete line received.
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line !== 'sample') continue;
      void memorySample().then((m) =>
        channel.write(`${JSON.stringify({ ...m, ...(extra?.() ?? {}) })}\n`),
      );
    }
  });
  // The harness went away: nothing left to answer. The process under test carries on.
  channel.on('error', (err: Error) => {
    process.emitWarning(`soak probe: fd ${fd}: ${err.message}`);
    channel.destroy();
  });
}

const probeFd = process.env.MEDIASOCK_SOAK_PROBE_FD;
if (probeFd !== undefined && probeFd !== '') start(Number(probeFd));
