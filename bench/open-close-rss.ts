/**
 * Receive memory across open/close cycles (DESIGN.md §5: "receive memory of an idle socket
 * ≤ 256 KiB, released on close (RSS flat over 10,000 open/close cycles)").
 *
 * Each cycle opens a `UdpSocket` on 127.0.0.1 with the default engine (the batch engine when the
 * addon is built), sends it a few datagrams from itself, waits until they arrived, and closes it.
 * GC is forced (`--expose-gc`) before the first and after the last reading, so what is left is
 * memory that GC cannot give back. Prints RSS at start and end, and the peak.
 *
 * ```sh
 * node --expose-gc --import tsx bench/open-close-rss.ts [cycles=10000] [datagrams=4]
 * ```
 *
 * Target: end − start ≤ 64 MB. Loopback only.
 */
import { UdpSocket } from '../src/udp/udp-socket.js';

const cycles = Number(process.argv[2] ?? 10_000);
const datagrams = Number(process.argv[3] ?? 4);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('run with node --expose-gc so GC can be forced before each reading\n');
  process.exit(2);
}

function rssMB(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

async function cycle(payload: Uint8Array): Promise<void> {
  const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  try {
    let got = 0;
    const arrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('datagrams did not arrive in 5 s')), 5000);
      s.on('message', () => {
        if (++got === datagrams) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const { port } = s.address();
    for (let i = 0; i < datagrams; i++) await s.send(payload, port, '127.0.0.1');
    await arrived;
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  const payload = new Uint8Array(1316).fill(0x47);
  await cycle(payload); // warm-up: modules, the addon, JIT
  gc!();
  const start = rssMB();
  let peak = start;
  const began = Date.now();
  for (let i = 0; i < cycles; i++) {
    await cycle(payload);
    if (i % 500 === 0) peak = Math.max(peak, rssMB());
  }
  gc!();
  await new Promise((r) => setImmediate(r));
  gc!();
  const end = rssMB();
  peak = Math.max(peak, end);
  const line = {
    cycles,
    datagrams,
    engine: (await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' }).then(async (s) => {
      const batch = s.capabilities.recvmmsg;
      await s.close();
      return batch;
    }))
      ? 'batch'
      : 'node',
    startMB: Math.round(start),
    endMB: Math.round(end),
    peakMB: Math.round(peak),
    growthMB: Math.round(end - start),
    seconds: Math.round((Date.now() - began) / 100) / 10,
  };
  process.stdout.write(
    `open/close RSS: ${line.cycles} cycles (${line.engine} engine, ${datagrams} datagrams each): ` +
      `start ${line.startMB} MB, end ${line.endMB} MB, peak ${line.peakMB} MB, ` +
      `growth ${line.growthMB} MB in ${line.seconds} s (target ≤ 64 MB)\n`,
  );
  process.stdout.write(`${JSON.stringify(line)}\n`);
  if (end - start > 64) process.exitCode = 1;
}

await main();
