// AssemblyScript source of the BPR epoch, compiled to WebAssembly with SIMD by `npm run
// build:wasm`. It mirrors bprEpoch in ../bpr-kernel.ts (the portable fallback) on f32x4 lanes and
// draws from the same xoshiro128** generator as core/random.ts, so a seed picks the same triples
// (until float rounding makes a different negative win). Every argument ending in Ptr is a byte
// offset into the memory laid out by bpr-wasm.ts; `f` is a multiple of 4.

import { dot } from '../../wasm/simd.as';

const MAX_NEGATIVE_TRIES = 16;

// Generator state, loaded from and stored back to memory around each epoch.
let ra: u32 = 0;
let rb: u32 = 0;
let rc: u32 = 0;
let rd: u32 = 0;

@inline function nextUint32(): u32 {
  const result = rotl<u32>(rb * 5, 7) * 9;
  const t = rb << 9;
  rc ^= ra;
  rd ^= rb;
  rb ^= rc;
  ra ^= rd;
  rc ^= t;
  rd = rotl<u32>(rd, 11);
  return result;
}

/** Same arithmetic as Random.nextInt: ⌊u / 2³² · n⌋ in double precision. */
@inline function nextInt(n: i32): i32 {
  return <i32>Math.floor((<f64>nextUint32() / 4294967296.0) * <f64>n);
}

@inline function has(indicesPtr: usize, start: i32, end: i32, value: i32): bool {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = load<i32>(indicesPtr + (<usize>mid << 2));
    if (v == value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * One epoch of `samples` triples; returns the summed loss −ln σ(x̂ᵤᵢⱼ) and stores the number of
 * triples trained at trainedPtr (i32). The generator state lives at statePtr (4 × u32).
 * Triples are drawn from users drawFrom .. drawFrom + drawCount − 1 (byUser) or from stored
 * entries drawFrom .. drawFrom + drawCount − 1 (by interaction): the whole range on one thread
 * (0, nUsers or nnz: the same draws as the JavaScript kernel), a thread's own users under Hogwild.
 */
export function bprEpoch(
  f: i32,
  nItems: i32,
  indptrPtr: usize,
  indicesPtr: usize,
  rowOfPtr: usize,
  xPtr: usize,
  yPtr: usize,
  biasPtr: usize,
  samples: i32,
  drawFrom: i32,
  drawCount: i32,
  lr: f32,
  reg: f32,
  biasReg: f32,
  byUser: bool,
  negatives: i32,
  rejectPositives: bool,
  statePtr: usize,
  trainedPtr: usize,
): f64 {
  ra = load<u32>(statePtr);
  rb = load<u32>(statePtr, 4);
  rc = load<u32>(statePtr, 8);
  rd = load<u32>(statePtr, 12);
  const fb = <usize>f << 2;
  const decay = f32x4.splat(1 - lr * reg);
  let lossSum: f64 = 0;
  let trained: i32 = 0;
  for (let n = 0; n < samples; n++) {
    let u: i32;
    let i: i32;
    if (byUser) {
      u = drawFrom + nextInt(drawCount);
      const start = load<i32>(indptrPtr + (<usize>u << 2));
      const len = load<i32>(indptrPtr + (<usize>(u + 1) << 2)) - start;
      if (len == 0) continue;
      i = load<i32>(indicesPtr + (<usize>(start + nextInt(len)) << 2));
    } else {
      const entry = drawFrom + nextInt(drawCount);
      u = load<i32>(rowOfPtr + (<usize>entry << 2));
      i = load<i32>(indicesPtr + (<usize>entry << 2));
    }
    const xu = xPtr + <usize>u * fb;
    const rowStart = load<i32>(indptrPtr + (<usize>u << 2));
    const rowEnd = load<i32>(indptrPtr + (<usize>(u + 1) << 2));

    let j = -1;
    let best: f32 = -Infinity;
    for (let c = 0; c < negatives; c++) {
      let cand = nextInt(nItems);
      if (rejectPositives) {
        let tries = 1;
        while (has(indicesPtr, rowStart, rowEnd, cand) && tries < MAX_NEGATIVE_TRIES) {
          cand = nextInt(nItems);
          tries++;
        }
        if (has(indicesPtr, rowStart, rowEnd, cand)) continue;
      } else if (cand == i) {
        continue;
      }
      if (negatives == 1) {
        j = cand;
        break;
      }
      let score = dot(xu, yPtr + <usize>cand * fb, f);
      if (biasPtr != 0) score += load<f32>(biasPtr + (<usize>cand << 2));
      if (score > best) {
        best = score;
        j = cand;
      }
    }
    if (j < 0) continue;

    const yi = yPtr + <usize>i * fb;
    const yj = yPtr + <usize>j * fb;
    let x: f64 = <f64>(dot(xu, yi, f) - dot(xu, yj, f));
    if (biasPtr != 0) x += <f64>(load<f32>(biasPtr + (<usize>i << 2)) - load<f32>(biasPtr + (<usize>j << 2)));
    const t = Math.exp(-Math.abs(x));
    const g = x >= 0 ? t / (1 + t) : 1 / (1 + t);
    lossSum += Math.log1p(t) + (x >= 0 ? 0 : -x);
    trained++;

    const step = f32x4.splat(lr * <f32>g);
    for (let k = 0; k < f; k += 4) {
      const o = <usize>k << 2;
      const xa = v128.load(xu + o);
      const a = v128.load(yi + o);
      const b = v128.load(yj + o);
      v128.store(xu + o, f32x4.add(f32x4.mul(decay, xa), f32x4.mul(step, f32x4.sub(a, b))));
      v128.store(yi + o, f32x4.add(f32x4.mul(decay, a), f32x4.mul(step, xa)));
      v128.store(yj + o, f32x4.sub(f32x4.mul(decay, b), f32x4.mul(step, xa)));
    }
    if (biasPtr != 0) {
      const bi = biasPtr + (<usize>i << 2);
      const bj = biasPtr + (<usize>j << 2);
      store<f32>(bi, load<f32>(bi) + lr * (<f32>g - biasReg * load<f32>(bi)));
      store<f32>(bj, load<f32>(bj) + lr * (<f32>-g - biasReg * load<f32>(bj)));
    }
  }
  store<u32>(statePtr, ra);
  store<u32>(statePtr, rb, 4);
  store<u32>(statePtr, rc, 8);
  store<u32>(statePtr, rd, 12);
  store<i32>(trainedPtr, trained);
  return lossSum;
}
