/**
 * DTLS on the single-socket (Main profile) RistTransport, on loopback: certificate, fingerprint
 * and PSK handshakes with data both ways; lost first flights recovered by retransmission (a relay
 * drops them); wrong CA, fingerprint, PSK identity and PSK key; the allow-list; close during the
 * handshake; the too-large record; a second peer after the handshake; reads waiting when DTLS is
 * enabled; bad configuration; and native objects (SSL_CTX / SSL) and fds back to their baseline.
 * Without the addon only the test asserting NativeUnavailableError runs; the others skip with the
 * reason the addon did not load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  InvalidArgumentError,
  InvalidStateError,
  NativeUnavailableError,
  SocketClosedError,
  TimeoutError,
} from '../../src/errors.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';
import { DtlsError, MessageTooLargeError } from '../../src/errors.js';
import { RistTransport } from '../../src/rist/rist-transport.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { ipv6LoopbackSkipReason } from '../helpers/capabilities.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';
import { outcome, within } from '../helpers/settle.js';
import { dtlsSkipReason, fingerprint256, lossyRelay, makePki } from './fixtures/dtls-pki.js';
import type { Pki } from './fixtures/dtls-pki.js';

const skip = dtlsSkipReason() ?? false;
const v6Skip = skip || (ipv6LoopbackSkipReason() ?? false);
const pki: Pki | undefined = skip ? undefined : makePki();
process.on('exit', () => pki?.remove());

function live(): { contexts: number; connections: number } {
  return loadNative()?.msock_dtls_live() ?? { contexts: 0, connections: 0 };
}

/** A Main-profile receiver on 127.0.0.1 (or ::1) and a sender, closed after the test. */
async function pair(
  t: { after(fn: () => Promise<unknown>): void },
  host = '127.0.0.1',
): Promise<{ rx: RistTransport; tx: RistTransport; remote: { address: string; port: number } }> {
  const rx = await RistTransport.listenSingle(host, await freePort(host));
  const tx = await RistTransport.listenEphemeralSingle({
    type: host.includes(':') ? 'udp6' : 'udp4',
    address: host,
  });
  t.after(() => Promise.all([rx.close(), tx.close()]));
  return { rx, tx, remote: { address: host, port: rx.mediaPort } };
}

/** A port the kernel just handed out (listenSingle needs 1..65535). */
async function freePort(host: string): Promise<number> {
  const s = await UdpSocket.open({ type: host.includes(':') ? 'udp6' : 'udp4', address: host });
  const port = s.address().port;
  await s.close();
  return port;
}

function must(p: Pki | undefined): Pki {
  assert.ok(p, 'PKI missing');
  return p;
}

test(
  'without the addon enableDtlsClient/enableDtlsServer throw NativeUnavailableError',
  { skip: nativeStatus().loaded ? 'the addon is loaded (run with MEDIASOCK_NO_NATIVE=1)' : false },
  async (t) => {
    const rx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
    t.after(() => rx.close());
    assert.throws(
      () => rx.enableDtlsServer({ psk: { identity: 'id', key: '00' } }),
      (e: unknown) => e instanceof NativeUnavailableError && e.feature === 'DTLS',
    );
    assert.throws(
      () => rx.enableDtlsClient({ address: '127.0.0.1', port: 9 }, { verifyPeer: false }),
      NativeUnavailableError,
    );
    await assert.rejects(rx.handshake(), InvalidStateError);
  },
);

test('certificates: CA-verified handshake, data both ways, info, cleanup', { skip }, async (t) => {
  const p = must(pki);
  const fdBase = openFdCount();
  const liveBase = live();
  {
    const { rx, tx, remote } = await pair(t);
    rx.enableDtlsServer({
      cert: p.serverCert,
      key: p.serverKey,
      ca: p.caCert,
      verifyPeer: true,
    });
    tx.enableDtlsClient(remote, {
      ca: p.caCert,
      cert: p.clientCert,
      key: p.clientKey,
      hostname: 'localhost',
    });
    const [server, client] = await Promise.all([
      rx.handshake({ timeoutMs: 10_000 }),
      tx.handshake({ timeoutMs: 10_000 }),
    ]);
    assert.equal(client.version, 'DTLSv1.2');
    assert.equal(server.cipher, client.cipher);
    assert.deepEqual(client.peer, remote);
    assert.deepEqual(server.peer, { address: '127.0.0.1', port: tx.mediaPort });
    assert.equal(client.peerFingerprint, fingerprint256(p.serverCert));
    assert.equal(server.peerFingerprint, fingerprint256(p.clientCert));
    assert.equal(rx.dtls, server);
    assert.ok(client.maxDataBytes > 1300 && client.maxDataBytes < 1472, `${client.maxDataBytes}`);

    for (let i = 0; i < 3; i++) {
      assert.equal(await tx.writeMedia(Buffer.from(`media ${i}`)), 7);
      const got = await rx.readMedia();
      assert.deepEqual(
        { data: got.data.toString(), address: got.address, port: got.port },
        { data: `media ${i}`, address: '127.0.0.1', port: tx.mediaPort },
      );
    }
    await rx.writeRtcp(Buffer.from('rtcp'), server.peer);
    assert.equal((await tx.readRtcp()).data.toString(), 'rtcp');
    assert.equal(tx.stats.mediaSent, 3);
    assert.equal(rx.stats.mediaReceived, 3);
    assert.equal(rx.stats.dtls?.recordsReceived, 3);
    assert.equal(rx.stats.dtls?.cookiesSent, 1, 'one HelloVerifyRequest');
    assert.equal(live().connections - liveBase.connections, 2);
    await assert.rejects(
      tx.writeMedia(Buffer.from('x'), { address: '127.0.0.1', port: 9 }),
      InvalidArgumentError,
    );
    // The server hears the client's close_notify: its reads end with reason 'peer-closed'.
    const ended = rx.readMedia();
    await tx.close();
    await assert.rejects(
      ended,
      (e: unknown) => e instanceof DtlsError && e.reason === 'peer-closed',
    );
    await rx.close();
  }
  assert.deepEqual(live(), liveBase);
  await assertFdsBackToBaseline(fdBase);
});

test('PSK: handshake with identity + key, data both ways', { skip }, async (t) => {
  const { rx, tx, remote } = await pair(t);
  const psk = { identity: 'rist-sender', key: '000102030405060708090a0b0c0d0e0f' };
  rx.enableDtlsServer({ psk });
  tx.enableDtlsClient(remote, { psk });
  const [server, client] = await Promise.all([rx.handshake(), tx.handshake()]);
  assert.match(client.cipher, /PSK/);
  assert.equal(server.pskIdentity, 'rist-sender');
  assert.equal(client.peerFingerprint, undefined);
  await tx.writeMedia(Buffer.from('to server'));
  assert.equal((await rx.readMedia()).data.toString(), 'to server');
  await rx.writeMedia(Buffer.from('to client'));
  assert.equal((await tx.readMedia()).data.toString(), 'to client');
});

test('fingerprint pinning accepts a self-signed server without a CA', { skip }, async (t) => {
  const p = must(pki);
  const { rx, tx, remote } = await pair(t);
  rx.enableDtlsServer({ cert: p.rogueCert, key: p.rogueKey });
  tx.enableDtlsClient(remote, { fingerprint: fingerprint256(p.rogueCert) });
  const [, client] = await Promise.all([rx.handshake(), tx.handshake()]);
  assert.equal(client.peerFingerprint, fingerprint256(p.rogueCert));
});

test('lost first flights are retransmitted and the handshake completes', { skip }, async (t) => {
  const p = must(pki);
  const { rx, tx } = await pair(t);
  // Drop the first ClientHello and the first reply (the HelloVerifyRequest) and the one after.
  const relay = await lossyRelay({ address: '127.0.0.1', port: rx.mediaPort }, 1, 2);
  t.after(() => relay.close());
  rx.enableDtlsServer({ cert: p.serverCert, key: p.serverKey, retransmitInitialMs: 50 });
  tx.enableDtlsClient(
    { address: '127.0.0.1', port: relay.port },
    { ca: p.caCert, retransmitInitialMs: 50 },
  );
  await Promise.all([rx.handshake({ timeoutMs: 20_000 }), tx.handshake({ timeoutMs: 20_000 })]);
  assert.equal(relay.dropped(), 3);
  assert.ok((tx.stats.dtls?.retransmits ?? 0) >= 2, JSON.stringify(tx.stats.dtls));
  await tx.writeMedia(Buffer.from('after loss'));
  assert.equal((await rx.readMedia()).data.toString(), 'after loss');
  assert.equal(relay.sendErrors(), 0);
});

test('a server certificate from another CA fails with reason verify', { skip }, async (t) => {
  const p = must(pki);
  const { rx, tx, remote } = await pair(t);
  rx.enableDtlsServer({ cert: p.rogueCert, key: p.rogueKey });
  tx.enableDtlsClient(remote, { ca: p.caCert });
  const server = outcome(rx.handshake({ timeoutMs: 30_000 }));
  await assert.rejects(tx.handshake(), (e: unknown) => {
    assert.ok(e instanceof DtlsError, String(e));
    assert.equal(e.code, 'MEDIASOCK_ERR_DTLS');
    assert.equal(e.reason, 'verify');
    assert.match(e.verifyResult ?? '', /certificate/);
    assert.match(e.openssl, /certificate verify failed/);
    return true;
  });
  assert.equal(tx.dtls, undefined);
  await assert.rejects(tx.writeMedia(Buffer.from('x')), InvalidStateError);
  await rx.close();
  assert.ok((await server) instanceof SocketClosedError);
  assert.equal(rx.stats.dtls?.recordsReceived, 0);
});

test('a wrong fingerprint fails with reason fingerprint and no data', { skip }, async (t) => {
  const p = must(pki);
  const { rx, tx, remote } = await pair(t);
  rx.enableDtlsServer({ cert: p.serverCert, key: p.serverKey, maxPendingHandshakes: 1 });
  tx.enableDtlsClient(remote, { fingerprint: fingerprint256(p.rogueCert) });
  const server = outcome(rx.handshake({ timeoutMs: 30_000 }));
  await assert.rejects(
    tx.handshake(),
    (e: unknown) => e instanceof DtlsError && e.reason === 'fingerprint',
  );
  await rx.close();
  assert.ok((await server) instanceof SocketClosedError);
  assert.equal(rx.stats.mediaReceived, 0);
});

test('an unknown PSK identity fails with an alert; a wrong key times out', { skip }, async (t) => {
  const { rx, tx, remote } = await pair(t);
  rx.enableDtlsServer({ psk: { identity: 'right', key: '0011223344556677' } });
  tx.enableDtlsClient(remote, { psk: { identity: 'wrong', key: '0011223344556677' } });
  const server = outcome(rx.handshake({ timeoutMs: 30_000 }));
  await assert.rejects(tx.handshake(), (e: unknown) => {
    assert.ok(e instanceof DtlsError, String(e));
    assert.equal(e.reason, 'alert');
    assert.match(e.alert ?? '', /unknown PSK identity/i);
    return true;
  });
  await rx.close();
  assert.ok((await server) instanceof SocketClosedError);
  assert.equal(rx.stats.dtls?.handshakeFailures, 1);

  // A wrong key with the right identity: the server cannot decrypt the client's Finished, and
  // DTLS drops records that fail to decrypt (RFC 6347 §4.1.2.7), so no alert comes: a timeout.
  const other = await pair(t);
  other.rx.enableDtlsServer({ psk: { identity: 'id', key: '0011223344556677' } });
  other.tx.enableDtlsClient(other.remote, {
    psk: { identity: 'id', key: '7766554433221100' },
    retransmitInitialMs: 50,
  });
  const results = await Promise.allSettled([
    other.rx.handshake({ timeoutMs: 1500 }),
    other.tx.handshake({ timeoutMs: 1500 }),
  ]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof TimeoutError, String(r.reason));
  }
  assert.equal(other.rx.stats.mediaReceived, 0);
  assert.equal(other.rx.dtls, undefined);
});

test('allowPeers drops other sources before any DTLS state', { skip }, async (t) => {
  const p = must(pki);
  const rx = await RistTransport.listenSingle('127.0.0.1', await freePort('127.0.0.1'));
  const stranger = await RistTransport.listenEphemeralSingle({ address: '127.0.0.2' });
  const friend = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => Promise.all([rx.close(), stranger.close(), friend.close()]));
  const remote = { address: '127.0.0.1', port: rx.mediaPort };
  rx.enableDtlsServer({ cert: p.serverCert, key: p.serverKey, allowPeers: ['127.0.0.1/32'] });
  stranger.enableDtlsClient(remote, { ca: p.caCert, retransmitInitialMs: 50 });
  friend.enableDtlsClient(remote, { ca: p.caCert });
  const server = rx.handshake();
  await assert.rejects(stranger.handshake({ timeoutMs: 400 }), TimeoutError);
  assert.ok((rx.stats.dtls?.notAllowed ?? 0) >= 1);
  assert.equal(rx.stats.dtls?.cookiesSent, 0);
  await friend.handshake();
  assert.equal((await server).peer.port, friend.mediaPort);
});

test('a second peer after the handshake is dropped and counted', { skip }, async (t) => {
  const p = must(pki);
  const { rx, tx, remote } = await pair(t);
  const intruder = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => intruder.close());
  rx.enableDtlsServer({ cert: p.serverCert, key: p.serverKey });
  tx.enableDtlsClient(remote, { ca: p.caCert });
  await Promise.all([rx.handshake(), tx.handshake()]);
  // The intruder tries a handshake of its own and some plain datagrams.
  intruder.enableDtlsClient(remote, { ca: p.caCert });
  const refused = intruder.handshake({ timeoutMs: 300 });
  const plain = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  t.after(() => plain.close());
  await plain.send(Buffer.from('not dtls'), remote.port, remote.address);
  await plain.send(Buffer.from('not dtls'), remote.port, remote.address);
  await assert.rejects(refused, TimeoutError);
  await tx.writeMedia(Buffer.from('only the peer'));
  assert.equal((await rx.readMedia()).data.toString(), 'only the peer');
  const dropped = rx.stats.dtls?.foreignDropped ?? 0;
  assert.ok(dropped >= 3, `foreignDropped ${dropped}`);
  assert.equal(rx.stats.dtls?.recordsReceived, 1);
});

test('a record larger than the path allows is refused with a typed error', { skip }, async (t) => {
  const { rx, tx, remote } = await pair(t);
  const psk = { identity: 'id', key: '00112233445566778899aabbccddeeff' };
  rx.enableDtlsServer({ psk, maxDatagramBytes: 600 });
  tx.enableDtlsClient(remote, { psk, maxDatagramBytes: 600 });
  const [, client] = await Promise.all([rx.handshake(), tx.handshake()]);
  assert.ok(client.maxDataBytes < 600 && client.maxDataBytes > 500, `${client.maxDataBytes}`);
  await assert.rejects(tx.writeMedia(Buffer.alloc(client.maxDataBytes + 1)), (e: unknown) => {
    assert.ok(e instanceof MessageTooLargeError, String(e));
    assert.equal(e.code, 'MEDIASOCK_ERR_MESSAGE_TOO_LARGE');
    assert.equal(e.size, client.maxDataBytes + 1);
    assert.equal(e.maxBytes, client.maxDataBytes);
    return true;
  });
  assert.equal(tx.stats.dtls?.recordsSent, 0);
  const full = Buffer.alloc(client.maxDataBytes, 7);
  await tx.writeMedia(full);
  const got = await rx.readMedia();
  assert.equal(got.data.length, full.length);
  assert.ok(rx.mediaSocket.stats.bytesReceived > 0);
});

test(
  'close during the handshake rejects it with SocketClosedError and frees everything',
  { skip },
  async (t) => {
    const fdBase = openFdCount();
    const liveBase = live();
    const silent = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    t.after(() => silent.close());
    const tx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
    tx.enableDtlsClient(
      { address: '127.0.0.1', port: silent.address().port },
      { verifyPeer: false, retransmitInitialMs: 20 },
    );
    const rx = await RistTransport.listenSingle('127.0.0.1', await freePort('127.0.0.1'));
    rx.enableDtlsServer({ psk: { identity: 'id', key: 'aa' } });
    const pending = [tx.handshake({ timeoutMs: 0 }), rx.handshake({ timeoutMs: 0 })];
    assert.equal(live().connections - liveBase.connections, 1, 'the client connection exists');
    await Promise.all([tx.close(), rx.close()]);
    for (const p of pending) await assert.rejects(p, SocketClosedError);
    await assert.rejects(tx.handshake(), SocketClosedError);
    await assert.rejects(tx.readMedia(), SocketClosedError);
    assert.deepEqual(live(), liveBase);
    await silent.close();
    await assertFdsBackToBaseline(fdBase);
  },
);

test('handshake: abort signal, timeout, and a second concurrent call', { skip }, async (t) => {
  const silent = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const tx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => Promise.all([silent.close(), tx.close()]));
  tx.enableDtlsClient({ address: '127.0.0.1', port: silent.address().port }, { verifyPeer: false });
  const liveBase = live();
  const ac = new AbortController();
  const first = tx.handshake({ signal: ac.signal });
  await assert.rejects(tx.handshake(), InvalidStateError); // a rejection, never a sync throw
  ac.abort();
  await assert.rejects(
    first,
    (e: unknown) => (e as { code?: string }).code === 'MEDIASOCK_ERR_ABORTED',
  );
  assert.equal(live().connections, liveBase.connections, 'the aborted attempt was freed');
  await assert.rejects(tx.handshake({ timeoutMs: 50 }), TimeoutError);
  await assert.rejects(tx.writeMedia(Buffer.from('x')), InvalidStateError);
});

test(
  'reads waiting when DTLS is enabled get decrypted records, never handshake bytes',
  { skip },
  async (t) => {
    const { rx, tx, remote } = await pair(t);
    const psk = { identity: 'rist-sender', key: '000102030405060708090a0b0c0d0e0f' };
    // Reads and a batch loop started on the plain transports, before DTLS.
    const rxReads = [outcome(rx.readMedia()), outcome(rx.readRtcp())];
    const txRead = outcome(tx.readMedia());
    const batches = outcome(
      (async () => {
        for await (const batch of rx.mediaBatches()) void batch;
      })(),
    );
    rx.enableDtlsServer({ psk });
    tx.enableDtlsClient(remote, { psk });
    await within(Promise.all([rx.handshake(), tx.handshake()]), 10_000, 'handshake');
    await tx.writeMedia(Buffer.from('one'));
    await tx.writeMedia(Buffer.from('two'));
    await rx.writeMedia(Buffer.from('back'));
    const got = await within(Promise.all([...rxReads, txRead]), 5000, 'the waiting reads');
    assert.deepEqual(
      got.map((r) => (r as { data?: Buffer }).data?.toString() ?? String(r)),
      ['one', 'two', 'back'],
    );
    const ended = await within(batches, 5000, 'the batch loop');
    assert.ok(ended instanceof InvalidStateError, String(ended));
    assert.equal(rx.stats.mediaReceived, 2);
  },
);

test('server without cookies, over IPv6 loopback', { skip: v6Skip }, async (t) => {
  const p = must(pki);
  const { rx, tx, remote } = await pair(t, '::1');
  rx.enableDtlsServer({ cert: p.serverCert, key: p.serverKey, cookies: false });
  tx.enableDtlsClient(remote, { fingerprint: fingerprint256(p.serverCert) });
  const [server, client] = await Promise.all([rx.handshake(), tx.handshake()]);
  assert.equal(rx.stats.dtls?.cookiesSent, 0);
  assert.equal(server.peer.address, '::1');
  assert.ok(client.maxDataBytes < 1452);
  await tx.writeMedia(Buffer.from('v6'));
  assert.equal((await rx.readMedia()).data.toString(), 'v6');
});

test('configuration errors are typed and leave nothing behind', { skip }, async (t) => {
  const p = must(pki);
  const liveBase = live();
  const simple = await RistTransport.listenEphemeral({ address: '127.0.0.1' });
  const main = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => Promise.all([simple.close(), main.close()]));
  const remote = { address: '127.0.0.1', port: 9 };
  assert.throws(
    () => simple.enableDtlsServer({ psk: { identity: 'a', key: '00' } }),
    InvalidStateError,
  );
  assert.throws(() => main.enableDtlsClient(remote, {}), InvalidArgumentError);
  assert.throws(() => main.enableDtlsServer({}), InvalidArgumentError);
  assert.throws(
    () => main.enableDtlsClient(remote, { fingerprint: 'AB:CD' }),
    InvalidArgumentError,
  );
  assert.throws(
    () => main.enableDtlsClient(remote, { psk: { identity: 'a', key: 'xyz' } }),
    InvalidArgumentError,
  );
  assert.throws(
    () => main.enableDtlsServer({ cert: p.serverCert, key: p.rogueKey }),
    (e: unknown) =>
      e instanceof DtlsError && e.reason === 'config' && /PEM private key/.test(e.message),
  );
  assert.throws(
    () => main.enableDtlsClient(remote, { verifyPeer: false, ciphers: 'NO-SUCH-CIPHER' }),
    (e: unknown) => e instanceof DtlsError && e.reason === 'config' && e.openssl.length > 0,
  );
  assert.throws(
    () => main.enableDtlsServer({ psk: { identity: 'a', key: '00' }, allowPeers: ['nope'] }),
    InvalidArgumentError,
  );
  assert.throws(
    () => main.enableDtlsClient(remote, { verifyPeer: false, maxDatagramBytes: 100 }),
    InvalidArgumentError,
  );
  for (const hostname of ['local\0host', 'local host', 'a\nb', 'x'.repeat(254), '']) {
    assert.throws(
      () => main.enableDtlsClient(remote, { verifyPeer: false, hostname }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'hostname',
      JSON.stringify(hostname),
    );
  }
  assert.throws(
    () => main.enableDtlsClient({ address: '127.0.0.1', port: 0 }, { verifyPeer: false }),
    (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'dest.port',
  );
  assert.deepEqual(live(), liveBase);
  main.enableDtlsClient(remote, { verifyPeer: false });
  assert.throws(() => main.enableDtlsClient(remote, { verifyPeer: false }), InvalidStateError);
});
