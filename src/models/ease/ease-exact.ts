import type { CsrMatrix } from '../../data/csr-matrix.js';
import { invertSpd, type SpdInverseReport } from './spd-inverse.js';

/**
 * EASE's closed form, B = I − P·diag(P)⁻¹ with P = (XᵀX + λI)⁻¹ on the binary user×item
 * matrix X (so B_ij = −P_ij / P_jj and diag(B) = 0), solved on whichever side of X is smaller.
 */

/**
 * The item-side solve: P from the dense n×n regularised Gram matrix, returned as B (n×n float32,
 * row i = how much having item i adds to every item's score). O(Σ_u n_u² + n³) time, n² float64
 * twice over while solving.
 */
export function itemSideWeights(
  userItems: CsrMatrix,
  lambda: number,
): { weights: Float32Array; inverse: SpdInverseReport } {
  const n = userItems.cols;
  const g = new Float64Array(n * n);
  const { indptr, indices } = userItems;
  // Binary X: every stored (u, i) counts once, whatever its value.
  for (let u = 0; u < userItems.rows; u++) {
    const lo = indptr[u];
    const hi = indptr[u + 1];
    for (let e = lo; e < hi; e++) {
      const row = indices[e] * n;
      for (let f = lo; f < hi; f++) g[row + indices[f]] += 1;
    }
  }
  for (let i = 0; i < n; i++) g[i * n + i] += lambda;
  const inverse = invertSpd(g, n);
  const weights = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) weights[row + j] = i === j ? 0 : -g[row + j] / g[j * n + j];
  }
  return { weights, inverse };
}

/**
 * The user-side solve for catalogues with more items than users, by Woodbury's identity:
 * (XᵀX + λI)⁻¹ = (I − Xᵀ·K·X)/λ with K = (XXᵀ + λI)⁻¹, an m×m inverse (m users) instead of an
 * n×n one, and exact in exact arithmetic. Returns K (m×m float64) and diag(P) (n float64); B is
 * never formed, since X_u·P = K_u·X makes a user's scores X_u − (K_u·X) / diag(P), O(m + nnz).
 */
export function userSideFactors(
  userItems: CsrMatrix,
  itemUsers: CsrMatrix,
  lambda: number,
): { k: Float64Array; diag: Float64Array; inverse: SpdInverseReport } {
  const m = userItems.rows;
  const n = userItems.cols;
  const k = new Float64Array(m * m);
  const { indptr, indices } = itemUsers;
  for (let i = 0; i < n; i++) {
    const lo = indptr[i];
    const hi = indptr[i + 1];
    for (let e = lo; e < hi; e++) {
      const row = indices[e] * m;
      for (let f = lo; f < hi; f++) k[row + indices[f]] += 1;
    }
  }
  for (let u = 0; u < m; u++) k[u * m + u] += lambda;
  const inverse = invertSpd(k, m);
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let e = indptr[i]; e < indptr[i + 1]; e++) {
      const row = indices[e] * m;
      for (let f = indptr[i]; f < indptr[i + 1]; f++) s += k[row + indices[f]];
    }
    diag[i] = (1 - s) / lambda;
  }
  return { k, diag, inverse };
}

/** out = c·X for an m-vector `c` and the binary m×n user×item matrix X (out has length n). */
export function combineUsers(c: Float64Array, userItems: CsrMatrix, out: Float64Array): void {
  out.fill(0);
  const { indptr, indices } = userItems;
  for (let w = 0; w < userItems.rows; w++) {
    const cw = c[w];
    if (cw === 0) continue;
    for (let e = indptr[w]; e < indptr[w + 1]; e++) out[indices[e]] += cw;
  }
}
