/**
 * From an option of the table and a value to the row the addon applies with `setsockopt(2)`:
 * validate (before any system call), resolve the level and option numbers from the addon's
 * `constants`, marshal the value. `setSocketOption` (options.ts) applies one row at once; socket
 * creation (`msock_udp_socket` / `msock_tcp_socket`) applies a list of them before `bind(2)`,
 * built here by {@link preBindRows}. Internal to mediasock: the public calls are in `options.ts`.
 *
 * @module
 * @internal
 */

import { isIPv4 } from 'node:net';
import { InvalidArgumentError, NotSupportedError } from './errors.js';
import { loadNative, nativeStatus } from './native/index.js';
import type { NativeBinding, NativeOptionRow } from './native/index.js';
import { ifNameToIndex, validateIfIndex, validateInterfaceName } from './interface-index.js';
import { socketOptions } from './option-table.js';
import type {
  MtuDiscoverMode,
  SocketOptionName,
  SocketOptionSetValue,
  SocketOptionSpec,
} from './option-table.js';

const INT32_MAX = 0x7fffffff;

/** `IP_MTU_DISCOVER` modes and the constants behind them. */
export const MTU_MODES: ReadonlyArray<readonly [MtuDiscoverMode, string]> = [
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

/** The row of the table called `name`, or InvalidArgumentError. */
export function specOf(name: unknown): SocketOptionSpec {
  if (typeof name !== 'string' || !Object.hasOwn(socketOptions, name)) {
    throw new InvalidArgumentError(
      'name',
      name,
      `must be one of ${Object.keys(socketOptions).join(', ')}`,
    );
  }
  return socketOptions[name as SocketOptionName];
}

/** Refuses a row of the wrong kind for `target` (see {@link SocketOptionTarget}). */
export function checkTarget(spec: SocketOptionSpec, target: SocketOptionTarget | undefined): void {
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
export function resolve(spec: SocketOptionSpec): {
  binding: NativeBinding;
  level: number;
  name: number;
} {
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

export function byteKind(spec: SocketOptionSpec): boolean {
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
 * The row of option `name` set to `value`: what `setSocketOption` (options.ts) applies, and one
 * entry of what socket creation applies before bind.
 *
 * @throws InvalidArgumentError, NotSupportedError as `setSocketOption` does.
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
 *   bad value; NotSupportedError as `setSocketOption` does.
 * @internal
 */
export function preBindRows(
  socket: Required<SocketOptionTarget>,
  list: readonly PreBindOption[],
): NativeOptionRow[] {
  // Every entry is checked before anything is resolved: validation errors come first.
  const plan = list.map(([name, value]) => planEntry(socket, name, value));
  const rows: NativeOptionRow[] = [];
  for (const { spec, counterpart, value } of plan) {
    if (counterpart !== undefined) rows.push(preBindRow(counterpart, value));
    const row = preBindRow(spec, value);
    rows.push(socket.family === 6 && spec.family === 'ip' ? { ...row, ipv4Side: true } : row);
  }
  return rows;
}

/** One checked entry of a creation list, with its IPv6 counterpart on an IPv6 socket. */
function planEntry(
  socket: Required<SocketOptionTarget>,
  name: unknown,
  value: unknown,
): { spec: SocketOptionSpec; counterpart: SocketOptionSpec | undefined; value: unknown } {
  const spec = specOf(name);
  if (spec.preBind !== true) {
    throw new InvalidArgumentError(
      'name',
      name,
      'must be an option socket creation sets before bind (marked preBind in the table)',
    );
  }
  checkTarget(spec, socket);
  validateValue(spec, value);
  const counterpart =
    socket.family === 6 && spec.ipv6 !== undefined ? specOf(spec.ipv6) : undefined;
  if (counterpart !== undefined) validateValue(counterpart, value);
  return { spec, counterpart, value };
}

/** One pre-bind row, with its fallback attached, or the fallback's row where it alone exists. */
function preBindRow(spec: SocketOptionSpec, value: unknown): NativeOptionRow {
  if (spec.fallback === undefined) return rowOf(spec, value);
  const fallback = specOf(spec.fallback);
  if (!socketOptionSupported(spec.name as SocketOptionName)) return rowOf(fallback, value);
  const fallbackRow = rowOf(fallback, value);
  return { ...rowOf(spec, value), fallback: { name: fallbackRow.name, option: fallback.name } };
}
