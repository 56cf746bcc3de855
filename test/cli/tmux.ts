/**
 * A private tmux server for the terminal tests: a detached session of a given size running one
 * command, its screen captured as text, resized narrower or wider, killed at the end. Each server
 * has its own socket name (`-L`), so nothing touches a user's tmux; `-f /dev/null` ignores their
 * configuration, `-u` makes tmux read and print UTF-8.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { commandSkipReason } from '../helpers/capabilities.js';

/** Why the terminal tests cannot run here, or `undefined` when tmux is installed. */
export const tmuxSkipReason = commandSkipReason(
  'tmux',
  'the terminal tests run the command line inside a tmux pane',
);

let servers = 0;

/** One tmux server with one session. */
export class TmuxPane {
  readonly #socket: string;
  /** The socket's file (tmux leaves it behind when its server ends). */
  #socketPath = '';
  #killed = false;

  private constructor(socket: string) {
    this.#socket = socket;
  }

  /**
   * Starts a server and a detached session `width` × `height` running `command` (via `sh -c`).
   * The pane goes when the command ends: end it with a `sleep` to capture it afterwards (tmux's
   * remain-on-exit would scroll the screen by a line for its "Pane is dead" notice).
   */
  static start(width: number, height: number, command: string, cwd: string): TmuxPane {
    const pane = new TmuxPane(`mediasock-test-${process.pid}-${++servers}`);
    pane.#tmux([
      'new-session',
      '-d',
      '-x',
      String(width),
      '-y',
      String(height),
      '-c',
      cwd,
      'sh',
      '-c',
      command,
    ]);
    pane.#socketPath = pane.#tmux(['display-message', '-p', '#{socket_path}']).trim();
    return pane;
  }

  /** The visible screen, trailing blank lines removed; `joined` joins rows tmux wrapped (-J). */
  capture(joined = true): string[] {
    const out = this.#tmux(['capture-pane', '-p', ...(joined ? ['-J'] : [])]);
    const lines = out.split('\n').map((l) => l.replace(/\s+$/, ''));
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  /** The window (and its pane) resized to `width` columns. */
  resize(width: number, height: number): void {
    this.#tmux(['resize-window', '-x', String(width), '-y', String(height)]);
  }

  /** The pane's size as tmux has it. */
  size(): { width: number; height: number } {
    const [w, h] = this.#tmux(['display-message', '-p', '#{pane_width} #{pane_height}'])
      .trim()
      .split(' ')
      .map(Number);
    return { width: w ?? NaN, height: h ?? NaN };
  }

  /**
   * Polls the screen every 100 ms until `done(lines)` holds; bounded by `timeoutMs`. Returns the
   * last capture either way (the caller asserts).
   */
  async waitFor(done: (lines: string[]) => boolean, timeoutMs: number): Promise<string[]> {
    const deadline = performance.now() + timeoutMs;
    let lines = this.capture();
    for (let i = 0; i < 10_000 && !done(lines) && performance.now() < deadline; i++) {
      await sleep(100);
      lines = this.capture();
    }
    return lines;
  }

  /** Kills the server (and the command in it). */
  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    spawnSync('tmux', ['-L', this.#socket, 'kill-server'], { timeout: 10_000 });
    if (this.#socketPath.includes(this.#socket)) rmSync(this.#socketPath, { force: true });
  }

  #tmux(args: string[]): string {
    // Without TMUX: a test run from inside tmux must not talk to (or nest in) that session.
    const { TMUX: _inside, ...env } = process.env;
    const r = spawnSync('tmux', ['-u', '-L', this.#socket, '-f', '/dev/null', ...args], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    });
    if (r.status !== 0)
      throw new Error(`tmux ${args[0]} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
    return r.stdout;
  }
}
