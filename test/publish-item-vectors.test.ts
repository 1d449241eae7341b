/**
 * The publish step stores a factor model's item vectors as the `items` vector index on the
 * artifact store (`vectors/items/`), before the serving version that records it commits: the
 * demo pipeline (ALS on the bundled data) run end to end, then the publish step alone with other
 * `vectors` settings on the same run's work files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArtifactStore } from '../src/app/open-artifact-store.js';
import { builtinModels } from '../src/models/builtin-models.js';
import type { Recommender } from '../src/models/recommender.js';
import { parsePipelineConfig, type PipelineConfig } from '../src/pipeline/pipeline-config.js';
import { runPipeline } from '../src/pipeline/run-pipeline.js';
import { runPipelineStep, type StepContext } from '../src/pipeline/steps/index.js';
import type { ArtifactStore } from '../src/storage/artifacts/artifact-store.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { loadVectorIndex, readVectorIndexMeta } from '../src/vectors/stored-index.js';
import { runWorkDir } from '../src/workflow/engine/task-job.js';

describe('publishing item vectors with each version', () => {
  let dir: string;
  let store: ArtifactStore;
  let model: Recommender;
  let runId: string;
  const serving = new MemoryServingStore();
  const metadata = KyselyMetadataStore.sqlite(':memory:');
  const openArtifacts = (url: string) => openArtifactStore(url);
  const config = (vectors: Record<string, unknown> = {}): PipelineConfig =>
    parsePipelineConfig({
      // The demo's model (ALS, 128 factors) with fewer sweeps: the vectors' shape is the same.
      model: { kind: 'als', params: { iterations: 3 } },
      evaluate: { holdout: 0 },
      candidates: { users: 5, related: 3, popular: 7 },
      // A plain directory, as the default `.kiban/models`: the index goes to `file:` of it.
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
      vectors,
    });

  /**
   * Searches item `r`'s own vector for each of `rows` and returns the rows found first: ranked
   * first, or after only items of the same direction (cosine 1: items liked by the same users get
   * the same vector, about 5% of the demo's items).
   */
  const foundFirst = async (rows: number[]): Promise<number[]> => {
    const { dim, vectors } = model.itemVectors!()!;
    const { index } = await loadVectorIndex(store, 'items');
    try {
      const queries = new Float32Array(rows.length * dim);
      rows.forEach((r, q) => queries.set(vectors.subarray(r * dim, (r + 1) * dim), q * dim));
      const k = 10;
      const found = await index.search(queries, { k });
      return rows.filter((r, q) => {
        for (let j = q * k; j < (q + 1) * k; j++) {
          if (found.keys[j] === r) return true;
          if (!(found.scores[j] > 1 - 1e-5)) return false;
        }
        return false;
      });
    } finally {
      index.close();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-item-vectors-'));
    await metadata.migrate();
    store = await openArtifactStore(`file:${join(dir, 'models')}`);
  });
  afterAll(async () => {
    await store?.close();
    await serving.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the demo pipeline leaves vectors/items/current: every item of the model, found by its own vector', async () => {
    const result = await runPipeline(config(), { serving, metadata, openArtifacts });
    runId = result.runId;
    model = await builtinModels().load(join(dir, 'models', result.modelId));
    const items = model.data.items.size;
    expect(items).toBeGreaterThan(1000);

    const { version, meta } = await readVectorIndexMeta(store, 'items');
    expect(meta).toMatchObject({ kind: 'exact', dim: 128, metric: 'cosine', count: items });
    expect(result.figures.publish.vectorItems).toBe(items);
    // The serving version names the index version it was published with.
    const current = await serving.currentVersion();
    expect(current?.version).toBe(result.version);
    expect(current?.meta.vectors).toEqual({ items: version });

    const loaded = await loadVectorIndex(store, 'items');
    try {
      expect(loaded.index.size).toBe(items);
      expect(loaded.ids).toHaveLength(items);
      for (const r of [0, 1, items >> 1, items - 1])
        expect(loaded.ids![r]).toBe(String(model.data.items.idAt(r)));
    } finally {
      loaded.index.close();
    }
    const rows = Array.from({ length: 50 }, (_, i) => Math.floor((i * (items - 1)) / 49));
    expect(await foundFirst(rows)).toEqual(rows);
  });

  it('builds HNSW from exactBelow items on, and publishes lists only with enabled: false', async () => {
    const ctx = (cfg: PipelineConfig): StepContext => ({
      config: cfg,
      runId,
      workDir: runWorkDir(cfg.stores.work, runId),
      serving: async () => serving,
      metadata,
      openArtifacts,
    });
    const items = model.data.items.size;
    const before = await readVectorIndexMeta(store, 'items');

    const hnsw = await runPipelineStep('publish', ctx(config({ exactBelow: 1000 })));
    const after = await readVectorIndexMeta(store, 'items');
    expect(after.version).not.toBe(before.version);
    expect(after.meta).toMatchObject({ kind: 'hnsw', count: items });
    expect(hnsw).toMatchObject({ vectorItems: items, vectorIndex: after.version });
    expect((await serving.currentVersion())?.meta.vectors).toEqual({ items: after.version });
    // Approximate, but an item's own vector is its nearest neighbour.
    const rows = Array.from({ length: 100 }, (_, i) => Math.floor((i * (items - 1)) / 99));
    expect((await foundFirst(rows)).length).toBeGreaterThanOrEqual(95);

    const listsOnly = await runPipelineStep('publish', ctx(config({ enabled: false })));
    expect(listsOnly.vectorItems).toBe(0);
    expect((await readVectorIndexMeta(store, 'items')).version).toBe(after.version);
    const current = await serving.currentVersion();
    expect(current?.version).toBe(listsOnly.version);
    expect(current?.meta.vectors).toBeUndefined();
  });

  it('refuses a vectors setting that is not a positive integer, naming the key', () => {
    expect(() => config({ exactBelow: 0 })).toThrow(/^config\.vectors\.exactBelow: /);
    expect(() => config({ enabled: 'yes' })).toThrow(/^config\.vectors\.enabled: /);
    expect(() => config({ exact: true })).toThrow(/^config\.vectors/);
  });
});
