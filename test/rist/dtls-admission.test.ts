/**
 * The DTLS server's handshake slots under peers that answer the cookie exchange and then go
 * silent (issue 13, item 5), on real UDP sockets on 127.0.0.1. A silent peer is the library's own
 * DTLS client on a dgram socket, driven through the HelloVerifyRequest: it sends its ClientHello
 * with the cookie and is then freed, so it never sends or reads again. With default settings a
 * real client completes its handshake behind 4 such peers, and while 100 keep arriving (up to 100
 * new ones a second, each retrying until it gets a cookie); the server
 * never holds more than `maxPendingHandshakes` candidates. A candidate that answered is not
 * evicted but expires at `candidateTimeoutMs`. PSK only (no certificates to make). Skipped
 * without the addon, with the reason it did not load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidArgumentError, SocketClosedError, TimeoutError } from '../../src/errors.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';
import type { NativeBinding } from '../../src/native/index.js';
import { DtlsChannel } from '../../src/rist/dtls.js';
import { RistTransport } from '../../src/rist/rist-transport.js';
import { commandSkipReason } from '../helpers/capabilities.js';

const status = nativeStatus();
const skip = status.loaded
  ? false
  : `DTLS needs the native addon, which is not loaded: ${status.loadError?.message ?? 'unknown'}`;

const psk = { identity: 'rist', key: '00112233445566778899aabbccddeeff' };
const opensslSkip =
  skip ||
  (commandSkipReason('openssl', 'the interop variant drives openssl s_client processes') ?? false);

interface Endpoint {
  address: string;
  port: number;
}

function live(): { contexts: number; connections: number } {
  return loadNative()?.msock_dtls_live() ?? { contexts: 0, connections: 0 };
}

/** Polls `cond` every 10 ms for at most `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1000 && !cond() && Date.now() < deadline; i++) await sleep(10);
  assert.ok(cond(), `timed out after ${ms} ms waiting for ${what}`);
}

/**
 * A peer that completes the cookie exchange with `server` and then goes silent: a real DTLS
 * client (ours) whose ClientHello with the cookie is sent `copies` times (a second copy is what a
 * client that retransmits sends: the server then counts it as answering), after which the
 * client is freed and the socket neither sends nor reads. Resolves once the last copy was sent,
 * or after `replyWithinMs` without a HelloVerifyRequest (`cookie` false: an established server
 * no longer answers strangers).
 */
async function silentPeer(
  server: Endpoint,
  copies = 1,
  replyWithinMs = 3000,
): Promise<{ socket: Socket; cookie: boolean }> {
  const socket = createSocket('udp4');
  socket.on('error', (err) => assert.fail(`silent peer socket: ${err.message}`));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const sendRaw = (data: Buffer): Promise<number> =>
    new Promise((resolve, reject) =>
      socket.send(data, server.port, server.address, (err, n) => (err ? reject(err) : resolve(n))),
    );
  let replied = false;
  let cookieWasSent: () => void = () => undefined;
  const cookieSent = new Promise<void>((resolve) => (cookieWasSent = resolve));
  const channel = new DtlsChannel(
    loadNative() as NativeBinding,
    'client',
    { psk },
    {
      send: async (data) => {
        if (!replied) return sendRaw(data);
        for (let i = 0; i < copies; i++) await sendRaw(data);
        cookieWasSent();
        return data.length;
      },
      remote: server,
      family: 4,
    },
  );
  const onMessage = (data: Buffer, rinfo: Endpoint): void => {
    replied = true; // the HelloVerifyRequest; the client answers it at once
    socket.off('message', onMessage);
    channel.onDatagram(data, rinfo.address, rinfo.port);
  };
  socket.on('message', onMessage);
  const handshake = channel
    .handshake({ timeoutMs: 0 })
    .then(() => assert.fail('a silent peer completed a handshake'))
    .catch((err: unknown) => {
      if (!(err instanceof SocketClosedError)) throw err;
    });
  const outcome = await Promise.race([cookieSent, sleep(replyWithinMs, 'timeout' as const)]);
  await channel.close(); // frees the client: no retransmission, no reading; the socket stays
  await handshake;
  return { socket, cookie: outcome !== 'timeout' };
}

/** A silent peer that must have passed the cookie check; its socket. */
async function admittedSilentPeer(server: Endpoint, copies = 1): Promise<Socket> {
  const peer = await silentPeer(server, copies);
  assert.ok(peer.cookie, 'the silent peer got no HelloVerifyRequest within 3 s');
  return peer.socket;
}

async function closeSockets(sockets: Socket[]): Promise<void> {
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

/** A DTLS server (receiver) with default settings but `extra`, and a client for it. */
async function setup(
  t: { after(fn: () => Promise<unknown>): void },
  extra: { maxPendingHandshakes?: number; candidateTimeoutMs?: number } = {},
): Promise<{ rx: RistTransport; tx: RistTransport; server: Endpoint }> {
  const rx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  const tx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => Promise.all([rx.close(), tx.close()]));
  rx.enableDtlsServer({ psk, ...extra });
  const server = { address: '127.0.0.1', port: rx.mediaPort };
  tx.enableDtlsClient(server, { psk });
  return { rx, tx, server };
}

test(
  '4 silent peers holding every slot do not lock a real client out (defaults)',
  { skip },
  async (t) => {
    const { rx, tx, server } = await setup(t);
    const serverSide = rx.handshake({ timeoutMs: 30_000 });
    const silent: Socket[] = [];
    t.after(() => closeSockets(silent));
    for (let i = 0; i < 4; i++) silent.push(await admittedSilentPeer(server));
    await waitFor(
      () => rx.stats.dtls?.pendingHandshakes === 4,
      'the 4 silent peers to hold the slots',
    );

    const started = performance.now();
    await tx.handshake({ timeoutMs: 10_000 });
    const elapsed = performance.now() - started;
    t.diagnostic(`handshake behind 4 silent peers: ${elapsed.toFixed(1)} ms`);
    const info = await serverSide;
    assert.deepEqual(info.peer, { address: '127.0.0.1', port: tx.mediaPort });
    assert.ok(elapsed < 5000, `the real client needed ${elapsed.toFixed(0)} ms`);
    const stats = rx.stats.dtls;
    assert.ok(stats);
    assert.equal(stats.candidatesEvicted, 1, 'one silent peer gave its slot to the client');
    assert.equal(stats.pendingHandshakes, 0, 'the other candidates were freed at establishment');

    // The session works.
    const got = rx.readMedia();
    await tx.writeMedia(Buffer.from('after the silent peers'));
    assert.equal((await got).data.toString(), 'after the silent peers');
  },
);

test(
  '100 silent peers arriving before and during the handshake: it completes, memory stays bounded',
  { skip },
  async (t) => {
    const baseline = live().connections;
    const { rx, tx, server } = await setup(t);
    const silent: Socket[] = [];
    t.after(() => closeSockets(silent));

    let maxPending = 0;
    let maxConnections = 0;
    const sampler = setInterval(() => {
      maxPending = Math.max(maxPending, rx.stats.dtls?.pendingHandshakes ?? 0);
      maxConnections = Math.max(maxConnections, live().connections - baseline);
    }, 5);
    t.after(() => clearInterval(sampler));

    // 100 silent peers come in 10 lanes, a new one every 100 ms per lane (up to 100 a second in
    // all), each retrying on its own timer until it gets a cookie (or 3 s), until all have come
    // or the server is established; the real client starts when half of them have come.
    const serverSide = rx.handshake({ timeoutMs: 30_000 });
    let admitted = 0;
    let attempts = 0;
    const lane = async (): Promise<void> => {
      while (attempts < 100 && rx.dtls === undefined) {
        attempts++;
        const peer = await silentPeer(server, 1, 3000);
        silent.push(peer.socket);
        if (peer.cookie) admitted++;
        await sleep(100); // each lane starts a new peer every 100 ms: up to 100 a second in all
      }
    };
    const storm = Promise.all(Array.from({ length: 10 }, lane));
    await waitFor(() => attempts >= 50 && admitted >= 4, '50 silent peers', 30_000);
    assert.equal(rx.stats.dtls?.pendingHandshakes, 4, 'the silent peers hold every slot');

    const started = performance.now();
    await tx.handshake({ timeoutMs: 15_000 });
    const elapsed = performance.now() - started;
    const admittedBefore = admitted;
    const attemptsBefore = attempts;
    const info = await serverSide;
    assert.deepEqual(info.peer, { address: '127.0.0.1', port: tx.mediaPort });
    await storm;
    clearInterval(sampler);
    t.diagnostic(
      `handshake with 10 lanes of silent peers arriving (${attemptsBefore} had come when it completed, ${admittedBefore} of them with a cookie): ${elapsed.toFixed(1)} ms`,
    );
    assert.ok(elapsed < 5000, `the real client needed ${elapsed.toFixed(0)} ms`);
    const stats = rx.stats.dtls;
    assert.ok(stats);
    assert.ok(stats.candidatesEvicted >= 1, 'the real client took the slot of a silent peer');
    assert.ok(maxPending <= 4, `at most maxPendingHandshakes candidates (saw ${maxPending})`);
    // Server: 4 candidates + the cookie listener; the real client: 1; silent peers in flight: 10.
    assert.ok(maxConnections <= 16, `native DTLS connections above baseline: ${maxConnections}`);
    // After establishment the silent peers' late datagrams are foreign and cost nothing.
    assert.equal(stats.pendingHandshakes, 0);
    t.diagnostic(
      `evicted ${stats.candidatesEvicted}, expired ${stats.candidatesExpired}, rejected ${stats.pendingRejected}, cookies ${stats.cookiesSent}, peak candidates ${maxPending}, peak native connections +${maxConnections}`,
    );
  },
);

test(
  'a candidate that answered is not evicted; it expires at candidateTimeoutMs and frees its slot',
  { skip },
  async (t) => {
    const { rx, tx, server } = await setup(t, {
      maxPendingHandshakes: 1,
      candidateTimeoutMs: 1500,
    });
    const serverSide = rx.handshake({ timeoutMs: 30_000 });
    const silent: Socket[] = [];
    t.after(() => closeSockets(silent));
    // Two copies of its ClientHello with the cookie: the second counts as an answer.
    silent.push(await admittedSilentPeer(server, 2));
    await waitFor(() => rx.stats.dtls?.pendingHandshakes === 1, 'the peer to hold the slot');
    const admitted = performance.now();

    const started = performance.now();
    await tx.handshake({ timeoutMs: 10_000 });
    const elapsed = performance.now() - started;
    await serverSide;
    const stats = rx.stats.dtls;
    assert.ok(stats);
    assert.equal(stats.candidatesEvicted, 0);
    assert.equal(stats.candidatesExpired, 1);
    assert.ok(stats.pendingRejected >= 1, 'the client was refused while the slot was held');
    assert.ok(
      performance.now() - admitted >= 1400,
      'the client got the slot only after the deadline',
    );
    assert.ok(rx.dtlsLastError instanceof TimeoutError);
    assert.equal(rx.dtlsLastError.timeoutMs, 1500);
    t.diagnostic(
      `handshake behind one answering peer (deadline 1500 ms): ${elapsed.toFixed(0)} ms`,
    );
  },
);

test(
  'a silent candidate alone is freed at its deadline, with nobody waiting',
  { skip },
  async (t) => {
    const { rx, server } = await setup(t, { candidateTimeoutMs: 200 });
    const serverSide = rx.handshake({ timeoutMs: 0 });
    const silent: Socket[] = [];
    t.after(() => closeSockets(silent));
    silent.push(await admittedSilentPeer(server));
    await waitFor(() => rx.stats.dtls?.candidatesExpired === 1, 'the candidate to expire', 2000);
    assert.equal(rx.stats.dtls?.pendingHandshakes, 0);
    await rx.close();
    await assert.rejects(serverSide, SocketClosedError);
  },
);

test('candidateTimeoutMs is validated', { skip }, async (t) => {
  const rx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => rx.close());
  for (const bad of [0, -1, 1.5, 2 ** 31, '100', null]) {
    assert.throws(
      () => rx.enableDtlsServer({ psk, candidateTimeoutMs: bad as number }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'candidateTimeoutMs',
      String(bad),
    );
  }
});

/**
 * An `openssl s_client -dtls1_2` that answers the cookie exchange and is then stopped: it talks to
 * the server through a relay that forwards its first two datagrams (the ClientHello, then the
 * ClientHello with the cookie) and the server's first (the HelloVerifyRequest), then SIGSTOPs
 * the process and forwards nothing more. Resolves once it is stopped; killed when the test ends.
 */
async function stoppedOpensslPeer(
  t: { after(fn: () => Promise<unknown>): void },
  server: Endpoint,
): Promise<void> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  for (const s of [front, back]) {
    s.on('error', (err) => assert.fail(`relay socket: ${err.message}`));
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
  }
  let client: Endpoint | undefined;
  let toServer = 0;
  let toClient = 0;
  let stopped: () => void = () => undefined;
  const stop = new Promise<void>((resolve) => (stopped = resolve));
  const proc = spawn(
    'openssl',
    [
      's_client',
      '-dtls1_2',
      '-connect',
      `127.0.0.1:${front.address().port}`,
      '-psk',
      psk.key,
      '-psk_identity',
      psk.identity,
      '-ign_eof',
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  const exited = once(proc, 'exit');
  t.after(async () => {
    proc.kill('SIGKILL');
    await exited;
    await closeSockets([front, back]);
  });
  front.on('message', (data: Buffer, rinfo: Endpoint) => {
    client = { address: rinfo.address, port: rinfo.port };
    if (++toServer > 2) return;
    back.send(data, server.port, server.address);
    if (toServer === 2) {
      proc.kill('SIGSTOP');
      stopped();
    }
  });
  back.on('message', (data: Buffer) => {
    if (client === undefined || ++toClient > 1) return;
    front.send(data, client.port, client.address);
  });
  const outcome = await Promise.race([stop, sleep(5000, 'timeout' as const)]);
  assert.notEqual(outcome, 'timeout', 'openssl s_client did not answer the cookie within 5 s');
}

test(
  'openssl s_client: 4 peers stopped after the cookie exchange, then a real s_client completes',
  { skip: opensslSkip },
  async (t) => {
    const rx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
    t.after(() => rx.close());
    rx.enableDtlsServer({ psk });
    const server = { address: '127.0.0.1', port: rx.mediaPort };
    const serverSide = rx.handshake({ timeoutMs: 30_000 });
    for (let i = 0; i < 4; i++) await stoppedOpensslPeer(t, server);
    await waitFor(
      () => rx.stats.dtls?.pendingHandshakes === 4,
      'the stopped peers to hold the slots',
    );
    await sleep(150); // past any protection: the silent candidates are late

    const started = performance.now();
    const real = spawn(
      'openssl',
      [
        's_client',
        '-dtls1_2',
        '-connect',
        `127.0.0.1:${rx.mediaPort}`,
        '-psk',
        psk.key,
        '-psk_identity',
        psk.identity,
        '-ign_eof',
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    const exited = once(real, 'exit');
    t.after(async () => {
      real.kill('SIGKILL');
      await exited;
    });
    const info = await serverSide;
    const elapsed = performance.now() - started;
    t.diagnostic(`openssl s_client handshake behind 4 stopped s_clients: ${elapsed.toFixed(0)} ms`);
    assert.equal(info.peer.address, '127.0.0.1');
    assert.equal(info.pskIdentity, psk.identity);
    assert.ok(elapsed < 5000, `the real s_client needed ${elapsed.toFixed(0)} ms`);
    assert.equal(rx.stats.dtls?.candidatesEvicted, 1);
  },
);
