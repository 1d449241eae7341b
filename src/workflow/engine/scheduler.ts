import { setTimeout as sleep } from 'node:timers/promises';
import { Cron } from 'croner';
import type { WorkflowDefinition } from '../workflow-definition.js';
import type { WorkflowRun } from '../workflow-store.js';
import type { CatalogSnapshot, WorkflowCatalog } from './workflow-catalog.js';
import type { WorkflowEngine } from './workflow-engine.js';

/** Something the scheduler did, for its log. */
export type SchedulerEvent =
  | { type: 'started'; workflow: string; runId: string; logicalDate: string; catchUp: boolean }
  | { type: 'taken'; workflow: string; logicalDate: string }
  | { type: 'skipped'; workflow: string; missed: number; from: string; to: string }
  | { type: 'resumed'; workflow: string; runId: string }
  | { type: 'error'; workflow?: string; message: string };

/** Options of {@link WorkflowScheduler}. */
export interface SchedulerOptions {
  /** How often orphaned runs are looked for and workflow files re-read. @defaultValue 15 s */
  scanMs?: number;
  /** At most this many missed runs per workflow are started by catch-up. @defaultValue 100 */
  maxCatchUp?: number;
  onEvent?: (event: SchedulerEvent) => void;
}

/**
 * Starts scheduled runs at their cron times (in each workflow's time zone, by croner). Each
 * scheduled run has the key `workflow@fireTime`, unique in the store, so any number of
 * schedulers can run side by side: exactly one creates (and drives) each run, the others see
 * the key taken. At start-up, fire times missed since the workflow's last scheduled run are
 * run or skipped per the workflow's `catchUp`. Every scan also resumes runs whose owner died.
 */
export class WorkflowScheduler {
  readonly #engine: WorkflowEngine;
  readonly #catalog: WorkflowCatalog;
  readonly #options: Required<Omit<SchedulerOptions, 'onEvent'>> &
    Pick<SchedulerOptions, 'onEvent'>;
  readonly #next = new Map<string, Date>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(engine: WorkflowEngine, catalog: WorkflowCatalog, options: SchedulerOptions = {}) {
    this.#engine = engine;
    this.#catalog = catalog;
    this.#options = {
      scanMs: options.scanMs ?? 15_000,
      maxCatchUp: options.maxCatchUp ?? 100,
      ...options,
    };
  }

  /** Catches up, then keeps firing until {@link stop}. */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  /** Stops firing; runs in flight are left to the engine (close it to release them). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop?.catch(() => {});
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let lastScan = 0;
    let workflows = new Map<string, WorkflowDefinition>();
    while (!signal.aborted) {
      const now = new Date();
      if (now.getTime() - lastScan >= this.#options.scanMs) {
        lastScan = now.getTime();
        workflows = await this.#reload(workflows, now);
        await this.#resumeOrphans();
      }
      for (const [name, due] of this.#next) {
        if (due.getTime() > Date.now()) continue;
        const wf = workflows.get(name)!;
        await this.#fire(wf, due, false);
        this.#next.set(name, cronOf(wf).nextRun(due) ?? new Date(8.64e15));
      }
      const soonest = Math.min(
        lastScan + this.#options.scanMs,
        ...[...this.#next.values()].map((d) => d.getTime()),
      );
      await sleep(Math.max(0, Math.min(soonest - Date.now(), 60_000)), undefined, { signal }).catch(
        () => {},
      );
    }
  }

  /** Re-reads workflow files; a workflow seen for the first time is caught up. */
  async #reload(
    previous: Map<string, WorkflowDefinition>,
    now: Date,
  ): Promise<Map<string, WorkflowDefinition>> {
    let snapshot: CatalogSnapshot;
    try {
      snapshot = await this.#catalog.load();
    } catch (error) {
      this.#emit({ type: 'error', message: `cannot read workflows: ${(error as Error).message}` });
      return previous;
    }
    for (const bad of snapshot.invalid) this.#emit({ type: 'error', message: bad.message });
    const scheduled = new Map(
      [...snapshot.workflows].filter(([, wf]) => wf.schedule !== undefined),
    );
    for (const name of this.#next.keys()) if (!scheduled.has(name)) this.#next.delete(name);
    for (const [name, wf] of scheduled) {
      const old = previous.get(name);
      if (
        old !== undefined &&
        this.#next.has(name) &&
        JSON.stringify(old.schedule) === JSON.stringify(wf.schedule)
      )
        continue;
      await this.#catchUp(wf, now);
      this.#next.set(name, cronOf(wf).nextRun(now) ?? new Date(8.64e15));
    }
    return scheduled;
  }

  /** Fire times after the last scheduled run up to now: run them or skip them. */
  async #catchUp(wf: WorkflowDefinition, now: Date): Promise<void> {
    const last = await this.#engine.store.latestScheduledRun(wf.name);
    if (last === null) return; // never scheduled before: nothing was missed
    const cron = cronOf(wf);
    const missed: Date[] = [];
    for (
      let t = cron.nextRun(new Date(last.logicalDate));
      t !== null && t.getTime() <= now.getTime();
      t = cron.nextRun(t)
    ) {
      missed.push(t);
      if (missed.length > 10_000) break;
    }
    if (missed.length === 0) return;
    if (wf.schedule!.catchUp === 'skip') {
      this.#emit({
        type: 'skipped',
        workflow: wf.name,
        missed: missed.length,
        from: missed[0].toISOString(),
        to: missed.at(-1)!.toISOString(),
      });
      return;
    }
    const keep = missed.slice(-this.#options.maxCatchUp);
    if (keep.length < missed.length) {
      this.#emit({
        type: 'skipped',
        workflow: wf.name,
        missed: missed.length - keep.length,
        from: missed[0].toISOString(),
        to: missed[missed.length - keep.length - 1].toISOString(),
      });
    }
    for (const t of keep) await this.#fire(wf, t, true);
  }

  async #fire(wf: WorkflowDefinition, at: Date, catchUp: boolean): Promise<void> {
    const logicalDate = at.toISOString();
    try {
      const run = await this.#engine.createRun(wf, {
        logicalDate,
        trigger: 'schedule',
        scheduleKey: `${wf.name}@${logicalDate}`,
      });
      if (run === null) {
        this.#emit({ type: 'taken', workflow: wf.name, logicalDate });
        return;
      }
      this.#emit({ type: 'started', workflow: wf.name, runId: run.id, logicalDate, catchUp });
      this.#engine
        .runToEnd(run.id)
        .catch((error: unknown) =>
          this.#emit({ type: 'error', workflow: wf.name, message: (error as Error).message }),
        );
    } catch (error) {
      this.#emit({ type: 'error', workflow: wf.name, message: (error as Error).message });
    }
  }

  async #resumeOrphans(): Promise<void> {
    let orphans: WorkflowRun[];
    try {
      orphans = await this.#engine.orphanedRuns();
    } catch (error) {
      this.#emit({
        type: 'error',
        message: `cannot look for orphaned runs: ${(error as Error).message}`,
      });
      return;
    }
    for (const run of orphans) {
      try {
        await this.#engine.claimOrphan(run.id);
      } catch {
        continue; // another scheduler got there first
      }
      this.#emit({ type: 'resumed', workflow: run.workflow, runId: run.id });
      this.#engine
        .runToEnd(run.id)
        .catch((error: unknown) =>
          this.#emit({ type: 'error', workflow: run.workflow, message: (error as Error).message }),
        );
    }
  }

  #emit(event: SchedulerEvent): void {
    this.#options.onEvent?.(event);
  }
}

function cronOf(wf: WorkflowDefinition): Cron {
  return new Cron(wf.schedule!.cron, { timezone: wf.schedule!.timezone, paused: true });
}
