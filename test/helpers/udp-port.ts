/**
 * UDP port state from `/proc/net/udp` and `/proc/net/udp6`, for tests that hand a port to an
 * external peer (ffmpeg, gst-launch) and must know when it is listening, whether it was that peer
 * (not some other process) that bound it, and when a receiver has read everything queued to it.
 *
 * Every wait here polls every 10 ms and is bounded in count and time. Linux only (the test
 * machines); on a system without `/proc/net/udp` nothing is ever seen bound.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** One UDP socket of `/proc/net/udp(6)`. */
export interface UdpSocketEntry {
  /** Local port. */
  port: number;
  /** Socket inode (matches `socket:[inode]` in `/proc/PID/fd`). */
  inode: number;
  /** Bytes queued for reading (`rx_queue`). */
  rxQueueBytes: number;
}

/** Every UDP socket bound to `port`, IPv4 and IPv6. */
export function udpSocketsOnPort(port: number): UdpSocketEntry[] {
  const found: UdpSocketEntry[] = [];
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel / namespace: nothing bound there
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm retrnsmt uid timeout inode ...
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (local === undefined || f.length < 10) continue;
      const localPort = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (localPort !== port) continue;
      const rx = (f[4] ?? '').split(':')[1] ?? '0';
      found.push({ port: localPort, inode: Number(f[9]), rxQueueBytes: parseInt(rx, 16) });
    }
  }
  return found;
}

/** Whether some socket is bound to UDP `port`. */
export function udpPortBound(port: number): boolean {
  return udpSocketsOnPort(port).length > 0;
}

/** Socket inodes held open by process `pid` (empty when it is gone). */
function socketInodesOf(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(Number(m[1]));
    } catch {
      // The fd closed between readdir and readlink: not a socket of interest.
    }
  }
  return inodes;
}

/** Whether process `pid` holds a UDP socket bound to `port`. */
export function processHoldsUdpPort(pid: number, port: number): boolean {
  const entries = udpSocketsOnPort(port);
  if (entries.length === 0) return false;
  const mine = socketInodesOf(pid);
  return entries.some((e) => mine.has(e.inode));
}

/** How a {@link waitForUdpBind} ended. */
export type BindWait = 'bound' | 'exited' | 'timeout';

/**
 * Waits until process `pid` holds a UDP socket on every port of `ports` ('bound'), the process
 * exits ('exited', e.g. its bind failed because another process took the port), or `timeoutMs`
 * passes ('timeout').
 */
export async function waitForUdpBind(
  pid: number,
  ports: readonly number[],
  exited: () => boolean,
  timeoutMs = 10_000,
): Promise<BindWait> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (exited()) return 'exited';
    if (ports.every((p) => processHoldsUdpPort(pid, p))) return 'bound';
    await sleep(10);
  }
  return 'timeout';
}

/**
 * Waits until nothing is queued for reading on any socket bound to `port` (its reader has taken
 * every datagram the kernel holds), for at most `timeoutMs`; returns whether it drained.
 */
export async function waitForUdpDrained(port: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (udpSocketsOnPort(port).every((e) => e.rxQueueBytes === 0)) return true;
    await sleep(10);
  }
  return udpSocketsOnPort(port).every((e) => e.rxQueueBytes === 0);
}

/** Outcome of {@link withBoundPeer}: the peer that bound its ports, and the port it was given. */
export interface BoundPeer<P> {
  peer: P;
  port: number;
}

/**
 * Starts a peer process that must bind a UDP port chosen up front, retrying once with a new port
 * if the peer does not get it. `freePort()` cannot reserve a port for another process: between
 * the probe closing and the peer binding, someone else may take it, and the peer then exits with
 * a bind error. Bounded: at most `attempts` starts, each waiting at most `timeoutMs`.
 *
 * @param start - Starts the peer on `port`; returns its pid, an exit flag and a way to stop it.
 * @param ports - The ports the peer binds for a given `port` (default: just `port`).
 */
export async function withBoundPeer<P extends { pid: number; exited(): boolean; kill(): void }>(
  freePort: () => Promise<number>,
  start: (port: number) => P,
  {
    ports = (port: number) => [port],
    attempts = 2,
    timeoutMs = 10_000,
    describe = (peer: P) => String(peer.pid),
  }: {
    ports?: (port: number) => number[];
    attempts?: number;
    timeoutMs?: number;
    describe?: (peer: P) => string;
  } = {},
): Promise<BoundPeer<P>> {
  const failures: string[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await freePort();
    const peer = start(port);
    const outcome = await waitForUdpBind(peer.pid, ports(port), () => peer.exited(), timeoutMs);
    if (outcome === 'bound') return { peer, port };
    peer.kill();
    failures.push(`port ${port}: ${outcome} (${describe(peer)})`);
  }
  throw new Error(`the peer never bound its UDP port: ${failures.join('; ')}`);
}
