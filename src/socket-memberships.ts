/**
 * The multicast memberships of one `UdpSocket`: its {@link MembershipTable}, the interface watch
 * that joins a membership given by interface name again when that interface comes back, and the
 * all-or-nothing source-filtered join. `UdpSocket`'s membership methods are thin delegates to this
 * (they keep the documentation); the socket counts and emits what it is told here.
 *
 * @module
 * @internal
 */
import { InvalidArgumentError } from './errors.js';
import { watchInterfaces } from './interface-watch.js';
import { MembershipTable } from './multicast.js';
import type { InterfaceSelection, Membership } from './multicast.js';
import type { DatagramEngine } from './udp/engine.js';

/** What the socket hears from its memberships. */
export interface MembershipEvents {
  /** A membership was joined again after its interface came back. */
  rejoin(membership: Membership): void;
  /** Joining a membership again failed; it is tried again on the next interface poll. */
  rejoinError(err: unknown, membership: Membership): void;
}

/** A source filter of {@link SocketMemberships.addSourceFiltered}, as the caller gave it. */
export interface SourceFilter {
  mode: 'include' | 'exclude';
  sources: readonly string[];
}

/** The memberships of one socket. */
export class SocketMemberships {
  readonly #table: MembershipTable;
  readonly #events: MembershipEvents;
  #unwatch: (() => void) | undefined;
  #closed = false;

  constructor(family: 4 | 6, engine: DatagramEngine, events: MembershipEvents) {
    this.#table = new MembershipTable(family, engine);
    this.#events = events;
  }

  add(group: string, iface?: InterfaceSelection): Membership[] {
    return this.#watched(this.#table.add(group, iface));
  }

  drop(group: string, iface?: InterfaceSelection): void {
    this.#table.drop(group, iface);
    this.#watched([]);
  }

  addSourceSpecific(source: string, group: string, iface?: InterfaceSelection): Membership[] {
    return this.#watched(this.#table.addSourceSpecific(source, group, iface));
  }

  dropSourceSpecific(source: string, group: string, iface?: InterfaceSelection): void {
    this.#table.dropSourceSpecific(source, group, iface);
    this.#watched([]);
  }

  filter(
    op: 'block' | 'unblock',
    source: string,
    group: string,
    iface?: InterfaceSelection,
  ): Membership[] {
    return this.#table.filter(op, source, group, iface);
  }

  /**
   * Include mode: one source-specific join per source; exclude mode: the any-source join, then
   * each source blocked. All or nothing: when a step fails, what this call did is undone before
   * the error is thrown (an `AggregateError` when undoing fails too).
   * @throws InvalidArgumentError for a malformed filter, before any system call.
   */
  addSourceFiltered(group: string, filter: SourceFilter, iface?: InterfaceSelection): Membership[] {
    if (typeof filter !== 'object' || filter === null)
      throw new InvalidArgumentError('filter', filter, 'must be { mode, sources }');
    const { mode, sources } = filter;
    if (mode !== 'include' && mode !== 'exclude')
      throw new InvalidArgumentError('filter.mode', mode, "must be 'include' or 'exclude'");
    if (!Array.isArray(sources) || (mode === 'include' && sources.length === 0)) {
      throw new InvalidArgumentError(
        'filter.sources',
        sources,
        mode === 'include'
          ? 'must list at least one source to include'
          : 'must be an array of sources to exclude',
      );
    }
    const table = this.#table;
    const undo: (() => void)[] = [];
    let made: Membership[] = [];
    try {
      if (mode === 'include') {
        for (const s of sources as readonly string[]) {
          made.push(...table.addSourceSpecific(s, group, iface));
          undo.push(() => table.dropSourceSpecific(s, group, iface));
        }
      } else {
        made = table.add(group, iface);
        undo.push(() => table.drop(group, iface));
        for (const s of sources as readonly string[]) {
          made = table.filter('block', s, group, iface);
        }
      }
    } catch (err) {
      const failures: unknown[] = [];
      for (const u of undo.reverse()) {
        try {
          u();
        } catch (e) {
          failures.push(e);
        }
      }
      if (failures.length === 0) throw err;
      throw new AggregateError(
        [err, ...failures],
        'joining with a source filter failed, and undoing it failed too',
      );
    }
    return this.#watched(made);
  }

  /** The memberships held now. */
  list(): Membership[] {
    return this.#table.list();
  }

  /** Stops the interface watch and leaves every group; returns the errors of failed leaves. */
  close(): unknown[] {
    this.#closed = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
    return this.#table.dropAll();
  }

  /**
   * Starts or stops watching interfaces for the memberships given by interface name: when such an
   * interface goes away or down and comes back (also re-created with a new index, or with a new
   * address), the membership is joined again (with its blocked sources) and the socket hears
   * `rejoin`. See `interface-watch.ts` for how.
   */
  #watched(result: Membership[]): Membership[] {
    const want = this.#table.watchedInterfaces().length > 0;
    if (want && this.#unwatch === undefined) {
      this.#unwatch = watchInterfaces((state) => {
        if (this.#closed) return;
        const rejoined = this.#table.refresh(state, (err, m) => this.#events.rejoinError(err, m));
        for (const m of rejoined) this.#events.rejoin(m);
      });
    } else if (!want && this.#unwatch !== undefined) {
      this.#unwatch();
      this.#unwatch = undefined;
    }
    return result;
  }
}
