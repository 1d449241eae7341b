/**
 * Top-k results for many queries at once, on flat typed arrays: query q's list occupies
 * `ids[q*k .. q*k + lengths[q])`, best first. Lists are shorter than k only when fewer than k
 * candidates exist (for example after excluding seen items).
 */
export class RankedLists {
  readonly ids: Int32Array;
  readonly scores: Float32Array;
  readonly lengths: Int32Array;

  constructor(
    readonly count: number,
    readonly k: number,
  ) {
    this.ids = new Int32Array(count * k).fill(-1);
    this.scores = new Float32Array(count * k);
    this.lengths = new Int32Array(count);
  }

  /** Dense ids of query `q`'s list, best first (a view, not a copy). */
  idsOf(q: number): Int32Array {
    return this.ids.subarray(q * this.k, q * this.k + this.lengths[q]);
  }

  /** Scores of query `q`'s list, aligned with {@link RankedLists.idsOf}. */
  scoresOf(q: number): Float32Array {
    return this.scores.subarray(q * this.k, q * this.k + this.lengths[q]);
  }
}
