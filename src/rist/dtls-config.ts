/**
 * The DTLS client and server configuration (`DtlsClientConfig` / `DtlsServerConfig`), and its
 * validation into the options of the addon's `msock_dtls_context`, plus the `allowPeers` list. Pure: no
 * socket, no OpenSSL object; every mistake is an `InvalidArgumentError` naming the option, raised
 * before anything native is made. Split from `dtls.ts`, which runs the handshakes.
 *
 * @module
 */
import { BlockList, isIPv6 } from 'node:net';

import { unmapIPv4 } from '../address.js';
import { InvalidArgumentError } from '../errors.js';
import type { NativeDtlsContextOptions } from '../native/index.js';
import { validateBoolean, validateInteger, validateString } from '../validate.js';

/** A pre-shared key and the identity that names it. */
export interface DtlsPsk {
  /** PSK identity, at most 128 bytes (`-psk_identity` of `openssl s_client`). */
  identity: string;
  /** The key, 1..256 bytes; a string is read as hex (`-psk` of `openssl s_client`). */
  key: Uint8Array | string;
}

/** Options common to the DTLS client and server. */
export interface DtlsConfig {
  /** PEM certificate, followed by its chain. Required on a server that uses no `psk`. */
  cert?: string | Uint8Array;
  /** PEM private key of `cert`. */
  key?: string | Uint8Array;
  /** PEM CA certificates the peer's certificate must chain to. */
  ca?: string | Uint8Array;
  /**
   * Verify the peer's certificate. Client: default `true` (then `ca` or `fingerprint` is needed,
   * unless only `psk` is used); `false` accepts any server certificate. Server: default `false`;
   * `true` requests a client certificate and refuses a client without one.
   */
  verifyPeer?: boolean;
  /**
   * SHA-256 fingerprint of the peer certificate (`AB:CD:...`, or 64 hex digits), as
   * `openssl x509 -fingerprint -sha256` prints it. Checked during the handshake; implies
   * `verifyPeer`. Without `ca` the pin replaces chain verification (self-signed peers work).
   */
  fingerprint?: string;
  /** Pre-shared key (DTLS 1.2 PSK cipher suites). */
  psk?: DtlsPsk;
  /** OpenSSL cipher list (`SSL_CTX_set_cipher_list`, DTLS 1.2 names). Default OpenSSL's `DEFAULT`. */
  ciphers?: string;
  /**
   * The largest UDP payload the path carries, in bytes: every DTLS datagram (handshake flights
   * and records) fits in it (`SSL_set_mtu`, with `SSL_OP_NO_QUERY_MTU`). Default 1472 on `udp4`
   * and 1452 on `udp6` (an Ethernet MTU of 1500 minus the IP and UDP headers). 256..65507.
   */
  maxDatagramBytes?: number;
  /** First retransmission timeout of a handshake flight, doubled on each retry up to 60 s. Default 1000 ms (RFC 6347 §4.2.4.1). */
  retransmitInitialMs?: number;
}

/** Options of `RistTransport.enableDtlsClient`. */
export interface DtlsClientConfig extends DtlsConfig {
  /** Host name sent as SNI and checked against the server certificate (`SSL_set1_host`). */
  hostname?: string;
}

/** Options of `RistTransport.enableDtlsServer`. */
export interface DtlsServerConfig extends DtlsConfig {
  /** HelloVerifyRequest cookie exchange before any handshake state exists. Default `true`. */
  cookies?: boolean;
  /**
   * Addresses (`'192.0.2.7'`, `'2001:db8::1'`) and subnets (`'192.0.2.0/24'`) allowed to
   * handshake; other sources are dropped and counted (`stats.notAllowed`). Default: everyone.
   */
  allowPeers?: readonly string[];
  /**
   * Handshakes in progress at once (each with its own peer), 1..1024. A newcomer past the cookie
   * check when all are taken evicts the oldest candidate that has not answered since its own
   * and is past a short protection (10 to 100 ms by default: see `dtls-admission.ts`), or is
   * dropped when there is none.
   * Default 4.
   */
  maxPendingHandshakes?: number;
  /**
   * Each candidate peer must complete its handshake within this many milliseconds of passing
   * the cookie check, or its slot is freed (`stats.candidatesExpired`), whatever OpenSSL's
   * retransmission timer would still do. 1..2147483647; default 5000 (two round trips plus two
   * lost flights at the default `retransmitInitialMs`).
   */
  candidateTimeoutMs?: number;
}

/** Which end of the handshake a channel is. */
export type Role = 'client' | 'server';

function pem(value: unknown, argument: string): string | undefined {
  if (value === undefined) return undefined;
  const text =
    value instanceof Uint8Array
      ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')
      : value;
  if (typeof text !== 'string' || !text.includes('-----BEGIN '))
    throw new InvalidArgumentError(argument, value, 'must be PEM text (-----BEGIN ...)');
  if (text.includes('\0'))
    throw new InvalidArgumentError(argument, '(PEM)', 'must not contain NUL characters');
  return text;
}

/**
 * Parses `AB:CD:...` or 64 hex digits into the 32 bytes of a SHA-256 digest.
 *
 * @internal
 */
export function parseFingerprint(value: unknown, argument = 'fingerprint'): Buffer {
  validateString(value, argument);
  const hex = value.replace(/:/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new InvalidArgumentError(
      argument,
      value,
      'must be a SHA-256 fingerprint: 32 hex bytes, with or without colons',
    );
  return Buffer.from(hex, 'hex');
}

function pskKey(value: unknown): Uint8Array {
  if (typeof value === 'string') {
    if (!/^([0-9a-fA-F]{2})+$/.test(value))
      throw new InvalidArgumentError('psk.key', value, 'must be hex digits, or a Uint8Array');
    value = Buffer.from(value, 'hex');
  }
  if (!(value instanceof Uint8Array) || value.length < 1 || value.length > 256)
    throw new InvalidArgumentError('psk.key', value, 'must be 1..256 bytes');
  return value;
}

/** Validates a client or server configuration into the addon's options. */
export function checkConfig(
  role: Role,
  config: DtlsClientConfig | DtlsServerConfig,
  family: 4 | 6,
): { native: NativeDtlsContextOptions; mtu: number; allow: BlockList | undefined } {
  if (typeof config !== 'object' || config === null)
    throw new InvalidArgumentError('config', config, 'must be an object');
  const native: NativeDtlsContextOptions = { role };
  const cert = pem(config.cert, 'cert');
  const key = pem(config.key, 'key');
  const ca = pem(config.ca, 'ca');
  if ((cert === undefined) !== (key === undefined))
    throw new InvalidArgumentError(
      cert === undefined ? 'cert' : 'key',
      undefined,
      'must be given together with the other (PEM certificate and its private key)',
    );
  if (cert !== undefined && key !== undefined) {
    native.cert = cert;
    native.key = key;
  }
  if (ca !== undefined) native.ca = ca;
  if (config.verifyPeer !== undefined) validateBoolean(config.verifyPeer, 'verifyPeer');
  if (config.fingerprint !== undefined) native.fingerprint = parseFingerprint(config.fingerprint);
  if (config.psk !== undefined) {
    if (typeof config.psk !== 'object' || config.psk === null)
      throw new InvalidArgumentError('psk', config.psk, 'must be an object { identity, key }');
    validateString(config.psk.identity, 'psk.identity', { nonEmpty: true });
    if (Buffer.byteLength(config.psk.identity) > 128 || config.psk.identity.includes('\0'))
      throw new InvalidArgumentError(
        'psk.identity',
        config.psk.identity,
        'must be at most 128 bytes, without NUL',
      );
    native.pskIdentity = config.psk.identity;
    native.psk = pskKey(config.psk.key);
  }
  if (config.ciphers !== undefined) {
    validateString(config.ciphers, 'ciphers', { nonEmpty: true });
    native.ciphers = config.ciphers;
  }
  if (config.retransmitInitialMs !== undefined) {
    validateInteger(config.retransmitInitialMs, 'retransmitInitialMs', 1, 60_000);
    native.retransmitInitialMs = config.retransmitInitialMs;
  }
  const mtu = config.maxDatagramBytes ?? (family === 4 ? 1472 : 1452);
  validateInteger(mtu, 'maxDatagramBytes', 256, 65507);

  const trusts = ca !== undefined || config.fingerprint !== undefined;
  let allow: BlockList | undefined;
  if (role === 'client') {
    const c = config as DtlsClientConfig;
    if (c.hostname !== undefined) checkHostname(c.hostname);
    const verify = config.verifyPeer ?? native.psk === undefined;
    if (verify && !trusts)
      throw new InvalidArgumentError(
        'config',
        config,
        'needs ca or fingerprint to verify the server (or psk only, or verifyPeer: false to accept any server certificate)',
      );
    native.verifyPeer = verify && trusts;
  } else {
    const s = config as DtlsServerConfig;
    if (cert === undefined && native.psk === undefined)
      throw new InvalidArgumentError(
        'config',
        config,
        'needs cert and key, or psk, for the server to authenticate itself',
      );
    if (config.verifyPeer === true && !trusts)
      throw new InvalidArgumentError(
        'verifyPeer',
        true,
        'needs ca or fingerprint to verify client certificates',
      );
    native.verifyPeer = config.verifyPeer ?? false;
    if (s.cookies !== undefined) validateBoolean(s.cookies, 'cookies');
    if (s.maxPendingHandshakes !== undefined)
      validateInteger(s.maxPendingHandshakes, 'maxPendingHandshakes', 1, 1024);
    if (s.candidateTimeoutMs !== undefined)
      validateInteger(s.candidateTimeoutMs, 'candidateTimeoutMs', 1, 2 ** 31 - 1);
    if (s.allowPeers !== undefined) {
      if (!Array.isArray(s.allowPeers))
        throw new InvalidArgumentError('allowPeers', s.allowPeers, 'must be an array of addresses');
      allow = new BlockList();
      for (const [i, entry] of s.allowPeers.entries()) addAllowed(allow, entry, `allowPeers[${i}]`);
    }
  }
  return { native, mtu, allow };
}

/**
 * The client's `hostname` goes to OpenSSL as a C string (SNI and `SSL_set1_host`): a NUL would cut
 * it short, so the certificate would be checked against another name than the one given. Only a
 * DNS name or an address of printable ASCII, at most 253 bytes (RFC 1035), is accepted.
 */
function checkHostname(hostname: unknown): void {
  validateString(hostname, 'hostname', { nonEmpty: true });
  if (hostname.length > 253 || !/^[\x21-\x7e]+$/.test(hostname))
    throw new InvalidArgumentError(
      'hostname',
      hostname,
      'must be a host name or address of at most 253 printable ASCII characters (no NUL, space or control characters)',
    );
}

function addAllowed(list: BlockList, entry: unknown, argument: string): void {
  validateString(entry, argument);
  const [address = '', prefix] = entry.split('/');
  const bare = unmapIPv4(address);
  const type = isIPv6(bare) ? 'ipv6' : 'ipv4';
  try {
    if (prefix === undefined) list.addAddress(bare, type);
    else list.addSubnet(bare, Number(prefix), type);
  } catch (err) {
    throw new InvalidArgumentError(argument, entry, 'must be an IP address or address/prefix', {
      cause: err,
    });
  }
}
