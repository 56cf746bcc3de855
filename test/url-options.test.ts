/**
 * FFmpeg's and VLC's udp/rtp query options in media URLs (src/url-options.ts): the lines FFmpeg
 * users type parse, applied keys become fields, FFmpeg-only keys are kept for a notice, keys of the
 * other direction give a notice rather than an error, unknown keys and `fec` stay errors, and every
 * row of the documented table behaves as it says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { InvalidArgumentError } from '../src/errors.js';
import { formatMediaUrl, parseMediaUrl } from '../src/url.js';
import { URL_OPTION_TABLE, fifoDatagrams, urlNotices } from '../src/url-options.js';

function rejects(url: string, message: RegExp): void {
  assert.throws(
    () => parseMediaUrl(url),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.equal(err.code, 'MEDIASOCK_ERR_INVALID_ARG');
      assert.match(err.message, message);
      return true;
    },
    url,
  );
}

test("FFmpeg's most common UDP input line parses, with notices for what only FFmpeg uses", () => {
  const url = parseMediaUrl('udp://@239.1.1.1:1234?overrun_nonfatal=1&fifo_size=50000000');
  assert.equal(url.listen, true);
  assert.equal(url.host, '239.1.1.1');
  assert.equal(url.fifoPackets, 50_000_000);
  assert.deepEqual(url.ignoredOptions, [{ key: 'overrun_nonfatal', value: '1' }]);
  const notes = urlNotices(url, 'receive');
  assert.equal(notes.length, 1);
  assert.match(notes[0] ?? '', /^overrun_nonfatal=1 is ignored: .*FIFO/);
  assert.equal(fifoDatagrams(50_000_000), 1 << 20, 'capped at readerQueueLength limit');
  assert.equal(fifoDatagrams(7), 1);
  assert.equal(fifoDatagrams(8), 2);
});

test('applied FFmpeg keys become typed fields, aliases included', () => {
  const url = parseMediaUrl(
    'udp://127.0.0.1:1234?pkt_size=1316&timeout=2000000&local_port=40000&connect=1&bitrate=4000000&broadcast=0&burst_bits=1316',
  );
  assert.equal(url.listen, false);
  assert.equal(url.packetBytes, 1316);
  assert.equal(url.timeoutMicros, 2_000_000);
  assert.equal(url.localPort, 40_000);
  assert.equal(url.connect, true);
  assert.equal(url.bitsPerSecond, 4_000_000);
  assert.equal(url.broadcast, false);
  assert.deepEqual(url.ignoredOptions, [{ key: 'burst_bits', value: '1316' }]);
  assert.equal(parseMediaUrl('rtp://127.0.0.1:5004?localrtpport=6000').localPort, 6000);
  // VLC's miface and FFmpeg's localaddr / reuse_socket / buffer_size are aliases.
  const r = parseMediaUrl('udp://@239.1.1.1:5004?miface=lo&reuse_socket=1&buffer_size=65536');
  assert.equal(r.iface, 'lo');
  assert.equal(r.reuse, true);
  assert.equal(r.bufferBytes, 65536);
  assert.equal(parseMediaUrl('udp://127.0.0.1:5004?localaddr=127.0.0.1').iface, '127.0.0.1');
});

test('options of the other direction are notices, not errors; each names the key', () => {
  const both = parseMediaUrl('udp://@127.0.0.1:5004?ttl=16&pkt_size=1316&localport=5000&connect=1');
  const rx = urlNotices(both, 'receive');
  assert.equal(rx.length, 4, rx.join('\n'));
  for (const key of ['ttl=16', 'pkt_size=1316', 'localport=5000', 'connect=1']) {
    assert.ok(
      rx.some((n) => n.startsWith(`${key} is ignored`)),
      `${key}: ${rx.join(' | ')}`,
    );
  }
  const tx = urlNotices(parseMediaUrl('udp://127.0.0.1:5004?fifo_size=1000&timeout=5'), 'send');
  assert.deepEqual(tx, [
    'fifo_size=1000 is ignored: it applies to receiving',
    'timeout=5 is ignored: it applies to receiving',
  ]);
  assert.deepEqual(urlNotices(parseMediaUrl('udp://127.0.0.1:5004?pkt_size=1316'), 'send'), []);
});

test('unknown keys, fec, bad values and duplicates (counting aliases) stay errors', () => {
  rejects('udp://@:5004?overrun=1', /"overrun" is not one/);
  rejects('udp://@:5004?overrun=1', /FFmpeg's pkt_size, fifo_size/);
  rejects('rtp://127.0.0.1:5004?fec=prompeg=l=5::d=5', /fec: refused/);
  rejects('udp://127.0.0.1:5004?pkt_size=0', /pkt_size that is an integer in 1..65527/);
  rejects('udp://127.0.0.1:5004?pkt_size=70000', /pkt_size/);
  rejects('udp://127.0.0.1:5004?pkt_size=1e3', /pkt_size/);
  rejects('udp://127.0.0.1:5004?connect=yes', /connect of 0, 1, false or true/);
  rejects('udp://127.0.0.1:5004?localport=65536', /localport/);
  rejects('udp://127.0.0.1:5004?localport=1&local_port=2', /localport only once/);
  rejects('udp://@:5004?overrun_nonfatal=1&overrun_nonfatal=1', /overrun_nonfatal only once/);
  rejects('udp://@:5004?fifo_size=-1', /fifo_size/);
  rejects('udp://@:5004?timeout=abc', /timeout/);
});

test('formatMediaUrl writes the FFmpeg keys back, and the result parses to the same URL', () => {
  const inputs = [
    'udp://@239.1.1.1:1234?overrun_nonfatal=1&fifo_size=50000000',
    'udp://127.0.0.1:1234?local_port=40000&pkt_size=1316&connect=true&bitrate=0&broadcast=1',
    'rtp://[::1]:5004?write_to_source=1&rtcpport=5007&ttl=2',
    'udp://@:5004?burst_bits=a%26b%25c&timeout=0',
  ];
  for (const input of inputs) {
    const parsed = parseMediaUrl(input);
    const canonical = formatMediaUrl(parsed);
    assert.deepEqual(parseMediaUrl(canonical), parsed, `${input} -> ${canonical}`);
  }
  assert.equal(
    formatMediaUrl(parseMediaUrl('udp://@:5004?burst_bits=a%26b')),
    'udp://@:5004?burst_bits=a%26b',
  );
});

test('every row of the table does what its effect says, and docs/url-options.md lists it', () => {
  const doc = readFileSync(new URL('../docs/url-options.md', import.meta.url), 'utf8');
  const sample: Record<string, string> = {
    iface: 'lo',
    localaddr: 'lo',
    miface: 'lo',
    ttl: '2',
    dscp: '10',
    buffer: '65536',
    buffer_size: '65536',
    reuse: '1',
    reuse_socket: '1',
    sources: '10.0.0.1',
    block: '10.0.0.1',
  };
  for (const row of URL_OPTION_TABLE) {
    assert.ok(doc.includes(`| \`${row.key}\``), `docs/url-options.md has a row for ${row.key}`);
    // sources/block belong to the source-filter work (any group); checked in their own tests.
    if (row.key === 'sources' || row.key === 'block') continue;
    const url = `udp://@232.1.1.1:5004?sources=10.0.0.1&${row.key}=${sample[row.key] ?? '1'}`;
    if (row.effect === 'refuse') {
      rejects(url, new RegExp(`${row.key}: refused`));
      continue;
    }
    const parsed = parseMediaUrl(url);
    if (row.effect === 'ignore') {
      assert.deepEqual(parsed.ignoredOptions, [{ key: row.key, value: '1' }], row.key);
      assert.equal(urlNotices(parsed, 'receive').length, 1, row.key);
      assert.equal(urlNotices(parsed, 'send').length, 1, row.key);
    } else {
      assert.equal(parsed.ignoredOptions, undefined, row.key);
    }
  }
});
