import { join } from 'node:path';
import { KibanError } from '../core/errors.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { FitOptions } from '../models/recommender.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import type { PipelineConfig } from './pipeline-config.js';
import { aggregateStep } from './steps/aggregate-step.js';
import { candidatesStep } from './steps/candidates-step.js';
import { evaluateStep } from './steps/evaluate-step.js';
import type { StepContext } from './steps/pipeline-step.js';
import { publishStep } from './steps/publish-step.js';
import { trainStep } from './steps/train-step.js';
import { idStamp, idSuffix } from './steps/work-files.js';

/**
 * The steps of a run as recorded and reported, in order. Evaluation is recorded as part of
 * `train` (its metrics are train's figures), as it was before steps became separate tasks; the
 * workflow engine runs it as a task of its own (see steps/).
 */
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
  /** Receives the steps' log lines. @defaultValue discarded */
  log?: (line: string) => void;
  /** Where the model of `config.model.kind` is found; `config` must have been parsed with it. @defaultValue kiban's own models */
  models?: ModelRegistry;
}

/**
 * Runs the batch pipeline once, in this process: aggregate raw events into interactions
 * (Parquet), measure the configured model on a per-user holdout of the latest interactions (when
 * `config.evaluate.holdout` > 0) and train it, compute top-N items per user, related items per
 * item and a popular list, and publish them as a new serving version in one atomic switch. The
 * steps are the workflow tasks' step functions, handing files to each other in
 * `config.stores.work/runs/<runId>/` (kept after the run: the model record points at its
 * interactions). Every step is recorded in the metadata store with its timings and figures; a
 * failure marks the step and the run failed and leaves the previously published version serving.
 */
export async function runPipeline(
  config: PipelineConfig,
  deps: PipelineDeps,
): Promise<PipelineResult> {
  const started = performance.now();
  const runId = `${config.name}-${idStamp()}-${idSuffix()}`;
  const { serving, metadata } = deps;
  const ctx: StepContext = {
    config,
    runId,
    workDir: join(config.stores.work, 'runs', runId),
    serving: async () => serving,
    metadata,
    log: deps.log ?? (() => undefined),
    fit: deps.fit,
    models: deps.models,
  };
  await metadata.startRun({
    id: runId,
    pipeline: config.name,
    config: config as unknown as Record<string, unknown>,
    startedAt: new Date(),
  });
  const figures = {} as Record<PipelineStep, Record<string, number>>;

  const step = async (
    name: PipelineStep,
    work: () => Promise<Record<string, number | string>>,
  ): Promise<Record<string, number | string>> => {
    deps.onEvent?.({
      type: 'step-start',
      step: name,
      index: PIPELINE_STEPS.indexOf(name) + 1,
      of: PIPELINE_STEPS.length,
    });
    const t0 = performance.now();
    await metadata.startStep(runId, { name, startedAt: new Date() });
    try {
      const output = await work();
      const seconds = (performance.now() - t0) / 1000;
      // Figures are the numbers; ids and paths (strings) are outputs the run picks up below.
      const f = Object.fromEntries(
        Object.entries(output).filter((e): e is [string, number] => typeof e[1] === 'number'),
      );
      figures[name] = { ...f, seconds };
      await metadata.finishStep(runId, name, {
        status: 'succeeded',
        finishedAt: new Date(),
        figures: figures[name],
      });
      deps.onEvent?.({ type: 'step-end', step: name, seconds, figures: f });
      return output;
    } catch (error) {
      await metadata.finishStep(runId, name, {
        status: 'failed',
        finishedAt: new Date(),
        error: describe(error),
      });
      throw error;
    }
  };

  try {
    await step('aggregate', () => aggregateStep(ctx));
    let metrics: Record<string, number> = {};
    const trained = await step('train', async () => {
      const evaluated = config.evaluate.holdout > 0 ? await evaluateStep(ctx) : {};
      const output = await trainStep(ctx);
      metrics = (await metadata.getModel(String(output.modelId)))?.metrics ?? {};
      return { ...output, ...evaluated };
    });
    await step('candidates', () => candidatesStep(ctx));
    const published = await step('publish', () => publishStep(ctx));

    const modelId = String(trained.modelId);
    await metadata.finishRun(runId, { status: 'succeeded', finishedAt: new Date(), modelId });
    const sample = { user: String(published.sampleUser), item: String(published.sampleItem) };
    return {
      runId,
      modelId,
      version: String(published.version),
      metrics,
      figures,
      seconds: (performance.now() - started) / 1000,
      sample,
    };
  } catch (error) {
    await metadata
      .finishRun(runId, { status: 'failed', finishedAt: new Date(), error: describe(error) })
      .catch(() => undefined);
    throw error;
  }
}

function describe(error: unknown): string {
  if (error instanceof KibanError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
