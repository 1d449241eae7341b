/** Ranking quality of one user's top-k list against that user's held-out items. */
export interface UserMetrics {
  precision: number;
  recall: number;
  ndcg: number;
  ap: number;
}

/**
 * Metrics at `k` for one list. `hits[i]` says whether the item at rank i+1 is relevant;
 * `relevant` is how many relevant items the user has in all (including ones no model can
 * recommend). A list shorter than k counts its missing ranks as misses.
 *
 * precision = hits/k; recall = hits/relevant; nDCG with binary gains, DCG = Σ hitᵢ/log2(i+1) and
 * IDCG over min(relevant, k) ideal hits; AP = Σ precision@i·hitᵢ / min(relevant, k).
 */
export function userMetrics(hits: ArrayLike<boolean | number>, relevant: number, k: number): UserMetrics {
  if (relevant <= 0) return { precision: 0, recall: 0, ndcg: 0, ap: 0 };
  const n = Math.min(hits.length, k);
  let found = 0;
  let dcg = 0;
  let apSum = 0;
  for (let i = 0; i < n; i++) {
    if (!hits[i]) continue;
    found++;
    dcg += 1 / Math.log2(i + 2);
    apSum += found / (i + 1);
  }
  const ideal = Math.min(relevant, k);
  let idcg = 0;
  for (let i = 0; i < ideal; i++) idcg += 1 / Math.log2(i + 2);
  return { precision: found / k, recall: found / relevant, ndcg: dcg / idcg, ap: apSum / ideal };
}
