import { isAbsolute, dirname, join, resolve } from 'node:path';
import type { TaskJob } from '../executor.js';
import { substitute } from '../substitute.js';
import type { TaskDefinition } from '../workflow-definition.js';
import type { WorkflowRun } from '../workflow-store.js';

type ParamValue = string | number | boolean;

const WHOLE_REFERENCE = /^\$\{\s*([^}]+?)\s*\}$/;

/** Directory of a run's hand-off files under the engine's work root. */
export function runWorkDir(workRoot: string, runId: string): string {
  return resolve(workRoot, 'runs', runId);
}

/**
 * The job for one attempt at `task` of `run`: `${…}` in the command, module path and params
 * replaced by the run's values (workflow params, then the run's overrides, then built-ins).
 * A param that is exactly one reference (`"${window_days}"`) keeps the value's type, so a
 * number parameter arrives as a number.
 */
export function buildTaskJob(run: WorkflowRun, task: TaskDefinition, attempt: number, workRoot: string): TaskJob {
  const values: Record<string, ParamValue> = {
    ...run.definition.params,
    ...run.params,
    logical_date: run.logicalDate,
    run_id: run.id,
    workflow: run.workflow,
    task: task.name,
    attempt,
  };
  const field = `tasks.${task.name}`;
  const baseDir = dirname(resolve(run.definition.source));
  const module = task.module === undefined ? undefined : substitute(task.module, values, `${field}.module`);
  return {
    runId: run.id,
    workflow: run.workflow,
    task: task.name,
    attempt,
    kind: task.kind,
    ...(task.run === undefined ? {} : { run: substitute(task.run, values, `${field}.run`) }),
    ...(module === undefined ? {} : { module: isAbsolute(module) ? module : join(baseDir, module), export: task.export ?? 'default' }),
    params: substituteDeep(task.params, values, `${field}.params`) as Record<string, unknown>,
    logicalDate: run.logicalDate,
    timeoutMs: task.timeoutMs,
    baseDir,
    workDir: runWorkDir(workRoot, run.id),
  };
}

function substituteDeep(value: unknown, values: Record<string, ParamValue>, field: string): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole !== null && Object.hasOwn(values, whole[1])) return values[whole[1]];
    return substitute(value, values, field);
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteDeep(v, values, `${field}.${i}`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, values, `${field}.${k}`)]));
  }
  return value;
}
