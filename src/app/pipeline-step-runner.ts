import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { runPipelineStep, stepConfig, type PipelineStepKind } from '../pipeline/steps/index.js';
import type { ServingStore } from '../storage/serving-store.js';
import { openMetadataStore, openServingStore } from './open-stores.js';

/**
 * Runs a workflow task of a pipeline step kind (aggregate, evaluate, train, candidates,
 * publish): builds the step's configuration from the task's params, opens the stores the
 * configuration names for the duration of the attempt, and runs the step on the run's work
 * directory. Stores are opened per attempt so a worker serves workflows with different stores.
 * Unless the task names its own (`params.stores.metadata`), models are recorded in the metadata
 * store at `metadataUrl` (the engine's or worker's, next to the runs that made them); without
 * `metadataUrl`, in the configuration's.
 */
export async function runPipelineTask(kind: PipelineStepKind, job: TaskJob, ctx: TaskContext, metadataUrl: string | undefined): Promise<Record<string, unknown>> {
  const stores = (job.params.stores ?? {}) as Record<string, unknown>;
  const params =
    metadataUrl !== undefined && typeof stores === 'object' && stores !== null && stores.metadata === undefined ? { ...job.params, stores: { ...stores, metadata: metadataUrl } } : job.params;
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
