/**
 * The live statistics are redrawn in place on a terminal: run `mediasock recv` inside a
 * pseudo-terminal (`script` from util-linux) and look for the cursor movements, and check that
 * no JSON is printed there. Off a terminal the same command prints JSON lines (see send-recv).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { setTimeout as sleep } from 'node:timers/promises';

import { CLI, REPO, freePort, startTool } from './cli-process.js';
import { commandSkipReason } from '../helpers/capabilities.js';
import { udpPortBound } from '../helpers/udp-port.js';

const skip = commandSkipReason('script', 'util-linux script runs the CLI in a pseudo-terminal');

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

test('recv redraws its statistics in place on a terminal', { skip }, async () => {
  const port = await freePort();
  const recvCmd = [
    process.execPath,
    ...CLI,
    'recv',
    `udp://@127.0.0.1:${port}`,
    '--duration',
    '3',
    '--interval',
    '0.3',
  ]
    .map(shellQuote)
    .join(' ');
  const sendCmd = [
    process.execPath,
    ...CLI,
    'send',
    `udp://127.0.0.1:${port}`,
    '--pps',
    '200',
    '--count',
    '300',
    '--json',
  ]
    .map(shellQuote)
    .join(' ');
  // The receiver runs in the pseudo-terminal; the sender (started a moment later) is not on it.
  const pty = startTool(
    'script',
    ['-qfec', `cd ${shellQuote(REPO)} && ${recvCmd}`, '/dev/null'],
    30_000,
  );
  // recv runs under `script`, so its pid is not ours to match: wait for the port to be bound.
  for (let i = 0; i < 1000 && !udpPortBound(port) && !pty.exited(); i++) await sleep(10);
  assert.ok(udpPortBound(port), `recv never bound port ${port}: ${pty.stderr()}`);
  const send = startTool('sh', ['-c', `cd ${shellQuote(REPO)} && ${sendCmd}`], 30_000);
  const [r, s] = await Promise.all([pty.done, send.done]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = r.stdout;
  const redraws = out.split('\x1b[3A').length - 1; // cursor up over the 3 lines drawn before
  assert.ok(
    redraws >= 3,
    `expected in-place redraws, got ${redraws}: ${JSON.stringify(out.slice(0, 400))}`,
  );
  assert.ok(out.includes('\x1b[0J'), 'clears below the cursor before drawing');
  assert.ok(
    out.indexOf('\x1b[?25l') !== -1 && out.lastIndexOf('\x1b[?25h') > out.indexOf('\x1b[?25l'),
    'hides the cursor while drawing and shows it at the end',
  );
  assert.match(out, /summary \(--duration reached\):/);
  assert.match(out, /mpeg-ts {2}cc errors 0/);
  assert.doesNotMatch(out, /\{"type"/, 'no JSON on a terminal without --json');
});
