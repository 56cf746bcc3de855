/**
 * One side of a benchmark pair, run as its own process so its CPU time is its own:
 *
 *   node --import tsx bench/peer.ts recv <batch|node|dgram> <host> <maxSeconds> [slotBytes]
 *   node --import tsx bench/peer.ts send <batch-gso|batch-mmsg|node|dgram> <host> <port> <size> <seconds> <maxPackets>
 *
 * Same protocol as the C baselines in bench/c: a receiver prints {"port":N}, counts from its first
 * datagram to the first 3-byte end marker (or 1 s idle, or maxSeconds), then prints one JSON line
 * with received, bytes, seconds, cpu_s and GC activity (PerformanceObserver 'gc' entries, heap).
 * A sender sends for `seconds`, then 20 end markers 10 ms apart, and prints sent, seconds, cpu_s.
 * Loopback only.
 */
import * as dgram from 'node:dgram';
import { PerformanceObserver } from 'node:perf_hooks';

import { UdpSocket } from '../src/udp/udp-socket.js';
import type { DatagramBatch } from '../src/udp/udp-socket.js';

const [role, engine, hostArg, ...rest] = process.argv.slice(2);
if (hostArg !== '127.0.0.1' && hostArg !== '::1')
  throw new Error('loopback only (127.0.0.1 or ::1)');
const host: string = hostArg;
const type = host === '::1' ? 'udp6' : 'udp4';

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function receive(maxSeconds: number, slotBytes: number): Promise<void> {
  let count = 0;
  let bytes = 0;
  let t0 = 0;
  let c0 = 0;
  let gcCount = 0;
  let gcMs = 0;
  let heap0 = 0;
  let lastAt = 0;
  const obs = new PerformanceObserver((list) => {
    if (count === 0) return;
    for (const e of list.getEntries()) {
      gcCount++;
      gcMs += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  let done = false;
  const start = (): void => {
    t0 = performance.now();
    c0 = cpuSeconds();
    heap0 = process.memoryUsage().heapUsed;
  };
  let end = { t: 0, c: 0 };
  const stop = (): void => {
    if (done) return;
    done = true;
    end = { t: performance.now(), c: cpuSeconds() };
    finish();
  };
  let close: () => Promise<void>;
  let port: number;
  if (engine === 'dgram') {
    const s = dgram.createSocket({ type, recvBufferSize: 4 << 20 });
    await new Promise<void>((r) => s.bind(0, host, r));
    s.on('message', (d: Buffer) => {
      if (done) return;
      if (d.length === 3) return stop();
      if (count === 0) start();
      count++;
      bytes += d.length;
      lastAt = count;
    });
    port = s.address().port;
    close = () => new Promise<void>((r) => s.close(() => r()));
  } else {
    const s = await UdpSocket.open({
      type,
      address: host,
      engine: engine === 'batch' ? 'batch' : 'node',
      recvBufferBytes: 4 << 20,
      batch: { slotBytes },
    });
    if (engine === 'batch') {
      s.on('batch', (b: DatagramBatch) => {
        if (done) return;
        const n = b.count;
        for (let i = 0; i < n; i++) {
          const len = b.length(i);
          if (len === 3) return stop();
          if (count === 0) start();
          count++;
          bytes += len;
        }
        lastAt = count;
      });
    } else {
      s.on('message', (d: Buffer) => {
        if (done) return;
        if (d.length === 3) return stop();
        if (count === 0) start();
        count++;
        bytes += d.length;
        lastAt = count;
      });
    }
    port = s.address().port;
    close = () => s.close();
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  // Idle and overall bounds.
  const began = Date.now();
  let seen = -1;
  const timer = setInterval(() => {
    if (Date.now() - began > maxSeconds * 1000) stop();
    else if (count > 0 && lastAt === seen) stop();
    seen = lastAt;
  }, 1000);
  await finished;
  clearInterval(timer);
  const heap1 = process.memoryUsage().heapUsed;
  obs.disconnect();
  await close();
  process.stdout.write(
    `${JSON.stringify({
      received: count,
      bytes,
      seconds: count ? (end.t - t0) / 1000 : 0,
      cpu_s: count ? end.c - c0 : 0,
      gc_count: gcCount,
      gc_ms: Math.round(gcMs * 100) / 100,
      heap_delta: heap1 - heap0,
    })}\n`,
  );
}

async function send(port: number, size: number, seconds: number, max: number): Promise<void> {
  const buf = new Uint8Array(size * 64 * 64);
  let sent = 0;
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const until = t0 + seconds * 1000;
  let markers: () => Promise<void>;
  if (engine === 'dgram') {
    const s = dgram.createSocket(type);
    // ICMP port unreachable once the receiver is gone surfaces as ECONNREFUSED: expected here.
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.connect(port, host, r));
    // With a completion callback per datagram, as UdpSocket#send has (a promise per datagram).
    const one = Buffer.alloc(size);
    while (sent < max && performance.now() < until) {
      await new Promise<void>((resolve) => {
        let left = 64;
        for (let i = 0; i < 64; i++)
          s.send(one, () => {
            if (--left === 0) resolve();
          });
      });
      sent += 64;
    }
    markers = async () => {
      for (let i = 0; i < 20; i++) {
        s.send(Buffer.from('END'));
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise<void>((r) => s.close(() => r()));
    };
  } else {
    const s = await UdpSocket.open({
      type,
      address: host,
      engine: engine === 'node' ? 'node' : 'batch',
    });
    s.on('error', () => undefined); // ECONNREFUSED once the receiver is gone
    await s.connect(port, host);
    if (engine === 'batch-gso') {
      while (sent < max && performance.now() < until) {
        const r = await s.sendBatch({ buffer: buf, segmentSize: size });
        sent += r.sent;
      }
    } else if (engine === 'batch-mmsg') {
      // Different sizes in turn defeat the equal-size GSO runs: one sendmmsg message each.
      const lengths = Array.from({ length: 4096 }, (_, i) => (i % 2 ? size : size - 1));
      while (sent < max && performance.now() < until) {
        const r = await s.sendBatch({ buffer: buf, lengths });
        sent += r.sent;
      }
    } else {
      const one = Buffer.alloc(size);
      while (sent < max && performance.now() < until) {
        const ps: Promise<number>[] = [];
        for (let i = 0; i < 64; i++) ps.push(s.send(one));
        await Promise.all(ps);
        sent += 64;
      }
    }
    markers = async () => {
      for (let i = 0; i < 20; i++) {
        await s.send('END').catch(() => 0);
        await new Promise((r) => setTimeout(r, 10));
      }
      await s.close();
    };
  }
  const t1 = performance.now();
  const c1 = cpuSeconds();
  await markers();
  process.stdout.write(`${JSON.stringify({ sent, seconds: (t1 - t0) / 1000, cpu_s: c1 - c0 })}\n`);
}

if (role === 'recv') {
  await receive(Number(rest[0] ?? 12), Number(rest[1] ?? 65536));
} else if (role === 'send') {
  await send(Number(rest[0]), Number(rest[1]), Number(rest[2]), Number(rest[3]));
} else {
  throw new Error('usage: peer.ts recv|send ...');
}
