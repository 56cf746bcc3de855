/**
 * The Go RIST transport's contracts that mediasock adopts, on real loopback sockets:
 * - the ephemeral constructors default to a dual-stack `[::]` socket (Go's
 *   `net.ListenUDP("udp", nil)`), which reaches IPv4 and IPv6 receivers alike, while an IPv4
 *   `address` keeps them IPv4;
 * - `dtlsEnabled` (Go's `DTLSEnabled()`) says whether a handshake must run;
 * - a listener-sender finds the receiver's media port from its RTCP source port − 1
 *   (`mediaEndpointFromRtcp`).
 * And two it keeps its own way, as docs/porting.md says: `handshake()` without DTLS and
 * `joinMulticast` of a unicast address are errors (Go: no-ops), and a multicast TTL of 0 is set
 * (Go: 0 leaves the default).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RistTransport } from '../../src/rist/rist-transport.js';
import { mediaEndpointFromRtcp } from '../../src/rist/rtcp-peer.js';
import { InvalidArgumentError, InvalidStateError } from '../../src/errors.js';
import { nativeStatus } from '../../src/native/index.js';
import { ipv6LoopbackSkipReason } from '../helpers/capabilities.js';

const v6Skip = ipv6LoopbackSkipReason();

test(
  'the ephemeral constructors are dual-stack by default and reach IPv4 and IPv6 receivers',
  { skip: v6Skip },
  async (t) => {
    const tx = await RistTransport.listenEphemeral();
    const single = await RistTransport.listenEphemeralSingle();
    const pair = await RistTransport.listenEphemeralEvenOdd();
    const v4only = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
    const rx4 = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
    const rx6 = await RistTransport.listenEphemeralEvenOdd({ address: '::1' });
    t.after(() => Promise.all([tx, single, pair, v4only, rx4, rx6].map((x) => x.close())));
    assert.equal(tx.type, 'udp6');
    assert.equal(single.type, 'udp6');
    assert.equal(pair.type, 'udp6');
    assert.equal(tx.mediaSocket.address().address, '::');
    assert.equal(v4only.type, 'udp4', 'an IPv4 address keeps the IPv4 family');
    for (const [rx, address] of [
      [rx4, '127.0.0.1'],
      [rx6, '::1'],
    ] as const) {
      const got = rx.readMedia({ signal: AbortSignal.timeout(5000) });
      await tx.writeMedia(Buffer.from(`to ${address}`), { address, port: rx.mediaPort });
      const d = await got;
      assert.equal(d.data.toString(), `to ${address}`);
      // An IPv4 peer of a dual-stack socket is reported as IPv4, not ::ffff:127.0.0.1.
      assert.equal(d.address, address);
      assert.equal(d.port, tx.mediaPort);
    }
  },
);

test('a listener-sender sends media to the RTCP source port - 1 of its receiver', async (t) => {
  // The sender binds its pair and waits; the receiver (an even/odd pair) speaks first, with RTCP.
  const sender = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  const receiver = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  t.after(() => Promise.all([sender.close(), receiver.close()]));
  const rtcpIn = sender.readRtcp({ signal: AbortSignal.timeout(5000) });
  await receiver.writeRtcp(Buffer.from('receiver report'), {
    address: '127.0.0.1',
    port: sender.rtcpPort,
  });
  const rtcp = await rtcpIn;
  assert.equal(rtcp.port, receiver.rtcpPort);
  const media = mediaEndpointFromRtcp(rtcp);
  assert.deepEqual(media, { address: '127.0.0.1', port: receiver.mediaPort });
  const got = receiver.readMedia({ signal: AbortSignal.timeout(5000) });
  await sender.writeMedia(Buffer.from('media'), media);
  const d = await got;
  assert.equal(d.data.toString(), 'media');
  assert.equal(d.port, sender.mediaPort);
  for (const bad of [
    { address: '127.0.0.1', port: 5004 },
    { address: '127.0.0.1', port: 1 },
    { address: 'host', port: 5005 },
    null,
  ]) {
    assert.throws(
      () => mediaEndpointFromRtcp(bad as never),
      InvalidArgumentError,
      String(bad?.port),
    );
  }
});

test(
  'dtlsEnabled says whether a handshake must run; handshake without DTLS stays an error',
  {
    skip: nativeStatus().loaded ? undefined : 'DTLS needs the native addon, which is not loaded',
  },
  async (t) => {
    const plain = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
    const dtls = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
    t.after(() => Promise.all([plain.close(), dtls.close()]));
    assert.equal(plain.dtlsEnabled, false);
    await assert.rejects(plain.handshake(), InvalidStateError);
    dtls.enableDtlsServer({ psk: { identity: 'id', key: '000102030405060708090a0b0c0d0e0f' } });
    assert.equal(dtls.dtlsEnabled, true, 'configured, before any handshake');
    assert.equal(dtls.dtls, undefined, 'no session yet');
  },
);

test('kept as mediasock does it: joinMulticast of a unicast address is an error, TTL 0 is set', async (t) => {
  const tx = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
  t.after(() => tx.close());
  assert.throws(() => tx.joinMulticast('127.0.0.1'), InvalidArgumentError);
  tx.setMulticast({ ttl: 0, iface: 'lo' });
  assert.equal(tx.mediaSocket.getMulticastTTL(), 0);
  assert.equal(tx.rtcpSocket.getMulticastTTL(), 0);
});
