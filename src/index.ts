/**
 * mediasock: the socket layer for streaming media on Node.js.
 *
 * Public re-exports only; each module documents what it does and what it does not do.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './address.js';
export * from './url.js';
export * from './resolve.js';
export * from './interfaces.js';
export { nativeStatus } from './native/index.js';
export type { NativeStatus } from './native/index.js';
export * from './options.js';
export { UdpSocket } from './udp/udp-socket.js';
export type {
  Datagram,
  SendOptions,
  UdpAddress,
  UdpSocketOptions,
  UdpSocketStats,
  UdpSocketType,
} from './udp/udp-socket.js';
export type { InterfaceSelection, Membership } from './multicast.js';
