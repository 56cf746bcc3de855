/**
 * The native addon: loading, socket creation with option rows applied in order before bind (and
 * its two policies, clamp and IPv4 side), adoption of its descriptors by node:dgram and node:net,
 * error shapes, and descriptor hygiene.
 *
 * Every test needs the addon loaded in this process and otherwise skips with the loader's reason
 * (under MEDIASOCK_NO_NATIVE=1 that is the env switch), except the child-process test of the
 * switch itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { once } from 'node:events';
import { InvalidArgumentError, SystemCallError } from '../../src/errors.js';
import { loadNative, nativeStatus, requireNative } from '../../src/native/index.js';
import type { NativeBinding, NativeOptionRow } from '../../src/native/index.js';
import { preBindRows } from '../../src/option-rows.js';
import { getSocketOption } from '../../src/options.js';
import { openFdCount, assertFdsBackToBaseline } from '../helpers/fds.js';

const status = nativeStatus();
const skipNoNative = status.loaded
  ? false
  : `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`;

function native(): NativeBinding {
  return requireNative('test');
}

/** A plain row (SO_REUSEADDR on) with some fields replaced, for the shape checks. */
function row(patch: Partial<Record<keyof NativeOptionRow, unknown>> = {}): NativeOptionRow {
  const c = native().constants;
  return {
    level: c.SOL_SOCKET as number,
    name: c.SO_REUSEADDR as number,
    kind: 'bool',
    value: true,
    option: 'SO_REUSEADDR',
    ...patch,
  } as NativeOptionRow;
}

function udpWithRows(options: NativeOptionRow[]): unknown {
  return native().msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options });
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
    options: preBindRows({ family: 4, protocol: 'udp' }, [
      ['SO_REUSEADDR', true],
      ['SO_RCVBUFFORCE', 256 * 1024],
      ['SO_SNDBUFFORCE', 128 * 1024],
    ]),
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
    s = b.msock_udp_socket({
      family: 6,
      address: '::1',
      port: 0,
      options: preBindRows({ family: 6, protocol: 'udp' }, [['IPV6_V6ONLY', true]]),
    });
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
    options: preBindRows({ family: 4, protocol: 'tcp' }, [['SO_REUSEADDR', true]]),
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
        options: preBindRows({ family: 4, protocol: 'udp' }, [['SO_BINDTODEVICE', 'nosuchdev0']]),
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
    [() => udpWithRows('nope' as never), 'options'],
    [() => udpWithRows(Array.from({ length: 65 }, () => row())), 'options'],
    [() => udpWithRows([null as never]), 'options[0]'],
    [() => udpWithRows([row(), row({ kind: 'weird' })]), 'options[1].kind'],
    [() => udpWithRows([row({ option: undefined as never })]), 'options[0].option'],
    [() => udpWithRows([row({ option: 'X'.repeat(40) })]), 'options[0].option'],
    [() => udpWithRows([row({ level: -1 })]), 'options[0].level'],
    [() => udpWithRows([row({ value: 'x' })]), 'options[0].value'],
    [() => udpWithRows([row({ kind: 'string', value: 'a'.repeat(40) })]), 'options[0].value'],
    [() => udpWithRows([row({ kind: 'bool', value: 1 })]), 'options[0].value'],
    [() => udpWithRows([row({ fallback: 5 })]), 'options[0].fallback'],
    [() => udpWithRows([row({ fallback: { name: -2, option: 'X' } })]), 'options[0].fallback.name'],
    [() => udpWithRows([row({ ipv4Side: 'yes' })]), 'options[0].ipv4Side'],
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
  const pktinfo = preBindRows({ family: 4, protocol: 'udp' }, [['IP_PKTINFO', true]]);
  const badDevice = preBindRows({ family: 4, protocol: 'udp' }, [['SO_BINDTODEVICE', 'nosuchdev0']]);
  try {
    const baseline = openFdCount();
    let failures = 0;
    for (let i = 0; i < 1000; i++) {
      switch (i % 4) {
        case 0: {
          const s = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options: pktinfo });
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
            () => b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options: badDevice }),
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

test('creation rows apply in order before bind: SO_REUSEPORT shares a port, the last IP_TOS wins', {
  skip: skipNoNative,
}, () => {
  const b = native();
  const rows = preBindRows({ family: 4, protocol: 'udp' }, [
    ['SO_REUSEPORT', true],
    ['IP_TOS', 0x10],
    ['IP_TOS', 0xb8],
  ]);
  const first = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options: rows });
  try {
    // Set after bind, SO_REUSEPORT would not let the second socket in.
    const second = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: first.port, options: rows });
    b.msock_close(second.fd);
    assert.equal(getSocketOption(first.fd, 'IP_TOS'), 0xb8);
    assert.equal(getSocketOption(first.fd, 'SO_REUSEPORT'), true);
  } finally {
    b.msock_close(first.fd);
  }
});

test('policy "IPv4 side": set on a dual-stack socket, skipped on an IPv6-only one (Linux)', {
  skip: skipNoNative || (process.platform === 'linux' ? false : 'IPv4 options on AF_INET6 are Linux only'),
}, (t) => {
  const b = native();
  const open = (v6only: boolean): number => {
    const options = preBindRows({ family: 6, protocol: 'udp' }, [
      ['IPV6_V6ONLY', v6only],
      ['IP_TOS', 0xb8],
      ['IP_MULTICAST_ALL', false],
      ['IP_PKTINFO', true],
    ]);
    return b.msock_udp_socket({ family: 6, address: '::', port: 0, options }).fd;
  };
  let dual: number;
  try {
    dual = open(false);
  } catch (err) {
    t.skip(`no IPv6: ${(err as Error).message}`);
    return;
  }
  const only = open(true);
  try {
    for (const [name, set, unset] of [
      ['IPV6_TCLASS', 0xb8, 0xb8],
      ['IPV6_MULTICAST_ALL', false, false],
      ['IPV6_RECVPKTINFO', true, true],
      ['IP_TOS', 0xb8, 0],
      ['IP_PKTINFO', true, false],
      // IP_MULTICAST_ALL is not checked: an AF_INET6 socket starts with its IPv4 flag off already.
    ] as const) {
      assert.equal(getSocketOption(dual, name), set, `${name} on the dual-stack socket`);
      assert.equal(getSocketOption(only, name), unset, `${name} on the IPv6-only socket`);
    }
  } finally {
    b.msock_close(dual);
    b.msock_close(only);
  }
});

test('a failed row names its option, and the fallback when the clamp policy tried it', {
  skip: skipNoNative,
}, async () => {
  const b = native();
  const c = b.constants;
  const baseline = openFdCount();
  // IPV6_V6ONLY on an AF_INET socket: the kernel answers ENOPROTOOPT (Linux) / EINVAL.
  const v6only = { ...row(), level: c.IPPROTO_IPV6 as number, name: c.IPV6_V6ONLY as number, option: 'IPV6_V6ONLY' };
  assert.throws(() => udpWithRows([row(), v6only]), (err: unknown) => {
    assert.ok(err instanceof SystemCallError);
    assert.equal(err.syscall, 'setsockopt');
    assert.equal(err.option, 'IPV6_V6ONLY');
    assert.equal(err.address, '127.0.0.1');
    return true;
  });
  const unknown = { ...row(), level: c.IPPROTO_IPV6 as number, name: 0x7ff0, option: 'UNKNOWN_FORCE' };
  const fallback = { name: 0x7ff1, option: 'UNKNOWN_PLAIN' };
  assert.throws(() => b.msock_udp_socket({ family: 6, address: '::1', port: 0, options: [{ ...unknown, fallback }] }), {
    name: 'SystemCallError',
    code: 'ENOPROTOOPT',
    option: 'UNKNOWN_PLAIN',
  });
  await assertFdsBackToBaseline(baseline);
});

test('policy "clamp": without CAP_NET_ADMIN, SO_RCVBUFFORCE falls back to the clamped SO_RCVBUF', {
  skip:
    skipNoNative ||
    (process.platform !== 'linux' ? 'SO_RCVBUFFORCE is Linux only' : false) ||
    (process.getuid?.() !== 0 ? 'dropping CAP_NET_ADMIN with setpriv needs root' : false),
}, () => {
  const script = `
    Promise.all([import('./src/option-rows.ts'), import('./src/native/index.ts')]).then(([m, n]) => {
      const b = n.requireNative('test');
      const big = 64 << 20;
      const rows = m.preBindRows({ family: 4, protocol: 'udp' }, [['SO_RCVBUFFORCE', big], ['SO_SNDBUFFORCE', big]]);
      const s = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options: rows });
      const out = { recv: s.recvBufferBytes, send: s.sendBufferBytes };
      b.msock_close(s.fd);
      const plain = rows.map(({ fallback, ...r }) => r);
      try { b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options: plain }); } catch (e) { out.plain = [e.code, e.option]; }
      console.log(JSON.stringify(out));
    });`;
  const child = spawnSync(
    'setpriv',
    ['--bounding-set=-net_admin', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (child.error !== undefined) throw child.error;
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim()) as { recv: number; send: number; plain: string[] };
  const max = (name: string): number => Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8'));
  // Clamped to rmem_max / wmem_max, doubled by Linux; the request was larger.
  assert.equal(out.recv, 2 * max('rmem_max'));
  assert.equal(out.send, 2 * max('wmem_max'));
  assert.deepEqual(out.plain, ['EPERM', 'SO_RCVBUFFORCE'], 'without the policy the row fails');
});

test('with CAP_NET_ADMIN, SO_RCVBUFFORCE at creation goes past rmem_max', {
  skip: skipNoNative || (process.platform !== 'linux' ? 'SO_RCVBUFFORCE is Linux only' : false),
}, (t) => {
  const b = native();
  const max = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  const want = max + (1 << 20);
  const rows = preBindRows({ family: 4, protocol: 'udp' }, [['SO_RCVBUFFORCE', want]]);
  const s = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0, options: rows });
  try {
    if (s.recvBufferBytes === 2 * max) {
      t.skip('no CAP_NET_ADMIN here: the clamp policy fell back to SO_RCVBUF');
      return;
    }
    assert.equal(s.recvBufferBytes, 2 * want);
  } finally {
    b.msock_close(s.fd);
  }
});
