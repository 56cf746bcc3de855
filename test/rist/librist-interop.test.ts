/**
 * Interop with libRIST 0.2.7 (Debian rist-tools), Simple profile (`-p 0`), all on 127.0.0.1:
 *
 * - `ristsender` reads MPEG-TS from a UDP input we feed and sends RIST to a mediasock receiver on
 *   an even pair: every RTP packet is PT 33 and its payload is byte-for-byte what we fed in; its
 *   RTCP (SR/RR + SDES) arrives on P+1 from the same host.
 * - a mediasock sender sends RTP (PT 33, even SSRC) to P and a compound SR + SDES(CNAME) to P+1;
 *   `ristreceiver` authenticates the peer (it ignores data until its flow exists, made by an
 *   RTCP packet with SDES after its first reply; warm-up chunks bridge that) and outputs the TS
 *   payloads to a UdpSocket, byte-for-byte.
 *
 * Loops are bounded in count and time; children are killed in `finally`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { RistTransport } from '../../src/rist/rist-transport.js';
import { buildRtpPacket, parseRtpPacket, RTP_PAYLOAD_TYPE_MP2T } from '../../src/rtp/rtp-packet.js';
import { buildSenderRtcp, parseRtcpCompound, RtcpPacketType } from '../../src/rist/rtcp-packet.js';
import { openRtpPortPair } from '../../src/rtp/port-pair.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';

const senderSkip = commandSkipReason('ristsender', 'Debian package rist-tools') ?? false;
const receiverSkip = commandSkipReason('ristreceiver', 'Debian package rist-tools') ?? false;

/** Seven 188-byte TS packets (one RIST datagram), distinct per `n`. */
function tsChunk(n: number): Buffer {
  const b = Buffer.alloc(188 * 7);
  for (let i = 0; i < 7; i++) {
    const o = i * 188;
    b[o] = 0x47;
    b.writeUInt16BE(0x0100, o + 1); // PID 0x100
    b[o + 3] = 0x10 | ((n * 7 + i) & 0x0f);
    for (let j = 4; j < 188; j++) b[o + j] = (n * 31 + i * 7 + j) & 0xff;
  }
  return b;
}

function run(cmd: string, args: string[]): { child: ChildProcess; log: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (log += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (log += s));
  return { child, log: () => log.slice(-4000) };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'close');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

test(
  'ristsender (Simple profile) -> mediasock receiver on an even pair: payloads intact',
  { skip: senderSkip, timeout: 30_000 },
  async () => {
    const baseline = openFdCount();
    const rx = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
    const feeder = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    // ristsender binds its input itself: find a free port for it (closed again just before).
    const inputProbe = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1', rtcpMux: true });
    const inputPort = inputProbe.rtpPort;
    await inputProbe.close();
    const sender = run('ristsender', [
      '-p',
      '0',
      '-i',
      `udp://127.0.0.1:${inputPort}`,
      '-o',
      `rist://127.0.0.1:${rx.mediaPort}`,
      '-S',
      '0',
    ]);
    try {
      // Its RTCP shows it is up; only then feed it.
      const first = await rx.readRtcp({ signal: AbortSignal.timeout(10_000) });
      const types = parseRtcpCompound(first.data).map((p) => p.packetType);
      assert.ok(types.includes(RtcpPacketType.SDES), `RTCP without SDES: ${types.join(',')}`);
      assert.equal(first.address, '127.0.0.1');

      const count = 20;
      const sent = Array.from({ length: count }, (_, n) => tsChunk(n));
      const received: Buffer[] = [];
      const reading = (async () => {
        const signal = AbortSignal.timeout(15_000);
        while (received.length < count) {
          const d = await rx.readMedia({ signal });
          const rtp = parseRtpPacket(d.data);
          assert.equal(rtp.payloadType, RTP_PAYLOAD_TYPE_MP2T);
          assert.equal(rtp.ssrc % 2, 0, 'RIST originals have an even SSRC');
          received.push(Buffer.from(rtp.payload));
        }
      })();
      for (const chunk of sent) {
        await feeder.send(chunk, inputPort, '127.0.0.1');
        await sleep(10);
      }
      await reading.catch((err: unknown) => {
        throw new Error(
          `${received.length}/${count} payloads arrived; ristsender said:\n${sender.log()}`,
          { cause: err },
        );
      });
      assert.deepEqual(received, sent);
      assert.equal(rx.stats.mediaRejected, 0);
      assert.equal(rx.learned.media?.address, '127.0.0.1');
    } finally {
      await stop(sender.child);
      await Promise.all([rx.close(), feeder.close()]);
    }
    await assertFdsBackToBaseline(baseline);
  },
);

test(
  'mediasock sender (RTP PT 33 + SR/SDES on P+1) -> ristreceiver (Simple profile): payloads intact',
  { skip: receiverSkip, timeout: 30_000 },
  async () => {
    const baseline = openFdCount();
    const output = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    const tx = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
    // ristreceiver binds P and P+1 itself: find a free pair for it (closed again just before).
    const probe = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1' });
    const P = probe.rtpPort;
    await probe.close();
    const receiver = run('ristreceiver', [
      '-p',
      '0',
      '-i',
      `rist://@127.0.0.1:${P}`,
      '-o',
      `udp://127.0.0.1:${output.address().port}`,
      '-S',
      '0',
    ]);
    const ssrc = 0x5eed1230; // even: an original, not a retransmission (TR-06-1)
    const media = { address: '127.0.0.1', port: P };
    const rtcp = { address: '127.0.0.1', port: P + 1 };
    let seq = 0;
    let octets = 0;
    const report = (): Promise<number> =>
      tx.writeRtcp(
        buildSenderRtcp(
          { ssrc, rtpTimestamp: (seq * 3600) >>> 0, packetCount: seq, octetCount: octets },
          'mediasock@127.0.0.1',
        ),
        rtcp,
      );
    try {
      // Handshake: SR + SDES until the receiver answers on our RTCP socket (bounded).
      const answered = tx.readRtcp({ signal: AbortSignal.timeout(10_000) });
      let answer: Awaited<typeof answered> | undefined;
      void answered.then(
        (a) => (answer = a),
        () => undefined,
      );
      for (let i = 0; i < 100 && answer === undefined; i++) {
        await report();
        await sleep(50);
      }
      const reply = await answered;
      assert.equal(reply.port, P + 1, 'feedback comes from the receiver RTCP port');
      const replyTypes = parseRtcpCompound(reply.data).map((p) => p.packetType);
      assert.ok(replyTypes.includes(RtcpPacketType.RR), `receiver RTCP: ${replyTypes.join(',')}`);
      // Keep RTCP flowing in the background (ristreceiver times quiet peers out).
      const keepalive = setInterval(() => void report().catch(() => undefined), 100);
      try {
        const sendMedia = async (payload: Buffer): Promise<void> => {
          await tx.writeMedia(
            buildRtpPacket({
              sequenceNumber: seq & 0xffff,
              timestamp: (seq * 3600) >>> 0,
              ssrc,
              payload,
            }),
            media,
          );
          seq++;
          octets += payload.length;
        };
        // ristreceiver drops data until its flow exists (one more SDES after its first reply):
        // send warm-up chunks until one comes out (bounded), then the chunks compared.
        const warmUp = tsChunk(9999);
        let warm = false;
        for (let i = 0; i < 100 && !warm; i++) {
          await sendMedia(warmUp);
          const got = await output
            .receive({ signal: AbortSignal.timeout(100) })
            .catch((err: unknown) => {
              if ((err as { code?: unknown }).code === 'MEDIASOCK_ERR_ABORTED') return undefined;
              throw err;
            });
          warm = got !== undefined;
        }
        assert.ok(warm, `ristreceiver never output anything; it said:\n${receiver.log()}`);
        const count = 20;
        const sent = Array.from({ length: count }, (_, n) => tsChunk(n + 100));
        const received: Buffer[] = [];
        const reading = (async () => {
          const signal = AbortSignal.timeout(15_000);
          while (received.length < count) {
            const d = (await output.receive({ signal })).data;
            if (!d.equals(warmUp)) received.push(d);
          }
        })();
        for (const payload of sent) {
          await sendMedia(payload);
          await sleep(10);
        }
        await reading.catch((err: unknown) => {
          throw new Error(
            `${received.length}/${count} payloads came out; ristreceiver said:\n${receiver.log()}`,
            { cause: err },
          );
        });
        assert.deepEqual(received, sent);
      } finally {
        clearInterval(keepalive);
      }
    } finally {
      await stop(receiver.child);
      await Promise.all([tx.close(), output.close()]);
    }
    await assertFdsBackToBaseline(baseline);
  },
);
