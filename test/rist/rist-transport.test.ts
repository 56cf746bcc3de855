/**
 * RistTransport on loopback: the Simple-profile pair (P even, P+1), the ephemeral constructors,
 * the Main-profile single socket, explicit destinations, address learning against a second media
 * source and RTCP from another host (senders bound to 127.0.0.2 and 127.0.0.3), close waking
 * readers, the dual-stack multicast pitfall, bad input, and fds back to baseline; the sockets
 * closed even when the DTLS layer's close fails, and a join error kept when its rollback fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RistTransport } from '../../src/rist/rist-transport.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { openRtpPortPair } from '../../src/rtp/port-pair.js';
import {
  AbortError,
  InvalidArgumentError,
  SocketClosedError,
  SystemCallError,
} from '../../src/errors.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';
import { ipv6LoopbackSkipReason } from '../helpers/capabilities.js';
import { nativeStatus } from '../../src/native/index.js';
import { DtlsChannel } from '../../src/rist/dtls.js';

const v6Skip = ipv6LoopbackSkipReason() ?? false;
const dtlsSkip = nativeStatus().loaded ? false : 'DTLS needs the native addon, which is not loaded';

/** `RistTransport.listen` on a random even port below the ephemeral range; retries a busy one (bounded). */
async function listenSomewhere(host: string): Promise<RistTransport> {
  for (let i = 0; i < 20; i++) {
    const port = 2 * Math.floor((20000 + Math.random() * 12000) / 2);
    try {
      return await RistTransport.listen(host, port);
    } catch (err) {
      if (!(err instanceof SystemCallError && err.code === 'EADDRINUSE')) throw err;
    }
  }
  throw new Error('no free even port pair in 20 tries');
}

test('listen: media on even P, RTCP on P+1; a sender reaches both; learned addresses', async (t) => {
  const baseline = openFdCount();
  const rx = await listenSomewhere('127.0.0.1');
  const tx = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
  t.after(() => Promise.all([rx.close(), tx.close()]));
  assert.equal(rx.profile, 'simple');
  assert.equal(rx.mediaPort % 2, 0);
  assert.equal(rx.rtcpPort, rx.mediaPort + 1);
  assert.notEqual(rx.mediaSocket, rx.rtcpSocket);

  await tx.writeMedia(Buffer.from('rtp'), { address: '127.0.0.1', port: rx.mediaPort });
  await tx.writeRtcp(Buffer.from('rtcp'), { address: '127.0.0.1', port: rx.rtcpPort });
  const media = await rx.readMedia();
  const rtcp = await rx.readRtcp();
  assert.deepEqual(
    { data: media.data.toString(), address: media.address, port: media.port },
    { data: 'rtp', address: '127.0.0.1', port: tx.mediaPort },
  );
  assert.equal(rtcp.data.toString(), 'rtcp');
  assert.equal(rtcp.port, tx.rtcpPort);
  assert.deepEqual(rx.learned, {
    media: { address: '127.0.0.1', port: tx.mediaPort },
    rtcp: { address: '127.0.0.1', port: tx.rtcpPort },
  });
  assert.ok(rx.silentFor() < 60_000);

  // The receiver answers on the learned RTCP address, from its own RTCP socket.
  await rx.writeRtcp(Buffer.from('rr'), { address: '127.0.0.1', port: tx.rtcpPort });
  const back = await tx.readRtcp();
  assert.equal(back.data.toString(), 'rr');
  assert.equal(back.port, rx.rtcpPort);
  assert.deepEqual(
    { ...rx.stats },
    {
      mediaReceived: 1,
      rtcpReceived: 1,
      mediaRejected: 0,
      rtcpRejected: 0,
      rebinds: 0,
      mediaSent: 0,
      rtcpSent: 1,
    },
  );
  await Promise.all([rx.close(), tx.close()]);
  await assertFdsBackToBaseline(baseline);
});

test('learning rejects a second media source and RTCP from another host (127.0.0.2 / .3)', async (t) => {
  const rx = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  const legit = await RistTransport.listenEphemeral({ address: '127.0.0.2' });
  const rogue = await RistTransport.listenEphemeral({ address: '127.0.0.3' });
  t.after(() => Promise.all([rx.close(), legit.close(), rogue.close()]));
  const media = { address: '127.0.0.1', port: rx.mediaPort };
  const rtcp = { address: '127.0.0.1', port: rx.rtcpPort };

  await legit.writeMedia(Buffer.from('m1'), media);
  assert.equal((await rx.readMedia()).address, '127.0.0.2');
  await rogue.writeMedia(Buffer.from('spoof'), media);
  await legit.writeMedia(Buffer.from('m2'), media);
  const second = await rx.readMedia();
  assert.equal(second.data.toString(), 'm2', 'the second source was dropped');
  assert.equal(rx.stats.mediaRejected, 1);

  await rogue.writeRtcp(Buffer.from('reflect'), rtcp);
  await legit.writeRtcp(Buffer.from('sr'), rtcp);
  const r = await rx.readRtcp();
  assert.equal(r.data.toString(), 'sr');
  assert.equal(r.address, '127.0.0.2');
  assert.equal(rx.stats.rtcpRejected, 1);
  assert.equal(rx.learned.rtcp?.address, '127.0.0.2');
});

test('learn: false returns every datagram', async (t) => {
  const rx = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1', learn: false });
  const a = await UdpSocket.open({ type: 'udp4', address: '127.0.0.2' });
  const b = await UdpSocket.open({ type: 'udp4', address: '127.0.0.3' });
  t.after(() => Promise.all([rx.close(), a.close(), b.close()]));
  await a.send('a', rx.mediaPort, '127.0.0.1');
  await b.send('b', rx.mediaPort, '127.0.0.1');
  assert.equal((await rx.readMedia()).address, '127.0.0.2');
  assert.equal((await rx.readMedia()).address, '127.0.0.3');
  assert.deepEqual(rx.learned, { media: undefined, rtcp: undefined });
});

test('rebindAfterMs: a new media source is learned after the peer went silent', async (t) => {
  const rx = await RistTransport.listenEphemeralEvenOdd({
    address: '127.0.0.1',
    rebindAfterMs: 1,
  });
  const a = await UdpSocket.open({ type: 'udp4', address: '127.0.0.2' });
  const b = await UdpSocket.open({ type: 'udp4', address: '127.0.0.3' });
  t.after(() => Promise.all([rx.close(), a.close(), b.close()]));
  await a.send('a', rx.mediaPort, '127.0.0.1');
  await rx.readMedia();
  // Wait (bounded) until the transport has been silent for longer than rebindAfterMs.
  for (let i = 0; i < 100 && rx.silentFor() < 5; i++) await new Promise((r) => setTimeout(r, 5));
  await b.send('b', rx.mediaPort, '127.0.0.1');
  assert.equal((await rx.readMedia()).address, '127.0.0.3');
  assert.equal(rx.stats.rebinds, 1);
});

test('listenEphemeralEvenOdd gives an adjacent pair; listenEphemeral two sockets', async (t) => {
  const pair = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  const loose = await RistTransport.listenEphemeral();
  t.after(() => Promise.all([pair.close(), loose.close()]));
  assert.equal(pair.mediaPort % 2, 0);
  assert.equal(pair.rtcpPort, pair.mediaPort + 1);
  assert.equal(loose.type, ipv6LoopbackSkipReason() === undefined ? 'udp6' : 'udp4'); // dual-stack by default
  assert.notEqual(loose.mediaPort, loose.rtcpPort);
});

test('Main profile: one socket, media and rtcp alias it, closed once', async (t) => {
  const baseline = openFdCount();
  const single = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  const tx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => Promise.all([single.close(), tx.close()]));
  assert.equal(single.profile, 'main');
  assert.equal(single.mediaSocket, single.rtcpSocket);
  assert.equal(single.mediaPort, single.rtcpPort);
  await tx.writeRtcp(Buffer.from('gre'), { address: '127.0.0.1', port: single.mediaPort });
  assert.equal((await single.readRtcp()).data.toString(), 'gre');
  await tx.writeMedia(Buffer.from('gre2'), { address: '127.0.0.1', port: single.mediaPort });
  assert.equal((await single.readMedia()).data.toString(), 'gre2');

  const port = single.mediaPort;
  await single.close();
  await tx.close();
  // listenSingle takes any port, odd ones too.
  const again = await RistTransport.listenSingle('127.0.0.1', port);
  assert.equal(again.mediaPort, port);
  await again.close();
  await assertFdsBackToBaseline(baseline);
});

test('close is idempotent and wakes pending readers with SocketClosedError', async () => {
  const rx = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  const media = rx.readMedia();
  const rtcp = rx.readRtcp();
  const closing = rx.close();
  assert.equal(rx.close(), closing);
  await closing;
  await assert.rejects(media, SocketClosedError);
  await assert.rejects(rtcp, SocketClosedError);
  await assert.rejects(rx.readMedia(), SocketClosedError);
  await assert.rejects(
    rx.writeMedia(Buffer.from('x'), { address: '127.0.0.1', port: 9 }),
    SocketClosedError,
  );
  assert.throws(() => rx.joinMulticast('239.255.0.1'), SocketClosedError);
});

test('a read is cancelled by its AbortSignal', async (t) => {
  const rx = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  t.after(() => rx.close());
  const controller = new AbortController();
  const read = rx.readMedia({ signal: controller.signal });
  controller.abort();
  await assert.rejects(read, AbortError);
});

test(
  'udp6 (dual-stack): IPv4 peers are addressed and reported unmapped; IPv4 groups refused',
  { skip: v6Skip },
  async (t) => {
    const rx = await RistTransport.listenEphemeralEvenOdd({ type: 'udp6' });
    const tx = await RistTransport.listenEphemeral({ type: 'udp4', address: '127.0.0.1' });
    t.after(() => Promise.all([rx.close(), tx.close()]));
    await tx.writeMedia(Buffer.from('v4'), { address: '127.0.0.1', port: rx.mediaPort });
    const d = await rx.readMedia();
    assert.equal(d.address, '127.0.0.1');
    await rx.writeRtcp(Buffer.from('back'), { address: d.address, port: tx.rtcpPort });
    assert.equal((await tx.readRtcp()).data.toString(), 'back');
    await assert.rejects(
      rx.writeMedia(Buffer.from('x'), { address: '239.255.0.1', port: 5004 }),
      (err: unknown) => err instanceof InvalidArgumentError && /type: 'udp4'/.test(err.message),
    );
  },
);

test('bad input: odd, zero and out-of-range ports, names, destinations', async (t) => {
  for (const port of [5001, 0, 65535, 70000, -2, 5000.5]) {
    await assert.rejects(
      RistTransport.listen('127.0.0.1', port),
      InvalidArgumentError,
      String(port),
    );
  }
  await assert.rejects(RistTransport.listen('localhost', 5000), InvalidArgumentError);
  await assert.rejects(RistTransport.listenSingle('127.0.0.1', 0), InvalidArgumentError);
  await assert.rejects(
    RistTransport.listenEphemeral({ type: 'udp5' as 'udp4' }),
    InvalidArgumentError,
  );
  await assert.rejects(RistTransport.listenEphemeral({ rebindAfterMs: -1 }), InvalidArgumentError);
  const tx = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
  t.after(() => tx.close());
  for (const dest of [
    { address: '127.0.0.1', port: 0 },
    { address: 'example.org', port: 5004 },
    { address: '127.0.0.1', port: 65536 },
    null,
  ]) {
    await assert.rejects(
      tx.writeMedia(Buffer.from('x'), dest as { address: string; port: number }),
      InvalidArgumentError,
      JSON.stringify(dest),
    );
  }
  assert.throws(() => tx.setMulticast({ ttl: 300 }), InvalidArgumentError);
  assert.throws(() => tx.joinMulticast('10.0.0.1', { iface: 'lo' }), InvalidArgumentError);
});

test('a busy RTCP port fails listen with EADDRINUSE and closes the media socket again', async (t) => {
  const pair = await openRtpPortPair({ type: 'udp4', address: '127.0.0.1' });
  const { rtpPort, rtcpPort } = pair;
  await pair.close();
  const baseline = openFdCount();
  const squat = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: rtcpPort });
  t.after(() => squat.close());
  await assert.rejects(
    RistTransport.listen('127.0.0.1', rtpPort),
    (err: unknown) =>
      err instanceof SystemCallError && err.code === 'EADDRINUSE' && err.port === rtcpPort,
  );
  // The media socket on rtpPort was closed again: the port can be bound.
  const media = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: rtpPort });
  await media.close();
  await squat.close();
  await assertFdsBackToBaseline(baseline);
});

test(
  'close closes the sockets even when the DTLS layer fails to close',
  { skip: dtlsSkip },
  async (t) => {
    const baseline = openFdCount();
    const tx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
    tx.enableDtlsClient({ address: '127.0.0.1', port: 9 }, { verifyPeer: false });
    const injected = new Error('injected DTLS close failure');
    const port = tx.mediaPort;
    const close = Object.getOwnPropertyDescriptor(DtlsChannel.prototype, 'close')?.value as (
      this: DtlsChannel,
    ) => Promise<void>;
    t.mock.method(DtlsChannel.prototype, 'close', async function (this: DtlsChannel) {
      await close.call(this);
      throw injected;
    });
    const pending = tx.readMedia();
    const closing = tx.close();
    assert.equal(tx.close(), closing, 'idempotent');
    await assert.rejects(closing, (e: unknown) => e === injected);
    await assert.rejects(pending, SocketClosedError);
    assert.equal(tx.mediaSocket.closed, true);
    // The port is free again and the fd gone.
    const again = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port });
    await again.close();
    await assertFdsBackToBaseline(baseline);
  },
);

test('joinMulticast: a failed rollback does not hide the join error', async (t) => {
  const rx = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
  t.after(() => rx.close());
  const group = '239.255.0.1';
  const joinError = new Error('injected join failure');
  const dropError = new Error('injected drop failure');
  t.mock.method(rx.mediaSocket, 'addMembership', () => []);
  t.mock.method(rx.rtcpSocket, 'addMembership', () => {
    throw joinError;
  });
  const drop = t.mock.method(rx.mediaSocket, 'dropMembership', () => {
    throw dropError;
  });
  assert.throws(
    () => rx.joinMulticast(group),
    (e: unknown) => {
      assert.ok(e instanceof AggregateError, String(e));
      assert.deepEqual(e.errors, [joinError, dropError]);
      assert.equal(e.cause, joinError);
      return true;
    },
  );
  assert.equal(drop.mock.callCount(), 1);
  // A rollback that works leaves the join's own error as it was.
  drop.mock.mockImplementation(() => undefined);
  assert.throws(
    () => rx.joinMulticast(group),
    (e: unknown) => e === joinError,
  );
  assert.deepEqual(drop.mock.calls[1]?.arguments, [group, undefined]);
});

test('bad options of reads and leaves, and a DTLS peer on port 0, are InvalidArgumentError', async (t) => {
  const simple = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
  const main = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => Promise.all([simple.close(), main.close()]));
  for (const bad of [null, 42, 'x']) {
    await assert.rejects(simple.readMedia(bad as never), InvalidArgumentError, String(bad));
    await assert.rejects(simple.readRtcp(bad as never), InvalidArgumentError, String(bad));
    await assert.rejects(main.readRtcp(bad as never), InvalidArgumentError, String(bad));
    assert.throws(() => simple.leaveMulticast('239.1.1.1', bad as never), InvalidArgumentError);
  }
  assert.throws(() => simple.leaveMulticast(null as never), InvalidArgumentError);
  // Port 0 is refused before the addon is even asked for (so also without it).
  assert.throws(
    () => main.enableDtlsClient({ address: '127.0.0.1', port: 0 }, { verifyPeer: false }),
    (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'dest.port',
  );
});

test('joinMulticast with a source on a group outside the SSM range (include filter on 239/8)', async (t) => {
  const rx = await listenSomewhere('0.0.0.0');
  t.after(() => rx.close());
  rx.joinMulticast('239.255.44.1', { iface: 'lo', source: '127.0.0.2' });
  for (const socket of [rx.mediaSocket, rx.rtcpSocket]) {
    assert.deepEqual(
      socket.memberships().map((m) => [m.group, m.source, m.interface]),
      [['239.255.44.1', '127.0.0.2', 'lo']],
    );
  }
  // Only the included source reaches the media socket.
  const port = rx.mediaPort;
  for (const source of ['127.0.0.3', '127.0.0.2']) {
    const tx = await UdpSocket.open({
      type: 'udp4',
      address: source,
      multicastInterface: 'lo',
      multicastTtl: 0,
    });
    await tx.send(`from ${source}`, port, '239.255.44.1');
    await tx.close();
  }
  const d = await rx.mediaSocket.receive({ signal: AbortSignal.timeout(2000) });
  assert.equal(d.address, '127.0.0.2');
});
