import type { TaskContext, TaskJob } from '../workflow/executor.js';
import type { PipelineStepRunnerRef } from '../workflow/executors/task-thread.js';
import type { PipelineStepRunner, PipelineTaskKind } from '../workflow/task-runner.js';
import { runPipelineStep, stepConfig } from '../pipeline/steps/index.js';
import type { ServingStore } from '../storage/serving-store.js';
import { openMetadataStore, openServingStore } from './open-stores.js';
import { runStageTask } from './stage-task-runner.js';
import { runTagsTask } from './tags-task-runner.js';

/**
 * The runner of built-in pipeline tasks (aggregate, evaluate, train, candidates, publish) for an
 * executor or worker: builds the step's configuration from the task's params, opens the stores
 * the configuration names for the duration of the attempt, and runs the step on the run's work
 * directory. Stores are opened per attempt so a worker serves workflows with different stores.
 * Unless a task names its own (`params.stores.metadata`), models are recorded in the metadata
 * store the engine or worker was started with, next to the runs that made them.
 */
export function pipelineTaskRunner(options: { metadataUrl: string }): PipelineStepRunner {
  // Stage and tags tasks come through the same hook: they are the other built-in kinds run in-process.
  return (kind, job, ctx) =>
    kind === 'stage' ? runStageTask(job, ctx) : kind === 'tags' ? runTagsTask(job, ctx, options.metadataUrl) : runPipelineTask(kind, job, ctx, options.metadataUrl);
}

/**
 * {@link pipelineTaskRunner} as a reference a worker thread can load, for executors that run
 * pipeline tasks off their event loop.
 */
export function pipelineTaskRunnerRef(options: { metadataUrl: string }): PipelineStepRunnerRef {
  return { module: import.meta.url, export: 'pipelineTaskRunner', options };
}

async function runPipelineTask(kind: Exclude<PipelineTaskKind, 'stage' | 'tags'>, job: TaskJob, ctx: TaskContext, metadataUrl: string): Promise<Record<string, unknown>> {
  const stores = (job.params.stores ?? {}) as Record<string, unknown>;
  const params = typeof stores === 'object' && stores !== null && stores.metadata === undefined ? { ...job.params, stores: { ...stores, metadata: metadataUrl } } : job.params;
  const config = await stepConfig(kind, params, job.baseDir);
  const metadata = await openMetadataStore(config.stores.metadata);
  let serving: ServingStore | undefined;
  try {
    return await runPipelineStep(kind, {
      config,
      runId: job.runId,
      workDir: job.workDir,
      serving: async () => (serving ??= await openServingStore(config.stores.serving)),
      metadata,
      log: ctx.log,
      signal: ctx.signal,
    });
  } finally {
    await serving?.close();
    await metadata.close();
  }
}
