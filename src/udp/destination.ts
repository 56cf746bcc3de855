/**
 * Destinations and peers of a UDP socket: an address literal of the socket's family, an optional
 * IPv6 zone (`%eth0`, or `%3` as an index) resolved once to its interface index, and a port.
 *
 * @module
 * @internal
 */
import { addressFamily, splitZone } from '../address.js';
import { InvalidArgumentError } from '../errors.js';
import { ifNameToIndex } from '../options.js';
import { validateString } from '../validate.js';

/**
 * A destination or peer, validated by `UdpSocket`: the address as the user gave it (an IPv6
 * link-local literal may carry `%zone`), the literal without the zone, and the zone's interface
 * index (0 for none).
 */
export interface Destination {
  readonly address: string;
  readonly literal: string;
  readonly scopeId: number;
  readonly port: number;
}

/** The interface index a zone names: digits are an index, anything else an interface name. */
export function zoneIndex(zone: string): number {
  return /^[0-9]+$/.test(zone) ? Number(zone) : ifNameToIndex(zone);
}

/**
 * Checks `address`/`port` as a peer of a socket of `family`; `argument` names the address argument
 * in errors (its port is named by replacing a trailing `address` with `port`).
 *
 * @throws InvalidArgumentError for port 0, a malformed literal or one of the other family.
 * @throws SystemCallError `ENODEV` for a zone that names no interface.
 */
export function toDestination(
  family: 4 | 6,
  port: number,
  address: string,
  argument: string,
): Destination {
  if (port === 0)
    throw new InvalidArgumentError(
      argument.replace(/address$/, 'port'),
      port,
      'must be a port in 1..65535',
    );
  validateString(address, argument);
  const { address: literal, zone } = splitZone(address);
  const literalFamily = addressFamily(literal);
  if (literalFamily === 0)
    throw new InvalidArgumentError(
      argument,
      address,
      'must be an IPv4 or IPv6 address (resolve names first)',
    );
  if (literalFamily === 4 && family === 6)
    throw new InvalidArgumentError(
      argument,
      address,
      'must be an IPv6 address on a udp6 socket (use the v4-mapped form ::ffff:a.b.c.d, or a udp4 socket)',
    );
  if (literalFamily === 6 && family === 4)
    throw new InvalidArgumentError(argument, address, 'must be an IPv4 address on a udp4 socket');
  return { address, literal, scopeId: zone === undefined ? 0 : zoneIndex(zone), port };
}
