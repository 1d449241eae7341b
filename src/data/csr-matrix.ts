import { InvalidArgumentError } from '../core/errors.js';

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
   * callbacks), and holds about 4 × 4 bytes per entry besides the inputs while building.
   */
  static fromCoordinates(
    rows: number,
    cols: number,
    rowIndex: Int32Array,
    colIndex: Int32Array,
    values: Float32Array | null,
  ): CsrMatrix {
    const n = rowIndex.length;
    if (colIndex.length !== n || (values !== null && values.length !== n)) {
      throw new InvalidArgumentError(
        'coordinates',
        'row, column and value arrays differ in length',
      );
    }
    const counts = new Int32Array(rows + 1);
    for (let e = 0; e < n; e++) {
      const r = rowIndex[e];
      const c = colIndex[e];
      if (r < 0 || r >= rows || c < 0 || c >= cols) {
        throw new InvalidArgumentError(
          'coordinates',
          `entry ${e} (${r}, ${c}) lies outside ${rows}×${cols}`,
        );
      }
      counts[r + 1]++;
    }
    // A stable counting sort by row, then a stable sort of each row's few columns. Measured on
    // 10M entries this beats a second counting pass by column, whose gather through a
    // permutation misses the cache on every entry.
    for (let r = 0; r < rows; r++) counts[r + 1] += counts[r];
    const { idx, val } =
      n >= TWO_LEVEL_ENTRIES
        ? scatterByRowTwoLevel(rows, counts, rowIndex, colIndex, values)
        : scatterByRow(rows, counts, rowIndex, colIndex, values);
    sortRows(rows, counts, idx, val);
    return sumDuplicates(rows, cols, counts, idx, val);
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

/** From this many entries on, rows are scattered in two cache-sized passes instead of one. */
const TWO_LEVEL_ENTRIES = 1 << 20;

/** Entries in row order (stable), given the row offsets `indptr`. */
function scatterByRow(
  rows: number,
  indptr: Int32Array,
  rowIndex: Int32Array,
  colIndex: Int32Array,
  values: Float32Array | null,
): { idx: Int32Array; val: Float32Array } {
  const n = rowIndex.length;
  const cursor = indptr.slice(0, rows);
  const idx = new Int32Array(n);
  const val = new Float32Array(n);
  if (values === null) {
    // Scattered writes dominate the build; all-ones values need none.
    val.fill(1);
    for (let e = 0; e < n; e++) idx[cursor[rowIndex[e]]++] = colIndex[e];
  } else {
    for (let e = 0; e < n; e++) {
      const at = cursor[rowIndex[e]]++;
      idx[at] = colIndex[e];
      val[at] = values[e];
    }
  }
  return { idx, val };
}

/**
 * {@link scatterByRow} in two passes: first into ~256 blocks of consecutive rows, then each
 * block into its rows. Every pass writes to few places at a time, so the writes stay in cache;
 * on 10M entries over 1M rows this takes about 40% less time than one scattered pass.
 */
function scatterByRowTwoLevel(
  rows: number,
  indptr: Int32Array,
  rowIndex: Int32Array,
  colIndex: Int32Array,
  values: Float32Array | null,
): { idx: Int32Array; val: Float32Array } {
  const n = rowIndex.length;
  const shift = Math.max(0, Math.ceil(Math.log2(rows)) - 8);
  const blocks = ((rows - 1) >> shift) + 1;
  const blockCursor = new Int32Array(blocks);
  for (let b = 0; b < blocks; b++) blockCursor[b] = indptr[b << shift];
  const byBlockRow = new Int32Array(n);
  const byBlockCol = new Int32Array(n);
  const byBlockVal = values === null ? null : new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const r = rowIndex[e];
    const at = blockCursor[r >> shift]++;
    byBlockRow[at] = r;
    byBlockCol[at] = colIndex[e];
    if (byBlockVal !== null) byBlockVal[at] = values![e];
  }
  return scatterByRow(rows, indptr, byBlockRow, byBlockCol, byBlockVal);
}

/** Rows at most this long are insertion-sorted; longer ones merge-sorted runs of this length. */
const SHORT_ROW = 24;

/** Sorts each row's entries by column, stably (equal columns keep their entry order). */
function sortRows(rows: number, indptr: Int32Array, idx: Int32Array, val: Float32Array): void {
  let scratchIdx = new Int32Array(0);
  let scratchVal = new Float32Array(0);
  for (let r = 0; r < rows; r++) {
    const start = indptr[r];
    const end = indptr[r + 1];
    if (end - start <= SHORT_ROW) {
      insertionSort(idx, val, start, end);
      continue;
    }
    for (let s = start; s < end; s += SHORT_ROW)
      insertionSort(idx, val, s, Math.min(end, s + SHORT_ROW));
    if (scratchIdx.length < end - start) {
      scratchIdx = new Int32Array(end - start);
      scratchVal = new Float32Array(end - start);
    }
    mergeRuns(idx, val, start, end, scratchIdx, scratchVal);
  }
}

function insertionSort(idx: Int32Array, val: Float32Array, start: number, end: number): void {
  for (let i = start + 1; i < end; i++) {
    const c = idx[i];
    if (idx[i - 1] <= c) continue;
    const v = val[i];
    let j = i - 1;
    while (j >= start && idx[j] > c) {
      idx[j + 1] = idx[j];
      val[j + 1] = val[j];
      j--;
    }
    idx[j + 1] = c;
    val[j + 1] = v;
  }
}

/** Bottom-up stable merge of the sorted runs of {@link SHORT_ROW} entries in [start, end). */
function mergeRuns(
  idx: Int32Array,
  val: Float32Array,
  start: number,
  end: number,
  tmpIdx: Int32Array,
  tmpVal: Float32Array,
): void {
  const len = end - start;
  for (let width = SHORT_ROW; width < len; width *= 2) {
    for (let lo = 0; lo < len - width; lo += 2 * width) {
      const mid = lo + width;
      const hi = Math.min(lo + 2 * width, len);
      // Copy the left run out, then merge back in place; ties take the left (earlier) entry.
      for (let k = lo; k < mid; k++) {
        tmpIdx[k - lo] = idx[start + k];
        tmpVal[k - lo] = val[start + k];
      }
      let i = 0;
      let j = mid;
      let w = lo;
      const leftLen = mid - lo;
      while (i < leftLen && j < hi) {
        if (idx[start + j] < tmpIdx[i]) {
          idx[start + w] = idx[start + j];
          val[start + w] = val[start + j];
          j++;
        } else {
          idx[start + w] = tmpIdx[i];
          val[start + w] = tmpVal[i];
          i++;
        }
        w++;
      }
      while (i < leftLen) {
        idx[start + w] = tmpIdx[i];
        val[start + w] = tmpVal[i];
        i++;
        w++;
      }
    }
  }
}

/** Merges adjacent equal columns of each (sorted) row in place, summing their values. */
function sumDuplicates(
  rows: number,
  cols: number,
  indptr: Int32Array,
  idx: Int32Array,
  val: Float32Array,
): CsrMatrix {
  const outPtr = new Int32Array(rows + 1);
  let write = 0;
  for (let r = 0; r < rows; r++) {
    let last = -1;
    for (let e = indptr[r]; e < indptr[r + 1]; e++) {
      const c = idx[e];
      if (c === last) {
        val[write - 1] += val[e];
      } else {
        idx[write] = c;
        val[write] = val[e];
        write++;
        last = c;
      }
    }
    outPtr[r + 1] = write;
  }
  // No copy when nothing merged: the arrays are already exactly the entries.
  return write === idx.length
    ? new CsrMatrix(rows, cols, outPtr, idx, val)
    : new CsrMatrix(rows, cols, outPtr, idx.slice(0, write), val.slice(0, write));
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
