import { describe, expect, it } from 'vitest';
import { Interactions } from '../../data/interactions.js';
import { readInteractionLog } from '../../data/read-interaction-log.js';
import { evaluateRecommender } from '../../evaluation/evaluate.js';
import { AlsRecommender } from './als-recommender.js';
import { alsWasmModule } from './als-wasm.js';

/** A random sparse matrix with a planted low-rank structure, big enough to exercise threads. */
function synthetic(users: number, items: number, perUser: number): Interactions {
  const u: number[] = [];
  const i: number[] = [];
  let s = 7;
  const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let a = 0; a < users; a++) {
    const group = a % 4;
    for (let b = 0; b < perUser; b++) {
      u.push(a);
      i.push(
        next() < 0.8
          ? group * (items / 4) + Math.floor(next() * (items / 4))
          : Math.floor(next() * items),
      );
    }
  }
  return Interactions.fromColumns(Float64Array.from(u), Float64Array.from(i));
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, x, j) => Math.max(m, Math.abs(x - b[j])), 0);

/** Every user's score for every item (X·Yᵀ), which does not depend on the factors' basis. */
function scores(model: AlsRecommender): Float32Array {
  const x = model.userFactors();
  const y = model.itemFactors();
  const f = x.cols;
  const out = new Float32Array(x.rows * y.rows);
  for (let u = 0; u < x.rows; u++)
    for (let i = 0; i < y.rows; i++) {
      let s = 0;
      for (let a = 0; a < f; a++) s += x.data[u * f + a] * y.data[i * f + a];
      out[u * y.rows + i] = s;
    }
  return out;
}

describe('AlsRecommender', () => {
  const data = synthetic(400, 200, 15);

  it('has its WebAssembly SIMD kernel built (npm run build:wasm)', () => {
    expect(alsWasmModule()).not.toBeNull();
  });

  it('gets the same scores from the SIMD kernel as from the JavaScript kernel', async () => {
    const wasm = new AlsRecommender({ factors: 16, iterations: 5, kernel: 'wasm', threads: 1 });
    const js = new AlsRecommender({ factors: 16, iterations: 5, kernel: 'js' });
    await wasm.fit(data, { progress: false });
    await js.fit(data, { progress: false });
    // The SIMD kernel solves in the eigenbasis of YᵀY + λI, so its factors are a rotation of
    // the JS kernel's; the scores X·Yᵀ are the same up to float32 rounding.
    const expected = scores(js);
    const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbsDiff(scores(wasm), expected)).toBeLessThan(2e-3 * scale);
  });

  it('gives bit-identical factors on one thread and on two', async () => {
    const one = new AlsRecommender({ factors: 16, iterations: 3, threads: 1 });
    const two = new AlsRecommender({ factors: 16, iterations: 3, threads: 2 });
    await one.fit(data, { progress: false });
    await two.fit(data, { progress: false });
    expect(two.userFactors().data).toEqual(one.userFactors().data);
    expect(two.itemFactors().data).toEqual(one.itemFactors().data);
  });

  it('fits without regularisation when YᵀY is singular (fewer items than factors)', async () => {
    // 400 users with one interaction each over 6 items: at 16 factors YᵀY has rank 6, so with
    // reg 0 it has no inverse, and the many one-interaction users are the short rows.
    const users = Float64Array.from({ length: 400 }, (_, e) => e);
    const items = Float64Array.from({ length: 400 }, (_, e) => (e * 7) % 6);
    const model = new AlsRecommender({ factors: 16, reg: 0, iterations: 4, kernel: 'wasm' });
    await model.fit(Interactions.fromColumns(users, items), { progress: false });
    const x = model.userFactors();
    const y = model.itemFactors();
    expect([...x.data, ...y.data].every(Number.isFinite)).toBe(true);
    // Without regularisation every observed pair is fitted to its preference, 1.
    for (const user of [0, 1, 199, 399]) {
      const u = model.data.users.indexOf(user);
      const i = model.data.items.indexOf((user * 7) % 6);
      let score = 0;
      for (let a = 0; a < 16; a++) score += x.data[u * 16 + a] * y.data[i * 16 + a];
      expect(score).toBeCloseTo(1, 2);
    }
  });

  it('lowers its training loss from sweep to sweep', async () => {
    const losses: number[] = [];
    await new AlsRecommender({ factors: 8, iterations: 6 }).fit(data, {
      progress: false,
      onIteration: (r) => losses.push(r.loss!),
    });
    expect(losses).toHaveLength(6);
    for (let j = 1; j < losses.length; j++)
      expect(losses[j]).toBeLessThanOrEqual(losses[j - 1] * (1 + 1e-6));
    expect(losses[5]).toBeLessThan(losses[0]);
  });

  it('agrees with the exact (Cholesky) solver after enough conjugate-gradient steps', async () => {
    const cg = new AlsRecommender({ factors: 8, iterations: 4, cgSteps: 8, kernel: 'js' });
    const exact = new AlsRecommender({ factors: 8, iterations: 4, solver: 'exact' });
    await cg.fit(data, { progress: false });
    await exact.fit(data, { progress: false });
    const scale = exact.userFactors().data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbsDiff(cg.userFactors().data, exact.userFactors().data)).toBeLessThan(1e-2 * scale);
  });

  it('beats the reference ALS row (ndcg@10 0.3454) on the bundled MovieLens split with its defaults', async () => {
    const train = Interactions.fromLog(
      await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
    );
    const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
    const model = new AlsRecommender();
    await model.fit(train, { progress: false });
    const { metrics } = evaluateRecommender(model, test, { k: 10 });
    expect(metrics['ndcg@10']).toBeGreaterThan(0.3454);
  });
});
