/**
 * RTP over the RTSP control connection (`RTP/AVP/TCP;unicast;interleaved=a-b`, RFC 2326 §10.12),
 * framed by the project's interleaved helpers. The client picks channels `2i`, `2i+1` for media
 * `i` (what live555 and rtspsrc do); a server may answer other channels, and those are the ones
 * listened to. No ports, no firewall to cross: the fallback when UDP does not get through.
 *
 * @module
 */
import { RtspTransportError } from '../errors.js';
import type { RtspConnection } from './connection.js';
import type { TransportSpec } from './transport-header.js';
import {
  newTransportStats,
  type MediaTransport,
  type TransportSink,
  type TransportStats,
} from './transport.js';

/** RTP/RTCP interleaved on the RTSP connection. */
export class TcpInterleavedTransport implements MediaTransport {
  readonly name = 'tcp' as const;
  readonly stats: TransportStats = newTransportStats();
  #lastSendError: Error | undefined;
  readonly #connection: RtspConnection;
  #channels: [number, number];
  #listener: ((channel: number, payload: Buffer) => void) | undefined;

  /** @param mediaIndex - The media's position in the SDP; channels `2i`, `2i+1` are offered. */
  constructor(connection: RtspConnection, mediaIndex: number) {
    this.#connection = connection;
    this.#channels = [2 * mediaIndex, 2 * mediaIndex + 1];
  }

  get lastSendError(): Error | undefined {
    return this.#lastSendError;
  }

  offer(): string {
    return `RTP/AVP/TCP;unicast;interleaved=${this.#channels[0]}-${this.#channels[1]}`;
  }

  accept(reply: TransportSpec, sink: TransportSink): Promise<void> {
    if (reply.protocol !== 'RTP/AVP/TCP' || reply.interleaved === undefined) {
      return Promise.reject(
        new RtspTransportError(
          'tcp',
          `the server answered ${reply.protocol} without interleaved channels to an offer of RTP/AVP/TCP`,
        ),
      );
    }
    this.#channels = reply.interleaved;
    const [rtp, rtcp] = this.#channels;
    this.#listener = (channel, payload) => {
      if (channel === rtp) sink.rtp(payload, performance.now());
      else if (channel === rtcp) sink.rtcp(payload, performance.now());
    };
    this.#connection.on('frame', this.#listener);
    return Promise.resolve();
  }

  async sendRtcp(packet: Buffer): Promise<void> {
    if (this.#listener === undefined || this.#connection.closed) return;
    try {
      await this.#connection.sendFrame(this.#channels[1], packet);
      this.stats.rtcpSent++;
    } catch (err) {
      this.stats.rtcpSendErrors++;
      this.#lastSendError = err as Error;
    }
  }

  describe(): string {
    return `tcp interleaved=${this.#channels[0]}-${this.#channels[1]}`;
  }

  close(): Promise<void> {
    if (this.#listener !== undefined) this.#connection.off('frame', this.#listener);
    this.#listener = undefined;
    return Promise.resolve();
  }
}
