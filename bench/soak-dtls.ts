/**
 * The DTLS part of the soak run, as its own process so its memory is its own:
 *
 *   node --import tsx bench/soak-dtls.ts <packetsPerSecond> <maxSeconds>
 *
 * A RIST Main-profile receiver (DTLS server) and sender (DTLS client) on 127.0.0.1, a PSK
 * handshake (a fresh random key per run), then the sender writes the soak RTP/MPEG-TS stream
 * (`soak-rtp.ts`) as DTLS records at `packetsPerSecond`, paced in 5 ms ticks, and the receiver
 * reads and sequence-checks every record. It prints `{"type":"start",...}` once the handshake is
 * done, and answers the soak probe (`soak-probe.ts`, fd from `MEDIASOCK_SOAK_PROBE_FD`) with its
 * memory plus `sent`, `received`, `lost` and the DTLS counters.
 *
 * SIGINT/SIGTERM or the end of stdin (the harness went away) stop the sender; the receiver gets
 * 500 ms to drain, one `{"type":"summary",...}` line is printed, both transports close and the
 * process exits 0. It exits 1 on any failure, and by itself after `maxSeconds` (a bound for when
 * nobody stops it). Loopback only.
 *
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { DtlsError, RistTransport, SocketClosedError, nativeStatus } from '../src/index.js';
import { reportAlso } from './soak-probe.js';
import { RTP_PACKET_BYTES, RtpTsWriter, SeqTracker } from './soak-rtp.js';

const HOST = '127.0.0.1';
const TICK_MS = 5;
/** Records per tick at most: 4x the nominal 2000/s share of a 5 ms tick, room to catch up. */
const BURST_MAX = 40;
const DRAIN_MS = 500;

const [rateArg, maxSecondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const maxSeconds = Number(maxSecondsArg);
if (!(rate > 0 && rate <= 100_000) || !(maxSeconds > 0)) {
  process.stderr.write('usage: soak-dtls.ts <packetsPerSecond 1..100000> <maxSeconds>\n');
  process.exit(2);
}

function fail(message: string): never {
  process.stderr.write(`soak-dtls: ${message}\n`);
  process.exit(1);
}

if (!nativeStatus().loaded)
  fail(`DTLS needs the native addon: ${String(nativeStatus().loadError)}`);

const rx = await RistTransport.listenEphemeralSingle({ address: HOST });
const tx = await RistTransport.listenEphemeralSingle({ address: HOST });
const psk = { identity: 'mediasock-soak', key: randomBytes(32).toString('hex') };
rx.enableDtlsServer({ psk });
tx.enableDtlsClient({ address: HOST, port: rx.mediaPort }, { psk });
const [server, client] = await Promise.all([
  rx.handshake({ timeoutMs: 10_000 }),
  tx.handshake({ timeoutMs: 10_000 }),
]);
if (client.maxDataBytes < RTP_PACKET_BYTES)
  fail(`a DTLS record carries ${client.maxDataBytes} bytes, less than ${RTP_PACKET_BYTES}`);

const tracker = new SeqTracker();
let sent = 0;
let sendErrors = 0;
let lastSendError = '';
let stopping = false;
let readError: unknown;

const counters = (): Record<string, unknown> => {
  const d = rx.stats.dtls;
  return {
    sent,
    received: tracker.received,
    lost: tracker.lost,
    malformed: tracker.malformed,
    send_errors: sendErrors,
    reader_drops: d?.readerDrops ?? null,
    foreign_dropped: d?.foreignDropped ?? null,
    internal_errors: (d?.internalErrors ?? 0) + (tx.stats.dtls?.internalErrors ?? 0),
    records_received: d?.recordsReceived ?? null,
  };
};
reportAlso(counters);

// Receiver: one record per read, until the transport closes. Bounded by what was sent (plus
// slack for the reads that end the loop) and by the process's own lifetime.
const reader = (async (): Promise<void> => {
  const maxReads = Math.ceil(rate * (maxSeconds + 10)) + 1000;
  for (let i = 0; i < maxReads; i++) {
    let record;
    try {
      record = await rx.readMedia();
    } catch (err) {
      // At the end: our own close, or the client's close_notify reaching the server first.
      const ended =
        err instanceof SocketClosedError ||
        (err instanceof DtlsError && err.reason === 'peer-closed');
      if (!(stopping && ended)) readError = err;
      return;
    }
    tracker.update(record.data, 0, record.data.length);
  }
})();

process.stdout.write(
  `${JSON.stringify({
    type: 'start',
    pid: process.pid,
    server_port: rx.mediaPort,
    client_port: tx.mediaPort,
    version: server.version,
    cipher: server.cipher,
    psk_identity: server.pskIdentity ?? null,
    max_data_bytes: client.maxDataBytes,
  })}\n`,
);

const stop = (): void => {
  stopping = true;
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

// Sender: credit-based pacing, records written one after the other in each tick.
const writer = new RtpTsWriter(randomInt(0, 0xffffffff), rate);
const slot = Buffer.alloc(RTP_PACKET_BYTES);
RtpTsWriter.template(slot, 0);
const t0 = performance.now();
const maxTicks = Math.ceil((maxSeconds * 1000) / TICK_MS) * 2;
for (let tick = 0; tick < maxTicks && !stopping; tick++) {
  if (performance.now() - t0 > maxSeconds * 1000) fail(`not stopped within ${maxSeconds} s`);
  if (readError !== undefined) break;
  const due = Math.min(Math.floor(((performance.now() - t0) / 1000) * rate) - sent, BURST_MAX);
  for (let i = 0; i < due; i++) {
    writer.next(slot, 0);
    try {
      await tx.writeMedia(slot);
      sent++;
    } catch (err) {
      sendErrors++;
      lastSendError = err instanceof Error ? err.message : String(err);
    }
  }
  await sleep(TICK_MS);
}
stopping = true;
await sleep(DRAIN_MS);
const final = counters();
await Promise.all([tx.close(), rx.close()]);
await reader;
process.stdout.write(
  `${JSON.stringify({
    type: 'summary',
    ...final,
    last_send_error: lastSendError || null,
    read_error:
      readError === undefined
        ? null
        : readError instanceof Error
          ? readError.message
          : JSON.stringify(readError),
  })}\n`,
);
process.stdin.pause();
process.exit(readError === undefined ? 0 : 1);
