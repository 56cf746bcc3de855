/**
 * Grow-only socket buffers, as live555's `increaseReceiveBufferTo` / `increaseSendBufferTo`
 * (GroupsockHelper): a buffer is never made smaller, and a request the kernel refuses is stepped
 * down (halfway toward the current size each time) until one is accepted.
 *
 * `UdpSocket.setRecvBufferSize` sets whatever it is asked, smaller included; these only grow.
 * Like live555, the comparison is with the size the kernel reports (`getsockopt`), which Linux
 * doubles for its bookkeeping: a socket reporting 212 992 bytes is not grown by a request for
 * 200 000. Unlike live555, the result is the effective size the kernel reports after the change,
 * not the number requested (live555 returns the request, which on Linux is neither).
 *
 * Linux clamps a request above `net.core.rmem_max` / `wmem_max` instead of refusing it, so there
 * the step-down never runs; it matters where `setsockopt` fails with `ENOBUFS` (macOS, the BSDs).
 *
 * @module
 */
import { InvalidArgumentError, SocketClosedError } from '../errors.js';
import { bufferRequest } from './socket-options.js';
import type { UdpSocket } from './udp-socket.js';
import { validateInteger } from '../validate.js';

const INT32_MAX = 0x7fffffff;
/** Halving the gap from INT32_MAX reaches the current size in at most 31 steps. */
const MAX_STEPS = 32;

/**
 * Grows `SO_RCVBUF` toward `bytes`, never shrinking it; returns the effective size the kernel
 * reports. Platforms: all (`SO_RCVBUF`).
 *
 * @throws InvalidArgumentError for a socket that is not a `UdpSocket` or `bytes` outside 1..2^31-1.
 * @throws SocketClosedError on a closed socket.
 */
export function increaseRecvBufferTo(socket: UdpSocket, bytes: number): number {
  return increase(socket, bytes, 'recv');
}

/** Grows `SO_SNDBUF` toward `bytes`, never shrinking it; as {@link increaseRecvBufferTo}. */
export function increaseSendBufferTo(socket: UdpSocket, bytes: number): number {
  return increase(socket, bytes, 'send');
}

function linuxLimit(which: 'recv' | 'send'): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return bufferRequest('max', which === 'recv' ? 'rmem_max' : 'wmem_max');
  } catch {
    return undefined;
  }
}

function increase(socket: UdpSocket, bytes: number, which: 'recv' | 'send'): number {
  if (
    typeof socket !== 'object' ||
    socket === null ||
    typeof (socket as { setRecvBufferSize?: unknown }).setRecvBufferSize !== 'function'
  ) {
    throw new InvalidArgumentError('socket', socket, 'must be a UdpSocket');
  }
  validateInteger(bytes, 'bytes', 1, INT32_MAX);
  const operation = which === 'recv' ? 'increaseRecvBufferTo' : 'increaseSendBufferTo';
  if (socket.closed) throw new SocketClosedError(operation);
  const current = (): number =>
    which === 'recv' ? socket.recvBufferBytes : socket.sendBufferBytes;
  const set = (n: number): number =>
    which === 'recv' ? socket.setRecvBufferSize(n) : socket.setSendBufferSize(n);
  const start = current();
  let request = bytes;
  // Linux clamps to rmem_max / wmem_max and reports double: a request that would come out smaller
  // than the buffer has now (one raised past the limit with SO_RCVBUFFORCE at open) is not made.
  const limit = linuxLimit(which);
  if (limit !== undefined && 2 * Math.min(request, limit) <= start) return start;
  for (let step = 0; step < MAX_STEPS && request > start; step++) {
    try {
      return set(request);
    } catch {
      // Refused (ENOBUFS where the kernel does not clamp): halfway toward the current size.
      request = Math.floor((request + start) / 2);
    }
  }
  return current();
}
