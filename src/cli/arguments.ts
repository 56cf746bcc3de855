/**
 * Command-line arguments: `util.parseArgs` with its errors turned into {@link UsageError}, and the
 * number formats the commands share (counts, rates with k/M/G suffixes, durations in seconds).
 *
 * What it does not do: know any command's options (each command declares its own).
 *
 * @module
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

/** Bad command-line input: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
} as const satisfies Options;

/** Parses `args` strictly; an unknown option or a missing value is a {@link UsageError}. */
export function parseCommandArgs<O extends Options>(
  args: string[],
  options: O,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    if (
      err instanceof TypeError &&
      'code' in err &&
      String(err.code).startsWith('ERR_PARSE_ARGS')
    ) {
      throw new UsageError(err.message.replace(/\s*\n\s*/g, ' '));
    }
    throw err;
  }
}

/** A positive integer option (`--count 100`); `undefined` when not given. */
export function positiveInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`--${name} must be a positive integer (received ${JSON.stringify(text)})`);
  }
  return n;
}

/** A positive number option (`--duration 2.5`); `undefined` when not given. */
export function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} must be a positive number (received ${JSON.stringify(text)})`);
  }
  return n;
}

/** A positive rate with an optional SI suffix (`500k`, `2.5M`, `1G`); `undefined` when not given. */
export function positiveRate(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kKmMgG]?)\s*$/.exec(text);
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const n = m?.[1] === undefined ? NaN : Number(m[1]) * scale;
  if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(
      `--${name} must be a positive number, optionally with k, M or G (received ${JSON.stringify(text)})`,
    );
  }
  return n;
}
