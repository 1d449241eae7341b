import { describe, expect, it } from 'vitest';
import { Interactions } from '../../data/interactions.js';
import { BprRecommender } from './bpr-recommender.js';
import { bprDrawRanges } from './bpr-wasm.js';

/** Row offsets of users with the given interaction counts. */
function offsets(counts: number[]): Int32Array {
  const indptr = new Int32Array(counts.length + 1);
  for (let u = 0; u < counts.length; u++) indptr[u + 1] = indptr[u] + counts[u];
  return indptr;
}

describe('bprDrawRanges', () => {
  // Ten users, one heavy: 1 + 2 + ... with user 3 holding 40 of the 76 interactions.
  const counts = [1, 2, 3, 40, 5, 6, 7, 4, 3, 5];
  const indptr = offsets(counts);

  it('gives one thread every user and every sample', () => {
    expect(bprDrawRanges(indptr, 10, 'user', 1000, 1)).toEqual([
      { from: 0, count: 10, samples: 1000 },
    ]);
    expect(bprDrawRanges(indptr, 10, 'interaction', 1000, 1)).toEqual([
      { from: 0, count: 76, samples: 1000 },
    ]);
  });

  it('splits users into adjacent equal ranges, samples in proportion, when sampling by user', () => {
    const ranges = bprDrawRanges(indptr, 10, 'user', 1001, 3);
    expect(ranges.map((r) => [r.from, r.count])).toEqual([
      [0, 3],
      [3, 4],
      [7, 3],
    ]);
    expect(ranges.reduce((s, r) => s + r.samples, 0)).toBe(1001);
    // Each user is drawn with probability 1 / 10 overall, as on one thread.
    for (const r of ranges) expect(Math.abs(r.samples / r.count - 100.1)).toBeLessThan(0.5);
  });

  it('splits entries at user boundaries, samples in proportion, when sampling by interaction', () => {
    const ranges = bprDrawRanges(indptr, 10, 'interaction', 7600, 2);
    let next = 0;
    for (const r of ranges) {
      expect(r.from).toBe(next);
      // Ranges start and end on a user's first entry, so no user's entries are split.
      expect(Array.from(indptr)).toContain(r.from);
      expect(Array.from(indptr)).toContain(r.from + r.count);
      expect(r.samples).toBe(r.count * 100);
      next = r.from + r.count;
    }
    expect(next).toBe(76);
    // The heavy user goes to whichever side holds half of the entries: [0, 46) and [46, 76).
    expect(ranges.map((r) => r.count)).toEqual([46, 30]);
  });

  it('gives threads beyond the users nothing to draw', () => {
    const ranges = bprDrawRanges(offsets([2, 3]), 2, 'user', 50, 4);
    expect(ranges.reduce((s, r) => s + r.count, 0)).toBe(2);
    expect(ranges.reduce((s, r) => s + r.samples, 0)).toBe(50);
    for (const r of ranges) if (r.count === 0) expect(r.samples).toBe(0);
  });
});

describe('BPR Hogwild with users split between threads', () => {
  // Two taste groups of 8 users over 8 items each; the k-th user of a group lacks item k.
  const users: number[] = [];
  const items: number[] = [];
  for (const [userBase, itemBase] of [
    [1, 100],
    [1001, 2000],
  ])
    for (let k = 0; k < 8; k++)
      for (let i = 0; i < 8; i++)
        if (i !== k) {
          users.push(userBase + k);
          items.push(itemBase + i);
        }
  const data = Interactions.fromColumns(Float64Array.from(users), Float64Array.from(items));

  it("ranks each user's withheld item first on 2 threads, sampling by user or by interaction", async () => {
    for (const sampling of ['user', 'interaction'] as const) {
      const model = new BprRecommender({
        factors: 8,
        epochs: 200,
        threads: 2,
        kernel: 'wasm',
        sampling,
      });
      await model.fit(data, { progress: false });
      const all = Array.from({ length: data.users.size }, (_, u) => u);
      const lists = model.recommend(all, { k: 1 });
      for (let q = 0; q < all.length; q++) {
        const user = data.users.idAt(q) as number;
        const base = user < 1000 ? 100 : 2000;
        expect(data.items.idAt(lists.idsOf(q)[0])).toBe(base + ((user - 1) % 1000));
      }
    }
  });
});
