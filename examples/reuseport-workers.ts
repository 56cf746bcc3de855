/**
 * Receivers across cores: N worker_threads each open a UdpSocket with `reusePort: true` on one
 * port; the kernel spreads flows (by source address and port) among them (`SO_REUSEPORT`).
 * Several senders with distinct source ports make several flows. Loopback only.
 *
 *   node --import tsx examples/reuseport-workers.ts [--workers 2] [--senders 4] [--size 200]
 *        [--seconds 3] [--json]
 *
 * Prints each worker's share and the aggregate rate; with --json one JSON line
 * { workers, rx_pps, tx_pps, loss_pct, spread } (spread = smallest share / largest share).
 */
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { UdpSocket } from '../src/udp/udp-socket.js';
import type { DatagramBatch } from '../src/udp/udp-socket.js';

interface Job {
  port: number;
}

/** Starts this file as a worker; run as TypeScript, the worker registers tsx first. */
function spawnWorker(job: Job): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: job });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`;
  return new Worker(boot, { eval: true, workerData: job });
}

if (!isMainThread) {
  // Worker: one receiver on the shared port; counts until told to stop.
  const { port } = workerData as Job;
  const rx = await UdpSocket.open({
    type: 'udp4',
    address: '127.0.0.1',
    port,
    reusePort: true,
    recvBufferBytes: 4 << 20,
    batch: { slotBytes: 2048 },
  });
  let count = 0;
  rx.on('batch', (b: DatagramBatch) => (count += b.count));
  if (rx.engine === 'node') rx.on('message', () => count++);
  parentPort!.on('message', (m: string) => {
    if (m === 'stop') void rx.close().then(() => parentPort!.postMessage({ count }));
  });
  parentPort!.postMessage({ ready: true, engine: rx.engine });
} else {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      senders: { type: 'string', default: '4' },
      size: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
    },
  });
  const workers = Number(values.workers);
  const senders = Number(values.senders);
  const size = Number(values.size);
  const seconds = Number(values.seconds);

  // The first receiver picks the port; the others join it there.
  const probe = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', reusePort: true });
  const port = probe.address().port;
  const pool: Worker[] = [];
  for (let i = 0; i < workers; i++) {
    const w = spawnWorker({ port });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    pool.push(w);
  }
  await probe.close(); // the workers hold the port now

  // Senders: distinct source ports, so distinct flows; GSO trains through the batch engine.
  const txs: UdpSocket[] = [];
  for (let i = 0; i < senders; i++) {
    const tx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    await tx.connect(port, '127.0.0.1');
    txs.push(tx);
  }
  const buffer = new Uint8Array(size * 64 * 4);
  let sent = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  for (let round = 0; performance.now() < until && round < 1e7; round++) {
    const results = await Promise.all(txs.map((tx) => tx.sendBatch({ buffer, segmentSize: size })));
    for (const r of results) sent += r.sent;
  }
  const elapsed = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 200)); // let the queues drain
  const counts = await Promise.all(
    pool.map(
      (w) =>
        new Promise<number>((resolve) => {
          w.once('message', (m: { count: number }) => resolve(m.count));
          w.postMessage('stop');
        }),
    ),
  );
  for (const w of pool) await w.terminate();
  for (const tx of txs) await tx.close();
  const received = counts.reduce((a, b) => a + b, 0);
  const result = {
    workers,
    rx_pps: Math.round(received / elapsed),
    tx_pps: Math.round(sent / elapsed),
    loss_pct: Math.round(10000 * Math.max(0, 1 - received / sent)) / 100,
    spread: Math.round((100 * Math.min(...counts)) / Math.max(1, Math.max(...counts))) / 100,
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    counts.forEach((c, i) => console.log(`worker ${i}: ${c} datagrams`));
    console.log(
      `${workers} worker(s): ${result.rx_pps} datagrams/s received of ${result.tx_pps} sent`,
    );
  }
}
