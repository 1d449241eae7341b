/**
 * Entry of the worker thread that {@link runTaskInThread} starts: runs one attempt with
 * {@link runTask} (module loading and timeouts exactly as in-process) and reports its log
 * lines and outcome to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { TaskJob, TaskOutcome } from '../executor.js';
import { runTask, type PipelineStepRunner } from '../task-runner.js';
import type { LogLine } from '../workflow-store.js';
import type { PipelineStepRunnerRef } from './task-thread.js';

/** What the thread is started with. */
export interface TaskThreadSetup {
  kibanTaskThread: true;
  job: TaskJob;
  worker: string;
  pipelineSteps?: PipelineStepRunnerRef;
}

/** Parent to thread. */
export type ToTaskThread = { type: 'abort'; reason: string };

/** Thread to parent. */
export type FromTaskThread = { type: 'logs'; lines: { at: Date; stream: LogLine['stream']; line: string }[] } | { type: 'outcome'; outcome: TaskOutcome };

const setup = workerData as TaskThreadSetup | undefined;
if (parentPort !== null && setup?.kibanTaskThread === true) {
  const port = parentPort;
  const controller = new AbortController();
  port.on('message', (message: ToTaskThread) => {
    if (message.type === 'abort') controller.abort(new Error(message.reason.replace(/^cancelled: /, '')));
  });
  const send = (message: FromTaskThread): void => port.postMessage(message);
  let runPipelineStep: PipelineStepRunner | undefined;
  if (setup.pipelineSteps !== undefined) {
    const ref = setup.pipelineSteps;
    runPipelineStep = async (kind, job, ctx) => {
      const loaded = (await import(ref.module)) as Record<string, (options: unknown) => PipelineStepRunner>;
      return loaded[ref.export](ref.options)(kind, job, ctx);
    };
  }
  const outcome = await runTask(setup.job, {
    logs: {
      appendLogs: async (_runId, _task, _attempt, lines) => send({ type: 'logs', lines }),
    },
    worker: setup.worker,
    signal: controller.signal,
    ...(runPipelineStep === undefined ? {} : { runPipelineStep }),
  });
  send({ type: 'outcome', outcome });
  port.close();
}
