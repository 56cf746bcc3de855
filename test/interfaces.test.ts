/**
 * Interface discovery agrees with iproute2 (`ip -j link show`, `ip -j addr show`) in this namespace
 * and inside a private namespace made by the netns helper; lookups and errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  findInterface,
  interfaceAddress,
  multicastInterfaces,
  networkInterfaces,
  ourIPv4Address,
  ourIPv6Address,
  type NetworkInterfaceInfo,
} from '../src/interfaces.js';
import { ErrorCodes, InvalidArgumentError } from '../src/errors.js';
import {
  createTopology,
  netnsSkipReason,
  spawnNodeInNamespace,
  type Topology,
} from './helpers/netns.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  addr_info?: Array<{ family: 'inet' | 'inet6'; local: string; prefixlen: number; scope: string }>;
}

function ipJson(...args: string[]): IpLink[] {
  return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' })) as IpLink[];
}

const ipSkip = ((): string | false => {
  if (process.platform !== 'linux') return `compares with iproute2, which is Linux-only`;
  try {
    ipJson('link', 'show');
    return false;
  } catch (err) {
    return `iproute2 'ip -j' is not usable: ${(err as Error).message}`;
  }
})();

function expectInvalid(fn: () => unknown, received: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `not an InvalidArgumentError: ${String(err)}`);
    assert.equal(err.code, ErrorCodes.INVALID_ARG);
    assert.match(err.message, received);
    return true;
  });
}

describe('networkInterfaces() against iproute2', { skip: ipSkip }, () => {
  test('same names, indexes, MTUs and flags as ip link show', () => {
    const ours = networkInterfaces();
    const theirs = ipJson('link', 'show');
    assert.deepEqual(
      ours.map((i) => [i.index, i.name]),
      theirs.map((l) => [l.ifindex, l.ifname]).sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    for (const link of theirs) {
      const info = ours.find((i) => i.name === link.ifname);
      assert.ok(info, `${link.ifname} missing`);
      assert.equal(info.mtu, link.mtu, `${link.ifname} mtu`);
      const up = link.flags.includes('UP');
      assert.deepEqual(
        info.flags,
        {
          up,
          running: up && (link.operstate === 'UP' || link.operstate === 'UNKNOWN'),
          loopback: link.flags.includes('LOOPBACK'),
          multicast: link.flags.includes('MULTICAST'),
          broadcast: link.flags.includes('BROADCAST'),
          pointToPoint: link.flags.includes('POINTOPOINT'),
        },
        `${link.ifname} flags ${link.flags.join(',')} operstate ${link.operstate}`,
      );
      if (link.address !== undefined && link.address !== '') assert.equal(info.mac, link.address);
    }
  });

  test('same addresses and prefix lengths as ip addr show, for running interfaces', () => {
    // os.networkInterfaces() (libuv) leaves out interfaces that are not up and running, so their
    // addresses are only compared where it reports them (documented in networkInterfaces()).
    const ours = networkInterfaces();
    for (const link of ipJson('addr', 'show')) {
      const info = ours.find((i) => i.index === link.ifindex);
      assert.ok(info, `${link.ifname} missing`);
      if (!info.flags.running) continue;
      const want = (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).sort();
      const got = info.addresses.map((a) => `${a.address}/${a.prefixLength}`).sort();
      assert.deepEqual(got, want, link.ifname);
      for (const a of info.addresses) {
        const linkLocal = a.family === 6 && /^fe[89ab]/.test(a.address);
        assert.equal(a.scopeId, linkLocal ? info.index : undefined, `${a.address} scopeId`);
      }
    }
  });

  test('lo is index 1, up, loopback, MTU 65536, with 127.0.0.1', () => {
    const lo = networkInterfaces().find((i) => i.name === 'lo');
    assert.ok(lo);
    assert.equal(lo.index, 1);
    assert.equal(lo.mtu, 65536);
    assert.equal(lo.flags.up, true);
    assert.equal(lo.flags.loopback, true);
    assert.ok(lo.addresses.some((a) => a.address === '127.0.0.1' && a.prefixLength === 8));
  });

  test('multicastInterfaces() lists exactly the up, multicast-capable links', () => {
    const want = ipJson('link', 'show')
      .filter((l) => l.flags.includes('UP') && l.flags.includes('MULTICAST'))
      .map((l) => l.ifname)
      .sort();
    assert.deepEqual(
      multicastInterfaces()
        .map((i) => i.name)
        .sort(),
      want,
    );
  });

  test('ourIPv4Address() is an address of an up, non-loopback interface and never 127.x', () => {
    const candidates = ipJson('addr', 'show')
      .filter((l) => l.flags.includes('UP') && !l.flags.includes('LOOPBACK'))
      .flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet'))
      .map((a) => a.local)
      .filter((a) => !a.startsWith('127.') && a !== '0.0.0.0');
    const ours = ourIPv4Address();
    if (candidates.length === 0) assert.equal(ours, undefined);
    else assert.equal(ours, candidates[0]);
    assert.doesNotMatch(ours ?? '', /^127\./);
  });

  test('ourIPv6Address() prefers a non-link-local address and is never ::1', () => {
    const v6 = ipJson('addr', 'show')
      .filter((l) => l.flags.includes('UP') && !l.flags.includes('LOOPBACK'))
      .flatMap((l) =>
        (l.addr_info ?? []).filter((a) => a.family === 'inet6').map((a) => ({ ...a, l })),
      );
    const global = v6.filter((a) => a.scope !== 'link' && a.local !== '::1');
    const ours = ourIPv6Address();
    if (global.length > 0) assert.equal(ours, global[0]?.local);
    else if (v6.length > 0) assert.equal(ours, `${v6[0]?.local}%${v6[0]?.l.ifname}`);
    else assert.equal(ours, undefined);
  });
});

describe('findInterface()', { skip: ipSkip }, () => {
  test('finds lo by name, index, index string and address', () => {
    for (const spec of ['lo', 1, '1', '127.0.0.1', '::1', '0:0::1']) {
      assert.equal(findInterface(spec).name, 'lo', `spec ${String(spec)}`);
    }
  });

  const withLinkLocal = networkInterfaces().find((i) =>
    i.addresses.some((a) => a.scopeId !== undefined),
  );
  test(
    'finds an interface by a zoned link-local address, by name or index zone',
    {
      skip:
        withLinkLocal === undefined ? 'no interface here has an IPv6 link-local address' : false,
    },
    () => {
      const info = withLinkLocal as NetworkInterfaceInfo;
      const ll = info.addresses.find((a) => a.scopeId !== undefined)?.address;
      assert.equal(findInterface(`${ll}%${info.name}`).name, info.name);
      assert.equal(findInterface(`${ll}%${info.index}`).name, info.name);
      assert.equal(findInterface(ll ?? '').name, info.name);
      // The right address with the wrong zone names no interface.
      expectInvalid(() => findInterface(`${ll}%lo`), /known interfaces: lo \(1\)/);
    },
  );

  test('unknown names, indexes and addresses name the value and the known interfaces', () => {
    const known = networkInterfaces()
      .map((i) => `${i.name} \\(${i.index}\\)`)
      .join(', ');
    for (const [spec, shown] of [
      ['no-such-if0', '"no-such-if0"'],
      [2 ** 31 - 1, String(2 ** 31 - 1)],
      ['2147483647', '"2147483647"'],
      ['203.0.113.77', '"203.0.113.77"'],
      ['2001:db8::77', '"2001:db8::77"'],
      ['fe80::1%', '"fe80::1%"'],
      ['127.0.0.1%no-such-if0', '"127.0.0.1%no-such-if0"'],
    ] as const) {
      expectInvalid(
        () => findInterface(spec),
        new RegExp(`known interfaces: ${known} \\(received ${shown.replace(/[.%]/g, '\\$&')}\\)$`),
      );
    }
  });

  test('malformed specs are rejected', () => {
    expectInvalid(() => findInterface(''), /not empty \(received ""\)/);
    for (const n of [0, -1, 1.5, Number.NaN, Infinity]) {
      expectInvalid(() => findInterface(n), /must be a positive integer index/);
    }
    expectInvalid(() => findInterface({} as never), /received an object of type Object/);
    expectInvalid(() => findInterface(undefined as never), /received undefined/);
  });
});

describe('interfaceAddress()', { skip: ipSkip }, () => {
  test("gives lo's first address of each family", () => {
    assert.equal(interfaceAddress('lo', 4), '127.0.0.1');
    assert.equal(interfaceAddress(1, 4), '127.0.0.1');
    assert.equal(interfaceAddress(findInterface('lo'), 6), '::1');
  });

  test('rejects a bad family and an unknown interface', () => {
    expectInvalid(
      () => interfaceAddress('lo', 5 as never),
      /^family must be 4 or 6 \(received 5\)$/,
    );
    expectInvalid(() => interfaceAddress('no-such-if0', 4), /no-such-if0/);
  });

  const bare = networkInterfaces().find((i) => i.addresses.length === 0);
  test(
    'rejects an interface without an address of the family',
    { skip: bare === undefined ? 'every interface here has an address' : false },
    () => {
      const name = bare?.name ?? '';
      expectInvalid(
        () => interfaceAddress(name, 4),
        new RegExp(
          `^interface must have an IPv4 address \\(it has none\\) \\(received "${name}"\\)$`,
        ),
      );
    },
  );
});

const netnsSkip = ipSkip || netnsSkipReason() || false;

describe('interfaces inside a network namespace', { skip: netnsSkip }, () => {
  let dual: Topology | undefined;
  let v4only: Topology | undefined;
  before(async () => {
    dual = await createTopology({ hosts: 1 });
    v4only = await createTopology({ hosts: 1, ipv6: false });
  });
  after(async () => {
    await dual?.destroy();
    await v4only?.destroy();
  });

  interface Listing {
    interfaces: NetworkInterfaceInfo[];
    multicast: string[];
    ourIPv4: string | null;
    ourIPv6: string | null;
    addressV6: Record<string, string | { code: string; message: string }>;
  }

  async function listIn(ns: string): Promise<Listing> {
    const child = spawnNodeInNamespace(
      ns,
      fileURLToPath(new URL('./netns/fixtures/list-interfaces.ts', import.meta.url)),
      ['lo', 'veth0'],
    );
    try {
      const listing = await child.nextJson<Listing>(20_000);
      const status = await child.exited;
      assert.equal(status.code, 0, child.stderr());
      return listing;
    } finally {
      child.kill();
      await child.exited;
    }
  }

  test('a dual-stack host sees lo and its veth with flags, index and addresses', async () => {
    const host = dual?.hosts[0];
    assert.ok(host);
    const got = await listIn(host.ns);
    assert.deepEqual(
      got.interfaces.map((i) => i.name),
      ['lo', 'veth0'],
    );
    const veth = got.interfaces[1];
    assert.ok(veth);
    assert.equal(veth.index, host.ifindex);
    assert.equal(veth.mtu, 1500);
    assert.deepEqual(veth.flags, {
      up: true,
      running: true,
      loopback: false,
      multicast: true,
      broadcast: true,
      pointToPoint: false,
    });
    assert.deepEqual(
      veth.addresses.map((a) => [a.address, a.family, a.prefixLength, a.scopeId]).sort(),
      [
        [host.ipv4, 4, 24, undefined],
        [host.ipv6, 6, 64, undefined],
        [host.ipv6LinkLocal, 6, 64, host.ifindex],
      ].sort(),
    );
    assert.deepEqual(got.multicast, ['veth0']);
    assert.equal(got.ourIPv4, host.ipv4);
    assert.equal(got.ourIPv6, host.ipv6);
    assert.equal(got.addressV6.lo, '::1');
  });

  test('an IPv4-only host has no IPv6 address to offer', async () => {
    const host = v4only?.hosts[0];
    assert.ok(host);
    const got = await listIn(host.ns);
    assert.equal(got.ourIPv4, host.ipv4);
    assert.equal(got.ourIPv6, null);
    const err = got.addressV6.veth0;
    assert.ok(typeof err === 'object', `expected an error, got ${JSON.stringify(err)}`);
    assert.equal(err.code, ErrorCodes.INVALID_ARG);
    assert.match(err.message, /^interface must have an IPv6 address \(it has 10\.77\.\d+\.1\)/);
  });
});
