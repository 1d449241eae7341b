import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  describeRecommender,
  tasteGroupsFixture,
} from '../../../test/contracts/recommender-contract.js';
import { Interactions } from '../../data/interactions.js';
import type { ItemFeatures } from '../../data/item-features.js';
import { builtinModels } from '../builtin-models.js';
import type { UserEmbeddingModel } from '../recommender.js';
import { GatRecommender } from './gat-recommender.js';
import { GraphSageRecommender } from './graphsage-recommender.js';

// The fixture has a dozen users: small widths, small batches and enough epochs to converge.
const SMALL = { dim: 8, epochs: 60, batchSize: 4, learningRate: 0.03 };
describeRecommender('graphsage', (p) => new GraphSageRecommender({ ...SMALL, ...p }), {
  personalized: true,
  itemVectors: true,
});
describeRecommender(
  'graphsage (second hops, tied)',
  (p) => new GraphSageRecommender({ ...SMALL, fanout2: 4, tied: true, ...p }),
  { personalized: true, itemVectors: true },
);
describeRecommender('gat', (p) => new GatRecommender({ ...SMALL, heads: 2, ...p }), {
  personalized: true,
  itemVectors: true,
});
describeRecommender(
  'gat (second hops, fan-out 2 first hops)',
  (p) => new GatRecommender({ ...SMALL, heads: 2, fanout2: 4, fanout1: 2, ...p }),
  { personalized: true, itemVectors: true },
);

describeRecommender(
  'graphsage (sampled softmax: in-batch, random and hard negatives)',
  (p) =>
    new GraphSageRecommender({
      ...SMALL,
      loss: 'sampled',
      negatives: 4,
      inBatchNegatives: 2,
      hardNegatives: 2,
      hardPool: 6,
      ...p,
    }),
  { personalized: true, itemVectors: true },
);
describeRecommender(
  'gat (sampled softmax, second hops)',
  (p) =>
    new GatRecommender({ ...SMALL, heads: 2, fanout2: 3, loss: 'sampled', negatives: 6, ...p }),
  { personalized: true, itemVectors: true },
);

/** One multi-hot feature per item: its taste group (ids 1xx → 0, 2xx → 1, …), and a numeric. */
function groupFeatures(data: Interactions): ItemFeatures {
  const n = data.items.size;
  const indptr = new Int32Array(n + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    indices.push(Math.floor(Number(data.items.idAt(i)) / 100) - 1, 4);
    values.push(1, (i % 3) - 1);
    indptr[i + 1] = indices.length;
  }
  return {
    names: ['g1', 'g2', 'g3', 'g4', 'x'],
    nFeatures: 5,
    indptr,
    indices: Int32Array.from(indices),
    values: Float32Array.from(values),
    matched: n,
  };
}

describe('graph models with item side features', () => {
  const data = tasteGroupsFixture();
  const features = groupFeatures(data);

  for (const [name, create] of [
    ['graphsage', () => new GraphSageRecommender({ ...SMALL })],
    ['gat', () => new GatRecommender({ ...SMALL, heads: 2, fanout2: 3 })],
  ] as const)
    it(`${name}: the features change the model, and save → load keeps its recommendations`, async () => {
      const plain = create();
      await plain.fit(data, { progress: false });
      const model = create();
      await model.fit(data, { progress: false, itemFeatures: features });
      expect(model.itemFactors().data).not.toEqual(plain.itemFactors().data);
      const users = Array.from({ length: data.users.size }, (_, u) => u);
      const dir = await mkdtemp(join(tmpdir(), 'kiban-graph-features-'));
      try {
        await model.save(join(dir, 'model'));
        const loaded = (await builtinModels().load(join(dir, 'model'))) as UserEmbeddingModel;
        expect(loaded.recommend(users, { k: 4 }).ids).toEqual(model.recommend(users, { k: 4 }).ids);
        expect(loaded.itemFactors().data).toEqual(model.itemFactors().data);
        expect(loaded.embedUsers([[0, 3]]).data).toEqual(model.embedUsers([[0, 3]]).data);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

  it('refuses features not aligned to the training items, naming the field', async () => {
    const model = new GraphSageRecommender({ ...SMALL, epochs: 1 });
    const short = { ...features, indptr: features.indptr.subarray(0, 3) };
    await expect(model.fit(data, { progress: false, itemFeatures: short })).rejects.toThrow(
      /^itemFeatures: has 2 rows, the training data \d+ items/,
    );
  });
});

const models: [string, (p?: Record<string, unknown>) => UserEmbeddingModel][] = [
  ['graphsage', (p) => new GraphSageRecommender({ ...SMALL, fanout2: 3, ...p })],
  ['gat', (p) => new GatRecommender({ ...SMALL, heads: 2, fanout2: 3, ...p })],
];

for (const [name, create] of models) {
  describe(`${name}: users embedded from their items`, () => {
    const data = tasteGroupsFixture();

    it('embeds a training user from its items exactly as the model scores it', async () => {
      const model = create();
      await model.fit(data, { progress: false });
      const { indptr, indices } = data.userItems;
      const lists = Array.from({ length: data.users.size }, (_, u) =>
        indices.subarray(indptr[u], indptr[u + 1]),
      );
      expect(model.embedUsers(lists).data).toEqual(model.userFactors().data);
    });

    it('recommends the withheld item to a user it never trained on, from two of its items', async () => {
      // The fixture without user 50 (group B, lacking 204); then user 50 arrives with 201, 202.
      const { indptr, indices } = data.userItems;
      const users: number[] = [];
      const items: number[] = [];
      for (let u = 0; u < data.users.size; u++) {
        if (data.users.idAt(u) === 50) continue;
        for (let e = indptr[u]; e < indptr[u + 1]; e++) {
          users.push(data.users.idAt(u) as number);
          items.push(data.items.idAt(indices[e]) as number);
        }
      }
      const train = Interactions.fromColumns(Float64Array.from(users), Float64Array.from(items));
      const model = create();
      await model.fit(train, { progress: false });
      const seen = [201, 202].map((id) => train.items.indexOf(id));
      const [u] = [model.embedUsers([seen])];
      const Q = model.itemFactors();
      const bias = (model as GraphSageRecommender).itemBiases();
      const scores = Array.from({ length: Q.rows }, (_, j) => {
        if (seen.includes(j)) return -Infinity;
        let s = bias[j];
        for (let x = 0; x < Q.cols; x++) s += u.data[x] * Q.data[j * Q.cols + x];
        return s;
      });
      const best = scores.indexOf(Math.max(...scores));
      expect([203, 204]).toContain(train.items.idAt(best));
    });

    it('trains the same model for the same seed and another for another seed', async () => {
      const a = create({ epochs: 5 });
      const b = create({ epochs: 5 });
      const c = create({ epochs: 5, seed: 7 });
      for (const m of [a, b, c]) await m.fit(data, { progress: false });
      expect(b.itemFactors().data).toEqual(a.itemFactors().data);
      expect(b.userFactors().data).toEqual(a.userFactors().data);
      expect(c.itemFactors().data).not.toEqual(a.itemFactors().data);
    });

    it('refuses item indices out of range and bad parameters with the field named', async () => {
      const model = create({ epochs: 1 });
      await model.fit(data, { progress: false });
      expect(() => model.embedUsers([[0, data.items.size]])).toThrow(/^interactions: /);
      expect(() => create({ dim: 6 })).not.toThrow();
      await expect(create({ dim: 6 }).fit(data, { progress: false })).rejects.toThrow(/^dim: /);
      expect(() => create({ dropout: 1 })).toThrow(new RegExp(`^${name}\\.dropout: `));
    });
  });
}

describe('graph models in the registry', () => {
  it('are registered as graphsage and gat, with their defaults', () => {
    const registry = builtinModels();
    expect(registry.kinds()).toEqual(expect.arrayContaining(['graphsage', 'gat']));
    expect(registry.create('gat').params).toMatchObject({ heads: 4, dim: 64 });
    expect(registry.create('graphsage').params).not.toHaveProperty('heads');
  });
});
