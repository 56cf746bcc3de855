/**
 * Sockets opened from media URLs (`udp://`, `rtp://`, see {@link parseMediaUrl}):
 * {@link openMediaReceiver} binds and joins what a listen URL names (unicast, any-source multicast
 * or source-specific multicast, on one or several interfaces) and {@link openMediaSender} aims a
 * socket at a destination URL with its egress options (interface, TTL, DSCP, buffer).
 *
 * Everything that can be checked is checked before a socket is opened, so bad input leaves nothing
 * behind (an {@link InvalidArgumentError}); a socket whose setup fails after opening is closed
 * before the error is passed on.
 *
 * What it does not do: RTP, pacing or statistics (see {@link RtpStats}, {@link TsChecker},
 * {@link Pacer}); RTSP or RIST URLs.
 *
 * @module
 */
import { addressFamily, classifyAddress } from '../address.js';
import { InvalidArgumentError } from '../errors.js';
import { findInterface, interfaceAddress } from '../interfaces.js';
import type { InterfaceSpec } from '../interfaces.js';
import type { Membership } from '../multicast.js';
import { resolveHost } from '../resolve.js';
import { UdpSocket } from '../udp/udp-socket.js';
import type { UdpSocketOptions } from '../udp/udp-socket.js';
import { formatMediaUrl, parseMediaUrl } from '../url.js';
import { fifoDatagrams, noticesOf } from '../url-options.js';
import type { MediaUrl } from '../url.js';

/** Options of {@link openMediaReceiver}; the URL's own query options come first. */
export interface MediaReceiverOptions {
  /**
   * Interfaces to join a multicast group on, besides the URL's `iface` (name, index or address);
   * for unicast, at most one: its address is bound when the URL has no address.
   */
  interfaces?: readonly InterfaceSpec[];
  /** Receive buffer when the URL has no `buffer=`. Default `'max'` (raised toward the kernel limit). */
  recvBufferBytes?: number | 'max';
  /** The socket engine (see `UdpSocketOptions.engine`). Default `'auto'`. */
  engine?: UdpSocketOptions['engine'];
  /** Receive options of the batch engine (see `UdpSocketOptions.batch`). */
  batch?: UdpSocketOptions['batch'];
  /** Aborts the open. */
  signal?: AbortSignal;
}

/** An open receiving socket and what it receives. */
export interface MediaReceiver {
  /** The parsed URL. */
  url: MediaUrl;
  /** The bound (and, for multicast, joined) socket; the caller closes it. */
  socket: UdpSocket;
  /** The groups joined (empty for unicast). */
  memberships: Membership[];
  /** One line describing what is received, e.g. `udp://239.1.1.1:5004 (any-source) on lo`. */
  description: string;
  /**
   * One line per URL option that has no effect on a receiver (`ttl`, FFmpeg's `overrun_nonfatal`
   * …; see `url-options.ts`); empty when every option applies.
   */
  notices: string[];
  /**
   * `timeout=` (FFmpeg, microseconds) in milliseconds, rounded up: the caller fails the receive
   * after this long without a datagram. Absent when the URL has none or `timeout=0`.
   */
  idleTimeoutMs?: number;
}

/**
 * Opens a socket that receives what a listen URL names: `udp://@:5004` (any local address),
 * `udp://@127.0.0.1:5004`, `udp://@239.1.1.1:5004?iface=eth0` (joined on eth0),
 * `udp://10.0.0.1@232.1.1.1:5004` (source-specific), `udp://10.0.0.1@239.1.1.1:5004` (include
 * filter on any group), `udp://@239.1.1.1:5004?block=10.0.0.9` (exclude filter; needs the addon),
 * `udp://@[ff12::1%eth1]:5004` (link-local-scope group on eth1). Multicast receivers bind the
 * group address (only that group's datagrams arrive) with address reuse on unless `reuse=0`
 * (FFmpeg's and VLC's default, so a second receiver of the same group and port works).
 *
 * Interfaces of a group: `iface=` and `options.interfaces`; with neither, the URL's zone; with
 * none of them, the kernel's choice. A link-local-scope IPv6 group (ff02::/16, ff12::/16, any
 * `ffx2::` or `ffx1::`) is bound with its interface as scope, so it needs exactly one interface;
 * a zone and `iface` must name the same one. Memberships given by interface name are joined
 * again when the interface comes back after a flap (see `UdpSocket` `'rejoin'`).
 *
 * FFmpeg's receive options apply (`fifo_size` bounds the reader queue, `timeout` becomes
 * `idleTimeoutMs`); sending options (`ttl`, `dscp`, `localport` …) and FFmpeg-only ones
 * (`overrun_nonfatal` …) are ignored and listed in `notices`.
 *
 * @throws InvalidArgumentError for a URL with a host name instead of an address literal, an
 *   unknown interface or zone, several interfaces for unicast or a link-local-scope group, none
 *   for a link-local-scope group, or a zone and `iface` that name different interfaces.
 * @throws NativeUnavailableError for `block=` on the node engine without the addon.
 */
export async function openMediaReceiver(
  url: string | MediaUrl,
  options: MediaReceiverOptions = {},
): Promise<MediaReceiver> {
  const { parsed, ifaces } = checkReceiver(url, options);
  const family = parsed.family === 6 ? 6 : 4;
  const socketOptions: UdpSocketOptions = {
    type: family === 6 ? 'udp6' : 'udp4',
    port: parsed.port,
    recvBufferBytes: parsed.bufferBytes ?? options.recvBufferBytes ?? 'max',
  };
  if (options.engine !== undefined) socketOptions.engine = options.engine;
  if (options.batch !== undefined) socketOptions.batch = options.batch;
  if (options.signal !== undefined) socketOptions.signal = options.signal;
  if (parsed.fifoPackets !== undefined) {
    socketOptions.readerQueueLength = fifoDatagrams(parsed.fifoPackets);
  }
  if (parsed.multicast) {
    // A link-local-scope group is bound with the scope of its one interface.
    const scope = parsed.zone ?? (needsScope(parsed.host) ? ifaces[0] : undefined);
    socketOptions.address =
      scope === undefined ? parsed.host : `${parsed.host}%${scopeName(scope)}`;
    socketOptions.reuseAddr = parsed.reuse ?? true;
  } else {
    if (parsed.host !== '') {
      socketOptions.address =
        parsed.zone === undefined ? parsed.host : `${parsed.host}%${parsed.zone}`;
    } else if (ifaces[0] !== undefined) socketOptions.address = interfaceAddress(ifaces[0], family);
    if (parsed.reuse !== undefined) socketOptions.reuseAddr = parsed.reuse;
  }
  const socket = await UdpSocket.open(socketOptions);
  try {
    let memberships: Membership[] = [];
    let where = '';
    if (parsed.multicast) {
      const selection = ifaces.length === 0 ? undefined : ifaces;
      const block = parsed.block ?? [];
      memberships = parsed.ssm
        ? socket.addSourceFilteredMembership(
            parsed.host,
            { mode: 'include', sources: parsed.sources },
            selection,
          )
        : block.length > 0
          ? socket.addSourceFilteredMembership(
              parsed.host,
              { mode: 'exclude', sources: block },
              selection,
            )
          : socket.addMembership(parsed.host, selection);
      const names = [...new Set(memberships.map((m) => m.interface ?? 'the default interface'))];
      where = ` on ${names.join(', ')}`;
    }
    const a = socket.address();
    const shown = parsed.multicast ? parsed.host : a.address;
    const host = a.family === 6 ? `[${shown}]` : shown;
    const kind = parsed.ssm
      ? ` (${classifyAddress(parsed.host).ssm ? 'source-specific' : 'source-filtered'} from ${parsed.sources.join(', ')})`
      : (parsed.block ?? []).length > 0
        ? ` (any source but ${(parsed.block ?? []).join(', ')})`
        : parsed.multicast
          ? ' (any-source)'
          : '';
    const receiver: MediaReceiver = {
      url: parsed,
      socket,
      memberships,
      description: `${parsed.scheme}://${host}:${a.port}${kind}${where}`,
      notices: noticesOf(parsed, 'receive'),
    };
    if (parsed.timeoutMicros !== undefined && parsed.timeoutMicros > 0) {
      receiver.idleTimeoutMs = Math.ceil(parsed.timeoutMicros / 1000);
    }
    return receiver;
  } catch (err) {
    await socket.close();
    throw err;
  }
}

/**
 * Whether an IPv6 group needs a scope to be bound or sent to: interface-local (`ffx1::`) and
 * link-local (`ffx2::`, as ff02::/16 and ff12::/16) scopes, as the kernel's
 * `__ipv6_addr_needs_scope_id` decides.
 */
function needsScope(group: string): boolean {
  const c = classifyAddress(group);
  if (c.family !== 6 || !c.multicast) return false;
  const scope = parseInt(group.slice(3, 4), 16);
  return group.length > 4 && group.startsWith('ff') && (scope === 1 || scope === 2);
}

/** The name of an interface given by name, index or address (a zone is written by name). */
function scopeName(spec: InterfaceSpec): string {
  return findInterface(spec).name;
}

function checkReceiver(
  url: string | MediaUrl,
  options: MediaReceiverOptions,
): { parsed: MediaUrl; ifaces: InterfaceSpec[] } {
  const parsed = typeof url === 'string' ? parseMediaUrl(url) : url;
  const text = typeof url === 'string' ? url : formatMediaUrl(parsed);
  if (parsed.family === 0 && parsed.host !== '') {
    throw new InvalidArgumentError(
      'url',
      text,
      `needs an address literal to bind or join, not the name ${JSON.stringify(parsed.host)}`,
    );
  }
  // ttl, dscp and the other sending options are ignored with a notice (FFmpeg ignores them too):
  // one URL line often serves both ends.
  const ifaces = [
    ...(parsed.iface === undefined ? [] : [parsed.iface]),
    ...(options.interfaces ?? []),
  ];
  // Unknown interfaces are bad input: findInterface throws InvalidArgumentError listing those that exist.
  for (const i of ifaces) findInterface(i);
  if (parsed.zone !== undefined) {
    const zone = findInterface(parsed.zone);
    if (parsed.multicast) {
      // The zone of a group names its interface, as iface= does: the two must agree.
      const other = ifaces.map((i) => findInterface(i)).find((i) => i.name !== zone.name);
      if (other !== undefined) {
        throw new InvalidArgumentError(
          'url',
          text,
          `names two interfaces for the group: the zone %${parsed.zone} is ${zone.name}, the interface ${other.name} is not; give one, or the same in both`,
        );
      }
      if (ifaces.length === 0) ifaces.push(zone.name);
    }
  }
  if (
    parsed.multicast &&
    needsScope(parsed.host) &&
    new Set(ifaces.map((i) => findInterface(i).name)).size !== 1
  ) {
    throw new InvalidArgumentError(
      'url',
      text,
      `has the link-local-scope group ${parsed.host}, which is bound on one interface: give it with iface= or a zone (${parsed.host}%eth0), once (${ifaces.length === 0 ? 'none is given' : `${ifaces.length} are given`})`,
    );
  }
  if (!parsed.multicast && ifaces.length > 1) {
    throw new InvalidArgumentError(
      'interfaces',
      ifaces,
      `must name one interface for a unicast receiver (it binds one address), not ${ifaces.length}`,
    );
  }
  return { parsed, ifaces };
}

/** Options of {@link openMediaSender}. Each may also come from the URL; the two must agree. */
export interface MediaSenderOptions {
  /** Egress interface (name, index or address): multicast egress, or the unicast source address. */
  iface?: InterfaceSpec | undefined;
  /** TTL / hop limit: 0..255 for multicast, 1..255 for unicast. */
  ttl?: number | undefined;
  /** DSCP 0..63 (needs the native addon). */
  dscp?: number | undefined;
  /** Local address to send from (with SSM: the source receivers join). */
  localAddress?: string | undefined;
  /** Send buffer when the URL has no `buffer=`. */
  sendBufferBytes?: number | 'max' | undefined;
  /** Loop multicast back to this host (receivers here see it). Default `true`. */
  multicastLoopback?: boolean | undefined;
  /**
   * `connect(2)` the socket to the destination when the URL has no `connect=` (the URL wins).
   * A connected socket's sends skip the route lookup the kernel makes for every datagram of an
   * unconnected one, and ICMP errors (`ECONNREFUSED` when nothing listens on a unicast port) are
   * reported on a later send. Default `false`, FFmpeg's default; `mediasock relay` asks for it.
   */
  connect?: boolean | undefined;
  /** The socket engine (see `UdpSocketOptions.engine`). Default `'auto'`. */
  engine?: UdpSocketOptions['engine'];
  /** Aborts name resolution and the open. */
  signal?: AbortSignal | undefined;
}

/** An open sending socket and its destination. */
export interface MediaSender {
  /** The parsed URL. */
  url: MediaUrl;
  /** The socket; the caller closes it. */
  socket: UdpSocket;
  /** The resolved destination address (with `%zone` for a scoped IPv6 address). */
  address: string;
  /** The destination port. */
  port: number;
  /** One line describing the destination and egress, e.g. `udp://239.1.1.1:5004 (via lo, TTL 0)`. */
  description: string;
  /**
   * `true` when the socket is connected to the destination (`connect=1`, or the `connect` option
   * and no `connect=` in the URL), so send without one (`socket.send(data)`).
   */
  connected: boolean;
  /** One line per URL option that has no effect on a sender (`fifo_size`, `burst_bits` …). */
  notices: string[];
}

/**
 * Opens a socket aimed at a destination URL: `udp://127.0.0.1:5004`,
 * `rtp://239.1.1.1:5004?iface=lo&ttl=0`, `udp://[ff15::1%eth0]:5004?dscp=34`. A host name is
 * resolved (the first address wins). Send with `socket.send(data, sender.port, sender.address)`,
 * or `socket.send(data)` when `sender.connected` (`connect=1` or `options.connect`). FFmpeg's `localport`, `connect`
 * and `broadcast` apply here; `pkt_size` and `bitrate` are the caller's (see `mediasock send`);
 * receiving options are listed in `notices`.
 *
 * @throws InvalidArgumentError for a listen URL, port 0, an option that contradicts the URL, an
 *   unknown interface or zone, a `localAddress` of the wrong family, a TTL of 0 for unicast, a
 *   TTL or DSCP out of range, or a name that resolves to nothing.
 */
export async function openMediaSender(
  url: string | MediaUrl,
  options: MediaSenderOptions = {},
): Promise<MediaSender> {
  const { parsed, iface, ttl, dscp } = checkSender(url, options);
  let address = parsed.host;
  if (parsed.family === 0) {
    const found = await resolveHost(parsed.host, { signal: options.signal });
    const first = found[0];
    if (first === undefined) {
      throw new InvalidArgumentError(
        'url',
        parsed.host,
        'names a host that resolves to no address',
      );
    }
    address = first.address;
  } else if (parsed.zone !== undefined) {
    address = `${parsed.host}%${parsed.zone}`;
  } else if (iface !== undefined && parsed.multicast && needsScope(parsed.host)) {
    // A link-local-scope group is sent to with the scope of its interface.
    address = `${parsed.host}%${scopeName(iface)}`;
  }
  const family = address.includes(':') ? 6 : 4;
  const multicast = classifyAddress(address).multicast;
  const socketOptions: UdpSocketOptions = { type: family === 6 ? 'udp6' : 'udp4' };
  const sendBuffer = parsed.bufferBytes ?? options.sendBufferBytes;
  if (sendBuffer !== undefined) socketOptions.sendBufferBytes = sendBuffer;
  if (dscp !== undefined) socketOptions.dscp = dscp;
  if (options.localAddress !== undefined) socketOptions.address = options.localAddress;
  if (parsed.localPort !== undefined) socketOptions.port = parsed.localPort;
  if (parsed.reuse !== undefined) socketOptions.reuseAddr = parsed.reuse;
  if (parsed.broadcast !== undefined) socketOptions.broadcast = parsed.broadcast;
  if (options.engine !== undefined) socketOptions.engine = options.engine;
  if (options.signal !== undefined) socketOptions.signal = options.signal;
  if (multicast) {
    if (iface !== undefined) socketOptions.multicastInterface = iface;
    if (ttl !== undefined) socketOptions.multicastTtl = ttl;
    socketOptions.multicastLoopback = options.multicastLoopback ?? true;
  } else {
    if (iface !== undefined) socketOptions.address ??= interfaceAddress(iface, family);
    if (ttl !== undefined) socketOptions.ttl = ttl;
  }
  const socket = await UdpSocket.open(socketOptions);
  const connect = parsed.connect ?? options.connect ?? false;
  if (connect) {
    try {
      await socket.connect(parsed.port, address, { signal: options.signal });
    } catch (err) {
      await socket.close();
      throw err;
    }
  }
  const host = family === 6 ? `[${address}]` : address;
  const egress = [
    iface !== undefined
      ? `via ${scopeName(iface)}`
      : multicast
        ? 'via the default multicast interface'
        : '',
    multicast ? `TTL ${ttl ?? socket.getMulticastTTL()}` : ttl !== undefined ? `TTL ${ttl}` : '',
    dscp !== undefined ? `DSCP ${dscp}` : '',
    parsed.localPort !== undefined ? `from port ${socket.address().port}` : '',
    connect ? 'connected' : '',
  ].filter((s) => s !== '');
  return {
    url: parsed,
    socket,
    address,
    port: parsed.port,
    description: `${parsed.scheme}://${host}:${parsed.port}${egress.length > 0 ? ` (${egress.join(', ')})` : ''}`,
    connected: connect,
    notices: noticesOf(parsed, 'send'),
  };
}

function checkSender(
  url: string | MediaUrl,
  options: MediaSenderOptions,
): {
  parsed: MediaUrl;
  iface: InterfaceSpec | undefined;
  ttl: number | undefined;
  dscp: number | undefined;
} {
  const parsed = typeof url === 'string' ? parseMediaUrl(url) : url;
  const text = typeof url === 'string' ? url : formatMediaUrl(parsed);
  if (parsed.listen) {
    throw new InvalidArgumentError(
      'url',
      text,
      'is a listen URL ("@" or sources); sending needs a destination such as udp://127.0.0.1:5004',
    );
  }
  if (parsed.port === 0) {
    throw new InvalidArgumentError(
      'url',
      text,
      'needs a port from 1 to 65535 to send to (port 0 only means "any port" when listening)',
    );
  }
  const pick = <T>(name: string, fromUrl: T | undefined, option: T | undefined): T | undefined => {
    if (fromUrl !== undefined && option !== undefined && fromUrl !== option) {
      throw new InvalidArgumentError(
        name,
        option,
        `contradicts ${name}=${String(fromUrl)} in ${text}`,
      );
    }
    return fromUrl ?? option;
  };
  let iface = pick<InterfaceSpec>('iface', parsed.iface, options.iface);
  const ttl = pick('ttl', parsed.ttl, options.ttl);
  const dscp = pick('dscp', parsed.dscp, options.dscp);
  const ifaceInfo = iface === undefined ? undefined : findInterface(iface);
  if (parsed.zone !== undefined) {
    const zone = findInterface(parsed.zone);
    if (parsed.multicast) {
      // The zone of a group picks the egress interface when iface is absent; both must agree.
      if (ifaceInfo !== undefined && ifaceInfo.name !== zone.name) {
        throw new InvalidArgumentError(
          'url',
          text,
          `names two interfaces for the group: the zone %${parsed.zone} is ${zone.name}, the interface ${ifaceInfo.name} is not; give one, or the same in both`,
        );
      }
      iface ??= zone.name;
    }
  }
  if (options.connect !== undefined && typeof options.connect !== 'boolean')
    throw new InvalidArgumentError('connect', options.connect, 'must be a boolean');
  const local = options.localAddress;
  if (local !== undefined) {
    const family = addressFamily(local);
    if (family === 0)
      throw new InvalidArgumentError('localAddress', local, 'must be an address literal');
    if (parsed.family !== 0 && family !== parsed.family) {
      throw new InvalidArgumentError(
        'localAddress',
        local,
        `must be of the destination's family (IPv${parsed.family})`,
      );
    }
  }
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > 255)) {
    throw new InvalidArgumentError('ttl', ttl, 'must be an integer in 0..255');
  }
  if (ttl === 0 && !parsed.multicast) {
    throw new InvalidArgumentError(
      'ttl',
      ttl,
      'of 0 applies to multicast only; a unicast TTL is 1..255',
    );
  }
  if (dscp !== undefined && (!Number.isInteger(dscp) || dscp < 0 || dscp > 63)) {
    throw new InvalidArgumentError('dscp', dscp, 'must be an integer in 0..63');
  }
  return { parsed, iface, ttl, dscp };
}
