/**
 * RTSP authentication: HTTP Basic (RFC 7617) and Digest (RFC 2617, RFC 7616) with MD5, SHA-256 and
 * their `-sess` variants, qop `auth` or none (RFC 2069 servers).
 *
 * The flow is the 401 retry: a request goes out without credentials; a 401 carries one or more
 * `WWW-Authenticate` challenges; {@link Authenticator.answer} picks the strongest scheme it
 * implements (Digest SHA-256, then Digest MD5, then Basic, the order RFC 7616 §3.7 asks clients to
 * prefer) and every later request carries an `Authorization` built from it. The nonce count rises
 * per request under the same nonce, so a server that checks replays accepts each.
 *
 * Basic sends the password in the clear; the client uses it only when the server offers nothing
 * else.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';

import { splitHeaderList } from './message.js';
import { InvalidArgumentError } from '../errors.js';

/** One challenge from `WWW-Authenticate`. */
export interface AuthChallenge {
  /** Scheme, lower-cased: `basic`, `digest`. */
  scheme: string;
  /** Parameters, names lower-cased, quotes removed. */
  params: Record<string, string>;
}

/** User name and password (from the URL's userinfo or options). */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Parses a `WWW-Authenticate` value (several challenges may be joined by commas) into challenges.
 * Malformed pieces are skipped; the caller fails with `RtspAuthError` when nothing usable remains.
 */
export function parseChallenges(value: string): AuthChallenge[] {
  if (typeof value !== 'string')
    throw new InvalidArgumentError('value', value, 'must be a WWW-Authenticate header value');
  const out: AuthChallenge[] = [];
  let current: AuthChallenge | undefined;
  for (const item of splitHeaderList(value).slice(0, 64)) {
    const schemeMatch = /^([A-Za-z][\w-]*)(?:\s+(.*))?$/.exec(item);
    let param = item;
    if (schemeMatch !== null && !/^[\w-]+\s*=/.test(item)) {
      current = { scheme: (schemeMatch[1] as string).toLowerCase(), params: {} };
      out.push(current);
      param = schemeMatch[2] ?? '';
    }
    const kv = /^([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))$/.exec(param.trim());
    if (kv !== null && current !== undefined) {
      const raw = kv[2] !== undefined ? kv[2].replace(/\\(.)/g, '$1') : (kv[3] ?? '');
      current.params[(kv[1] as string).toLowerCase()] = raw;
    }
  }
  return out;
}

const DIGEST_HASHES: Record<string, string> = {
  md5: 'md5',
  'md5-sess': 'md5',
  'sha-256': 'sha256',
  'sha-256-sess': 'sha256',
};

/** Inputs of one Digest computation; exported so the RFC 7616 test vectors can be checked. */
export interface DigestInput {
  username: string;
  password: string;
  realm: string;
  nonce: string;
  method: string;
  uri: string;
  /** `MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess` (case-insensitive). Default `MD5`. */
  algorithm?: string;
  /** `auth`, or undefined for RFC 2069 servers. */
  qop?: string;
  /** Nonce count, 8 hex digits. */
  nc?: string;
  cnonce?: string;
}

/**
 * Computes the Digest `response` value (RFC 7616 §3.4.1).
 *
 * @returns undefined for an algorithm this client does not implement.
 */
export function digestResponse(input: DigestInput): string | undefined {
  if (typeof input !== 'object' || input === null)
    throw new InvalidArgumentError('input', input, 'must be an object (see DigestInput)');
  for (const key of ['username', 'password', 'realm', 'nonce', 'method', 'uri'] as const) {
    if (typeof input[key] !== 'string')
      throw new InvalidArgumentError(`input.${key}`, input[key], 'must be a string');
  }
  const algorithm = (input.algorithm ?? 'MD5').toLowerCase();
  const hashName = DIGEST_HASHES[algorithm];
  if (hashName === undefined) return undefined;
  const h = (s: string): string => createHash(hashName).update(s, 'utf8').digest('hex');
  let ha1 = h(`${input.username}:${input.realm}:${input.password}`);
  if (algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${input.nonce}:${input.cnonce ?? ''}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  if (input.qop === undefined) return h(`${ha1}:${input.nonce}:${ha2}`);
  return h(`${ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${input.qop}:${ha2}`);
}

/** Ranks challenges: Digest SHA-256 > Digest MD5 > Basic; other schemes are unsupported (-1). */
function rank(challenge: AuthChallenge): number {
  if (challenge.scheme === 'basic') return 1;
  if (challenge.scheme !== 'digest') return -1;
  const algorithm = (challenge.params.algorithm ?? 'MD5').toLowerCase();
  if (DIGEST_HASHES[algorithm] === undefined) return -1;
  if (challenge.params.nonce === undefined || challenge.params.realm === undefined) return -1;
  const qop = challenge.params.qop;
  if (qop !== undefined && !splitHeaderList(qop).includes('auth')) return -1;
  return algorithm.startsWith('sha-256') ? 3 : 2;
}

/** Builds `Authorization` headers for one server, after its 401. */
export class Authenticator {
  readonly #credentials: Credentials;
  #challenge: AuthChallenge | undefined;
  #nonceCount = 0;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  /** Whether a challenge has been accepted (requests carry Authorization). */
  get active(): boolean {
    return this.#challenge !== undefined;
  }

  /** The scheme in use (`digest`, `basic`), if any. */
  get scheme(): string | undefined {
    return this.#challenge?.scheme;
  }

  /**
   * Takes the challenges of a 401 and keeps the strongest one implemented.
   *
   * @returns a description of what is wrong when none can be answered, else undefined.
   */
  answer(wwwAuthenticate: string | undefined): string | undefined {
    if (wwwAuthenticate === undefined) return 'the 401 carries no WWW-Authenticate challenge';
    const challenges = parseChallenges(wwwAuthenticate);
    let best: AuthChallenge | undefined;
    for (const c of challenges)
      if (rank(c) > 0 && (best === undefined || rank(c) > rank(best))) best = c;
    if (best === undefined) {
      const offered = challenges.map((c) => c.scheme).join(', ') || 'nothing readable';
      return `no challenge this client implements (offered: ${offered}; implemented: Digest MD5/SHA-256 qop=auth, Basic)`;
    }
    if (best.params.nonce !== this.#challenge?.params.nonce) this.#nonceCount = 0;
    this.#challenge = best;
    return undefined;
  }

  /** Whether the last challenge said `stale=true` (the nonce expired, the password was right). */
  get stale(): boolean {
    return this.#challenge?.params.stale?.toLowerCase() === 'true';
  }

  /** The `Authorization` value for a request, or undefined before any challenge. */
  header(method: string, uri: string): string | undefined {
    const c = this.#challenge;
    if (c === undefined) return undefined;
    const { username, password } = this.#credentials;
    if (c.scheme === 'basic') {
      return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    }
    const realm = c.params.realm ?? '';
    const nonce = c.params.nonce ?? '';
    const algorithm = c.params.algorithm;
    const qop = c.params.qop === undefined ? undefined : 'auth';
    this.#nonceCount++;
    const nc = this.#nonceCount.toString(16).padStart(8, '0');
    const cnonce = randomBytes(12).toString('hex');
    const response = digestResponse({
      username,
      password,
      realm,
      nonce,
      method,
      uri,
      ...(algorithm === undefined ? {} : { algorithm }),
      ...(qop === undefined ? {} : { qop, nc, cnonce }),
    });
    const q = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;
    const parts = [
      `username=${q(username)}`,
      `realm=${q(realm)}`,
      `nonce=${q(nonce)}`,
      `uri=${q(uri)}`,
      `response=${q(response ?? '')}`,
    ];
    if (algorithm !== undefined) parts.push(`algorithm=${algorithm}`);
    if (c.params.opaque !== undefined) parts.push(`opaque=${q(c.params.opaque)}`);
    if (qop !== undefined) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${q(cnonce)}`);
    return `Digest ${parts.join(', ')}`;
  }
}
