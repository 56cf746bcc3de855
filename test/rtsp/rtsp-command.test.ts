/**
 * `mediasock recv rtsp://…` and `mediasock rtsp describe`, called as functions with real sockets
 * against the GStreamer RTSP server; the command's io is a pair of in-memory streams and an abort
 * signal standing in for Ctrl-C.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { rtspCommand, rtspRecvCommand } from '../../src/cli/rtsp-command.js';
import { UsageError } from '../../src/cli/arguments.js';
import type { CommandIo } from '../../src/cli/command-io.js';
import { gstServerSkipReason, startGstServer, type GstServer } from './gst-server.js';

const skip = gstServerSkipReason();

function io(
  signal = new AbortController().signal,
): CommandIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { stdout, stderr, stdin: new PassThrough(), signal, out: () => out, err: () => err };
}

function lastJson(text: string): Record<string, unknown> {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
}

let server: GstServer | undefined;
test.before(async () => {
  if (skip === undefined)
    server = await startGstServer(['--auth', 'digest', '--user', 'u', '--password', 'p']);
});
test.after(async () => {
  await server?.stop();
});

test('recv rtsp:// --duration --out: TS bytes written, summary per media', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mediasock-rtsp-'));
  try {
    const file = join(dir, 'out.ts');
    const run = io();
    const code = await rtspRecvCommand(
      [server!.url('/ts', 'u:p'), '--transport', 'tcp', '--duration', '2', '--json', '--out', file],
      run,
    );
    assert.equal(code, 0, run.err());
    const s = lastJson(run.out());
    assert.equal(s.type, 'summary');
    assert.equal(s.transport, 'tcp');
    assert.match(String(s.url), /^rtsp:\/\/u:\*\*\*@127\.0\.0\.1:\d+\/ts$/);
    assert.equal(s.teardown, 'ok');
    const [m] = s.media as Array<Record<string, unknown>>;
    assert.equal(m?.encoding, 'MP2T');
    assert.ok((m?.packets as number) > 10);
    assert.equal(m?.lost, 0);
    assert.equal(s.ts_cc_errors, 0);
    const bytes = readFileSync(file);
    assert.ok(bytes.length > 0 && bytes.length % 188 === 0, `${bytes.length} bytes`);
    assert.equal(bytes[0], 0x47);
    assert.equal(bytes.length / 188, s.ts_packets);
    // A reference reader takes the file as a transport stream with its streams.
    const probe = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'json', file],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(probe.status, 0, probe.stderr);
    const streams = (JSON.parse(probe.stdout) as { streams?: unknown[] }).streams ?? [];
    assert.ok(streams.length > 0, `ffprobe found streams: ${probe.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'recv rtsp:// ends on the abort signal (Ctrl-C) with TEARDOWN, two media, --count',
  { skip },
  async () => {
    const controller = new AbortController();
    const run = io(controller.signal);
    setTimeout(() => controller.abort(), 2000);
    const code = await rtspRecvCommand(
      [server!.url('/av', 'u:p'), '--transport', 'udp', '--json'],
      run,
    );
    assert.equal(code, 0, run.err());
    const s = lastJson(run.out());
    assert.equal(s.teardown, 'ok');
    assert.deepEqual(
      (s.media as Array<Record<string, unknown>>).map(
        (m) => `${String(m.type)}/${String(m.encoding)}`,
      ),
      ['video/H264', 'audio/PCMU'],
    );
    const counted = io();
    assert.equal(
      await rtspRecvCommand([server!.url('/h264', 'u:p'), '--count', '25', '--json'], counted),
      0,
    );
    assert.equal(lastJson(counted.out()).packets, 25);
  },
);

test('rtsp describe: SDP and a media table; --json', { skip }, async () => {
  const text = io();
  assert.equal(await rtspCommand(['describe', server!.url('/av', 'u:p')], text), 0, text.err());
  assert.match(text.out(), /^v=0/);
  assert.match(
    text.out(),
    /\n {2}0 {2}video {2}96 {3}H264 +90000 +rtsp:\/\/127\.0\.0\.1:\d+\/av\/stream=0\n/,
  );
  assert.match(text.out(), /\n {2}1 {2}audio {2}0 {4}PCMU +8000 /);
  const json = io();
  assert.equal(await rtspCommand(['describe', server!.url('/ts', 'u:p'), '--json'], json), 0);
  const d = lastJson(json.out());
  assert.equal((d.media as unknown[]).length, 1);
});

test('usage errors and a wrong password', { skip }, async () => {
  await assert.rejects(
    rtspRecvCommand(['rtsp://127.0.0.1:1/x', '--transport', 'sctp'], io()),
    UsageError,
  );
  await assert.rejects(rtspRecvCommand(['udp://@:5004'], io()), UsageError);
  await assert.rejects(rtspCommand(['announce', 'rtsp://h/x'], io()), UsageError);
  await assert.rejects(
    rtspRecvCommand([server!.url('/ts', 'u:wrong')], io()),
    (e: { code?: string }) => e.code === 'MEDIASOCK_ERR_RTSP_UNAUTHORIZED',
  );
});
