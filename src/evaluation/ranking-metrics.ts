/** Ranking quality of one user's top-k list against that user's held-out items. */
export interface UserMetrics {
  precision: number;
  recall: number;
  ndcg: number;
  ap: number;
}

/** Metrics at every cutoff 1..k: entry c−1 holds the metric at c. */
export interface MetricCurves {
  precision: Float64Array;
  recall: Float64Array;
  ndcg: Float64Array;
  ap: Float64Array;
}

/** Zeroed curves of length `k`, to accumulate users into. */
export function emptyCurves(k: number): MetricCurves {
  return {
    precision: new Float64Array(k),
    recall: new Float64Array(k),
    ndcg: new Float64Array(k),
    ap: new Float64Array(k),
  };
}

/**
 * Adds one user's metrics at every cutoff c = 1..k into `sums`, in one pass over the list.
 * `hits[i]` says whether the item at rank i+1 is relevant; `relevant` is how many relevant items
 * the user has in all (including ones no model can recommend). Ranks past the end of a short
 * list count as misses.
 *
 * At cutoff c: precision = hits/c; recall = hits/relevant; nDCG with binary gains, DCG = Σ
 * hitᵢ/log2(i+1) and IDCG over min(relevant, c) ideal hits; AP = Σ precision@i·hitᵢ / min(relevant, c).
 */
export function addUserCurves(
  hits: ArrayLike<boolean | number>,
  relevant: number,
  k: number,
  sums: MetricCurves,
): void {
  if (relevant <= 0) return;
  let found = 0;
  let dcg = 0;
  let idcg = 0;
  let apSum = 0;
  for (let i = 0; i < k; i++) {
    const gain = 1 / Math.log2(i + 2);
    if (i < hits.length && hits[i]) {
      found++;
      dcg += gain;
      apSum += found / (i + 1);
    }
    if (i < relevant) idcg += gain;
    const c = i + 1;
    sums.precision[i] += found / c;
    sums.recall[i] += found / relevant;
    sums.ndcg[i] += dcg / idcg;
    sums.ap[i] += apSum / Math.min(relevant, c);
  }
}

/** One user's metrics at cutoff `k` (see {@link addUserCurves} for the definitions). */
export function userMetrics(
  hits: ArrayLike<boolean | number>,
  relevant: number,
  k: number,
): UserMetrics {
  const curves = emptyCurves(k);
  addUserCurves(hits, relevant, k, curves);
  return {
    precision: curves.precision[k - 1],
    recall: curves.recall[k - 1],
    ndcg: curves.ndcg[k - 1],
    ap: curves.ap[k - 1],
  };
}
