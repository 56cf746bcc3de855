/**
 * Adoption of UDP sockets made elsewhere, on real loopback sockets:
 * - a descriptor passed from this (parent) process to a child through `stdio` inheritance (the
 *   child sees it as fd 3) is adopted there with `UdpSocket.adopt(3)` on each engine: the port,
 *   the buffer size and the multicast TTL the parent set read back; unicast and a multicast group
 *   joined after adoption (on lo) both arrive and are echoed; the membership is bookkept and left
 *   at close, and the port is released when the child closes the last copy;
 * - what is not a bound UDP socket of IPv4/IPv6 is refused and left open (TCP), or fails with the
 *   kernel's errno (a file: ENOTSOCK, a closed descriptor: EBADF);
 * - a connected descriptor or `dgram.Socket` keeps its peer (`remoteAddress()`, `send(data)`);
 * - `UdpSocket.fromDgramSocket` takes over a bound `dgram.Socket`;
 * - a `RistTransport` is built from two adopted sockets and moves media and RTCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import { UdpSocket } from '../../src/udp/udp-socket.js';
import type { UdpEngine } from '../../src/udp/udp-socket.js';
import { RistTransport } from '../../src/rist/rist-transport.js';
import {
  InvalidArgumentError,
  InvalidStateError,
  NotSupportedError,
  SystemCallError,
} from '../../src/errors.js';
import { loadNative, nativeStatus } from '../../src/native/index.js';
import { getSocketOption, setSocketOption } from '../../src/options.js';
import { REPO } from '../cli/cli-process.js';
import { udpPortBound } from '../helpers/udp-port.js';

const binding = loadNative();
const noAddon =
  binding === undefined
    ? `adopting a descriptor needs the native addon (${nativeStatus().loadError?.message ?? 'not loaded'})`
    : undefined;
const engines: UdpEngine[] =
  binding !== undefined &&
  process.platform === 'linux' &&
  typeof (binding as unknown as Record<string, unknown>).msock_batch_open === 'function'
    ? ['node', 'batch']
    : ['node'];

/** Reads JSON lines of a child's stdout, one at a time, bounded by `timeoutMs`. */
function jsonLines(
  stream: NodeJS.ReadableStream,
): (timeoutMs: number) => Promise<Record<string, unknown>> {
  const it = createInterface({ input: stream, crlfDelay: Infinity })[Symbol.asyncIterator]();
  return async (timeoutMs) => {
    const line = await Promise.race([
      it.next(),
      sleep(timeoutMs).then(() => {
        throw new Error(`no line within ${timeoutMs} ms`);
      }),
    ]);
    if (line.done === true) throw new Error('the child ended its output');
    return JSON.parse(line.value) as Record<string, unknown>;
  };
}

for (const engine of engines) {
  test(
    `${engine}: a descriptor passed to a child process is adopted with its options, and groups joined after are bookkept`,
    { skip: noAddon, timeout: 60_000 },
    async () => {
      const b = binding!;
      // A bound UDP socket the parent makes and configures, then hands over.
      const made = b.msock_udp_socket({ family: 4, address: '0.0.0.0', port: 0 });
      let parentCopy: number | undefined = made.fd;
      try {
        setSocketOption(made.fd, 'IP_MULTICAST_TTL', 7);
        setSocketOption(made.fd, 'SO_RCVBUF', 150_000);
        const rcvbuf = Number(getSocketOption(made.fd, 'SO_RCVBUF'));
        const count = 4;
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'test/fixtures/adopt-child.ts', engine, String(count)],
          { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe', made.fd] },
        );
        let stderr = '';
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (c: string) => (stderr += c));
        const exited = once(child, 'exit');
        // The child holds its own copy now: the parent's goes.
        b.msock_close(made.fd);
        parentCopy = undefined;
        const next = jsonLines(child.stdout!);
        const hello = await next(30_000).catch((err: Error) => {
          throw new Error(`${err.message}; stderr: ${stderr}`);
        });
        assert.deepEqual(hello, {
          type: 'udp4',
          engine,
          address: { address: '0.0.0.0', port: made.port, family: 4 },
          recvBufferBytes: rcvbuf,
          multicastTtl: 7,
          memberships: ['224.0.0.254@lo'],
        });
        // Two unicast datagrams and two to the group (on lo, TTL 0: the host only).
        const peer = await UdpSocket.open({
          type: 'udp4',
          address: '127.0.0.1',
          multicastInterface: 'lo',
          multicastTtl: 0,
          multicastLoopback: true,
        });
        try {
          const echoes: string[] = [];
          peer.on('message', (data) => echoes.push(data.toString()));
          const targets = ['127.0.0.1', '127.0.0.1', '224.0.0.254', '224.0.0.254'];
          for (let i = 0; i < count; i++) {
            await peer.send(`d${i}`, made.port, targets[i]);
            const deadline = Date.now() + 5000;
            while (echoes.length <= i && Date.now() < deadline) await sleep(10);
          }
          assert.deepEqual(echoes, ['echo:d0', 'echo:d1', 'echo:d2', 'echo:d3'], stderr);
        } finally {
          await peer.close();
        }
        const bye = await next(20_000);
        assert.deepEqual(bye, { done: count, membershipsBeforeClose: 1 });
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0, stderr);
        assert.equal(udpPortBound(made.port), false, 'the last copy closed: the port is free');
      } finally {
        if (parentCopy !== undefined) b.msock_close(parentCopy);
      }
    },
  );
}

for (const engine of engines) {
  test(
    `${engine}: a connected descriptor passed to a child keeps its peer`,
    { skip: noAddon, timeout: 60_000 },
    async () => {
      const peer = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
      const made = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'node' });
      try {
        await made.connect(peer.address().port, '127.0.0.1');
        const port = made.address().port;
        const got = peer.receive({ signal: AbortSignal.timeout(30_000) });
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'test/fixtures/adopt-child.ts', engine, '0'],
          { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe', made.fd!] },
        );
        let stderr = '';
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (c: string) => (stderr += c));
        const exited = once(child, 'exit');
        await made.close();
        const hello = await jsonLines(child.stdout!)(30_000).catch((err: Error) => {
          throw new Error(`${err.message}; stderr: ${stderr}`);
        });
        assert.deepEqual(hello, {
          engine,
          peer: { address: '127.0.0.1', port: peer.address().port, family: 4 },
        });
        const d = await got;
        assert.equal(d.data.toString(), 'hello');
        assert.equal(d.port, port, 'sent from the adopted socket, without a destination');
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0, stderr);
      } finally {
        await Promise.all([peer.close(), made.close()]);
      }
    },
  );
}

test('fromDgramSocket keeps the peer of a connected dgram.Socket', async () => {
  const peer = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const raw = dgram.createSocket('udp4');
  raw.bind(0, '127.0.0.1');
  await once(raw, 'listening');
  raw.connect(peer.address().port, '127.0.0.1');
  await once(raw, 'connect');
  const socket = await UdpSocket.fromDgramSocket(raw);
  try {
    assert.deepEqual(socket.remoteAddress(), {
      address: '127.0.0.1',
      port: peer.address().port,
      family: 4,
    });
    const got = peer.receive({ signal: AbortSignal.timeout(5000) });
    await socket.send('connected');
    assert.equal((await got).data.toString(), 'connected');
  } finally {
    await Promise.all([socket.close(), peer.close()]);
  }
});

test(
  'adopt refuses what is not a bound UDP socket and leaves it as it was',
  { skip: noAddon },
  async () => {
    const b = binding!;
    const tcp = b.msock_tcp_socket({ family: 4, address: '127.0.0.1', port: 0 });
    try {
      await assert.rejects(
        UdpSocket.adopt(tcp.fd),
        (err: unknown) =>
          err instanceof InvalidArgumentError &&
          /it is a stream socket of family IPv4/.test(err.message),
      );
      // Still open and still the caller's.
      assert.equal(typeof getSocketOption(tcp.fd, 'SO_RCVBUF'), 'number');
    } finally {
      b.msock_close(tcp.fd);
    }
    const file = openSync(new URL(import.meta.url), 'r');
    try {
      await assert.rejects(
        UdpSocket.adopt(file),
        (err: unknown) => err instanceof SystemCallError && err.code === 'ENOTSOCK',
      );
    } finally {
      closeSync(file);
    }
    // A descriptor number that is not open (far above anything this process opened).
    await assert.rejects(
      UdpSocket.adopt(1_000_000),
      (err: unknown) => err instanceof SystemCallError && err.code === 'EBADF',
    );
    await assert.rejects(UdpSocket.adopt(-1), InvalidArgumentError);
    await assert.rejects(UdpSocket.adopt(3, { engine: 'nope' as UdpEngine }), InvalidArgumentError);
  },
);

test('fromDgramSocket takes over a bound dgram.Socket; close() closes it', async () => {
  const raw = dgram.createSocket({ type: 'udp4', recvBufferSize: 120_000 });
  await assert.rejects(UdpSocket.fromDgramSocket(raw), InvalidStateError, 'not bound yet');
  raw.bind(0, '127.0.0.1');
  await once(raw, 'listening');
  await assert.rejects(UdpSocket.fromDgramSocket(raw, { engine: 'batch' }), NotSupportedError);
  await assert.rejects(UdpSocket.fromDgramSocket({} as dgram.Socket), InvalidArgumentError);
  const socket = await UdpSocket.fromDgramSocket(raw);
  const peer = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  try {
    assert.equal(socket.engine, 'node');
    assert.equal(socket.address().port, raw.address().port);
    assert.equal(socket.recvBufferBytes, raw.getRecvBufferSize());
    const got = socket.receive({ signal: AbortSignal.timeout(5000) });
    await peer.send('to adopted', socket.address().port, '127.0.0.1');
    assert.equal((await got).data.toString(), 'to adopted');
    const back = peer.receive({ signal: AbortSignal.timeout(5000) });
    await socket.send('from adopted', peer.address().port, '127.0.0.1');
    assert.equal((await back).data.toString(), 'from adopted');
  } finally {
    await Promise.all([socket.close(), peer.close()]);
  }
  assert.throws(() => raw.address(), 'the dgram.Socket is closed with the UdpSocket');
});

test(
  'RistTransport.fromSockets: a Simple-profile transport over two adopted sockets',
  { skip: noAddon },
  async () => {
    const b = binding!;
    const media = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 });
    const rtcp = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 });
    const sender = RistTransport.fromSockets(
      await UdpSocket.adopt(media.fd),
      await UdpSocket.adopt(rtcp.fd),
    );
    const receiver = await RistTransport.listenEphemeralEvenOdd({
      type: 'udp4',
      address: '127.0.0.1',
    });
    try {
      assert.equal(sender.profile, 'simple');
      assert.equal(sender.mediaPort, media.port);
      assert.equal(sender.rtcpPort, rtcp.port);
      const gotMedia = receiver.readMedia({ signal: AbortSignal.timeout(5000) });
      await sender.writeMedia(Buffer.from('media'), {
        address: '127.0.0.1',
        port: receiver.mediaPort,
      });
      const m = await gotMedia;
      assert.equal(m.data.toString(), 'media');
      assert.equal(m.port, media.port);
      const gotRtcp = receiver.readRtcp({ signal: AbortSignal.timeout(5000) });
      await sender.writeRtcp(Buffer.from('rtcp'), {
        address: '127.0.0.1',
        port: receiver.rtcpPort,
      });
      const r = await gotRtcp;
      assert.equal(r.data.toString(), 'rtcp');
      assert.equal(r.port, rtcp.port);
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
    assert.equal(udpPortBound(media.port), false);
    const one = await UdpSocket.adopt(
      b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 }).fd,
    );
    const main = RistTransport.fromSockets(one, one);
    assert.equal(main.profile, 'main');
    await main.close();
    const closed = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    await closed.close();
    assert.throws(() => RistTransport.fromSockets(closed, closed), InvalidStateError);
    const v6 = await UdpSocket.open({ type: 'udp6', address: '::' });
    const v4 = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
    try {
      assert.throws(() => RistTransport.fromSockets(v6, v4), InvalidArgumentError);
      assert.throws(() => RistTransport.fromSockets({} as UdpSocket, v4), InvalidArgumentError);
    } finally {
      await Promise.all([v6.close(), v4.close()]);
    }
  },
);
