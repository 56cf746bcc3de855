/**
 * The self-contained loopback demo that `npm start` runs: a sender streams RTP packets carrying
 * MPEG-TS-sized payloads (7 × 188 bytes) to a multicast group pinned to the loopback interface
 * (`lo`, TTL 0: nothing leaves the machine), a mediasock receiver joins the group on `lo` and counts
 * the stream, a live statistics line is shown for a few seconds, then a summary.
 *
 * It uses only the public API. Exit code 0 when every packet sent arrived in order, 1 otherwise.
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { UdpSocket, findInterface, nativeStatus } from '../index.js';

/** What the demo measured. */
export interface DemoSummary {
  group: string;
  port: number;
  seconds: number;
  sent: number;
  received: number;
  lost: number;
  reordered: number;
  bytes: number;
  mbitPerSecond: number;
  engine: string;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** How long to stream, in ms. Default 3000. */
  durationMs?: number;
  /** Packets per second. Default 2000 (about 21 Mbit/s of payload). */
  packetsPerSecond?: number;
  /** Group to stream to; joined on `lo`. Default 239.255.77.77 (RFC 2365 organization-local scope). */
  group?: string;
  /** Where the live line and summary go. Default `process.stdout`. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

const kPayload = 7 * 188;
const kRtpHeader = 12;

/** Runs the demo and resolves with its summary. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const durationMs = options.durationMs ?? 3000;
  const pps = options.packetsPerSecond ?? 2000;
  const group = options.group ?? '239.255.77.77';
  const out = options.out ?? process.stdout;
  const lo = findInterface('lo');

  const rx = await UdpSocket.open({
    type: 'udp4',
    address: group,
    reuseAddr: true,
    recvBufferBytes: 1 << 21,
  });
  const tx = await UdpSocket.open({
    type: 'udp4',
    address: '127.0.0.1',
    multicastInterface: lo.name,
    multicastTtl: 0,
    multicastLoopback: true,
  });
  const port = rx.address().port;
  rx.addMembership(group, lo.name);

  let received = 0;
  let bytes = 0;
  let lost = 0;
  let reordered = 0;
  let expected: number | undefined;
  rx.on('message', (data: Buffer) => {
    received++;
    bytes += data.length;
    const seq = data.readUInt16BE(2);
    if (expected === undefined) {
      expected = (seq + 1) & 0xffff;
      return;
    }
    const gap = (seq - expected) & 0xffff;
    if (gap === 0) expected = (seq + 1) & 0xffff;
    else if (gap < 0x8000) {
      lost += gap;
      expected = (seq + 1) & 0xffff;
    } else {
      reordered++;
      if (lost > 0) lost--;
    }
  });

  const packet = Buffer.alloc(kRtpHeader + kPayload);
  packet[0] = 0x80; // RTP version 2
  packet[1] = 33; // payload type 33: MP2T (RFC 3551)
  packet.writeUInt32BE(0x6d736f63, 8); // SSRC "msoc"
  for (let i = 0; i < 7; i++) packet[kRtpHeader + i * 188] = 0x47; // TS sync bytes

  const engine = nativeStatus().loaded
    ? 'node engine, fd from the native addon'
    : 'node engine (no native addon)';
  out.write(
    `mediasock demo: RTP/MP2T to ${group}:${port} on ${lo.name} (TTL 0), ${pps} packets/s for ${durationMs / 1000} s; ${engine}\n`,
  );

  const started = performance.now();
  let sent = 0;
  let seq = 0;
  const tick = 10;
  const perTick = Math.max(1, Math.round((pps * tick) / 1000));
  let lastLine = started;
  while (performance.now() - started < durationMs) {
    const due = Math.min(
      Math.floor(((performance.now() - started) * pps) / 1000) + perTick,
      Math.ceil((durationMs * pps) / 1000),
    );
    while (sent < due) {
      packet.writeUInt16BE(seq, 2);
      packet.writeUInt32BE(((sent * 90000) / pps) >>> 0, 4);
      await tx.send(packet, port, group);
      seq = (seq + 1) & 0xffff;
      sent++;
    }
    const now = performance.now();
    if (now - lastLine >= 500) {
      lastLine = now;
      const secs = (now - started) / 1000;
      const line = `  ${secs.toFixed(1)} s  sent ${sent}  received ${received}  lost ${lost}  ${((bytes * 8) / secs / 1e6).toFixed(1)} Mbit/s`;
      out.write(out.isTTY ? `\r${line}` : `${line}\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, tick));
  }
  // Let the last datagrams arrive (bounded wait).
  for (let i = 0; i < 50 && received + lost < sent; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([tx.close(), rx.close()]);
  if (out.isTTY) out.write('\n');

  const summary: DemoSummary = {
    group,
    port,
    seconds: Number(seconds.toFixed(3)),
    sent,
    received,
    lost: lost + Math.max(0, sent - received - lost),
    reordered,
    bytes,
    mbitPerSecond: Number(((bytes * 8) / seconds / 1e6).toFixed(2)),
    engine,
  };
  out.write(
    `summary: sent ${summary.sent}, received ${summary.received}, lost ${summary.lost}, reordered ${summary.reordered}, ` +
      `${summary.bytes} bytes in ${summary.seconds} s (${summary.mbitPerSecond} Mbit/s)\n`,
  );
  return summary;
}

/** Entry point for `npm start`. */
async function main(): Promise<void> {
  const summary = await runDemo();
  process.exitCode = summary.sent > 0 && summary.received === summary.sent ? 0 : 1;
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
) {
  main().catch((err: unknown) => {
    process.stderr.write(`mediasock demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
