import { InvalidArgumentError } from '../core/errors.js';
import { type BuildCsrOptions, buildCsrArrays, type CsrValues } from './csr-build.js';

/**
 * A sparse matrix in compressed sparse row form on typed arrays. Column indices within a row
 * are strictly ascending (duplicates are summed on construction), which lets consumers merge
 * and binary-search rows.
 */
export class CsrMatrix {
  /**
   * @param rows - number of rows
   * @param cols - number of columns
   * @param indptr - row start offsets, length rows + 1
   * @param indices - column index of each stored entry
   * @param values - value of each stored entry
   */
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly indptr: Int32Array,
    readonly indices: Int32Array,
    readonly values: Float32Array,
  ) {
    if (indptr.length !== rows + 1) {
      throw new InvalidArgumentError(
        'indptr',
        `length ${indptr.length} does not equal rows + 1 = ${rows + 1}`,
      );
    }
    if (indices.length !== values.length || indptr[rows] !== indices.length) {
      throw new InvalidArgumentError(
        'indices',
        'indices, values and indptr disagree on the number of entries',
      );
    }
  }

  /**
   * Builds a matrix from coordinate triples. Duplicate (row, col) pairs are summed, in entry
   * order; `values` null means every entry is 1. Runs in O(entries + rows) time plus the sort of
   * each row's columns (insertion sort for short rows, merge sort for long ones: no comparator
   * callbacks), and holds about 16 bytes per entry besides the inputs while building (8 when
   * `values` is null).
   */
  static fromCoordinates(
    rows: number,
    cols: number,
    rowIndex: Int32Array,
    colIndex: Int32Array,
    values: Float32Array | null,
  ): CsrMatrix {
    return CsrMatrix.build(
      rows,
      cols,
      rowIndex,
      colIndex,
      values === null ? { kind: 'count' } : { kind: 'sum', values },
      { consume: false },
    );
  }

  /**
   * Builds a matrix from coordinates, merging duplicate (row, col) pairs as `values` says
   * (summed, counted, or kept once with value 1). With `consume`, the coordinate arrays are
   * overwritten and their buffers become the matrix's, which saves allocating (and faulting in)
   * arrays as large as the input.
   *
   * @throws InvalidArgumentError when the arrays differ in length or an entry lies outside
   *   `rows`×`cols`.
   */
  static build(
    rows: number,
    cols: number,
    rowIndex: Int32Array,
    colIndex: Int32Array,
    values: CsrValues,
    options: BuildCsrOptions,
  ): CsrMatrix {
    const built = buildCsrArrays(rows, cols, rowIndex, colIndex, values, options);
    return new CsrMatrix(rows, cols, built.indptr, built.indices, built.values);
  }

  /** Number of stored entries. */
  get nnz(): number {
    return this.indices.length;
  }

  /** Number of stored entries in row `r`. */
  rowNnz(r: number): number {
    return this.indptr[r + 1] - this.indptr[r];
  }

  /** Whether (r, c) is stored, by binary search in row r. */
  has(r: number, c: number): boolean {
    return sortedRangeHas(this.indices, this.indptr[r], this.indptr[r + 1], c);
  }

  /** The transpose, as a new CSR matrix (so, the column view of this one). */
  transpose(): CsrMatrix {
    const counts = new Int32Array(this.cols + 1);
    const { indices, values, indptr } = this;
    for (let e = 0; e < indices.length; e++) counts[indices[e] + 1]++;
    for (let c = 0; c < this.cols; c++) counts[c + 1] += counts[c];
    const cursor = counts.slice(0, this.cols);
    const tIdx = new Int32Array(indices.length);
    const tVal = new Float32Array(indices.length);
    // Rows are visited in ascending order, so each transposed row comes out sorted.
    for (let r = 0; r < this.rows; r++) {
      for (let e = indptr[r]; e < indptr[r + 1]; e++) {
        const at = cursor[indices[e]]++;
        tIdx[at] = r;
        tVal[at] = values[e];
      }
    }
    return new CsrMatrix(this.cols, this.rows, counts, tIdx, tVal);
  }

  /** A copy with every stored value replaced by `f(value, row, col)`. */
  map(f: (value: number, row: number, col: number) => number): CsrMatrix {
    const out = new Float32Array(this.values.length);
    for (let r = 0; r < this.rows; r++) {
      for (let e = this.indptr[r]; e < this.indptr[r + 1]; e++)
        out[e] = f(this.values[e], r, this.indices[e]);
    }
    return new CsrMatrix(this.rows, this.cols, this.indptr, this.indices, out);
  }
}

/** Whether `value` occurs in the ascending run `sorted[start..end)`, by binary search. */
export function sortedRangeHas(
  sorted: Int32Array,
  start: number,
  end: number,
  value: number,
): boolean {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid];
    if (v === value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
