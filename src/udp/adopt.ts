/**
 * Adoption: a `UdpSocket` over a UDP socket made elsewhere — a descriptor passed by a parent
 * process, systemd socket activation (`LISTEN_FDS`), or a `dgram.Socket` another module opened.
 * The counterpart of Go's `net.FilePacketConn` / ristgo's `FromConns`.
 *
 * - {@link adoptDescriptor}: the addon reads what the descriptor is (`SO_TYPE`, `getsockname`,
 *   `SO_RCVBUF`, `SO_SNDBUF`), refuses anything but a bound UDP socket of IPv4 or IPv6, makes it
 *   non-blocking and close-on-exec, and runs either engine on it.
 * - {@link adoptDgramSocket}: the `dgram.Socket` keeps its libuv handle, so the node engine runs
 *   on it; with the addon, options go to its descriptor through the option table.
 *
 * Options the socket already has stay as they are and read back from the kernel (buffers, TTLs);
 * a connected socket keeps its peer (`getpeername`; `remoteAddress()`, `send(data)`);
 * multicast memberships joined before adoption are not known (no system call lists a socket's
 * groups) and stay joined until the descriptor closes; those joined through the `UdpSocket` are
 * bookkept and left at close as usual.
 *
 * @module
 * @internal
 */
import * as dgram from 'node:dgram';

import {
  InvalidArgumentError,
  InvalidStateError,
  NativeUnavailableError,
  NotSupportedError,
} from '../errors.js';
import { loadNative, nativeStatus } from '../native/index.js';
import { validateInteger, validateOptionsObject } from '../validate.js';
import { hasBatchEngine } from './batch-engine.js';
import { BatchDatagramEngine } from './batch-datagram-engine.js';
import { DgramEngine } from './dgram-engine.js';
import type { DatagramEngine } from './engine.js';
import { BATCH_DEFAULTS, checkBatchOptions } from './socket-options.js';
import type { BatchOptions, UdpEngine, UdpSocketType } from './socket-options.js';

/** Options of `UdpSocket.adopt` and `UdpSocket.fromDgramSocket`. */
export interface AdoptOptions {
  /** The engine for a descriptor (`UdpSocket.adopt`); a `dgram.Socket` always runs on `'node'`. Default `'auto'`. */
  engine?: UdpEngine;
  /** Receive memory of the batch engine, as `UdpSocketOptions.batch`. */
  batch?: BatchOptions;
  /** As `UdpSocketOptions.readerQueueLength`. */
  readerQueueLength?: number;
}

/** An engine over an adopted socket, the socket's family, and the peer of a connected one. */
export interface Adopted {
  engine: DatagramEngine;
  type: UdpSocketType;
  peer?: { address: string; port: number };
  /** Whether the engine must be told of the peer (`connect`) before it can send without one. */
  reconnect: boolean;
}

/**
 * Runs an engine on `fd` (options already checked by the caller).
 * @throws InvalidArgumentError for a descriptor that is not a bound UDP socket of IPv4/IPv6;
 *   NativeUnavailableError without the addon; SystemCallError for `EBADF`, `ENOTSOCK`.
 *   On failure the descriptor stays open and the caller's.
 */
export function adoptDescriptor(fd: number, options: AdoptOptions): Adopted {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new InvalidArgumentError('fd', fd, 'must be a file descriptor: an integer >= 0');
  }
  const binding = loadNative();
  if (binding === undefined) {
    throw new NativeUnavailableError(
      'UdpSocket.adopt (reading what the descriptor is)',
      nativeStatus().loadError,
    );
  }
  const engine = options.engine ?? 'auto';
  const useBatch = engine === 'batch' || (engine === 'auto' && hasBatchEngine(binding));
  if (useBatch && !hasBatchEngine(binding)) {
    throw new NotSupportedError(
      "engine: 'batch'",
      `the batch engine needs Linux (this is ${process.platform})`,
    );
  }
  const info = binding.msock_udp_adopt(fd);
  if (info.kind !== 'dgram' || (info.family !== 'IPv4' && info.family !== 'IPv6')) {
    throw new InvalidArgumentError(
      'fd',
      fd,
      `must be a UDP socket of IPv4 or IPv6; it is a ${info.kind} socket of family ${info.family}`,
    );
  }
  if (info.port === 0) {
    throw new InvalidArgumentError('fd', fd, 'must be a bound socket (getsockname reports port 0)');
  }
  const family = info.family === 'IPv4' ? 4 : 6;
  const type: UdpSocketType = family === 4 ? 'udp4' : 'udp6';
  const peer =
    info.peerAddress !== undefined && info.peerPort !== undefined
      ? { address: info.peerAddress, port: info.peerPort }
      : undefined;
  if (useBatch) {
    const b = options.batch ?? {};
    return {
      type,
      ...(peer === undefined ? {} : { peer }),
      reconnect: peer !== undefined,
      engine: new BatchDatagramEngine(binding, { ...info, family: info.family }, family, {
        slots: b.slots ?? BATCH_DEFAULTS.slots,
        slotBytes: b.slotBytes ?? BATCH_DEFAULTS.slotBytes,
        gro: b.gro === true,
        sourceAddress: b.sourceAddress !== false,
        maxBatchesPerWake: b.maxBatchesPerWake ?? BATCH_DEFAULTS.maxBatchesPerWake,
        pktinfo: false,
        timestamps: false,
      }),
    };
  }
  const socket = dgram.createSocket({ type });
  try {
    // dgram opens the descriptor synchronously (uv_udp_open) and owns it from then on.
    socket.bind({ fd });
  } catch (err) {
    socket.close();
    throw new InvalidArgumentError(
      'fd',
      fd,
      `could not be opened by node:dgram: ${(err as Error).message}`,
    );
  }
  if (peer !== undefined) {
    try {
      markConnected(socket);
    } catch (err) {
      socket.close(); // the descriptor goes with it: dgram owns it now
      throw err;
    }
  }
  return {
    type,
    engine: new DgramEngine(socket, family, { binding, fd }),
    ...(peer === undefined ? {} : { peer }),
    reconnect: false,
  };
}

/**
 * Runs the node engine on a bound `dgram.Socket`.
 * @throws InvalidArgumentError for something else than a `dgram.Socket`; InvalidStateError for
 *   one that is not bound or already closed; NotSupportedError for `engine: 'batch'`.
 */
export function adoptDgramSocket(socket: dgram.Socket, options: AdoptOptions): Adopted {
  if (!(socket instanceof dgram.Socket)) {
    throw new InvalidArgumentError('socket', socket, 'must be a dgram.Socket');
  }
  if (options.engine === 'batch') {
    throw new NotSupportedError(
      "engine: 'batch'",
      "a dgram.Socket's descriptor belongs to libuv; pass the descriptor to UdpSocket.adopt before Node opens it",
    );
  }
  let address: { family: string };
  try {
    address = socket.address();
  } catch (err) {
    throw new InvalidStateError(
      `fromDgramSocket: the dgram.Socket must be bound and open (${(err as Error).message})`,
    );
  }
  const family = address.family === 'IPv4' ? 4 : 6;
  let peer: { address: string; port: number } | undefined;
  try {
    const remote = socket.remoteAddress();
    peer = { address: remote.address, port: remote.port };
  } catch {
    peer = undefined; // not connected
  }
  const fd = handleFd(socket);
  const binding = loadNative();
  const native = binding !== undefined && fd !== undefined ? { binding, fd } : undefined;
  return {
    type: family === 4 ? 'udp4' : 'udp6',
    engine: new DgramEngine(socket, family, native),
    ...(peer === undefined ? {} : { peer }),
    reconnect: false,
  };
}

/**
 * Tells `node:dgram` that its handle is connected: libuv saw the association when it opened the
 * descriptor (`uv_udp_open` checks `getpeername`) and sends without an address, but dgram's own
 * state says "disconnected" and would refuse both send forms. (Dissolving the association and
 * connecting again through dgram is no way out: Linux drops an ephemeral port on the dissolve.)
 * @throws NotSupportedError when this Node keeps that state differently.
 */
function markConnected(socket: dgram.Socket): void {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== 'state symbol') continue;
    const state = (socket as unknown as Record<symbol, { connectState?: unknown }>)[symbol];
    // lib/dgram.js: CONNECT_STATE_DISCONNECTED 0, CONNECTING 1, CONNECTED 2.
    if (state !== undefined && state.connectState === 0) {
      state.connectState = 2;
      return;
    }
  }
  throw new NotSupportedError(
    'adopting a connected descriptor on the node engine',
    `node:dgram ${process.version} keeps its connection state where mediasock does not look; use engine: 'batch'`,
  );
}

/** The descriptor under a `dgram.Socket`'s handle (`UDPWrap#fd`; -1 on Windows). */
function handleFd(socket: dgram.Socket): number | undefined {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== 'state symbol') continue;
    const handle = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[symbol]
      ?.handle;
    const fd = handle?.fd;
    if (typeof fd === 'number' && fd >= 0) return fd;
  }
  return undefined;
}

/** Checks the options of the adoption factories. */
export function checkAdoptOptions(options: AdoptOptions): AdoptOptions {
  validateOptionsObject(options);
  const { engine } = options;
  if (engine !== undefined && engine !== 'auto' && engine !== 'node' && engine !== 'batch') {
    throw new InvalidArgumentError('engine', engine, "must be 'auto', 'node' or 'batch'");
  }
  if (options.batch !== undefined) checkBatchOptions(options.batch);
  if (options.readerQueueLength !== undefined)
    validateInteger(options.readerQueueLength, 'readerQueueLength', 1, 1 << 20);
  return options;
}
