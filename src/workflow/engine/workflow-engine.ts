import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { writeSync } from 'node:fs';
import { Cron } from 'croner';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import type { Executor } from '../executor.js';
import type { Notifier } from '../notifiers/notifier.js';
import { isInProcessOnly, type WorkflowDefinition } from '../workflow-definition.js';
import type { InvalidWorkflowFile, WorkflowService, WorkflowSummary } from '../workflow-service.js';
import type { RunTrigger, WorkflowRun, WorkflowStore } from '../workflow-store.js';
import { driveRun, type DriveEvent } from './drive-run.js';
import { compactDate, normalizeLogicalDate } from './logical-date.js';
import { newOwnerId, ownerIsDeadHere } from './run-owner.js';
import type { WorkflowCatalog } from './workflow-catalog.js';

type ParamValue = string | number | boolean;

/** What a {@link WorkflowEngine} runs with. */
export interface WorkflowEngineOptions {
  store: WorkflowStore;
  executor: Executor;
  /** Where workflow definitions come from (a directory of YAML files and/or files). */
  catalog?: WorkflowCatalog;
  /** Root of the runs' work directories. @defaultValue '.kiban/work' */
  workRoot?: string;
  notifiers?: Notifier[];
  /** Dashboard link to a run, for notifications. */
  runUrl?: (runId: string) => string;
  /**
   * A run whose owner has not sent a heartbeat for this long is orphaned and may be resumed by
   * another process. @defaultValue 30 s
   */
  leaseMs?: number;
  /** @defaultValue a sixth of the lease */
  heartbeatMs?: number;
  /** How often `waitFor` dependencies are polled. @defaultValue 10 s */
  waitPollMs?: number;
  onEvent?: (event: DriveEvent) => void;
}

/**
 * The workflow engine of one process: it records runs in the {@link WorkflowStore}, claims them
 * under an owner id with a heartbeat lease, and drives them with {@link driveRun} on its
 * {@link Executor}. Every entry point (CLI, scheduler, HTTP API) goes through it, so that run
 * creation, parameter checks, resume and retry behave the same everywhere.
 */
export class WorkflowEngine implements WorkflowService {
  readonly store: WorkflowStore;
  readonly owner = newOwnerId();
  readonly #options: Required<Omit<WorkflowEngineOptions, 'runUrl' | 'onEvent' | 'catalog'>> &
    Pick<WorkflowEngineOptions, 'runUrl' | 'onEvent' | 'catalog'>;
  readonly #active = new Map<string, Promise<WorkflowRun>>();
  readonly #stop = new AbortController();
  /** Says on stderr which runs a process leaves `running` when it exits while driving them. */
  readonly #onExit = (code: number): void => {
    if (this.#active.size === 0) return;
    try {
      writeSync(2, exitWarning([...this.#active.keys()], code));
    } catch {
      // stderr is gone: nothing else can be said
    }
  };

  constructor(options: WorkflowEngineOptions) {
    const leaseMs = options.leaseMs ?? 30_000;
    this.store = options.store;
    // Each run this engine drives listens for the stop.
    setMaxListeners(0, this.#stop.signal);
    this.#options = {
      ...options,
      workRoot: options.workRoot ?? '.kiban/work',
      notifiers: options.notifiers ?? [],
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.max(100, Math.floor(leaseMs / 6)),
      waitPollMs: options.waitPollMs ?? 10_000,
    };
  }

  // ---- WorkflowService -------------------------------------------------------------------

  async listWorkflows(): Promise<WorkflowSummary[]> {
    const { workflows } = await this.#catalog().load();
    const latest = new Map((await this.store.latestRunPerWorkflow()).map((r) => [r.workflow, r]));
    return [...workflows.values()].map((wf) => ({
      name: wf.name,
      ...(wf.description === undefined ? {} : { description: wf.description }),
      source: wf.source,
      ...(wf.schedule === undefined ? {} : { schedule: wf.schedule }),
      nextRunAt: nextFireTime(wf)?.toISOString() ?? null,
      lastRun: latest.get(wf.name) ?? null,
      tasks: wf.tasks.map((t) => ({ name: t.name, kind: t.kind, needs: t.needs })),
    }));
  }

  async listInvalidWorkflows(): Promise<InvalidWorkflowFile[]> {
    const { invalid } = await this.#catalog().load();
    return invalid.map((e) => ({ file: e.problems[0]?.file ?? '', problems: e.problems }));
  }

  async getWorkflow(name: string): Promise<WorkflowDefinition | null> {
    const { workflows } = await this.#catalog().load();
    return workflows.get(name) ?? null;
  }

  async startRun(
    name: string,
    options: { logicalDate?: string; params?: Record<string, ParamValue> } = {},
  ): Promise<string> {
    const wf = await this.#catalog().get(name);
    const run = (await this.createRun(wf, { ...options, trigger: 'manual' }))!;
    this.#drive(run.id);
    return run.id;
  }

  async retryRun(runId: string): Promise<void> {
    await this.prepareRetry(runId);
    this.#drive(runId);
  }

  // ---- foreground API (CLI, scheduler) -----------------------------------------------------

  /**
   * Records a new run of `wf` (claimed by this engine) without starting it. Returns null when
   * `scheduleKey` is taken, i.e. another scheduler has started that scheduled run.
   */
  async createRun(
    wf: WorkflowDefinition,
    options: {
      logicalDate?: string | Date;
      params?: Record<string, ParamValue>;
      trigger: RunTrigger;
      scheduleKey?: string;
    },
  ): Promise<WorkflowRun | null> {
    const params = checkParams(wf, options.params ?? {});
    const logicalDate = normalizeLogicalDate(options.logicalDate ?? todayUtc());
    const id = `${wf.name}-${compactDate(logicalDate)}-${randomBytes(3).toString('hex')}`;
    const created = await this.store.createRun({
      id,
      workflow: wf.name,
      logicalDate,
      trigger: options.trigger,
      params,
      definition: wf,
      scheduleKey: options.scheduleKey ?? null,
      owner: this.owner,
      createdAt: new Date(),
    });
    if (!created) return null;
    return (await this.store.getRun(id))!;
  }

  /**
   * Drives a run this engine owns to its end (or until the engine closes). While it does, the
   * process stays alive (the run's heartbeat is a timer that holds the event loop), and a process
   * that exits all the same (`process.exit`, an uncaught exception) says on stderr which runs it
   * leaves `running` and how to resume them.
   */
  runToEnd(runId: string): Promise<WorkflowRun> {
    const existing = this.#active.get(runId);
    if (existing !== undefined) return existing;
    if (this.#active.size === 0) process.on('exit', this.#onExit);
    const done = driveRun(runId, {
      store: this.store,
      executor: this.#options.executor,
      owner: this.owner,
      workRoot: this.#options.workRoot,
      notifiers: this.#options.notifiers,
      ...(this.#options.runUrl === undefined ? {} : { runUrl: this.#options.runUrl }),
      heartbeatMs: this.#options.heartbeatMs,
      waitPollMs: this.#options.waitPollMs,
      ...(this.#options.onEvent === undefined ? {} : { onEvent: this.#options.onEvent }),
      signal: this.#stop.signal,
    }).finally(() => {
      this.#active.delete(runId);
      if (this.#active.size === 0) process.off('exit', this.#onExit);
    });
    this.#active.set(runId, done);
    return done;
  }

  /**
   * Takes over a `running` run whose owner is gone (dead process on this host, or silent for a
   * lease), so that {@link runToEnd} continues it: finished tasks are kept, interrupted ones run
   * again. Throws ConflictError while its owner is alive, unless `force`. A run only its own
   * process can drive ({@link isInProcessOnly}) is marked failed instead, and ConflictError says so.
   */
  async claimOrphan(runId: string, options: { force?: boolean } = {}): Promise<WorkflowRun> {
    const run = await this.#requireRun(runId);
    if (run.status !== 'running')
      throw new ConflictError(
        `run ${runId} is ${run.status}, not running; use retry for failed runs`,
      );
    const force = options.force === true || (run.owner !== null && ownerIsDeadHere(run.owner));
    const staleBefore = new Date(Date.now() - this.#options.leaseMs);
    if (!(await this.store.claimRun(runId, this.owner, { staleBefore, force }))) {
      throw new ConflictError(
        `run ${runId} is being driven by ${run.owner} (heartbeat ${run.heartbeatAt?.toISOString() ?? 'never'}); it can be taken over once that process is gone`,
      );
    }
    if (isInProcessOnly(run.definition)) {
      // Its tasks would run here with other settings than the gone process held: end it instead.
      const error = `the process that ran it (${run.definition.source}) is gone, and no other process can resume it; start a new run`;
      await this.store.updateRun(runId, { status: 'failed', finishedAt: new Date(), error });
      await this.store.releaseRun(runId, this.owner);
      throw new ConflictError(`run ${runId} failed: ${error}`);
    }
    return (await this.store.getRun(runId))!;
  }

  /** Running runs whose owner is gone, oldest first: what a scheduler resumes. */
  async orphanedRuns(): Promise<WorkflowRun[]> {
    const staleBefore = Date.now() - this.#options.leaseMs;
    const running = await this.store.listRuns({ status: 'running', limit: 1000 });
    return running
      .filter(
        (r) =>
          r.owner === null ||
          ownerIsDeadHere(r.owner) ||
          (r.heartbeatAt?.getTime() ?? 0) < staleBefore,
      )
      .filter((r) => !this.#active.has(r.id))
      .reverse();
  }

  /**
   * Makes a failed run runnable again: its failed tasks and those that never ran because of
   * them go back to pending with a fresh retry budget (attempt numbers continue); succeeded
   * tasks are kept. A `running` run whose owner is gone is taken over instead. A run only its own
   * process can drive ({@link isInProcessOnly}) is refused with ConflictError.
   */
  async prepareRetry(runId: string): Promise<WorkflowRun> {
    const run = await this.#requireRun(runId);
    if (run.status === 'running') return this.claimOrphan(runId);
    if (run.status !== 'failed')
      throw new ConflictError(`run ${runId} has ${run.status}; only failed runs can be retried`);
    if (isInProcessOnly(run.definition))
      throw new ConflictError(
        `run ${runId} cannot be retried: its tasks ran with the settings of the process that started it (${run.definition.source}); start a new run`,
      );
    await this.store.updateRun(runId, { status: 'running', finishedAt: null, error: null });
    if (!(await this.store.claimRun(runId, this.owner, { staleBefore: new Date() }))) {
      throw new ConflictError(`run ${runId} is being retried by another process`);
    }
    for (const t of await this.store.getTasks(runId)) {
      if (t.status === 'failed' || t.status === 'upstream_failed') {
        await this.store.updateTask(runId, t.task, {
          status: 'pending',
          failures: 0,
          error: null,
          finishedAt: null,
          nextAttemptAt: null,
        });
      }
    }
    return (await this.store.getRun(runId))!;
  }

  /** Runs being driven by this engine. */
  get activeRuns(): string[] {
    return [...this.#active.keys()];
  }

  /** Waits for every run this engine drives; used by tests and `kiban workflow run`. */
  async idle(): Promise<void> {
    while (this.#active.size > 0) await Promise.allSettled([...this.#active.values()]);
  }

  /**
   * Stops driving: attempts in flight are aborted and their runs released, left `running` so
   * that the next process resumes them. Does not close the store or the executor.
   */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.idle();
  }

  #drive(runId: string): void {
    // Failures of a background run are recorded in the store by driveRun; a store outage is
    // left for the next resume.
    this.runToEnd(runId).catch(() => {});
  }

  async #requireRun(runId: string): Promise<WorkflowRun> {
    const run = await this.store.getRun(runId);
    if (run === null) throw new NotFoundError(`workflow run "${runId}"`);
    return run;
  }

  #catalog(): WorkflowCatalog {
    if (this.#options.catalog === undefined)
      throw new InvalidArgumentError(
        'workflows',
        'this engine was started without a workflow directory',
      );
    return this.#options.catalog;
  }
}

/** Refuses parameters the workflow does not declare: a typo must not silently use a default. */
export function checkParams(
  wf: WorkflowDefinition,
  params: Record<string, unknown>,
): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [key, value] of Object.entries(params)) {
    if (!Object.hasOwn(wf.params, key)) {
      const known = Object.keys(wf.params);
      throw new InvalidArgumentError(
        `params.${key}`,
        `workflow ${wf.name} has no parameter "${key}"; declared: ${known.join(', ') || 'none'}`,
      );
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new InvalidArgumentError(`params.${key}`, 'must be a string, number or boolean');
    }
    out[key] = value;
  }
  return out;
}

/** What a process exiting with `code` while it drives `runIds` writes on stderr. */
export function exitWarning(runIds: readonly string[], code: number): string {
  const runs = runIds.length === 1 ? `run ${runIds[0]}` : `runs ${runIds.join(', ')}`;
  const resume = runIds.map((id) => `  kiban workflow retry ${id}`).join('\n');
  return (
    `kiban: the process is exiting (exit code ${code}) while it still drives ${runs}; ` +
    `${runIds.length === 1 ? 'it is' : 'they are'} left "running". A running kiban scheduler takes ${runIds.length === 1 ? 'it' : 'them'} over once the ` +
    `heartbeat lease lapses, or resume now with:\n${resume}\n`
  );
}

/** The next time a scheduled workflow fires after `from`, or null. */
export function nextFireTime(wf: WorkflowDefinition, from: Date = new Date()): Date | null {
  if (wf.schedule === undefined) return null;
  const cron = new Cron(wf.schedule.cron, { timezone: wf.schedule.timezone, paused: true });
  try {
    return cron.nextRun(from);
  } finally {
    cron.stop();
  }
}

function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}
