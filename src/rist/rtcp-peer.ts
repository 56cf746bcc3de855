/**
 * The media endpoint of a Simple-profile peer from its RTCP source: RTCP comes from the odd port
 * P+1 of the peer's even/odd pair, so its media port is P = RTCP port − 1 (VSF TR-06-1 §5.1). A
 * listener-sender — a sender that binds the well-known pair and waits for the receiver to speak
 * first, as the Go RIST transport allows — learns where to send media from the receiver's first
 * RTCP packet this way.
 *
 * What it does not do: check that the peer really listens there (a receiver on two unrelated
 * ephemeral ports, `listenEphemeral`, breaks the rule; use `listenEphemeralEvenOdd` there).
 *
 * @module
 */
import { addressFamily } from '../address.js';
import { InvalidArgumentError } from '../errors.js';
import type { Endpoint } from './address-learning.js';

/**
 * `{ address, port: rtcp.port − 1 }` for the RTCP source `rtcp` of a Simple-profile peer.
 *
 * @throws InvalidArgumentError when `rtcp` is not `{ address, port }` with an IP literal and an
 *   odd port 3..65535 (an even RTCP port is not the upper half of an even/odd pair).
 */
export function mediaEndpointFromRtcp(rtcp: Endpoint): Endpoint {
  if (typeof rtcp !== 'object' || rtcp === null) {
    throw new InvalidArgumentError('rtcp', rtcp, 'must be an endpoint { address, port }');
  }
  const { address, port } = rtcp;
  if (typeof address !== 'string' || addressFamily(address.split('%')[0] ?? '') === 0) {
    throw new InvalidArgumentError('rtcp.address', address, 'must be an IP address literal');
  }
  if (
    typeof port !== 'number' ||
    !Number.isInteger(port) ||
    port < 3 ||
    port > 65535 ||
    port % 2 === 0
  ) {
    throw new InvalidArgumentError(
      'rtcp.port',
      port,
      'must be the odd RTCP port 3..65535 of an even/odd pair (media on port − 1)',
    );
  }
  return { address, port: port - 1 };
}
