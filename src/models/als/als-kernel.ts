/**
 * The numeric core of implicit ALS, shared by the main thread and worker threads. Everything
 * here works on plain typed arrays (which may sit on SharedArrayBuffers) so that a worker can
 * run it over its own range of rows without copying.
 */

import { choleskySolve, inverseCholeskyFactor } from '../../core/cholesky.js';

/** One half-step's inputs: solve the rows of `x` against the fixed factors `y`. */
export interface HalfStep {
  factors: number;
  reg: number;
  alpha: number;
  cgSteps: number;
  /** `cg` runs `cgSteps` conjugate-gradient steps from the current row; `exact` solves by Cholesky. */
  solver: 'cg' | 'exact';
  /** Interactions with rows = the side being solved. */
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  /** Row-major `rows × factors`, updated in place. */
  x: Float32Array;
  /** Row-major `cols × factors`, read only. */
  y: Float32Array;
  /** YᵀY + reg·I, `factors × factors` row-major. */
  gram: Float64Array;
  /**
   * Rows with at most this many interactions are solved exactly through Woodbury's identity
   * (see {@link shortRowLimit}); 0 solves every row by `solver`.
   */
  shortLimit: number;
  /** The Woodbury path's W and L⁻¹ (see {@link woodburyBasis}); needed when `shortLimit` > 0. */
  basis: WoodburyBasis | null;
}

/**
 * What the Woodbury path needs of the fixed side: with L·Lᵀ = YᵀY + reg·I (its Cholesky factor),
 * W = Y·L⁻ᵀ (row-major like Y), so that yᵢᵀ(YᵀY + reg·I)⁻¹yⱼ = wᵢ·wⱼ, and L⁻¹ itself (lower
 * triangular, f×f row-major), whose transpose maps Σ sᵢwᵢ back to a factor row.
 */
export interface WoodburyBasis {
  w: Float32Array;
  lInv: Float64Array;
}

/** W and L⁻¹ for the rows of `y` and its regularised Gram matrix `gram` (f×f). */
export function woodburyBasis(
  y: Float32Array,
  rows: number,
  gram: Float64Array,
  f: number,
): WoodburyBasis {
  const lInv = inverseCholeskyFactor(gram, f);
  const w = new Float32Array(rows * f);
  for (let r = 0; r < rows; r++) {
    const o = r * f;
    for (let a = 0; a < f; a++) {
      let sum = 0;
      for (let b = 0; b <= a; b++) sum += lInv[a * f + b] * y[o + b];
      w[o + a] = sum;
    }
  }
  return { w, lInv };
}

/** The most interactions a row may have to take the Woodbury path (bounds its scratch). */
export const MAX_SHORT_ROW = 64;

/**
 * Approximate cycles of one conjugate-gradient solve of a row with n interactions on the SIMD
 * kernel: (steps + 1) passes, each a product with YᵀY + λI (f×f and load-bound, ~0.16 cycle per
 * multiply-add; or, in the rotated basis where it is diagonal, f multiplies after one f×f
 * rotation of the row) plus a dot and an axpy per interaction (~0.2 cycle per multiply-add
 * each). Calibrated on the bench machine (bench/als-scale.ts); only the ratio to woodburyCost
 * matters.
 */
function cgCost(n: number, f: number, cgSteps: number, rotated: boolean): number {
  const product = rotated ? 0.05 * f : 0.16 * f * f;
  return (rotated ? 0.16 * f * f : 0) + (cgSteps + 1) * (product + 0.4 * n * f);
}

/**
 * Approximate cycles of one Woodbury solve of a row with n interactions: the n×n matrix
 * Wᵤ·Wᵤᵀ (n(n+1)/2 SIMD dots of length f), its scalar double-precision Cholesky factor and
 * substitutions (~3 cycles per multiply-add: n³/6 + 3n²), the combination of n rows of W and
 * the product with L⁻ᵀ (triangular, or diagonal in the rotated basis).
 */
function woodburyCost(n: number, f: number, rotated: boolean): number {
  const back = rotated ? 0.05 * f : 0.08 * f * f;
  return 0.16 * ((n * (n + 1)) / 2) * f + 3 * ((n * n * n) / 6 + 3 * n * n) + 0.16 * n * f + back;
}

/**
 * The longest row (in interactions) of a side that is cheaper to solve exactly by Woodbury's
 * identity than by `cgSteps` of conjugate gradient, or 0 when the side should not use it: the
 * path needs W = Y·L⁻ᵀ for every row of the other side (one f×f product each, or a scaling of
 * the rotated rows), which pays only when the side has enough short rows. At f = 64 and 3 CG
 * steps the limit is 12 interactions (a user with 10 costs about two thirds of its CG solve),
 * and 8 in the rotated basis, where CG itself is cheap.
 */
export function shortRowLimit(
  indptr: Int32Array,
  otherRows: number,
  f: number,
  cgSteps: number,
  rotated = false,
): number {
  let limit = 0;
  while (
    limit < MAX_SHORT_ROW &&
    woodburyCost(limit + 1, f, rotated) < cgCost(limit + 1, f, cgSteps, rotated)
  )
    limit++;
  if (limit === 0) return 0;
  let saved = 0;
  for (let row = 0; row + 1 < indptr.length; row++) {
    const n = indptr[row + 1] - indptr[row];
    if (n <= limit) saved += cgCost(n, f, cgSteps, rotated) - woodburyCost(n, f, rotated);
  }
  return saved > otherRows * (rotated ? f : f * f) * 0.16 + f * f * f ? limit : 0;
}

/** Scratch memory for one thread, sized for `factors`. */
export interface Scratch {
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
  xs: Float64Array;
  a: Float64Array;
  /** The Woodbury path's n×n matrix and its three n-vectors (n ≤ MAX_SHORT_ROW). */
  k: Float64Array;
  c: Float64Array;
  d: Float64Array;
  w: Float64Array;
}

export function createScratch(factors: number): Scratch {
  return {
    r: new Float64Array(factors),
    p: new Float64Array(factors),
    ap: new Float64Array(factors),
    xs: new Float64Array(factors),
    a: new Float64Array(factors * factors),
    k: new Float64Array(MAX_SHORT_ROW * MAX_SHORT_ROW),
    c: new Float64Array(MAX_SHORT_ROW),
    d: new Float64Array(MAX_SHORT_ROW),
    w: new Float64Array(MAX_SHORT_ROW),
  };
}

/** Solves rows `start..end` of `step.x` in place. */
export function solveRows(step: HalfStep, start: number, end: number, scratch: Scratch): void {
  const { indptr, shortLimit } = step;
  for (let row = start; row < end; row++) {
    if (step.solver === 'exact') solveRowExact(step, row, scratch);
    else if (indptr[row + 1] - indptr[row] <= shortLimit) solveRowShort(step, row, scratch);
    else solveRowCg(step, row, scratch);
  }
}

/**
 * The exact solution of a row with few interactions, through Woodbury's identity. With
 * G = YᵀY + λI = L·Lᵀ, D = diag(√(α·r)) over the row's n items and W = Y·L⁻ᵀ precomputed,
 * A = G + YᵤᵀD²Yᵤ and b = Yᵤᵀc give
 *   x = A⁻¹b = L⁻ᵀ·Wᵤᵀ(c − D·t),  where (I + D·K·D)·t = D·K·c  and  K = Wᵤ·Wᵤᵀ (n×n).
 * I + DKD is SPD with eigenvalues ≥ 1, so its n×n Cholesky is well conditioned; nothing divides
 * by a confidence. Costs O(n²f + f²/2) instead of CG's O(steps·f²) per row, and reads only W's
 * rows (one gather per interaction, as CG reads Y's).
 */
function solveRowShort(step: HalfStep, row: number, s: Scratch): void {
  const f = step.factors;
  const { indptr, indices, values, x, alpha } = step;
  const { w, lInv } = step.basis!;
  const { k, c, d, w: rhs, xs } = s;
  const e0 = indptr[row];
  const n = indptr[row + 1] - e0;
  for (let i = 0; i < n; i++) {
    const cm1 = alpha * values[e0 + i];
    c[i] = 1 + cm1;
    d[i] = Math.sqrt(cm1);
  }
  for (let i = 0; i < n; i++) {
    const wi = indices[e0 + i] * f;
    for (let j = i; j < n; j++) {
      const v = dotRows(w, wi, w, indices[e0 + j] * f, f);
      k[i * n + j] = v;
      k[j * n + i] = v;
    }
  }
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += k[i * n + j] * c[j];
    rhs[i] = d[i] * sum;
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) k[i * n + j] *= d[i] * d[j];
    k[i * n + i] += 1;
  }
  choleskySolve(k, rhs, n);
  xs.fill(0);
  for (let i = 0; i < n; i++) {
    const coef = c[i] - d[i] * rhs[i];
    const wo = indices[e0 + i] * f;
    for (let a = 0; a < f; a++) xs[a] += coef * w[wo + a];
  }
  const off = row * f;
  for (let a = 0; a < f; a++) {
    let sum = 0;
    for (let b = a; b < f; b++) sum += lInv[b * f + a] * xs[b];
    x[off + a] = sum;
  }
}

/**
 * Conjugate gradient on (YᵀY + λI + Yᵤᵀ(Cᵤ − I)Yᵤ) x = YᵤᵀCᵤ·1, warm-started from the current
 * row (Takács, Pilászy & Tikk 2011): a few steps per sweep are enough because the previous
 * sweep's answer is already close.
 */
function solveRowCg(step: HalfStep, row: number, s: Scratch): void {
  const f = step.factors;
  const { indptr, indices, values, x, y, gram, alpha } = step;
  const { r, p, ap, xs } = s;
  const off = row * f;
  for (let a = 0; a < f; a++) xs[a] = x[off + a];
  // r = b − A·x
  matVec(gram, xs, r, f);
  for (let a = 0; a < f; a++) r[a] = -r[a];
  for (let e = indptr[row]; e < indptr[row + 1]; e++) {
    const yo = indices[e] * f;
    const c = 1 + alpha * values[e];
    const coef = c - (c - 1) * dotRow(y, yo, xs, f);
    axpyRow(coef, y, yo, r, f);
  }
  let rsOld = 0;
  for (let a = 0; a < f; a++) {
    p[a] = r[a];
    rsOld += r[a] * r[a];
  }
  for (let it = 0; it < step.cgSteps; it++) {
    if (rsOld < 1e-20) break;
    matVec(gram, p, ap, f);
    for (let e = indptr[row]; e < indptr[row + 1]; e++) {
      const yo = indices[e] * f;
      axpyRow(alpha * values[e] * dotRow(y, yo, p, f), y, yo, ap, f);
    }
    let pAp = 0;
    for (let a = 0; a < f; a++) pAp += p[a] * ap[a];
    const step_ = rsOld / pAp;
    let rsNew = 0;
    for (let a = 0; a < f; a++) {
      xs[a] += step_ * p[a];
      r[a] -= step_ * ap[a];
      rsNew += r[a] * r[a];
    }
    const beta = rsNew / rsOld;
    for (let a = 0; a < f; a++) p[a] = r[a] + beta * p[a];
    rsOld = rsNew;
  }
  for (let a = 0; a < f; a++) x[off + a] = xs[a];
}

/** Builds A and b explicitly and solves by Cholesky: O(nᵤf² + f³) per row. */
function solveRowExact(step: HalfStep, row: number, s: Scratch): void {
  const f = step.factors;
  const { indptr, indices, values, x, y, gram, alpha } = step;
  const { a: A, r: b } = s;
  A.set(gram);
  b.fill(0);
  for (let e = indptr[row]; e < indptr[row + 1]; e++) {
    const yo = indices[e] * f;
    const cm1 = alpha * values[e];
    const c = 1 + cm1;
    for (let i = 0; i < f; i++) {
      const yi = y[yo + i];
      b[i] += c * yi;
      const w = cm1 * yi;
      const ro = i * f;
      for (let j = 0; j <= i; j++) A[ro + j] += w * y[yo + j];
    }
  }
  choleskySolve(A, b, f);
  const off = row * f;
  for (let i = 0; i < f; i++) x[off + i] = b[i];
}

// The loops below keep four running sums: independent chains let the CPU overlap the
// multiply-adds, which measured 1.6x faster than one chain on V8 (f = 64).

/** out = G·v for an f×f matrix G (row-major). */
function matVec(g: Float64Array, v: Float64Array, out: Float64Array, f: number): void {
  for (let a = 0; a < f; a++) out[a] = dotRow(g, a * f, v, f);
}

/** Σ m[mo + a]·v[vo + a] over a < f, for two rows of float32 matrices. */
function dotRows(m: Float32Array, mo: number, v: Float32Array, vo: number, f: number): number {
  let s = 0;
  for (let a = 0; a < f; a++) s += m[mo + a] * v[vo + a];
  return s;
}

/** Σ m[o + a]·v[a] over a < f. */
function dotRow(m: Float32Array | Float64Array, o: number, v: Float64Array, f: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let a = 0;
  for (; a + 3 < f; a += 4) {
    s0 += m[o + a] * v[a];
    s1 += m[o + a + 1] * v[a + 1];
    s2 += m[o + a + 2] * v[a + 2];
    s3 += m[o + a + 3] * v[a + 3];
  }
  for (; a < f; a++) s0 += m[o + a] * v[a];
  return s0 + s1 + s2 + s3;
}

/** out[a] += c·m[o + a] over a < f. */
function axpyRow(c: number, m: Float32Array, o: number, out: Float64Array, f: number): void {
  let a = 0;
  for (; a + 3 < f; a += 4) {
    out[a] += c * m[o + a];
    out[a + 1] += c * m[o + a + 1];
    out[a + 2] += c * m[o + a + 2];
    out[a + 3] += c * m[o + a + 3];
  }
  for (; a < f; a++) out[a] += c * m[o + a];
}

/** YᵀY + reg·I for row-major `y` with `rows` rows, in double precision. */
export function gramMatrix(y: Float32Array, rows: number, f: number, reg: number): Float64Array {
  const g = new Float64Array(f * f);
  for (let r = 0; r < rows; r++) {
    const o = r * f;
    for (let a = 0; a < f; a++) {
      const ya = y[o + a];
      if (ya === 0) continue;
      const ro = a * f;
      for (let b = a; b < f; b++) g[ro + b] += ya * y[o + b];
    }
  }
  for (let a = 0; a < f; a++) {
    g[a * f + a] += reg;
    for (let b = a + 1; b < f; b++) g[b * f + a] = g[a * f + b];
  }
  return g;
}

/**
 * The weighted squared loss Σ cᵤᵢ(pᵤᵢ − xᵤ·yᵢ)² over all user×item cells plus
 * reg(‖X‖² + ‖Y‖²), divided by the number of cells, computed sparsely via YᵀY.
 */
export function alsLoss(
  step: Omit<HalfStep, 'gram' | 'solver' | 'cgSteps' | 'shortLimit' | 'basis'>,
  rows: number,
  cols: number,
  gramNoReg: Float64Array,
): number {
  const f = step.factors;
  const { indptr, indices, values, x, y, alpha, reg } = step;
  const xs = new Float64Array(f);
  const gx = new Float64Array(f);
  let loss = 0;
  let norms = 0;
  for (let u = 0; u < rows; u++) {
    const off = u * f;
    for (let a = 0; a < f; a++) xs[a] = x[off + a];
    matVec(gramNoReg, xs, gx, f);
    let quad = 0;
    for (let a = 0; a < f; a++) {
      quad += xs[a] * gx[a];
      norms += xs[a] * xs[a];
    }
    loss += quad;
    for (let e = indptr[u]; e < indptr[u + 1]; e++) {
      const yo = indices[e] * f;
      const dot = dotRow(y, yo, xs, f);
      const c = 1 + alpha * values[e];
      // Replace the implicit (0 − dot)² term counted in `quad` by c(1 − dot)².
      loss += (c - 1) * dot * dot - 2 * c * dot + c;
    }
  }
  for (let i = 0; i < cols * f; i++) norms += y[i] * y[i];
  return (loss + reg * norms) / (rows * cols);
}
