/**
 * Opening a UDP socket: the engine choice and the creation of its descriptor, with every option
 * that must precede `bind(2)` applied first.
 *
 * - With the addon, the addon creates the descriptor and applies the pre-bind rows of the option
 *   table (reuse address and port, `IPV6_V6ONLY`, `SO_BINDTODEVICE`, buffer sizes with
 *   `SO_RCVBUFFORCE`, `IP_MULTICAST_ALL` off, TOS, pktinfo and timestamps, built by
 *   `preBindRows`), binds it, and either runs the batch engine on it or hands it to `node:dgram`
 *   with `bind({ fd })`.
 * - Without it, `node:dgram` creates and binds the socket, and every option Node cannot set throws
 *   `NotSupportedError` naming the option, before anything is created.
 *
 * What it does not do: options that may follow bind (TTLs, multicast interface and loopback,
 * broadcast); `UdpSocket.open` sets those through the engine.
 *
 * @module
 * @internal
 */
import * as dgram from 'node:dgram';

import { splitZone } from '../address.js';
import { AbortError, NotSupportedError, SystemCallError } from '../errors.js';
import { ifIndexToName } from '../options.js';
import { preBindRows, socketOptionSupported } from '../option-rows.js';
import type { PreBindOption } from '../option-rows.js';
import type { NativeBinding, NativeUdpSocketOptions } from '../native/binding.js';
import { loadNative, nativeStatus } from '../native/index.js';
import { nodeHasReusePort } from '../node-features.js';
import { hasBatchEngine } from './batch-engine.js';
import { BatchDatagramEngine } from './batch-datagram-engine.js';
import { zoneIndex } from './destination.js';
import { DgramEngine } from './dgram-engine.js';
import type { DatagramEngine } from './engine.js';
import { BATCH_DEFAULTS, bufferRequest } from './socket-options.js';
import type { UdpSocketOptions } from './socket-options.js';

function notLoaded(): string {
  return nativeStatus().loadError?.message ?? 'the native addon is not loaded';
}

/**
 * Creates, configures and binds the socket of `UdpSocket.open` (options already checked).
 * @throws NotSupportedError, SystemCallError, AbortError; nothing is left open on failure.
 */
export async function openEngine(o: UdpSocketOptions): Promise<DatagramEngine> {
  const binding = loadNative();
  const engine = o.engine ?? 'auto';
  const useBatch = engine === 'batch' || (engine === 'auto' && hasBatchEngine(binding));
  if (useBatch && !hasBatchEngine(binding)) {
    throw new NotSupportedError(
      "engine: 'batch'",
      binding === undefined
        ? notLoaded()
        : `the batch engine needs Linux (this is ${process.platform})`,
    );
  }
  if (!useBatch && (o.pktinfo === true || o.timestamps === true)) {
    throw new NotSupportedError(
      o.pktinfo === true ? 'IP_PKTINFO (pktinfo)' : 'SO_TIMESTAMPNS (timestamps)',
      "it needs the batch engine (engine: 'batch'; Linux with the native addon)",
    );
  }
  let opened: DatagramEngine;
  if (binding && useBatch) opened = openBatch(binding, o);
  else if (binding) opened = openNativeDgram(binding, o);
  else opened = await openPlainDgram(o);
  if (o.signal?.aborted) {
    await opened.close();
    throw new AbortError('UdpSocket.open', o.signal.reason);
  }
  return opened;
}

function familyOf(o: UdpSocketOptions): 4 | 6 {
  return o.type === 'udp4' ? 4 : 6;
}

function bindAddress(o: UdpSocketOptions): string {
  return o.address ?? (o.type === 'udp4' ? '0.0.0.0' : '::');
}

/**
 * What the addon needs to create the socket: the bind address (a link-local one carries its zone
 * as scope id) and the rows of the option table to apply before `bind(2)`, in this order:
 * reuse flags, `IPV6_V6ONLY` (before every row with the "IPv4 side" policy), device, buffers
 * (`SO_RCVBUFFORCE` with its clamp to `SO_RCVBUF`), `IP_MULTICAST_ALL` (`false` unless asked
 * otherwise), the receive-side switches the batch engine asks for (`extra`), then `IP_TOS`.
 * On an IPv6 socket, IPv4 options turn into their IPv6 counterpart plus the IPv4 side
 * (`preBindRows`).
 */
function nativeOptions(
  o: UdpSocketOptions,
  extra: readonly PreBindOption[] = [],
): NativeUdpSocketOptions {
  const family = familyOf(o);
  const { address, zone } = splitZone(bindAddress(o));
  const list: PreBindOption[] = [];
  if (o.reuseAddr === true) list.push(['SO_REUSEADDR', true]);
  if (o.reusePort === true) list.push(['SO_REUSEPORT', true]);
  if (family === 6) list.push(['IPV6_V6ONLY', o.ipv6Only === true]);
  if (o.bindToDevice !== undefined && o.bindToDevice !== '') {
    list.push(['SO_BINDTODEVICE', o.bindToDevice]);
  }
  const recvBytes = bufferRequest(o.recvBufferBytes, 'rmem_max');
  const sendBytes = bufferRequest(o.sendBufferBytes, 'wmem_max');
  if (recvBytes !== undefined && recvBytes > 0) list.push(['SO_RCVBUFFORCE', recvBytes]);
  if (sendBytes !== undefined && sendBytes > 0) list.push(['SO_SNDBUFFORCE', sendBytes]);
  // Off Linux a socket only ever sees the groups it joined: `false` is how it already behaves.
  const multicastAll = o.multicastAll ?? false;
  if (multicastAll || socketOptionSupported('IP_MULTICAST_ALL')) {
    list.push(['IP_MULTICAST_ALL', multicastAll]);
  }
  list.push(...extra);
  if (o.dscp !== undefined) list.push(['IP_TOS', o.dscp << 2]);
  return {
    family,
    address,
    port: o.port ?? 0,
    scopeId: zone === undefined ? undefined : zoneIndex(zone),
    options: preBindRows({ family, protocol: 'udp' }, list),
  };
}

/**
 * The receive-side switches of the batch engine: destination address and interface (pktinfo) and
 * kernel timestamps when asked for. (Kernel drops are read on demand, see `kernel-drops.ts`.)
 */
function batchSwitches(o: UdpSocketOptions): PreBindOption[] {
  const list: PreBindOption[] = [];
  if (o.pktinfo === true) list.push(['IP_PKTINFO', true]);
  if (o.timestamps === true) list.push(['SO_TIMESTAMPNS', true]);
  return list;
}

function openBatch(binding: NativeBinding, o: UdpSocketOptions): DatagramEngine {
  const created = binding.msock_udp_socket(nativeOptions(o, batchSwitches(o)));
  try {
    return new BatchDatagramEngine(binding, created, familyOf(o), {
      slots: o.batch?.slots ?? BATCH_DEFAULTS.slots,
      slotBytes: o.batch?.slotBytes ?? BATCH_DEFAULTS.slotBytes,
      gro: o.batch?.gro === true,
      sourceAddress: o.batch?.sourceAddress !== false,
      maxBatchesPerWake: o.batch?.maxBatchesPerWake ?? BATCH_DEFAULTS.maxBatchesPerWake,
      pktinfo: o.pktinfo === true,
      timestamps: o.timestamps === true,
    });
  } catch (err) {
    binding.msock_close(created.fd);
    throw err;
  }
}

function openNativeDgram(binding: NativeBinding, o: UdpSocketOptions): DatagramEngine {
  const created = binding.msock_udp_socket(nativeOptions(o));
  const socket = dgram.createSocket({ type: o.type });
  try {
    // dgram opens the fd synchronously (uv_udp_open) and owns it from then on.
    socket.bind({ fd: created.fd });
  } catch (err) {
    binding.msock_close(created.fd);
    socket.close();
    throw SystemCallError.from(err, {
      syscall: 'open',
      address: bindAddress(o),
      port: o.port ?? 0,
    });
  }
  return new DgramEngine(socket, familyOf(o), { binding, fd: created.fd });
}

async function openPlainDgram(o: UdpSocketOptions): Promise<DatagramEngine> {
  const reason = notLoaded();
  if (o.dscp !== undefined) throw new NotSupportedError('IP_TOS (dscp)', reason);
  if (o.bindToDevice !== undefined)
    throw new NotSupportedError('SO_BINDTODEVICE (bindToDevice)', reason);
  if (o.multicastAll === false) {
    throw new NotSupportedError(
      'IP_MULTICAST_ALL (multicastAll: false)',
      `${reason}; bind the group address instead`,
    );
  }
  if (o.reusePort === true && !nodeHasReusePort()) {
    throw new NotSupportedError(
      'SO_REUSEPORT (reusePort)',
      `${reason}, and Node ${process.version} has no dgram reusePort (added in 22.12)`,
    );
  }
  const recvBytes = bufferRequest(o.recvBufferBytes, 'rmem_max');
  const sendBytes = bufferRequest(o.sendBufferBytes, 'wmem_max');
  const createOptions: dgram.SocketOptions & { reusePort?: boolean } = {
    type: o.type,
    reuseAddr: o.reuseAddr === true,
    ipv6Only: o.ipv6Only === true,
  };
  if (o.reusePort === true) createOptions.reusePort = true;
  if (recvBytes !== undefined) createOptions.recvBufferSize = recvBytes;
  if (sendBytes !== undefined) createOptions.sendBufferSize = sendBytes;
  const socket = dgram.createSocket(createOptions);
  // libuv reads a zone as an interface name only: give it the name.
  const { address, zone } = splitZone(bindAddress(o));
  const bindTo =
    zone !== undefined && /^[0-9]+$/.test(zone)
      ? `${address}%${ifIndexToName(Number(zone))}`
      : bindAddress(o);
  try {
    await bindSocket(socket, { address: bindTo, port: o.port ?? 0, exclusive: true }, o.signal);
  } catch (err) {
    socket.close();
    throw err;
  }
  return new DgramEngine(socket, familyOf(o), undefined);
}

function bindSocket(
  socket: dgram.Socket,
  bindOptions: dgram.BindOptions & { address: string; port: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { address, port } = bindOptions;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      cleanup();
      reject(new AbortError('UdpSocket.open', signal?.reason));
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(SystemCallError.from(err, { syscall: 'bind', address, port }));
    };
    const onListening = (): void => {
      cleanup();
      if (signal?.aborted) reject(new AbortError('UdpSocket.open', signal.reason));
      else resolve();
    };
    const cleanup = (): void => {
      socket.off('error', onError);
      socket.off('listening', onListening);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind(bindOptions);
  });
}
