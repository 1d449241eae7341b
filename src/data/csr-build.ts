/**
 * The arrays of a CSR matrix built from coordinate triples: a stable counting sort by row, a
 * sort of each row's few columns, and duplicates merged in the same pass as the sort.
 *
 * At 10M entries the cost is memory more than arithmetic: every fresh 40 MB array is paid for
 * again in page faults when it is first written. So the builder allocates as little as it can:
 * row and column kept in one 32-bit key while entries are grouped into blocks of rows, no value
 * arrays at all for a binary matrix, and, when the caller hands over its coordinate arrays, the
 * result written into their buffers.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';

/** Row offsets, column indices and values of a CSR matrix. */
export interface CsrArrays {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/** What the values of the built matrix are. */
export type CsrValues =
  /** Each entry's value; duplicates summed in entry order, rounding to float32 at each step. */
  | { kind: 'sum'; values: Float32Array }
  /** How often each (row, column) pair occurs (float32, so at most 2^24), as summed ones. */
  | { kind: 'count' }
  /** 1 for every pair, however often it occurs. */
  | { kind: 'binary' };

/** Options of {@link buildCsrArrays}. */
export interface BuildCsrOptions {
  /**
   * Whether the row and column arrays are the builder's to overwrite: the result's indices and
   * values then live in their buffers, and no fresh arrays of that size are needed. They must
   * not be used afterwards (and must not be one array passed twice).
   */
  consume: boolean;
}

/**
 * Column indices given as ids and a direct table: entry `e` lies in column
 * `table[ids[e] - base] - 1`. The block pass reads them straight from the ids, so no array of
 * column codes is ever written.
 */
export interface TableColumn {
  ids: Float64Array;
  table: Int32Array;
  base: number;
}

/** From this many entries on, rows are scattered in two cache-sized passes instead of one. */
const TWO_LEVEL_ENTRIES = 1 << 20;

/** Rows at most this long are insertion-sorted; longer ones merge-sorted (or natively sorted). */
const SHORT_ROW = 24;

/** float32 sums of ones stop growing here: 2^24 + 1 rounds back to 2^24. */
const FLOAT32_COUNT_LIMIT = 2 ** 24;

/**
 * Builds the CSR arrays of a `rows`×`cols` matrix from coordinates, with column indices strictly
 * ascending within each row. Duplicates are merged as `values` says; the order of equal entries
 * is their order in the input.
 *
 * @throws InvalidArgumentError when the arrays differ in length or an entry lies outside the
 *   matrix.
 */
export function buildCsrArrays(
  rows: number,
  cols: number,
  rowIndex: Int32Array,
  colIndex: Int32Array | TableColumn,
  values: CsrValues,
  options: BuildCsrOptions,
): CsrArrays {
  const n = rowIndex.length;
  if (!(colIndex instanceof Int32Array) && !(n >= TWO_LEVEL_ENTRIES && packs(rows, cols))) {
    // Only the packed block pass reads a table; anywhere else the codes are written out first.
    const { ids, table, base } = colIndex;
    const codes = new Int32Array(ids.length);
    for (let e = 0; e < ids.length; e++) codes[e] = table[ids[e] - base] - 1;
    return buildCsrArrays(rows, cols, rowIndex, codes, values, options);
  }
  const sums = values.kind === 'sum' ? values.values : null;
  const colLength = colIndex instanceof Int32Array ? colIndex.length : colIndex.ids.length;
  if (colLength !== n || (sums !== null && sums.length !== n)) {
    throw new InvalidArgumentError('coordinates', 'row, column and value arrays differ in length');
  }
  const indptr = new Int32Array(rows + 1);
  if (colIndex instanceof Int32Array) {
    for (let e = 0; e < n; e++) {
      const r = rowIndex[e];
      const c = colIndex[e];
      if (r < 0 || r >= rows || c < 0 || c >= cols) {
        throw new InvalidArgumentError(
          'coordinates',
          `entry ${e} (${r}, ${c}) lies outside ${rows}×${cols}`,
        );
      }
      indptr[r + 1]++;
    }
  } else {
    // Columns read through the table are checked in the block pass.
    for (let e = 0; e < n; e++) {
      const r = rowIndex[e];
      if (r < 0 || r >= rows) {
        throw new InvalidArgumentError(
          'coordinates',
          `entry ${e} row ${r} lies outside 0..${rows - 1}`,
        );
      }
      indptr[r + 1]++;
    }
  }
  for (let r = 0; r < rows; r++) indptr[r + 1] += indptr[r];
  const consume =
    options.consume && !(colIndex instanceof Int32Array && colIndex.buffer === rowIndex.buffer);
  const grouped =
    n >= TWO_LEVEL_ENTRIES
      ? groupByRowTwoLevel(rows, cols, indptr, rowIndex, colIndex, sums, consume)
      : groupByRow(rows, indptr, rowIndex, colIndex as Int32Array, sums);
  // Output values go where the consumed column indices or the packed keys were, or into a fresh
  // array.
  const valueBuffer = (): Float32Array =>
    consume && colIndex instanceof Int32Array
      ? new Float32Array(colIndex.buffer, colIndex.byteOffset, n)
      : grouped.spare !== null
        ? new Float32Array(grouped.spare.buffer, grouped.spare.byteOffset, n)
        : new Float32Array(n);
  const { idx } = grouped;
  let nnz: number;
  let val: Float32Array;
  if (values.kind === 'sum') {
    val = grouped.val!;
    nnz = sortAndSumRows(rows, indptr, idx, val);
  } else {
    val = valueBuffer();
    nnz = sortAndMergeKeys(rows, indptr, idx, values.kind === 'count' ? val : null);
    if (values.kind === 'binary') val.fill(1, 0, nnz);
  }
  return { indptr, indices: trim(idx, nnz), values: trim(val, nnz) };
}

/**
 * The first `length` entries of `array`: a view when that keeps little spare (the usual case,
 * where few entries were duplicates), a copy otherwise so that the spare memory is released.
 */
function trim<T extends Int32Array | Float32Array>(array: T, length: number): T {
  if (length === array.length) return array;
  return (
    array.length - length <= array.length >>> 4 ? array.subarray(0, length) : array.slice(0, length)
  ) as T;
}

/** Entries grouped by row (stably), before each row is sorted by column. */
interface Grouped {
  idx: Int32Array;
  /** The entries' values, when the matrix sums them. */
  val: Float32Array | null;
  /** An array of the entries' size that grouping needed and no longer does, if any. */
  spare: Uint32Array | null;
}

/** Entries in row order (stable), given the row offsets `indptr`, in one scattered pass. */
function groupByRow(
  rows: number,
  indptr: Int32Array,
  rowIndex: Int32Array,
  colIndex: Int32Array,
  values: Float32Array | null,
): Grouped {
  const n = rowIndex.length;
  const cursor = indptr.slice(0, rows);
  const idx = new Int32Array(n);
  if (values === null) {
    for (let e = 0; e < n; e++) idx[cursor[rowIndex[e]]++] = colIndex[e];
    return { idx, val: null, spare: null };
  }
  const val = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const at = cursor[rowIndex[e]]++;
    idx[at] = colIndex[e];
    val[at] = values[e];
  }
  return { idx, val, spare: null };
}

/**
 * {@link groupByRow} in two passes: first into ~256 blocks of consecutive rows, then each block
 * into its rows. Every pass writes to few places at a time, so the writes stay in cache; on 10M
 * entries over 1M rows this takes about 40% less time than one scattered pass. Between the
 * passes an entry is one 32-bit key (its row within the block, then its column) when both fit.
 */
function groupByRowTwoLevel(
  rows: number,
  cols: number,
  indptr: Int32Array,
  rowIndex: Int32Array,
  colIndex: Int32Array | TableColumn,
  values: Float32Array | null,
  consume: boolean,
): Grouped {
  const n = rowIndex.length;
  const shift = blockShift(rows);
  const blocks = ((rows - 1) >> shift) + 1;
  const blockCursor = new Int32Array(blocks);
  for (let b = 0; b < blocks; b++) blockCursor[b] = indptr[b << shift];
  const colBits = columnBits(cols);
  const byBlockVal = values === null ? null : new Float32Array(n);
  const mask = (1 << shift) - 1;
  let byBlockKey: Uint32Array | null = null;
  let byBlockRow: Int32Array | null = null;
  let byBlockCol: Int32Array | null = null;
  if (!(colIndex instanceof Int32Array)) {
    // Only called so when the keys pack (see buildCsrArrays).
    const keys = new Uint32Array(n);
    const { ids, table, base } = colIndex;
    for (let e = 0; e < n; e++) {
      const r = rowIndex[e];
      const c = table[ids[e] - base] - 1;
      if (!(c >= 0 && c < cols))
        throw new InvalidArgumentError('coordinates', `entry ${e} has no column in the table`);
      const at = blockCursor[r >> shift]++;
      keys[at] = ((r & mask) << colBits) | c;
      if (byBlockVal !== null) byBlockVal[at] = values![e];
    }
    byBlockKey = keys;
  } else if (packs(rows, cols)) {
    const keys = new Uint32Array(n);
    // Up to 32 bits: the int32 result of the shift wraps, and the unsigned store undoes that.
    for (let e = 0; e < n; e++) {
      const r = rowIndex[e];
      const at = blockCursor[r >> shift]++;
      keys[at] = ((r & mask) << colBits) | colIndex[e];
      if (byBlockVal !== null) byBlockVal[at] = values![e];
    }
    byBlockKey = keys;
  } else {
    byBlockRow = new Int32Array(n);
    byBlockCol = new Int32Array(n);
    for (let e = 0; e < n; e++) {
      const r = rowIndex[e];
      const at = blockCursor[r >> shift]++;
      byBlockRow[at] = r;
      byBlockCol[at] = colIndex[e];
      if (byBlockVal !== null) byBlockVal[at] = values![e];
    }
  }
  // The coordinates are read for the last time above; a consumed row array takes the indices.
  const idx = consume ? rowIndex : new Int32Array(n);
  const val =
    byBlockVal === null
      ? null
      : consume && colIndex instanceof Int32Array
        ? new Float32Array(colIndex.buffer, colIndex.byteOffset, n)
        : new Float32Array(n);
  const cursor = indptr.slice(0, rows);
  if (byBlockKey !== null) {
    // Columns fit 31 bits (indices are int32), so the shift and the mask are exact.
    const colMask = 2 ** colBits - 1;
    for (let b = 0; b < blocks; b++) {
      const base = b << shift;
      const end = blockCursor[b];
      for (let e = indptr[base]; e < end; e++) {
        const key = byBlockKey[e];
        const at = cursor[base + (key >>> colBits)]++;
        idx[at] = key & colMask;
        if (val !== null) val[at] = byBlockVal![e];
      }
    }
  } else {
    for (let e = 0; e < n; e++) {
      const at = cursor[byBlockRow![e]]++;
      idx[at] = byBlockCol![e];
      if (val !== null) val[at] = byBlockVal![e];
    }
  }
  return { idx, val, spare: byBlockKey };
}

/** Rows per block of the two-level scatter, as a shift: ~256 blocks. */
function blockShift(rows: number): number {
  return Math.max(0, Math.ceil(Math.log2(rows)) - 8);
}

/** Bits of a column index below `cols`. */
function columnBits(cols: number): number {
  return Math.max(1, 32 - Math.clz32(cols - 1));
}

/** Whether a row within its block and a column fit one 32-bit key together. */
function packs(rows: number, cols: number): boolean {
  return blockShift(rows) + columnBits(cols) <= 32;
}

/**
 * Sorts each row's columns and merges equal ones, moving the rows down as they shrink; `counts`
 * (when given) receives how often each kept column occurred. Rewrites `indptr` to the merged
 * rows and returns the number of entries kept.
 */
function sortAndMergeKeys(
  rows: number,
  indptr: Int32Array,
  idx: Int32Array,
  counts: Float32Array | null,
): number {
  let write = 0;
  let start = indptr[0];
  for (let r = 0; r < rows; r++) {
    const end = indptr[r + 1];
    if (end - start <= SHORT_ROW) insertionSortKeys(idx, start, end);
    else idx.subarray(start, end).sort();
    let e = start;
    while (e < end) {
      const c = idx[e];
      let run = e + 1;
      while (run < end && idx[run] === c) run++;
      if (counts !== null) counts[write] = Math.min(run - e, FLOAT32_COUNT_LIMIT);
      idx[write++] = c;
      e = run;
    }
    start = end;
    indptr[r + 1] = write;
  }
  return write;
}

function insertionSortKeys(idx: Int32Array, start: number, end: number): void {
  for (let i = start + 1; i < end; i++) {
    const c = idx[i];
    if (idx[i - 1] <= c) continue;
    let j = i - 1;
    while (j >= start && idx[j] > c) {
      idx[j + 1] = idx[j];
      j--;
    }
    idx[j + 1] = c;
  }
}

/**
 * Sorts each row's entries by column, stably, and sums the values of equal columns in entry
 * order (in float32, as the values are stored), moving the rows down as they shrink. Rewrites
 * `indptr` to the merged rows and returns the number of entries kept.
 */
function sortAndSumRows(
  rows: number,
  indptr: Int32Array,
  idx: Int32Array,
  val: Float32Array,
): number {
  let scratchIdx = new Int32Array(0);
  let scratchVal = new Float32Array(0);
  let write = 0;
  let start = indptr[0];
  for (let r = 0; r < rows; r++) {
    const end = indptr[r + 1];
    if (end - start <= SHORT_ROW) {
      insertionSort(idx, val, start, end);
    } else {
      for (let s = start; s < end; s += SHORT_ROW)
        insertionSort(idx, val, s, Math.min(end, s + SHORT_ROW));
      if (scratchIdx.length < end - start) {
        scratchIdx = new Int32Array(end - start);
        scratchVal = new Float32Array(end - start);
      }
      mergeRuns(idx, val, start, end, scratchIdx, scratchVal);
    }
    let last = -1;
    for (let e = start; e < end; e++) {
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
    start = end;
    indptr[r + 1] = write;
  }
  return write;
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
