/**
 * MPEG-TS inputs for the playout tests: constant-bit-rate files made by FFmpeg (`-muxrate`, null
 * packets fill the rate), and packets built by hand (a PCR where the test wants it, a
 * discontinuity indicator, no PCR at all).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Makes a CBR transport stream of `seconds` at `muxrate` (e.g. '2M') in `dir`; returns its path. */
export function makeCbrTs(dir: string, name: string, seconds: number, muxrate: string): string {
  const file = join(dir, name);
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc=duration=${seconds}:size=160x120:rate=25`,
      '-c:v',
      'mpeg2video',
      '-b:v',
      '300k',
      '-f',
      'mpegts',
      '-muxrate',
      muxrate,
      file,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return file;
}

/** A 188-byte packet on `pid` with continuity counter `cc`, optionally a PCR and the discontinuity indicator. */
export function tsPacket(
  pid: number,
  cc: number,
  options: { pcr?: number; discontinuity?: boolean } = {},
): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = (pid >> 8) & 0x1f;
  p[2] = pid & 0xff;
  if (options.pcr === undefined && options.discontinuity !== true) {
    p[3] = 0x10 | (cc & 0x0f);
    return p;
  }
  p[3] = 0x30 | (cc & 0x0f);
  p[4] = 7;
  p[5] = (options.discontinuity === true ? 0x80 : 0) | (options.pcr !== undefined ? 0x10 : 0);
  if (options.pcr !== undefined) {
    const base = Math.floor(options.pcr / 300);
    const ext = options.pcr % 300;
    p[6] = Math.floor(base / 2 ** 25) & 0xff;
    p[7] = Math.floor(base / 2 ** 17) & 0xff;
    p[8] = Math.floor(base / 2 ** 9) & 0xff;
    p[9] = Math.floor(base / 2) & 0xff;
    p[10] = ((base % 2) << 7) | 0x7e | ((ext >> 8) & 1);
    p[11] = ext & 0xff;
  }
  return p;
}

/** `count` packets on PID 0x100 without any adaptation field (a stream without PCR). */
export function packetsWithoutPcr(count: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(tsPacket(0x100, i));
  return Buffer.concat(out);
}
