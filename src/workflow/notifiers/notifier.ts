/** Something that happened to a workflow run that people may want to hear about. */
export interface WorkflowEvent {
  type: 'run-failed' | 'run-succeeded' | 'run-overdue';
  workflow: string;
  runId: string;
  /** The run's logical date, ISO-8601. */
  logicalDate: string;
  /** The task that failed, for `run-failed`. */
  task?: string;
  attempt?: number;
  /** The error, as reported by the task (may be long; notifiers shorten it). */
  error?: string;
  /** Run time so far, and what was expected, for `run-overdue` and final events. */
  durationMs?: number;
  expectedDurationMs?: number;
  /** Where a person can look at the run (the dashboard's run page). */
  runUrl?: string;
}

/**
 * Delivers workflow events somewhere (a log, a webhook, Slack). `notify` resolves once the
 * event is delivered and rejects when it could not be, after the notifier's own retries;
 * {@link notifyAll} is how the engine calls notifiers, so that a failing one never fails a run.
 */
export interface Notifier {
  /** For reports: e.g. `slack`, `webhook https://…`, `log`. */
  readonly name: string;
  notify(event: WorkflowEvent, options?: { signal?: AbortSignal }): Promise<void>;
}

/** One notifier's outcome for one event. */
export interface Delivery {
  notifier: string;
  ok: boolean;
  error?: string;
}

/**
 * Sends `event` to every notifier concurrently and reports each outcome; never rejects, so a
 * notifier that is down cannot fail the run it reports on.
 */
export async function notifyAll(
  notifiers: readonly Notifier[],
  event: WorkflowEvent,
): Promise<Delivery[]> {
  const outcomes = await Promise.allSettled(notifiers.map((n) => n.notify(event)));
  return outcomes.map((o, i) =>
    o.status === 'fulfilled'
      ? { notifier: notifiers[i].name, ok: true }
      : {
          notifier: notifiers[i].name,
          ok: false,
          error: (o.reason as Error)?.message ?? String(o.reason),
        },
  );
}

/** A one-line summary of an event, shared by the log and Slack notifiers. */
export function summarize(event: WorkflowEvent): string {
  const run = `${event.workflow} run ${event.runId} (${event.logicalDate})`;
  if (event.type === 'run-succeeded')
    return `✅ ${run} succeeded${event.durationMs === undefined ? '' : ` in ${formatDuration(event.durationMs)}`}`;
  if (event.type === 'run-overdue') {
    return `⏰ ${run} has run ${formatDuration(event.durationMs ?? 0)}, longer than the expected ${formatDuration(event.expectedDurationMs ?? 0)}`;
  }
  const task =
    event.task === undefined
      ? ''
      : ` at task ${event.task}${event.attempt === undefined ? '' : ` (attempt ${event.attempt})`}`;
  return `❌ ${run} failed${task}`;
}

/** The last `max` characters of an error (the end of a log says most), on one readable block. */
export function errorExcerpt(error: string, max = 500): string {
  const text = error.trim();
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
