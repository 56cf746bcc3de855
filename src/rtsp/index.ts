/**
 * The RTSP client's public surface, re-exported from `src/index.ts`.
 *
 * @module
 */
export { RtspClient } from './client.js';
export type { RtspClientEvents, RtspClientOptions, RtspTransportChoice } from './client.js';
export type {
  MediaTransport,
  RtspTransportName,
  TransportSink,
  TransportStats,
} from './transport.js';
export type { RtspMediaEvents, MediaStats } from './media-receiver.js';
export { RtspMediaReceiver } from './media-receiver.js';
export { parseSdp, resolveControl } from './sdp.js';
export type { SdpMedia, SdpRtpMap, SdpSession } from './sdp.js';
export { SenderReportTracker } from './rtcp-report.js';
export type { SenderReportInfo } from './rtcp-report.js';
export { ReceptionStatistics } from './reception-stats.js';
export type { ReceptionSnapshot, ReportBlockFields, RtpReceptionStats } from './reception-stats.js';
export { Authenticator, digestResponse, parseChallenges } from './auth.js';
export type { AuthChallenge, Credentials, DigestInput } from './auth.js';
export { parseTransport, formatTransport } from './transport-header.js';
export type { TransportSpec } from './transport-header.js';
export type { SessionHeader } from './session.js';
