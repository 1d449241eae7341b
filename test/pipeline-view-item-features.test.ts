/**
 * The batch pipeline's model takes item side features from a feature view (issue 20, "Used by
 * the rest of kiban"): `model.itemFeatures: {view, repo}` makes the evaluate and train steps fit
 * with each item's latest values of the view (here `movie_stats` of the bundled example
 * repository), as `readViewItemFeatures` reads them for the model's items.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemFeatures } from '../src/data/item-features.js';
import { builtinModels } from '../src/models/builtin-models.js';
import { ModelRegistry } from '../src/models/model-registry.js';
import { popularityModel } from '../src/models/popularity/popularity-definition.js';
import { PopularityRecommender } from '../src/models/popularity/popularity-recommender.js';
import type { FitOptions, FitReport } from '../src/models/recommender.js';
import type { Interactions } from '../src/data/interactions.js';
import { parsePipelineConfig } from '../src/pipeline/pipeline-config.js';
import { runPipelineStep, type StepContext } from '../src/pipeline/steps/index.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';

/** What each fit was given: its items' count and the item features. */
const seen: { items: number; itemFeatures: ItemFeatures | undefined }[] = [];

/** Popularity, noting what it is fitted with (the pipeline's steps only see a Recommender). */
class NotingPopularity extends PopularityRecommender {
  protected override async fitModel(data: Interactions, options: FitOptions): Promise<FitReport> {
    seen.push({ items: data.items.size, itemFeatures: options.itemFeatures });
    return super.fitModel(data, options);
  }
}

describe('model.itemFeatures from a feature view', () => {
  let dir: string;
  const metadata = KyselyMetadataStore.sqlite(':memory:');
  const serving = new MemoryServingStore();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-pipeline-view-items-'));
    await metadata.migrate();
  });
  afterAll(async () => {
    await serving.close();
    await metadata.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('checks the section: a table or a view, the view with its repository', () => {
    const parse = (itemFeatures: unknown) =>
      parsePipelineConfig({ model: { kind: 'popularity', itemFeatures } });
    expect(() => parse({ view: 'movie_stats' })).toThrow(/itemFeatures\.repo.*is needed with view/);
    expect(() => parse({ table: 'm.csv', view: 'movie_stats', repo: 'r' })).toThrow(
      /give either table .* or view/,
    );
    expect(() => parse({ table: 'm.csv' })).toThrow(/itemFeatures\.columns.*is needed with table/);
    expect(parse({ view: 'movie_stats', repo: 'examples/features' }).model.itemFeatures).toEqual({
      view: 'movie_stats',
      repo: 'examples/features',
    });
  });

  it('fits the evaluate and train steps with the view’s latest values per item', async () => {
    const config = parsePipelineConfig({
      model: {
        kind: 'popularity',
        itemFeatures: { view: 'movie_stats', repo: 'examples/features' },
      },
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
    });
    const ctx: StepContext = {
      config,
      runId: 'view-items',
      workDir: join(dir, 'run'),
      serving: async () => serving,
      metadata,
      models: new ModelRegistry().register({
        ...popularityModel,
        create: (params) => new NotingPopularity(params),
      }),
    };
    await runPipelineStep('aggregate', ctx);
    await runPipelineStep('evaluate', ctx);
    await runPipelineStep('train', ctx);
    expect(seen).toHaveLength(2);
    for (const { items, itemFeatures } of seen) {
      expect(itemFeatures).toBeDefined();
      // movie_stats holds the 15 most rated movies: all are among the model's items.
      expect(itemFeatures!.names).toEqual(['ratings_total', 'mean_rating']);
      expect(itemFeatures!.matched).toBe(15);
      expect(itemFeatures!.indptr.length).toBe(items + 1);
      // Each of the 15 has both (standardised) numbers, unless one equals its mean exactly.
      expect(itemFeatures!.indices.length).toBeGreaterThanOrEqual(28);
      expect(itemFeatures!.indices.length).toBeLessThanOrEqual(30);
    }
  }, 120_000);

  it('trains graphsage with them: the same seed without the view gives another model', async () => {
    const trainWith = async (itemFeatures: object | undefined) => {
      const config = parsePipelineConfig({
        model: {
          kind: 'graphsage',
          params: { dim: 8, epochs: 1, seed: 3 },
          ...(itemFeatures === undefined ? {} : { itemFeatures }),
        },
        stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
      });
      const ctx: StepContext = {
        config,
        runId: 'view-items-gnn',
        workDir: join(dir, 'run-gnn'),
        serving: async () => serving,
        metadata,
      };
      await runPipelineStep('aggregate', ctx);
      const trained = await runPipelineStep('train', ctx);
      const model = await builtinModels().load(String(trained.artifactPath));
      return model.recommend(Int32Array.of(0, 1, 2), { k: 20 });
    };
    const plain = await trainWith(undefined);
    const again = await trainWith(undefined);
    const withView = await trainWith({ view: 'movie_stats', repo: 'examples/features' });
    // Deterministic for a seed, so a difference is the features' doing.
    expect(Array.from(again.scores)).toEqual(Array.from(plain.scores));
    expect(Array.from(withView.scores)).not.toEqual(Array.from(plain.scores));
  }, 180_000);
});
