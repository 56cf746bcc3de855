/**
 * IP addresses as bytes for the batch engine: literals to 4 / 16 network-order bytes (written into
 * the Int32 send rows the addon reads) and back to text in the exact form `node:dgram` reports
 * (libuv's `inet_ntop`: RFC 5952 compression, `::ffff:a.b.c.d` for v4-mapped addresses). A small
 * cache keyed by the raw words makes formatting the source of every datagram allocation-free once
 * an address has been seen.
 *
 * What it does not do: resolve names or validate ranges; callers validate addresses first.
 *
 * @module
 * @internal
 */

/** Parses an IPv4 literal into `out[at..at+4]`; false when it is not one. */
export function parseIPv4(text: string, out: Uint8Array, at: number): boolean {
  let part = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255 || digits > 3) return false;
    } else if (c === 46) {
      if (digits === 0 || index > 3) return false;
      out[at + index++] = part;
      part = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return index === 4;
}

/** Parses an IPv6 literal (without a zone) into `out[at..at+16]`; false when it is not one. */
export function parseIPv6(text: string, out: Uint8Array, at: number): boolean {
  const words: number[] = [];
  let gap = -1;
  let i = 0;
  if (text.startsWith('::')) {
    gap = 0;
    i = 2;
  }
  while (i < text.length) {
    const dot = text.indexOf('.', i);
    const colon = text.indexOf(':', i);
    if (dot !== -1 && (colon === -1 || dot < colon)) {
      const v4 = new Uint8Array(4);
      if (!parseIPv4(text.slice(i), v4, 0)) return false;
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      i = text.length;
      break;
    }
    const end = colon === -1 ? text.length : colon;
    const hex = text.slice(i, end);
    if (!/^[0-9a-fA-F]{1,4}$/.test(hex)) return false;
    words.push(Number.parseInt(hex, 16));
    if (colon === -1) {
      i = text.length;
      break;
    }
    if (text.charCodeAt(colon + 1) === 58) {
      if (gap !== -1) return false;
      gap = words.length;
      i = colon + 2;
    } else {
      i = colon + 1;
      if (i >= text.length) return false;
    }
  }
  if (gap === -1 ? words.length !== 8 : words.length > 7) return false;
  const full =
    gap === -1
      ? words
      : [
          ...words.slice(0, gap),
          ...new Array<number>(8 - words.length).fill(0),
          ...words.slice(gap),
        ];
  for (let w = 0; w < 8; w++) {
    out[at + 2 * w] = full[w]! >> 8;
    out[at + 2 * w + 1] = full[w]! & 0xff;
  }
  return true;
}

/** Formats 4 bytes as dotted decimal. */
export function formatIPv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** Formats 16 bytes as `inet_ntop(AF_INET6)` (and so `node:dgram`) does. */
export function formatIPv6(b: Uint8Array, at: number): string {
  const words: number[] = [];
  for (let w = 0; w < 8; w++) words.push((b[at + 2 * w]! << 8) | b[at + 2 * w + 1]!);
  // The longest run of two or more zero words, the first one on a tie.
  let bestBase = -1;
  let bestLen = 0;
  for (let w = 0; w < 8;) {
    if (words[w] !== 0) {
      w++;
      continue;
    }
    let end = w;
    while (end < 8 && words[end] === 0) end++;
    if (end - w > bestLen) {
      bestBase = w;
      bestLen = end - w;
    }
    w = end;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let w = 0; w < 8; w++) {
    if (bestBase !== -1 && w >= bestBase && w < bestBase + bestLen) {
      if (w === bestBase) out += ':';
      continue;
    }
    if (w !== 0) out += ':';
    // Embedded IPv4: ::a.b.c.d and ::ffff:a.b.c.d (as inet_ntop).
    if (w === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIPv4(b, at + 12);
      break;
    }
    out += words[w]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

const kCacheSize = 256;

/**
 * Formats source addresses read from the receive rows, caching the text by the raw words so a
 * repeated address costs a hash and four compares, not a string.
 */
export class AddressCache {
  readonly #words = new Int32Array(kCacheSize * 6);
  readonly #text: (string | undefined)[] = new Array<string | undefined>(kCacheSize);
  readonly #zone: (scope: number) => string;

  /** @param zone - the `%zone` suffix of a link-local IPv6 scope id (interface name). */
  constructor(zone: (scope: number) => string) {
    this.#zone = zone;
  }

  /** The text of the address at `words[at..at+4]` (network-order bytes), family and scope. */
  format(words: Int32Array, bytes: Uint8Array, at: number, family: number, scope: number): string {
    const w0 = words[at]!;
    const w1 = family === 6 ? words[at + 1]! : 0;
    const w2 = family === 6 ? words[at + 2]! : 0;
    const w3 = family === 6 ? words[at + 3]! : 0;
    let h = (w0 ^ (w1 * 31) ^ (w2 * 131) ^ (w3 * 8191) ^ (scope * 7) ^ family) | 0;
    h = (h ^ (h >>> 16) ^ (h >>> 8)) & (kCacheSize - 1);
    const c = this.#words;
    const k = h * 6;
    const cached = this.#text[h];
    if (
      cached !== undefined &&
      c[k] === w0 &&
      c[k + 1] === w1 &&
      c[k + 2] === w2 &&
      c[k + 3] === w3 &&
      c[k + 4] === scope &&
      c[k + 5] === family
    ) {
      return cached;
    }
    let text = family === 4 ? formatIPv4(bytes, at * 4) : formatIPv6(bytes, at * 4);
    // Node appends the zone to link-local IPv6 sources only (fe80::/10).
    if (
      family === 6 &&
      scope !== 0 &&
      bytes[at * 4] === 0xfe &&
      (bytes[at * 4 + 1]! & 0xc0) === 0x80
    )
      text += `%${this.#zone(scope)}`;
    c[k] = w0;
    c[k + 1] = w1;
    c[k + 2] = w2;
    c[k + 3] = w3;
    c[k + 4] = scope;
    c[k + 5] = family;
    this.#text[h] = text;
    return text;
  }
}
