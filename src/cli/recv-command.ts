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
  clockRateHz,
  durationSeconds,
  intervalSeconds,
  positiveInteger,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { rtspRecvCommand } from './rtsp-command.js';
import { ExitCode, setLongTimeout } from './command-io.js';
import { watchIdle } from './idle-timeout.js';
import { LiveDisplay, formatMbit, roundTo } from './live-display.js';
import {
  RTP_PAYLOAD_TYPE_MP2T,
  RtpStats,
  TS_PACKET_BYTES,
  TsChecker,
  openMediaReceiver,
  parseMediaUrl,
  rtpPayloadEnd,
  rtpPayloadStart,
} from '../index.js';
import type { DatagramBatch } from '../index.js';

export const RECV_HELP = `Usage: mediasock recv URL [options]

Receives a stream and shows live statistics: in place on a terminal, JSON lines otherwise
(and with --json), ending with a summary.

URL forms:
  udp://@:5004                       unicast, any local address, port 5004
  udp://@127.0.0.1:5004              unicast on one address
  udp://@239.1.1.1:5004?iface=lo     any-source multicast, joined on lo
  udp://127.0.0.2@232.0.1.1:5004?iface=lo   source-specific (SSM, RFC 4607)
  udp://127.0.0.2@239.1.1.1:5004?iface=lo   from that source only, on any group (include)
  udp://@239.1.1.1:5004?iface=lo&block=127.0.0.3   any source but that one (exclude)
  udp://@[ff12::1%eth1]:5004         link-local-scope IPv6 group, joined and bound on eth1
  rtp://@239.1.1.1:5004?iface=eth0   RTP: loss, duplicates, reordering, jitter
  rtsp://[user:pass@]host[:port]/path   an RTSP session (see --transport in its help)
  udp://@239.1.1.1:1234?overrun_nonfatal=1&fifo_size=50000000&iface=lo   FFmpeg's line
  Query options: iface, buffer (bytes), reuse (on by default for groups), sources, block;
  FFmpeg's fifo_size and timeout (microseconds without a datagram: exit 1) apply, its
  send-side and tuning options (ttl, pkt_size, overrun_nonfatal …) are ignored with a note.
  See docs/url-options.md. A group joined on an interface by name is joined again when that
  interface comes back (link up, re-created, new address): counted in "rejoins".

Options:
  --iface NAME        join on this interface too (repeatable; name, index or address)
  --rtp               treat udp:// datagrams as RTP (implied by rtp://)
  --clock-rate HZ     RTP timestamp clock for jitter (default 90000)
  --out FILE|-        write the payload (RTP header stripped) to FILE or stdout
  --out-buffer BYTES  most payload bytes queued for --out (default 8388608, 8 MiB); see below
  --count N           stop after N datagrams
  --duration S        stop after S seconds
  --interval S        statistics every S seconds, 0.01 to 86400 (default 1)
  --json              JSON lines even on a terminal
  --debug             print stacks of errors
  -h, --help          this help

The summary (last JSON line) has packets, bytes, seconds, lost, duplicates, reordered,
jitter_ms, kernel_drops, rejoins, rejoin_errors and ts_cc_errors (null where not applicable).
Ctrl-C ends cleanly.
With --out -, statistics go to stderr.

--out never slows the receiver down (a live stream cannot wait): while more than --out-buffer
bytes are queued for a slow disk or reader, datagrams are not written, and counted in
out_dropped (reception and statistics go on). If --out fails (EPIPE when the reader of
"--out -" goes away, ENOSPC, EIO), recv prints one line naming the error, stops, prints the
summary (with out_error) and exits 1.

Examples:
  mediasock recv 'udp://@239.1.1.1:5004?iface=lo' --duration 10
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
  'out-buffer': { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  interval: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Default of `--out-buffer`: bytes queued for `--out` before datagrams are dropped from it. */
const DEFAULT_OUT_BUFFER_BYTES = 8 << 20;

/** What `--out` writes to: a file or stdout (both expose how much is queued). */
type OutStream = NodeJS.WritableStream & { writableLength?: number; closed?: boolean };

/** Runs `mediasock recv`. */
export async function recvCommand(args: string[], io: CommandIo): Promise<number> {
  // An rtsp:// URL is a session with a server, not a socket: its own command (rtsp-command.ts).
  if (args.some((a) => a.startsWith('rtsp://'))) return rtspRecvCommand(args, io);
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(RECV_HELP);
    return ExitCode.OK;
  }
  if (positionals.length !== 1) {
    throw new UsageError(`recv takes one URL (received ${positionals.length} arguments)`);
  }
  const text = positionals[0] ?? '';
  const clockRate = clockRateHz(values['clock-rate']);
  const count = positiveInteger('count', values.count);
  const duration = durationSeconds(values.duration);
  const interval = intervalSeconds(values.interval);
  const ifaces = values.iface ?? [];
  const outPath = values.out;
  if (outPath === '') throw new UsageError('--out needs a file name or "-"');
  const outBufferBytes =
    positiveInteger('out-buffer', values['out-buffer']) ?? DEFAULT_OUT_BUFFER_BYTES;
  if (values['out-buffer'] !== undefined && outPath === undefined) {
    throw new UsageError('--out-buffer needs --out');
  }
  // Check everything before opening anything.
  const url = parseMediaUrl(text);
  const rtp = url.scheme === 'rtp' || values.rtp === true;

  // Sources are never shown: the kernel need not copy one out per datagram.
  const receiver = await openMediaReceiver(text, {
    interfaces: ifaces,
    batch: { sourceAddress: false },
    signal: io.signal,
  });
  const { socket } = receiver;
  for (const notice of receiver.notices) io.stderr.write(`mediasock recv: note: ${notice}\n`);
  let out: OutStream | undefined;
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
  const rtpStats = new RtpStats(clockRate);
  const ts = new TsChecker();
  const started = performance.now();
  // Counters as fields of an object: a closure variable past 2^30 (the bytes of 1 GiB received)
  // would hold a heap number, a new one at every addition; a field is updated in place.
  const total = { packets: 0, bytes: 0 };
  let outDropped = 0;
  let outError: Error | undefined;
  let stopped = false;
  let endedAt: number | undefined;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  // A failed --out (EPIPE, ENOSPC, EIO) ends the run: the summary still comes, then exit 1. The
  // listener stays for the life of the command, so a late error (on the final flush) is caught too.
  const onOutError = (err: Error): void => {
    outError ??= err;
    stop.abort();
  };
  out?.on('error', onOutError);

  // FFmpeg's timeout= (µs): fail after that long without a datagram.
  const idleMs = receiver.idleTimeoutMs;
  const idle = watchIdle(idleMs, () => stop.abort());

  // Batches, read in place: statistics from the receive memory, no object per datagram.
  socket.on('batch', (batch) => {
    if (stopped) return;
    const data = batch.data;
    const arrival = performance.now();
    idle.touch();
    // Datagrams may arrive in a batch, several before the stop takes effect: --count is exact.
    const n = count === undefined ? batch.count : Math.min(batch.count, count - total.packets);
    let outBytes = 0;
    for (let i = 0; i < n; i++) {
      const offset = batch.offset(i);
      const length = batch.length(i);
      total.packets++;
      total.bytes += length;
      let start = offset;
      let end = offset + length;
      let isTs = false;
      if (rtp && rtpStats.addAt(data, offset, length, arrival)) {
        start = rtpPayloadStart(data, offset, length);
        end = rtpPayloadEnd(data, offset, length);
        isTs = ((data[offset + 1] as number) & 0x7f) === RTP_PAYLOAD_TYPE_MP2T;
      }
      if (isTs || ((end - start) % TS_PACKET_BYTES === 0 && data[start] === 0x47))
        ts.addPackets(data, start, end - start);
      outBytes += end - start;
    }
    if (out !== undefined && outError === undefined && n > 0) writeOut(batch, n, outBytes);
    if (count !== undefined && total.packets >= count) stop.abort();
  });

  /** The payloads of the first `n` datagrams to --out, as one write (a copy: the memory is reused). */
  const writeOut = (batch: DatagramBatch, n: number, total: number): void => {
    // Never wait for --out: above the bound the datagrams are counted and left out.
    if ((out!.writableLength ?? 0) >= outBufferBytes) {
      outDropped += n;
      return;
    }
    const chunk = Buffer.allocUnsafe(total);
    const data = batch.data;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const offset = batch.offset(i);
      const length = batch.length(i);
      let start = offset;
      let end = offset + length;
      if (rtp) {
        const payload = rtpPayloadStart(data, offset, length);
        if (payload >= 0) {
          start = payload;
          end = rtpPayloadEnd(data, offset, length);
        }
      }
      chunk.set(data.subarray(start, end), at);
      at += end - start;
    }
    out!.write(chunk);
  };

  const summary = (): Record<string, unknown> => {
    const seconds = ((endedAt ?? performance.now()) - started) / 1000;
    const r = rtpStats.snapshot();
    return {
      type: 'summary',
      url: receiver.description,
      packets: total.packets,
      bytes: total.bytes,
      seconds: roundTo(seconds, 3),
      pps: roundTo(total.packets / seconds, 1),
      mbit_per_s: roundTo((total.bytes * 8) / seconds / 1e6, 3),
      lost: rtp ? r.lost : null,
      duplicates: rtp ? r.duplicates : null,
      reordered: rtp ? r.reordered : null,
      jitter_ms: rtp ? roundTo(r.jitterMs, 3) : null,
      ssrc: rtp && r.ssrc !== undefined ? hex(r.ssrc) : null,
      rtp_sources: rtp ? rtpStats.ssrcs.length : null,
      not_rtp: rtp ? rtpStats.notRtp : null,
      kernel_drops: socket.stats.kernelDrops ?? null,
      rejoins: receiver.url.multicast ? socket.stats.rejoins : null,
      rejoin_errors: receiver.url.multicast ? socket.stats.rejoinErrors : null,
      ts_packets: ts.packets,
      ts_cc_errors: ts.packets > 0 ? ts.ccErrors : null,
      ts_sync_errors: ts.packets > 0 ? ts.syncErrors : null,
      out_dropped: out !== undefined ? outDropped : null,
      out_error: outError !== undefined ? outError.message : null,
    };
  };
  let last = { t: started, packets: 0, bytes: 0 };
  const lines = (s: Record<string, unknown>, pps: number, bitsPerSecond: number): string[] => {
    const l = [
      `mediasock recv  ${receiver.description}`,
      // Short lines, so every field shows in an 80-column terminal.
      `  ${(s.seconds as number).toFixed(1).padStart(6)} s  ${pps.toFixed(0).padStart(7)} pps  ${formatMbit(bitsPerSecond).padStart(14)}`,
      `  total    packets ${String(total.packets)}   bytes ${String(total.bytes)}   kernel drops ${(s.kernel_drops as number | null) ?? 'n/a'}` +
        (typeof s.rejoins === 'number' && s.rejoins > 0 ? `   rejoins ${s.rejoins}` : '') +
        (typeof s.rejoin_errors === 'number' && s.rejoin_errors > 0
          ? `   rejoin errors ${s.rejoin_errors}`
          : ''),
    ];
    if (rtp) {
      l.push(
        `  rtp      lost ${String(s.lost)}   duplicates ${String(s.duplicates)}   reordered ${String(s.reordered)}` +
          (rtpStats.notRtp > 0 ? `   not RTP ${rtpStats.notRtp}` : ''),
        `           jitter ${(s.jitter_ms as number).toFixed(3)} ms   ssrc ${(s.ssrc as string | null) ?? '-'}`,
      );
    }
    if (ts.packets > 0) {
      l.push(
        `  mpeg-ts  cc errors ${ts.ccErrors}   sync errors ${ts.syncErrors}   packets ${ts.packets}`,
      );
    }
    if (out !== undefined && (outDropped > 0 || outError !== undefined)) {
      l.push(
        `  --out    dropped ${outDropped}${outError !== undefined ? `   failed: ${outError.message}` : ''}`,
      );
    }
    return l;
  };
  const tick = (): void => {
    const now = performance.now();
    const dt = (now - last.t) / 1000;
    const pps = (total.packets - last.packets) / dt;
    const bps = ((total.bytes - last.bytes) * 8) / dt;
    last = { t: now, packets: total.packets, bytes: total.bytes };
    const s = summary();
    display.update(lines(s, pps, bps), {
      ...s,
      type: 'stats',
      pps: roundTo(pps, 1),
      mbit_per_s: roundTo(bps / 1e6, 3),
    });
  };
  const timer = setInterval(tick, interval * 1000);
  const cancelLimit =
    duration === undefined ? undefined : setLongTimeout(() => stop.abort(), duration * 1000);
  display.update(lines(summary(), 0, 0), {
    type: 'start',
    url: receiver.description,
    port: socket.address().port,
  });
  try {
    if (!stop.signal.aborted) await once(stop.signal, 'abort');
  } finally {
    stopped = true;
    endedAt = performance.now();
    clearInterval(timer);
    idle.stop();
    cancelLimit?.();
    io.signal.removeEventListener('abort', onAbort);
  }
  // Before the socket closes: the kernel drop counter goes with it.
  let s = summary();
  await socket.close();
  if (out !== undefined && out !== io.stdout) {
    // Not events.once: it rejects on 'error', and an error on the final flush is reported below
    // with the summary rather than thrown past it.
    const file = out as WriteStream;
    if (!file.closed) {
      const closed = new Promise<void>((resolve) => file.once('close', () => resolve()));
      file.end();
      await closed;
      // The final flush may have failed: report it with the rest.
      s = { ...s, out_error: outError !== undefined ? outError.message : null };
    }
  }
  const reason = io.signal.aborted
    ? 'interrupted'
    : outError !== undefined
      ? '--out failed'
      : idle.fired
        ? `timeout: no datagram for ${idleMs! / 1000} s`
        : count !== undefined && total.packets >= count
          ? `--count ${count} reached`
          : '--duration reached';
  const rate = (s.packets as number) / (s.seconds as number);
  display.finish(
    [`summary (${reason}):`, ...lines(s, rate, (s.mbit_per_s as number) * 1e6).slice(1)],
    s,
  );
  if (outError !== undefined) {
    const code = (outError as { code?: unknown }).code;
    const where = outPath === '-' ? 'stdout' : outPath;
    io.stderr.write(
      `mediasock recv: cannot write --out ${where}${typeof code === 'string' && !outError.message.includes(code) ? ` (${code})` : ''}: ${outError.message}\n`,
    );
    return ExitCode.FAILURE;
  }
  if (idle.fired) {
    io.stderr.write(
      `mediasock recv: no datagram for ${idleMs! / 1000} s (timeout=${receiver.url.timeoutMicros} microseconds in the URL)\n`,
    );
    return ExitCode.FAILURE;
  }
  return ExitCode.OK;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
