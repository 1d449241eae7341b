import { describe, expect, it } from 'vitest';
import { Interactions } from '../data/interactions.js';
import type { InteractionLog } from '../data/interaction-log.js';
import { readInteractionLog } from '../data/read-interaction-log.js';
import { builtinModels } from '../models/builtin-models.js';
import type { DenseMatrix, UserEmbeddingModel } from '../models/recommender.js';
import {
  embedsUsers,
  evaluateColdStart,
  holdOutColdUsers,
  recommendFromItems,
} from './cold-start.js';

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

describe('holdOutColdUsers', () => {
  // Ten users; user u has items u and 100 + u % 3; item u is only user u's.
  const pairs: [number, number][] = [];
  for (let u = 0; u < 10; u++) pairs.push([u, u], [u, 100 + (u % 3)]);
  const train = Interactions.fromLog(log(pairs));

  it('removes a seeded share of users and the items only they had, the same for the same seed', () => {
    const split = holdOutColdUsers(train, 0.3, 7);
    expect(split.cold.ids).toHaveLength(3);
    expect(split.warm.users.size).toBe(7);
    expect(holdOutColdUsers(train, 0.3, 7).cold.ids).toEqual(split.cold.ids);
    const others = [1, 2, 3, 4, 5].map((s) => holdOutColdUsers(train, 0.3, s).cold.ids.join());
    expect(new Set([...others, split.cold.ids.join()]).size).toBeGreaterThan(1);
    for (const id of split.cold.ids) {
      expect(split.warm.users.indexOf(id)).toBe(-1);
      // Item `id` belonged to the cold user alone, so the warm catalogue lacks it.
      expect(split.warm.items.indexOf(id)).toBe(-1);
    }
    expect(split.warm.items.size).toBe(7 + 3);
    expect(split.warm.nnz).toBe(14);
    // Each cold user keeps only its shared item (100 + id % 3), as a warm item index, and the
    // count of both.
    split.cold.ids.forEach((id, q) => {
      expect(Array.from(split.cold.items[q], (i) => split.warm.items.idAt(i))).toEqual([
        100 + (Number(id) % 3),
      ]);
      expect(split.cold.interactions[q]).toBe(2);
    });
    // Warm users keep their rows whole.
    const w = split.warm.users.indexOf(split.warm.users.idAt(0));
    expect(split.warm.userItems.rowNnz(w)).toBe(2);
  });

  it('refuses a fraction outside (0, 1)', () => {
    expect(() => holdOutColdUsers(train, 0, 1)).toThrow(/fraction: must be in \(0, 1\)/);
    expect(() => holdOutColdUsers(train, 1, 1)).toThrow(/fraction/);
  });
});

describe('recommendFromItems', () => {
  it('scores items by the embedded vector, leaving out the given items', () => {
    // Item j's vector is the one-hot e_j (4 items, dim 4); the "embedding" of a user is the sum
    // of its items' vectors plus 0.5·e_3, so the best unseen item is 3 and the rest tie at 0.
    const items: DenseMatrix = { rows: 4, cols: 4, data: new Float32Array(16) };
    for (let j = 0; j < 4; j++) items.data[j * 4 + j] = 1;
    const stub = {
      itemFactors: () => items,
      embedUsers: (lists: readonly ArrayLike<number>[]) => {
        const data = new Float32Array(lists.length * 4);
        lists.forEach((l, r) => {
          for (let x = 0; x < l.length; x++) data[r * 4 + l[x]] += 1;
          data[r * 4 + 3] += 0.5;
        });
        return { rows: lists.length, cols: 4, data };
      },
    } as unknown as UserEmbeddingModel;
    const lists = recommendFromItems(stub, [Int32Array.of(0, 1), Int32Array.of(3)], 3);
    expect(Array.from(lists.idsOf(0))).toEqual([3, 2]);
    // User 2 saw item 3 (its own top score 1.5): left out; the others tie at 0, lower index first.
    expect(Array.from(lists.idsOf(1))).toEqual([0, 1, 2]);
  });
});

describe('evaluateColdStart on the bundled MovieLens split', () => {
  it('scores warm users through recommend and held-out users from their items, and matches them by count', async () => {
    const train = Interactions.fromLog(
      await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
    );
    const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
    const split = holdOutColdUsers(train, 0.1, 42);
    const model = builtinModels().create('graphsage', { epochs: 10 });
    expect(embedsUsers(model)).toBe(true);
    expect(embedsUsers(builtinModels().create('als'))).toBe(false);
    if (!embedsUsers(model)) return;
    await model.fit(split.warm, { progress: false });
    const e = evaluateColdStart(model, test, split, { k: 10 });
    expect(e.cold.users).toBe(61);
    expect(e.warm.users).toBe(549);
    expect(e.result.users).toBe(610);
    expect(e.result.coldUsers).toBe(0);
    // The overall figure is the user-weighted mean of the two groups.
    expect(e.result.metrics['ndcg@10']).toBeCloseTo(
      (549 * e.warm.ndcg + 61 * e.cold.ndcg) / 610,
      10,
    );
    const inBuckets = (side: 'warmUsers' | 'coldUsers') =>
      e.buckets.reduce((s, b) => s + b[side], 0);
    expect(inBuckets('warmUsers')).toBe(549);
    expect(inBuckets('coldUsers')).toBe(61);
    expect(e.ratio).toBeCloseTo(e.matchedColdNdcg / e.matchedWarmNdcg, 12);
    // Embedded from their items, held-out users are far better than the zero a model without
    // embedUsers gives them, and near warm users (1.00 at the defaults; 10 epochs here).
    expect(e.cold.ndcg).toBeGreaterThan(0.2);
    expect(e.ratio).toBeGreaterThan(0.8);
  }, 120_000);
});
