import { describe, expect, it } from 'vitest';
import { userMetrics } from './ranking-metrics.js';

describe('userMetrics', () => {
  it('computes precision, recall, nDCG and AP for a hand-worked list', () => {
    // Hits at ranks 1 and 3 of 4, with 3 relevant items in all, k = 4.
    const m = userMetrics([1, 0, 1, 0], 3, 4);
    expect(m.precision).toBeCloseTo(2 / 4, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    const dcg = 1 / Math.log2(2) + 1 / Math.log2(4);
    const idcg = 1 / Math.log2(2) + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(m.ndcg).toBeCloseTo(dcg / idcg, 12);
    expect(m.ap).toBeCloseTo((1 / 1 + 2 / 3) / 3, 12);
  });

  it('caps the ideal at k and treats a short list as misses', () => {
    const m = userMetrics([1, 1], 10, 5);
    expect(m.precision).toBeCloseTo(2 / 5, 12);
    expect(m.recall).toBeCloseTo(2 / 10, 12);
    expect(m.ap).toBeCloseTo(2 / 5, 12);
    const perfect = userMetrics([1, 1, 1, 1, 1], 10, 5);
    expect(perfect.ndcg).toBeCloseTo(1, 12);
    expect(perfect.ap).toBeCloseTo(1, 12);
  });

  it('gives zeros for no hits or no relevant items', () => {
    expect(userMetrics([0, 0, 0], 2, 3)).toEqual({ precision: 0, recall: 0, ndcg: 0, ap: 0 });
    expect(userMetrics([1], 0, 3)).toEqual({ precision: 0, recall: 0, ndcg: 0, ap: 0 });
  });
});
