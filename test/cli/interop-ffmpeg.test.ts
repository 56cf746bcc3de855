/**
 * Interop with FFmpeg 5.1 on loopback: streams `mediasock send` makes are received by ffmpeg
 * (every frame of a file over UDP; over RTP ffmpeg's "RTP: missed N packets" matches the
 * sequence numbers --gap skipped), and streams ffmpeg makes (MPEG-TS over UDP with
 * pkt_size=1316, and rtp_mpegts) are counted by `mediasock recv`, which is ended with SIGINT.
 *
 * The UDP tests give both programs FFmpeg's own URL lines, unchanged: the receiver line
 * `udp://@127.0.0.1:P?overrun_nonfatal=1&fifo_size=50000000` to `mediasock recv`, and
 * `udp://127.0.0.1:P?pkt_size=1316&timeout=2000000` to both `ffmpeg -i` and `mediasock send`.
 * Options that have no effect on mediasock's side are accepted with one note each on stderr.
 * Multicast runs with FFmpeg's own way of pinning a stream to an interface, `localaddr=127.0.0.1`
 * (lo), and `ttl=0`, on both sides. That the stream arrives at a receiver joined on lo alone, with
 * `IP_MULTICAST_ALL` off, shows that FFmpeg's datagrams left through lo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { setTimeout as sleep } from 'node:timers/promises';

import { commandSkipReason } from '../helpers/capabilities.js';
import { waitForUdpDrained, withBoundPeer } from '../helpers/udp-port.js';
import { freePort, runCli, startCli, startTool, summary, type ToolRun } from './cli-process.js';

const skip =
  commandSkipReason('ffmpeg', 'FFmpeg is the interop peer; .ci/run installs ffmpeg') ??
  commandSkipReason('ffprobe', 'ffprobe counts the frames of the test file');

let dir: string | undefined;
let tsFile = '';
const kFrames = 50;

function testFile(): string {
  if (tsFile !== '') return tsFile;
  dir = mkdtempSync(join(tmpdir(), 'mediasock-ffmpeg-'));
  tsFile = join(dir, 'testsrc.ts');
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120:rate=25',
      '-frames:v',
      String(kFrames),
      '-c:v',
      'mpeg2video',
      '-g',
      '10',
      '-f',
      'mpegts',
      '-y',
      tsFile,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return tsFile;
}

test.after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts an ffmpeg that listens on a free UDP port (and, for RTP, the RTCP port above it), and
 * resolves once ffmpeg itself holds them, retrying once with a new port if another process took
 * one between the probe and ffmpeg's bind.
 */
function ffmpegListening(
  args: (port: number) => string[],
  rtp: boolean,
): Promise<{ peer: ToolRun; port: number }> {
  return withBoundPeer(freePort, (port) => startTool('ffmpeg', args(port), 30_000), {
    ports: (port) => (rtp ? [port, port + 1] : [port]),
    describe: (peer) => peer.stderr().trim().split('\n').slice(-2).join(' | '),
  });
}

/** Total of ffmpeg's "RTP: missed N packets" lines in `stderr`. */
function missedPackets(stderr: string): number {
  return [...stderr.matchAll(/RTP: missed (\d+) packets/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** FFmpeg's URL line for a UDP MPEG-TS stream to or from 127.0.0.1:port, used by both programs. */
const ffmpegUdpLine = (port: number): string =>
  `udp://127.0.0.1:${port}?pkt_size=1316&timeout=2000000`;

test('ffmpeg receives every frame of a file that mediasock sends over UDP', { skip }, async () => {
  const file = testFile();
  const { peer: ff, port } = await ffmpegListening(
    (p) => ['-hide_banner', '-nostats', '-i', ffmpegUdpLine(p), '-c', 'copy', '-f', 'null', '-'],
    false,
  );
  const send = await runCli(['send', ffmpegUdpLine(port), file, '--pps', '100', '--json']);
  assert.equal(send.code, 0, send.stderr);
  assert.match(
    send.stderr,
    /^mediasock send: note: timeout=2000000 is ignored: it applies to receiving$/m,
  );
  const r = await ff.done;
  assert.equal(r.timedOut, false);
  const frames = [...r.stderr.matchAll(/frame= *(\d+)/g)].map((m) => Number(m[1]));
  assert.equal(frames[frames.length - 1], kFrames, r.stderr.slice(-600));
});

test('ffmpeg sees exactly the RTP sequence gaps that send --gap makes', { skip }, async () => {
  const file = testFile();
  const { peer: ff, port } = await ffmpegListening(
    (p) => [
      '-hide_banner',
      '-nostats',
      '-i',
      `rtp://127.0.0.1:${p}`,
      '-c',
      'copy',
      '-f',
      'null',
      '-',
    ],
    true,
  );
  const send = await runCli([
    'send',
    `rtp://127.0.0.1:${port}`,
    file,
    '--pps',
    '100',
    '--gap',
    '10',
    '--json',
  ]);
  assert.equal(send.code, 0, send.stderr);
  const skipped = summary(send.stdout).skipped_sequence_numbers as number;
  assert.ok(skipped > 0);
  // ffmpeg has read everything once its RTP socket's queue is empty; its reorder buffer reports
  // a gap only when it gives up waiting for the packet (max_delay), so wait for the reports
  // themselves, bounded, rather than for a fixed time.
  assert.ok(await waitForUdpDrained(port), 'ffmpeg read every datagram');
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 1000 && missedPackets(ff.stderr()) < skipped && Date.now() < deadline; i++) {
    await sleep(10);
  }
  ff.interrupt();
  const r = await ff.done;
  const missed = missedPackets(r.stderr);
  assert.equal(missed, skipped, r.stderr.slice(-800));
  assert.match(r.stderr, /frame= *[1-9]/, 'ffmpeg decoded the RTP/MP2T stream');
});

test(
  'mediasock recv counts MPEG-TS that ffmpeg sends over UDP (pkt_size=1316)',
  { skip },
  async () => {
    // FFmpeg's receiver line, as FFmpeg users write it, on a port known up front.
    const wanted = await freePort();
    const recv = startCli(
      [
        'recv',
        `udp://@127.0.0.1:${wanted}?overrun_nonfatal=1&fifo_size=50000000`,
        '--json',
        '--duration',
        '25',
      ],
      { timeoutMs: 40_000 },
    );
    const { port } = (await recv.firstRecord('start')) as { port: number };
    assert.equal(port, wanted);
    const ff = await startTool(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=160x120:rate=25',
        '-t',
        '1.5',
        '-c:v',
        'mpeg2video',
        '-f',
        'mpegts',
        ffmpegUdpLine(port),
      ],
      30_000,
    ).done;
    assert.equal(ff.code, 0, ff.stderr);
    // ffmpeg has exited, so on loopback everything it sent is in recv's socket queue already:
    // interrupt recv once it has read the queue empty.
    assert.ok(await waitForUdpDrained(port), 'recv read every datagram');
    recv.child.kill('SIGINT');
    const r = await recv.done;
    assert.equal(r.code, 0, r.stderr);
    const s = summary(r.stdout);
    assert.ok((s.packets as number) > 10, `packets ${String(s.packets)}`);
    assert.equal((s.bytes as number) % 188, 0);
    assert.equal(s.ts_packets, (s.bytes as number) / 188);
    assert.equal(s.ts_cc_errors, 0);
    assert.equal(s.lost, null);
    assert.match(r.stderr, /^mediasock recv: note: overrun_nonfatal=1 is ignored: /m);
    assert.equal(r.stderr.match(/note:/g)?.length, 1, r.stderr);
  },
);

test(
  "multicast with FFmpeg's lines on both sides: localaddr=127.0.0.1 keeps it on lo, TTL 0",
  { skip },
  async () => {
    // 239.255.0.0/16 is organization-local scope (RFC 2365). FFmpeg pins a multicast stream to
    // an interface with localaddr=; both lines use it (and ttl=0), so nothing leaves this host.
    const group = '239.255.77.41';
    const wanted = await freePort();
    const recv = startCli(
      [
        'recv',
        `udp://@${group}:${wanted}?overrun_nonfatal=1&fifo_size=50000000&localaddr=127.0.0.1&ttl=0`,
        '--json',
        '--duration',
        '25',
      ],
      { timeoutMs: 40_000 },
    );
    const start = (await recv.firstRecord('start')) as { port: number; url: string };
    assert.equal(start.port, wanted);
    assert.match(start.url, / on lo$/, 'joined on lo, the interface holding 127.0.0.1');
    const ff = await startTool(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=160x120:rate=25',
        '-t',
        '1.5',
        '-c:v',
        'mpeg2video',
        '-f',
        'mpegts',
        `udp://${group}:${wanted}?pkt_size=1316&localaddr=127.0.0.1&ttl=0`,
      ],
      30_000,
    ).done;
    assert.equal(ff.code, 0, ff.stderr);
    assert.ok(await waitForUdpDrained(wanted), 'recv read every datagram');
    recv.child.kill('SIGINT');
    const r = await recv.done;
    assert.equal(r.code, 0, r.stderr);
    const s = summary(r.stdout);
    assert.ok((s.packets as number) > 10, `packets ${String(s.packets)}`);
    assert.equal(s.ts_cc_errors, 0);
    assert.match(r.stderr, /note: ttl=0 is ignored: it applies to sending/);
    assert.match(r.stderr, /note: overrun_nonfatal=1 is ignored/);
  },
);

test(
  'mediasock recv counts ffmpeg rtp_mpegts without loss, duplicates or CC errors',
  { skip },
  async () => {
    const recv = startCli(['recv', 'rtp://@127.0.0.1:0', '--json', '--duration', '25'], {
      timeoutMs: 40_000,
    });
    const { port } = (await recv.firstRecord('start')) as { port: number };
    const ff = await startTool(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=160x120:rate=25',
        '-t',
        '1.5',
        '-c:v',
        'mpeg2video',
        '-f',
        'rtp_mpegts',
        `rtp://127.0.0.1:${port}`,
      ],
      30_000,
    ).done;
    assert.equal(ff.code, 0, ff.stderr);
    // ffmpeg has exited, so on loopback everything it sent is in recv's socket queue already:
    // interrupt recv once it has read the queue empty.
    assert.ok(await waitForUdpDrained(port), 'recv read every datagram');
    recv.child.kill('SIGINT');
    const r = await recv.done;
    assert.equal(r.code, 0, r.stderr);
    const s = summary(r.stdout);
    assert.ok((s.packets as number) > 10, `packets ${String(s.packets)}`);
    assert.equal(s.lost, 0);
    assert.equal(s.duplicates, 0);
    assert.equal(s.ts_cc_errors, 0);
    assert.equal(s.not_rtp, 0);
  },
);
