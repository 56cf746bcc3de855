/**
 * IP addresses and `host:port` endpoints: parse, format, normalize, compare and classify.
 *
 * Everything here is pure and synchronous: no system call, no name lookup (see `resolve.ts`), no
 * knowledge of the machine's interfaces (see `interfaces.ts`; a zone such as `eth0` stays a
 * string here). IP syntax is checked with `node:net` (`isIPv4`, `isIPv6`); the rest is our own.
 *
 * Conventions:
 * - IPv6 addresses are normalized to RFC 5952 text: lower case, leading zeros dropped, the longest
 *   run of two or more zero groups compressed to `::`, and IPv4-mapped addresses written
 *   `::ffff:a.b.c.d`. IPv4 addresses are already canonical (`node:net` refuses leading zeros).
 * - A zone (`fe80::1%eth0`) is 1 to 15 characters of letters, digits, `_`, `.` and `-`: a Linux
 *   interface name or an interface index. Zones are only accepted on IPv6 addresses.
 * - Host names follow RFC 1123 (labels of letters, digits and inner hyphens, each at most 63
 *   characters, at most 253 in all, one trailing dot allowed) and may not end in an all-numeric
 *   label (RFC 3696 §2), because `getaddrinfo` would read `1.2.3` as the IPv4 address 1.2.0.3.
 *
 * @module
 */

import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from './errors.js';
import { validatePort, validateString } from './validate.js';

/** An IP address family, as `node:net` numbers them. */
export type IPFamily = 4 | 6;

/** A host and port: `host` is an IP address (normalized) or a host name (lower-cased). */
export interface HostPort {
  /** An IPv4 or IPv6 address without brackets and without zone, or a host name. */
  host: string;
  /** The port, 0..65535. */
  port: number;
  /** 4 or 6 for an address literal, 0 for a name. */
  family: IPFamily | 0;
  /** The IPv6 zone (interface name or index) that followed `%`, when there was one. */
  zone?: string;
}

/** The scope of a multicast group (RFC 7346 for IPv6; RFC 5771 and RFC 2365 for IPv4). */
export type MulticastScope =
  | 'interface-local'
  | 'link-local'
  | 'realm-local'
  | 'admin-local'
  | 'site-local'
  | 'organization-local'
  | 'global'
  | 'reserved'
  | 'unassigned';

/** What kind of address an IP address is; the result of {@link classifyAddress}. */
export interface AddressClass {
  /** 4 or 6, as written (an IPv4-mapped IPv6 address is family 6). */
  family: IPFamily;
  /** `0.0.0.0` or `::`. */
  unspecified: boolean;
  /** 127.0.0.0/8 or `::1`. */
  loopback: boolean;
  /**
   * Link-local unicast (169.254.0.0/16, fe80::/10) or link-local multicast (224.0.0.0/24, and every
   * IPv6 group of link-local scope `ffx2::/16`, which includes ff02::/16).
   */
  linkLocal: boolean;
  /** 224.0.0.0/4 or ff00::/8. */
  multicast: boolean;
  /** In the source-specific multicast range: 232.0.0.0/8 or ff3x::/96 (RFC 4607). */
  ssm: boolean;
  /** Multicast outside the SSM range (any-source multicast). */
  asm: boolean;
  /** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`); the other fields describe the IPv4 address. */
  v4Mapped: boolean;
  /** For multicast groups only, the group's scope. */
  multicastScope?: MulticastScope;
}

const ZONE_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;
const LABEL_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;
const ALL_DIGITS = /^[0-9]+$/;

/**
 * A zone in a URL that begins with RFC 6874's escaped `%` (`%25eth0`): `25` followed by something
 * that is not all digits. `%25` alone and `%251` stay interface indexes 25 and 251.
 *
 * @internal
 */
export const URI_ESCAPED_ZONE = /^25(?![0-9]*$)/;

/**
 * Returns the family of an IP address literal: 4, 6 (a zone is allowed), or 0 when `address` is
 * not an address literal (a host name, or anything else).
 */
export function addressFamily(address: string): IPFamily | 0 {
  if (typeof address !== 'string') return 0;
  if (isIPv4(address)) return 4;
  const { address: bare, zone } = splitZone(address);
  if (zone !== undefined && !ZONE_PATTERN.test(zone)) return 0;
  return isIPv6(bare) ? 6 : 0;
}

/**
 * Splits `fe80::1%eth0` into `{ address: 'fe80::1', zone: 'eth0' }`. Text without `%` comes back
 * whole with no `zone`. Only splits; it checks neither part (see {@link addressFamily}).
 */
export function splitZone(address: string): { address: string; zone?: string } {
  validateString(address, 'address');
  const at = address.indexOf('%');
  if (at === -1) return { address };
  return { address: address.slice(0, at), zone: address.slice(at + 1) };
}

/**
 * Returns the IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:10.0.0.1` and
 * `::ffff:a00:1` both give `10.0.0.1`); any other string comes back unchanged. A zone on a mapped
 * address has no meaning for IPv4 and is dropped with it.
 */
export function unmapIPv4(address: string): string {
  validateString(address, 'address');
  const { address: bare } = splitZone(address);
  if (!isIPv6(bare)) return address;
  const groups = ipv6Groups(bare);
  return isMappedGroups(groups) ? mappedToIPv4(groups) : address;
}

/**
 * Returns the canonical text of an IP address literal: IPv4 unchanged, IPv6 in RFC 5952 form with
 * its zone kept. With `unmap`, IPv4-mapped IPv6 addresses become IPv4.
 *
 * @throws InvalidArgumentError when `address` is not an IPv4 or IPv6 literal.
 */
export function normalizeAddress(address: string, options: { unmap?: boolean } = {}): string {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object { unmap? }');
  const unmap = options.unmap ?? false;
  const family = requireAddress(address, 'address');
  if (family === 4) return address;
  const { address: bare, zone } = splitZone(address);
  const groups = ipv6Groups(bare);
  if (unmap && isMappedGroups(groups)) return mappedToIPv4(groups);
  const text = formatIPv6Groups(groups);
  return zone === undefined ? text : `${text}%${zone}`;
}

/**
 * Tells whether two IP address literals name the same address: text differences (case, zero
 * compression) are ignored and an IPv4-mapped IPv6 address equals its IPv4 address. Zones are
 * compared as written, and an address with a zone differs from the same address without one.
 *
 * @throws InvalidArgumentError when either is not an IPv4 or IPv6 literal.
 */
export function addressesEqual(a: string, b: string): boolean {
  requireAddress(a, 'a');
  requireAddress(b, 'b');
  return normalizeAddress(a, { unmap: true }) === normalizeAddress(b, { unmap: true });
}

/**
 * Classifies an IP address literal: unspecified, loopback, link-local, multicast (ASM or SSM, with
 * its scope) and IPv4-mapped. An IPv4-mapped address is classified by the IPv4 address it carries.
 *
 * @throws InvalidArgumentError when `address` is not an IPv4 or IPv6 literal.
 */
export function classifyAddress(address: string): AddressClass {
  const family = requireAddress(address, 'address');
  if (family === 4) return classifyIPv4(ipv4Number(address), 4, false);
  const groups = ipv6Groups(splitZone(address).address);
  if (isMappedGroups(groups)) {
    return classifyIPv4((((groups[6] ?? 0) << 16) | (groups[7] ?? 0)) >>> 0, 6, true);
  }
  const g0 = groups[0] ?? 0;
  const allZeroTo = (end: number): boolean => groups.slice(0, end).every((g) => g === 0);
  const multicast = (g0 & 0xff00) === 0xff00;
  // ff3x::/96: flags 3 (prefix-based, transient), prefix length and network prefix zero (RFC 4607).
  const ssm = (g0 & 0xfff0) === 0xff30 && groups.slice(1, 6).every((g) => g === 0);
  const result: AddressClass = {
    family: 6,
    unspecified: allZeroTo(8),
    loopback: allZeroTo(7) && groups[7] === 1,
    linkLocal: (g0 & 0xffc0) === 0xfe80 || (multicast && (g0 & 0x000f) === 2),
    multicast,
    ssm,
    asm: multicast && !ssm,
    v4Mapped: false,
  };
  if (multicast) result.multicastScope = ipv6Scope(g0 & 0x000f);
  return result;
}

/** Tells whether `address` is an IPv4 or IPv6 multicast group; `false` for anything else. */
export function isMulticastAddress(address: string): boolean {
  return addressFamily(address) !== 0 && classifyAddress(address).multicast;
}

/**
 * Tells whether `address` is in the source-specific multicast range, 232.0.0.0/8 or ff3x::/96
 * (RFC 4607); `false` for anything else.
 */
export function isSourceSpecificAddress(address: string): boolean {
  return addressFamily(address) !== 0 && classifyAddress(address).ssm;
}

/** Tells whether `name` is a valid RFC 1123 host name (see the module notes). */
export function isHostname(name: string): boolean {
  return typeof name === 'string' && hostnameProblem(name) === undefined;
}

/** Options of {@link parseHostPort}. */
export interface ParseHostPortOptions {
  /** The port to use when the input has none. Without it a port is required. */
  defaultPort?: number;
  /** Whether host names are accepted, or only address literals. Default `true`. */
  allowNames?: boolean;
  /** The argument name used in errors. Default `'address'`. */
  argument?: string;
}

/**
 * Parses an endpoint: `1.2.3.4:5004`, `[::1]:5004`, `[fe80::1%eth0]:5004` or `name.example:5004`;
 * with a `defaultPort` also `1.2.3.4`, `[::1]`, `::1` and `name.example`. An IPv6 address without
 * brackets is always the whole address: `::1:5004` is the address `::1:5004` on the default port, and
 * without a default port it is an error asking for `[::1]:5004`. Addresses come back
 * normalized (see {@link normalizeAddress}, IPv4-mapped kept), names lower-cased; no name is looked
 * up.
 *
 * @throws InvalidArgumentError saying what is wrong and where, e.g.
 *   `address must have a port that is an integer in 0..65535; "99999" is not (received "1.2.3.4:99999")`.
 */
export function parseHostPort(input: string, options: ParseHostPortOptions = {}): HostPort {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object');
  const argument = options.argument ?? 'address';
  validateString(argument, 'options.argument');
  if (options.defaultPort !== undefined) validatePort(options.defaultPort, 'options.defaultPort');
  const allowNames = options.allowNames ?? true;
  if (typeof allowNames !== 'boolean') {
    throw new InvalidArgumentError('options.allowNames', allowNames, 'must be a boolean');
  }
  if (typeof input !== 'string') {
    throw new InvalidArgumentError(argument, input, 'must be a string of the form host:port');
  }
  return splitHostPort(
    input,
    {
      defaultPort: options.defaultPort,
      allowNames,
      allowEmptyHost: false,
      uriZone: false,
      allowBareIPv6: true,
    },
    (expected) => {
      throw new InvalidArgumentError(argument, input, expected);
    },
  );
}

/**
 * Formats an endpoint as `host:port`, `[v6]:port` or `[v6%zone]:port`. The zone may be given as
 * `zone` or inside `host`, not both. Address literals are normalized.
 *
 * @throws InvalidArgumentError for a bad host, port or zone.
 */
export function formatHostPort(endpoint: { host: string; port: number; zone?: string }): string {
  if (typeof endpoint !== 'object' || endpoint === null) {
    throw new InvalidArgumentError('endpoint', endpoint, 'must be an object { host, port, zone? }');
  }
  const { port } = endpoint;
  validatePort(port, 'endpoint.port');
  return `${formatHost(endpoint.host, endpoint.zone, 'endpoint')}:${port}`;
}

/**
 * Formats a host for use before `:port`: IPv6 in brackets with `%zone`, IPv4 and names as they
 * are. Shared with `url.ts`.
 *
 * @internal
 */
export function formatHost(host: unknown, zone: unknown, argument: string): string {
  validateString(host, `${argument}.host`, { nonEmpty: true });
  if (zone !== undefined) validateString(zone, `${argument}.zone`);
  const split = splitZone(host);
  if (split.zone !== undefined && zone !== undefined) {
    throw new InvalidArgumentError(
      `${argument}.zone`,
      zone,
      `must be left out when ${argument}.host carries a zone already`,
    );
  }
  const z = split.zone ?? zone;
  const family = isIPv4(split.address) ? 4 : isIPv6(split.address) ? 6 : 0;
  if (z !== undefined) {
    if (family !== 6) {
      throw new InvalidArgumentError(
        `${argument}.zone`,
        z,
        'is only allowed with an IPv6 address literal',
      );
    }
    if (!ZONE_PATTERN.test(z)) {
      throw new InvalidArgumentError(`${argument}.zone`, z, zoneExpectation());
    }
  }
  if (family === 6) {
    const text = normalizeAddress(split.address);
    return z === undefined ? `[${text}]` : `[${text}%${z}]`;
  }
  if (family === 4) return split.address;
  const problem = hostnameProblem(host);
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      `${argument}.host`,
      host,
      `must be an IP address or a host name, and ${problem}`,
    );
  }
  return host.toLowerCase();
}

/** How {@link splitHostPort} reads its input. @internal */
export interface SplitHostPortOptions {
  defaultPort: number | undefined;
  allowNames: boolean;
  /** Accept an empty host (`:5004`, or nothing at all), returned as `''` with family 0. */
  allowEmptyHost: boolean;
  /** Read `%25` as RFC 6874's escaped `%` when the rest is not all digits (see {@link URI_ESCAPED_ZONE}). */
  uriZone: boolean;
  /** Accept an IPv6 address without brackets (then it never has a port). */
  allowBareIPv6: boolean;
}

/**
 * The parser behind {@link parseHostPort} and `parseMediaUrl`: `fail` receives what was expected
 * and must throw.
 *
 * @internal
 */
export function splitHostPort(
  input: string,
  options: SplitHostPortOptions,
  fail: (expected: string) => never,
): HostPort {
  validateString(input, 'input');
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object');
  if (typeof fail !== 'function')
    throw new InvalidArgumentError('fail', fail, 'must be a function that throws');
  if (input === '' && !options.allowEmptyHost) fail('must not be empty');
  const portOrDefault = (text: string | undefined): number => {
    if (text === undefined) {
      if (options.defaultPort === undefined) fail('must end in ":port"; there is no default port');
      return options.defaultPort;
    }
    if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
      fail(`must have a port that is an integer in 0..65535; ${JSON.stringify(text)} is not`);
    }
    return Number(text);
  };

  if (input.startsWith('[')) {
    const close = input.indexOf(']');
    if (close === -1) fail('must close the "[" of an IPv6 address with "]"');
    const rest = input.slice(close + 1);
    let portText: string | undefined;
    if (rest !== '') {
      if (!rest.startsWith(':')) {
        fail(`must have ":port" or nothing after "]", not ${JSON.stringify(rest)}`);
      }
      portText = rest.slice(1);
    }
    const literal = ipv6Literal(input.slice(1, close), options.uriZone, fail);
    return { ...literal, port: portOrDefault(portText) };
  }

  const colons = input.split(':').length - 1;
  if (colons >= 2) {
    const split = splitZone(input);
    if (isIPv6(split.address)) {
      if (!options.allowBareIPv6) fail('must put an IPv6 address in brackets, e.g. "[::1]:5004"');
      if (options.defaultPort === undefined) {
        fail('must put an IPv6 address in brackets and add a port, e.g. "[::1]:5004"');
      }
      return { ...ipv6Literal(input, false, fail), port: options.defaultPort };
    }
    const last = input.lastIndexOf(':');
    if (isIPv6(splitZone(input.slice(0, last)).address)) {
      fail('must put an IPv6 address in brackets when a port follows, e.g. "[::1]:5004"');
    }
    fail(`must be host:port or [IPv6]:port; ${JSON.stringify(input)} is neither`);
  }

  const colon = input.indexOf(':');
  const hostText = colon === -1 ? input : input.slice(0, colon);
  const port = portOrDefault(colon === -1 ? undefined : input.slice(colon + 1));
  if (hostText === '') {
    if (!options.allowEmptyHost) fail('must have a host before ":port"');
    return { host: '', port, family: 0 };
  }
  if (hostText.includes('%')) {
    fail(`must not have a zone ("%...") except on an IPv6 address in brackets`);
  }
  if (isIPv4(hostText)) return { host: hostText, port, family: 4 };
  if (!options.allowNames) {
    fail(
      `must have an IP address literal for a host (names are not accepted here); ${JSON.stringify(hostText)} is not one`,
    );
  }
  const problem = hostnameProblem(hostText);
  if (problem !== undefined) {
    fail(
      `must have an IPv4 address or a host name for a host; ${JSON.stringify(hostText)} ${problem}`,
    );
  }
  return { host: hostText.toLowerCase(), port, family: 0 };
}

/** Parses what sits between `[` and `]`: an IPv6 address with an optional zone. */
function ipv6Literal(
  text: string,
  uriZone: boolean,
  fail: (expected: string) => never,
): { host: string; family: 6; zone?: string } {
  const split = splitZone(text);
  if (!isIPv6(split.address)) {
    const what = isIPv4(split.address) ? ' (IPv4 addresses go without brackets)' : '';
    fail(
      `must have an IPv6 address inside "[...]"; ${JSON.stringify(split.address)} is not one${what}`,
    );
  }
  const host = normalizeAddress(split.address);
  if (split.zone === undefined) return { host, family: 6 };
  let zone = split.zone;
  if (uriZone && URI_ESCAPED_ZONE.test(zone)) zone = zone.slice(2);
  if (!ZONE_PATTERN.test(zone))
    fail(`must have a zone that ${zoneExpectation()}; ${JSON.stringify(zone)} is not`);
  return { host, family: 6, zone };
}

function zoneExpectation(): string {
  return 'is 1 to 15 letters, digits, "_", "." or "-" (an interface name or index)';
}

/**
 * Says why `name` is not an RFC 1123 host name (`'has an empty label'` …), or `undefined` when it
 * is one. Shared with `resolve.ts`.
 *
 * @internal
 */
export function hostnameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'is not a string';
  if (name === '') return 'is empty';
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length > 253) return 'is longer than 253 characters';
  const labels = bare.split('.');
  for (const label of labels) {
    if (label === '') return 'has an empty label';
    if (label.length > 63) return 'has a label longer than 63 characters';
    if (!LABEL_PATTERN.test(label)) {
      return /^[a-z0-9-]+$/i.test(label)
        ? `has a label that starts or ends with "-" (${JSON.stringify(label)})`
        : `has a character other than letters, digits, "-" and "." (in ${JSON.stringify(label)})`;
    }
  }
  if (ALL_DIGITS.test(labels[labels.length - 1] ?? '')) {
    return 'ends in an all-numeric label, so it is neither a host name nor an IPv4 address';
  }
  return undefined;
}

/** Checks `address` is an IP literal and returns its family. */
function requireAddress(address: unknown, argument: string): IPFamily {
  const family = typeof address === 'string' ? addressFamily(address) : 0;
  if (family === 0) {
    throw new InvalidArgumentError(argument, address, 'must be an IPv4 or IPv6 address literal');
  }
  return family;
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

/** The eight 16-bit groups of an IPv6 address already known to be valid (no zone). */
function ipv6Groups(address: string): number[] {
  const groupsOf = (text: string): number[] => {
    if (text === '') return [];
    const groups: number[] = [];
    for (const part of text.split(':')) {
      if (part.includes('.')) {
        const n = ipv4Number(part);
        groups.push(n >>> 16, n & 0xffff);
      } else {
        groups.push(parseInt(part, 16));
      }
    }
    return groups;
  };
  const gap = address.indexOf('::');
  if (gap === -1) return groupsOf(address);
  const head = groupsOf(address.slice(0, gap));
  const tail = groupsOf(address.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function isMappedGroups(groups: number[]): boolean {
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

function mappedToIPv4(groups: number[]): string {
  const hi = groups[6] ?? 0;
  const lo = groups[7] ?? 0;
  return `${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;
}

/** RFC 5952 text of eight groups. */
function formatIPv6Groups(groups: number[]): string {
  if (isMappedGroups(groups)) return `::ffff:${mappedToIPv4(groups)}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

function classifyIPv4(n: number, family: IPFamily, v4Mapped: boolean): AddressClass {
  const a = n >>> 24;
  const b = (n >>> 16) & 0xff;
  const multicast = a >= 224 && a <= 239;
  const ssm = a === 232;
  const linkLocalMulticast = (n & 0xffffff00) >>> 0 === 0xe0000000;
  const result: AddressClass = {
    family,
    unspecified: n === 0,
    loopback: a === 127,
    linkLocal: (a === 169 && b === 254) || linkLocalMulticast,
    multicast,
    ssm,
    asm: multicast && !ssm,
    v4Mapped,
  };
  if (multicast) {
    // RFC 5771 for 224.0.0.0/24; RFC 2365 for 239/8 (its "IPv4 Local Scope" is site-local).
    result.multicastScope = linkLocalMulticast
      ? 'link-local'
      : a !== 239
        ? 'global'
        : b === 255
          ? 'site-local'
          : b >= 192 && b <= 195
            ? 'organization-local'
            : 'admin-local';
  }
  return result;
}

function ipv6Scope(nibble: number): MulticastScope {
  switch (nibble) {
    case 0x1:
      return 'interface-local';
    case 0x2:
      return 'link-local';
    case 0x3:
      return 'realm-local';
    case 0x4:
      return 'admin-local';
    case 0x5:
      return 'site-local';
    case 0x8:
      return 'organization-local';
    case 0xe:
      return 'global';
    case 0x0:
    case 0xf:
      return 'reserved';
    default:
      return 'unassigned';
  }
}
