/**
 * Entry of the worker thread that {@link runTaskInThread} starts: runs one attempt with
 * {@link runTask} (module loading and timeouts exactly as in-process) and reports its log
 * lines and outcome to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { TaskJob, TaskOutcome } from '../executor.js';
import { CORE_TASK_KINDS, coreTaskRuns } from '../core-task-runs.js';
import { runTask } from '../task-runner.js';
import type { LogLine } from '../workflow-store.js';
import type { TaskHandlerLookup, TaskHandlersRef } from '../task-handler.js';

/** What the thread is started with. */
export interface TaskThreadSetup {
  kibanTaskThread: true;
  job: TaskJob;
  worker: string;
  taskHandlers?: TaskHandlersRef;
}

/** Parent to thread. */
export type ToTaskThread = { type: 'abort'; reason: string };

/** Thread to parent. */
export type FromTaskThread =
  | { type: 'logs'; lines: { at: Date; stream: LogLine['stream']; line: string }[] }
  | { type: 'outcome'; outcome: TaskOutcome };

const setup = workerData as TaskThreadSetup | undefined;
if (parentPort !== null && setup?.kibanTaskThread === true) {
  const port = parentPort;
  const controller = new AbortController();
  port.on('message', (message: ToTaskThread) => {
    if (message.type === 'abort')
      controller.abort(new Error(message.reason.replace(/^cancelled: /, '')));
  });
  const send = (message: FromTaskThread): void => port.postMessage(message);
  let handlers: TaskHandlerLookup | undefined;
  let outcome: TaskOutcome;
  try {
    handlers = await threadHandlers(setup);
  } catch (error) {
    outcome = {
      status: 'failed',
      error: `task "${setup.job.task}": could not load the task handlers: ${error instanceof Error ? error.message : String(error)}`,
      output: {},
      worker: setup.worker,
    };
  }
  if (handlers !== undefined) {
    outcome = await runTask(setup.job, {
      logs: {
        appendLogs: async (_runId, _task, _attempt, lines) => send({ type: 'logs', lines }),
      },
      worker: setup.worker,
      signal: controller.signal,
      handlers,
    });
  }
  send({ type: 'outcome', outcome: outcome! });
  port.close();
}

/**
 * The handlers the attempt runs with: shell and module alone for those kinds (the reference's
 * module, with every pipeline step behind it, is not loaded for them), else the registry the
 * reference builds.
 */
async function threadHandlers(setup: TaskThreadSetup): Promise<TaskHandlerLookup> {
  const ref = setup.taskHandlers;
  // Shell and module without their params schemas: the thread then never loads zod.
  if (ref === undefined || CORE_TASK_KINDS.includes(setup.job.kind)) return coreTaskRuns();
  const loaded = (await import(ref.module)) as Record<
    string,
    (options: unknown) => TaskHandlerLookup | Promise<TaskHandlerLookup>
  >;
  return await loaded[ref.export](ref.options);
}
