import type { z } from 'zod';
import type { TaskContext, TaskJob } from './executor.js';

/**
 * What a {@link TaskHandler} runs with: the task's context, plus what only the task runner
 * itself knows (its log streams and the kill grace), for handlers that run a child process.
 */
export interface TaskHandlerContext extends TaskContext {
  /** Writes one line to the attempt's log under `stream`. */
  write(stream: 'stdout' | 'stderr' | 'log', line: string): void;
  /** Between SIGTERM and SIGKILL when a child process is stopped, in milliseconds. */
  killGraceMs: number;
}

/**
 * One kind of workflow task (`shell`, `module`, `train`, `stage`, …): the schema its `params`
 * are validated with (by `kiban workflow validate`, the workflow API and the run itself) and
 * what runs an attempt. Registered with a {@link TaskHandlerRegistry}; the workflow engine knows
 * no kind beyond shell and module, the composition root (`src/app`) registers the rest.
 */
export interface TaskHandler {
  /** The `kind:` of the tasks it runs; letters, digits, `-` and `_`. */
  readonly kind: string;
  /** The task's `params`, as written after substitution. Unknown keys should be refused (`.strict()`). */
  readonly params: z.ZodType<Record<string, unknown>>;
  /** Whether the task names a `module:` (and `export:`, default `"default"`), required. @defaultValue false */
  readonly takesModule?: boolean;
  /**
   * The message for a param key the schema does not know. @defaultValue `not a parameter of
   * <kind> tasks; known: <keys>`
   */
  readonly unknownParamMessage?: string;
  /**
   * Whether {@link run} enforces the attempt's timeout and cancellation itself and settles only
   * once the work has stopped (a child process that must be killed and reaped). Otherwise the
   * task runner stops waiting on a timeout or cancellation and aborts `ctx.signal`.
   * @defaultValue false
   */
  readonly stopsItself?: boolean;
  /**
   * Work done before the attempt's clock starts (loading the task's code), so that it does not
   * count against the task's timeout; its throw fails the attempt as a throw of {@link run} does.
   */
  prepare?(job: TaskJob): Promise<void>;
  /**
   * Runs one attempt. What it resolves with becomes the task's output (an object as is, any
   * other value as `{ value }`, nothing as `{}`); a throw fails the attempt with its message
   * ({@link TaskFailedError} to also give an output). With {@link stopsItself}, `ctx.signal` is the
   * run's cancellation and the timeout is `job.timeoutMs`; otherwise `ctx.signal` aborts on either.
   */
  run(job: TaskJob, ctx: TaskHandlerContext): Promise<unknown>;
}

/**
 * What running a task needs of its handler: no params schema, so a worker thread that only runs
 * tasks (`executors/task-thread-worker.ts`) does not load zod (about 45 ms of every thread's
 * start). A {@link TaskHandler} is one.
 */
export type TaskHandlerRun = Pick<TaskHandler, 'kind' | 'stopsItself' | 'prepare' | 'run'>;

/** Finds the handler of a kind, for running: a `TaskHandlerRegistry` is one. */
export interface TaskHandlerLookup {
  get(kind: string): TaskHandlerRun | undefined;
  /** The kinds it has, for messages. */
  kinds(): string[];
}

/** A task attempt failed with this message and output (an exit code); nothing is logged for it. */
export class TaskFailedError extends Error {
  constructor(
    message: string,
    readonly output: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'TaskFailedError';
  }
}

/**
 * Where a worker thread finds the task handlers beyond shell and module: a module whose
 * export, called with `options` (JSON), returns (or resolves to) a `TaskHandlerRegistry`.
 * A registry of functions cannot cross into a thread; this reference can, and the thread
 * rebuilds the registry from it.
 */
export interface TaskHandlersRef {
  /** `file:` URL of the module. */
  module: string;
  /** Name of the factory export. */
  export: string;
  /** Passed to the factory. */
  options: unknown;
}
