/**
 * What every RTSP media transport (UDP unicast, TCP interleaved, multicast) offers the client:
 * the `Transport` value for SETUP, the reply's acceptance, packets in, RTCP out, and a close that
 * releases every socket or lease it holds.
 *
 * @module
 */
import type { TransportSpec } from './transport-header.js';

/** The transports a client can ask for. */
export type RtspTransportName = 'udp' | 'tcp' | 'multicast';

/** Where a transport delivers what it receives. */
export interface TransportSink {
  /** One RTP packet; `arrivalMs` from `performance.now()`. */
  rtp(packet: Buffer, arrivalMs: number): void;
  /** One RTCP compound packet. */
  rtcp(packet: Buffer, arrivalMs: number): void;
}

/** Counters every transport keeps. */
export interface TransportStats {
  /** Datagrams or frames dropped because they came from a host other than the server's. */
  foreignSource: number;
  /** RTCP packets sent. */
  rtcpSent: number;
  /** RTCP sends that failed (the error is kept in `lastSendError`). */
  rtcpSendErrors: number;
}

/** One media's transport. */
export interface MediaTransport {
  readonly name: RtspTransportName;
  /** The `Transport` value to offer in SETUP. */
  offer(): string;
  /**
   * Takes the server's `Transport` reply and starts receiving into `sink`.
   *
   * @throws RtspTransportError when the reply does not match the offer.
   */
  accept(reply: TransportSpec, sink: TransportSink): Promise<void>;
  /** Sends an RTCP packet to the server (receiver reports). */
  sendRtcp(packet: Buffer): Promise<void>;
  /** A short description: ports, channels, group. */
  describe(): string;
  readonly stats: TransportStats;
  /** The last RTCP send error, if any. */
  readonly lastSendError: Error | undefined;
  /** Stops receiving and releases sockets. Idempotent. */
  close(): Promise<void>;
}

/** Fresh counters. */
export function newTransportStats(): TransportStats {
  return { foreignSource: 0, rtcpSent: 0, rtcpSendErrors: 0 };
}

/** Whether an RTCP packet (by its second byte) rather than RTP: RFC 5761 §4 payload types 200..204. */
export function looksLikeRtcp(packet: Buffer): boolean {
  const pt = packet[1] ?? 0;
  return pt >= 200 && pt <= 204;
}

/** Unmaps `::ffff:a.b.c.d` so addresses compare across families. */
export function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
