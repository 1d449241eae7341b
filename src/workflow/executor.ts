import type { TaskKind } from './workflow-definition.js';

/**
 * One attempt at one task, with every `${…}` already substituted: everything a process needs
 * to run it, as plain JSON (it travels through Redis to `kiban worker` processes).
 */
export interface TaskJob {
  runId: string;
  workflow: string;
  task: string;
  /** 1 for the first attempt. */
  attempt: number;
  kind: TaskKind;
  /** Shell command, for `shell` tasks, as written: parameters are never pasted into it. */
  run?: string;
  /**
   * For `shell` tasks: the run's parameter values (declared defaults, then the run's own), which
   * reach the command as `KIBAN_PARAM_<NAME>` environment variables.
   */
  runParams?: Record<string, string | number | boolean>;
  /** Module path (absolute, or relative to `baseDir`) and export, for `module` tasks. */
  module?: string;
  export?: string;
  /** The task's parameters after substitution. */
  params: Record<string, unknown>;
  /** The run's logical date, ISO-8601. */
  logicalDate: string;
  /** Kill the attempt after this long; null for no limit. */
  timeoutMs: number | null;
  /** Directory of the workflow file: working directory of shell tasks and base of module paths. */
  baseDir: string;
  /**
   * Directory private to the run where tasks hand files to each other (aggregate writes the
   * interactions there, train reads them). The same path on every worker, so multi-machine
   * runs need it on a shared file system.
   */
  workDir: string;
}

/** How an attempt ended. A task failing is an outcome, not an exception. */
export interface TaskOutcome {
  status: 'succeeded' | 'failed';
  /** Why it failed (message, or the end of stderr for shell tasks). */
  error?: string;
  /** What the task returned (figures, paths), JSON; stored on the task. */
  output: Record<string, unknown>;
  /** Who ran it: `inline` or the worker's id. */
  worker: string;
  /**
   * False when another attempt cannot succeed (the task's params or data are invalid:
   * INVALID_ARGUMENT, INVALID_DATA), so the engine does not retry it. Absent means retryable.
   */
  retryable?: boolean;
}

/**
 * Runs task attempts somewhere: in this process ({@link InlineExecutor}) or on `kiban worker`
 * processes through a BullMQ queue on Redis. The engine decides what runs when (dependencies,
 * retries, timeouts are passed along); an executor only runs what it is given, records the
 * attempt's log lines in the workflow store, and reports the outcome. `execute` rejects only
 * when the executor itself is broken (queue unreachable, closed); a task that throws, exits
 * non-zero or times out resolves with `status: 'failed'`.
 */
export interface Executor {
  /** For logs and run records, e.g. `inline` or `bullmq kiban-tasks`. */
  readonly name: string;
  /** Runs one attempt. `signal` aborts it (the run was cancelled or its owner is stopping). */
  execute(job: TaskJob, options?: { signal?: AbortSignal }): Promise<TaskOutcome>;
  /** Stops taking work and releases connections; attempts in flight are abandoned. */
  close(): Promise<void>;
}

/**
 * What a `module` task's export receives. It returns (or resolves to) an optional JSON object
 * that becomes the task's output; throwing fails the attempt.
 *
 * @example
 * export async function report(ctx: TaskContext) {
 *   ctx.log(`report for ${ctx.logicalDate}`);
 *   return { rows: 42 };
 * }
 */
export interface TaskContext {
  runId: string;
  workflow: string;
  task: string;
  attempt: number;
  logicalDate: string;
  params: Record<string, unknown>;
  workDir: string;
  /** Writes a line to the task's log (visible in `kiban workflow logs` and the dashboard). */
  log(line: string): void;
  /** Aborted on timeout or cancellation; long work should check it. */
  signal: AbortSignal;
}
