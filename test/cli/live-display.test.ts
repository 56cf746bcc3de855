/**
 * The live statistics are redrawn in place on a terminal: run `mediasock recv` inside a
 * pseudo-terminal (`script` from util-linux) and look for the cursor movements, and check that
 * no JSON is printed there. Off a terminal the same command prints JSON lines (see send-recv).
 * Then the display's own bytes: lines cut to the width, the header once, the redraw on a resize,
 * listeners removed at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { LiveDisplay, abandonOpenDisplays } from '../../src/cli/live-display.js';
import { displayWidth } from '../../src/cli/text-width.js';

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
  // Cursor up over the lines drawn before (3 before the first datagram, 4 once MPEG-TS shows).
  const redraws = out.split('\x1b[3A').length - 1 + (out.split('\x1b[4A').length - 1);
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

/**
 * A stream that says it is a terminal of `columns` columns and keeps what is written (the bytes a
 * terminal would get); `resize()` changes the width and emits `'resize'` as a tty stream does on
 * SIGWINCH. The real terminal is checked in terminal.test.ts (tmux); this checks the escape
 * sequences themselves, and the listeners.
 */
class TerminalBytes extends Writable {
  readonly isTTY = true;
  written = '';
  constructor(public columns: number) {
    super();
  }
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.written += chunk.toString('utf8');
    done();
  }
  resize(columns: number): void {
    this.columns = columns;
    this.emit('resize');
  }
  /** What was written after the last clear (the block as last drawn, and anything after). */
  lastDrawn(): string[] {
    const text = this.written.slice(this.written.lastIndexOf('\x1b[0J') + 4);
    return text.split('\n').slice(0, -1);
  }
}

test('in place: each line cut to the columns, the header once, redrawn at once on a resize', () => {
  const out = new TerminalBytes(20);
  const display = new LiveDisplay(out, false, { header: ['H'.repeat(15)] });
  assert.equal(out.listenerCount('resize'), 1);
  const block = ['x'.repeat(30), `${'µ±'.repeat(14)}`];
  for (let i = 0; i < 3; i++) display.update(block, {});
  assert.equal(out.written.split('H'.repeat(15)).length - 1, 1, 'the header is printed once');
  assert.deepEqual(out.lastDrawn(), ['x'.repeat(20), 'µ±'.repeat(10)]);
  assert.equal(out.written.split('\x1b[2A').length - 1, 2, 'cursor up over the 2 lines drawn');

  // Wider: redrawn at once (synchronously, within emit), cut at the new width, up 2 rows.
  let before = out.written.length;
  out.resize(40);
  const wider = out.written.slice(before);
  assert.ok(wider.startsWith('\x1b[2A\x1b[1G\x1b[0J'), JSON.stringify(wider));
  assert.deepEqual(out.lastDrawn(), ['x'.repeat(30), 'µ±'.repeat(14)]);
  assert.ok(!wider.includes('H'), 'the header stays where it is');

  // Narrower: a reflowing terminal now shows the header (15 columns) on 2 rows of 8 and each
  // block line (30 and 28 columns) on 4: up 10 rows, then the header again and the block at 8.
  before = out.written.length;
  out.resize(8);
  const narrower = out.written.slice(before);
  assert.ok(narrower.startsWith('\x1b[10A\x1b[1G\x1b[0J'), JSON.stringify(narrower));
  const rows = out.lastDrawn();
  assert.ok(rows.length >= 4, JSON.stringify(rows));
  for (const r of rows) assert.ok(displayWidth(r) <= 8, JSON.stringify(r));
  assert.deepEqual(rows.slice(-2), ['x'.repeat(8), 'µ±'.repeat(4)]);
  assert.equal(rows.slice(0, -2).join('').replaceAll(' ', ''), 'H'.repeat(15));
  // The next update moves up over the block only (the header is above it).
  before = out.written.length;
  display.update(block, {});
  assert.ok(out.written.slice(before).startsWith('\x1b[2A'));

  display.finish(['summary: one two three four'], {});
  assert.equal(out.listenerCount('resize'), 0, 'finish removes the resize listener');
  assert.ok(out.written.endsWith('\x1b[?25h'), 'and shows the cursor');
  for (const r of out.lastDrawn()) assert.ok(displayWidth(r) <= 8, JSON.stringify(r));
  before = out.written.length;
  out.resize(30);
  assert.equal(out.written.length, before, 'nothing drawn after finish');
});

test('abandon and abandonOpenDisplays show the cursor and remove the listener, once', () => {
  const a = new TerminalBytes(80);
  const b = new TerminalBytes(80);
  const da = new LiveDisplay(a, false);
  new LiveDisplay(b, false).update(['running'], {});
  da.abandon();
  assert.equal(a.listenerCount('resize'), 0);
  assert.ok(a.written.endsWith('\x1b[?25h'));
  abandonOpenDisplays(); // b only: a is over
  assert.equal(b.listenerCount('resize'), 0);
  assert.ok(b.written.endsWith('\x1b[?25h'));
  assert.equal(a.written.split('\x1b[?25h').length - 1, 1);
  abandonOpenDisplays();
  assert.equal(b.written.split('\x1b[?25h').length - 1, 1);
});

test('not a terminal, or --json: JSON lines, no resize listener, nothing cut', () => {
  const out = new TerminalBytes(10);
  const json = new LiveDisplay(out, true, { header: ['a header'] });
  assert.equal(json.inPlace, false);
  assert.equal(out.listenerCount('resize'), 0);
  json.update(['x'.repeat(40)], { type: 'stats', text: 'y'.repeat(40) });
  assert.equal(out.written, `{"type":"stats","text":"${'y'.repeat(40)}"}\n`);
});
