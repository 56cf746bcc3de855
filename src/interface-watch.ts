/**
 * Watches network interfaces for the sockets whose multicast memberships name them, so that a
 * membership comes back when its interface does: link down and up again, deleted and re-created
 * with a new index (a VLAN, a container's veth), or given a new address.
 *
 * How: one timer for the whole process, running only while at least one socket watches, polls the
 * interface list ({@link networkInterfaces}: `/sys/class/net` and `os.networkInterfaces()` on
 * Linux) every {@link INTERFACE_POLL_MS} ms and hands each watcher a lookup by name. The timer is
 * unref'd (the sockets keep the process alive, not the watch) and stops with the last watcher. No
 * descriptor is held between polls. Platforms: every platform Node runs on; where the platform
 * does not reveal interface indexes, only a change of address or presence is seen.
 *
 * Why polling rather than an rtnetlink socket: it needs no addon, costs one read of a few small
 * files per interval, and a flap only has to be noticed within the time a stream may be gone (the
 * lab test asks for 2 s from link up).
 *
 * @module
 * @internal
 */
import { networkInterfaces } from './interfaces.js';
import type { InterfaceState } from './multicast.js';

/** Interval of the interface poll, in milliseconds. */
export const INTERFACE_POLL_MS = 500;

/** Called on every poll with the state of interfaces by name (`undefined`: no such interface). */
export type InterfaceWatcher = (state: (name: string) => InterfaceState | undefined) => void;

const watchers = new Set<InterfaceWatcher>();
let timer: NodeJS.Timeout | undefined;

function poll(): void {
  let byName: Map<string, InterfaceState>;
  try {
    byName = new Map(
      networkInterfaces().map((i) => {
        const ipv4 = i.addresses.find((a) => a.family === 4)?.address;
        return [i.name, { usable: i.flags.up && i.flags.running, index: i.index ?? 0, ipv4 }];
      }),
    );
  } catch {
    return; // an interface vanished between listing and reading it: look again next time
  }
  const state = (name: string): InterfaceState | undefined => byName.get(name);
  for (const w of [...watchers]) w(state);
}

/** Adds a watcher; returns the function that removes it (idempotent). */
export function watchInterfaces(watcher: InterfaceWatcher): () => void {
  watchers.add(watcher);
  if (timer === undefined) {
    timer = setInterval(poll, INTERFACE_POLL_MS);
    timer.unref();
  }
  return () => {
    watchers.delete(watcher);
    if (watchers.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** How many watchers are registered (tests check that closing sockets removes theirs). */
export function interfaceWatcherCount(): number {
  return watchers.size;
}
