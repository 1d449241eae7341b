import { z } from 'zod';
import { moduleTaskRun } from './module-task.js';
import type { TaskHandler } from './task-handler.js';

/**
 * `kind: module`: calls the function exported as `export` (default `"default"`) by `module`
 * (relative to the workflow file) with the task's {@link TaskContext}; what it returns is the
 * output. Takes any params (the export reads `ctx.params`). Loading the module is not counted
 * against the task's timeout.
 */
export const moduleTaskHandler: TaskHandler = Object.freeze({
  ...moduleTaskRun,
  params: z.record(z.string(), z.unknown()),
  takesModule: true,
});
