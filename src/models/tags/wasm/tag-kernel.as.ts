// AssemblyScript source of the tagger's training kernel, compiled to WebAssembly with SIMD by
// `npm run build:wasm`. It mirrors jsTagKernel in ../tag-kernel.ts (the portable fallback and the
// reference this is tested against) on f32x4 lanes; see TagKernelExports there for the contract.
// Pointers are byte offsets into the shared linear memory laid out by ../tagger-training.ts; `dim`
// is a multiple of 4. Threads update the same rows without locks (Hogwild!), as fastText does.
// Where the time goes (one thread, 735 labels, dim 100: ~25 µs per example): scoring every output
// row and updating every output row, each done four rows at a time so that hidden and grad are
// loaded once per four rows (20–25% faster than row by row), and exponentials on four lanes (the
// one-vs-all loss's logarithms too: a scalar log per label cost a fifth of the time).

import { dot } from '../../wasm/simd.as';

const LOG_EPSILON: f32 = 1e-5;

/**
 * e^x on four lanes (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, a degree-7 polynomial in r,
 * then 2^n put in the exponent); relative error about 2e-7. x is clamped to [-87.3, 88.7].
 */
@inline function expv(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.7));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(r, r)), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2);
}

/** ln x on four lanes for x in [1, 2] (Cephes' logf polynomial); absolute error about 1e-7. */
@inline function log12v(x: v128): v128 {
  // Past √2, take x/2 and add ln 2, so that the polynomial's argument stays in [√½−1, √2−1].
  const big = f32x4.gt(x, f32x4.splat(1.41421356));
  const m = v128.bitselect(f32x4.mul(x, f32x4.splat(0.5)), x, big);
  const k = v128.and(big, f32x4.splat(0.693147180559945));
  const f = f32x4.sub(m, f32x4.splat(1));
  const z = f32x4.mul(f, f);
  let y = f32x4.splat(7.0376836292e-2);
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(-1.1514610310e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(1.1676998740e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(-1.2420140846e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(1.4249322787e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(-1.6668057665e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(2.0000714765e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(-2.4999993993e-1));
  y = f32x4.add(f32x4.mul(y, f), f32x4.splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, z), f);
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  return f32x4.add(f32x4.add(f, y), k);
}

/** Sum of the four lanes. */
@inline function sumLanes(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** grad += alpha·w, then w += alpha·hidden (the gradient sees the row before its update). */
@inline function update(w: usize, grad: usize, hidden: usize, alpha: f32, dim: i32): void {
  const av = f32x4.splat(alpha);
  for (let a = 0; a < dim; a += 4) {
    const o = <usize>a << 2;
    const wv = v128.load(w + o);
    v128.store(grad + o, f32x4.add(v128.load(grad + o), f32x4.mul(av, wv)));
    v128.store(w + o, f32x4.add(wv, f32x4.mul(av, v128.load(hidden + o))));
  }
}

/** {@link update} for four consecutive output rows at once, loading grad and hidden once. */
@inline function update4(w: usize, grad: usize, hidden: usize, a0: f32, a1: f32, a2: f32, a3: f32, dim: i32): void {
  const db = <usize>dim << 2;
  const v0 = f32x4.splat(a0);
  const v1 = f32x4.splat(a1);
  const v2 = f32x4.splat(a2);
  const v3 = f32x4.splat(a3);
  for (let a = 0; a < dim; a += 4) {
    const o = <usize>a << 2;
    const h = v128.load(hidden + o);
    const w0 = v128.load(w + o);
    const w1 = v128.load(w + db + o);
    const w2 = v128.load(w + 2 * db + o);
    const w3 = v128.load(w + 3 * db + o);
    const g = f32x4.add(f32x4.add(f32x4.mul(v0, w0), f32x4.mul(v1, w1)), f32x4.add(f32x4.mul(v2, w2), f32x4.mul(v3, w3)));
    v128.store(grad + o, f32x4.add(v128.load(grad + o), g));
    v128.store(w + o, f32x4.add(w0, f32x4.mul(v0, h)));
    v128.store(w + db + o, f32x4.add(w1, f32x4.mul(v1, h)));
    v128.store(w + 2 * db + o, f32x4.add(w2, f32x4.mul(v2, h)));
    v128.store(w + 3 * db + o, f32x4.add(w3, f32x4.mul(v3, h)));
  }
}

/** The dot products of four consecutive rows at w with hidden, stored at out…out+12. */
@inline function dot4(w: usize, hidden: usize, out: usize, dim: i32): void {
  const db = <usize>dim << 2;
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  for (let a = 0; a < dim; a += 4) {
    const o = <usize>a << 2;
    const h = v128.load(hidden + o);
    s0 = f32x4.add(s0, f32x4.mul(v128.load(w + o), h));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(w + db + o), h));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(w + 2 * db + o), h));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(w + 3 * db + o), h));
  }
  store<f32>(out, sumLanes(s0));
  store<f32>(out + 4, sumLanes(s1));
  store<f32>(out + 8, sumLanes(s2));
  store<f32>(out + 12, sumLanes(s3));
}

/** out[a] += c·x[a]. */
@inline function addScaled(c: f32, x: usize, out: usize, dim: i32): void {
  const cv = f32x4.splat(c);
  for (let a = 0; a < dim; a += 4) {
    const o = <usize>a << 2;
    v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(cv, v128.load(x + o))));
  }
}

/** Updates every output row j with its gradient scale alpha[j] (see {@link update}). */
@inline function updateAll(output: usize, grad: usize, hidden: usize, alpha: usize, nLabels: i32, dim: i32): void {
  const db = <usize>dim << 2;
  const n4 = nLabels & ~3;
  for (let j = 0; j < n4; j += 4) {
    const a = alpha + (<usize>j << 2);
    update4(output + <usize>j * db, grad, hidden, load<f32>(a), load<f32>(a, 4), load<f32>(a, 8), load<f32>(a, 12), dim);
  }
  for (let j = n4; j < nLabels; j++) update(output + <usize>j * db, grad, hidden, load<f32>(alpha + (<usize>j << 2)), dim);
}

export function trainRange(
  dim: i32,
  nLabels: i32,
  ova: i32,
  indptrPtr: usize,
  idsPtr: usize,
  labelPtrPtr: usize,
  labelIdsPtr: usize,
  inputPtr: usize,
  outputPtr: usize,
  scratchPtr: usize,
  rngPtr: usize,
  begin: i32,
  end: i32,
  lr0: f64,
  step0: f64,
  total: f64,
): f64 {
  const db = <usize>dim << 2;
  const hidden = scratchPtr;
  const grad = scratchPtr + db;
  const scores = scratchPtr + 2 * db;
  let rng = load<u32>(rngPtr);
  let lossSum: f64 = 0;
  for (let e = begin; e < end; e++) {
    const lr = <f32>(lr0 * (1 - (step0 + <f64>(e - begin)) / total));
    const i0 = load<i32>(indptrPtr + (<usize>e << 2));
    const i1 = load<i32>(indptrPtr + (<usize>(e + 1) << 2));
    const l0 = load<i32>(labelPtrPtr + (<usize>e << 2));
    const l1 = load<i32>(labelPtrPtr + (<usize>(e + 1) << 2));
    memory.fill(hidden, 0, 2 * db); // hidden and grad
    for (let i = i0; i < i1; i++) {
      const row = inputPtr + <usize>load<i32>(idsPtr + (<usize>i << 2)) * db;
      for (let a = 0; a < dim; a += 4) {
        const o = <usize>a << 2;
        v128.store(hidden + o, f32x4.add(v128.load(hidden + o), v128.load(row + o)));
      }
    }
    const inv: f32 = 1 / <f32>(i1 - i0);
    const invv = f32x4.splat(inv);
    for (let a = 0; a < dim; a += 4) {
      const o = <usize>a << 2;
      v128.store(hidden + o, f32x4.mul(v128.load(hidden + o), invv));
    }
    const n4 = nLabels & ~3;
    for (let j = 0; j < n4; j += 4) dot4(outputPtr + <usize>j * db, hidden, scores + (<usize>j << 2), dim);
    for (let j = n4; j < nLabels; j++) store<f32>(scores + (<usize>j << 2), dot(outputPtr + <usize>j * db, hidden, dim));
    if (ova != 0) {
      // Binary cross-entropy per label: softplus(s) for a non-target, softplus(s) − s for a target.
      for (let l = l0; l < l1; l++) lossSum -= <f64>load<f32>(scores + (<usize>load<i32>(labelIdsPtr + (<usize>l << 2)) << 2));
      // Sigmoids in place, from a = e^−|s| so that nothing overflows: p = 1/(1+a) or a/(1+a).
      let lossv = f32x4.splat(0);
      for (let j = 0; j < n4; j += 4) {
        const at = scores + (<usize>j << 2);
        const sv = v128.load(at);
        const a = expv(f32x4.neg(f32x4.abs(sv)));
        const onePlus = f32x4.add(f32x4.splat(1), a);
        const inv = f32x4.div(f32x4.splat(1), onePlus);
        v128.store(at, v128.bitselect(inv, f32x4.mul(a, inv), f32x4.ge(sv, f32x4.splat(0))));
        lossv = f32x4.add(lossv, f32x4.add(f32x4.max(sv, f32x4.splat(0)), log12v(onePlus)));
      }
      lossSum += <f64>sumLanes(lossv);
      for (let j = n4; j < nLabels; j++) {
        const at = scores + (<usize>j << 2);
        const sj = load<f32>(at);
        const a = Mathf.exp(-Mathf.abs(sj));
        store<f32>(at, sj >= 0 ? 1 / (1 + a) : a / (1 + a));
        lossSum += <f64>(Mathf.max(sj, 0) + Mathf.log(1 + a));
      }
      // Gradients −lr·p first, then +lr for the targets, so that rows can be updated four at a time.
      const lrv = f32x4.splat(-lr);
      for (let j = 0; j < n4; j += 4) v128.store(scores + (<usize>j << 2), f32x4.mul(lrv, v128.load(scores + (<usize>j << 2))));
      for (let j = n4; j < nLabels; j++) store<f32>(scores + (<usize>j << 2), -lr * load<f32>(scores + (<usize>j << 2)));
      for (let l = l0; l < l1; l++) {
        const at = scores + (<usize>load<i32>(labelIdsPtr + (<usize>l << 2)) << 2);
        store<f32>(at, load<f32>(at) + lr);
      }
      updateAll(outputPtr, grad, hidden, scores, nLabels, dim);
    } else {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      const pick = <i32>((<u64>rng * <u64>(l1 - l0)) >> 32);
      const target = load<i32>(labelIdsPtr + (<usize>(l0 + pick) << 2));
      let maxv = f32x4.splat(-Infinity);
      for (let j = 0; j < n4; j += 4) maxv = f32x4.max(maxv, v128.load(scores + (<usize>j << 2)));
      let max = Mathf.max(Mathf.max(f32x4.extract_lane(maxv, 0), f32x4.extract_lane(maxv, 1)), Mathf.max(f32x4.extract_lane(maxv, 2), f32x4.extract_lane(maxv, 3)));
      for (let j = n4; j < nLabels; j++) max = Mathf.max(max, load<f32>(scores + (<usize>j << 2)));
      const maxs = f32x4.splat(max);
      let sumv = f32x4.splat(0);
      for (let j = 0; j < n4; j += 4) {
        const at = scores + (<usize>j << 2);
        const ev = expv(f32x4.sub(v128.load(at), maxs));
        v128.store(at, ev);
        sumv = f32x4.add(sumv, ev);
      }
      let sum = sumLanes(sumv);
      for (let j = n4; j < nLabels; j++) {
        const ej = Mathf.exp(load<f32>(scores + (<usize>j << 2)) - max);
        store<f32>(scores + (<usize>j << 2), ej);
        sum += ej;
      }
      const norm: f32 = 1 / sum;
      lossSum -= <f64>Mathf.log(load<f32>(scores + (<usize>target << 2)) * norm + LOG_EPSILON);
      const step = f32x4.splat(-lr * norm);
      for (let j = 0; j < n4; j += 4) v128.store(scores + (<usize>j << 2), f32x4.mul(step, v128.load(scores + (<usize>j << 2))));
      for (let j = n4; j < nLabels; j++) store<f32>(scores + (<usize>j << 2), -lr * norm * load<f32>(scores + (<usize>j << 2)));
      store<f32>(scores + (<usize>target << 2), load<f32>(scores + (<usize>target << 2)) + lr);
      updateAll(outputPtr, grad, hidden, scores, nLabels, dim);
    }
    for (let i = i0; i < i1; i++) addScaled(inv, grad, inputPtr + <usize>load<i32>(idsPtr + (<usize>i << 2)) * db, dim);
  }
  store<u32>(rngPtr, rng);
  return lossSum;
}

/**
 * Merges a thread's private output matrix into the shared one: shared += local − snapshot, then
 * local = snapshot = shared. `count` floats, a multiple of 4. Not atomic: two threads merging the
 * same floats at the same instant may lose one's change to those floats, as Hogwild! allows.
 */
export function mergeOutput(sharedPtr: usize, localPtr: usize, snapshotPtr: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const o = <usize>i << 2;
    const w = f32x4.add(v128.load(sharedPtr + o), f32x4.sub(v128.load(localPtr + o), v128.load(snapshotPtr + o)));
    v128.store(sharedPtr + o, w);
    v128.store(localPtr + o, w);
    v128.store(snapshotPtr + o, w);
  }
}
