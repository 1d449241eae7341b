import type { Worker } from 'node:worker_threads';
import { childLogger, processLogger } from '../../core/log.js';
import { startWorker as startThread } from '../../core/threads.js';
import type { TaskJob, TaskOutcome } from '../executor.js';
import type { TaskHandlersRef } from '../task-handler.js';
import { cancelledMessage, timedOutMessage, type TaskEnvironment } from '../task-runner.js';
import type { FromTaskThread, TaskThreadSetup, ToTaskThread } from './task-thread-worker.js';

export type { TaskHandlersRef } from '../task-handler.js';

/** After a cancellation or timeout, how long a thread may take to report before it is terminated. */
const STOP_GRACE_MS = 1000;

/**
 * Runs one attempt of a module or pipeline task with {@link runTask} on a worker thread of its
 * own, with the shell and module handlers and those of `env.taskHandlers` (loaded in the thread
 * only for a kind beyond those two), so that however long it computes synchronously, this thread's event loop (lock renewal,
 * heartbeats, cancellation messages) keeps running. Log lines are written from this thread.
 * A timeout or cancellation is passed to the task's signal; a thread that does not report
 * within a second after that (a synchronous loop never sees its signal) is terminated.
 */
export function runTaskInThread(
  job: TaskJob,
  env: Omit<TaskEnvironment, 'handlers'> & { taskHandlers?: TaskHandlersRef },
): Promise<TaskOutcome> {
  const fail = (error: string): TaskOutcome => ({
    status: 'failed',
    error,
    output: {},
    worker: env.worker,
  });
  const setup: TaskThreadSetup = {
    kibanTaskThread: true,
    job,
    worker: env.worker,
    ...(env.taskHandlers === undefined ? {} : { taskHandlers: env.taskHandlers }),
  };
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const thread: Worker = startThread(new URL(`./task-thread-worker${ext}`, import.meta.url), {
    workerData: setup,
  });
  const writes: Promise<void>[] = [];
  let warned = false;
  // Losing log lines must not fail the task; say so once, as runTask does on its own thread.
  const lost = (error: unknown): void => {
    if (warned) return;
    warned = true;
    const { runId, task, attempt } = job;
    (env.logger ?? childLogger(processLogger(), 'workflow')).warn(
      { runId, task, attempt, err: error },
      `could not write the log of ${runId}/${task}#${attempt}: ${error instanceof Error ? error.message : String(error)}`,
    );
  };
  return new Promise<TaskOutcome>((resolveOutcome) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: TaskOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(killTimer);
      env.signal?.removeEventListener('abort', onAbort);
      void thread.terminate();
      // Every line the task wrote is stored before the outcome is reported.
      void Promise.all(writes).then(() => resolveOutcome(outcome));
    };
    const stop = (why: string): void => {
      if (settled || killTimer !== undefined) return;
      thread.postMessage({ type: 'abort', reason: why } satisfies ToTaskThread);
      killTimer = setTimeout(() => finish(fail(why)), STOP_GRACE_MS);
    };
    const onAbort = (): void => stop(cancelledMessage(env.signal!));
    thread.on('message', (message: FromTaskThread) => {
      if (message.type === 'logs') {
        writes.push(
          env.logs.appendLogs(job.runId, job.task, job.attempt, message.lines).catch(lost),
        );
      } else finish(message.outcome);
    });
    thread.on('error', (error) => finish(fail(`the task's thread failed: ${error.message}`)));
    thread.on('exit', (code) =>
      finish(fail(`the task's thread exited with code ${code} before the task finished`)),
    );
    env.signal?.addEventListener('abort', onAbort, { once: true });
    if (env.signal?.aborted) onAbort();
    // The thread enforces the timeout itself; this one ends a thread too busy to notice.
    const timeout =
      job.timeoutMs === null
        ? undefined
        : setTimeout(() => stop(timedOutMessage(job.timeoutMs!)), job.timeoutMs + STOP_GRACE_MS);
  });
}
