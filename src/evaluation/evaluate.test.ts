import { describe, expect, it } from 'vitest';
import { Interactions } from '../data/interactions.js';
import type { InteractionLog } from '../data/interaction-log.js';
import { readInteractionLog } from '../data/read-interaction-log.js';
import { PopularityRecommender } from '../models/popularity/popularity-recommender.js';
import { RankedLists } from '../models/ranked-lists.js';
import { evaluateRecommender } from './evaluate.js';

function log(pairs: [number, number][]): InteractionLog {
  return {
    source: 'inline',
    rows: pairs.length,
    users: Float64Array.from(pairs, (p) => p[0]),
    items: Float64Array.from(pairs, (p) => p[1]),
    values: null,
    timestamps: null,
    skipped: 0,
    badRows: [],
  };
}

describe('evaluateRecommender', () => {
  it('scores a hand-checkable case, counting cold users and unknown test items', async () => {
    // Popularity order: 20 (3 users), 30 (2), 10 (1), 40 (1).
    const train = Interactions.fromLog(
      log([
        [1, 10],
        [1, 20],
        [2, 20],
        [2, 30],
        [3, 20],
        [3, 30],
        [3, 40],
      ]),
    );
    const model = new PopularityRecommender();
    await model.fit(train, { progress: false });
    // User 1 (seen 10, 20) gets [30, 40]; user 2 (seen 20, 30) gets [10, 40]; user 9 is cold.
    const result = evaluateRecommender(
      model,
      log([
        [1, 30],
        [1, 99],
        [2, 40],
        [9, 20],
      ]),
      { k: 2 },
    );
    expect(result.users).toBe(3);
    expect(result.coldUsers).toBe(1);
    expect(result.unknownTestItems).toBe(1);
    // User 1: hit at rank 1 of 2 relevant; user 2: hit at rank 2 of 1 relevant; user 9: nothing.
    expect(result.metrics['precision@2']).toBeCloseTo((1 / 2 + 1 / 2 + 0) / 3, 12);
    expect(result.metrics['recall@2']).toBeCloseTo((1 / 2 + 1 + 0) / 3, 12);
    const ndcg1 = 1 / (1 + 1 / Math.log2(3));
    const ndcg2 = 1 / Math.log2(3);
    expect(result.metrics['ndcg@2']).toBeCloseTo((ndcg1 + ndcg2) / 3, 12);
    expect(result.metrics['map@2']).toBeCloseTo((1 / 2 + 1 / 2) / 3, 12);
    expect(result.metrics.coverage).toBeCloseTo(3 / 4, 12);
  });

  it('reproduces the reference popularity figures on the bundled MovieLens split', async () => {
    const train = Interactions.fromLog(
      await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
    );
    const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
    const model = new PopularityRecommender();
    await model.fit(train, { progress: false });
    const { metrics, users } = evaluateRecommender(model, test, { k: 10 });
    expect(users).toBe(610);
    // The Python/numpy reference of the foundation issue: 0.1664 / 0.0742 / 0.1908 / 0.1071.
    expect(metrics['precision@10']).toBeCloseTo(0.1664, 4);
    expect(metrics['recall@10']).toBeCloseTo(0.0742, 4);
    expect(metrics['ndcg@10']).toBeCloseTo(0.1908, 4);
    expect(metrics['map@10']).toBeCloseTo(0.1071, 4);
  });

  it('gives, at every cutoff of its curves, what evaluating at that cutoff gives', async () => {
    const train = Interactions.fromLog(
      await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
    );
    const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
    const model = new PopularityRecommender();
    await model.fit(train, { progress: false });
    const long = evaluateRecommender(model, test, { k: 20 });
    for (const c of [1, 5, 10]) {
      const { metrics } = evaluateRecommender(model, test, { k: c });
      expect(long.curves.precision[c - 1]).toBeCloseTo(metrics[`precision@${c}`], 12);
      expect(long.curves.recall[c - 1]).toBeCloseTo(metrics[`recall@${c}`], 12);
      expect(long.curves.ndcg[c - 1]).toBeCloseTo(metrics[`ndcg@${c}`], 12);
      expect(long.curves.map[c - 1]).toBeCloseTo(metrics[`map@${c}`], 12);
    }
  });

  it("judges lists given for users the model never saw, and returns each user's nDCG", async () => {
    const train = Interactions.fromLog(
      log([
        [1, 10],
        [1, 20],
        [2, 20],
        [2, 30],
      ]),
    );
    const model = new PopularityRecommender();
    await model.fit(train, { progress: false });
    // Cold user 9 gets [30, 10] from elsewhere (dense indices 2, 0): a hit at rank 2 of 1.
    const lists = new RankedLists(2, 2);
    lists.ids.set([2, 0], 0);
    lists.lengths[0] = 2;
    // User 8 has no test items: its list is ignored.
    lists.ids.set([1], 2);
    lists.lengths[1] = 1;
    const test = log([
      [1, 30],
      [9, 10],
      [7, 10],
    ]);
    const result = evaluateRecommender(model, test, {
      k: 2,
      listed: { ids: [9, 8], lists },
      perUser: true,
    });
    expect(result.users).toBe(3);
    expect(result.coldUsers).toBe(1); // user 7: neither trained on nor listed
    const per = result.perUser!;
    expect(per.ids).toEqual([1, 7, 9]);
    expect(Array.from(per.scored)).toEqual([1, 0, 1]);
    // User 1 (seen 10, 20) gets [30] first: a hit at rank 1.
    expect(per.ndcg[0]).toBeCloseTo(1, 12);
    expect(per.ndcg[2]).toBeCloseTo(1 / Math.log2(3), 12);
    expect(result.metrics['ndcg@2']).toBeCloseTo((1 + 1 / Math.log2(3)) / 3, 12);
  });

  it('refuses k ≤ 0', async () => {
    const model = new PopularityRecommender();
    await model.fit(Interactions.fromLog(log([[1, 1]])), { progress: false });
    expect(() => evaluateRecommender(model, log([[1, 1]]), { k: 0 })).toThrow(
      /^k: must be a positive integer/,
    );
  });
});
