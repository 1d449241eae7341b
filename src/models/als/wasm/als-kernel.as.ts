// AssemblyScript source of the ALS kernel, compiled to WebAssembly with SIMD by `npm run
// build:wasm`. It mirrors solveRows, multiplyRows and gramMatrix in ../als-kernel.ts (the
// portable fallback and the reference these are tested against) on f32x4 lanes. Every argument
// that ends in Ptr is a byte offset into the shared linear memory laid out by als-wasm.ts; `f` is
// a multiple of 4.

import { axpy, dot } from '../../wasm/simd.as';

/** Rows of the next row's interactions touched ahead (2,048 rows of f = 64: 512 KiB). */
const TOUCH_ROWS = 2048;

/**
 * Copies f floats (f a multiple of 4). A loop, not memory.copy: on shared memory V8 runs
 * memory.copy and memory.fill out of line, which cost more than these 16 vector moves.
 */
@inline function copyRow(dst: usize, src: usize, f: i32): void {
  for (let k = 0; k < f; k += 4) v128.store(dst + (<usize>k << 2), v128.load(src + (<usize>k << 2)));
}

/**
 * out[k] += c0·r0[k] + c1·r1[k] + c2·r2[k] + c3·r3[k] for k from `from` (a multiple of 4) to f,
 * added in that order: one load and store of `out` serves four rows.
 */
@inline function axpy4(
  c0: v128,
  c1: v128,
  c2: v128,
  c3: v128,
  r0: usize,
  r1: usize,
  r2: usize,
  r3: usize,
  out: usize,
  from: i32,
  f: i32,
): void {
  for (let k = from; k < f; k += 4) {
    const o = <usize>k << 2;
    let acc = v128.load(out + o);
    acc = f32x4.add(acc, f32x4.mul(c0, v128.load(r0 + o)));
    acc = f32x4.add(acc, f32x4.mul(c1, v128.load(r1 + o)));
    acc = f32x4.add(acc, f32x4.mul(c2, v128.load(r2 + o)));
    acc = f32x4.add(acc, f32x4.mul(c3, v128.load(r3 + o)));
    v128.store(out + o, acc);
  }
}

/** [Σ s0, Σ s1, Σ s2, Σ s3]: the lane sums of four vectors, as one vector. */
@inline function hsum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const a = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 4, 1, 5), v128.shuffle<f32>(s0, s1, 2, 6, 3, 7));
  const b = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 4, 1, 5), v128.shuffle<f32>(s2, s3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7));
}

/**
 * The dots of v with four rows r0..r3, as one vector: four independent accumulators, so the
 * additions overlap instead of waiting on one chain, and each load of v serves four rows.
 */
@inline function dot4(v: usize, r0: usize, r1: usize, r2: usize, r3: usize, f: i32): v128 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  for (let k = 0; k < f; k += 4) {
    const o = <usize>k << 2;
    const vk = v128.load(v + o);
    s0 = f32x4.add(s0, f32x4.mul(v128.load(r0 + o), vk));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(r1 + o), vk));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(r2 + o), vk));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(r3 + o), vk));
  }
  return hsum4(s0, s1, s2, s3);
}

/** v·r summed exactly as one lane of dot4 (so a row gives the same dot alone or in a four). */
@inline function dot1(v: usize, r: usize, f: i32): f32 {
  let s = f32x4.splat(0);
  for (let k = 0; k < f; k += 4) {
    const o = <usize>k << 2;
    s = f32x4.add(s, f32x4.mul(v128.load(r + o), v128.load(v + o)));
  }
  return (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 2)) + (f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 3));
}

/**
 * The four coefficients base·c + slope·(c − 1)·dot of a pass over interactions (c = 1 + alpha·r,
 * r the four values at valuesAt), computed the same way by interactionPass and scatterPass so
 * that both give each interaction bit for bit the same coefficient.
 */
@inline function coefficients4(alpha: f32, base: f32, slope: f32, valuesAt: usize, dots: v128): v128 {
  const cm1 = f32x4.mul(f32x4.splat(alpha), v128.load(valuesAt));
  return f32x4.add(
    f32x4.mul(f32x4.splat(base), f32x4.add(f32x4.splat(1), cm1)),
    f32x4.mul(f32x4.splat(slope), f32x4.mul(cm1, dots)),
  );
}

/** One lane of coefficients4, for the interactions left over after the fours. */
@inline function coefficient1(alpha: f32, base: f32, slope: f32, value: f32, dot: f32): f32 {
  const cm1: f32 = alpha * value;
  return base * (1 + cm1) + slope * (cm1 * dot);
}

/** r = −r over f floats. */
@inline function negateRow(r: usize, f: i32): void {
  for (let k = 0; k < f; k += 4) {
    const o = <usize>k << 2;
    v128.store(r + o, f32x4.neg(v128.load(r + o)));
  }
}

/**
 * One conjugate-gradient update once ap = A·p is known: x += step·p, r −= step·ap, then
 * p = r + (rsNew/rsOld)·p. Returns rsNew = r·r. Shared by solveCg and solveStreamed.
 */
@inline function cgUpdate(x: usize, r: usize, p: usize, ap: usize, rsOld: f32, f: i32): f32 {
  const step = rsOld / dot(p, ap, f);
  axpy(step, p, x, f);
  axpy(-step, ap, r, f);
  const rsNew = dot(r, r, f);
  const beta = f32x4.splat(rsNew / rsOld);
  for (let k = 0; k < f; k += 4) {
    const o = <usize>k << 2;
    v128.store(p + o, f32x4.add(v128.load(r + o), f32x4.mul(beta, v128.load(p + o))));
  }
  return rsNew;
}

/**
 * One pass over a row's interactions e0..e1 with the other side's rows y_e:
 *   out += Σ_e (base·c_e + slope·(c_e − 1)·(y_e·v))·y_e,   c_e = 1 + alpha·r_e,
 * which is the residual pass of CG with (base, slope) = (1, −1) and a product with the
 * interaction part of A with (0, 1). Interactions go four at a time: their dots share the loads
 * of v, and their rows are added to `out` in one pass.
 */
@inline function interactionPass(
  v: usize,
  out: usize,
  base: f32,
  slope: f32,
  alpha: f32,
  e0: i32,
  e1: i32,
  indicesPtr: usize,
  valuesPtr: usize,
  yPtr: usize,
  f: i32,
): void {
  const fb = <usize>f << 2;
  let e = e0;
  for (; e + 4 <= e1; e += 4) {
    const ip = indicesPtr + (<usize>e << 2);
    const r0 = yPtr + <usize>load<i32>(ip) * fb;
    const r1 = yPtr + <usize>load<i32>(ip, 4) * fb;
    const r2 = yPtr + <usize>load<i32>(ip, 8) * fb;
    const r3 = yPtr + <usize>load<i32>(ip, 12) * fb;
    const dots = dot4(v, r0, r1, r2, r3, f);
    const coef = coefficients4(alpha, base, slope, valuesPtr + (<usize>e << 2), dots);
    axpy4(
      f32x4.splat(f32x4.extract_lane(coef, 0)),
      f32x4.splat(f32x4.extract_lane(coef, 1)),
      f32x4.splat(f32x4.extract_lane(coef, 2)),
      f32x4.splat(f32x4.extract_lane(coef, 3)),
      r0,
      r1,
      r2,
      r3,
      out,
      0,
      f,
    );
  }
  for (; e < e1; e++) {
    const yRow = yPtr + <usize>load<i32>(indicesPtr + (<usize>e << 2)) * fb;
    const value = load<f32>(valuesPtr + (<usize>e << 2));
    axpy(coefficient1(alpha, base, slope, value, dot1(v, yRow, f)), yRow, out, f);
  }
}

/**
 * out = G·v for an f×f G (row-major), four rows of G at a time so that each load of v serves four
 * multiply-adds (f is a multiple of 4).
 */
@inline function matVec(g: usize, v: usize, out: usize, f: i32): void {
  const fb = <usize>f << 2;
  for (let a = 0; a < f; a += 4) {
    const g0 = g + <usize>a * fb;
    v128.store(out + (<usize>a << 2), dot4(v, g0, g0 + fb, g0 + 2 * fb, g0 + 3 * fb, f));
  }
}

/**
 * Solves rows start..end of X against fixed Y, by `cgSteps` of conjugate gradient warm-started
 * from X. With `diagonal`, Y has been rotated into the eigenbasis of YᵀY + λI: gramPtr holds its
 * f eigenvalues, each CG row is first rotated by the f×f basis at basisPtr, and rows with at most
 * `shortLimit` interactions are solved exactly through Woodbury's identity instead, with the f
 * scales 1/(Λ + λ) at scalePtr. Without it,
 * gramPtr holds the full f×f YᵀY + λI. scratchPtr points at 4·f floats and shortPtr at
 * (shortLimit² + 3·shortLimit) doubles, both owned by the calling thread.
 */
export function solveRows(
  f: i32,
  alpha: f32,
  cgSteps: i32,
  shortLimit: i32,
  indptrPtr: usize,
  indicesPtr: usize,
  valuesPtr: usize,
  xPtr: usize,
  yPtr: usize,
  scalePtr: usize,
  gramPtr: usize,
  diagonal: i32,
  basisPtr: usize,
  scratchPtr: usize,
  shortPtr: usize,
  start: i32,
  end: i32,
): void {
  const fb = <usize>f << 2;
  let sink: f32 = 0;
  if (start < end) {
    const s0 = load<i32>(indptrPtr + (<usize>start << 2));
    sink += touchRows(s0, load<i32>(indptrPtr + (<usize>(start + 1) << 2)), indicesPtr, yPtr, fb);
  }
  for (let row = start; row < end; row++) {
    const e0 = load<i32>(indptrPtr + (<usize>row << 2));
    const e1 = load<i32>(indptrPtr + (<usize>(row + 1) << 2));
    // Start the next row's cache misses now: its rows arrive while this row computes.
    if (row + 1 < end) {
      const e2 = load<i32>(indptrPtr + (<usize>(row + 2) << 2));
      sink += touchRows(e1, e2, indicesPtr, yPtr, fb);
    }
    const xRow = xPtr + <usize>row * fb;
    if (e1 - e0 <= shortLimit)
      solveShort(f, alpha, e0, e1 - e0, indicesPtr, valuesPtr, xRow, yPtr, scalePtr, scratchPtr, shortPtr);
    else solveCg(f, alpha, cgSteps, e0, e1, indicesPtr, valuesPtr, xRow, yPtr, gramPtr, diagonal, basisPtr, scratchPtr);
  }
  // Keeps the touches alive (a load whose value is unused may be dropped by the compiler).
  store<f32>(scratchPtr, sink);
}

/**
 * Loads one float from each 64-byte line of the rows of y named by interactions e0..e1 and
 * returns their sum: independent loads the CPU issues all at once, so a row's cache misses
 * overlap instead of arriving one dot product at a time. At most TOUCH_ROWS rows are touched.
 */
@inline function touchRows(e0: i32, e1: i32, indicesPtr: usize, yPtr: usize, fb: usize): f32 {
  let s: f32 = 0;
  const last = min(e1, e0 + TOUCH_ROWS);
  for (let e = e0; e < last; e++) {
    const row = yPtr + <usize>load<i32>(indicesPtr + (<usize>e << 2)) * fb;
    for (let o: usize = 0; o < fb; o += 64) s += load<f32>(row + o);
  }
  return s;
}

/** out = G·v: G's diagonal (f floats) when `diagonal`, else the full f×f G. */
@inline function gramTimes(g: usize, diagonal: i32, v: usize, out: usize, f: i32): void {
  if (diagonal) {
    for (let k = 0; k < f; k += 4) {
      const o = <usize>k << 2;
      v128.store(out + o, f32x4.mul(v128.load(g + o), v128.load(v + o)));
    }
  } else matVec(g, v, out, f);
}

/**
 * Conjugate gradient on one row (see solveRowCg in ../als-kernel.ts). With `diagonal`, YᵀY + λI
 * is diagonal in the basis the fixed side was rotated to, and the row is rotated into it first
 * (basisPtr: the f×f rotation).
 */
@inline function solveCg(
  f: i32,
  alpha: f32,
  cgSteps: i32,
  e0: i32,
  e1: i32,
  indicesPtr: usize,
  valuesPtr: usize,
  xRow: usize,
  yPtr: usize,
  gramPtr: usize,
  diagonal: i32,
  basisPtr: usize,
  scratchPtr: usize,
): void {
  const fb = <usize>f << 2;
  const r = scratchPtr;
  const p = scratchPtr + fb;
  const ap = scratchPtr + 2 * fb;
  const xs = scratchPtr + 3 * fb;
  if (diagonal) matVec(basisPtr, xRow, xs, f);
  else copyRow(xs, xRow, f);
  gramTimes(gramPtr, diagonal, xs, r, f);
  negateRow(r, f);
  interactionPass(xs, r, 1, -1, alpha, e0, e1, indicesPtr, valuesPtr, yPtr, f);
  copyRow(p, r, f);
  let rsOld = dot(r, r, f);
  for (let it = 0; it < cgSteps; it++) {
    if (rsOld < 1e-20) break;
    gramTimes(gramPtr, diagonal, p, ap, f);
    interactionPass(p, ap, 0, 1, alpha, e0, e1, indicesPtr, valuesPtr, yPtr, f);
    rsOld = cgUpdate(xs, r, p, ap, rsOld, f);
  }
  copyRow(xRow, xs, f);
}

/** k[i][j] = k[j][i] = v in the row-major double matrix at k with rows of nb bytes. */
@inline function storeSymmetric(k: usize, nb: usize, i: i32, j: i32, v: f64): void {
  store<f64>(k + <usize>i * nb + (<usize>j << 3), v);
  store<f64>(k + <usize>j * nb + (<usize>i << 3), v);
}

/**
 * The Woodbury solve of one short row (solveRowShort in ../als-kernel.ts) in the rotated basis,
 * where G = Λ + λ is diagonal: with s = 1/(Λ + λ) at scalePtr, K = Yᵤ·diag(s)·Yᵤᵀ and
 * x = s ⊙ Yᵤᵀ(c − D·t). It reads only Y's rows (yPtr), the rows CG reads too, so short and long
 * rows share one working set. vPtr holds 2·f floats of scratch.
 */
@inline function solveShort(
  f: i32,
  alpha: f32,
  e0: i32,
  n: i32,
  indicesPtr: usize,
  valuesPtr: usize,
  xRow: usize,
  yPtr: usize,
  scalePtr: usize,
  vPtr: usize,
  ws: usize,
): void {
  const fb = <usize>f << 2;
  const nb = <usize>n << 3;
  const q = vPtr + fb;
  const k = ws; // n×n doubles
  const c = ws + <usize>n * nb;
  const d = c + nb;
  const w = d + nb;
  for (let i = 0; i < n; i++) {
    const cm1 = <f64>alpha * <f64>load<f32>(valuesPtr + (<usize>(e0 + i) << 2));
    store<f64>(c + (<usize>i << 3), 1 + cm1);
    store<f64>(d + (<usize>i << 3), Math.sqrt(cm1));
  }
  const ip = indicesPtr + (<usize>e0 << 2);
  for (let i = 0; i < n; i++) {
    gramTimes(scalePtr, 1, yPtr + <usize>load<i32>(ip + (<usize>i << 2)) * fb, q, f);
    let j = i;
    for (; j + 4 <= n; j += 4) {
      const jp = ip + (<usize>j << 2);
      const dots = dot4(
        q,
        yPtr + <usize>load<i32>(jp) * fb,
        yPtr + <usize>load<i32>(jp, 4) * fb,
        yPtr + <usize>load<i32>(jp, 8) * fb,
        yPtr + <usize>load<i32>(jp, 12) * fb,
        f,
      );
      storeSymmetric(k, nb, i, j, <f64>f32x4.extract_lane(dots, 0));
      storeSymmetric(k, nb, i, j + 1, <f64>f32x4.extract_lane(dots, 1));
      storeSymmetric(k, nb, i, j + 2, <f64>f32x4.extract_lane(dots, 2));
      storeSymmetric(k, nb, i, j + 3, <f64>f32x4.extract_lane(dots, 3));
    }
    for (; j < n; j++)
      storeSymmetric(k, nb, i, j, <f64>dot(q, yPtr + <usize>load<i32>(ip + (<usize>j << 2)) * fb, f));
  }
  // w = D·K·c, then K ← I + D·K·D.
  for (let i = 0; i < n; i++) {
    let sum: f64 = 0;
    for (let j = 0; j < n; j++)
      sum += load<f64>(k + <usize>i * nb + (<usize>j << 3)) * load<f64>(c + (<usize>j << 3));
    store<f64>(w + (<usize>i << 3), load<f64>(d + (<usize>i << 3)) * sum);
  }
  for (let i = 0; i < n; i++) {
    const di = load<f64>(d + (<usize>i << 3));
    for (let j = 0; j < n; j++) {
      const at = k + <usize>i * nb + (<usize>j << 3);
      store<f64>(at, load<f64>(at) * di * load<f64>(d + (<usize>j << 3)) + (i == j ? 1 : 0));
    }
  }
  // Cholesky of the lower triangle in place, then L·Lᵀ·t = w (t into w).
  for (let i = 0; i < n; i++) {
    const ri = k + <usize>i * nb;
    for (let j = 0; j <= i; j++) {
      const rj = k + <usize>j * nb;
      let s = load<f64>(ri + (<usize>j << 3));
      for (let m = 0; m < j; m++) s -= load<f64>(ri + (<usize>m << 3)) * load<f64>(rj + (<usize>m << 3));
      store<f64>(ri + (<usize>j << 3), j < i ? s / load<f64>(rj + (<usize>j << 3)) : Math.sqrt(Math.max(s, 1e-12)));
    }
  }
  for (let i = 0; i < n; i++) {
    const ri = k + <usize>i * nb;
    let s = load<f64>(w + (<usize>i << 3));
    for (let m = 0; m < i; m++) s -= load<f64>(ri + (<usize>m << 3)) * load<f64>(w + (<usize>m << 3));
    store<f64>(w + (<usize>i << 3), s / load<f64>(ri + (<usize>i << 3)));
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = load<f64>(w + (<usize>i << 3));
    for (let m = i + 1; m < n; m++) s -= load<f64>(k + <usize>m * nb + (<usize>i << 3)) * load<f64>(w + (<usize>m << 3));
    store<f64>(w + (<usize>i << 3), s / load<f64>(k + <usize>i * nb + (<usize>i << 3)));
  }
  // x = s ⊙ Yᵤᵀ·(c − D·t)
  const zero = f32x4.splat(0);
  for (let m = 0; m < f; m += 4) v128.store(vPtr + (<usize>m << 2), zero);
  for (let i = 0; i < n; i++) {
    const coef = load<f64>(c + (<usize>i << 3)) - load<f64>(d + (<usize>i << 3)) * load<f64>(w + (<usize>i << 3));
    const yRow = yPtr + <usize>load<i32>(indicesPtr + (<usize>(e0 + i) << 2)) * fb;
    axpy(<f32>coef, yRow, vPtr, f);
  }
  gramTimes(scalePtr, 1, vPtr, xRow, f);
}

/**
 * Rotates rows start..end of Y in place into the basis whose f×f rotation is at basisPtr
 * (row r ← B·yᵣ). scratchPtr holds f floats of the calling thread.
 */
export function rotateRows(f: i32, yPtr: usize, basisPtr: usize, scratchPtr: usize, start: i32, end: i32): void {
  const fb = <usize>f << 2;
  for (let row = start; row < end; row++) {
    const yRow = yPtr + <usize>row * fb;
    matVec(basisPtr, yRow, scratchPtr, f);
    copyRow(yRow, scratchPtr, f);
  }
}

/**
 * Adds Σ yᵣyᵣᵀ over rows start..end of Y into the f×f matrix at outPtr. Only the upper triangle
 * (column ≥ row, from the row's 4-aligned block on) is kept up to date: the caller mirrors it.
 * Four rows of Y go into each pass over an output row, so each load and store of the output
 * serves four multiply-adds.
 */
export function gramRows(f: i32, yPtr: usize, start: i32, end: i32, outPtr: usize): void {
  const fb = <usize>f << 2;
  let row = start;
  for (; row + 4 <= end; row += 4) {
    const y0 = yPtr + <usize>row * fb;
    const y1 = y0 + fb;
    const y2 = y1 + fb;
    const y3 = y2 + fb;
    for (let a = 0; a < f; a++) {
      const ao = <usize>a << 2;
      const c0 = f32x4.splat(load<f32>(y0 + ao));
      const c1 = f32x4.splat(load<f32>(y1 + ao));
      const c2 = f32x4.splat(load<f32>(y2 + ao));
      const c3 = f32x4.splat(load<f32>(y3 + ao));
      axpy4(c0, c1, c2, c3, y0, y1, y2, y3, outPtr + <usize>a * fb, a & ~3, f);
    }
  }
  for (; row < end; row++) {
    const yRow = yPtr + <usize>row * fb;
    for (let a = 0; a < f; a++) {
      const ca = f32x4.splat(load<f32>(yRow + (<usize>a << 2)));
      const out = outPtr + <usize>a * fb;
      for (let k = a & ~3; k < f; k += 4) {
        const o = <usize>k << 2;
        v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(ca, v128.load(yRow + o))));
      }
    }
  }
}

/**
 * The CG half-step for the solved rows lo..hi (this thread's share) driven by the fixed side's
 * rows instead of the solved side's: each pass streams the fixed rows in order (their factor
 * rows are read once, sequentially) and scatters into the solved rows' CG vectors, which are
 * few and hot (the popular side of a power-law log). The fixed side's CSR row u holds this
 * thread's interactions at splits[u·stride + t] .. splits[u·stride + t + 1]. Every solved row
 * sees the same operations in the same order as solveCg, so the factors are bit for bit those
 * of the row-major sweep (a test checks it). r, p and ap hold f floats per solved row, rs one.
 */
export function solveStreamed(
  f: i32,
  alpha: f32,
  cgSteps: i32,
  fixedRows: i32,
  splitsPtr: usize,
  stride: i32,
  t: i32,
  indicesPtr: usize,
  valuesPtr: usize,
  fixedPtr: usize,
  xPtr: usize,
  gramPtr: usize,
  rPtr: usize,
  pPtr: usize,
  apPtr: usize,
  rsPtr: usize,
  lo: i32,
  hi: i32,
): void {
  const fb = <usize>f << 2;
  for (let i = lo; i < hi; i++) {
    const r = rPtr + <usize>i * fb;
    matVec(gramPtr, xPtr + <usize>i * fb, r, f);
    negateRow(r, f);
  }
  scatterPass(f, alpha, 1, -1, fixedRows, splitsPtr, stride, t, indicesPtr, valuesPtr, fixedPtr, xPtr, rPtr);
  for (let i = lo; i < hi; i++) {
    const r = rPtr + <usize>i * fb;
    copyRow(pPtr + <usize>i * fb, r, f);
    store<f32>(rsPtr + (<usize>i << 2), dot(r, r, f));
  }
  for (let it = 0; it < cgSteps; it++) {
    for (let i = lo; i < hi; i++) {
      if (load<f32>(rsPtr + (<usize>i << 2)) < 1e-20) continue;
      matVec(gramPtr, pPtr + <usize>i * fb, apPtr + <usize>i * fb, f);
    }
    // A converged row (rs < 1e-20) keeps collecting into ap, which nothing reads any more.
    scatterPass(f, alpha, 0, 1, fixedRows, splitsPtr, stride, t, indicesPtr, valuesPtr, fixedPtr, pPtr, apPtr);
    for (let i = lo; i < hi; i++) {
      const rsOld = load<f32>(rsPtr + (<usize>i << 2));
      if (rsOld < 1e-20) continue;
      const o = <usize>i * fb;
      const rsNew = cgUpdate(xPtr + o, rPtr + o, pPtr + o, apPtr + o, rsOld, f);
      store<f32>(rsPtr + (<usize>i << 2), rsNew);
    }
  }
}

/**
 * interactionPass turned around: for every fixed row u in order and each of this thread's
 * interactions (u, i), out_i += (base·c + slope·(c − 1)·(x_u·v_i))·x_u. Interactions go four at
 * a time, their dots sharing the loads of x_u.
 */
@inline function scatterPass(
  f: i32,
  alpha: f32,
  base: f32,
  slope: f32,
  fixedRows: i32,
  splitsPtr: usize,
  stride: i32,
  t: i32,
  indicesPtr: usize,
  valuesPtr: usize,
  fixedPtr: usize,
  vPtr: usize,
  outPtr: usize,
): void {
  const fb = <usize>f << 2;
  for (let u = 0; u < fixedRows; u++) {
    const sp = splitsPtr + ((<usize>u * <usize>stride + <usize>t) << 2);
    const e0 = load<i32>(sp);
    const e1 = load<i32>(sp, 4);
    if (e0 == e1) continue;
    const xu = fixedPtr + <usize>u * fb;
    let e = e0;
    for (; e + 4 <= e1; e += 4) {
      const ip = indicesPtr + (<usize>e << 2);
      const i0 = <usize>load<i32>(ip) * fb;
      const i1 = <usize>load<i32>(ip, 4) * fb;
      const i2 = <usize>load<i32>(ip, 8) * fb;
      const i3 = <usize>load<i32>(ip, 12) * fb;
      const dots = dot4(xu, vPtr + i0, vPtr + i1, vPtr + i2, vPtr + i3, f);
      const coef = coefficients4(alpha, base, slope, valuesPtr + (<usize>e << 2), dots);
      axpy(f32x4.extract_lane(coef, 0), xu, outPtr + i0, f);
      axpy(f32x4.extract_lane(coef, 1), xu, outPtr + i1, f);
      axpy(f32x4.extract_lane(coef, 2), xu, outPtr + i2, f);
      axpy(f32x4.extract_lane(coef, 3), xu, outPtr + i3, f);
    }
    for (; e < e1; e++) {
      const i0 = <usize>load<i32>(indicesPtr + (<usize>e << 2)) * fb;
      const value = load<f32>(valuesPtr + (<usize>e << 2));
      axpy(coefficient1(alpha, base, slope, value, dot1(xu, vPtr + i0, f)), xu, outPtr + i0, f);
    }
  }
}
