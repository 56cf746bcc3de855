/**
 * Name resolution with a family filter, a family preference and an `AbortSignal`.
 *
 * Names go through the system resolver (`dns.promises.lookup`, i.e. `getaddrinfo(3)`: /etc/hosts,
 * DNS, mDNS, whatever nsswitch says), so results match what every other program on the host sees.
 * Address literals are answered at once, without a lookup. Results are ordered for Happy Eyeballs
 * (RFC 8305 §4): the two families interleaved, starting with the preferred one, each family in the
 * resolver's own order (RFC 6724 destination address selection).
 *
 * What this module does not do: cache, query DNS servers directly (`dns.Resolver`), or connect.
 * A lookup cannot be cancelled inside `getaddrinfo`; on abort the promise rejects at once and the
 * lookup's eventual answer is dropped.
 *
 * @module
 */

import { promises as dns } from 'node:dns';
import { addressFamily, hostnameProblem, normalizeAddress, parseHostPort } from './address.js';
import type { IPFamily } from './address.js';
import { AbortError, InvalidArgumentError, SystemCallError } from './errors.js';
import { validateAbortSignal, validatePort, validateString } from './validate.js';

/** One address a name resolved to. */
export interface ResolvedAddress {
  /** The address, normalized (an IPv6 literal given with a zone keeps it). */
  address: string;
  /** 4 or 6. */
  family: IPFamily;
}

/** One address an endpoint resolved to, with its port. */
export interface ResolvedEndpoint extends ResolvedAddress {
  port: number;
}

/** Options of {@link resolveHost}. */
export interface ResolveOptions {
  /** Only addresses of this family; 0 for both. Default 0. */
  family?: 0 | 4 | 6;
  /** The family to try first. Default: the family of the resolver's first answer (RFC 8305 §4). */
  prefer?: 4 | 6;
  /** Cancels the lookup: the promise rejects with `AbortError` at once. */
  signal?: AbortSignal;
}

/**
 * Resolves `host` to its addresses with `getaddrinfo(3)` (through `dns.promises.lookup`), ordered
 * for Happy Eyeballs (RFC 8305): the families interleaved, the preferred one first. An IPv4 or
 * IPv6 literal (with zone) is returned at once without a lookup.
 *
 * @throws InvalidArgumentError (rejects) for a host that is neither an address literal nor an
 *   RFC 1123 name, for bad options, or for a literal of the family not asked for.
 * @throws AbortError (rejects) when `signal` is aborted before or during the lookup.
 * @throws SystemCallError (rejects) with syscall `getaddrinfo` and the host as `address` when the
 *   lookup fails (`ENOTFOUND`, `EAI_AGAIN` …).
 */
export async function resolveHost(
  host: string,
  options: ResolveOptions = {},
): Promise<ResolvedAddress[]> {
  const { family, prefer, signal } = checkOptions(options);
  validateString(host, 'host', { nonEmpty: true });
  if (signal?.aborted) throw new AbortError(`resolve ${JSON.stringify(host)}`, signal.reason);

  const literal = addressFamily(host);
  if (literal !== 0) {
    if (family !== 0 && family !== literal) {
      throw new InvalidArgumentError(
        'host',
        host,
        `must be an IPv${family} address or a name when options.family is ${family}`,
      );
    }
    return [{ address: normalizeAddress(host), family: literal }];
  }
  const problem = hostnameProblem(host);
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      'host',
      host,
      `must be an IP address literal or an RFC 1123 host name, and ${problem}`,
    );
  }

  const lookup = dns
    .lookup(host, { all: true, family, order: 'verbatim', verbatim: true })
    .catch((err: unknown) => {
      throw SystemCallError.from(err, { syscall: 'getaddrinfo', address: host });
    });
  const answers = signal === undefined ? await lookup : await raceAbort(lookup, signal, host);

  const seen = new Set<string>();
  const found: ResolvedAddress[] = [];
  for (const a of answers) {
    if ((a.family !== 4 && a.family !== 6) || seen.has(a.address)) continue;
    seen.add(a.address);
    found.push({ address: a.address, family: a.family });
  }
  return interleave(found, prefer);
}

/** Options of {@link resolveEndpoint}. */
export interface ResolveEndpointOptions extends ResolveOptions {
  /** The port when `hostPort` has none. Without it a port is required. */
  defaultPort?: number;
}

/**
 * Parses `hostPort` as {@link parseHostPort} does and resolves its host with {@link resolveHost};
 * every answer carries the port. A zone in the input stays on the address (`fe80::1%eth0`).
 *
 * @throws InvalidArgumentError, AbortError, SystemCallError (rejects), as {@link resolveHost}.
 */
export async function resolveEndpoint(
  hostPort: string,
  options: ResolveEndpointOptions = {},
): Promise<ResolvedEndpoint[]> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', options, 'must be an object');
  if (options.defaultPort !== undefined) validatePort(options.defaultPort, 'options.defaultPort');
  const endpoint = parseHostPort(hostPort, { defaultPort: options.defaultPort });
  const host = endpoint.zone === undefined ? endpoint.host : `${endpoint.host}%${endpoint.zone}`;
  const resolved = await resolveHost(host, {
    family: options.family,
    prefer: options.prefer,
    signal: options.signal,
  });
  return resolved.map((r) => ({ ...r, port: endpoint.port }));
}

/**
 * Orders addresses for Happy Eyeballs (RFC 8305 §4, "First Address Family Count" 1): alternate the
 * families, starting with `prefer` (or the family of the first address), keeping each family's order.
 */
export function interleave<T extends { family: IPFamily }>(
  addresses: readonly T[],
  prefer?: 4 | 6,
): T[] {
  const list: unknown = addresses;
  if (!Array.isArray(list))
    throw new InvalidArgumentError('addresses', addresses, 'must be an array of { family }');
  for (const [i, a] of addresses.entries()) {
    if (typeof a !== 'object' || a === null || (a.family !== 4 && a.family !== 6))
      throw new InvalidArgumentError(`addresses[${i}]`, a, 'must be an object { family: 4 | 6 }');
  }
  if (prefer !== undefined && prefer !== 4 && prefer !== 6)
    throw new InvalidArgumentError('prefer', prefer, 'must be 4 or 6');
  const first = prefer ?? addresses[0]?.family ?? 6;
  const a = addresses.filter((x) => x.family === first);
  const b = addresses.filter((x) => x.family !== first);
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined) out.push(x);
    if (y !== undefined) out.push(y);
  }
  return out;
}

function checkOptions(
  options: ResolveOptions,
): Required<Pick<ResolveOptions, 'family'>> & ResolveOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', options, 'must be an object');
  }
  const { family = 0, prefer, signal } = options;
  if (family !== 0 && family !== 4 && family !== 6) {
    throw new InvalidArgumentError('options.family', family, 'must be 0, 4 or 6');
  }
  if (prefer !== undefined && prefer !== 4 && prefer !== 6) {
    throw new InvalidArgumentError('options.prefer', prefer, 'must be 4, 6 or undefined');
  }
  validateAbortSignal(signal, 'options.signal');
  return { family, prefer, signal };
}

/** Settles with `lookup`, or rejects with AbortError as soon as `signal` aborts. */
function raceAbort<T>(lookup: Promise<T>, signal: AbortSignal, host: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(new AbortError(`resolve ${JSON.stringify(host)}`, signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // After an abort this promise is already settled: the lookup's late answer or error is dropped
    // by design (getaddrinfo cannot be cancelled), not swallowed by accident.
    lookup.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
