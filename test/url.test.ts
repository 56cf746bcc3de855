import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError } from '../src/errors.js';
import { DEFAULT_MEDIA_PORTS, MAX_URL_SOURCES, formatMediaUrl, parseMediaUrl } from '../src/url.js';
import type { MediaUrl } from '../src/url.js';

function isInvalidUrl(message?: RegExp, argument = 'url') {
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

const base = { sources: [], multicast: false, ssm: false };

const good: Array<[string, MediaUrl, string]> = [
  [
    'udp://@239.1.1.1:5004',
    {
      ...base,
      scheme: 'udp',
      listen: true,
      host: '239.1.1.1',
      port: 5004,
      family: 4,
      multicast: true,
    },
    'udp://@239.1.1.1:5004',
  ],
  [
    'udp://@:5004',
    { ...base, scheme: 'udp', listen: true, host: '', port: 5004, family: 0 },
    'udp://@:5004',
  ],
  [
    'udp://@',
    { ...base, scheme: 'udp', listen: true, host: '', port: 1234, family: 0 },
    'udp://@:1234',
  ],
  [
    'udp://10.0.0.1@232.1.1.1:5004',
    {
      ...base,
      scheme: 'udp',
      listen: true,
      host: '232.1.1.1',
      port: 5004,
      family: 4,
      sources: ['10.0.0.1'],
      multicast: true,
      ssm: true,
    },
    'udp://10.0.0.1@232.1.1.1:5004',
  ],
  [
    'udp://[ff15::1%eth0]:5004',
    {
      ...base,
      scheme: 'udp',
      listen: false,
      host: 'ff15::1',
      port: 5004,
      family: 6,
      zone: 'eth0',
      multicast: true,
    },
    'udp://[ff15::1%eth0]:5004',
  ],
  [
    'udp://[FF15::1%25eth0]:5004/',
    {
      ...base,
      scheme: 'udp',
      listen: false,
      host: 'ff15::1',
      port: 5004,
      family: 6,
      zone: 'eth0',
      multicast: true,
    },
    'udp://[ff15::1%eth0]:5004',
  ],
  [
    'rtp://239.1.1.1',
    {
      ...base,
      scheme: 'rtp',
      listen: false,
      host: '239.1.1.1',
      port: 5004,
      family: 4,
      multicast: true,
    },
    'rtp://239.1.1.1:5004',
  ],
  [
    'RTP://127.0.0.1:5005',
    { ...base, scheme: 'rtp', listen: false, host: '127.0.0.1', port: 5005, family: 4 },
    'rtp://127.0.0.1:5005',
  ],
  [
    'udp://127.0.0.1:5004?ttl=0&dscp=46&buffer=4194304&reuse=true&iface=lo',
    {
      ...base,
      scheme: 'udp',
      listen: false,
      host: '127.0.0.1',
      port: 5004,
      family: 4,
      ttl: 0,
      dscp: 46,
      bufferBytes: 4194304,
      reuse: true,
      iface: 'lo',
    },
    'udp://127.0.0.1:5004?iface=lo&ttl=0&dscp=46&buffer=4194304&reuse=1',
  ],
  [
    'udp://media.example:1?reuse=0',
    {
      ...base,
      scheme: 'udp',
      listen: false,
      host: 'media.example',
      port: 1,
      family: 0,
      reuse: false,
    },
    'udp://media.example:1?reuse=0',
  ],
  [
    // FFmpeg: sources in the query and no "@" still means receive; aliases map to our keys.
    'udp://232.1.1.1:5004?sources=10.0.0.2,10.0.0.1,10.0.0.2&localaddr=127.0.0.1&buffer_size=65536&reuse_socket=1',
    {
      ...base,
      scheme: 'udp',
      listen: true,
      host: '232.1.1.1',
      port: 5004,
      family: 4,
      sources: ['10.0.0.2', '10.0.0.1'],
      multicast: true,
      ssm: true,
      iface: '127.0.0.1',
      bufferBytes: 65536,
      reuse: true,
    },
    'udp://10.0.0.2@232.1.1.1:5004?iface=127.0.0.1&buffer=65536&reuse=1&sources=10.0.0.1',
  ],
  [
    'udp://10.0.0.1@232.1.1.1:5004?sources=10.0.0.1,10.0.0.3&miface=eth0',
    {
      ...base,
      scheme: 'udp',
      listen: true,
      host: '232.1.1.1',
      port: 5004,
      family: 4,
      sources: ['10.0.0.1', '10.0.0.3'],
      multicast: true,
      ssm: true,
      iface: 'eth0',
    },
    'udp://10.0.0.1@232.1.1.1:5004?iface=eth0&sources=10.0.0.3',
  ],
  [
    'udp://[2001:DB8::1]@[ff3e::8000:1%veth0]:5004?sources=2001:db8::2',
    {
      ...base,
      scheme: 'udp',
      listen: true,
      host: 'ff3e::8000:1',
      port: 5004,
      family: 6,
      zone: 'veth0',
      sources: ['2001:db8::1', '2001:db8::2'],
      multicast: true,
      ssm: true,
    },
    'udp://[2001:db8::1]@[ff3e::8000:1%veth0]:5004?sources=2001:db8::2',
  ],
  [
    'udp://@[::]:5004?iface=fe80::1%25eth0',
    {
      ...base,
      scheme: 'udp',
      listen: true,
      host: '::',
      port: 5004,
      family: 6,
      iface: 'fe80::1%eth0',
    },
    'udp://@[::]:5004?iface=fe80::1%25eth0',
  ],
  [
    'udp://@127.0.0.1:0',
    { ...base, scheme: 'udp', listen: true, host: '127.0.0.1', port: 0, family: 4 },
    'udp://@127.0.0.1:0',
  ],
];

test('parseMediaUrl and formatMediaUrl on the documented forms', () => {
  for (const [input, expected, canonical] of good) {
    const parsed = parseMediaUrl(input);
    assert.deepEqual(parsed, expected, input);
    assert.equal(formatMediaUrl(parsed), canonical, input);
    assert.deepEqual(parseMediaUrl(canonical), parsed, canonical);
  }
});

test('default ports: udp 1234 (VLC), rtp 5004 (RFC 3551)', () => {
  assert.deepEqual(DEFAULT_MEDIA_PORTS, { udp: 1234, rtp: 5004 });
  assert.equal(parseMediaUrl('udp://@239.1.1.1').port, 1234);
  assert.equal(parseMediaUrl('rtp://@239.1.1.1').port, 5004);
  assert.equal(parseMediaUrl('rtp://@239.1.1.1:5005').port, 5005); // odd RTP port is allowed
});

test('parseMediaUrl rejects malformed URLs saying what and where', () => {
  const rows: Array<[unknown, RegExp]> = [
    ['', /must start with "udp:\/\/" or "rtp:\/\/"/],
    ['239.1.1.1:5004', /must start with/],
    ['http://1.2.3.4:80', /scheme udp or rtp; "http" is not supported/],
    ['udp:/1.2.3.4:5', /must start with/],
    ['udp://', /must name a destination host, or start the address with "@"/],
    ['udp://:5004', /must name a destination host/],
    ['udp://0.0.0.0:5004', /must not send to the unspecified address 0\.0\.0\.0/],
    ['udp://[::]:5004', /unspecified address ::/],
    ['udp://@239.1.1.1:99999', /port that is an integer in 0\.\.65535; "99999" is not/],
    ['udp://@239.1.1.1:50a', /port that is an integer/],
    ['udp://@ff15::1:5004', /must put an IPv6 address in brackets/],
    ['udp://@ff15::1', /must put an IPv6 address in brackets/],
    ['udp://@[ff15::1%eth 0]:5004', /zone/],
    ['udp://@239.1.1.1:5004/stream', /must not have a path; "\/stream" follows the address/],
    ['udp://@239.1.1.1:5004#x', /must not have a fragment/],
    ['udp://a@b@239.1.1.1:5004', /at most one "@"/],
    [
      'udp://@239.1.1.1:5004?foo=1',
      /only the query options iface, ttl, dscp, buffer, reuse, sources, block .*"foo" is not one/,
    ],
    ['udp://@239.1.1.1:5004?ttl', /must give the query option "ttl" a value/],
    ['udp://@239.1.1.1:5004?ttl=1&&dscp=1', /empty query parameter/],
    ['udp://@239.1.1.1:5004?ttl=1&', /empty query parameter/],
    ['udp://@239.1.1.1:5004?ttl=1&ttl=2', /query option ttl only once/],
    ['udp://@239.1.1.1:5004?buffer=1&buffer_size=2', /query option buffer only once/],
    ['udp://1.2.3.4:5004?ttl=256', /query option ttl that is an integer in 0\.\.255; "256" is not/],
    ['udp://1.2.3.4:5004?ttl=-1', /query option ttl that is an integer/],
    ['udp://1.2.3.4:5004?ttl=', /query option ttl that is an integer/],
    ['udp://1.2.3.4:5004?ttl=1e2', /query option ttl that is an integer/],
    ['udp://1.2.3.4:5004?dscp=64', /query option dscp that is an integer in 0\.\.63/],
    ['udp://1.2.3.4:5004?buffer=0', /buffer of at least 1 byte/],
    ['udp://1.2.3.4:5004?buffer=2M', /query option buffer that is an integer/],
    ['udp://1.2.3.4:5004?buffer=99999999999999999999', /query option buffer that is an integer/],
    ['udp://1.2.3.4:5004?reuse=yes', /query option reuse of 0, 1, false or true; "yes" is not/],
    ['udp://1.2.3.4:5004?iface=', /query option iface that is 1 to 64/],
    ['udp://1.2.3.4:5004?iface=a%20b', /query option iface that is 1 to 64/],
    ['udp://1.2.3.4:5004?iface=%C3%A9', /only ASCII in the query option iface; %C3 is not/],
    ['udp://10.0.0.1@239.1.1.1:5004?block=10.0.0.2', /not combine sources .* with block=/],
    ['udp://@232.1.1.1:5004?block=10.0.0.2', /name a source for the SSM group .*block= cannot/],
    ['udp://@10.0.0.1:5004?block=10.0.0.2', /multicast group literal as host when block=/],
    ['udp://@239.1.1.1:5004?block=2001:db8::1', /blocked sources of the group's family/],
    ['udp://@239.1.1.1:5004?block=239.0.0.2', /unicast blocked sources; 239\.0\.0\.2/],
    ['udp://@239.1.1.1:5004?block=host', /IP address literals as sources; "host" in block=/],
    [
      'udp://10.0.0.1@10.0.0.2:5004',
      /multicast group literal as host when sources are given; 10\.0\.0\.2 is not/,
    ],
    ['udp://10.0.0.1@:5004', /multicast group literal .*; no group/],
    ['udp://10.0.0.1@media.example:5004', /multicast group literal/],
    ['udp://@232.1.1.1:5004', /must name a source for the SSM group 232\.1\.1\.1/],
    ['udp://@[ff3e::1]:5004', /must name a source for the SSM group ff3e::1/],
    [
      'udp://2001:db8::1@232.1.1.1:5004',
      /sources of the group's family \(IPv4\); 2001:db8::1 is not/,
    ],
    ['udp://10.0.0.1@[ff3e::1]:5004', /sources of the group's family \(IPv6\)/],
    ['udp://239.0.0.1@232.1.1.1:5004', /unicast sources; 239\.0\.0\.1 is not one/],
    ['udp://0.0.0.0@232.1.1.1:5004', /unicast sources; 0\.0\.0\.0 is not one/],
    ['udp://host@232.1.1.1:5004', /IP address literals as sources; "host" before "@" is not one/],
    [
      'udp://@232.1.1.1:5004?sources=10.0.0.1,,10.0.0.2',
      /IP address literals as sources; "" in sources= is not one/,
    ],
    ['udp://[fe80::1%eth0]@[ff32::1]:5004', /sources without a zone/],
    ['udp://[::ffff:10.0.0.1]@[ff3e::1]:5004', /IPv4 sources as IPv4/],
    ['udp://@[::ffff:239.1.1.1]:5004', /must write the IPv4 group as IPv4/],
    [42, /must be a string such as/],
  ];
  for (const [input, message] of rows) {
    assert.throws(() => parseMediaUrl(input as string), isInvalidUrl(message), String(input));
  }
});

test('formatMediaUrl validates the object it is given', () => {
  const ok: MediaUrl = parseMediaUrl('udp://@239.1.1.1:5004');
  assert.throws(
    () => formatMediaUrl({ ...ok, scheme: 'srt' as 'udp' }),
    isInvalidUrl(/"udp" or "rtp"/, 'url.scheme'),
  );
  assert.throws(() => formatMediaUrl({ ...ok, port: -1 }), isInvalidUrl(undefined, 'url.port'));
  assert.throws(() => formatMediaUrl({ ...ok, ttl: 300 }), isInvalidUrl(undefined, 'url.ttl'));
  assert.throws(() => formatMediaUrl({ ...ok, dscp: 64 }), isInvalidUrl(undefined, 'url.dscp'));
  assert.throws(
    () => formatMediaUrl({ ...ok, bufferBytes: 0 }),
    isInvalidUrl(undefined, 'url.bufferBytes'),
  );
  assert.throws(
    () => formatMediaUrl({ ...ok, reuse: 1 as unknown as boolean }),
    isInvalidUrl(undefined, 'url.reuse'),
  );
  assert.throws(
    () => formatMediaUrl({ ...ok, iface: 'a b' }),
    isInvalidUrl(undefined, 'url.iface'),
  );
  assert.throws(
    () => formatMediaUrl({ ...ok, sources: ['x'] }),
    isInvalidUrl(undefined, 'url.sources[0]'),
  );
  assert.throws(
    () => formatMediaUrl({ ...ok, block: ['x'] }),
    isInvalidUrl(undefined, 'url.block[0]'),
  );
  assert.throws(
    () => formatMediaUrl({ ...ok, sources: ['10.0.0.1'], block: ['10.0.0.2'] }),
    isInvalidUrl(/not combine sources/),
  );
  assert.throws(() => formatMediaUrl({ ...ok, zone: 'eth0' }), isInvalidUrl(undefined, 'url.zone'));
  assert.throws(
    () => formatMediaUrl({ ...ok, host: '', zone: 'eth0' }),
    isInvalidUrl(undefined, 'url.zone'),
  );
  assert.throws(
    () => formatMediaUrl({ ...ok, listen: false, host: '' }),
    isInvalidUrl(undefined, 'url.host'),
  );
  assert.throws(() => formatMediaUrl(null as never), isInvalidUrl(undefined, 'url'));
  // A zone that looks like RFC 6874's escape is written escaped, so it survives the round trip.
  assert.equal(parseMediaUrl('udp://[fe80::1%25ab]:5').zone, 'ab');
  assert.equal(parseMediaUrl('udp://[fe80::1%25]:5').zone, '25'); // interface index 25
  assert.equal(parseMediaUrl('udp://[fe80::1%251]:5').zone, '251'); // interface index 251
  const zoned = {
    ...ok,
    listen: false,
    host: 'fe80::1',
    family: 6 as const,
    multicast: false,
    zone: '25ab',
  };
  assert.deepEqual(parseMediaUrl(formatMediaUrl(zoned)).zone, '25ab');
});

const zoneArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,15}$/);
const portArb = fc.integer({ min: 0, max: 65535 });
const ssm4 = fc
  .integer({ min: 0, max: 0xffffff })
  .map((n) => `232.${n >>> 16}.${(n >>> 8) & 255}.${n & 255}`);
const ssm6 = fc
  .tuple(
    fc.constantFrom(...'0123456789abcdef'),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 1, max: 0xffff }),
  )
  .map(([scope, hi, lo]) => `ff3${scope}::${hi.toString(16)}:${lo.toString(16)}`);
const unicast4 = fc.ipV4().filter((a) => !/^(0|22[4-9]|23\d)\./.test(a));
const unicast6 = fc
  .ipV6()
  .filter(
    (a) =>
      !/^ff/i.test(a) && !/^[0:]*$/.test(a) && !/^::ffff:/i.test(a) && !/^0:0:0:0:0:ffff:/i.test(a),
  );

const queryArb = fc.record(
  {
    iface: fc.stringMatching(/^[A-Za-z0-9_.:%-]{1,20}$/),
    ttl: fc.integer({ min: 0, max: 255 }),
    dscp: fc.integer({ min: 0, max: 63 }),
    buffer: fc.integer({ min: 1, max: 2 ** 40 }),
    reuse: fc.constantFrom('0', '1', 'true', 'false'),
  },
  { requiredKeys: [] },
);

/** Valid media URLs in many spellings. */
const validUrlArb = fc
  .tuple(
    fc.constantFrom('udp', 'rtp', 'UDP'),
    fc.oneof(
      fc.tuple(
        fc.constant('send'),
        fc.oneof(
          fc.ipV4().filter((a) => a !== '0.0.0.0'),
          fc.domain(),
        ),
        fc.constant<string[]>([]),
      ),
      fc.tuple(fc.constant('send6'), unicast6, fc.constant<string[]>([])),
      fc.tuple(
        fc.constant('listen'),
        fc.oneof(
          fc.ipV4().filter((a) => !a.startsWith('232.')),
          fc.constant(''),
        ),
        fc.constant<string[]>([]),
      ),
      fc.tuple(fc.constant('ssm4'), ssm4, fc.array(unicast4, { minLength: 1, maxLength: 4 })),
      fc.tuple(fc.constant('ssm6'), ssm6, fc.array(unicast6, { minLength: 1, maxLength: 4 })),
    ),
    fc.option(portArb, { nil: undefined }),
    fc.option(zoneArb, { nil: undefined }),
    queryArb,
    fc.boolean(),
  )
  .map(([scheme, [kind, host, sources], port, zone, query, sourceInQuery]) => {
    const v6 = kind === 'send6' || kind === 'ssm6';
    const hostText = v6 ? `[${host}${zone !== undefined ? `%${zone}` : ''}]` : host;
    let authority = `${hostText}${port !== undefined ? `:${port}` : ''}`;
    const params: string[] = [];
    if (query.iface !== undefined) params.push(`iface=${query.iface.replaceAll('%', '%25')}`);
    if (query.ttl !== undefined) params.push(`ttl=${query.ttl}`);
    if (query.dscp !== undefined) params.push(`dscp=${query.dscp}`);
    if (query.buffer !== undefined) params.push(`buffer=${query.buffer}`);
    if (query.reuse !== undefined) params.push(`reuse=${query.reuse}`);
    if (kind === 'listen') authority = `@${authority}`;
    if (sources.length > 0) {
      if (sourceInQuery) params.push(`sources=${sources.join(',')}`);
      else {
        const [first, ...rest] = sources;
        authority = `${v6 ? `[${first}]` : first}@${authority}`;
        if (rest.length > 0) params.push(`sources=${rest.join(',')}`);
      }
    }
    return `${scheme}://${authority}${params.length > 0 ? `?${params.join('&')}` : ''}`;
  });

/** Strings near valid URLs: pieces of URLs, joined at random. */
const nearUrlArb = fc
  .tuple(
    fc.constantFrom('udp://', 'rtp://', 'UDP://', 'udp:/', 'srt://', ''),
    fc.array(
      fc.oneof(
        fc.ipV4(),
        fc.ipV6(),
        fc.domain(),
        ssm4,
        ssm6,
        fc.constantFrom('@', '[', ']', ':', '%', '%25', '?', '&', '=', ',', '/', '#', ''),
        fc.constantFrom(
          'ttl=',
          'dscp=',
          'buffer=',
          'reuse=',
          'sources=',
          'iface=',
          'localaddr=',
          'foo=',
        ),
        fc.integer({ min: -1, max: 70000 }).map(String),
        zoneArb,
      ),
      { maxLength: 8 },
    ),
  )
  .map(([scheme, parts]) => scheme + parts.join(''));

test('parseMediaUrl throws nothing but InvalidArgumentError for arbitrary strings', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), nearUrlArb), (input) => {
      try {
        parseMediaUrl(input);
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        assert.equal(err.argument, 'url');
      }
    }),
    { numRuns: 2000 },
  );
});

test('generated valid URLs parse, and parse(format(parse(x))) equals parse(x)', () => {
  fc.assert(
    fc.property(validUrlArb, (input) => {
      const parsed = parseMediaUrl(input);
      const canonical = formatMediaUrl(parsed);
      assert.deepEqual(parseMediaUrl(canonical), parsed);
      assert.equal(formatMediaUrl(parseMediaUrl(canonical)), canonical);
    }),
    { numRuns: 1500 },
  );
});

test('near-valid strings that parse also round-trip', () => {
  let parsedCount = 0;
  fc.assert(
    fc.property(nearUrlArb, (input) => {
      let parsed: MediaUrl;
      try {
        parsed = parseMediaUrl(input);
      } catch (err) {
        if (err instanceof InvalidArgumentError) return;
        throw err;
      }
      parsedCount++;
      assert.deepEqual(parseMediaUrl(formatMediaUrl(parsed)), parsed);
    }),
    { numRuns: 2000 },
  );
  assert.ok(parsedCount > 0, 'the generator should produce some valid URLs');
});

test('query keys named after Object.prototype members are unknown options', () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
    assert.throws(
      () => parseMediaUrl(`udp://@239.1.1.1:5004?${key}=1`),
      isInvalidUrl(new RegExp(`only the query options .*"${key}" is not one`)),
      key,
    );
    assert.throws(
      () => parseMediaUrl(`udp://@239.1.1.1:5004?ttl=1&${key}=x`),
      isInvalidUrl(/is not one/),
      `${key} after a known key`,
    );
  }
});

/** `count` distinct IPv4 sources in 10.0.0.0/8, as text. */
function ipv4Sources(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  );
}

test('sources= longer than MAX_URL_SOURCES is rejected before any source is parsed', () => {
  const url = `udp://@232.1.1.1:5004?sources=${ipv4Sources(20_000).join(',')}`;
  const started = performance.now();
  assert.throws(
    () => parseMediaUrl(url),
    isInvalidUrl(new RegExp(`at most ${MAX_URL_SOURCES} sources .*; 20000 are given`)),
  );
  const elapsedMs = performance.now() - started;
  // Sanity bound only (the quadratic de-duplication took 27 s here); the error is the assertion.
  assert.ok(elapsedMs < 1000, `rejecting 20,000 sources took ${elapsedMs.toFixed(1)} ms`);
  // The "@" source counts too.
  const atLimit = ipv4Sources(MAX_URL_SOURCES);
  assert.throws(
    () => parseMediaUrl(`udp://192.0.2.1@232.1.1.1:5004?sources=${atLimit.join(',')}`),
    isInvalidUrl(/at most 1024 sources/),
  );
  assert.equal(
    parseMediaUrl(`udp://@232.1.1.1:5004?sources=${atLimit.join(',')}`).sources.length,
    MAX_URL_SOURCES,
  );
});

test('1,000 sources are de-duplicated by address, in order, IPv4 and IPv6', () => {
  const v4 = ipv4Sources(1000);
  const withDuplicates = [...v4.slice(0, 500), ...v4.slice(0, 20), ...v4.slice(500)];
  const started = performance.now();
  const parsed = parseMediaUrl(
    `udp://${v4[0]}@232.1.1.1:5004?sources=${withDuplicates.slice(1).join(',')}`,
  );
  const elapsedMs = performance.now() - started;
  assert.deepEqual(parsed.sources, v4);
  assert.ok(elapsedMs < 2000, `parsing 1,000 sources took ${elapsedMs.toFixed(1)} ms`);

  // Different spellings of one IPv6 address are one source (512 written twice: 1,024 in all).
  const v6 = Array.from({ length: 512 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
  const respelled = v6.map((a, i) =>
    i % 2 === 0 ? a.toUpperCase() : a.replace('2001:db8::', '2001:0db8:0:0:0:0:0:'),
  );
  const parsed6 = parseMediaUrl(
    `udp://@[ff3e::8000:1]:5004?sources=${[...v6, ...respelled].join(',')}`,
  );
  assert.deepEqual(parsed6.sources, v6);
});

test('source filters on any group: include (S@G, sources=) and exclude (block=)', () => {
  // The SSM range is a classification, not a rule: an INCLUDE join on 239/8 is what IPTV uses.
  const inc = parseMediaUrl('udp://10.0.0.1@239.1.1.1:5004?sources=10.0.0.2');
  assert.deepEqual(inc.sources, ['10.0.0.1', '10.0.0.2']);
  assert.equal(inc.listen, true);
  assert.equal(inc.ssm, true);
  assert.equal(inc.block, undefined);
  assert.equal(formatMediaUrl(inc), 'udp://10.0.0.1@239.1.1.1:5004?sources=10.0.0.2');
  // FFmpeg's form: no "@", the sources make it a listen URL.
  assert.deepEqual(parseMediaUrl('udp://239.1.1.1:5004?sources=10.0.0.1').sources, ['10.0.0.1']);
  const v6 = parseMediaUrl('udp://[2001:db8::1]@[ff15::1]:5004');
  assert.deepEqual(v6.sources, ['2001:db8::1']);

  const exc = parseMediaUrl('udp://239.1.1.1:5004?block=10.0.0.9,10.0.0.8,10.0.0.9');
  assert.equal(exc.listen, true, 'block= makes a listen URL, as sources= does');
  assert.deepEqual(exc.block, ['10.0.0.9', '10.0.0.8'], 'de-duplicated, in order');
  assert.deepEqual(exc.sources, []);
  assert.equal(exc.ssm, false);
  assert.equal(formatMediaUrl(exc), 'udp://@239.1.1.1:5004?block=10.0.0.9,10.0.0.8');
  assert.deepEqual(parseMediaUrl(formatMediaUrl(exc)), exc);
  assert.deepEqual(parseMediaUrl('udp://@[ff15::1]:5004?block=[2001:db8::9]').block, [
    '2001:db8::9',
  ]);
  // A group in the SSM range still needs a source.
  assert.throws(() => parseMediaUrl('udp://@232.1.1.1:5004'), isInvalidUrl(/SSM group/));
});
