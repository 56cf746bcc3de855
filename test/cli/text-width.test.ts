/**
 * Display width of the live display's lines: ASCII, the `µ` and `±` the statistics carry,
 * combining marks, East Asian wide characters and emoji; cutting never splits a character or
 * overshoots, wrapping breaks at spaces and keeps every character.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import fc from 'fast-check';

import { cutToWidth, displayWidth, wrapToWidth } from '../../src/cli/text-width.js';

test('displayWidth counts terminal columns', () => {
  const cases: Array<[string, number]> = [
    ['', 0],
    ['abc', 3],
    ['CPU µs/DGRAM', 12],
    ['0.25 ± 0.01', 11],
    ['e\u0301te\u0301', 3], // combining acute accents take no column
    ['\u200b', 0], // zero-width space
    ['漢字', 4],
    ['ｆｕｌｌ', 8], // fullwidth Latin
    ['한국어', 6],
    ['👍', 2],
    ['👨\u200d👩\u200d👧', 2], // one family emoji (ZWJ sequence)
    ['❤', 1], // text presentation
    ['❤\ufe0f', 2], // emoji presentation by VS16
    ['…', 1],
  ];
  for (const [text, width] of cases) assert.equal(displayWidth(text), width, JSON.stringify(text));
});

test('cutToWidth keeps whole characters within the width', () => {
  assert.equal(cutToWidth('abcdef', 4), 'abcd');
  assert.equal(cutToWidth('abc', 10), 'abc');
  assert.equal(cutToWidth('abc', 0), '');
  assert.equal(cutToWidth('µs ± x', 4), 'µs ±');
  assert.equal(cutToWidth('漢字漢', 3), '漢', 'a wide character straddling the edge is left out');
  assert.equal(
    cutToWidth('e\u0301e\u0301e\u0301', 2),
    'e\u0301e\u0301',
    'marks stay with their letter',
  );
  assert.equal(cutToWidth('a👍b', 2), 'a');
});

const text = fc.string({
  unit: fc.constantFrom(
    'a',
    'Z',
    ' ',
    '-',
    'µ',
    '±',
    'é',
    'e\u0301',
    '漢',
    '한',
    '👍',
    '❤\ufe0f',
    '…',
  ),
  maxLength: 60,
});

test('cutToWidth: a start of the text, at most `columns` wide, as long as fits', () => {
  fc.assert(
    fc.property(text, fc.integer({ min: 0, max: 40 }), (s, columns) => {
      const cut = cutToWidth(s, columns);
      assert.ok(s.startsWith(cut));
      assert.ok(displayWidth(cut) <= columns);
      // Nothing more fits: the next character would overshoot (or the text is all there).
      if (cut.length < s.length) {
        const next = cutToWidth(s.slice(cut.length), 2);
        assert.ok(displayWidth(cut) + displayWidth(next) > columns || next === '');
      }
    }),
  );
});

test('wrapToWidth: every line within the width, every character kept', () => {
  fc.assert(
    fc.property(text, fc.integer({ min: 2, max: 40 }), (s, columns) => {
      const lines = wrapToWidth(s, columns, '  ');
      for (const l of lines)
        assert.ok(displayWidth(l) <= columns, `${JSON.stringify(l)} > ${columns}`);
      const squash = (x: string): string => x.replaceAll(' ', '');
      assert.equal(squash(lines.join('')), squash(s));
    }),
  );
  assert.deepEqual(wrapToWidth('summary: sent 10, received 10, lost 0', 16, '  '), [
    'summary: sent',
    '  10, received',
    '  10, lost 0',
  ]);
  assert.deepEqual(wrapToWidth('short', 80), ['short']);
  assert.deepEqual(wrapToWidth('no width known', 0), ['no width known']);
});
