import { mkdir } from 'node:fs/promises';
import type { LogFn, Logger } from '../core/log.js';
import { coreTaskRuns } from './core-task-runs.js';
import type { TaskJob, TaskOutcome } from './executor.js';
import {
  TaskFailedError,
  type TaskHandlerContext,
  type TaskHandlerLookup,
  type TaskHandlerRun,
} from './task-handler.js';
import { cancelledMessage, timedOutMessage } from './task-messages.js';
import type { LogLine, WorkflowStore } from './workflow-store.js';

export { cancelledMessage, timedOutMessage } from './task-messages.js';

/** Where and on whose behalf {@link runTask} runs an attempt. */
export interface TaskEnvironment {
  /** Receives the attempt's log lines, in batches. */
  logs: Pick<WorkflowStore, 'appendLogs'>;
  /** Reported as {@link TaskOutcome.worker}: `inline` or a worker id. */
  worker: string;
  /** Cancels the attempt: shell tasks are killed, module tasks see `ctx.signal` aborted. */
  signal?: AbortSignal;
  /**
   * The handler of each task kind; a kind it lacks fails. @defaultValue the shell and module
   * handlers only ({@link coreTaskRuns})
   */
  handlers?: TaskHandlerLookup;
  /** Between SIGTERM and SIGKILL when a shell task is stopped. @defaultValue 5000 */
  killGraceMs?: number;
  /**
   * Where problems of the runner itself go (log lines that could not be stored), with `runId`,
   * `task` and `attempt` as fields. @defaultValue the process logger's `workflow` child ({@link processLogger})
   */
  logger?: Logger;
}

/** Log lines are written when this many are buffered… */
export const LOG_BATCH_LINES = 200;
/** …or this long after the first unwritten one, whichever comes first. */
export const LOG_BATCH_MS = 200;

/**
 * Runs one attempt of a task in this process with the handler of its kind (shell tasks in a
 * child process group) and reports how it ended. Never rejects for the task's own failures: a
 * non-zero exit, a throw, a timeout, a cancellation or a kind without a handler all resolve
 * with `status: 'failed'` and a message; every line the task wrote is in `env.logs` before the
 * promise settles.
 *
 * @example
 * const outcome = await runTask(job, { logs: store.workflows, worker: 'inline', handlers });
 */
export async function runTask(job: TaskJob, env: TaskEnvironment): Promise<TaskOutcome> {
  const log = new LogBatcher(env.logs, job, env.logger ?? workflowLogger);
  const fail = (error: string): TaskOutcome => ({
    status: 'failed',
    error,
    output: {},
    worker: env.worker,
  });
  try {
    if (env.signal?.aborted) return fail(cancelledMessage(env.signal));
    await mkdir(job.workDir, { recursive: true });
    const handlers = env.handlers ?? coreTaskRuns();
    const handler = handlers.get(job.kind);
    if (handler === undefined) {
      // The wording predates the registry: operators and tests know it.
      throw new Error(
        `task "${job.task}": no pipeline step runner is configured for kind "${job.kind}" in this ${env.worker === 'inline' ? 'process' : 'worker'} (registered kinds: ${handlers.kinds().join(', ')})`,
      );
    }
    if (handler.stopsItself === true) {
      const output = await handler.run(
        job,
        handlerContext(job, env, log, env.signal ?? new AbortController().signal),
      );
      return { status: 'succeeded', output: toOutput(output), worker: env.worker };
    }
    return await runStoppable(handler, job, env, log);
  } catch (error) {
    if (error instanceof TaskFailedError) return { ...fail(error.message), output: error.output };
    log.push('stderr', errorText(error, true));
    return isPermanent(error)
      ? { ...fail(errorText(error, false)), retryable: false }
      : fail(errorText(error, false));
  } finally {
    await log.close();
  }
}

function handlerContext(
  job: TaskJob,
  env: TaskEnvironment,
  log: LogBatcher,
  signal: AbortSignal,
): TaskHandlerContext {
  return {
    runId: job.runId,
    workflow: job.workflow,
    task: job.task,
    attempt: job.attempt,
    logicalDate: job.logicalDate,
    params: job.params,
    workDir: job.workDir,
    log: (line) => {
      for (const part of String(line).split(/\r?\n/)) log.push('log', part);
    },
    signal,
    write: (stream, line) => log.push(stream, line),
    killGraceMs: env.killGraceMs ?? 5000,
  };
}

async function runStoppable(
  handler: TaskHandlerRun,
  job: TaskJob,
  env: TaskEnvironment,
  log: LogBatcher,
): Promise<TaskOutcome> {
  const controller = new AbortController();
  const ctx = handlerContext(job, env, log, controller.signal);
  await handler.prepare?.(job);

  // The task is not waited for after a timeout or cancellation: it sees its signal aborted and
  // whatever it still does is ignored, so a task that never checks the signal cannot hang the run.
  let stop: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolveStop) => {
    stop = (why) => {
      controller.abort(new Error(why));
      resolveStop(why);
    };
  });
  const onAbort = (): void => stop(cancelledMessage(env.signal!));
  env.signal?.addEventListener('abort', onAbort, { once: true });
  const timeout =
    job.timeoutMs === null
      ? undefined
      : setTimeout(() => stop(timedOutMessage(job.timeoutMs!)), job.timeoutMs);
  try {
    const call = async (): Promise<unknown> => handler.run(job, ctx);
    const result = await Promise.race([
      call().then((value) => ({ value })),
      stopped.then((why) => ({ why })),
    ]);
    if ('why' in result)
      return { status: 'failed', error: result.why, output: {}, worker: env.worker };
    return { status: 'succeeded', output: toOutput(result.value), worker: env.worker };
  } finally {
    clearTimeout(timeout);
    env.signal?.removeEventListener('abort', onAbort);
  }
}

/** Output must survive JSON (it travels through Redis and is stored as JSON): the same either way. */
function toOutput(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  const plain: unknown = JSON.parse(JSON.stringify(value));
  if (typeof plain === 'object' && plain !== null && !Array.isArray(plain))
    return plain as Record<string, unknown>;
  return { value: plain };
}

/**
 * Collects log lines and writes them in batches, one write at a time in order, so that a chatty
 * command costs a database write per {@link LOG_BATCH_LINES} lines rather than per line.
 */
class LogBatcher {
  private pending: { at: Date; stream: LogLine['stream']; line: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(
    private readonly logs: Pick<WorkflowStore, 'appendLogs'>,
    private readonly job: TaskJob,
    private readonly logger: Logger,
  ) {}

  push(stream: LogLine['stream'], line: string): void {
    this.pending.push({ at: new Date(), stream, line });
    if (this.pending.length >= LOG_BATCH_LINES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), LOG_BATCH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.writing.then(() =>
      this.logs
        .appendLogs(this.job.runId, this.job.task, this.job.attempt, batch)
        .catch((error: unknown) => {
          // Losing log lines must not fail the task; say so once, where an operator looks.
          if (!this.warned) {
            const { runId, task, attempt } = this.job;
            this.logger.warn(
              { runId, task, attempt, err: error },
              `could not write the log of ${runId}/${task}#${attempt}: ${errorText(error, false)}`,
            );
          }
          this.warned = true;
        }),
    );
  }

  async close(): Promise<void> {
    this.flush();
    await this.writing;
  }
}

/**
 * Invalid params or data (INVALID_ARGUMENT, INVALID_DATA) fail the same way on every attempt.
 * By code rather than class: a task module may load its own copy of kiban's errors.
 */
function isPermanent(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && (code === 'INVALID_ARGUMENT' || code === 'INVALID_DATA');
}

function errorText(error: unknown, withStack: boolean): string {
  if (error instanceof Error)
    return withStack && error.stack !== undefined ? error.stack : error.message;
  return String(error);
}

/**
 * The process logger's `workflow` child, loaded on first use: a task thread that has nothing to
 * report then never loads pino (about 18 ms of every thread's start). Entries are written once
 * the module has loaded, in order.
 */
const workflowLogger: Logger = lazyWorkflowLogger({});

function lazyWorkflowLogger(bindings: Record<string, unknown>): Logger {
  let loaded: Promise<Logger> | undefined;
  const logger = (): Promise<Logger> =>
    (loaded ??= import('../core/log.js').then((m) =>
      m.childLogger(m.processLogger(), 'workflow').child(bindings),
    ));
  const at =
    (level: 'error' | 'warn' | 'info' | 'debug'): LogFn =>
    (...args: unknown[]) => {
      void logger().then((l) => (l[level] as (...a: unknown[]) => void)(...args));
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (more) => lazyWorkflowLogger({ ...bindings, ...more }),
  };
}
