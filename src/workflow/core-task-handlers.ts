import { moduleTaskHandler } from './module-task-handler.js';
import { shellTaskHandler } from './shell-task-handler.js';
import { TaskHandlerRegistry } from './task-handler-registry.js';

export { CORE_TASK_KINDS } from './core-task-runs.js';

/** Registers the shell and module handlers with `registry` (in that order); returns it. */
export function registerCoreTaskHandlers(registry: TaskHandlerRegistry): TaskHandlerRegistry {
  return registry.register(shellTaskHandler).register(moduleTaskHandler);
}

/**
 * A new registry with the shell and module handlers only: what the workflow layer uses when it
 * is given none. The composition root's registry (`builtinTaskHandlers` in `src/app`) adds the
 * pipeline steps, stage and tags.
 */
export function coreTaskHandlers(): TaskHandlerRegistry {
  return registerCoreTaskHandlers(new TaskHandlerRegistry());
}
