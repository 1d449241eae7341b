// AssemblyScript source of dense scoring kernels, compiled to WebAssembly with SIMD by
// `npm run build:wasm`: dot products of one query vector with every row of a factor matrix, as
// FactorModel needs to score all items for a user. `f` is a multiple of 4.

import { dot } from './simd.as';

/** out[r] = bias[r] + Σ q[a]·m[r·f + a] for every row r < rows (bias optional: biasPtr 0). */
export function dotRows(f: i32, mPtr: usize, rows: i32, qPtr: usize, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) {
    const row = mPtr + <usize>r * fb;
    let score = dot(row, qPtr, f);
    if (biasPtr != 0) score += load<f32>(biasPtr + (<usize>r << 2));
    store<f32>(outPtr + (<usize>r << 2), score);
  }
}
