/**
 * How many terminal columns a string takes, and cutting or wrapping it to a number of columns,
 * for the live display. Counted per grapheme cluster (`Intl.Segmenter`): a combining mark, a
 * zero-width joiner or a variation selector adds nothing to the character it follows; East Asian
 * wide and fullwidth characters and emoji shown as pictures take two columns; control characters
 * none; everything else (`µ`, `±`, `…`, accented letters) one. That is what `wcwidth` gives in a
 * UTF-8 locale; East Asian "ambiguous" characters count as one column, as terminals show them
 * outside CJK locales.
 *
 * What it does not do: escape sequences (the display writes no colours), tabs.
 *
 * @module
 */

/**
 * Code points of East Asian Width W or F (Unicode 15, UAX #11), as [first, last] pairs in order:
 * the blocks terminals draw two columns wide. Emoji are matched separately (`Emoji_Presentation`).
 */
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compat
  [0x3400, 0x4dbf], // CJK unified ideographs extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff], // Tangut
  [0x1b000, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x2fffd], // CJK extensions B to F, compatibility supplement
  [0x30000, 0x3fffd], // CJK extensions G and H
];

const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}/u;
/** Code points that take no column on their own. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]+$/u;

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE_RANGES.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [first, last] = WIDE_RANGES[mid]!;
    if (cp < first) hi = mid - 1;
    else if (cp > last) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Columns one grapheme cluster takes: 0, 1 or 2. */
function clusterWidth(cluster: string): number {
  const cp = cluster.codePointAt(0) ?? 0;
  // Printable ASCII: the common case, no regular expression.
  if (cp >= 0x20 && cp < 0x7f) return 1;
  if (ZERO_WIDTH.test(cluster)) return 0;
  if (isWide(cp) || EMOJI_PRESENTATION.test(cluster)) return 2;
  // A text-style pictograph followed by VS16 (U+FE0F) is drawn as an emoji picture.
  if (PICTOGRAPHIC.test(cluster) && cluster.includes('\ufe0f')) return 2;
  return 1;
}

const segmenter =
  typeof Intl.Segmenter === 'function'
    ? new Intl.Segmenter(undefined, { granularity: 'grapheme' })
    : undefined;

/** The grapheme clusters of `text` (code points where `Intl.Segmenter` is missing). */
function clusters(text: string): Iterable<string> {
  if (segmenter === undefined) return text;
  const segments = segmenter.segment(text);
  return (function* () {
    for (const s of segments) yield s.segment;
  })();
}

/** Terminal columns `text` takes (one line: no tabs or newlines). */
export function displayWidth(text: string): number {
  let width = 0;
  // ASCII only: one column per character.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  for (const c of clusters(text)) width += clusterWidth(c);
  return width;
}

/**
 * The longest start of `text` that fits in `columns` columns, never splitting a grapheme cluster
 * (a wide character that would straddle the edge is left out).
 */
export function cutToWidth(text: string, columns: number): string {
  if (columns <= 0) return '';
  if (/^[\x20-\x7e]*$/.test(text)) return text.length <= columns ? text : text.slice(0, columns);
  let width = 0;
  let end = 0;
  for (const c of clusters(text)) {
    const w = clusterWidth(c);
    if (width + w > columns) break;
    width += w;
    end += c.length;
  }
  return text.slice(0, end);
}

/**
 * `text` as lines of at most `columns` columns, broken at spaces (a word longer than a line is cut
 * where the line ends); continuation lines start with `indent` (left out when it leaves fewer than
 * two columns). With `columns` 0 or less, `text` as one line.
 */
export function wrapToWidth(text: string, columns: number, indent = ''): string[] {
  if (columns <= 0 || displayWidth(text) <= columns) return [text];
  if (columns < 2) return [cutToWidth(text, columns)];
  const lead = displayWidth(indent) <= columns - 2 ? indent : '';
  const leadWidth = displayWidth(lead);
  const lines: string[] = [];
  let line = '';
  let width = 0;
  let words = 0; // words on `line`
  for (let word of text.split(' ')) {
    let w = displayWidth(word);
    if (words > 0 && width + 1 + w <= columns) {
      line += ` ${word}`;
      width += 1 + w;
      words++;
      continue;
    }
    if (words > 0) {
      lines.push(line);
      line = lead;
      width = leadWidth;
      words = 0;
    }
    // At the start of a line at least two columns are free, so each pass cuts at least one
    // grapheme cluster off the word: bounded by the word's length.
    while (width + w > columns) {
      const head = cutToWidth(word, columns - width);
      lines.push(line + head);
      word = word.slice(head.length);
      w = displayWidth(word);
      line = lead;
      width = leadWidth;
    }
    line += word;
    width += w;
    words++;
  }
  lines.push(line);
  return lines;
}
