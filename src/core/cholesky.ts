/**
 * Small dense Cholesky routines on row-major float64 matrices, for the many tiny SPD systems the
 * models solve (per-row ALS normal equations, EASE neighbourhoods, an f×f Gram inverse). Large
 * inverses have their own SIMD kernel (src/models/ease/spd-inverse.ts).
 */

/**
 * Replaces the lower triangle of the SPD n×n matrix `a` by its Cholesky factor L (A = L·Lᵀ); the
 * upper triangle is left as it was. A pivot that is not positive (the matrix is not positive
 * definite, or rounding drove it to zero) is clamped to 1e-12 rather than producing NaN, and the
 * first such row is reported.
 *
 * @returns 0, or 1 + the first row whose pivot was not positive.
 */
export function choleskyFactor(a: Float64Array, n: number): number {
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      if (j < i) a[ri + j] = s / a[rj + j];
      else {
        if (!(s > 0) && failed === 0) failed = i + 1;
        a[ri + i] = Math.sqrt(Math.max(s, 1e-12));
      }
    }
  }
  return failed;
}

/** Solves L·Lᵀ·x = b in place (x into b), L being a factor from {@link choleskyFactor}. */
export function choleskySubstitute(l: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

/** Solves A·x = b in place (x into b) for a small SPD `a` (n×n, overwritten by its factor). */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): void {
  choleskyFactor(a, n);
  choleskySubstitute(a, b, n);
}

/**
 * L⁻¹ for the Cholesky factor L of the SPD n×n matrix `a` (left unchanged), as a new row-major
 * lower-triangular matrix: then aᵢᵀ·A⁻¹·aⱼ = (L⁻¹aᵢ)·(L⁻¹aⱼ) and A⁻¹ = L⁻ᵀ·L⁻¹.
 */
export function inverseCholeskyFactor(a: Float64Array, n: number): Float64Array {
  const l = Float64Array.from(a);
  choleskyFactor(l, n);
  const inverse = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    // Column j of L⁻¹ by forward substitution on the unit vector eⱼ.
    inverse[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * n + k] * inverse[k * n + j];
      inverse[i * n + j] = s / l[i * n + i];
    }
  }
  return inverse;
}
