import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { InvalidArgumentError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { TaskJob, TaskOutcome } from '../executor.js';
import type { TaskHandlerRegistry } from '../task-handler-registry.js';
import { runTask } from '../task-runner.js';
import type { WorkflowStore } from '../workflow-store.js';
import { cancelChannel, DEFAULT_QUEUE_PREFIX, DEFAULT_TASK_QUEUE } from './bullmq-executor.js';
import { runTaskInThread, type TaskHandlersRef } from './task-thread.js';

/** Options of {@link startWorker}. */
export interface TaskWorkerOptions {
  /** `redis://HOST:PORT[/DB]`. */
  redisUrl: string;
  /** @defaultValue {@link DEFAULT_TASK_QUEUE} */
  queue?: string;
  /** Must match the executors'. @defaultValue {@link DEFAULT_QUEUE_PREFIX} */
  prefix?: string;
  /** Tasks run at once by this worker. @defaultValue 1 */
  concurrency?: number;
  /** Where task log lines go (the metadata store's workflows). */
  logs: Pick<WorkflowStore, 'appendLogs'>;
  /** Where the executor's own problems go (task log lines that could not be stored). @defaultValue the process logger's `workflow` child */
  logger?: Logger;
  /**
   * Where the task handlers beyond shell and module are, for the worker threads that run them
   * (see {@link runTaskInThread}); without it (and without {@link handlers}) those kinds fail on
   * this worker.
   */
  taskHandlersRef?: TaskHandlersRef;
  /**
   * The task handlers, run on the worker's own event loop, which long synchronous work stalls
   * (lock renewal included): for tests; prefer {@link taskHandlersRef}.
   */
  handlers?: TaskHandlerRegistry;
  /** Reported as the outcome's worker. @defaultValue `host/pid/random` */
  workerId?: string;
  /**
   * How long a task's lock lasts without renewal (renewed every half of it while the task
   * runs: that is the worker's heartbeat). With {@link stalledIntervalMs}, bounds how soon
   * another worker takes over the task of a worker that died: within about
   * `lockDurationMs + 2 × stalledIntervalMs`. @defaultValue 10000
   */
  lockDurationMs?: number;
  /** How often workers look for tasks whose lock expired. @defaultValue 2500 */
  stalledIntervalMs?: number;
  /**
   * Times a task may be taken over after its worker died before it fails with "worker died".
   * @defaultValue 1
   */
  maxStalledCount?: number;
  /**
   * On {@link TaskWorker.close}, how long running tasks may finish before they are stopped
   * and handed back to the queue for another worker. @defaultValue 30000
   */
  shutdownGraceMs?: number;
  /** Between SIGTERM and SIGKILL when a shell task is stopped. @defaultValue 5000 */
  killGraceMs?: number;
}

/** A running worker. */
export interface TaskWorker {
  readonly id: string;
  /** Resolves once connected and waiting for tasks. */
  ready(): Promise<void>;
  /**
   * Stops taking tasks, lets running ones finish for up to `graceMs`, then stops the rest and
   * puts them back in the queue for another worker; closes the connections.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Why a task was stopped when the worker shut down: it goes back to the queue, not failed. */
const SHUTDOWN = 'the worker is shutting down';

/**
 * Starts a BullMQ worker that runs task attempts ({@link TaskJob}) from the queue with
 * {@link runTask} and completes each job with its {@link TaskOutcome}: a task that fails is a
 * completed job with a failed outcome; a BullMQ failure means the worker itself failed. Lock
 * renewal is the heartbeat: a killed worker's task is taken by another worker once its lock
 * expires (see {@link TaskWorkerOptions.lockDurationMs}).
 *
 * @example
 * const worker = await startWorker({ redisUrl: 'redis://127.0.0.1:6379', logs: store.workflows, concurrency: 4 });
 * // … later
 * await worker.close();
 */
export async function startWorker(options: TaskWorkerOptions): Promise<TaskWorker> {
  const queue = options.queue ?? DEFAULT_TASK_QUEUE;
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new InvalidArgumentError(
      'concurrency',
      `must be a whole number of at least 1, got ${concurrency}`,
    );
  const id = options.workerId ?? `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const lockDuration = options.lockDurationMs ?? 10_000;
  const shutdownGraceMs = options.shutdownGraceMs ?? 30_000;

  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // BullMQ reports through the worker's 'error' event
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  /** Aborted after the shutdown grace: running tasks stop and go back to the queue. */
  const shutdown = new AbortController();

  const process_ = async (
    job: Job<TaskJob, TaskOutcome>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<TaskOutcome> => {
    const signals = [shutdown.signal, ...(signal === undefined ? [] : [signal])];
    const env = {
      logs: options.logs,
      worker: id,
      signal: AbortSignal.any(signals),
      killGraceMs: options.killGraceMs,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    };
    const kind = job.data.kind;
    // Shell tasks already run in a child process. Module and pipeline tasks run on a thread of
    // their own, so that a long synchronous fit cannot stall lock renewal: a lock that lapses
    // while the task still runs hands it to a second worker.
    const inThread = kind !== 'shell' && (kind === 'module' || options.handlers === undefined);
    const outcome = inThread
      ? await runTaskInThread(job.data, {
          ...env,
          ...(options.taskHandlersRef === undefined
            ? {}
            : { taskHandlers: options.taskHandlersRef }),
        })
      : await runTask(job.data, { ...env, handlers: options.handlers });
    if (shutdown.signal.aborted && token !== undefined) {
      // Not the task's fault: give it to another worker, without using up a retry.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    return outcome;
  };
  const worker = new Worker<TaskJob, TaskOutcome>(queue, process_, {
    connection: redis,
    prefix,
    name: id,
    concurrency,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? 2_500,
    maxStalledCount: options.maxStalledCount ?? 1,
    autorun: false,
  });
  worker.on('error', (error) => {
    // A lock that could not be renewed means another worker may already run the task: stop ours.
    const lost = /could not renew lock for job (.+)$/.exec(error.message);
    if (lost !== null) worker.cancelJob(lost[1], 'the worker lost the task\u2019s lock');
  });

  const channel = cancelChannel(prefix, queue);
  subscriber.on('message', (from: string, jobId: string) => {
    if (from === channel) worker.cancelJob(jobId, 'cancelled by its run');
  });
  await subscriber.subscribe(channel);
  void worker.run().catch(() => undefined);
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  const close = (closeOptions: { graceMs?: number } = {}): Promise<void> => {
    closing ??= (async () => {
      const grace = setTimeout(
        () => shutdown.abort(new Error(SHUTDOWN)),
        closeOptions.graceMs ?? shutdownGraceMs,
      );
      try {
        await worker.close();
      } finally {
        clearTimeout(grace);
        await subscriber.quit().catch(() => subscriber.disconnect());
        await redis.quit().catch(() => redis.disconnect());
      }
    })();
    return closing;
  };
  return { id, ready: () => worker.waitUntilReady().then(() => undefined), close };
}
