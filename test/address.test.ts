import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError } from '../src/errors.js';
import {
  addressesEqual,
  addressFamily,
  classifyAddress,
  formatHostPort,
  isHostname,
  isMulticastAddress,
  isSourceSpecificAddress,
  normalizeAddress,
  parseHostPort,
  splitZone,
  unmapIPv4,
} from '../src/address.js';
import type { AddressClass } from '../src/address.js';

function isInvalidArgument(argument: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(
      err instanceof InvalidArgumentError,
      `expected InvalidArgumentError, got ${String(err)}`,
    );
    assert.equal(err.code, 'MEDIASOCK_ERR_INVALID_ARG');
    assert.equal(err.argument, argument);
    if (message) assert.match(err.message, message);
    return true;
  };
}

test('addressFamily tells 4, 6 and 0', () => {
  const rows: Array<[string, 0 | 4 | 6]> = [
    ['127.0.0.1', 4],
    ['0.0.0.0', 4],
    ['::', 6],
    ['::1', 6],
    ['fe80::1%eth0', 6],
    ['FF15::1', 6],
    ['::ffff:10.0.0.1', 6],
    ['fe80::1%', 0],
    ['fe80::1%eth 0', 0],
    ['10.0.0.1%eth0', 0],
    ['01.2.3.4', 0],
    ['1.2.3', 0],
    ['localhost', 0],
    ['[::1]', 0],
    ['', 0],
  ];
  for (const [input, family] of rows) assert.equal(addressFamily(input), family, input);
});

test('splitZone and unmapIPv4', () => {
  assert.deepEqual(splitZone('fe80::1%eth0'), { address: 'fe80::1', zone: 'eth0' });
  assert.deepEqual(splitZone('fe80::1'), { address: 'fe80::1' });
  assert.deepEqual(splitZone('ff02::1%3'), { address: 'ff02::1', zone: '3' });
  assert.equal(unmapIPv4('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(unmapIPv4('::FFFF:a00:1'), '10.0.0.1');
  assert.equal(unmapIPv4('0:0:0:0:0:ffff:7f00:1'), '127.0.0.1');
  for (const same of ['10.0.0.1', '::1', '::fffe:a00:1', '64:ff9b::a00:1', 'example.net']) {
    assert.equal(unmapIPv4(same), same);
  }
  assert.throws(() => unmapIPv4(5 as unknown as string), isInvalidArgument('address'));
});

test('normalizeAddress gives RFC 5952 text', () => {
  const rows: Array<[string, string, boolean?]> = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'], // the longer run wins
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['FF3E:0:0:0:0:0:8000:1', 'ff3e::8000:1'],
    ['fe80::0001%eth0', 'fe80::1%eth0'],
    ['::ffff:0a00:0001', '::ffff:10.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1', true],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['10.1.2.3', '10.1.2.3'],
  ];
  for (const [input, output, unmap] of rows) {
    assert.equal(normalizeAddress(input, { unmap: unmap ?? false }), output, input);
  }
  for (const bad of ['', 'localhost', '1.2.3.256', '::1::', '[::1]', 'fe80::1%', '1.2.3.4%eth0']) {
    assert.throws(
      () => normalizeAddress(bad),
      isInvalidArgument('address', /must be an IPv4 or IPv6 address literal/),
      bad,
    );
  }
});

test('addressesEqual compares v4-mapped unmapped and ignores spelling', () => {
  assert.ok(addressesEqual('::ffff:10.0.0.1', '10.0.0.1'));
  assert.ok(addressesEqual('2001:DB8::1', '2001:db8:0:0:0:0:0:1'));
  assert.ok(addressesEqual('fe80::1%eth0', 'FE80::1%eth0'));
  assert.ok(!addressesEqual('fe80::1%eth0', 'fe80::1%eth1'));
  assert.ok(!addressesEqual('fe80::1%eth0', 'fe80::1'));
  assert.ok(!addressesEqual('10.0.0.1', '10.0.0.2'));
  assert.ok(!addressesEqual('::1', '127.0.0.1'));
  assert.throws(() => addressesEqual('10.0.0.1', 'host'), isInvalidArgument('b'));
});

test('classifyAddress', () => {
  const none = {
    unspecified: false,
    loopback: false,
    linkLocal: false,
    multicast: false,
    ssm: false,
    asm: false,
    v4Mapped: false,
  };
  const rows: Array<[string, AddressClass]> = [
    ['0.0.0.0', { ...none, family: 4, unspecified: true }],
    ['::', { ...none, family: 6, unspecified: true }],
    ['127.0.0.1', { ...none, family: 4, loopback: true }],
    ['127.255.0.9', { ...none, family: 4, loopback: true }],
    ['::1', { ...none, family: 6, loopback: true }],
    ['10.0.0.1', { ...none, family: 4 }],
    ['2001:db8::1', { ...none, family: 6 }],
    ['169.254.10.1', { ...none, family: 4, linkLocal: true }],
    ['fe80::1%eth0', { ...none, family: 6, linkLocal: true }],
    ['febf::1', { ...none, family: 6, linkLocal: true }],
    ['fec0::1', { ...none, family: 6 }],
    [
      '224.0.0.251',
      {
        ...none,
        family: 4,
        linkLocal: true,
        multicast: true,
        asm: true,
        multicastScope: 'link-local',
      },
    ],
    ['224.0.1.1', { ...none, family: 4, multicast: true, asm: true, multicastScope: 'global' }],
    [
      '239.1.1.1',
      { ...none, family: 4, multicast: true, asm: true, multicastScope: 'admin-local' },
    ],
    [
      '239.255.255.250',
      { ...none, family: 4, multicast: true, asm: true, multicastScope: 'site-local' },
    ],
    [
      '239.192.0.1',
      { ...none, family: 4, multicast: true, asm: true, multicastScope: 'organization-local' },
    ],
    ['232.0.1.254', { ...none, family: 4, multicast: true, ssm: true, multicastScope: 'global' }],
    ['240.0.0.1', { ...none, family: 4 }],
    ['223.255.255.255', { ...none, family: 4 }],
    [
      'ff02::1',
      {
        ...none,
        family: 6,
        linkLocal: true,
        multicast: true,
        asm: true,
        multicastScope: 'link-local',
      },
    ],
    ['ff05::2', { ...none, family: 6, multicast: true, asm: true, multicastScope: 'site-local' }],
    ['ff15::1', { ...none, family: 6, multicast: true, asm: true, multicastScope: 'site-local' }],
    ['ff0e::1', { ...none, family: 6, multicast: true, asm: true, multicastScope: 'global' }],
    [
      'ff01::1',
      { ...none, family: 6, multicast: true, asm: true, multicastScope: 'interface-local' },
    ],
    ['ff3e::8000:1', { ...none, family: 6, multicast: true, ssm: true, multicastScope: 'global' }],
    [
      'ff32::1234:5678',
      {
        ...none,
        family: 6,
        linkLocal: true,
        multicast: true,
        ssm: true,
        multicastScope: 'link-local',
      },
    ],
    // ff3x::/96 needs the 80 bits after the first group to be zero.
    [
      'ff3e:0:0:0:0:1::1',
      { ...none, family: 6, multicast: true, asm: true, multicastScope: 'global' },
    ],
    [
      'ff3e:30:2001:db8::1',
      { ...none, family: 6, multicast: true, asm: true, multicastScope: 'global' },
    ],
    ['ff7e::1', { ...none, family: 6, multicast: true, asm: true, multicastScope: 'global' }],
    ['ff00::1', { ...none, family: 6, multicast: true, asm: true, multicastScope: 'reserved' }],
    ['ff06::1', { ...none, family: 6, multicast: true, asm: true, multicastScope: 'unassigned' }],
    ['::ffff:127.0.0.1', { ...none, family: 6, loopback: true, v4Mapped: true }],
    [
      '::ffff:232.1.1.1',
      { ...none, family: 6, multicast: true, ssm: true, v4Mapped: true, multicastScope: 'global' },
    ],
  ];
  for (const [input, expected] of rows) assert.deepEqual(classifyAddress(input), expected, input);
  assert.throws(() => classifyAddress('example.net'), isInvalidArgument('address'));
});

test('isMulticastAddress and isSourceSpecificAddress', () => {
  assert.ok(isMulticastAddress('239.1.1.1'));
  assert.ok(isMulticastAddress('FF02::1'));
  assert.ok(!isMulticastAddress('10.0.0.1'));
  assert.ok(!isMulticastAddress('not an address'));
  assert.ok(isSourceSpecificAddress('232.255.255.255'));
  assert.ok(isSourceSpecificAddress('ff35::1'));
  assert.ok(!isSourceSpecificAddress('233.0.0.1'));
  assert.ok(!isSourceSpecificAddress('231.255.255.255'));
  assert.ok(!isSourceSpecificAddress('ff3e:1::1'));
  assert.ok(!isSourceSpecificAddress('host.example'));
});

test('parseHostPort accepts the documented forms', () => {
  const rows: Array<[string, object, object]> = [
    ['1.2.3.4:5004', {}, { host: '1.2.3.4', port: 5004, family: 4 }],
    ['[::1]:5004', {}, { host: '::1', port: 5004, family: 6 }],
    ['[FE80::0001%eth0]:0', {}, { host: 'fe80::1', port: 0, family: 6, zone: 'eth0' }],
    ['name.Example:65535', {}, { host: 'name.example', port: 65535, family: 0 }],
    ['localhost.:1', {}, { host: 'localhost.', port: 1, family: 0 }],
    ['1.2.3.4', { defaultPort: 5004 }, { host: '1.2.3.4', port: 5004, family: 4 }],
    ['[::1]', { defaultPort: 7 }, { host: '::1', port: 7, family: 6 }],
    ['::1', { defaultPort: 7 }, { host: '::1', port: 7, family: 6 }],
    ['fe80::1%3', { defaultPort: 7 }, { host: 'fe80::1', port: 7, family: 6, zone: '3' }],
    ['host-1', { defaultPort: 7 }, { host: 'host-1', port: 7, family: 0 }],
    ['[::ffff:10.0.0.1]:9', {}, { host: '::ffff:10.0.0.1', port: 9, family: 6 }],
  ];
  for (const [input, options, expected] of rows) {
    assert.deepEqual(parseHostPort(input, options), expected, input);
  }
});

test('parseHostPort rejects malformed input saying what and where', () => {
  const rows: Array<[unknown, RegExp, object?]> = [
    ['', /^address must not be empty \(received ""\)$/],
    [
      '1.2.3.4:99999',
      /^address must have a port that is an integer in 0\.\.65535; "99999" is not \(received "1\.2\.3\.4:99999"\)$/,
    ],
    ['1.2.3.4:', /port that is an integer/],
    ['1.2.3.4:-1', /port that is an integer/],
    ['1.2.3.4:+1', /port that is an integer/],
    ['1.2.3.4: 1', /port that is an integer/],
    ['1.2.3.4', /must end in ":port"; there is no default port/],
    ['::1', /must put an IPv6 address in brackets and add a port/],
    ['::1:5004', /must put an IPv6 address in brackets/],
    ['fe80::1%eth0:5004', /brackets|zone/],
    ['2001:db8::g:5004', /must be host:port or \[IPv6\]:port/],
    ['[::1', /must close the "\[" of an IPv6 address/],
    ['[::1]5004', /must have ":port" or nothing after "\]"/],
    ['[1.2.3.4]:5', /IPv4 addresses go without brackets/],
    ['[]:5', /must have an IPv6 address inside/],
    ['[fe80::1%]:5', /must have a zone that/],
    ['[fe80::1%eth 0]:5', /must have a zone that/],
    ['[fe80::1%a/b]:5', /must have a zone that/],
    ['[fe80::1%abcdefghijklmnop]:5', /must have a zone that/],
    ['10.0.0.1%eth0:5', /must not have a zone/],
    [':5004', /must have a host before ":port"/],
    ['1.2.3:5', /all-numeric label/],
    ['256.1.1.1:5', /all-numeric label/],
    ['-bad.example:5', /starts or ends with "-"/],
    ['bad-.example:5', /starts or ends with "-"/],
    ['under_score.example:5', /character other than letters/],
    ['a..b:5', /empty label/],
    ['.a:5', /empty label/],
    [`${'a'.repeat(64)}.example:5`, /label longer than 63/],
    [`${'abcdefghi.'.repeat(26)}example:5`, /longer than 253/],
    ['名前.example:5', /character other than letters/],
    ['host.example:5', /names are not accepted here/, { allowNames: false }],
    [5004, /must be a string of the form host:port/],
  ];
  for (const [input, message, options] of rows) {
    assert.throws(
      () => parseHostPort(input as string, options ?? {}),
      isInvalidArgument('address', message),
      String(input),
    );
  }
  assert.throws(() => parseHostPort('x', { argument: 'peer' }), isInvalidArgument('peer'));
  assert.throws(
    () => parseHostPort('x:1', { defaultPort: 65536 }),
    isInvalidArgument('options.defaultPort'),
  );
  assert.ok(isHostname(`${'a'.repeat(63)}.example`));
  assert.ok(!isHostname(''));
});

test('formatHostPort brackets IPv6 and appends the zone', () => {
  assert.equal(formatHostPort({ host: '1.2.3.4', port: 5004 }), '1.2.3.4:5004');
  assert.equal(formatHostPort({ host: '::1', port: 5004 }), '[::1]:5004');
  assert.equal(formatHostPort({ host: 'FE80::1', port: 1, zone: 'eth0' }), '[fe80::1%eth0]:1');
  assert.equal(formatHostPort({ host: 'fe80::1%eth0', port: 1 }), '[fe80::1%eth0]:1');
  assert.equal(formatHostPort({ host: 'Media.Example', port: 0 }), 'media.example:0');
  assert.throws(
    () => formatHostPort({ host: '1.2.3.4', port: 65536 }),
    isInvalidArgument('endpoint.port'),
  );
  assert.throws(() => formatHostPort({ host: '', port: 1 }), isInvalidArgument('endpoint.host'));
  assert.throws(() => formatHostPort({ host: 'a_b', port: 1 }), isInvalidArgument('endpoint.host'));
  assert.throws(
    () => formatHostPort({ host: '1.2.3.4', port: 1, zone: 'eth0' }),
    isInvalidArgument('endpoint.zone', /only allowed with an IPv6 address/),
  );
  assert.throws(
    () => formatHostPort({ host: 'fe80::1%eth0', port: 1, zone: 'eth1' }),
    isInvalidArgument('endpoint.zone'),
  );
  assert.throws(
    () => formatHostPort({ host: 'fe80::1', port: 1, zone: 'a b' }),
    isInvalidArgument('endpoint.zone'),
  );
  assert.throws(() => formatHostPort(null as never), isInvalidArgument('endpoint'));
});

const zoneArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,15}$/);
const portArb = fc.integer({ min: 0, max: 65535 });
const endpointArb = fc.oneof(
  fc.record({ host: fc.ipV4(), port: portArb }),
  fc.record({ host: fc.ipV6(), port: portArb }),
  fc.record({ host: fc.ipV6(), port: portArb, zone: zoneArb }),
  fc.record({ host: fc.domain().filter(isHostname), port: portArb }),
);

/** Strings made of the pieces endpoints are made of, so most are nearly valid. */
const nearEndpointArb = fc
  .array(
    fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.domain(),
      fc.constantFrom('[', ']', ':', '%', '.', '-', '@', '', ' ', '::', '%eth0', '%25'),
      fc.integer({ min: -2, max: 70000 }).map(String),
      zoneArb,
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

function onlyInvalidArgument(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    assert.equal(err.argument, 'address');
  }
}

test('parseHostPort throws nothing but InvalidArgumentError for arbitrary strings', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.string({ unit: 'binary' }), nearEndpointArb),
      fc.option(portArb, { nil: undefined }),
      (input, defaultPort) => {
        onlyInvalidArgument(() => parseHostPort(input, { defaultPort }));
      },
    ),
    { numRuns: 2000 },
  );
});

test('valid endpoints round-trip through formatHostPort and parseHostPort', () => {
  fc.assert(
    fc.property(endpointArb, (endpoint) => {
      const text = formatHostPort(endpoint);
      const parsed = parseHostPort(text);
      const family = addressFamily(endpoint.host);
      const expected: Record<string, unknown> = {
        host: family === 0 ? endpoint.host.toLowerCase() : normalizeAddress(endpoint.host),
        port: endpoint.port,
        family,
      };
      if ('zone' in endpoint) expected.zone = endpoint.zone;
      assert.deepEqual(parsed, expected);
      assert.equal(formatHostPort(parsed), text);
    }),
    { numRuns: 1000 },
  );
});

test('parse(format(parse(x))) equals parse(x) for near-valid strings that parse', () => {
  fc.assert(
    fc.property(nearEndpointArb, (input) => {
      let first;
      try {
        first = parseHostPort(input, { defaultPort: 1 });
      } catch (err) {
        if (err instanceof InvalidArgumentError) return;
        throw err;
      }
      assert.deepEqual(parseHostPort(formatHostPort(first)), first);
    }),
    { numRuns: 2000 },
  );
});

test('normalizeAddress is idempotent and keeps the address', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (address) => {
      const once = normalizeAddress(address);
      assert.equal(normalizeAddress(once), once);
      assert.ok(addressesEqual(once, address));
      assert.equal(addressFamily(once), addressFamily(address));
    }),
    { numRuns: 1000 },
  );
});
