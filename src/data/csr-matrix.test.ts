import { describe, expect, it } from 'vitest';
import { CsrMatrix } from './csr-matrix.js';
import { type ExternalId, type ExternalIdColumn, IdMap } from './id-map.js';

describe('CsrMatrix', () => {
  it('sums duplicates and sorts columns within each row', () => {
    const m = CsrMatrix.fromCoordinates(
      3,
      4,
      Int32Array.from([2, 0, 0, 2, 0]),
      Int32Array.from([1, 3, 1, 1, 3]),
      Float32Array.from([1, 2, 3, 4, 5]),
    );
    expect([...m.indptr]).toEqual([0, 2, 2, 3]);
    expect([...m.indices]).toEqual([1, 3, 1]);
    expect([...m.values]).toEqual([3, 7, 5]);
    expect(m.has(0, 3)).toBe(true);
    expect(m.has(1, 1)).toBe(false);
    expect(m.rowNnz(1)).toBe(0);
  });

  it('transposes into the column view, twice back to the original', () => {
    const m = CsrMatrix.fromCoordinates(
      2,
      3,
      Int32Array.from([0, 0, 1]),
      Int32Array.from([2, 0, 2]),
      Float32Array.from([1, 2, 3]),
    );
    const t = m.transpose();
    expect([t.rows, t.cols]).toEqual([3, 2]);
    expect([...t.indptr]).toEqual([0, 1, 1, 3]);
    expect([...t.indices]).toEqual([0, 0, 1]);
    expect([...t.values]).toEqual([2, 1, 3]);
    const back = t.transpose();
    expect([...back.indices]).toEqual([...m.indices]);
    expect([...back.values]).toEqual([...m.values]);
  });

  it('refuses coordinates outside the shape', () => {
    expect(() =>
      CsrMatrix.fromCoordinates(1, 1, Int32Array.from([0]), Int32Array.from([1]), null),
    ).toThrow(/outside 1×1/);
  });
});

describe('IdMap', () => {
  it('indexes integer ids in numeric order, not text order', () => {
    const map = IdMap.fromColumn(Float64Array.from([10, 9, 100, 9]));
    expect(map.toJSON()).toEqual([9, 10, 100]);
    expect(map.indexOf(100)).toBe(2);
    expect(map.indexOf(11)).toBe(-1);
    expect(map.idAt(0)).toBe(9);
  });

  it('indexes string ids and round-trips through JSON', () => {
    const map = IdMap.fromColumn(['b', 'a', 'b', 'c']);
    expect(map.toJSON()).toEqual(['a', 'b', 'c']);
    expect(IdMap.fromSortedIds(map.toJSON()).indexOf('c')).toBe(2);
    expect(() => IdMap.fromSortedIds(['b', 'a'])).toThrow(/ascending/);
    expect(() => map.idAt(3)).toThrow(/outside/);
  });
});

describe('CsrMatrix.fromCoordinates at scale', () => {
  // 1.1M entries take the two-pass scatter, 20k the direct one.
  it.each([20_000, 1_100_000])(
    'matches a reference build on %i entries, summing duplicates in entry order',
    (n) => {
      let seed = 7;
      const next = (k: number): number => {
        seed = (seed * 48271) % 2147483647;
        return seed % k;
      };
      const rows = Int32Array.from({ length: n }, (_, e) => (e % 3 === 0 ? 1 : next(50)));
      const cols = Int32Array.from({ length: n }, () => next(300));
      const values = Float32Array.from({ length: n }, () => next(1000) / 7);
      const m = CsrMatrix.fromCoordinates(50, 300, rows, cols, values);
      const expected = new Map<number, number>();
      for (let e = 0; e < n; e++) {
        const key = rows[e] * 300 + cols[e];
        expected.set(key, Math.fround((expected.get(key) ?? 0) + values[e]));
      }
      const keys = [...expected.keys()].sort((a, b) => a - b);
      expect(m.nnz).toBe(keys.length);
      expect([...m.indices]).toEqual(keys.map((k) => k % 300));
      expect([...m.values]).toEqual(keys.map((k) => expected.get(k)));
      for (let r = 0; r < 50; r++)
        expect(m.rowNnz(r)).toBe(keys.filter((k) => Math.floor(k / 300) === r).length);
    },
  );
});

describe('IdMap.encode', () => {
  it('codes every row with its dense index, for compact and sparse integer ids and strings', () => {
    const columns: ExternalIdColumn[] = [
      Float64Array.of(5, 3, 5, 9, 3),
      Float64Array.of(1e15, -4, 1e15, 7.5, -4),
      ['b', '10', 'a', '9', 'b'],
    ];
    for (const column of columns) {
      const { map, codes } = IdMap.encode(column);
      expect(Array.from(codes)).toEqual(
        Array.from(column as ArrayLike<number | string>, (id) => map.indexOf(id)),
      );
      expect(map.size).toBe(new Set<ExternalId>(column).size);
    }
    expect(IdMap.encode(Float64Array.of(1e15, -4, 7.5)).map.toJSON()).toEqual([-4, 7.5, 1e15]);
    expect(IdMap.encode(['b', '10', 'a', '9']).map.toJSON()).toEqual(['9', '10', 'a', 'b']);
  });
});
