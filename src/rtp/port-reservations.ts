/**
 * The in-process reservation set of UDP ports held or being probed by RTP port-pair allocation.
 *
 * The kernel already refuses a second exclusive bind of a port, so this set is not what keeps two
 * pairs apart once both are bound. It closes the gaps the kernel cannot see: a concurrent probe in
 * the same process skips a port that another probe is about to bind (no wasted syscalls, no
 * `EADDRINUSE` races between our own probes), and a port whose socket is being closed and rebound
 * (a released lease, a close-then-rebind) is not handed to a second caller in between.
 *
 * Ports are reserved by number alone, whatever the address and family. That is deliberately
 * coarse: a wildcard bind conflicts with every address of its family, and a dual-stack `[::]` bind
 * with IPv4 too, so keying by number can never let two pairs of this process collide.
 *
 * What it does not do: it knows nothing of other processes. Between processes only the kernel's
 * `EADDRINUSE` decides, which is why probing never uses address reuse.
 *
 * @module
 */

const reserved = new Set<number>();

/**
 * Reserves `port` for the caller. Returns `false`, reserving nothing, when the port is already
 * reserved. Check and insert happen in one synchronous step, so two probes never both win.
 */
export function reservePort(port: number): boolean {
  if (reserved.has(port)) return false;
  reserved.add(port);
  return true;
}

/** Gives back a port taken with {@link reservePort}. Releasing a port not reserved is a no-op. */
export function releasePort(port: number): void {
  reserved.delete(port);
}

/** Whether `port` is reserved now. */
export function isPortReserved(port: number): boolean {
  return reserved.has(port);
}

/** How many ports are reserved now (for leak checks in tests). */
export function reservedPortCount(): number {
  return reserved.size;
}
