/**
 * TCP for streaming media: connections with Happy Eyeballs, timeouts and keepalive, listeners, a
 * connection pool keyed by endpoint, and RTSP interleaved framing. Re-exports only.
 *
 * @module
 */
export { connectTcp, TcpConnection, type ConnectTcpOptions } from './connect.js';
export {
  listenTcp,
  TcpListener,
  type ListenTcpOptions,
  type TcpListenerAddress,
  type TcpListenerEvents,
} from './listen.js';
export {
  TcpConnectionPool,
  type AcquireOptions,
  type TcpConnectionPoolOptions,
  type TcpEndpoint,
  type TcpPoolStats,
} from './connection-pool.js';
export {
  encodeInterleavedHeader,
  InterleavedDemuxer,
  INTERLEAVED_HEADER_BYTES,
  INTERLEAVED_MAGIC,
  writeInterleaved,
  type InterleavedChannelMap,
  type InterleavedDemuxerEvents,
  type InterleavedDemuxerOptions,
  type InterleavedDemuxerStats,
  type InterleavedFrame,
  type InterleavedMediaChannels,
  type RtspMessage,
} from './interleaved.js';
export type {
  TcpKeepAliveOptions,
  TcpKeepAliveState,
  TcpPreConnectOptions,
  TcpSocketOptions,
} from './tcp-options.js';
