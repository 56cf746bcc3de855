/**
 * Kernel receive drops of a UDP socket (datagrams the kernel discarded because the receive buffer
 * was full): how both engines report `stats.kernelDrops`.
 *
 * With the addon and the socket's fd, the counter is read on demand with `getsockopt(SO_MEMINFO)`
 * (`SK_MEMINFO_DROPS`, Linux 4.6+): nothing per datagram, and drops after the last datagram read
 * count too. (`SO_RXQ_OVFL`, which the batch engine used before, has the kernel add a control
 * message to every datagram once drops begin: that made an overloaded receiver slower still.)
 * Otherwise, or on a kernel without `SO_MEMINFO`, the `drops` column of `/proc/net/udp` and
 * `/proc/net/udp6` is read, the socket found by its inode: the inode of its fd when the fd is
 * known, else every socket of this process bound to the port (two sockets of this process sharing
 * the port then report their sum).
 *
 * Platforms: Linux. Elsewhere, or without `/proc`, the count is `undefined`.
 *
 * @module
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

import type { NativeBinding } from '../native/binding.js';

/** Reads the kernel drop counter of one UDP socket of this process. */
export class KernelDrops {
  readonly #port: number;
  readonly #fd: number | undefined;
  /** The addon, while `SO_MEMINFO` answers on this socket. */
  #meminfo: NativeBinding | undefined;
  #inodes: Set<string> | undefined;

  /**
   * @param port - the socket's local port.
   * @param fd - its descriptor, when known.
   * @param binding - the addon, to read `SO_MEMINFO` on `fd`.
   */
  constructor(port: number, fd?: number, binding?: NativeBinding) {
    this.#port = port;
    this.#fd = fd;
    this.#meminfo = fd === undefined ? undefined : binding;
  }

  /** Drops counted by the kernel since the socket was created; `undefined` when unknown. */
  read(): number | undefined {
    if (this.#meminfo !== undefined) {
      try {
        return this.#meminfo.msock_kernel_drops(this.#fd!);
      } catch (err) {
        // A kernel before 4.6 (or not Linux): /proc from now on.
        if ((err as NodeJS.ErrnoException).code !== 'ENOPROTOOPT') throw err;
        this.#meminfo = undefined;
      }
    }
    if (process.platform !== 'linux') return undefined;
    this.#inodes ??= this.#fd === undefined ? ownSocketInodes() : socketInode(this.#fd);
    if (this.#inodes === undefined) return undefined;
    let total: number | undefined;
    for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = readFileSync(file, 'latin1');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
        const local = f[1];
        const inode = f[9];
        const drops = f[12];
        if (local === undefined || inode === undefined || drops === undefined) continue;
        if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== this.#port) continue;
        if (!this.#inodes.has(inode)) continue;
        total = (total ?? 0) + Number(drops);
      }
    }
    return total;
  }
}

function ownSocketInodes(): Set<string> | undefined {
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch (err) {
      // The directory's own fd (or one closed meanwhile) is gone by the time it is read.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1] !== undefined) inodes.add(m[1]);
  }
  return inodes;
}

function socketInode(fd: number): Set<string> | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const m = /^socket:\[(\d+)\]$/.exec(target);
  return m?.[1] === undefined ? undefined : new Set([m[1]]);
}
