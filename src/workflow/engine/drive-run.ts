import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError } from '../../core/errors.js';
import type { Executor, TaskOutcome } from '../executor.js';
import {
  errorExcerpt,
  notifyAll,
  type Notifier,
  type WorkflowEvent,
} from '../notifiers/notifier.js';
import type { TaskDefinition } from '../workflow-definition.js';
import type {
  TaskPatch,
  TaskRun,
  TaskState,
  WorkflowRun,
  WorkflowStore,
} from '../workflow-store.js';
import { buildTaskJob } from './task-job.js';

/** A change worth showing on a console while a run is driven. */
export type DriveEvent =
  | {
      type: 'task';
      runId: string;
      task: string;
      status: TaskState;
      attempt: number;
      error?: string | null;
      nextAttemptAt?: Date | null;
    }
  | { type: 'waiting'; runId: string; workflow: string }
  | { type: 'run'; runId: string; status: WorkflowRun['status']; error?: string | null };

/** What {@link driveRun} needs. */
export interface DriveOptions {
  store: WorkflowStore;
  executor: Executor;
  /** The owner id under which the run was claimed; heartbeats are sent under it. */
  owner: string;
  /** Root of the runs' work directories. */
  workRoot: string;
  notifiers: readonly Notifier[];
  /** Dashboard link for notifications. */
  runUrl?: (runId: string) => string;
  /** How often the owner heartbeat is refreshed. */
  heartbeatMs: number;
  /** How often `waitFor` dependencies are checked. */
  waitPollMs: number;
  onEvent?: (event: DriveEvent) => void;
  /**
   * Stops driving (the process is shutting down): attempts in flight are aborted, the run is
   * left `running` and released, so another process resumes it at once.
   */
  signal?: AbortSignal;
}

const FINAL_FAILURES: ReadonlySet<TaskState> = new Set(['failed', 'upstream_failed']);

/**
 * Drives a claimed run to its end: starts each task once the tasks it needs have succeeded,
 * retries failed attempts with exponential backoff up to the task's retry count, marks tasks
 * below a final failure `upstream_failed`, and records every state change in the store before
 * acting on it, so that a process killed at any point can be resumed: attempts found `running`
 * at start belonged to a dead process and are marked `interrupted` and run again (without
 * counting against the retry budget). Notifies on failure, success and overdue runs as the
 * workflow asks. Resolves with the run as stored at the end (still `running` when stopped by
 * `signal` or when another process took the run over).
 */
export async function driveRun(runId: string, options: DriveOptions): Promise<WorkflowRun> {
  const { store, executor, owner } = options;
  const initial = await store.getRun(runId);
  if (initial === null) throw new NotFoundError(`workflow run "${runId}"`);
  const run = initial;
  const definition = run.definition;
  const tasks = new Map((await store.getTasks(runId)).map((t) => [t.task, t]));
  const emit = options.onEvent ?? (() => {});
  const abort = new AbortController();
  // Every attempt in flight listens on it; a wide DAG has hundreds.
  setMaxListeners(0, abort.signal);
  const stopped = (): boolean => abort.signal.aborted;
  let lost = false;
  let fatal: unknown = null;
  let firstFailure: { task: string; attempt: number; error: string } | null = null;

  let wakeUp: () => void = () => {};
  let wakeSignal = new Promise<void>((r) => (wakeUp = r));
  const wake = (): void => wakeUp();
  const onStop = (): void => {
    abort.abort();
    wake();
  };
  options.signal?.addEventListener('abort', onStop, { once: true });
  if (options.signal?.aborted) onStop();

  // Deliberately not unref'd: while a run is driven, its heartbeat is what keeps the process
  // alive. Between attempts (a retry waiting out its backoff, a `waitFor` poll) nothing else
  // may be pending, and a process whose event loop empties exits with the run left `running`.
  const heartbeat = setInterval(() => {
    store.heartbeat(runId, owner).then(
      (ok) => {
        if (!ok) {
          lost = true;
          onStop();
        }
      },
      () => {}, // a missed beat is not fatal; the next one may get through
    );
  }, options.heartbeatMs);

  const emitTask = (name: string): void => {
    const t = tasks.get(name)!;
    emit({
      type: 'task',
      runId,
      task: name,
      status: t.status,
      attempt: t.attempt,
      error: t.error,
      nextAttemptAt: t.nextAttemptAt,
    });
  };
  const setTask = async (name: string, patch: TaskPatch): Promise<void> => {
    Object.assign(tasks.get(name)!, patch);
    await store.updateTask(runId, name, patch);
    emitTask(name);
  };

  const overdue = scheduleOverdue(run, options, () => stopped());
  const inflight = new Map<string, Promise<void>>();

  const launch = (task: TaskDefinition, t: TaskRun): void => {
    const attempt = t.attempt + 1;
    // Marked locally before any await, so the loop cannot start the same task twice.
    t.status = 'running';
    t.attempt = attempt;
    const work = (async () => {
      const startedAt = new Date();
      // The task's state and its attempt in one commit.
      const running: TaskPatch = {
        status: 'running',
        attempt,
        startedAt: t.startedAt ?? startedAt,
        nextAttemptAt: null,
        error: null,
      };
      Object.assign(t, running);
      await store.startTaskAttempt(
        { runId, task: task.name, attempt, startedAt, worker: null },
        running,
      );
      emitTask(task.name);
      let outcome: TaskOutcome;
      try {
        outcome = await executor.execute(buildTaskJob(run, task, attempt, options.workRoot), {
          signal: abort.signal,
        });
      } catch (error) {
        outcome = {
          status: 'failed',
          error: `executor ${executor.name}: ${messageOf(error)}`,
          output: {},
          worker: executor.name,
        };
      }
      // Stopping: leave the attempt `running`; whoever resumes marks it interrupted.
      if (stopped()) return;
      const finishedAt = new Date();
      let patch: TaskPatch;
      let failure: { task: string; attempt: number; error: string } | null = null;
      if (outcome.status === 'succeeded') {
        patch = { status: 'succeeded', finishedAt, output: outcome.output, error: null };
      } else {
        const failures = t.failures + 1;
        const error = outcome.error ?? 'failed';
        // A task whose params or data are invalid fails again on every attempt: not retried.
        if (failures <= task.retry.count && outcome.retryable !== false) {
          const delay = Math.min(
            task.retry.backoffMs * 2 ** (failures - 1),
            task.retry.maxBackoffMs,
          );
          patch = {
            status: 'retrying',
            failures,
            error,
            nextAttemptAt: new Date(finishedAt.getTime() + delay),
          };
        } else {
          failure = { task: task.name, attempt, error };
          patch = { status: 'failed', failures, error, finishedAt };
        }
      }
      // The attempt's end and the task's state in one commit.
      const end = {
        status: outcome.status,
        finishedAt,
        error: outcome.error ?? null,
        worker: outcome.worker,
      };
      if (!(await store.finishTaskAttempt(runId, task.name, attempt, end, patch))) {
        // The attempt is no longer running: another process took the run over and marked it
        // interrupted. Leave the task to that process, and stop driving the run.
        lost = true;
        onStop();
        return;
      }
      if (failure !== null) firstFailure ??= failure;
      Object.assign(t, patch);
      emitTask(task.name);
    })()
      .catch((error: unknown) => {
        // The store failed under us: stop, leaving the run resumable.
        fatal ??= error;
        onStop();
      })
      .finally(() => {
        inflight.delete(task.name);
        wake();
      });
    inflight.set(task.name, work);
  };

  try {
    // Attempts left `running` by a dead owner.
    for (const t of tasks.values()) {
      if (t.status !== 'running') continue;
      await store.finishAttempt(runId, t.task, t.attempt, {
        status: 'interrupted',
        finishedAt: new Date(),
        error: 'the process running this attempt stopped',
      });
      await setTask(t.task, { status: 'retrying', nextAttemptAt: new Date() });
    }
    await waitForDependencies(run, options, abort.signal, emit);

    while (!stopped()) {
      const now = Date.now();
      let nextWakeAt = Number.POSITIVE_INFINITY;
      // Definition order is topological, so upstream failures propagate in one pass.
      for (const task of definition.tasks) {
        const t = tasks.get(task.name)!;
        if (t.status === 'pending') {
          const needs = task.needs.map((n) => tasks.get(n)!.status);
          if (needs.some((s) => FINAL_FAILURES.has(s)))
            await setTask(task.name, { status: 'upstream_failed', finishedAt: new Date() });
          else if (needs.every((s) => s === 'succeeded')) launch(task, t);
        } else if (t.status === 'retrying') {
          const due = t.nextAttemptAt?.getTime() ?? 0;
          if (due <= now) launch(task, t);
          else nextWakeAt = Math.min(nextWakeAt, due);
        }
      }
      if (inflight.size === 0 && nextWakeAt === Number.POSITIVE_INFINITY) break;
      const waits: Promise<unknown>[] = [wakeSignal];
      // A retry's backoff is work still to do: its timer keeps the process alive (as the heartbeat does).
      const backoff = new AbortController();
      if (nextWakeAt !== Number.POSITIVE_INFINITY)
        waits.push(
          sleep(Math.max(0, nextWakeAt - Date.now()), undefined, { signal: backoff.signal }).catch(
            () => {},
          ),
        );
      await Promise.race(waits);
      backoff.abort(); // woken early (an attempt ended): drop the timer
      wakeSignal = new Promise<void>((r) => (wakeUp = r));
    }
    await Promise.all(inflight.values());
  } finally {
    clearInterval(heartbeat);
    overdue?.();
    options.signal?.removeEventListener('abort', onStop);
  }
  if (fatal !== null) throw fatal;
  if (stopped()) {
    if (!lost) await store.releaseRun(runId, owner);
    return (await store.getRun(runId))!;
  }

  const failed = [...tasks.values()].some((t) => FINAL_FAILURES.has(t.status));
  const finishedAt = new Date();
  // A run resumed after a crash may hold a failure recorded before it.
  const recorded = [...tasks.values()].find((t) => t.status === 'failed');
  const failure =
    (firstFailure as { task: string; attempt: number; error: string } | null) ??
    (recorded === undefined
      ? null
      : { task: recorded.task, attempt: recorded.attempt, error: recorded.error ?? 'failed' });
  const error = failed
    ? failure === null
      ? 'a task failed'
      : `task ${failure.task} failed: ${errorExcerpt(failure.error, 2000)}`
    : null;
  await store.updateRun(runId, { status: failed ? 'failed' : 'succeeded', finishedAt, error });
  await store.releaseRun(runId, owner);
  emit({ type: 'run', runId, status: failed ? 'failed' : 'succeeded', error });

  const wants = definition.notify.on;
  const base = eventBase(run, options, finishedAt.getTime() - run.createdAt.getTime());
  if (failed && wants.includes('failure')) {
    await notifyAll(options.notifiers, {
      ...base,
      type: 'run-failed',
      ...(failure === null
        ? {}
        : { task: failure.task, attempt: failure.attempt, error: failure.error }),
    });
  } else if (!failed && wants.includes('success')) {
    await notifyAll(options.notifiers, { ...base, type: 'run-succeeded' });
  }
  return (await store.getRun(runId))!;
}

/** Polls until every `waitFor` workflow has a successful run for this logical date. */
async function waitForDependencies(
  run: WorkflowRun,
  options: DriveOptions,
  signal: AbortSignal,
  emit: (e: DriveEvent) => void,
): Promise<void> {
  let announced = false;
  for (const { workflow } of run.definition.waitFor) {
    while (!signal.aborted) {
      const done = await options.store.listRuns({
        workflow,
        logicalDate: run.logicalDate,
        status: 'succeeded',
        limit: 1,
      });
      if (done.length > 0) break;
      if (!announced) emit({ type: 'waiting', runId: run.id, workflow });
      announced = true;
      await sleep(options.waitPollMs, undefined, { signal }).catch(() => {});
    }
  }
}

/**
 * Arms the overdue notification, if the workflow asks for one; returns what cancels it (called
 * when driving ends).
 */
function scheduleOverdue(
  run: WorkflowRun,
  options: DriveOptions,
  stopped: () => boolean,
): (() => void) | undefined {
  const expected = run.definition.expectedDurationMs;
  if (expected === null || !run.definition.notify.on.includes('overdue')) return undefined;
  const dueAt = run.createdAt.getTime() + expected;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    timer = setTimeout(fire, Math.max(1, dueAt - Date.now()));
    // Only a notification: the heartbeat keeps the process alive while the run is driven.
    timer.unref();
  };
  // Timers run on a monotonic clock and may fire a millisecond before Date.now() reaches the
  // due time: then wait out the rest, so that no notification reports a run as overdue before
  // it is (durationMs below expectedDurationMs).
  const fire = (): void => {
    if (stopped()) return;
    const now = Date.now();
    if (now < dueAt) {
      arm();
      return;
    }
    void notifyAll(options.notifiers, {
      ...eventBase(run, options, now - run.createdAt.getTime()),
      type: 'run-overdue',
      expectedDurationMs: expected,
    });
  };
  arm();
  return () => clearTimeout(timer);
}

function eventBase(
  run: WorkflowRun,
  options: DriveOptions,
  durationMs: number,
): Omit<WorkflowEvent, 'type'> {
  return {
    workflow: run.workflow,
    runId: run.id,
    logicalDate: run.logicalDate,
    durationMs,
    ...(options.runUrl === undefined ? {} : { runUrl: options.runUrl(run.id) }),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
