import { KibanError } from '../core/errors.js';
import { childLogger, type Logger, processLogger } from '../core/log.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { FitOptions } from '../models/recommender.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { taskLogLogger } from '../workflow/task-log-logger.js';
import type { PipelineConfig } from './pipeline-config.js';
import { recommendTaskHandlers, recommendWorkflow } from './recommend-workflow.js';
import { runPipelineStep } from './steps/index.js';
import type { PipelineStepKind } from './steps/pipeline-step.js';

/**
 * The steps of a run as reported, in order. Evaluation is reported as part of `train` (its
 * metrics are train's figures, its time in train's), as it was before steps became separate
 * tasks; the workflow records it as a task of its own.
 */
export const PIPELINE_STEPS = ['aggregate', 'train', 'candidates', 'publish'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** Progress of a run, for a console or a log. */
export type PipelineEvent =
  | { type: 'step-start'; step: PipelineStep; index: number; of: number }
  | { type: 'step-end'; step: PipelineStep; seconds: number; figures: Record<string, number> };

/** What a successful run produced. */
export interface PipelineResult {
  /** The id of the run of the built-in `recommend` workflow (`kiban workflow show ID`). */
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
  /** Records the model, and the run in its workflow store (`metadata.workflows`). */
  metadata: MetadataStore;
  onEvent?: (event: PipelineEvent) => void;
  /** Passed to model training (progress bar, loss callback). */
  fit?: FitOptions;
  /**
   * Receives the steps' entries (one info entry per step, with the run and task as fields); the
   * same lines go to each task's log in the workflow store.
   * @defaultValue the process logger's `pipeline` child
   */
  logger?: Logger;
  /** Where the model of `config.model.kind` is found; `config` must have been parsed with it. @defaultValue kiban's own models */
  models?: ModelRegistry;
  /**
   * Opens the artifact store an URL names (`file:DIR`, `s3://…`); the steps close what they get.
   * Needed when `config.stores.artifacts` is such a URL, and for publishing the item vector index
   * (`vectors/items/`, on `file:` of a plain directory): without it a model's item vectors are
   * not published (see `publishStep`).
   */
  openArtifacts?: (url: string) => Promise<ArtifactStore>;
}

/**
 * Runs the batch pipeline once, in this process, as the built-in `recommend` workflow (see
 * {@link recommendWorkflow}): aggregate raw events into interactions (Parquet), measure the
 * configured model on a per-user holdout of the latest interactions (when
 * `config.evaluate.holdout` > 0) and train it, compute top-N items per user, related items per
 * item and a popular list, and publish them as a new serving version in one atomic switch.
 *
 * The run goes through the workflow engine with the inline executor on `deps.metadata`'s
 * workflow store, so it is recorded like any workflow run (`kiban workflow runs`, the dashboard):
 * its tasks, attempts, outputs (the step figures) and log lines. Tasks hand files to each other in
 * `config.stores.work/runs/<runId>/` (kept after the run: the model record points at its
 * interactions). A failing task fails the run, leaves the previously published version serving,
 * and its error is rethrown.
 *
 * @example
 * const result = await runPipeline(parsePipelineConfig({}), { serving, metadata });
 * const run = await metadata.workflows.getRun(result.runId); // status 'succeeded'
 */
export async function runPipeline(
  config: PipelineConfig,
  deps: PipelineDeps,
): Promise<PipelineResult> {
  const started = performance.now();
  const { serving, metadata } = deps;
  const logger = deps.logger ?? childLogger(processLogger(), 'pipeline');
  const figures = {} as Record<PipelineStep, Record<string, number>>;
  const outputs: Partial<Record<PipelineStepKind, Record<string, number | string>>> = {};
  let metrics: Record<string, number> = {};
  let failure: unknown;
  // Evaluation is reported inside train: train starts (and its clock runs) when evaluate does.
  const reported: Partial<Record<PipelineStep, number>> = {};
  const stepOf = (kind: PipelineStepKind): PipelineStep => (kind === 'evaluate' ? 'train' : kind);
  const start = (step: PipelineStep): void => {
    if (reported[step] !== undefined) return;
    reported[step] = performance.now();
    deps.onEvent?.({
      type: 'step-start',
      step,
      index: PIPELINE_STEPS.indexOf(step) + 1,
      of: PIPELINE_STEPS.length,
    });
  };

  const handlers = recommendTaskHandlers(async (kind, job, ctx) => {
    const step = stepOf(kind);
    start(step);
    let output: Record<string, number | string>;
    try {
      output = await runPipelineStep(kind, {
        config,
        runId: job.runId,
        workDir: job.workDir,
        serving: async () => serving,
        metadata,
        logger: taskLogLogger(
          (line) => ctx.log(line),
          logger.child({ runId: job.runId, task: job.task }),
        ),
        signal: ctx.signal,
        ...(deps.fit === undefined ? {} : { fit: deps.fit }),
        ...(deps.models === undefined ? {} : { models: deps.models }),
        ...(deps.openArtifacts === undefined ? {} : { openArtifacts: deps.openArtifacts }),
      });
    } catch (error) {
      failure ??= error;
      throw error;
    }
    outputs[kind] = output;
    if (kind === 'evaluate') return output;
    if (kind === 'train')
      metrics = (await metadata.getModel(String(output.modelId)))?.metrics ?? {};
    const seconds = (performance.now() - reported[step]!) / 1000;
    // Figures are the numbers; ids and paths (strings) are outputs the result picks up below.
    const f = numbers(kind === 'train' ? { ...output, ...outputs.evaluate } : output);
    figures[step] = { ...f, seconds };
    deps.onEvent?.({ type: 'step-end', step, seconds, figures: f });
    return output;
  });

  const executor = new InlineExecutor({ logs: metadata.workflows, handlers, logger });
  const engine = new WorkflowEngine({
    store: metadata.workflows,
    executor,
    workRoot: config.stores.work,
  });
  let run: Awaited<ReturnType<WorkflowEngine['runToEnd']>>;
  try {
    const wf = recommendWorkflow(config, handlers);
    const created = (await engine.createRun(wf, { trigger: 'manual' }))!;
    run = await engine.runToEnd(created.id);
  } finally {
    await engine.close();
    await executor.close();
  }
  if (run.status !== 'succeeded') {
    if (failure !== undefined) throw failure;
    throw new KibanError(
      'INTERNAL',
      `pipeline run ${run.id} ended ${run.status}: ${run.error ?? 'no task failed'}`,
    );
  }
  const trained = outputs.train!;
  const published = outputs.publish!;
  return {
    runId: run.id,
    modelId: String(trained.modelId),
    version: String(published.version),
    metrics,
    figures,
    seconds: (performance.now() - started) / 1000,
    sample: { user: String(published.sampleUser), item: String(published.sampleItem) },
  };
}

function numbers(output: Record<string, number | string>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(output).filter((e): e is [string, number] => typeof e[1] === 'number'),
  );
}
