// AssemblyScript source of the exact vector index's scoring kernels, compiled to WebAssembly with
// SIMD and shared memory by `npm run build:wasm` (worker threads score batches in the same memory).
// `f` is a multiple of 4; pointers are byte offsets into the imported memory; biasPtr 0 means no
// bias. Sums of four lanes are formed four at a time by a transpose (two shuffle-add rounds)
// instead of per-lane extracts.

/** [Σ a, Σ b, Σ c, Σ d] of four vectors' lanes. */
@inline function sum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/** out[r] = bias[r] + Σ q[a]·m[r·f + a] for every row r < rows. */
export function dotRows(f: i32, mPtr: usize, rows: i32, qPtr: usize, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = mPtr + <usize>r * fb;
    const x1 = x0 + fb;
    const x2 = x1 + fb;
    const x3 = x2 + fb;
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    for (let o: usize = 0; o < fb; o += 16) {
      const q = v128.load(qPtr + o);
      s0 = f32x4.add(s0, f32x4.mul(q, v128.load(x0 + o)));
      s1 = f32x4.add(s1, f32x4.mul(q, v128.load(x1 + o)));
      s2 = f32x4.add(s2, f32x4.mul(q, v128.load(x2 + o)));
      s3 = f32x4.add(s3, f32x4.mul(q, v128.load(x3 + o)));
    }
    let s = sum4(s0, s1, s2, s3);
    if (biasPtr != 0) s = f32x4.add(s, v128.load(biasPtr + (<usize>r << 2)));
    v128.store(outPtr + (<usize>r << 2), s);
  }
  for (; r < rows; r++) {
    const x = mPtr + <usize>r * fb;
    let s0 = f32x4.splat(0);
    for (let o: usize = 0; o < fb; o += 16) s0 = f32x4.add(s0, f32x4.mul(v128.load(qPtr + o), v128.load(x + o)));
    let s = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3);
    if (biasPtr != 0) s += load<f32>(biasPtr + (<usize>r << 2));
    store<f32>(outPtr + (<usize>r << 2), s);
  }
}

/**
 * Four queries (one after another at qPtr, 4 × f floats) against every row in one pass, so each
 * row is loaded once per four queries: out[4·r + j] = bias[r] + Σ q_j[a]·m[r·f + a].
 */
export function dotRows4(f: i32, mPtr: usize, rows: i32, qPtr: usize, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  const q1 = qPtr + fb;
  const q2 = q1 + fb;
  const q3 = q2 + fb;
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
    let s = sum4(s0, s1, s2, s3);
    if (biasPtr != 0) s = f32x4.add(s, f32x4.splat(load<f32>(biasPtr + (<usize>r << 2))));
    v128.store(outPtr + (<usize>r << 4), s);
  }
}

/** [Σ a, Σ b, Σ c, Σ d] of four i32x4 vectors' lanes. */
@inline function sum4i(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 4, 1, 5), v128.shuffle<i32>(c, d, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}

/** Σ over one row of int8 codes (f bytes at x) times the int16 query at q (f halfwords). */
@inline function dotI8(x: usize, q: usize, f: usize): v128 {
  let acc = i32x4.splat(0);
  for (let o: usize = 0; o < f; o += 16) {
    const v = v128.load(x + o);
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(v), v128.load(q + (o << 1))));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(v), v128.load(q + (o << 1), 16)));
  }
  return acc;
}

/**
 * Int8 rows: out[r] = bias[r] + qScale · scale[r] · Σ q[a]·c[r·f + a], where the codes c are f
 * bytes per row (f a multiple of 16), q is f int16s and scale one f32 per row.
 */
export function dotRowsI8(f: i32, cPtr: usize, rows: i32, qPtr: usize, scalePtr: usize, qScale: f32, biasPtr: usize, outPtr: usize): void {
  const fb = <usize>f;
  const qs = f32x4.splat(qScale);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = cPtr + <usize>r * fb;
    const sums = sum4i(dotI8(x0, qPtr, fb), dotI8(x0 + fb, qPtr, fb), dotI8(x0 + 2 * fb, qPtr, fb), dotI8(x0 + 3 * fb, qPtr, fb));
    let s = f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(sums), v128.load(scalePtr + (<usize>r << 2))), qs);
    if (biasPtr != 0) s = f32x4.add(s, v128.load(biasPtr + (<usize>r << 2)));
    v128.store(outPtr + (<usize>r << 2), s);
  }
  for (; r < rows; r++) {
    const acc = dotI8(cPtr + <usize>r * fb, qPtr, fb);
    const d = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    let s = <f32>d * load<f32>(scalePtr + (<usize>r << 2)) * qScale;
    if (biasPtr != 0) s += load<f32>(biasPtr + (<usize>r << 2));
    store<f32>(outPtr + (<usize>r << 2), s);
  }
}
