import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { buildCsrArrays } from './csr-build.js';
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

describe('CsrMatrix.build', () => {
  /** First index where two sequences differ (or their lengths do), -1 when equal: cheap at 1M. */
  const firstDifference = (a: ArrayLike<unknown>, b: ArrayLike<unknown>): number => {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return i;
    return a.length === b.length ? -1 : n;
  };
  const random = (seed: number): ((k: number) => number) => {
    let s = seed;
    return (k) => {
      s = (s * 48271) % 2147483647;
      return s % k;
    };
  };

  // 2^20 × 2^20 packs a block-local row and a column into exactly 32 bits (the top one set for
  // rows late in a block); 2^20 × 2^21 needs 33 and takes separate row and column arrays.
  it.each([
    [50, 300, 20_000],
    [1 << 20, 1 << 20, 1_050_000],
    [1 << 20, 1 << 21, 1_050_000],
  ])(
    'on %i×%i with %i entries, sums, counts or keeps pairs once, consuming its input or not',
    (rows, cols, n) => {
      const next = random(11);
      // A few hot rows and columns make duplicates (under 1 entry in 16 on the large shapes,
      // so that the result keeps the memory it was built in); the rest spread over the shape.
      const rowIndex = Int32Array.from({ length: n }, (_, e) =>
        e % 8 === 0 ? rows - 1 - next(20) : next(rows),
      );
      const colIndex = Int32Array.from({ length: n }, (_, e) =>
        e % 6 === 0 ? cols - 1 - next(30) : next(cols),
      );
      const values = Float32Array.from({ length: n }, () => next(1000) / 7);
      // Reference, the plain way: entries stably ordered by row, then by column within a row
      // (insertion sort), then runs of equal pairs merged.
      const expectedPtr = new Int32Array(rows + 1);
      for (let e = 0; e < n; e++) expectedPtr[rowIndex[e] + 1]++;
      for (let r = 0; r < rows; r++) expectedPtr[r + 1] += expectedPtr[r];
      const groupStart = expectedPtr.slice();
      const fill = expectedPtr.slice(0, rows);
      const order = new Int32Array(n);
      for (let e = 0; e < n; e++) order[fill[rowIndex[e]]++] = e;
      const expected = { indices: [] as number[], sum: [] as number[], count: [] as number[] };
      for (let r = 0; r < rows; r++) {
        const [start, end] = [groupStart[r], groupStart[r + 1]];
        for (let i = start + 1; i < end; i++) {
          const e = order[i];
          let j = i - 1;
          for (; j >= start && colIndex[order[j]] > colIndex[e]; j--) order[j + 1] = order[j];
          order[j + 1] = e;
        }
        for (let i = start; i < end; i++) {
          const e = order[i];
          const last = expected.indices.length - 1;
          if (i > start && colIndex[order[i - 1]] === colIndex[e]) {
            expected.sum[last] = Math.fround(expected.sum[last] + values[e]);
            expected.count[last]++;
          } else {
            expected.indices.push(colIndex[e]);
            expected.sum.push(values[e]);
            expected.count.push(1);
          }
        }
        expectedPtr[r + 1] = expected.indices.length;
      }
      const ones = expected.indices.map(() => 1);
      for (const kind of ['sum', 'count', 'binary'] as const) {
        for (const consume of [false, true]) {
          const [r, c] = [rowIndex.slice(), colIndex.slice()];
          const m = CsrMatrix.build(
            rows,
            cols,
            r,
            c,
            kind === 'sum' ? { kind, values } : { kind },
            { consume },
          );
          expect(m.nnz).toBe(expected.indices.length);
          expect(firstDifference(m.indptr, expectedPtr)).toBe(-1);
          expect(firstDifference(m.indices, expected.indices)).toBe(-1);
          expect(firstDifference(m.values, kind === 'binary' ? ones : expected[kind])).toBe(-1);
          if (!consume) {
            expect(firstDifference(r, rowIndex)).toBe(-1);
            expect(firstDifference(c, colIndex)).toBe(-1);
          } else if (n >= 1 << 20) {
            // Built in the memory it was handed.
            expect(m.indices.buffer === r.buffer).toBe(true);
            expect(m.values.buffer === c.buffer).toBe(true);
          }
        }
      }
    },
  );

  it('refuses arrays of different lengths and entries outside the shape', () => {
    const two = Int32Array.of(0, 1);
    expect(() =>
      CsrMatrix.build(2, 2, two, Int32Array.of(0), { kind: 'binary' }, { consume: false }),
    ).toThrow(/differ in length/);
    expect(() =>
      CsrMatrix.build(
        2,
        2,
        two,
        two.slice(),
        { kind: 'sum', values: Float32Array.of(1) },
        { consume: false },
      ),
    ).toThrow(/differ in length/);
    expect(() =>
      CsrMatrix.build(2, 2, two, Int32Array.of(0, 2), { kind: 'count' }, { consume: true }),
    ).toThrow(/entry 1 \(1, 2\) lies outside 2×2/);
  });

  it('does not consume one array handed over as both rows and columns', () => {
    const ids = Int32Array.from({ length: 1_100_000 }, (_, e) => e % 1000);
    const m = CsrMatrix.build(1000, 1000, ids, ids, { kind: 'binary' }, { consume: true });
    expect(m.nnz).toBe(1000);
    expect(Array.from(m.indices.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(ids[1]).toBe(1);
  });
});

describe('buildCsrArrays with columns read through a table', () => {
  it.each([20_000, 1_100_000])(
    'builds on %i entries what the written-out column codes build, and refuses a missing id',
    (n) => {
      let seed = 5;
      const next = (k: number): number => {
        seed = (seed * 48271) % 2147483647;
        return seed % k;
      };
      const itemIds = Float64Array.from({ length: n }, () => 1000 + 3 * next(400));
      const items = IdMap.encodeAsTable(itemIds)!;
      expect(items.map.size).toBe(new Set(itemIds).size);
      const codes = IdMap.encode(itemIds).codes;
      const rowIndex = Int32Array.from({ length: n }, () => next(5000));
      const values = Float32Array.from({ length: n }, () => next(100) / 3);
      for (const kind of ['binary', 'sum'] as const) {
        const spec = kind === 'sum' ? { kind, values } : { kind };
        const want = buildCsrArrays(5000, items.map.size, rowIndex, codes, spec, {
          consume: false,
        });
        const got = buildCsrArrays(5000, items.map.size, rowIndex.slice(), items, spec, {
          consume: true,
        });
        expect(got.indptr).toEqual(want.indptr);
        expect(got.indices.length).toBe(want.indices.length);
        expect(got.indices.every((c, e) => c === want.indices[e])).toBe(true);
        expect(got.values.every((v, e) => v === want.values[e])).toBe(true);
      }
      const stranger = itemIds.slice();
      stranger[n - 1] = 1001;
      expect(() =>
        buildCsrArrays(
          5000,
          items.map.size,
          rowIndex.slice(),
          { ...items, ids: stranger },
          {
            kind: 'binary',
          },
          { consume: true },
        ),
      ).toThrow(InvalidArgumentError);
    },
  );

  it('is offered only for integer ids in a compact range without a recorded encoding', () => {
    expect(IdMap.encodeAsTable(['1', '2'])).toBeNull();
    expect(IdMap.encodeAsTable(Float64Array.of(1, 2 ** 40))).toBeNull();
    expect(IdMap.encodeAsTable(Float64Array.of(1, 2.5))).toBeNull();
    const table = IdMap.encodeAsTable(Float64Array.of(-3, 7, -3))!;
    expect(table.map.toJSON()).toEqual([-3, 7]);
    expect(table.table[7 - table.base]).toBe(2);
  });
});
