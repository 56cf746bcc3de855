/**
 * The RTSP client against the real GStreamer RTSP server (`fixtures/rtsp-server.py`) on loopback:
 * UDP, TCP interleaved and auto transports; MPEG-TS, H.264 and a two-media stream; Basic and
 * Digest authentication and a wrong password; a session that outlives a short server timeout
 * through keepalives; receiver reports sent and sender reports read; ffprobe's media table and
 * ffmpeg's "missed packets" as the reference client's view. Every test ends with the fd count
 * back to its baseline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { RtspClient } from '../../src/rtsp/client.js';
import { ErrorCodes } from '../../src/errors.js';
import { PortPool } from '../../src/rtp/port-pool.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { assertFdsBackToBaseline, openFdCount } from '../helpers/fds.js';
import { gstServerSkipReason, startGstServer, type GstServer } from './gst-server.js';

const skip = gstServerSkipReason();
const ffSkip = skip ?? commandSkipReason('ffprobe', 'ffprobe is the reference RTSP client');

async function withServer(
  args: string[],
  body: (server: GstServer) => Promise<void>,
): Promise<void> {
  const server = await startGstServer(args);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Plays `url` for `ms` and returns the client's statistics after closing it. */
async function play(url: string, transport: 'udp' | 'tcp' | 'auto', ms: number) {
  const client = await RtspClient.open(url, { transport, rtcpIntervalMs: 500 });
  let closeError: unknown;
  client.on('close', (e) => {
    closeError = e;
  });
  await sleep(ms);
  const stats = client.stats();
  const chosen = client.transport;
  const keepalives = client.keepalives;
  const session = client.session;
  const sdp = client.sdp;
  await client.close();
  return { stats, chosen, keepalives, session, sdp, closeError };
}

test(
  'UDP: MPEG-TS over RTP from a PortPool pair, no loss, RR out and SR in',
  { skip },
  async () => {
    await withServer([], async (server) => {
      const baseline = openFdCount();
      const pool = new PortPool({ type: 'udp4', address: '127.0.0.1', min: 41000, max: 41099 });
      const client = await RtspClient.open(server.url('/ts'), {
        transport: 'udp',
        portPool: pool,
        rtcpIntervalMs: 400,
      });
      const seen: number[] = [];
      client.on('rtp', (_m, _p, header) => seen.push(header.payloadType));
      await sleep(3000);
      const [ts] = client.stats();
      assert.ok(ts !== undefined);
      assert.equal(client.transport, 'udp');
      assert.match(ts.transport, /^udp client_port=410\d\d-410\d\d/);
      assert.ok(ts.packets > 20, `packets ${ts.packets}`);
      assert.equal(ts.lost, 0);
      assert.equal(ts.duplicates, 0);
      assert.equal(ts.malformedRtp, 0);
      assert.ok(ts.receiverReports >= 2, `receiver reports ${ts.receiverReports}`);
      assert.ok(new Set(seen).has(33), 'payload type 33 (MP2T)');
      assert.equal(client.sdp?.media[0]?.rtpmap[33]?.encoding, 'MP2T');
      assert.equal(pool.stats.leased, 1);
      await client.close();
      assert.equal(pool.stats.leased, 0, 'the lease went back to the pool');
      await pool.close();
      await assertFdsBackToBaseline(baseline);
    });
  },
);

test('TCP interleaved: H.264, no loss, sender report maps RTP time to NTP', { skip }, async () => {
  await withServer([], async (server) => {
    const baseline = openFdCount();
    const client = await RtspClient.open(server.url('/h264'), {
      transport: 'tcp',
      rtcpIntervalMs: 400,
    });
    let lastTs = 0;
    client.on('rtp', (_m, _p, h) => {
      lastTs = h.timestamp;
    });
    // GStreamer sends its first SR within about 5 s (RFC 3550's initial interval, randomized).
    for (let i = 0; i < 80 && client.media[0]?.senderReports.last === undefined; i++)
      await sleep(100);
    const mapped = client.media[0]?.senderReports.wallClockOf(lastTs);
    const [video] = client.stats();
    assert.ok(video !== undefined);
    assert.equal(video.transport, 'tcp interleaved=0-1');
    assert.ok(video.packets > 20);
    assert.equal(video.lost, 0);
    assert.ok(video.senderReports >= 1, 'a sender report arrived');
    assert.ok(
      mapped !== undefined && Math.abs(mapped - Date.now()) < 10_000,
      `wall clock ${mapped}`,
    );
    await client.close();
    await assertFdsBackToBaseline(baseline);
  });
});

test(
  'two media (H.264 + PCMU) over UDP: same table as ffprobe, 0 lost like ffmpeg',
  { skip: ffSkip },
  async () => {
    await withServer([], async (server) => {
      const baseline = openFdCount();
      const run = await play(server.url('/av'), 'udp', 3000);
      assert.equal(run.stats.length, 2);
      const ours = run.sdp?.media.map((m) => `${m.type}:${m.rtpmap[m.formats[0] ?? -1]?.encoding}`);
      assert.deepEqual(ours, ['video:H264', 'audio:PCMU']);
      const probe = spawnSync(
        'ffprobe',
        [
          '-v',
          'error',
          '-rtsp_transport',
          'udp',
          '-show_entries',
          'stream=codec_type,codec_name',
          '-of',
          'csv=p=0',
          server.url('/av'),
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(probe.status, 0, probe.stderr);
      const theirs = probe.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(',').reverse().join(':'));
      const names: Record<string, string> = { H264: 'h264', PCMU: 'pcm_mulaw' };
      assert.deepEqual(
        theirs,
        (ours ?? []).map((o) => {
          const [type, enc] = o.split(':');
          return `${type}:${names[enc ?? ''] ?? enc}`;
        }),
      );
      for (const s of run.stats) {
        assert.ok(s.packets > 10, `media ${s.media}: ${s.packets} packets`);
        assert.equal(s.lost, 0, `media ${s.media} lost`);
      }
      const ffmpeg = spawnSync(
        'ffmpeg',
        [
          '-hide_banner',
          '-v',
          'warning',
          '-rtsp_transport',
          'udp',
          '-i',
          server.url('/av'),
          '-t',
          '3',
          '-f',
          'null',
          '-',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.doesNotMatch(ffmpeg.stderr, /missed \d+ packets/, 'ffmpeg lost nothing either');
      await assertFdsBackToBaseline(baseline);
    });
  },
);

test('auto on a TCP-only server: 461 to UDP, then TCP', { skip }, async () => {
  await withServer(['--protocols', 'tcp'], async (server) => {
    const baseline = openFdCount();
    const run = await play(server.url('/h264'), 'auto', 1500);
    assert.equal(run.chosen, 'tcp');
    assert.ok((run.stats[0]?.packets ?? 0) > 5);
    await assert.rejects(
      RtspClient.open(server.url('/h264'), { transport: 'udp' }),
      (err: { code?: string }) => err.code === ErrorCodes.RTSP_TRANSPORT,
    );
    await assertFdsBackToBaseline(baseline);
  });
});

test('auto on a UDP server stays on UDP', { skip }, async () => {
  await withServer([], async (server) => {
    const run = await play(server.url('/ts'), 'auto', 1500);
    assert.equal(run.chosen, 'udp');
    assert.ok((run.stats[0]?.packets ?? 0) > 5);
  });
});

for (const scheme of ['digest', 'basic'] as const) {
  test(
    `${scheme} authentication: right password plays, wrong one is RtspAuthError`,
    { skip },
    async () => {
      await withServer(
        ['--auth', scheme, '--user', 'viewer', '--password', 's3cret'],
        async (server) => {
          const baseline = openFdCount();
          const run = await play(server.url('/h264', 'viewer:s3cret'), 'tcp', 1000);
          assert.ok((run.stats[0]?.packets ?? 0) > 5);
          await assert.rejects(
            RtspClient.open(server.url('/h264', 'viewer:wrong')),
            (err: { code?: string }) => {
              assert.equal(err.code, ErrorCodes.RTSP_UNAUTHORIZED);
              return true;
            },
          );
          await assert.rejects(RtspClient.open(server.url('/h264')), (err: { code?: string }) => {
            assert.equal(err.code, ErrorCodes.RTSP_UNAUTHORIZED);
            return true;
          });
          await assertFdsBackToBaseline(baseline);
        },
      );
    },
  );
}

test(
  'a 2 s server session timeout is outlived through keepalives, and is real without them',
  { skip },
  async () => {
    await withServer(['--session-timeout', '2'], async (server) => {
      // Receiver reports also count as liveness for this server: push them out of the window so
      // that only the keepalive keeps the session.
      const client = await RtspClient.open(server.url('/h264'), {
        transport: 'udp',
        rtcpIntervalMs: 60_000,
      });
      const silent = await RtspClient.open(server.url('/h264'), {
        transport: 'udp',
        rtcpIntervalMs: 60_000,
        keepalive: false,
      });
      let closed: unknown = 'open';
      client.on('close', (e) => {
        closed = e;
      });
      assert.equal(client.session?.timeoutS, 2);
      await sleep(3000);
      const before = client.stats()[0]?.packets ?? 0;
      await sleep(3000);
      const after = client.stats()[0]?.packets ?? 0;
      assert.ok(after - before > 20, `packets kept coming after 3 s: ${before} → ${after}`);
      assert.ok(client.keepalives.sent >= 5, `keepalives ${JSON.stringify(client.keepalives)}`);
      assert.equal(client.keepalives.failed, 0);
      assert.equal(closed, 'open');
      // GStreamer adds a grace period (its sessions' `extra-timeout`, 5 s) before it reaps: both
      // sessions are 8.5 s old, past 2 s + 5 s, when they are torn down.
      await sleep(2500);
      await client.close();
      assert.equal(
        client.teardownError,
        undefined,
        'TEARDOWN answered: the session was still alive',
      );
      await silent.close();
      assert.equal(
        (silent.teardownError as { status?: number } | undefined)?.status,
        454,
        'without keepalives the server reaped the session (454 Session Not Found)',
      );
    });
  },
);
