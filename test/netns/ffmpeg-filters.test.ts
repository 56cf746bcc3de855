/**
 * Interop with FFmpeg on source filters, with FFmpeg's own URL lines: two ffmpeg processes (hosts
 * h0 and h1) stream MPEG-TS to one group with `udp://G:1234?pkt_size=1316`, and `mediasock recv`
 * on h2 takes the line an FFmpeg receiver would use, `udp://G:1234?sources=H0` (include) or
 * `udp://G:1234?block=H1` (exclude). Both ffmpeg streams carry the same PIDs, so a single datagram
 * of the other source shows as continuity-counter errors. A second, unfiltered receiver of the
 * same group and port on h2 (`udp://@G:1234`, sharing the port through the default address reuse)
 * is the control: it hears both streams and counts errors. Runs inside private namespaces on a
 * bridge with IGMPv3/MLDv2 snooping; nothing touches the root namespace.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { nativeStatus } from '../../src/native/index.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import {
  createTopology,
  netnsSkipReason,
  spawnInNamespace,
  spawnNodeInNamespace,
} from '../helpers/netns.js';
import type { NamespaceChild, Topology } from '../helpers/netns.js';

const skip =
  netnsSkipReason() ??
  commandSkipReason('ffmpeg', 'FFmpeg is the interop peer; .ci/run installs ffmpeg') ??
  false;
const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Summary {
  type?: string;
  packets?: number;
  ts_cc_errors?: number | null;
  url?: string;
}

function recv(ns: string, url: string): NamespaceChild {
  return spawnNodeInNamespace(ns, cli, ['recv', url, '--json', '--duration', '30'], {
    timeoutMs: 60_000,
  });
}

function ffmpegSend(ns: string, url: string): NamespaceChild {
  return spawnInNamespace(
    ns,
    [
      'ffmpeg',
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120:rate=25',
      '-t',
      '2',
      '-c:v',
      'mpeg2video',
      '-f',
      'mpegts',
      url,
    ],
    { timeoutMs: 60_000 },
  );
}

/** Ends `recv` with SIGINT and returns its summary line. */
async function finish(r: NamespaceChild): Promise<Summary> {
  r.kill('SIGINT');
  return r.waitForJson<Summary>((l) => l.type === 'summary', 20_000);
}

describe('FFmpeg URL lines with source filters', { skip }, () => {
  let topo: Topology;
  before(async () => {
    topo = await createTopology({ hosts: 3, snooping: true });
  });
  after(() => topo?.destroy());

  const cases = [
    ['include', '239.255.94.1', (h0: string) => `?sources=${h0}`],
    ['exclude', '239.255.94.2', (_h0: string, h1: string) => `?block=${h1}`],
  ] as const;
  for (const [mode, group, query] of cases) {
    test(
      `${mode}: mediasock recv with FFmpeg's receiver line hears only h0 of two ffmpeg senders`,
      { skip: mode === 'exclude' && !nativeStatus().loaded ? 'block= needs the addon' : false },
      async () => {
        const [h0, h1, h2] = topo.hosts;
        assert.ok(h0 && h1 && h2);
        const filtered = recv(h2.ns, `udp://${group}:1234${query(h0.ipv4, h1.ipv4)}`);
        const control = recv(h2.ns, `udp://@${group}:1234`);
        const senders: NamespaceChild[] = [];
        try {
          const started = await filtered.waitForJson<Summary>((l) => l.type === 'start', 30_000);
          await control.waitForJson<Summary>((l) => l.type === 'start', 30_000);
          assert.match(
            started.url ?? '',
            mode === 'include' ? /from 10\.77\.\d+\.1\)/ : /any source but 10\.77\.\d+\.2\)/,
          );
          for (const h of [h0, h1]) {
            senders.push(ffmpegSend(h.ns, `udp://${group}:1234?pkt_size=1316`));
          }
          for (const s of senders) {
            const { code } = await s.exited;
            assert.equal(code, 0, s.stderr());
          }
          await new Promise((r) => setTimeout(r, 500));
          const got = await finish(filtered);
          const all = await finish(control);
          process.stdout.write(
            `# ${mode}: filtered ${got.packets} datagrams (cc errors ${got.ts_cc_errors}), control ${all.packets} (cc errors ${all.ts_cc_errors})\n`,
          );
          assert.ok((got.packets ?? 0) > 20, `filtered receiver packets ${got.packets}`);
          assert.equal(got.ts_cc_errors, 0, 'nothing of the other ffmpeg slipped in');
          // The control hears both streams: about twice as much, and their counters collide.
          assert.ok(
            (all.packets ?? 0) > 1.5 * (got.packets ?? 0),
            `control ${all.packets} vs filtered ${got.packets}`,
          );
          assert.ok((all.ts_cc_errors ?? 0) > 0, 'the control sees both streams mixed');
        } finally {
          for (const c of [filtered, control, ...senders]) c.kill();
          await Promise.all([filtered, control, ...senders].map((c) => c.exited));
        }
      },
    );
  }
});
