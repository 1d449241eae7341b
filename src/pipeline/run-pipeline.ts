import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KibanError } from '../core/errors.js';
import type { ExternalId } from '../data/id-map.js';
import { Interactions } from '../data/interactions.js';
import { readInteractionLog } from '../data/read-interaction-log.js';
import { splitLogPerUser } from '../data/split.js';
import { evaluateRecommender } from '../evaluation/evaluate.js';
import type { RankedLists } from '../models/ranked-lists.js';
import type { FitOptions } from '../models/recommender.js';
import { createRecommender } from '../models/registry.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ScoredItem, ServingStore } from '../storage/serving-store.js';
import { aggregateEvents } from './aggregate.js';
import type { PipelineConfig } from './pipeline-config.js';

/** The steps of a run, in order. */
export const PIPELINE_STEPS = ['aggregate', 'train', 'candidates', 'publish'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** Progress of a run, for a console or a log. */
export type PipelineEvent =
  | { type: 'step-start'; step: PipelineStep; index: number; of: number }
  | { type: 'step-end'; step: PipelineStep; seconds: number; figures: Record<string, number> };

/** What a successful run produced. */
export interface PipelineResult {
  runId: string;
  modelId: string;
  version: string;
  metrics: Record<string, number>;
  figures: Record<PipelineStep, Record<string, number>>;
  seconds: number;
  /** A user and an item with published lists, to show how to query them. */
  sample: { user: string; item: string };
}

/** Everything a run writes to. */
export interface PipelineDeps {
  serving: ServingStore;
  metadata: MetadataStore;
  onEvent?: (event: PipelineEvent) => void;
  /** Passed to model training (progress bar, loss callback). */
  fit?: FitOptions;
}

/**
 * Runs the batch pipeline once: aggregate raw events into interactions (Parquet), train the
 * configured model (measuring it first on a per-user holdout of the latest interactions), compute
 * top-N items per user, related items per item and a popular list, and publish them as a new
 * serving version in one atomic switch. Every step is recorded in the metadata store with its
 * timings and row counts; a failure marks the step and the run failed and leaves the previously
 * published version serving.
 */
export async function runPipeline(config: PipelineConfig, deps: PipelineDeps): Promise<PipelineResult> {
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const runId = `${config.name}-${stamp}-${randomBytes(3).toString('hex')}`;
  const { serving, metadata } = deps;
  await metadata.startRun({ id: runId, pipeline: config.name, config: config as unknown as Record<string, unknown>, startedAt: new Date() });
  const figures = {} as Record<PipelineStep, Record<string, number>>;

  const step = async <T>(name: PipelineStep, work: () => Promise<{ value: T; figures: Record<string, number> }>): Promise<T> => {
    deps.onEvent?.({ type: 'step-start', step: name, index: PIPELINE_STEPS.indexOf(name) + 1, of: PIPELINE_STEPS.length });
    const t0 = performance.now();
    await metadata.startStep(runId, { name, startedAt: new Date() });
    try {
      const { value, figures: f } = await work();
      const seconds = (performance.now() - t0) / 1000;
      figures[name] = { ...f, seconds };
      await metadata.finishStep(runId, name, { status: 'succeeded', finishedAt: new Date(), figures: figures[name] });
      deps.onEvent?.({ type: 'step-end', step: name, seconds, figures: f });
      return value;
    } catch (error) {
      await metadata.finishStep(runId, name, { status: 'failed', finishedAt: new Date(), error: describe(error) });
      throw error;
    }
  };

  try {
    const interactionsPath = join(config.stores.work, `${runId}-interactions.parquet`);
    await step('aggregate', async () => ({
      value: undefined,
      figures: { ...(await aggregateEvents({ input: config.data.events, output: interactionsPath, columns: config.data.columns, ...config.aggregate })) },
    }));

    const { model, modelId, metrics } = await step('train', async () => {
      const log = await readInteractionLog(interactionsPath, { columns: { user: 'user', item: 'item', value: 'value', timestamp: 'timestamp' } });
      const values = config.model.values;
      let metrics: Record<string, number> = {};
      if (config.evaluate.holdout > 0) {
        // The aggregate output is ordered by user then time, so each user's last rows are the latest.
        const { fit, holdout } = splitLogPerUser(log, 1 - config.evaluate.holdout);
        const probe = createRecommender(config.model.kind, config.model.params);
        await probe.fit(Interactions.fromLog(fit, values), { ...deps.fit, progress: false });
        metrics = evaluateRecommender(probe, holdout, { k: config.evaluate.k }).metrics;
      }
      const data = Interactions.fromLog(log, values);
      const model = createRecommender(config.model.kind, config.model.params);
      const report = await model.fit(data, deps.fit);
      const modelId = `${config.model.kind}-${stamp}-${randomBytes(3).toString('hex')}`;
      const artifactPath = join(config.stores.artifacts, modelId);
      await model.save(artifactPath);
      await metadata.insertModel({
        id: modelId,
        kind: model.kind,
        params: { ...model.params },
        dataSnapshot: { source: config.data.events, interactions: interactionsPath, rows: log.rows, users: data.users.size, items: data.items.size, pairs: data.nnz },
        metrics,
        artifactPath,
        createdAt: new Date(),
      });
      return { value: { model, modelId, metrics }, figures: { users: data.users.size, items: data.items.size, pairs: data.nnz, fitSeconds: report.seconds, ...metrics } };
    });

    const candidates = await step('candidates', async () => {
      const data = model.data;
      const allUsers = Int32Array.from({ length: data.users.size }, (_, u) => u);
      const allItems = Int32Array.from({ length: data.items.size }, (_, i) => i);
      const userLists = model.recommend(allUsers, { k: config.candidates.users, excludeSeen: true });
      const related = model.similarItems(allItems, { k: config.candidates.related });
      const popular = popularItems(data, config.candidates.popular);
      return { value: { userLists, related, popular }, figures: { userLists: userLists.count, relatedLists: related.count, popular: popular.length } };
    });

    const version = `${stamp}-${modelId}`.slice(0, 64);
    await step('publish', async () => {
      const data = model.data;
      const writer = await serving.beginVersion(version, { runId, modelId, kind: model.kind, metrics, publishedBy: config.name });
      try {
        // Keys are strings, as they arrive in request paths; item ids keep their type.
        await writer.putLists('user', entries(candidates.userLists, (q) => String(data.users.idAt(q)), (i) => data.items.idAt(i)));
        await writer.putLists('related', entries(candidates.related, (q) => String(data.items.idAt(q)), (i) => data.items.idAt(i)));
        await writer.putLists('popular', [['all', candidates.popular]]);
        await writer.commit();
      } catch (error) {
        await writer.abort().catch(() => undefined);
        throw error;
      }
      return { value: undefined, figures: { lists: candidates.userLists.count + candidates.related.count + 1 } };
    });

    await metadata.finishRun(runId, { status: 'succeeded', finishedAt: new Date(), modelId });
    const sample = { user: String(model.data.users.idAt(0)), item: String(model.data.items.idAt(0)) };
    return { runId, modelId, version, metrics, figures, seconds: (performance.now() - started) / 1000, sample };
  } catch (error) {
    await metadata.finishRun(runId, { status: 'failed', finishedAt: new Date(), error: describe(error) }).catch(() => undefined);
    throw error;
  }
}

/** Ranked lists as (external key, scored external ids) pairs, produced lazily. */
function* entries(lists: RankedLists, key: (q: number) => ExternalId, item: (i: number) => ExternalId): Generator<[ExternalId, ScoredItem[]]> {
  for (let q = 0; q < lists.count; q++) {
    const ids = lists.idsOf(q);
    const scores = lists.scoresOf(q);
    const items: ScoredItem[] = new Array(ids.length);
    for (let r = 0; r < ids.length; r++) items[r] = { id: item(ids[r]), score: scores[r] };
    yield [key(q), items];
  }
}

/** The items with the most users, best first (ties to the lower id): the fallback for unknown users. */
function popularItems(data: Interactions, n: number): ScoredItem[] {
  const { indptr } = data.itemUsers;
  const order = Int32Array.from({ length: data.items.size }, (_, i) => i);
  order.sort((a, b) => indptr[b + 1] - indptr[b] - (indptr[a + 1] - indptr[a]) || a - b);
  return Array.from(order.subarray(0, Math.min(n, order.length)), (i) => ({ id: data.items.idAt(i), score: indptr[i + 1] - indptr[i] }));
}

function describe(error: unknown): string {
  if (error instanceof KibanError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
