/**
 * FFmpeg's and VLC's own `udp://` / `rtp://` query options, as {@link parseMediaUrl} reads them:
 * the same URL line works with `ffmpeg -i`, `vlc` and `mediasock`.
 *
 * Every key falls in one of three groups:
 * - **Applied**: a key with a meaning here becomes a field of {@link MediaUrl}
 *   (`pkt_size` → `packetBytes`, `fifo_size` → `fifoPackets`, `timeout` → `timeoutMicros`,
 *   `localport` → `localPort`, `connect`, `bitrate` → `bitsPerSecond`, `broadcast`). Each acts in
 *   one direction (see {@link URL_OPTION_TABLE}); in the other it is ignored with a notice, as
 *   FFmpeg ignores it, rather than refused, because the same URL line often serves both ends.
 * - **Accepted, not applied**: keys that only tune FFmpeg's own machinery (`overrun_nonfatal`,
 *   `burst_bits`, `circular_buffer_size`, `udplite_coverage`, `rtcpport`, `localrtcpport`,
 *   `write_to_source`) are kept as written in `MediaUrl.ignoredOptions` and produce a one-line
 *   notice.
 * - **Refused**: `fec` (FFmpeg's Pro-MPEG FEC changes what is on the wire, so ignoring it would be
 *   silently wrong), and every key in no table: unknown keys stay errors.
 *
 * The short aliases that map onto mediasock's own keys (`buffer_size`, `localaddr`, `miface`,
 * `reuse_socket`) are resolved by the parser itself (`url.ts`).
 *
 * What this module does not do: open sockets. {@link openMediaReceiver} and
 * {@link openMediaSender} apply the fields and return {@link urlNotices} as `notices`.
 *
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { formatMediaUrl, parseMediaUrl } from './url.js';
import type { MediaUrl } from './url.js';

/** The direction in which an option acts. */
export type UrlOptionDirection = 'send' | 'receive' | 'both';

/** One row of {@link URL_OPTION_TABLE}. */
export interface UrlOptionRow {
  /** The query key, as FFmpeg or VLC spells it. */
  readonly key: string;
  /** Whose key it is. */
  readonly origin: 'mediasock' | 'FFmpeg' | 'VLC' | 'FFmpeg, VLC';
  /** The schemes FFmpeg or VLC know it for. */
  readonly schemes: 'udp' | 'rtp' | 'udp, rtp';
  /** `apply`: has an effect here; `alias`: another name of `target`; `ignore`: accepted with a notice; `refuse`: an error. */
  readonly effect: 'apply' | 'alias' | 'ignore' | 'refuse';
  /** Where it acts (for `ignore` and `refuse`: where FFmpeg uses it). */
  readonly direction: UrlOptionDirection;
  /** The mediasock key an alias stands for. */
  readonly target?: string;
  /** What it does here, one sentence. */
  readonly behaviour: string;
}

/**
 * Every query key `parseMediaUrl` accepts or knows, with its behaviour; `docs/url-options.md`
 * is this table in prose.
 */
export const URL_OPTION_TABLE: readonly UrlOptionRow[] = Object.freeze([
  row(
    'iface',
    'mediasock',
    'udp, rtp',
    'apply',
    'both',
    'join on / send out of this interface (name, index or address)',
  ),
  row(
    'localaddr',
    'FFmpeg',
    'udp, rtp',
    'alias',
    'both',
    'as iface (FFmpeg: the local address used to send or join)',
    'iface',
  ),
  row(
    'miface',
    'VLC',
    'udp, rtp',
    'alias',
    'both',
    'as iface (VLC: the multicast interface)',
    'iface',
  ),
  row(
    'ttl',
    'FFmpeg, VLC',
    'udp, rtp',
    'apply',
    'send',
    'multicast TTL / hop limit 0..255 (unicast 1..255); ignored with a notice when receiving',
  ),
  row(
    'dscp',
    'FFmpeg',
    'rtp',
    'apply',
    'send',
    'DiffServ code point 0..63 (IP_TOS / IPV6_TCLASS); ignored with a notice when receiving',
  ),
  row(
    'buffer',
    'mediasock',
    'udp, rtp',
    'apply',
    'both',
    'SO_RCVBUF when receiving, SO_SNDBUF when sending, bytes',
  ),
  row('buffer_size', 'FFmpeg', 'udp, rtp', 'alias', 'both', 'as buffer', 'buffer'),
  row(
    'reuse',
    'FFmpeg',
    'udp',
    'apply',
    'both',
    'SO_REUSEADDR; on by default for multicast receivers (as FFmpeg and VLC); reuse=0 turns it off',
  ),
  row('reuse_socket', 'FFmpeg', 'udp', 'alias', 'both', 'as reuse', 'reuse'),
  row(
    'sources',
    'FFmpeg',
    'udp, rtp',
    'apply',
    'receive',
    'source filter, include mode (IGMPv3 / MLDv2 INCLUDE)',
  ),
  row(
    'block',
    'FFmpeg',
    'udp, rtp',
    'apply',
    'receive',
    'source filter, exclude mode (IGMPv3 / MLDv2 EXCLUDE)',
  ),
  row(
    'pkt_size',
    'FFmpeg',
    'udp, rtp',
    'apply',
    'send',
    'datagram size when sending (RTP header included for rtp://); a receiver reads whole datagrams (up to 64 KiB) and ignores it with a notice',
  ),
  row(
    'fifo_size',
    'FFmpeg',
    'udp',
    'apply',
    'receive',
    "bounds the receiver's queue of unread datagrams (readerQueueLength): FFmpeg counts 188-byte packets, mediasock one datagram per 7 of them, at most 1048576",
  ),
  row(
    'timeout',
    'FFmpeg',
    'udp, rtp',
    'apply',
    'receive',
    'microseconds without a datagram after which a receiver fails (mediasock recv and relay exit 1); 0 never',
  ),
  row(
    'localport',
    'FFmpeg',
    'udp, rtp',
    'apply',
    'send',
    'local port a sender binds; a receiver binds the URL port and ignores it with a notice',
  ),
  row(
    'local_port',
    'FFmpeg',
    'udp',
    'alias',
    'send',
    "as localport (FFmpeg's older spelling)",
    'localport',
  ),
  row('localrtpport', 'FFmpeg', 'rtp', 'alias', 'send', 'as localport', 'localport'),
  row(
    'connect',
    'FFmpeg',
    'udp, rtp',
    'apply',
    'send',
    'connect(2) the sending socket to the destination (ICMP errors such as ECONNREFUSED are reported); ignored with a notice when receiving',
  ),
  row(
    'bitrate',
    'FFmpeg',
    'udp',
    'apply',
    'send',
    'constant send rate in bits/s (mediasock send --bitrate); 0 unpaced',
  ),
  row('broadcast', 'FFmpeg', 'udp', 'apply', 'send', 'SO_BROADCAST on the sending socket'),
  row(
    'overrun_nonfatal',
    'FFmpeg',
    'udp',
    'ignore',
    'receive',
    "accepted with a notice: an overrun of FFmpeg's own FIFO; mediasock never stops on one (kernel drops are counted)",
  ),
  row(
    'burst_bits',
    'FFmpeg',
    'udp',
    'ignore',
    'send',
    "accepted with a notice: the burst of FFmpeg's bitrate pacer",
  ),
  row(
    'circular_buffer_size',
    'FFmpeg',
    'udp',
    'ignore',
    'receive',
    "accepted with a notice: FFmpeg's FIFO in bytes (use fifo_size to bound the queue)",
  ),
  row(
    'udplite_coverage',
    'FFmpeg',
    'udp',
    'ignore',
    'both',
    'accepted with a notice: applies to udplite:// only',
  ),
  row(
    'rtcpport',
    'FFmpeg',
    'rtp',
    'ignore',
    'send',
    "accepted with a notice: mediasock's rtp:// carries RTP only (RIST and RTSP handle RTCP)",
  ),
  row('localrtcpport', 'FFmpeg', 'rtp', 'ignore', 'send', 'accepted with a notice: as rtcpport'),
  row(
    'write_to_source',
    'FFmpeg',
    'rtp',
    'ignore',
    'send',
    "accepted with a notice: FFmpeg's reply-to-source mode of an RTP output",
  ),
  row(
    'fec',
    'FFmpeg',
    'rtp',
    'refuse',
    'send',
    "refused: FFmpeg's Pro-MPEG FEC changes the stream, so ignoring it would be wrong",
  ),
]);

function row(
  key: string,
  origin: UrlOptionRow['origin'],
  schemes: UrlOptionRow['schemes'],
  effect: UrlOptionRow['effect'],
  direction: UrlOptionDirection,
  behaviour: string,
  target?: string,
): UrlOptionRow {
  return Object.freeze(
    target === undefined
      ? { key, origin, schemes, effect, direction, behaviour }
      : { key, origin, schemes, effect, direction, behaviour, target },
  );
}

/** The applied FFmpeg keys, canonical spelling, in the order `formatMediaUrl` writes them. */
export const FOREIGN_APPLIED_KEYS = [
  'pkt_size',
  'fifo_size',
  'timeout',
  'localport',
  'connect',
  'bitrate',
  'broadcast',
] as const;

/** One of {@link FOREIGN_APPLIED_KEYS}. */
export type ForeignAppliedKey = (typeof FOREIGN_APPLIED_KEYS)[number];

/** Aliases of applied FFmpeg keys (a Map: only these resolve). */
export const FOREIGN_ALIASES: ReadonlyMap<string, ForeignAppliedKey> = new Map([
  ['local_port', 'localport'],
  ['localrtpport', 'localport'],
]);

const IGNORED = new Map(
  URL_OPTION_TABLE.filter((r) => r.effect === 'ignore').map((r) => [r.key, r] as const),
);
const REFUSED = new Map(
  URL_OPTION_TABLE.filter((r) => r.effect === 'refuse').map((r) => [r.key, r] as const),
);

/** What the parser does with a key that is not one of mediasock's own. */
export type ForeignKeyKind =
  | { kind: 'applied'; key: ForeignAppliedKey }
  | { kind: 'ignored'; key: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'unknown' };

/** Classifies a query key that is not one of mediasock's own keys or aliases. */
export function foreignKey(name: string): ForeignKeyKind {
  if ((FOREIGN_APPLIED_KEYS as readonly string[]).includes(name)) {
    return { kind: 'applied', key: name as ForeignAppliedKey };
  }
  const alias = FOREIGN_ALIASES.get(name);
  if (alias !== undefined) return { kind: 'applied', key: alias };
  if (IGNORED.has(name)) return { kind: 'ignored', key: name };
  const refused = REFUSED.get(name);
  if (refused !== undefined) return { kind: 'refused', reason: refused.behaviour };
  return { kind: 'unknown' };
}

/** The keys named in the "unknown key" error, FFmpeg's and VLC's included. */
export function knownForeignKeys(): string[] {
  return [...FOREIGN_APPLIED_KEYS, ...FOREIGN_ALIASES.keys(), ...IGNORED.keys()];
}

/** The most reader-queue datagrams `fifo_size` can ask for (`readerQueueLength`'s limit). */
export const MAX_FIFO_DATAGRAMS = 1 << 20;

/**
 * `fifo_size` (FFmpeg: 188-byte packets) as a reader queue length in datagrams: one datagram per
 * 7 packets (1316 bytes, FFmpeg's usual `pkt_size`), rounded up, at most
 * {@link MAX_FIFO_DATAGRAMS}.
 */
export function fifoDatagrams(fifoPackets: number): number {
  return Math.min(MAX_FIFO_DATAGRAMS, Math.max(1, Math.ceil(fifoPackets / 7)));
}

/**
 * Parses the value of an applied FFmpeg key; calls `fail` with what was expected.
 * `pkt_size` 1..65527, `fifo_size` 1..2^53-1, `timeout` µs 0..2^31-1 ms worth, `localport`
 * 0..65535, `connect` / `broadcast` 0, 1, false or true, `bitrate` 0..10^12 bits/s.
 */
export function parseForeignValue(
  key: ForeignAppliedKey,
  text: string,
  fail: (expected: string) => never,
): number | boolean {
  const int = (min: number, max: number): number => {
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      fail(
        `must have a query option ${key} that is an integer in ${min}..${max}; ${JSON.stringify(text)} is not`,
      );
    }
    return value;
  };
  switch (key) {
    case 'pkt_size':
      return int(1, 65527);
    case 'fifo_size':
      return int(1, Number.MAX_SAFE_INTEGER);
    case 'timeout':
      // setTimeout's limit, 2^31-1 ms, in microseconds.
      return int(0, (2 ** 31 - 1) * 1000);
    case 'localport':
      return int(0, 65535);
    case 'bitrate':
      return int(0, 1e12);
    case 'connect':
    case 'broadcast':
      if (text === '1' || text === 'true') return true;
      if (text === '0' || text === 'false') return false;
      return fail(
        `must have a query option ${key} of 0, 1, false or true; ${JSON.stringify(text)} is not`,
      );
  }
}

/** The {@link MediaUrl} field of each applied FFmpeg key. */
export const FOREIGN_FIELDS = {
  pkt_size: 'packetBytes',
  fifo_size: 'fifoPackets',
  timeout: 'timeoutMicros',
  localport: 'localPort',
  connect: 'connect',
  bitrate: 'bitsPerSecond',
  broadcast: 'broadcast',
} as const satisfies Record<ForeignAppliedKey, keyof MediaUrl>;

/**
 * The query text of the applied FFmpeg fields and the accepted-but-ignored options of `url`,
 * each checked as the parser would.
 *
 * @throws InvalidArgumentError naming the field (`url.packetBytes`, `url.ignoredOptions[0]` …).
 */
export function formatForeignOptions(url: MediaUrl): string[] {
  const out: string[] = [];
  for (const key of FOREIGN_APPLIED_KEYS) {
    const field = FOREIGN_FIELDS[key];
    const value: unknown = url[field];
    if (value === undefined) continue;
    const text =
      typeof value === 'boolean'
        ? value
          ? '1'
          : '0'
        : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
          ? String(value)
          : '';
    parseForeignValue(key, text, (expected) => {
      throw new InvalidArgumentError(`url.${field}`, value, expected);
    });
    out.push(`${key}=${text}`);
  }
  const ignored: unknown = url.ignoredOptions;
  if (ignored === undefined) return out;
  if (!Array.isArray(ignored)) {
    throw new InvalidArgumentError(
      'url.ignoredOptions',
      ignored,
      'must be an array of { key, value }',
    );
  }
  ignored.forEach((entry: unknown, i) => {
    const { key, value } = (typeof entry === 'object' && entry !== null ? entry : {}) as {
      key?: unknown;
      value?: unknown;
    };
    if (typeof key !== 'string' || !IGNORED.has(key) || typeof value !== 'string') {
      throw new InvalidArgumentError(
        `url.ignoredOptions[${i}]`,
        entry,
        `must be { key, value } with a key of ${[...IGNORED.keys()].join(', ')} and a string value`,
      );
    }
  });
  for (const { key, value } of ignored as { key: string; value: string }[]) {
    // Only what would end or split the value is escaped; the parser decodes %XX back.
    out.push(
      `${key}=${value.replace(/[%&#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`,
    );
  }
  return out;
}

/**
 * One-line notices for what `url` asks that has no effect in `direction`: FFmpeg-only keys, and
 * keys of the other direction (`ttl` on a receiver, `fifo_size` on a sender …). Empty when every
 * option applies. `openMediaReceiver` and `openMediaSender` return these as `notices`.
 *
 * @throws InvalidArgumentError for a URL `parseMediaUrl` / `formatMediaUrl` refuse, or a
 *   direction other than `'send'` or `'receive'`.
 */
export function urlNotices(url: string | MediaUrl, direction: 'send' | 'receive'): string[] {
  if (direction !== 'send' && direction !== 'receive') {
    throw new InvalidArgumentError('direction', direction, "must be 'send' or 'receive'");
  }
  const parsed = typeof url === 'string' ? parseMediaUrl(url) : parseMediaUrl(formatMediaUrl(url));
  return noticesOf(parsed, direction);
}

/** {@link urlNotices} of a URL `parseMediaUrl` returned. @internal */
export function noticesOf(url: MediaUrl, direction: 'send' | 'receive'): string[] {
  const notes: string[] = [];
  const other = direction === 'send' ? 'receiving' : 'sending';
  const wrongWay = (key: string, value: unknown): void => {
    notes.push(`${key}=${formatValue(value)} is ignored: it applies to ${other}`);
  };
  if (direction === 'receive') {
    if (url.ttl !== undefined) wrongWay('ttl', url.ttl);
    if (url.dscp !== undefined) wrongWay('dscp', url.dscp);
    if (url.localPort !== undefined) {
      notes.push(
        `localport=${url.localPort} is ignored: a receiver binds the URL's port (${url.port})`,
      );
    }
    if (url.connect !== undefined) wrongWay('connect', url.connect);
    if (url.bitsPerSecond !== undefined) wrongWay('bitrate', url.bitsPerSecond);
    if (url.broadcast !== undefined) wrongWay('broadcast', url.broadcast);
    if (url.packetBytes !== undefined) {
      notes.push(
        `pkt_size=${url.packetBytes} is ignored: a receiver reads whole datagrams (up to 64 KiB)`,
      );
    }
  } else {
    if (url.fifoPackets !== undefined) wrongWay('fifo_size', url.fifoPackets);
    if (url.timeoutMicros !== undefined) wrongWay('timeout', url.timeoutMicros);
  }
  for (const { key, value } of url.ignoredOptions ?? []) {
    const r = IGNORED.get(key);
    const why = r?.behaviour.replace(/^accepted with a notice: /, '') ?? '';
    notes.push(`${key}=${value} is ignored: ${why}`);
  }
  return notes;
}

function formatValue(value: unknown): string {
  return typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
}
