import { InvalidArgumentError, KibanError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Executor, TaskJob, TaskOutcome } from '../executor.js';
import type { TaskHandlerRegistry } from '../task-handler-registry.js';
import { runTask } from '../task-runner.js';
import type { WorkflowStore } from '../workflow-store.js';
import { runTaskInThread, type TaskHandlersRef } from './task-thread.js';

/** Options of {@link InlineExecutor}. */
export interface InlineExecutorOptions {
  /** Where task log lines go. */
  logs: Pick<WorkflowStore, 'appendLogs'>;
  /** Attempts running at once; further ones wait their turn in submission order. @defaultValue Infinity */
  concurrency?: number;
  /**
   * Where the task handlers beyond shell and module are. When given, module and pipeline tasks
   * run on a worker thread of their own ({@link runTaskInThread}), so that a long synchronous fit
   * does not stall this process (the run's heartbeat, an HTTP server). Takes precedence over
   * {@link handlers}.
   */
  taskHandlersRef?: TaskHandlersRef;
  /**
   * The task handlers, run on this thread (tests, embedding). Without either option only shell
   * and module tasks run. @defaultValue shell and module
   */
  handlers?: TaskHandlerRegistry;
  /** Between SIGTERM and SIGKILL when a shell task is stopped. @defaultValue 5000 */
  killGraceMs?: number;
  /** Where the executor's own problems go (task log lines that could not be stored). @defaultValue the process logger's `workflow` child */
  logger?: Logger;
}

/**
 * Runs attempts in this process (shell tasks as child processes): the embedded default, for
 * `kiban demo`, laptops and tests. Outcomes name the worker `inline`.
 *
 * @example
 * const executor = new InlineExecutor({ logs: store.workflows, concurrency: 4 });
 * const outcome = await executor.execute(job);
 */
export class InlineExecutor implements Executor {
  readonly name = 'inline';
  readonly options: Readonly<InlineExecutorOptions>;
  private readonly limit: number;
  private running = 0;
  private readonly queued: (() => void)[] = [];
  /** Aborts every attempt in flight on close, so no child process outlives the executor. */
  private readonly closing = new AbortController();

  constructor(options: InlineExecutorOptions) {
    const limit = options.concurrency ?? Infinity;
    if (!(limit >= 1))
      throw new InvalidArgumentError('concurrency', `must be at least 1, got ${limit}`);
    this.limit = limit;
    this.options = Object.freeze({ ...options });
  }

  async execute(job: TaskJob, options: { signal?: AbortSignal } = {}): Promise<TaskOutcome> {
    if (this.closing.signal.aborted) throw new KibanError('INTERNAL', 'executor inline is closed');
    const signal =
      options.signal === undefined
        ? this.closing.signal
        : AbortSignal.any([options.signal, this.closing.signal]);
    if (!(await this.acquire(signal))) {
      return {
        status: 'failed',
        error: 'cancelled before it started',
        output: {},
        worker: this.name,
      };
    }
    try {
      const env = {
        logs: this.options.logs,
        worker: this.name,
        signal,
        killGraceMs: this.options.killGraceMs,
        ...(this.options.logger === undefined ? {} : { logger: this.options.logger }),
      };
      if (job.kind !== 'shell' && this.options.taskHandlersRef !== undefined)
        return await runTaskInThread(job, { ...env, taskHandlers: this.options.taskHandlersRef });
      return await runTask(job, {
        ...env,
        ...(this.options.handlers === undefined ? {} : { handlers: this.options.handlers }),
      });
    } finally {
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('the executor closed'));
  }

  /** Waits for a free slot; false when `signal` aborts first. */
  private acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const start = (): void => {
        signal.removeEventListener('abort', giveUp);
        this.running++;
        resolve(true);
      };
      const giveUp = (): void => {
        const at = this.queued.indexOf(start);
        if (at >= 0) this.queued.splice(at, 1);
        resolve(false);
      };
      signal.addEventListener('abort', giveUp, { once: true });
      this.queued.push(start);
    });
  }

  private release(): void {
    this.running--;
    this.queued.shift()?.();
  }
}
