/**
 * Preloaded by `npm run bench` into the `mediasock recv` / `relay` processes it measures
 * (`node --import tsx --import bench/cli-gc.ts src/cli/main.ts ...`): counts garbage collections
 * without touching the CLI. At exit it writes one line on **stderr**,
 * `{"type":"bench-gc","gc_epoch_ms":[...]}`, the start of every collection in milliseconds since
 * the epoch, so the harness counts those within its own measuring window (start-up and the idle
 * second are left out). The CLI's stdout and exit code are untouched.
 *
 * @module
 */
import { writeSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const origin = performance.timeOrigin;
const starts: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) starts.push(Math.round(origin + e.startTime));
});
observer.observe({ entryTypes: ['gc'] });

process.on('exit', () => {
  for (const e of observer.takeRecords()) starts.push(Math.round(origin + e.startTime));
  observer.disconnect();
  try {
    writeSync(2, `${JSON.stringify({ type: 'bench-gc', gc_epoch_ms: starts })}\n`);
  } catch {
    // stderr gone: nothing to report to.
  }
});
