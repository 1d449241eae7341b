import type { Kysely, QueryCreator } from 'kysely';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import type {
  AttemptStatus,
  LogLine,
  RunPatch,
  RunTrigger,
  TaskAttempt,
  TaskPatch,
  TaskRun,
  TaskState,
  WorkflowRun,
  WorkflowRunStatus,
  WorkflowStore,
} from '../workflow/workflow-store.js';
import { toLogLine, toTaskAttempt, toTaskRun, toWorkflowRun } from './metadata-tables.js';
import type { MetadataDatabase } from './metadata-tables.js';
import {
  checkJson,
  describe,
  isPlainObject,
  optionalText,
  requireDate,
  requireLimit,
  requireText,
  toJsonText,
} from './metadata-validation.js';

/** How many runs `listRuns` returns when no limit is given. */
export const DEFAULT_WORKFLOW_RUN_LIMIT = 50;

/** How many log lines `readLogs` returns when no limit is given. */
export const DEFAULT_LOG_LIMIT = 1000;

/** Log lines per insert statement: 6 parameters each stays far below both engines' parameter limits. */
const LOG_INSERT_CHUNK = 500;

const RUN_STATUSES: ReadonlySet<string> = new Set<WorkflowRunStatus>([
  'running',
  'succeeded',
  'failed',
]);
const TRIGGERS: ReadonlySet<string> = new Set<RunTrigger>(['manual', 'schedule', 'backfill']);
const TASK_STATES: ReadonlySet<string> = new Set<TaskState>([
  'pending',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'upstream_failed',
]);
const END_STATUSES: ReadonlySet<string> = new Set<AttemptStatus>([
  'succeeded',
  'failed',
  'interrupted',
]);
const STREAMS: ReadonlySet<string> = new Set<LogLine['stream']>(['stdout', 'stderr', 'log']);

/** Runs a write after the earlier writes queued for the same database; see {@link KyselyWorkflowStoreOptions.serializeWrites}. */
export type WriteQueue = <T>(write: () => Promise<T>) => Promise<T>;

/** Options of the {@link KyselyWorkflowStore} constructor. */
export interface KyselyWorkflowStoreOptions {
  /** PostgreSQL schema holding the tables; undefined on SQLite. @defaultValue undefined */
  schema?: string;
  /**
   * Queues this store's writes behind one another and behind other stores' writes to the same
   * SQLite file in this process. better-sqlite3 is synchronous: a statement that meets another
   * connection's open transaction blocks the whole event loop until `busy_timeout` and then
   * fails, because the transaction holder cannot run meanwhile. Leave undefined for PostgreSQL
   * and in-memory SQLite, which have no such neighbours.
   * @defaultValue run each write at once
   */
  serializeWrites?: WriteQueue;
}

/**
 * The {@link WorkflowStore} over the metadata store's database (`kiban_wf_*` tables, created by
 * migration `0003_workflows`). It borrows the Kysely instance of a `KyselyMetadataStore` and
 * never closes it. Inputs are validated before any SQL, with {@link InvalidArgumentError} naming
 * the field. Unknown ids: reads give null or an empty list, `claimRun`/`heartbeat` give false,
 * `releaseRun` does nothing, `finishAttempt` and `finishTaskAttempt` give false, and `updateRun`,
 * `updateTask`, `startAttempt`, `startTaskAttempt` and `appendLogs` throw {@link NotFoundError}.
 */
export class KyselyWorkflowStore implements WorkflowStore {
  readonly #db: Kysely<MetadataDatabase>;
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #schema: string | undefined;
  readonly #write: WriteQueue;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyWorkflowStoreOptions = {}) {
    this.#db = db;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
  }

  /**
   * Records a run and its tasks (pending, in definition order) in one transaction. Returns
   * false when `scheduleKey` is taken; throws {@link InvalidArgumentError} (field `run.id`) when
   * the id is.
   */
  async createRun(run: Parameters<WorkflowStore['createRun']>[0]): Promise<boolean> {
    const row = {
      id: requireText('run.id', run.id),
      workflow: requireText('run.workflow', run.workflow),
      logical_date: requireText('run.logicalDate', run.logicalDate),
      trigger: requireOneOf('run.trigger', run.trigger, TRIGGERS),
      status: 'running',
      params: toParamsText('run.params', run.params),
      definition: toDefinitionText('run.definition', run.definition),
      schedule_key:
        run.scheduleKey === undefined || run.scheduleKey === null
          ? null
          : requireText('run.scheduleKey', run.scheduleKey),
      created_at_ms: requireDate('run.createdAt', run.createdAt),
      owner: requireText('run.owner', run.owner),
      // The creator owns the run from the start, so it counts as alive as of its creation.
      heartbeat_at_ms: 0,
    };
    row.heartbeat_at_ms = row.created_at_ms;
    const tasks = run.definition.tasks.map((t, seq) => ({
      run_id: row.id,
      task: t.name,
      seq,
      status: 'pending',
      attempt: 0,
      failures: 0,
      output: '{}',
    }));
    return this.#write(() =>
      this.#db.transaction().execute(async (trx) => {
        const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
        // No conflict target: a clash on the id or on the schedule key both insert nothing, and
        // PostgreSQL makes a concurrent insert of the same key wait for the first to commit.
        const inserted = await q
          .insertInto('kiban_wf_runs')
          .values(row)
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
          if (row.schedule_key !== null) {
            const holder = await q
              .selectFrom('kiban_wf_runs')
              .select('id')
              .where('schedule_key', '=', row.schedule_key)
              .executeTakeFirst();
            if (holder !== undefined) return false;
          }
          throw new InvalidArgumentError(
            'run.id',
            `a workflow run with id "${row.id}" is already recorded; run ids must be unique`,
          );
        }
        if (tasks.length > 0) await q.insertInto('kiban_wf_tasks').values(tasks).execute();
        return true;
      }),
    );
  }

  /** The run with this id, or null. */
  async getRun(id: string): Promise<WorkflowRun | null> {
    const row = await this.#q
      .selectFrom('kiban_wf_runs')
      .selectAll()
      .where('id', '=', requireText('id', id))
      .executeTakeFirst();
    return row === undefined ? null : toWorkflowRun(row);
  }

  /** Runs newest first (by `createdAt`, ties by id descending), filtered by every option given. */
  async listRuns(
    options: {
      workflow?: string;
      status?: WorkflowRunStatus;
      logicalDate?: string;
      limit?: number;
    } = {},
  ): Promise<WorkflowRun[]> {
    const limit = requireLimit('limit', options.limit, DEFAULT_WORKFLOW_RUN_LIMIT);
    const workflow =
      options.workflow === undefined ? undefined : requireText('workflow', options.workflow);
    const status =
      options.status === undefined
        ? undefined
        : requireOneOf('status', options.status, RUN_STATUSES);
    const logicalDate =
      options.logicalDate === undefined
        ? undefined
        : requireText('logicalDate', options.logicalDate);
    let query = this.#q.selectFrom('kiban_wf_runs').selectAll();
    if (workflow !== undefined) query = query.where('workflow', '=', workflow);
    if (status !== undefined) query = query.where('status', '=', status);
    if (logicalDate !== undefined) query = query.where('logical_date', '=', logicalDate);
    const rows = await query
      .orderBy('created_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toWorkflowRun);
  }

  /** The newest run (as {@link listRuns} orders them) of each workflow, by workflow name. */
  async latestRunPerWorkflow(): Promise<WorkflowRun[]> {
    // `not exists` rather than a window function or `distinct on`: portable, and each probe is
    // one step along the (workflow, created_at_ms, id) index.
    const rows = await this.#q
      .selectFrom('kiban_wf_runs as r')
      .selectAll('r')
      .where(({ not, exists, selectFrom, or, and, ref }) =>
        not(
          exists(
            selectFrom('kiban_wf_runs as n')
              .select('n.id')
              .whereRef('n.workflow', '=', 'r.workflow')
              .where((eb) =>
                or([
                  eb('n.created_at_ms', '>', ref('r.created_at_ms')),
                  and([
                    eb('n.created_at_ms', '=', ref('r.created_at_ms')),
                    eb('n.id', '>', ref('r.id')),
                  ]),
                ]),
              ),
          ),
        ),
      )
      .orderBy('r.workflow')
      .execute();
    return rows.map(toWorkflowRun);
  }

  /** The newest run of `workflow` with trigger `schedule`, or null. */
  async latestScheduledRun(workflow: string): Promise<WorkflowRun | null> {
    const row = await this.#q
      .selectFrom('kiban_wf_runs')
      .selectAll()
      .where('workflow', '=', requireText('workflow', workflow))
      .where('trigger', '=', 'schedule')
      .orderBy('created_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? null : toWorkflowRun(row);
  }

  /** Changes a run's status, end time or error. Throws {@link NotFoundError} for an unknown run. */
  async updateRun(id: string, patch: RunPatch): Promise<void> {
    requireText('id', id);
    const set: { status?: string; finished_at_ms?: number | null; error?: string | null } = {};
    if (patch.status !== undefined)
      set.status = requireOneOf('patch.status', patch.status, RUN_STATUSES);
    if (patch.finishedAt !== undefined)
      set.finished_at_ms = nullableDate('patch.finishedAt', patch.finishedAt);
    if (patch.error !== undefined) set.error = nullableText('patch.error', patch.error);
    if (Object.keys(set).length === 0) {
      if ((await this.getRun(id)) === null) throw new NotFoundError(`workflow run "${id}"`);
      return;
    }
    const result = await this.#write(() =>
      this.#q.updateTable('kiban_wf_runs').set(set).where('id', '=', id).executeTakeFirst(),
    );
    if (Number(result.numUpdatedRows) === 0) throw new NotFoundError(`workflow run "${id}"`);
  }

  /**
   * One conditional update, so of two concurrent claims at most one can see the run unowned or
   * stale. False for an unknown or finished run.
   */
  async claimRun(
    id: string,
    owner: string,
    options: { staleBefore: Date; force?: boolean },
  ): Promise<boolean> {
    requireText('id', id);
    requireText('owner', owner);
    const staleBeforeMs = requireDate('options.staleBefore', options.staleBefore);
    const force = options.force === true;
    const result = await this.#write(() => {
      let query = this.#q
        .updateTable('kiban_wf_runs')
        .set({ owner, heartbeat_at_ms: Date.now() })
        .where('id', '=', id)
        .where('status', '=', 'running');
      if (!force) {
        query = query.where((eb) =>
          eb.or([
            eb('owner', 'is', null),
            eb('owner', '=', owner),
            eb('heartbeat_at_ms', 'is', null),
            eb('heartbeat_at_ms', '<', staleBeforeMs),
          ]),
        );
      }
      return query.executeTakeFirst();
    });
    return Number(result.numUpdatedRows) > 0;
  }

  /** Sets the heartbeat to now if `owner` still owns the run. */
  async heartbeat(id: string, owner: string): Promise<boolean> {
    requireText('id', id);
    requireText('owner', owner);
    const result = await this.#write(() =>
      this.#q
        .updateTable('kiban_wf_runs')
        .set({ heartbeat_at_ms: Date.now() })
        .where('id', '=', id)
        .where('owner', '=', owner)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  /** Clears the owner and its heartbeat if `owner` owns the run; otherwise does nothing. */
  async releaseRun(id: string, owner: string): Promise<void> {
    requireText('id', id);
    requireText('owner', owner);
    await this.#write(() =>
      this.#q
        .updateTable('kiban_wf_runs')
        .set({ owner: null, heartbeat_at_ms: null })
        .where('id', '=', id)
        .where('owner', '=', owner)
        .executeTakeFirst(),
    );
  }

  /** Tasks of a run in definition order; empty for an unknown run. */
  async getTasks(runId: string): Promise<TaskRun[]> {
    const rows = await this.#q
      .selectFrom('kiban_wf_tasks')
      .selectAll()
      .where('run_id', '=', requireText('runId', runId))
      .orderBy('seq')
      .execute();
    return rows.map(toTaskRun);
  }

  /** Changes the given fields of a task. Throws {@link NotFoundError} for an unknown run or task. */
  async updateTask(runId: string, task: string, patch: TaskPatch): Promise<void> {
    requireText('runId', runId);
    requireText('task', task);
    const set = toTaskSet(patch);
    if (Object.keys(set).length === 0) {
      await this.#updateTaskIn(this.#q, runId, task, set);
      return;
    }
    await this.#write(() => this.#updateTaskIn(this.#q, runId, task, set));
  }

  /**
   * Records an attempt starting. Throws {@link NotFoundError} for an unknown run or task, and
   * {@link InvalidArgumentError} (field `attempt.attempt`) when that attempt is already recorded.
   */
  async startAttempt(attempt: {
    runId: string;
    task: string;
    attempt: number;
    startedAt: Date;
    worker: string | null;
  }): Promise<void> {
    const row = toAttemptRow(attempt);
    const inserted = await this.#write(() => this.#insertAttemptIn(this.#q, row));
    if (!inserted) await this.#explainRefusedAttempt(this.#q, row);
  }

  /**
   * Ends a `running` attempt; any other (or unknown) attempt is left alone and false returned.
   * `end.worker`, when a string, replaces the worker recorded at start; null or undefined keep it.
   */
  async finishAttempt(
    runId: string,
    task: string,
    attempt: number,
    end: {
      status: Exclude<AttemptStatus, 'running'>;
      finishedAt: Date;
      error?: string | null;
      worker?: string | null;
    },
  ): Promise<boolean> {
    requireText('runId', runId);
    requireText('task', task);
    requirePositive('attempt', attempt);
    const set = toAttemptEndSet(end);
    return this.#write(() => this.#finishAttemptIn(this.#q, runId, task, attempt, set));
  }

  /**
   * {@link updateTask} then {@link startAttempt} in one transaction, with their errors: when
   * either refuses, neither is written.
   */
  async startTaskAttempt(
    attempt: {
      runId: string;
      task: string;
      attempt: number;
      startedAt: Date;
      worker: string | null;
    },
    task: TaskPatch,
  ): Promise<void> {
    const row = toAttemptRow(attempt);
    const set = toTaskSet(task);
    await this.#write(() =>
      this.#db.transaction().execute(async (trx) => {
        const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
        await this.#updateTaskIn(q, row.run_id, row.task, set);
        if (!(await this.#insertAttemptIn(q, row))) await this.#explainRefusedAttempt(q, row);
      }),
    );
  }

  /**
   * {@link finishAttempt} then, if the attempt was `running`, {@link updateTask}, in one
   * transaction. Returns false, writing nothing, when the attempt was not running (or is
   * unknown); throws {@link NotFoundError} (writing nothing) when the task is unknown.
   */
  async finishTaskAttempt(
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
  ): Promise<boolean> {
    requireText('runId', runId);
    requireText('task', task);
    requirePositive('attempt', attempt);
    const endSet = toAttemptEndSet(end);
    const taskSet = toTaskSet(taskPatch);
    return this.#write(() =>
      this.#db.transaction().execute(async (trx) => {
        const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
        if (!(await this.#finishAttemptIn(q, runId, task, attempt, endSet))) return false;
        await this.#updateTaskIn(q, runId, task, taskSet);
        return true;
      }),
    );
  }

  /** Applies a validated task patch; an empty one only checks that the task exists. */
  async #updateTaskIn(
    q: QueryCreator<MetadataDatabase>,
    runId: string,
    task: string,
    set: TaskSet,
  ): Promise<void> {
    const notFound = (): NotFoundError =>
      new NotFoundError(`task "${task}" of workflow run "${runId}"`);
    if (Object.keys(set).length === 0) {
      const row = await q
        .selectFrom('kiban_wf_tasks')
        .select('task')
        .where('run_id', '=', runId)
        .where('task', '=', task)
        .executeTakeFirst();
      if (row === undefined) throw notFound();
      return;
    }
    const result = await q
      .updateTable('kiban_wf_tasks')
      .set(set)
      .where('run_id', '=', runId)
      .where('task', '=', task)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw notFound();
  }

  /** Inserts a validated attempt row; false when nothing was inserted (unknown task, or attempt taken). */
  async #insertAttemptIn(q: QueryCreator<MetadataDatabase>, row: AttemptRow): Promise<boolean> {
    // Selecting from the task row makes an unknown task insert nothing (rather than trip the
    // foreign key with a driver-specific error), in the same statement.
    const result = await q
      .insertInto('kiban_wf_attempts')
      .columns(['run_id', 'task', 'attempt', 'status', 'started_at_ms', 'worker'])
      .expression((eb) =>
        eb
          .selectFrom('kiban_wf_tasks')
          .where('kiban_wf_tasks.run_id', '=', row.run_id)
          .where('kiban_wf_tasks.task', '=', row.task)
          .select((eb) => [
            'kiban_wf_tasks.run_id',
            'kiban_wf_tasks.task',
            // Casts pin the parameters' types, which PostgreSQL cannot infer in a select list.
            eb.cast<number>(eb.val(row.attempt), 'integer').as('attempt'),
            eb.cast<string>(eb.val(row.status), 'text').as('status'),
            eb.cast<number>(eb.val(row.started_at_ms), 'bigint').as('started_at_ms'),
            eb.cast<string | null>(eb.val(row.worker), 'text').as('worker'),
          ]),
      )
      .onConflict((oc) => oc.columns(['run_id', 'task', 'attempt']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Throws the error for an attempt that {@link #insertAttemptIn} did not insert. */
  async #explainRefusedAttempt(q: QueryCreator<MetadataDatabase>, row: AttemptRow): Promise<never> {
    const existing = await q
      .selectFrom('kiban_wf_attempts')
      .select('status')
      .where('run_id', '=', row.run_id)
      .where('task', '=', row.task)
      .where('attempt', '=', row.attempt)
      .executeTakeFirst();
    if (existing === undefined)
      throw new NotFoundError(`task "${row.task}" of workflow run "${row.run_id}"`);
    throw new InvalidArgumentError(
      'attempt.attempt',
      `attempt ${row.attempt} of task "${row.task}" of run "${row.run_id}" is already recorded (${existing.status})`,
    );
  }

  /** Ends the attempt if it is `running`; returns whether it was. */
  async #finishAttemptIn(
    q: QueryCreator<MetadataDatabase>,
    runId: string,
    task: string,
    attempt: number,
    set: AttemptEndSet,
  ): Promise<boolean> {
    const result = await q
      .updateTable('kiban_wf_attempts')
      .set(set)
      .where('run_id', '=', runId)
      .where('task', '=', task)
      .where('attempt', '=', attempt)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Attempts of a run (or of one task), by task in definition order, then attempt number. */
  async listAttempts(runId: string, task?: string): Promise<TaskAttempt[]> {
    requireText('runId', runId);
    let query = this.#q
      .selectFrom('kiban_wf_attempts as a')
      .innerJoin('kiban_wf_tasks as t', (join) =>
        join.onRef('t.run_id', '=', 'a.run_id').onRef('t.task', '=', 'a.task'),
      )
      .selectAll('a')
      .where('a.run_id', '=', runId);
    if (task !== undefined) query = query.where('a.task', '=', requireText('task', task));
    const rows = await query.orderBy('t.seq').orderBy('a.attempt').execute();
    return rows.map(toTaskAttempt);
  }

  /**
   * Appends lines, numbered in the order given; all or none are written. Throws
   * {@link NotFoundError} for an unknown run.
   */
  async appendLogs(
    runId: string,
    task: string,
    attempt: number,
    lines: { at: Date; stream: LogLine['stream']; line: string }[],
  ): Promise<void> {
    requireText('runId', runId);
    requireText('task', task);
    requirePositive('attempt', attempt);
    if (!Array.isArray(lines)) throw new InvalidArgumentError('lines', 'must be an array');
    const rows = lines.map((l, i) => ({
      run_id: runId,
      task,
      attempt,
      at_ms: requireDate(`lines[${i}].at`, l.at),
      stream: requireOneOf(`lines[${i}].stream`, l.stream, STREAMS),
      line: requireString(`lines[${i}].line`, l.line),
    }));
    if (rows.length === 0) return;
    try {
      await this.#write(async () => {
        if (rows.length <= LOG_INSERT_CHUNK) {
          await this.#q.insertInto('kiban_wf_logs').values(rows).execute();
          return;
        }
        await this.#db.transaction().execute(async (trx) => {
          const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
          for (let start = 0; start < rows.length; start += LOG_INSERT_CHUNK) {
            await q
              .insertInto('kiban_wf_logs')
              .values(rows.slice(start, start + LOG_INSERT_CHUNK))
              .execute();
          }
        });
      });
    } catch (error) {
      // The likely cause is the foreign key to the run; anything else is passed on as it is.
      if ((await this.getRun(runId)) === null)
        throw new NotFoundError(`workflow run "${runId}"`, { cause: error });
      throw error;
    }
  }

  /**
   * Log lines of a task by sequence number. On PostgreSQL numbers are taken as lines are
   * inserted but become visible at commit, so a follower can see a later line before an earlier
   * one from a *concurrent* writer; lines of one attempt come from one writer, in order.
   */
  async readLogs(
    runId: string,
    task: string,
    options: { attempt?: number; afterSeq?: number; limit?: number } = {},
  ): Promise<LogLine[]> {
    requireText('runId', runId);
    requireText('task', task);
    const limit = requireLimit('limit', options.limit, DEFAULT_LOG_LIMIT);
    let query = this.#q
      .selectFrom('kiban_wf_logs')
      .selectAll()
      .where('run_id', '=', runId)
      .where('task', '=', task);
    if (options.attempt !== undefined)
      query = query.where('attempt', '=', requirePositive('attempt', options.attempt));
    if (options.afterSeq !== undefined)
      query = query.where('seq', '>', requireCount('afterSeq', options.afterSeq));
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map(toLogLine);
  }
}

/** The columns of a task row that a {@link TaskPatch} sets. */
interface TaskSet {
  status?: string;
  attempt?: number;
  failures?: number;
  started_at_ms?: number | null;
  finished_at_ms?: number | null;
  next_attempt_at_ms?: number | null;
  error?: string | null;
  output?: string;
}

/** Validates a task patch (fields named `patch.*`) into the columns it sets. */
function toTaskSet(patch: TaskPatch): TaskSet {
  const set: TaskSet = {};
  if (patch.status !== undefined)
    set.status = requireOneOf('patch.status', patch.status, TASK_STATES);
  if (patch.attempt !== undefined) set.attempt = requireCount('patch.attempt', patch.attempt);
  if (patch.failures !== undefined) set.failures = requireCount('patch.failures', patch.failures);
  if (patch.startedAt !== undefined)
    set.started_at_ms = nullableDate('patch.startedAt', patch.startedAt);
  if (patch.finishedAt !== undefined)
    set.finished_at_ms = nullableDate('patch.finishedAt', patch.finishedAt);
  if (patch.nextAttemptAt !== undefined)
    set.next_attempt_at_ms = nullableDate('patch.nextAttemptAt', patch.nextAttemptAt);
  if (patch.error !== undefined) set.error = nullableText('patch.error', patch.error);
  if (patch.output !== undefined) set.output = toJsonText('patch.output', patch.output);
  return set;
}

type AttemptRow = ReturnType<typeof toAttemptRow>;

/** Validates a starting attempt (fields named `attempt.*`) into its row. */
function toAttemptRow(attempt: {
  runId: string;
  task: string;
  attempt: number;
  startedAt: Date;
  worker: string | null;
}) {
  return {
    run_id: requireText('attempt.runId', attempt.runId),
    task: requireText('attempt.task', attempt.task),
    attempt: requirePositive('attempt.attempt', attempt.attempt),
    status: 'running',
    started_at_ms: requireDate('attempt.startedAt', attempt.startedAt),
    worker: nullableText('attempt.worker', attempt.worker),
  };
}

type AttemptEndSet = ReturnType<typeof toAttemptEndSet>;

/** Validates an attempt's end (fields named `end.*`) into the columns it sets. */
function toAttemptEndSet(end: {
  status: Exclude<AttemptStatus, 'running'>;
  finishedAt: Date;
  error?: string | null;
  worker?: string | null;
}) {
  return {
    status: requireOneOf('end.status', end.status, END_STATUSES),
    finished_at_ms: requireDate('end.finishedAt', end.finishedAt),
    error: end.error === undefined ? null : nullableText('end.error', end.error),
    ...(end.worker === undefined || end.worker === null
      ? {}
      : { worker: requireText('end.worker', end.worker) }),
  };
}

function requireOneOf<T extends string>(field: string, value: T, allowed: ReadonlySet<string>): T {
  if (typeof value !== 'string' || !allowed.has(value)) {
    throw new InvalidArgumentError(
      field,
      `must be one of ${[...allowed].map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`,
    );
  }
  return value;
}

/** A string, empty allowed (a log line may be blank). */
function requireString(field: string, value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(field, `must be a string, got ${describe(value)}`);
  return value;
}

function nullableText(field: string, value: unknown): string | null {
  return value === null ? null : (optionalText(field, value) ?? null);
}

function nullableDate(field: string, value: unknown): number | null {
  return value === null ? null : requireDate(field, value);
}

/** An integer ≥ 0 (attempts started, failures, a log position). */
function requireCount(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(field, `must be an integer ≥ 0, got ${describe(value)}`);
  }
  return value;
}

/** An attempt number: attempts count from 1. */
function requirePositive(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(field, `must be an integer ≥ 1, got ${describe(value)}`);
  }
  return value;
}

function toParamsText(field: string, params: unknown): string {
  const text = toJsonText(field, params);
  for (const [key, v] of Object.entries(params as Record<string, unknown>)) {
    if (
      typeof v !== 'string' &&
      typeof v !== 'boolean' &&
      (typeof v !== 'number' || !Number.isFinite(v))
    ) {
      throw new InvalidArgumentError(
        `${field}.${key}`,
        `must be a string, a finite number or a boolean, got ${describe(v)}`,
      );
    }
  }
  return text;
}

/**
 * Serialises a workflow definition. Unlike other JSON fields, properties set to `undefined` are
 * allowed and dropped (the definition type has optional fields that builders may spell out);
 * anything else without an exact JSON form is refused. Task names must be unique and non-empty,
 * since they key the task rows.
 */
function toDefinitionText(field: string, definition: WorkflowDefinition): string {
  if (!isPlainObject(definition))
    throw new InvalidArgumentError(
      field,
      `must be a workflow definition object, got ${describe(definition)}`,
    );
  if (!Array.isArray(definition.tasks))
    throw new InvalidArgumentError(
      `${field}.tasks`,
      `must be an array, got ${describe(definition.tasks)}`,
    );
  const names = new Set<string>();
  definition.tasks.forEach((t, i) => {
    const name = requireText(`${field}.tasks[${i}].name`, isPlainObject(t) ? t.name : undefined);
    if (names.has(name))
      throw new InvalidArgumentError(
        `${field}.tasks[${i}].name`,
        `task "${name}" appears twice; task names must be unique`,
      );
    names.add(name);
  });
  checkJson(field, definition, { dropUndefined: true });
  return JSON.stringify(definition);
}
