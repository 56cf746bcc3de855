/**
 * Live statistics output. On a terminal, a block of lines redrawn in place (readline `moveCursor`,
 * `cursorTo`, `clearScreenDown`; the cursor hidden while drawing and shown again at the end). On
 * anything else (a pipe, a file) or with `--json`, one JSON object per line, so logs stay
 * parseable.
 *
 * What it does not do: colours, terminal size handling, or input.
 *
 * @module
 */
import { clearScreenDown, cursorTo, moveCursor } from 'node:readline';

/** Where the display writes: a stream with an optional `isTTY`. */
export type DisplayStream = NodeJS.WritableStream & { isTTY?: boolean };

/** Live statistics, in place on a terminal or as JSON lines. */
export class LiveDisplay {
  readonly #out: DisplayStream;
  readonly #inPlace: boolean;
  #drawnLines = 0;

  /**
   * @param out - The stream to write to.
   * @param json - Force JSON lines even on a terminal.
   */
  constructor(out: DisplayStream, json: boolean) {
    this.#out = out;
    this.#inPlace = out.isTTY === true && !json;
    if (this.#inPlace) this.#out.write('\x1b[?25l');
  }

  /** Whether the output is redrawn in place (a terminal without `--json`). */
  get inPlace(): boolean {
    return this.#inPlace;
  }

  /** Shows one update: `lines` on a terminal, `record` as a JSON line elsewhere. */
  update(lines: readonly string[], record: object): void {
    if (!this.#inPlace) {
      this.#out.write(`${JSON.stringify(record)}\n`);
      return;
    }
    if (this.#drawnLines > 0) moveCursor(this.#out, 0, -this.#drawnLines);
    cursorTo(this.#out, 0);
    clearScreenDown(this.#out);
    this.#out.write(`${lines.join('\n')}\n`);
    this.#drawnLines = lines.length;
  }

  /** Writes the final summary (text on a terminal, one JSON line elsewhere) and restores the cursor. */
  finish(lines: readonly string[], record: object): void {
    if (!this.#inPlace) {
      this.#out.write(`${JSON.stringify(record)}\n`);
      return;
    }
    this.#out.write(`${lines.join('\n')}\n\x1b[?25h`);
    this.#drawnLines = 0;
  }

  /** Shows the cursor again without a summary (on an error). */
  abandon(): void {
    if (this.#inPlace) this.#out.write('\x1b[?25h');
  }
}

/** Formats a bit rate as `12.34 Mbit/s`. */
export function formatMbit(bitsPerSecond: number): string {
  return `${(bitsPerSecond / 1e6).toFixed(2)} Mbit/s`;
}

/** Rounds for display and JSON (`NaN` and infinities, as after zero seconds, become 0). */
export function roundTo(n: number, digits: number): number {
  if (!Number.isFinite(n)) return 0;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
