import { isAbsolute, resolve } from 'node:path';
import { importModule } from '../core/import-module.js';
import type { TaskContext, TaskJob } from './executor.js';
import type { TaskHandlerContext, TaskHandlerRun } from './task-handler.js';

type TaskFunction = (ctx: TaskContext) => unknown;

/**
 * Running `kind: module` tasks (the zod-free half of {@link moduleTaskHandler}, in
 * `module-task-handler.ts`).
 */
export const moduleTaskRun: TaskHandlerRun = Object.freeze({
  kind: 'module',
  prepare: async (job: TaskJob): Promise<void> => {
    await loadExport(job);
  },
  run: async (job: TaskJob, ctx: TaskHandlerContext): Promise<unknown> => {
    const fn = await loadExport(job);
    // The export sees the task's context only, not the runner's log streams.
    const { runId, workflow, task, attempt, logicalDate, params, workDir, log, signal } = ctx;
    return fn({ runId, workflow, task, attempt, logicalDate, params, workDir, log, signal });
  },
});

async function loadExport(job: TaskJob): Promise<TaskFunction> {
  if (job.module === undefined || job.module.length === 0)
    throw new Error(`task "${job.task}": a module task needs "module"`);
  const path = isAbsolute(job.module) ? job.module : resolve(job.baseDir, job.module);
  const name = job.export ?? 'default';
  let loading = loadedModules.get(path);
  if (loading === undefined) {
    loading = importModule(path);
    loadedModules.set(path, loading);
    // A module that failed to load is tried again by the next attempt (it may have been fixed).
    loading.catch(() => loadedModules.delete(path));
  }
  const loaded = await loading;
  const fn = loaded[name];
  if (typeof fn !== 'function') {
    throw new Error(
      `task "${job.task}": ${path} has no exported function "${name}" (exports: ${Object.keys(loaded).join(', ') || 'none'})`,
    );
  }
  return fn as TaskFunction;
}

/**
 * Loaded modules by path. `import()` of a module already loaded still runs the loader hooks,
 * which under tsx cross to its hooks thread: about 2 ms a task, more than the rest of the run.
 */
const loadedModules = new Map<string, Promise<Record<string, unknown>>>();
