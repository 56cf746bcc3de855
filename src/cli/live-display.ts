/**
 * Live statistics output. On a terminal, an optional header printed once, then a block of lines
 * redrawn in place (cursor up over the block, `ESC [ 0 J` to clear below, the new lines; the
 * cursor hidden while the display lives and shown again at the end). On anything else (a pipe, a
 * file) or with `--json`, one JSON object per line, so logs stay parseable.
 *
 * Terminal width: each line of the block is cut to the terminal's columns (`columns` of the
 * stream, counted in display columns: see text-width), so no line ever wraps and the cursor-up
 * count is the number of lines drawn. The header and the final summary are wrapped at spaces
 * instead (they are printed once, nothing is lost). On `'resize'` the block is redrawn at once for
 * the new width. When the terminal got narrower, terminals that reflow their lines (tmux, VTE,
 * iTerm2, kitty, Windows Terminal) have rewrapped the lines already on screen, so the block and
 * header now take more rows: the display moves up by that reflowed count (in terminals that do
 * not reflow, such as xterm, this clears as many rows above the header as the reflow would have
 * added, never leaving any of the old block behind) and redraws the header and the block.
 *
 * What it does not do: colours or input.
 *
 * @module
 */
import { cutToWidth, displayWidth, wrapToWidth } from './text-width.js';

/** Where the display writes: a stream with the optional `isTTY` and `columns` of a tty stream. */
export type DisplayStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Options of {@link LiveDisplay}. */
export interface LiveDisplayOptions {
  /** Lines printed once above the redrawn block (on a terminal only), wrapped to its width. */
  header?: readonly string[];
}

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
/** Cursor to the first column (CHA 1), then erase from the cursor to the end of the screen. */
const CLEAR_BELOW = '\x1b[1G\x1b[0J';

/** Displays drawing in place, so a failing command can show the cursor again. */
const open = new Set<LiveDisplay>();

/**
 * Ends every display still drawing in place (cursor shown again, listeners removed): for the
 * command line when a command fails or the process exits before its summary.
 */
export function abandonOpenDisplays(): void {
  for (const d of [...open]) d.abandon();
}

/** Rows the lines of these widths take once a terminal rewraps them at `columns`. */
function reflowedRows(widths: readonly number[], columns: number | undefined): number {
  if (columns === undefined) return widths.length;
  let rows = 0;
  for (const w of widths) rows += Math.max(1, Math.ceil(w / columns));
  return rows;
}

/** Live statistics, in place on a terminal or as JSON lines. */
export class LiveDisplay {
  readonly #out: DisplayStream;
  readonly #inPlace: boolean;
  readonly #header: readonly string[];
  /** Width, in columns, of each header row and each block row on screen. */
  #headerWidths: number[] = [];
  #blockWidths: number[] = [];
  /** The block last shown (redrawn on a resize). */
  #lines: readonly string[] = [];
  /** Columns when the screen was last drawn (`undefined`: not known, nothing cut). */
  #columns: number | undefined;
  readonly #onResize = (): void => this.#resized();

  /**
   * @param out - The stream to write to.
   * @param json - Force JSON lines even on a terminal.
   * @param options - A header for the terminal.
   */
  constructor(out: DisplayStream, json: boolean, options: LiveDisplayOptions = {}) {
    this.#out = out;
    this.#inPlace = out.isTTY === true && !json;
    this.#header = options.header ?? [];
    if (!this.#inPlace) return;
    open.add(this);
    this.#columns = this.#width();
    this.#out.write(HIDE_CURSOR + this.#headerText());
    this.#out.on('resize', this.#onResize);
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
    this.#lines = lines;
    this.#columns = this.#width();
    this.#out.write(this.#up(this.#blockWidths.length) + this.#blockText());
  }

  /** Writes the final summary (text on a terminal, one JSON line elsewhere) and restores the cursor. */
  finish(lines: readonly string[], record: object): void {
    if (!this.#inPlace) {
      this.#out.write(`${JSON.stringify(record)}\n`);
      return;
    }
    this.#stop();
    const columns = this.#width() ?? 0;
    const text = lines.flatMap((l) => wrapToWidth(l, columns, '  ')).join('\n');
    this.#out.write(`${text}\n${SHOW_CURSOR}`);
  }

  /** Shows the cursor again without a summary (on an error). */
  abandon(): void {
    if (!this.#inPlace || !open.has(this)) return;
    this.#stop();
    this.#out.write(SHOW_CURSOR);
  }

  #stop(): void {
    open.delete(this);
    this.#out.off('resize', this.#onResize);
    this.#blockWidths = [];
  }

  /** The stream's columns, when it has a usable number of them. */
  #width(): number | undefined {
    const c = this.#out.columns;
    return typeof c === 'number' && Number.isInteger(c) && c > 0 ? c : undefined;
  }

  /** Cursor up over `rows` rows to the first column, clearing everything below. */
  #up(rows: number): string {
    return `${rows > 0 ? `\x1b[${rows}A` : ''}${CLEAR_BELOW}`;
  }

  /** The header wrapped to the current columns (widths recorded). */
  #headerText(): string {
    const rows = this.#header.flatMap((l) => wrapToWidth(l, this.#columns ?? 0, '  '));
    this.#headerWidths = rows.map(displayWidth);
    return rows.map((r) => `${r}\n`).join('');
  }

  /** The block cut to the current columns (widths recorded). */
  #blockText(): string {
    const columns = this.#columns;
    const rows =
      columns === undefined ? this.#lines : this.#lines.map((l) => cutToWidth(l, columns));
    this.#blockWidths = rows.map(displayWidth);
    return rows.map((r) => `${r}\n`).join('');
  }

  /** Redraws for the new size at once. */
  #resized(): void {
    const before = this.#columns;
    const now = this.#width();
    if (now === undefined) return;
    this.#columns = now;
    if (before !== undefined && now >= before) {
      // Wider (or the same): the lines on screen were not wrapped and stay where they are.
      this.#out.write(this.#up(this.#blockWidths.length) + this.#blockText());
      return;
    }
    // Narrower: a reflowing terminal has rewrapped the header and the block at `now` columns.
    const rows = reflowedRows(this.#headerWidths, now) + reflowedRows(this.#blockWidths, now);
    this.#out.write(this.#up(rows) + this.#headerText() + this.#blockText());
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
