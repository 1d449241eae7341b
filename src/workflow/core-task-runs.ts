import { moduleTaskRun } from './module-task.js';
import { shellTaskRun } from './shell-task.js';
import type { TaskHandlerLookup, TaskHandlerRun } from './task-handler.js';

/** The kinds the workflow engine runs without help: `shell`, then `module`. */
export const CORE_TASK_KINDS: readonly string[] = Object.freeze(['shell', 'module']);

const CORE_RUNS: ReadonlyMap<string, TaskHandlerRun> = new Map([
  ['shell', shellTaskRun],
  ['module', moduleTaskRun],
]);

/**
 * The shell and module handlers for running only, without their params schemas (and so
 * without zod): what a task thread and `runTask` use when given no registry. Validation uses
 * the full handlers (`core-task-handlers.ts`).
 */
export function coreTaskRuns(): TaskHandlerLookup {
  return { get: (kind) => CORE_RUNS.get(kind), kinds: () => [...CORE_RUNS.keys()] };
}
