import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.js';
import { Interactions } from '../../data/interactions.js';
import { BprRecommender } from './bpr-recommender.js';

/**
 * Two taste groups of `perGroup` users over `perGroup` items each: group A (users 1..) likes
 * items 100.., group B (users 1001..) likes items 2000... The k-th user of a group has every
 * in-group item but the k-th, which is that user's withheld right answer.
 */
function twoGroups(perGroup: number): { data: Interactions; withheld: Map<number, number> } {
  const users: number[] = [];
  const items: number[] = [];
  const withheld = new Map<number, number>();
  for (const [userBase, itemBase] of [
    [1, 100],
    [1001, 2000],
  ]) {
    for (let k = 0; k < perGroup; k++) {
      withheld.set(userBase + k, itemBase + k);
      for (let i = 0; i < perGroup; i++) {
        if (i === k) continue;
        users.push(userBase + k);
        items.push(itemBase + i);
      }
    }
  }
  return {
    data: Interactions.fromColumns(Float64Array.from(users), Float64Array.from(items)),
    withheld,
  };
}

describe('BprRecommender', () => {
  const { data, withheld } = twoGroups(6);

  it('trains the same model on the SIMD kernel as on the JavaScript kernel, up to float rounding', async () => {
    // The kernels share the generator, so they draw the same triples; only float32 vs float64
    // arithmetic differs. Item bias and interaction sampling exercise the other branches.
    for (const extra of [{}, { itemBias: true, sampling: 'interaction', negatives: 1 }]) {
      const wasm = new BprRecommender({ factors: 8, epochs: 3, kernel: 'wasm', ...extra });
      const js = new BprRecommender({ factors: 8, epochs: 3, kernel: 'js', ...extra });
      await wasm.fit(data, { progress: false });
      await js.fit(data, { progress: false });
      const a = wasm.itemFactors().data;
      const b = js.itemFactors().data;
      expect(a.reduce((m, x, j) => Math.max(m, Math.abs(x - b[j])), 0)).toBeLessThan(1e-4);
    }
  });

  it('refuses the SIMD kernel when factors do not fill whole lanes', () => {
    return expect(
      new BprRecommender({ factors: 6, kernel: 'wasm' }).fit(data, { progress: false }),
    ).rejects.toThrow(/bpr\.kernel: /);
  });

  it('gives identical factors for the same seed and different ones for another seed', async () => {
    const fitSeed = async (seed: number): Promise<BprRecommender> => {
      const model = new BprRecommender({ factors: 8, epochs: 20, seed });
      await model.fit(data, { progress: false });
      return model;
    };
    const [a, b, c] = [await fitSeed(7), await fitSeed(7), await fitSeed(8)];
    expect(b.userFactors().data).toEqual(a.userFactors().data);
    expect(b.itemFactors().data).toEqual(a.itemFactors().data);
    expect(c.userFactors().data).not.toEqual(a.userFactors().data);
  });

  it('lowers its training loss over the epochs', async () => {
    const losses: number[] = [];
    const model = new BprRecommender({ factors: 8, epochs: 60, itemBias: true });
    const report = await model.fit(data, {
      progress: false,
      onIteration: (r) => losses.push(r.loss ?? NaN),
    });
    expect(losses).toHaveLength(60);
    for (const l of losses) expect(Number.isFinite(l) && l > 0).toBe(true);
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(losses.slice(-10))).toBeLessThan(0.5 * mean(losses.slice(0, 10)));
    expect(report.loss).toBe(losses[losses.length - 1]);
  });

  it("ranks each user's withheld in-group item above every out-group item", async () => {
    for (const params of [{}, { itemBias: true, sampling: 'interaction' as const, negatives: 1 }]) {
      const model = new BprRecommender({ factors: 8, epochs: 200, ...params });
      await model.fit(data, { progress: false });
      const users = Array.from({ length: data.users.size }, (_, u) => u);
      // Seen items are excluded, so what is left is the withheld item plus the other group's items.
      const lists = model.recommend(users, { k: data.items.size });
      for (let q = 0; q < users.length; q++) {
        const ids = lists.idsOf(q);
        expect(ids).toHaveLength(1 + 6);
        expect(data.items.idAt(ids[0])).toBe(withheld.get(data.users.idAt(users[q]) as number));
      }
    }
  });

  it('refuses unknown or out-of-range parameters with the field named', () => {
    expect(() => new BprRecommender({ factors: 0 })).toThrow(/^bpr\.factors: /);
    expect(() => new BprRecommender({ lrDecay: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new BprRecommender({ epoch: 3 } as never)).toThrow(InvalidArgumentError);
  });
});
