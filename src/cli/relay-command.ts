/**
 * `mediasock relay IN OUT...`: receives one stream and forwards every datagram to each output,
 * with packet, byte and error counters per output. From rtp:// to udp:// the RTP header is
 * stripped; from udp:// to rtp:// each datagram is wrapped in RTP; same scheme, forwarded as is.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  COMMON_OPTIONS,
  UsageError,
  parseCommandArgs,
  durationSeconds,
  intervalSeconds,
  positiveInteger,
} from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode, setLongTimeout } from './command-io.js';
import { watchIdle } from './idle-timeout.js';
import { LiveDisplay, formatMbit, roundTo } from './live-display.js';
import {
  RTP_PAYLOAD_TYPE_MP2T,
  openMediaReceiver,
  openMediaSender,
  parseMediaUrl,
} from '../index.js';
import { reachesInput } from './relay-loop.js';
import { RelayOutput } from './relay-output.js';
import { FirstDatagrams, WrappedPayloads } from './relay-payloads.js';

export const RELAY_HELP = `Usage: mediasock relay IN OUT... [options]

Receives IN (a listen URL, as for recv) and sends every datagram to each OUT (a destination
URL, as for send), counting packets, bytes and errors per output. rtp:// -> udp:// strips
the RTP header; udp:// -> rtp:// wraps each datagram in RTP (payload type 33, 90 kHz).
FFmpeg's URL options apply as in recv and send (timeout= on IN: exit 1 after that many
microseconds without a datagram); see docs/url-options.md.

Options:
  --iface NAME        join IN on this interface too (repeatable)
  --count N           stop after N datagrams received
  --duration S        stop after S seconds
  --interval S        statistics every S seconds, 0.01 to 86400 (default 1)
  --max-in-flight N   datagrams pending per output before that output drops, up to 1048576
                      (default 1024)
  --json              JSON lines even on a terminal
  --debug             print stacks of errors
  -h, --help          this help

Each batch goes to each output at once, with one system call, as far as the output's send queue
takes it; what does not fit is pending until the queue has room. An output that cannot keep up
never holds up the input or the other outputs and never makes memory grow: once --max-in-flight
datagrams are pending on it, further datagrams for it are dropped and counted in its "dropped"
counter until sends complete again.

Each output's socket is connected to its destination unless its URL says connect=0: the kernel
then skips a route lookup per datagram, and a unicast destination where nothing listens shows as
errors ("connection refused") instead of silent loss.

An output that would feed the input (its port, on the address IN listens on, any local address
for a wildcard IN, or IN's multicast group) is refused with exit 2: every datagram would come
back and be relayed again.

Examples:
  mediasock relay 'udp://@239.1.1.1:5004?iface=eth0' udp://10.0.0.2:5004 udp://10.0.0.3:5004
  mediasock relay rtp://@:5004 'udp://239.2.2.2:1234?iface=eth1&ttl=8'

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  iface: { type: 'string', multiple: true },
  count: { type: 'string' },
  duration: { type: 'string' },
  interval: { type: 'string' },
  'max-in-flight': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** How long the end of a run waits for pending sends before closing the outputs anyway. */
const SETTLE_MS = 2000;

/** Default of `--max-in-flight`: pending sends per output before datagrams are dropped for it. */
const DEFAULT_MAX_IN_FLIGHT = 1024;

/** The most `--max-in-flight` accepts: pending sends hold their datagrams in memory. */
const MAX_IN_FLIGHT = 1 << 20;

/** Runs `mediasock relay`. */
export async function relayCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(RELAY_HELP);
    return ExitCode.OK;
  }
  if (positionals.length < 2)
    throw new UsageError('relay takes an input URL and at least one output URL');
  const [inText = '', ...outTexts] = positionals;
  const ifaces = values.iface ?? [];
  const count = positiveInteger('count', values.count);
  const duration = durationSeconds(values.duration);
  const interval = intervalSeconds(values.interval);
  const maxInFlight =
    positiveInteger('max-in-flight', values['max-in-flight'], MAX_IN_FLIGHT) ??
    DEFAULT_MAX_IN_FLIGHT;
  // Every URL's syntax before anything opens; the rest is checked as each socket opens.
  const inUrl = parseMediaUrl(inText);
  for (const t of outTexts) parseMediaUrl(t);

  // Where datagrams come from does not matter to a relay: no source address per datagram.
  const receiver = await openMediaReceiver(inText, {
    interfaces: ifaces,
    batch: { sourceAddress: false },
    signal: io.signal,
  });
  for (const notice of receiver.notices) io.stderr.write(`mediasock relay: note: ${notice}\n`);
  const input = {
    boundAddress: receiver.socket.address().address,
    port: receiver.socket.address().port,
  };
  const outputs: RelayOutput[] = [];
  try {
    for (const t of outTexts) {
      const sender = await openMediaSender(t, { signal: io.signal, connect: true });
      for (const notice of sender.notices) io.stderr.write(`mediasock relay: note: ${notice}\n`);
      if (reachesInput(input, sender.address, sender.port)) {
        await sender.socket.close();
        throw new UsageError(
          `output ${t} sends to the input ${inText} (${sender.address} port ${sender.port} arrives where the input listens): every datagram would come back and be relayed again`,
        );
      }
      const mode =
        inUrl.scheme === sender.url.scheme ? 'as-is' : inUrl.scheme === 'rtp' ? 'strip' : 'wrap';
      outputs.push(
        new RelayOutput(
          sender,
          mode,
          maxInFlight,
          new WrappedPayloads(randomInt(0, 0xffffffff), randomInt(0, 0x10000)),
        ),
      );
    }
  } catch (err) {
    await Promise.all([receiver.socket.close(), ...outputs.map((o) => o.sender.socket.close())]);
    throw err;
  }

  const started = performance.now();
  // Counters as fields of an object: a closure variable past 2^30 (the bytes of 1 GiB relayed)
  // would hold a heap number, a new one at every addition; a field is updated in place.
  const total = { packets: 0, bytes: 0 };
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  let stopped = false;

  const first = new FirstDatagrams();
  // FFmpeg's timeout= (µs) on the input: fail after that long without a datagram.
  const idleMs = receiver.idleTimeoutMs;
  const idle = watchIdle(idleMs, () => stop.abort());
  receiver.socket.on('batch', (batch) => {
    if (stopped) return;
    idle.touch();
    // Datagrams may arrive in a batch, several before the stop takes effect: --count is exact.
    const n = count === undefined ? batch.count : Math.min(batch.count, count - total.packets);
    if (n <= 0) return;
    const input = n === batch.count ? batch : first.load(batch, n);
    total.packets += n;
    for (let i = 0; i < n; i++) total.bytes += batch.length(i);
    for (const o of outputs) {
      if (o.mode === 'as-is') o.forward(input);
      else if (o.mode === 'strip') o.forward(o.stripped.load(input, n));
      else o.forward(o.wrapped.load(input, n, RTP_PAYLOAD_TYPE_MP2T, clock90k(started), o.idle));
    }
    if (count !== undefined && total.packets >= count) stop.abort();
  });

  const display = new LiveDisplay(io.stdout, values.json === true);
  const record = (type: string): Record<string, unknown> => {
    const seconds = (performance.now() - started) / 1000;
    return {
      type,
      seconds: roundTo(seconds, 3),
      input: {
        url: receiver.description,
        packets: total.packets,
        bytes: total.bytes,
        not_rtp: outputs.reduce((n, o) => Math.max(n, o.stripped.notRtp), 0),
      },
      outputs: outputs.map((o) => ({
        url: o.sender.description,
        mode: o.mode,
        packets: o.packets,
        bytes: o.bytes,
        errors: o.errors,
        dropped: o.dropped,
        last_error: o.lastError ?? null,
      })),
    };
  };
  const lines = (): string[] => {
    const seconds = (performance.now() - started) / 1000;
    return [
      `mediasock relay  ${seconds.toFixed(1)} s`,
      `  in   ${receiver.description}   packets ${total.packets}   ${formatMbit((total.bytes * 8) / Math.max(seconds, 1e-3))}`,
      ...outputs.map(
        (o) =>
          `  out  ${o.sender.description}${o.mode === 'as-is' ? '' : ` [${o.mode} RTP]`}   packets ${o.packets}   bytes ${o.bytes}   errors ${o.errors}${o.dropped > 0 ? `   dropped ${o.dropped}` : ''}${o.lastError !== undefined ? ` (${o.lastError})` : ''}`,
      ),
    ];
  };
  const timer = setInterval(() => display.update(lines(), record('stats')), interval * 1000);
  const cancelLimit =
    duration === undefined ? undefined : setLongTimeout(() => stop.abort(), duration * 1000);
  display.update(lines(), record('start'));
  try {
    if (!stop.signal.aborted) await once(stop.signal, 'abort');
  } finally {
    stopped = true;
    idle.stop();
    clearInterval(timer);
    cancelLimit?.();
    io.signal.removeEventListener('abort', onAbort);
    await receiver.socket.close();
    // Let the sends still in flight settle (errors are counted above), but not forever: a
    // stalled output's sends end when its socket closes (counted as errors).
    await settleWithin(() => outputs.every((o) => o.pending === 0), SETTLE_MS);
    await Promise.all(outputs.map((o) => o.sender.socket.close()));
  }
  display.finish(['summary:', ...lines().slice(1)], record('summary'));
  if (idle.fired) {
    io.stderr.write(
      `mediasock relay: no datagram for ${idleMs! / 1000} s on the input (timeout=${receiver.url.timeoutMicros} microseconds in the URL)\n`,
    );
    return ExitCode.FAILURE;
  }
  return ExitCode.OK;
}

/** Resolves once `done()` holds (checked every 10 ms), or after `ms`, whichever comes first. */
async function settleWithin(done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await sleep(10);
}

/** The 90 kHz RTP clock since `startedMs`. */
function clock90k(startedMs: number): number {
  return Math.floor(((performance.now() - startedMs) * 90000) / 1000);
}
