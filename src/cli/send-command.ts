/**
 * `mediasock send URL [FILE|-]`: sends a file, stdin or a generated MPEG-TS pattern to a unicast
 * or multicast destination at a smoothly paced rate, raw or wrapped in RTP (sequence number,
 * timestamp, SSRC). Shows live statistics like `recv`.
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
  intervalSeconds,
  packetsPerSecond,
  positiveInteger,
  positiveRate,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode, setLongTimeout } from './command-io.js';
import { LiveDisplay, formatMbit, roundTo } from './live-display.js';
import { openFileSource, patternSource, stdinSource } from './payload-source.js';
import type { PayloadSource } from './payload-source.js';
import {
  Pacer,
  RTP_PAYLOAD_TYPE_MP2T,
  RTP_HEADER_BYTES,
  TS_PACKET_BYTES,
  openMediaSender,
  parseMediaUrl,
  writeRtpHeader,
} from '../index.js';
import type { MediaSender } from '../index.js';

export const SEND_HELP = `Usage: mediasock send URL [FILE|-] [options]

Sends FILE, stdin (-) or, without either, a generated MPEG-TS pattern, paced smoothly at
--pps or --bitrate. rtp:// (or --rtp) wraps each payload in RTP.

URL forms:
  udp://127.0.0.1:5004                   unicast
  udp://239.1.1.1:5004?iface=lo&ttl=0    multicast out of lo, TTL 0 (stays on this host)
  rtp://239.1.1.1:5004?iface=eth0&ttl=16&dscp=34
  udp://127.0.0.1:1234?pkt_size=1316&bitrate=4000000   FFmpeg's own output line
  Query options: iface, ttl, dscp (needs the native addon), buffer, reuse; FFmpeg's
  pkt_size, bitrate, localport, connect, broadcast apply, its receive-side and tuning
  options (fifo_size, overrun_nonfatal, burst_bits …) are ignored with a note.

Options:
  --pps N             datagrams per second, up to 10M (default 1000)
  --bitrate R         UDP payload bit rate instead, e.g. 5M, 800k (up to 100G)
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
  --loop              start FILE again at its end
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
  mediasock send udp://127.0.0.1:5004 --pps 500 --count 1000
  mediasock send rtp://239.1.1.1:5004?iface=lo&ttl=0 capture.ts --bitrate 4M --loop
  ffmpeg -re -i in.mp4 -c copy -f mpegts - | mediasock send udp://127.0.0.1:1234 - --bitrate 6M

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
  const pps =
    bitrate !== undefined
      ? bitrate / ((payloadBytes + headerBytes) * 8)
      : (packetsPerSecond(values.pps) ?? 1000);
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

  let source: PayloadSource;
  if (input === undefined) source = patternSource(payloadBytes);
  else if (input === '-') source = stdinSource(io.stdin, payloadBytes);
  else source = await openFileSource(input, payloadBytes, values.loop === true);

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

  const record = (
    type: string,
    seconds: number,
    rate: number,
    bps: number,
  ): Record<string, unknown> => ({
    type,
    url: sender.description,
    packets: sent,
    bytes,
    seconds: roundTo(seconds, 3),
    pps: roundTo(rate, 1),
    mbit_per_s: roundTo(bps / 1e6, 3),
    skipped_sequence_numbers: rtp ? skipped : null,
    send_errors: sendErrors,
  });
  const lines = (seconds: number, rate: number, bps: number): string[] => [
    `mediasock send  ${source.description} -> ${sender.description}`,
    `  ${seconds.toFixed(1).padStart(6)} s  ${rate.toFixed(0).padStart(7)} pps  ${formatMbit(bps).padStart(14)}` +
      `   packets ${sent}   bytes ${bytes}${rtp ? `   ssrc 0x${ssrc.toString(16).padStart(8, '0')}` : ''}` +
      `${gap !== undefined ? `   skipped seq ${skipped}` : ''}${sendErrors > 0 ? `   send errors ${sendErrors}` : ''}`,
  ];
  let last = { t: started, sent: 0, bytes: 0 };
  const timer = setInterval(() => {
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

  const pacer = new Pacer({ packetsPerSecond: pps });
  try {
    outer: for (;;) {
      try {
        let n = await pacer.next(stop.signal);
        while (n-- > 0) {
          if (count !== undefined && sent >= count) {
            reason = `--count ${count} reached`;
            break outer;
          }
          const payload = await source.next(stop.signal);
          if (payload === undefined) break outer;
          let datagram = payload;
          if (rtp) {
            if (gap !== undefined && (sent + 1) % gap === 0) {
              seq = (seq + 1) & 0xffff;
              skipped++;
            }
            datagram = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
            writeRtpHeader(datagram, {
              payloadType,
              sequenceNumber: seq,
              timestamp: tsBase + Math.floor((sent * clockRate) / pps),
              ssrc,
            });
            payload.copy(datagram, RTP_HEADER_BYTES);
            seq = (seq + 1) & 0xffff;
          }
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
        if (stop.signal.aborted) break;
        throw err;
      }
      if (stop.signal.aborted) break;
    }
    if (stop.signal.aborted) reason = io.signal.aborted ? 'interrupted' : '--duration reached';
  } finally {
    clearInterval(timer);
    cancelLimit?.();
    io.signal.removeEventListener('abort', onAbort);
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
}
