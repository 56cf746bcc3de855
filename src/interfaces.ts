/**
 * Network interface discovery: lists the host's interfaces with index, flags, MTU, hardware address
 * and IP addresses, finds one by name, index or address, and picks "our" IPv4/IPv6 address the way
 * live555's `ourIPv4Address()` does.
 *
 * On Linux the interface list comes from `/sys/class/net/<name>/{ifindex,flags,mtu,address,operstate}`
 * and the addresses from `os.networkInterfaces()`, so interfaces that are down or have no address are
 * listed too. Elsewhere only `os.networkInterfaces()` is available, which lists only interfaces that
 * are up and have an address; see {@link networkInterfaces} for what is then unknown.
 *
 * What it does not do: it does not cache (every call reads the system afresh, so a list never goes
 * stale), it does not watch for changes, it keeps no process-wide "current interface" (choices are
 * per socket), and it never resolves the hostname, so no call here can trigger DNS.
 *
 * @module
 */

import { readdirSync, readFileSync } from 'node:fs';
import { SocketAddress } from 'node:net';
import { networkInterfaces as osNetworkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo as OsAddressInfo } from 'node:os';
import { InvalidArgumentError } from './errors.js';

/** The `IFF_*` flags of an interface that matter to a socket layer. */
export interface InterfaceFlags {
  /** `IFF_UP`: administratively up. */
  readonly up: boolean;
  /** `IFF_RUNNING`: operationally up (link/carrier present, or operstate unknown as on `lo`). */
  readonly running: boolean;
  /** `IFF_LOOPBACK`. */
  readonly loopback: boolean;
  /** `IFF_MULTICAST`: the interface supports multicast. */
  readonly multicast: boolean;
  /** `IFF_BROADCAST`: the interface has a valid broadcast address. */
  readonly broadcast: boolean;
  /** `IFF_POINTOPOINT`: a point-to-point link (tunnels, PPP). */
  readonly pointToPoint: boolean;
}

/** One IP address assigned to an interface. */
export interface InterfaceAddress {
  /** The address in its canonical text form (`192.0.2.1`, `fe80::1`), without a zone. */
  readonly address: string;
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The netmask in address form (`255.255.255.0`, `ffff:ffff:ffff:ffff::`). */
  readonly netmask: string;
  /** The number of leading one bits of `netmask` (24, 64 …). */
  readonly prefixLength: number;
  /** For IPv6 addresses with a scope (link-local), the scope id: the interface index. */
  readonly scopeId?: number;
}

/** One network interface. */
export interface NetworkInterfaceInfo {
  /** The interface name (`lo`, `eth0`). */
  readonly name: string;
  /**
   * The interface index, as `if_nametoindex(3)` gives it. `undefined` where the platform does not
   * reveal it (see {@link networkInterfaces}).
   */
  readonly index: number | undefined;
  /** The interface flags. */
  readonly flags: InterfaceFlags;
  /** The MTU in bytes; `undefined` where the platform does not reveal it. */
  readonly mtu: number | undefined;
  /** The hardware address (`02:00:00:00:00:01`); `undefined` when the interface has none. */
  readonly mac: string | undefined;
  /** The IP addresses assigned to the interface, IPv4 and IPv6, in the order the system lists them. */
  readonly addresses: readonly InterfaceAddress[];
}

/** An interface named by its name (`'eth0'`), index (`2` or `'2'`) or one of its addresses. */
export type InterfaceSpec = string | number;

// Linux IFF_* bits, as in <linux/if.h>.
const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;
const IFF_MULTICAST = 0x1000;

const SYS_CLASS_NET = '/sys/class/net';

/**
 * Lists every network interface, sorted by index, with its flags, MTU, hardware address and IP
 * addresses. Reads the system afresh on every call.
 *
 * Platforms: Linux reads `/sys/class/net` and lists every interface, including those that are down
 * or have no address. On other platforms (and on Linux when `/sys` is not mounted) the list comes
 * from `os.networkInterfaces()`, which only shows interfaces that are up and running and have an
 * address; there `index` is known only for interfaces with an IPv6 link-local address (from its
 * scope id), `mtu` is `undefined`, `flags.up` and `flags.running` are `true`, `flags.loopback`
 * follows Node's `internal`, `flags.multicast` is assumed `true`, and `flags.broadcast` and
 * `flags.pointToPoint` are reported `false`.
 *
 * @remarks Known limitation: addresses come from `os.networkInterfaces()` on every platform, and
 * libuv leaves out interfaces that are not both up and running, so on Linux an interface that is
 * down or has no carrier is listed with its flags, index and MTU but with no `addresses`.
 */
export function networkInterfaces(): NetworkInterfaceInfo[] {
  const byName = addressesByInterface();
  const names = process.platform === 'linux' ? sysfsInterfaceNames() : undefined;
  const list: NetworkInterfaceInfo[] = [];
  if (names !== undefined) {
    for (const name of names) {
      const info = readSysfsInterface(name, byName.get(name)?.addresses ?? []);
      if (info !== undefined) list.push(info);
    }
  } else {
    for (const [name, entry] of byName) {
      const linkLocal = entry.addresses.find((a) => a.scopeId !== undefined && a.scopeId > 0);
      list.push({
        name,
        index: linkLocal?.scopeId,
        flags: {
          up: true,
          running: true,
          loopback: entry.internal,
          multicast: true,
          broadcast: false,
          pointToPoint: false,
        },
        mtu: undefined,
        mac: entry.mac,
        addresses: entry.addresses,
      });
    }
  }
  return list.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity));
}

/**
 * Finds an interface by name (`'lo'`), index (`1` or `'1'`) or one of its addresses (`'127.0.0.1'`,
 * `'::1'`, `'fe80::1%eth0'`; with a zone, the address must be on the zone's interface).
 *
 * @throws InvalidArgumentError (`MEDIASOCK_ERR_INVALID_ARG`) when `spec` is malformed or names no
 *   interface; the message lists the interfaces that exist.
 */
export function findInterface(spec: InterfaceSpec): NetworkInterfaceInfo {
  const list = networkInterfaces();
  const found = lookup(list, spec);
  if (found === undefined) {
    throw new InvalidArgumentError(
      'interface',
      spec,
      `must name a local interface by name, index or address; known interfaces: ${known(list)}`,
    );
  }
  return found;
}

/**
 * Lists the interfaces that are up and multicast-capable (`IFF_UP` and `IFF_MULTICAST`).
 *
 * Platforms: on Linux `lo` lacks `IFF_MULTICAST` and is therefore not listed, although IPv4
 * multicast on it works when named explicitly. See {@link networkInterfaces} for other platforms.
 */
export function multicastInterfaces(): NetworkInterfaceInfo[] {
  return networkInterfaces().filter((i) => i.flags.up && i.flags.multicast);
}

/**
 * Returns the first address of `family` on an interface, without a zone. For IPv4 this is what
 * `IP_ADD_MEMBERSHIP` and `IP_MULTICAST_IF` take to name an interface (Node's `addMembership` and
 * `setMulticastInterface`).
 *
 * @param iface - The interface, or a name, index or address naming it (see {@link findInterface}).
 * @param family - 4 or 6.
 * @throws InvalidArgumentError when `iface` names no interface, `family` is not 4 or 6, or the
 *   interface has no address of that family.
 */
export function interfaceAddress(
  iface: InterfaceSpec | NetworkInterfaceInfo,
  family: 4 | 6,
): string {
  if (family !== 4 && family !== 6) {
    throw new InvalidArgumentError('family', family, 'must be 4 or 6');
  }
  const info = typeof iface === 'object' && iface !== null ? iface : findInterface(iface);
  const first = info.addresses.find((a) => a.family === family);
  if (first === undefined) {
    throw new InvalidArgumentError(
      'interface',
      info.name,
      `must have an IPv${family} address (it has ${
        info.addresses.length === 0 ? 'none' : info.addresses.map((a) => a.address).join(', ')
      })`,
    );
  }
  return first.address;
}

/**
 * Returns this host's IPv4 address as live555's `ourIPv4Address()` picks it: the first address, in
 * interface order, of an interface that is up and not loopback, skipping "bad" addresses
 * (`0.0.0.0`, `127.0.0.0/8`, `255.255.255.255`).
 *
 * Unlike live555 it does not fall back to resolving the hostname (no DNS) and does not cache:
 * returns `undefined` when no interface has such an address.
 */
export function ourIPv4Address(): string | undefined {
  for (const info of networkInterfaces()) {
    if (!info.flags.up || info.flags.loopback) continue;
    for (const a of info.addresses) {
      if (a.family === 4 && !isBadIPv4(a.address)) return a.address;
    }
  }
  return undefined;
}

/**
 * Returns this host's IPv6 address as live555's `ourIPv6Address()` picks it: the first address, in
 * interface order, of an interface that is up and not loopback, skipping `::` and `::1`, and
 * skipping link-local addresses (`fe80::/10`) unless there is nothing else. A link-local result
 * carries its zone (`fe80::1%eth0`) so that it can be used as it is.
 *
 * Returns `undefined` when no interface has a usable IPv6 address; never resolves the hostname.
 */
export function ourIPv6Address(): string | undefined {
  let linkLocal: string | undefined;
  for (const info of networkInterfaces()) {
    if (!info.flags.up || info.flags.loopback) continue;
    for (const a of info.addresses) {
      if (a.family !== 6 || a.address === '::' || a.address === '::1') continue;
      if (isLinkLocalIPv6(a.address)) {
        linkLocal ??= `${a.address}%${info.name}`;
        continue;
      }
      return a.address;
    }
  }
  return linkLocal;
}

// ---------------------------------------------------------------------------------------------

interface OsEntry {
  mac: string | undefined;
  internal: boolean;
  addresses: InterfaceAddress[];
}

/** `os.networkInterfaces()` regrouped by interface; IPv4 alias labels (`eth0:1`) fold into `eth0`. */
function addressesByInterface(): Map<string, OsEntry> {
  const out = new Map<string, OsEntry>();
  const raw = osNetworkInterfaces();
  for (const [label, infos] of Object.entries(raw)) {
    if (infos === undefined) continue;
    const name = process.platform === 'linux' ? (label.split(':')[0] ?? label) : label;
    let entry = out.get(name);
    if (entry === undefined) {
      entry = { mac: undefined, internal: false, addresses: [] };
      out.set(name, entry);
    }
    for (const info of infos) {
      entry.internal ||= info.internal;
      if (entry.mac === undefined && info.mac !== '') entry.mac = info.mac;
      entry.addresses.push(toInterfaceAddress(info));
    }
  }
  return out;
}

function toInterfaceAddress(info: OsAddressInfo): InterfaceAddress {
  const family: 4 | 6 = info.family === 'IPv4' ? 4 : 6;
  const base = {
    address: info.address,
    family,
    netmask: info.netmask,
    prefixLength: prefixLength(info.netmask, family),
  };
  // Node reports scopeid 0 for addresses without a scope; keep the field only where it means something.
  return info.family === 'IPv6' && info.scopeid > 0 ? { ...base, scopeId: info.scopeid } : base;
}

/** Counts the leading one bits of a netmask. */
function prefixLength(netmask: string, family: 4 | 6): number {
  let bits = 0;
  if (family === 4) {
    for (const part of netmask.split('.')) bits += popcount(Number(part) & 0xff);
  } else {
    for (const group of expandIPv6(netmask)) bits += popcount(group);
  }
  return bits;
}

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v !== 0; v &= v - 1) c++;
  return c;
}

/** Expands an IPv6 address (no zone, no embedded IPv4) into its eight 16-bit groups. */
function expandIPv6(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(Math.max(0, zeros)).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
}

/**
 * Names under `/sys/class/net`, or `undefined` when that directory does not exist (a container
 * without sysfs), in which case the caller falls back to `os.networkInterfaces()`.
 */
function sysfsInterfaceNames(): string[] | undefined {
  try {
    return readdirSync(SYS_CLASS_NET);
  } catch (err) {
    if (isNodeError(err) && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Reads one interface from `/sys/class/net/<name>`. Returns `undefined` when the interface vanished
 * between listing the directory and reading it (it is then simply not part of the answer).
 */
function readSysfsInterface(
  name: string,
  addresses: InterfaceAddress[],
): NetworkInterfaceInfo | undefined {
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(`${SYS_CLASS_NET}/${name}/${file}`, 'utf8').trim();
    } catch (err) {
      // ENOENT/ENODEV: the interface went away; EINVAL: the attribute has no value for this device.
      if (isNodeError(err) && (err.code === 'ENOENT' || err.code === 'ENODEV')) return undefined;
      if (isNodeError(err) && err.code === 'EINVAL') return '';
      throw err;
    }
  };
  const indexText = read('ifindex');
  const flagsText = read('flags');
  if (indexText === undefined || flagsText === undefined) return undefined;
  const index = Number.parseInt(indexText, 10);
  const bits = Number.parseInt(flagsText, 16);
  const mtuText = read('mtu');
  const macText = read('address');
  const operstate = read('operstate');
  const up = (bits & IFF_UP) !== 0;
  return {
    name,
    index: Number.isInteger(index) ? index : undefined,
    flags: {
      up,
      // The kernel's dev_get_flags(): IFF_RUNNING when up and operstate is "up" or "unknown".
      running: up && (operstate === 'up' || operstate === 'unknown'),
      loopback: (bits & IFF_LOOPBACK) !== 0,
      multicast: (bits & IFF_MULTICAST) !== 0,
      broadcast: (bits & IFF_BROADCAST) !== 0,
      pointToPoint: (bits & IFF_POINTOPOINT) !== 0,
    },
    mtu: mtuText === undefined || mtuText === '' ? undefined : Number.parseInt(mtuText, 10),
    mac: macText === undefined || macText === '' ? undefined : macText,
    addresses,
  };
}

function lookup(
  list: NetworkInterfaceInfo[],
  spec: InterfaceSpec,
): NetworkInterfaceInfo | undefined {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec <= 0) {
      throw new InvalidArgumentError('interface', spec, 'must be a positive integer index');
    }
    return list.find((i) => i.index === spec);
  }
  if (typeof spec !== 'string') {
    throw new InvalidArgumentError(
      'interface',
      spec,
      'must be an interface name, index or address',
    );
  }
  if (spec === '') {
    throw new InvalidArgumentError(
      'interface',
      spec,
      'must be an interface name, index or address, not empty',
    );
  }
  if (/^[0-9]+$/.test(spec)) return list.find((i) => i.index === Number(spec));
  const byName = list.find((i) => i.name === spec);
  if (byName !== undefined) return byName;
  const percent = spec.indexOf('%');
  const address = canonicalAddress(percent === -1 ? spec : spec.slice(0, percent));
  if (address === undefined) return undefined;
  const has = (i: NetworkInterfaceInfo): boolean => i.addresses.some((a) => a.address === address);
  if (percent === -1) return list.find(has);
  // With a zone, the zone (a name or a decimal index) picks the interface, which must hold the address.
  const zone = spec.slice(percent + 1);
  const zoned = list.find(
    (i) => i.name === zone || (/^[0-9]+$/.test(zone) && i.index === Number(zone)),
  );
  return zoned !== undefined && has(zoned) ? zoned : undefined;
}

/** The canonical text of an IP address, or `undefined` when `text` is not one. */
function canonicalAddress(text: string): string | undefined {
  for (const family of ['ipv4', 'ipv6'] as const) {
    try {
      return new SocketAddress({ address: text, family }).address;
    } catch (err) {
      // ERR_INVALID_ADDRESS: not an address of this family; try the next one.
      if (!isNodeError(err) || err.code !== 'ERR_INVALID_ADDRESS') throw err;
    }
  }
  return undefined;
}

function known(list: NetworkInterfaceInfo[]): string {
  if (list.length === 0) return 'none';
  return list.map((i) => (i.index === undefined ? i.name : `${i.name} (${i.index})`)).join(', ');
}

function isBadIPv4(address: string): boolean {
  return address === '0.0.0.0' || address === '255.255.255.255' || address.startsWith('127.');
}

function isLinkLocalIPv6(address: string): boolean {
  const first = expandIPv6(address)[0] ?? 0;
  return (first & 0xffc0) === 0xfe80;
}

function isNodeError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}
