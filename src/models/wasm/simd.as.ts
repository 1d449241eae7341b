// AssemblyScript helpers shared by the SIMD kernels (inlined into each module that imports
// them). Pointers are byte offsets into linear memory; `f` is a multiple of 4.

/** Σ a[k]·b[k] over k < f, in two f32x4 accumulators. */
@inline export function dot(a: usize, b: usize, f: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= f; k += 8) {
    const o = <usize>k << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  if (k < f) {
    const o = <usize>k << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  const s = f32x4.add(s0, s1);
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/** out[k] += c·a[k] over k < f. */
@inline export function axpy(c: f32, a: usize, out: usize, f: i32): void {
  const cv = f32x4.splat(c);
  for (let k = 0; k < f; k += 4) {
    const o = <usize>k << 2;
    v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(cv, v128.load(a + o))));
  }
}
