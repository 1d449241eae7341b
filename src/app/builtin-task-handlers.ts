import type { z } from 'zod';
import { PIPELINE_STEP_KINDS } from '../pipeline/steps/pipeline-step.js';
import { TASK_PARAM_SCHEMAS } from '../pipeline/task-params.js';
import { registerCoreTaskHandlers } from '../workflow/core-task-handlers.js';
import type { TaskHandler, TaskHandlersRef } from '../workflow/task-handler.js';
import { TaskHandlerRegistry } from '../workflow/task-handler-registry.js';
import { exportParamsSchema } from './export-task-params.js';
import { materializeParamsSchema } from './materialize-task-params.js';
import { tuneParamsSchema } from './tune-task-params.js';

/** Options of {@link builtinTaskHandlers}: JSON, so that a worker thread can rebuild the same registry. */
export interface BuiltinTaskHandlerOptions {
  /**
   * The metadata store (URL) the engine or worker was started with: pipeline and tags tasks
   * record their models there unless the task names its own `params.stores.metadata`.
   * Without it, in the store their configuration names. Not needed to validate workflows.
   */
  metadataUrl?: string;
  /**
   * The artifact store URL (`file:…`, `s3://…`) of the engine or worker: pipeline tasks hand the
   * run's work files to each other through it (under `runs/<runId>/`), so consecutive tasks may
   * run on different machines. Without it, through the local work directory only.
   */
  artifactsUrl?: string;
  /**
   * The executor's Redis (`executor.redis` of a BullMQ engine or worker): a stage task with
   * `runner: bullmq` queues its partitions there, for `kiban stage bullmq-worker` processes (or
   * `kiban worker --stage-jobs`), with its partition files on `artifactsUrl`. Without it such a
   * task fails, saying so.
   */
  redisUrl?: string;
}

/**
 * Registers kiban's task kinds with `registry`, in the order messages list them: the pipeline
 * steps (aggregate, train, evaluate, candidates, publish), shell and module, then stage, tags,
 * materialize (feature views to the online store), export (privacy-aware extracts) and tune
 * (hyper-parameter search, optionally applied to a kiban.yaml). Each declares the params schema
 * its task parses with; the code that runs it is loaded on the first attempt, so validating a
 * workflow loads no model or store. Returns `registry`.
 *
 * @example
 * const handlers = registerBuiltinTaskHandlers(new TaskHandlerRegistry(), { metadataUrl });
 * const wf = await readWorkflowFile('workflows/nightly.yaml', handlers);
 */
export function registerBuiltinTaskHandlers(
  registry: TaskHandlerRegistry,
  options: BuiltinTaskHandlerOptions = {},
): TaskHandlerRegistry {
  const { metadataUrl, artifactsUrl, redisUrl } = options;
  for (const kind of PIPELINE_STEP_KINDS) {
    registry.register({
      kind,
      params: TASK_PARAM_SCHEMAS[kind],
      run: async (job, ctx) =>
        (await import('./pipeline-step-runner.js')).runPipelineTask(
          kind,
          job,
          ctx,
          metadataUrl,
          artifactsUrl,
        ),
    } satisfies TaskHandler);
  }
  registerCoreTaskHandlers(registry);
  registry.register({
    kind: 'stage',
    params: TASK_PARAM_SCHEMAS.stage,
    takesModule: true,
    run: async (job, ctx) =>
      (await import('./stage-task-runner.js')).runStageTask(job, ctx, {
        ...(redisUrl === undefined ? {} : { redisUrl }),
        ...(artifactsUrl === undefined ? {} : { artifactsUrl }),
      }),
  });
  registry.register({
    kind: 'tags',
    params: TASK_PARAM_SCHEMAS.tags,
    run: async (job, ctx) =>
      (await import('./tags-task-runner.js')).runTagsTask(job, ctx, metadataUrl),
  });
  registry.register({
    kind: 'materialize',
    params: materializeParamsSchema as z.ZodType<Record<string, unknown>>,
    run: async (job, ctx) =>
      (await import('./materialize-task-runner.js')).runMaterializeTask(job, ctx),
  });
  registry.register({
    kind: 'export',
    params: exportParamsSchema as z.ZodType<Record<string, unknown>>,
    run: async (job, ctx) =>
      (await import('./export-task-runner.js')).runExportTask(job, ctx, {
        ...(metadataUrl === undefined ? {} : { metadataUrl }),
        ...(artifactsUrl === undefined ? {} : { artifactsUrl }),
      }),
  });
  registry.register({
    kind: 'tune',
    params: tuneParamsSchema as unknown as z.ZodType<Record<string, unknown>>,
    run: async (job, ctx) => (await import('./tune-task-runner.js')).runTuneTask(job, ctx),
  });
  return registry;
}

/**
 * A new registry of every kind kiban runs: what the CLI, the server and workers validate and run
 * workflows with. See {@link registerBuiltinTaskHandlers}.
 */
export function builtinTaskHandlers(options: BuiltinTaskHandlerOptions = {}): TaskHandlerRegistry {
  return registerBuiltinTaskHandlers(new TaskHandlerRegistry(), options);
}

/**
 * {@link builtinTaskHandlers} as a reference a worker thread can load, for executors that run
 * module and pipeline tasks off their event loop.
 */
export function builtinTaskHandlersRef(options: BuiltinTaskHandlerOptions = {}): TaskHandlersRef {
  return { module: import.meta.url, export: 'builtinTaskHandlers', options };
}
