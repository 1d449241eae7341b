import { choleskySolve } from '../../core/cholesky.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import { selectTopKSet } from '../top-k.js';

/**
 * The scalable EASE approximation: column j of B is solved only over item j's K most
 * co-occurring items N_j, B[N_j, j] = (G[N_j, N_j])⁻¹ · G[N_j, j] with G = XᵀX + λI — the dense
 * model's column-j problem (least squares of X_j on the other columns, ridge λ) restricted to
 * the columns that can matter most. O(Σ_u n_u²) for the co-occurrences, O(n·K²·log) to gather
 * the small Gram blocks and O(n·K³/3) for the solves; memory O(nnz(XᵀX) + n·K).
 *
 * @returns B as a CSR matrix whose row i holds how much having item i adds to each item's score
 */
export function neighbourWeights(
  userItems: CsrMatrix,
  itemUsers: CsrMatrix,
  lambda: number,
  k: number,
): CsrMatrix {
  const n = userItems.cols;
  const gram = cooccurrences(userItems, itemUsers);
  const kk = Math.min(k, n - 1);
  const neighbours = new Int32Array(kk);
  const scratch = { values: new Float32Array(n), ids: new Int32Array(n) };
  const row = new Float32Array(n);
  const a = new Float64Array(kk * kk);
  const b = new Float64Array(kk);
  const colPtr = new Int32Array(n + 1);
  let colIdx: Int32Array = new Int32Array(n * Math.max(kk, 1));
  let colVal: Float32Array = new Float32Array(colIdx.length);
  let written = 0;
  for (let j = 0; j < n; j++) {
    const lo = gram.indptr[j];
    const hi = gram.indptr[j + 1];
    for (let e = lo; e < hi; e++) row[gram.indices[e]] = gram.values[e];
    row[j] = -Infinity;
    const count = selectTopKSet(
      row,
      gram.indices.subarray(lo, hi),
      hi - lo,
      kk,
      neighbours,
      0,
      scratch,
    );
    for (let e = lo; e < hi; e++) row[gram.indices[e]] = 0;
    row[j] = 0;
    if (count > 0) {
      // The K×K block G[N_j, N_j] by binary search in each neighbour's (sorted) Gram row.
      for (let p = 0; p < count; p++) {
        const ip = neighbours[p];
        a[p * count + p] = lookup(gram, ip, ip) + lambda;
        b[p] = lookup(gram, ip, j);
        for (let q = p + 1; q < count; q++) {
          const v = lookup(gram, ip, neighbours[q]);
          a[p * count + q] = v;
          a[q * count + p] = v;
        }
      }
      choleskySolve(a, b, count);
      if (colIdx.length < written + count) {
        colIdx = grow(colIdx, written + count);
        colVal = growF(colVal, written + count);
      }
      for (let p = 0; p < count; p++) {
        colIdx[written + p] = neighbours[p];
        colVal[written + p] = b[p];
      }
      written += count;
    }
    colPtr[j + 1] = written;
  }
  // Rows of this matrix are B's columns; B's rows are what scoring sums.
  return new CsrMatrix(
    n,
    n,
    colPtr,
    colIdx.slice(0, written),
    colVal.slice(0, written),
  ).transpose();
}

/** XᵀX of the binary matrix, diagonal included, as CSR with sorted rows. */
function cooccurrences(userItems: CsrMatrix, itemUsers: CsrMatrix): CsrMatrix {
  const n = userItems.cols;
  const acc = new Float32Array(n);
  const touched = new Int32Array(n);
  const indptr = new Int32Array(n + 1);
  let ids: Int32Array = new Int32Array(Math.max(16, userItems.nnz));
  let vals: Float32Array = new Float32Array(ids.length);
  let written = 0;
  for (let i = 0; i < n; i++) {
    let nTouched = 0;
    for (let e = itemUsers.indptr[i]; e < itemUsers.indptr[i + 1]; e++) {
      const u = itemUsers.indices[e];
      for (let f = userItems.indptr[u]; f < userItems.indptr[u + 1]; f++) {
        const j = userItems.indices[f];
        if (acc[j] === 0) touched[nTouched++] = j;
        acc[j] += 1;
      }
    }
    const sorted = touched.subarray(0, nTouched).sort();
    if (ids.length < written + nTouched) {
      ids = grow(ids, written + nTouched);
      vals = growF(vals, written + nTouched);
    }
    for (let t = 0; t < nTouched; t++) {
      ids[written + t] = sorted[t];
      vals[written + t] = acc[sorted[t]];
      acc[sorted[t]] = 0;
    }
    written += nTouched;
    indptr[i + 1] = written;
  }
  return new CsrMatrix(n, n, indptr, ids.slice(0, written), vals.slice(0, written));
}

function lookup(m: CsrMatrix, r: number, c: number): number {
  let lo = m.indptr[r];
  let hi = m.indptr[r + 1] - 1;
  const idx = m.indices;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = idx[mid];
    if (v === c) return m.values[mid];
    if (v < c) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

function grow(a: Int32Array, min: number): Int32Array {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

function growF(a: Float32Array, min: number): Float32Array {
  const b = new Float32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}
