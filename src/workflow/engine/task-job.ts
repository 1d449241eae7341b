import { isAbsolute, dirname, join, resolve } from 'node:path';
import type { TaskJob } from '../executor.js';
import { shellCommand, substitute, substituteDeep } from '../substitute.js';
import type { TaskDefinition } from '../workflow-definition.js';
import type { WorkflowRun } from '../workflow-store.js';

type ParamValue = string | number | boolean;

/** Directory of a run's hand-off files under the engine's work root. */
export function runWorkDir(workRoot: string, runId: string): string {
  return resolve(workRoot, 'runs', runId);
}

/**
 * The job for one attempt at `task` of `run`: `${…}` in the module path and params replaced by
 * the run's values (workflow params, then the run's overrides, then built-ins). Shell commands
 * are never substituted: they get the values as environment variables (`runParams`).
 * A param that is exactly one reference (`"${window_days}"`) keeps the value's type, so a
 * number parameter arrives as a number.
 */
export function buildTaskJob(
  run: WorkflowRun,
  task: TaskDefinition,
  attempt: number,
  workRoot: string,
): TaskJob {
  const runParams: Record<string, ParamValue> = { ...run.definition.params, ...run.params };
  const values: Record<string, ParamValue> = {
    ...runParams,
    logical_date: run.logicalDate,
    run_id: run.id,
    workflow: run.workflow,
    task: task.name,
    attempt,
  };
  const field = `tasks.${task.name}`;
  const baseDir = dirname(resolve(run.definition.source));
  const module =
    task.module === undefined ? undefined : substitute(task.module, values, `${field}.module`);
  return {
    runId: run.id,
    workflow: run.workflow,
    task: task.name,
    attempt,
    kind: task.kind,
    ...(task.run === undefined ? {} : { run: shellCommand(task.run, `${field}.run`), runParams }),
    ...(module === undefined
      ? {}
      : {
          module: isAbsolute(module) ? module : join(baseDir, module),
          export: task.export ?? 'default',
        }),
    params: substituteDeep(task.params, values, `${field}.params`) as Record<string, unknown>,
    logicalDate: run.logicalDate,
    timeoutMs: task.timeoutMs,
    baseDir,
    workDir: runWorkDir(workRoot, run.id),
  };
}
