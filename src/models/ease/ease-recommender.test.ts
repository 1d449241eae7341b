import { describe, expect, it } from 'vitest';
import { Interactions } from '../../data/interactions.js';
import { readInteractionLog } from '../../data/read-interaction-log.js';
import { evaluateRecommender } from '../../evaluation/evaluate.js';
import { loadWasmModule } from '../../core/wasm.js';
import { EaseRecommender } from './ease-recommender.js';
import { invertSpd, spdInverseJs } from './spd-inverse.js';

/** A random sparse user×item matrix with four taste groups. */
function synthetic(users: number, items: number, perUser: number, seed = 7): Interactions {
  const u: number[] = [];
  const i: number[] = [];
  let s = seed;
  const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let a = 0; a < users; a++) {
    for (let b = 0; b < perUser; b++) {
      u.push(a);
      const group = a % 4;
      i.push(
        next() < 0.8
          ? group * (items / 4) + Math.floor(next() * (items / 4))
          : Math.floor(next() * items),
      );
    }
  }
  return Interactions.fromColumns(Float64Array.from(u), Float64Array.from(i));
}

/** A random SPD matrix MᵀM + λI of order n, M a 2n×n 0/1 matrix (a Gram matrix, as EASE has). */
function spd(n: number, lambda: number): Float64Array {
  let s = 11;
  const m = Array.from({ length: 2 * n * n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % 5 === 0 ? 1 : 0;
  });
  const g = new Float64Array(n * n);
  for (let r = 0; r < 2 * n; r++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) g[i * n + j] += m[r * n + i] * m[r * n + j];
  for (let i = 0; i < n; i++) g[i * n + i] += lambda;
  return g;
}

/** max |A·P − I| over all entries. */
function residual(a: Float64Array, p: Float64Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * p[k * n + j];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  return worst;
}

describe('EaseRecommender', () => {
  it('has its WebAssembly SIMD kernel built (npm run build:wasm)', () => {
    expect(loadWasmModule('ease-kernel')).not.toBeNull();
  });

  it('inverts an SPD matrix to float64 accuracy in the kernel and in JavaScript', () => {
    for (const n of [1, 5, 67]) {
      const a = spd(n, 2);
      const wasm = a.slice();
      expect(invertSpd(wasm, n).backend).toBe('wasm');
      const js = a.slice();
      expect(spdInverseJs(js, n)).toBe(0);
      expect(residual(a, wasm, n)).toBeLessThan(1e-10);
      expect(residual(a, js, n)).toBeLessThan(1e-10);
    }
  });

  it('refuses a matrix that is not positive definite, naming lambda', () => {
    const a = Float64Array.from([1, 2, 2, 1]);
    expect(() => invertSpd(a, 2)).toThrow(/lambda/);
  });

  it('scores the same through the item-side and the user-side (Woodbury) solve', async () => {
    for (const [users, items] of [
      [60, 120],
      [150, 40],
    ]) {
      const data = synthetic(users, items, 8);
      const byItems = new EaseRecommender({ lambda: 5, solver: 'items' });
      const byUsers = new EaseRecommender({ lambda: 5, solver: 'users' });
      await byItems.fit(data, { progress: false });
      await byUsers.fit(data, { progress: false });
      expect(byUsers.solver).toBe('users');
      const q = [0, 3, 17];
      const a = byItems.recommend(q, { k: 10, excludeSeen: false });
      const b = byUsers.recommend(q, { k: 10, excludeSeen: false });
      for (let t = 0; t < a.scores.length; t++) expect(b.scores[t]).toBeCloseTo(a.scores[t], 4);
      const sa = byItems.similarItems([1, 5], { k: 5 });
      const sb = byUsers.similarItems([1, 5], { k: 5 });
      for (let t = 0; t < sa.scores.length; t++) expect(sb.scores[t]).toBeCloseTo(sa.scores[t], 4);
    }
  });

  it('switches to the neighbour variant above maxDenseItems', async () => {
    const model = new EaseRecommender({ lambda: 5, maxDenseItems: 30 });
    await model.fit(synthetic(60, 120, 8), { progress: false });
    expect(model.solver).toBe('neighbours');
  });

  it('reaches the numpy peer (ndcg@10 0.3668) on the bundled MovieLens split with its defaults, and the neighbour variant comes close', async () => {
    const train = Interactions.fromLog(
      await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
    );
    const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
    const model = new EaseRecommender();
    await model.fit(train, { progress: false });
    expect(evaluateRecommender(model, test, { k: 10 }).metrics['ndcg@10']).toBeGreaterThanOrEqual(
      0.3668,
    );
    const scalable = new EaseRecommender({ neighbours: 50 });
    await scalable.fit(train, { progress: false });
    expect(
      evaluateRecommender(scalable, test, { k: 10 }).metrics['ndcg@10'],
    ).toBeGreaterThanOrEqual(0.335);
  }, 60_000);
});
