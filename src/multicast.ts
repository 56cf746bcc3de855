/**
 * Multicast membership on a UDP socket: any-source (ASM) and source-specific (SSM) joins and leaves,
 * IPv4 and IPv6, on one, several or all multicast-capable interfaces, with bookkeeping so that a
 * socket leaves every group it joined when it closes.
 *
 * What it checks before any system call: the group is a multicast address of the socket's family
 * (a dual-stack `[::]` socket takes no IPv4 membership: Linux rejects IPv4 multicast options on an
 * AF_INET6 socket with `EINVAL`, so open the socket in the group's family); an SSM group is in the
 * SSM range (232.0.0.0/8, ff3x::/96, RFC 4607) and its source is a unicast address of the same
 * family; every interface exists.
 *
 * How it joins: with the native addon, by interface index through `MCAST_JOIN_GROUP` /
 * `MCAST_JOIN_SOURCE_GROUP` (RFC 3678); without it, through `node:dgram`, which joins IPv4 groups
 * by interface address (`IP_ADD_MEMBERSHIP` with `ip_mreq`) and IPv6 groups by interface name
 * (`IPV6_JOIN_GROUP`). With no interface given the kernel picks one from the routing table.
 *
 * What it does not do: filter datagrams in user space. Which groups a socket receives is the
 * kernel's business; see `multicastAll` on {@link UdpSocketOptions}.
 *
 * @module
 */
import { addressFamily, classifyAddress, normalizeAddress } from './address.js';
import { InvalidArgumentError } from './errors.js';
import { findInterface, interfaceAddress, multicastInterfaces } from './interfaces.js';
import type { InterfaceSpec, NetworkInterfaceInfo } from './interfaces.js';
import type { DatagramEngine, MembershipInterface } from './udp/engine.js';

/**
 * Where to join: one interface, several, or the string `'all'` for every up multicast-capable
 * interface that has an address of the socket's family.
 */
export type InterfaceSelection = InterfaceSpec | readonly InterfaceSpec[];

/** One membership the socket holds. */
export interface Membership {
  /** The group address. */
  readonly group: string;
  /** The source for a source-specific membership; `undefined` for any-source. */
  readonly source: string | undefined;
  /** The interface name, or `undefined` when the kernel chose the interface. */
  readonly interface: string | undefined;
  /** The interface index, or 0 when the kernel chose the interface. */
  readonly interfaceIndex: number;
}

const kernelChoice: MembershipInterface = { index: 0, name: undefined, ipv4: undefined };

/**
 * The memberships of one socket. Used by `UdpSocket`; exported for its types.
 * @internal
 */
export class MembershipTable {
  readonly #family: 4 | 6;
  readonly #engine: DatagramEngine;
  readonly #held = new Map<string, Membership>();

  constructor(family: 4 | 6, engine: DatagramEngine) {
    this.#family = family;
    this.#engine = engine;
  }

  /** The memberships held now. */
  list(): Membership[] {
    return [...this.#held.values()];
  }

  /** Joins `group` (any-source) on the selected interfaces. */
  add(group: string, iface: InterfaceSelection | undefined): Membership[] {
    this.#checkGroup(group, false);
    return this.#apply('join', normalizeAddress(group), undefined, this.#targets(iface));
  }

  /** Leaves `group` (any-source) on the selected interfaces. */
  drop(group: string, iface: InterfaceSelection | undefined): void {
    this.#checkGroup(group, false);
    this.#apply('leave', normalizeAddress(group), undefined, this.#targets(iface));
  }

  /** Joins the channel (`source`, `group`) on the selected interfaces (RFC 4607). */
  addSourceSpecific(
    source: string,
    group: string,
    iface: InterfaceSelection | undefined,
  ): Membership[] {
    this.#checkGroup(group, true);
    this.#checkSource(source);
    return this.#apply(
      'join',
      normalizeAddress(group),
      normalizeAddress(source),
      this.#targets(iface),
    );
  }

  /** Leaves the channel (`source`, `group`) on the selected interfaces. */
  dropSourceSpecific(source: string, group: string, iface: InterfaceSelection | undefined): void {
    this.#checkGroup(group, true);
    this.#checkSource(source);
    this.#apply('leave', normalizeAddress(group), normalizeAddress(source), this.#targets(iface));
  }

  /** Leaves every membership; returns the errors of the leaves that failed (the socket closes anyway). */
  dropAll(): unknown[] {
    const errors: unknown[] = [];
    for (const m of [...this.#held.values()]) {
      try {
        this.#leave(m);
      } catch (err) {
        errors.push(err);
      }
      this.#held.delete(key(m.group, m.source, m.interfaceIndex, m.interface));
    }
    return errors;
  }

  #checkGroup(group: string, sourceSpecific: boolean): void {
    if (typeof group !== 'string' || addressFamily(group) === 0) {
      throw new InvalidArgumentError('group', group, 'must be an IPv4 or IPv6 multicast address');
    }
    const info = classifyAddress(group);
    if (!info.multicast) {
      throw new InvalidArgumentError(
        'group',
        group,
        'must be a multicast address (224.0.0.0/4 or ff00::/8), not a unicast one',
      );
    }
    if (info.family !== this.#family) {
      throw new InvalidArgumentError(
        'group',
        group,
        `must be an IPv${this.#family} group on this udp${this.#family} socket; open the socket in the group's family (a dual-stack socket rejects IPv4 multicast options)`,
      );
    }
    if (sourceSpecific && !info.ssm) {
      throw new InvalidArgumentError(
        'group',
        group,
        'must be in the source-specific range (232.0.0.0/8 or ff3x::/96, RFC 4607) for a source-specific join',
      );
    }
  }

  #checkSource(source: string): void {
    if (typeof source !== 'string' || addressFamily(source) === 0) {
      throw new InvalidArgumentError('source', source, 'must be an IPv4 or IPv6 unicast address');
    }
    const info = classifyAddress(source);
    if (info.multicast || info.unspecified) {
      throw new InvalidArgumentError('source', source, 'must be a unicast address');
    }
    if (info.family !== this.#family) {
      throw new InvalidArgumentError(
        'source',
        source,
        `must be an IPv${this.#family} address, like the group`,
      );
    }
  }

  #targets(selection: InterfaceSelection | undefined): MembershipInterface[] {
    if (selection === undefined) return [kernelChoice];
    let interfaces: NetworkInterfaceInfo[];
    if (selection === 'all') {
      interfaces = multicastInterfaces().filter((i) =>
        i.addresses.some((a) => a.family === this.#family),
      );
      if (interfaces.length === 0) {
        throw new InvalidArgumentError(
          'interface',
          selection,
          `found no up multicast-capable interface with an IPv${this.#family} address`,
        );
      }
    } else if (Array.isArray(selection)) {
      if (selection.length === 0)
        throw new InvalidArgumentError('interface', selection, 'must name at least one interface');
      interfaces = (selection as readonly InterfaceSpec[]).map((spec) => findInterface(spec));
    } else {
      interfaces = [findInterface(selection as InterfaceSpec)];
    }
    return interfaces.map((i) => this.#target(i));
  }

  #target(i: NetworkInterfaceInfo): MembershipInterface {
    return {
      name: i.name,
      index: i.index ?? 0,
      ipv4: this.#family === 4 ? interfaceAddress(i, 4) : undefined,
    };
  }

  /**
   * Joins or leaves on every target. A join on several interfaces is all or nothing: when one
   * fails, the joins this call made are left again and the first error is thrown (with the errors
   * of any leave that failed during that rollback, as an AggregateError).
   */
  #apply(
    op: 'join' | 'leave',
    group: string,
    source: string | undefined,
    targets: MembershipInterface[],
  ): Membership[] {
    const done: Membership[] = [];
    for (const t of targets) {
      const k = key(group, source, t.index, t.name);
      const m: Membership = { group, source, interface: t.name, interfaceIndex: t.index };
      if (op === 'leave') {
        this.#leave(m, t);
        this.#held.delete(k);
        continue;
      }
      try {
        this.#join(m, t);
      } catch (err) {
        const rollbackErrors: unknown[] = [];
        for (const joined of done) {
          try {
            this.#leave(joined);
          } catch (leaveErr) {
            rollbackErrors.push(leaveErr);
          }
          this.#held.delete(
            key(joined.group, joined.source, joined.interfaceIndex, joined.interface),
          );
        }
        if (rollbackErrors.length === 0) throw err;
        throw new AggregateError(
          [err, ...rollbackErrors],
          'join failed, and leaving the groups joined before it failed too',
        );
      }
      this.#held.set(k, m);
      done.push(m);
    }
    return done;
  }

  #join(m: Membership, t: MembershipInterface): void {
    this.#engine.membership({ op: 'join', group: m.group, source: m.source, iface: t });
  }

  #leave(m: Membership, t?: MembershipInterface): void {
    const iface =
      t ?? (m.interface === undefined ? kernelChoice : this.#target(findInterface(m.interface)));
    this.#engine.membership({ op: 'leave', group: m.group, source: m.source, iface });
  }
}

function key(
  group: string,
  source: string | undefined,
  index: number,
  name: string | undefined,
): string {
  return `${source ?? '*'}|${group}|${index}|${name ?? ''}`;
}

/**
 * The C name of the option a join or leave uses, for errors.
 * @internal
 */
export function membershipOption(
  op: 'join' | 'leave',
  family: 4 | 6,
  sourceSpecific: boolean,
  byIndex: boolean,
): string {
  if (sourceSpecific && family === 4 && !byIndex)
    return op === 'join' ? 'IP_ADD_SOURCE_MEMBERSHIP' : 'IP_DROP_SOURCE_MEMBERSHIP';
  if (sourceSpecific) return op === 'join' ? 'MCAST_JOIN_SOURCE_GROUP' : 'MCAST_LEAVE_SOURCE_GROUP';
  if (family === 4) return op === 'join' ? 'IP_ADD_MEMBERSHIP' : 'IP_DROP_MEMBERSHIP';
  return op === 'join' ? 'IPV6_JOIN_GROUP' : 'IPV6_LEAVE_GROUP';
}
