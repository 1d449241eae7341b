import type { PipelineStepKind } from './steps/pipeline-step.js';
import type { PipelineConfig } from './pipeline-config.js';
import { TASK_PARAM_SCHEMAS } from './task-params.js';
import { defineWorkflow } from '../workflow/define-workflow.js';
import type { TaskHandler, TaskHandlerContext } from '../workflow/task-handler.js';
import { TaskHandlerRegistry } from '../workflow/task-handler-registry.js';
import type { TaskJob } from '../workflow/executor.js';
import {
  IN_PROCESS_SOURCE_PREFIX,
  type WorkflowDefinition,
} from '../workflow/workflow-definition.js';

/** The name of the built-in workflow `runPipeline` runs (`kiban pipeline run`, `kiban demo`). */
export const RECOMMEND_WORKFLOW = 'recommend';

/**
 * Where the definition of {@link RECOMMEND_WORKFLOW} says it comes from: no file, and its runs
 * can only be driven by the process that started them (their tasks take that process's
 * configuration), so no other process resumes or retries them.
 */
export const RECOMMEND_WORKFLOW_SOURCE = `${IN_PROCESS_SOURCE_PREFIX}kiban pipeline run>`;

/** Runs one task of the built-in workflow in this process. */
export type RecommendTaskRunner = (
  kind: PipelineStepKind,
  job: TaskJob,
  ctx: TaskHandlerContext,
) => Promise<Record<string, number | string>>;

/**
 * The built-in `recommend` workflow of one pipeline configuration: tasks `aggregate`, then
 * `evaluate` when `config.evaluate.holdout` > 0, then `train`, `candidates` and `publish`, each
 * needing the one before, with no retries (as `kiban pipeline run` always ran). The tasks carry no
 * params: `config` (already parsed) is what they run with, through `handlers`. The workflow's
 * params record which configuration ran (`pipeline`: `config.name`, `model`: its kind), so that
 * the run history tells runs of different configurations apart.
 *
 * @example
 * const handlers = recommendTaskHandlers((kind, job, ctx) => runPipelineStep(kind, stepCtx(job, ctx)));
 * const wf = recommendWorkflow(config, handlers);
 */
export function recommendWorkflow(
  config: PipelineConfig,
  handlers: TaskHandlerRegistry,
): WorkflowDefinition {
  const kinds: PipelineStepKind[] =
    config.evaluate.holdout > 0
      ? ['aggregate', 'evaluate', 'train', 'candidates', 'publish']
      : ['aggregate', 'train', 'candidates', 'publish'];
  const tasks = Object.fromEntries(
    kinds.map((kind, i) => [kind, { kind, needs: i === 0 ? [] : [kinds[i - 1]] }]),
  );
  return defineWorkflow(
    {
      name: RECOMMEND_WORKFLOW,
      description:
        'The batch pipeline, run inline: aggregate the events, measure and train a model, ' +
        'generate candidates and publish them.',
      params: { pipeline: config.name, model: config.model.kind },
      tasks,
    },
    RECOMMEND_WORKFLOW_SOURCE,
    handlers,
  );
}

/**
 * A registry with one handler per pipeline step kind, each running its task with `run` on this
 * thread (so that in-memory stores, model registries and fit callbacks, which cannot cross to a
 * worker thread, reach the steps). Params are checked with the workflow tasks' own schemas.
 */
export function recommendTaskHandlers(run: RecommendTaskRunner): TaskHandlerRegistry {
  const registry = new TaskHandlerRegistry();
  for (const kind of ['aggregate', 'evaluate', 'train', 'candidates', 'publish'] as const) {
    registry.register({
      kind,
      params: TASK_PARAM_SCHEMAS[kind],
      run: (job, ctx) => run(kind, job, ctx),
    } satisfies TaskHandler);
  }
  return registry;
}
