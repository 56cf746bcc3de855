/**
 * The built command line (`npm run build`, as `npm start` does): `--version`, then the live display
 * in a real terminal: the built command line (`dist/`, what `npm start` and an
 * installed `mediasock` run) inside a tmux pane of 80 and of 120 columns, `recv` fed by a loopback
 * sender and the demo through `npm start`. On screen: no line longer than the pane (the capture
 * joins rows the terminal wrapped, so a wrapped line shows as a longer one), every line of the
 * block and the header exactly once (no copy left behind by a redraw); then the window is made
 * narrower while the command runs, tmux rewraps what is on screen, and the same holds at the new
 * width, through to the summary.
 */
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { displayWidth } from '../../src/cli/text-width.js';
import { udpPortBound } from '../helpers/udp-port.js';
import { REPO, freePort, startTool } from './cli-process.js';
import { TmuxPane, tmuxSkipReason } from './tmux.js';

const skip = tmuxSkipReason ?? false;
const BUILT_CLI = join(REPO, 'dist/src/cli/main.js');
const HEIGHT = 30;
const panes: TmuxPane[] = [];

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

before(() => {
  // The tests run what a user runs: the compiled command line, built from this checkout.
  const build = spawnSync('npm', ['run', 'build', '--silent'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(build.status, 0, `npm run build: ${build.stdout}${build.stderr}`);
});

after(() => {
  for (const p of panes) p.kill();
});

function startPane(t: TestContext, width: number, command: string): TmuxPane {
  // The exit status is printed last, so the test knows when the command is over and how; the
  // sleep keeps the pane on screen until the server is killed.
  const pane = TmuxPane.start(width, HEIGHT, `${command}; echo "[exit $?]"; sleep 600`, REPO);
  panes.push(pane);
  t.after(() => pane.kill());
  return pane;
}

/** What is wrong with the screen: a line wider than `width`, a pattern not on exactly one line. */
function screenProblem(lines: string[], width: number, once: RegExp[]): string | undefined {
  for (const line of lines)
    if (displayWidth(line) > width) return `a line of ${displayWidth(line)} columns`;
  for (const re of once) {
    const n = lines.filter((l) => re.test(l)).length;
    if (n !== 1) return `${re} on ${n} lines`;
  }
  return undefined;
}

function assertScreen(lines: string[], width: number, once: RegExp[], when: string): void {
  const problem = screenProblem(lines, width, once);
  assert.equal(problem, undefined, `${when}, ${width} columns:\n${lines.join('\n')}`);
}

test('the built command line: --version reads package.json next to dist/', () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    version: string;
  };
  const r = spawnSync(process.execPath, [BUILT_CLI, '--version'], {
    cwd: tmpdir(), // not the checkout: the file is found from the script's own path
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `mediasock ${version}\n`);
});

const exitLine = (lines: string[]): boolean => lines.some((l) => /^\[exit \d+\]$/.test(l));

for (const [width, narrower] of [
  [80, 50],
  [120, 50],
] as const) {
  test(
    `recv in a ${width}-column terminal, then ${narrower}: lines cut, redrawn clean`,
    { skip, timeout: 120_000 },
    async (t) => {
      const port = await freePort();
      const url = `rtp://@127.0.0.1:${port}`;
      // Some lines above, as a shell session would have: a redraw that leaves rows of the old
      // block behind shows them between these and the block.
      const pane = startPane(
        t,
        width,
        `printf 'earlier output %s\\n' 1 2 3 4 5 6; ${[
          process.execPath,
          BUILT_CLI,
          'recv',
          url,
          '--duration',
          '12',
          '--interval',
          '0.2',
        ]
          .map(shellQuote)
          .join(' ')}`,
      );
      assert.deepEqual(pane.size(), { width, height: HEIGHT });
      for (let i = 0; i < 2000 && !udpPortBound(port); i++) await sleep(10);
      assert.ok(udpPortBound(port), `recv never bound ${port}: ${pane.capture().join('\n')}`);
      // 6 s of RTP/MPEG-TS from the command line's own sender (a pipe: JSON lines, off screen).
      const sender = startTool(
        process.execPath,
        [BUILT_CLI, 'send', `rtp://127.0.0.1:${port}`, '--pps', '300', '--count', '1800', '--json'],
        60_000,
      );
      const block = [
        /^mediasock recv {2}rtp:\/\/127\.0\.0\.1:\d+/,
        /^ +\d+\.\d s +\d+ pps +\d/,
        /^ {2}rtp +lost \d+/,
        /^ {2}mpeg-ts +cc errors \d+/,
      ];
      const running = await pane.waitFor(
        (l) => l.some((x) => /packets [1-9]/.test(x)) && l.some((x) => /mpeg-ts/.test(x)),
        30_000,
      );
      assertScreen(running, width, block, 'receiving');
      // Every field fits at 80 columns: nothing cut, the last fields of each line shown.
      for (const field of [/kernel drops \d+$/, /reordered \d+$/, /ssrc 0x[0-9a-f]{8}$/])
        assert.ok(
          running.some((l) => field.test(l)),
          `${String(field)} shown whole at ${width}:\n${running.join('\n')}`,
        );

      assert.ok(!exitLine(running), 'recv still running when the window is resized');
      pane.resize(narrower, HEIGHT);
      assert.deepEqual(pane.size(), { width: narrower, height: HEIGHT });
      // Redrawn at once, then every 0.2 s: clean within a few redraws (bounded wait, for a loaded
      // machine), and it stays clean through the summary (checked below).
      const resized = await pane.waitFor(
        (l) =>
          screenProblem(l, narrower, block) === undefined &&
          l.some((x) => displayWidth(x) === narrower),
        10_000,
      );
      assertScreen(resized, narrower, block, 'after the resize');
      assert.ok(
        resized.some((l) => displayWidth(l) === narrower),
        `the statistics line cut at ${narrower}:\n${resized.join('\n')}`,
      );

      const end = await pane.waitFor(exitLine, 30_000);
      assert.ok(end.includes('[exit 0]'), `recv exit status:\n${end.join('\n')}`);
      assertScreen(
        end,
        narrower,
        [/^mediasock recv {2}rtp:/, /^summary \(--duration reached\):/],
        'after the summary',
      );
      const s = await sender.done;
      assert.equal(s.code, 0, s.stderr);
    },
  );

  test(
    `npm start (the demo) in a ${width}-column terminal, then ${narrower}: the header once`,
    { skip, timeout: 240_000 },
    async (t) => {
      const pane = startPane(t, width, 'npm start -- --duration 15');
      const header = /^mediasock demo: RTP\/MP2T to 239\.255\.77\.77:\d+/;
      // The statistics: its start (what is left at 50 columns), and whole.
      const stats = /^ +\d+\.\d s {2}sent \d+ {2}received \d+/;
      const whole = /^ +\d+\.\d s {2}sent \d+ {2}received \d+ {2}lost \d+ {2}reordered \d+$/;
      const rate = /^ +jitter \d+\.\d+ ms {2}\d+\.\d+ Mbit\/s$/;
      const running = await pane.waitFor(
        (l) => l.some((x) => /received [1-9]/.test(x)) || exitLine(l),
        200_000,
      );
      // Lines above the header are npm's ("> mediasock@... start"), not the demo's.
      const ours = (lines: string[]): string[] =>
        lines.slice(lines.findIndex((l) => header.test(l)));
      assert.ok(
        running.some((l) => header.test(l)),
        running.join('\n'),
      );
      // At 80 columns and more, nothing of the demo's statistics is cut.
      assertScreen(ours(running), width, [header, /^ {2}node engine/, whole, rate], 'streaming');
      assert.ok(
        running.findIndex((l) => header.test(l)) < running.findIndex((l) => stats.test(l)),
        'the header above the statistics',
      );

      assert.ok(!exitLine(running), 'the demo still running when the window is resized');
      pane.resize(narrower, HEIGHT);
      const once = [header, /^ {2}node engine/, stats, /^ +jitter \d/];
      const resized = await pane.waitFor(
        (l) => screenProblem(ours(l), narrower, once) === undefined,
        10_000,
      );
      // After the resize the header is printed again at the new width, still once on screen.
      assertScreen(ours(resized), narrower, once, 'after the resize');

      const end = await pane.waitFor(exitLine, 60_000);
      assert.ok(end.includes('[exit 0]'), `demo exit status:\n${end.join('\n')}`);
      assertScreen(ours(end), narrower, [header, stats, /^summary: sent \d+/], 'at the end');
    },
  );
}
