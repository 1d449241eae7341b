// AssemblyScript source of dense scoring kernels, compiled to WebAssembly with SIMD by
// `npm run build:wasm`: dot products of one query vector with every row of a factor matrix, as
// FactorModel needs to score all items for a user. `f` is a multiple of 4.

/** out[r] = bias[r] + Σ q[a]·m[r·f + a] for every row r < rows (bias optional: biasPtr 0). */
export function dotRows(f: i32, mPtr: usize, rows: i32, qPtr: usize, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) {
    const row = mPtr + <usize>r * fb;
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let k = 0;
    for (; k + 8 <= f; k += 8) {
      const o = <usize>k << 2;
      s0 = f32x4.add(s0, f32x4.mul(v128.load(row + o), v128.load(qPtr + o)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(row + o, 16), v128.load(qPtr + o, 16)));
    }
    if (k < f) {
      const o = <usize>k << 2;
      s0 = f32x4.add(s0, f32x4.mul(v128.load(row + o), v128.load(qPtr + o)));
    }
    const s = f32x4.add(s0, s1);
    let dot = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    if (biasPtr != 0) dot += load<f32>(biasPtr + (<usize>r << 2));
    store<f32>(outPtr + (<usize>r << 2), dot);
  }
}
