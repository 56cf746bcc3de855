/**
 * Interface names and indexes: `if_nametoindex(3)` / `if_indextoname(3)` through the addon, or
 * `/sys/class/net` on Linux without it, and the checks of an interface name or index argument.
 *
 * @module
 */

import { readFileSync, readdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { InvalidArgumentError, NotSupportedError, SystemCallError } from './errors.js';
import { loadNative } from './native/index.js';

const INT32_MAX = 0x7fffffff;
const IFNAMSIZ = 16;

/** Throws InvalidArgumentError unless `value` is an interface name (1..15 bytes, no '/'). */
export function validateInterfaceName(argument: string, value: unknown): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    Buffer.byteLength(value) >= IFNAMSIZ ||
    /[\0/\s]/.test(value) ||
    value === '.' ||
    value === '..'
  ) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be an interface name of 1..${IFNAMSIZ - 1} bytes without '/', whitespace or NUL`,
    );
  }
}

/** Throws InvalidArgumentError unless `value` is an interface index >= `min`. */
export function validateIfIndex(
  argument: string,
  value: unknown,
  min: number,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > INT32_MAX) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be an interface index: an integer in ${min}..${INT32_MAX}`,
    );
  }
}

function errnoOf(name: 'ENODEV' | 'ENXIO'): number {
  return osConstants.errno[name];
}

/**
 * The index of the interface called `name`, via `if_nametoindex(3)`; without the addon on Linux,
 * from `/sys/class/net/<name>/ifindex`.
 *
 * Platforms: all POSIX with the addon; Linux without it.
 *
 * @throws InvalidArgumentError for a malformed name.
 * @throws SystemCallError `ENODEV` (`syscall: 'if_nametoindex'`) when no such interface exists.
 * @throws NotSupportedError without the addon outside Linux.
 */
export function ifNameToIndex(name: string): number {
  validateInterfaceName('name', name);
  const binding = loadNative();
  if (binding !== undefined) return binding.msock_if_nametoindex(name);
  if (process.platform !== 'linux' && process.platform !== 'android') {
    throw new NotSupportedError('if_nametoindex', 'needs the native addon outside Linux');
  }
  let text: string;
  try {
    text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') {
      throw new SystemCallError('if_nametoindex', errnoOf('ENODEV'), { address: name, cause: err });
    }
    throw SystemCallError.from(err, { syscall: 'if_nametoindex' });
  }
  return Number.parseInt(text.trim(), 10);
}

/**
 * The name of the interface with index `index`, via `if_indextoname(3)`; without the addon on
 * Linux, by scanning `/sys/class/net/*\/ifindex`.
 *
 * Platforms: all POSIX with the addon; Linux without it.
 *
 * @throws InvalidArgumentError for an index that is not an integer in 1..2147483647.
 * @throws SystemCallError `ENXIO` (`syscall: 'if_indextoname'`) when no interface has it.
 * @throws NotSupportedError without the addon outside Linux.
 */
export function ifIndexToName(index: number): string {
  validateIfIndex('index', index, 1);
  const binding = loadNative();
  if (binding !== undefined) return binding.msock_if_indextoname(index);
  if (process.platform !== 'linux' && process.platform !== 'android') {
    throw new NotSupportedError('if_indextoname', 'needs the native addon outside Linux');
  }
  let names: string[];
  try {
    names = readdirSync('/sys/class/net');
  } catch (err) {
    throw SystemCallError.from(err, { syscall: 'if_indextoname' });
  }
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
    } catch (err) {
      // An interface can vanish between readdir and read: that one just is not a match.
      if ((err as { code?: unknown }).code === 'ENOENT') continue;
      throw SystemCallError.from(err, { syscall: 'if_indextoname' });
    }
    if (Number.parseInt(text.trim(), 10) === index) return name;
  }
  throw new SystemCallError('if_indextoname', errnoOf('ENXIO'));
}
