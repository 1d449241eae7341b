// AssemblyScript source of EASE's dense solve, compiled to WebAssembly with SIMD by
// `npm run build:wasm`: the inverse of a symmetric positive-definite matrix in float64 through
// its Cholesky factor. Every phase is written as dot products of contiguous row segments
// (rows of L, of Lᵀ, of L⁻¹ and of L⁻ᵀ), so that each inner loop streams memory in order; the
// transposes between phases exist only to keep those segments contiguous.

/** Σ a[k]·b[k] over k < len (float64), in two f64x2 accumulators; pointers may be unaligned. */
@inline function dot(a: usize, b: usize, len: i32): f64 {
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const o = <usize>k << 3;
    s0 = f64x2.add(s0, f64x2.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  const s = f64x2.add(s0, s1);
  let t = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; k < len; k++) {
    const o = <usize>k << 3;
    t += load<f64>(a + o) * load<f64>(b + o);
  }
  return t;
}

// Results of dot4 (AssemblyScript functions return one value).
let d0: f64 = 0;
let d1: f64 = 0;
let d2: f64 = 0;
let d3: f64 = 0;

/**
 * Four dot products of rows a0..a3 with one row b over k < len, into d0..d3: b is loaded once
 * for four rows, which is what makes the n³ phases cache-friendly (a tile of four rows stays in
 * cache while every other row streams past it once instead of four times).
 */
@inline function dot4(a0: usize, a1: usize, a2: usize, a3: usize, b: usize, len: i32): void {
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let s2 = f64x2.splat(0);
  let s3 = f64x2.splat(0);
  let k = 0;
  for (; k + 2 <= len; k += 2) {
    const o = <usize>k << 3;
    const bv = v128.load(b + o);
    s0 = f64x2.add(s0, f64x2.mul(v128.load(a0 + o), bv));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(a1 + o), bv));
    s2 = f64x2.add(s2, f64x2.mul(v128.load(a2 + o), bv));
    s3 = f64x2.add(s3, f64x2.mul(v128.load(a3 + o), bv));
  }
  let t0 = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1);
  let t1 = f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1);
  let t2 = f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1);
  let t3 = f64x2.extract_lane(s3, 0) + f64x2.extract_lane(s3, 1);
  if (k < len) {
    const o = <usize>k << 3;
    const bk = load<f64>(b + o);
    t0 += load<f64>(a0 + o) * bk;
    t1 += load<f64>(a1 + o) * bk;
    t2 += load<f64>(a2 + o) * bk;
    t3 += load<f64>(a3 + o) * bk;
  }
  d0 = t0;
  d1 = t1;
  d2 = t2;
  d3 = t3;
}

/** Writes the transpose of the n×n row-major matrix at `src` to `dst` (tiled for the caches). */
function transpose(src: usize, dst: usize, n: i32): void {
  const T = 32;
  for (let i0 = 0; i0 < n; i0 += T) {
    const i1 = min(i0 + T, n);
    for (let j0 = 0; j0 < n; j0 += T) {
      const j1 = min(j0 + T, n);
      for (let i = i0; i < i1; i++)
        for (let j = j0; j < j1; j++)
          store<f64>(dst + ((<usize>j * n + i) << 3), load<f64>(src + ((<usize>i * n + j) << 3)));
    }
  }
}

/**
 * Replaces the symmetric positive-definite n×n float64 matrix at `a` (row-major, both triangles
 * filled) with its inverse, using `w` (n×n float64) as scratch. Returns 0, or i + 1 when the
 * leading minor of order i + 1 is not positive definite (then `a` holds garbage).
 */
export function spdInverse(a: usize, w: usize, n: i32): i32 {
  const rb = <usize>n << 3;
  // 1. Cholesky G = L·Lᵀ, L in the lower triangle of a (dot/Crout form), four rows at a time:
  //    columns left of the tile share each row j's load (dot4), the tile's own triangle follows.
  let i0 = 0;
  for (; i0 + 4 <= n; i0 += 4) {
    const r0 = a + <usize>i0 * rb;
    const r1 = r0 + rb;
    const r2 = r1 + rb;
    const r3 = r2 + rb;
    for (let j = 0; j < i0; j++) {
      const rj = a + <usize>j * rb;
      const jo = <usize>j << 3;
      dot4(r0, r1, r2, r3, rj, j);
      const djj = load<f64>(rj + jo);
      store<f64>(r0 + jo, (load<f64>(r0 + jo) - d0) / djj);
      store<f64>(r1 + jo, (load<f64>(r1 + jo) - d1) / djj);
      store<f64>(r2 + jo, (load<f64>(r2 + jo) - d2) / djj);
      store<f64>(r3 + jo, (load<f64>(r3 + jo) - d3) / djj);
    }
    for (let i = i0; i < i0 + 4; i++) if (!choleskyRow(a, rb, i, i0)) return i + 1;
  }
  for (let i = i0; i < n; i++) if (!choleskyRow(a, rb, i, 0)) return i + 1;
  // 2. R = Lᵀ in w: row j of R is column j of L, the segment W's rows are dotted with.
  transpose(a, w, n);
  // 3. W = L⁻¹ row by row into a's lower triangle, from the diagonal leftwards:
  //    W[i][j] = (δij − Σ_{k=j+1..i} W[i][k]·L[k][j]) / L[j][j], four rows at a time; the upper
  //    parts are zeroed first so that the tile's rows share one dot range per column j.
  let w0 = 0;
  for (; w0 + 4 <= n; w0 += 4) {
    for (let i = w0; i < w0 + 4; i++) {
      const ri = a + <usize>i * rb;
      for (let j = i + 1; j < n; j++) store<f64>(ri + (<usize>j << 3), 0);
      inverseRow(a, w, rb, i, w0);
    }
    const r0 = a + <usize>w0 * rb;
    for (let j = w0 - 1; j >= 0; j--) {
      const off = <usize>(j + 1) << 3;
      const rj = w + <usize>j * rb;
      dot4(r0 + off, r0 + rb + off, r0 + 2 * rb + off, r0 + 3 * rb + off, rj + off, w0 + 3 - j);
      const djj = load<f64>(rj + (<usize>j << 3));
      const jo = <usize>j << 3;
      store<f64>(r0 + jo, -d0 / djj);
      store<f64>(r0 + rb + jo, -d1 / djj);
      store<f64>(r0 + 2 * rb + jo, -d2 / djj);
      store<f64>(r0 + 3 * rb + jo, -d3 / djj);
    }
  }
  for (let i = w0; i < n; i++) {
    const ri = a + <usize>i * rb;
    for (let j = i + 1; j < n; j++) store<f64>(ri + (<usize>j << 3), 0);
    inverseRow(a, w, rb, i, 0);
  }
  // 4. U = Wᵀ = L⁻ᵀ in w, then P = G⁻¹ = Wᵀ·W: P[i][j] = Σ_{k≥max(i,j)} U[i][k]·U[j][k].
  transpose(a, w, n);
  let p0 = 0;
  for (; p0 + 4 <= n; p0 += 4) {
    const u0 = w + <usize>p0 * rb;
    for (let i = p0; i < p0 + 4; i++)
      for (let j = i; j < p0 + 4; j++) productEntry(a, w, rb, n, i, j);
    for (let j = p0 + 4; j < n; j++) {
      const off = <usize>j << 3;
      dot4(u0 + off, u0 + rb + off, u0 + 2 * rb + off, u0 + 3 * rb + off, w + <usize>j * rb + off, n - j);
      const col = a + off;
      const row = a + <usize>j * rb + (<usize>p0 << 3);
      store<f64>(col + <usize>p0 * rb, d0);
      store<f64>(col + <usize>(p0 + 1) * rb, d1);
      store<f64>(col + <usize>(p0 + 2) * rb, d2);
      store<f64>(col + <usize>(p0 + 3) * rb, d3);
      store<f64>(row, d0);
      store<f64>(row, d1, 8);
      store<f64>(row, d2, 16);
      store<f64>(row, d3, 24);
    }
  }
  for (let i = p0; i < n; i++) for (let j = i; j < n; j++) productEntry(a, w, rb, n, i, j);
  return 0;
}

/** Row i of the Cholesky factor from column `from` on (columns before it are done). */
function choleskyRow(a: usize, rb: usize, i: i32, from: i32): bool {
  const ri = a + <usize>i * rb;
  for (let j = from; j <= i; j++) {
    const rj = a + <usize>j * rb;
    const s = load<f64>(ri + (<usize>j << 3)) - dot(ri, rj, j);
    if (j < i) store<f64>(ri + (<usize>j << 3), s / load<f64>(rj + (<usize>j << 3)));
    else {
      if (!(s > 0)) return false;
      store<f64>(ri + (<usize>i << 3), Math.sqrt(s));
    }
  }
  return true;
}

/** P[i][j] = P[j][i] = Σ_{k≥j} U[i][k]·U[j][k] for j ≥ i (U = L⁻ᵀ in w). */
function productEntry(a: usize, w: usize, rb: usize, n: i32, i: i32, j: i32): void {
  const off = <usize>j << 3;
  const p = dot(w + <usize>i * rb + off, w + <usize>j * rb + off, n - j);
  store<f64>(a + <usize>i * rb + off, p);
  store<f64>(a + <usize>j * rb + (<usize>i << 3), p);
}

/** Row i of W = L⁻¹ (R = Lᵀ in w) for columns i down to `downTo`. */
function inverseRow(a: usize, w: usize, rb: usize, i: i32, downTo: i32): void {
  const ri = a + <usize>i * rb;
  for (let j = i; j >= downTo; j--) {
    const rj = w + <usize>j * rb;
    const off = <usize>(j + 1) << 3;
    const s = (j == i ? 1.0 : 0.0) - dot(ri + off, rj + off, i - j);
    store<f64>(ri + (<usize>j << 3), s / load<f64>(rj + (<usize>j << 3)));
  }
}
