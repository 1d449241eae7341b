import type { WorkflowDefinition } from './workflow-definition.js';

/** Where a run is in its life. `running` runs have an owner (the process driving them). */
export type WorkflowRunStatus = 'running' | 'succeeded' | 'failed';

/** Why a run exists. */
export type RunTrigger = 'manual' | 'schedule' | 'backfill';

/**
 * Where a task is within its run:
 * - `pending`: waiting for the tasks it needs;
 * - `running`: an attempt is in progress;
 * - `retrying`: an attempt failed and another is due at `nextAttemptAt`;
 * - `succeeded` / `failed`: final (failed after its last allowed attempt);
 * - `upstream_failed`: will not run because a task it needs failed.
 */
export type TaskState =
  | 'pending'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'upstream_failed';

/** Outcome of one attempt; `interrupted` means the process running it died. */
export type AttemptStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

/** One run of a workflow for one logical date. */
export interface WorkflowRun {
  id: string;
  workflow: string;
  /** The date the run is for (ISO-8601 date-time, UTC), e.g. the schedule's fire time. */
  logicalDate: string;
  trigger: RunTrigger;
  status: WorkflowRunStatus;
  /** Parameter values the run was started with (overrides of the workflow's params). */
  params: Record<string, string | number | boolean>;
  /** The workflow as it was when the run started, so a resumed run does what it began doing. */
  definition: WorkflowDefinition;
  /** `workflow@fireTime` for scheduled runs: unique, so two schedulers cannot both start one. */
  scheduleKey: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  error: string | null;
  /** The process driving the run (`host/pid/nonce`), while it runs. */
  owner: string | null;
  /** Last sign of life from the owner; a run whose owner is silent for a lease is orphaned. */
  heartbeatAt: Date | null;
}

/** A task within a run. */
export interface TaskRun {
  runId: string;
  task: string;
  status: TaskState;
  /** Attempts started so far (0 before the first). */
  attempt: number;
  /** Attempts that failed (interrupted ones do not count against the retry budget). */
  failures: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  nextAttemptAt: Date | null;
  error: string | null;
  /** What the last successful attempt returned (figures, paths), JSON. */
  output: Record<string, unknown>;
}

/** One attempt at a task. */
export interface TaskAttempt {
  runId: string;
  task: string;
  attempt: number;
  status: AttemptStatus;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
  /** Who ran it: `inline` or a worker id. */
  worker: string | null;
}

/** One line a task wrote (stdout, stderr, or through `ctx.log`). */
export interface LogLine {
  /** Increasing per store; pass the last one seen as `afterSeq` to follow a log. */
  seq: number;
  runId: string;
  task: string;
  attempt: number;
  at: Date;
  stream: 'stdout' | 'stderr' | 'log';
  line: string;
}

/** The fields of a run that change after it is created. */
export type RunPatch = Partial<Pick<WorkflowRun, 'status' | 'finishedAt' | 'error'>>;

/** The fields of a task that the engine changes. */
export type TaskPatch = Partial<
  Pick<
    TaskRun,
    | 'status'
    | 'attempt'
    | 'failures'
    | 'startedAt'
    | 'finishedAt'
    | 'nextAttemptAt'
    | 'error'
    | 'output'
  >
>;

/**
 * Workflow runs, task states, attempts and logs, in the metadata store's database (SQLite or
 * PostgreSQL). Every write is one statement or one transaction, so a process killed at any
 * point leaves a consistent record that another process can resume from.
 */
export interface WorkflowStore {
  /**
   * Records a new run in status `running` with every task `pending`, owned by `run.owner`.
   * Returns false (and writes nothing) when `scheduleKey` is already taken: that is how two
   * schedulers agree on who starts a scheduled run.
   */
  createRun(run: {
    id: string;
    workflow: string;
    logicalDate: string;
    trigger: RunTrigger;
    params: Record<string, string | number | boolean>;
    definition: WorkflowDefinition;
    scheduleKey?: string | null;
    owner: string;
    createdAt: Date;
  }): Promise<boolean>;
  getRun(id: string): Promise<WorkflowRun | null>;
  /** Newest first (by createdAt, then id). @defaultValue limit 50 */
  listRuns(options?: {
    workflow?: string;
    status?: WorkflowRunStatus;
    logicalDate?: string;
    limit?: number;
  }): Promise<WorkflowRun[]>;
  /** The newest run of each workflow that has one. */
  latestRunPerWorkflow(): Promise<WorkflowRun[]>;
  /** The newest run with `trigger: 'schedule'` of a workflow, or null: where catch-up starts from. */
  latestScheduledRun(workflow: string): Promise<WorkflowRun | null>;
  updateRun(id: string, patch: RunPatch): Promise<void>;

  /**
   * Makes `owner` the run's owner if the run is `running` and has no owner, is already owned by
   * `owner`, or its owner's heartbeat is older than `staleBefore` (or `force`). Atomic
   * (compare-and-set); returns whether `owner` now owns it. Sets `heartbeatAt` to now.
   */
  claimRun(
    id: string,
    owner: string,
    options: { staleBefore: Date; force?: boolean },
  ): Promise<boolean>;
  /** Refreshes the owner's heartbeat; false when the run is no longer owned by `owner`. */
  heartbeat(id: string, owner: string): Promise<boolean>;
  /** Clears the owner (when the run finishes or the owner shuts down cleanly). */
  releaseRun(id: string, owner: string): Promise<void>;

  /** Tasks of a run, in definition order. */
  getTasks(runId: string): Promise<TaskRun[]>;
  updateTask(runId: string, task: string, patch: TaskPatch): Promise<void>;

  /** Records an attempt starting (status `running`). */
  startAttempt(attempt: {
    runId: string;
    task: string;
    attempt: number;
    startedAt: Date;
    worker: string | null;
  }): Promise<void>;
  /**
   * Records an attempt's end. Only a `running` attempt changes: an attempt already marked
   * `interrupted` stays so when its late result arrives. Returns whether it changed.
   */
  finishAttempt(
    runId: string,
    task: string,
    attempt: number,
    end: {
      status: Exclude<AttemptStatus, 'running'>;
      finishedAt: Date;
      error?: string | null;
      worker?: string | null;
    },
  ): Promise<boolean>;
  /**
   * Records an attempt starting and applies `task` to its task, in one transaction (same errors
   * as startAttempt/updateTask): when either is refused, neither is written. One commit instead
   * of two for the engine's start of an attempt.
   */
  startTaskAttempt(
    attempt: {
      runId: string;
      task: string;
      attempt: number;
      startedAt: Date;
      worker: string | null;
    },
    task: TaskPatch,
  ): Promise<void>;
  /**
   * Ends a running attempt and applies `taskPatch` to its task, in one transaction. When the
   * attempt is not running (e.g. already interrupted) nothing is written and false is returned;
   * otherwise true. Same errors as finishAttempt/updateTask.
   */
  finishTaskAttempt(
    runId: string,
    task: string,
    attempt: number,
    end: {
      status: Exclude<AttemptStatus, 'running'>;
      finishedAt: Date;
      error?: string | null;
      worker?: string | null;
    },
    taskPatch: TaskPatch,
  ): Promise<boolean>;
  /** Attempts of a run (optionally one task), by task then attempt. */
  listAttempts(runId: string, task?: string): Promise<TaskAttempt[]>;

  appendLogs(
    runId: string,
    task: string,
    attempt: number,
    lines: { at: Date; stream: LogLine['stream']; line: string }[],
  ): Promise<void>;
  /** Log lines of a task in order; `attempt` filters, `afterSeq` follows. @defaultValue limit 1000 */
  readLogs(
    runId: string,
    task: string,
    options?: { attempt?: number; afterSeq?: number; limit?: number },
  ): Promise<LogLine[]>;
}
