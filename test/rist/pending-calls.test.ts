/**
 * Calls of a RistTransport that wait at the same time, with lifecycle events between them, on
 * loopback: several reads waiting at once each get their own datagram or record, in call order
 * with DTLS; a long-lived AbortSignal passed to many reads and to the handshake keeps no abort
 * listener behind; datagrams from rejected sources and an ICMP port unreachable while reads wait
 * change nothing for them; `close()` rejects every read still waiting with SocketClosedError, and
 * fds (and with DTLS the native objects) are back to their baseline. DTLS parts skip with the
 * reason the addon did not load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';

import { AbortError, SocketClosedError } from '../../src/errors.js';
import { loadNative } from '../../src/native/index.js';
import { RistTransport } from '../../src/rist/rist-transport.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { assertFdsBackToBaseline, openFdCount } from '../helpers/fds.js';
import { outcome, within } from '../helpers/settle.js';
import { dtlsSkipReason } from './fixtures/dtls-pki.js';

const skip = dtlsSkipReason() ?? false;
const psk = { identity: 'rist-sender', key: '000102030405060708090a0b0c0d0e0f' };

/** A UDP port on 127.0.0.1 the kernel just handed out and nothing listens on any more. */
async function freePort(): Promise<number> {
  const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const port = s.address().port;
  await s.close();
  return port;
}

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

test('plain: reads waiting at once, rejected sources and ICMP between, then close', async () => {
  const fdBase = openFdCount();
  const rx = await RistTransport.listenEphemeralEvenOdd({ address: '127.0.0.1' });
  const tx = await RistTransport.listenEphemeral({ type: 'udp4', address: '127.0.0.1' });
  const other = await RistTransport.listenEphemeral({ type: 'udp4', address: '127.0.0.1' });
  try {
    const dest = { address: '127.0.0.1', port: rx.mediaPort };
    const signal = new AbortController().signal;
    await tx.writeMedia(Buffer.from('learn me'), dest);
    await within(rx.readMedia({ signal }), 5000, 'the first read');
    const reads = [rx.readMedia({ signal }), rx.readMedia({ signal }), rx.readMedia({ signal })];
    for (let i = 0; i < 20; i++) await other.writeMedia(Buffer.from('not learned'), dest);
    // An ICMP port unreachable comes back to rx's media socket.
    await rx.writeMedia(Buffer.from('to nowhere'), {
      address: '127.0.0.1',
      port: await freePort(),
    });
    for (const s of ['a', 'b', 'c']) await tx.writeMedia(Buffer.from(s), dest);
    const got = await within(Promise.all(reads), 5000, 'the waiting reads');
    assert.deepEqual(got.map((d) => d.data.toString()).sort(), ['a', 'b', 'c']);
    assert.equal(rx.stats.mediaRejected, 20);
    assert.equal(abortListeners(signal), 0, 'no abort listener left by settled reads');

    const pending = [
      outcome(rx.readMedia({ signal })),
      outcome(rx.readMedia()),
      outcome(rx.readRtcp({ signal })),
      outcome(rx.readRtcp()),
    ];
    await rx.close();
    for (const r of await within(Promise.all(pending), 5000, 'reads pending at close'))
      assert.ok(r instanceof SocketClosedError, String(r));
    assert.equal(abortListeners(signal), 0, 'no abort listener left by closed reads');
  } finally {
    await Promise.all([rx.close(), tx.close(), other.close()]);
  }
  await assertFdsBackToBaseline(fdBase);
});

test(
  'DTLS: reads waiting at once, one long-lived signal, abort, then close',
  { skip },
  async () => {
    const fdBase = openFdCount();
    const liveBase = loadNative()?.msock_dtls_live();
    const rx = await RistTransport.listenSingle('127.0.0.1', await freePort());
    const tx = await RistTransport.listenEphemeralSingle({ type: 'udp4', address: '127.0.0.1' });
    try {
      rx.enableDtlsServer({ psk });
      tx.enableDtlsClient({ address: '127.0.0.1', port: rx.mediaPort }, { psk });
      const handshakeSignal = new AbortController().signal;
      await within(
        Promise.all([rx.handshake({ signal: handshakeSignal }), tx.handshake()]),
        10_000,
        'the handshake',
      );
      assert.equal(abortListeners(handshakeSignal), 0, 'the handshake left its abort listener');

      const controller = new AbortController();
      const signal = controller.signal;
      const reads = [0, 1, 2].map(() => rx.readMedia({ signal }));
      for (const s of ['a', 'b', 'c']) await tx.writeMedia(Buffer.from(s));
      const got = await within(Promise.all(reads), 5000, 'the waiting reads');
      assert.deepEqual(
        got.map((r) => r.data.toString()),
        ['a', 'b', 'c'],
      );
      for (let i = 0; i < 30; i++) {
        const read = rx.readMedia({ signal });
        await tx.writeMedia(Buffer.from(`m${i}`));
        assert.equal((await within(read, 5000, `read ${i}`)).data.toString(), `m${i}`);
      }
      assert.equal(abortListeners(signal), 0, 'no abort listener left by settled reads');

      const aborted = [outcome(rx.readMedia({ signal })), outcome(rx.readMedia({ signal }))];
      const closed = [outcome(rx.readMedia()), outcome(rx.readRtcp())];
      controller.abort();
      for (const r of await within(Promise.all(aborted), 5000, 'aborted reads'))
        assert.ok(r instanceof AbortError, String(r));
      await rx.close();
      for (const r of await within(Promise.all(closed), 5000, 'reads pending at close'))
        assert.ok(r instanceof SocketClosedError, String(r));
      assert.equal(abortListeners(signal), 0);
    } finally {
      await Promise.all([rx.close(), tx.close()]);
    }
    assert.deepEqual(loadNative()?.msock_dtls_live(), liveBase);
    await assertFdsBackToBaseline(fdBase);
  },
);
