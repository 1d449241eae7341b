/**
 * The training kernel's contract, shared by the WebAssembly SIMD kernel (wasm/tag-kernel.as.ts)
 * and the JavaScript one below (the portable fallback and the reference the SIMD one is tested
 * against). Every argument that ends in Ptr is a byte offset into one linear memory.
 */
export interface TagKernelExports {
  /**
   * SGD over examples begin…end-1, in order: hidden = mean of the example's input rows; scores of
   * every label; softmax (one tag of the example picked at random as the target) or one binary
   * logistic per label (`ova` 1, every tag a target); output rows and then the example's input
   * rows updated. The learning rate of the i-th example of the call is
   * `lr0 · (1 − (step0 + i) / total)`. `scratchPtr` holds 2·dim + nLabels floats owned by the
   * caller's thread, `rngPtr` its xorshift32 state. Returns the summed loss: −ln(p + 1e-5) of the
   * target (softmax, as fastText reports it) or the binary cross-entropy summed over all labels
   * (ova).
   */
  trainRange(
    dim: number,
    nLabels: number,
    ova: number,
    indptrPtr: number,
    idsPtr: number,
    labelPtrPtr: number,
    labelIdsPtr: number,
    inputPtr: number,
    outputPtr: number,
    scratchPtr: number,
    rngPtr: number,
    begin: number,
    end: number,
    lr0: number,
    step0: number,
    total: number,
  ): number;
  /**
   * Merges a thread's private copy of the output matrix into the shared one: shared += local −
   * snapshot, then local = snapshot = shared, over `count` floats (not atomically).
   */
  mergeOutput(sharedPtr: number, localPtr: number, snapshotPtr: number, count: number): void;
}

/** Added inside the logarithm of the softmax loss, as fastText does, so that a zero probability stays finite. */
export const LOG_EPSILON = 1e-5;

/** The JavaScript kernel over `buffer` (an ArrayBuffer or SharedArrayBuffer). */
export function jsTagKernel(buffer: ArrayBufferLike): TagKernelExports {
  const f32 = new Float32Array(buffer);
  const i32 = new Int32Array(buffer);
  const u32 = new Uint32Array(buffer);
  return {
    trainRange(
      dim,
      nLabels,
      ova,
      indptrPtr,
      idsPtr,
      labelPtrPtr,
      labelIdsPtr,
      inputPtr,
      outputPtr,
      scratchPtr,
      rngPtr,
      begin,
      end,
      lr0,
      step0,
      total,
    ) {
      const indptr = indptrPtr >> 2;
      const ids = idsPtr >> 2;
      const labelPtr = labelPtrPtr >> 2;
      const labelIds = labelIdsPtr >> 2;
      const input = inputPtr >> 2;
      const output = outputPtr >> 2;
      const hidden = scratchPtr >> 2;
      const grad = hidden + dim;
      const scores = grad + dim;
      let rng = u32[rngPtr >> 2];
      let lossSum = 0;
      for (let e = begin; e < end; e++) {
        const lr = Math.fround(lr0 * (1 - (step0 + (e - begin)) / total));
        const i0 = i32[indptr + e];
        const i1 = i32[indptr + e + 1];
        const l0 = i32[labelPtr + e];
        const l1 = i32[labelPtr + e + 1];
        f32.fill(0, hidden, hidden + 2 * dim); // hidden and grad
        for (let i = i0; i < i1; i++) {
          const row = input + i32[ids + i] * dim;
          for (let a = 0; a < dim; a++) f32[hidden + a] += f32[row + a];
        }
        const inv = Math.fround(1 / (i1 - i0));
        for (let a = 0; a < dim; a++) f32[hidden + a] *= inv;
        for (let j = 0; j < nLabels; j++) {
          const row = output + j * dim;
          let s = 0;
          for (let a = 0; a < dim; a++) s += f32[row + a] * f32[hidden + a];
          f32[scores + j] = s;
        }
        if (ova !== 0) {
          // Binary cross-entropy per label: softplus(s) for a non-target, softplus(s) − s for a target.
          for (let l = l0; l < l1; l++) lossSum -= f32[scores + i32[labelIds + l]];
          for (let j = 0; j < nLabels; j++) {
            const s = f32[scores + j];
            const a = Math.exp(-Math.abs(s));
            lossSum += Math.max(s, 0) + Math.log1p(a);
            let isTarget = false;
            for (let l = l0; l < l1; l++) if (i32[labelIds + l] === j) isTarget = true;
            const p = s >= 0 ? 1 / (1 + a) : a / (1 + a);
            update(
              f32,
              output + j * dim,
              grad,
              hidden,
              Math.fround(lr * ((isTarget ? 1 : 0) - p)),
              dim,
            );
          }
        } else {
          rng ^= rng << 13;
          rng ^= rng >>> 17;
          rng ^= rng << 5;
          const target = i32[labelIds + l0 + Math.floor(((rng >>> 0) * (l1 - l0)) / 4294967296)];
          let max = -Infinity;
          for (let j = 0; j < nLabels; j++) max = Math.max(max, f32[scores + j]);
          let sum = 0;
          for (let j = 0; j < nLabels; j++)
            sum += f32[scores + j] = Math.exp(f32[scores + j] - max);
          const norm = 1 / sum;
          lossSum -= Math.log(f32[scores + target] * norm + LOG_EPSILON);
          for (let j = 0; j < nLabels; j++) {
            const p = f32[scores + j] * norm;
            update(
              f32,
              output + j * dim,
              grad,
              hidden,
              Math.fround(lr * ((j === target ? 1 : 0) - p)),
              dim,
            );
          }
        }
        for (let i = i0; i < i1; i++) {
          const row = input + i32[ids + i] * dim;
          for (let a = 0; a < dim; a++) f32[row + a] += f32[grad + a] * inv;
        }
      }
      u32[rngPtr >> 2] = rng;
      return lossSum;
    },
    mergeOutput(sharedPtr, localPtr, snapshotPtr, count) {
      const shared = sharedPtr >> 2;
      const local = localPtr >> 2;
      const snapshot = snapshotPtr >> 2;
      for (let i = 0; i < count; i++) {
        const w = Math.fround(f32[shared + i] + Math.fround(f32[local + i] - f32[snapshot + i]));
        f32[shared + i] = w;
        f32[local + i] = w;
        f32[snapshot + i] = w;
      }
    },
  };
}

/** grad += alpha·w, then w += alpha·hidden: the gradient sees the output row before its update. */
function update(
  f32: Float32Array,
  w: number,
  grad: number,
  hidden: number,
  alpha: number,
  dim: number,
): void {
  for (let a = 0; a < dim; a++) {
    const wa = f32[w + a];
    f32[grad + a] += alpha * wa;
    f32[w + a] = wa + alpha * f32[hidden + a];
  }
}
