// AssemblyScript source of the graph models' dense kernels (GraphSAGE, GAT), compiled to
// WebAssembly with SIMD by `npm run build:wasm`. Pointers are byte offsets into the imported
// linear memory; every vector length `f` (and every matrix's column count) is a multiple of 4.
// Matrices are row-major float32; index lists are int32.

import { axpy, dot } from '../../wasm/simd.as';

/** out[r] = bias[r] + m[r]·q for every row r < rows (bias optional: biasPtr 0). */
export function dotRows(f: i32, mPtr: usize, rows: i32, qPtr: usize, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) {
    let s = dot(mPtr + <usize>r * fb, qPtr, f);
    if (biasPtr != 0) s += load<f32>(biasPtr + (<usize>r << 2));
    store<f32>(outPtr + (<usize>r << 2), s);
  }
}

/**
 * Softmax cross-entropy of scores s[0..n) against `nt` target indices (each weighted 1/nt):
 * overwrites s with the gradient p − y and returns the loss −(1/nt)·Σ log p[t].
 */
export function softmaxXent(n: i32, sPtr: usize, targetsPtr: usize, nt: i32): f32 {
  let max: f32 = -Infinity;
  for (let j = 0; j < n; j++) max = Mathf.max(max, load<f32>(sPtr + (<usize>j << 2)));
  let sum: f64 = 0;
  for (let j = 0; j < n; j++) {
    const e = Mathf.exp(load<f32>(sPtr + (<usize>j << 2)) - max);
    store<f32>(sPtr + (<usize>j << 2), e);
    sum += <f64>e;
  }
  let loss: f64 = 0;
  const w: f32 = <f32>1 / <f32>nt;
  // Read the targets' log-probabilities before the gradient overwrites them.
  for (let t = 0; t < nt; t++) {
    const j = load<i32>(targetsPtr + (<usize>t << 2));
    loss -= Math.log(<f64>load<f32>(sPtr + (<usize>j << 2)) / sum);
  }
  const inv: f32 = <f32>(1 / sum);
  const invv = f32x4.splat(inv);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = sPtr + (<usize>j << 2);
    v128.store(o, f32x4.mul(v128.load(o), invv));
  }
  for (; j < n; j++) store<f32>(sPtr + (<usize>j << 2), load<f32>(sPtr + (<usize>j << 2)) * inv);
  for (let t = 0; t < nt; t++) {
    const o = sPtr + (<usize>load<i32>(targetsPtr + (<usize>t << 2)) << 2);
    store<f32>(o, load<f32>(o) - w);
  }
  return <f32>(loss / <f64>nt);
}

/**
 * Backward of s = M·u (+ bias): for every row r < rows, du += g[r]·m[r] and dm[r] += c·g[r]·u,
 * where c scales the parameter gradient (e.g. 1/batch) and du is left unscaled.
 */
export function dotRowsBackward(
  f: i32,
  mPtr: usize,
  rows: i32,
  gPtr: usize,
  uPtr: usize,
  c: f32,
  dmPtr: usize,
  duPtr: usize,
): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) {
    const g = load<f32>(gPtr + (<usize>r << 2));
    const o = <usize>r * fb;
    axpy(g, mPtr + o, duPtr, f);
    axpy(c * g, uPtr, dmPtr + o, f);
  }
}

/** out = Σₖ w[k]·m[idx[k]] over k < n (w optional: wPtr 0 means every weight is `c`). */
export function gatherSum(f: i32, mPtr: usize, idxPtr: usize, wPtr: usize, c: f32, n: i32, outPtr: usize): void {
  const fb = <usize>f << 2;
  memory.fill(outPtr, 0, fb);
  for (let k = 0; k < n; k++) {
    const w = wPtr == 0 ? c : load<f32>(wPtr + (<usize>k << 2));
    axpy(w, mPtr + <usize>load<i32>(idxPtr + (<usize>k << 2)) * fb, outPtr, f);
  }
}

/** dm[idx[k]] += w[k]·c·g over k < n (w optional: wPtr 0 means every weight is 1): the gather's backward. */
export function scatterAdd(f: i32, dmPtr: usize, idxPtr: usize, wPtr: usize, c: f32, n: i32, gPtr: usize): void {
  const fb = <usize>f << 2;
  for (let k = 0; k < n; k++) {
    const w = wPtr == 0 ? c : c * load<f32>(wPtr + (<usize>k << 2));
    axpy(w, gPtr, dmPtr + <usize>load<i32>(idxPtr + (<usize>k << 2)) * fb, f);
  }
}

/** out[k] = m[idx[k]]·v over k < n: attention logits of gathered rows. */
export function gatherDots(f: i32, mPtr: usize, idxPtr: usize, n: i32, vPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  for (let k = 0; k < n; k++)
    store<f32>(outPtr + (<usize>k << 2), dot(mPtr + <usize>load<i32>(idxPtr + (<usize>k << 2)) * fb, vPtr, f));
}

/** out[r] = b[r] + w[r]·x for r < rows (`w` is rows × cols; b optional: bPtr 0). */
export function matVec(rows: i32, cols: i32, wPtr: usize, xPtr: usize, bPtr: usize, outPtr: usize): void {
  const cb = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    let s = dot(wPtr + <usize>r * cb, xPtr, cols);
    if (bPtr != 0) s += load<f32>(bPtr + (<usize>r << 2));
    store<f32>(outPtr + (<usize>r << 2), s);
  }
}

/**
 * Backward of out = W·x + b: dx += Wᵀ·g (dxPtr 0 skips it), dW += c·g·xᵀ and db += c·g (dbPtr 0
 * skips it).
 */
export function matVecBackward(
  rows: i32,
  cols: i32,
  wPtr: usize,
  xPtr: usize,
  gPtr: usize,
  c: f32,
  dwPtr: usize,
  dbPtr: usize,
  dxPtr: usize,
): void {
  const cb = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const g = load<f32>(gPtr + (<usize>r << 2));
    if (g == 0) continue;
    const o = <usize>r * cb;
    if (dxPtr != 0) axpy(g, wPtr + o, dxPtr, cols);
    axpy(c * g, xPtr, dwPtr + o, cols);
    if (dbPtr != 0) store<f32>(dbPtr + (<usize>r << 2), load<f32>(dbPtr + (<usize>r << 2)) + c * g);
  }
}

/**
 * One Adam step over n parameters (n a multiple of 4) with decoupled weight decay `wd`, then
 * zeroes the gradient. `lr` already carries the bias corrections' ratio; `eps` is added to √v̂
 * as √v·bc2 (bc2 = 1/√(1 − β₂ᵗ)).
 */
export function adam(
  n: i32,
  pPtr: usize,
  gPtr: usize,
  mPtr: usize,
  vPtr: usize,
  lr: f32,
  b1: f32,
  b2: f32,
  eps: f32,
  bc2: f32,
  wd: f32,
): void {
  const b1v = f32x4.splat(b1);
  const b1c = f32x4.splat(1 - b1);
  const b2v = f32x4.splat(b2);
  const b2c = f32x4.splat(1 - b2);
  const epsv = f32x4.splat(eps);
  const lrv = f32x4.splat(lr);
  const bc2v = f32x4.splat(bc2);
  const decay = f32x4.splat(1 - wd);
  const zero = f32x4.splat(0);
  for (let k = 0; k < n; k += 4) {
    const o = <usize>k << 2;
    const g = v128.load(gPtr + o);
    const m = f32x4.add(f32x4.mul(b1v, v128.load(mPtr + o)), f32x4.mul(b1c, g));
    const v = f32x4.add(f32x4.mul(b2v, v128.load(vPtr + o)), f32x4.mul(b2c, f32x4.mul(g, g)));
    v128.store(mPtr + o, m);
    v128.store(vPtr + o, v);
    const step = f32x4.div(f32x4.mul(lrv, m), f32x4.add(f32x4.mul(f32x4.sqrt(v), bc2v), epsv));
    v128.store(pPtr + o, f32x4.sub(f32x4.mul(decay, v128.load(pPtr + o)), step));
    v128.store(gPtr + o, zero);
  }
}

/** out[k] += c·x[k] over k < n (n a multiple of 4). */
export function axpyN(n: i32, c: f32, xPtr: usize, outPtr: usize): void {
  axpy(c, xPtr, outPtr, n);
}

/**
 * Cosine scores: for every row r < rows, norms[r] = ‖m[r]‖, cos[r] = m[r]·un / norms[r] (0 for a
 * zero row) and out[r] = tau·cos[r] + bias[r], for a unit vector un.
 */
export function cosineRows(
  f: i32,
  mPtr: usize,
  rows: i32,
  unPtr: usize,
  biasPtr: usize,
  tau: f32,
  normsPtr: usize,
  cosPtr: usize,
  outPtr: usize,
): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) {
    const row = mPtr + <usize>r * fb;
    const n = Mathf.sqrt(dot(row, row, f));
    const c = n > 0 ? dot(row, unPtr, f) / n : <f32>0;
    const o = <usize>r << 2;
    store<f32>(normsPtr + o, n);
    store<f32>(cosPtr + o, c);
    store<f32>(outPtr + o, tau * c + load<f32>(biasPtr + o));
  }
}

/**
 * Backward of {@link cosineRows} given the score gradient g: dun += tau·g[r]·m[r]/norms[r] and
 * dm[r] += c·tau·g[r]·(un − cos[r]·m[r]/norms[r])/norms[r], for every non-zero row r < rows.
 */
export function cosineRowsBackward(
  f: i32,
  mPtr: usize,
  rows: i32,
  gPtr: usize,
  unPtr: usize,
  tau: f32,
  normsPtr: usize,
  cosPtr: usize,
  c: f32,
  dmPtr: usize,
  dunPtr: usize,
): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) {
    const o = <usize>r << 2;
    const n = load<f32>(normsPtr + o);
    if (n == 0) continue;
    const a = (tau * load<f32>(gPtr + o)) / n;
    const row = mPtr + <usize>r * fb;
    axpy(a, row, dunPtr, f);
    axpy(c * a, unPtr, dmPtr + <usize>r * fb, f);
    axpy((-c * a * load<f32>(cosPtr + o)) / n, row, dmPtr + <usize>r * fb, f);
  }
}
