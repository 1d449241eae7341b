import { z } from 'zod';
import { shellTaskRun } from './shell-task.js';
import type { TaskHandler } from './task-handler.js';

/**
 * `kind: shell` (or a task with `run:` and no kind): runs `job.run` with `/bin/sh -c` in a
 * process group of its own, in the workflow file's directory (or, on a host that lacks it, the
 * attempt's work directory), with the run's parameters as
 * `KIBAN_PARAM_<NAME>` and the attempt as `KIBAN_*` environment variables. Takes no params. A
 * timeout or cancellation sends SIGTERM to the group, then SIGKILL after the kill grace; a
 * non-zero exit fails with the end of stderr and `{ exitCode }` as output.
 */
export const shellTaskHandler: TaskHandler = Object.freeze({
  ...shellTaskRun,
  params: z.object({}).strict() as z.ZodType<Record<string, unknown>>,
  unknownParamMessage:
    'shell tasks take no params: parameters reach the command as KIBAN_PARAM_<NAME> environment variables',
});
