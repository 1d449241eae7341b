import { InvalidArgumentError } from '../../core/errors.js';
import { aggregateStep } from './aggregate-step.js';
import { candidatesStep } from './candidates-step.js';
import { evaluateStep } from './evaluate-step.js';
import {
  PIPELINE_STEP_KINDS,
  type PipelineStepFn,
  type PipelineStepKind,
  type StepContext,
} from './pipeline-step.js';
import { publishStep } from './publish-step.js';
import { trainStep } from './train-step.js';

export {
  PIPELINE_STEP_KINDS,
  type PipelineStepFn,
  type PipelineStepKind,
  type StepContext,
} from './pipeline-step.js';
export { EvaluationGateError, type EvaluationRecord } from './evaluate-step.js';
export { stepConfig } from './step-config.js';
export { WORK_FILES, type ModelRef } from './work-files.js';

const STEPS: Record<PipelineStepKind, PipelineStepFn> = {
  aggregate: aggregateStep,
  train: trainStep,
  evaluate: evaluateStep,
  candidates: candidatesStep,
  publish: publishStep,
};

/** Whether `kind` names a pipeline step. */
export function isPipelineStepKind(kind: string): kind is PipelineStepKind {
  return (PIPELINE_STEP_KINDS as readonly string[]).includes(kind);
}

/**
 * Runs one pipeline step on the files of `ctx.workDir`, as a workflow task does: aggregate →
 * `interactions.parquet`; evaluate → `evaluation.json`; train → a saved model and `model.json`;
 * candidates → `candidates/`; publish → a new serving version. Each step reads only files earlier
 * steps wrote (a missing one is a NotFoundError naming it) and may be rerun after a failure.
 *
 * @example
 * const config = await stepConfig('train', task.params, task.baseDir);
 * const out = await runPipelineStep('train', { config, runId, workDir, serving, metadata, logger });
 * out.modelId;
 */
export async function runPipelineStep(
  kind: PipelineStepKind,
  ctx: StepContext,
): Promise<Record<string, number | string>> {
  if (!isPipelineStepKind(kind))
    throw new InvalidArgumentError(
      'kind',
      `"${String(kind)}" is not a pipeline step; choose one of ${PIPELINE_STEP_KINDS.join(', ')}`,
    );
  return STEPS[kind](ctx);
}
