/**
 * `mediasock demo`, what `npm start` runs: a sender streams RTP packets carrying MPEG-TS-sized
 * payloads (7 × 188 bytes) to a multicast group pinned to the loopback interface (`lo`, TTL 0:
 * nothing leaves the machine), a mediasock receiver joins the group on `lo` and counts the stream
 * (RFC 3550 loss, reordering and jitter), live statistics are shown for a few seconds, then a
 * summary.
 *
 * It uses only the public API. Exit code 0 when every packet sent arrived in order, 1 otherwise.
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import {
  Pacer,
  RtpStats,
  TS_PACKET_BYTES,
  UdpSocket,
  addressFamily,
  findInterface,
  isMulticastAddress,
  nativeStatus,
} from '../index.js';
import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  durationSeconds,
  packetsPerSecond,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';
import { LiveDisplay, formatMbit, roundTo } from './live-display.js';
import type { DisplayStream } from './live-display.js';
import {
  RTP_PAYLOAD_TYPE_MP2T,
  RTP_HEADER_BYTES,
  parseRtpHeader,
  writeRtpHeader,
} from '../index.js';

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
  jitterMs: number;
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
  /** Where the live statistics and summary go. Default `process.stdout`. */
  out?: DisplayStream;
  /** JSON lines even on a terminal. Default `false` (JSON lines only when `out` is not a terminal). */
  json?: boolean;
  /** Stops the demo early (the summary is still produced). */
  signal?: AbortSignal;
}

const kPayload = 7 * TS_PACKET_BYTES;
const kSsrc = 0x6d736f63; // "msoc"

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
  let tx: UdpSocket;
  try {
    tx = await UdpSocket.open({
      type: 'udp4',
      address: '127.0.0.1',
      multicastInterface: lo.name,
      multicastTtl: 0,
      multicastLoopback: true,
    });
  } catch (err) {
    await rx.close();
    throw err;
  }
  const port = rx.address().port;
  const stats = new RtpStats(90000);
  let received = 0;
  let bytes = 0;
  rx.on('message', (data: Buffer) => {
    received++;
    bytes += data.length;
    const h = parseRtpHeader(data);
    if (h !== undefined) stats.update(h.ssrc, h.sequenceNumber, h.timestamp, performance.now());
  });
  try {
    rx.addMembership(group, lo.name);
  } catch (err) {
    await Promise.all([tx.close(), rx.close()]);
    throw err;
  }

  const engine = nativeStatus().loaded
    ? 'node engine, fd from the native addon'
    : 'node engine (no native addon)';
  // The header is printed once above the redrawn statistics (wrapped to the terminal's width).
  const display = new LiveDisplay(out, options.json === true, {
    header: [
      `mediasock demo: RTP/MP2T to ${group}:${port} on ${lo.name} (TTL 0), ${pps} packets/s for ${durationMs / 1000} s`,
      `  ${engine}`,
    ],
  });
  const started = performance.now();
  let sent = 0;
  const lines = (seconds: number): string[] => {
    const r = stats.snapshot();
    // Two lines, each within 80 columns for runs of up to a million packets.
    return [
      `  ${seconds.toFixed(1).padStart(5)} s  sent ${sent}  received ${received}  lost ${r.lost}  reordered ${r.reordered}`,
      `           jitter ${r.jitterMs.toFixed(3)} ms  ${formatMbit((bytes * 8) / Math.max(seconds, 1e-3))}`,
    ];
  };
  const record = (type: string, seconds: number): Record<string, unknown> => {
    const r = stats.snapshot();
    return {
      type,
      seconds: roundTo(seconds, 3),
      sent,
      packets: received,
      bytes,
      lost: r.lost,
      reordered: r.reordered,
      jitter_ms: roundTo(r.jitterMs, 3),
    };
  };
  const timer = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    display.update(lines(s), record('stats', s));
  }, 500);

  const packet = Buffer.alloc(RTP_HEADER_BYTES + kPayload);
  for (let i = 0; i < 7; i++) packet[RTP_HEADER_BYTES + i * TS_PACKET_BYTES] = 0x47;
  const total = Math.ceil((durationMs * pps) / 1000);
  const pacer = new Pacer({ packetsPerSecond: pps });
  const stop = options.signal ?? new AbortController().signal;
  try {
    while (sent < total && !stop.aborted) {
      let n: number;
      try {
        n = await pacer.next(stop);
      } catch (err) {
        if (stop.aborted) break;
        throw err;
      }
      for (; n > 0 && sent < total; n--) {
        writeRtpHeader(packet, {
          payloadType: RTP_PAYLOAD_TYPE_MP2T,
          sequenceNumber: sent,
          timestamp: Math.floor((sent * 90000) / pps),
          ssrc: kSsrc,
        });
        await tx.send(packet, port, group);
        sent++;
      }
    }
    // Let the last datagrams arrive (bounded wait).
    for (let i = 0; i < 50 && received < sent; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    clearInterval(timer);
    await Promise.all([tx.close(), rx.close()]);
  }
  const seconds = (performance.now() - started) / 1000;
  const r = stats.snapshot();
  const summary: DemoSummary = {
    group,
    port,
    seconds: roundTo(seconds, 3),
    sent,
    received,
    // The probation packet is not counted by RFC 3550 A.1; anything else missing is lost.
    lost: Math.max(r.lost, sent - received),
    reordered: r.reordered,
    bytes,
    mbitPerSecond: roundTo((bytes * 8) / seconds / 1e6, 2),
    jitterMs: roundTo(r.jitterMs, 3),
    engine,
  };
  display.finish(
    [
      `summary: sent ${summary.sent}, received ${summary.received}, lost ${summary.lost}, reordered ${summary.reordered}, ` +
        `jitter ${summary.jitterMs} ms, ${summary.bytes} bytes in ${summary.seconds} s (${summary.mbitPerSecond} Mbit/s)`,
    ],
    {
      type: 'summary',
      ...record('summary', seconds),
      lost: summary.lost,
      mbit_per_s: summary.mbitPerSecond,
    },
  );
  return summary;
}

export const DEMO_HELP = `Usage: mediasock demo [options]

Streams RTP/MPEG-TS to a multicast group on the loopback interface (lo, TTL 0: nothing leaves
this machine), receives it with mediasock, shows live statistics and a summary.

Options:
  --duration S    how long to stream (default 3)
  --pps N         packets per second, up to 10M (default 2000)
  --group ADDR    IPv4 multicast group (default 239.255.77.77)
  --json          JSON lines even on a terminal
  --debug         print stacks of errors
  -h, --help      this help

Examples:
  mediasock demo
  mediasock demo --duration 10 --pps 5000

Exit codes: 0 every packet arrived, 1 packets were lost or the demo failed, 2 usage error.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  duration: { type: 'string' },
  pps: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Runs `mediasock demo`. */
export async function demoCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(DEMO_HELP);
    return ExitCode.OK;
  }
  if (positionals.length > 0)
    throw new UsageError(`demo takes no arguments (received ${positionals[0]})`);
  const group = values.group;
  if (group !== undefined && !(addressFamily(group) === 4 && isMulticastAddress(group))) {
    throw new UsageError(
      `--group must be an IPv4 multicast address (received ${JSON.stringify(group)})`,
    );
  }
  const options: DemoOptions = {
    durationMs: (durationSeconds(values.duration) ?? 3) * 1000,
    packetsPerSecond: packetsPerSecond(values.pps) ?? 2000,
    out: io.stdout,
    json: values.json === true,
    signal: io.signal,
  };
  if (group !== undefined) options.group = group;
  const summary = await runDemo(options);
  return summary.sent > 0 && summary.received === summary.sent && summary.lost === 0
    ? ExitCode.OK
    : ExitCode.FAILURE;
}

/** Entry point for `tsx src/cli/demo.ts` (the former `npm start`). */
async function runAsScript(): Promise<void> {
  const summary = await runDemo();
  process.exitCode = summary.sent > 0 && summary.received === summary.sent ? 0 : 1;
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
) {
  runAsScript().catch((err: unknown) => {
    process.stderr.write(`mediasock demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
