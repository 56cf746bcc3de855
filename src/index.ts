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
export { URL_OPTION_TABLE, urlNotices } from './url-options.js';
export type { UrlOptionDirection, UrlOptionRow } from './url-options.js';
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
export type {
  AdoptOptions,
  BatchCapabilities,
  BatchSendResult,
  DatagramBatch,
  DatagramTrain,
  IterationOptions,
  OutgoingDatagram,
  UdpSocketEvents,
} from './udp/udp-socket.js';
export type { BatchOptions, UdpEngine } from './udp/socket-options.js';
export type { InterfaceSelection, Membership } from './multicast.js';
export * from './tcp/index.js';
export { openRtpPortPair, RtpPortPair } from './rtp/port-pair.js';
export type { PortRange, RtpPortPairOptions } from './rtp/port-pair.js';
export { PortPool } from './rtp/port-pool.js';
export type { PortLease, PortPoolOptions, PortPoolStats } from './rtp/port-pool.js';
export { RistTransport } from './rist/rist-transport.js';
export { RistMediaBatch } from './rist/media-batch.js';
export * from './rtsp/index.js';
export type {
  RistDatagram,
  RistMulticastOptions,
  RistProfile,
  RistTransportOptions,
  RistTransportStats,
} from './rist/rist-transport.js';
export { AddressLearner } from './rist/address-learning.js';
export { mediaEndpointFromRtcp } from './rist/rtcp-peer.js';
export { increaseRecvBufferTo, increaseSendBufferTo } from './udp/buffer-growth.js';
export {
  findOurIPAddress,
  weHaveAnIPAddress,
  weHaveAnIPv4Address,
  weHaveAnIPv6Address,
} from './host-address.js';
export type { OurIPAddress } from './host-address.js';
export type {
  AddressLearnerOptions,
  AddressLearnerStats,
  Endpoint as LearnedEndpoint,
  LearnVerdict,
} from './rist/address-learning.js';
export {
  buildRtpPacket,
  parseRtpPacket,
  parseRtpHeader,
  writeRtpHeader,
  RTP_PAYLOAD_TYPE_MP2T,
  RTP_HEADER_BYTES,
} from './rtp/rtp-packet.js';
export type { RtpHeader, RtpPacket } from './rtp/rtp-packet.js';
export {
  buildSenderReport,
  buildSourceDescription,
  buildSenderRtcp,
  parseRtcpCompound,
  RtcpPacketType,
} from './rist/rtcp-packet.js';
export type { RtcpHeader, SenderReport } from './rist/rtcp-packet.js';
export type {
  DtlsClientConfig,
  DtlsConfig,
  DtlsPsk,
  DtlsServerConfig,
} from './rist/dtls-config.js';
export type { DtlsHandshakeOptions, DtlsSessionInfo, DtlsStats } from './rist/dtls.js';
export {
  RtpStats,
  RTP_STATS_DEFAULT_MAX_SOURCES,
  isRtpAt,
  rtpPayloadEnd,
  rtpPayloadStart,
} from './media/rtp-stats.js';
export type { RtpStatsOptions, RtpStatsSnapshot } from './media/rtp-stats.js';
export {
  TsChecker,
  TS_NULL_PID,
  TS_PACKET_BYTES,
  TS_SYNC_BYTE,
  looksLikeTransportStream,
} from './media/ts-check.js';
export type { TsCheckSnapshot } from './media/ts-check.js';
export type { DatagramBatchView } from './media/datagram-view.js';
export { Pacer } from './media/pacer.js';
export type { PacerOptions } from './media/pacer.js';
export { TsPlayout, PCR_HZ, PCR_WRAP } from './media/ts-playout.js';
export type { PacedDatagram, TsPlayoutOptions, TsPlayoutStats } from './media/ts-playout.js';
export { PlayoutSender, playoutThreadsLive } from './media/playout-sender.js';
export type { PlayoutSenderOptions, PlayoutSenderStats } from './media/playout-sender.js';
export { openMediaReceiver, openMediaSender } from './media/media-sockets.js';
export type {
  MediaReceiver,
  MediaReceiverOptions,
  MediaSender,
  MediaSenderOptions,
} from './media/media-sockets.js';
