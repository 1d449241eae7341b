/**
 * The numeric core of BPR: one epoch of stochastic gradient ascent on ln σ(x̂ᵤᵢ − x̂ᵤⱼ) over
 * sampled (user, positive, negative) triples. Everything works on plain typed arrays updated in
 * place; nothing is allocated per sample.
 */
import type { Random } from '../../core/random.js';
import { sortedRangeHas } from '../../data/csr-matrix.js';

/** How the (user, positive) half of a triple is drawn. */
export type BprSampling = 'interaction' | 'user';

/** The state an epoch reads and updates. */
export interface BprState {
  factors: number;
  nUsers: number;
  nItems: number;
  /** User×item interactions, column indices ascending within a row. */
  indptr: Int32Array;
  indices: Int32Array;
  /** The user (row) of every stored entry, for sampling by interaction. */
  rowOf: Int32Array;
  /** Row-major `nUsers × factors`, updated in place. */
  users: Float32Array;
  /** Row-major `nItems × factors`, updated in place. */
  items: Float32Array;
  /** Per-item bias, updated in place; null when the model learns none. */
  itemBias: Float32Array | null;
}

/** One epoch's settings. */
export interface BprEpoch {
  /** Triples to draw (usually the number of interactions). */
  samples: number;
  learningRate: number;
  reg: number;
  biasReg: number;
  sampling: BprSampling;
  /** Candidate negatives per triple; the highest-scoring one is used (1 = plain BPR). */
  negatives: number;
  /** Redraw a negative that is one of the user's positives (up to a few tries). */
  rejectPositives: boolean;
}

/** Tries to find a non-positive item before a candidate is given up. */
const MAX_NEGATIVE_TRIES = 16;

/**
 * Runs one epoch and returns the mean BPR loss −ln σ(x̂ᵤᵢⱼ) over the triples it trained on,
 * measured before each triple's update.
 */
export function bprEpoch(s: BprState, e: BprEpoch, rng: Random): number {
  const f = s.factors;
  const { indptr, indices, rowOf, users: X, items: Y, itemBias: B, nItems } = s;
  const nnz = indices.length;
  const lr = e.learningRate;
  const reg = e.reg;
  const biasReg = e.biasReg;
  const decay = 1 - lr * reg;
  const byUser = e.sampling === 'user';
  const negatives = e.negatives;
  const rejectPositives = e.rejectPositives;
  const nUsers = s.nUsers;
  const xu = new Float64Array(f);
  let lossSum = 0;
  let trained = 0;

  for (let n = 0; n < e.samples; n++) {
    // Positive pair (u, i).
    let u: number;
    let i: number;
    if (byUser) {
      u = rng.nextInt(nUsers);
      const start = indptr[u];
      const len = indptr[u + 1] - start;
      if (len === 0) continue;
      i = indices[start + rng.nextInt(len)];
    } else {
      const entry = rng.nextInt(nnz);
      u = rowOf[entry];
      i = indices[entry];
    }
    const uo = u * f;
    for (let a = 0; a < f; a++) xu[a] = X[uo + a];
    const rowStart = indptr[u];
    const rowEnd = indptr[u + 1];

    // Negative j: the highest-scoring of `negatives` candidates.
    let j = -1;
    let best = -Infinity;
    for (let c = 0; c < negatives; c++) {
      let cand = rng.nextInt(nItems);
      if (rejectPositives) {
        let tries = 1;
        while (sortedRangeHas(indices, rowStart, rowEnd, cand) && tries < MAX_NEGATIVE_TRIES) {
          cand = rng.nextInt(nItems);
          tries++;
        }
        if (sortedRangeHas(indices, rowStart, rowEnd, cand)) continue;
      } else if (cand === i) {
        continue;
      }
      if (negatives === 1) {
        j = cand;
        break;
      }
      const co = cand * f;
      let score = B === null ? 0 : B[cand];
      for (let a = 0; a < f; a++) score += xu[a] * Y[co + a];
      if (score > best) {
        best = score;
        j = cand;
      }
    }
    if (j < 0) continue;

    const io = i * f;
    const jo = j * f;
    let x = B === null ? 0 : B[i] - B[j];
    for (let a = 0; a < f; a++) x += xu[a] * (Y[io + a] - Y[jo + a]);

    // d/dx ln σ(x) = σ(−x); the loss −ln σ(x) = ln(1 + e^−x), both computed stably from e^−|x|.
    const t = Math.exp(-Math.abs(x));
    const g = x >= 0 ? t / (1 + t) : 1 / (1 + t);
    lossSum += Math.log1p(t) + (x >= 0 ? 0 : -x);
    trained++;

    const step = lr * g;
    for (let a = 0; a < f; a++) {
      const xa = xu[a];
      const yi = Y[io + a];
      const yj = Y[jo + a];
      X[uo + a] = decay * xa + step * (yi - yj);
      Y[io + a] = decay * yi + step * xa;
      Y[jo + a] = decay * yj - step * xa;
    }
    if (B !== null) {
      B[i] += lr * (g - biasReg * B[i]);
      B[j] += lr * (-g - biasReg * B[j]);
    }
  }
  return trained === 0 ? 0 : lossSum / trained;
}

/** The row of every stored entry of a CSR matrix with row offsets `indptr`. */
export function entryRows(indptr: Int32Array, rows: number): Int32Array {
  const out = new Int32Array(indptr[rows]);
  for (let r = 0; r < rows; r++) out.fill(r, indptr[r], indptr[r + 1]);
  return out;
}
