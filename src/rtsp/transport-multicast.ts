/**
 * RTP over multicast (`RTP/AVP;multicast`): the server picks the group, ports and TTL and says so
 * in its Transport reply (`destination=`, `port=a-b`, `ttl=`); the client joins that group on two
 * sockets (RTP on `a`, RTCP on `b`). When the reply names a `source` the join is source-filtered
 * (IGMPv3 / MLDv2 INCLUDE, on any group: RFC 4607 in 232/8 and ff3x::/96, the same join elsewhere),
 * so the network stops other senders; packets from other hosts that still reach the socket (a
 * socket of another program sharing the port with an any-source join, when `IP_MULTICAST_ALL`
 * cannot be turned off without the addon) are dropped and counted in `foreignSource`. Without a
 * `source` the join is any-source.
 *
 * The sockets bind the wildcard with `reuseAddr` (several receivers on a host share the group's
 * port, as with any multicast receiver); with the addon `IP_MULTICAST_ALL` is off, so they see only
 * the group they joined. Receiver reports go to the group's RTCP port with the reply's TTL, as
 * RFC 3550 §6 has every participant send RTCP to the session.
 *
 * @module
 */
import { isIP } from 'node:net';

import { classifyAddress } from '../address.js';
import { RtspTransportError } from '../errors.js';
import { UdpSocket } from '../udp/udp-socket.js';
import type { InterfaceSelection } from '../multicast.js';
import type { InterfaceSpec } from '../interfaces.js';
import type { TransportSpec } from './transport-header.js';
import {
  newTransportStats,
  unmapped,
  type MediaTransport,
  type TransportSink,
  type TransportStats,
} from './transport.js';

/** Options of a {@link MulticastTransport}. */
export interface MulticastTransportOptions {
  /** The server's address as the control connection sees it. */
  serverAddress: string;
  /** Interface to join on; default: the kernel's route for the group. */
  iface?: InterfaceSelection | undefined;
}

/** RTP/RTCP received from a multicast group the server chose. */
export class MulticastTransport implements MediaTransport {
  readonly name = 'multicast' as const;
  readonly stats: TransportStats = newTransportStats();
  #lastSendError: Error | undefined;
  readonly #options: MulticastTransportOptions;
  #sockets: UdpSocket[] = [];
  #group = '';
  #ports: [number, number] = [0, 0];
  #ttl = 1;
  #source: string | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: MulticastTransportOptions) {
    this.#options = options;
  }

  get lastSendError(): Error | undefined {
    return this.#lastSendError;
  }

  offer(): string {
    return 'RTP/AVP;multicast';
  }

  async accept(reply: TransportSpec, sink: TransportSink): Promise<void> {
    const group = reply.destination;
    const ports = reply.ports ?? reply.clientPorts;
    if (reply.delivery !== 'multicast' || group === undefined || ports === undefined) {
      throw new RtspTransportError(
        'multicast',
        `the server answered ${reply.delivery} without a destination group and port pair`,
      );
    }
    const kind = isIP(group) === 0 ? undefined : classifyAddress(group);
    if (kind === undefined || !kind.multicast) {
      throw new RtspTransportError('multicast', `destination ${group} is not a multicast group`);
    }
    this.#group = group;
    this.#ports = ports;
    this.#ttl = reply.ttl ?? 1;
    this.#source = reply.source === undefined ? undefined : unmapped(reply.source);
    const type = group.includes(':') ? 'udp6' : 'udp4';
    for (const [i, port] of ports.entries()) {
      const iface = this.#options.iface;
      const socket = await UdpSocket.open({
        type,
        port,
        reuseAddr: true,
        multicastTtl: this.#ttl,
        // Receiver reports leave by the interface the group was joined on, not the default route.
        ...(iface !== undefined && !Array.isArray(iface)
          ? { multicastInterface: iface as InterfaceSpec }
          : {}),
      });
      this.#sockets.push(socket);
      if (this.#source !== undefined)
        socket.addSourceSpecificMembership(this.#source, group, this.#options.iface);
      else socket.addMembership(group, this.#options.iface);
      const deliver = i === 0 ? sink.rtp.bind(sink) : sink.rtcp.bind(sink);
      socket.on('message', (data, rinfo) => {
        const from = unmapped(rinfo.address);
        if (this.#source !== undefined && from !== this.#source) {
          this.stats.foreignSource++;
          return;
        }
        deliver(data, performance.now());
      });
      socket.on('error', (err) => {
        this.#lastSendError = err;
      });
    }
  }

  async sendRtcp(packet: Buffer): Promise<void> {
    const socket = this.#sockets[1];
    if (socket === undefined || this.#closing !== undefined) return;
    try {
      await socket.send(packet, this.#ports[1], this.#group);
      this.stats.rtcpSent++;
    } catch (err) {
      this.stats.rtcpSendErrors++;
      this.#lastSendError = err as Error;
    }
  }

  describe(): string {
    const src = this.#source !== undefined ? `${this.#source}@` : '';
    return `multicast ${src}${this.#group}:${this.#ports[0]}-${this.#ports[1]} ttl=${this.#ttl}`;
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#sockets.map((s) => s.close())).then(() => undefined);
    return this.#closing;
  }
}
