import { InvalidArgumentError } from '../core/errors.js';

/**
 * Per-arm ridge regressions on typed arrays, for LinUCB and linear Thompson sampling. Arm `i`
 * holds `A = λI + Σ x xᵀ` and `b = Σ r x`, plus the derived `A⁻¹` and `θ = A⁻¹ b`, each d×d (or d)
 * slice at offset `i·d²` (or `i·d`) of one array. One observation updates the derived values by a
 * Sherman–Morrison step ({@link LinearArms.rankOne}, O(d²)); {@link LinearArms.refresh} recomputes
 * them from A by a Cholesky inversion (O(d³)), which a restore uses, and which the owner runs
 * every so many rank-one steps so rounding never drifts far.
 *
 * For scoring, each arm also keeps a packed row (`packed`, T + d numbers with T = d(d+1)/2): the
 * upper triangle of A⁻¹ with off-diagonal entries doubled, then θ. With the context's products
 * x_r·x_c (r ≤ c) followed by x itself in one vector z ({@link LinearArms.products}), an arm's
 * xᵀA⁻¹x and θᵀx are two contiguous dot products: about d²/2 + d multiply-adds per arm in one
 * tight loop, the cost of a decision.
 */
export class LinearArms {
  readonly dim: number;
  A: Float64Array;
  b: Float64Array;
  invA: Float64Array;
  theta: Float64Array;
  packed: Float64Array;
  /** Length of an arm's packed row: d(d+1)/2 + d. */
  readonly rowLength: number;
  #lambda: number;
  readonly #work: Float64Array;

  constructor(dim: number, lambda: number, capacity = 16) {
    this.dim = dim;
    this.#lambda = lambda;
    const d2 = dim * dim;
    this.A = new Float64Array(capacity * d2);
    this.b = new Float64Array(capacity * dim);
    this.invA = new Float64Array(capacity * d2);
    this.theta = new Float64Array(capacity * dim);
    this.rowLength = (dim * (dim + 1)) / 2 + dim;
    this.packed = new Float64Array(capacity * this.rowLength);
    this.#work = new Float64Array(2 * d2);
    this.#u = new Float64Array(dim);
  }

  readonly #u: Float64Array;

  /** The ridge λ new arms start from. */
  get lambda(): number {
    return this.#lambda;
  }

  /** Grows the arrays to hold `capacity` arms, keeping what they hold. */
  grow(capacity: number): void {
    const d = this.dim;
    this.A = grown(this.A, capacity * d * d);
    this.b = grown(this.b, capacity * d);
    this.invA = grown(this.invA, capacity * d * d);
    this.theta = grown(this.theta, capacity * d);
    this.packed = grown(this.packed, capacity * this.rowLength);
  }

  /** Drops every arm's statistics and sets the ridge for arms to come. */
  reset(lambda: number): void {
    this.#lambda = lambda;
    this.A.fill(0);
    this.b.fill(0);
    this.invA.fill(0);
    this.theta.fill(0);
    this.packed.fill(0);
  }

  /** Starts arm `i` from the prior: A = λI, b = 0, so A⁻¹ = I/λ and θ = 0. */
  initArm(i: number): void {
    const d = this.dim;
    const base = i * d * d;
    this.A.fill(0, base, base + d * d);
    this.invA.fill(0, base, base + d * d);
    for (let j = 0; j < d; j++) {
      this.A[base + j * d + j] = this.#lambda;
      this.invA[base + j * d + j] = 1 / this.#lambda;
    }
    this.b.fill(0, i * d, i * d + d);
    this.theta.fill(0, i * d, i * d + d);
    this.#pack(i);
  }

  /**
   * Brings A⁻¹ and θ of arm `i` up to date with one observation already added to A and b by
   * {@link LinearArms.add}: A⁻¹ ← A⁻¹ − u uᵀ / (1 + xᵀu) with u = A⁻¹x (Sherman–Morrison), and
   * θ ← θ + u (r − xᵀθ) / (1 + xᵀu). O(d²).
   */
  rankOne(i: number, x: ArrayLike<number>, reward: number): void {
    const d = this.dim;
    const base = i * d * d;
    const inv = this.invA;
    const u = this.#u;
    let q = 0;
    let predicted = 0;
    for (let r = 0; r < d; r++) {
      let t = 0;
      const row = base + r * d;
      for (let c = 0; c < d; c++) t += inv[row + c] * x[c];
      u[r] = t;
      q += x[r] * t;
      predicted += x[r] * this.theta[i * d + r];
    }
    const denominator = 1 + q;
    for (let r = 0; r < d; r++) {
      const ur = u[r] / denominator;
      const row = base + r * d;
      for (let c = 0; c < d; c++) inv[row + c] -= ur * u[c];
    }
    const gain = (reward - predicted) / denominator;
    for (let r = 0; r < d; r++) this.theta[i * d + r] += u[r] * gain;
    this.#pack(i);
  }

  /**
   * Sets arm `i`'s A = λI + `xx` and b = `rx` (d² and d numbers, additive totals) and returns
   * whether they moved by more than rounding from what the arm held (relative 1e-9): when they did
   * not, A⁻¹ is kept and θ re-solved from the new b (O(d²)); when they did, the caller must
   * {@link LinearArms.refresh} the arm.
   */
  setTotals(i: number, xx: Float64Array, rx: Float64Array): boolean {
    const d = this.dim;
    const base = i * d * d;
    const A = this.A;
    let scale = 1;
    let moved = 0;
    for (let r = 0; r < d; r++) {
      for (let c = 0; c < d; c++) {
        const v = xx[r * d + c] + (r === c ? this.#lambda : 0);
        scale = Math.max(scale, Math.abs(v));
        moved = Math.max(moved, Math.abs(v - A[base + r * d + c]));
        A[base + r * d + c] = v;
      }
    }
    for (let r = 0; r < d; r++) {
      scale = Math.max(scale, Math.abs(rx[r]));
      moved = Math.max(moved, Math.abs(rx[r] - this.b[i * d + r]));
      this.b[i * d + r] = rx[r];
    }
    if (moved > 1e-9 * scale) return true;
    this.#solveTheta(i);
    this.#pack(i);
    return false;
  }

  /** Adds one observation: A += x xᵀ, b += r x (derived values wait for {@link LinearArms.refresh}). */
  add(i: number, x: ArrayLike<number>, reward: number): void {
    const d = this.dim;
    const A = this.A;
    const base = i * d * d;
    for (let r = 0; r < d; r++) {
      const xr = x[r];
      if (xr === 0) continue;
      const row = base + r * d;
      for (let c = 0; c < d; c++) A[row + c] += xr * x[c];
      this.b[i * d + r] += reward * xr;
    }
  }

  /** Sets arm `i`'s A and b from a snapshot. */
  set(i: number, A: ArrayLike<number>, b: ArrayLike<number>): void {
    this.A.set(A, i * this.dim * this.dim);
    this.b.set(b, i * this.dim);
  }

  /** Recomputes A⁻¹ and θ of arm `i` from its A and b. */
  refresh(i: number): void {
    const d = this.dim;
    const d2 = d * d;
    if (!invertSpd(this.A, i * d2, this.invA, i * d2, d, this.#work)) {
      throw new InvalidArgumentError(
        'A',
        `arm statistics are not positive definite (arm ${i}); λ must be > 0 and A = λI + Σ x xᵀ`,
      );
    }
    this.#solveTheta(i);
    this.#pack(i);
  }

  /** θ = A⁻¹ b of arm `i`. */
  #solveTheta(i: number): void {
    const d = this.dim;
    const d2 = d * d;
    const inv = this.invA;
    const b = this.b;
    for (let r = 0; r < d; r++) {
      let s = 0;
      const row = i * d2 + r * d;
      for (let c = 0; c < d; c++) s += inv[row + c] * b[i * d + c];
      this.theta[i * d + r] = s;
    }
  }

  /** Arm `i`'s packed scoring row from its A⁻¹ and θ. */
  #pack(i: number): void {
    const d = this.dim;
    const d2 = d * d;
    const inv = this.invA;
    let k = i * this.rowLength;
    for (let r = 0; r < d; r++) {
      const row = i * d2 + r * d;
      this.packed[k++] = inv[row + r];
      for (let c = r + 1; c < d; c++) this.packed[k++] = 2 * inv[row + c];
    }
    for (let r = 0; r < d; r++) this.packed[k++] = this.theta[i * d + r];
  }

  /** Fills `z` (length {@link LinearArms.rowLength}) with x_r·x_c for r ≤ c, row by row, then x. */
  products(x: Float64Array, z: Float64Array): void {
    const d = this.dim;
    let k = 0;
    for (let r = 0; r < d; r++) {
      const xr = x[r];
      for (let c = r; c < d; c++) z[k++] = xr * x[c];
    }
    for (let r = 0; r < d; r++) z[k++] = x[r];
  }

  /**
   * Every candidate's estimate θᵀx into `means` and squared width xᵀA⁻¹x into `spreads`, with `z`
   * from {@link LinearArms.products}; unseen arms (index −1) get the prior's 0 and xᵀx/λ.
   */
  estimateAll(idx: Int32Array, z: Float64Array, means: Float64Array, spreads: Float64Array): void {
    const d = this.dim;
    const tri = this.rowLength - d;
    const L = this.rowLength;
    const packed = this.packed;
    let prior = -1;
    for (let c = 0; c < idx.length; c++) {
      const i = idx[c];
      if (i < 0) {
        if (prior < 0) {
          prior = 0;
          for (let j = tri; j < L; j++) prior += z[j] * z[j];
          prior /= this.#lambda;
        }
        means[c] = 0;
        spreads[c] = prior;
        continue;
      }
      const base = i * L;
      // Four accumulators break the chain of dependent additions (the loop is latency-bound).
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      let j = 0;
      for (; j + 3 < tri; j += 4) {
        q0 += packed[base + j] * z[j];
        q1 += packed[base + j + 1] * z[j + 1];
        q2 += packed[base + j + 2] * z[j + 2];
        q3 += packed[base + j + 3] * z[j + 3];
      }
      for (; j < tri; j++) q0 += packed[base + j] * z[j];
      let m0 = 0;
      let m1 = 0;
      for (; j + 1 < L; j += 2) {
        m0 += packed[base + j] * z[j];
        m1 += packed[base + j + 1] * z[j + 1];
      }
      for (; j < L; j++) m0 += packed[base + j] * z[j];
      const q = q0 + q1 + (q2 + q3);
      means[c] = m0 + m1;
      spreads[c] = q > 0 ? q : 0;
    }
  }
}

function grown(a: Float64Array, length: number): Float64Array {
  if (a.length >= length) return a;
  const out = new Float64Array(length);
  out.set(a);
  return out;
}

/**
 * Inverts the symmetric positive definite d×d matrix at `a[aOff…]` into `out[outOff…]` through its
 * Cholesky factor L (A⁻¹ = L⁻ᵀ L⁻¹); `work` holds 2·d² numbers. False when A is not positive definite.
 */
export function invertSpd(
  a: Float64Array,
  aOff: number,
  out: Float64Array,
  outOff: number,
  d: number,
  work: Float64Array,
): boolean {
  const L = work; // L[r*d + c], c ≤ r
  const M = work.subarray(d * d); // L⁻¹, lower triangular
  for (let j = 0; j < d; j++) {
    let s = a[aOff + j * d + j];
    for (let k = 0; k < j; k++) s -= L[j * d + k] * L[j * d + k];
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = a[aOff + i * d + j];
      for (let k = 0; k < j; k++) t -= L[i * d + k] * L[j * d + k];
      L[i * d + j] = t / ljj;
    }
  }
  for (let j = 0; j < d; j++) {
    M[j * d + j] = 1 / L[j * d + j];
    for (let i = j + 1; i < d; i++) {
      let t = 0;
      for (let k = j; k < i; k++) t -= L[i * d + k] * M[k * d + j];
      M[i * d + j] = t / L[i * d + i];
    }
  }
  // (A⁻¹)_ij = Σ_{k ≥ max(i,j)} M_ki M_kj.
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let t = 0;
      for (let k = j; k < d; k++) t += M[k * d + i] * M[k * d + j];
      out[outOff + i * d + j] = t;
      out[outOff + j * d + i] = t;
    }
  }
  return true;
}
