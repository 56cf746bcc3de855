/**
 * Socket options: typed {@link setSocketOption} / {@link getSocketOption} on a descriptor, and the
 * rows socket creation applies before `bind(2)`, both from one table ({@link socketOptions}, in
 * `option-table.ts`, re-exported here).
 *
 * The table is the single source of truth for which options mediasock can set, on which systems,
 * and what values they take, and the only route to `setsockopt(2)`: one function turns an option
 * name and a value into a row `{ level, name, kind, value, option }` (validate, then resolve the
 * numbers, then marshal the value), and that row is what the addon applies, either at once
 * ({@link setSocketOption}) or in order before `bind(2)` when it creates a socket
 * ({@link preBindRows}, for `msock_udp_socket` / `msock_tcp_socket`). Option names are the C names
 * (`IP_TOS`, `TCP_KEEPINTVL`), so they grep across TypeScript, C and man pages. The numbers behind
 * them come from the addon's `constants`, as the system headers define them, never from this file.
 *
 * Values are validated here, before any system call ({@link InvalidArgumentError}). Getting or
 * setting needs the native addon, because Node exposes neither `setsockopt(2)` nor
 * `getsockopt(2)`; without it, or on a system lacking the option, calls throw
 * {@link NotSupportedError} naming the option and the platform. Interface name/index lookups fall
 * back to `/sys/class/net` on Linux when the addon is not loaded.
 *
 * What this module does not do: it does not know which descriptor belongs to which Node socket
 * (callers pass the fd of a socket they own, and its family and protocol when they want a row of
 * the wrong kind refused before the kernel sees it) and it keeps no state: every call reads or
 * writes the kernel directly.
 *
 * @module
 */

import { isIPv4 } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { InvalidArgumentError, NotSupportedError, SystemCallError } from './errors.js';
import { loadNative, nativeStatus } from './native/index.js';
import type { NativeBinding, NativeOptionKind, NativeOptionRow } from './native/index.js';
import { socketOptions } from './option-table.js';
import type {
  MtuDiscoverMode,
  SocketOptionName,
  SocketOptionSetValue,
  SocketOptionSpec,
  SocketOptionValue,
} from './option-table.js';

export * from './option-table.js';

const INT32_MAX = 0x7fffffff;
const IFNAMSIZ = 16;

const MTU_MODES: ReadonlyArray<readonly [MtuDiscoverMode, string]> = [
  ['dont', 'IP_PMTUDISC_DONT'],
  ['want', 'IP_PMTUDISC_WANT'],
  ['do', 'IP_PMTUDISC_DO'],
  ['probe', 'IP_PMTUDISC_PROBE'],
  ['interface', 'IP_PMTUDISC_INTERFACE'],
  ['omit', 'IP_PMTUDISC_OMIT'],
];

/**
 * What the caller knows of the socket an option is meant for. A row of another kind is refused
 * with {@link InvalidArgumentError} before any system call: a `tcp` option on a UDP socket, an
 * `ipv6` option on an IPv4 socket. An `ip` option on an IPv6 socket is allowed: Linux applies it
 * to the IPv4 side of a dual-stack socket.
 */
export interface SocketOptionTarget {
  /** 4 for an `AF_INET` socket, 6 for `AF_INET6`. */
  family?: 4 | 6;
  /** The transport: `'udp'` (`SOCK_DGRAM`) or `'tcp'` (`SOCK_STREAM`). */
  protocol?: 'udp' | 'tcp';
}

/** One entry of a socket-creation list: an option of the table and its value. */
export type PreBindOption = {
  [N in SocketOptionName]: readonly [N, SocketOptionSetValue<N>];
}[SocketOptionName];

/** A value that passed validation, before its interface names are looked up. */
type Checked =
  | number
  | boolean
  | string
  | { mode: MtuDiscoverMode; constant: string }
  | { ifindex: number }
  | { address: string }
  | { ifname: string };

function specOf(name: unknown): SocketOptionSpec {
  if (typeof name !== 'string' || !Object.hasOwn(socketOptions, name)) {
    throw new InvalidArgumentError(
      'name',
      name,
      `must be one of ${Object.keys(socketOptions).join(', ')}`,
    );
  }
  return socketOptions[name as SocketOptionName];
}

function validateFd(fd: unknown): asserts fd is number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > INT32_MAX) {
    throw new InvalidArgumentError('fd', fd, 'must be a file descriptor: an integer >= 0');
  }
}

function validateInterfaceName(argument: string, value: unknown): asserts value is string {
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

function validateIfIndex(argument: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > INT32_MAX) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be an interface index: an integer in ${min}..${INT32_MAX}`,
    );
  }
}

/** Refuses a row of the wrong kind for `target` (see {@link SocketOptionTarget}). */
function checkTarget(spec: SocketOptionSpec, target: SocketOptionTarget | undefined): void {
  if (target === undefined) return;
  if (typeof target !== 'object' || target === null) {
    throw new InvalidArgumentError('target', target, 'must be an object { family?, protocol? }');
  }
  const { family, protocol } = target;
  if (family !== undefined && family !== 4 && family !== 6) {
    throw new InvalidArgumentError('target.family', family, 'must be 4 or 6');
  }
  if (protocol !== undefined && protocol !== 'udp' && protocol !== 'tcp') {
    throw new InvalidArgumentError('target.protocol', protocol, "must be 'udp' or 'tcp'");
  }
  if (spec.family === 'tcp' && protocol === 'udp') {
    throw new InvalidArgumentError(
      'name',
      spec.name,
      `must be an option of a TCP socket: ${spec.name} is at level ${spec.level}, this socket is UDP`,
    );
  }
  if (spec.family === 'ipv6' && family === 4) {
    throw new InvalidArgumentError(
      'name',
      spec.name,
      `must be an option of an IPv6 socket: ${spec.name} is at level ${spec.level}, this socket is IPv4 (AF_INET)`,
    );
  }
}

/** Step 1: the value checked against the row's type and range, before any lookup. */
function validateValue(spec: SocketOptionSpec, v: unknown): Checked {
  switch (spec.type) {
    case 'int': {
      const [min, max] = spec.range ?? [-INT32_MAX - 1, INT32_MAX];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new InvalidArgumentError(spec.name, v, `must be an integer in ${min}..${max}`);
      }
      return v;
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new InvalidArgumentError(spec.name, v, 'must be a boolean');
      return v;
    case 'string':
      if (v !== '') validateInterfaceName(spec.name, v);
      return v;
    case 'mtu-discover': {
      const entry = MTU_MODES.find(([mode]) => mode === v);
      if (entry === undefined) {
        throw new InvalidArgumentError(
          spec.name,
          v,
          `must be one of ${MTU_MODES.map(([m]) => `'${m}'`).join(', ')}`,
        );
      }
      return { mode: entry[0], constant: entry[1] };
    }
    case 'interface-v4':
      return validateInterfaceV4(spec, v);
    case 'interface-v6':
      if (typeof v === 'number') {
        validateIfIndex(spec.name, v, 0);
        return v;
      }
      if (typeof v === 'string') {
        validateInterfaceName(spec.name, v);
        return { ifname: v };
      }
      throw new InvalidArgumentError(spec.name, v, 'must be an interface index or name');
  }
}

function validateInterfaceV4(spec: SocketOptionSpec, v: unknown): Checked {
  if (typeof v === 'number') {
    validateIfIndex(spec.name, v, 0);
    if (process.platform !== 'linux' && process.platform !== 'android' && v !== 0) {
      throw new NotSupportedError(
        `${spec.name} by interface index`,
        'only Linux takes an index (struct ip_mreqn); pass the interface address',
      );
    }
    return { ifindex: v };
  }
  if (typeof v === 'string' && isIPv4(v)) return { address: v };
  if (typeof v === 'string') {
    validateInterfaceName(spec.name, v);
    return { ifname: v };
  }
  throw new InvalidArgumentError(
    spec.name,
    v,
    'must be an interface index, an interface name or an IPv4 address',
  );
}

/** Step 2: the binding and the option's level/name numbers, or NotSupportedError saying why not. */
function resolve(spec: SocketOptionSpec): { binding: NativeBinding; level: number; name: number } {
  if (!spec.platforms.includes(process.platform)) {
    throw new NotSupportedError(spec.name, `it exists only on ${spec.platforms.join(', ')}`);
  }
  const binding = loadNative();
  if (binding === undefined) {
    const { loadError } = nativeStatus();
    throw new NotSupportedError(
      spec.name,
      `setting and reading socket options needs the native addon, which is not loaded (${loadError?.message ?? 'unknown reason'})`,
      { cause: loadError },
    );
  }
  const level = binding.constants[spec.level];
  const name = binding.constants[spec.name];
  if (level === undefined || name === undefined) {
    throw new NotSupportedError(spec.name, 'the system headers the addon was built with lack it');
  }
  return { binding, level, name };
}

function byteKind(spec: SocketOptionSpec): boolean {
  return spec.byteSized === true && process.platform !== 'linux' && process.platform !== 'android';
}

/** Step 3: the value as the addon's `kind` wants it; interface names are looked up here. */
function marshal(
  spec: SocketOptionSpec,
  checked: Checked,
  binding: NativeBinding,
): Pick<NativeOptionRow, 'kind' | 'value'> {
  switch (spec.type) {
    case 'int':
      return { kind: byteKind(spec) ? 'uchar' : 'int', value: checked as number };
    case 'bool':
      return byteKind(spec)
        ? { kind: 'uchar', value: checked === true ? 1 : 0 }
        : { kind: 'bool', value: checked as boolean };
    case 'string':
      return { kind: 'string', value: checked as string };
    case 'mtu-discover': {
      const { mode, constant } = checked as { mode: MtuDiscoverMode; constant: string };
      const n = binding.constants[constant];
      if (n === undefined)
        throw new NotSupportedError(`${spec.name} '${mode}'`, `${constant} is not defined`);
      return { kind: 'int', value: n };
    }
    case 'interface-v4': {
      const c = checked as { ifindex: number } | { address: string } | { ifname: string };
      return { kind: 'mreqn', value: 'ifname' in c ? { ifindex: ifNameToIndex(c.ifname) } : c };
    }
    case 'interface-v6':
      return {
        kind: 'int',
        value:
          typeof checked === 'number'
            ? checked
            : ifNameToIndex((checked as { ifname: string }).ifname),
      };
  }
}

/**
 * Turns an option and a value into the row the addon applies with `setsockopt(2)`: validate (an
 * {@link InvalidArgumentError} before anything else), resolve the level and option numbers from
 * the addon's constants ({@link NotSupportedError} when the platform or the headers lack it), and
 * marshal the value (interface names looked up). The row carries the C name for errors.
 */
function rowOf(spec: SocketOptionSpec, value: unknown): NativeOptionRow {
  const checked = validateValue(spec, value);
  const { binding, level, name } = resolve(spec);
  return { level, name, ...marshal(spec, checked, binding), option: spec.name };
}

/**
 * The row of option `name` set to `value`: what {@link setSocketOption} applies, and one entry of
 * what socket creation applies before bind.
 *
 * @throws InvalidArgumentError, NotSupportedError as {@link setSocketOption}.
 * @internal
 */
export function optionRow<N extends SocketOptionName>(
  name: N,
  value: SocketOptionSetValue<N>,
): NativeOptionRow {
  return rowOf(specOf(name), value);
}

/**
 * Whether option `name` can be set here: its platforms include this one, the addon is loaded,
 * and the headers it was built with define the option.
 */
export function socketOptionSupported(name: SocketOptionName): boolean {
  const spec = specOf(name);
  if (!spec.platforms.includes(process.platform)) return false;
  const binding = loadNative();
  return binding?.constants[spec.level] !== undefined && binding.constants[spec.name] !== undefined;
}

/**
 * Sets a socket option on a descriptor with `setsockopt(2)`.
 *
 * `fd` is a socket the caller owns: one made by the addon, or the descriptor of a `net.Socket` /
 * `dgram.Socket`. The value type follows the option (see {@link socketOptions} and
 * `docs/options.md`). With `target`, an option of the wrong kind for the socket (a TCP option on
 * a UDP socket, an IPv6 option on an IPv4 socket) is refused before the system call.
 *
 * Platforms: per option, see {@link SocketOptionSpec.platforms}; needs the native addon.
 *
 * @example
 * ```ts
 * setSocketOption(fd, 'IP_TOS', 0xb8); // DSCP 46 (EF)
 * setSocketOption(fd, 'TCP_KEEPINTVL', 5, { protocol: 'tcp' });
 * ```
 * @throws InvalidArgumentError (`MEDIASOCK_ERR_INVALID_ARG`) for an unknown option, a bad fd, an
 *   out-of-range value or an option of the wrong kind for `target`, before any system call.
 * @throws NotSupportedError (`MEDIASOCK_ERR_NOT_SUPPORTED`) without the addon or on a system
 *   lacking the option.
 * @throws SystemCallError (`EBADF`, `ENOTSOCK`, `ENOPROTOOPT`, `EPERM`, `ENODEV` …) with
 *   `syscall: 'setsockopt'` and `option` set to the option name.
 */
export function setSocketOption<N extends SocketOptionName>(
  fd: number,
  name: N,
  value: SocketOptionSetValue<N>,
  target?: SocketOptionTarget,
): void {
  const spec = specOf(name);
  validateFd(fd);
  checkTarget(spec, target);
  const row = rowOf(spec, value);
  const binding = loadNative() as NativeBinding; // rowOf resolved it
  binding.msock_setsockopt(fd, row.level, row.name, row.kind, row.value, row.option);
}

/**
 * Reads a socket option from a descriptor with `getsockopt(2)`. See {@link setSocketOption} for
 * the values; `IP_MULTICAST_IF` reads back as an IPv4 address (`'0.0.0.0'` when set by index);
 * an option `getsockopt` does not know reads its `readAs` row (`SO_RCVBUFFORCE` reads `SO_RCVBUF`).
 *
 * Platforms: per option, see {@link SocketOptionSpec.platforms}; needs the native addon.
 *
 * @throws InvalidArgumentError for an unknown option or a bad fd.
 * @throws NotSupportedError without the addon or on a system lacking the option.
 * @throws SystemCallError with `syscall: 'getsockopt'` and `option` set.
 */
export function getSocketOption<N extends SocketOptionName>(
  fd: number,
  name: N,
): SocketOptionValue<N> {
  const asked = specOf(name);
  validateFd(fd);
  if (asked.readAs !== undefined) resolve(asked);
  const spec = asked.readAs === undefined ? asked : specOf(asked.readAs);
  const { binding, level, name: optname } = resolve(spec);
  let kind: NativeOptionKind;
  switch (spec.type) {
    case 'int':
    case 'interface-v6':
    case 'mtu-discover':
      kind = byteKind(spec) ? 'uchar' : 'int';
      break;
    case 'bool':
      kind = byteKind(spec) ? 'uchar' : 'bool';
      break;
    case 'string':
      kind = 'string';
      break;
    case 'interface-v4':
      kind = 'mreqn';
      break;
  }
  const raw = binding.msock_getsockopt(fd, level, optname, kind, spec.name);
  if (spec.type === 'bool' && typeof raw === 'number') return (raw !== 0) as SocketOptionValue<N>;
  if (spec.type === 'mtu-discover') {
    const entry = MTU_MODES.find(([, c]) => binding.constants[c] === raw);
    if (entry === undefined) {
      throw new NotSupportedError(`${spec.name} value ${String(raw)}`, 'the mode is not known');
    }
    return entry[0] as SocketOptionValue<N>;
  }
  return raw as SocketOptionValue<N>;
}

/**
 * The rows `msock_udp_socket` / `msock_tcp_socket` apply in order before `bind(2)`, from a list of
 * table options (each marked `preBind`) for a socket of `socket.family` and `socket.protocol`:
 *
 * - an option of the wrong kind for the socket is refused ({@link SocketOptionTarget});
 * - on an IPv6 socket an IPv4 option with an IPv6 counterpart (`IP_TOS` → `IPV6_TCLASS`,
 *   `IP_MULTICAST_ALL`, `IP_PKTINFO`, `IP_RECVTOS`) gives the counterpart's row, then its own row
 *   marked `ipv4Side`: the addon sets that one only where the socket carries IPv4 (not
 *   `IPV6_V6ONLY`, read from the kernel) and the system takes IPv4 options on an IPv6 socket
 *   (Linux). List `IPV6_V6ONLY` first so the kernel knows;
 * - an option with a `fallback` (`SO_RCVBUFFORCE`) carries it: the addon sets the fallback
 *   (`SO_RCVBUF`, which the kernel clamps) when the option is refused as not permitted; where the
 *   option does not exist at all, the fallback's row comes instead.
 *
 * @throws InvalidArgumentError for an option not marked `preBind`, of the wrong kind, or with a
 *   bad value; NotSupportedError as {@link setSocketOption}.
 * @internal
 */
export function preBindRows(
  socket: Required<SocketOptionTarget>,
  list: readonly PreBindOption[],
): NativeOptionRow[] {
  const rows: NativeOptionRow[] = [];
  for (const [name, value] of list) {
    const spec = specOf(name);
    if (spec.preBind !== true) {
      throw new InvalidArgumentError(
        'name',
        name,
        'must be an option socket creation sets before bind (marked preBind in the table)',
      );
    }
    checkTarget(spec, socket);
    if (socket.family === 6 && spec.family === 'ip') {
      if (spec.ipv6 !== undefined) rows.push(preBindRow(specOf(spec.ipv6), value));
      rows.push({ ...preBindRow(spec, value), ipv4Side: true });
    } else {
      rows.push(preBindRow(spec, value));
    }
  }
  return rows;
}

/** One pre-bind row, with its fallback attached, or the fallback's row where it alone exists. */
function preBindRow(spec: SocketOptionSpec, value: unknown): NativeOptionRow {
  if (spec.fallback === undefined) return rowOf(spec, value);
  const fallback = specOf(spec.fallback);
  if (!socketOptionSupported(spec.name as SocketOptionName)) return rowOf(fallback, value);
  const fallbackRow = rowOf(fallback, value);
  return { ...rowOf(spec, value), fallback: { name: fallbackRow.name, option: fallback.name } };
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
