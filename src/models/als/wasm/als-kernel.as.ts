// AssemblyScript source of the ALS kernel, compiled to WebAssembly with SIMD by `npm run
// build:wasm`. It mirrors solveRowCg and gramMatrix in ../als-kernel.ts (the portable fallback
// and the reference these are tested against) on f32x4 lanes. Every argument that ends in Ptr
// is a byte offset into the shared linear memory laid out by als-wasm.ts; `f` is a multiple of 4.

import { axpy, dot } from '../../wasm/simd.as';

@inline function matVec(g: usize, v: usize, out: usize, f: i32): void {
  const fb = <usize>f << 2;
  for (let a = 0; a < f; a++) store<f32>(out + (<usize>a << 2), dot(g + <usize>a * fb, v, f));
}

/**
 * Conjugate-gradient solves of rows start..end of X against fixed Y, warm-started from X.
 * scratchPtr points at 4·f floats owned by the calling thread.
 */
export function solveCg(
  f: i32,
  alpha: f32,
  cgSteps: i32,
  indptrPtr: usize,
  indicesPtr: usize,
  valuesPtr: usize,
  xPtr: usize,
  yPtr: usize,
  gramPtr: usize,
  scratchPtr: usize,
  start: i32,
  end: i32,
): void {
  const fb = <usize>f << 2;
  const r = scratchPtr;
  const p = scratchPtr + fb;
  const ap = scratchPtr + 2 * fb;
  const xs = scratchPtr + 3 * fb;
  for (let row = start; row < end; row++) {
    const xRow = xPtr + <usize>row * fb;
    memory.copy(xs, xRow, fb);
    const e0 = load<i32>(indptrPtr + (<usize>row << 2));
    const e1 = load<i32>(indptrPtr + (<usize>(row + 1) << 2));
    matVec(gramPtr, xs, r, f);
    for (let k = 0; k < f; k += 4) {
      const o = <usize>k << 2;
      v128.store(r + o, f32x4.neg(v128.load(r + o)));
    }
    for (let e = e0; e < e1; e++) {
      const yRow = yPtr + <usize>load<i32>(indicesPtr + (<usize>e << 2)) * fb;
      const c: f32 = 1 + alpha * load<f32>(valuesPtr + (<usize>e << 2));
      axpy(c - (c - 1) * dot(yRow, xs, f), yRow, r, f);
    }
    memory.copy(p, r, fb);
    let rsOld = dot(r, r, f);
    for (let it = 0; it < cgSteps; it++) {
      if (rsOld < 1e-20) break;
      matVec(gramPtr, p, ap, f);
      for (let e = e0; e < e1; e++) {
        const yRow = yPtr + <usize>load<i32>(indicesPtr + (<usize>e << 2)) * fb;
        axpy(alpha * load<f32>(valuesPtr + (<usize>e << 2)) * dot(yRow, p, f), yRow, ap, f);
      }
      const step = rsOld / dot(p, ap, f);
      axpy(step, p, xs, f);
      axpy(-step, ap, r, f);
      const rsNew = dot(r, r, f);
      const beta = f32x4.splat(rsNew / rsOld);
      for (let k = 0; k < f; k += 4) {
        const o = <usize>k << 2;
        v128.store(p + o, f32x4.add(v128.load(r + o), f32x4.mul(beta, v128.load(p + o))));
      }
      rsOld = rsNew;
    }
    memory.copy(xRow, xs, fb);
  }
}

/** Adds Σ yᵣyᵣᵀ over rows start..end of Y into the f×f matrix at outPtr (full, not triangular). */
export function gramRows(f: i32, yPtr: usize, start: i32, end: i32, outPtr: usize): void {
  const fb = <usize>f << 2;
  for (let row = start; row < end; row++) {
    const yRow = yPtr + <usize>row * fb;
    for (let a = 0; a < f; a++) {
      const ya = load<f32>(yRow + (<usize>a << 2));
      if (ya != 0) axpy(ya, yRow, outPtr + <usize>a * fb, f);
    }
  }
}
