/**
 * `mediasock recv URL`: receives a unicast, multicast or source-specific stream and shows live
 * statistics: packet and bit rate, kernel drops, and for RTP the loss, duplicates, reordering and
 * RFC 3550 interarrival jitter; for MPEG-TS (directly in UDP or in RTP) continuity counter errors.
 * Optionally writes the payload (RTP header stripped) to a file or stdout.
 *
 * @module
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';

import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  positiveInteger,
  positiveNumber,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';
import { KernelDrops } from './kernel-drops.js';
import { LiveDisplay, formatMbit, roundTo } from './live-display.js';
import { RTP_PAYLOAD_TYPE_MP2T, parseRtpHeader } from '../index.js';
import { RtpStats } from './rtp-stats.js';
import { TS_PACKET_BYTES, TsContinuity } from './ts-continuity.js';
import { openReceiver, parseReceiveUrl } from './url-sockets.js';

export const RECV_HELP = `Usage: mediasock recv URL [options]

Receives a stream and shows live statistics: in place on a terminal, JSON lines otherwise
(and with --json), ending with a summary.

URL forms:
  udp://@:5004                       unicast, any local address, port 5004
  udp://@127.0.0.1:5004              unicast on one address
  udp://@239.1.1.1:5004?iface=lo     any-source multicast, joined on lo
  udp://127.0.0.2@232.0.1.1:5004?iface=lo   source-specific (SSM, RFC 4607)
  rtp://@239.1.1.1:5004?iface=eth0   RTP: loss, duplicates, reordering, jitter
  Query options: iface, buffer (bytes), reuse, sources.

Options:
  --iface NAME        join on this interface too (repeatable; name, index or address)
  --rtp               treat udp:// datagrams as RTP (implied by rtp://)
  --clock-rate HZ     RTP timestamp clock for jitter (default 90000)
  --out FILE|-        write the payload (RTP header stripped) to FILE or stdout
  --count N           stop after N datagrams
  --duration S        stop after S seconds
  --interval S        statistics every S seconds (default 1)
  --json              JSON lines even on a terminal
  --debug             print stacks of errors
  -h, --help          this help

The summary (last JSON line) has packets, bytes, seconds, lost, duplicates, reordered,
jitter_ms, kernel_drops and ts_cc_errors (null where not applicable). Ctrl-C ends cleanly.
With --out -, statistics go to stderr.

Examples:
  mediasock recv udp://@239.1.1.1:5004?iface=lo --duration 10
  mediasock recv rtp://@:5004 --json --count 1000
  mediasock recv udp://@:1234 --out capture.ts

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  iface: { type: 'string', multiple: true },
  rtp: { type: 'boolean' },
  'clock-rate': { type: 'string' },
  out: { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  interval: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Runs `mediasock recv`. */
export async function recvCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(RECV_HELP);
    return ExitCode.OK;
  }
  if (positionals.length !== 1) {
    throw new UsageError(`recv takes one URL (received ${positionals.length} arguments)`);
  }
  const text = positionals[0] ?? '';
  const clockRate = positiveInteger('clock-rate', values['clock-rate']) ?? 90000;
  const count = positiveInteger('count', values.count);
  const duration = positiveNumber('duration', values.duration);
  const interval = positiveNumber('interval', values.interval) ?? 1;
  const ifaces = values.iface ?? [];
  const outPath = values.out;
  if (outPath === '') throw new UsageError('--out needs a file name or "-"');
  // Check everything before opening anything.
  const { url } = parseReceiveUrl(text, ifaces);
  const rtp = url.scheme === 'rtp' || values.rtp === true;

  const receiver = await openReceiver(text, ifaces);
  const { socket } = receiver;
  let out: WriteStream | NodeJS.WritableStream | undefined;
  if (outPath === '-') out = io.stdout;
  else if (outPath !== undefined) {
    try {
      out = createWriteStream(outPath, { flags: 'w' });
      await once(out, 'open');
    } catch (err) {
      await socket.close();
      throw new UsageError(`cannot write --out ${outPath}: ${(err as Error).message}`);
    }
  }

  const display = new LiveDisplay(outPath === '-' ? io.stderr : io.stdout, values.json === true);
  const drops = new KernelDrops(socket.address().port);
  const rtpStats = new RtpStats(clockRate);
  const ts = new TsContinuity();
  const started = performance.now();
  let packets = 0;
  let bytes = 0;
  let notRtp = 0;
  let stopped = false;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });

  socket.on('message', (data: Buffer) => {
    if (stopped) return;
    packets++;
    bytes += data.length;
    let payload: Buffer = data;
    let isTs = false;
    if (rtp) {
      const h = parseRtpHeader(data);
      if (h === undefined) notRtp++;
      else {
        rtpStats.update(h.ssrc, h.sequenceNumber, h.timestamp, performance.now());
        payload = data.subarray(h.payloadOffset, h.payloadEnd);
        isTs = h.payloadType === RTP_PAYLOAD_TYPE_MP2T;
      }
    }
    if (isTs || (payload.length % TS_PACKET_BYTES === 0 && payload[0] === 0x47)) {
      ts.update(payload);
    }
    out?.write(payload);
    if (count !== undefined && packets >= count) stop.abort();
  });

  const summary = (): Record<string, unknown> => {
    const seconds = (performance.now() - started) / 1000;
    const r = rtpStats.snapshot();
    return {
      type: 'summary',
      url: receiver.description,
      packets,
      bytes,
      seconds: roundTo(seconds, 3),
      pps: roundTo(packets / seconds, 1),
      mbit_per_s: roundTo((bytes * 8) / seconds / 1e6, 3),
      lost: rtp ? r.lost : null,
      duplicates: rtp ? r.duplicates : null,
      reordered: rtp ? r.reordered : null,
      jitter_ms: rtp ? roundTo(r.jitterMs, 3) : null,
      ssrc: rtp && r.ssrc !== undefined ? hex(r.ssrc) : null,
      not_rtp: rtp ? notRtp : null,
      kernel_drops: drops.read() ?? null,
      ts_packets: ts.packets,
      ts_cc_errors: ts.packets > 0 ? ts.ccErrors : null,
      ts_sync_errors: ts.packets > 0 ? ts.syncErrors : null,
    };
  };
  let last = { t: started, packets: 0, bytes: 0 };
  const lines = (s: Record<string, unknown>, pps: number, bitsPerSecond: number): string[] => {
    const l = [
      `mediasock recv  ${receiver.description}`,
      `  ${(s.seconds as number).toFixed(1).padStart(6)} s  ${pps.toFixed(0).padStart(7)} pps  ${formatMbit(bitsPerSecond).padStart(14)}` +
        `   packets ${String(packets)}   bytes ${String(bytes)}   kernel drops ${(s.kernel_drops as number | null) ?? 'n/a'}`,
    ];
    if (rtp) {
      l.push(
        `  rtp      lost ${String(s.lost)}   duplicates ${String(s.duplicates)}   reordered ${String(s.reordered)}` +
          `   jitter ${(s.jitter_ms as number).toFixed(3)} ms   ssrc ${(s.ssrc as string | null) ?? '-'}${notRtp > 0 ? `   not RTP ${notRtp}` : ''}`,
      );
    }
    if (ts.packets > 0) {
      l.push(
        `  mpeg-ts  cc errors ${ts.ccErrors}   sync errors ${ts.syncErrors}   packets ${ts.packets}`,
      );
    }
    return l;
  };
  const tick = (): void => {
    const now = performance.now();
    const dt = (now - last.t) / 1000;
    const pps = (packets - last.packets) / dt;
    const bps = ((bytes - last.bytes) * 8) / dt;
    last = { t: now, packets, bytes };
    const s = summary();
    display.update(lines(s, pps, bps), {
      ...s,
      type: 'stats',
      pps: roundTo(pps, 1),
      mbit_per_s: roundTo(bps / 1e6, 3),
    });
  };
  const timer = setInterval(tick, interval * 1000);
  const limit =
    duration === undefined ? undefined : setTimeout(() => stop.abort(), duration * 1000);
  display.update(lines(summary(), 0, 0), {
    type: 'start',
    url: receiver.description,
    port: socket.address().port,
  });
  try {
    if (!stop.signal.aborted) await once(stop.signal, 'abort');
  } finally {
    stopped = true;
    clearInterval(timer);
    clearTimeout(limit);
    io.signal.removeEventListener('abort', onAbort);
  }
  const s = summary();
  await socket.close();
  if (out !== undefined && out !== io.stdout) {
    const file = out as WriteStream;
    file.end();
    await once(file, 'close');
  }
  const reason = io.signal.aborted
    ? 'interrupted'
    : count !== undefined && packets >= count
      ? `--count ${count} reached`
      : '--duration reached';
  const rate = (s.packets as number) / (s.seconds as number);
  display.finish(
    [`summary (${reason}):`, ...lines(s, rate, (s.mbit_per_s as number) * 1e6).slice(1)],
    s,
  );
  return ExitCode.OK;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
