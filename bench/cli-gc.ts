/**
 * Preloaded by `npm run bench` into the `mediasock recv` / `relay` processes it measures
 * (`node --import tsx --import bench/cli-gc.ts src/cli/main.ts ...`): counts garbage collections
 * without touching the CLI. At exit it writes one line on **stderr**,
 * `{"type":"bench-gc","gc_epoch_ms":[...],"scavenge_epoch_ms":[...]}`, the start of every
 * collection, and of every scavenge (young-generation collection) among them, in milliseconds
 * since the epoch, so the harness counts those within its own measuring window (start-up and the
 * idle second are left out). Garbage made per datagram shows as scavenges; the other collections
 * are full ones V8 schedules by itself (its memory reducer runs a few seconds after start-up,
 * "Mark-Compact (reduce)" in `--trace-gc`), a fixed few per run whatever the traffic. The CLI's
 * stdout and exit code are untouched.
 *
 * @module
 */
import { writeSync } from 'node:fs';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';

const origin = performance.timeOrigin;
const starts: number[] = [];
const scavenges: number[] = [];
const record = (e: PerformanceEntry): void => {
  const at = Math.round(origin + e.startTime);
  starts.push(at);
  const kind = (e as PerformanceEntry & { detail?: { kind?: number } | null }).detail?.kind;
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges.push(at);
};
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) record(e);
});
observer.observe({ entryTypes: ['gc'] });

process.on('exit', () => {
  for (const e of observer.takeRecords()) record(e);
  observer.disconnect();
  try {
    writeSync(
      2,
      `${JSON.stringify({ type: 'bench-gc', gc_epoch_ms: starts, scavenge_epoch_ms: scavenges })}\n`,
    );
  } catch {
    // stderr gone: nothing to report to.
  }
});
