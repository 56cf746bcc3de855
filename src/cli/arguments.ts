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

/**
 * Parses `args` strictly; an unknown option or a missing value is a {@link UsageError}. A negative
 * number after an option that takes a value (`--count -5`) is that option's value, so the option's
 * own check says what is wrong with it (rather than parseArgs' "ambiguous" message).
 */
export function parseCommandArgs<O extends Options>(
  args: string[],
  options: O,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
> {
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      allowPositionals: true,
      strict: true,
    });
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

/** `--name -5` → `--name=-5` for options that take a value; everything after `--` is left alone. */
function joinNegativeValues(args: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (
      name !== undefined &&
      options[name]?.type === 'string' &&
      next !== undefined &&
      /^-(\d|\.\d)/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** The most seconds `--duration` accepts (about 31 years; timers longer than 24.8 days are chained). */
export const MAX_DURATION_SECONDS = 1e9;

/** The range of `--interval`, in seconds. */
export const INTERVAL_SECONDS = { min: 0.01, max: 86_400 } as const;

/** A decimal or `0x` hexadecimal integer in `min..max`; `undefined` when not given. */
export function integerIn(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (
    !/^\s*(0x[0-9a-fA-F]+|\d+)\s*$/.test(text) ||
    !Number.isSafeInteger(n) ||
    n < min ||
    n > max
  ) {
    const what = min === 1 ? 'a positive integer' : 'an integer';
    throw new UsageError(
      `--${name} must be ${what} from ${min} to ${max} (received ${JSON.stringify(text)})`,
    );
  }
  return n;
}

/** A positive integer option (`--count 100`), at most `max`; `undefined` when not given. */
export function positiveInteger(
  name: string,
  text: string | undefined,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  return integerIn(name, text, 1, max);
}

/** Decimal, optionally with a fraction and an exponent: `2.5`, `.5`, `1e3`. */
const DECIMAL = '(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?';

/**
 * A positive number option (`--duration 2.5`), greater than 0 (and at least `min` when given) and
 * at most `max`; `undefined` when not given.
 */
export function positiveNumber(
  name: string,
  text: string | undefined,
  { max, min, unit = '' }: { max: number; min?: number; unit?: string },
): number | undefined {
  if (text === undefined) return undefined;
  const n = new RegExp(`^\\s*${DECIMAL}\\s*$`).test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n < (min ?? 0) || n > max) {
    const range = min !== undefined ? `from ${min} to ${max}` : `at most ${max}`;
    throw new UsageError(
      `--${name} must be a positive number${unit}, ${range} (received ${JSON.stringify(text)})`,
    );
  }
  return n;
}

/**
 * A positive rate with an optional SI suffix (`500k`, `2.5M`, `1G`, `1e6`), at most `max`;
 * `undefined` when not given.
 */
export function positiveRate(
  name: string,
  text: string | undefined,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const m = new RegExp(`^\\s*(${DECIMAL})\\s*([kKmMgG]?)\\s*$`).exec(text);
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const n = m?.[1] === undefined ? NaN : Number(m[1]) * scale;
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    throw new UsageError(
      `--${name} must be a positive number, at most ${formatSi(max)}, optionally with k, M or G (received ${JSON.stringify(text)})`,
    );
  }
  return n;
}

/** `10000000` → `10M`. */
export function formatSi(n: number): string {
  for (const [suffix, scale] of [
    ['G', 1e9],
    ['M', 1e6],
    ['k', 1e3],
  ] as const) {
    if (n >= scale && n % scale === 0) return `${n / scale}${suffix}`;
  }
  return String(n);
}

/** The most datagrams per second `--pps` accepts (loopback tops out near 1.4M with GSO). */
export const MAX_PACKETS_PER_SECOND = 10_000_000;

/** The most bits per second `--bitrate` accepts. */
export const MAX_BITS_PER_SECOND = 100e9;

/** The most bytes of payload in one UDP datagram over IPv4. */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

/** `--duration S`: seconds, greater than 0, at most {@link MAX_DURATION_SECONDS}. */
export function durationSeconds(text: string | undefined): number | undefined {
  return positiveNumber('duration', text, { max: MAX_DURATION_SECONDS, unit: ' of seconds' });
}

/** `--interval S`: seconds between statistics lines, in {@link INTERVAL_SECONDS}; default 1. */
export function intervalSeconds(text: string | undefined): number {
  return positiveNumber('interval', text, { ...INTERVAL_SECONDS, unit: ' of seconds' }) ?? 1;
}

/** `--clock-rate HZ`: an RTP timestamp clock, 1 Hz to 4294967295 Hz; default 90000. */
export function clockRateHz(text: string | undefined): number {
  return positiveInteger('clock-rate', text, 0xffffffff) ?? 90_000;
}

/** `--pps N`: datagrams per second, up to {@link MAX_PACKETS_PER_SECOND}. */
export function packetsPerSecond(text: string | undefined): number | undefined {
  return positiveRate('pps', text, MAX_PACKETS_PER_SECOND);
}
