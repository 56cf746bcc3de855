/**
 * `mediasock recv rtsp://…` and `mediasock rtsp describe URL`: the RTSP client on the command line.
 *
 * `recv` plays every media of the URL over the chosen transport and shows live statistics per
 * media (packets, bytes, lost, duplicates, reordered, jitter, the transport in use), ending with a
 * JSON summary; `--out FILE` writes the TS bytes of an MP2T media. Ctrl-C (the command's signal)
 * sends TEARDOWN before the summary. `describe` prints the SDP and a media table.
 *
 * Wiring: `main.ts` maps `rtsp` to {@link rtspCommand}; `recv-command.ts` hands URLs that start
 * with `rtsp://` to {@link rtspRecvCommand}.
 *
 * @module
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

import {
  RtspClient,
  type MediaStats,
  type RtspTransportChoice,
  type SdpMedia,
  type SdpSession,
} from '../index.js';
import { RTP_PAYLOAD_TYPE_MP2T, type RtpHeader } from '../rtp/rtp-packet.js';
import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  durationSeconds,
  intervalSeconds,
  positiveInteger,
  positiveNumber,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';
import { LiveDisplay, roundTo } from './live-display.js';
import { TsChecker } from '../index.js';

/** `--timeout S`: seconds an RTSP request may take, at most an hour; default 10. */
function timeoutSeconds(text: string | undefined): number {
  return positiveNumber('timeout', text, { max: 3600, unit: ' of seconds' }) ?? 10;
}

export const RTSP_RECV_HELP = `Usage: mediasock recv rtsp://[user:password@]host[:port]/path [options]

Plays an RTSP stream (RTSP 1.0: DESCRIBE, SETUP of every media, PLAY) and shows live
statistics per media, ending with a JSON summary. Ctrl-C sends TEARDOWN, then the summary.

Options:
  --transport T       udp, tcp (interleaved), multicast or auto (default: auto, UDP then TCP)
  --out FILE|-        write the MPEG-TS bytes of an MP2T media to FILE or stdout
  --count N           stop after N RTP packets (all media)
  --duration S        stop after S seconds
  --interval S        statistics every S seconds (default 1)
  --timeout S         time limit of each RTSP request (default 10)
  --json              JSON lines even on a terminal
  -h, --help          this help

The summary has, per media: packets, bytes, lost, duplicates, reordered, jitter_ms and the
transport chosen.

Exit codes: 0 ok, 1 runtime failure (server error, wrong password, no transport), 2 usage error.
`;

export const RTSP_HELP = `Usage: mediasock rtsp describe rtsp://[user:password@]host[:port]/path [--json]

Sends OPTIONS and DESCRIBE and prints the session description (SDP) and a table of its media:
index, type, payload type, encoding, clock rate and control URL. --json prints one object.

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const RECV_OPTIONS = {
  ...COMMON_OPTIONS,
  transport: { type: 'string' },
  out: { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const TRANSPORTS: readonly RtspTransportChoice[] = ['udp', 'tcp', 'multicast', 'auto'];

/** The URL without its password, for display. */
function displayUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== '') url.password = '***';
    return url.href;
  } catch (err) {
    throw new UsageError(`not a URL: ${JSON.stringify(text)} (${(err as Error).message})`);
  }
}

/** Runs `mediasock recv rtsp://…`. */
export async function rtspRecvCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, RECV_OPTIONS);
  if (values.help === true) {
    io.stdout.write(RTSP_RECV_HELP);
    return ExitCode.OK;
  }
  if (positionals.length !== 1 || !(positionals[0] ?? '').startsWith('rtsp://')) {
    throw new UsageError('recv takes one rtsp:// URL');
  }
  const text = positionals[0] as string;
  const shown = displayUrl(text);
  const transport = (values.transport ?? 'auto') as RtspTransportChoice;
  if (!TRANSPORTS.includes(transport)) {
    throw new UsageError(
      `--transport must be one of ${TRANSPORTS.join(', ')} (received ${JSON.stringify(values.transport)})`,
    );
  }
  const count = positiveInteger('count', values.count);
  const duration = durationSeconds(values.duration);
  const interval = intervalSeconds(values.interval);
  const timeoutS = timeoutSeconds(values.timeout);
  if (values.out === '') throw new UsageError('--out needs a file name or "-"');
  const out = await openOut(values.out, io);

  const recorder = new Recorder(out, count);
  const opening = new AbortController();
  const onAbort = (): void => opening.abort(io.signal.reason);
  io.signal.addEventListener('abort', onAbort, { once: true });
  let client: RtspClient;
  try {
    client = await RtspClient.open(text, {
      transport,
      requestTimeoutMs: Math.round(timeoutS * 1000),
      signal: opening.signal,
      onRtp: (index, packet, header, media) => recorder.rtp(index, packet, header, media),
    });
  } catch (err) {
    io.signal.removeEventListener('abort', onAbort);
    if (out !== undefined && out !== io.stdout) (out as WriteStream).end();
    throw err;
  }
  return await playing(
    client,
    { shown, duration, interval, out, json: values.json === true },
    recorder,
    io,
    onAbort,
  );
}

async function openOut(
  path: string | undefined,
  io: CommandIo,
): Promise<NodeJS.WritableStream | undefined> {
  if (path === undefined) return undefined;
  if (path === '-') return io.stdout;
  try {
    const file = createWriteStream(path, { flags: 'w' });
    await once(file, 'open');
    return file;
  } catch (err) {
    throw new UsageError(`cannot write --out ${path}: ${(err as Error).message}`);
  }
}

/**
 * Counts packets, checks and writes the TS of MP2T media. Attached through `onRtp` before PLAY so
 * that --out starts with the stream's first packet; `stop` fires once --count is reached.
 */
class Recorder {
  packets = 0;
  readonly ts = new TsChecker();
  readonly stop = new AbortController();

  constructor(
    private readonly out: NodeJS.WritableStream | undefined,
    private readonly count: number | undefined,
  ) {}

  rtp(_index: number, packet: Buffer, header: RtpHeader, media: SdpMedia): void {
    if (this.stop.signal.aborted) return;
    this.packets++;
    const encoding = media.rtpmap[header.payloadType]?.encoding.toUpperCase();
    if (encoding === 'MP2T' || header.payloadType === RTP_PAYLOAD_TYPE_MP2T) {
      const payload = packet.subarray(header.payloadOffset, header.payloadEnd);
      this.ts.addPackets(payload);
      this.out?.write(payload);
    }
    if (this.count !== undefined && this.packets >= this.count) this.stop.abort();
  }
}

interface PlayOptions {
  shown: string;
  duration: number | undefined;
  interval: number;
  out: NodeJS.WritableStream | undefined;
  json: boolean;
}

/** Receives until Ctrl-C, --count, --duration or the session ends; prints the summary. */
async function playing(
  client: RtspClient,
  o: PlayOptions,
  recorder: Recorder,
  io: CommandIo,
  onAbort: () => void,
): Promise<number> {
  const display = new LiveDisplay(o.out === io.stdout ? io.stderr : io.stdout, o.json);
  const started = performance.now();
  const { ts, stop } = recorder;
  const stopNow = (): void => stop.abort();
  io.signal.addEventListener('abort', stopNow, { once: true });
  let sessionError: Error | undefined;
  client.on('close', (err) => {
    if (err !== undefined) sessionError = err;
    stop.abort();
  });
  const record = (type: string): Record<string, unknown> =>
    summaryRecord(type, client, o.shown, (performance.now() - started) / 1000, ts);
  // The summary is taken the moment the run stops (abort listeners run synchronously): packets
  // still arriving in the same read, or before TEARDOWN is answered, would overshoot --count.
  let final: Record<string, unknown> | undefined;
  stop.signal.addEventListener('abort', () => (final ??= record('summary')), { once: true });
  display.update([`mediasock recv  ${o.shown}  (${client.transport ?? '?'})`], record('start'));
  const timer = setInterval(
    () => display.update(lines(record('stats'), o.shown), record('stats')),
    o.interval * 1000,
  );
  const limit = o.duration === undefined ? undefined : setTimeout(stopNow, o.duration * 1000);
  try {
    if (!stop.signal.aborted) await once(stop.signal, 'abort');
  } finally {
    clearInterval(timer);
    clearTimeout(limit);
    io.signal.removeEventListener('abort', stopNow);
    io.signal.removeEventListener('abort', onAbort);
  }
  final ??= record('summary');
  await client.close();
  final.teardown =
    sessionError !== undefined
      ? 'not sent (session ended)'
      : client.teardownError === undefined
        ? 'ok'
        : String((client.teardownError as Error).message);
  if (o.out !== undefined && o.out !== io.stdout) {
    const file = o.out as WriteStream;
    const closed = new Promise<void>((resolve) => file.once('close', () => resolve()));
    file.end();
    await closed;
  }
  display.finish(['summary:', ...lines(final, o.shown).slice(1)], final);
  if (sessionError !== undefined) {
    io.stderr.write(`mediasock recv: ${sessionError.message}\n`);
    return ExitCode.FAILURE;
  }
  return ExitCode.OK;
}

function mediaRecord(s: MediaStats, sdp: SdpSession | undefined): Record<string, unknown> {
  const media = sdp?.media[s.media];
  const pt = media?.formats[0] ?? -1;
  return {
    media: s.media,
    type: media?.type ?? null,
    encoding: media?.rtpmap[pt]?.encoding ?? null,
    packets: s.packets,
    bytes: s.bytes,
    lost: s.lost,
    duplicates: s.duplicates,
    reordered: s.reordered,
    jitter_ms: roundTo(s.jitterMs, 3),
    sender_reports: s.senderReports,
    receiver_reports: s.receiverReports,
    transport: s.transport,
  };
}

function summaryRecord(
  type: string,
  client: RtspClient,
  url: string,
  seconds: number,
  ts: TsChecker,
): Record<string, unknown> {
  const media = client.stats().map((s) => mediaRecord(s, client.sdp));
  return {
    type,
    url,
    transport: client.transport ?? null,
    seconds: roundTo(seconds, 3),
    packets: media.reduce((n, m) => n + (m.packets as number), 0),
    lost: media.reduce((n, m) => n + (m.lost as number), 0),
    keepalives: client.keepalives.sent,
    ts_packets: ts.packets,
    ts_cc_errors: ts.packets > 0 ? ts.ccErrors : null,
    media,
  };
}

function lines(r: Record<string, unknown>, url: string): string[] {
  const out = [
    `mediasock recv  ${url}  ${String(r.transport)}  ${(r.seconds as number).toFixed(1)} s`,
  ];
  for (const m of r.media as Array<Record<string, unknown>>) {
    out.push(
      `  #${String(m.media)} ${String(m.type)}/${String(m.encoding)}  packets ${String(m.packets)}  bytes ${String(m.bytes)}  lost ${String(m.lost)}  dup ${String(m.duplicates)}  reordered ${String(m.reordered)}  jitter ${(m.jitter_ms as number).toFixed(3)} ms  ${String(m.transport)}`,
    );
  }
  if ((r.ts_packets as number) > 0)
    out.push(`  mpeg-ts  packets ${String(r.ts_packets)}  cc errors ${String(r.ts_cc_errors)}`);
  return out;
}

/** Runs `mediasock rtsp SUBCOMMAND …` (today: `describe`). */
export async function rtspCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...COMMON_OPTIONS,
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help === true || positionals.length === 0) {
    (values.help === true ? io.stdout : io.stderr).write(RTSP_HELP);
    return values.help === true ? ExitCode.OK : ExitCode.USAGE;
  }
  const [sub, url, ...rest] = positionals;
  if (sub !== 'describe')
    throw new UsageError(`unknown rtsp subcommand ${JSON.stringify(sub)}; subcommands: describe`);
  if (url === undefined || !url.startsWith('rtsp://') || rest.length > 0) {
    throw new UsageError('rtsp describe takes one rtsp:// URL');
  }
  displayUrl(url);
  const timeoutS = timeoutSeconds(values.timeout);
  const sdp = await RtspClient.describe(url, {
    requestTimeoutMs: Math.round(timeoutS * 1000),
    signal: io.signal,
  });
  const table = sdp.media.map((m, i) => {
    const pt = m.formats[0] ?? -1;
    return {
      media: i,
      type: m.type,
      payload_type: pt,
      encoding: m.rtpmap[pt]?.encoding ?? null,
      clock_rate: m.rtpmap[pt]?.clockRate ?? null,
      control: m.controlUrl,
    };
  });
  if (values.json === true) {
    io.stdout.write(
      `${JSON.stringify({ type: 'describe', url: displayUrl(url), name: sdp.name, control: sdp.controlUrl, media: table })}\n`,
    );
    return ExitCode.OK;
  }
  io.stdout.write(`${sdp.raw.trimEnd()}\n\n`);
  io.stdout.write('  #  type   pt   encoding        clock    control\n');
  for (const m of table) {
    io.stdout.write(
      `  ${String(m.media).padEnd(2)} ${m.type.padEnd(6)} ${String(m.payload_type).padEnd(4)} ${String(m.encoding ?? '-').padEnd(15)} ${String(m.clock_rate ?? '-').padEnd(8)} ${m.control}\n`,
    );
  }
  return ExitCode.OK;
}
