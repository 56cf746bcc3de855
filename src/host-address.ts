/**
 * This host's own address as live555 finds it, hostname fallback included: `ourIPv4Address()` /
 * `ourIPv6Address()` (in `interfaces.ts`) scan the interfaces; when none answers, live555
 * resolves `gethostname()`. {@link findOurIPAddress} does both, and
 * {@link weHaveAnIPv4Address} / {@link weHaveAnIPv6Address} / {@link weHaveAnIPAddress} are
 * live555's helpers of the same names on top of it.
 *
 * Differences from live555, on purpose: nothing is cached (interfaces come and go; call again),
 * the lookup takes an `AbortSignal`, and the hostname's addresses pass the same filter as the
 * interfaces' (IPv4: not `0.0.0.0`, `255.255.255.255` or `127.0.0.0/8` — live555 skips only
 * `127.0.0.1`, so a Debian-style `127.0.1.1 myhost` line gives it `127.0.1.1` and us nothing;
 * IPv6: not `::`, `::1` or link-local).
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';

import { classifyAddress } from './address.js';
import { AbortError, InvalidArgumentError } from './errors.js';
import { ourIPv4Address, ourIPv6Address } from './interfaces.js';
import { validateAbortSignal } from './validate.js';

/** Where {@link findOurIPAddress} found the address. */
export interface OurIPAddress {
  /** The address (a link-local IPv6 one with its zone, from the interface scan only). */
  address: string;
  /** `'interface'`: an up, non-loopback interface has it; `'hostname'`: the hostname resolves to it. */
  from: 'interface' | 'hostname';
}

/**
 * This host's IPv4 or IPv6 address: the interface scan of `ourIPv4Address()` /
 * `ourIPv6Address()`, else the first usable address `os.hostname()` resolves to
 * (`getaddrinfo`, so `/etc/hosts` first), as live555's `ourIPv4Address(env)` /
 * `ourIPv6Address(env)`. `undefined` when neither answers (a lookup failure counts as no answer).
 *
 * @throws InvalidArgumentError for a family other than 4 or 6; AbortError when `signal` aborts.
 */
export async function findOurIPAddress(
  family: 4 | 6,
  options: { signal?: AbortSignal } = {},
): Promise<OurIPAddress | undefined> {
  if (family !== 4 && family !== 6) {
    throw new InvalidArgumentError('family', family, 'must be 4 or 6');
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', options, 'must be an object { signal? }');
  }
  validateAbortSignal(options.signal, 'signal');
  const signal = options.signal;
  if (signal?.aborted) throw new AbortError('findOurIPAddress', signal.reason);
  const scanned = family === 4 ? ourIPv4Address() : ourIPv6Address();
  if (scanned !== undefined) return { address: scanned, from: 'interface' };
  let found: { address: string }[];
  try {
    found = await lookup(hostname(), { family, all: true });
  } catch {
    found = [];
  }
  if (signal?.aborted) throw new AbortError('findOurIPAddress', signal.reason);
  for (const { address } of found) {
    if (usable(address, family)) return { address, from: 'hostname' };
  }
  return undefined;
}

/** Whether this host has an IPv4 address (live555's `weHaveAnIPv4Address`). */
export async function weHaveAnIPv4Address(
  options: { signal?: AbortSignal } = {},
): Promise<boolean> {
  return (await findOurIPAddress(4, options)) !== undefined;
}

/** Whether this host has an IPv6 address (live555's `weHaveAnIPv6Address`). */
export async function weHaveAnIPv6Address(
  options: { signal?: AbortSignal } = {},
): Promise<boolean> {
  return (await findOurIPAddress(6, options)) !== undefined;
}

/** Whether this host has an IPv4 or an IPv6 address (live555's `weHaveAnIPAddress`). */
export async function weHaveAnIPAddress(options: { signal?: AbortSignal } = {}): Promise<boolean> {
  return (await weHaveAnIPv4Address(options)) || (await weHaveAnIPv6Address(options));
}

function usable(address: string, family: 4 | 6): boolean {
  const c = classifyAddress(address);
  if (c.family !== family || c.unspecified || c.loopback || c.multicast) return false;
  if (family === 4) return address !== '255.255.255.255';
  return !c.linkLocal && !c.v4Mapped;
}
