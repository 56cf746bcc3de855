/**
 * Refuses a relay output that is its own input: a datagram sent there comes straight back in and
 * is sent again, an endless storm from one packet. Compared after both ends are open (names
 * resolved, the input's port known): an output on the input's port whose address reaches the
 * input's socket, i.e. the address the input binds, or, for an input on the wildcard address, any
 * local address (127.0.0.0/8, ::1, any address of a local interface); for
 * a multicast input, the group itself (senders loop multicast back to this host).
 *
 * What it does not do: see loops through other hosts or other relays.
 *
 * @module
 */
import {
  addressFamily,
  classifyAddress,
  networkInterfaces,
  normalizeAddress,
  splitZone,
} from '../index.js';

/** Where a relay's input listens. */
export interface RelayInput {
  /** The address the input socket is bound to (a group for multicast; `0.0.0.0`/`::` wildcard). */
  boundAddress: string;
  port: number;
}

/** Whether datagrams sent to `address`:`port` arrive on the relay input `input`. */
export function reachesInput(input: RelayInput, address: string, port: number): boolean {
  if (port !== input.port) return false;
  const out = canonical(address);
  const bound = canonical(input.boundAddress);
  if (out === bound) return true;
  const boundClass = classifyAddress(bound);
  if (boundClass.multicast) return false;
  if (!boundClass.unspecified) return false;
  // An IPv4 wildcard socket gets no IPv6 traffic; an IPv6 one (dual-stack) may get both.
  if (addressFamily(bound) === 4 && addressFamily(out) === 6) return false;
  return classifyAddress(out).loopback || localAddresses().has(out);
}

/** The address without zone, IPv4-mapped addresses as IPv4, IPv6 in canonical form. */
function canonical(address: string): string {
  return normalizeAddress(splitZone(address).address, { unmap: true });
}

function localAddresses(): Set<string> {
  const set = new Set<string>();
  for (const i of networkInterfaces()) {
    for (const a of i.addresses) set.add(canonical(a.address));
  }
  return set;
}
