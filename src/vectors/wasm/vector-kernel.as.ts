// AssemblyScript source of the exact vector index's batch kernel, compiled to WebAssembly with
// SIMD by `npm run build:wasm`: four queries scored against every row in one pass, so each row is
// loaded once per four queries (the single-query path uses the shared dense kernel's dotRows).
// `f` is a multiple of 4; pointers are byte offsets into the imported memory.

/**
 * For every row r < rows and query j < 4: out[j·rows + r] = bias[r] + Σ q_j[a]·m[r·f + a], where
 * the queries lie one after another at qPtr (4 × f floats) and bias is optional (biasPtr 0).
 */
export function dotRows4(f: i32, mPtr: usize, rows: i32, qPtr: usize, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  const q1 = qPtr + fb;
  const q2 = q1 + fb;
  const q3 = q2 + fb;
  const plane = <usize>rows << 2;
  for (let r = 0; r < rows; r++) {
    const row = mPtr + <usize>r * fb;
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    for (let o: usize = 0; o < fb; o += 16) {
      const x = v128.load(row + o);
      s0 = f32x4.add(s0, f32x4.mul(x, v128.load(qPtr + o)));
      s1 = f32x4.add(s1, f32x4.mul(x, v128.load(q1 + o)));
      s2 = f32x4.add(s2, f32x4.mul(x, v128.load(q2 + o)));
      s3 = f32x4.add(s3, f32x4.mul(x, v128.load(q3 + o)));
    }
    const b: f32 = biasPtr != 0 ? load<f32>(biasPtr + (<usize>r << 2)) : 0;
    const at = outPtr + (<usize>r << 2);
    store<f32>(at, b + hsum(s0));
    store<f32>(at + plane, b + hsum(s1));
    store<f32>(at + 2 * plane, b + hsum(s2));
    store<f32>(at + 3 * plane, b + hsum(s3));
  }
}

@inline function hsum(s: v128): f32 {
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
