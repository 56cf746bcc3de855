/**
 * `mediasock send URL [FILE|-]`: sends a file, stdin or a generated MPEG-TS pattern to a unicast
 * or multicast destination, raw or wrapped in RTP (sequence number, timestamp, SSRC). An MPEG-TS
 * file or stdin without `--pps`/`--bitrate` plays out in real time at the rate its PCRs say
 * ({@link TsPlayout} times the datagrams, {@link PlayoutSender} sends them: a native sender thread,
 * or Node timers without the addon); anything else is paced smoothly at `--pps` or `--bitrate`.
 * Shows live statistics like `recv`.
 *
 * @module
 */
import { randomInt } from 'node:crypto';

import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  MAX_BITS_PER_SECOND,
  MAX_PACKETS_PER_SECOND,
  MAX_UDP_PAYLOAD_BYTES,
  clockRateHz,
  durationSeconds,
  formatSi,
  integerIn,
  positiveNumber,
  intervalSeconds,
  packetsPerSecond,
  positiveInteger,
  positiveRate,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode, setLongTimeout } from './command-io.js';
import { LiveDisplay, formatMbit, roundTo } from './live-display.js';
import {
  openFileSource,
  patternSource,
  probeTransportStream,
  stdinSource,
} from './payload-source.js';
import type { PayloadSource } from './payload-source.js';
import {
  Pacer,
  PlayoutSender,
  TsPlayout,
  RTP_PAYLOAD_TYPE_MP2T,
  RTP_HEADER_BYTES,
  TS_PACKET_BYTES,
  openMediaSender,
  parseMediaUrl,
  writeRtpHeader,
} from '../index.js';
import type { MediaSender } from '../index.js';

export const SEND_HELP = `Usage: mediasock send URL [FILE|-] [options]

Sends FILE, stdin (-) or, without either, a generated MPEG-TS pattern. An MPEG-TS FILE or
stdin plays out in real time, at the rate its PCRs say (each datagram at its PCR-interpolated
time); --pps or --bitrate instead paces at a fixed rate, as for any other input.
rtp:// (or --rtp) wraps each payload in RTP.

URL forms:
  udp://127.0.0.1:5004                   unicast
  udp://239.1.1.1:5004?iface=lo&ttl=0    multicast out of lo, TTL 0 (stays on this host)
  rtp://239.1.1.1:5004?iface=eth0&ttl=16&dscp=34
  udp://127.0.0.1:1234?pkt_size=1316&bitrate=4000000   FFmpeg's own output line
  Query options: iface, ttl, dscp (needs the native addon), buffer, reuse; FFmpeg's
  pkt_size, bitrate, localport, connect, broadcast apply, its receive-side and tuning
  options (fifo_size, overrun_nonfatal, burst_bits …) are ignored with a note.

Options:
  --pps N             fixed rate: datagrams per second, up to 10M (default 1000 when the
                      input is not MPEG-TS, or is MPEG-TS without PCR)
  --bitrate R         fixed rate: UDP payload bit rate instead, e.g. 5M, 800k (up to 100G)
  --preload S         MPEG-TS playout: start-up delay before the first datagram, 0 to 60 s
                      (default 0.1; the send queue fills meanwhile)
  --pacer KIND        MPEG-TS playout sender: thread (native addon) or timer (Node timers);
                      default thread when the addon is loaded
  --rt-priority N     run the sender thread SCHED_FIFO at priority 1..99 (Linux, needs
                      CAP_SYS_NICE or RLIMIT_RTPRIO; refused, a note says so) (default 0: off)
  --payload-size B    bytes of payload per datagram, 1 to 65507, with RTP 65495
                      (default 1316 = 7 x 188, MPEG-TS)
  --rtp               wrap in RTP (implied by rtp://)
  --payload-type PT   RTP payload type (default 33, MP2T)
  --ssrc N            RTP SSRC (default random)
  --clock-rate HZ     RTP timestamp clock (default 90000)
  --iface NAME        egress interface (name, index or address)
  --bind ADDR         local address to send from (the source an SSM receiver joins)
  --ttl N             TTL / hop limit (multicast: 0..255, unicast: 1..255)
  --dscp N            DSCP 0..63 (needs the native addon)
  --loop              start FILE again at its end (the PCR jump is a discontinuity:
                      the schedule carries on without a gap)
  --count N           stop after N datagrams
  --duration S        stop after S seconds
  --gap EVERY         testing aid: skip one RTP sequence number before every EVERY-th
                      datagram, so a receiver should report exactly that many lost
  --interval S        statistics every S seconds, 0.01 to 86400 (default 1)
  --json              JSON lines even on a terminal
  --debug             print stacks of errors
  -h, --help          this help

A multicast destination without iface uses the kernel's default route interface and TTL 1,
so it leaves the machine: name the interface (and ttl=0 to stay on the host) when testing.

Examples:
  mediasock send udp://127.0.0.1:5004 capture.ts
  mediasock send udp://127.0.0.1:5004 --pps 500 --count 1000
  mediasock send 'rtp://239.1.1.1:5004?iface=lo&ttl=0' capture.ts --bitrate 4M --loop
  ffmpeg -i in.mp4 -c copy -f mpegts -muxrate 6M - | mediasock send udp://127.0.0.1:1234 -

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  pps: { type: 'string' },
  bitrate: { type: 'string' },
  'payload-size': { type: 'string' },
  rtp: { type: 'boolean' },
  'payload-type': { type: 'string' },
  ssrc: { type: 'string' },
  'clock-rate': { type: 'string' },
  iface: { type: 'string' },
  bind: { type: 'string' },
  ttl: { type: 'string' },
  dscp: { type: 'string' },
  loop: { type: 'boolean' },
  preload: { type: 'string' },
  pacer: { type: 'string' },
  'rt-priority': { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  gap: { type: 'string' },
  interval: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Runs `mediasock send`. */
export async function sendCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(SEND_HELP);
    return ExitCode.OK;
  }
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError(
      `send takes a URL and optionally a FILE or - (received ${positionals.length} arguments)`,
    );
  }
  const text = positionals[0] ?? '';
  const input = positionals[1];
  const egress = {
    iface: values.iface,
    localAddress: values.bind,
    ttl: integerIn('ttl', values.ttl, 0, 255),
    dscp: integerIn('dscp', values.dscp, 0, 63),
  };
  const url = parseMediaUrl(text);
  const rtp = url.scheme === 'rtp' || values.rtp === true;
  const headerBytes = rtp ? RTP_HEADER_BYTES : 0;
  // FFmpeg's pkt_size= is the whole datagram (RTP header included); --payload-size the payload.
  const flagPayload = positiveInteger(
    'payload-size',
    values['payload-size'],
    MAX_UDP_PAYLOAD_BYTES - headerBytes,
  );
  const urlPayload = url.packetBytes === undefined ? undefined : url.packetBytes - headerBytes;
  if (
    urlPayload !== undefined &&
    (urlPayload < 1 || urlPayload > MAX_UDP_PAYLOAD_BYTES - headerBytes)
  ) {
    throw new UsageError(
      `pkt_size=${url.packetBytes} must leave 1 to ${MAX_UDP_PAYLOAD_BYTES - headerBytes} bytes of payload${rtp ? ' after the 12-byte RTP header' : ''}`,
    );
  }
  if (flagPayload !== undefined && urlPayload !== undefined && flagPayload !== urlPayload) {
    throw new UsageError(
      `--payload-size ${flagPayload} contradicts pkt_size=${url.packetBytes} in the URL (${urlPayload} bytes of payload)`,
    );
  }
  const payloadBytes = flagPayload ?? urlPayload ?? 7 * TS_PACKET_BYTES;
  if (input === undefined && payloadBytes % TS_PACKET_BYTES !== 0) {
    throw new UsageError(
      `--payload-size must be a multiple of 188 for the generated MPEG-TS pattern`,
    );
  }
  if (values.pps !== undefined && values.bitrate !== undefined) {
    throw new UsageError('give --pps or --bitrate, not both');
  }
  const flagBitrate = positiveRate('bitrate', values.bitrate, MAX_BITS_PER_SECOND);
  // FFmpeg's bitrate= (bits/s; 0 is FFmpeg's "not paced": the command's own pacing then).
  const urlBitrate =
    url.bitsPerSecond === undefined || url.bitsPerSecond === 0 ? undefined : url.bitsPerSecond;
  if (urlBitrate !== undefined && values.pps !== undefined) {
    throw new UsageError(`give --pps or bitrate= in the URL, not both`);
  }
  if (urlBitrate !== undefined && urlBitrate > MAX_BITS_PER_SECOND) {
    throw new UsageError(`bitrate=${urlBitrate} is more than ${formatSi(MAX_BITS_PER_SECOND)}`);
  }
  if (flagBitrate !== undefined && urlBitrate !== undefined && flagBitrate !== urlBitrate) {
    throw new UsageError(
      `--bitrate ${values.bitrate ?? ''} contradicts bitrate=${urlBitrate} in the URL`,
    );
  }
  const bitrate = flagBitrate ?? urlBitrate;
  const fixedRate = values.pps !== undefined || bitrate !== undefined;
  const pps =
    bitrate !== undefined
      ? bitrate / ((payloadBytes + headerBytes) * 8)
      : (packetsPerSecond(values.pps) ?? DEFAULT_PPS);
  if (pps > MAX_PACKETS_PER_SECOND) {
    throw new UsageError(
      `--bitrate ${values.bitrate ?? ''} needs ${Math.round(pps)} datagrams per second of ${payloadBytes} bytes; at most ${formatSi(MAX_PACKETS_PER_SECOND)} are possible (raise --payload-size or lower --bitrate)`,
    );
  }
  const payloadType =
    integerIn('payload-type', values['payload-type'], 0, 127) ?? RTP_PAYLOAD_TYPE_MP2T;
  const ssrc = integerIn('ssrc', values.ssrc, 0, 0xffffffff) ?? randomInt(0, 0xffffffff);
  const clockRate = clockRateHz(values['clock-rate']);
  const count = positiveInteger('count', values.count);
  const duration = durationSeconds(values.duration);
  const gap = integerIn('gap', values.gap, 2, Number.MAX_SAFE_INTEGER);
  if (gap !== undefined && !rtp)
    throw new UsageError('--gap skips RTP sequence numbers: use rtp:// or --rtp');
  const interval = intervalSeconds(values.interval);
  if (values.loop === true && (input === undefined || input === '-')) {
    throw new UsageError('--loop needs a FILE');
  }
  const preload =
    values.preload === undefined || /^\s*(0+(\.0*)?|0*\.0+)\s*$/.test(values.preload)
      ? values.preload === undefined
        ? DEFAULT_PRELOAD_SECONDS
        : 0
      : positiveNumber('preload', values.preload, { max: 60, unit: ' of seconds' })!;
  const rtPriority = integerIn('rt-priority', values['rt-priority'], 0, 99) ?? 0;
  const pacerKind = values.pacer;
  if (pacerKind !== undefined && pacerKind !== 'thread' && pacerKind !== 'timer')
    throw new UsageError(`--pacer must be thread or timer (received ${JSON.stringify(pacerKind)})`);

  // MPEG-TS input without a rate option plays out at its PCR rate.
  let playoutWanted = false;
  if (!fixedRate && input !== undefined && input !== '-') {
    playoutWanted = await probeTransportStream(input);
  }
  let source: PayloadSource;
  if (input === undefined) source = patternSource(payloadBytes);
  else if (input === '-') source = stdinSource(io.stdin, payloadBytes);
  else
    source = await openFileSource(
      input,
      playoutWanted ? PLAYOUT_READ_BYTES : payloadBytes,
      values.loop === true,
    );
  // stdin: the first payload tells whether it is MPEG-TS.
  let first: Buffer | undefined;
  if (!fixedRate && input === '-') {
    first = await source.next(io.signal);
    playoutWanted = first !== undefined && startsLikeTransportStream(first);
  }
  if (playoutWanted && payloadBytes % TS_PACKET_BYTES !== 0) {
    await source.close();
    throw new UsageError(
      `--payload-size must be a multiple of 188 for MPEG-TS playout at the PCR rate (or give --pps or --bitrate)`,
    );
  }
  if (
    (values.preload !== undefined ||
      pacerKind !== undefined ||
      values['rt-priority'] !== undefined) &&
    !playoutWanted &&
    input !== '-'
  ) {
    await source.close();
    throw new UsageError(
      '--preload, --pacer and --rt-priority apply to MPEG-TS playout at the PCR rate (an MPEG-TS FILE or stdin without --pps or --bitrate)',
    );
  }

  let sender: MediaSender;
  try {
    sender = await openMediaSender(text, { ...egress, signal: io.signal });
  } catch (err) {
    await source.close();
    throw err;
  }
  const { socket } = sender;
  for (const notice of sender.notices) io.stderr.write(`mediasock send: note: ${notice}\n`);
  if (url.multicast && (egress.iface ?? url.iface) === undefined) {
    io.stderr.write(
      `mediasock send: note: no iface given; the group is sent out of the kernel's default interface\n`,
    );
  }
  let playout: TsPlayout | undefined;
  let out: PlayoutSender | undefined;
  if (playoutWanted) {
    try {
      playout = new TsPlayout({ packetsPerDatagram: payloadBytes / TS_PACKET_BYTES });
      out = PlayoutSender.open(socket, {
        port: sender.port,
        address: sender.address,
        preloadSeconds: preload,
        maxDatagramBytes: payloadBytes + headerBytes,
        queueDatagrams: PLAYOUT_QUEUE_DATAGRAMS,
        engine: pacerKind ?? 'auto',
        realtimePriority: rtPriority,
      });
    } catch (err) {
      await source.close();
      await socket.close();
      throw err;
    }
  }
  const display = new LiveDisplay(io.stdout, values.json === true);
  const started = performance.now();
  let sent = 0;
  let bytes = 0;
  let skipped = 0;
  let sendErrors = 0;
  const errorCodes = new Set<string>();
  let seq = randomInt(0, 0x10000);
  const tsBase = randomInt(0, 0xffffffff);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  const cancelLimit =
    duration === undefined ? undefined : setLongTimeout(() => stop.abort(), duration * 1000);
  let reason = 'end of input';

  /** Playout figures: PCR rate, achieved rate (TS bytes between first and last send), lateness. */
  const playoutFigures = (): PlayoutFigures | undefined => {
    if (playout === undefined || out === undefined) return undefined;
    const p = playout.stats();
    const o = out.stats();
    const tsBytes = o.bytes - headerBytes * o.sent;
    const span =
      o.firstSentSeconds !== null && o.lastSentSeconds !== null
        ? o.lastSentSeconds - o.firstSentSeconds
        : 0;
    return {
      pacing: p.pacing === 'bitrate' ? 'bitrate (no PCR)' : 'pcr',
      pcrPid: p.pcrPid,
      pcrBps: p.pcrBitsPerSecond,
      achievedBps: span > 0 && o.sent > 1 ? (tsBytes * 8 * ((o.sent - 1) / o.sent)) / span : null,
      late: o.late,
      maxLateMs: o.maxLatenessMs,
      meanLateMs: o.meanLatenessMs,
      discontinuities: p.discontinuities,
      engine: o.engine,
      realtime: o.realtime,
      sent: o.sent,
      bytes: o.bytes,
      sendErrors: o.sendErrors,
      lastError: o.lastError,
    };
  };
  const mbit = (bps: number | null): number | null => (bps === null ? null : roundTo(bps / 1e6, 4));

  const record = (
    type: string,
    seconds: number,
    rate: number,
    bps: number,
  ): Record<string, unknown> => {
    const f = playoutFigures();
    const base: Record<string, unknown> = {
      type,
      url: sender.description,
      packets: sent,
      bytes,
      seconds: roundTo(seconds, 3),
      pps: roundTo(rate, 1),
      mbit_per_s: roundTo(bps / 1e6, 3),
      skipped_sequence_numbers: rtp ? skipped : null,
      send_errors: sendErrors,
    };
    if (f === undefined) return { ...base, pacing: 'fixed' };
    return {
      ...base,
      pacing: f.pacing,
      pacer: f.engine,
      realtime: f.realtime,
      pcr_pid: f.pcrPid,
      pcr_mbit_per_s: mbit(f.pcrBps),
      achieved_mbit_per_s: mbit(f.achievedBps),
      late_datagrams: f.late,
      max_lateness_ms: roundTo(f.maxLateMs, 3),
      mean_lateness_ms: roundTo(f.meanLateMs, 4),
      discontinuities: f.discontinuities,
    };
  };
  const lines = (seconds: number, rate: number, bps: number): string[] => {
    const f = playoutFigures();
    const out = [
      `mediasock send  ${source.description} -> ${sender.description}`,
      `  ${seconds.toFixed(1).padStart(6)} s  ${rate.toFixed(0).padStart(7)} pps  ${formatMbit(bps).padStart(14)}` +
        `   packets ${sent}   bytes ${bytes}${rtp ? `   ssrc 0x${ssrc.toString(16).padStart(8, '0')}` : ''}` +
        `${gap !== undefined ? `   skipped seq ${skipped}` : ''}${sendErrors > 0 ? `   send errors ${sendErrors}` : ''}`,
    ];
    if (f !== undefined) {
      out.push(
        `  ${f.pacing === 'pcr' ? `PCR ${f.pcrBps === null ? '(measuring)' : formatMbit(f.pcrBps)}${f.pcrPid === null ? '' : ` (PID 0x${f.pcrPid.toString(16)})`}` : 'no PCR: fixed rate'}` +
          `   achieved ${f.achievedBps === null ? '-' : formatMbit(f.achievedBps)}` +
          `   late ${f.late} (max ${f.maxLateMs.toFixed(2)} ms)   pacer ${f.engine}` +
          `${f.discontinuities > 0 ? `   discontinuities ${f.discontinuities}` : ''}`,
      );
    }
    return out;
  };
  let rtNoted = false;
  const syncPlayoutCounters = (): void => {
    const f = playoutFigures();
    if (f === undefined) return;
    if (rtPriority > 0 && !rtNoted && typeof f.realtime === 'string') {
      rtNoted = true;
      io.stderr.write(
        `mediasock send: note: --rt-priority ${rtPriority} was refused (${f.realtime}: needs CAP_SYS_NICE or an RLIMIT_RTPRIO); the sender thread runs at normal priority\n`,
      );
    }
    sent = f.sent;
    bytes = f.bytes;
    sendErrors = f.sendErrors;
    if (f.lastError !== null && !errorCodes.has(f.lastError)) {
      errorCodes.add(f.lastError);
      io.stderr.write(`mediasock send: a send failed: ${f.lastError}\n`);
    }
  };
  let last = { t: started, sent: 0, bytes: 0 };
  const timer = setInterval(() => {
    syncPlayoutCounters();
    const now = performance.now();
    const dt = (now - last.t) / 1000;
    const rate = (sent - last.sent) / dt;
    const bps = ((bytes - last.bytes) * 8) / dt;
    last = { t: now, sent, bytes };
    display.update(
      lines((now - started) / 1000, rate, bps),
      record('stats', (now - started) / 1000, rate, bps),
    );
  }, interval * 1000);

  /** Wraps a payload in RTP when asked; the timestamp follows `seconds` (or the datagram count). */
  const wrap = (payload: Buffer, seconds: number | undefined, index: number): Buffer => {
    if (!rtp) return payload;
    if (gap !== undefined && (index + 1) % gap === 0) {
      seq = (seq + 1) & 0xffff;
      skipped++;
    }
    const datagram = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
    writeRtpHeader(datagram, {
      payloadType,
      sequenceNumber: seq,
      timestamp:
        (tsBase +
          (seconds === undefined
            ? Math.floor((index * clockRate) / pps)
            : Math.floor(seconds * clockRate))) %
        0x100000000,
      ssrc,
    });
    payload.copy(datagram, RTP_HEADER_BYTES);
    seq = (seq + 1) & 0xffff;
    return datagram;
  };

  try {
    if (playout !== undefined && out !== undefined) {
      reason = await playoutLoop(playout, out);
    } else {
      reason = await fixedLoop();
    }
    if (stop.signal.aborted) reason = io.signal.aborted ? 'interrupted' : '--duration reached';
  } finally {
    clearInterval(timer);
    cancelLimit?.();
    io.signal.removeEventListener('abort', onAbort);
    await out?.close();
    syncPlayoutCounters();
    await source.close();
    await socket.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const rate = sent / seconds;
  const bps = (bytes * 8) / seconds;
  display.finish(
    [`summary (${reason}):`, ...lines(seconds, rate, bps).slice(1)],
    record('summary', seconds, rate, bps),
  );
  return sent > 0 && sendErrors === sent ? ExitCode.FAILURE : ExitCode.OK;

  /** Fixed-rate pacing (--pps / --bitrate, or input that is not MPEG-TS). */
  async function fixedLoop(): Promise<string> {
    const pacer = new Pacer({ packetsPerSecond: pps });
    for (;;) {
      try {
        let n = await pacer.next(stop.signal);
        while (n-- > 0) {
          if (count !== undefined && sent >= count) return `--count ${count} reached`;
          let payload: Buffer | undefined;
          if (first !== undefined) {
            payload = first;
            first = undefined;
          } else payload = await source.next(stop.signal);
          if (payload === undefined) return 'end of input';
          const datagram = wrap(payload, undefined, sent);
          try {
            if (sender.connected) await socket.send(datagram);
            else await socket.send(datagram, sender.port, sender.address);
            bytes += datagram.length;
          } catch (err) {
            sendErrors++;
            const code = (err as { code?: string }).code ?? (err as Error).message;
            if (!errorCodes.has(code)) {
              errorCodes.add(code);
              io.stderr.write(`mediasock send: ${(err as Error).message}\n`);
            }
          }
          sent++;
        }
      } catch (err) {
        if (stop.signal.aborted) return 'interrupted';
        throw err;
      }
      if (stop.signal.aborted) return 'interrupted';
    }
  }

  /** MPEG-TS playout: datagrams timed by their PCRs, sent by the playout sender. */
  async function playoutLoop(ts: TsPlayout, pacedOut: PlayoutSender): Promise<string> {
    let queued = 0;
    let restarts = source.restarts ?? 0;
    let warned = false;
    try {
      for (;;) {
        let chunk: Buffer | undefined;
        if (first !== undefined) {
          chunk = first;
          first = undefined;
        } else chunk = await source.next(stop.signal);
        if (stop.signal.aborted) return 'interrupted';
        if ((source.restarts ?? 0) !== restarts) {
          restarts = source.restarts ?? 0;
          ts.markDiscontinuity();
        }
        const datagrams = chunk === undefined ? ts.end() : ts.push(chunk);
        if (!warned && ts.stats().pacing === 'bitrate') {
          warned = true;
          io.stderr.write(
            `mediasock send: note: no PCR in the first ${Math.min(PCR_SEARCH_PACKETS, ts.stats().packets)} packets; sending at the fixed rate of ${DEFAULT_PPS} datagrams/s (give --bitrate for another rate)\n`,
          );
        }
        for (const d of datagrams) {
          if (count !== undefined && queued >= count) {
            await pacedOut.drain(stop.signal);
            return `--count ${count} reached`;
          }
          await pacedOut.send(wrap(d.payload, d.departure, queued), d.departure, stop.signal);
          queued++;
        }
        if (chunk === undefined) break;
      }
      await pacedOut.drain(stop.signal);
      return 'end of input';
    } catch (err) {
      if (stop.signal.aborted) return 'interrupted';
      throw err;
    }
  }
}

/** What the live display and the summary show of a playout. */
interface PlayoutFigures {
  pacing: 'pcr' | 'bitrate (no PCR)';
  pcrPid: number | null;
  pcrBps: number | null;
  achievedBps: number | null;
  late: number;
  maxLateMs: number;
  meanLateMs: number;
  discontinuities: number;
  engine: 'thread' | 'timer';
  realtime: boolean | string;
  sent: number;
  bytes: number;
  sendErrors: number;
  lastError: string | null;
}

/** Datagrams per second without a rate option, for input that is not timed by PCRs. */
const DEFAULT_PPS = 1000;
/** Start-up delay of a playout, seconds. */
const DEFAULT_PRELOAD_SECONDS = 0.1;
/** Bytes read from a file per call in playout (348 packets). */
const PLAYOUT_READ_BYTES = 348 * TS_PACKET_BYTES;
/** Datagrams queued ahead of their departure in playout. */
const PLAYOUT_QUEUE_DATAGRAMS = 1024;
/** Packets read without a PCR before a stream is sent at the fixed rate (TsPlayout's default). */
const PCR_SEARCH_PACKETS = 20_000;

/** Whether a buffer starts with whole MPEG-TS packets (sync bytes every 188 bytes, at least two). */
function startsLikeTransportStream(b: Buffer): boolean {
  if (b.length < 2 * TS_PACKET_BYTES) return false;
  for (let i = 0; i + TS_PACKET_BYTES <= b.length; i += TS_PACKET_BYTES)
    if (b[i] !== 0x47) return false;
  return true;
}
