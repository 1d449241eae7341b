/**
 * Item–item cosine neighbours for item-kNN: each item's K most similar items by sparse
 * accumulation over shared users, one range of items at a time, so that ranges can run on worker
 * threads (`itemknn-worker.ts`) and be stitched in item order.
 */
import { selectTopKSet } from '../top-k.js';

/** The CSR arrays a range computation reads: both orientations of the weighted matrix. */
export interface CosineInput {
  /** User × item, rows by user. */
  userIndptr: Int32Array;
  userIndices: Int32Array;
  userValues: Float32Array;
  /** Item × user, rows by item. */
  itemIndptr: Int32Array;
  itemIndices: Int32Array;
  itemValues: Float32Array;
  /** The L2 norm of each item's column. */
  norms: Float32Array;
}

/** Neighbours of the items start..end−1: `indptr` is local (indptr[0] = 0), ids ascending per row. */
export interface NeighbourRange {
  start: number;
  end: number;
  indptr: Int32Array;
  ids: Int32Array;
  values: Float32Array;
}

/** The L2 norm of each row of an item × user CSR. */
export function itemNorms(indptr: Int32Array, values: Float32Array): Float32Array {
  const n = indptr.length - 1;
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let e = indptr[i]; e < indptr[i + 1]; e++) s += values[e] * values[e];
    norms[i] = Math.sqrt(s);
  }
  return norms;
}

/**
 * The work of each item's row: Σ over its users of the user's item count (the multiply-adds the
 * accumulation does), as float64 since sums reach past 2^31 on large catalogues.
 */
export function rowWork(input: CosineInput): Float64Array {
  const { itemIndptr, itemIndices, userIndptr } = input;
  const n = itemIndptr.length - 1;
  const work = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let w = 0;
    for (let e = itemIndptr[i]; e < itemIndptr[i + 1]; e++) {
      const u = itemIndices[e];
      w += userIndptr[u + 1] - userIndptr[u];
    }
    work[i] = w;
  }
  return work;
}

/**
 * Splits items 0..n into `parts` contiguous ranges of about equal work (fewer when there are
 * fewer items): `bounds[p]..bounds[p+1]` is range p.
 */
export function splitByWork(work: Float64Array, parts: number): number[] {
  const n = work.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += work[i];
  const bounds = [0];
  let acc = 0;
  let next = 1;
  for (let i = 0; i < n && next < parts; i++) {
    acc += work[i];
    if (acc >= (total * next) / parts) {
      bounds.push(i + 1);
      next++;
    }
  }
  if (bounds[bounds.length - 1] !== n) bounds.push(n);
  return bounds;
}

/**
 * Each item of start..end−1's `k` most similar items (cosine over the weighted columns, itself
 * excluded, items with a zero norm never similar). O(Σ over the range's users of their item
 * count) work and O(items) scratch.
 */
export function cosineNeighbourRange(
  input: CosineInput,
  start: number,
  end: number,
  k: number,
): NeighbourRange {
  const { userIndptr: uPtr, userIndices: uIdx, userValues: uVal, norms } = input;
  const { itemIndptr, itemIndices, itemValues } = input;
  const nItems = itemIndptr.length - 1;
  const acc = new Float32Array(nItems);
  const touched = new Int32Array(nItems);
  const seen = new Uint8Array(nItems);
  const scratch = { values: new Float32Array(nItems), ids: new Int32Array(nItems) };
  const rows = end - start;
  const indptr = new Int32Array(rows + 1);
  const kk = Math.min(k, nItems);
  let ids: Int32Array = new Int32Array(Math.max(kk, Math.min(rows * kk, 1 << 20)));
  let vals: Float32Array = new Float32Array(ids.length);
  let written = 0;
  for (let i = start; i < end; i++) {
    let nTouched = 0;
    for (let e = itemIndptr[i]; e < itemIndptr[i + 1]; e++) {
      const u = itemIndices[e];
      const w = itemValues[e];
      for (let f = uPtr[u]; f < uPtr[u + 1]; f++) {
        const j = uIdx[f];
        if (seen[j] === 0) {
          seen[j] = 1;
          touched[nTouched++] = j;
        }
        acc[j] += w * uVal[f];
      }
    }
    const ni = norms[i];
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t];
      acc[j] = j === i || ni === 0 || norms[j] === 0 ? -Infinity : acc[j] / (ni * norms[j]);
    }
    if (ids.length < written + kk) {
      ids = growInt(ids, written + kk);
      vals = growFloat(vals, written + kk);
    }
    // The kept ids come back ascending, as CSR rows want; `acc` still holds their similarities.
    const kept = selectTopKSet(acc, touched, nTouched, kk, ids, written, scratch);
    for (let t = written; t < written + kept; t++) vals[t] = acc[ids[t]];
    written += kept;
    indptr[i - start + 1] = written;
    for (let t = 0; t < nTouched; t++) {
      acc[touched[t]] = 0;
      seen[touched[t]] = 0;
    }
  }
  return { start, end, indptr, ids: ids.slice(0, written), values: vals.slice(0, written) };
}

/** Ranges covering 0..n in order, stitched into one CSR's arrays. */
export function stitchRanges(ranges: readonly NeighbourRange[], n: number) {
  // One range covering everything is already the CSR: no second copy of K × n entries.
  if (ranges.length === 1 && ranges[0].start === 0 && ranges[0].end === n)
    return { indptr: ranges[0].indptr, ids: ranges[0].ids, values: ranges[0].values };
  const indptr = new Int32Array(n + 1);
  let total = 0;
  for (const r of ranges) total += r.ids.length;
  const ids = new Int32Array(total);
  const values = new Float32Array(total);
  let at = 0;
  for (const r of ranges) {
    for (let i = r.start; i < r.end; i++) indptr[i + 1] = at + r.indptr[i - r.start + 1];
    ids.set(r.ids, at);
    values.set(r.values, at);
    at += r.ids.length;
  }
  return { indptr, ids, values };
}

function growInt(a: Int32Array, min: number): Int32Array {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

function growFloat(a: Float32Array, min: number): Float32Array {
  const b = new Float32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}
