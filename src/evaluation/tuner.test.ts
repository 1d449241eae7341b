import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { Random } from '../core/random.js';
import type { InteractionLog } from '../data/interaction-log.js';
import { alsModel } from '../models/als/als-definition.js';
import { builtinModels } from '../models/builtin-models.js';
import { ModelRegistry } from '../models/model-registry.js';
import { popularityModel } from '../models/popularity/popularity-definition.js';
import { renderTuningSvg } from './plot-tuning.js';
import { requireSearchSpace, sample, tuneModel, type TuneProgress } from './tuner.js';
import { carveValidation } from './validation-carve.js';

/**
 * 6 taste clusters of 20 users; each cluster's users pick 24 of its own 40 items, in time order.
 * Every item is about as popular as every other, so only a model that tells the clusters apart
 * can rank a user's held-out items (all in the user's cluster) above the 200 others.
 */
function clusteredLog(): InteractionLog {
  const random = new Random(7);
  const users: number[] = [];
  const items: number[] = [];
  const timestamps: number[] = [];
  for (let u = 0; u < 120; u++) {
    const cluster = u % 6;
    const pool = Array.from({ length: 40 }, (_, i) => cluster * 40 + i);
    for (let i = 0; i < 24; i++) {
      const j = i + random.nextInt(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
      users.push(u);
      items.push(pool[i]);
      timestamps.push(1_000 + u * 100 + i);
    }
  }
  return {
    source: 'clusters',
    rows: users.length,
    users: Float64Array.from(users),
    items: Float64Array.from(items),
    values: null,
    timestamps: Float64Array.from(timestamps),
    skipped: 0,
    badRows: [],
  };
}

describe('tuneModel', () => {
  const carve = carveValidation(clusteredLog(), { kind: 'temporal' });

  it('prefers enough factors to tell 6 clusters apart over a deliberately bad rank-1 model', async () => {
    // A rank-1 ALS scores every user by one item vector (up to the user's sign), so all users of
    // every cluster get nearly the same list: at best one cluster in six is served. 12 factors
    // can give each cluster its own direction, so its nDCG@10 must come out several times higher.
    const models = new ModelRegistry().register({
      ...alsModel,
      searchSpace: { factors: { kind: 'choice', values: [1, 12] } },
    });
    const progress: TuneProgress[] = [];
    const result = await tuneModel({
      models,
      kind: 'als',
      carve,
      trials: 2,
      eta: 2,
      includeDefaults: false,
      fixed: { threads: 1, kernel: 'js' },
      onProgress: (p) => progress.push(p),
    });
    expect(result.rungSizes).toEqual([2, 1]);
    expect(result.fidelity).toEqual({ by: 'iterations', param: 'iterations', full: 15 });
    const byFactors = new Map(result.trials.map((t) => [t.params.factors, t]));
    const good = byFactors.get(12)!;
    const bad = byFactors.get(1)!;
    expect(result.best).toBe(good);
    expect(good.rungs.map((r) => r.params.iterations)).toEqual([8, 15]);
    // Compare at the rung both were scored at (half the iterations).
    expect(good.rungs[0].ndcg).toBeGreaterThan(3 * bad.rungs[0].ndcg);
    expect(good.ndcg).toBeGreaterThan(0.3);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(progress.every((p) => p.total === 3)).toBe(true);
    expect(renderTuningSvg(result, 'als')).toMatch(/^<svg[\s\S]*best: trial \d[\s\S]*<\/svg>\n$/);
  });

  it('is seeded: the same seed samples the same configurations, another seed others', async () => {
    const models = builtinModels();
    const last: TuneProgress[] = [];
    const run = (seed: number) =>
      tuneModel({
        models,
        kind: 'itemknn',
        carve,
        trials: 4,
        seed,
        eta: 2,
        onProgress: (p) => {
          last[seed] = p;
        },
      });
    const [a, b, c] = await Promise.all([run(1), run(1), run(2)]);
    const params = (r: typeof a) =>
      r.trials
        .map((t) => t.params)
        .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    expect(params(a)).toEqual(params(b));
    expect(params(a)).not.toEqual(params(c));
    // The progress total shrinks to what was done when the defaults made the cut by themselves.
    expect(last[1].done).toBe(last[1].total);
    expect(last[2].done).toBe(last[2].total);
    // itemknn has no iterations: early rungs fit on a share of the users instead.
    expect(a.fidelity).toEqual({ by: 'users' });
    expect(a.rungSizes).toEqual([4, 2]);
    // The defaults are carried to full budget whatever their first score, so the best returned
    // is never worse than them on the carve.
    for (const r of [a, b, c]) {
      const defaults = r.trials.filter((t) => t.defaults);
      expect(defaults).toHaveLength(1);
      expect(defaults[0].rungs).toHaveLength(2);
      expect(r.best.ndcg).toBeGreaterThanOrEqual(defaults[0].ndcg);
    }
  });

  it('samples log-scale ranges evenly in the logarithm', () => {
    const random = new Random(3);
    const draws = Array.from({ length: 4000 }, () =>
      Number(sample({ kind: 'float', low: 0.001, high: 1000, log: true }, random)),
    );
    // log10 is uniform on [-3, 3]: about half the draws lie below 1, a sixth below 0.01.
    const below = (x: number) => draws.filter((d) => d < x).length / draws.length;
    expect(below(1)).toBeGreaterThan(0.45);
    expect(below(1)).toBeLessThan(0.55);
    expect(below(0.01)).toBeGreaterThan(0.13);
    expect(below(0.01)).toBeLessThan(0.2);
    const ints = Array.from({ length: 500 }, () =>
      Number(sample({ kind: 'int', low: 10, high: 2000, log: true }, random)),
    );
    expect(ints.every((n) => Number.isInteger(n) && n >= 10 && n <= 2000)).toBe(true);
  });

  it('stops at the deadline and on abort, and names the field of a bad request', async () => {
    const models = builtinModels();
    await expect(
      tuneModel({ models, kind: 'itemknn', carve, trials: 3, deadline: Date.now() - 1 }),
    ).rejects.toMatchObject({ field: 'budget' });
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(
      tuneModel({ models, kind: 'itemknn', carve, trials: 3, signal: controller.signal }),
    ).rejects.toThrow('cancelled');
    expect(() => requireSearchSpace(models, 'nope', '--model')).toThrow(
      /--model: unknown model "nope"/,
    );
    expect(() => requireSearchSpace(models, popularityModel.kind)).toThrow(
      /model: model "popularity" declares no search space.*models that do: itemknn, als/,
    );
    await expect(tuneModel({ models, kind: 'als', carve, trials: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const typo = new ModelRegistry().register({
      ...alsModel,
      searchSpace: { factor: { kind: 'int', low: 1, high: 8 } },
    });
    await expect(tuneModel({ models: typo, kind: 'als', carve, trials: 2 })).rejects.toMatchObject({
      field: 'searchSpace.factor',
    });
  });
});

describe('every built-in search space', () => {
  it('names params its model has, with ranges its schema accepts', () => {
    const random = new Random(11);
    for (const definition of builtinModels().definitions()) {
      if (definition.searchSpace === undefined) continue;
      for (let i = 0; i < 20; i++) {
        const params: Record<string, unknown> = {};
        for (const [name, dim] of Object.entries(definition.searchSpace))
          params[name] = sample(dim, random);
        expect(() => definition.params.parse(params), definition.kind).not.toThrow();
      }
    }
  });
});
