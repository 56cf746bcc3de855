/**
 * DtlsChannel when the addon throws where nobody called it: two channels wired back to back in
 * memory (no sockets), PSK only, with a binding whose functions can be made to throw. A throw
 * while handling a received datagram or a timer is counted (`stats.internalErrors`), kept as
 * `lastError`, and ends the handshake attempt or the session; it never escapes `onDatagram` (a
 * socket 'message' listener, where it would kill the process). `handshake()` only ever rejects;
 * `close()` rejects the waiters and frees every native object even when close_notify fails; the
 * OpenSSL retransmission limit behind `timeoutMs: 0`. Skipped without the addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  DtlsError,
  InvalidArgumentError,
  InvalidStateError,
  SocketClosedError,
} from '../../src/errors.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';
import type { NativeBinding } from '../../src/native/index.js';
import { DtlsChannel } from '../../src/rist/dtls.js';
import type { DtlsClientConfig, DtlsServerConfig } from '../../src/rist/dtls-config.js';

const status = nativeStatus();
const skip = status.loaded
  ? false
  : `DTLS needs the native addon, which is not loaded: ${status.loadError?.message ?? 'unknown'}`;

const psk = { identity: 'rist', key: '00112233445566778899aabbccddeeff' };
const C = { address: '127.0.0.1', port: 40000 };
const S = { address: '127.0.0.1', port: 40001 };

function live(): { contexts: number; connections: number } {
  return loadNative()?.msock_dtls_live() ?? { contexts: 0, connections: 0 };
}

type Name = keyof NativeBinding & `msock_${string}`;

/** The real binding, whose functions throw `error` while armed (after running, with `after`). */
class Faulty {
  readonly binding: NativeBinding;
  readonly #armed = new Map<string, { error: Error; after: boolean }>();

  constructor() {
    const real = loadNative() as NativeBinding;
    const copy: Record<string, unknown> = { ...real };
    for (const [key, value] of Object.entries(real)) {
      if (typeof value !== 'function') continue;
      const fn = value as (...args: unknown[]) => unknown;
      copy[key] = (...args: unknown[]): unknown => {
        const fault = this.#armed.get(key);
        if (fault === undefined) return fn(...args);
        if (fault.after) fn(...args);
        throw fault.error;
      };
    }
    this.binding = copy as unknown as NativeBinding;
  }

  arm(name: Name, options: { after?: boolean } = {}): Error {
    const error = new Error(`injected ${name} failure`);
    this.#armed.set(name, { error, after: options.after ?? false });
    return error;
  }

  disarm(name: Name): void {
    this.#armed.delete(name);
  }
}

/** A client and a server channel whose datagrams reach each other on the next turn. */
function wire(
  options: {
    client?: Faulty;
    server?: Faulty;
    clientConfig?: DtlsClientConfig;
    serverConfig?: DtlsServerConfig;
  } = {},
): { client: DtlsChannel; server: DtlsChannel } {
  const server = serverChannel(options.server, options.serverConfig);
  const client = clientChannel(server.channel, C, options.client, options.clientConfig);
  server.connect(client, C);
  return { client, server: server.channel };
}

/** A server channel at S; `connect` tells it where each client is. */
function serverChannel(
  faulty?: Faulty,
  config: DtlsServerConfig = { psk },
): { channel: DtlsChannel; connect(client: DtlsChannel, at: typeof C): void } {
  const clients = new Map<number, DtlsChannel>();
  const channel = new DtlsChannel(faulty?.binding ?? native(), 'server', config, {
    send: (data, to) => {
      setImmediate(() => clients.get(to.port)?.onDatagram(data, S.address, S.port));
      return Promise.resolve(data.length);
    },
    family: 4,
  });
  return { channel, connect: (client, at) => clients.set(at.port, client) };
}

/** A client channel at `at` talking to `server` at S. */
function clientChannel(
  server: DtlsChannel,
  at: typeof C,
  faulty?: Faulty,
  config: DtlsClientConfig = { psk },
): DtlsChannel {
  return new DtlsChannel(faulty?.binding ?? native(), 'client', config, {
    send: (data) => {
      setImmediate(() => server.onDatagram(data, at.address, at.port));
      return Promise.resolve(data.length);
    },
    remote: S,
    family: 4,
  });
}

function native(): NativeBinding {
  return loadNative() as NativeBinding;
}

async function closeAll(...channels: DtlsChannel[]): Promise<void> {
  await Promise.allSettled(channels.map((c) => c.close()));
}

test(
  'handshake() rejects, never throws: bad options and a second concurrent call',
  { skip },
  async () => {
    const base = live();
    const { client, server } = wire();
    for (const bad of [null, 'x', { timeoutMs: -1 }, { timeoutMs: 2 ** 31 }, { signal: 'no' }]) {
      let p: Promise<unknown> | undefined;
      assert.doesNotThrow(
        () => {
          p = client.handshake(bad as never);
        },
        `handshake(${JSON.stringify(bad)})`,
      );
      await assert.rejects(p as Promise<unknown>, InvalidArgumentError);
    }
    const first = server.handshake({ timeoutMs: 0 });
    let second: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      second = server.handshake();
    });
    await assert.rejects(second as Promise<unknown>, InvalidStateError);
    await server.close();
    await assert.rejects(first, SocketClosedError);
    await client.close();
    assert.deepEqual(live(), base);
  },
);

test('a throw while the client starts its handshake rejects handshake()', { skip }, async () => {
  const base = live();
  const faulty = new Faulty();
  const { client, server } = wire({ client: faulty });
  // msock_dtls_timeout runs after the ClientHello went out (arming the retransmission timer).
  const injected = faulty.arm('msock_dtls_timeout');
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = client.handshake();
  });
  await assert.rejects(p as Promise<unknown>, (e: unknown) => e === injected);
  assert.equal(client.lastError, injected);
  assert.equal(client.stats.internalErrors, 1);
  assert.equal(client.stats.handshakeFailures, 1);
  // A failed handshake step whose alert cannot be taken either: the step's error wins.
  faulty.disarm('msock_dtls_timeout');
  const stepError = faulty.arm('msock_dtls_handshake');
  const takeError = faulty.arm('msock_dtls_take_output');
  await assert.rejects(client.handshake(), (e: unknown) => e === stepError);
  assert.equal(client.lastError, stepError);
  assert.equal(client.stats.internalErrors, 2, 'the failed take_output is counted');
  assert.notEqual(takeError, stepError);
  await closeAll(client, server);
  assert.deepEqual(live(), base);
});

test(
  'a throw from the addon inside onDatagram is counted, never thrown (server)',
  { skip },
  async () => {
    const base = live();
    const faulty = new Faulty();
    const server = serverChannel(faulty);
    const serverDone = server.channel.handshake({ timeoutMs: 10_000 });
    // A first datagram: the server cannot make its cookie listener.
    const injected = faulty.arm('msock_dtls_connection');
    assert.doesNotThrow(() => server.channel.onDatagram(Buffer.from('hello?'), C.address, C.port));
    assert.equal(server.channel.stats.internalErrors, 1);
    assert.equal(server.channel.lastError, injected);
    faulty.disarm('msock_dtls_connection');

    // msock_dtls_info fails as the server completes (its Finished is already on its way, so the
    // client completes): that candidate is dropped and counted, and the server keeps waiting.
    const infoError = faulty.arm('msock_dtls_info');
    const first = clientChannel(server.channel, C);
    server.connect(first, C);
    await first.handshake();
    assert.equal(server.channel.stats.internalErrors, 2);
    assert.equal(server.channel.stats.handshakeFailures, 1);
    assert.equal(server.channel.lastError, infoError);
    assert.equal(server.channel.info, undefined);
    faulty.disarm('msock_dtls_info');

    // The next peer gets the server.
    const at = { address: '127.0.0.1', port: 40002 };
    const second = clientChannel(server.channel, at);
    server.connect(second, at);
    const [info] = await Promise.all([serverDone, second.handshake()]);
    assert.deepEqual(info.peer, at);
    await closeAll(first, second, server.channel);
    assert.deepEqual(live(), base);
  },
);

test(
  'a throw from the addon inside onDatagram is counted, never thrown (client)',
  { skip },
  async () => {
    const base = live();
    const faulty = new Faulty();
    const { client, server } = wire({ client: faulty });
    const serverDone = server.handshake({ timeoutMs: 0 });
    // The client cannot read its session's parameters when it completes.
    const infoError = faulty.arm('msock_dtls_info');
    await assert.rejects(client.handshake(), (e: unknown) => e === infoError);
    assert.equal(client.stats.internalErrors, 1);
    assert.equal(client.stats.handshakeFailures, 1);
    faulty.disarm('msock_dtls_info');
    // The server completed before the client failed.
    assert.equal((await serverDone).pskIdentity, 'rist');
    await closeAll(client, server);
    assert.deepEqual(live(), base);
  },
);

test(
  'after the handshake an addon throw ends the session: reads reject with it',
  { skip },
  async () => {
    const base = live();
    const faulty = new Faulty();
    const { client, server } = wire({ client: faulty });
    await Promise.all([server.handshake(), client.handshake()]);
    await server.write(Buffer.from('one'));
    assert.equal((await client.read()).data.toString(), 'one');
    const reading = client.read();
    const readError = faulty.arm('msock_dtls_read');
    faulty.arm('msock_dtls_take_output');
    assert.doesNotThrow(() => client.onDatagram(Buffer.from('anything'), S.address, S.port));
    await assert.rejects(reading, (e: unknown) => e === readError);
    assert.equal(client.lastError, readError, 'the read error, not the take_output one');
    assert.equal(client.stats.internalErrors, 1);
    await assert.rejects(client.read(), (e: unknown) => e === readError);
    await assert.rejects(client.write(Buffer.from('x')), (e: unknown) => e === readError);
    faulty.disarm('msock_dtls_read');
    faulty.disarm('msock_dtls_take_output');
    // The session's SSL was freed with the failure; the context goes with close.
    await closeAll(client, server);
    assert.deepEqual(live(), base);
  },
);

test(
  'close(): a failing close_notify still rejects readers and frees everything',
  { skip },
  async () => {
    const base = live();
    const faulty = new Faulty();
    const { client, server } = wire({ client: faulty });
    await Promise.all([server.handshake(), client.handshake()]);
    const reading = client.read();
    const injected = faulty.arm('msock_dtls_shutdown');
    await assert.rejects(client.close(), (e: unknown) => e === injected);
    await assert.rejects(reading, SocketClosedError);
    await assert.rejects(client.read(), SocketClosedError);
    await client.close(); // idempotent, resolves
    await server.close();
    assert.deepEqual(live(), base);
  },
);

test('a msock_dtls_free that throws is counted, not thrown', { skip }, async () => {
  const base = live();
  const faulty = new Faulty();
  const { client, server } = wire({ client: faulty });
  await Promise.all([server.handshake(), client.handshake()]);
  // Frees for real, then throws.
  const injected = faulty.arm('msock_dtls_free', { after: true });
  await client.close();
  assert.equal(client.stats.internalErrors, 1);
  assert.equal(client.lastError, injected);
  await server.close();
  assert.deepEqual(live(), base);
});

test(
  'timeoutMs: 0 still ends when OpenSSL gives up retransmitting: DtlsError timeout',
  { skip },
  async () => {
    const base = live();
    // A client whose server never answers. (A wrong PSK key ends the same way: the server drops
    // the Finished it cannot decrypt and sends no alert; dtls.test.ts covers it with TimeoutError.)
    const silent = new DtlsChannel(
      native(),
      'client',
      { psk, retransmitInitialMs: 1 },
      { send: (d) => Promise.resolve(d.length), remote: S, family: 4 },
    );
    // A server that nobody calls: with 0 it keeps waiting.
    const { client, server } = wire();
    let serverSettled = false;
    const serverDone = server.handshake({ timeoutMs: 0 }).finally(() => {
      serverSettled = true;
    });
    const started = Date.now();
    await assert.rejects(silent.handshake({ timeoutMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof DtlsError, String(e));
      assert.equal(e.reason, 'timeout');
      return true;
    });
    // 13 timer periods doubling from 1 ms: about 8 s.
    assert.ok(Date.now() - started > 4000, `${Date.now() - started} ms`);
    assert.equal(silent.stats.handshakeFailures, 1);
    assert.equal(serverSettled, false);
    await closeAll(silent, client, server);
    await assert.rejects(serverDone, SocketClosedError);
    assert.deepEqual(live(), base);
  },
);
