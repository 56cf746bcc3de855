/**
 * One media of a playing RTSP session: packets from its transport are checked as RTP, counted
 * (loss, jitter, duplicates, reordering) and handed on; RTCP from the server is read for sender
 * reports; receiver reports go back on the transport's RTCP channel.
 *
 * Bad input is counted, never fatal: a datagram that is not RTP version 2 goes to
 * `malformedRtp`, an RTCP compound that does not tile to `malformedRtcp`.
 *
 * @module
 */
import { randomInt } from 'node:crypto';

import { parseRtpHeader, type RtpHeader } from '../rtp/rtp-packet.js';
import { ReceptionStatistics, type ReceptionSnapshot } from './reception-stats.js';
import {
  buildReceiverReport,
  parseSenderReports,
  SenderReportTracker,
  type SenderReportInfo,
} from './rtcp-report.js';
import type { SdpMedia } from './sdp.js';
import type { MediaTransport, TransportSink } from './transport.js';

/** Where a media receiver sends what it got. */
export interface RtspMediaEvents {
  rtp(media: number, packet: Buffer, header: RtpHeader): void;
  senderReport(media: number, report: SenderReportInfo): void;
}

/** Statistics of one media, for display and JSON. */
export interface MediaStats extends ReceptionSnapshot {
  /** Index of the media in the SDP. */
  media: number;
  /** The transport, described (`udp client_port=…`, `tcp interleaved=0-1`, `multicast …`). */
  transport: string;
  malformedRtp: number;
  malformedRtcp: number;
  /** Sender reports received from the server. */
  senderReports: number;
  /** Receiver reports sent. */
  receiverReports: number;
  /** Packets dropped because they came from another host. */
  foreignSource: number;
}

/** One media of a session, receiving. */
export class RtspMediaReceiver implements TransportSink {
  readonly index: number;
  readonly media: SdpMedia;
  readonly transport: MediaTransport;
  readonly #stats: ReceptionStatistics;
  readonly #sr: SenderReportTracker;
  readonly #events: RtspMediaEvents;
  #malformedRtp = 0;
  #malformedRtcp = 0;
  #receiverReports = 0;

  constructor(
    index: number,
    media: SdpMedia,
    transport: MediaTransport,
    clockRate: number,
    events: RtspMediaEvents,
  ) {
    this.index = index;
    this.media = media;
    this.transport = transport;
    this.#stats = new ReceptionStatistics(clockRate);
    this.#sr = new SenderReportTracker(clockRate);
    this.#events = events;
  }

  /** The sender-report tracker: NTP ↔ RTP mapping of this media. */
  get senderReports(): SenderReportTracker {
    return this.#sr;
  }

  rtp(packet: Buffer, arrivalMs: number): void {
    const header = parseRtpHeader(packet);
    if (header === undefined) {
      this.#malformedRtp++;
      return;
    }
    this.#stats.record(
      header.sequenceNumber,
      header.timestamp,
      header.ssrc,
      packet.length,
      arrivalMs,
    );
    this.#events.rtp(this.index, packet, header);
  }

  rtcp(packet: Buffer, arrivalMs: number): void {
    let reports: SenderReportInfo[];
    try {
      reports = parseSenderReports(packet);
    } catch {
      this.#malformedRtcp++;
      return;
    }
    for (const sr of reports) {
      this.#sr.record(sr, arrivalMs);
      this.#events.senderReport(this.index, sr);
    }
  }

  /** Sends one receiver report (RR + SDES) on the transport's RTCP channel. */
  async sendReport(ourSsrc: number, cname: string): Promise<void> {
    const block = this.#stats.reportBlock();
    const blocks =
      block === undefined ? [] : [{ ...block, ...this.#sr.lsrDlsr(performance.now()) }];
    await this.transport.sendRtcp(buildReceiverReport(ourSsrc, blocks, cname));
    this.#receiverReports++;
  }

  /** Statistics now. */
  stats(): MediaStats {
    return {
      ...this.#stats.snapshot(),
      media: this.index,
      transport: this.transport.describe(),
      malformedRtp: this.#malformedRtp,
      malformedRtcp: this.#malformedRtcp,
      senderReports: this.#sr.count,
      receiverReports: this.#receiverReports,
      foreignSource: this.transport.stats.foreignSource,
    };
  }
}

/** A random SSRC for our receiver reports (RFC 3550 §8.1). */
export function randomSsrc(): number {
  return randomInt(1, 0xffffffff);
}
