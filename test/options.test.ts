/**
 * The socket option table (src/option-table.ts, src/options.ts, src/option-rows.ts): one round-trip
 * per option and socket family (read the initial value, check it differs from the value about to
 * be set, set, read back; options the kernel takes only before bind are set through socket
 * creation's rows), the links between rows, docs/options.md listing every row, validation before
 * any system call, refusal of an option of the wrong kind for the socket, the rows socket creation
 * gets (preBindRows), errno errors naming the option, and the no-addon path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { once } from 'node:events';
import { InvalidArgumentError, NotSupportedError, SystemCallError } from '../src/errors.js';
import { nativeStatus, requireNative } from '../src/native/index.js';
import {
  getSocketOption,
  ifIndexToName,
  ifNameToIndex,
  setSocketOption,
  socketOptions,
} from '../src/options.js';
import type { SocketOptionName, SocketOptionSpec } from '../src/options.js';
import { preBindRows } from '../src/option-rows.js';
import type { PreBindOption } from '../src/option-rows.js';

const status = nativeStatus();
const skipNoNative = status.loaded
  ? false
  : `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`;

type Kind = 'udp4' | 'udp6' | 'tcp4' | 'tcp6';

/**
 * A bound socket of `kind` on loopback, or on the wildcard with `rows` applied before bind
 * (socket creation's route to setsockopt).
 */
function open(kind: Kind, rows?: readonly PreBindOption[]): number {
  const b = requireNative('test');
  const family = kind.endsWith('4') ? 4 : 6;
  const protocol = kind.startsWith('udp') ? 'udp' : 'tcp';
  const loopback = family === 4 ? '127.0.0.1' : '::1';
  const request = {
    family,
    address: rows === undefined ? loopback : family === 4 ? '0.0.0.0' : '::',
    port: 0,
    options: preBindRows({ family, protocol }, rows ?? []),
  } as const;
  const s = protocol === 'udp' ? b.msock_udp_socket(request) : b.msock_tcp_socket(request);
  return s.fd;
}

function probeIPv6(): string | false {
  if (!status.loaded) return false;
  try {
    requireNative('test').msock_close(open('udp6'));
    return false;
  } catch (err) {
    return `no IPv6 loopback: ${(err as Error).message}`;
  }
}
const skipNoIPv6 = probeIPv6();

const loIndex = Number.parseInt(readFileSync('/sys/class/net/lo/ifindex', 'utf8').trim(), 10);

/** A kernel default from /proc/sys (field `field` of a multi-value entry such as tcp_rmem). */
function sysctl(path: string, field = 0): number {
  const text = readFileSync(`/proc/sys/${path}`, 'utf8').trim().split(/\s+/)[field] ?? '';
  return Number.parseInt(text, 10);
}

interface Case {
  name: SocketOptionName;
  on: readonly Kind[];
  /** The default; a function of the socket kind where a sysctl decides it. */
  initial: unknown;
  set: unknown;
  /** What the kernel reports after `set`, when it rewrites the value. */
  readBack?: unknown;
  /**
   * Only settable before bind (the kernel refuses it on a bound socket): the initial value is read
   * from a wildcard socket created without it, the value set through socket creation's rows.
   */
  preBindOnly?: boolean;
  /** A capability the process needs to set it; the case skips without it. */
  needs?: 'CAP_NET_ADMIN';
}

/** Whether this process holds CAP_NET_ADMIN (bit 12 of CapEff in /proc/self/status). */
function hasNetAdmin(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return line !== undefined && (BigInt(`0x${line.slice(7).trim()}`) & (1n << 12n)) !== 0n;
}
const netAdmin = process.platform === 'linux' && hasNetAdmin();

/** A case value: a constant, or a function of the socket kind where a sysctl decides it. */
function valueOf(v: unknown, kind: Kind): unknown {
  return typeof v === 'function' ? (v as (k: Kind) => unknown)(kind) : v;
}

/** One row per option in the table (checked below); initial values are Linux defaults. */
const cases: readonly Case[] = [
  { name: 'IP_TOS', on: ['udp4', 'tcp4'], initial: 0, set: 0xb8 },
  { name: 'IPV6_TCLASS', on: ['udp6', 'tcp6'], initial: 0, set: 0xb8 },
  {
    name: 'IP_TTL',
    on: ['udp4', 'tcp4'],
    initial: () => sysctl('net/ipv4/ip_default_ttl'),
    set: 7,
  },
  {
    name: 'IPV6_UNICAST_HOPS',
    on: ['udp6', 'tcp6'],
    initial: () => sysctl('net/ipv6/conf/all/hop_limit'),
    set: 9,
  },
  { name: 'IP_MULTICAST_TTL', on: ['udp4'], initial: 1, set: 16 },
  { name: 'IPV6_MULTICAST_HOPS', on: ['udp6'], initial: 1, set: 16 },
  // Set by address, read back as the address (the kernel keeps no index it reports for IPv4).
  { name: 'IP_MULTICAST_IF', on: ['udp4'], initial: '0.0.0.0', set: '127.0.0.1' },
  { name: 'IPV6_MULTICAST_IF', on: ['udp6'], initial: 0, set: loIndex },
  { name: 'IP_MULTICAST_LOOP', on: ['udp4'], initial: true, set: false },
  { name: 'IPV6_MULTICAST_LOOP', on: ['udp6'], initial: true, set: false },
  { name: 'IP_MULTICAST_ALL', on: ['udp4'], initial: true, set: false },
  { name: 'IPV6_MULTICAST_ALL', on: ['udp6'], initial: true, set: false },
  // UDP and TCP sockets start at 'want' (net.ipv4.ip_no_pmtu_disc = 0).
  { name: 'IP_MTU_DISCOVER', on: ['udp4', 'tcp4'], initial: 'want', set: 'do' },
  { name: 'IPV6_DONTFRAG', on: ['udp6'], initial: false, set: true },
  {
    name: 'IPV6_V6ONLY',
    on: ['udp6', 'tcp6'],
    initial: () => sysctl('net/ipv6/bindv6only') !== 0,
    set: () => sysctl('net/ipv6/bindv6only') === 0,
    preBindOnly: true,
  },
  { name: 'SO_PRIORITY', on: ['udp4', 'udp6', 'tcp4'], initial: 0, set: 5 },
  // Linux doubles SO_RCVBUF/SO_SNDBUF to leave room for bookkeeping: 65536 reads back as 131072.
  {
    name: 'SO_RCVBUF',
    on: ['udp4', 'udp6', 'tcp4'],
    initial: (kind: Kind) =>
      kind.startsWith('tcp') ? sysctl('net/ipv4/tcp_rmem', 1) : sysctl('net/core/rmem_default'),
    set: 65536,
    readBack: 131072,
  },
  {
    name: 'SO_SNDBUF',
    on: ['udp4', 'udp6'],
    initial: () => sysctl('net/core/wmem_default'),
    set: 65536,
    readBack: 131072,
  },
  // Past net.core.rmem_max / wmem_max (CAP_NET_ADMIN); read back through SO_RCVBUF / SO_SNDBUF.
  {
    name: 'SO_RCVBUFFORCE',
    on: ['udp4', 'udp6', 'tcp4'],
    initial: (kind: Kind) =>
      kind.startsWith('tcp') ? sysctl('net/ipv4/tcp_rmem', 1) : sysctl('net/core/rmem_default'),
    set: () => sysctl('net/core/rmem_max') + 65536,
    readBack: () => 2 * (sysctl('net/core/rmem_max') + 65536),
    needs: 'CAP_NET_ADMIN',
  },
  {
    name: 'SO_SNDBUFFORCE',
    on: ['udp4', 'udp6'],
    initial: () => sysctl('net/core/wmem_default'),
    set: () => sysctl('net/core/wmem_max') + 65536,
    readBack: () => 2 * (sysctl('net/core/wmem_max') + 65536),
    needs: 'CAP_NET_ADMIN',
  },
  { name: 'SO_REUSEADDR', on: ['udp4', 'udp6', 'tcp4', 'tcp6'], initial: false, set: true },
  { name: 'SO_REUSEPORT', on: ['udp4', 'udp6', 'tcp4', 'tcp6'], initial: false, set: true },
  { name: 'SO_BROADCAST', on: ['udp4'], initial: false, set: true },
  { name: 'SO_BINDTODEVICE', on: ['udp4', 'udp6', 'tcp4'], initial: '', set: 'lo' },
  // Receive-side switches (control messages per datagram); IP_PKTINFO also on the IPv4 side of udp6.
  { name: 'IP_PKTINFO', on: ['udp4', 'udp6'], initial: false, set: true },
  { name: 'IPV6_RECVPKTINFO', on: ['udp6'], initial: false, set: true },
  { name: 'IP_RECVTOS', on: ['udp4', 'udp6'], initial: false, set: true },
  { name: 'IPV6_RECVTCLASS', on: ['udp6'], initial: false, set: true },
  { name: 'SO_TIMESTAMPNS', on: ['udp4', 'udp6'], initial: false, set: true },
  { name: 'SO_RXQ_OVFL', on: ['udp4', 'udp6'], initial: false, set: true },
  { name: 'SO_KEEPALIVE', on: ['tcp4', 'tcp6'], initial: false, set: true },
  {
    name: 'TCP_KEEPIDLE',
    on: ['tcp4', 'tcp6'],
    initial: () => sysctl('net/ipv4/tcp_keepalive_time'),
    set: 30,
  },
  {
    name: 'TCP_KEEPINTVL',
    on: ['tcp4', 'tcp6'],
    initial: () => sysctl('net/ipv4/tcp_keepalive_intvl'),
    set: 5,
  },
  {
    name: 'TCP_KEEPCNT',
    on: ['tcp4', 'tcp6'],
    initial: () => sysctl('net/ipv4/tcp_keepalive_probes'),
    set: 3,
  },
  { name: 'TCP_USER_TIMEOUT', on: ['tcp4', 'tcp6'], initial: 0, set: 10_000 },
  { name: 'TCP_NODELAY', on: ['tcp4', 'tcp6'], initial: false, set: true },
];

test('every option in the table has a round-trip case, and every row is well formed', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(socketOptions).sort());
  for (const [key, spec] of Object.entries(socketOptions)) {
    assert.equal(spec.name, key);
    assert.ok(spec.platforms.length > 0);
    assert.ok(spec.doc.length > 10);
  }
  assert.ok(Object.isFrozen(socketOptions));
});

test('the links between rows name rows of the right kind', () => {
  const rows: Readonly<Record<string, SocketOptionSpec>> = socketOptions;
  for (const spec of Object.values(rows)) {
    if (spec.ipv6 !== undefined) {
      const twin = rows[spec.ipv6];
      assert.ok(twin, `${spec.name}: ipv6 counterpart ${spec.ipv6} is a row`);
      assert.equal(spec.family, 'ip', `${spec.name}: only IPv4 rows have an IPv6 counterpart`);
      assert.equal(twin.family, 'ipv6');
      assert.equal(twin.type, spec.type);
      assert.equal(twin.preBind, spec.preBind);
    }
    for (const link of [spec.fallback, spec.readAs]) {
      if (link === undefined) continue;
      const other = rows[link];
      assert.ok(other, `${spec.name}: ${link} is a row`);
      assert.equal(other.level, spec.level);
      assert.equal(other.type, spec.type);
    }
    if (spec.fallback !== undefined) assert.equal(rows[spec.fallback]?.preBind, true);
  }
  const preBind = Object.values(rows)
    .filter((spec) => spec.preBind === true)
    .map((spec) => spec.name);
  // What socket creation applies today (src/udp/open.ts, src/tcp/connect.ts, src/tcp/reuse-port.ts).
  for (const name of ['SO_REUSEADDR', 'SO_REUSEPORT', 'IPV6_V6ONLY', 'SO_BINDTODEVICE']) {
    assert.ok(preBind.includes(name), `${name} is marked preBind`);
  }
  for (const name of [
    'SO_RCVBUFFORCE',
    'IP_MULTICAST_ALL',
    'IP_PKTINFO',
    'SO_RXQ_OVFL',
    'IP_TOS',
  ]) {
    assert.ok(preBind.includes(name), `${name} is marked preBind`);
  }
});

test('docs/options.md lists every row of the table with its level and platforms', () => {
  const docs = readFileSync(new URL('../docs/options.md', import.meta.url), 'utf8');
  const lines = docs.split('\n');
  const rows: Readonly<Record<string, SocketOptionSpec>> = socketOptions;
  for (const spec of Object.values(rows)) {
    const line = lines.find((l) => l.startsWith(`| \`${spec.name}\` |`));
    assert.ok(line, `docs/options.md has a table row for ${spec.name}`);
    assert.ok(line.includes(`\`${spec.level}\``), `${spec.name}: level ${spec.level} documented`);
    const linuxOnly = spec.platforms.every((p) => p === 'linux' || p === 'android');
    if (linuxOnly) assert.match(line, /\| Linux[^|]*\|/, `${spec.name}: documented as Linux only`);
    if (spec.preBind === true) assert.match(line, /before bind/i, `${spec.name}: marked pre-bind`);
  }
});

for (const c of cases) {
  for (const kind of c.on) {
    const skip =
      skipNoNative ||
      (kind.endsWith('6') && skipNoIPv6) ||
      (socketOptions[c.name].platforms.includes(process.platform)
        ? false
        : `${c.name} is not available on ${process.platform}`) ||
      (c.needs === 'CAP_NET_ADMIN' && !netAdmin ? `${c.name} needs CAP_NET_ADMIN` : false);
    const shown = (v: unknown): string => (typeof v === 'function' ? 'sysctl' : JSON.stringify(v));
    test(
      `${c.name} on ${kind}: ${shown(c.initial)} -> ${shown(c.set)}`,
      {
        skip,
      },
      () => {
        const b = requireNative('test');
        const set = valueOf(c.set, kind);
        const fd = open(kind, c.preBindOnly === true ? [] : undefined);
        let after: number | undefined;
        try {
          const initial = getSocketOption(fd, c.name);
          assert.deepEqual(initial, valueOf(c.initial, kind), 'initial value');
          assert.notDeepEqual(initial, set, 'the test must change the value');
          if (c.preBindOnly === true) {
            after = open(kind, [[c.name, set] as PreBindOption]);
          } else {
            setSocketOption(fd, c.name, set as never);
          }
          const expected = c.readBack === undefined ? set : valueOf(c.readBack, kind);
          assert.deepEqual(getSocketOption(after ?? fd, c.name), expected, 'value read back');
        } finally {
          b.msock_close(fd);
          if (after !== undefined) b.msock_close(after);
        }
      },
    );
  }
}

test(
  'IP_MULTICAST_IF by interface name or index sets ip_mreqn.imr_ifindex',
  {
    skip:
      skipNoNative || (process.platform === 'linux' ? false : 'ip_mreqn by index is Linux only'),
  },
  () => {
    const fd = open('udp4');
    try {
      setSocketOption(fd, 'IP_MULTICAST_IF', '127.0.0.1');
      setSocketOption(fd, 'IP_MULTICAST_IF', 'lo');
      // By index the kernel stores no address, so the address read back is cleared.
      assert.equal(getSocketOption(fd, 'IP_MULTICAST_IF'), '0.0.0.0');
      setSocketOption(fd, 'IP_MULTICAST_IF', loIndex);
      assert.equal(getSocketOption(fd, 'IP_MULTICAST_IF'), '0.0.0.0');
    } finally {
      requireNative('test').msock_close(fd);
    }
  },
);

test(
  'options on the fd of a connected net.Socket (what src/tcp does)',
  {
    skip: skipNoNative,
  },
  async (t) => {
    const server = net.createServer();
    t.after(() => server.close());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    t.after(() => client.destroy());
    await once(client, 'connect');
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 2);
    setSocketOption(fd, 'SO_KEEPALIVE', true);
    setSocketOption(fd, 'TCP_KEEPIDLE', 10);
    setSocketOption(fd, 'TCP_KEEPINTVL', 5);
    setSocketOption(fd, 'TCP_KEEPCNT', 4);
    setSocketOption(fd, 'TCP_USER_TIMEOUT', 30_000);
    setSocketOption(fd, 'IP_TOS', 0x88);
    assert.equal(getSocketOption(fd, 'SO_KEEPALIVE'), true);
    assert.equal(getSocketOption(fd, 'TCP_KEEPIDLE'), 10);
    assert.equal(getSocketOption(fd, 'TCP_KEEPINTVL'), 5);
    assert.equal(getSocketOption(fd, 'TCP_KEEPCNT'), 4);
    assert.equal(getSocketOption(fd, 'TCP_USER_TIMEOUT'), 30_000);
    assert.equal(getSocketOption(fd, 'IP_TOS'), 0x88);
  },
);

test('values are validated before any system call: InvalidArgumentError', () => {
  const fd = 0x7ffffff0; // never reached: validation comes first
  const bad: Array<[() => unknown, string]> = [
    [() => setSocketOption(fd, 'IP_TOS', 256), 'IP_TOS'],
    [() => setSocketOption(fd, 'IP_TOS', -1), 'IP_TOS'],
    [() => setSocketOption(fd, 'IP_TOS', 1.5), 'IP_TOS'],
    [() => setSocketOption(fd, 'IP_TOS', '8' as never), 'IP_TOS'],
    [() => setSocketOption(fd, 'IP_TTL', 0), 'IP_TTL'],
    [() => setSocketOption(fd, 'TCP_KEEPCNT', 128), 'TCP_KEEPCNT'],
    [() => setSocketOption(fd, 'TCP_KEEPINTVL', 0), 'TCP_KEEPINTVL'],
    [() => setSocketOption(fd, 'SO_RCVBUF', 2 ** 31), 'SO_RCVBUF'],
    [() => setSocketOption(fd, 'TCP_NODELAY', 1 as never), 'TCP_NODELAY'],
    [() => setSocketOption(fd, 'SO_BINDTODEVICE', 'a'.repeat(16)), 'SO_BINDTODEVICE'],
    [() => setSocketOption(fd, 'SO_BINDTODEVICE', '../x'), 'SO_BINDTODEVICE'],
    [() => setSocketOption(fd, 'IP_MTU_DISCOVER', 'maybe' as never), 'IP_MTU_DISCOVER'],
    [() => setSocketOption(fd, 'IP_MULTICAST_IF', -1), 'IP_MULTICAST_IF'],
    [() => setSocketOption(fd, 'IPV6_MULTICAST_IF', {} as never), 'IPV6_MULTICAST_IF'],
    [() => setSocketOption(fd, 'NOPE' as never, 1 as never), 'name'],
    [() => setSocketOption(-1, 'IP_TOS', 0), 'fd'],
    [() => setSocketOption(1.5, 'IP_TOS', 0), 'fd'],
    [() => getSocketOption(-1, 'IP_TOS'), 'fd'],
    [() => getSocketOption(fd, 'constructor' as never), 'name'],
    [() => ifNameToIndex(''), 'name'],
    [() => ifNameToIndex('a/b'), 'name'],
    [() => ifIndexToName(0), 'index'],
  ];
  for (const [fn, argument] of bad) {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `${argument}: ${String(err)}`);
      assert.equal(err.argument, argument);
      return true;
    });
  }
});

test('with a target, an option of the wrong kind is refused before any system call', () => {
  const fd = 0x7ffffff0; // never reached: the check comes first
  const refused: Array<[() => unknown, string, RegExp]> = [
    [() => setSocketOption(fd, 'TCP_KEEPINTVL', 5, { protocol: 'udp' }), 'name', /TCP socket/],
    [() => setSocketOption(fd, 'TCP_NODELAY', true, { family: 4, protocol: 'udp' }), 'name', /UDP/],
    [() => setSocketOption(fd, 'IPV6_TCLASS', 0xb8, { family: 4 }), 'name', /IPv6 socket/],
    [
      () => setSocketOption(fd, 'IPV6_V6ONLY', true, { family: 4, protocol: 'tcp' }),
      'name',
      /AF_INET/,
    ],
    [() => setSocketOption(fd, 'IP_TOS', 8, { family: 5 as 4 }), 'target.family', /4 or 6/],
    [
      () => setSocketOption(fd, 'IP_TOS', 8, { protocol: 'sctp' as 'udp' }),
      'target.protocol',
      /udp/,
    ],
    [() => setSocketOption(fd, 'IP_TOS', 8, 'udp' as never), 'target', /object/],
  ];
  for (const [fn, argument, message] of refused) {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `${argument}: ${String(err)}`);
      assert.equal(err.argument, argument);
      assert.match(err.message, message);
      return true;
    });
  }
});

test(
  'with a target of the right kind the option is set; an IPv4 option on an IPv6 socket too',
  { skip: skipNoNative || skipNoIPv6 },
  () => {
    const b = requireNative('test');
    const tcp = open('tcp6');
    const udp = open('udp6');
    try {
      setSocketOption(tcp, 'TCP_NODELAY', true, { family: 6, protocol: 'tcp' });
      assert.equal(getSocketOption(tcp, 'TCP_NODELAY'), true);
      setSocketOption(udp, 'IPV6_TCLASS', 0xb8, { family: 6, protocol: 'udp' });
      assert.equal(getSocketOption(udp, 'IPV6_TCLASS'), 0xb8);
      // Linux applies IPPROTO_IP options of an AF_INET6 socket to its IPv4 side.
      setSocketOption(udp, 'IP_TOS', 0x88, { family: 6, protocol: 'udp' });
      assert.equal(getSocketOption(udp, 'IP_TOS'), 0x88);
    } finally {
      b.msock_close(tcp);
      b.msock_close(udp);
    }
  },
);

test("preBindRows: only pre-bind options, of the socket's kind, validated first", () => {
  const refused: Array<[() => unknown, string, RegExp]> = [
    [
      () => preBindRows({ family: 4, protocol: 'udp' }, [['IP_TTL', 5] as never]),
      'name',
      /preBind/,
    ],
    [() => preBindRows({ family: 4, protocol: 'udp' }, [['IPV6_V6ONLY', true]]), 'name', /IPv6/],
    [() => preBindRows({ family: 4, protocol: 'udp' }, [['IP_TOS', 256]]), 'IP_TOS', /0\.\.255/],
    [() => preBindRows({ family: 6, protocol: 'udp' }, [['IP_TOS', -1]]), 'IP_TOS', /0\.\.255/],
    [() => preBindRows({ family: 4, protocol: 'udp' }, [['NOPE', 1] as never]), 'name', /one of/],
    [
      () => preBindRows({ family: 4, protocol: 'udp' }, [['SO_BINDTODEVICE', 'a'.repeat(20)]]),
      'SO_BINDTODEVICE',
      /interface name/,
    ],
  ];
  for (const [fn, argument, message] of refused) {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `${argument}: ${String(err)}`);
      assert.equal(err.argument, argument);
      assert.match(err.message, message);
      return true;
    });
  }
});

test(
  'preBindRows: IPv6 counterparts, the IPv4 side and the clamp fallback come from the table',
  { skip: skipNoNative },
  () => {
    const c = requireNative('test').constants;
    const v4 = preBindRows({ family: 4, protocol: 'udp' }, [['IP_TOS', 0xb8]]);
    assert.deepEqual(v4, [
      { level: c.IPPROTO_IP, name: c.IP_TOS, kind: 'int', value: 0xb8, option: 'IP_TOS' },
    ]);
    const v6 = preBindRows({ family: 6, protocol: 'tcp' }, [
      ['IPV6_V6ONLY', false],
      ['IP_TOS', 0xb8],
    ]);
    assert.deepEqual(
      v6.map((r) => [r.option, r.value, r.ipv4Side === true]),
      [
        ['IPV6_V6ONLY', false, false],
        ['IPV6_TCLASS', 0xb8, false],
        ['IP_TOS', 0xb8, true],
      ],
    );
    const [buffer] = preBindRows({ family: 4, protocol: 'udp' }, [['SO_RCVBUFFORCE', 1 << 20]]);
    if (process.platform === 'linux') {
      assert.deepEqual(buffer, {
        level: c.SOL_SOCKET,
        name: c.SO_RCVBUFFORCE,
        kind: 'int',
        value: 1 << 20,
        option: 'SO_RCVBUFFORCE',
        fallback: { name: c.SO_RCVBUF, option: 'SO_RCVBUF' },
      });
    } else {
      // Where SO_RCVBUFFORCE does not exist, the plain (clamped) option comes instead.
      assert.equal(buffer?.option, 'SO_RCVBUF');
    }
  },
);

test(
  'a failed setsockopt/getsockopt is a SystemCallError naming the option',
  {
    skip: skipNoNative,
  },
  () => {
    assert.throws(() => setSocketOption(0x7ffffff0, 'IP_TOS', 8), {
      name: 'SystemCallError',
      code: 'EBADF',
      syscall: 'setsockopt',
      option: 'IP_TOS',
    });
    assert.throws(() => getSocketOption(0x7ffffff0, 'TCP_KEEPINTVL'), {
      name: 'SystemCallError',
      code: 'EBADF',
      syscall: 'getsockopt',
      option: 'TCP_KEEPINTVL',
    });
    const fd = open('udp4');
    try {
      // A TCP option on a UDP socket: the kernel answers ENOPROTOOPT (Linux) / EOPNOTSUPP.
      assert.throws(
        () => setSocketOption(fd, 'TCP_KEEPINTVL', 5),
        (err: unknown) => {
          assert.ok(err instanceof SystemCallError);
          assert.match(err.code, /^(ENOPROTOOPT|EOPNOTSUPP)$/);
          assert.equal(err.option, 'TCP_KEEPINTVL');
          return true;
        },
      );
      assert.throws(() => setSocketOption(fd, 'SO_BINDTODEVICE', 'nosuchdev0'), {
        name: 'SystemCallError',
        code: 'ENODEV',
        option: 'SO_BINDTODEVICE',
      });
    } finally {
      requireNative('test').msock_close(fd);
    }
  },
);

test('ifNameToIndex / ifIndexToName agree with /sys/class/net', () => {
  assert.equal(ifNameToIndex('lo'), loIndex);
  assert.equal(ifIndexToName(loIndex), 'lo');
  assert.throws(() => ifNameToIndex('nosuchdev0'), {
    name: 'SystemCallError',
    code: 'ENODEV',
    syscall: 'if_nametoindex',
  });
  assert.throws(() => ifIndexToName(0x7ffffff0), {
    name: 'SystemCallError',
    code: 'ENXIO',
    syscall: 'if_indextoname',
  });
});

test(
  'without the addon in this process, options throw NotSupportedError',
  {
    skip: status.loaded
      ? 'the addon is loaded here; the child-process test covers this path'
      : false,
  },
  () => {
    assert.throws(
      () => setSocketOption(3, 'IP_MULTICAST_ALL', false),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError);
        assert.equal(err.feature, 'IP_MULTICAST_ALL');
        return true;
      },
    );
  },
);

test('MEDIASOCK_NO_NATIVE=1: NotSupportedError naming the option and the platform', () => {
  const script = `
    Promise.all([import('./src/options.ts'), import('./src/option-rows.ts')]).then(([m, r]) => {
      const out = {};
      try { m.setSocketOption(3, 'IP_TOS', 0xb8); } catch (e) { out.set = [e.name, e.code, e.feature, e.platform, e.message]; }
      try { m.getSocketOption(3, 'TCP_KEEPINTVL'); } catch (e) { out.get = [e.name, e.feature]; }
      try { m.setSocketOption(3, 'IP_TOS', 999); } catch (e) { out.invalid = e.name; }
      try { r.preBindRows({ family: 6, protocol: 'udp' }, [['IP_MULTICAST_ALL', false]]); } catch (e) { out.rows = [e.name, e.feature]; }
      try { r.preBindRows({ family: 6, protocol: 'udp' }, [['SO_REUSEADDR', true], ['IP_TOS', -1]]); } catch (e) { out.rowsInvalid = [e.name, e.argument]; }
      out.lo = m.ifNameToIndex('lo');
      console.log(JSON.stringify(out));
    });`;
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      env: { ...process.env, MEDIASOCK_NO_NATIVE: '1' },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim()) as {
    set: string[];
    get: string[];
    invalid: string;
    rows: string[];
    rowsInvalid: string[];
    lo: number;
  };
  const platform = `${process.platform}/${process.arch}`;
  assert.deepEqual(out.set.slice(0, 4), [
    'NotSupportedError',
    'MEDIASOCK_ERR_NOT_SUPPORTED',
    'IP_TOS',
    platform,
  ]);
  assert.match(out.set[4] ?? '', /MEDIASOCK_NO_NATIVE=1/);
  assert.deepEqual(out.get, ['NotSupportedError', 'TCP_KEEPINTVL']);
  assert.equal(out.invalid, 'InvalidArgumentError', 'validation still comes first');
  assert.deepEqual(out.rows, ['NotSupportedError', 'IPV6_MULTICAST_ALL'], 'creation rows too');
  // IPV6_TCLASS takes -1, IP_TOS does not: the whole list is checked before anything resolves.
  assert.deepEqual(out.rowsInvalid, ['InvalidArgumentError', 'IP_TOS']);
  assert.equal(out.lo, loIndex, 'interface lookups fall back to /sys/class/net');
});
