import { describe, expect, it } from 'vitest';
import { compareExternalIds, IdMap, recordEncoding } from './id-map.js';
import { Interactions } from './interactions.js';

describe('IdMap ordering of string ids', () => {
  it('orders canonical integer strings numerically, before other strings in code-unit order', () => {
    const ids = [
      'b',
      '10',
      '007',
      '2',
      'ユーザー1-é',
      '-3',
      'a8098c1a-f86e-11da-bd1a-00112444be1e',
      '9007199254740993',
      '+4',
      '7',
    ];
    expect(IdMap.fromColumn(ids).toJSON()).toEqual([
      '-3',
      '2',
      '7',
      '10',
      '+4',
      '007',
      '9007199254740993',
      'a8098c1a-f86e-11da-bd1a-00112444be1e',
      'b',
      'ユーザー1-é',
    ]);
    expect(compareExternalIds('9', '10')).toBeLessThan(0);
    expect(compareExternalIds('007', '7')).toBeGreaterThan(0);
  });

  it('gives numeric-looking string ids the dense indices their integers get', () => {
    const numbers = Float64Array.of(589, 1, 1200, 36, 1, 10);
    const strings = Array.from(numbers, String);
    const a = IdMap.fromColumn(numbers);
    const b = IdMap.fromColumn(strings);
    expect(b.toJSON()).toEqual(a.toJSON().map(String));
    expect(Array.from(b.indexColumn(strings))).toEqual(Array.from(a.indexColumn(numbers)));
  });

  it('restores saved maps in either order and refuses unsorted or repeated ids', () => {
    expect(IdMap.fromSortedIds(['2', '10', 'a']).indexOf('10')).toBe(1);
    // Artifacts saved before numeric-looking strings sorted numerically keep their indices.
    expect(IdMap.fromSortedIds(['10', '2', 'a']).indexOf('2')).toBe(1);
    expect(() => IdMap.fromSortedIds(['b', 'a'])).toThrow(
      /ids: not strictly ascending at position 1/,
    );
    expect(() => IdMap.fromSortedIds(['a', 'a'])).toThrow(/not strictly ascending/);
    expect(IdMap.fromSortedIds([1, 2, 10]).indexOf(10)).toBe(2);
  });
});

describe('IdMap lookups across id types', () => {
  it('finds a number by its decimal string and a string by its number, never "007" as 7', () => {
    const numeric = IdMap.fromColumn(Float64Array.of(7, 589));
    expect(numeric.indexOf('589')).toBe(1);
    expect(numeric.indexOf('007')).toBe(-1);
    expect(Array.from(numeric.indexColumn(['7', '589', 'x']))).toEqual([0, 1, -1]);
    const strings = IdMap.fromColumn(['007', '7', 'a']);
    expect(strings.toJSON()).toEqual(['7', '007', 'a']);
    expect(strings.indexOf(7)).toBe(0);
    expect(Array.from(strings.indexColumn(Float64Array.of(7, 8)))).toEqual([0, -1]);
  });
});

describe('IdMap.encodeOwned', () => {
  it('codes integer ids from 0 up, offset from their minimum, or spread far apart alike', () => {
    const columns = [
      Float64Array.of(4_194_303, 0, 17, 0),
      Float64Array.of(5_000_002, 4_999_999, 5_000_002),
      Float64Array.of(3, -2, 3, 4_194_304),
      Float64Array.of(7, 3, 2 ** 40, 7),
    ];
    for (const column of columns) {
      const { map, codes } = IdMap.encodeOwned(column);
      const distinct = [...new Set(column)].sort((a, b) => a - b);
      expect(map.toJSON()).toEqual(distinct);
      expect(Array.from(codes)).toEqual(Array.from(column, (id) => distinct.indexOf(id)));
    }
  });

  it('falls back to sorting when compact ids are not all integers', () => {
    const { map, codes, owned } = IdMap.encodeOwned(Float64Array.of(3, 2.5, 3, 4, 1));
    expect(map.toJSON()).toEqual([1, 2.5, 3, 4]);
    expect(Array.from(codes)).toEqual([2, 1, 2, 3, 0]);
    expect(owned).toBe(true);
  });

  it('hands out fresh codes as owned and a recorded encoding as shared, which a build leaves intact', () => {
    const n = 1_100_000;
    const sortedIds = ['1', '2', '10', 'a'];
    const codes = Int32Array.from({ length: n }, (_, r) => (r * 7) % 4);
    const column = Array.from(codes, (c) => sortedIds[c]);
    expect(recordEncoding(column, sortedIds, codes)).toBe(true);
    const recorded = IdMap.encodeOwned(column);
    expect(recorded.owned).toBe(false);
    expect(recorded.codes).toBe(codes);
    expect(IdMap.encodeOwned(Float64Array.of(2, 1)).owned).toBe(true);

    const items = Float64Array.from({ length: n }, (_, r) => r % 5);
    const before = codes.slice();
    const first = Interactions.fromColumns(column, items);
    expect(codes.every((c, r) => c === before[r])).toBe(true);
    const second = Interactions.fromColumns(column, items);
    expect(Array.from(second.userItems.indices)).toEqual(Array.from(first.userItems.indices));
    expect(first.nnz).toBe(20);
    expect(Array.from(first.userItems.values.subarray(0, 20))).toEqual(new Array(20).fill(1));
  });
});
