import { describe, expect, it } from 'vitest';
import { END_OF_TEXT, fnv1a, TagFeatures } from './tag-features.js';
import { tokenize } from './tokenize.js';

describe('tokenize', () => {
  it('lower-cases and splits at whitespace and punctuation, dropping the punctuation', () => {
    expect(tokenize('How do I make a ROUX?  (Quickly, please!)')).toEqual([
      'how',
      'do',
      'i',
      'make',
      'a',
      'roux',
      'quickly',
      'please',
    ]);
    expect(tokenize("What's stir-fry/sauté?")).toEqual(['what', 's', 'stir', 'fry', 'sauté']);
  });

  it('keeps symbols as tokens of their own and digits inside words', () => {
    expect(tokenize('C++ at 350°F for $5 🍕 in 45minutes')).toEqual([
      'c',
      '+',
      '+',
      'at',
      '350',
      '°',
      'f',
      'for',
      '$',
      '5',
      '🍕',
      'in',
      '45minutes',
    ]);
  });

  it('normalises Unicode: composed and decomposed accents, full-width letters and digits', () => {
    expect(tokenize('Cafe\u0301 CAFÉ')).toEqual(['café', 'café']);
    expect(tokenize('ＡＢＣ１２３')).toEqual(['abc123']);
    expect(tokenize('Straße ΣΊΣΥΦΟΣ')).toEqual(['straße', 'σίσυφος']); // with a final sigma
  });

  it('cuts Japanese text into words with Intl.Segmenter', () => {
    // Exact cuts depend on ICU's dictionary (Node's version): check the words that matter and
    // that nothing but punctuation is lost.
    const tempura = tokenize('天ぷらの揚げ方を教えてください。');
    expect(tempura.slice(0, 4)).toEqual(['天ぷら', 'の', '揚げ', '方']);
    expect(tempura.join('')).toBe('天ぷらの揚げ方を教えてください');
    const sushi = tokenize('私は寿司が好きです');
    expect(sushi).toEqual(expect.arrayContaining(['私', '寿司', '好き']));
    expect(sushi.join('')).toBe('私は寿司が好きです');
    // Half-width katakana becomes full-width; Latin words inside Japanese text stay whole.
    const curry = tokenize('ｶﾚｰの作り方 (Curry)');
    expect(curry.slice(0, 2)).toEqual(['カレー', 'の']);
    expect(curry.at(-1)).toBe('curry');
  });

  it('returns no tokens for empty or punctuation-only text', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize(' ...?! ')).toEqual([]);
  });
});

describe('TagFeatures', () => {
  it('hashes with 32-bit FNV-1a', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('gives known words, the end-of-text word and one bucket per word n-gram', () => {
    const f = new TagFeatures([END_OF_TEXT, 'salt', 'pepper'], {
      wordNgrams: 3,
      bucket: 1000,
      minn: 0,
      maxn: 0,
    });
    const ids: number[] = [];
    const buckets: number[] = [];
    f.encode(['salt', 'and', 'pepper'], ids, buckets);
    expect(ids).toEqual([1, 2, 0]); // 'and' is unknown: dropped, but it still takes part in n-grams
    // 4 tokens with end-of-text: 3 bigrams + 2 trigrams.
    expect(buckets).toHaveLength(5);
    for (const b of buckets) expect(b).toBeGreaterThanOrEqual(0);
    for (const b of buckets) expect(b).toBeLessThan(1000);
    const again: number[] = [];
    f.encode(['salt', 'and', 'pepper'], [], again);
    expect(again).toEqual(buckets);
  });

  it('gives character n-grams of the word wrapped in < and >', () => {
    const f = new TagFeatures([END_OF_TEXT], { wordNgrams: 1, bucket: 1 << 30, minn: 2, maxn: 3 });
    const buckets: number[] = [];
    f.encode(['ab'], [], buckets);
    const expected = ['<a', '<ab', 'ab', 'ab>', 'b>'].map((g) => fnv1a(g) % (1 << 30));
    expect(buckets.sort()).toEqual(expected.sort());
  });
});
