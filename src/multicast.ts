/**
 * Multicast membership on a UDP socket: any-source (ASM) joins, source-filtered joins in include
 * mode (one source each: RFC 4607's SSM channel in 232.0.0.0/8 and ff3x::/96, an IGMPv3/MLDv2
 * INCLUDE filter on any other group) and exclude mode (sources blocked on an any-source join),
 * IPv4 and IPv6, on one, several or all multicast-capable interfaces, with bookkeeping so that a
 * socket leaves every group it joined when it closes, and joins again a group whose interface
 * (given by name) went away and came back (see `interface-watch.ts`).
 *
 * What it checks before any system call: the group is a multicast address of the socket's family
 * (a dual-stack `[::]` socket takes no IPv4 membership: Linux rejects IPv4 multicast options on an
 * AF_INET6 socket with `EINVAL`, so open the socket in the group's family); a source is a unicast
 * address of the same family (on any group: the SSM range is a classification, not a rule, as in
 * the kernel, live555 and Go); a source is blocked only on a group joined on that interface;
 * every interface exists.
 *
 * How it joins: with the native addon, by interface index through `MCAST_JOIN_GROUP` /
 * `MCAST_JOIN_SOURCE_GROUP` and blocks through `MCAST_BLOCK_SOURCE` (RFC 3678); without it,
 * through `node:dgram`, which joins IPv4 groups by interface address (`IP_ADD_MEMBERSHIP` with
 * `ip_mreq`) and IPv6 groups by interface name (`IPV6_JOIN_GROUP`), and has no way to block a
 * source (`NativeUnavailableError`). With no interface given the kernel picks one from the
 * routing table.
 *
 * What it does not do: filter datagrams in user space. Which groups a socket receives is the
 * kernel's business; see `multicastAll` on {@link UdpSocketOptions}.
 *
 * @module
 */
import { addressFamily, classifyAddress, normalizeAddress } from './address.js';
import { InvalidArgumentError, InvalidStateError } from './errors.js';
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
  /**
   * The source of a source-filtered (include-mode) membership: IGMPv3/MLDv2 INCLUDE, on any
   * group; `undefined` for any-source.
   */
  readonly source: string | undefined;
  /** The interface name, or `undefined` when the kernel chose the interface. */
  readonly interface: string | undefined;
  /** The interface index, or 0 when the kernel chose the interface. */
  readonly interfaceIndex: number;
  /**
   * Sources blocked on this any-source membership (exclude mode, IGMPv3/MLDv2 EXCLUDE; see
   * `UdpSocket.blockSource`), in the order they were blocked; `[]` when none is.
   */
  readonly blocked: readonly string[];
}

/** What a membership's interface looks like now, as the interface watch sees it. */
export interface InterfaceState {
  /** Present, up and running (`IFF_UP`, `IFF_RUNNING`). */
  readonly usable: boolean;
  readonly index: number;
  readonly ipv4: string | undefined;
}

const kernelChoice: MembershipInterface = { index: 0, name: undefined, ipv4: undefined };

/** A membership as the table keeps it: where it was joined last, and whether that still holds. */
interface Held {
  readonly group: string;
  readonly source: string | undefined;
  /** The interface it was joined on last (its index and address may change on a flap). */
  target: MembershipInterface;
  /** Given by interface name: re-joined when that interface comes back (see `refresh`). */
  readonly byName: boolean;
  readonly blocked: string[];
  /** The interface went away or down since the last join. */
  lost: boolean;
}

/**
 * The memberships of one socket. Used by `UdpSocket`; exported for its types.
 * @internal
 */
export class MembershipTable {
  readonly #family: 4 | 6;
  readonly #engine: DatagramEngine;
  readonly #held = new Map<string, Held>();

  constructor(family: 4 | 6, engine: DatagramEngine) {
    this.#family = family;
    this.#engine = engine;
  }

  /** The memberships held now. */
  list(): Membership[] {
    return [...this.#held.values()].map(view);
  }

  /** Names of the interfaces of memberships given by name (those {@link refresh} watches). */
  watchedInterfaces(): string[] {
    const names = new Set<string>();
    for (const h of this.#held.values()) if (h.byName && h.target.name) names.add(h.target.name);
    return [...names];
  }

  /** Joins `group` (any-source) on the selected interfaces. */
  add(group: string, iface: InterfaceSelection | undefined): Membership[] {
    this.#checkGroup(group);
    return this.#apply('join', normalizeAddress(group), undefined, this.#targets(iface));
  }

  /** Leaves `group` (any-source) on the selected interfaces. */
  drop(group: string, iface: InterfaceSelection | undefined): void {
    this.#checkGroup(group);
    this.#apply('leave', normalizeAddress(group), undefined, this.#targets(iface));
  }

  /**
   * Joins `group` for `source` only (include mode) on the selected interfaces: RFC 4607's channel
   * in the SSM range, an IGMPv3/MLDv2 INCLUDE filter on any other group.
   */
  addSourceSpecific(
    source: string,
    group: string,
    iface: InterfaceSelection | undefined,
  ): Membership[] {
    this.#checkGroup(group);
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
    this.#checkGroup(group);
    this.#checkSource(source);
    this.#apply('leave', normalizeAddress(group), normalizeAddress(source), this.#targets(iface));
  }

  /**
   * Blocks (`'block'`) or unblocks `source` on the any-source memberships of `group` on the
   * selected interfaces. Each must be held (join first); all or nothing, like a join.
   */
  filter(
    op: 'block' | 'unblock',
    source: string,
    group: string,
    iface: InterfaceSelection | undefined,
  ): Membership[] {
    this.#checkGroup(group);
    this.#checkSource(source);
    const g = normalizeAddress(group);
    const s = normalizeAddress(source);
    const targets = this.#targets(iface).map((t) => {
      const h = this.#held.get(key(g, undefined, t));
      if (h === undefined) {
        throw new InvalidStateError(
          `${op === 'block' ? 'blockSource' : 'unblockSource'}(${s}, ${g}) needs the any-source membership of ${g} on ${t.name ?? 'the default interface'} first (addMembership); exclude-mode filters apply to a joined group`,
        );
      }
      const has = h.blocked.includes(s);
      if (op === 'block' && has) {
        throw new InvalidStateError(`${s} is already blocked on ${g} (${t.name ?? 'default'})`);
      }
      if (op === 'unblock' && !has) {
        throw new InvalidStateError(`${s} is not blocked on ${g} (${t.name ?? 'default'})`);
      }
      return h;
    });
    const done: Held[] = [];
    for (const h of targets) {
      try {
        this.#engine.membership({ op, group: g, source: s, iface: h.target });
      } catch (err) {
        const undo = op === 'block' ? 'unblock' : 'block';
        const rollbackErrors: unknown[] = [];
        for (const d of done) {
          try {
            this.#engine.membership({ op: undo, group: g, source: s, iface: d.target });
            toggle(d.blocked, s, undo === 'block');
          } catch (e) {
            rollbackErrors.push(e);
          }
        }
        if (rollbackErrors.length === 0) throw err;
        throw new AggregateError(
          [err, ...rollbackErrors],
          `${op} failed, and undoing it on the interfaces done before failed too`,
        );
      }
      toggle(h.blocked, s, op === 'block');
      done.push(h);
    }
    return done.map(view);
  }

  /** Leaves every membership; returns the errors of the leaves that failed (the socket closes anyway). */
  dropAll(): unknown[] {
    const errors: unknown[] = [];
    for (const [k, h] of [...this.#held]) {
      try {
        this.#engine.membership({ op: 'leave', group: h.group, source: h.source, iface: h.target });
      } catch (err) {
        // A membership whose interface is gone has nothing left to leave on the wire.
        if (!h.lost) errors.push(err);
      }
      this.#held.delete(k);
    }
    return errors;
  }

  /**
   * Brings the memberships given by interface name in line with their interfaces now: one whose
   * interface went away or down is marked lost; one whose interface is usable again after that, or
   * has a new index (re-created) or a new IPv4 address, is left on the old target (errors
   * ignored: the old interface may be gone) and joined on the new one, with its blocked sources
   * blocked again. Returns the memberships re-joined; the errors of re-joins that failed are
   * passed to `onError`, and those memberships are tried again on the next call.
   */
  refresh(
    state: (name: string) => InterfaceState | undefined,
    onError: (err: unknown, membership: Membership) => void,
  ): Membership[] {
    const rejoined: Membership[] = [];
    for (const h of this.#held.values()) {
      if (!h.byName || h.target.name === undefined) continue;
      const now = state(h.target.name);
      // IPv4 also waits for an address: IGMP reports carry one, and node:dgram joins by it.
      if (now === undefined || !now.usable || (this.#family === 4 && now.ipv4 === undefined)) {
        h.lost = true;
        continue;
      }
      const changed =
        now.index !== h.target.index || (this.#family === 4 && now.ipv4 !== h.target.ipv4);
      if (!h.lost && !changed) continue;
      try {
        this.#engine.membership({ op: 'leave', group: h.group, source: h.source, iface: h.target });
      } catch {
        // Expected when the old interface is gone (ENODEV / EADDRNOTAVAIL): nothing to leave.
      }
      const target: MembershipInterface = {
        name: h.target.name,
        index: now.index,
        ipv4: this.#family === 4 ? now.ipv4 : undefined,
      };
      h.target = target;
      h.lost = true;
      try {
        this.#engine.membership({ op: 'join', group: h.group, source: h.source, iface: target });
        for (const b of h.blocked) {
          this.#engine.membership({ op: 'block', group: h.group, source: b, iface: target });
        }
        h.lost = false;
        rejoined.push(view(h));
      } catch (err) {
        onError(err, view(h));
      }
    }
    return rejoined;
  }

  #checkGroup(group: string): void {
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

  #targets(
    selection: InterfaceSelection | undefined,
  ): (MembershipInterface & { byName: boolean })[] {
    if (selection === undefined) return [{ ...kernelChoice, byName: false }];
    let specs: InterfaceSpec[];
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
      specs = interfaces.map((i) => i.name);
    } else if (Array.isArray(selection)) {
      if (selection.length === 0)
        throw new InvalidArgumentError('interface', selection, 'must name at least one interface');
      specs = [...(selection as readonly InterfaceSpec[])];
      interfaces = specs.map((spec) => findInterface(spec));
    } else {
      specs = [selection as InterfaceSpec];
      interfaces = [findInterface(selection as InterfaceSpec)];
    }
    return interfaces.map((i, n) => ({ ...this.#target(i), byName: specs[n] === i.name }));
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
    targets: (MembershipInterface & { byName: boolean })[],
  ): Membership[] {
    const done: Held[] = [];
    for (const { byName, ...t } of targets) {
      const k = key(group, source, t);
      if (op === 'leave') {
        // Leave where it was joined last (after a flap that is not where `t` was looked up).
        const h = this.#held.get(k);
        this.#engine.membership({ op: 'leave', group, source, iface: h?.target ?? t });
        this.#held.delete(k);
        continue;
      }
      const h: Held = { group, source, target: t, byName, blocked: [], lost: false };
      try {
        this.#engine.membership({ op: 'join', group, source, iface: t });
      } catch (err) {
        const rollbackErrors: unknown[] = [];
        for (const joined of done) {
          try {
            this.#engine.membership({ op: 'leave', group, source, iface: joined.target });
          } catch (leaveErr) {
            rollbackErrors.push(leaveErr);
          }
          this.#held.delete(key(group, source, joined.target));
        }
        if (rollbackErrors.length === 0) throw err;
        throw new AggregateError(
          [err, ...rollbackErrors],
          'join failed, and leaving the groups joined before it failed too',
        );
      }
      this.#held.set(k, h);
      done.push(h);
    }
    return done.map(view);
  }
}

function view(h: Held): Membership {
  return {
    group: h.group,
    source: h.source,
    interface: h.target.name,
    interfaceIndex: h.target.index,
    blocked: [...h.blocked],
  };
}

function toggle(list: string[], item: string, present: boolean): void {
  const at = list.indexOf(item);
  if (present && at === -1) list.push(item);
  if (!present && at !== -1) list.splice(at, 1);
}

/** A membership's key: by interface name when there is one (its index changes when re-created). */
function key(group: string, source: string | undefined, t: MembershipInterface): string {
  return `${source ?? '*'}|${group}|${t.name ?? `#${t.index}`}`;
}

/**
 * The C name of the option a join or leave uses, for errors.
 * @internal
 */
export function membershipOption(
  op: 'join' | 'leave' | 'block' | 'unblock',
  family: 4 | 6,
  sourceSpecific: boolean,
  byIndex: boolean,
): string {
  if (op === 'block' || op === 'unblock')
    return op === 'block' ? 'MCAST_BLOCK_SOURCE' : 'MCAST_UNBLOCK_SOURCE';
  if (sourceSpecific && family === 4 && !byIndex)
    return op === 'join' ? 'IP_ADD_SOURCE_MEMBERSHIP' : 'IP_DROP_SOURCE_MEMBERSHIP';
  if (sourceSpecific) return op === 'join' ? 'MCAST_JOIN_SOURCE_GROUP' : 'MCAST_LEAVE_SOURCE_GROUP';
  if (family === 4) return op === 'join' ? 'IP_ADD_MEMBERSHIP' : 'IP_DROP_MEMBERSHIP';
  return op === 'join' ? 'IPV6_JOIN_GROUP' : 'IPV6_LEAVE_GROUP';
}
