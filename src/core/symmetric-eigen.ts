/**
 * Eigen-decomposition of a small symmetric matrix by the cyclic Jacobi method, in float64:
 * A = Q·diag(λ)·Qᵀ with Q orthogonal. Quadratic convergence; 64×64 takes a few milliseconds.
 */

/** Eigenvalues and eigenvectors: column j of `vectors` (row-major n×n) belongs to values[j]. */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Decomposes the symmetric n×n matrix `a` (row-major, left unchanged). Sweeps until the
 * off-diagonal mass is below 1e-15 of the whole (or 50 sweeps, far more than needed).
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  const m = Float64Array.from(a);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i] * m[i];
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += 2 * m[i * n + j] ** 2;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = m[p * n + r];
        if (apr === 0) continue;
        // The rotation in the (p, r) plane that zeroes m[p][r] (Golub & Van Loan, 8.5).
        const theta = (m[r * n + r] - m[p * n + p]) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkr = m[k * n + r];
          m[k * n + p] = c * mkp - s * mkr;
          m[k * n + r] = s * mkp + c * mkr;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mrk = m[r * n + k];
          m[p * n + k] = c * mpk - s * mrk;
          m[r * n + k] = s * mpk + c * mrk;
        }
        for (let k = 0; k < n; k++) {
          const qkp = q[k * n + p];
          const qkr = q[k * n + r];
          q[k * n + p] = c * qkp - s * qkr;
          q[k * n + r] = s * qkp + c * qkr;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = m[i * n + i];
  return { values, vectors: q };
}
