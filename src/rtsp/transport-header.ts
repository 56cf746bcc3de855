/**
 * The RTSP `Transport` header (RFC 2326 §12.39): what the client offers in SETUP and what the
 * server answers.
 *
 * Only the parameters a receiving client acts on are read: profile and lower transport, unicast or
 * multicast, `client_port`, `server_port`, `port`, `destination`, `source`, `ttl`, `interleaved`
 * and `ssrc`. A reply that cannot be read throws {@link RtspProtocolError}; one that does not
 * match what was offered is the caller's {@link RtspTransportError}.
 *
 * @module
 */
import { RtspProtocolError } from '../errors.js';
import { InvalidArgumentError } from '../errors.js';
import { splitHeaderList } from './message.js';

/** A parsed transport specification. */
export interface TransportSpec {
  /** `RTP/AVP` or `RTP/AVP/TCP` (`RTP/AVP/UDP` is normalized to `RTP/AVP`). */
  protocol: 'RTP/AVP' | 'RTP/AVP/TCP';
  /** Delivery. RFC 2326 makes multicast the default; servers always say which. */
  delivery: 'unicast' | 'multicast';
  clientPorts?: [number, number];
  serverPorts?: [number, number];
  /** Multicast `port=` pair. */
  ports?: [number, number];
  destination?: string;
  source?: string;
  ttl?: number;
  interleaved?: [number, number];
  /** The server's RTP SSRC, as 8 hex digits parsed. */
  ssrc?: number;
}

function portPair(name: string, value: string, raw: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  const a = m === null ? NaN : Number(m[1]);
  const b = m === null ? NaN : m[2] === undefined ? a + 1 : Number(m[2]);
  if (!(a >= 0 && a <= 65535 && b >= 0 && b <= 65535)) {
    throw new RtspProtocolError(`Transport ${name} must be a port or port pair`, raw);
  }
  return [a, b];
}

/**
 * Parses the first transport of a `Transport` value (a server answers with one).
 *
 * @throws RtspProtocolError when the profile is not RTP/AVP or a parameter does not parse.
 */
export function parseTransport(value: string): TransportSpec {
  if (typeof value !== 'string')
    throw new InvalidArgumentError('value', value, 'must be a Transport header value');
  const first = splitHeaderList(value)[0] ?? '';
  const [proto = '', ...params] = first.split(';').map((p) => p.trim());
  const upper = proto.toUpperCase();
  if (upper !== 'RTP/AVP' && upper !== 'RTP/AVP/UDP' && upper !== 'RTP/AVP/TCP') {
    throw new RtspProtocolError('Transport must be RTP/AVP, RTP/AVP/UDP or RTP/AVP/TCP', first);
  }
  const spec: TransportSpec = {
    protocol: upper === 'RTP/AVP/TCP' ? 'RTP/AVP/TCP' : 'RTP/AVP',
    delivery: 'multicast',
  };
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).toLowerCase();
    const arg = eq < 0 ? '' : param.slice(eq + 1).replace(/^"|"$/g, '');
    switch (name) {
      case 'unicast':
      case 'multicast':
        spec.delivery = name;
        break;
      case 'client_port':
        spec.clientPorts = portPair(name, arg, first);
        break;
      case 'server_port':
        spec.serverPorts = portPair(name, arg, first);
        break;
      case 'port':
        spec.ports = portPair(name, arg, first);
        break;
      case 'interleaved':
        spec.interleaved = portPair(name, arg, first);
        if (spec.interleaved[0] > 255 || spec.interleaved[1] > 255) {
          throw new RtspProtocolError('Transport interleaved channels must be in 0..255', first);
        }
        break;
      case 'destination':
        spec.destination = arg;
        break;
      case 'source':
        spec.source = arg;
        break;
      case 'ttl': {
        const ttl = Number(arg);
        if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
          throw new RtspProtocolError('Transport ttl must be in 0..255', first);
        }
        spec.ttl = ttl;
        break;
      }
      case 'ssrc':
        if (/^[0-9a-f]{1,8}$/i.test(arg)) spec.ssrc = parseInt(arg, 16);
        break;
      default:
        break; // mode, append, layers …: nothing a receiving client acts on.
    }
  }
  return spec;
}

/** Formats a transport to offer in SETUP. */
export function formatTransport(spec: TransportSpec): string {
  if (typeof spec !== 'object' || spec === null)
    throw new InvalidArgumentError('spec', spec, 'must be an object (see TransportSpec)');
  if (typeof spec.protocol !== 'string' || typeof spec.delivery !== 'string')
    throw new InvalidArgumentError('spec', spec, 'must have a protocol and a delivery');
  const parts: string[] = [spec.protocol, spec.delivery];
  if (spec.clientPorts !== undefined) parts.push(`client_port=${spec.clientPorts.join('-')}`);
  if (spec.interleaved !== undefined) parts.push(`interleaved=${spec.interleaved.join('-')}`);
  if (spec.destination !== undefined) parts.push(`destination=${spec.destination}`);
  if (spec.ports !== undefined) parts.push(`port=${spec.ports.join('-')}`);
  return parts.join(';');
}
