/**
 * RTP over UDP unicast (`RTP/AVP;unicast;client_port=a-b`).
 *
 * The client's even/odd pair comes from a {@link PortPool} when one is given (ports inside a range
 * a firewall opens), else from {@link openRtpPortPair} (ephemeral, bounded attempts). After the
 * SETUP reply the transport:
 * - accepts packets only from the server's host (the reply's `source`, else the control
 *   connection's peer), counting others in `foreignSource`, as rtspsrc2 filters by sender;
 * - sends one small datagram to each of the server's ports (`server_port`), so that a NAT or
 *   stateful firewall in between opens the return path before PLAY (rtspsrc's "dummy packets");
 * - sends RTCP to the server's RTCP port.
 *
 * @module
 */
import { openRtpPortPair, type RtpPortPair } from '../rtp/port-pair.js';
import type { PortLease, PortPool } from '../rtp/port-pool.js';
import type { UdpSocket } from '../udp/udp-socket.js';
import { RtspTransportError } from '../errors.js';
import type { TransportSpec } from './transport-header.js';
import {
  newTransportStats,
  unmapped,
  type MediaTransport,
  type TransportSink,
  type TransportStats,
} from './transport.js';

/** The 4 bytes rtspsrc sends to open a path; no RTP stack mistakes them for a packet. */
const KEEP_OPEN = Buffer.from([0xce, 0xfa, 0xed, 0xfe]);

/** Options of {@link UdpTransport.open}. */
export interface UdpTransportOptions {
  /** Lease the pair from this pool; default: an ephemeral pair. */
  portPool?: PortPool | undefined;
  /** The server's address as the control connection sees it. */
  serverAddress: string;
  /** Local address to bind (the control connection's local address keeps the path symmetric). */
  localAddress: string;
  signal?: AbortSignal | undefined;
}

/** RTP/RTCP over a UDP port pair. */
export class UdpTransport implements MediaTransport {
  readonly name = 'udp' as const;
  readonly stats: TransportStats = newTransportStats();
  #lastSendError: Error | undefined;
  readonly #pair: RtpPortPair | PortLease;
  readonly #release: () => Promise<void>;
  readonly #serverAddress: string;
  #source: string;
  #rtcpPort: number | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    pair: RtpPortPair | PortLease,
    release: () => Promise<void>,
    serverAddress: string,
  ) {
    this.#pair = pair;
    this.#release = release;
    this.#serverAddress = unmapped(serverAddress);
    this.#source = this.#serverAddress;
  }

  /** Binds the client port pair. */
  static async open(options: UdpTransportOptions): Promise<UdpTransport> {
    const local = unmapped(options.localAddress);
    const signal = options.signal ? { signal: options.signal } : {};
    if (options.portPool !== undefined) {
      const lease = await options.portPool.lease(signal);
      return new UdpTransport(lease, () => lease.release(), options.serverAddress);
    }
    const pair = await openRtpPortPair({
      type: local.includes(':') ? 'udp6' : 'udp4',
      address: local,
      ...signal,
    });
    return new UdpTransport(pair, () => pair.close(), options.serverAddress);
  }

  get lastSendError(): Error | undefined {
    return this.#lastSendError;
  }

  /** The client ports. */
  get clientPorts(): [number, number] {
    return [this.#pair.rtpPort, this.#pair.rtcpPort];
  }

  offer(): string {
    return `RTP/AVP;unicast;client_port=${this.#pair.rtpPort}-${this.#pair.rtcpPort}`;
  }

  async accept(reply: TransportSpec, sink: TransportSink): Promise<void> {
    if (reply.protocol !== 'RTP/AVP' || reply.delivery !== 'unicast') {
      throw new RtspTransportError(
        'udp',
        `the server answered ${reply.protocol};${reply.delivery} to an offer of RTP/AVP;unicast`,
      );
    }
    if (reply.source !== undefined) this.#source = unmapped(reply.source);
    this.#rtcpPort = reply.serverPorts?.[1];
    this.#listen(this.#pair.rtp, (d, t) => sink.rtp(d, t));
    this.#listen(this.#pair.rtcp, (d, t) => sink.rtcp(d, t));
    if (reply.serverPorts !== undefined) {
      const [rtpPort, rtcpPort] = reply.serverPorts;
      await this.#sendQuietly(this.#pair.rtp, KEEP_OPEN, rtpPort);
      await this.#sendQuietly(this.#pair.rtcp, KEEP_OPEN, rtcpPort);
    }
  }

  #listen(socket: UdpSocket, deliver: (data: Buffer, arrivalMs: number) => void): void {
    socket.on('message', (data, rinfo) => {
      if (
        unmapped(rinfo.address) !== this.#source &&
        unmapped(rinfo.address) !== this.#serverAddress
      ) {
        this.stats.foreignSource++;
        return;
      }
      deliver(data, performance.now());
    });
    socket.on('error', (err) => {
      // ICMP port unreachable after the server went away: counted by the socket, not fatal.
      this.#lastSendError = err;
    });
  }

  async #sendQuietly(socket: UdpSocket, data: Buffer, port: number): Promise<void> {
    if (port === 0) return;
    try {
      await socket.send(data, port, this.#source);
      this.stats.rtcpSent += data === KEEP_OPEN ? 0 : 1;
    } catch (err) {
      this.stats.rtcpSendErrors++;
      this.#lastSendError = err as Error;
    }
  }

  sendRtcp(packet: Buffer): Promise<void> {
    if (this.#rtcpPort === undefined || this.#closing !== undefined) return Promise.resolve();
    return this.#sendQuietly(this.#pair.rtcp, packet, this.#rtcpPort);
  }

  describe(): string {
    return `udp client_port=${this.#pair.rtpPort}-${this.#pair.rtcpPort} server=${this.#source}:${this.#rtcpPort === undefined ? '?' : this.#rtcpPort - 1}`;
  }

  close(): Promise<void> {
    this.#closing ??= this.#release();
    return this.#closing;
  }
}
