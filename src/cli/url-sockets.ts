/**
 * Sockets opened from media URLs: a receiver that binds and joins what a listen URL names
 * (unicast, any-source multicast or SSM, on one or several interfaces), and a sender aimed at a
 * destination URL with its egress options (interface, TTL, DSCP).
 *
 * Everything that can be checked is checked before a socket is opened, so bad input leaves nothing
 * behind; a socket whose setup fails after opening is closed before the error is passed on.
 *
 * What it does not do: RTP, pacing or statistics (the commands do).
 *
 * @module
 */
import {
  UdpSocket,
  addressFamily,
  classifyAddress,
  findInterface,
  interfaceAddress,
  parseMediaUrl,
  resolveHost,
} from '../index.js';
import type { MediaUrl, UdpSocketOptions } from '../index.js';
import { UsageError } from './arguments.js';

/** An open receiving socket and what it listens to. */
export interface Receiver {
  url: MediaUrl;
  socket: UdpSocket;
  /** One line describing what is received, e.g. `239.1.1.1:5004 (any-source) on lo`. */
  description: string;
}

/** Parses a URL for receiving and checks its interfaces; throws before any socket is opened. */
export function parseReceiveUrl(
  text: string,
  extraIfaces: readonly string[] = [],
): {
  url: MediaUrl;
  ifaces: string[];
} {
  const url = parseMediaUrl(text);
  if (url.family === 0 && url.host !== '') {
    throw new UsageError(
      `receiving needs an address literal to bind or join, not the name ${JSON.stringify(url.host)}`,
    );
  }
  if (url.ttl !== undefined || url.dscp !== undefined) {
    throw new UsageError(`${text}: ttl and dscp apply to sending, not to receiving`);
  }
  const ifaces = [...(url.iface === undefined ? [] : [url.iface]), ...extraIfaces];
  // Unknown interfaces are bad input: findInterface throws InvalidArgumentError listing those that exist.
  for (const i of ifaces) findInterface(i);
  if (url.zone !== undefined) findInterface(url.zone);
  if (!url.multicast && ifaces.length > 1) {
    throw new UsageError(`${text}: a unicast receiver binds one interface, not ${ifaces.length}`);
  }
  return { url, ifaces };
}

/** Opens a socket that receives what the URL names. */
export async function openReceiver(
  text: string,
  extraIfaces: readonly string[] = [],
): Promise<Receiver> {
  const { url, ifaces } = parseReceiveUrl(text, extraIfaces);
  const family = url.family === 6 ? 6 : 4;
  const options: UdpSocketOptions = {
    type: family === 6 ? 'udp6' : 'udp4',
    port: url.port,
    recvBufferBytes: url.bufferBytes ?? 'max',
  };
  if (url.multicast) {
    // Binding the group address keeps other groups on this port out (no IP_MULTICAST_ALL needed).
    options.address = url.zone === undefined ? url.host : `${url.host}%${url.zone}`;
    options.reuseAddr = url.reuse ?? true;
  } else {
    if (url.host !== '') options.address = url.host;
    else if (ifaces[0] !== undefined) options.address = interfaceAddress(ifaces[0], family);
    if (url.reuse !== undefined) options.reuseAddr = url.reuse;
  }
  const socket = await UdpSocket.open(options);
  try {
    let where = '';
    if (url.multicast) {
      const selection = ifaces.length === 0 ? undefined : ifaces;
      const joined = url.ssm
        ? url.sources.flatMap((s) => socket.addSourceSpecificMembership(s, url.host, selection))
        : socket.addMembership(url.host, selection);
      const names = [...new Set(joined.map((m) => m.interface ?? 'the default interface'))];
      where = ` on ${names.join(', ')}`;
    }
    const a = socket.address();
    const host =
      a.family === 6
        ? `[${url.multicast ? url.host : a.address}]`
        : url.multicast
          ? url.host
          : a.address;
    const kind = url.ssm
      ? ` (source-specific from ${url.sources.join(', ')})`
      : url.multicast
        ? ' (any-source)'
        : '';
    return { url, socket, description: `${url.scheme}://${host}:${a.port}${kind}${where}` };
  } catch (err) {
    await socket.close();
    throw err;
  }
}

/** An open sending socket and its destination. */
export interface Sender {
  url: MediaUrl;
  socket: UdpSocket;
  /** The resolved destination address. */
  address: string;
  port: number;
  /** One line describing the destination. */
  description: string;
}

/** Egress options given on the command line; the URL's own options win over nothing, and conflicts are errors. */
export interface SenderOptions {
  iface?: string | undefined;
  ttl?: number | undefined;
  dscp?: number | undefined;
  /** Local address to send from (`--bind`); with SSM, the source receivers join. */
  bind?: string | undefined;
}

/** Parses a URL for sending and merges the command-line egress options; throws before any socket is opened. */
export function parseSendUrl(
  text: string,
  extra: SenderOptions = {},
): {
  url: MediaUrl;
  iface: string | undefined;
  ttl: number | undefined;
  dscp: number | undefined;
} {
  const url = parseMediaUrl(text);
  if (url.listen) {
    throw new UsageError(
      `${text} is a listen URL ("@" or sources); sending needs a destination such as udp://127.0.0.1:5004`,
    );
  }
  const pick = <T>(name: string, a: T | undefined, b: T | undefined): T | undefined => {
    if (a !== undefined && b !== undefined && a !== b) {
      throw new UsageError(`--${name} ${String(b)} contradicts ${name}=${String(a)} in ${text}`);
    }
    return a ?? b;
  };
  if (url.port === 0) {
    throw new UsageError(
      `${text}: a destination needs a port from 1 to 65535 (port 0 only means "any port" when listening)`,
    );
  }
  const iface = pick('iface', url.iface, extra.iface);
  const ttl = pick('ttl', url.ttl, extra.ttl);
  const dscp = pick('dscp', url.dscp, extra.dscp);
  if (iface !== undefined) findInterface(iface);
  if (url.zone !== undefined) findInterface(url.zone);
  if (extra.bind !== undefined) {
    const family = addressFamily(extra.bind);
    if (family === 0)
      throw new UsageError(
        `--bind must be an address literal (received ${JSON.stringify(extra.bind)})`,
      );
    if (url.family !== 0 && family !== url.family) {
      throw new UsageError(
        `--bind ${extra.bind} is not of the destination's family (IPv${url.family})`,
      );
    }
  }
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > 255)) {
    throw new UsageError(`--ttl must be an integer in 0..255 (received ${ttl})`);
  }
  if (ttl === 0 && !url.multicast) {
    throw new UsageError('a TTL of 0 applies to multicast only; a unicast TTL is 1..255');
  }
  if (dscp !== undefined && (!Number.isInteger(dscp) || dscp < 0 || dscp > 63)) {
    throw new UsageError(`--dscp must be an integer in 0..63 (received ${dscp})`);
  }
  return { url, iface, ttl, dscp };
}

/** Opens a socket aimed at the URL's destination. */
export async function openSender(
  text: string,
  extra: SenderOptions = {},
  signal?: AbortSignal,
): Promise<Sender> {
  const { url, iface, ttl, dscp } = parseSendUrl(text, extra);
  let address = url.host;
  if (url.family === 0) {
    const found = await resolveHost(url.host, { signal });
    const first = found[0];
    if (first === undefined) throw new UsageError(`${url.host} resolves to no address`);
    address = first.address;
  } else if (url.zone !== undefined) {
    address = `${url.host}%${url.zone}`;
  }
  const family = address.includes(':') ? 6 : 4;
  const multicast = classifyAddress(address).multicast;
  const options: UdpSocketOptions = { type: family === 6 ? 'udp6' : 'udp4' };
  if (url.bufferBytes !== undefined) options.sendBufferBytes = url.bufferBytes;
  if (dscp !== undefined) options.dscp = dscp;
  if (extra.bind !== undefined) options.address = extra.bind;
  if (multicast) {
    if (iface !== undefined) options.multicastInterface = iface;
    if (ttl !== undefined) options.multicastTtl = ttl;
    options.multicastLoopback = true;
  } else {
    if (iface !== undefined) options.address ??= interfaceAddress(iface, family);
    if (ttl !== undefined) options.ttl = ttl;
  }
  const socket = await UdpSocket.open(options);
  const host = family === 6 ? `[${address}]` : address;
  const egress = [
    iface !== undefined ? `via ${iface}` : multicast ? 'via the default multicast interface' : '',
    multicast ? `TTL ${ttl ?? socket.getMulticastTTL()}` : ttl !== undefined ? `TTL ${ttl}` : '',
    dscp !== undefined ? `DSCP ${dscp}` : '',
  ].filter((s) => s !== '');
  return {
    url,
    socket,
    address,
    port: url.port,
    description: `${url.scheme}://${host}:${url.port}${egress.length > 0 ? ` (${egress.join(', ')})` : ''}`,
  };
}
