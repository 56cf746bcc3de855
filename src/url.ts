/**
 * Media URLs in the form VLC, FFmpeg and TSDuck users already type, parsed to a plain object and
 * formatted back to one canonical string.
 *
 * ```
 * udp://@239.1.1.1:5004                 listen: join group 239.1.1.1, port 5004
 * udp://@:5004                          listen on every address, port 5004
 * udp://10.0.0.1@232.1.1.1:5004         listen: SSM channel (source 10.0.0.1, group 232.1.1.1)
 * udp://10.0.0.1@239.1.1.1:5004         listen: group 239.1.1.1, from 10.0.0.1 only (include)
 * udp://@239.1.1.1:5004?block=10.0.0.9   listen: group 239.1.1.1, any source but 10.0.0.9 (exclude)
 * udp://@[ff12::1%eth1]:5004             listen: link-local-scope group, joined and bound on eth1
 * udp://[ff15::1%eth0]:5004             send to ff15::1 out of eth0
 * rtp://239.1.1.1:5004?ttl=16&dscp=34   send RTP to a group, TTL 16, DSCP AF41
 * ```
 *
 * Rules, decided once here:
 * - **Listen or send.** An `@` in the address means listen (VLC's `udp://[source]@[bind]:port`). A
 *   URL with sources, in either form, or with `block=`, is also a listen URL (FFmpeg writes
 *   `udp://G:P?sources=S`).
 *   Anything else names a destination, which must be a host, not the unspecified address.
 * - **Default port.** `udp` 1234 (VLC's default), `rtp` 5004 (RFC 3551 §11). The canonical form
 *   always writes the port.
 * - **RTP ports.** An odd `rtp` port is accepted: RFC 3550 §11 only recommends even ports, and
 *   rtcp-mux (RFC 5761) uses one port for both.
 * - **Sources.** `S@G` and `?sources=S1,S2` are merged (the `@` source first) and de-duplicated
 *   (each source's canonical text goes into a Set, so the cost is linear in their number). At most
 *   {@link MAX_URL_SOURCES} (1024) are accepted, counting duplicates; more is an error before any
 *   source is parsed.
 *   Sources are IP literals of the group's family, unicast, without zones; the group must be a
 *   multicast literal, in the SSM range or not: a source-filtered join (IGMPv3/MLDv2 INCLUDE) works
 *   on any group, as in FFmpeg, live555 and Go. Conversely, listening on an SSM group (232.0.0.0/8,
 *   ff3x::/96, RFC 4607) needs at least one source.
 * - **Blocked sources.** `?block=S1,S2` (FFmpeg's key) joins the group for every source but those
 *   (exclude mode, IGMPv3/MLDv2 EXCLUDE); same address rules and limit as `sources`. It cannot be
 *   combined with sources (an include filter already leaves every other source out), nor used on
 *   an SSM group (which needs sources).
 * - **Query options:** `iface` (an interface name, index or address), `ttl` (0..255; TTL or hop
 *   limit), `dscp` (0..63), `buffer` (socket buffer, bytes), `reuse` (`0`, `1`, `false`, `true`),
 *   `sources`, `block`. Aliases from FFmpeg: `buffer_size` for `buffer`, `localaddr` for `iface`,
 *   `reuse_socket` for `reuse`; from VLC: `miface` for `iface`. FFmpeg's other udp/rtp keys
 *   (`pkt_size`, `fifo_size`, `timeout`, `localport`, `connect`, `bitrate`, `overrun_nonfatal`,
 *   `burst_bits` …) are read as `url-options.ts` says: applied as fields, or kept in
 *   `ignoredOptions` for a notice. Any other key, a key given twice
 *   (counting aliases) or a key without `=value` is an error: nothing is ignored silently. Keys are
 *   looked up as own entries only, so `__proto__`, `constructor` or `toString` are unknown keys
 *   like any other, not properties inherited from `Object.prototype`.
 * - **Zones.** Written raw, as VLC and FFmpeg do (`[fe80::1%eth0]`); RFC 6874's `%25eth0` is read
 *   too when what follows `%25` is not all digits (`%25` and `%251` are interface indexes). `%XX` escapes are decoded in query values (ASCII only).
 *   On a multicast group the zone names the interface, as `iface` does: a link-local-scope group
 *   (ff02::/16, ff12::/16) needs one of the two (it is bound with that scope), and when both are
 *   given they must name the same interface (checked where interfaces are looked up: by
 *   `openMediaReceiver` / `openMediaSender`, not here).
 * - Names stay unresolved (`family` 0); only address literals are classified. A multicast group
 *   may not be IPv4-mapped. No path (a lone `/` is allowed), no fragment, no user info beyond the
 *   source.
 *
 * What this module does not do: resolve names, look up interfaces, or open sockets.
 *
 * @module
 */

import { isIPv4, isIPv6 } from 'node:net';
import {
  classifyAddress,
  formatHost,
  normalizeAddress,
  splitHostPort,
  splitZone,
  URI_ESCAPED_ZONE,
} from './address.js';
import type { IPFamily } from './address.js';
import { InvalidArgumentError } from './errors.js';
import {
  FOREIGN_FIELDS,
  foreignKey,
  formatForeignOptions,
  knownForeignKeys,
  parseForeignValue,
} from './url-options.js';
import type { ForeignAppliedKey } from './url-options.js';
import {
  validateBoolean,
  validateByteCount,
  validateDscp,
  validatePort,
  validateString,
  validateTtl,
} from './validate.js';

/** The schemes of media URLs. */
export type MediaUrlScheme = 'udp' | 'rtp';

/** The default port of each scheme: VLC's 1234 for `udp`, RFC 3551's 5004 for `rtp`. */
export const DEFAULT_MEDIA_PORTS: Readonly<Record<MediaUrlScheme, number>> = Object.freeze({
  udp: 1234,
  rtp: 5004,
});

/** A parsed media URL; see the module notes for the syntax. */
export interface MediaUrl {
  /** `udp` (raw datagrams, e.g. MPEG-TS) or `rtp`. */
  scheme: MediaUrlScheme;
  /** `true` to receive (the URL has `@` or sources), `false` to send to `host`. */
  listen: boolean;
  /** Address (normalized) or name to join, bind or send to; `''` to listen on every address. */
  host: string;
  /** The port, the scheme's default when the URL has none. */
  port: number;
  /** 4 or 6 for an address literal, 0 for a name or `''`. */
  family: IPFamily | 0;
  /** IPv6 zone of `host` (an interface name or index). */
  zone?: string;
  /**
   * Source addresses of a source-filtered join (include mode; on any group, SSM or not), in order,
   * without duplicates; else `[]`.
   */
  sources: string[];
  /** `block=`: sources to leave out of an any-source join (exclude mode), in order; else absent. */
  block?: string[];
  /** `iface=`: the interface, by name, index or address, as written. */
  iface?: string;
  /** `ttl=`: multicast TTL or hop limit, 0..255. */
  ttl?: number;
  /** `dscp=`: DiffServ code point, 0..63. */
  dscp?: number;
  /** `buffer=`: socket buffer size in bytes. */
  bufferBytes?: number;
  /** `reuse=`: share the port with other sockets (`SO_REUSEADDR`). */
  reuse?: boolean;
  /** `pkt_size=` (FFmpeg): datagram size of a sender, bytes (RTP header included). */
  packetBytes?: number;
  /** `fifo_size=` (FFmpeg): a receiver's queue bound, in 188-byte packets (see `fifoDatagrams`). */
  fifoPackets?: number;
  /** `timeout=` (FFmpeg): microseconds without a datagram after which a receiver fails; 0 never. */
  timeoutMicros?: number;
  /** `localport=` (FFmpeg; also `local_port`, `localrtpport`): the port a sender binds. */
  localPort?: number;
  /** `connect=` (FFmpeg): `connect(2)` the sending socket to the destination. */
  connect?: boolean;
  /** `bitrate=` (FFmpeg): a sender's constant rate in bits/s; 0 unpaced. */
  bitsPerSecond?: number;
  /** `broadcast=` (FFmpeg): `SO_BROADCAST` on the sending socket. */
  broadcast?: boolean;
  /** FFmpeg keys accepted but not applied (`overrun_nonfatal` …), as written, in order. */
  ignoredOptions?: { key: string; value: string }[];
  /** `host` is a multicast group literal. */
  multicast: boolean;
  /**
   * The URL asks for a source-specific join (it has sources, include mode), whatever the group's
   * range; whether the group is in the SSM range is `classifyAddress(host).ssm`.
   */
  ssm: boolean;
}

type OptionKey = 'iface' | 'ttl' | 'dscp' | 'buffer' | 'reuse' | 'sources' | 'block';

const OPTION_KEYS: readonly OptionKey[] = [
  'iface',
  'ttl',
  'dscp',
  'buffer',
  'reuse',
  'sources',
  'block',
];

/** Aliases: a Map, so that only these keys resolve (an object would also "have" `__proto__`). */
const ALIASES: ReadonlyMap<string, OptionKey> = new Map<string, OptionKey>([
  ['buffer_size', 'buffer'],
  ['localaddr', 'iface'],
  ['miface', 'iface'],
  ['reuse_socket', 'reuse'],
]);

/**
 * The most sources one URL may name (`S@G` plus `sources=`, counting duplicates).
 *
 * Why 1024: every source becomes one source-specific join (`IP_ADD_SOURCE_MEMBERSHIP` /
 * `MCAST_JOIN_SOURCE_GROUP`), and Linux allows only 10 sources per group and socket on IPv4
 * (`net.ipv4.igmp_max_msf`) and 64 on IPv6 (`net.ipv6.mld_max_msf`) unless an operator raises
 * them. 1024 leaves room for any raised setting we know of in practice, yet keeps a URL's parse
 * bounded (at most about 40 KB of addresses) so that a hostile or generated URL cannot hold the
 * event loop. A longer list fails with `InvalidArgumentError` before any source is parsed.
 */
export const MAX_URL_SOURCES = 1024;

const IFACE_PATTERN = /^[A-Za-z0-9_.:%-]{1,64}$/;

/**
 * Parses a media URL (see the module notes).
 *
 * @throws InvalidArgumentError (argument `url`) saying which part is wrong, e.g.
 *   `url must have a query option ttl that is an integer in 0..255; "300" is not (received "udp://…")`.
 */
export function parseMediaUrl(input: string): MediaUrl {
  if (typeof input !== 'string') {
    throw new InvalidArgumentError(
      'url',
      input,
      'must be a string such as "udp://@239.1.1.1:5004"',
    );
  }
  const fail = (expected: string): never => {
    throw new InvalidArgumentError('url', input, expected);
  };

  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(input);
  if (match === null) fail('must start with "udp://" or "rtp://"');
  const scheme = (match?.[1] ?? '').toLowerCase();
  if (scheme !== 'udp' && scheme !== 'rtp') {
    fail(`must have the scheme udp or rtp; ${JSON.stringify(scheme)} is not supported`);
  }
  const mediaScheme = scheme as MediaUrlScheme;
  let rest = match?.[2] ?? '';
  if (rest.includes('#')) fail('must not have a fragment ("#...")');
  const q = rest.indexOf('?');
  const query = q === -1 ? '' : rest.slice(q + 1);
  rest = q === -1 ? rest : rest.slice(0, q);
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const path = rest.slice(slash);
    if (path !== '/') fail(`must not have a path; ${JSON.stringify(path)} follows the address`);
    rest = rest.slice(0, slash);
  }

  const ats = rest.split('@').length - 1;
  if (ats > 1) fail('must have at most one "@" (source@group)');
  const at = rest.indexOf('@');
  let listen = at !== -1;
  const sourceText = at === -1 ? '' : rest.slice(0, at);
  const hostText = at === -1 ? rest : rest.slice(at + 1);
  if (!listen && (hostText === '' || hostText.startsWith(':'))) {
    fail(
      'must name a destination host, or start the address with "@" to listen, as in "udp://@:5004"',
    );
  }

  const endpoint = splitHostPort(
    hostText,
    {
      defaultPort: DEFAULT_MEDIA_PORTS[mediaScheme],
      allowNames: true,
      allowEmptyHost: listen,
      uriZone: true,
      allowBareIPv6: false,
    },
    fail,
  );

  const { options, foreign, ignored } = parseQuery(query, fail);
  const listed = options.sources === undefined ? [] : options.sources.split(',');
  const blockListed = options.block === undefined ? [] : options.block.split(',');
  const count = listed.length + (sourceText === '' ? 0 : 1);
  if (count > MAX_URL_SOURCES || blockListed.length > MAX_URL_SOURCES) {
    fail(
      `must name at most ${MAX_URL_SOURCES} sources (the kernel allows 10 per group by default); ${Math.max(count, blockListed.length)} are given`,
    );
  }
  const sources: string[] = [];
  const seen = new Set<string>();
  const addSource = (text: string, where: string): void => {
    const source = parseSource(text, where, fail);
    const key = normalizeAddress(source, { unmap: true });
    if (seen.has(key)) return;
    seen.add(key);
    sources.push(source);
  };
  if (sourceText !== '') addSource(sourceText, 'before "@"');
  for (const item of listed) addSource(item, 'in sources=');
  if (sources.length > 0) listen = true;
  const block: string[] = [];
  const blockSeen = new Set<string>();
  for (const item of blockListed) {
    const source = parseSource(item, 'in block=', fail);
    const k = normalizeAddress(source, { unmap: true });
    if (blockSeen.has(k)) continue;
    blockSeen.add(k);
    block.push(source);
  }
  if (block.length > 0) listen = true;

  const cls = endpoint.family === 0 ? undefined : classifyAddress(endpoint.host);
  const multicast = cls?.multicast ?? false;
  if (cls?.multicast && cls.v4Mapped) {
    fail(`must write the IPv4 group as IPv4, not as ${endpoint.host}`);
  }
  if (!listen && cls?.unspecified) {
    fail(`must not send to the unspecified address ${endpoint.host}; use "@" to listen`);
  }
  if (sources.length > 0) {
    if (cls === undefined || !multicast) {
      const what =
        endpoint.host === '' ? 'no group' : `${endpoint.host} is not a multicast address`;
      fail(`must have a multicast group literal as host when sources are given; ${what}`);
    }
    if (block.length > 0) {
      fail(
        'must not combine sources (include mode) with block= (exclude mode): an include filter already leaves every other source out',
      );
    }
    for (const s of sources) {
      const sc = classifyAddress(s);
      if (sc.family !== endpoint.family) {
        fail(`must have sources of the group's family (IPv${endpoint.family}); ${s} is not`);
      }
      if (sc.multicast || sc.unspecified) fail(`must have unicast sources; ${s} is not one`);
    }
  } else if (listen && cls?.ssm) {
    fail(
      `must name a source for the SSM group ${endpoint.host}, as "SOURCE@GROUP:PORT" or "?sources=SOURCE" (RFC 4607)${block.length > 0 ? '; block= cannot replace it' : ''}`,
    );
  } else if (block.length > 0) {
    if (cls === undefined || !multicast) {
      const what =
        endpoint.host === '' ? 'no group' : `${endpoint.host} is not a multicast address`;
      fail(`must have a multicast group literal as host when block= is given; ${what}`);
    }
    for (const s of block) {
      const sc = classifyAddress(s);
      if (sc.family !== endpoint.family) {
        fail(
          `must have blocked sources of the group's family (IPv${endpoint.family}); ${s} is not`,
        );
      }
      if (sc.multicast || sc.unspecified)
        fail(`must have unicast blocked sources; ${s} is not one`);
    }
  }

  const result: MediaUrl = {
    scheme: mediaScheme,
    listen,
    host: endpoint.host,
    port: endpoint.port,
    family: endpoint.family,
    sources,
    multicast,
    ssm: sources.length > 0,
  };
  if (endpoint.zone !== undefined) result.zone = endpoint.zone;
  if (block.length > 0) result.block = block;
  if (options.iface !== undefined) result.iface = options.iface;
  if (options.ttl !== undefined) result.ttl = intOption('ttl', options.ttl, 255, fail);
  if (options.dscp !== undefined) result.dscp = intOption('dscp', options.dscp, 63, fail);
  if (options.buffer !== undefined) {
    result.bufferBytes = intOption('buffer', options.buffer, Number.MAX_SAFE_INTEGER, fail);
    if (result.bufferBytes === 0) fail('must have a query option buffer of at least 1 byte');
  }
  if (options.reuse !== undefined) result.reuse = boolOption('reuse', options.reuse, fail);
  for (const [key, value] of foreign) {
    (result as unknown as Record<string, unknown>)[FOREIGN_FIELDS[key]] = value;
  }
  if (ignored.length > 0) result.ignoredOptions = ignored;
  return result;
}

/**
 * Formats a media URL in canonical form: scheme in lower case, port always written, addresses
 * normalized, a first source before `@` and any further ones in `sources=`, query options in the
 * order `iface`, `ttl`, `dscp`, `buffer`, `reuse`, `sources`, `block`. `family`, `multicast` and `ssm` are
 * derived by {@link parseMediaUrl} and not read here. `parseMediaUrl(formatMediaUrl(u))` gives `u`
 * back for every `u` that `parseMediaUrl` returned.
 *
 * @throws InvalidArgumentError for a field of the wrong type or range, or a combination that
 *   {@link parseMediaUrl} would reject.
 */
export function formatMediaUrl(url: MediaUrl): string {
  if (typeof url !== 'object' || url === null) {
    throw new InvalidArgumentError('url', url, 'must be a MediaUrl object');
  }
  const { scheme, listen, host, port, zone, sources } = url;
  if (scheme !== 'udp' && scheme !== 'rtp') {
    throw new InvalidArgumentError('url.scheme', scheme, 'must be "udp" or "rtp"');
  }
  validateBoolean(listen, 'url.listen');
  validateString(host, 'url.host');
  validatePort(port, 'url.port');
  if (!Array.isArray(sources)) {
    throw new InvalidArgumentError('url.sources', sources, 'must be an array of IP addresses');
  }
  if (!listen && host === '' && sources.length === 0) {
    throw new InvalidArgumentError(
      'url.host',
      host,
      'must name a destination when url.listen is false',
    );
  }
  sources.forEach((s, i) => {
    const family = typeof s === 'string' ? (isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0) : 0;
    if (family === 0) {
      throw new InvalidArgumentError(`url.sources[${i}]`, s, 'must be an IP address literal');
    }
  });
  const query: string[] = [];
  if (url.iface !== undefined) {
    validateString(url.iface, 'url.iface');
    if (!IFACE_PATTERN.test(url.iface)) {
      throw new InvalidArgumentError('url.iface', url.iface, ifaceExpectation());
    }
    query.push(`iface=${url.iface.replaceAll('%', '%25')}`);
  }
  if (url.ttl !== undefined) {
    validateTtl(url.ttl, 'url.ttl');
    query.push(`ttl=${url.ttl}`);
  }
  if (url.dscp !== undefined) {
    validateDscp(url.dscp, 'url.dscp');
    query.push(`dscp=${url.dscp}`);
  }
  if (url.bufferBytes !== undefined) {
    validateByteCount(url.bufferBytes, 'url.bufferBytes');
    query.push(`buffer=${url.bufferBytes}`);
  }
  if (url.reuse !== undefined) {
    validateBoolean(url.reuse, 'url.reuse');
    query.push(`reuse=${url.reuse ? 1 : 0}`);
  }
  if (sources.length > 1) query.push(`sources=${sources.slice(1).join(',')}`);
  const block = url.block ?? [];
  if (!Array.isArray(block)) {
    throw new InvalidArgumentError('url.block', block, 'must be an array of IP addresses');
  }
  block.forEach((s, i) => {
    const family = typeof s === 'string' ? (isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0) : 0;
    if (family === 0) {
      throw new InvalidArgumentError(`url.block[${i}]`, s, 'must be an IP address literal');
    }
  });
  if (block.length > 0) query.push(`block=${block.join(',')}`);
  query.push(...formatForeignOptions(url));

  const first = sources[0];
  const source = first === undefined ? '' : first.includes(':') ? `[${first}]` : first;
  const at = listen || sources.length > 0 || block.length > 0 ? `${source}@` : '';
  let hostPart = '';
  if (host !== '') {
    hostPart = formatHost(host, zone, 'url');
    // A zone that itself looks like RFC 6874's escape would lose its "25": write it escaped.
    if (typeof zone === 'string' && URI_ESCAPED_ZONE.test(zone)) {
      hostPart = hostPart.replace(`%${zone}]`, `%25${zone}]`);
    }
  } else if (zone !== undefined) {
    throw new InvalidArgumentError('url.zone', zone, 'must be left out when url.host is empty');
  }
  const text = `${scheme}://${at}${hostPart}:${port}${query.length > 0 ? `?${query.join('&')}` : ''}`;
  // Check the combination (sources vs. group, destination vs. listen) with the parser's own rules.
  parseMediaUrl(text);
  return text;
}

interface ParsedQuery {
  options: Partial<Record<OptionKey, string>>;
  /** Applied FFmpeg keys (see `url-options.ts`), in order. */
  foreign: Map<ForeignAppliedKey, number | boolean>;
  /** FFmpeg keys accepted with a notice. */
  ignored: { key: string; value: string }[];
}

function parseQuery(query: string, fail: (expected: string) => never): ParsedQuery {
  // A null-prototype object: `options[key]` can only be an option this loop stored.
  const options: Partial<Record<OptionKey, string>> = Object.create(null) as Partial<
    Record<OptionKey, string>
  >;
  const parsed: ParsedQuery = { options, foreign: new Map(), ignored: [] };
  if (query === '') return parsed;
  for (const pair of query.split('&')) {
    if (pair === '') fail('must not have an empty query parameter ("&&" or a trailing "&")');
    const eq = pair.indexOf('=');
    if (eq === -1) fail(`must give the query option ${JSON.stringify(pair)} a value (key=value)`);
    const name = pair.slice(0, eq);
    const key = (OPTION_KEYS as readonly string[]).includes(name)
      ? (name as OptionKey)
      : ALIASES.get(name);
    if (key === undefined) {
      foreignOption(parsed, name, pair.slice(eq + 1), fail);
      continue;
    }
    if (options[key] !== undefined) {
      fail(`must give the query option ${key} only once (counting its aliases)`);
    }
    const value = decodeValue(pair.slice(eq + 1), key, fail);
    if (key === 'iface' && !IFACE_PATTERN.test(value)) {
      fail(
        `must have a query option iface that ${ifaceExpectation()}; ${JSON.stringify(value)} is not`,
      );
    }
    options[key] = value;
  }
  return parsed;
}

/** An FFmpeg or VLC key (`url-options.ts`): applied, kept for a notice, refused, or unknown. */
function foreignOption(
  parsed: ParsedQuery,
  name: string,
  raw: string,
  fail: (expected: string) => never,
): void {
  const found = foreignKey(name);
  if (found.kind === 'unknown') {
    fail(
      `must use only the query options ${OPTION_KEYS.join(', ')} (or the aliases ${[...ALIASES.keys()].join(', ')}, or FFmpeg's ${knownForeignKeys().join(', ')}); ${JSON.stringify(name)} is not one`,
    );
  }
  if (found.kind === 'refused') fail(`must not have the query option ${name}: ${found.reason}`);
  const key = found.kind === 'applied' ? found.key : name;
  if (
    (found.kind === 'applied' && parsed.foreign.has(found.key)) ||
    parsed.ignored.some((o) => o.key === key)
  ) {
    fail(`must give the query option ${key} only once (counting its aliases)`);
  }
  const value = decodeValue(raw, key, fail);
  if (found.kind === 'applied')
    parsed.foreign.set(found.key, parseForeignValue(found.key, value, fail));
  else parsed.ignored.push({ key, value });
}

/** Decodes `%XX` escapes of ASCII characters; a `%` not followed by two hex digits stays as it is. */
function decodeValue(text: string, key: string, fail: (expected: string) => never): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const code = parseInt(hex, 16);
    if (code >= 0x80) fail(`must have only ASCII in the query option ${key}; %${hex} is not`);
    return String.fromCharCode(code);
  });
}

function parseSource(text: string, where: string, fail: (expected: string) => never): string {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (splitZone(bare).zone !== undefined) {
    fail(`must have sources without a zone; ${JSON.stringify(text)} ${where} has one`);
  }
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare)) {
    const cls = classifyAddress(bare);
    if (cls.v4Mapped)
      fail(`must write IPv4 sources as IPv4; ${JSON.stringify(text)} ${where} is IPv4-mapped`);
    return formatHost(bare, undefined, 'source').slice(1, -1);
  }
  return fail(
    `must have IP address literals as sources; ${JSON.stringify(text)} ${where} is not one`,
  );
}

function intOption(
  key: string,
  text: string,
  max: number,
  fail: (expected: string) => never,
): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value > max) {
    fail(
      `must have a query option ${key} that is an integer in 0..${max}; ${JSON.stringify(text)} is not`,
    );
  }
  return value;
}

function boolOption(key: string, text: string, fail: (expected: string) => never): boolean {
  if (text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  return fail(
    `must have a query option ${key} of 0, 1, false or true; ${JSON.stringify(text)} is not`,
  );
}

function ifaceExpectation(): string {
  return 'is 1 to 64 letters, digits, "_", ".", ":", "%" or "-" (an interface name, index or address)';
}
