import { describe, expect, it } from 'vitest';
import { CsrMatrix } from './csr-matrix.js';
import { IdMap } from './id-map.js';

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
