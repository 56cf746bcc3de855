/**
 * The native addon: loading, socket creation with options before bind, adoption of its
 * descriptors by node:dgram and node:net, error shapes, and descriptor hygiene.
 *
 * Every test needs the addon loaded in this process and otherwise skips with the loader's reason
 * (under MEDIASOCK_NO_NATIVE=1 that is the env switch), except the child-process test of the
 * switch itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { once } from 'node:events';
import { InvalidArgumentError, SystemCallError } from '../../src/errors.js';
import { loadNative, nativeStatus, requireNative } from '../../src/native/index.js';
import type { NativeBinding } from '../../src/native/index.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';

const status = nativeStatus();
const skipNoNative = status.loaded
  ? false
  : `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`;

function native(): NativeBinding {
  return requireNative('test');
}

test('nativeStatus reports where the addon came from, requireNative hands it out', {
  skip: skipNoNative,
}, () => {
  assert.equal(status.loaded, true);
  assert.match(status.path ?? '', /\.node$/);
  assert.equal(loadNative(), native());
  assert.equal(typeof native().constants.SOL_SOCKET, 'number');
  assert.equal(native().platform, process.platform === 'linux' ? 'linux' : native().platform);
});

test('MEDIASOCK_NO_NATIVE=1 turns the addon off in a child process', () => {
  const script = `
    import('./src/native/index.ts').then((m) => {
      const s = m.nativeStatus();
      let code = 'none';
      try { m.requireNative('recvmmsg'); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ loaded: s.loaded, reason: s.loadError?.message, code, binding: m.loadNative() === undefined }));
    });`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, MEDIASOCK_NO_NATIVE: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim()) as Record<string, unknown>;
  assert.deepEqual(out, {
    loaded: false,
    reason: 'disabled by MEDIASOCK_NO_NATIVE=1',
    code: 'MEDIASOCK_ERR_NATIVE_UNAVAILABLE',
    binding: true,
  });
});

test('msock_udp_socket: dgram adopts the fd, address() matches, datagrams arrive', {
  skip: skipNoNative,
}, async (t) => {
  const b = native();
  const s = b.msock_udp_socket({
    family: 4,
    address: '127.0.0.1',
    port: 0,
    reuseAddr: true,
    recvBufferBytes: 256 * 1024,
    sendBufferBytes: 128 * 1024,
  });
  assert.ok(s.port > 0);
  assert.equal(s.address, '127.0.0.1');
  assert.equal(s.family, 'IPv4');
  // The kernel doubles the request (and may clamp it to rmem_max first): never below the request
  // unless clamped, and never zero.
  assert.ok(s.recvBufferBytes > 0 && s.sendBufferBytes > 0);

  const receiver = dgram.createSocket('udp4');
  t.after(() => receiver.close());
  // With an fd, dgram emits 'listening' synchronously inside bind(): listen before binding.
  const listening = once(receiver, 'listening');
  receiver.bind({ fd: s.fd });
  await listening;
  assert.deepEqual(receiver.address(), { address: '127.0.0.1', family: 'IPv4', port: s.port });

  const sender = dgram.createSocket('udp4');
  t.after(() => sender.close());
  const got = once(receiver, 'message');
  sender.send('hello', s.port, '127.0.0.1');
  const [msg, rinfo] = (await got) as [Buffer, dgram.RemoteInfo];
  assert.equal(msg.toString(), 'hello');
  assert.equal(rinfo.address, '127.0.0.1');
});

test('msock_udp_socket: IPv6 with ipv6Only, adopted by dgram', { skip: skipNoNative }, async (t) => {
  const b = native();
  let s;
  try {
    s = b.msock_udp_socket({ family: 6, address: '::1', port: 0, ipv6Only: true });
  } catch (err) {
    t.skip(`no IPv6 loopback: ${(err as Error).message}`);
    return;
  }
  const sock = dgram.createSocket('udp6');
  t.after(() => sock.close());
  const listening = once(sock, 'listening');
  sock.bind({ fd: s.fd });
  await listening;
  assert.deepEqual(sock.address(), { address: '::1', family: 'IPv6', port: s.port });
});

test('msock_tcp_socket: net.Server adopts a listening fd and accepts', {
  skip: skipNoNative,
}, async (t) => {
  const b = native();
  const s = b.msock_tcp_socket({
    family: 4,
    address: '127.0.0.1',
    port: 0,
    reuseAddr: true,
    listen: true,
    backlog: 16,
  });
  const server = net.createServer((c) => c.end('hi'));
  t.after(() => server.close());
  const listening = once(server, 'listening');
  server.listen({ fd: s.fd });
  await listening;
  const addr = server.address() as net.AddressInfo;
  assert.equal(addr.port, s.port);
  const client = net.connect(s.port, '127.0.0.1');
  t.after(() => client.destroy());
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  await once(client, 'end');
  assert.equal(Buffer.concat(chunks).toString(), 'hi');
});

test('bind to a port in use without reuse: SystemCallError EADDRINUSE from bind', {
  skip: skipNoNative,
}, () => {
  const b = native();
  const first = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 });
  try {
    assert.throws(
      () => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: first.port }),
      (err: unknown) => {
        assert.ok(err instanceof SystemCallError);
        assert.equal(err.code, 'EADDRINUSE');
        assert.equal(err.syscall, 'bind');
        assert.equal(err.address, '127.0.0.1');
        assert.equal(err.port, first.port);
        assert.equal(err.option, undefined);
        return true;
      },
    );
    const tcp = b.msock_tcp_socket({ family: 4, address: '127.0.0.1', port: 0, listen: true });
    try {
      assert.throws(
        () => b.msock_tcp_socket({ family: 4, address: '127.0.0.1', port: tcp.port }),
        { name: 'SystemCallError', code: 'EADDRINUSE', syscall: 'bind' },
      );
    } finally {
      b.msock_close(tcp.fd);
    }
  } finally {
    b.msock_close(first.fd);
  }
});

test('bad bindToDevice: SystemCallError ENODEV naming SO_BINDTODEVICE', { skip: skipNoNative }, () => {
  assert.throws(
    () =>
      native().msock_udp_socket({
        family: 4,
        address: '127.0.0.1',
        port: 0,
        bindToDevice: 'nosuchdev0',
      }),
    (err: unknown) => {
      assert.ok(err instanceof SystemCallError);
      assert.equal(err.code, 'ENODEV');
      assert.equal(err.syscall, 'setsockopt');
      assert.equal(err.option, 'SO_BINDTODEVICE');
      assert.match(err.message, /^setsockopt ENODEV: no such device .*\(option SO_BINDTODEVICE\)$/);
      return true;
    },
  );
});

test('arguments the C side rejects come out as InvalidArgumentError, never a crash', {
  skip: skipNoNative,
}, () => {
  const b = native();
  const bad: Array<[() => unknown, string]> = [
    [() => b.msock_udp_socket({ family: 5 as 4, address: '127.0.0.1', port: 0 }), 'family'],
    [() => b.msock_udp_socket({ family: 4, address: '::1', port: 0 }), 'address'],
    [() => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 70000 }), 'port'],
    [() => b.msock_udp_socket({ family: 4, address: 'x'.repeat(200), port: 0 }), 'address'],
    [
      () => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, bindToDevice: 'a'.repeat(40) }),
      'bindToDevice',
    ],
    [() => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, tos: 256 }), 'tos'],
    [() => b.msock_udp_socket(null as never), 'options'],
    [() => b.msock_close(-1), 'fd'],
    [() => b.msock_close(1.5), 'fd'],
    [() => b.msock_setsockopt(0, 0, 0, 'weird' as 'int', 1), 'kind'],
    [() => b.msock_recvmsg(0, 'nope' as never), 'buffer'],
    [() => b.msock_if_indextoname(0), 'index'],
    [() => b.msock_mcast_membership(0, { family: 4, op: 'join', group: 'nope', ifindex: 1 }), 'group'],
    [
      () => b.msock_mcast_membership(0, { family: 4, op: 'jump' as 'join', group: '239.1.1.1', ifindex: 1 }),
      'op',
    ],
  ];
  for (const [fn, argument] of bad) {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.equal(err.argument, argument);
      return true;
    });
  }
});

test('if_nametoindex / if_indextoname agree with /sys and fail with errno', {
  skip: skipNoNative,
}, () => {
  const b = native();
  const lo = b.msock_if_nametoindex('lo');
  assert.ok(lo >= 1);
  assert.equal(b.msock_if_indextoname(lo), 'lo');
  assert.throws(() => b.msock_if_nametoindex('nosuchdev0'), {
    name: 'SystemCallError',
    code: 'ENODEV',
    syscall: 'if_nametoindex',
  });
  assert.throws(() => b.msock_if_indextoname(0x7ffffff0), {
    name: 'SystemCallError',
    code: 'ENXIO',
    syscall: 'if_indextoname',
  });
});

test('fd count is back to baseline after 1000 create/close cycles, failing ones included', {
  skip: skipNoNative,
}, async () => {
  const b = native();
  const holder = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 });
  try {
    const baseline = openFdCount();
    let failures = 0;
    for (let i = 0; i < 1000; i++) {
      switch (i % 4) {
        case 0: {
          const s = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, pktinfo: true });
          b.msock_close(s.fd);
          break;
        }
        case 1: {
          const s = b.msock_tcp_socket({ family: 4, address: '127.0.0.1', port: 0, listen: true });
          b.msock_close(s.fd);
          break;
        }
        case 2:
          // Fails at bind, after socket() and setsockopt() succeeded: the fd must be closed.
          assert.throws(() => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: holder.port }), {
            code: 'EADDRINUSE',
          });
          failures++;
          break;
        default:
          // Fails at SO_BINDTODEVICE, before bind.
          assert.throws(
            () => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, bindToDevice: 'nosuchdev0' }),
            { code: 'ENODEV' },
          );
          failures++;
      }
    }
    assert.equal(failures, 500);
    await assertFdsBackToBaseline(baseline);
  } finally {
    b.msock_close(holder.fd);
  }
});

test('msock_close reports EBADF for a descriptor that is not open', { skip: skipNoNative }, () => {
  assert.throws(() => native().msock_close(0x7ffffff0), {
    name: 'SystemCallError',
    code: 'EBADF',
    syscall: 'close',
  });
});
